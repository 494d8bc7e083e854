/* kbprof report: the hotspot or page-fault report of a recording. Wiring
 * only: options to analyze/ (profile, hotspots, faults) and reports/. */
#include "analyze/faults.h"
#include "analyze/hotspots.h"
#include "analyze/profile.h"
#include "cli/builtin.h"
#include "reports/report.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char cmd_report_usage[] =
    "usage: kbprof report [-i FILE] [--faults] [--region R] [--comm NAME] [--pid PID]\n"
    "                     [--sort self|total] [--limit N]\n"
    "                     [--callers FN] [--lines] [--addresses N]\n"
    "                     [--format text|markdown|json|folded]\n"
    "                     [-e EVENT] [-o OUT]\n\n"
    "Reads a recording made by `kbprof record` and shows where the time went: the\n"
    "top functions by self and by inclusive samples (symbolized with libdwfl from\n"
    "the recorded module map, inlined calls and source lines included), samples by\n"
    "region, and the totals and symbol coverage that say how far to trust them.\n"
    "With --faults: page faults per region, by mapping (heap, stack, anonymous,\n"
    "each file such as a KB image), by function, over time, the hottest pages,\n"
    "faults per MB touched, and getrusage's counts beside the perf events'.\n"
    "A truncated recording or a rebuilt or moved binary is a warning: the report\n"
    "shows what can still be shown.\n\n"
    "  -i, --input FILE     the recording (default kbprof.data)\n"
    "      --faults         the page-fault report (recorded with `record --faults`)\n"
    "      --region R       only samples inside region R: a name (parse) or a path\n"
    "                       (startup/parse); nested regions count\n"
    "      --comm NAME      only samples of processes running command NAME\n"
    "      --pid PID        only samples of process PID\n"
    "      --sort KEY       self (default) or total (inclusive)\n"
    "      --limit N        rows per table (default 20; 0: all)\n"
    "      --callers FN     callers and callees of function FN\n"
    "      --lines          source lines of the top functions\n"
    "      --addresses N    the N most sampled instruction addresses, resolved\n"
    "                       (module+offset, function, file:line:column, inlines)\n"
    "  -e, --event EVENT    the sampled event to report (default: the first)\n"
    "  -f, --format F       text (default), markdown, json (docs/report-json.md), or\n"
    "                       folded (`a;b;c count` lines for flame graphs)\n"
    "  -o, --output FILE    write the report to FILE instead of standard output\n";

CMD(report)
{
	static const struct option opts[] = {
	    {"input", required_argument, NULL, 'i'},     {"faults", no_argument, NULL, 'F'},
	    {"region", required_argument, NULL, 'r'},    {"sort", required_argument, NULL, 's'},
	    {"limit", required_argument, NULL, 'l'},     {"callers", required_argument, NULL, 'c'},
	    {"lines", no_argument, NULL, 'L'},           {"format", required_argument, NULL, 'f'},
	    {"event", required_argument, NULL, 'e'},     {"output", required_argument, NULL, 'o'},
	    {"addresses", required_argument, NULL, 'A'}, {"comm", required_argument, NULL, 'C'},
	    {"pid", required_argument, NULL, 'P'},       {NULL, 0, NULL, 0},
	};
	const char *input = "kbprof.data", *output = NULL;
	int faults = 0, format = REP_TEXT;
	struct hot_options ho = {.limit = 20};
	struct flt_options fo = {.limit = 20};
	unsigned long long v;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:f:e:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			input = optarg;
			break;
		case 'F':
			faults = 1;
			break;
		case 'r':
			ho.region = fo.region = optarg;
			break;
		case 's':
			if (strcmp(optarg, "self") == 0)
				ho.sort = HOT_SORT_SELF;
			else if (strcmp(optarg, "total") == 0)
				ho.sort = HOT_SORT_TOTAL;
			else
				return cli_usage_error(
				    "report", "--sort wants self or total, not '%s'", optarg);
			break;
		case 'l':
			if (cli_parse_u64(optarg, &v) || v > 1000000000ULL)
				return cli_usage_error("report", "--limit wants a count, not '%s'",
						       optarg);
			ho.limit = fo.limit = (size_t)v;
			if (v == 0)
				fo.limit = (size_t)-1;
			break;
		case 'c':
			ho.callers_of = optarg;
			break;
		case 'C':
			ho.comm = fo.comm = optarg;
			break;
		case 'P':
			if (cli_parse_u64(optarg, &v) || v == 0 || v > UINT32_MAX)
				return cli_usage_error(
				    "report", "--pid wants a process id, not '%s'", optarg);
			ho.pid = fo.pid = (uint32_t)v;
			break;
		case 'L':
			ho.lines = 1;
			break;
		case 'A':
			if (cli_parse_u64(optarg, &v) || v > 1000000ULL)
				return cli_usage_error(
				    "report", "--addresses wants a count, not '%s'", optarg);
			ho.addresses = (size_t)v;
			break;
		case 'f':
			format = rep_format_parse(optarg);
			if (format < 0)
				return cli_usage_error(
				    "report",
				    "--format wants text, markdown, json or folded, not '%s'",
				    optarg);
			break;
		case 'e':
			ho.event = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		default:
			return cli_usage_error("report", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
	if (faults && (ho.callers_of || ho.lines))
		return cli_usage_error("report",
				       "--callers and --lines are for the hotspot report, "
				       "not --faults");
	ho.folded = fo.folded = format == REP_FOLDED;

	struct kb_error err = {{0}};
	struct prof *p = NULL;
	struct hot_report *hr = NULL;
	struct flt_report *fr = NULL;
	struct kb_buf out = {0};
	int rc = KBPROF_EXIT_FAIL;
	struct prof_options po = {.keep_faults = faults, .keep_fault_chains = faults && ho.folded};
	if (prof_load(&p, input, &po, &err) != 0) {
		rc = cli_fail("report", "%s", err.msg);
		goto out;
	}
	if (faults) {
		if (flt_report_build(p, &fo, &fr, &err) != 0 ||
		    rep_faults(fr, (enum rep_format)format, &out, &err) != 0) {
			rc = cli_fail("report", "%s", err.msg);
			goto out;
		}
	} else if (hot_report_build(p, &ho, &hr, &err) != 0 ||
		   rep_hotspots(hr, (enum rep_format)format, &out, &err) != 0) {
		rc = cli_fail("report", "%s", err.msg);
		goto out;
	}
	FILE *f = stdout;
	if (output && !(f = fopen(output, "w"))) {
		rc = cli_fail("report", "%s: %m", output);
		goto out;
	}
	if (out.len)
		fwrite(out.data, 1, out.len, f);
	int bad = fflush(f) != 0 || ferror(f);
	if (f != stdout && fclose(f) != 0)
		bad = 1;
	if (bad) {
		rc = cli_fail("report", "write failure on %s: %m",
			      output ? output : "standard output");
		goto out;
	}
	rc = KBPROF_EXIT_OK;
out:
	kb_buf_free(&out);
	flt_report_free(fr);
	hot_report_free(hr);
	prof_free(p);
	return rc;
}
