/* kbprof bench: runs a benchmark suite (the seed's kb_persistence by
 * default), prints a summary, and writes the JSON results and the baseline
 * document. Wiring only: the harness and the suite are in workloads/, the
 * renderers in reports/. */
#include "cli/builtin.h"
#include "reports/baseline_doc.h"
#include "reports/bench_text.h"
#include "workloads/bench.h"
#include "workloads/bench_json.h"
#include "workloads/sysinfo.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_bench_usage[] =
    "usage: kbprof bench [--suite NAME] [--filter PATTERN]... [--samples N] [--quick]\n"
    "                    [--json FILE] [--doc FILE] [--workdir DIR] [--no-progress] [--list]\n\n"
    "Runs the benchmark suite and prints each metric's median and mean. The default suite,\n"
    "kb_persistence, is the seed's: compile, memory footprint, serialization, cold and\n"
    "warm queries, start-up, on MeTTaTron's generated KBs. Each benchmark runs inside a\n"
    "probed region named after it, so `kbprof record -- kbprof bench` attributes samples\n"
    "and faults per benchmark.\n\n"
    "  -s, --suite NAME     suite to run (default kb_persistence)\n"
    "  -f, --filter PAT     only benchmarks whose name contains PAT, or matches it as a\n"
    "                       glob when it holds * ? [ (repeatable; commas separate several)\n"
    "  -n, --samples N      N samples per benchmark instead of each one's default\n"
    "  -q, --quick          fewer samples, large-KB benchmarks skipped (under 2 minutes)\n"
    "  -j, --json FILE      write every sample, statistic and derived figure as JSON\n"
    "                       (schema: docs/bench-json.md)\n"
    "  -d, --doc FILE       write the baseline document (markdown) from the same numbers\n"
    "  -w, --workdir DIR    directory for benchmark files (default: a fresh directory\n"
    "                       under the current one, removed afterwards)\n"
    "      --no-progress    no progress line (it is shown only on a terminal anyway)\n"
    "  -l, --list           list the benchmarks with their sample counts and exit\n\n"
    "Exit status: 0 when every benchmark passed its checks, 1 when one failed (its\n"
    "result is still written, marked failed), 2 on a usage error.\n";

#define MAX_FILTERS 64

static int list_suite(const struct bench_suite *suite, const struct bench_opts *opts)
{
	printf("%-28s %-14s %8s %6s  %s\n", "benchmark", "group", "samples", "quick",
	       "what one sample does");
	for (size_t i = 0; i < suite->ndefs; i++) {
		const struct bench_def *d = &suite->defs[i];
		if (!bench_selected(opts, d->name))
			continue;
		char quick[16];
		if (d->quick_samples)
			snprintf(quick, sizeof quick, "%u", d->quick_samples);
		else
			snprintf(quick, sizeof quick, "skip");
		printf("%-28s %-14s %8u %6s  %s\n", d->name, d->group, d->samples, quick,
		       d->summary);
	}
	return KBPROF_EXIT_OK;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 ? 0 : -1;
}

static char *join_command(int argc, char **argv)
{
	struct kb_buf b = {0};
	kb_buf_puts(&b, "kbprof");
	for (int i = 0; i < argc; i++) {
		kb_buf_putc(&b, ' ');
		kb_buf_puts(&b, argv[i]);
	}
	if (b.oom) {
		kb_buf_free(&b);
		return NULL;
	}
	return b.data;
}

static int write_text(const char *path, const struct kb_buf *b)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	size_t n = fwrite(b->data ? b->data : "", 1, b->len, f);
	int bad = n != b->len || ferror(f);
	if (fclose(f) != 0)
		bad = 1;
	return bad ? -1 : 0;
}

CMD(bench)
{
	static const struct option longopts[] = {
	    {"suite", required_argument, NULL, 's'},
	    {"filter", required_argument, NULL, 'f'},
	    {"samples", required_argument, NULL, 'n'},
	    {"quick", no_argument, NULL, 'q'},
	    {"json", required_argument, NULL, 'j'},
	    {"doc", required_argument, NULL, 'd'},
	    {"workdir", required_argument, NULL, 'w'},
	    {"no-progress", no_argument, NULL, 'P'},
	    {"list", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *suite_name = "kb_persistence", *json_path = NULL, *doc_path = NULL;
	const char *workdir = NULL;
	const char *filters[MAX_FILTERS];
	char *filter_copies[MAX_FILTERS];
	size_t nfilters = 0, ncopies = 0;
	int list = 0, no_progress = 0, rc = KBPROF_EXIT_FAIL;
	struct bench_opts opts = {0};
	struct bench_results res = {0};
	char made_dir[] = ".kbprof-bench.XXXXXX";
	int made = 0;
	json_t *doc = NULL;
	char *command = NULL;
	struct kb_error err = {{0}};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:f:n:qj:d:w:lh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			suite_name = optarg;
			break;
		case 'f': {
			if (ncopies == MAX_FILTERS) {
				rc = cli_usage_error("bench", "too many --filter options");
				goto out;
			}
			char *copy = strdup(optarg), *save = NULL;
			if (!copy) {
				rc = cli_fail("bench", "out of memory");
				goto out;
			}
			filter_copies[ncopies++] = copy;
			for (char *t = strtok_r(copy, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				if (nfilters == MAX_FILTERS) {
					rc = cli_usage_error("bench", "more than %d filters",
							     MAX_FILTERS);
					goto out;
				}
				filters[nfilters++] = t;
			}
			break;
		}
		case 'n': {
			unsigned long long n;
			if (cli_parse_u64(optarg, &n) || n == 0 || n > 1000000) {
				rc = cli_usage_error("bench",
						     "--samples wants a whole number from 1 to "
						     "1000000, not '%s'",
						     optarg);
				goto out;
			}
			opts.samples = (unsigned)n;
			break;
		}
		case 'q':
			opts.quick = 1;
			break;
		case 'j':
			json_path = optarg;
			break;
		case 'd':
			doc_path = optarg;
			break;
		case 'w':
			workdir = optarg;
			break;
		case 'P':
			no_progress = 1;
			break;
		case 'l':
			list = 1;
			break;
		case 'h':
			fputs(cmd_bench_usage, stdout);
			rc = KBPROF_EXIT_OK;
			goto out;
		default:
			rc = cli_usage_error("bench", "unknown option");
			goto out;
		}
	}
	if (optind < argc) {
		rc = cli_usage_error("bench", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	opts.filters = filters;
	opts.nfilters = nfilters;

	const struct bench_suite *suite = bench_suite_find(suite_name);
	if (!suite) {
		rc = cli_usage_error("bench", "no suite named '%s'", suite_name);
		goto out;
	}
	if (list) {
		rc = list_suite(suite, &opts);
		goto out;
	}
	size_t selected = 0;
	for (size_t i = 0; i < suite->ndefs; i++)
		selected += bench_selected(&opts, suite->defs[i].name);
	if (selected == 0) {
		rc = cli_usage_error("bench", "no benchmark of suite %s matches the filter",
				     suite->name);
		goto out;
	}

	if (!workdir) {
		if (!mkdtemp(made_dir)) {
			rc = cli_fail("bench", "creating a work directory in the current one: %s",
				      strerror(errno));
			goto out;
		}
		made = 1;
		workdir = made_dir;
	}
	opts.workdir = workdir;
	opts.progress = !no_progress && isatty(STDERR_FILENO);

	struct sysinfo si;
	if (sysinfo_detect(&si, workdir, &err) != 0) {
		rc = cli_fail("bench", "%s", err.msg);
		goto out;
	}
	if (bench_run_suite(suite, &opts, &res, &err) != 0) {
		rc = cli_fail("bench", "%s", err.msg);
		goto out;
	}

	command = join_command(argc, argv);
	json_t *derived = suite->derive ? suite->derive(&res) : NULL;
	doc = bench_json_document(&res, &opts, &si, command, derived, NULL,
				  "the probes and analyzer parts are not in this build yet");
	if (!doc) {
		rc = cli_fail("bench", "out of memory building the results");
		goto out;
	}

	struct kb_buf text = {0};
	bench_text_summary(doc, &text);
	fputs(text.data ? text.data : "", stdout);
	kb_buf_free(&text);

	rc = res.failed ? KBPROF_EXIT_FAIL : KBPROF_EXIT_OK;
	if (json_path && bench_json_write(doc, json_path, &err) != 0)
		rc = cli_fail("bench", "%s", err.msg);
	if (doc_path) {
		struct kb_buf md = {0};
		if (baseline_doc_render(doc, &md, &err) != 0)
			rc = cli_fail("bench", "%s", err.msg);
		else if (write_text(doc_path, &md) != 0)
			rc = cli_fail("bench", "%s: %s", doc_path, strerror(errno));
		kb_buf_free(&md);
	}
	if (res.failed)
		fprintf(stderr, "kbprof bench: %zu benchmark%s failed\n", res.failed,
			res.failed == 1 ? "" : "s");
out:
	json_decref(doc);
	bench_results_free(&res);
	free(command);
	if (made)
		nftw(made_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; i < ncopies; i++)
		free(filter_copies[i]);
	return rc;
}
