/* stats: descriptive and comparative statistics over arrays of doubles
 * (module prefix stats_). Used by the analyzer, the benchmark suite and
 * comparisons between runs.
 *
 * Conventions, stated once:
 * - Every function reads its input arrays and never modifies or keeps them.
 *   Functions whose name ends in _sorted require the input sorted ascending
 *   (stats_sort() does that in place) and allocate nothing.
 * - Functions that need scratch memory (medians of unsorted data, bootstrap)
 *   allocate it themselves and free it before returning; they return 0, or
 *   -1 with a message in the error slot when n is unusable or memory ran out.
 *   Nothing returned by this module needs freeing.
 * - Empty input: scalar functions return NaN; fallible ones return -1.
 * - Percentiles use linear interpolation between closest ranks (Hyndman and
 *   Fan type 7; the default of R and NumPy): for sorted x[0..n-1] and p in
 *   [0, 1], h = (n - 1) * p and the value is
 *   x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h]).
 *   Quartiles, median and Tukey fences all use this rule.
 * - Standard deviation is the sample one (divides by n - 1); NaN for n < 2.
 * - MAD is the raw median absolute deviation from the median (not scaled by
 *   1.4826; multiply by STATS_MAD_NORMAL for a normal-consistent estimate).
 * - Bootstrap intervals are percentile intervals: B resamples with
 *   replacement, the statistic of each, and the (1-level)/2 and
 *   (1+level)/2 percentiles of those B values. Resampling draws from a
 *   seeded xoshiro256** generator, so a seed gives the same interval on
 *   every machine. Cost: B * n (selection, not sorting, per resample). */
#ifndef KB_ANALYZE_STATS_H
#define KB_ANALYZE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "util/kb_error.h"

#define STATS_MAD_NORMAL 1.4826

/* Defaults used when a caller passes NULL options. */
#define STATS_DEFAULT_RESAMPLES 10000u
#define STATS_DEFAULT_LEVEL 0.95
#define STATS_DEFAULT_SEED 0x6b6270726f66ULL /* "kbprof" */

/* ---- the seeded generator (xoshiro256**, seeded through splitmix64) ---- */
struct stats_rng {
	uint64_t s[4];
};

void stats_rng_seed(struct stats_rng *rng, uint64_t seed);
uint64_t stats_rng_next(struct stats_rng *rng);
/* Uniform integer in [0, bound) without modulo bias; bound > 0. */
uint64_t stats_rng_below(struct stats_rng *rng, uint64_t bound);

/* ---- plain descriptive statistics ---- */
double stats_mean(const double *x, size_t n);
double stats_stddev(const double *x, size_t n); /* sample, n - 1 */
double stats_min(const double *x, size_t n);
double stats_max(const double *x, size_t n);

void stats_sort(double *x, size_t n); /* ascending, in place */

/* p in [0, 1] (clamped); type 7 interpolation (see above). */
double stats_percentile_sorted(const double *sorted, size_t n, double p);
double stats_median_sorted(const double *sorted, size_t n);

/* Median of unsorted data (copies it into scratch it frees). */
int stats_median(const double *x, size_t n, double *out, struct kb_error *err);
/* Raw median absolute deviation from the median. */
int stats_mad(const double *x, size_t n, double *out, struct kb_error *err);

/* ---- Tukey outliers ----
 * Fences at Q1 - k*IQR and Q3 + k*IQR: a value beyond the 1.5 fence but
 * within the 3.0 fence is mild, beyond the 3.0 fence severe. */
struct stats_outliers {
	double q1, q3, iqr;
	double low_mild_fence, low_severe_fence;   /* q1 - 1.5 iqr, q1 - 3 iqr */
	double high_mild_fence, high_severe_fence; /* q3 + 1.5 iqr, q3 + 3 iqr */
	size_t low_severe, low_mild, high_mild, high_severe;
	size_t mild, severe; /* low + high */
};

int stats_outliers_sorted(const double *sorted, size_t n, struct stats_outliers *out,
			  struct kb_error *err);

/* ---- bootstrap ---- */
enum stats_statistic {
	STATS_MEDIAN,
	STATS_MEAN,
};

struct stats_bootstrap_opts {
	unsigned resamples; /* B; 0 means STATS_DEFAULT_RESAMPLES */
	double level;       /* in (0, 1); 0 means STATS_DEFAULT_LEVEL */
	uint64_t seed;
};

/* A point estimate with its confidence interval. */
struct stats_estimate {
	double value;
	double lo, hi;
	double level;
};

/* Percentile bootstrap interval of the median or mean of x. opts may be
 * NULL (defaults, STATS_DEFAULT_SEED). */
int stats_bootstrap(const double *x, size_t n, enum stats_statistic which,
		    const struct stats_bootstrap_opts *opts, struct stats_estimate *out,
		    struct kb_error *err);

/* median(a) / median(b), with a percentile bootstrap interval from
 * resampling a and b independently. Fails when median(b) is 0 or a
 * resample's median of b is 0 (the ratio is undefined). "a is 1.8x b". */
int stats_ratio_of_medians(const double *a, size_t na, const double *b, size_t nb,
			   const struct stats_bootstrap_opts *opts, struct stats_estimate *out,
			   struct kb_error *err);

/* The same for the q-quantile (q in [0, 1], type 7; 0.5 is the median, and
 * stats_ratio_of_medians is this with q = 0.5): quantile q of a over
 * quantile q of b, with its percentile bootstrap interval. */
int stats_ratio_of_quantiles(const double *a, size_t na, const double *b, size_t nb, double q,
			     const struct stats_bootstrap_opts *opts, struct stats_estimate *out,
			     struct kb_error *err);

/* ---- everything a benchmark table shows, in one call ---- */
struct stats_summary {
	size_t n;
	double min, max, mean, stddev, median, mad;
	double p5, p95;
	struct stats_estimate median_ci, mean_ci;
	struct stats_outliers outliers;
};

/* n >= 1. For n == 1 stddev is NaN and both intervals collapse to the value.
 * opts may be NULL. */
int stats_describe(const double *x, size_t n, const struct stats_bootstrap_opts *opts,
		   struct stats_summary *out, struct kb_error *err);

/* ---- scaling: y = coefficient * x^exponent ----
 * Least squares of ln y on ln x. Needs n >= 2, every x and y > 0 and at
 * least two distinct x. r2 is the coefficient of determination in log
 * space (1 when all points lie on the line; defined as 1 when every ln y
 * is equal and the fit is exact). exponent_se is the standard error of the
 * exponent (NaN for n == 2). */
struct stats_fit {
	size_t n;
	double exponent, coefficient, r2, exponent_se;
};

int stats_loglog_fit(const double *x, const double *y, size_t n, struct stats_fit *out,
		     struct kb_error *err);
/* coefficient * x^exponent: extrapolation along a fit. */
double stats_fit_predict(const struct stats_fit *fit, double x);

#endif
