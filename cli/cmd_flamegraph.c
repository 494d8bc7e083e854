/* kbprof flamegraph: folded stacks in, an SVG flame graph out (or a
 * differential one of two profiles). Wiring only: reports/flamegraph. */
#include "cli/builtin.h"
#include "reports/flamegraph.h"
#include "reports/profile_input.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

const char cmd_flamegraph_usage[] =
    "usage: kbprof flamegraph [-o OUT.svg] [--diff BASE] [--event E] [--title T]\n"
    "                         [--width PX] [--min-width PX] PROFILE\n\n"
    "Renders a profile as an SVG flame graph: hover for function, samples and share;\n"
    "'Search' highlights frames matching a regular expression; click a frame to\n"
    "zoom. PROFILE is a recording (`kbprof record -g`: its CPU samples' call chains,\n"
    "symbolized) or folded stacks (lines \"outer;inner;leaf COUNT\", as written by\n"
    "`kbprof report --format folded` or FlameGraph's stackcollapse scripts; '-' for\n"
    "standard input).\n\n"
    "  -o, --output F     write the SVG to F instead of standard output\n"
    "  -d, --diff BASE    differential graph: the shape of PROFILE, each frame red\n"
    "                     when its share of samples grew since BASE, blue when it\n"
    "                     shrank (BASE: a recording or folded stacks)\n"
    "  -e, --event E      the recording's event to draw (default: its first CPU event)\n"
    "  -t, --title T      the title (default \"Flame Graph\")\n"
    "  -w, --width PX     image width in pixels (default 1200)\n"
    "      --min-width PX leave out frames narrower than PX (default 0.1)\n"
    "      --count-name S what one sample is called in tooltips (default samples)\n";

CMD(flamegraph)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"diff", required_argument, NULL, 'd'},
	    {"title", required_argument, NULL, 't'},
	    {"width", required_argument, NULL, 'w'},
	    {"min-width", required_argument, NULL, 'm'},
	    {"count-name", required_argument, NULL, 'c'},
	    {"event", required_argument, NULL, 'e'},
	    {NULL, 0, NULL, 0},
	};
	const char *output = NULL, *base_path = NULL, *event = NULL;
	struct fg_opts fo = {0};
	unsigned long long width;
	char *end;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:d:t:w:e:", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'd':
			base_path = optarg;
			break;
		case 't':
			fo.title = optarg;
			break;
		case 'w':
			if (cli_parse_u64(optarg, &width) || width < 30 || width > 100000)
				return cli_usage_error("flamegraph",
						       "--width wants 30..100000 pixels, not '%s'",
						       optarg);
			fo.width = (unsigned)width;
			break;
		case 'm':
			errno = 0;
			fo.min_width = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(fo.min_width >= 0))
				return cli_usage_error(
				    "flamegraph", "--min-width wants pixels, not '%s'", optarg);
			break;
		case 'c':
			fo.count_name = optarg;
			break;
		case 'e':
			event = optarg;
			break;
		default:
			return cli_usage_error("flamegraph", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("flamegraph", optind < argc ? "one PROFILE, please"
								   : "PROFILE is required");
	const char *path = argv[optind];

	struct kb_error err = {0};
	struct fg_tree now, base;
	int rc = KBPROF_EXIT_FAIL, have_base = 0;
	struct kb_buf svg = {0};
	if (fg_tree_init(&now, &err))
		return cli_fail("flamegraph", "%s", err.msg);
	struct profile_meta meta, base_meta;
	if (profile_input_load(&now, path, event, &meta, &err))
		goto out;
	char subtitle[1200];
	if (base_path) {
		if (fg_tree_init(&base, &err))
			goto out;
		have_base = 1;
		if (profile_input_load(&base, base_path, event, &base_meta, &err))
			goto out;
		snprintf(subtitle, sizeof subtitle, "%s against %s", meta.name, base_meta.name);
		if (!fo.subtitle)
			fo.subtitle = subtitle;
		if (fg_render_diff_svg(&base, &now, &fo, &svg, &err))
			goto out;
	} else {
		fo.subtitle = meta.name;
		if (fg_render_svg(&now, &fo, &svg, &err))
			goto out;
	}
	rc = cli_write_output("flamegraph", output, &svg);
	err.msg[0] = '\0';
out:
	if (err.msg[0])
		rc = cli_fail("flamegraph", "%s", err.msg);
	kb_buf_free(&svg);
	fg_tree_free(&now);
	if (have_base)
		fg_tree_free(&base);
	return rc;
}
