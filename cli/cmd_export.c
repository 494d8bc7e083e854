/* kbprof export: bench results or profiles in other tools' formats
 * (reports/export.h). Wiring only. */
#include "cli/builtin.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/benchfile.h"
#include "reports/export.h"
#include "reports/flamegraph.h"
#include "reports/profile_input.h"

const char cmd_export_usage[] =
    "usage: kbprof export --format FORMAT [-i INPUT] [-o OUT] [profile options]\n\n"
    "Writes kbprof results in the format another tool reads (docs/kbprof-export.md).\n\n"
    "From bench results (INPUT: a `kbprof bench --json` file):\n"
    "  bmf          Bencher Metric Format JSON (`bencher run --adapter json`)\n"
    "  gab-smaller  github-action-benchmark, tool: customSmallerIsBetter (medians)\n"
    "  gab-bigger   github-action-benchmark, tool: customBiggerIsBetter (runs/s)\n"
    "  gbench       Google Benchmark JSON (one run per sample, with aggregates)\n"
    "From a profile (INPUT: a recording made with `kbprof record -g`, or folded stacks,\n"
    "\"outer;inner;leaf COUNT\" lines, as FlameGraph's stackcollapse scripts write):\n"
    "  speedscope   speedscope's sampled-profile JSON\n"
    "  folded       FlameGraph folded stacks (merged and sorted)\n"
    "  pprof        pprof profile.proto, gzipped (`go tool pprof`, Pyroscope, Parca)\n\n"
    "  -f, --format F       the format (required)\n"
    "  -i, --input FILE     input file (default: standard input)\n"
    "  -o, --output FILE    output file (default: standard output; pprof needs -o or a\n"
    "                       pipe, it is binary)\n"
    "      --name NAME      profile name (speedscope, pprof)\n"
    "      --event NAME     what a sample counts, e.g. task-clock (pprof sample type);\n"
    "                       for a recording: which of its events to export\n"
    "      --period N       event units per sample, e.g. 1000000 (1 ms of task-clock)\n"
    "      --period-unit U  unit of the period: nanoseconds, count, ...\n";

static int write_all(const char *path, const struct kb_buf *b)
{
	FILE *f = path ? fopen(path, "wb") : stdout;
	if (!f)
		return cli_fail("export", "%s: %s", path, strerror(errno));
	int bad = (b->len && fwrite(b->data, 1, b->len, f) != b->len) || ferror(f);
	if (path && fclose(f) != 0)
		bad = 1;
	if (bad)
		return cli_fail("export", "%s: write failed: %s", path ? path : "standard output",
				strerror(errno));
	return KBPROF_EXIT_OK;
}

static void print_notes(const struct kb_buf *notes)
{
	const char *p = notes->data;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(stderr, "kbprof export: note: %.*s\n", (int)n, p);
		p += n + (nl != NULL);
	}
}

CMD(export)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},      {"input", required_argument, NULL, 'i'},
	    {"output", required_argument, NULL, 'o'},      {"name", required_argument, NULL, 'N'},
	    {"event", required_argument, NULL, 'E'},       {"period", required_argument, NULL, 'P'},
	    {"period-unit", required_argument, NULL, 'U'}, {NULL, 0, NULL, 0},
	};
	enum export_format fmt = EXPORT_BMF;
	int have_fmt = 0;
	const char *input = "-", *output = NULL;
	struct export_profile_info info = {0};
	unsigned long long period;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:i:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (export_format_parse(optarg, &fmt))
				return cli_usage_error(
				    "export",
				    "unknown format '%s' (bmf, gab-smaller, "
				    "gab-bigger, gbench, speedscope, folded, pprof)",
				    optarg);
			have_fmt = 1;
			break;
		case 'i':
			input = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'N':
			info.name = optarg;
			break;
		case 'E':
			info.event = optarg;
			break;
		case 'P':
			if (cli_parse_u64(optarg, &period) || period == 0 || period > (1ULL << 40))
				return cli_usage_error(
				    "export", "--period wants a whole number 1..2^40, not '%s'",
				    optarg);
			info.period = period;
			break;
		case 'U':
			info.period_unit = optarg;
			break;
		default:
			return cli_usage_error("export", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("export", "unexpected argument '%s' (input goes after -i)",
				       argv[optind]);
	if (!have_fmt)
		return cli_usage_error("export", "--format is required");
	if (info.period && !info.period_unit)
		return cli_usage_error("export", "--period needs --period-unit");
	if (fmt == EXPORT_PPROF && !output && isatty(STDOUT_FILENO))
		return cli_usage_error("export",
				       "pprof output is gzipped binary: give -o FILE or a pipe");

	struct kb_error err = {0};
	struct kb_buf out = {0}, notes = {0};
	int rc = KBPROF_EXIT_FAIL;
	if (export_format_is_bench(fmt)) {
		struct benchfile bf;
		if (benchfile_load(&bf, input, &err))
			return cli_fail("export", "%s", err.msg);
		int r = fmt == EXPORT_BMF          ? export_bmf(&bf, &out, &notes, &err)
			: fmt == EXPORT_GBENCH     ? export_gbench(&bf, &out, &notes, &err)
			: fmt == EXPORT_GAB_BIGGER ? export_gab(&bf, 1, &out, &notes, &err)
						   : export_gab(&bf, 0, &out, &notes, &err);
		benchfile_free(&bf);
		if (r) {
			rc = cli_fail("export", "%s", err.msg);
			goto out;
		}
	} else {
		struct fg_tree t;
		if (fg_tree_init(&t, &err))
			return cli_fail("export", "%s", err.msg);
		struct profile_meta meta;
		int r = profile_input_load(&t, input, info.event, &meta, &err);
		if (!r) {
			if (!info.name)
				info.name = meta.name;
			if (meta.from_recording) {
				info.time_nanos = meta.time_nanos;
				info.duration_nanos = meta.duration_nanos;
			}
		}
		if (!r)
			r = fmt == EXPORT_SPEEDSCOPE ? export_speedscope(&t, &info, &out, &err)
			    : fmt == EXPORT_FOLDED   ? export_folded(&t, &out, &notes, &err)
						     : export_pprof(&t, &info, &out, &err);
		fg_tree_free(&t);
		if (r) {
			rc = cli_fail("export", "%s", err.msg);
			goto out;
		}
	}
	print_notes(&notes);
	rc = write_all(output, &out);
out:
	kb_buf_free(&out);
	kb_buf_free(&notes);
	return rc;
}
