/* compare: the noise-aware verdicts of `kbprof compare` (see compare.h).
 * Owns: the rows of each compare_result. */
#include "analyze/compare.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const verdict_names[] = {"improved", "regressed", "unchanged",
					    "too noisy to say", "not compared"};
static const char *const verdict_ids[] = {"improved", "regressed", "unchanged", "noisy",
					  "not_compared"};

const char *compare_verdict_name(enum compare_verdict v)
{
	return (unsigned)v < COMPARE_N_VERDICTS ? verdict_names[v] : "?";
}

const char *compare_verdict_id(enum compare_verdict v)
{
	return (unsigned)v < COMPARE_N_VERDICTS ? verdict_ids[v] : "?";
}

enum compare_verdict compare_decide(const struct stats_estimate *ratio, double margin,
				    enum compare_floor_source floor_source, char *note,
				    size_t note_size)
{
	double r = ratio->value, lo = ratio->lo, hi = ratio->hi;
	double up = 1 + margin, down = 1 / (1 + margin);
	if (lo > 1 && r > up) {
		snprintf(note, note_size, "slower by more than the %.1f%% margin, interval above 1",
			 100 * margin);
		return COMPARE_REGRESSED;
	}
	if (hi < 1 && r < down) {
		snprintf(note, note_size, "faster by more than the %.1f%% margin, interval below 1",
			 100 * margin);
		return COMPARE_IMPROVED;
	}
	int within = r >= down && r <= up;
	if (within && floor_source == COMPARE_FLOOR_RUNS) {
		/* The floor is the measured spread of this very statistic (the
		 * median at this sample count) between runs of one build: an
		 * estimate inside it is what a rerun gives. */
		snprintf(note, note_size, "within the %.1f%% spread of same-build runs",
			 100 * margin);
		return COMPARE_UNCHANGED;
	}
	double wide_up = 1 + 2 * margin, wide_down = 1 / (1 + 2 * margin);
	if (within && lo >= wide_down && hi <= wide_up) {
		snprintf(note, note_size, "within the %.1f%% margin", 100 * margin);
		return COMPARE_UNCHANGED;
	}
	if (!within)
		snprintf(note, note_size,
			 "beyond the %.1f%% margin, but the interval includes no change",
			 100 * margin);
	else
		snprintf(note, note_size,
			 "within the %.1f%% margin, but the interval does not rule out a "
			 "change of %.1f%%",
			 100 * margin, 200 * margin);
	return COMPARE_NOISY;
}

/* Robust coefficient of variation: 1.4826 * MAD / median. */
static int robust_cv(const double *x, size_t n, double *out, struct kb_error *err)
{
	double med, mad;
	if (stats_median(x, n, &med, err) || stats_mad(x, n, &mad, err))
		return -1;
	*out = med > 0 ? STATS_MAD_NORMAL * mad / med : 0;
	return 0;
}

/* The series compared: the samples, or with --cpu-time a time's CPU
 * samples (NULL when the metric has none). */
static const double *series(const struct benchfile_metric *m, const struct compare_opts *o)
{
	if (o->cpu_time && strcmp(m->unit, "ns") == 0)
		return m->cpu_samples;
	return m->samples;
}

/* The quantile compared (0.5: the median). */
static double quantile(const struct compare_opts *o)
{
	return o->quantile > 0 && o->quantile < 1 ? o->quantile : 0.5;
}

/* The statistic compared, of one series: its median, or with --quantile
 * that quantile (type 7). */
static int location(const double *x, size_t n, const struct compare_opts *o, double *out,
		    struct kb_error *err)
{
	double q = quantile(o);
	if (q == 0.5)
		return stats_median(x, n, out, err);
	double *t = malloc((n ? n : 1) * sizeof *t);
	if (!t)
		return kb_error_set(err, "out of memory");
	memcpy(t, x, n * sizeof *t);
	stats_sort(t, n);
	*out = stats_percentile_sorted(t, n, q);
	free(t);
	return 0;
}

static const struct benchfile_metric *usable_metric(const struct benchfile *bf, const char *bench,
						    const char *metric,
						    const struct compare_opts *o)
{
	const struct benchfile_bench *b = benchfile_find(bf, bench);
	if (!b || strcmp(b->status, "ok") != 0)
		return NULL;
	const struct benchfile_metric *m = benchfile_metric(b, metric);
	return m && m->n > 0 && series(m, o) ? m : NULL;
}

/* Two-sided 97.5% quantiles of Student's t with df = 1..30 degrees of
 * freedom (standard tables); above 30, the values for 40, 60, 120 and the
 * normal limit. */
static double t975(size_t df)
{
	static const double t[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
				   2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
				   2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
				   2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
	if (df >= 1 && df <= 30)
		return t[df - 1];
	return df <= 40 ? 2.021 : df <= 60 ? 2.000 : df <= 120 ? 1.980 : 1.960;
}

/* The runs of one build that have this metric: `first`, then those of
 * `more` with the same unit. Fills xs/ns (k entries, room for 1 + n_more). */
static size_t gather_runs(const struct benchfile_metric *first, const struct benchfile *const *more,
			  size_t n_more, const char *bench, const char *metric,
			  const struct compare_opts *o, const double **xs, size_t *ns)
{
	size_t k = 0;
	xs[k] = series(first, o);
	ns[k++] = first->n;
	for (size_t i = 0; i < n_more; i++) {
		const struct benchfile_metric *m = usable_metric(more[i], bench, metric, o);
		if (m && strcmp(m->unit, first->unit) == 0) {
			xs[k] = series(m, o);
			ns[k++] = m->n;
		}
	}
	return k;
}

/* The k runs' samples in one array (owned by the caller), run `skip` left
 * out (k: none); NULL when memory runs out. */
static double *concat(const double *const *xs, const size_t *ns, size_t k, size_t skip, size_t *n)
{
	size_t total = 0;
	for (size_t i = 0; i < k; i++)
		total += i == skip ? 0 : ns[i];
	double *x = malloc((total ? total : 1) * sizeof *x);
	*n = 0;
	for (size_t i = 0; x && i < k; i++) {
		if (i == skip)
			continue;
		memcpy(x + *n, xs[i], ns[i] * sizeof *x);
		*n += ns[i];
	}
	return x;
}

/* The statistic of the k runs' samples pooled, run `skip` left out. */
static int pooled_stat(const double *const *xs, const size_t *ns, size_t k, size_t skip,
		       const struct compare_opts *o, double *out, struct kb_error *err)
{
	size_t n;
	double *x = concat(xs, ns, k, skip, &n);
	if (!x)
		return kb_error_set(err, "out of memory");
	int rc = location(x, n, o, out, err);
	free(x);
	return rc;
}

/* Delete-a-run jackknife variance of ln(statistic of the pooled runs):
 * (k-1)/k * sum (t_i - mean t)^2, t_i with run i left out. k >= 2. Sets
 * *v to INFINITY when a leave-one-out statistic is not positive. */
static int jackknife_var(const double *const *xs, const size_t *ns, size_t k,
			 const struct compare_opts *o, double *v, struct kb_error *err)
{
	double *t = malloc(k * sizeof *t), mean = 0;
	if (!t)
		return kb_error_set(err, "out of memory");
	for (size_t i = 0; i < k; i++) {
		if (pooled_stat(xs, ns, k, i, o, &t[i], err)) {
			free(t);
			return -1;
		}
		if (!(t[i] > 0)) {
			*v = INFINITY;
			free(t);
			return 0;
		}
		t[i] = log(t[i]);
		mean += t[i] / (double)k;
	}
	*v = 0;
	for (size_t i = 0; i < k; i++)
		*v += (t[i] - mean) * (t[i] - mean);
	*v *= (double)(k - 1) / (double)k;
	free(t);
	return 0;
}

/* The noise floor from repeated runs of the base build (BASE and the noise
 * runs, k in all), for the comparison of their pooled samples with NEW's
 * (pooled with the new build's further runs, m in all):
 *
 *   floor = exp(t(0.975, k - 1) * sqrt(v_base + v_new)) - 1
 *
 * v_base: the delete-a-run jackknife variance of ln(statistic of the base
 * pool) -- how much the pooled statistic depends on which runs it got;
 * v_new: the same for the new pool when m >= 2, otherwise the variance of
 * ln(statistic) of one run, s^2 over the k base runs. For runs that behave
 * alike, v_base is s^2 / k and the floor is the 95% prediction bound for
 * one more run, t * sqrt(1 + 1/k) * s; a run slowed as a whole (other work
 * on the machine for seconds) moves a robust statistic of the pool (a low
 * quantile) little, and so the floor little, where it would dominate s.
 * Sets *runs to k (meaningful from k = 2; k = 2 gives a wide floor). */
static int runs_floor(const struct benchfile_metric *base, const struct benchfile_metric *now,
		      const char *bench, const char *metric, const struct compare_opts *o,
		      double *floor, size_t *runs, struct kb_error *err)
{
	size_t cap = 1 + o->n_noise + o->n_new_runs;
	const double **xs = malloc(cap * sizeof *xs);
	size_t *ns = malloc(cap * sizeof *ns);
	double *med = malloc(cap * sizeof *med);
	int rc = -1;
	if (!xs || !ns || !med) {
		kb_error_set(err, "out of memory");
		goto out;
	}
	size_t k = gather_runs(base, o->noise, o->n_noise, bench, metric, o, xs, ns);
	*runs = k;
	int equal = 1, nonpositive = 0;
	for (size_t i = 0; i < k; i++) {
		if (location(xs[i], ns[i], o, &med[i], err))
			goto out;
		equal &= med[i] == med[0];
		nonpositive |= med[i] <= 0;
	}
	rc = 0;
	if (k < 2 || equal) {
		*floor = 0;
		goto out;
	}
	if (nonpositive) {
		*floor = INFINITY; /* a 0 beside a non-zero statistic: no bound */
		goto out;
	}
	double v_base, v_new;
	for (size_t i = 0; i < k; i++)
		med[i] = log(med[i]);
	if ((rc = jackknife_var(xs, ns, k, o, &v_base, err)) != 0)
		goto out;
	size_t m = gather_runs(now, o->new_runs, o->n_new_runs, bench, metric, o, xs, ns);
	if (m >= 2) {
		if ((rc = jackknife_var(xs, ns, m, o, &v_new, err)) != 0)
			goto out;
	} else {
		double s = stats_stddev(med, k);
		v_new = s * s;
	}
	*floor = expm1(t975(k - 1) * sqrt(v_base + v_new));
out:
	free(xs);
	free(ns);
	free(med);
	return rc;
}

static int all_equal(const double *a, size_t na, const double *b, size_t nb)
{
	for (size_t i = 0; i < na; i++)
		if (a[i] != a[0])
			return 0;
	for (size_t i = 0; i < nb; i++)
		if (b[i] != a[0])
			return 0;
	return 1;
}

__attribute__((format(printf, 2, 3))) static void not_compared(struct compare_row *row,
							       const char *fmt, ...)
{
	row->verdict = COMPARE_NOT_COMPARED;
	row->floor_source = COMPARE_FLOOR_NONE;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(row->note, sizeof row->note, fmt, ap);
	va_end(ap);
}

static const char *side_problem(const struct benchfile_bench *b)
{
	if (!b)
		return "absent";
	if (strcmp(b->status, "ok") != 0)
		return b->status;
	return NULL;
}

/* The samples of one side, and those of the further runs of its build
 * that have this metric, in one array (owned by the caller). */
static double *pooled(const struct benchfile_metric *first, const struct benchfile *const *runs,
		      size_t n_runs, const char *bench, const char *metric,
		      const struct compare_opts *o, size_t *n)
{
	const double **xs = malloc((1 + n_runs) * sizeof *xs);
	size_t *ns = malloc((1 + n_runs) * sizeof *ns);
	double *x = NULL;
	if (xs && ns) {
		size_t k = gather_runs(first, runs, n_runs, bench, metric, o, xs, ns);
		x = concat(xs, ns, k, k, n);
	}
	free(xs);
	free(ns);
	return x;
}

static int compare_metric(const struct benchfile_metric *mb, const struct benchfile_metric *mn,
			  const struct compare_opts *o, double threshold, struct compare_row *row,
			  struct kb_error *err)
{
	row->n_base = mb->n;
	row->n_new = mn->n;
	if (strcmp(mb->unit, mn->unit) != 0) {
		not_compared(row, "units differ: %s in BASE, %s in NEW", mb->unit, mn->unit);
		return 0;
	}
	if (mb->n == 0 || mn->n == 0) {
		not_compared(row, "no samples in %s", mb->n == 0 ? "BASE" : "NEW");
		return 0;
	}
	if (!series(mb, o) || !series(mn, o)) {
		not_compared(row, "no CPU times in %s (metrics[].cpu_samples)",
			     !series(mb, o) ? "BASE" : "NEW");
		return 0;
	}
	const double *xb = series(mb, o), *xn = series(mn, o);
	/* The floor first: with two or more runs of the base build, they all
	 * stand for BASE (their samples pooled), and the floor bounds how far
	 * one new run may fall from them. */
	row->floor_source = COMPARE_FLOOR_WITHIN;
	if (o->n_noise > 0) {
		if (runs_floor(mb, mn, row->bench, row->metric, o, &row->floor, &row->floor_runs,
			       err))
			return -1;
		if (row->floor_runs >= 2)
			row->floor_source = COMPARE_FLOOR_RUNS;
	}
	size_t nb = mb->n, nn = mn->n;
	double *base =
	    pooled(mb, o->noise, row->floor_source == COMPARE_FLOOR_RUNS ? o->n_noise : 0,
		   row->bench, row->metric, o, &nb);
	double *fresh = pooled(mn, o->new_runs, o->n_new_runs, row->bench, row->metric, o, &nn);
	if (!base || !fresh) {
		free(base);
		free(fresh);
		return kb_error_set(err, "out of memory");
	}
	xn = fresh;
	row->n_base = nb;
	row->n_new = nn;
	int rc = 0;
	if (location(base, nb, o, &row->base_median, err) ||
	    location(xn, nn, o, &row->new_median, err)) {
		rc = -1;
		goto out;
	}
	if (all_equal(base, nb, xn, nn)) {
		/* Identical constant series (a byte count, zero major faults):
		 * the ratio is 1 even when both are 0. */
		row->ratio = (struct stats_estimate){1, 1, 1, STATS_DEFAULT_LEVEL};
	} else if (row->base_median <= 0) {
		not_compared(row, "the BASE median is %s: no ratio",
			     row->base_median == 0 ? "0" : "negative");
		goto out;
	} else {
		struct kb_error serr;
		if (stats_ratio_of_quantiles(xn, nn, base, nb, quantile(o), &o->boot, &row->ratio,
					     &serr)) {
			not_compared(row, "no interval: %s", serr.msg);
			goto out;
		}
	}
	if (row->floor_source == COMPARE_FLOOR_WITHIN) {
		double cb, cn;
		if (robust_cv(xb, mb->n, &cb, err) || robust_cv(xn, nn, &cn, err)) {
			rc = -1;
			goto out;
		}
		row->floor = cb > cn ? cb : cn;
		row->floor_runs = 0;
	}
	row->margin = row->floor > threshold ? row->floor : threshold;
	if (!isfinite(row->margin)) {
		row->verdict = COMPARE_NOISY;
		snprintf(row->note, sizeof row->note,
			 "the noise runs disagree without bound (a median of 0 beside one that "
			 "is not)");
		goto out;
	}
	row->verdict = compare_decide(&row->ratio, row->margin, row->floor_source, row->note,
				      sizeof row->note);
	if (o->n_noise > 0 && row->floor_source == COMPARE_FLOOR_WITHIN) {
		size_t len = strlen(row->note);
		snprintf(row->note + len, sizeof row->note - len,
			 "; no noise run has it: within-run floor");
	}
out:
	free(base);
	free(fresh);
	return rc;
}

static struct compare_row *add_row(struct compare_result *res, size_t *cap, const char *bench,
				   const char *metric, const char *unit)
{
	if (res->n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct compare_row *p = realloc(res->rows, c * sizeof *p);
		if (!p)
			return NULL;
		res->rows = p;
		*cap = c;
	}
	struct compare_row *row = &res->rows[res->n++];
	memset(row, 0, sizeof *row);
	row->bench = bench;
	row->metric = metric;
	row->unit = unit;
	row->base_median = row->new_median = NAN;
	row->ratio = (struct stats_estimate){NAN, NAN, NAN, STATS_DEFAULT_LEVEL};
	row->floor = row->margin = NAN;
	return row;
}

int compare_runs(const struct benchfile *base, const struct benchfile *now,
		 const struct compare_opts *opts, struct compare_result *out, struct kb_error *err)
{
	static const struct compare_opts defaults = {.threshold = -1};
	const struct compare_opts *o = opts ? opts : &defaults;
	memset(out, 0, sizeof *out);
	out->threshold = o->threshold < 0 ? COMPARE_DEFAULT_THRESHOLD : o->threshold;
	out->n_noise = o->n_noise;
	out->cpu_time = o->cpu_time;
	out->quantile = quantile(o);
	out->n_new_runs = o->n_new_runs;
	out->base_path = base->path;
	out->new_path = now->path;
	size_t cap = 0;

	for (size_t i = 0; i < now->n_benches; i++) {
		const struct benchfile_bench *bn = &now->benches[i];
		const struct benchfile_bench *bb = benchfile_find(base, bn->name);
		const char *pb = side_problem(bb), *pn = side_problem(bn);
		if (pb || pn || bn->n_metrics == 0) {
			const char *headline = bn->n_metrics ? bn->metrics[0].name : "";
			const char *unit = bn->n_metrics ? bn->metrics[0].unit : "";
			struct compare_row *row = add_row(out, &cap, bn->name, headline, unit);
			if (!row)
				goto oom;
			if (pb)
				not_compared(row, "%s in BASE", pb);
			else if (pn)
				not_compared(row, "%s in NEW", pn);
			else
				not_compared(row, "no metrics");
			if (pn && bn->error) {
				size_t len = strlen(row->note);
				snprintf(row->note + len, sizeof row->note - len, ": %s",
					 bn->error);
			} else if (pb && bb && bb->error) {
				size_t len = strlen(row->note);
				snprintf(row->note + len, sizeof row->note - len, ": %s",
					 bb->error);
			}
			continue;
		}
		size_t nm = o->all_metrics ? bn->n_metrics : 1;
		for (size_t k = 0; k < nm; k++) {
			const struct benchfile_metric *mn = &bn->metrics[k];
			struct compare_row *row = add_row(out, &cap, bn->name, mn->name, mn->unit);
			if (!row)
				goto oom;
			const struct benchfile_metric *mb =
			    o->all_metrics ? benchfile_metric(bb, mn->name)
					   : (bb->n_metrics ? &bb->metrics[0] : NULL);
			if (!mb) {
				not_compared(row, "no metric '%s' in BASE", mn->name);
				continue;
			}
			if (strcmp(mb->name, mn->name) != 0) {
				not_compared(row, "headline metrics differ: %s in BASE, %s in NEW",
					     mb->name, mn->name);
				continue;
			}
			struct kb_error inner;
			if (compare_metric(mb, mn, o, out->threshold, row, &inner)) {
				kb_error_set(err, "%s/%s: %s", row->bench, row->metric, inner.msg);
				compare_result_free(out);
				return -1;
			}
		}
	}
	for (size_t i = 0; i < base->n_benches; i++) {
		const struct benchfile_bench *bb = &base->benches[i];
		if (benchfile_find(now, bb->name))
			continue;
		struct compare_row *row =
		    add_row(out, &cap, bb->name, bb->n_metrics ? bb->metrics[0].name : "",
			    bb->n_metrics ? bb->metrics[0].unit : "");
		if (!row)
			goto oom;
		not_compared(row, "absent in NEW");
	}
	for (size_t i = 0; i < out->n; i++)
		out->counts[out->rows[i].verdict]++;
	return 0;
oom:
	compare_result_free(out);
	return kb_error_set(err, "compare: out of memory");
}

void compare_result_free(struct compare_result *res)
{
	free(res->rows);
	res->rows = NULL;
	res->n = 0;
}
