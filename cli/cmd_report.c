/* kbprof report: the hotspot or page-fault report of a recording, and its
 * flame graph (--flamegraph) and HTML page (--html). Wiring only: options
 * to analyze/ (profile, hotspots, faults) and reports/ (report, flamegraph,
 * html_recording). */
#include "analyze/benchfile.h"
#include "analyze/faults.h"
#include "analyze/hotspots.h"
#include "analyze/profile.h"
#include "cli/builtin.h"
#include "reports/flamegraph.h"
#include "reports/html_recording.h"
#include "reports/profile_input.h"
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
    "                     [-e EVENT] [-o OUT]\n"
    "                     [--flamegraph OUT.svg] [--html DIR [--bench RESULTS.json]]\n"
    "                     [--title T]\n\n"
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
    "  -o, --output FILE    write the report to FILE instead of standard output\n"
    "      --flamegraph F   also write an SVG flame graph of the selected samples to F\n"
    "                       (with --faults: of the faults' call chains); hover for\n"
    "                       function, samples and share, 'Search' highlights, click\n"
    "                       zooms (the same renderer as `kbprof flamegraph`)\n"
    "      --html DIR       also write DIR/index.html: one self-contained page (inline\n"
    "                       CSS and SVG, no network) with the hotspot table, the flame\n"
    "                       graph, the page-fault timeline per region (when recorded\n"
    "                       with --faults) and the environment (as `kbprof html`)\n"
    "      --bench FILE     with --html: bench results (kbprof bench --json) for the\n"
    "                       benchmark table and the log-log scaling chart\n"
    "      --title T        title of the flame graph and the page\n"
    "With --flamegraph or --html, the text report is written only when -o or\n"
    "--format asks for it; otherwise the files written are listed on standard output.\n"
    "The filters (--event, --region, --comm, --pid) apply to every output.\n";

/* The SVG flame graph of the samples (or, with f->faults, the faults) the
 * report's filters select, appended to svg. */
static int render_flamegraph(struct prof *p, const char *input, const struct profile_filter *f,
			     struct fg_opts *go, struct kb_buf *svg, struct kb_error *err)
{
	struct fg_tree tree;
	struct profile_meta meta;
	int rc = -1;
	if (fg_tree_init(&tree, err))
		return -1;
	if (profile_input_from_prof(&tree, p, input, f, &meta, err))
		goto out;
	if (tree.nodes[0].total == 0) {
		kb_error_set(err, "%s: no %s selected to draw a flame graph of (%s)", input,
			     f->faults ? "page faults" : "CPU samples", meta.name);
		goto out;
	}
	go->subtitle = meta.name;
	if (fg_render_svg(&tree, go, svg, err))
		goto out;
	rc = 0;
out:
	fg_tree_free(&tree);
	return rc;
}

/* DIR/index.html of the recording under the report's filters, with the
 * bench results' table and scaling chart when given. */
static int write_html(struct prof *p, const char *input, const struct html_rec_opts *o,
		      const char *bench, const char *title, const char *dir, char *page,
		      size_t page_size, struct kb_error *err)
{
	struct benchfile bf;
	int have_bench = 0, rc = -1;
	struct html_rec rec = {0};
	struct html_input in = {.title = title};
	if (bench) {
		if (benchfile_load(&bf, bench, err))
			goto out;
		have_bench = 1;
		in.bench = &bf;
	}
	if (html_rec_build(&rec, p, input, o, &in, err) ||
	    html_report_write(dir, &in, page, page_size, err))
		goto out;
	rc = 0;
out:
	html_rec_free(&rec);
	if (have_bench)
		benchfile_free(&bf);
	return rc;
}

CMD(report)
{
	static const struct option opts[] = {
	    {"input", required_argument, NULL, 'i'},
	    {"faults", no_argument, NULL, 'F'},
	    {"region", required_argument, NULL, 'r'},
	    {"sort", required_argument, NULL, 's'},
	    {"limit", required_argument, NULL, 'l'},
	    {"callers", required_argument, NULL, 'c'},
	    {"lines", no_argument, NULL, 'L'},
	    {"format", required_argument, NULL, 'f'},
	    {"event", required_argument, NULL, 'e'},
	    {"output", required_argument, NULL, 'o'},
	    {"addresses", required_argument, NULL, 'A'},
	    {"comm", required_argument, NULL, 'C'},
	    {"pid", required_argument, NULL, 'P'},
	    {"flamegraph", required_argument, NULL, 'G'},
	    {"html", required_argument, NULL, 'H'},
	    {"bench", required_argument, NULL, 'B'},
	    {"title", required_argument, NULL, 'T'},
	    {NULL, 0, NULL, 0},
	};
	const char *input = "kbprof.data", *output = NULL;
	const char *flame_out = NULL, *html_dir = NULL, *bench = NULL, *title = NULL;
	int faults = 0, format = REP_TEXT, format_given = 0;
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
			format_given = 1;
			break;
		case 'G':
			flame_out = optarg;
			break;
		case 'H':
			html_dir = optarg;
			break;
		case 'B':
			bench = optarg;
			break;
		case 'T':
			title = optarg;
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
	if (bench && !html_dir)
		return cli_usage_error("report", "--bench goes with --html DIR");
	ho.folded = fo.folded = format == REP_FOLDED;
	int text = !(flame_out || html_dir) || output || format_given;

	struct kb_error err = {{0}};
	struct prof *p = NULL;
	struct hot_report *hr = NULL;
	struct flt_report *fr = NULL;
	struct kb_buf out = {0};
	int rc = KBPROF_EXIT_FAIL;
	struct prof_options po = {.keep_faults = faults || html_dir,
				  .keep_fault_chains = faults && (ho.folded || flame_out)};
	if (prof_load(&p, input, &po, &err) != 0) {
		rc = cli_fail("report", "%s", err.msg);
		goto out;
	}
	if (text) {
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
		if ((rc = cli_write_output("report", output, &out)) != KBPROF_EXIT_OK)
			goto out;
		rc = KBPROF_EXIT_FAIL;
	}
	if (flame_out) {
		struct fg_opts go = {.title = title, .count_name = faults ? "faults" : NULL};
		struct profile_filter pf = {ho.event, ho.region, ho.comm, ho.pid, faults};
		kb_buf_reset(&out);
		if (render_flamegraph(p, input, &pf, &go, &out, &err))
			goto fail;
		if ((rc = cli_write_output("report", flame_out, &out)) != KBPROF_EXIT_OK)
			goto out;
		rc = KBPROF_EXIT_FAIL;
		if (!text)
			printf("%s\n", flame_out);
	}
	if (html_dir) {
		struct html_rec_opts hro = {.event = ho.event,
					    .region = ho.region,
					    .comm = ho.comm,
					    .pid = ho.pid,
					    .top = ho.limit};
		char page[4096];
		if (write_html(p, input, &hro, bench, title, html_dir, page, sizeof page, &err))
			goto fail;
		if (!text)
			printf("%s\n", page);
	}
	rc = KBPROF_EXIT_OK;
	goto out;
fail:
	rc = cli_fail("report", "%s", err.msg);
out:
	kb_buf_free(&out);
	flt_report_free(fr);
	hot_report_free(hr);
	prof_free(p);
	return rc;
}
