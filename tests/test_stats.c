/* Tests of analyze/stats: every expected value is computed by hand in the
 * comment beside it. */
#include "analyze/stats.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#define EPS 1e-9

/* x = 2 4 4 4 5 5 7 9: sum 40, n 8. */
static const double X8[] = {9, 4, 2, 4, 5, 7, 4, 5};

Test(stats, mean_and_sample_stddev_match_hand_values)
{
	/* mean 40/8 = 5; squared deviations 9+1+1+1+0+0+4+16 = 32;
	 * sample variance 32/7. */
	cr_expect_float_eq(stats_mean(X8, 8), 5.0, EPS);
	cr_expect_float_eq(stats_stddev(X8, 8), sqrt(32.0 / 7.0), EPS);
	cr_expect_float_eq(stats_min(X8, 8), 2.0, EPS);
	cr_expect_float_eq(stats_max(X8, 8), 9.0, EPS);
}

Test(stats, empty_and_single_inputs_give_nan_where_undefined)
{
	double one = 3.5;
	cr_expect(isnan(stats_mean(NULL, 0)));
	cr_expect(isnan(stats_stddev(&one, 1)));
	cr_expect(isnan(stats_min(NULL, 0)));
	cr_expect(isnan(stats_median_sorted(NULL, 0)));
	cr_expect_float_eq(stats_median_sorted(&one, 1), 3.5, EPS);
	cr_expect_float_eq(stats_percentile_sorted(&one, 1, 0.9), 3.5, EPS);
	struct kb_error err = {{0}};
	double m;
	cr_expect_eq(stats_median(NULL, 0, &m, &err), -1);
	cr_expect_str_eq(err.msg, "median: no values");
}

Test(stats, mean_keeps_precision_for_large_close_values)
{
	/* 1e15 + {1, 2, 3}: a naive sum loses the fraction, the shifted one
	 * gives exactly 1e15 + 2. */
	double x[] = {1e15 + 1, 1e15 + 2, 1e15 + 3};
	cr_expect_eq(stats_mean(x, 3), 1e15 + 2);
}

Test(stats, median_of_even_and_odd_counts)
{
	double m;
	/* sorted 2 4 4 4 5 5 7 9: middle pair 4 and 5. */
	cr_assert_eq(stats_median(X8, 8, &m, NULL), 0);
	cr_expect_float_eq(m, 4.5, EPS);
	double odd[] = {10, -3, 7, 1, 100};
	cr_assert_eq(stats_median(odd, 5, &m, NULL), 0);
	cr_expect_float_eq(m, 7.0, EPS);
	/* the input is not modified */
	cr_expect_eq(odd[0], 10);
	cr_expect_eq(odd[4], 100);
}

Test(stats, median_by_selection_agrees_with_sorting_on_many_shapes)
{
	/* Sorted, reversed, all equal, many duplicates, seeded random. */
	enum { N = 301 };
	double x[N], s[N];
	struct stats_rng rng;
	stats_rng_seed(&rng, 42);
	for (int shape = 0; shape < 5; shape++) {
		for (size_t n = 1; n <= N; n += 37) {
			for (size_t i = 0; i < n; i++) {
				switch (shape) {
				case 0:
					x[i] = (double)i;
					break;
				case 1:
					x[i] = (double)(n - i);
					break;
				case 2:
					x[i] = 7;
					break;
				case 3:
					x[i] = (double)(i % 3);
					break;
				default:
					x[i] = (double)stats_rng_below(&rng, 1000) / 7.0;
				}
			}
			memcpy(s, x, n * sizeof *x);
			stats_sort(s, n);
			double m;
			cr_assert_eq(stats_median(x, n, &m, NULL), 0);
			cr_expect_float_eq(m, stats_median_sorted(s, n), EPS, "shape %d n %zu",
					   shape, n);
		}
	}
}

Test(stats, percentiles_interpolate_linearly_between_closest_ranks)
{
	double s[8];
	memcpy(s, X8, sizeof s);
	stats_sort(s, 8);
	/* 2 4 4 4 5 5 7 9 */
	/* p 0.25: h = 7 * 0.25 = 1.75 -> 4 + 0.75 * (4 - 4) = 4 */
	cr_expect_float_eq(stats_percentile_sorted(s, 8, 0.25), 4.0, EPS);
	/* p 0.9: h = 6.3 -> 7 + 0.3 * (9 - 7) = 7.6 */
	cr_expect_float_eq(stats_percentile_sorted(s, 8, 0.9), 7.6, EPS);
	/* p 0.1: h = 0.7 -> 2 + 0.7 * 2 = 3.4 */
	cr_expect_float_eq(stats_percentile_sorted(s, 8, 0.1), 3.4, EPS);
	cr_expect_float_eq(stats_percentile_sorted(s, 8, 0), 2.0, EPS);
	cr_expect_float_eq(stats_percentile_sorted(s, 8, 1), 9.0, EPS);
	cr_expect_float_eq(stats_percentile_sorted(s, 8, 1.5), 9.0, EPS);
	cr_expect_float_eq(stats_percentile_sorted(s, 8, 0.5), 4.5, EPS);
}

Test(stats, mad_is_the_raw_median_absolute_deviation)
{
	/* median 4.5; |x - 4.5| sorted: .5 .5 .5 .5 .5 2.5 2.5 4.5 -> 0.5 */
	double mad;
	cr_assert_eq(stats_mad(X8, 8, &mad, NULL), 0);
	cr_expect_float_eq(mad, 0.5, EPS);
	/* 1 2 3 4 100: median 3, deviations 2 1 0 1 97 -> median 1 */
	double y[] = {1, 2, 3, 4, 100};
	cr_assert_eq(stats_mad(y, 5, &mad, NULL), 0);
	cr_expect_float_eq(mad, 1.0, EPS);
}

Test(stats, tukey_counts_mild_and_severe_outliers_on_both_sides)
{
	/* sorted: -30 -8 1 2 3 4 5 6 7 8 18 40 (n 12)
	 * Q1: h = 11 * .25 = 2.75 -> 1 + .75 * 1 = 1.75
	 * Q3: h = 8.25 -> 7 + .25 * 1 = 7.25; IQR 5.5
	 * mild fences -6.5 and 15.5, severe fences -14.75 and 23.75:
	 * -30 low severe, -8 low mild, 18 high mild, 40 high severe. */
	double s[] = {-30, -8, 1, 2, 3, 4, 5, 6, 7, 8, 18, 40};
	struct stats_outliers o;
	cr_assert_eq(stats_outliers_sorted(s, 12, &o, NULL), 0);
	cr_expect_float_eq(o.q1, 1.75, EPS);
	cr_expect_float_eq(o.q3, 7.25, EPS);
	cr_expect_float_eq(o.iqr, 5.5, EPS);
	cr_expect_float_eq(o.low_mild_fence, -6.5, EPS);
	cr_expect_float_eq(o.high_severe_fence, 23.75, EPS);
	cr_expect_eq(o.low_severe, 1);
	cr_expect_eq(o.low_mild, 1);
	cr_expect_eq(o.high_mild, 1);
	cr_expect_eq(o.high_severe, 1);
	cr_expect_eq(o.mild, 2);
	cr_expect_eq(o.severe, 2);
}

Test(stats, tukey_finds_none_in_a_uniform_run)
{
	double s[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	struct stats_outliers o;
	cr_assert_eq(stats_outliers_sorted(s, 10, &o, NULL), 0);
	cr_expect_eq(o.mild + o.severe, 0);
}

Test(stats, bootstrap_of_two_values_spans_both)
{
	/* Resamples of {1, 3}: medians 1 (p 1/4), 2 (1/2), 3 (1/4), so the
	 * 2.5% and 97.5% percentiles of 10000 of them are 1 and 3. */
	double x[] = {1, 3};
	struct stats_estimate e;
	cr_assert_eq(stats_bootstrap(x, 2, STATS_MEDIAN, NULL, &e, NULL), 0);
	cr_expect_float_eq(e.value, 2.0, EPS);
	cr_expect_float_eq(e.lo, 1.0, EPS);
	cr_expect_float_eq(e.hi, 3.0, EPS);
	cr_expect_float_eq(e.level, 0.95, EPS);
}

Test(stats, bootstrap_of_constant_data_collapses_to_the_value)
{
	double x[] = {4, 4, 4, 4, 4};
	struct stats_estimate e;
	cr_assert_eq(stats_bootstrap(x, 5, STATS_MEAN, NULL, &e, NULL), 0);
	cr_expect_float_eq(e.value, 4.0, EPS);
	cr_expect_float_eq(e.lo, 4.0, EPS);
	cr_expect_float_eq(e.hi, 4.0, EPS);
}

Test(stats, bootstrap_is_reproducible_for_a_seed_and_varies_across_seeds)
{
	double x[60];
	struct stats_rng rng;
	stats_rng_seed(&rng, 7);
	for (int i = 0; i < 60; i++)
		x[i] = (double)stats_rng_below(&rng, 1000000) / 1000.0;
	struct stats_bootstrap_opts o1 = {.resamples = 2000, .seed = 1};
	struct stats_bootstrap_opts o2 = {.resamples = 2000, .seed = 2};
	struct stats_estimate a, b, c;
	cr_assert_eq(stats_bootstrap(x, 60, STATS_MEAN, &o1, &a, NULL), 0);
	cr_assert_eq(stats_bootstrap(x, 60, STATS_MEAN, &o1, &b, NULL), 0);
	cr_assert_eq(stats_bootstrap(x, 60, STATS_MEAN, &o2, &c, NULL), 0);
	cr_expect_eq(a.lo, b.lo);
	cr_expect_eq(a.hi, b.hi);
	cr_expect(a.lo != c.lo || a.hi != c.hi);
	cr_expect(a.lo < a.value && a.value < a.hi);
}

Test(stats, bootstrap_median_interval_of_a_ramp_is_inside_the_data)
{
	double x[101];
	for (int i = 0; i < 101; i++)
		x[i] = i;
	struct stats_estimate e;
	cr_assert_eq(stats_bootstrap(x, 101, STATS_MEDIAN, NULL, &e, NULL), 0);
	cr_expect_float_eq(e.value, 50.0, EPS);
	/* The sample median's standard error here is about 1.25 * 29 / 10
	 * = 3.6, so the 95% interval is roughly 50 +- 7; well inside 30..70. */
	cr_expect(e.lo < 50 && e.lo > 30, "lo %g", e.lo);
	cr_expect(e.hi > 50 && e.hi < 70, "hi %g", e.hi);
}

Test(stats, bootstrap_rejects_a_bad_level_and_nan)
{
	double x[] = {1, 2, NAN};
	struct stats_estimate e;
	struct kb_error err = {{0}};
	cr_expect_eq(stats_bootstrap(x, 3, STATS_MEDIAN, NULL, &e, &err), -1);
	cr_expect_str_eq(err.msg, "bootstrap: value 2 is NaN");
	struct stats_bootstrap_opts o = {.level = 1.5};
	cr_expect_eq(stats_bootstrap(x, 2, STATS_MEDIAN, &o, &e, &err), -1);
	cr_expect_str_eq(err.msg, "bootstrap: confidence level 1.5 is not inside (0, 1)");
}

Test(stats, ratio_of_medians_with_interval)
{
	double a[] = {2, 2, 2}, b[] = {1, 1, 1};
	struct stats_estimate e;
	cr_assert_eq(stats_ratio_of_medians(a, 3, b, 3, NULL, &e, NULL), 0);
	cr_expect_float_eq(e.value, 2.0, EPS);
	cr_expect_float_eq(e.lo, 2.0, EPS);
	cr_expect_float_eq(e.hi, 2.0, EPS);
	/* medians 6 and 3; resampled ratios range over {4,6,8}/{2,3,4},
	 * i.e. between 1 and 4. */
	double c[] = {4, 6, 8}, d[] = {2, 3, 4};
	cr_assert_eq(stats_ratio_of_medians(c, 3, d, 3, NULL, &e, NULL), 0);
	cr_expect_float_eq(e.value, 2.0, EPS);
	cr_expect(e.lo >= 1.0 && e.lo < 2.0, "lo %g", e.lo);
	cr_expect(e.hi > 2.0 && e.hi <= 4.0, "hi %g", e.hi);
}

Test(stats, ratio_of_medians_refuses_a_zero_denominator)
{
	double a[] = {1, 2}, b[] = {0, 0, 0};
	struct stats_estimate e;
	struct kb_error err = {{0}};
	cr_expect_eq(stats_ratio_of_medians(a, 2, b, 3, NULL, &e, &err), -1);
	cr_expect_str_eq(err.msg, "ratio of medians: the denominator's median is 0");
}

Test(stats, describe_fills_every_field)
{
	struct stats_summary s;
	cr_assert_eq(stats_describe(X8, 8, NULL, &s, NULL), 0);
	cr_expect_eq(s.n, 8);
	cr_expect_float_eq(s.min, 2, EPS);
	cr_expect_float_eq(s.max, 9, EPS);
	cr_expect_float_eq(s.mean, 5, EPS);
	cr_expect_float_eq(s.median, 4.5, EPS);
	cr_expect_float_eq(s.mad, 0.5, EPS);
	/* p95: h = 6.65 -> 7 + .65 * 2 = 8.3 */
	cr_expect_float_eq(s.p95, 8.3, EPS);
	cr_expect(s.median_ci.lo <= 4.5 && s.median_ci.hi >= 4.5);
	cr_expect(s.mean_ci.lo <= 5 && s.mean_ci.hi >= 5);
	/* Q1 4, Q3: h = 5.25 -> 5 + .25 * 2 = 5.5; IQR 1.5; high mild fence
	 * 7.75, severe 10: 9 is a high mild outlier; low fence 1.75: none. */
	cr_expect_float_eq(s.outliers.q3, 5.5, EPS);
	cr_expect_eq(s.outliers.high_mild, 1);
	cr_expect_eq(s.outliers.low_mild + s.outliers.low_severe, 0);
	cr_expect_eq(s.outliers.high_severe, 0);
}

Test(stats, describe_of_one_value)
{
	double x = 12;
	struct stats_summary s;
	cr_assert_eq(stats_describe(&x, 1, NULL, &s, NULL), 0);
	cr_expect(isnan(s.stddev));
	cr_expect_float_eq(s.median_ci.lo, 12, EPS);
	cr_expect_float_eq(s.median_ci.hi, 12, EPS);
}

Test(stats, loglog_fit_recovers_an_exact_power_law)
{
	double x[] = {1, 10, 100, 1000}, y[4];
	for (int i = 0; i < 4; i++)
		y[i] = 3 * x[i] * x[i];
	struct stats_fit f;
	cr_assert_eq(stats_loglog_fit(x, y, 4, &f, NULL), 0);
	cr_expect_float_eq(f.exponent, 2.0, 1e-12);
	cr_expect_float_eq(f.coefficient, 3.0, 1e-9);
	cr_expect_float_eq(f.r2, 1.0, 1e-12);
	cr_expect_float_eq(f.exponent_se, 0.0, 1e-6);
	cr_expect_float_eq(stats_fit_predict(&f, 10000), 3e8, 1e-1);
}

Test(stats, loglog_fit_of_an_inexact_set_matches_hand_least_squares)
{
	/* In units of ln 2: X = 0 1 2, Y = 0 2 3. Mean X 1, mean Y 5/3;
	 * Sxy = 3, Sxx = 2: slope 1.5, intercept 1/6 (coefficient 2^(1/6)).
	 * Residuals -1/6 1/3 -1/6: SSres 1/6; SStot 14/3; R^2 = 27/28. */
	double x[] = {1, 2, 4}, y[] = {1, 4, 8};
	struct stats_fit f;
	cr_assert_eq(stats_loglog_fit(x, y, 3, &f, NULL), 0);
	cr_expect_float_eq(f.exponent, 1.5, 1e-12);
	cr_expect_float_eq(f.coefficient, pow(2, 1.0 / 6), 1e-12);
	cr_expect_float_eq(f.r2, 27.0 / 28.0, 1e-12);
	/* se = sqrt(SSres/(n-2) / Sxx) in ln-2 units cancels: sqrt(1/6 / 2) */
	cr_expect_float_eq(f.exponent_se, sqrt(1.0 / 12.0), 1e-12);
}

Test(stats, loglog_fit_rejects_nonpositive_and_degenerate_input)
{
	struct stats_fit f;
	struct kb_error err = {{0}};
	double x[] = {1, 0}, y[] = {1, 2};
	cr_expect_eq(stats_loglog_fit(x, y, 2, &f, &err), -1);
	cr_expect_str_eq(err.msg, "log-log fit: point 1 (0, 2) is not positive and finite");
	double same[] = {5, 5};
	cr_expect_eq(stats_loglog_fit(same, y, 2, &f, &err), -1);
	cr_expect_str_eq(err.msg, "log-log fit: every x is the same (5)");
	cr_expect_eq(stats_loglog_fit(x, y, 1, &f, &err), -1);
}

Test(stats, bounded_random_draws_stay_in_range_and_spread_evenly)
{
	struct stats_rng rng;
	stats_rng_seed(&rng, 99);
	size_t count[3] = {0};
	for (int i = 0; i < 30000; i++) {
		uint64_t v = stats_rng_below(&rng, 3);
		cr_assert_lt(v, 3);
		count[v]++;
	}
	for (int i = 0; i < 3; i++)
		cr_expect(count[i] > 9500 && count[i] < 10500, "bucket %d: %zu", i, count[i]);
	cr_expect_eq(stats_rng_below(&rng, 1), 0);
}
