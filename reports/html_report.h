/* html_report: one self-contained HTML page of a kbprof run (module prefix
 * html_): the benchmark table, a log-log scaling chart with its fits, the
 * hotspot table, a flame graph, a page-fault timeline per region and the
 * environment. Inline CSS and SVG only; the one script is the flame
 * graph's search/zoom. Nothing is fetched from a network.
 *
 * Every input is optional: a section whose data was not given says so
 * ("not in this report: no recording given") instead of drawing anything.
 * The renderer draws what analyze/ computed; it computes no statistics
 * (the scaling fit comes from the bench results, where analyze/stats made
 * it).
 *
 * Stable element ids, for tests and for users' own styling: bench-table,
 * scaling-chart, hotspot-table, flamegraph, fault-timeline, env-table.
 *
 * Ownership: the caller owns every input; the page is appended to a
 * caller-owned kb_buf. */
#ifndef KB_REPORTS_HTML_REPORT_H
#define KB_REPORTS_HTML_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/benchfile.h"
#include "reports/flamegraph.h"
#include "util/kb_buf.h"
#include "util/kb_error.h"

struct html_hotspot {
	const char *function, *module; /* module may be NULL */
	uint64_t self_samples, total_samples;
	double self_pct, total_pct;
};

struct html_hotspots {
	const char *source; /* "recording kbprof.data, event cpu-clock", ... */
	const struct html_hotspot *rows;
	size_t n;
};

/* Faults per time bin for one region. */
struct html_fault_series {
	const char *region;   /* NULL: no region open */
	const uint64_t *bins; /* n_bins counts */
	uint64_t total;
};

struct html_faults {
	const char *source; /* what was counted: "page-faults samples of kbprof.data" */
	uint64_t span_ns;   /* the bins cover [0, span_ns) from the session start */
	size_t n_bins;
	const struct html_fault_series *series;
	size_t n;
};

/* One row of the environment table: "recording host", "vm". */
struct html_env_row {
	const char *key, *value;
};

struct html_input {
	const char *title;                    /* NULL: "kbprof report" */
	const struct benchfile *bench;        /* bench table, scaling, environment; may be NULL */
	const struct html_hotspots *hotspots; /* NULL: the bench file's profile.hotspots */
	const struct fg_tree *flame;          /* NULL: no flame graph */
	const char *flame_source;             /* where the stacks came from */
	const struct html_faults *faults;     /* NULL: no timeline */
	const char *absent_reason;            /* why flame/faults are missing, or NULL */
	const struct html_env_row *env;       /* the recording's machine and command; may be NULL */
	size_t n_env;
};

int html_report_render(const struct html_input *in, struct kb_buf *out, struct kb_error *err);

#endif
