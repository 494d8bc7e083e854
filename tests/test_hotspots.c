/* Tests of analyze/hotspots on recordings written with the probes' writer:
 * sampled addresses are this test's own functions, so shares, regions,
 * callers, lines and folded stacks are checked against hand counts. */
#include "analyze/hotspots.h"
#include "tests/recfixture.h"
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Test functions are global (LTO keeps their names) and never cloned. */
#ifdef __clang__
#define TEST_FN __attribute__((noinline))
#else
#define TEST_FN __attribute__((noinline, noclone))
#endif
void hs_leaf(void);
void hs_mid(void);
void hs_root(void);
uintptr_t return_address(void);
uintptr_t hs_marked(int *line, uintptr_t *ra2, int *line2);

static volatile int sink;

TEST_FN void hs_leaf(void)
{
	for (int i = 0; i < 8; i++)
		sink += i;
}

TEST_FN void hs_mid(void)
{
	for (int i = 0; i < 8; i++)
		hs_leaf();
}

TEST_FN void hs_root(void)
{
	for (int i = 0; i < 8; i++)
		hs_mid();
}

/* The volatile store keeps the compiler from merging two calls. */
static volatile int calls;

TEST_FN uintptr_t return_address(void)
{
	calls++;
	return (uintptr_t)__builtin_return_address(0);
}

/* clang-format off */
TEST_FN uintptr_t hs_marked(int *line, uintptr_t *ra2, int *line2)
{
	uintptr_t ra = return_address(); *line = __LINE__;
	*ra2 = return_address(); *line2 = __LINE__;
	return ra;
}
/* clang-format on */

#define LEAF ((uint64_t)(uintptr_t)&hs_leaf + 4)
#define MID_RA ((uint64_t)(uintptr_t)&hs_mid + 9)
#define ROOT_RA ((uint64_t)(uintptr_t)&hs_root + 9)
#define MID_IP ((uint64_t)(uintptr_t)&hs_mid + 4)
#define ROOT_IP ((uint64_t)(uintptr_t)&hs_root + 4)

static char *dir, path[PATH_MAX];

static void setup(void)
{
	dir = make_temp_dir();
	cr_assert_not_null(dir);
	snprintf(path, sizeof path, "%s/kbprof.data", dir);
	hs_root(); /* keep them alive */
}

static void teardown(void)
{
	rm_rf(dir);
	free(dir);
}

TestSuite(hotspots, .init = setup, .fini = teardown);

/* 6 samples leaf<-mid<-root, 3 mid<-root, 1 root; times 2000.. */
static void write_basic(struct recw_file *f, uint64_t t0)
{
	uint64_t a[] = {LEAF, MID_RA, ROOT_RA}, b[] = {MID_IP, ROOT_RA}, c[] = {ROOT_IP};
	for (int i = 0; i < 6; i++)
		fx_sample(f, FX_CPU_EVENT, FX_PID, t0 + (uint64_t)i, 1000, 0, 3, a);
	for (int i = 0; i < 3; i++)
		fx_sample(f, FX_CPU_EVENT, FX_PID, t0 + 10 + (uint64_t)i, 1000, 0, 2, b);
	fx_sample(f, FX_CPU_EVENT, FX_PID, t0 + 20, 1000, 0, 1, c);
}

static struct prof *load(void)
{
	struct prof *p;
	struct kb_error err = {{0}};
	cr_assert_eq(prof_load(&p, path, NULL, &err), 0, "%s", err.msg);
	return p;
}

static struct hot_report *build(struct prof *p, const struct hot_options *o)
{
	struct hot_report *r;
	struct kb_error err = {{0}};
	cr_assert_eq(hot_report_build(p, o, &r, &err), 0, "%s", err.msg);
	return r;
}

static const struct hot_row *row(const struct hot_report *r, const char *name)
{
	for (size_t i = 0; i < r->n_rows; i++)
		if (strcmp(r->rows[i].fn->name, name) == 0)
			return &r->rows[i];
	cr_assert_fail("no row for %s", name);
	return NULL;
}

Test(hotspots, self_and_inclusive_shares_match_hand_counts)
{
	struct recw_file *f = fx_create(path);
	write_basic(f, 2000);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_report *r = build(p, NULL);
	cr_expect_eq(r->samples, 10);
	cr_expect_eq(r->period, 10000);
	cr_assert_eq(r->n_rows, 3);
	cr_expect_str_eq(r->rows[0].fn->name, "hs_leaf");
	cr_expect_str_eq(r->rows[1].fn->name, "hs_mid");
	cr_expect_str_eq(r->rows[2].fn->name, "hs_root");
	cr_expect_float_eq(row(r, "hs_leaf")->self.pct, 60.0, 1e-9);
	cr_expect_float_eq(row(r, "hs_mid")->self.pct, 30.0, 1e-9);
	cr_expect_float_eq(row(r, "hs_root")->self.pct, 10.0, 1e-9);
	cr_expect_float_eq(row(r, "hs_root")->total.pct, 100.0, 1e-9);
	cr_expect_float_eq(row(r, "hs_mid")->total.pct, 90.0, 1e-9);
	cr_expect_float_eq(row(r, "hs_leaf")->total.pct, 60.0, 1e-9);
	cr_expect_eq(row(r, "hs_mid")->total.samples, 9);
	cr_expect_eq(r->with_function, 10);
	cr_expect_eq(r->with_line, 10);
	cr_expect_str_eq(r->event->name, "cpu-clock");
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, sort_by_total_and_limit)
{
	struct recw_file *f = fx_create(path);
	write_basic(f, 2000);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_options o = {.sort = HOT_SORT_TOTAL, .limit = 2};
	struct hot_report *r = build(p, &o);
	cr_assert_eq(r->n_rows, 2);
	cr_expect_str_eq(r->rows[0].fn->name, "hs_root");
	cr_expect_str_eq(r->rows[1].fn->name, "hs_mid");
	cr_expect_eq(r->n_functions, 3);
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, recursion_counts_once_per_sample_in_inclusive)
{
	struct recw_file *f = fx_create(path);
	uint64_t chain[] = {LEAF, MID_RA, MID_RA + 2, MID_RA, ROOT_RA};
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2000, 1000, 0, 5, chain);
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2001, 1000, 0, 5, chain);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_report *r = build(p, NULL);
	cr_expect_eq(row(r, "hs_mid")->total.samples, 2);
	cr_expect_float_eq(row(r, "hs_mid")->total.pct, 100.0, 1e-9);
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, percentages_follow_the_period)
{
	struct recw_file *f = fx_create(path);
	uint64_t a[] = {LEAF}, b[] = {ROOT_IP};
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2000, 3000, 0, 1, a);
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2001, 1000, 0, 1, b);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_report *r = build(p, NULL);
	cr_expect_float_eq(row(r, "hs_leaf")->self.pct, 75.0, 1e-9);
	cr_expect_eq(row(r, "hs_leaf")->self.samples, 1);
	hot_report_free(r);
	prof_free(p);
}

/* startup [100, 400) holds parse [200, 300); offsets from 2000. */
static void write_regions(struct recw_file *f)
{
	fx_region(f, 1, FX_PID, 2100, 1, "startup");
	fx_region(f, 1, FX_PID, 2200, 2, "startup/parse");
	fx_region(f, 0, FX_PID, 2300, 2, "startup/parse");
	fx_region(f, 0, FX_PID, 2400, 1, "startup");
	uint64_t a[] = {LEAF, MID_RA, ROOT_RA}, b[] = {MID_IP, ROOT_RA}, c[] = {ROOT_IP};
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2150, 1000, 0, 3, a); /* startup */
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2250, 1000, 0, 3, a); /* parse */
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2260, 1000, 0, 2, b); /* parse */
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2350, 1000, 0, 1, c); /* startup */
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2450, 1000, 0, 1, c); /* none */
}

Test(hotspots, region_filter_keeps_samples_inside_it)
{
	struct recw_file *f = fx_create(path);
	write_regions(f);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_options o = {.region = "parse"};
	struct hot_report *r = build(p, &o);
	cr_expect_eq(r->samples, 2);
	cr_expect_float_eq(row(r, "hs_leaf")->self.pct, 50.0, 1e-9);
	cr_expect_float_eq(row(r, "hs_mid")->self.pct, 50.0, 1e-9);
	hot_report_free(r);
	struct hot_options o2 = {.region = "startup"};
	r = build(p, &o2);
	cr_expect_eq(r->samples, 4);
	hot_report_free(r);
	struct hot_options o3 = {.region = "startup/parse"};
	r = build(p, &o3);
	cr_expect_eq(r->samples, 2);
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, region_table_gives_self_and_inclusive)
{
	struct recw_file *f = fx_create(path);
	write_regions(f);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_report *r = build(p, NULL);
	cr_assert_eq(r->n_regions, 3);
	/* sorted by path, "no region" last */
	cr_expect_str_eq(r->regions[0].path, "startup");
	cr_expect_eq(r->regions[0].self.samples, 2);
	cr_expect_eq(r->regions[0].incl.samples, 4);
	cr_expect_eq(r->regions[0].entries, 1);
	cr_expect_eq(r->regions[0].wall_ns, 300);
	cr_expect_str_eq(r->regions[1].path, "startup/parse");
	cr_expect_eq(r->regions[1].self.samples, 2);
	cr_expect_eq(r->regions[1].wall_ns, 100);
	cr_expect_null(r->regions[2].path);
	cr_expect_eq(r->regions[2].self.samples, 1);
	cr_expect_float_eq(r->regions[0].incl.pct, 80.0, 1e-9);
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, callers_and_callees_of_a_function)
{
	struct recw_file *f = fx_create(path);
	write_basic(f, 2000);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_options o = {.callers_of = "hs_mid"};
	struct hot_report *r = build(p, &o);
	const struct hot_callgraph *cg = r->callgraph;
	cr_assert_not_null(cg);
	cr_expect_eq(cg->total.samples, 9);
	cr_expect_eq(cg->n_matches, 1);
	cr_assert_eq(cg->n_callers, 1);
	cr_expect_str_eq(cg->callers[0].fn->name, "hs_root");
	cr_expect_float_eq(cg->callers[0].count.pct, 100.0, 1e-9);
	cr_assert_eq(cg->n_callees, 2);
	cr_expect_str_eq(cg->callees[0].fn->name, "hs_leaf");
	cr_expect_eq(cg->callees[0].count.samples, 6);
	cr_expect_null(cg->callees[1].fn); /* itself */
	cr_expect_eq(cg->callees[1].count.samples, 3);
	cr_expect_float_eq(cg->callees[1].count.pct, 100.0 / 3, 1e-9);
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, callers_of_an_absent_function_is_empty)
{
	struct recw_file *f = fx_create(path);
	write_basic(f, 2000);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_options o = {.callers_of = "no_such_function"};
	struct hot_report *r = build(p, &o);
	cr_expect_eq(r->callgraph->n_matches, 0);
	cr_expect_eq(r->callgraph->total.samples, 0);
	cr_expect_eq(r->callgraph->n_callers, 0);
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, source_lines_of_top_functions)
{
	int line, line2;
	uintptr_t ra2;
	uint64_t ip = hs_marked(&line, &ra2, &line2) - 1; /* inside the call on the marked line */
	struct recw_file *f = fx_create(path);
	uint64_t a[] = {ip}, b[] = {ra2 - 1};
	for (int i = 0; i < 3; i++)
		fx_sample(f, FX_CPU_EVENT, FX_PID, 2000 + (uint64_t)i, 1000, 0, 1, a);
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2010, 1000, 0, 1, b);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_options o = {.lines = 1};
	struct hot_report *r = build(p, &o);
	cr_assert_eq(r->n_lines, 1);
	cr_expect_str_eq(r->lines[0].fn->name, "hs_marked");
	cr_assert_eq(r->lines[0].n, 2);
	cr_expect_eq(r->lines[0].lines[0].line, (unsigned)line);
	cr_expect_eq(r->lines[0].lines[0].self.samples, 3);
	cr_expect_float_eq(r->lines[0].lines[0].self.pct, 75.0, 1e-9);
	cr_expect_eq(r->lines[0].lines[1].line, (unsigned)line2);
	cr_expect_not_null(strstr(r->lines[0].lines[0].file, "test_hotspots.c"));
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, folded_stacks_run_from_the_root)
{
	struct recw_file *f = fx_create(path);
	write_basic(f, 2000);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_options o = {.folded = 1};
	struct hot_report *r = build(p, &o);
	cr_assert_eq(r->n_folded, 3);
	cr_expect_str_eq(r->folded[0].stack, "hs_root");
	cr_expect_eq(r->folded[0].samples, 1);
	cr_expect_str_eq(r->folded[1].stack, "hs_root;hs_mid");
	cr_expect_eq(r->folded[1].samples, 3);
	cr_expect_str_eq(r->folded[2].stack, "hs_root;hs_mid;hs_leaf");
	cr_expect_eq(r->folded[2].samples, 6);
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, kernel_frames_collapse_into_one)
{
	struct recw_file *f = fx_create(path);
	uint64_t k[] = {0xffffffff81001000ULL, 0xffffffff81002000ULL, 0xffffffff81003000ULL};
	uint64_t u[] = {LEAF, MID_RA, ROOT_RA};
	fx_sample_k(f, FX_CPU_EVENT, FX_PID, 2000, 1000, 0, 3, k, 3, u);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_options o = {.folded = 1};
	struct hot_report *r = build(p, &o);
	cr_expect_str_eq(r->rows[0].fn->name, "[kernel]");
	cr_assert_eq(r->n_folded, 1);
	cr_expect_str_eq(r->folded[0].stack, "hs_root;hs_mid;hs_leaf;[kernel]");
	cr_expect_eq(r->with_function, 0);
	int warned = 0;
	for (size_t i = 0; i < r->n_warnings; i++)
		warned |= strstr(r->warnings[i], "3 kernel addresses are shown as [kernel]: it was "
						 "recorded under another kernel") != NULL;
	cr_expect(warned);
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, coverage_counts_unsymbolized_leaves)
{
	struct recw_file *f = fx_create(path);
	write_basic(f, 2000);
	uint64_t nowhere[] = {0x1000};
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2100, 1000, 0, 1, nowhere);
	fx_sample(f, FX_CPU_EVENT, 999999, 2101, 1000, 0, 1, nowhere);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_report *r = build(p, NULL);
	cr_expect_eq(r->samples, 12);
	cr_expect_eq(r->with_function, 10);
	cr_expect_eq(r->unknown_process, 1);
	cr_expect_eq(row(r, "[unknown]")->self.samples, 2);
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, samples_before_an_exec_use_the_old_image)
{
	struct recw_file *f = fx_create_bare(path);
	/* image 1 from 1000: this process's mappings; exec at 5000 with no
	 * mappings recorded for the new image */
	cr_assert_eq(recw_comm(&f->enc, FX_PID, FX_PID, 1000, 1, "before"), 0);
	fx_self_maps(f, FX_PID, 1001);
	cr_assert_eq(recw_comm(&f->enc, FX_PID, FX_PID, 5000, 1, "after"), 0);
	uint64_t a[] = {LEAF};
	fx_sample(f, FX_CPU_EVENT, FX_PID, 4000, 1000, 0, 1, a);
	fx_sample(f, FX_CPU_EVENT, FX_PID, 6000, 1000, 0, 1, a);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_report *r = build(p, NULL);
	cr_expect_eq(row(r, "hs_leaf")->self.samples, 1);
	cr_expect_eq(row(r, "[unknown]")->self.samples, 1);
	cr_expect_str_eq(prof_proc_get(p, FX_PID)->comm, "after");
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, forked_child_shares_the_parent_image)
{
	struct recw_file *f = fx_create(path);
	cr_assert_eq(recw_task(&f->enc, RECW_FORK, FX_PID + 1, FX_PID, FX_PID + 1, FX_PID, 3000),
		     0);
	uint64_t a[] = {LEAF};
	fx_sample(f, FX_CPU_EVENT, FX_PID + 1, 4000, 1000, 0, 1, a);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_report *r = build(p, NULL);
	cr_expect_eq(row(r, "hs_leaf")->self.samples, 1);
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, lost_throttled_and_fallback_are_warned)
{
	struct recw_file *f = fx_create(path);
	write_basic(f, 2000);
	cr_assert_eq(recw_lost(&f->enc, FX_CPU_EVENT, 0, 2500, 5), 0);
	cr_assert_eq(recw_throttle(&f->enc, FX_CPU_EVENT, 1, 2600), 0);
	cr_assert_eq(recw_throttle(&f->enc, FX_CPU_EVENT, 0, 2700), 0);
	cr_assert_eq(recw_note(&f->enc, 0, 2800, "a note from the recorder"), 0);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_report *r = build(p, NULL);
	cr_expect_eq(r->event->lost, 5);
	cr_expect_eq(r->event->throttles, 1);
	int fallback = 0, lost = 0, thr = 0, note = 0;
	for (size_t i = 0; i < r->n_warnings; i++) {
		fallback |=
		    strstr(r->warnings[i], "sampled on cpu-clock as a fallback: cycles") != 0;
		lost |= strstr(r->warnings[i], "5 samples lost (33.33% of 15 taken)") != 0;
		thr |= strstr(r->warnings[i], "throttled 1 times") != 0;
		note |= strcmp(r->warnings[i], "a note from the recorder") == 0;
	}
	cr_expect(fallback && lost && thr && note);
	cr_expect_eq(prof_duration_ns(p), 8000);
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, truncated_recording_reports_what_it_holds)
{
	struct recw_file *f = fx_create(path);
	write_basic(f, 2000);
	fx_finish(f, 9000, 0, 0);
	size_t len;
	char *data = read_file(path, &len);
	cr_assert_not_null(data);
	/* cut inside the FINISH record (the last, 88 bytes) */
	cr_assert_eq(write_file(path, data, len - 30), 0);
	free(data);
	struct prof *p = load();
	struct hot_report *r = build(p, NULL);
	cr_expect_eq(r->samples, 10);
	cr_expect_not_null(strstr(r->warnings[0], "truncated at offset"), "%s", r->warnings[0]);
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, recording_without_cpu_event_is_an_error)
{
	struct recw_file *f;
	struct kb_error err = {{0}};
	cr_assert_eq(recw_file_create(&f, path, &err), 0);
	char *argv[] = {"x", NULL};
	struct recw_session s = {.start_ns = 1, .clockid = 1, .pid = 1, .argc = 1, .argv = argv};
	cr_assert_eq(recw_session(&f->enc, &s), 0);
	cr_assert_eq(recw_event(&f->enc, 2, 2, 1, 2u, 2, 1, "page-faults", ""), 0);
	fx_finish(f, 10, 0, 0);
	struct prof *p = load();
	struct hot_report *r;
	cr_expect_eq(hot_report_build(p, NULL, &r, &err), -1);
	cr_expect_not_null(strstr(err.msg, "no CPU-sample event"), "%s", err.msg);
	struct hot_options o = {.event = "cycles"};
	cr_expect_eq(hot_report_build(p, &o, &r, &err), -1);
	cr_expect_not_null(strstr(err.msg, "no event named 'cycles'"), "%s", err.msg);
	prof_free(p);
}

Test(hotspots, not_a_recording_is_an_error)
{
	cr_assert_eq(write_file(path, "hello world, not a recording", 28), 0);
	struct prof *p;
	struct kb_error err = {{0}};
	cr_expect_eq(prof_load(&p, path, NULL, &err), -1);
	cr_expect_not_null(strstr(err.msg, "not a kbprof recording"), "%s", err.msg);
}

Test(hotspots, comm_and_pid_filters_follow_execs)
{
	struct recw_file *f = fx_create(path); /* FX_PID runs "fixture" */
	cr_assert_eq(recw_task(&f->enc, RECW_FORK, FX_PID + 1, FX_PID, FX_PID + 1, FX_PID, 1500),
		     0);
	cr_assert_eq(recw_comm(&f->enc, FX_PID + 1, FX_PID + 1, 3000, 1, "other"), 0);
	fx_self_maps(f, FX_PID + 1, 3001);
	uint64_t a[] = {LEAF}, b[] = {ROOT_IP};
	fx_sample(f, FX_CPU_EVENT, FX_PID, 2000, 1000, 0, 1, a);
	fx_sample(f, FX_CPU_EVENT, FX_PID + 1, 2500, 1000, 0, 1, b); /* before its exec */
	fx_sample(f, FX_CPU_EVENT, FX_PID + 1, 3500, 1000, 0, 1, b);
	fx_sample(f, FX_CPU_EVENT, FX_PID + 1, 3600, 1000, 0, 1, b);
	fx_finish(f, 9000, 0, 0);
	struct prof *p = load();
	struct hot_options o = {.comm = "fixture"};
	struct hot_report *r = build(p, &o);
	cr_expect_eq(r->samples, 2); /* FX_PID, and the child before it exec'd */
	hot_report_free(r);
	struct hot_options o2 = {.comm = "other"};
	r = build(p, &o2);
	cr_expect_eq(r->samples, 2);
	cr_expect_eq(row(r, "hs_root")->self.samples, 2);
	hot_report_free(r);
	struct hot_options o3 = {.pid = FX_PID + 1};
	r = build(p, &o3);
	cr_expect_eq(r->samples, 3);
	hot_report_free(r);
	prof_free(p);
}

Test(hotspots, kernel_frames_get_names_from_kallsyms)
{
	struct recw_file *f = fx_create(path);
	uint64_t k[] = {0xffffffff81001010ULL, 0xffffffff81002020ULL, 0xffffffff81002030ULL};
	uint64_t u[] = {LEAF, MID_RA};
	fx_sample_k(f, FX_CPU_EVENT, FX_PID, 2000, 1000, 0, 3, k, 2, u);
	fx_finish(f, 9000, 0, 0);
	char ks[PATH_MAX];
	snprintf(ks, sizeof ks, "%s/kallsyms", dir);
	const char *text =
	    "ffffffff81001000 T clear_page_erms\nffffffff81002000 T handle_mm_fault\n";
	cr_assert_eq(write_file(ks, text, strlen(text)), 0);
	struct prof *p;
	struct kb_error err = {{0}};
	struct prof_options po = {.kallsyms = ks};
	cr_assert_eq(prof_load(&p, path, &po, &err), 0, "%s", err.msg);
	struct hot_options o = {.folded = 1};
	struct hot_report *r = build(p, &o);
	cr_expect_str_eq(r->rows[0].fn->name, "clear_page_erms");
	cr_assert_eq(r->n_folded, 1);
	/* the two frames in handle_mm_fault in a row are one frame */
	cr_expect_str_eq(r->folded[0].stack, "hs_mid;hs_leaf;handle_mm_fault;clear_page_erms");
	cr_expect_eq(r->with_function, 1);
	hot_report_free(r);
	prof_free(p);
}
