/* benchfile: reads a `kbprof bench --json` results file (schema
 * `kbprof-bench` version 1, docs/bench-json.md) into plain structs for the
 * comparison and the exporters (module prefix benchfile_).
 *
 * The file is untrusted: every field is type-checked, and an error names
 * the file and the JSON path of the offending field
 * ("new.json: benchmarks[2].metrics[0].samples[7]: not a number").
 * Fields this reader does not use are ignored, as the schema's stability
 * rules ask; `doc` keeps the whole document for renderers that want more.
 *
 * Ownership: benchfile_load() fills a struct benchfile that owns the parsed
 * jansson document, every array, and the copied path; benchfile_free()
 * releases all of it. String fields point into the document and live as
 * long as it does. */
#ifndef KB_ANALYZE_BENCHFILE_H
#define KB_ANALYZE_BENCHFILE_H

#include <jansson.h>
#include <stddef.h>

#include "util/kb_error.h"

/* The statistics the bench run recorded for one metric (analyze/stats.h
 * computed them). Absent numbers (null in the file) are NaN. */
struct benchfile_stats {
	size_t n;
	double min, max, mean, median, stddev, mad, p5, p95;
	double median_lo, median_hi; /* median_ci95 */
	double mean_lo, mean_hi;     /* mean_ci95 */
};

struct benchfile_metric {
	const char *name;    /* "time", "image_open", ... */
	const char *unit;    /* "ns", "bytes", ... */
	const char *summary; /* may be "" */
	double *samples;     /* raw values in the order taken (owned) */
	size_t n;
	/* The file's `stats`; when it is null but samples exist, computed from
	 * the samples with analyze/stats (stats_describe, default options). */
	int have_stats;
	struct benchfile_stats stats;
	/* cpu_samples (optional, docs/bench-json.md): the process CPU time of
	 * each sample over the same interval, and its statistics computed
	 * here. NULL / 0 in files without it. */
	double *cpu_samples; /* owned */
	int have_cpu;
	struct benchfile_stats cpu_stats;
};

struct benchfile_bench {
	const char *name, *group, *summary;
	const char *status;               /* "ok", "failed", "skipped" */
	const char *error;                /* NULL when the file has null */
	const char *kb_label;             /* NULL when the benchmark has no generated KB */
	long long kb_rules;               /* -1 when unknown */
	struct benchfile_metric *metrics; /* owned */
	size_t n_metrics;
};

/* derived.scaling[]: medians of one series at several KB sizes and the
 * log-log fit kbprof bench computed (analyze/stats: stats_loglog_fit). */
struct benchfile_scaling_point {
	const char *benchmark, *label;
	double rules, median_ns;
};

struct benchfile_scaling {
	const char *series, *metric;
	struct benchfile_scaling_point *points; /* owned */
	size_t n_points;
	int have_fit;
	double exponent, coefficient, r2; /* time_ns = coefficient * rules^exponent */
};

/* profile.hotspots[]: the top functions of the bench run's profiling pass. */
struct benchfile_hotspot {
	const char *function, *module; /* module "" when absent */
	double self_samples, self_pct, inclusive_pct;
};

struct benchfile {
	char *path;  /* as given (owned copy) */
	json_t *doc; /* the whole document (owned reference) */
	const char *suite, *timestamp, *command;
	const char *version, *commit, *build_type, *compiler; /* "" when absent */
	int quick;                                            /* options.quick */
	struct benchfile_bench *benches;                      /* in the order they ran (owned) */
	size_t n_benches;
	struct benchfile_scaling *scaling; /* owned; empty when the file has none */
	size_t n_scaling;
	const char *profile_status, *profile_reason, *profile_event; /* "" when absent */
	struct benchfile_hotspot *hotspots;                          /* owned */
	size_t n_hotspots;
};

/* Reads and checks path ("-" for standard input). */
int benchfile_load(struct benchfile *bf, const char *path, struct kb_error *err);
/* Parses a document already in memory; `origin` names it in errors. */
int benchfile_parse(struct benchfile *bf, const char *text, size_t len, const char *origin,
		    struct kb_error *err);
void benchfile_free(struct benchfile *bf);

const struct benchfile_bench *benchfile_find(const struct benchfile *bf, const char *name);
const struct benchfile_metric *benchfile_metric(const struct benchfile_bench *b, const char *name);

#endif
