/* Tests of the benchmark harness (workloads/bench), its JSON results
 * (workloads/bench_json, docs/bench-json.md), the baseline document renderer
 * (reports/baseline_doc), machine detection (workloads/sysinfo), kernel
 * measurements (workloads/measure) and the `kbprof bench` command. No test
 * asserts a time: the constructed benchmarks record known values. */
#include "reports/baseline_doc.h"
#include "reports/bench_text.h"
#include "tests/testutil.h"
#include "workloads/bench.h"
#include "workloads/bench_json.h"
#include "workloads/kbp_derive.h"
#include "workloads/measure.h"
#include "workloads/querymix.h"
#include "workloads/sysinfo.h"

#include <criterion/criterion.h>
#include <linux/magic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

/* ---- a constructed suite: values are known, so statistics are checkable ---- */

static const struct bench_metric_def two_metrics[] = {
    {"time", "ns", "a recorded value"},
    {"size", "bytes", "another recorded value"},
};

struct counting_state {
	unsigned calls;
	unsigned setups, teardowns;
};
static struct counting_state counting;

static int counting_setup(struct bench_ctx *ctx, void **state)
{
	counting.setups++;
	bench_fact(ctx, "rules", "rules", 40000);
	bench_fact(ctx, "source_bytes", "bytes", 1291555);
	*state = &counting;
	return 0;
}

/* Sample k (0-based, after the warm-ups) records k + 1 and 10 * (k + 1). */
static int counting_sample(struct bench_ctx *ctx, void *state)
{
	struct counting_state *s = state;
	s->calls++;
	static unsigned k;
	if (bench_is_warmup(ctx)) {
		k = 0;
		bench_record(ctx, 0, 1e9); /* discarded */
		bench_record(ctx, 1, 1e9);
		return 0;
	}
	k++;
	bench_record(ctx, 0, k);
	bench_record(ctx, 1, 10.0 * k);
	return 0;
}

static void counting_teardown(void *state)
{
	((struct counting_state *)state)->teardowns++;
}

static int failing_sample(struct bench_ctx *ctx, void *state)
{
	(void)state;
	bench_record(ctx, 0, 1);
	return bench_fail(ctx, "(add0 zero zero) gave %s, expected %s", "(foo)", "zero");
}

static int forgetful_sample(struct bench_ctx *ctx, void *state)
{
	(void)state;
	bench_record(ctx, 0, 1); /* metric 1 never recorded */
	return 0;
}

static const struct bench_def test_defs[] = {
    {"compile_small_kb", "compilation", "records 1..n", 7, 3, 2, 10000, two_metrics, 2,
     counting_setup, counting_sample, counting_teardown},
    {"compile_large_kb", "compilation", "records 1..n", 4, 0, 0, 1000000, two_metrics, 2,
     counting_setup, counting_sample, counting_teardown},
    {"query_warm_small_kb", "query", "fails its check", 5, 5, 0, 10000, two_metrics, 2, NULL,
     failing_sample, NULL},
    {"query_cold_small_kb", "query", "forgets a metric", 5, 5, 0, 10000, two_metrics, 2, NULL,
     forgetful_sample, NULL},
};

static const struct bench_suite test_suite = {
    .name = "test",
    .defs = test_defs,
    .ndefs = sizeof test_defs / sizeof test_defs[0],
};

static void run_test_suite(struct bench_opts *opts, struct bench_results *res)
{
	struct kb_error err = {{0}};
	memset(&counting, 0, sizeof counting);
	opts->workdir = "/tmp";
	cr_assert_eq(bench_run_suite(&test_suite, opts, res, &err), 0, "%s", err.msg);
}

Test(bench, filter_matches_substrings_and_globs)
{
	const char *sub[] = {"small"};
	const char *glob[] = {"compile_*_kb"};
	const char *two[] = {"nothing", "cold"};
	struct bench_opts o = {.filters = sub, .nfilters = 1};
	cr_expect(bench_selected(&o, "compile_small_kb"));
	cr_expect(!bench_selected(&o, "compile_large_kb"));
	o.filters = glob;
	cr_expect(bench_selected(&o, "compile_large_kb"));
	cr_expect(!bench_selected(&o, "query_cold_small_kb"));
	cr_expect(!bench_selected(&o, "compile_small")); /* a glob matches the whole name */
	o.filters = two;
	o.nfilters = 2;
	cr_expect(bench_selected(&o, "query_cold_small_kb"));
	o.nfilters = 0;
	cr_expect(bench_selected(&o, "anything"));
}

Test(bench, sample_counts_follow_defaults_quick_and_override)
{
	struct bench_opts o = {0};
	cr_expect_eq(bench_sample_count(&o, &test_defs[0]), 7);
	o.quick = 1;
	cr_expect_eq(bench_sample_count(&o, &test_defs[0]), 3);
	cr_expect_eq(bench_sample_count(&o, &test_defs[1]), 0, "quick skips large");
	o.samples = 11;
	cr_expect_eq(bench_sample_count(&o, &test_defs[0]), 11);
	cr_expect_eq(bench_sample_count(&o, &test_defs[1]), 0, "--samples does not undo --quick");
	o.quick = 0;
	cr_expect_eq(bench_sample_count(&o, &test_defs[1]), 11);
}

Test(bench, kb_labels_are_mettatrons)
{
	char b[16];
	bench_kb_label(10000, b, sizeof b);
	cr_expect_str_eq(b, "10K");
	bench_kb_label(1000000, b, sizeof b);
	cr_expect_str_eq(b, "1M");
	bench_kb_label(1234, b, sizeof b);
	cr_expect_str_eq(b, "1234");
}

Test(bench, runs_warmups_then_samples_and_computes_statistics)
{
	const char *only[] = {"compile_small_kb"};
	struct bench_opts o = {.filters = only, .nfilters = 1};
	struct bench_results res;
	run_test_suite(&o, &res);
	cr_assert_eq(res.n, 1);
	const struct bench_result *r = &res.items[0];
	cr_assert_eq(r->status, BENCH_OK, "%s", r->error);
	cr_expect_eq(counting.setups, 1);
	cr_expect_eq(counting.teardowns, 1);
	cr_expect_eq(counting.calls, 2 + 7, "two warm-ups, seven samples");
	const struct bench_metric_result *t = bench_result_metric(r, "time");
	cr_assert_not_null(t);
	cr_assert_eq(t->n, 7);
	for (size_t i = 0; i < 7; i++)
		cr_expect_eq(t->samples[i], (double)(i + 1), "warm-up values are discarded");
	cr_assert(t->have_stats);
	cr_expect_eq(t->stats.n, 7);
	cr_expect_eq(t->stats.median, 4);
	cr_expect_eq(t->stats.mean, 4);
	cr_expect_eq(t->stats.min, 1);
	cr_expect_eq(t->stats.max, 7);
	cr_expect_float_eq(t->stats.stddev, sqrt(28.0 / 6.0), 1e-12);
	cr_expect(t->stats.median_ci.lo <= 4 && t->stats.median_ci.hi >= 4);
	const struct bench_metric_result *s = bench_result_metric(r, "size");
	cr_expect_eq(s->stats.median, 40);
	cr_expect_eq(bench_result_fact(r, "rules")->value, 40000);
	bench_results_free(&res);
}

Test(bench, quick_mode_skips_large_and_says_why)
{
	const char *only[] = {"compile_*"};
	struct bench_opts o = {.filters = only, .nfilters = 1, .quick = 1};
	struct bench_results res;
	run_test_suite(&o, &res);
	cr_assert_eq(res.n, 2);
	cr_expect_eq(res.items[0].status, BENCH_OK);
	cr_expect_eq(res.items[0].metrics[0].n, 3);
	cr_expect_eq(res.items[1].status, BENCH_SKIPPED);
	cr_expect(strstr(res.items[1].error, "--quick") != NULL);
	cr_expect_eq(res.failed, 0);
	bench_results_free(&res);
}

Test(bench, a_wrong_result_fails_the_benchmark_loudly_and_the_rest_still_run)
{
	const char *only[] = {"query"};
	struct bench_opts o = {.filters = only, .nfilters = 1};
	struct bench_results res;
	run_test_suite(&o, &res);
	cr_assert_eq(res.n, 2);
	cr_expect_eq(res.failed, 2);
	const struct bench_result *w = bench_results_find(&res, "query_warm_small_kb");
	cr_expect_eq(w->status, BENCH_FAILED);
	cr_expect(strstr(w->error, "expected zero") != NULL, "%s", w->error);
	const struct bench_result *c = bench_results_find(&res, "query_cold_small_kb");
	cr_expect_eq(c->status, BENCH_FAILED);
	cr_expect(strstr(c->error, "did not record metric 'size'") != NULL, "%s", c->error);
	bench_results_free(&res);
}

/* ---- JSON ---- */

static json_t *constructed_document(struct bench_results *res, struct bench_opts *o,
				    struct sysinfo *si)
{
	struct kb_error err = {{0}};
	run_test_suite(o, res);
	cr_assert_eq(sysinfo_detect(si, ".", &err), 0, "%s", err.msg);
	json_t *derived =
	    json_pack("{s:[], s:[{s:s, s:s, s:s, s:f, s:s, s:s, s:s, s:s}]}", "scaling",
		      "hypothesis", "id", "load_time", "claim", "Load time 100-1000x faster",
		      "target", ">= 100x", "value", 250.0, "unit", "x", "basis", "measured",
		      "detail", "median startup from source / from image", "verdict", "met");
	json_t *doc = bench_json_document(res, o, si, "kbprof bench --test", derived, NULL,
					  "no profiling pass in the test");
	cr_assert_not_null(doc);
	return doc;
}

Test(bench, json_round_trip_keeps_samples_statistics_and_environment)
{
	struct bench_opts o = {0};
	struct bench_results res;
	struct sysinfo si;
	json_t *doc = constructed_document(&res, &o, &si);
	char *dir = make_temp_dir();
	char path[512];
	snprintf(path, sizeof path, "%s/results.json", dir);
	struct kb_error err = {{0}};
	cr_assert_eq(bench_json_write(doc, path, &err), 0, "%s", err.msg);
	json_decref(doc);

	json_error_t jerr;
	json_t *back = json_load_file(path, 0, &jerr);
	cr_assert_not_null(back, "%s", jerr.text);
	cr_expect_str_eq(json_string_value(json_object_get(back, "schema")), "kbprof-bench");
	cr_expect_eq(json_integer_value(json_object_get(back, "schema_version")), 1);
	cr_expect_str_eq(json_string_value(json_object_get(back, "suite")), "test");
	const char *ts = json_string_value(json_object_get(back, "timestamp"));
	cr_assert_not_null(ts);
	cr_expect_eq(strlen(ts), 20);
	cr_expect_eq(ts[19], 'Z');
	cr_expect(json_is_string(json_object_get(json_object_get(back, "kbprof"), "commit")));

	const json_t *benches = json_object_get(back, "benchmarks");
	cr_assert_eq(json_array_size(benches), 4);
	const json_t *b0 = json_array_get(benches, 0);
	cr_expect_str_eq(json_string_value(json_object_get(b0, "name")), "compile_small_kb");
	cr_expect_str_eq(json_string_value(json_object_get(b0, "status")), "ok");
	const json_t *kb = json_object_get(b0, "kb");
	cr_expect_str_eq(json_string_value(json_object_get(kb, "label")), "10K");
	cr_expect_eq(json_integer_value(json_object_get(kb, "rules")), 40000);
	cr_expect_eq(json_integer_value(json_object_get(kb, "source_bytes")), 1291555);
	const json_t *m0 = json_array_get(json_object_get(b0, "metrics"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(m0, "unit")), "ns");
	const json_t *samples = json_object_get(m0, "samples");
	cr_assert_eq(json_array_size(samples), 7);
	for (size_t i = 0; i < 7; i++)
		cr_expect_eq(json_number_value(json_array_get(samples, i)), (double)(i + 1));
	const json_t *st = json_object_get(m0, "stats");
	cr_expect_eq(json_number_value(json_object_get(st, "median")), 4);
	cr_expect_eq(json_array_size(json_object_get(st, "median_ci95")), 2);
	cr_expect(json_is_object(json_object_get(st, "outliers")));

	const json_t *large = json_array_get(benches, 1);
	cr_expect_str_eq(json_string_value(json_object_get(large, "status")), "ok");
	const json_t *failed = json_array_get(benches, 2);
	cr_expect_str_eq(json_string_value(json_object_get(failed, "status")), "failed");
	cr_expect(strstr(json_string_value(json_object_get(failed, "error")), "expected zero"));

	const json_t *env = json_object_get(back, "environment");
	cr_expect(strlen(json_string_value(json_object_get(json_object_get(env, "cpu"), "model"))) >
		  0);
	cr_expect(json_integer_value(json_object_get(json_object_get(env, "memory"), "ram_bytes")) >
		  0);
	const json_t *prof = json_object_get(back, "profile");
	cr_expect_str_eq(json_string_value(json_object_get(prof, "status")), "not measured");
	const json_t *hyp = json_object_get(json_object_get(back, "derived"), "hypothesis");
	cr_expect_eq(json_number_value(json_object_get(json_array_get(hyp, 0), "value")), 250.0);
	json_decref(back);
	bench_results_free(&res);
	rm_rf(dir);
	free(dir);
}

Test(bench, json_writes_null_for_undefined_numbers)
{
	json_t *v = bench_json_real(NAN);
	cr_expect(json_is_null(v));
	json_decref(v);
	v = bench_json_real(12345);
	cr_expect(json_is_integer(v));
	json_decref(v);
	v = bench_json_real(0.25);
	cr_expect(json_is_real(v));
	json_decref(v);
}

/* ---- the baseline document ---- */

Test(bench, document_fills_every_table_and_leaves_no_tbd)
{
	struct bench_opts o = {0};
	struct bench_results res;
	struct sysinfo si;
	json_t *doc = constructed_document(&res, &o, &si);
	struct kb_buf md = {0};
	struct kb_error err = {{0}};
	cr_assert_eq(baseline_doc_render(doc, &md, &err), 0, "%s", err.msg);
	cr_assert_not_null(md.data);
	cr_expect(strstr(md.data, "TBD") == NULL);
	static const char *const headings[] = {
	    "## Hardware Specifications",   "### Compilation Performance",
	    "### Memory Footprint",         "### Serialization Performance",
	    "### Query Performance",        "### Startup Time",
	    "## Profiling Analysis",        "#### Hotspots",
	    "#### Page Fault Analysis",     "## Statistical Summary",
	    "### Compilation Time Scaling", "## Hypothesis for PathMap ACT Integration",
	    "## Benchmark Execution"};
	for (size_t i = 0; i < sizeof headings / sizeof headings[0]; i++)
		cr_expect(strstr(md.data, headings[i]) != NULL, "missing %s", headings[i]);
	/* the measured row, with its real rule count beside MeTTaTron's label */
	cr_expect(
	    strstr(md.data,
		   "| `compile_small_kb` (10K label, 40,000 rules) | 4.00 ns | 4.00 ns | 7 |"),
	    "%s", md.data);
	/* what did not run says so, with the reason */
	cr_expect(strstr(md.data, "**FAILED**: (add0 zero zero) gave (foo), expected zero"));
	cr_expect(strstr(md.data, "not measured: not selected in this run"));
	cr_expect(strstr(md.data, "**Not measured in this run**: no profiling pass in the test"));
	cr_expect(
	    strstr(md.data, "| Load time 100-1000x faster | >= 100x | 250× | measured | met |"));
	cr_expect(strstr(md.data, si.cpu_model));
	cr_expect(strstr(md.data, "kbprof bench --test"));

	struct kb_buf text = {0};
	bench_text_summary(doc, &text);
	cr_expect(strstr(text.data, "compile_small_kb"));
	cr_expect(strstr(text.data, "FAILED"));
	kb_buf_free(&text);
	kb_buf_free(&md);
	json_decref(doc);
	bench_results_free(&res);
}

Test(bench, document_rejects_other_json)
{
	json_t *j = json_pack("{s:s}", "schema", "something-else");
	struct kb_buf md = {0};
	struct kb_error err = {{0}};
	cr_expect_eq(baseline_doc_render(j, &md, &err), -1);
	cr_expect(strstr(err.msg, "not a kbprof-bench document"));
	kb_buf_free(&md);
	json_decref(j);
}

Test(bench, document_names_a_missing_or_unknown_schema_version)
{
	json_t *j = json_pack("{s:s}", "schema", "kbprof-bench");
	struct kb_buf md = {0};
	struct kb_error err = {{0}};
	cr_expect_eq(baseline_doc_render(j, &md, &err), -1);
	cr_expect(strstr(err.msg, "schema_version: missing or not an integer"), "got: %s", err.msg);
	json_object_set_new(j, "schema_version", json_integer(99));
	cr_expect_eq(baseline_doc_render(j, &md, &err), -1);
	cr_expect(strstr(err.msg, "schema_version 99: this kbprof reads version 1"), "got: %s",
		  err.msg);
	kb_buf_free(&md);
	json_decref(j);
}

Test(bench, number_formats_are_readable)
{
	char b[32];
	doc_fmt_ns(850, b, sizeof b);
	cr_expect_str_eq(b, "850 ns");
	doc_fmt_ns(1234567, b, sizeof b);
	cr_expect_str_eq(b, "1.23 ms");
	doc_fmt_ns(65.4e9, b, sizeof b);
	cr_expect_str_eq(b, "65.4 s");
	doc_fmt_bytes(13389055, b, sizeof b);
	cr_expect_str_eq(b, "12.8 MiB");
	doc_fmt_count(138639055, b, sizeof b);
	cr_expect_str_eq(b, "138,639,055");
	doc_fmt_count(12, b, sizeof b);
	cr_expect_str_eq(b, "12");
}

/* ---- machine and kernel measurements ---- */

Test(bench, sysinfo_finds_cpu_memory_storage_kernel_and_build)
{
	struct sysinfo si;
	struct kb_error err = {{0}};
	cr_assert_eq(sysinfo_detect(&si, ".", &err), 0, "%s", err.msg);
	cr_expect(strlen(si.cpu_model) > 0);
	cr_expect(si.threads > 0);
	cr_expect(si.cores > 0 && si.cores <= si.threads);
	cr_expect(si.ram_bytes > 0);
	cr_expect(strlen(si.kernel) > 0);
	cr_expect(strncmp(si.kernel, "Linux ", 6) == 0);
	cr_expect(strlen(si.storage_mount) > 0);
	cr_expect(strlen(si.storage_fstype) > 0);
	cr_expect(strlen(si.storage_path) > 0);
	cr_expect(strlen(si.version) > 0);
	cr_expect(strlen(si.commit) > 0);
	cr_expect(strlen(si.compiler) > 0);
	cr_expect(si.page_size > 0);
}

Test(bench, resident_memory_grows_when_pages_are_touched)
{
	struct meas_mem before, after;
	struct kb_error err = {{0}};
	cr_assert_eq(meas_hwm_reset(&err), 0, "%s", err.msg);
	cr_assert_eq(meas_mem_read(&before, &err), 0, "%s", err.msg);
	size_t len = 64u << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	memset(p, 1, len);
	cr_assert_eq(meas_mem_read(&after, &err), 0, "%s", err.msg);
	cr_expect_geq(after.rss - before.rss, len * 9 / 10, "rss grew by %llu",
		      (unsigned long long)(after.rss - before.rss));
	munmap(p, len);
	struct meas_mem end;
	cr_assert_eq(meas_mem_read(&end, &err), 0, "%s", err.msg);
	cr_expect_geq(end.hwm, before.rss + len * 9 / 10, "the peak remembers the mapping");
	cr_expect_lt(end.rss, after.rss);
}

/* Children for meas_in_child: one that measures, one that dies, one
 * that leaves without a result. */
static void child_grows(void *arg, void *out)
{
	size_t len = *(const size_t *)arg;
	struct meas_mem *m = out, before;
	struct kb_error err;
	meas_hwm_reset(&err);
	meas_mem_read(&before, &err);
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		memset(p, 1, len);
	meas_mem_read(m, &err);
	m->rss -= before.rss;
}

static void child_dies(void *arg, void *out)
{
	(void)arg;
	(void)out;
	abort();
}

static void child_leaves(void *arg, void *out)
{
	(void)arg;
	(void)out;
	_exit(0);
}

Test(bench, a_measurement_in_a_child_comes_back_and_a_failed_one_says_why)
{
	size_t len = 16u << 20;
	struct meas_mem m = {0};
	struct kb_error err = {{0}};
	cr_assert_eq(meas_in_child(child_grows, &len, &m, sizeof m, &err), 0, "%s", err.msg);
	cr_expect_geq(m.rss, len * 9 / 10, "the child's growth came back: %llu",
		      (unsigned long long)m.rss);
	cr_expect_eq(meas_in_child(child_dies, NULL, &m, sizeof m, &err), -1);
	cr_expect(strstr(err.msg, "died") && strstr(err.msg, "Abort"), "%s", err.msg);
	cr_expect_eq(meas_in_child(child_leaves, NULL, &m, sizeof m, &err), -1);
	cr_expect(strstr(err.msg, "no result"), "%s", err.msg);
}

Test(bench, eviction_empties_the_page_cache_for_the_file)
{
	char *dir = make_temp_dir();
	struct statfs sf;
	cr_assert_eq(statfs(dir, &sf), 0);
	if (sf.f_type == TMPFS_MAGIC) {
		rm_rf(dir);
		free(dir);
		cr_skip_test(
		    "the temporary directory is on tmpfs, which has no page cache to drop");
	}
	char path[512];
	snprintf(path, sizeof path, "%s/data", dir);
	size_t len = 4u << 20;
	char *data = malloc(len);
	memset(data, 'x', len);
	cr_assert_eq(write_file(path, data, len), 0);
	free(data);
	uint64_t resident, pages;
	struct kb_error err = {{0}};
	cr_assert_eq(meas_file_residency(path, &resident, &pages, &err), 0, "%s", err.msg);
	cr_expect_eq(pages, (len + 4095) / 4096);
	cr_expect_eq(resident, pages, "a file just written is cached");
	cr_assert_eq(meas_evict_file(path, &resident, &pages, &err), 0, "%s", err.msg);
	cr_expect_eq(resident, 0, "%llu pages still resident", (unsigned long long)resident);
	size_t n;
	char *back = read_file(path, &n);
	cr_assert_not_null(back);
	free(back);
	cr_assert_eq(meas_file_residency(path, &resident, &pages, &err), 0, "%s", err.msg);
	cr_expect_eq(resident, pages, "reading brings it back");
	rm_rf(dir);
	free(dir);
}

Test(bench, eviction_of_a_missing_file_names_it)
{
	struct kb_error err = {{0}};
	uint64_t r, p;
	cr_expect_eq(meas_evict_file("/nonexistent/kb.kbi", &r, &p, &err), -1);
	cr_expect(strstr(err.msg, "/nonexistent/kb.kbi: No such file"), "%s", err.msg);
}

/* ---- derived figures of the kb_persistence suite ---- */

static const struct bench_metric_def startup_metrics[] = {
    {"from_source", "ns", "source to ready"},   {"from_image", "ns", "image to ready"},
    {"from_image_cold", "ns", "evicted image"}, {"faults_source", "faults", "faults"},
    {"faults_image", "faults", "faults"},
};
static const struct bench_metric_def time_metric[] = {{"time", "ns", "compile"}};

/* A KB with R rules: source start-up and compile take 25 ns per rule, image
 * start-up is constant, with a little deterministic jitter. */
static uint64_t current_rules;
static int scaled_sample(struct bench_ctx *ctx, void *state)
{
	(void)state;
	static unsigned k;
	double jitter = 1.0 + 0.01 * (k++ % 3);
	double r = (double)current_rules;
	bench_record(ctx, 0, 25.0 * r * jitter); /* time / from_source: linear */
	bench_record(ctx, 1, 50000.0 * jitter);  /* from_image: constant */
	bench_record(ctx, 2, 400000.0 * jitter); /* from_image_cold: constant */
	bench_record(ctx, 3, r / 10 * jitter);
	bench_record(ctx, 4, 20.0 * jitter);
	return 0;
}

static int scaled_setup_small(struct bench_ctx *ctx, void **state)
{
	current_rules = 40000;
	bench_fact(ctx, "rules", "rules", 40000);
	bench_fact(ctx, "source_bytes", "bytes", 1291555);
	*state = NULL;
	return 0;
}

static int scaled_setup_medium(struct bench_ctx *ctx, void **state)
{
	current_rules = 400000;
	bench_fact(ctx, "rules", "rules", 400000);
	bench_fact(ctx, "source_bytes", "bytes", 13389055);
	*state = NULL;
	return 0;
}

static int time_only_sample(struct bench_ctx *ctx, void *state)
{
	(void)state;
	bench_record(ctx, 0, 25.0 * (double)current_rules);
	return 0;
}

static const struct bench_def scaled_defs[] = {
    {"compile_small_kb", "compilation", "", 5, 5, 0, 10000, time_metric, 1, scaled_setup_small,
     time_only_sample, NULL},
    {"compile_medium_kb", "compilation", "", 5, 5, 0, 100000, time_metric, 1, scaled_setup_medium,
     time_only_sample, NULL},
    {"startup_time_small_kb", "startup", "", 6, 6, 0, 10000, startup_metrics, 5, scaled_setup_small,
     scaled_sample, NULL},
    {"startup_time_medium_kb", "startup", "", 6, 6, 0, 100000, startup_metrics, 5,
     scaled_setup_medium, scaled_sample, NULL},
};

Test(bench, derived_figures_fit_scaling_and_check_the_hypothesis)
{
	const struct bench_suite suite = {"scaled", scaled_defs, 4, NULL, NULL, kbp_derive};
	struct bench_opts o = {.workdir = "/tmp"};
	struct bench_results res;
	struct kb_error err = {{0}};
	cr_assert_eq(bench_run_suite(&suite, &o, &res, &err), 0, "%s", err.msg);
	cr_assert_eq(res.failed, 0);
	json_t *d = kbp_derive(&res);
	cr_assert_not_null(d);

	const json_t *compile = json_array_get(json_object_get(d, "scaling"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(compile, "series")), "compile");
	const json_t *pts = json_object_get(compile, "points");
	cr_assert_eq(json_array_size(pts), 2);
	const json_t *p1 = json_array_get(pts, 1);
	cr_expect_float_eq(json_number_value(json_object_get(p1, "scaling_factor")), 10.0, 1e-9);
	cr_expect_float_eq(json_number_value(json_object_get(p1, "ns_per_rule")), 25.0, 1e-9);
	const json_t *fit = json_object_get(compile, "fit");
	cr_expect_float_eq(json_number_value(json_object_get(fit, "exponent")), 1.0, 1e-9);
	cr_expect_float_eq(json_number_value(json_object_get(fit, "r2")), 1.0, 1e-9);

	const json_t *hyp = json_object_get(d, "hypothesis");
	const json_t *h;
	size_t i;
	int seen = 0;
	json_array_foreach(hyp, i, h)
	{
		const char *id = json_string_value(json_object_get(h, "id"));
		const char *basis = json_string_value(json_object_get(h, "basis"));
		double v = json_number_value(json_object_get(h, "value"));
		if (strcmp(id, "load_time") == 0) {
			/* medium: median from_source 25 * 400000 * 1.01 over 50000 * 1.01 */
			cr_expect_float_eq(v, 200.0, 1e-6);
			cr_expect_str_eq(basis, "measured");
			cr_expect_str_eq(json_string_value(json_object_get(h, "verdict")), "met");
			seen++;
		} else if (strcmp(id, "startup_1gb") == 0) {
			cr_expect_str_eq(basis, "extrapolated");
			cr_expect_float_eq(v, 404000.0, 1e-3, "a flat fit predicts the constant");
			cr_expect(strstr(json_string_value(json_object_get(h, "detail")),
					 "extrapolated"));
			seen++;
		} else if (strcmp(id, "memory") == 0 || strcmp(id, "file_size") == 0) {
			cr_expect_str_eq(basis, "not measured");
			cr_expect(json_is_null(json_object_get(h, "value")));
			seen++;
		}
	}
	cr_expect_eq(seen, 4);
	cr_expect_eq(kbp_gigabyte_n(), 7600000);
	json_decref(d);
	bench_results_free(&res);
}

/* ---- the query mix ---- */

Test(bench, query_mix_is_seeded_and_covers_every_kind_of_query)
{
	struct qmix a, b, c;
	cr_assert_eq(qmix_build(&a, 10000, 26, QMIX_DEFAULT_SEED), 0);
	cr_assert_eq(qmix_build(&b, 10000, 26, QMIX_DEFAULT_SEED), 0);
	cr_assert_eq(qmix_build(&c, 10000, 26, QMIX_DEFAULT_SEED + 1), 0);
	int differs = 0;
	for (size_t i = 0; i < a.n; i++) {
		cr_expect_str_eq(a.q[i].text, b.q[i].text);
		differs |= strcmp(a.q[i].text, c.q[i].text) != 0;
	}
	cr_expect(differs, "another seed gives another mix");
	static const char *const kinds[] = {"(add",        "(mul",        "(and",   "(or",
					    "(length",     "(append",     "(match", "(equals",
					    "(not-equals", "(match &self"};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		int found = 0;
		for (size_t i = 0; i < a.n; i++)
			found |= strncmp(a.q[i].text, kinds[k], strlen(kinds[k])) == 0;
		cr_expect(found, "no %s query", kinds[k]);
	}
	/* indexes stay inside the KB: 10000 / 4 functions */
	for (size_t i = 0; i < a.n; i++) {
		const char *p = a.q[i].text + 1;
		while (*p && (*p < '0' || *p > '9'))
			p++;
		cr_expect_lt(strtoul(p, NULL, 10), 2500, "%s", a.q[i].text);
	}
	qmix_free(&a);
	qmix_free(&b);
	qmix_free(&c);
	struct qmix none;
	cr_expect_eq(qmix_build(&none, 3, 10, 1), -1, "a KB without functions has no mix");
}

Test(bench, query_check_compares_multisets_up_to_variable_names)
{
	struct kb_buf b = {0};
	qmix_canonical("(f $x (g $y $x) \"$s\")", &b);
	cr_expect_str_eq(b.data, "(f $0 (g $1 $0) \"$s\")");
	kb_buf_free(&b);

	struct qmix_query q = {"(match0 foo foo)", {"True", "False"}, 2};
	char msg[256];
	char *right[] = {"False", "True"};
	cr_expect_eq(qmix_check(&q, right, 2, msg, sizeof msg), 0, "order does not matter");
	char *missing[] = {"True"};
	cr_expect_eq(qmix_check(&q, missing, 1, msg, sizeof msg), -1);
	cr_expect_str_eq(msg, "(match0 foo foo) gave [True], expected [False, True]");
	char *twice[] = {"True", "True"};
	cr_expect_eq(qmix_check(&q, twice, 2, msg, sizeof msg), -1, "multiplicity counts");
	cr_expect_eq(qmix_check(&q, NULL, 0, msg, sizeof msg), -1);
	cr_expect_str_eq(msg, "(match0 foo foo) gave [], expected [False, True]");
}

/* ---- the command ---- */

Test(bench, cli_lists_the_seed_benchmarks_with_sample_counts)
{
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "bench", "--list", NULL), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	static const char *const names[] = {
	    "compile_small_kb",          "compile_medium_kb",          "compile_large_kb",
	    "memory_footprint_small_kb", "memory_footprint_medium_kb", "serialize_small_kb",
	    "deserialize_small_kb",      "query_cold_small_kb",        "query_warm_small_kb",
	    "startup_time_small_kb",     "startup_time_medium_kb",     "startup_time_large_kb"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		cr_expect(strstr(r.out, names[i]) != NULL, "--list lacks %s:\n%s", names[i], r.out);
	/* MeTTaTron's sample counts: 100 / 100 / 10 for compile */
	cr_expect(strstr(r.out, "compile_small_kb             compilation         100"), "%s",
		  r.out);
	cr_expect(strstr(r.out, "compile_large_kb             compilation          10"), "%s",
		  r.out);
	run_result_free(&r);

	cr_assert_eq(run_kbprof(&r, NULL, "bench", "--list", "--filter", "query_*", NULL), 0);
	cr_expect(strstr(r.out, "query_cold_small_kb"));
	cr_expect(strstr(r.out, "compile_small_kb") == NULL);
	run_result_free(&r);
}

Test(bench, cli_runs_a_filtered_benchmark_and_writes_json_and_document)
{
	char *dir = make_temp_dir();
	char json[512], doc[512];
	snprintf(json, sizeof json, "%s/r.json", dir);
	snprintf(doc, sizeof doc, "%s/BASELINE.md", dir);
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "bench", "--filter", "compile_small_kb", "--samples", "2",
				"--json", json, "--doc", doc, "--workdir", dir, NULL),
		     0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "compile_small_kb"), "%s", r.out);
	cr_expect_eq(r.err_len, 0, "quiet when stderr is not a terminal: %s", r.err);
	run_result_free(&r);

	json_error_t jerr;
	json_t *j = json_load_file(json, 0, &jerr);
	cr_assert_not_null(j, "%s", jerr.text);
	const json_t *benches = json_object_get(j, "benchmarks");
	cr_assert_eq(json_array_size(benches), 1);
	const json_t *b = json_array_get(benches, 0);
	cr_expect_str_eq(json_string_value(json_object_get(b, "status")), "ok");
	const json_t *m = json_array_get(json_object_get(b, "metrics"), 0);
	cr_expect_eq(json_array_size(json_object_get(m, "samples")), 2);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(b, "kb"), "rules")), 40000);
	json_decref(j);

	size_t len;
	char *md = read_file(doc, &len);
	cr_assert_not_null(md);
	cr_expect(strstr(md, "TBD") == NULL);
	cr_expect(strstr(md, "| `compile_small_kb` (10K label, 40,000 rules) |"), "%s", md);
	cr_expect(strstr(md, "not selected in this run"), "the rest says it was not measured");
	free(md);
	rm_rf(dir);
	free(dir);
}

Test(bench, cli_rejects_bad_arguments_with_the_usage_code)
{
	static const char *const bad[][3] = {
	    {"--samples", "0", NULL},  {"--samples", "many", NULL}, {"--filter", "no_such", NULL},
	    {"--suite", "nope", NULL}, {"extra", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct run_result r;
		cr_assert_eq(run_kbprof(&r, NULL, "bench", bad[i][0], bad[i][1], NULL), 0);
		cr_expect_eq(r.status, 2, "%s %s: %d", bad[i][0], bad[i][1] ? bad[i][1] : "",
			     r.status);
		cr_expect(strstr(r.err, "kbprof bench: "), "%s", r.err);
		run_result_free(&r);
	}
}

Test(bench, cli_profiling_pass_gives_hotspots_faults_and_refused_events)
{
	char *dir = make_temp_dir();
	char json[512];
	snprintf(json, sizeof json, "%s/r.json", dir);
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "bench", "--filter", "query_warm_small_kb", "--samples",
				"1", "--json", json, "--workdir", dir, NULL),
		     0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	run_result_free(&r);
	json_error_t jerr;
	json_t *j = json_load_file(json, 0, &jerr);
	cr_assert_not_null(j, "%s", jerr.text);
	const json_t *p = json_object_get(j, "profile");
	const char *status = json_string_value(json_object_get(p, "status"));
	cr_assert_not_null(status);
	if (strcmp(status, "ok") != 0) {
		const char *why = json_string_value(json_object_get(p, "reason"));
		cr_assert(why && strstr(why, "permission"), "not measured: %s", why ? why : "");
		json_decref(j);
		rm_rf(dir);
		free(dir);
		cr_skip_test("perf events are not permitted here: %s", why);
	}
	cr_expect(strstr(json_string_value(json_object_get(p, "command")), "record -g --faults"));
	cr_expect_gt(json_array_size(json_object_get(p, "hotspots")), 0);
	cr_expect_gt(json_integer_value(json_object_get(p, "samples")), 0);
	/* the benchmark is a region, and its faults are attributed to it */
	const json_t *f;
	size_t i;
	int region = 0;
	json_array_foreach(json_object_get(p, "faults"), i, f)
	{
		const char *name = json_string_value(json_object_get(f, "region"));
		region |= strncmp(name, "query_warm_small_kb", 19) == 0 &&
			  json_integer_value(json_object_get(f, "faults")) > 0;
	}
	cr_expect(region, "no faults attributed to the benchmark's region");
	if (access("/sys/bus/event_source/devices/cpu", F_OK) != 0) {
		/* no hardware PMU: cycles is refused, and sampling fell back */
		int cycles = 0;
		json_array_foreach(json_object_get(p, "events_not_counted"), i, f)
		{
			cycles |=
			    strcmp(json_string_value(json_object_get(f, "event")), "cycles") == 0;
		}
		cr_expect(cycles);
		cr_expect_str_eq(json_string_value(json_object_get(p, "event")), "cpu-clock");
	}
	json_decref(j);
	rm_rf(dir);
	free(dir);
}

static int skipping_setup(struct bench_ctx *ctx, void **state)
{
	(void)state;
	return bench_skip(ctx, "not enough free disk for a 1 GB KB (%d bytes needed)", 42);
}

Test(bench, a_benchmark_the_machine_cannot_run_is_skipped_with_its_reason)
{
	static const struct bench_def defs[] = {
	    {"startup_time_1gb_kb", "startup", "", 5, 0, 1, 7600000, two_metrics, 2, skipping_setup,
	     counting_sample, NULL},
	};
	const struct bench_suite suite = {"skip", defs, 1, NULL, NULL, NULL};
	struct bench_opts o = {.workdir = "/tmp"};
	struct bench_results res;
	struct kb_error err = {{0}};
	memset(&counting, 0, sizeof counting);
	cr_assert_eq(bench_run_suite(&suite, &o, &res, &err), 0, "%s", err.msg);
	cr_assert_eq(res.n, 1);
	cr_expect_eq(res.items[0].status, BENCH_SKIPPED);
	cr_expect_eq(res.failed, 0, "a skip is not a failure");
	cr_expect_str_eq(res.items[0].error,
			 "not enough free disk for a 1 GB KB (42 bytes needed)");
	cr_expect_eq(counting.calls, 0, "no sample ran");
	bench_results_free(&res);
}
