/* Tests for analyze/benchfile (the bench JSON reader), analyze/compare (the
 * noise-aware verdicts), reports/compare_report and `kbprof compare`.
 * Synthetic runs are built from a seeded generator so every verdict is
 * reproducible; tests/data/compare/ holds results of real bench runs. */
#include "analyze/benchfile.h"
#include "analyze/compare.h"
#include "reports/compare_report.h"
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building synthetic bench results ---- */

struct spec {
	const char *name;
	double median; /* ns */
	double cv;     /* relative spread of the samples */
	size_t n;
	const char *status; /* NULL: "ok" */
};

static double gauss(struct stats_rng *rng)
{
	double u1 = ((double)(stats_rng_next(rng) >> 11) + 1) / 9007199254740993.0;
	double u2 = (double)(stats_rng_next(rng) >> 11) / 9007199254740992.0;
	return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

static json_t *metric_json(const char *name, const char *unit, const double *x, size_t n)
{
	json_t *samples = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(samples, json_real(x[i]));
	return json_pack("{s:s, s:s, s:s, s:o, s:n}", "name", name, "unit", unit, "summary", "",
			 "samples", samples, "stats");
}

/* A bench document with one "time" metric per spec; samples drawn around
 * each median with the given spread. */
static char *make_run(const struct spec *specs, size_t n, uint64_t seed, const char *commit)
{
	struct stats_rng rng;
	stats_rng_seed(&rng, seed);
	json_t *benches = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct spec *s = &specs[i];
		double *x = malloc((s->n ? s->n : 1) * sizeof *x);
		for (size_t k = 0; k < s->n; k++)
			x[k] = s->median * (1 + s->cv * gauss(&rng));
		json_t *metrics = json_array();
		if (!s->status || strcmp(s->status, "ok") == 0)
			json_array_append_new(metrics, metric_json("time", "ns", x, s->n));
		free(x);
		json_array_append_new(benches,
				      json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "name", s->name,
						"group", "compilation", "summary", "", "status",
						s->status ? s->status : "ok", "error",
						s->status && strcmp(s->status, "ok") != 0
						    ? json_string("it broke")
						    : json_null(),
						"metrics", metrics));
	}
	json_t *doc = json_pack("{s:s, s:i, s:s, s:{s:s, s:s}, s:o}", "schema", "kbprof-bench",
				"schema_version", 1, "suite", "kb_persistence", "kbprof", "version",
				"0.1.0", "commit", commit, "benchmarks", benches);
	char *text = json_dumps(doc, 0);
	json_decref(doc);
	return text;
}

static void load_run(struct benchfile *bf, const struct spec *specs, size_t n, uint64_t seed,
		     const char *origin)
{
	char *text = make_run(specs, n, seed, origin);
	struct kb_error err = {0};
	cr_assert_eq(benchfile_parse(bf, text, strlen(text), origin, &err), 0, "%s", err.msg);
	free(text);
}

static const struct compare_row *row_of(const struct compare_result *r, const char *bench)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->rows[i].bench, bench) == 0)
			return &r->rows[i];
	cr_assert_fail("no row for %s", bench);
	return NULL;
}

#define NSPECS 4
static const struct spec suite[NSPECS] = {
    {"compile_small_kb", 12e6, 0.02, 30, NULL},
    {"query_warm_small_kb", 40e3, 0.03, 30, NULL},
    {"serialize_small_kb", 3e6, 0.02, 30, NULL},
    {"startup_time_small_kb", 15e6, 0.02, 30, NULL},
};

/* ---- the decision rule ---- */

Test(compare, decides_by_interval_and_margin)
{
	static const struct {
		double r, lo, hi, margin;
		enum compare_floor_source src;
		enum compare_verdict want;
	} cases[] = {
	    {1.20, 1.15, 1.25, 0.05, COMPARE_FLOOR_WITHIN, COMPARE_REGRESSED},
	    {0.80, 0.75, 0.85, 0.05, COMPARE_FLOOR_WITHIN, COMPARE_IMPROVED},
	    {1.01, 0.98, 1.04, 0.05, COMPARE_FLOOR_WITHIN, COMPARE_UNCHANGED},
	    /* significant, but under the margin */
	    {1.04, 1.02, 1.06, 0.05, COMPARE_FLOOR_WITHIN, COMPARE_UNCHANGED},
	    /* beyond the margin, but the interval has 1 */
	    {1.20, 0.95, 1.40, 0.05, COMPARE_FLOOR_WITHIN, COMPARE_NOISY},
	    {1.20, 0.95, 1.40, 0.05, COMPARE_FLOOR_RUNS, COMPARE_NOISY},
	    /* cannot rule out +10%: too noisy with a within-run floor; with a
	     * floor measured over runs, the estimate is what a rerun gives */
	    {1.02, 0.80, 1.30, 0.05, COMPARE_FLOOR_WITHIN, COMPARE_NOISY},
	    {1.02, 0.80, 1.30, 0.05, COMPARE_FLOOR_RUNS, COMPARE_UNCHANGED},
	    /* a 25% noise floor hides 20% */
	    {1.20, 1.15, 1.25, 0.25, COMPARE_FLOOR_RUNS, COMPARE_UNCHANGED},
	    {1.00, 1.00, 1.00, 0.00, COMPARE_FLOOR_WITHIN, COMPARE_UNCHANGED},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct stats_estimate e = {cases[i].r, cases[i].lo, cases[i].hi, 0.95};
		char note[256];
		enum compare_verdict v =
		    compare_decide(&e, cases[i].margin, cases[i].src, note, sizeof note);
		cr_expect_eq(v, cases[i].want, "case %zu: %s (%s)", i, compare_verdict_name(v),
			     note);
	}
}

/* ---- whole runs ---- */

Test(compare, two_runs_of_the_same_build_are_unchanged)
{
	struct benchfile a, b;
	load_run(&a, suite, NSPECS, 1, "a.json");
	load_run(&b, suite, NSPECS, 2, "b.json");
	struct compare_result res;
	struct kb_error err = {0};
	cr_assert_eq(compare_runs(&a, &b, NULL, &res, &err), 0, "%s", err.msg);
	cr_expect_eq(res.n, NSPECS);
	for (size_t i = 0; i < res.n; i++)
		cr_expect_eq(res.rows[i].verdict, COMPARE_UNCHANGED, "%s: %s (%s)",
			     res.rows[i].bench, compare_verdict_name(res.rows[i].verdict),
			     res.rows[i].note);
	cr_expect_eq(res.counts[COMPARE_UNCHANGED], NSPECS);
	compare_result_free(&res);
	benchfile_free(&a);
	benchfile_free(&b);
}

Test(compare, a_twenty_percent_slowdown_regresses_that_benchmark_only)
{
	struct spec slow[NSPECS];
	memcpy(slow, suite, sizeof slow);
	slow[2].median *= 1.20;
	struct benchfile a, b;
	load_run(&a, suite, NSPECS, 1, "a.json");
	load_run(&b, slow, NSPECS, 2, "b.json");
	struct compare_result res;
	struct kb_error err = {0};
	cr_assert_eq(compare_runs(&a, &b, NULL, &res, &err), 0, "%s", err.msg);
	for (size_t i = 0; i < res.n; i++) {
		enum compare_verdict want = i == 2 ? COMPARE_REGRESSED : COMPARE_UNCHANGED;
		cr_expect_eq(res.rows[i].verdict, want, "%s: %s (%s)", res.rows[i].bench,
			     compare_verdict_name(res.rows[i].verdict), res.rows[i].note);
	}
	const struct compare_row *r = row_of(&res, "serialize_small_kb");
	cr_expect(r->ratio.value > 1.15 && r->ratio.value < 1.25, "%f", r->ratio.value);
	cr_expect(r->ratio.lo < r->ratio.value && r->ratio.value < r->ratio.hi);
	cr_expect_eq(r->floor_source, COMPARE_FLOOR_WITHIN);
	cr_expect(r->floor > 0.005 && r->floor < 0.05, "%f", r->floor);
	compare_result_free(&res);
	benchfile_free(&a);
	benchfile_free(&b);
}

Test(compare, a_speedup_is_an_improvement)
{
	struct spec fast[NSPECS];
	memcpy(fast, suite, sizeof fast);
	fast[0].median *= 0.7;
	struct benchfile a, b;
	load_run(&a, suite, NSPECS, 1, "a.json");
	load_run(&b, fast, NSPECS, 2, "b.json");
	struct compare_result res;
	struct kb_error err = {0};
	cr_assert_eq(compare_runs(&a, &b, NULL, &res, &err), 0, "%s", err.msg);
	cr_expect_eq(row_of(&res, "compile_small_kb")->verdict, COMPARE_IMPROVED);
	cr_expect_eq(res.counts[COMPARE_IMPROVED], 1);
	compare_result_free(&res);
	benchfile_free(&a);
	benchfile_free(&b);
}

Test(compare, noise_runs_set_the_floor_from_the_spread_of_medians)
{
	/* Three runs of the base build whose medians differ by +5% and -3%: a
	 * prediction bound of t(0.975, 2) * sqrt(1 + 1/3) * sd(ln median) = 22.0%
	 * hides an 8% change, which with no noise runs is a regression. */
	struct spec up[NSPECS], down[NSPECS], slower[NSPECS], tight[NSPECS];
	memcpy(up, suite, sizeof up);
	memcpy(down, suite, sizeof down);
	memcpy(slower, suite, sizeof slower);
	memcpy(tight, suite, sizeof tight);
	for (size_t i = 0; i < NSPECS; i++) {
		up[i].median *= 1.05;
		down[i].median *= 0.97;
		slower[i].median *= 1.08;
		up[i].cv = down[i].cv = slower[i].cv = tight[i].cv = 0.002;
	}
	struct benchfile a, b, n1, n2;
	load_run(&a, tight, NSPECS, 1, "a.json");
	load_run(&b, slower, NSPECS, 2, "b.json");
	load_run(&n1, up, NSPECS, 3, "noise1.json");
	load_run(&n2, down, NSPECS, 4, "noise2.json");
	struct kb_error err = {0};
	struct compare_result plain, noisy;
	cr_assert_eq(compare_runs(&a, &b, NULL, &plain, &err), 0, "%s", err.msg);
	const struct benchfile *noise[] = {&n1, &n2};
	struct compare_opts o = {.threshold = -1, .noise = noise, .n_noise = 2};
	cr_assert_eq(compare_runs(&a, &b, &o, &noisy, &err), 0, "%s", err.msg);
	for (size_t i = 0; i < NSPECS; i++) {
		cr_expect_eq(plain.rows[i].verdict, COMPARE_REGRESSED, "%s: %s",
			     plain.rows[i].bench, plain.rows[i].note);
		cr_expect_eq(noisy.rows[i].verdict, COMPARE_UNCHANGED, "%s: %s",
			     noisy.rows[i].bench, noisy.rows[i].note);
		cr_expect_eq(noisy.rows[i].floor_source, COMPARE_FLOOR_RUNS);
		cr_expect_eq(noisy.rows[i].floor_runs, 3);
		cr_expect(fabs(noisy.rows[i].floor - 0.2198) < 0.01, "%f", noisy.rows[i].floor);
		cr_expect(fabs(noisy.rows[i].margin - noisy.rows[i].floor) < 1e-12);
	}
	/* A 40% slowdown stands out of the same noise. */
	struct spec much[NSPECS];
	memcpy(much, slower, sizeof much);
	for (size_t i = 0; i < NSPECS; i++)
		much[i].median = suite[i].median * 1.40;
	struct benchfile c;
	load_run(&c, much, NSPECS, 5, "c.json");
	struct compare_result big;
	cr_assert_eq(compare_runs(&a, &c, &o, &big, &err), 0, "%s", err.msg);
	cr_expect_eq(big.counts[COMPARE_REGRESSED], NSPECS);
	compare_result_free(&big);
	compare_result_free(&plain);
	compare_result_free(&noisy);
	benchfile_free(&a);
	benchfile_free(&b);
	benchfile_free(&c);
	benchfile_free(&n1);
	benchfile_free(&n2);
}

static const char time_doc[] =
    "{\"schema\":\"kbprof-bench\",\"schema_version\":1,\"benchmarks\":["
    "{\"name\":\"query_cold_small_kb\",\"status\":\"ok\",\"metrics\":["
    "{\"name\":\"time\",\"unit\":\"ns\",\"samples\":[%s],\"stats\":null}]}]}";

static enum compare_verdict verdict_of(const char *base, const char *now, double threshold,
				       char *note)
{
	char t1[512], t2[512];
	snprintf(t1, sizeof t1, time_doc, base);
	snprintf(t2, sizeof t2, time_doc, now);
	struct benchfile a, b;
	struct kb_error err = {0};
	cr_assert_eq(benchfile_parse(&a, t1, strlen(t1), "a", &err), 0, "%s", err.msg);
	cr_assert_eq(benchfile_parse(&b, t2, strlen(t2), "b", &err), 0, "%s", err.msg);
	struct compare_result res;
	struct compare_opts o = {.threshold = threshold};
	cr_assert_eq(compare_runs(&a, &b, &o, &res, &err), 0, "%s", err.msg);
	enum compare_verdict v = res.rows[0].verdict;
	strcpy(note, res.rows[0].note);
	compare_result_free(&res);
	benchfile_free(&a);
	benchfile_free(&b);
	return v;
}

Test(compare, few_widely_spread_samples_are_too_noisy_to_say)
{
	char note[256];
	/* Medians 3 and 3.6 (+20%), but samples spread over a factor of five. */
	enum compare_verdict v =
	    verdict_of("1e6,2e6,3e6,4e6,5e6", "1.5e6,2.5e6,3.6e6,4.5e6,5.5e6", 0.02, note);
	cr_expect_eq(v, COMPARE_NOISY, "%s: %s", compare_verdict_name(v), note);
	/* The same +20% with tight samples is a regression. */
	v = verdict_of("2.99e6,3e6,3.01e6,3e6,3.02e6", "3.59e6,3.6e6,3.61e6,3.6e6,3.58e6", 0.02,
		       note);
	cr_expect_eq(v, COMPARE_REGRESSED, "%s: %s", compare_verdict_name(v), note);
}

static const char cpu_doc[] =
    "{\"schema\":\"kbprof-bench\",\"schema_version\":1,\"benchmarks\":["
    "{\"name\":\"compile_small_kb\",\"status\":\"ok\",\"metrics\":["
    "{\"name\":\"time\",\"unit\":\"ns\",\"samples\":[%s],\"stats\":null%s%s%s},"
    "{\"name\":\"rss\",\"unit\":\"bytes\",\"samples\":[5,5,5,5,5],\"stats\":null}]}]}";

static void cpu_run(struct benchfile *bf, const char *wall, const char *cpu, const char *origin)
{
	char t[1024];
	snprintf(t, sizeof t, cpu_doc, wall, cpu ? ",\"cpu_samples\":[" : "", cpu ? cpu : "",
		 cpu ? "]" : "");
	struct kb_error err = {0};
	cr_assert_eq(benchfile_parse(bf, t, strlen(t), origin, &err), 0, "%s", err.msg);
}

Test(compare, cpu_time_leaves_out_the_time_spent_waiting)
{
	/* NEW's wall times hold two 50 ms stalls (throttled, preempted):
	 * its wall median moves by +40%, its CPU time does not. */
	struct benchfile a, b, old;
	cpu_run(&a, "10e6,10.1e6,9.9e6,10e6,10.05e6", "9.9e6,10e6,9.8e6,9.9e6,9.95e6", "a");
	cpu_run(&b, "10e6,60e6,60.1e6,14e6,10.1e6", "9.9e6,10e6,9.85e6,9.9e6,9.95e6", "b");
	cpu_run(&old, "10e6,10.1e6,9.9e6,10e6,10.05e6", NULL, "old");
	struct compare_result res;
	struct kb_error err = {0};
	struct compare_opts wall = {.threshold = 0.05, .all_metrics = 1};
	struct compare_opts cpu = {.threshold = 0.05, .all_metrics = 1, .cpu_time = 1};
	cr_assert_eq(compare_runs(&a, &b, &wall, &res, &err), 0, "%s", err.msg);
	cr_expect_neq(res.rows[0].verdict, COMPARE_UNCHANGED, "wall: %s", res.rows[0].note);
	cr_expect_eq(res.cpu_time, 0);
	compare_result_free(&res);
	cr_assert_eq(compare_runs(&a, &b, &cpu, &res, &err), 0, "%s", err.msg);
	cr_expect_eq(res.cpu_time, 1);
	cr_expect_eq(res.rows[0].verdict, COMPARE_UNCHANGED, "cpu: %s", res.rows[0].note);
	cr_expect_float_eq(res.rows[0].new_median, 9.9e6, 1, "the CPU median");
	cr_expect_eq(res.rows[1].verdict, COMPARE_UNCHANGED, "bytes are compared as they are");
	compare_result_free(&res);
	/* a file from before cpu_samples: its times are not compared */
	cr_assert_eq(compare_runs(&old, &b, &cpu, &res, &err), 0, "%s", err.msg);
	cr_expect_eq(res.rows[0].verdict, COMPARE_NOT_COMPARED);
	cr_expect(strstr(res.rows[0].note, "no CPU times in BASE"), "%s", res.rows[0].note);
	cr_expect_eq(res.rows[1].verdict, COMPARE_UNCHANGED);
	compare_result_free(&res);
	benchfile_free(&a);
	benchfile_free(&b);
	benchfile_free(&old);
}

Test(compare, a_low_quantile_resists_a_burst_over_half_the_samples)
{
	/* NEW: the same code, but 12 of its 20 samples slowed by a burst of
	 * interference (+50%). The median moves with the burst; the lower
	 * quartile does not. A real +20% moves every sample, and both. */
	static const char fast[] = "10,10.1,9.9,10,10.2,9.8,10,10.1,9.9,10,10,10.1,9.9,10,"
				   "10.2,9.8,10,10.1,9.9,10";
	static const char burst[] = "10,10.1,9.9,10,10.2,9.8,10,10.1,15,15.1,14.9,15,15.2,14.8,"
				    "15,15.1,14.9,15,15.1,15";
	static const char slow[] = "12,12.1,11.9,12,12.2,11.8,12,12.1,11.9,12,12,12.1,11.9,12,"
				   "12.2,11.8,12,12.1,11.9,12";
	struct benchfile a, b, c;
	cpu_run(&a, fast, NULL, "a");
	cpu_run(&b, burst, NULL, "b");
	cpu_run(&c, slow, NULL, "c");
	struct compare_result res;
	struct kb_error err = {0};
	/* a second run of the base build as the noise run: the floor from
	 * runs, so "unchanged" rests on the ratio and the margin */
	const struct benchfile *noise[] = {&a};
	struct compare_opts median = {.threshold = 0.05, .noise = noise, .n_noise = 1};
	struct compare_opts q25 = {
	    .threshold = 0.05, .noise = noise, .n_noise = 1, .quantile = 0.25};
	cr_assert_eq(compare_runs(&a, &b, &median, &res, &err), 0, "%s", err.msg);
	cr_expect_eq(res.quantile, 0.5);
	cr_expect_neq(res.rows[0].verdict, COMPARE_UNCHANGED, "median: %s", res.rows[0].note);
	compare_result_free(&res);
	cr_assert_eq(compare_runs(&a, &b, &q25, &res, &err), 0, "%s", err.msg);
	cr_expect_eq(res.quantile, 0.25);
	cr_expect_eq(res.rows[0].verdict, COMPARE_UNCHANGED, "q25: %s", res.rows[0].note);
	cr_expect_float_eq(res.rows[0].base_median, 9.9, 1e-9, "the lower quartile (type 7)");
	cr_expect_float_eq(res.rows[0].new_median, 10.075, 1e-9);
	compare_result_free(&res);
	cr_assert_eq(compare_runs(&a, &c, &q25, &res, &err), 0, "%s", err.msg);
	cr_expect_eq(res.rows[0].verdict, COMPARE_REGRESSED, "q25: %s", res.rows[0].note);
	cr_expect_float_eq(res.rows[0].ratio.value, 11.9 / 9.9, 1e-9);
	compare_result_free(&res);
	benchfile_free(&a);
	benchfile_free(&b);
	benchfile_free(&c);
}

Test(compare, further_new_runs_outvote_one_run_slowed_as_a_whole)
{
	/* The first run of the new build ran while other work slowed the
	 * machine (every sample +50%); two more runs of it did not. */
	static const char fast[] = "10,10.1,9.9,10,10.2,9.8,10,10.1,9.9,10";
	static const char fast2[] = "10.1,10,9.9,10.2,10,9.9,10,10.1,9.8,10";
	static const char hit[] = "15,15.1,14.9,15,15.2,14.8,15,15.1,14.9,15";
	struct benchfile base, noise1, now, again1, again2;
	cpu_run(&base, fast, NULL, "base");
	cpu_run(&noise1, fast2, NULL, "noise");
	cpu_run(&now, hit, NULL, "new");
	cpu_run(&again1, fast2, NULL, "new-2");
	cpu_run(&again2, fast, NULL, "new-3");
	const struct benchfile *noise[] = {&noise1}, *more[] = {&again1, &again2};
	struct compare_opts alone = {
	    .threshold = 0.05, .noise = noise, .n_noise = 1, .quantile = 0.25};
	struct compare_opts pooled = alone;
	pooled.new_runs = more;
	pooled.n_new_runs = 2;
	struct compare_result res;
	struct kb_error err = {0};
	cr_assert_eq(compare_runs(&base, &now, &alone, &res, &err), 0, "%s", err.msg);
	cr_expect_eq(res.rows[0].verdict, COMPARE_REGRESSED, "alone: %s", res.rows[0].note);
	compare_result_free(&res);
	cr_assert_eq(compare_runs(&base, &now, &pooled, &res, &err), 0, "%s", err.msg);
	cr_expect_eq(res.rows[0].verdict, COMPARE_UNCHANGED, "pooled: %s", res.rows[0].note);
	cr_expect_eq(res.rows[0].n_new, 30);
	cr_expect_eq(res.n_new_runs, 2);
	compare_result_free(&res);
	benchfile_free(&base);
	benchfile_free(&noise1);
	benchfile_free(&now);
	benchfile_free(&again1);
	benchfile_free(&again2);
}

Test(compare, missing_failed_and_skipped_benchmarks_are_not_compared)
{
	struct spec base[3] = {{"a_kb", 1e6, 0.01, 10, NULL},
			       {"b_kb", 1e6, 0.01, 10, NULL},
			       {"gone_kb", 1e6, 0.01, 10, NULL}};
	struct spec now[3] = {{"a_kb", 1e6, 0.01, 10, "failed"},
			      {"b_kb", 1e6, 0.01, 10, "skipped"},
			      {"new_kb", 1e6, 0.01, 10, NULL}};
	struct benchfile a, b;
	load_run(&a, base, 3, 1, "a.json");
	load_run(&b, now, 3, 2, "b.json");
	struct compare_result res;
	struct kb_error err = {0};
	cr_assert_eq(compare_runs(&a, &b, NULL, &res, &err), 0, "%s", err.msg);
	cr_expect_eq(res.n, 4);
	cr_expect_eq(res.counts[COMPARE_NOT_COMPARED], 4);
	cr_expect_str_eq(row_of(&res, "a_kb")->note, "failed in NEW: it broke");
	cr_expect_str_eq(row_of(&res, "b_kb")->note, "skipped in NEW: it broke");
	cr_expect_str_eq(row_of(&res, "new_kb")->note, "absent in BASE");
	cr_expect_str_eq(row_of(&res, "gone_kb")->note, "absent in NEW");
	compare_result_free(&res);
	benchfile_free(&a);
	benchfile_free(&b);
}

static const char const_doc[] =
    "{\"schema\":\"kbprof-bench\",\"schema_version\":1,\"benchmarks\":["
    "{\"name\":\"memory_footprint_small_kb\",\"status\":\"ok\",\"metrics\":["
    "{\"name\":\"rss_growth\",\"unit\":\"bytes\",\"samples\":[%s],\"stats\":null},"
    "{\"name\":\"major_faults\",\"unit\":\"faults\",\"samples\":[%s],\"stats\":null}]}]}";

Test(compare, identical_constant_series_are_unchanged_even_at_zero)
{
	char t1[512], t2[512];
	snprintf(t1, sizeof t1, const_doc, "4096,4096,4096", "0,0,0");
	snprintf(t2, sizeof t2, const_doc, "4096,4096,4096", "0,0,0");
	struct benchfile a, b;
	struct kb_error err = {0};
	cr_assert_eq(benchfile_parse(&a, t1, strlen(t1), "a", &err), 0, "%s", err.msg);
	cr_assert_eq(benchfile_parse(&b, t2, strlen(t2), "b", &err), 0, "%s", err.msg);
	struct compare_result res;
	struct compare_opts o = {.threshold = -1, .all_metrics = 1};
	cr_assert_eq(compare_runs(&a, &b, &o, &res, &err), 0, "%s", err.msg);
	cr_expect_eq(res.n, 2);
	cr_expect_eq(res.rows[0].verdict, COMPARE_UNCHANGED, "%s", res.rows[0].note);
	cr_expect_eq(res.rows[1].verdict, COMPARE_UNCHANGED, "%s", res.rows[1].note);
	cr_expect_eq(res.rows[1].ratio.value, 1.0);
	compare_result_free(&res);
	benchfile_free(&a);
	benchfile_free(&b);
}

Test(compare, a_zero_base_median_has_no_ratio)
{
	char t1[512], t2[512];
	snprintf(t1, sizeof t1, const_doc, "4096", "0,0,0");
	snprintf(t2, sizeof t2, const_doc, "4096", "3,4,5");
	struct benchfile a, b;
	struct kb_error err = {0};
	cr_assert_eq(benchfile_parse(&a, t1, strlen(t1), "a", &err), 0, "%s", err.msg);
	cr_assert_eq(benchfile_parse(&b, t2, strlen(t2), "b", &err), 0, "%s", err.msg);
	struct compare_result res;
	struct compare_opts o = {.threshold = -1, .all_metrics = 1};
	cr_assert_eq(compare_runs(&a, &b, &o, &res, &err), 0, "%s", err.msg);
	cr_expect_eq(res.rows[1].verdict, COMPARE_NOT_COMPARED);
	cr_expect(strstr(res.rows[1].note, "BASE median is 0"), "%s", res.rows[1].note);
	compare_result_free(&res);
	benchfile_free(&a);
	benchfile_free(&b);
}

/* ---- the reader ---- */

Test(compare, reader_names_the_file_and_field_of_bad_input)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"{\"schema\":\"other\"}", "x.json: not a kbprof bench result"},
	    {"{\"schema\":\"kbprof-bench\",\"schema_version\":2,\"benchmarks\":[]}",
	     "x.json: schema_version 2: this kbprof reads version 1"},
	    {"{\"schema\":\"kbprof-bench\",\"schema_version\":1}", "benchmarks: missing"},
	    {"{\"schema\":\"kbprof-bench\",\"schema_version\":1,\"benchmarks\":[{\"name\":\"a\","
	     "\"status\":\"ok\",\"metrics\":[{\"name\":\"time\",\"unit\":\"ns\",\"samples\":[1,"
	     "\"2\"]}]}]}",
	     "x.json: benchmarks[0].metrics[0].samples[1]: not a number"},
	    {"{\"schema\":\"kbprof-bench\",\"schema_version\":1,\"benchmarks\":[{\"status\":"
	     "\"ok\"}]}",
	     "benchmarks[0].name: missing"},
	    {"{\"schema\":\"kbprof-bench\",\"schema_version\":1,\"benchmarks\":[{\"name\":\"a\","
	     "\"status\":\"ok\",\"metrics\":[]},{\"name\":\"a\",\"status\":\"ok\",\"metrics\":[]}"
	     "]}",
	     "benchmarks[1]: 'a' appears twice"},
	    {"{\"schema\": \"kbprof-bench\",\n \"schema_version\": 1,", "x.json:2:"},
	    {"", "x.json:"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct benchfile bf;
		struct kb_error err = {0};
		cr_expect_eq(benchfile_parse(&bf, bad[i].text, strlen(bad[i].text), "x.json", &err),
			     -1, "case %zu accepted", i);
		cr_expect(strstr(err.msg, bad[i].want), "case %zu: '%s'", i, err.msg);
	}
}

/* ---- rendering ---- */

Test(compare, json_report_parses_and_carries_every_row)
{
	struct spec slow[NSPECS];
	memcpy(slow, suite, sizeof slow);
	slow[1].median *= 1.2;
	struct benchfile a, b;
	load_run(&a, suite, NSPECS, 1, "a.json");
	load_run(&b, slow, NSPECS, 2, "b.json");
	struct compare_result res;
	struct kb_error err = {0};
	cr_assert_eq(compare_runs(&a, &b, NULL, &res, &err), 0, "%s", err.msg);
	struct kb_buf out = {0};
	cr_assert_eq(compare_report_render(&res, &a, &b, COMPARE_FORMAT_JSON, &out, &err), 0);
	json_error_t je;
	json_t *doc = json_loads(out.data, 0, &je);
	cr_assert_not_null(doc, "%s", je.text);
	cr_expect_str_eq(json_string_value(json_object_get(doc, "schema")), "kbprof-compare");
	json_t *results = json_object_get(doc, "results");
	cr_expect_eq(json_array_size(results), NSPECS);
	json_t *r1 = json_array_get(results, 1);
	cr_expect_str_eq(json_string_value(json_object_get(r1, "verdict")), "regressed");
	cr_expect_eq(json_array_size(json_object_get(r1, "ratio_ci95")), 2);
	cr_expect_eq(
	    json_integer_value(json_object_get(json_object_get(doc, "counts"), "regressed")), 1);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(doc, "new"), "commit")),
			 "b.json");
	json_decref(doc);
	kb_buf_free(&out);
	compare_result_free(&res);
	benchfile_free(&a);
	benchfile_free(&b);
}

Test(compare, markdown_report_is_a_table_with_a_summary_heading)
{
	struct benchfile a, b;
	load_run(&a, suite, NSPECS, 1, "a.json");
	load_run(&b, suite, NSPECS, 2, "b.json");
	struct compare_result res;
	struct kb_error err = {0};
	cr_assert_eq(compare_runs(&a, &b, NULL, &res, &err), 0, "%s", err.msg);
	struct kb_buf out = {0};
	cr_assert_eq(compare_report_render(&res, &a, &b, COMPARE_FORMAT_MARKDOWN, &out, &err), 0);
	cr_expect(strstr(out.data, "### kbprof compare: 0 regressed, 4 unchanged\n"), "%s",
		  out.data);
	cr_expect(strstr(out.data, "| benchmark | base | new | change |"));
	cr_expect(strstr(out.data, "| `query_warm_small_kb` | "));
	size_t rows = 0;
	for (const char *p = out.data; (p = strstr(p, "\n| `")); p++)
		rows++;
	cr_expect_eq(rows, NSPECS);
	kb_buf_free(&out);
	compare_result_free(&res);
	benchfile_free(&a);
	benchfile_free(&b);
}

/* ---- recorded runs (tests/data/compare, real `kbprof bench --quick`) ---- */

static void load_fixture(struct benchfile *bf, const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/tests/data/compare/%s.json", KBPROF_SOURCE_DIR, name);
	struct kb_error err = {0};
	cr_assert_eq(benchfile_load(bf, path, &err), 0, "%s", err.msg);
}

/* Compares base-1 with `name`, base-2 and base-3 as noise runs; every
 * benchmark that ran must have the verdict `want`, except `victim`, which
 * must have `victim_want`. Returns how many were compared. */
static size_t check_recorded(const char *name, enum compare_verdict want, const char *victim,
			     enum compare_verdict victim_want)
{
	struct benchfile base, now, n2, n3;
	load_fixture(&base, "base-1");
	load_fixture(&now, name);
	load_fixture(&n2, "base-2");
	load_fixture(&n3, "base-3");
	const struct benchfile *noise[] = {&n2, &n3};
	struct compare_opts o = {.threshold = -1, .noise = noise, .n_noise = 2};
	struct compare_result res;
	struct kb_error err = {0};
	cr_assert_eq(compare_runs(&base, &now, &o, &res, &err), 0, "%s", err.msg);
	size_t compared = 0;
	for (size_t i = 0; i < res.n; i++) {
		const struct compare_row *r = &res.rows[i];
		if (r->verdict == COMPARE_NOT_COMPARED) {
			cr_expect(strstr(r->note, "skipped by --quick"), "%s: %s", r->bench,
				  r->note);
			continue;
		}
		compared++;
		enum compare_verdict w =
		    victim && strcmp(r->bench, victim) == 0 ? victim_want : want;
		cr_expect_eq(r->verdict, w, "%s vs base-1: %s is %s (%s)", name, r->bench,
			     compare_verdict_name(r->verdict), r->note);
		cr_expect_eq(r->floor_source, COMPARE_FLOOR_RUNS);
	}
	compare_result_free(&res);
	benchfile_free(&base);
	benchfile_free(&now);
	benchfile_free(&n2);
	benchfile_free(&n3);
	return compared;
}

Test(compare, recorded_runs_of_the_same_build_are_unchanged)
{
	cr_expect_eq(check_recorded("same", COMPARE_UNCHANGED, NULL, COMPARE_UNCHANGED), 8);
}

Test(compare, recorded_run_with_a_20_percent_slowdown_regresses_that_benchmark_only)
{
	cr_expect_eq(
	    check_recorded("slow", COMPARE_UNCHANGED, "compile_small_kb", COMPARE_REGRESSED), 8);
}

Test(compare, cli_gates_on_regressions_and_writes_a_pull_request_comment)
{
	char b1[1024], same[1024], slow[1024], n2[1024], n3[1024];
	const char *dir = KBPROF_SOURCE_DIR "/tests/data/compare";
	snprintf(b1, sizeof b1, "%s/base-1.json", dir);
	snprintf(same, sizeof same, "%s/same.json", dir);
	snprintf(slow, sizeof slow, "%s/slow.json", dir);
	snprintf(n2, sizeof n2, "%s/base-2.json", dir);
	snprintf(n3, sizeof n3, "%s/base-3.json", dir);
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "compare", b1, same, "--noise", n2, n3, "--fail-on",
				"regression", "--format", "markdown", NULL),
		     0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "### kbprof compare: 0 regressed, 8 unchanged, 3 not compared"),
		  "%s", r.out);
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "compare", b1, slow, "--noise", n2, n3, "--fail-on",
				"regression", "--format", "markdown", NULL),
		     0);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.out, "| `compile_small_kb` |"), "%s", r.out);
	cr_expect(strstr(r.out, "**regressed**"));
	cr_expect(strstr(r.err, "1 benchmark regressed"), "%s", r.err);
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "compare", b1, NULL), 0);
	cr_expect_eq(r.status, 2);
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "compare", b1, same, "--format", "xml", NULL), 0);
	cr_expect_eq(r.status, 2);
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "compare", b1, "/nonexistent.json", NULL), 0);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "/nonexistent.json: No such file"), "%s", r.err);
	run_result_free(&r);
}
