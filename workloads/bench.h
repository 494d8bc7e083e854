/* bench: the benchmark harness (module prefix bench_).
 *
 * A suite is a table of benchmark definitions. Each definition names its
 * metrics (metrics[0] is the headline) and supplies three callbacks:
 * setup (untimed, once), sample (called for each warm-up run and each
 * sample; it does its own per-sample preparation untimed and records one
 * value for every metric, usually with bench_clock_start/stop), teardown
 * (untimed, once). The harness selects benchmarks (--filter, --quick),
 * runs them in table order, each inside a probed region named after it,
 * checks that every sample recorded every metric, and computes statistics
 * with analyze/stats.h.
 *
 * A benchmark that finds a wrong result calls bench_fail(): the benchmark is
 * marked failed with that message, the remaining ones still run, and the
 * run reports failure.
 *
 * Ownership: bench_run_suite() fills a struct bench_results the caller
 * releases with bench_results_free(); it owns every sample array and the
 * copied option strings. Definitions are static and never copied. */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/stats.h"
#include "util/kb_error.h"

#define BENCH_MAX_METRICS 12
#define BENCH_MAX_FACTS 24

struct bench_ctx;
struct bench_results;
struct json_t; /* jansson's json_t, for the suite's derived numbers */

struct bench_metric_def {
	const char *name;    /* "time", "image_open", "rss_growth", ... */
	const char *unit;    /* "ns", "bytes", "bytes/rule", "faults", "pages", "fraction" */
	const char *summary; /* one line: what the value is */
};

struct bench_def {
	const char *name;       /* the seed's name, e.g. "compile_small_kb" */
	const char *group;      /* "compilation", "memory", "serialization", "query", "startup" */
	const char *summary;    /* what one sample does */
	unsigned samples;       /* default sample count */
	unsigned quick_samples; /* sample count under --quick; 0: skipped by --quick */
	unsigned warmup;        /* unmeasured runs before the samples */
	uint64_t kb_n;          /* generator size (MeTTaTron's label), 0 if no generated KB */
	const struct bench_metric_def *metrics;
	unsigned nmetrics; /* 1..BENCH_MAX_METRICS */
	/* Untimed preparation; *state is handed to sample and teardown. */
	int (*setup)(struct bench_ctx *ctx, void **state);
	/* One run. Records every metric once (bench_record/bench_clock_stop);
	 * returns 0, or -1 after bench_fail(). */
	int (*sample)(struct bench_ctx *ctx, void *state);
	void (*teardown)(void *state); /* may be NULL */
};

struct bench_suite {
	const char *name;
	const struct bench_def *defs;
	size_t ndefs;
	/* Suite-wide shared fixtures (generated sources, images), created
	 * lazily by the benchmarks; fini releases them. Both may be NULL. */
	int (*init)(void **suite_state, const char *workdir, struct kb_error *err);
	void (*fini)(void *suite_state);
	/* Numbers computed across benchmarks (scaling fits, hypothesis
	 * checks) as the "derived" object of docs/bench-json.md; a new
	 * reference, or NULL if memory runs out. May be NULL. */
	struct json_t *(*derive)(const struct bench_results *res);
};

/* The suites kbprof knows (NULL-terminated). */
extern const struct bench_suite *const bench_suites[];
const struct bench_suite *bench_suite_find(const char *name);

/* ---- inside a benchmark's callbacks ---- */

/* The suite's shared state and the directory for files. */
void *bench_suite_state(struct bench_ctx *ctx);
const char *bench_workdir(struct bench_ctx *ctx);
/* 1 while the current call is a warm-up run (its records are discarded). */
int bench_is_warmup(const struct bench_ctx *ctx);

/* Starts the stopwatch (CLOCK_MONOTONIC, and the process's CPU clock);
 * bench_clock_stop records the nanoseconds since the last start as metric
 * `metric`, and the CPU time the process used meanwhile as its CPU time,
 * and returns the wall nanoseconds. */
void bench_clock_start(struct bench_ctx *ctx);
double bench_clock_stop(struct bench_ctx *ctx, unsigned metric);
/* Records the CPU time of metric `metric` for a time measured without the
 * stopwatch (bench_now_ns differences, summed intervals): nanoseconds of
 * bench_cpu_now_ns over the same intervals. A metric keeps CPU times only
 * when every one of its samples recorded one (see cpu_samples). */
void bench_record_cpu(struct bench_ctx *ctx, unsigned metric, double cpu_ns);
/* Records any value for metric `metric` of the current sample. */
void bench_record(struct bench_ctx *ctx, unsigned metric, double value);
/* Records a value measured once per run (the last call for a name wins). */
void bench_fact(struct bench_ctx *ctx, const char *name, const char *unit, double value);
/* Marks the benchmark failed; returns -1 for `return bench_fail(...)`. */
__attribute__((format(printf, 2, 3))) int bench_fail(struct bench_ctx *ctx, const char *fmt, ...);

/* From setup only: the benchmark cannot run on this machine (not enough
 * disk or memory, ...). It is reported as skipped with this reason, not as
 * a failure. Returns -1 for `return bench_skip(...)`. */
__attribute__((format(printf, 2, 3))) int bench_skip(struct bench_ctx *ctx, const char *fmt, ...);

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);
/* CPU time of this process (CLOCK_PROCESS_CPUTIME_ID: user and system, all
 * threads) in nanoseconds. Time the process waits -- preempted, blocked on
 * I/O or page-ins -- does not count. */
uint64_t bench_cpu_now_ns(void);

/* ---- running ---- */

struct bench_opts {
	const char *const *filters; /* substrings, or globs when they hold * ? [ */
	size_t nfilters;            /* 0: every benchmark */
	unsigned samples;           /* 0: each benchmark's default (or quick count) */
	int quick;                  /* quick sample counts; skips quick_samples == 0 */
	int progress;               /* 1: progress line on stderr */
	const char *workdir;        /* existing directory for benchmark files */
};

enum bench_status { BENCH_OK, BENCH_FAILED, BENCH_SKIPPED };

struct bench_metric_result {
	const struct bench_metric_def *def;
	double *samples; /* n values, in the order taken (owned) */
	/* CPU time of each sample over the same interval (owned), or NULL when
	 * some sample did not record one (not a time, or not measured). */
	double *cpu_samples;
	size_t n;
	int have_stats; /* 0 when n == 0 */
	struct stats_summary stats;
};

struct bench_fact {
	char name[48];
	char unit[16];
	double value;
};

struct bench_result {
	const struct bench_def *def;
	enum bench_status status;
	char error[1024]; /* failure or skip reason */
	unsigned samples_requested, warmup;
	double wall_s;
	struct bench_metric_result metrics[BENCH_MAX_METRICS];
	struct bench_fact facts[BENCH_MAX_FACTS];
	unsigned nfacts;
};

struct bench_results {
	const struct bench_suite *suite;
	struct bench_result *items; /* one per selected benchmark (owned) */
	size_t n;
	int64_t start_unix; /* wall-clock start, seconds since the epoch */
	double duration_s;
	size_t failed;
};

/* 1 if `name` is selected by the filters (any of them matches). */
int bench_selected(const struct bench_opts *opts, const char *name);
/* Sample count a benchmark runs with these options; 0 means skipped. */
unsigned bench_sample_count(const struct bench_opts *opts, const struct bench_def *def);

/* Runs the selected benchmarks of `suite`. Returns 0 when the run took
 * place (benchmarks may still have failed: see out->failed), -1 with err
 * set if it could not start (suite init failed, no memory). */
int bench_run_suite(const struct bench_suite *suite, const struct bench_opts *opts,
		    struct bench_results *out, struct kb_error *err);
void bench_results_free(struct bench_results *res);

/* Looks up a result by benchmark name, and a metric/fact within one. */
const struct bench_result *bench_results_find(const struct bench_results *res, const char *name);
const struct bench_metric_result *bench_result_metric(const struct bench_result *r,
						      const char *name);
const struct bench_fact *bench_result_fact(const struct bench_result *r, const char *name);

/* Text MeTTaTron used for a generator size: 10000 -> "10K". */
void bench_kb_label(uint64_t n, char *buf, size_t size);

#endif
