/* stats: descriptive statistics, percentile bootstrap, Tukey outliers and
 * the log-log scaling fit. Owns nothing beyond the scratch arrays it frees
 * before returning; see stats.h for the definitions used. */
#include "analyze/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- generator ---- */

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void stats_rng_seed(struct stats_rng *rng, uint64_t seed)
{
	uint64_t st = seed;
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&st);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t stats_rng_next(struct stats_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t stats_rng_below(struct stats_rng *rng, uint64_t bound)
{
	/* Multiply-shift with rejection of the biased low band (Lemire). */
	unsigned __int128 m = (unsigned __int128)stats_rng_next(rng) * bound;
	uint64_t low = (uint64_t)m;
	if (low < bound) {
		uint64_t threshold = -bound % bound;
		while (low < threshold) {
			m = (unsigned __int128)stats_rng_next(rng) * bound;
			low = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

/* ---- descriptive ---- */

double stats_mean(const double *x, size_t n)
{
	if (n == 0)
		return NAN;
	/* Shifted by the first value: keeps precision when values are large
	 * and close together (timestamps, nanosecond durations). */
	double shift = x[0], sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += x[i] - shift;
	return shift + sum / (double)n;
}

double stats_stddev(const double *x, size_t n)
{
	if (n < 2)
		return NAN;
	double m = stats_mean(x, n), ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (x[i] - m) * (x[i] - m);
	return sqrt(ss / (double)(n - 1));
}

double stats_min(const double *x, size_t n)
{
	if (n == 0)
		return NAN;
	double v = x[0];
	for (size_t i = 1; i < n; i++)
		if (x[i] < v)
			v = x[i];
	return v;
}

double stats_max(const double *x, size_t n)
{
	if (n == 0)
		return NAN;
	double v = x[0];
	for (size_t i = 1; i < n; i++)
		if (x[i] > v)
			v = x[i];
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void stats_sort(double *x, size_t n)
{
	if (n > 1)
		qsort(x, n, sizeof *x, cmp_double);
}

double stats_percentile_sorted(const double *sorted, size_t n, double p)
{
	if (n == 0 || isnan(p))
		return NAN;
	if (p <= 0)
		return sorted[0];
	if (p >= 1)
		return sorted[n - 1];
	double h = (double)(n - 1) * p;
	size_t lo = (size_t)floor(h);
	if (lo + 1 >= n)
		return sorted[n - 1];
	double frac = h - (double)lo;
	return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

double stats_median_sorted(const double *sorted, size_t n)
{
	if (n == 0)
		return NAN;
	if (n % 2)
		return sorted[n / 2];
	return sorted[n / 2 - 1] + 0.5 * (sorted[n / 2] - sorted[n / 2 - 1]);
}

/* Rearranges a[0..n-1] so that a[k] holds the value it would hold if a
 * were sorted, everything before it is <= and everything after >= (Hoare
 * selection with a median-of-three pivot). Returns a[k]. */
static double select_kth(double *a, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;
	while (hi > lo) {
		size_t mid = lo + (hi - lo) / 2;
		/* median of three into a[mid] */
		if (a[mid] < a[lo]) {
			double t = a[mid];
			a[mid] = a[lo];
			a[lo] = t;
		}
		if (a[hi] < a[lo]) {
			double t = a[hi];
			a[hi] = a[lo];
			a[lo] = t;
		}
		if (a[hi] < a[mid]) {
			double t = a[hi];
			a[hi] = a[mid];
			a[mid] = t;
		}
		double pivot = a[mid];
		size_t i = lo, j = hi;
		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				double t = a[i];
				a[i] = a[j];
				a[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		/* now a[lo..j] <= pivot <= a[i..hi], and j < i */
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return a[k];
	}
	return a[k];
}

/* Median of a[0..n-1], n >= 1, rearranging a. Same value as the type 7
 * rule: the middle element, or the mean of the two middle ones. */
static double median_inplace(double *a, size_t n)
{
	size_t k = (n - 1) / 2;
	double v = select_kth(a, n, k);
	if (n % 2)
		return v;
	double next = a[k + 1];
	for (size_t i = k + 2; i < n; i++)
		if (a[i] < next)
			next = a[i];
	return v + 0.5 * (next - v);
}

static int check_input(const double *x, size_t n, const char *what, struct kb_error *err)
{
	if (n == 0)
		return kb_error_set(err, "%s: no values", what);
	for (size_t i = 0; i < n; i++)
		if (isnan(x[i]))
			return kb_error_set(err, "%s: value %zu is NaN", what, i);
	return 0;
}

static double *scratch_copy(const double *x, size_t n, const char *what, struct kb_error *err)
{
	double *a = malloc(n * sizeof *a);
	if (!a) {
		kb_error_set(err, "%s: out of memory for %zu values", what, n);
		return NULL;
	}
	memcpy(a, x, n * sizeof *a);
	return a;
}

int stats_median(const double *x, size_t n, double *out, struct kb_error *err)
{
	if (check_input(x, n, "median", err))
		return -1;
	double *a = scratch_copy(x, n, "median", err);
	if (!a)
		return -1;
	*out = median_inplace(a, n);
	free(a);
	return 0;
}

int stats_mad(const double *x, size_t n, double *out, struct kb_error *err)
{
	if (check_input(x, n, "MAD", err))
		return -1;
	double *a = scratch_copy(x, n, "MAD", err);
	if (!a)
		return -1;
	double m = median_inplace(a, n);
	for (size_t i = 0; i < n; i++)
		a[i] = fabs(x[i] - m);
	*out = median_inplace(a, n);
	free(a);
	return 0;
}

int stats_outliers_sorted(const double *sorted, size_t n, struct stats_outliers *o,
			  struct kb_error *err)
{
	if (check_input(sorted, n, "outliers", err))
		return -1;
	memset(o, 0, sizeof *o);
	o->q1 = stats_percentile_sorted(sorted, n, 0.25);
	o->q3 = stats_percentile_sorted(sorted, n, 0.75);
	o->iqr = o->q3 - o->q1;
	o->low_mild_fence = o->q1 - 1.5 * o->iqr;
	o->low_severe_fence = o->q1 - 3.0 * o->iqr;
	o->high_mild_fence = o->q3 + 1.5 * o->iqr;
	o->high_severe_fence = o->q3 + 3.0 * o->iqr;
	for (size_t i = 0; i < n; i++) {
		double v = sorted[i];
		if (v < o->low_severe_fence)
			o->low_severe++;
		else if (v < o->low_mild_fence)
			o->low_mild++;
		else if (v > o->high_severe_fence)
			o->high_severe++;
		else if (v > o->high_mild_fence)
			o->high_mild++;
	}
	o->mild = o->low_mild + o->high_mild;
	o->severe = o->low_severe + o->high_severe;
	return 0;
}

/* ---- bootstrap ---- */

static int resolve_opts(const struct stats_bootstrap_opts *opts, unsigned *b, double *level,
			uint64_t *seed, struct kb_error *err)
{
	*b = opts && opts->resamples ? opts->resamples : STATS_DEFAULT_RESAMPLES;
	*level = opts && opts->level != 0 ? opts->level : STATS_DEFAULT_LEVEL;
	*seed = opts ? opts->seed : STATS_DEFAULT_SEED;
	if (!(*level > 0 && *level < 1))
		return kb_error_set(err, "bootstrap: confidence level %g is not inside (0, 1)",
				    *level);
	return 0;
}

static void interval_from(double *stat, unsigned b, double level, struct stats_estimate *out)
{
	stats_sort(stat, b);
	out->lo = stats_percentile_sorted(stat, b, (1 - level) / 2);
	out->hi = stats_percentile_sorted(stat, b, (1 + level) / 2);
	out->level = level;
}

static void resample(struct stats_rng *rng, const double *x, size_t n, double *dst)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = x[stats_rng_below(rng, n)];
}

int stats_bootstrap(const double *x, size_t n, enum stats_statistic which,
		    const struct stats_bootstrap_opts *opts, struct stats_estimate *out,
		    struct kb_error *err)
{
	unsigned b;
	double level;
	uint64_t seed;
	if (check_input(x, n, "bootstrap", err) || resolve_opts(opts, &b, &level, &seed, err))
		return -1;
	if (which == STATS_MEDIAN) {
		if (stats_median(x, n, &out->value, err))
			return -1;
	} else {
		out->value = stats_mean(x, n);
	}
	double *stat = malloc((size_t)b * sizeof *stat);
	double *buf = malloc(n * sizeof *buf);
	if (!stat || !buf) {
		free(stat);
		free(buf);
		return kb_error_set(err, "bootstrap: out of memory for %u resamples of %zu", b, n);
	}
	struct stats_rng rng;
	stats_rng_seed(&rng, seed);
	for (unsigned r = 0; r < b; r++) {
		resample(&rng, x, n, buf);
		stat[r] = which == STATS_MEDIAN ? median_inplace(buf, n) : stats_mean(buf, n);
	}
	interval_from(stat, b, level, out);
	free(stat);
	free(buf);
	return 0;
}

/* The q-quantile (type 7) of a[0..n-1], reordering a. */
static double quantile_inplace(double *a, size_t n, double q)
{
	if (q == 0.5)
		return median_inplace(a, n);
	stats_sort(a, n);
	return stats_percentile_sorted(a, n, q);
}

static double quantile_of(const double *x, size_t n, double q, int *oom)
{
	double *t = malloc(n * sizeof *t);
	if (!t) {
		*oom = 1;
		return NAN;
	}
	memcpy(t, x, n * sizeof *t);
	double v = quantile_inplace(t, n, q);
	free(t);
	return v;
}

int stats_ratio_of_quantiles(const double *a, size_t na, const double *b, size_t nb, double q,
			     const struct stats_bootstrap_opts *opts, struct stats_estimate *out,
			     struct kb_error *err)
{
	unsigned nres;
	double level;
	uint64_t seed;
	if (check_input(a, na, "ratio of quantiles (numerator)", err) ||
	    check_input(b, nb, "ratio of quantiles (denominator)", err) ||
	    resolve_opts(opts, &nres, &level, &seed, err))
		return -1;
	if (!(q >= 0 && q <= 1))
		return kb_error_set(err, "ratio of quantiles: quantile %g is not in [0, 1]", q);
	int oom = 0;
	double qa = quantile_of(a, na, q, &oom), qb = quantile_of(b, nb, q, &oom);
	if (oom)
		return kb_error_set(err, "ratio of quantiles: out of memory");
	if (qb == 0)
		return kb_error_set(err, "ratio of %s: the denominator's %s is 0",
				    q == 0.5 ? "medians" : "quantiles",
				    q == 0.5 ? "median" : "quantile");
	out->value = qa / qb;
	double *stat = malloc((size_t)nres * sizeof *stat);
	double *bufa = malloc(na * sizeof *bufa);
	double *bufb = malloc(nb * sizeof *bufb);
	int rc = 0;
	if (!stat || !bufa || !bufb) {
		rc = kb_error_set(err, "ratio of quantiles: out of memory for %u resamples", nres);
		goto out;
	}
	struct stats_rng rng;
	stats_rng_seed(&rng, seed);
	for (unsigned r = 0; r < nres; r++) {
		resample(&rng, a, na, bufa);
		resample(&rng, b, nb, bufb);
		double den = quantile_inplace(bufb, nb, q);
		if (den == 0) {
			rc = kb_error_set(err,
					  "ratio of quantiles: a resample of the denominator "
					  "has %s 0 (the ratio is undefined)",
					  q == 0.5 ? "median" : "quantile");
			goto out;
		}
		stat[r] = quantile_inplace(bufa, na, q) / den;
	}
	interval_from(stat, nres, level, out);
out:
	free(stat);
	free(bufa);
	free(bufb);
	return rc;
}

int stats_ratio_of_medians(const double *a, size_t na, const double *b, size_t nb,
			   const struct stats_bootstrap_opts *opts, struct stats_estimate *out,
			   struct kb_error *err)
{
	return stats_ratio_of_quantiles(a, na, b, nb, 0.5, opts, out, err);
}

int stats_describe(const double *x, size_t n, const struct stats_bootstrap_opts *opts,
		   struct stats_summary *s, struct kb_error *err)
{
	if (check_input(x, n, "describe", err))
		return -1;
	memset(s, 0, sizeof *s);
	double *sorted = scratch_copy(x, n, "describe", err);
	if (!sorted)
		return -1;
	stats_sort(sorted, n);
	s->n = n;
	s->min = sorted[0];
	s->max = sorted[n - 1];
	s->mean = stats_mean(x, n);
	s->stddev = stats_stddev(x, n);
	s->median = stats_median_sorted(sorted, n);
	s->p5 = stats_percentile_sorted(sorted, n, 0.05);
	s->p95 = stats_percentile_sorted(sorted, n, 0.95);
	int rc = stats_outliers_sorted(sorted, n, &s->outliers, err);
	free(sorted);
	if (rc || stats_mad(x, n, &s->mad, err) ||
	    stats_bootstrap(x, n, STATS_MEDIAN, opts, &s->median_ci, err) ||
	    stats_bootstrap(x, n, STATS_MEAN, opts, &s->mean_ci, err))
		return -1;
	return 0;
}

/* ---- scaling fit ---- */

int stats_loglog_fit(const double *x, const double *y, size_t n, struct stats_fit *f,
		     struct kb_error *err)
{
	if (n < 2)
		return kb_error_set(err, "log-log fit: needs at least 2 points, got %zu", n);
	double sx = 0, sy = 0;
	for (size_t i = 0; i < n; i++) {
		if (!(x[i] > 0) || !(y[i] > 0) || isinf(x[i]) || isinf(y[i]))
			return kb_error_set(err,
					    "log-log fit: point %zu (%g, %g) is not positive and "
					    "finite",
					    i, x[i], y[i]);
		sx += log(x[i]);
		sy += log(y[i]);
	}
	double mx = sx / (double)n, my = sy / (double)n;
	double sxx = 0, sxy = 0, syy = 0;
	for (size_t i = 0; i < n; i++) {
		double dx = log(x[i]) - mx, dy = log(y[i]) - my;
		sxx += dx * dx;
		sxy += dx * dy;
		syy += dy * dy;
	}
	if (sxx == 0)
		return kb_error_set(err, "log-log fit: every x is the same (%g)", x[0]);
	double slope = sxy / sxx, icept = my - slope * mx;
	double ssres = 0;
	for (size_t i = 0; i < n; i++) {
		double r = log(y[i]) - (icept + slope * log(x[i]));
		ssres += r * r;
	}
	f->n = n;
	f->exponent = slope;
	f->coefficient = exp(icept);
	f->r2 = syy > 0 ? 1 - ssres / syy : 1.0;
	f->exponent_se = n > 2 ? sqrt(ssres / (double)(n - 2) / sxx) : NAN;
	return 0;
}

double stats_fit_predict(const struct stats_fit *fit, double x)
{
	return fit->coefficient * pow(x, fit->exponent);
}
