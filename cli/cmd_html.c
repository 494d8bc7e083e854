/* kbprof html: the self-contained HTML report (reports/html_report) from
 * bench results and a recording (reports/html_recording, the same builder
 * as `kbprof report --html`) or folded stacks. Wiring only. */
#include "cli/builtin.h"

#include <getopt.h>
#include <stdio.h>

#include "analyze/benchfile.h"
#include "analyze/profile.h"
#include "reports/flamegraph.h"
#include "reports/html_recording.h"
#include "reports/html_report.h"

const char cmd_html_usage[] =
    "usage: kbprof html -o DIR [--bench RESULTS.json] [--recording FILE | --folded FILE]\n"
    "                   [--title T] [--bins N] [--top N]\n\n"
    "Writes DIR/index.html: one self-contained page (inline CSS and SVG, no network)\n"
    "with the benchmark table and the log-log scaling chart with its fits (from\n"
    "`kbprof bench --json` results), the hotspot table and a flame graph (from a\n"
    "recording, or folded stacks), a page-fault timeline per region (from a\n"
    "recording made with `kbprof record --faults`), and the environment.\n"
    "Sections whose input is not given say so.\n\n"
    "  -o, --output DIR     directory to write index.html into (created if missing)\n"
    "  -b, --bench FILE     bench results (kbprof bench --json)\n"
    "  -r, --recording F    a recording (kbprof record -g [--faults])\n"
    "  -s, --folded FILE    folded stacks for the flame graph, instead of a recording\n"
    "  -t, --title T        page title (default \"kbprof report\")\n"
    "      --bins N         time bins of the fault timeline (default 60)\n"
    "      --top N          hotspot rows (default 25)\n";

CMD(html)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},    {"bench", required_argument, NULL, 'b'},
	    {"recording", required_argument, NULL, 'r'}, {"folded", required_argument, NULL, 's'},
	    {"title", required_argument, NULL, 't'},     {"bins", required_argument, NULL, 'B'},
	    {"top", required_argument, NULL, 'T'},       {NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *bench = NULL, *rec = NULL, *folded = NULL, *title = NULL;
	unsigned long long bins = 60, top = 25;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:b:r:s:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			dir = optarg;
			break;
		case 'b':
			bench = optarg;
			break;
		case 'r':
			rec = optarg;
			break;
		case 's':
			folded = optarg;
			break;
		case 't':
			title = optarg;
			break;
		case 'B':
			if (cli_parse_u64(optarg, &bins) || bins < 1 || bins > 1000)
				return cli_usage_error("html", "--bins wants 1..1000, not '%s'",
						       optarg);
			break;
		case 'T':
			if (cli_parse_u64(optarg, &top) || top < 1 || top > 10000)
				return cli_usage_error("html", "--top wants 1..10000, not '%s'",
						       optarg);
			break;
		default:
			return cli_usage_error("html", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("html", "unexpected argument '%s'", argv[optind]);
	if (!dir)
		return cli_usage_error("html", "-o DIR is required");
	if (!bench && !rec && !folded)
		return cli_usage_error("html",
				       "give at least one of --bench, --recording, --folded");
	if (rec && folded)
		return cli_usage_error("html",
				       "--recording and --folded both give the flame graph; "
				       "choose one");

	struct benchfile bf;
	struct prof *prof = NULL;
	struct html_rec hr = {0};
	struct fg_tree tree;
	int have_bench = 0, have_tree = 0;
	char source[1024], path[4096];
	struct html_input in = {.title = title};
	struct kb_error err = {0};
	int rc = KBPROF_EXIT_FAIL;
	if (bench) {
		if (benchfile_load(&bf, bench, &err))
			goto fail;
		have_bench = 1;
		in.bench = &bf;
	}
	if (rec) {
		struct prof_options po = {.keep_faults = 1};
		struct html_rec_opts ro = {.top = (size_t)top, .bins = (size_t)bins};
		if (prof_load(&prof, rec, &po, &err) ||
		    html_rec_build(&hr, prof, rec, &ro, &in, &err))
			goto fail;
	} else if (folded) {
		if (fg_tree_init(&tree, &err))
			goto fail;
		have_tree = 1;
		if (fg_tree_load_folded(&tree, folded, &err))
			goto fail;
		snprintf(source, sizeof source, "Folded stacks from %s", folded);
		in.flame = &tree;
		in.flame_source = source;
	}
	if (html_report_write(dir, &in, path, sizeof path, &err))
		goto fail;
	printf("%s\n", path);
	rc = KBPROF_EXIT_OK;
	goto out;
fail:
	rc = cli_fail("html", "%s", err.msg);
out:
	html_rec_free(&hr);
	prof_free(prof);
	if (have_tree)
		fg_tree_free(&tree);
	if (have_bench)
		benchfile_free(&bf);
	return rc;
}
