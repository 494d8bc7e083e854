/* Tests of the region probes (kbprof/probe.h, probes/probe.c): off by
 * default, nested and repeated regions with call counts and inclusive and
 * exclusive values, threads, misuse, trace events, and the environment
 * switch a program run under kbprof gets. */
#include "analyze/recording.h"
#include "kbprof/probe.h"
#include "probes/recording_write.h"
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

const char *probe_disabled_expansion(void); /* probe_disabled.c */

#define TARGET KBPROF_BINARY_DIR "/tests/probe_target"

/* Page faults a region may count beyond the pages it touched: a few for
 * the stack and the allocator; under AddressSanitizer also the faults of
 * its shadow memory and of its interceptors of mmap and munmap. */
#if defined(__SANITIZE_ADDRESS__)
#define SLACK 40
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLACK 40
#endif
#endif
#ifndef SLACK
#define SLACK 6
#endif

__attribute__((no_sanitize("address"))) static void touch_fresh(size_t pages)
{
	long psz = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, pages * (size_t)psz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	madvise(p, pages * (size_t)psz, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < pages; i++)
		((volatile char *)p)[i * (size_t)psz] = 1;
	munmap(p, pages * (size_t)psz);
}

/* Region totals as read back from a probes output file. */
struct totals {
	char path[64][128];
	uint64_t calls[64], wall_incl[64], wall_excl[64];
	uint64_t pf_incl[64], pf_excl[64];
	uint32_t pid[64];
	int n;
	char notes[2048];
	int begins, ends;
};

static void read_totals(const char *file, struct totals *t)
{
	memset(t, 0, sizeof *t);
	/* The probes append bare records; give them a header to read them. */
	size_t len;
	char *body = read_file(file, &len);
	cr_assert_not_null(body, "%s missing", file);
	uint8_t *data = malloc(len + 256);
	recw_header(data);
	struct recw_enc e;
	recw_enc_init(&e, data + RECW_HEADER_SIZE, 240, NULL, NULL);
	struct recw_session session = {.clockid = 1};
	cr_assert_eq(recw_session(&e, &session), 0);
	size_t head = RECW_HEADER_SIZE + e.len;
	memcpy(data + head, body, len);
	struct kbrec_reader *r;
	struct kb_error err;
	cr_assert_eq(kbrec_reader_open_mem(&r, data, head + len, file, &err), 0, "%s", err.msg);
	struct kbrec_record rec;
	int rc;
	while ((rc = kbrec_reader_next(r, &rec, &err)) == 1) {
		if (rec.type == KBREC_REGION_STATS && t->n < 64) {
			const struct kbrec_region_stats *s = &rec.region_stats;
			snprintf(t->path[t->n], sizeof t->path[0], "%s", s->path);
			t->calls[t->n] = s->calls;
			t->wall_incl[t->n] = s->wall_incl_ns;
			t->wall_excl[t->n] = s->wall_excl_ns;
			t->pid[t->n] = s->pid;
			for (uint32_t i = 0; i < s->ncounters; i++)
				if (strcmp(s->counters[i].name, "page-faults") == 0) {
					t->pf_incl[t->n] = s->counters[i].incl;
					t->pf_excl[t->n] = s->counters[i].excl;
				}
			t->n++;
		} else if (rec.type == KBREC_NOTE) {
			strncat(t->notes, rec.note.text, sizeof t->notes - strlen(t->notes) - 2);
			strcat(t->notes, "\n");
		} else if (rec.type == KBREC_REGION_BEGIN) {
			t->begins++;
		} else if (rec.type == KBREC_REGION_END) {
			t->ends++;
		}
	}
	cr_expect_eq(rc, 0, "%s", err.msg);
	cr_expect_null(kbrec_reader_truncation(r));
	kbrec_reader_close(r);
	free(data);
	free(body);
}

static int find(const struct totals *t, const char *path)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->path[i], path) == 0)
			return i;
	return -1;
}

Test(regions, probes_are_off_by_default_and_cost_nothing_then)
{
	cr_expect_eq(kbprof_probes_active, 0);
	KBPROF_REGION_BEGIN("never");
	KBPROF_REGION_END("never");
	cr_expect_eq(kbprof_probes_flush(), 0);
}

Test(regions, the_compile_time_switch_makes_the_macros_vanish)
{
	cr_expect_str_eq(probe_disabled_expansion(), "((void)0) ((void)0)");
}

Test(regions, nested_and_repeated_regions_count_calls_inclusive_and_exclusive)
{
	char *dir = make_temp_dir();
	char out[4096];
	snprintf(out, sizeof out, "%s/probes", dir);
	cr_assert_eq(kbprof_probes_enable("count", "page-faults,task-clock", out), 0);
	cr_expect_eq(kbprof_probes_active, 1);
	for (int i = 0; i < 2; i++) {
		KBPROF_REGION_BEGIN("outer");
		touch_fresh(10);
		for (int j = 0; j < 3; j++) {
			KBPROF_REGION_BEGIN("inner");
			touch_fresh(20);
			KBPROF_REGION_END("inner");
		}
		KBPROF_REGION_END("outer");
	}
	cr_assert_eq(kbprof_probes_flush(), 0);
	struct totals t;
	read_totals(out, &t);
	int o = find(&t, "outer"), in = find(&t, "outer/inner");
	cr_assert(o >= 0 && in >= 0, "regions: %d", t.n);
	cr_expect_eq(t.calls[o], 2);
	cr_expect_eq(t.calls[in], 6);
	cr_expect_eq(t.pid[o], (uint32_t)getpid());
	/* 2 x (10 + 3 x 20) pages inside outer, 20 of them outside inner. */
	cr_expect(t.pf_incl[o] >= 140 && t.pf_incl[o] <= 140 + SLACK, "outer incl %llu",
		  (unsigned long long)t.pf_incl[o]);
	cr_expect(t.pf_excl[o] >= 20 && t.pf_excl[o] <= 20 + SLACK, "outer excl %llu",
		  (unsigned long long)t.pf_excl[o]);
	cr_expect(t.pf_incl[in] >= 120 && t.pf_incl[in] <= 120 + SLACK, "inner incl %llu",
		  (unsigned long long)t.pf_incl[in]);
	cr_expect_eq(t.pf_incl[in], t.pf_excl[in]);
	cr_expect_eq(t.pf_incl[o] - t.pf_incl[in], t.pf_excl[o]);
	cr_expect_eq(t.wall_incl[o] - t.wall_incl[in], t.wall_excl[o]);
	cr_expect_geq(t.wall_incl[o], t.wall_incl[in]);

	/* Totals were reset by the flush: a second flush adds nothing new. */
	KBPROF_REGION_BEGIN("outer");
	KBPROF_REGION_END("outer");
	kbprof_probes_disable();
	cr_expect_eq(kbprof_probes_active, 0);
	read_totals(out, &t);
	int calls = 0;
	for (int i = 0; i < t.n; i++)
		if (strcmp(t.path[i], "outer") == 0)
			calls += (int)t.calls[i];
	cr_expect_eq(calls, 3);
	rm_rf(dir);
	free(dir);
}

static void *thread_body(void *arg)
{
	(void)arg;
	KBPROF_REGION_BEGIN("work");
	touch_fresh(5);
	KBPROF_REGION_END("work");
	return NULL;
}

Test(regions, regions_are_per_thread_and_summed_when_threads_end)
{
	char *dir = make_temp_dir();
	char out[4096];
	snprintf(out, sizeof out, "%s/probes", dir);
	cr_assert_eq(kbprof_probes_enable("count", "page-faults", out), 0);
	KBPROF_REGION_BEGIN("main");
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, thread_body, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	KBPROF_REGION_END("main");
	kbprof_probes_disable();
	struct totals t;
	read_totals(out, &t);
	int w = find(&t, "work"), m = find(&t, "main");
	cr_assert(w >= 0 && m >= 0);
	cr_expect_eq(t.calls[w], 3, "a thread's regions are its own: 'work', not 'main/work'");
	cr_expect(t.pf_incl[w] >= 15 && t.pf_incl[w] <= 15 + SLACK, "%llu",
		  (unsigned long long)t.pf_incl[w]);
	cr_expect_eq(find(&t, "main/work"), -1);
	rm_rf(dir);
	free(dir);
}

Test(regions, mismatched_ends_are_ignored_or_close_the_inner_regions)
{
	char *dir = make_temp_dir();
	char out[4096];
	snprintf(out, sizeof out, "%s/probes", dir);
	cr_assert_eq(kbprof_probes_enable("count,trace", NULL, out), 0);
	KBPROF_REGION_END("nothing-open");
	KBPROF_REGION_BEGIN("a");
	KBPROF_REGION_BEGIN("b");
	KBPROF_REGION_END("a"); /* ends b too */
	KBPROF_REGION_BEGIN("a");
	kbprof_probes_disable(); /* a is still open: ended at exit */
	struct totals t;
	read_totals(out, &t);
	int a = find(&t, "a"), b = find(&t, "a/b");
	cr_assert(a >= 0 && b >= 0);
	cr_expect_eq(t.calls[a], 2);
	cr_expect_eq(t.calls[b], 1);
	cr_expect_eq(t.begins, 3);
	cr_expect_eq(t.ends, 3);
	cr_expect(strstr(t.notes, "2 region ends without a matching begin"), "%s", t.notes);
	rm_rf(dir);
	free(dir);
}

Test(regions, trace_events_carry_depth_path_and_ordered_times)
{
	char *dir = make_temp_dir();
	char out[4096];
	snprintf(out, sizeof out, "%s/probes", dir);
	cr_assert_eq(kbprof_probes_enable("trace", NULL, out), 0);
	KBPROF_REGION_BEGIN("startup");
	KBPROF_REGION_BEGIN("parse");
	KBPROF_REGION_END("parse");
	KBPROF_REGION_END("startup");
	kbprof_probes_disable();
	size_t len;
	char *body = read_file(out, &len);
	cr_assert_not_null(body);
	/* Walk the bare records: types 9/10 with pid, tid, time, depth, path. */
	const char *want_path[] = {"startup", "startup/parse", "startup/parse", "startup"};
	const uint32_t want_type[] = {9, 9, 10, 10}, want_depth[] = {1, 2, 2, 1};
	size_t pos = 0;
	uint64_t last = 0;
	for (int i = 0; i < 4; i++) {
		cr_assert_lt(pos + 8, len);
		uint32_t type, size, pid, depth, slen;
		uint64_t time;
		memcpy(&type, body + pos, 4);
		memcpy(&size, body + pos + 4, 4);
		memcpy(&pid, body + pos + 8, 4);
		memcpy(&time, body + pos + 16, 8);
		memcpy(&depth, body + pos + 24, 4);
		memcpy(&slen, body + pos + 28, 4);
		cr_expect_eq(type, want_type[i]);
		cr_expect_eq(pid, (uint32_t)getpid());
		cr_expect_eq(depth, want_depth[i]);
		cr_expect_str_eq(body + pos + 32, want_path[i]);
		cr_expect_geq(time, last);
		last = time;
		pos += size;
	}
	free(body);
	rm_rf(dir);
	free(dir);
}

Test(regions, a_program_is_switched_on_by_the_environment)
{
	char *dir = make_temp_dir();
	char out[4096], env_out[4200];
	snprintf(out, sizeof out, "%s/probes", dir);
	snprintf(env_out, sizeof env_out, "KBPROF_PROBES_OUT=%s", out);
	char *argv[] = {"/usr/bin/env",
			"KBPROF_PROBES=count",
			"KBPROF_PROBES_EVENTS=page-faults,cycles",
			env_out,
			TARGET,
			"regions",
			NULL};
	struct run_result r;
	cr_assert_eq(run_capture(argv, NULL, &r), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	struct totals t;
	read_totals(out, &t);
	int o = find(&t, "outer"), in = find(&t, "outer/inner");
	cr_assert(o >= 0 && in >= 0, "%d regions", t.n);
	cr_expect_eq(t.calls[in], 6);
	cr_expect(t.pf_excl[o] >= 20 && t.pf_excl[o] <= 20 + SLACK, "%llu",
		  (unsigned long long)t.pf_excl[o]);
	cr_expect_neq(t.pid[o], (uint32_t)getpid());
	/* cycles could not be opened in the program: said once, in a note. */
	if (access("/sys/bus/event_source/devices/cpu", F_OK) != 0)
		cr_expect(strstr(t.notes, "probes: cycles: not supported"), "%s", t.notes);
	run_result_free(&r);

	/* Without an output file: a table on stderr at exit. */
	char *argv2[] = {"/usr/bin/env", "KBPROF_PROBES=1", TARGET, "regions", NULL};
	cr_assert_eq(run_capture(argv2, NULL, &r), 0);
	cr_expect_eq(r.status, 0);
	cr_expect(strstr(r.err, "kbprof probes: regions of pid"), "%s", r.err);
	cr_expect(strstr(r.err, "outer/inner"), "%s", r.err);
	run_result_free(&r);

	/* A bad setting is said and leaves the program running unprobed. */
	char *argv3[] = {"/usr/bin/env",
			 "KBPROF_PROBES=count",
			 "KBPROF_PROBES_EVENTS=nosuch",
			 TARGET,
			 "exit",
			 "0",
			 NULL};
	cr_assert_eq(run_capture(argv3, NULL, &r), 0);
	cr_expect_eq(r.status, 0);
	cr_expect(strstr(r.err, "nosuch: unknown event"), "%s", r.err);
	run_result_free(&r);
	rm_rf(dir);
	free(dir);
}

Test(regions, kbprof_stat_reports_regions_per_path_in_text_and_json)
{
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "stat", "-e", "page-faults,task-clock", "-r", "2", "--",
				TARGET, "regions", NULL),
		     0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.err, "Performance counter stats for"), "%s", r.err);
	cr_expect(strstr(r.err, "(2 runs)"), "%s", r.err);
	cr_expect(strstr(r.err, "outer/inner"), "%s", r.err);
	cr_expect(strstr(r.err, "calls 6"), "%s", r.err);
	run_result_free(&r);

	char *dir = make_temp_dir();
	char json[4096];
	snprintf(json, sizeof json, "%s/stat.json", dir);
	cr_assert_eq(run_kbprof(&r, NULL, "stat", "-e", "page-faults,cycles", "--json", "-o", json,
				"--", TARGET, "threads", NULL),
		     0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	json_error_t je;
	json_t *root = json_load_file(json, 0, &je);
	cr_assert_not_null(root, "%s", je.text);
	json_t *regions = json_object_get(root, "regions");
	cr_assert(json_is_array(regions));
	bool found = false;
	size_t i;
	json_t *v;
	json_array_foreach(regions, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "path")), "worker") != 0)
			continue;
		found = true;
		double calls =
		    json_real_value(json_object_get(json_object_get(v, "calls"), "mean"));
		cr_expect_float_eq(calls, 2.0, 1e-9);
	}
	cr_expect(found);
	json_t *events = json_object_get(root, "events");
	json_t *cycles = json_array_get(events, 1);
	if (access("/sys/bus/event_source/devices/cpu", F_OK) != 0) {
		cr_expect_str_eq(json_string_value(json_object_get(cycles, "status")),
				 "not supported");
		cr_expect_str_eq(json_string_value(json_object_get(cycles, "reason")),
				 "not supported (no hardware PMU on this machine)");
	}
	json_decref(root);
	run_result_free(&r);
	rm_rf(dir);
	free(dir);
}
