/* Tests of analyze/faults on recordings written with the probes' writer.
 * Mappings are made up (a KB image, heap, anonymous memory, a stack);
 * every expected count is worked out in the comments. */
#include "analyze/faults.h"
#include "tests/recfixture.h"
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Test functions are global (LTO keeps their names) and never cloned. */
#ifdef __clang__
#define TEST_FN __attribute__((noinline))
#else
#define TEST_FN __attribute__((noinline, noclone))
#endif
void ft_loader(void);
void ft_query(void);

static volatile int sink;

TEST_FN void ft_loader(void)
{
	for (int i = 0; i < 8; i++)
		sink += i;
}

TEST_FN void ft_query(void)
{
	for (int i = 0; i < 8; i++)
		sink -= i;
}

#define KB 0x700000000000ULL
#define HEAP 0x600000ULL
#define ANON 0x7f0000000000ULL
#define PG 4096ULL
#define LOADER_IP ((uint64_t)(uintptr_t)&ft_loader + 4)
#define QUERY_IP ((uint64_t)(uintptr_t)&ft_query + 4)

static char *dir, path[PATH_MAX];

static void setup(void)
{
	dir = make_temp_dir();
	snprintf(path, sizeof path, "%s/kbprof.data", dir);
	ft_loader();
	ft_query();
}

static void teardown(void)
{
	rm_rf(dir);
	free(dir);
}

TestSuite(faults, .init = setup, .fini = teardown);

static void mapping(struct recw_file *f, uint32_t pid, uint64_t t, uint64_t start, uint64_t len,
		    uint64_t pgoff, uint32_t flags, const char *name)
{
	struct recw_mmap m = {.pid = pid,
			      .tid = pid,
			      .time = t,
			      .start = start,
			      .len = len,
			      .pgoff = pgoff,
			      .prot = PROT_READ | PROT_WRITE,
			      .map_flags = flags,
			      .flags = 4u,
			      .filename = name};
	cr_assert_eq(recw_mmap(&f->enc, &m), 0);
}

static void fault(struct recw_file *f, uint32_t event, uint32_t pid, uint64_t t, uint64_t addr,
		  uint64_t ip)
{
	uint64_t chain[] = {ip};
	fx_sample(f, event, pid, t, 1, addr, 1, chain);
}

/* open [2000, 3000): kb pages 0 1 2; query [3000, 5000): kb page 1 again,
 * kb pages 5..8, two heap pages, one anonymous page, one unmapped page. */
static void write_scenario(struct recw_file *f, uint32_t ev)
{
	mapping(f, FX_PID, 1500, KB, 16 * PG, 0, MAP_SHARED, "/data/kb.img");
	mapping(f, FX_PID, 1500, HEAP, 64 * PG, 0, MAP_PRIVATE, "[heap]");
	mapping(f, FX_PID, 1500, ANON, 4 * PG, 0, MAP_PRIVATE, "//anon");
	fx_region(f, 1, FX_PID, 2000, 1, "open");
	for (uint64_t i = 0; i < 3; i++)
		fault(f, ev, FX_PID, 2100 + i, KB + i * PG + 8, LOADER_IP);
	fx_region(f, 0, FX_PID, 3000, 1, "open");
	fx_region(f, 1, FX_PID, 3000, 1, "query");
	fault(f, ev, FX_PID, 3100, KB + 1 * PG + 100, QUERY_IP);
	for (uint64_t i = 5; i <= 8; i++)
		fault(f, ev, FX_PID, 3200 + i, KB + i * PG, QUERY_IP);
	fault(f, ev, FX_PID, 3300, HEAP + 10, QUERY_IP);
	fault(f, ev, FX_PID, 3301, HEAP + PG + 10, QUERY_IP);
	fault(f, ev, FX_PID, 3302, ANON + 10, QUERY_IP);
	fault(f, ev, FX_PID, 3303, 0x1234000, QUERY_IP);
	fx_region(f, 0, FX_PID, 5000, 1, "query");
}

static struct prof *load(void)
{
	struct prof *p;
	struct kb_error err = {{0}};
	struct prof_options po = {.keep_faults = 1};
	cr_assert_eq(prof_load(&p, path, &po, &err), 0, "%s", err.msg);
	return p;
}

static struct flt_report *build(struct prof *p, const struct flt_options *o)
{
	struct flt_report *r;
	struct kb_error err = {{0}};
	cr_assert_eq(flt_report_build(p, o, &r, &err), 0, "%s", err.msg);
	return r;
}

static const struct flt_mapping_row *mrow(const struct flt_report *r, const char *name)
{
	for (size_t i = 0; i < r->n_mappings; i++)
		if (strcmp(r->mappings[i].name, name) == 0)
			return &r->mappings[i];
	for (size_t i = 0; i < r->n_mappings; i++)
		fprintf(stderr, "row %s kind %d faults %lu\n", r->mappings[i].name,
			r->mappings[i].kind, (unsigned long)r->mappings[i].c.faults);
	cr_assert_fail("no mapping row %s", name);
	return NULL;
}

Test(faults, totals_pages_and_density)
{
	struct recw_file *f = fx_create(path);
	write_scenario(f, FX_FAULT_EVENT);
	fx_finish(f, 11000, 20, 1);
	struct prof *p = load();
	struct flt_report *r = build(p, NULL);
	cr_expect_eq(r->total.faults, 12);
	/* kb 7 distinct pages + heap 2 + anon 1 + unmapped 1 */
	cr_expect_eq(r->total.pages, 11);
	cr_expect_float_eq(r->total.mb_touched, 11 * 4096.0 / 1048576.0, 1e-12);
	cr_expect_float_eq(r->total.density, 12 / (11 * 4096.0 / 1048576.0), 1e-9);
	cr_expect_eq(r->classified, 0);
	cr_expect_str_eq(r->events, "page-faults");
	flt_report_free(r);
	prof_free(p);
}

Test(faults, by_mapping_names_the_image_heap_anon_and_the_unmapped)
{
	struct recw_file *f = fx_create(path);
	write_scenario(f, FX_FAULT_EVENT);
	fx_finish(f, 11000, 20, 1);
	struct prof *p = load();
	struct flt_report *r = build(p, NULL);
	const struct flt_mapping_row *kb = mrow(r, "/data/kb.img");
	cr_expect_eq(kb->kind, FLT_FILE);
	cr_expect_eq(kb->c.faults, 8);
	cr_expect_eq(kb->c.pages, 7);
	cr_expect_float_eq(kb->c.density, 8 / (7 * 4096.0 / 1048576.0), 1e-9);
	cr_expect_eq(kb->size, 16 * PG);
	cr_expect_float_eq(kb->touched_pct, 100.0 * 7 / 16, 1e-9);
	cr_expect(kb->shared);
	cr_expect_eq(kb->populated, -1);
	cr_expect_str_eq(r->mappings[0].name, "/data/kb.img"); /* most faults first */
	cr_expect_eq(mrow(r, "[heap]")->c.faults, 2);
	cr_expect_eq(mrow(r, "[heap]")->kind, FLT_HEAP);
	cr_expect_eq(mrow(r, "anonymous")->c.faults, 1);
	cr_expect_eq(mrow(r, "(no mapping recorded)")->c.faults, 1);
	cr_expect_eq(mrow(r, "(no mapping recorded)")->kind, FLT_NONE);
	flt_report_free(r);
	prof_free(p);
}

Test(faults, per_region_counts_and_filter)
{
	struct recw_file *f = fx_create(path);
	write_scenario(f, FX_FAULT_EVENT);
	fx_finish(f, 11000, 20, 1);
	struct prof *p = load();
	struct flt_report *r = build(p, NULL);
	cr_assert_eq(r->n_regions, 2);
	cr_expect_str_eq(r->regions[0].path, "open");
	cr_expect_eq(r->regions[0].c.faults, 3);
	cr_expect_eq(r->regions[0].c.pages, 3);
	cr_expect_float_eq(r->regions[0].c.pct, 25.0, 1e-9);
	cr_expect_eq(r->regions[0].wall_ns, 1000);
	cr_expect_str_eq(r->regions[1].path, "query");
	cr_expect_eq(r->regions[1].c.faults, 9);
	cr_expect_eq(r->regions[1].c.pages, 9);
	flt_report_free(r);
	struct flt_options o = {.region = "open"};
	r = build(p, &o);
	cr_expect_eq(r->total.faults, 3);
	cr_expect_eq(mrow(r, "/data/kb.img")->c.faults, 3);
	cr_expect_eq(r->perf_faults, 12); /* the rusage comparison is never filtered */
	flt_report_free(r);
	prof_free(p);
}

Test(faults, by_function_and_hottest_pages)
{
	struct recw_file *f = fx_create(path);
	write_scenario(f, FX_FAULT_EVENT);
	fx_finish(f, 11000, 20, 1);
	struct prof *p = load();
	struct flt_options o = {.limit = 3};
	struct flt_report *r = build(p, &o);
	cr_assert_eq(r->n_functions, 2);
	cr_expect_str_eq(r->functions[0].fn->name, "ft_query");
	cr_expect_eq(r->functions[0].faults, 9);
	cr_expect_float_eq(r->functions[0].pct, 75.0, 1e-9);
	cr_expect_str_eq(r->functions[1].fn->name, "ft_loader");
	cr_assert_eq(r->n_pages, 3);
	cr_expect_eq(r->pages[0].addr, KB + PG);
	cr_expect_eq(r->pages[0].faults, 2);
	cr_expect(r->pages[0].has_offset);
	cr_expect_eq(r->pages[0].file_offset, PG);
	cr_expect_str_eq(r->pages[0].mapping, "/data/kb.img");
	cr_expect_str_eq(r->pages[0].first_fn->name, "ft_loader");
	cr_expect_eq(r->pages[0].first_ns, 2101 - 1000);
	cr_expect_eq(r->pages[1].faults, 1);
	flt_report_free(r);
	prof_free(p);
}

Test(faults, histogram_over_time)
{
	struct recw_file *f = fx_create(path);
	write_scenario(f, FX_FAULT_EVENT);
	fx_finish(f, 11000, 20, 1);
	struct prof *p = load();
	/* duration 10000 ns from the session start at 1000: 10 bins of 1000;
	 * faults at 2100..2102 fall in bin 1, those at 3100..3303 in bin 2 */
	struct flt_options o = {.bins = 10};
	struct flt_report *r = build(p, &o);
	cr_assert_eq(r->n_bins, 10);
	cr_expect_eq(r->bins[1].from_ns, 1000);
	cr_expect_eq(r->bins[1].faults, 3);
	cr_expect_eq(r->bins[2].faults, 9);
	cr_expect_eq(r->bins[0].faults + r->bins[3].faults + r->bins[9].faults, 0);
	flt_report_free(r);
	prof_free(p);
}

Test(faults, rusage_beside_perf_counts_with_the_reason)
{
	struct recw_file *f = fx_create(path);
	write_scenario(f, FX_FAULT_EVENT);
	fx_finish(f, 11000, 20, 1);
	struct prof *p = load();
	struct flt_report *r = build(p, NULL);
	cr_expect(r->have_rusage);
	cr_expect_eq(r->ru_minflt, 20);
	cr_expect_eq(r->ru_majflt, 1);
	cr_expect_eq(r->difference, 9);
	cr_expect_not_null(strstr(r->explanation, "MAP_POPULATE"));
	flt_report_free(r);
	prof_free(p);
}

Test(faults, without_finish_there_is_no_rusage)
{
	struct recw_file *f = fx_create(path);
	write_scenario(f, FX_FAULT_EVENT);
	fx_close(f);
	struct prof *p = load();
	struct flt_report *r = build(p, NULL);
	cr_expect_eq(r->have_rusage, 0);
	cr_expect_eq(r->total.faults, 12);
	cr_expect_not_null(strstr(r->warnings[0], "no finish record"), "%s", r->warnings[0]);
	flt_report_free(r);
	prof_free(p);
}

Test(faults, a_new_mapping_replaces_the_old_at_the_same_address)
{
	struct recw_file *f = fx_create(path);
	mapping(f, FX_PID, 1500, KB, 16 * PG, 0, MAP_SHARED, "/data/kb.img");
	fault(f, FX_FAULT_EVENT, FX_PID, 2000, KB + 5 * PG, QUERY_IP);
	/* pages 4..7 now hold another file */
	mapping(f, FX_PID, 3000, KB + 4 * PG, 4 * PG, 0, MAP_PRIVATE, "/data/other");
	fault(f, FX_FAULT_EVENT, FX_PID, 4000, KB + 5 * PG, QUERY_IP);
	fault(f, FX_FAULT_EVENT, FX_PID, 4001, KB + 9 * PG, QUERY_IP);
	fault(f, FX_FAULT_EVENT, FX_PID, 4002, KB + 1 * PG, QUERY_IP);
	fx_finish(f, 11000, 0, 0);
	struct prof *p = load();
	struct flt_report *r = build(p, NULL);
	cr_expect_eq(mrow(r, "/data/kb.img")->c.faults, 3);
	cr_expect_eq(mrow(r, "/data/other")->c.faults, 1);
	/* the page at KB + 5 pages faulted under both: each row counts it */
	cr_expect_eq(mrow(r, "/data/other")->c.pages, 1);
	cr_expect_eq(mrow(r, "/data/kb.img")->c.pages, 3);
	flt_report_free(r);
	prof_free(p);
}

Test(faults, forked_child_inherits_and_exec_clears_mappings)
{
	struct recw_file *f = fx_create(path);
	mapping(f, FX_PID, 1500, KB, 16 * PG, 0, MAP_SHARED, "/data/kb.img");
	cr_assert_eq(recw_task(&f->enc, RECW_FORK, FX_PID + 1, FX_PID, FX_PID + 1, FX_PID, 1800),
		     0);
	fault(f, FX_FAULT_EVENT, FX_PID + 1, 2000, KB + PG, QUERY_IP);
	cr_assert_eq(recw_comm(&f->enc, FX_PID + 1, FX_PID + 1, 3000, 1, "newprog"), 0);
	fault(f, FX_FAULT_EVENT, FX_PID + 1, 4000, KB + PG, QUERY_IP);
	fx_finish(f, 11000, 0, 0);
	struct prof *p = load();
	struct flt_report *r = build(p, NULL);
	cr_expect_eq(mrow(r, "/data/kb.img")->c.faults, 1);
	cr_expect_eq(mrow(r, "(no mapping recorded)")->c.faults, 1);
	/* the same page in two processes is two pages */
	flt_report_free(r);
	prof_free(p);
}

Test(faults, minor_and_major_events_classify_and_page_faults_do_not_double)
{
	struct recw_file *f = fx_create(path);
	mapping(f, FX_PID, 1500, KB, 16 * PG, 0, MAP_SHARED, "/data/kb.img");
	for (uint64_t i = 0; i < 3; i++)
		fault(f, FX_MINOR_EVENT, FX_PID, 2000 + i, KB + i * PG, QUERY_IP);
	fault(f, FX_MAJOR_EVENT, FX_PID, 2010, KB + 9 * PG, QUERY_IP);
	for (uint64_t i = 0; i < 4; i++) /* the same faults seen by page-faults */
		fault(f, FX_FAULT_EVENT, FX_PID, 2020 + i, KB + i * PG, QUERY_IP);
	fx_finish(f, 11000, 3, 1);
	struct prof *p = load();
	struct flt_report *r = build(p, NULL);
	cr_expect(r->classified);
	cr_expect_eq(r->total.faults, 4);
	cr_expect_eq(r->total.minor, 3);
	cr_expect_eq(r->total.major, 1);
	cr_expect_eq(mrow(r, "/data/kb.img")->c.major, 1);
	cr_expect_str_eq(r->events, "minor-faults, major-faults");
	cr_expect_eq(r->difference, 0);
	cr_expect_str_eq(r->explanation, "they agree");
	flt_report_free(r);
	prof_free(p);
}

Test(faults, recording_without_fault_events_is_an_error)
{
	struct recw_file *f;
	struct kb_error err = {{0}};
	cr_assert_eq(recw_file_create(&f, path, &err), 0);
	char *argv[] = {"x", NULL};
	struct recw_session s = {.start_ns = 1, .clockid = 1, .pid = 1, .argc = 1, .argv = argv};
	cr_assert_eq(recw_session(&f->enc, &s), 0);
	cr_assert_eq(recw_event(&f->enc, 0, 1, 1, 3u, 0, 4000, "cpu-clock", ""), 0);
	fx_finish(f, 10, 0, 0);
	struct prof *p = load();
	struct flt_report *r;
	cr_expect_eq(flt_report_build(p, NULL, &r, &err), -1);
	cr_expect_not_null(strstr(err.msg, "record with `kbprof record --faults`"), "%s", err.msg);
	prof_free(p);
}

Test(faults, folded_stacks_of_faults_from_their_chains)
{
	struct recw_file *f = fx_create(path);
	mapping(f, FX_PID, 1500, KB, 16 * PG, 0, MAP_SHARED, "/data/kb.img");
	uint64_t chain[] = {LOADER_IP, QUERY_IP + 5};
	fx_sample(f, FX_FAULT_EVENT, FX_PID, 2000, 1, KB, 2, chain);
	fx_sample(f, FX_FAULT_EVENT, FX_PID, 2001, 1, KB + PG, 2, chain);
	fx_sample(f, FX_FAULT_EVENT, FX_PID, 2002, 1, KB + 2 * PG, 1, chain);
	fx_finish(f, 11000, 0, 0);
	struct prof *p;
	struct kb_error err = {{0}};
	struct prof_options po = {.keep_faults = 1, .keep_fault_chains = 1};
	cr_assert_eq(prof_load(&p, path, &po, &err), 0, "%s", err.msg);
	struct flt_options o = {.folded = 1};
	struct flt_report *r = build(p, &o);
	cr_assert_eq(r->n_folded, 2);
	cr_expect_str_eq(r->folded[0].stack, "ft_loader");
	cr_expect_eq(r->folded[0].faults, 1);
	cr_expect_str_eq(r->folded[1].stack, "ft_query;ft_loader");
	cr_expect_eq(r->folded[1].faults, 2);
	flt_report_free(r);
	prof_free(p);
}

Test(faults, two_mappings_of_one_data_file_are_two_rows)
{
	struct recw_file *f = fx_create(path);
	mapping(f, FX_PID, 1500, KB, 16 * PG, 0, MAP_SHARED, "/data/kb.img");
	mapping(f, FX_PID, 1600, KB + 64 * PG, 16 * PG, 0, MAP_SHARED, "/data/kb.img");
	fault(f, FX_FAULT_EVENT, FX_PID, 2000, KB + PG, QUERY_IP);
	fx_finish(f, 11000, 100, 0);
	struct prof *p = load();
	struct flt_report *r = build(p, NULL);
	int lazy = 0, quiet = 0;
	for (size_t i = 0; i < r->n_mappings; i++) {
		const struct flt_mapping_row *m = &r->mappings[i];
		if (strcmp(m->name, "/data/kb.img") != 0)
			continue;
		cr_expect(m->instance);
		cr_expect_eq(m->size, 16 * PG);
		if (m->start == KB)
			lazy = m->c.faults == 1;
		if (m->start == KB + 64 * PG)
			quiet = m->c.faults == 0;
	}
	cr_expect(lazy && quiet);
	/* code files stay one row for all their segments */
	int rows = 0;
	for (size_t i = 0; i < r->n_mappings; i++)
		rows += strstr(r->mappings[i].name, "libc.so") != NULL;
	cr_expect_eq(rows, 1);
	flt_report_free(r);
	prof_free(p);
}

Test(faults, nested_regions_sum_into_inclusive_counts)
{
	struct recw_file *f = fx_create(path);
	mapping(f, FX_PID, 1500, KB, 16 * PG, 0, MAP_SHARED, "/data/kb.img");
	fx_region(f, 1, FX_PID, 2000, 1, "load");
	fault(f, FX_FAULT_EVENT, FX_PID, 2100, KB, QUERY_IP);
	fx_region(f, 1, FX_PID, 2200, 2, "load/parse");
	fault(f, FX_FAULT_EVENT, FX_PID, 2300, KB + PG, QUERY_IP);
	fault(f, FX_FAULT_EVENT, FX_PID, 2301, KB + 2 * PG, QUERY_IP);
	fx_region(f, 0, FX_PID, 2400, 2, "load/parse");
	fx_region(f, 0, FX_PID, 2500, 1, "load");
	fx_finish(f, 11000, 0, 0);
	struct prof *p = load();
	struct flt_report *r = build(p, NULL);
	cr_assert_eq(r->n_regions, 2);
	cr_expect_str_eq(r->regions[0].path, "load");
	cr_expect_eq(r->regions[0].c.faults, 1);
	cr_expect_eq(r->regions[0].incl.faults, 3);
	cr_expect_float_eq(r->regions[0].incl.pct, 100.0, 1e-9);
	cr_expect_eq(r->regions[1].incl.faults, 2);
	flt_report_free(r);
	prof_free(p);
}

Test(faults, a_growing_heap_counts_its_largest_size_once)
{
	struct recw_file *f = fx_create_bare(path);
	/* brk re-reports the whole heap at each growth */
	mapping(f, FX_PID, 1500, HEAP, 4 * PG, 0, MAP_PRIVATE, "[heap]");
	mapping(f, FX_PID, 1600, HEAP, 8 * PG, 0, MAP_PRIVATE, "[heap]");
	mapping(f, FX_PID, 1700, HEAP, 16 * PG, 0, MAP_PRIVATE, "[heap]");
	fault(f, FX_FAULT_EVENT, FX_PID, 2000, HEAP + 12 * PG, QUERY_IP);
	fx_finish(f, 11000, 0, 0);
	struct prof *p = load();
	struct flt_report *r = build(p, NULL);
	cr_expect_eq(mrow(r, "[heap]")->size, 16 * PG);
	cr_expect_eq(mrow(r, "[heap]")->maps, 3);
	cr_expect_eq(mrow(r, "[heap]")->c.faults, 1);
	flt_report_free(r);
	prof_free(p);
}
