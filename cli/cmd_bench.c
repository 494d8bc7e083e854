/* kbprof bench: runs a benchmark suite (the seed's kb_persistence by
 * default), prints a summary, and writes the JSON results and the baseline
 * document. Wiring only: the harness and the suite are in workloads/, the
 * renderers in reports/. */
#include "analyze/faults.h"
#include "analyze/hotspots.h"
#include "analyze/profile.h"
#include "cli/builtin.h"
#include "probes/events.h"
#include "reports/baseline_doc.h"
#include "reports/bench_profile.h"
#include "reports/bench_text.h"
#include "workloads/bench.h"
#include "workloads/bench_json.h"
#include "workloads/sysinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

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
    "      --no-profile     with --json or --doc: skip the profiling pass (by default the\n"
    "                       selected benchmarks, or a representative subset of them, run\n"
    "                       again under `kbprof record -g --faults`, 3 samples each, for\n"
    "                       the hot spots and page faults of the document)\n"
    "  -l, --list           list the benchmarks with their sample counts and exit\n"
    "      --from-json FILE run nothing: print the summary of a saved --json file, and\n"
    "                       write its document with --doc\n\n"
    "Exit status: 0 when every benchmark passed its checks, 1 when one failed (its\n"
    "result is still written, marked failed), 2 on a usage error.\n";

#define MAX_FILTERS 64
#define HOTSPOTS 10

/* The benchmarks the profiling pass runs, when selected: one of each kind,
 * at a size where a few samples take seconds, not minutes. */
static const char *const profiled[] = {
    "compile_medium_kb",     "memory_footprint_small_kb", "serialize_small_kb",
    "deserialize_small_kb",  "query_cold_small_kb",       "query_warm_small_kb",
    "startup_time_small_kb",
};

/* The comma-separated names the profiling pass runs: the representative
 * ones among those selected, or else the light ones selected. */
static int profile_filter(const struct bench_suite *suite, const struct bench_opts *opts,
			  struct kb_buf *out)
{
	for (size_t i = 0; i < sizeof profiled / sizeof profiled[0]; i++) {
		const struct bench_def *d = NULL;
		for (size_t j = 0; j < suite->ndefs; j++)
			if (strcmp(suite->defs[j].name, profiled[i]) == 0)
				d = &suite->defs[j];
		if (d && bench_selected(opts, d->name) && bench_sample_count(opts, d)) {
			kb_buf_printf(out, "%s%s", out->len ? "," : "", d->name);
		}
	}
	/* else the selected ones that --quick would run (not the large KBs:
	 * recording every page fault of compiling 1 GB is no quick pass) */
	for (size_t j = 0; out->len == 0 && j < suite->ndefs; j++) {
		const struct bench_def *d = &suite->defs[j];
		if (bench_selected(opts, d->name) && bench_sample_count(opts, d) &&
		    d->quick_samples)
			kb_buf_printf(out, "%s%s", out->len ? "," : "", d->name);
	}
	return out->len ? 0 : -1;
}

/* Runs argv with stdout and stderr to `log`; returns the exit status, or
 * -1 with errno set when it cannot be started. */
static int run_logged(char *const argv[], const char *log)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		errno = rc;
		return -1;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The last line of a log file, for an error message. */
static void last_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	char line[512];
	buf[0] = '\0';
	while (f && fgets(line, sizeof line, f))
		if (line[0] != '\n')
			snprintf(buf, size, "%.*s", (int)strcspn(line, "\n"), line);
	if (f)
		fclose(f);
}

/* The profiling pass: the selected benchmarks again under `kbprof record
 * -g --faults`, then the analyzer's hot spots and faults per region, and
 * the events this machine refuses. Returns the profile object, or NULL
 * with the reason in `why`. */
static json_t *profile_pass(const struct bench_suite *suite, const struct bench_opts *opts,
			    char *why, size_t why_size)
{
	char self[PATH_MAX], rec[PATH_MAX], dir[PATH_MAX], log[PATH_MAX], samples[16];
	struct kb_buf filter = {0}, command = {0};
	struct prof *prof = NULL;
	struct hot_report *hot = NULL;
	struct flt_report *flt = NULL;
	struct bench_region_faults *per = NULL;
	size_t n_per = 0;
	struct kbev_list list = {0};
	struct kbev_set set = {0};
	struct bench_event_refusal refused[KBEV_MAX_EVENTS];
	size_t n_refused = 0;
	struct kb_error err = {{0}};
	json_t *out = NULL;

	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		snprintf(why, why_size, "cannot find the kbprof executable: %s", strerror(errno));
		return NULL;
	}
	self[n] = '\0';
	if (profile_filter(suite, opts, &filter)) {
		snprintf(why, why_size,
			 "no benchmark light enough to profile was selected (the profiling pass "
			 "skips the large and 1 GB KBs)");
		goto out;
	}
	snprintf(rec, sizeof rec, "%s/profile.kbrec", opts->workdir);
	snprintf(dir, sizeof dir, "%s/profile", opts->workdir);
	snprintf(log, sizeof log, "%s/profile.log", opts->workdir);
	snprintf(samples, sizeof samples, "%u",
		 opts->samples && opts->samples < 3 ? opts->samples : 3);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		snprintf(why, why_size, "%.600s: %s", dir, strerror(errno));
		goto out;
	}
	char *argv[] = {self,
			"record",
			"-g",
			"--faults",
			"-F",
			"999",
			"-o",
			rec,
			"--",
			self,
			"bench",
			"--suite",
			(char *)suite->name,
			"--filter",
			filter.data,
			"--samples",
			samples,
			"--no-progress",
			"--no-profile",
			"--workdir",
			dir,
			opts->quick ? "--quick" : NULL,
			NULL};
	kb_buf_puts(&command, "kbprof");
	for (size_t i = 1; argv[i]; i++)
		kb_buf_printf(&command, " %s", i == 9 ? "kbprof" : argv[i]);
	int status = run_logged(argv, log);
	if (status != 0) {
		char tail[400];
		last_line(log, tail, sizeof tail);
		snprintf(why, why_size, "the recording command failed (exit status %d): %s", status,
			 tail[0] ? tail : strerror(errno));
		goto out;
	}

	struct prof_options po = {.keep_faults = 1};
	if (prof_load(&prof, rec, &po, &err)) {
		snprintf(why, why_size, "reading the recording: %.900s", err.msg);
		goto out;
	}
	struct hot_options ho = {.sort = HOT_SORT_SELF, .limit = HOTSPOTS};
	if (hot_report_build(prof, &ho, &hot, &err))
		hot = NULL; /* no CPU samples: the profile shows none */
	struct flt_options fo = {.limit = 8};
	if (flt_report_build(prof, &fo, &flt, &err))
		flt = NULL;
	if (flt && flt->n_regions) {
		per = calloc(flt->n_regions, sizeof *per);
		for (size_t i = 0; per && i < flt->n_regions; i++) {
			struct flt_report *sub;
			struct flt_options so = {.region = flt->regions[i].path, .limit = 1};
			if (!flt->regions[i].path || flt_report_build(prof, &so, &sub, &err))
				continue;
			per[n_per].region = flt->regions[i].path;
			per[n_per++].subtree = sub;
		}
	}
	/* what this machine refuses to count, with the kernel's reason */
	if (kbev_init(&err) == 0 && kbev_list_parse(&list, KBEV_DEFAULT_EVENTS, &err) == 0 &&
	    kbev_set_open(&set, &list, 0, 0, &err) == 0) {
		for (size_t i = 0; i < set.n && n_refused < KBEV_MAX_EVENTS; i++)
			if (set.result[i].status != KBEV_OK) {
				refused[n_refused].event = list.ev[i].name;
				refused[n_refused++].reason = set.result[i].reason;
			}
	}
	out = bench_profile_json(command.data, prof, hot, flt, per, n_per, refused, n_refused,
				 HOTSPOTS);
	if (!out)
		snprintf(why, why_size, "out of memory rendering the profile");
out:
	kbev_set_close(&set);
	kbev_list_free(&list);
	for (size_t i = 0; i < n_per; i++)
		flt_report_free((struct flt_report *)per[i].subtree);
	free(per);
	flt_report_free(flt);
	hot_report_free(hot);
	prof_free(prof);
	kb_buf_free(&filter);
	kb_buf_free(&command);
	return out;
}

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
	    {"no-profile", no_argument, NULL, 'R'},
	    {"from-json", required_argument, NULL, 'F'},
	    {"list", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *suite_name = "kb_persistence", *json_path = NULL, *doc_path = NULL;
	const char *workdir = NULL, *from_json = NULL;
	const char *filters[MAX_FILTERS];
	char *filter_copies[MAX_FILTERS];
	size_t nfilters = 0, ncopies = 0;
	int list = 0, no_progress = 0, no_profile = 0, rc = KBPROF_EXIT_FAIL;
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
		case 'R':
			no_profile = 1;
			break;
		case 'F':
			from_json = optarg;
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

	if (from_json) {
		json_error_t jerr;
		doc = json_load_file(from_json, 0, &jerr);
		if (!doc) {
			rc = cli_fail("bench", "%s:%d:%d: %s", from_json, jerr.line, jerr.column,
				      jerr.text);
			goto out;
		}
		rc = KBPROF_EXIT_OK;
		goto report;
	}

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
	json_t *profile = NULL;
	char why[1024] = "no profiling pass was asked for (--no-profile, or no --json/--doc)";
	if (!no_profile && (json_path || doc_path)) {
		if (opts.progress)
			fprintf(stderr, "\r\033[Kprofiling pass: kbprof record -g --faults ...");
		profile = profile_pass(suite, &opts, why, sizeof why);
		if (opts.progress)
			fputs("\r\033[K", stderr);
		if (!profile)
			fprintf(stderr, "kbprof bench: profiling pass not measured: %s\n", why);
	}
	doc = bench_json_document(&res, &opts, &si, command, derived, profile, why);
	if (!doc) {
		rc = cli_fail("bench", "out of memory building the results");
		goto out;
	}

report:;
	struct kb_buf text = {0};
	bench_text_summary(doc, &text);
	fputs(text.data ? text.data : "", stdout);
	kb_buf_free(&text);

	if (!from_json)
		rc = res.failed ? KBPROF_EXIT_FAIL : KBPROF_EXIT_OK;
	if (json_path && !from_json && bench_json_write(doc, json_path, &err) != 0)
		rc = cli_fail("bench", "%s", err.msg);
	if (doc_path) {
		struct kb_buf md = {0};
		if (baseline_doc_render(doc, &md, &err) != 0)
			rc = from_json ? cli_fail("bench", "%s: %s", from_json, err.msg)
				       : cli_fail("bench", "%s", err.msg);
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
