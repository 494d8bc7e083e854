/* compare: noise-aware comparison of two benchmark runs (module prefix
 * compare_). The rule is written down for users in docs/kbprof-compare.md;
 * in short, for each benchmark (its headline metric, or every metric):
 *
 *   r, [lo, hi]  ratio of medians NEW / BASE with its 95% percentile
 *                bootstrap interval (analyze/stats: stats_ratio_of_quantiles;
 *                opts.quantile picks another quantile than the median for
 *                everything here, opts.cpu_time the CPU times of times);
 *                with noise runs, BASE stands for every run of the base
 *                build, their samples pooled, and with new_runs NEW for
 *                every run of the new build
 *   floor f      how far the median moves with no code change:
 *                - with noise runs (further runs of the base build), k runs
 *                  in all: exp(t(0.975, k-1) * sqrt(v_base + v_new)) - 1,
 *                  v_base the delete-a-run jackknife variance of ln(median
 *                  of the pooled base runs), v_new the same for the new
 *                  runs when there are two or more, else s^2, the variance
 *                  of ln(median) over the base runs (for runs alike this is
 *                  t * sqrt(1 + 1/k) * s, the prediction bound for one more
 *                  run);
 *                - without: the within-run dispersion, the larger of the
 *                  two runs' robust coefficients of variation
 *                  1.4826 * MAD / median.
 *   margin m     max(threshold, f): the smallest change reported as one.
 *
 *   regressed    lo > 1 and r > 1 + m
 *   improved     hi < 1 and r < 1 / (1 + m)
 *   unchanged    1 / (1 + m) <= r <= 1 + m, and
 *                - with noise runs, nothing more: the floor is the measured
 *                  spread of the same statistic (a run's median) between
 *                  runs of one build, so r inside it is what a rerun gives;
 *                - without, the interval lies within [1/(1+2m), 1+2m] (a
 *                  change of twice the margin is ruled out), since the
 *                  within-run floor does not include the median's sampling
 *                  error
 *   too noisy    anything else: beyond the margin but not significant, or
 *                an interval too wide to rule out a large change.
 *
 * Every metric kbprof bench records is smaller-is-better (times, bytes,
 * faults), so a ratio above 1 is a regression.
 *
 * Ownership: compare_runs() fills a compare_result the caller frees with
 * compare_result_free(); its rows point at names inside the two benchfiles,
 * which must outlive it. */
#ifndef KB_ANALYZE_COMPARE_H
#define KB_ANALYZE_COMPARE_H

#include <stddef.h>

#include "analyze/benchfile.h"
#include "analyze/stats.h"
#include "util/kb_error.h"

#define COMPARE_DEFAULT_THRESHOLD 0.05

enum compare_verdict {
	COMPARE_IMPROVED,
	COMPARE_REGRESSED,
	COMPARE_UNCHANGED,
	COMPARE_NOISY,        /* "too noisy to say" */
	COMPARE_NOT_COMPARED, /* missing, failed or skipped on a side, no ratio */
	COMPARE_N_VERDICTS
};

/* "improved", "regressed", "unchanged", "too noisy to say", "not compared". */
const char *compare_verdict_name(enum compare_verdict v);
/* Stable identifiers for JSON: "improved", ..., "noisy", "not_compared". */
const char *compare_verdict_id(enum compare_verdict v);

enum compare_floor_source {
	COMPARE_FLOOR_NONE,   /* not compared */
	COMPARE_FLOOR_RUNS,   /* spread of medians over repeated runs */
	COMPARE_FLOOR_WITHIN, /* within-run dispersion of BASE and NEW */
};

struct compare_opts {
	double threshold;                     /* relative (0.05 = 5%); < 0 means the default */
	const struct benchfile *const *noise; /* runs of the base build */
	size_t n_noise;
	/* Further runs of the new build: their samples are pooled with NEW's,
	 * as the noise runs' are with BASE's, so that one run disturbed as a
	 * whole (another job slowing the machine for seconds) is outvoted. */
	const struct benchfile *const *new_runs;
	size_t n_new_runs;
	int all_metrics; /* 0: each benchmark's headline metric (metrics[0]) */
	/* 1: times are compared by their CPU time (metrics[].cpu_samples)
	 * instead of their wall time; a time without CPU samples on a side is
	 * not compared, and noise runs without them do not count. Metrics
	 * that are not times are compared as they are. */
	int cpu_time;
	/* The statistic compared and whose spread over runs is the floor: the
	 * median (0 or 0.5), or another quantile in (0, 1) -- a low one (0.25)
	 * resists interference that slows some of a run's samples (it only
	 * ever adds time). In the rows, base_median and new_median are then
	 * that quantile. */
	double quantile;
	struct stats_bootstrap_opts boot; /* zeroes: the stats defaults */
};

struct compare_row {
	const char *bench, *metric, *unit;
	size_t n_base, n_new;
	double base_median, new_median; /* NaN when not compared */
	struct stats_estimate ratio;    /* new / base with its interval */
	double floor;                   /* relative, e.g. 0.031 */
	enum compare_floor_source floor_source;
	size_t floor_runs; /* runs the floor came from (COMPARE_FLOOR_RUNS) */
	double margin;     /* max(threshold, floor) */
	enum compare_verdict verdict;
	char note[256]; /* why not compared, or which test decided */
};

struct compare_result {
	struct compare_row *rows; /* NEW's benchmarks in order, then BASE-only ones */
	size_t n;
	size_t counts[COMPARE_N_VERDICTS];
	double threshold;
	size_t n_noise;
	int cpu_time;                     /* compare_opts.cpu_time */
	double quantile;                  /* the quantile compared, 0.5 for the median */
	size_t n_new_runs;                /* compare_opts.n_new_runs */
	const char *base_path, *new_path; /* the benchfiles' paths */
};

int compare_runs(const struct benchfile *base, const struct benchfile *now,
		 const struct compare_opts *opts, struct compare_result *out, struct kb_error *err);
void compare_result_free(struct compare_result *res);

/* The verdict for one ratio, interval and margin (the rule above); the
 * floor's source decides what "unchanged" needs. */
enum compare_verdict compare_decide(const struct stats_estimate *ratio, double margin,
				    enum compare_floor_source floor_source, char *note,
				    size_t note_size);

#endif
