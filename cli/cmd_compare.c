/* kbprof compare: two `kbprof bench --json` results in, noise-aware
 * verdicts out (analyze/compare), rendered by reports/compare_report.
 * Wiring only. */
#include "cli/builtin.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/benchfile.h"
#include "analyze/compare.h"
#include "reports/compare_report.h"

const char cmd_compare_usage[] =
    "usage: kbprof compare BASE.json NEW.json [--threshold PCT] [--noise FILE...]\n"
    "                      [--format text|markdown|json] [--fail-on WHAT] [--all-metrics]\n"
    "                      [--cpu-time] [--quantile P] [--new-run FILE...] [-o OUT]\n\n"
    "Compares two `kbprof bench --json` results benchmark by benchmark: the ratio\n"
    "of medians NEW/BASE with a 95% bootstrap interval, and a verdict -- improved,\n"
    "regressed, unchanged or too noisy to say -- that allows for the noise floor,\n"
    "how far medians move between runs of the same build (docs/kbprof-compare.md).\n\n"
    "  -t, --threshold PCT  smallest change worth reporting, in percent (default 5)\n"
    "  -n, --noise FILE...  further runs of the base build; the noise floor is then\n"
    "                       the largest spread of medians among BASE and these runs\n"
    "                       (repeatable; files after BASE NEW are taken as noise runs\n"
    "                       too). Without it: the within-run dispersion.\n"
    "  -f, --format F       text (default), markdown (a pull-request comment) or json\n"
    "      --fail-on WHAT   exit 1 when a benchmark has that verdict: regression,\n"
    "                       noisy, missing (not compared), comma-separated\n"
    "  -a, --all-metrics    compare every metric, not only each benchmark's headline\n"
    "      --cpu-time       compare times by the CPU time kbprof used (cpu_samples)\n"
    "                       instead of wall time: time spent waiting -- preempted,\n"
    "                       throttled, blocked on I/O -- is left out\n"
    "  -q, --quantile P     compare the P-th percentile of each side's samples (and\n"
    "                       its spread over runs) instead of the median (50); a low\n"
    "                       one (25) resists interference that slows part of a run\n"
    "      --new-run FILE   a further run of the new build, its samples pooled with\n"
    "                       NEW's (repeatable), so that one run slowed as a whole by\n"
    "                       other work on the machine is outvoted\n"
    "  -o, --output F       write the report to F instead of standard output\n\n"
    "Exit status: 0; 1 when a --fail-on condition holds or an input is bad; 2 for\n"
    "a wrong command line.\n";

enum { FAIL_REGRESSION = 1, FAIL_NOISY = 2, FAIL_MISSING = 4 };

static int parse_fail_on(const char *text, unsigned *mask)
{
	char buf[128];
	if (strlen(text) >= sizeof buf)
		return -1;
	strcpy(buf, text);
	char *save = NULL;
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (strcmp(w, "regression") == 0 || strcmp(w, "regressed") == 0)
			*mask |= FAIL_REGRESSION;
		else if (strcmp(w, "noisy") == 0)
			*mask |= FAIL_NOISY;
		else if (strcmp(w, "missing") == 0)
			*mask |= FAIL_MISSING;
		else
			return -1;
	}
	return 0;
}

/* A percentage in [lo, hi] as a fraction; 0, or -1 when it is not one. */
static int parse_percent(const char *text, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || *end || end == text || !(v >= lo && v <= hi))
		return -1;
	*out = v / 100;
	return 0;
}

CMD(compare)
{
	static const struct option opts[] = {
	    {"threshold", required_argument, NULL, 't'}, {"noise", required_argument, NULL, 'n'},
	    {"format", required_argument, NULL, 'f'},    {"fail-on", required_argument, NULL, 'F'},
	    {"all-metrics", no_argument, NULL, 'a'},     {"cpu-time", no_argument, NULL, 'C'},
	    {"quantile", required_argument, NULL, 'q'},  {"new-run", required_argument, NULL, 'N'},
	    {"output", required_argument, NULL, 'o'},    {NULL, 0, NULL, 0},
	};
	struct compare_opts co = {.threshold = -1};
	enum compare_format fmt = COMPARE_FORMAT_TEXT;
	unsigned fail_on = 0;
	const char *output = NULL;
	const char **noise_paths = calloc((size_t)argc, sizeof *noise_paths);
	const char **new_paths = calloc((size_t)argc, sizeof *new_paths);
	size_t n_noise = 0, n_new = 0;
	int noise_given = 0;
	if (!noise_paths || !new_paths) {
		free(noise_paths);
		free(new_paths);
		return cli_fail("compare", "out of memory");
	}
	int c, rc = KBPROF_EXIT_FAIL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:n:f:ao:", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_percent(optarg, 0, 1000, &co.threshold)) {
				rc = cli_usage_error(
				    "compare", "--threshold wants a percentage 0..1000, not '%s'",
				    optarg);
				goto out_paths;
			}
			break;
		case 'n':
			noise_paths[n_noise++] = optarg;
			noise_given = 1;
			break;
		case 'f':
			if (compare_format_parse(optarg, &fmt)) {
				rc = cli_usage_error("compare",
						     "--format is text, markdown or json, not '%s'",
						     optarg);
				goto out_paths;
			}
			break;
		case 'F':
			if (parse_fail_on(optarg, &fail_on)) {
				rc = cli_usage_error("compare",
						     "--fail-on takes regression, noisy, missing "
						     "(comma-separated), not '%s'",
						     optarg);
				goto out_paths;
			}
			break;
		case 'a':
			co.all_metrics = 1;
			break;
		case 'C':
			co.cpu_time = 1;
			break;
		case 'N':
			new_paths[n_new++] = optarg;
			break;
		case 'q':
			if (parse_percent(optarg, 1, 99, &co.quantile)) {
				rc = cli_usage_error(
				    "compare", "--quantile wants a percentile 1..99, not '%s'",
				    optarg);
				goto out_paths;
			}
			break;
		case 'o':
			output = optarg;
			break;
		default:
			rc = cli_usage_error("compare", "unknown option");
			goto out_paths;
		}
	}
	if (argc - optind < 2) {
		rc = cli_usage_error("compare", "BASE.json and NEW.json are required");
		goto out_paths;
	}
	if (argc - optind > 2 && !noise_given) {
		rc = cli_usage_error("compare",
				     "unexpected argument '%s' (noise runs go after --noise)",
				     argv[optind + 2]);
		goto out_paths;
	}
	for (int i = optind + 2; i < argc; i++)
		noise_paths[n_noise++] = argv[i];

	struct kb_error err = {0};
	struct benchfile base = {0}, now = {0};
	/* the noise runs, then the new build's further runs */
	struct benchfile *noise = calloc(n_noise + n_new + 1, sizeof *noise);
	const struct benchfile **noise_ptrs = calloc(n_noise + n_new + 1, sizeof *noise_ptrs);
	struct compare_result res = {0};
	struct kb_buf text = {0};
	size_t loaded = 0;
	if (!noise || !noise_ptrs) {
		rc = cli_fail("compare", "out of memory");
		goto out;
	}
	if (benchfile_load(&base, argv[optind], &err) ||
	    benchfile_load(&now, argv[optind + 1], &err)) {
		rc = cli_fail("compare", "%s", err.msg);
		goto out;
	}
	for (; loaded < n_noise + n_new; loaded++) {
		const char *path =
		    loaded < n_noise ? noise_paths[loaded] : new_paths[loaded - n_noise];
		if (benchfile_load(&noise[loaded], path, &err)) {
			rc = cli_fail("compare", "%s", err.msg);
			goto out;
		}
		noise_ptrs[loaded] = &noise[loaded];
	}
	co.noise = noise_ptrs;
	co.n_noise = n_noise;
	co.new_runs = noise_ptrs + n_noise;
	co.n_new_runs = n_new;
	if (compare_runs(&base, &now, &co, &res, &err) ||
	    compare_report_render(&res, &base, &now, fmt, &text, &err)) {
		rc = cli_fail("compare", "%s", err.msg);
		goto out;
	}
	FILE *f = output ? fopen(output, "w") : stdout;
	if (!f) {
		rc = cli_fail("compare", "%s: %s", output, strerror(errno));
		goto out;
	}
	int bad = fwrite(text.data, 1, text.len, f) != text.len || ferror(f);
	if (output && fclose(f) != 0)
		bad = 1;
	if (bad) {
		rc = cli_fail("compare", "%s: write failed: %s",
			      output ? output : "standard output", strerror(errno));
		goto out;
	}
	rc = KBPROF_EXIT_OK;
	if ((fail_on & FAIL_REGRESSION) && res.counts[COMPARE_REGRESSED])
		rc = cli_fail("compare", "%zu benchmark%s regressed", res.counts[COMPARE_REGRESSED],
			      res.counts[COMPARE_REGRESSED] == 1 ? "" : "s");
	if ((fail_on & FAIL_NOISY) && res.counts[COMPARE_NOISY])
		rc = cli_fail("compare", "%zu benchmark%s too noisy to say",
			      res.counts[COMPARE_NOISY],
			      res.counts[COMPARE_NOISY] == 1 ? " is" : "s are");
	if ((fail_on & FAIL_MISSING) && res.counts[COMPARE_NOT_COMPARED])
		rc = cli_fail("compare", "%zu benchmark%s not compared",
			      res.counts[COMPARE_NOT_COMPARED],
			      res.counts[COMPARE_NOT_COMPARED] == 1 ? " was" : "s were");
out:
	kb_buf_free(&text);
	compare_result_free(&res);
	for (size_t i = 0; i < loaded; i++)
		benchfile_free(&noise[i]);
	free(noise);
	free(noise_ptrs);
	benchfile_free(&base);
	benchfile_free(&now);
out_paths:
	free(noise_paths);
	free(new_paths);
	return rc;
}
