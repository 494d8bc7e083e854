/* Tests of `kbprof report`: the real binary on recordings written with the
 * probes' writer (tests/recfixture) and on real recordings of
 * tests/probe_target made by `kbprof record`; every format; bad input
 * (missing, foreign, cut and corrupted files, a rebuilt binary). */
#include "analyze/faults.h"
#include "analyze/hotspots.h"
#include "tests/recfixture.h"
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define TARGET KBPROF_BINARY_DIR "/tests/probe_target"

/* Test functions are global (LTO keeps their names) and never cloned. */
#ifdef __clang__
#define TEST_FN __attribute__((noinline))
#else
#define TEST_FN __attribute__((noinline, noclone))
#endif
void rc_leaf(void);
void rc_root(void);

static volatile int sink;

TEST_FN void rc_leaf(void)
{
	for (int i = 0; i < 8; i++)
		sink += i;
}

TEST_FN void rc_root(void)
{
	for (int i = 0; i < 8; i++)
		rc_leaf();
}

#define LEAF ((uint64_t)(uintptr_t)&rc_leaf + 4)
#define ROOT_RA ((uint64_t)(uintptr_t)&rc_root + 9)
#define ROOT_IP ((uint64_t)(uintptr_t)&rc_root + 4)

static char *dir, path[PATH_MAX];

static void setup(void)
{
	dir = make_temp_dir();
	snprintf(path, sizeof path, "%s/kbprof.data", dir);
	rc_root();
}

static void teardown(void)
{
	rm_rf(dir);
	free(dir);
}

TestSuite(report_cli, .init = setup, .fini = teardown);

/* 3 samples leaf<-root, 1 root; regions; 2 faults in a made-up image. */
static void write_recording(const char *where)
{
	struct recw_file *f = fx_create(where);
	struct recw_mmap m = {.pid = FX_PID,
			      .tid = FX_PID,
			      .time = 1500,
			      .start = 0x700000000000ULL,
			      .len = 1 << 20,
			      .prot = PROT_READ,
			      .map_flags = MAP_SHARED,
			      .flags = 4u,
			      .filename = "/data/kb.img"};
	cr_assert_eq(recw_mmap(&f->enc, &m), 0);
	fx_region(f, 1, FX_PID, 2000, 1, "parse");
	uint64_t a[] = {LEAF, ROOT_RA}, b[] = {ROOT_IP};
	for (int i = 0; i < 3; i++)
		fx_sample(f, FX_CPU_EVENT, FX_PID, 2100 + (uint64_t)i, 1000, 0, 2, a);
	fx_sample(f, FX_FAULT_EVENT, FX_PID, 2200, 1, 0x700000000000ULL + 10, 2, a);
	fx_region(f, 0, FX_PID, 3000, 1, "parse");
	fx_sample(f, FX_CPU_EVENT, FX_PID, 3100, 1000, 0, 1, b);
	fx_sample(f, FX_FAULT_EVENT, FX_PID, 3200, 1, 0x700000000000ULL + 4096 * 3, 1, b);
	fx_finish(f, 9000, 5, 0);
}

/* out with every run of spaces squeezed to one, for matching table rows */
static char *squeeze(const char *out)
{
	char *s = strdup(out);
	cr_assert_not_null(s);
	size_t k = 0;
	for (size_t i = 0; s[i]; i++)
		if (!(s[i] == ' ' && k > 0 && s[k - 1] == ' '))
			s[k++] = s[i];
	s[k] = '\0';
	return s;
}

static struct run_result report(const char *a1, const char *a2, const char *a3, const char *a4)
{
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "report", "-i", path, a1, a2, a3, a4, NULL), 0);
	return r;
}

Test(report_cli, text_report_shows_top_functions_and_totals)
{
	write_recording(path);
	struct run_result r = report(NULL, NULL, NULL, NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	char *sq = squeeze(r.out);
	cr_expect_not_null(strstr(sq, " 75.00% 3 75.00% 3 rc_leaf test_report_cli "), "%s", sq);
	cr_expect_not_null(strstr(sq, " 25.00% 1 100.00% 4 rc_root "), "%s", sq);
	cr_expect_not_null(strstr(sq, " parse 75.00% 3 75.00% 3 1 1.000 us"), "%s", sq);
	free(sq);
	cr_expect_not_null(strstr(r.out, "fixture --run"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "4 selected of 4"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "100.0% of samples in a known function"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "sampled on cpu-clock as a fallback"), "%s", r.out);
	run_result_free(&r);
}

Test(report_cli, region_sort_limit_callers_and_lines)
{
	write_recording(path);
	struct run_result r = report("--region", "parse", "--lines", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_not_null(
	    strstr(r.out, "3 selected of 4 (lost 0, throttled 0 times), region parse"), "%s",
	    r.out);
	cr_expect_not_null(strstr(r.out, "source lines of rc_leaf:"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "test_report_cli.c:"), "%s", r.out);
	run_result_free(&r);
	r = report("--sort", "total", "--limit", "1");
	cr_expect_not_null(strstr(r.out, "top functions by inclusive"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "rc_root"), "%s", r.out);
	cr_expect_null(strstr(r.out, "rc_leaf  "), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "(1 of 2 functions)"), "%s", r.out);
	run_result_free(&r);
	r = report("--callers", "rc_leaf", NULL, NULL);
	cr_expect_not_null(strstr(r.out, "callers and callees of rc_leaf (on the call chain of 3"),
			   "%s", r.out);
	run_result_free(&r);
}

Test(report_cli, json_follows_the_documented_schema)
{
	write_recording(path);
	struct run_result r = report("--format", "json", "--callers", "rc_root");
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	json_error_t je;
	json_t *root = json_loads(r.out, 0, &je);
	cr_assert_not_null(root, "%s: %s", je.text, r.out);
	cr_expect_str_eq(json_string_value(json_object_get(root, "schema")),
			 "kbprof-report-hotspots");
	cr_expect_eq(json_integer_value(json_object_get(root, "schema_version")), 1);
	json_t *fns = json_object_get(root, "functions");
	cr_assert_eq(json_array_size(fns), 2);
	json_t *f0 = json_array_get(fns, 0);
	cr_expect_str_eq(json_string_value(json_object_get(f0, "name")), "rc_leaf");
	json_t *self = json_object_get(f0, "self");
	cr_expect_eq(json_integer_value(json_object_get(self, "samples")), 3);
	cr_expect_eq(json_integer_value(json_object_get(self, "weight")), 3000);
	cr_expect_float_eq(json_real_value(json_object_get(self, "pct")), 75.0, 1e-9);
	json_t *tot = json_object_get(root, "totals");
	cr_expect_eq(json_integer_value(json_object_get(tot, "samples")), 4);
	json_t *ev = json_object_get(root, "event");
	cr_expect_str_eq(json_string_value(json_object_get(ev, "name")), "cpu-clock");
	cr_expect(json_is_true(json_object_get(ev, "fallback")));
	json_t *rec = json_object_get(root, "recording");
	cr_expect_eq(json_integer_value(json_object_get(rec, "duration_ns")), 8000);
	cr_expect(json_is_true(json_object_get(rec, "finished")));
	json_t *cg = json_object_get(root, "callgraph");
	cr_expect_eq(json_integer_value(json_object_get(cg, "matches")), 1);
	cr_expect_eq(json_array_size(json_object_get(cg, "callees")), 2);
	cr_expect(json_is_array(json_object_get(root, "regions")));
	cr_expect(json_is_array(json_object_get(root, "warnings")));
	json_decref(root);
	run_result_free(&r);
}

Test(report_cli, markdown_and_folded)
{
	write_recording(path);
	struct run_result r = report("--format", "markdown", NULL, NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_not_null(strstr(r.out, "## Hotspots"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "| self% | self | total% | total | function |"), "%s",
			   r.out);
	cr_expect_not_null(strstr(r.out, "|---:|---:|---:|---:|---|"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "| 75.00% | 3 | 75.00% | 3 | rc_leaf |"), "%s", r.out);
	run_result_free(&r);
	r = report("--format", "folded", NULL, NULL);
	cr_expect_str_eq(r.out, "rc_root 1\nrc_root;rc_leaf 3\n");
	run_result_free(&r);
}

Test(report_cli, fault_report_in_every_format)
{
	write_recording(path);
	struct run_result r = report("--faults", NULL, NULL, NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_not_null(strstr(r.out, "2 selected; on 2 pages"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "/data/kb.img @0x700000000000"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "difference +3"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "parse"), "%s", r.out);
	run_result_free(&r);
	r = report("--faults", "--format", "json", NULL);
	json_error_t je;
	json_t *root = json_loads(r.out, 0, &je);
	cr_assert_not_null(root, "%s", je.text);
	cr_expect_str_eq(json_string_value(json_object_get(root, "schema")),
			 "kbprof-report-faults");
	json_t *tot = json_object_get(root, "totals");
	cr_expect_eq(json_integer_value(json_object_get(tot, "faults")), 2);
	cr_expect(json_is_null(json_object_get(tot, "minor")));
	json_t *ru = json_object_get(root, "rusage");
	cr_expect_eq(json_integer_value(json_object_get(ru, "difference")), 3);
	json_decref(root);
	run_result_free(&r);
	r = report("--faults", "--format", "folded", NULL);
	cr_expect_str_eq(r.out, "rc_root 1\nrc_root;rc_leaf 1\n");
	run_result_free(&r);
	r = report("--faults", "--format", "markdown", "--region=parse");
	cr_expect_not_null(strstr(r.out, "## Page faults"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "1 selected, region parse;"), "%s", r.out);
	run_result_free(&r);
}

Test(report_cli, output_file_option)
{
	write_recording(path);
	char out[PATH_MAX];
	snprintf(out, sizeof out, "%s/report.md", dir);
	struct run_result r = report("-o", out, "--format", "markdown");
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_eq(r.out_len, 0);
	size_t len;
	char *text = read_file(out, &len);
	cr_assert_not_null(text);
	cr_expect_not_null(strstr(text, "rc_leaf"));
	free(text);
	run_result_free(&r);
}

Test(report_cli, missing_and_foreign_files_fail_clearly)
{
	struct run_result r = report(NULL, NULL, NULL, NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_not_null(strstr(r.err, "kbprof report: "), "%s", r.err);
	cr_expect_not_null(strstr(r.err, "No such file"), "%s", r.err);
	run_result_free(&r);
	cr_assert_eq(write_file(path,
				"\x7f"
				"ELF not a recording at all",
				27),
		     0);
	r = report(NULL, NULL, NULL, NULL);
	cr_expect_eq(r.status, 1);
	cr_expect_not_null(strstr(r.err, "not a kbprof recording"), "%s", r.err);
	run_result_free(&r);
}

Test(report_cli, usage_errors_exit_2)
{
	struct run_result r = report("--sort", "fastest", NULL, NULL);
	cr_expect_eq(r.status, 2);
	cr_expect_not_null(strstr(r.err, "--sort wants self or total"), "%s", r.err);
	run_result_free(&r);
	r = report("--format", "html", NULL, NULL);
	cr_expect_eq(r.status, 2);
	run_result_free(&r);
	r = report("--faults", "--lines", NULL, NULL);
	cr_expect_eq(r.status, 2);
	run_result_free(&r);
	r = report("extra", NULL, NULL, NULL);
	cr_expect_eq(r.status, 2);
	run_result_free(&r);
}

Test(report_cli, fault_report_of_a_cpu_only_recording_says_how_to_record)
{
	struct recw_file *f = fx_create(path);
	uint64_t a[] = {LEAF};
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2100, 1000, 0, 1, a);
	fx_finish(f, 9000, 0, 0);
	/* the fixture declares fault events; a file with none declared: */
	struct recw_file *g;
	char other[PATH_MAX];
	snprintf(other, sizeof other, "%s/cpu.data", dir);
	struct kb_error err = {{0}};
	cr_assert_eq(recw_file_create(&g, other, &err), 0);
	char *argv[] = {"x", NULL};
	struct recw_session s = {.start_ns = 1, .clockid = 1, .pid = 1, .argc = 1, .argv = argv};
	cr_assert_eq(recw_session(&g->enc, &s), 0);
	cr_assert_eq(recw_event(&g->enc, 0, 1, 1, 3u, 0, 4000, "cpu-clock", ""), 0);
	fx_finish(g, 10, 0, 0);
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "report", "--faults", "-i", other, NULL), 0);
	cr_expect_eq(r.status, 1);
	cr_expect_not_null(strstr(r.err, "kbprof record --faults"), "%s", r.err);
	run_result_free(&r);
}

Test(report_cli, rebuilt_binary_is_a_warning_not_a_failure)
{
	struct recw_file *f = fx_create_bare(path);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	cr_assert_gt(n, 0);
	self[n] = '\0';
	struct recw_module mod = {.build_id_len = 20, .elf_type = 3, .path = self, .note = ""};
	memset(mod.build_id, 0xee, 20);
	cr_assert_eq(recw_module(&f->enc, &mod), 0);
	fx_self_maps(f, FX_PID, 1001);
	uint64_t a[] = {LEAF};
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2100, 1000, 0, 1, a);
	fx_finish(f, 9000, 0, 0);
	struct run_result r = report(NULL, NULL, NULL, NULL);
	cr_expect_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_not_null(strstr(r.out, "differs from the recorded eeeeeeee"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "[test_report_cli]"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "0.0% of samples in a known function"), "%s", r.out);
	run_result_free(&r);
}

/* A cut anywhere: a report of what is left, or a clear error; the
 * analysis runs in this process so ASan watches every read. */
Test(report_cli, cut_recordings_never_crash_the_analysis)
{
	write_recording(path);
	size_t len;
	char *data = read_file(path, &len);
	cr_assert_not_null(data);
	char cut[PATH_MAX];
	snprintf(cut, sizeof cut, "%s/cut.data", dir);
	size_t step = len / 300 ? len / 300 : 1;
	for (size_t at = 0; at < len; at += step) {
		cr_assert_eq(write_file(cut, data, at), 0);
		struct prof *p;
		struct kb_error err = {{0}};
		struct prof_options po = {.keep_faults = 1, .keep_fault_chains = 1};
		if (prof_load(&p, cut, &po, &err) != 0) {
			cr_expect(err.msg[0] != '\0', "cut %zu: no message", at);
			continue;
		}
		struct hot_options ho = {.lines = 1, .folded = 1, .callers_of = "rc_root"};
		struct hot_report *hr;
		if (hot_report_build(p, &ho, &hr, &err) == 0)
			hot_report_free(hr);
		struct flt_report *fr;
		struct flt_options fo = {.folded = 1};
		if (flt_report_build(p, &fo, &fr, &err) == 0)
			flt_report_free(fr);
		prof_free(p);
	}
	free(data);
}

Test(report_cli, corrupted_bytes_never_crash_the_analysis)
{
	write_recording(path);
	size_t len;
	char *data = read_file(path, &len);
	cr_assert_not_null(data);
	char bad[PATH_MAX];
	snprintf(bad, sizeof bad, "%s/bad.data", dir);
	uint64_t x = 88172645463325252ULL;
	for (int round = 0; round < 200; round++) {
		char *copy = malloc(len);
		cr_assert_not_null(copy);
		memcpy(copy, data, len);
		for (int k = 0; k < 4; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			size_t at = 16 + (size_t)(x % (len - 16));
			copy[at] = (char)(x >> 32);
		}
		cr_assert_eq(write_file(bad, copy, len), 0);
		free(copy);
		struct prof *p;
		struct kb_error err = {{0}};
		struct prof_options po = {.keep_faults = 1, .keep_fault_chains = 1};
		if (prof_load(&p, bad, &po, &err) != 0)
			continue;
		struct hot_options ho = {.lines = 1, .folded = 1, .callers_of = "rc_root"};
		struct hot_report *hr;
		if (hot_report_build(p, &ho, &hr, &err) == 0)
			hot_report_free(hr);
		struct flt_report *fr;
		struct flt_options fo = {.folded = 1};
		if (flt_report_build(p, &fo, &fr, &err) == 0)
			flt_report_free(fr);
		prof_free(p);
	}
	free(data);
}

Test(report_cli, truncated_file_through_the_cli_warns_and_reports)
{
	write_recording(path);
	size_t len;
	char *data = read_file(path, &len);
	cr_assert_not_null(data);
	cr_assert_eq(write_file(path, data, len - 20), 0);
	free(data);
	struct run_result r = report(NULL, NULL, NULL, NULL);
	cr_expect_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_not_null(strstr(r.out, "truncated at offset"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "rc_leaf"), "%s", r.out);
	run_result_free(&r);
}

/* ---- real recordings of tests/probe_target ---- */

static int record(const char *const *extra, size_t n_extra)
{
	const char *argv[32];
	size_t k = 0;
	argv[k++] = kbprof_bin();
	argv[k++] = "record";
	argv[k++] = "-g";
	argv[k++] = "-o";
	argv[k++] = path;
	for (size_t i = 0; i < n_extra; i++)
		argv[k++] = extra[i];
	argv[k] = NULL;
	struct run_result r;
	cr_assert_eq(run_capture((char *const *)argv, NULL, &r), 0);
	int st = r.status;
	if (st != 0 && (strstr(r.err, "no permission") || strstr(r.err, "not supported")))
		st = -1;
	run_result_free(&r);
	return st;
}

Test(report_cli, real_recording_finds_the_hot_function_at_its_share)
{
	const char *args[] = {"--", TARGET, "hot", "400"};
	int st = record(args, 4);
	if (st < 0)
		cr_skip_test("perf_event_open refused cpu-clock sampling here");
	cr_assert_eq(st, 0);
	struct run_result r = report("--format", "json", "--region", "hot");
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	json_error_t je;
	json_t *root = json_loads(r.out, 0, &je);
	cr_assert_not_null(root, "%s", je.text);
	double hot = -1, cold = -1;
	size_t i;
	json_t *fn;
	json_array_foreach(json_object_get(root, "functions"), i, fn)
	{
		const char *name = json_string_value(json_object_get(fn, "name"));
		double pct = json_real_value(json_object_get(json_object_get(fn, "self"), "pct"));
		if (strcmp(name, "hot_fn") == 0)
			hot = pct;
		if (strcmp(name, "cold_fn") == 0)
			cold = pct;
	}
	/* 9:1 in work; kernel samples and timer noise take a little of both */
	cr_expect_gt(hot, 0);
	cr_expect_gt(cold, 0);
	cr_expect(hot / (hot + cold) > 0.8 && hot / (hot + cold) < 0.97, "hot %.2f cold %.2f", hot,
		  cold);
	json_t *cov = json_object_get(json_object_get(root, "totals"), "coverage");
	cr_expect_gt(json_real_value(json_object_get(cov, "function_pct")), 90.0);
	json_decref(root);
	run_result_free(&r);
}

Test(report_cli, real_fault_recording_attributes_faults_to_the_file_mapping)
{
	char file[PATH_MAX];
	snprintf(file, sizeof file, "%s/image.bin", dir);
	char zeros[64 * 4096];
	memset(zeros, 1, sizeof zeros);
	cr_assert_eq(write_file(file, zeros, sizeof zeros), 0);
	const char *args[] = {"--faults", "--", TARGET, "filemap", file, "40"};
	int st = record(args, 6);
	if (st < 0)
		cr_skip_test("perf_event_open refused page-fault sampling here");
	cr_assert_eq(st, 0);
	struct run_result r = report("--faults", "--format", "json", "--region=filemap");
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	json_error_t je;
	json_t *root = json_loads(r.out, 0, &je);
	cr_assert_not_null(root, "%s", je.text);
	long faults = -1;
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(root, "mappings"), i, m)
	{
		if (strcmp(json_string_value(json_object_get(m, "name")), file) == 0)
			faults = (long)json_integer_value(json_object_get(m, "faults"));
	}
	/* one write per page of a private file mapping: one fault per page */
	cr_expect_eq(faults, 40, "faults in %s: %ld\n%s", file, faults, r.out);
	json_decref(root);
	run_result_free(&r);
}

/* ---- --flamegraph and --html: the same renderers as `kbprof flamegraph`
 * and `kbprof html`, on the samples the report's filters select ---- */

static char *read_out(const char *name)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	size_t len;
	char *text = read_file(p, &len);
	cr_assert_not_null(text, "%s was not written", p);
	return text;
}

Test(report_cli, flamegraph_option_draws_the_selected_samples_with_tooltips_and_search)
{
	write_recording(path);
	char svg[PATH_MAX];
	snprintf(svg, sizeof svg, "%s/all.svg", dir);
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "report", "-i", path, "--flamegraph", svg, NULL), 0);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_not_null(strstr(r.out, svg), "the file written is listed: %s", r.out);
	cr_expect_null(strstr(r.out, "top functions"), "no text report unless asked: %s", r.out);
	run_result_free(&r);
	char *text = read_out("all.svg");
	cr_expect_not_null(strstr(text, "<svg"));
	cr_expect_not_null(strstr(text, "<title>all (4 samples, 100.00%)</title>"), "%s", text);
	cr_expect_not_null(strstr(text, "<title>rc_root (4 samples, 100.00%)</title>"), "%s", text);
	cr_expect_not_null(strstr(text, "<title>rc_leaf (3 samples, 75.00%)</title>"), "%s", text);
	cr_expect_not_null(strstr(text, "class=\"fg-search"), "the search control");
	cr_expect_not_null(strstr(text, "<script"), "the search and zoom script");
	free(text);

	/* --region: only the samples inside parse; -f text: the report too */
	snprintf(svg, sizeof svg, "%s/parse.svg", dir);
	cr_assert_eq(run_kbprof(&r, NULL, "report", "-i", path, "--region", "parse", "-f", "text",
				"--flamegraph", svg, "--title", "Parse <only>", NULL),
		     0);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_not_null(strstr(r.out, "top functions"), "%s", r.out);
	run_result_free(&r);
	text = read_out("parse.svg");
	cr_expect_not_null(strstr(text, "<title>all (3 samples, 100.00%)</title>"), "%s", text);
	cr_expect_not_null(strstr(text, "<title>rc_leaf (3 samples, 100.00%)</title>"), "%s", text);
	cr_expect_not_null(strstr(text, "Parse &lt;only&gt;"), "the title, escaped");
	cr_expect_not_null(strstr(text, "region parse"), "the subtitle names the filter");
	free(text);

	/* --faults: the faults' call chains, counted as faults */
	snprintf(svg, sizeof svg, "%s/faults.svg", dir);
	cr_assert_eq(
	    run_kbprof(&r, NULL, "report", "-i", path, "--faults", "--flamegraph", svg, NULL), 0);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_result_free(&r);
	text = read_out("faults.svg");
	cr_expect_not_null(strstr(text, "<title>all (2 faults, 100.00%)</title>"), "%s", text);
	cr_expect_not_null(strstr(text, "<title>rc_leaf (1 faults, 50.00%)</title>"), "%s", text);
	free(text);
}

Test(report_cli, flamegraph_option_of_a_filter_that_selects_nothing_fails_clearly)
{
	write_recording(path);
	char svg[PATH_MAX];
	snprintf(svg, sizeof svg, "%s/none.svg", dir);
	struct run_result r;
	cr_assert_eq(
	    run_kbprof(&r, NULL, "report", "-i", path, "--pid", "99", "--flamegraph", svg, NULL),
	    0);
	cr_expect_eq(r.status, 1);
	cr_expect_not_null(strstr(r.err, "no CPU samples selected"), "%s", r.err);
	cr_expect_not_null(strstr(r.err, "pid 99"), "%s", r.err);
	cr_expect_neq(access(svg, F_OK), 0, "no file for nothing");
	run_result_free(&r);
}

Test(report_cli, html_option_writes_one_self_contained_page)
{
	write_recording(path);
	char out[PATH_MAX];
	snprintf(out, sizeof out, "%s/page", dir);
	const char *bench = KBPROF_SOURCE_DIR "/tests/data/compare/base-1.json";
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "report", "-i", path, "--html", out, "--bench", bench,
				"--title", "A & B", NULL),
		     0);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_not_null(strstr(r.out, "page/index.html"), "%s", r.out);
	run_result_free(&r);
	char *html = read_out("page/index.html");
	cr_expect_not_null(strstr(html, "<title>A &amp; B</title>"));
	cr_expect_not_null(strstr(html, "<style>"), "inline CSS");
	cr_expect_not_null(strstr(html, "id=\"bench-table\""));
	cr_expect_not_null(strstr(html, "id=\"scaling-chart\""));
	cr_expect_not_null(strstr(html, "id=\"hotspot-table\""));
	cr_expect_not_null(strstr(html, "<td>rc_leaf</td>"), "hotspot row");
	cr_expect_not_null(strstr(html, "id=\"flamegraph\""));
	cr_expect_not_null(strstr(html, "<title>rc_leaf (3 samples, 75.00%)</title>"));
	cr_expect_not_null(strstr(html, "id=\"fault-timeline\""));
	cr_expect_not_null(strstr(html, "class=\"fault-row\""));
	cr_expect_not_null(strstr(html, "id=\"env-table\""));
	cr_expect_not_null(strstr(html, "fixture --run"), "the recording's command");
	cr_expect_null(strstr(html, "class=\"absent\""), "every section has its data");
	/* nothing reaches for a network: no external resources at all */
	cr_expect_null(strstr(html, "<link"));
	cr_expect_null(strstr(html, " src="));
	cr_expect_null(strstr(html, "url("));
	cr_expect_null(strstr(html, "https:"));
	free(html);

	/* the filters apply: outside region parse, rc_leaf has no sample */
	cr_assert_eq(
	    run_kbprof(&r, NULL, "report", "-i", path, "--html", out, "--region", "parse", NULL),
	    0);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	run_result_free(&r);
	html = read_out("page/index.html");
	cr_expect_not_null(strstr(html, "<title>all (3 samples, 100.00%)</title>"), "%s", html);
	cr_expect_not_null(strstr(html, "region parse"));
	cr_expect_not_null(strstr(html, "no bench results given"), "no --bench this time");
	free(html);
}

Test(report_cli, html_option_reports_an_unwritable_directory_and_a_missing_recording)
{
	write_recording(path);
	char out[PATH_MAX];
	snprintf(out, sizeof out, "%s/kbprof.data/sub", dir); /* below a regular file */
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "report", "-i", path, "--html", out, NULL), 0);
	cr_expect_eq(r.status, 1);
	cr_expect_not_null(strstr(r.err, "kbprof report: "), "%s", r.err);
	cr_expect_not_null(strstr(r.err, "sub: cannot create the directory: Not a directory"), "%s",
			   r.err);
	run_result_free(&r);

	snprintf(out, sizeof out, "%s/page", dir);
	cr_assert_eq(
	    run_kbprof(&r, NULL, "report", "-i", "/nonexistent/kbprof.data", "--html", out, NULL),
	    0);
	cr_expect_eq(r.status, 1);
	cr_expect_not_null(strstr(r.err, "/nonexistent/kbprof.data: No such file"), "%s", r.err);
	cr_expect_neq(access(out, F_OK), 0, "nothing written");
	run_result_free(&r);

	cr_assert_eq(run_kbprof(&r, NULL, "report", "-i", path, "--html", out, "--bench",
				"/nonexistent/bench.json", NULL),
		     0);
	cr_expect_eq(r.status, 1);
	cr_expect_not_null(strstr(r.err, "/nonexistent/bench.json"), "%s", r.err);
	run_result_free(&r);

	cr_assert_eq(run_kbprof(&r, NULL, "report", "-i", path, "--bench", "b.json", NULL), 0);
	cr_expect_eq(r.status, 2);
	cr_expect_not_null(strstr(r.err, "--bench goes with --html"), "%s", r.err);
	run_result_free(&r);
}
