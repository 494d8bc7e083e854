/* export: kbprof results in other tools' formats (module prefix export_).
 *
 * From bench results (analyze/benchfile.h):
 * - Bencher Metric Format (BMF) JSON: {benchmark: {measure: {value,
 *   lower_value, upper_value}}}, the median with its 95% interval;
 * - github-action-benchmark `customSmallerIsBetter` (every kbprof metric:
 *   medians) and `customBiggerIsBetter` (runs per second of each time
 *   metric): [{name, unit, value, range, extra}];
 * - Google Benchmark JSON: {context, benchmarks[]} with one "iteration" run
 *   per sample and mean/median/stddev aggregates, for each time metric.
 * From a profile (a stack tree, reports/flamegraph.h):
 * - speedscope's sampled-profile JSON (file-format-schema.json);
 * - FlameGraph folded stacks;
 * - pprof's profile.proto, gzipped (protobuf-c code generated at build time
 *   from Debian's profile.proto; zlib).
 * docs/kbprof-export.md maps every field.
 *
 * Conventions: each function appends the whole document to a caller-owned
 * kb_buf (binary for pprof) and returns 0, or -1 with err set. What a format
 * cannot carry (a metric with no time unit in Google Benchmark JSON) is left
 * out and said in `notes` (one line each; may be NULL). */
#ifndef KB_REPORTS_EXPORT_H
#define KB_REPORTS_EXPORT_H

#include <stdint.h>

#include "analyze/benchfile.h"
#include "reports/flamegraph.h"
#include "util/kb_buf.h"
#include "util/kb_error.h"

enum export_format {
	EXPORT_BMF,
	EXPORT_GAB_SMALLER, /* github-action-benchmark customSmallerIsBetter */
	EXPORT_GAB_BIGGER,  /* github-action-benchmark customBiggerIsBetter */
	EXPORT_GBENCH,      /* Google Benchmark JSON */
	EXPORT_SPEEDSCOPE,
	EXPORT_FOLDED,
	EXPORT_PPROF,
};

/* Names on the command line: "bmf", "gab-smaller" ("customSmallerIsBetter"),
 * "gab-bigger" ("customBiggerIsBetter"), "gbench" ("google-benchmark"),
 * "speedscope", "folded", "pprof". Returns 0, or -1 for an unknown name. */
int export_format_parse(const char *name, enum export_format *out);
const char *export_format_name(enum export_format f);
/* 1 for formats made from bench results, 0 for those made from profiles. */
int export_format_is_bench(enum export_format f);

int export_bmf(const struct benchfile *bf, struct kb_buf *out, struct kb_buf *notes,
	       struct kb_error *err);
int export_gab(const struct benchfile *bf, int bigger_is_better, struct kb_buf *out,
	       struct kb_buf *notes, struct kb_error *err);
int export_gbench(const struct benchfile *bf, struct kb_buf *out, struct kb_buf *notes,
		  struct kb_error *err);

/* What a profile's samples are. */
struct export_profile_info {
	const char *name;        /* profile name, e.g. the recorded command */
	const char *event;       /* sampling event, e.g. "task-clock"; NULL: "samples" */
	uint64_t period;         /* event units per sample (e.g. ns of task-clock); 0: unknown */
	const char *period_unit; /* "nanoseconds", "count", ...; NULL when period is 0 */
	int64_t time_nanos;      /* start, ns since the epoch; 0: unknown */
	int64_t duration_nanos;  /* 0: unknown */
};

int export_speedscope(const struct fg_tree *t, const struct export_profile_info *info,
		      struct kb_buf *out, struct kb_error *err);
/* One line per stack with self samples, children in name order. Samples
 * with no stack (the root's self count) cannot be written as folded stacks
 * and are said in notes. */
int export_folded(const struct fg_tree *t, struct kb_buf *out, struct kb_buf *notes,
		  struct kb_error *err);
int export_pprof(const struct fg_tree *t, const struct export_profile_info *info,
		 struct kb_buf *out, struct kb_error *err);

#endif
