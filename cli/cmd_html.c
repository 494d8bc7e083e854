/* kbprof html: the self-contained HTML report (reports/html_report) from
 * bench results and a recording (analyze/hotspots, analyze/faults) or
 * folded stacks. Wiring only. */
#include "cli/builtin.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze/benchfile.h"
#include "analyze/faults.h"
#include "analyze/hotspots.h"
#include "analyze/profile.h"
#include "reports/flamegraph.h"
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

#define MAX_REGIONS 12

struct html_state {
	struct benchfile bench;
	int have_bench;
	struct prof *prof;
	struct hot_report *hot;
	struct flt_report *flt_all, *flt_region[MAX_REGIONS];
	struct fg_tree tree;
	int have_tree;
	struct html_hotspot *rows;
	struct html_fault_series series[MAX_REGIONS + 1];
	uint64_t *bins;
	char hot_source[512], flame_source[512], fault_source[512], reason[512];
};

static void state_free(struct html_state *s)
{
	for (size_t i = 0; i < MAX_REGIONS; i++)
		if (s->flt_region[i])
			flt_report_free(s->flt_region[i]);
	if (s->flt_all)
		flt_report_free(s->flt_all);
	if (s->hot)
		hot_report_free(s->hot);
	if (s->prof)
		prof_free(s->prof);
	if (s->have_tree)
		fg_tree_free(&s->tree);
	if (s->have_bench)
		benchfile_free(&s->bench);
	free(s->rows);
	free(s->bins);
}

/* Hotspots and flame graph from the recording's CPU samples. */
static int from_hotspots(struct html_state *s, const char *path, size_t top,
			 struct html_hotspots *hs, struct kb_error *err)
{
	struct hot_options ho = {.limit = top, .folded = 1, .sort = HOT_SORT_SELF};
	if (hot_report_build(s->prof, &ho, &s->hot, err))
		return -1;
	struct hot_report *h = s->hot;
	s->rows = calloc(h->n_rows + 1, sizeof *s->rows);
	if (!s->rows)
		return kb_error_set(err, "out of memory");
	for (size_t i = 0; i < h->n_rows; i++) {
		s->rows[i] = (struct html_hotspot){
		    .function = h->rows[i].fn->name,
		    .module = h->rows[i].fn->module,
		    .self_samples = h->rows[i].self.samples,
		    .total_samples = h->rows[i].total.samples,
		    .self_pct = h->rows[i].self.pct,
		    .total_pct = h->rows[i].total.pct,
		};
	}
	snprintf(s->hot_source, sizeof s->hot_source,
		 "Recording %s: %llu samples of %s; top %zu of %zu functions by self samples", path,
		 (unsigned long long)h->samples, h->event ? h->event->name : "?", h->n_rows,
		 h->n_functions);
	*hs = (struct html_hotspots){s->hot_source, s->rows, h->n_rows};
	if (fg_tree_init(&s->tree, err))
		return -1;
	s->have_tree = 1;
	for (size_t i = 0; i < h->n_folded; i++)
		if (fg_tree_add_path(&s->tree, h->folded[i].stack, h->folded[i].samples, err))
			return -1;
	snprintf(s->flame_source, sizeof s->flame_source, "Call chains of %s, %s samples", path,
		 h->event ? h->event->name : "?");
	return 0;
}

/* The fault timeline: every fault, then each region (nested ones
 * included), on the recording's time axis. */
static int from_faults(struct html_state *s, const char *path, size_t bins, struct html_faults *hf,
		       struct kb_error *err)
{
	struct flt_options fo = {.bins = bins};
	if (flt_report_build(s->prof, &fo, &s->flt_all, err))
		return -1;
	struct flt_report *all = s->flt_all;
	size_t n_series = 0;
	s->bins = calloc((MAX_REGIONS + 1) * bins, sizeof *s->bins);
	if (!s->bins)
		return kb_error_set(err, "out of memory");
	for (size_t k = 0; k < all->n_bins; k++)
		s->bins[k] = all->bins[k].faults;
	s->series[n_series++] =
	    (struct html_fault_series){"all faults", s->bins, all->total.faults};
	for (size_t i = 0; i < all->n_regions && n_series <= MAX_REGIONS; i++) {
		const char *region = all->regions[i].path;
		if (!region)
			continue;
		fo.region = region;
		struct flt_report **r = &s->flt_region[n_series - 1];
		if (flt_report_build(s->prof, &fo, r, err))
			return -1;
		uint64_t *b = s->bins + n_series * bins;
		for (size_t k = 0; k < (*r)->n_bins && k < bins; k++)
			b[k] = (*r)->bins[k].faults;
		s->series[n_series++] = (struct html_fault_series){region, b, (*r)->total.faults};
	}
	snprintf(s->fault_source, sizeof s->fault_source,
		 "Recording %s: %llu %s samples; a region's row includes its nested regions", path,
		 (unsigned long long)all->total.faults, all->events);
	*hf = (struct html_faults){s->fault_source, prof_duration_ns(s->prof), all->n_bins,
				   s->series, n_series};
	return 0;
}

static int make_dir(const char *dir)
{
	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

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

	struct html_state s = {0};
	struct html_hotspots hs;
	struct html_faults hf;
	struct html_input in = {.title = title};
	struct kb_error err = {0};
	struct kb_buf page = {0};
	int rc = KBPROF_EXIT_FAIL;
	if (bench) {
		if (benchfile_load(&s.bench, bench, &err))
			goto fail;
		s.have_bench = 1;
		in.bench = &s.bench;
	}
	if (rec) {
		struct prof_options po = {.keep_faults = 1};
		if (prof_load(&s.prof, rec, &po, &err))
			goto fail;
		if (prof_event_find(s.prof, KBREC_EVENT_CPU, NULL)) {
			if (from_hotspots(&s, rec, (size_t)top, &hs, &err))
				goto fail;
			in.hotspots = &hs;
			in.flame = &s.tree;
			in.flame_source = s.flame_source;
		}
		if (prof_event_find(s.prof, KBREC_EVENT_FAULTS, NULL)) {
			if (from_faults(&s, rec, (size_t)bins, &hf, &err))
				goto fail;
			in.faults = &hf;
		} else {
			snprintf(s.reason, sizeof s.reason,
				 "%s has no page-fault samples (record with --faults)", rec);
		}
	} else if (folded) {
		if (fg_tree_init(&s.tree, &err))
			goto fail;
		s.have_tree = 1;
		if (fg_tree_load_folded(&s.tree, folded, &err))
			goto fail;
		snprintf(s.flame_source, sizeof s.flame_source, "Folded stacks from %s", folded);
		in.flame = &s.tree;
		in.flame_source = s.flame_source;
	}
	if (s.reason[0])
		in.absent_reason = s.reason;
	if (html_report_render(&in, &page, &err))
		goto fail;
	if (make_dir(dir)) {
		rc = cli_fail("html", "%s: %s", dir, strerror(errno));
		goto out;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/index.html", dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		rc = cli_fail("html", "%s: %s", path, strerror(errno));
		goto out;
	}
	int bad = fwrite(page.data, 1, page.len, f) != page.len;
	if (fclose(f) != 0 || bad) {
		rc = cli_fail("html", "%s: write failed: %s", path, strerror(errno));
		goto out;
	}
	printf("%s\n", path);
	rc = KBPROF_EXIT_OK;
	goto out;
fail:
	rc = cli_fail("html", "%s", err.msg);
out:
	kb_buf_free(&page);
	state_free(&s);
	return rc;
}
