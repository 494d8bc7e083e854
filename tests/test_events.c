/* Tests of event lists (probes/events.c): libpfm4 encodings of the default
 * events against perf's values, modifiers, unknown events, the errno
 * messages, multiplex scaling, and software counters against known work. */
#include "probes/events.h"
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <perfmon/pfmlib_perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static struct kbev_list parse_ok(const char *spec)
{
	struct kbev_list l;
	struct kb_error err;
	cr_assert_eq(kbev_list_parse(&l, spec, &err), 0, "%s: %s", spec, err.msg);
	return l;
}

Test(events, every_default_event_encodes_to_perfs_type_and_config)
{
	static const struct {
		const char *name;
		uint32_t type;
		uint64_t config;
	} want[] = {
	    {"cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
	    {"instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS},
	    {"cache-references", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_REFERENCES},
	    {"cache-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES},
	    {"branch-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES},
	    {"task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK},
	    {"page-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS},
	    {"minor-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN},
	    {"major-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MAJ},
	    {"context-switches", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES},
	};
	struct kbev_list l = parse_ok(KBEV_DEFAULT_EVENTS);
	cr_assert_eq(l.n, sizeof want / sizeof want[0]);
	for (size_t i = 0; i < l.n; i++) {
		cr_expect_str_eq(l.ev[i].name, want[i].name);
		cr_expect_eq(l.ev[i].attr.type, want[i].type, "%s type %u", want[i].name,
			     l.ev[i].attr.type);
		cr_expect_eq(l.ev[i].attr.config, want[i].config, "%s config %llu", want[i].name,
			     (unsigned long long)l.ev[i].attr.config);
		cr_expect_eq(l.ev[i].attr.exclude_user, 0);
		cr_expect_eq(l.ev[i].attr.exclude_kernel, 0);
		cr_expect_not_null(strstr(l.ev[i].fstr, "perf::"), "%s", l.ev[i].fstr);
	}
	/* Hardware events share the core PMU's group, software ones theirs;
	 * task-clock is a PMU of its own in the kernel. */
	cr_expect_eq(l.ev[0].pmu_key, l.ev[4].pmu_key);
	cr_expect_neq(l.ev[0].pmu_key, l.ev[6].pmu_key);
	cr_expect_eq(l.ev[6].pmu_key, l.ev[9].pmu_key);
	cr_expect_neq(l.ev[5].pmu_key, l.ev[6].pmu_key);
	kbev_list_free(&l);
}

Test(events, modifiers_and_libpfm_names_are_understood)
{
	struct kbev_list l =
	    parse_ok(" cycles:u , cycles:k,perf::MAJOR-FAULTS, perf::PERF_COUNT_SW_TASK_CLOCK");
	cr_assert_eq(l.n, 4);
	cr_expect_str_eq(l.ev[0].name, "cycles:u");
	cr_expect_eq(l.ev[0].attr.exclude_kernel, 1);
	cr_expect_eq(l.ev[0].attr.exclude_user, 0);
	cr_expect_eq(l.ev[1].attr.exclude_user, 1);
	cr_expect_eq(l.ev[1].attr.exclude_kernel, 0);
	cr_expect_eq(l.ev[2].attr.type, PERF_TYPE_SOFTWARE);
	cr_expect_eq(l.ev[2].attr.config, PERF_COUNT_SW_PAGE_FAULTS_MAJ);
	cr_expect_eq(l.ev[3].attr.config, PERF_COUNT_SW_TASK_CLOCK);
	kbev_list_free(&l);
}

/* The first event of a hardware PMU libpfm detected on this CPU, as
 * "pmu::event" (INST_RETIRED:ANY_P on Intel, RETIRED_INSTRUCTIONS on AMD). */
static int core_pmu_event(char *out, size_t size)
{
	struct kb_error err;
	if (kbev_init(&err))
		return -1;
	for (int p = 0; p < PFM_PMU_MAX; p++) {
		pfm_pmu_info_t pi;
		memset(&pi, 0, sizeof pi);
		pi.size = sizeof pi;
		if (pfm_get_pmu_info((pfm_pmu_t)p, &pi) != PFM_SUCCESS || !pi.is_present ||
		    pi.type != PFM_PMU_TYPE_CORE)
			continue;
		pfm_event_info_t ei;
		memset(&ei, 0, sizeof ei);
		ei.size = sizeof ei;
		if (pfm_get_event_info(pi.first_event, PFM_OS_PERF_EVENT_EXT, &ei) != PFM_SUCCESS)
			continue;
		snprintf(out, size, "%s::%s", pi.name, ei.name);
		return 0;
	}
	return -1;
}

Test(events, a_core_pmu_event_encodes_as_a_raw_or_hardware_event)
{
	char name[256];
	if (core_pmu_event(name, sizeof name))
		cr_skip_test("libpfm4 detects no core PMU on this CPU model");
	struct kbev_list l;
	struct kb_error err;
	if (kbev_list_parse(&l, name, &err)) {
		/* Some first events need a unit mask; that is libpfm's rule, named. */
		cr_expect(strstr(err.msg, name) && strstr(err.msg, "libpfm"), "%s", err.msg);
		return;
	}
	cr_expect(l.ev[0].attr.type == PERF_TYPE_RAW || l.ev[0].attr.type == PERF_TYPE_HARDWARE ||
		      l.ev[0].attr.type >= PERF_TYPE_MAX,
		  "%s: type %u", name, l.ev[0].attr.type);
	cr_expect_eq(l.ev[0].pmu_key, kbev_pmu_key(&l.ev[0].attr));
	kbev_list_free(&l);
}

Test(events, an_unknown_event_is_named_with_libpfms_reason)
{
	struct kbev_list l;
	struct kb_error err;
	cr_expect_eq(kbev_list_parse(&l, "cycles,nosuchevent,task-clock", &err), -1);
	cr_expect_str_eq(err.msg, "nosuchevent: unknown event (libpfm: event not found)");
	cr_expect_eq(l.n, 0);
	cr_expect_eq(kbev_list_parse(&l, "INST_RETIRED:ANY_P:bogus=3", &err), -1);
	cr_expect(strstr(err.msg, "INST_RETIRED:ANY_P:bogus=3: ") == err.msg, "%s", err.msg);
	cr_expect_eq(kbev_list_parse(&l, " , ", &err), -1);
	cr_expect_str_eq(err.msg, "empty event list");
	cr_expect_eq(kbev_list_parse(&l, "{cycles,instructions}", &err), -1);
	cr_expect(strstr(err.msg, "braces are not supported"), "%s", err.msg);
}

Test(events, each_errno_gets_its_message)
{
	char why[KBEV_REASON_MAX];
	struct kbev_open_ctx ctx = {.paranoid = 2, .hardware = true, .has_hw_pmu = false};
	cr_expect_eq(kbev_explain(ENOENT, &ctx, why, sizeof why), KBEV_NOT_SUPPORTED);
	cr_expect_str_eq(why, "not supported (no hardware PMU on this machine)");
	ctx.has_hw_pmu = true;
	cr_expect_eq(kbev_explain(EOPNOTSUPP, &ctx, why, sizeof why), KBEV_NOT_SUPPORTED);
	cr_expect_str_eq(why, "not supported (Operation not supported)");
	cr_expect_eq(kbev_explain(ENODEV, &ctx, why, sizeof why), KBEV_NOT_SUPPORTED);

	ctx = (struct kbev_open_ctx){.paranoid = 2, .counts_kernel = true};
	cr_expect_eq(kbev_explain(EACCES, &ctx, why, sizeof why), KBEV_NO_PERMISSION);
	cr_expect_str_eq(why, "no permission: perf_event_paranoid is 2; needs <= 1 or CAP_PERFMON");
	ctx = (struct kbev_open_ctx){.paranoid = 3, .counts_kernel = false};
	cr_expect_eq(kbev_explain(EPERM, &ctx, why, sizeof why), KBEV_NO_PERMISSION);
	cr_expect_str_eq(why, "no permission: perf_event_paranoid is 3; needs <= 2 or CAP_PERFMON");
	ctx = (struct kbev_open_ctx){.paranoid = 1, .cpu_wide = true};
	kbev_explain(EACCES, &ctx, why, sizeof why);
	cr_expect_str_eq(why, "no permission: perf_event_paranoid is 1; needs <= 0 or CAP_PERFMON");
	ctx = (struct kbev_open_ctx){.paranoid = 2, .privileged = true};
	kbev_explain(EACCES, &ctx, why, sizeof why);
	cr_expect(strstr(why, "security policy"), "%s", why);

	cr_expect_eq(kbev_explain(EINVAL, &ctx, why, sizeof why), KBEV_FAILED);
	cr_expect(strstr(why, "EINVAL"), "%s", why);
	kbev_explain(EBUSY, &ctx, why, sizeof why);
	cr_expect(strstr(why, "busy"), "%s", why);
	kbev_explain(EMFILE, &ctx, why, sizeof why);
	cr_expect(strstr(why, "too many open files"), "%s", why);
	kbev_explain(E2BIG, &ctx, why, sizeof why);
	cr_expect(strstr(why, "cannot open: "), "%s", why);
}

Test(events, multiplexed_counts_are_scaled_by_enabled_over_running)
{
	double f;
	cr_expect_float_eq(kbev_scale(1000, 200, 100, &f), 2000.0, 1e-9);
	cr_expect_float_eq(f, 0.5, 1e-12);
	cr_expect_float_eq(kbev_scale(1000, 300, 300, &f), 1000.0, 1e-9);
	cr_expect_float_eq(f, 1.0, 1e-12);
	cr_expect_float_eq(kbev_scale(1000, 400, 100, &f), 4000.0, 1e-9);
	cr_expect_float_eq(f, 0.25, 1e-12);
	/* Never on the PMU: nothing is known, nothing is made up. */
	cr_expect_float_eq(kbev_scale(0, 500, 0, &f), 0.0, 1e-12);
	cr_expect_float_eq(f, 0.0, 1e-12);
	/* Running a little over enabled (clock skew) is clamped, not inflated. */
	cr_expect_float_eq(kbev_scale(1000, 100, 101, &f), 1000.0, 1e-9);
	cr_expect_float_eq(f, 1.0, 1e-12);
	cr_expect_float_eq(kbev_scale(7, 0, 0, NULL), 7.0, 1e-12);
}

Test(events, cycles_is_refused_here_with_the_reason_and_the_others_still_count)
{
	struct kbev_open_ctx ctx = {0};
	kbev_machine_ctx(&ctx);
	struct kbev_list l = parse_ok("cycles,page-faults,instructions,task-clock");
	struct kbev_set set;
	struct kb_error err;
	cr_assert_eq(kbev_set_open(&set, &l, 0, 0, &err), 0, "%s", err.msg);
	cr_expect_eq(set.result[1].status, KBEV_OK, "%s", set.result[1].reason);
	cr_expect_eq(set.result[3].status, KBEV_OK, "%s", set.result[3].reason);
	if (ctx.has_hw_pmu) {
		kbev_set_close(&set);
		kbev_list_free(&l);
		cr_skip_test("this machine has a hardware PMU: cycles is not refused");
	}
	cr_expect_eq(set.result[0].status, KBEV_NOT_SUPPORTED);
	cr_expect_str_eq(set.result[0].reason, "not supported (no hardware PMU on this machine)");
	cr_expect_eq(set.result[2].status, KBEV_NOT_SUPPORTED);
	cr_expect_eq(set.fd[0], -1);
	cr_expect_eq(set.nopen, 2);
	cr_expect_eq(kbev_set_read(&set), 0);
	cr_expect_gt(set.result[3].value, 0);
	kbev_set_close(&set);
	kbev_list_free(&l);
}

Test(events, hardware_events_count_where_there_is_a_pmu)
{
	struct kbev_open_ctx ctx = {0};
	kbev_machine_ctx(&ctx);
	if (!ctx.has_hw_pmu)
		cr_skip_test(
		    "no hardware PMU on this machine: cycles and instructions cannot count");
	struct kbev_list l = parse_ok("cycles,instructions");
	struct kbev_set set;
	struct kb_error err;
	cr_assert_eq(kbev_set_open(&set, &l, 0, 0, &err), 0, "%s", err.msg);
	cr_assert_eq(set.result[0].status, KBEV_OK, "%s", set.result[0].reason);
	volatile uint64_t x = 1;
	for (int i = 0; i < 1000000; i++)
		x = x * 3 + 1;
	kbev_set_read(&set);
	cr_expect_gt(set.result[1].value, 1000000);
	cr_expect_gt(set.result[0].value, 0);
	kbev_set_close(&set);
	kbev_list_free(&l);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((no_sanitize("address"))) static void touch_pages(char *p, size_t n, long psz)
{
	for (size_t i = 0; i < n; i++)
		((volatile char *)p)[i * (size_t)psz] = 1;
}

Test(events, page_faults_count_the_fresh_pages_touched)
{
	struct kbev_list l = parse_ok("page-faults,minor-faults,major-faults");
	struct kbev_set set;
	struct kb_error err;
	cr_assert_eq(kbev_set_open(&set, &l, 0, 0, &err), 0, "%s", err.msg);
	cr_assert_eq(set.nopen, 3);
	long psz = sysconf(_SC_PAGESIZE);
	const size_t n = 300;
	char *p =
	    mmap(NULL, n * (size_t)psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	madvise(p, n * (size_t)psz, MADV_NOHUGEPAGE);
	kbev_set_read(&set);
	uint64_t before = set.result[0].value, minor_before = set.result[1].value;
	touch_pages(p, n, psz);
	kbev_set_read(&set);
	uint64_t faults = set.result[0].value - before;
	uint64_t minor = set.result[1].value - minor_before;
	cr_expect(faults >= n && faults <= n + 2, "%llu faults for %zu pages",
		  (unsigned long long)faults, n);
	cr_expect_eq(minor, faults);
	/* All three were in one group: one read gave them one time base. */
	cr_expect_eq(set.result[0].enabled, set.result[2].enabled);
	munmap(p, n * (size_t)psz);
	kbev_set_close(&set);
	kbev_list_free(&l);
}

Test(events, task_clock_agrees_with_the_threads_cpu_time)
{
	struct kbev_list l = parse_ok("page-faults,task-clock,context-switches");
	struct kbev_set set;
	struct kb_error err;
	cr_assert_eq(kbev_set_open(&set, &l, 0, 0, &err), 0, "%s", err.msg);
	kbev_set_read(&set);
	uint64_t tc0 = set.result[1].value, cpu0 = thread_cpu_ns();
	volatile uint64_t x = 1;
	while (thread_cpu_ns() - cpu0 < 100000000ull)
		for (int i = 0; i < 10000; i++)
			x = x * 3 + 1;
	uint64_t cpu1 = thread_cpu_ns();
	kbev_set_read(&set);
	double tc = (double)(set.result[1].value - tc0), cpu = (double)(cpu1 - cpu0);
	/* Two clocks of the same CPU time. task-clock also counts the time the
	 * hypervisor stole and interrupts took, which the thread's CPU clock
	 * leaves out, so on a busy VM it may run ahead by some percent. */
	cr_expect(tc > cpu * 0.95 && tc < cpu * 1.3 + 1e6, "task-clock %.0f ns, cpu time %.0f ns",
		  tc, cpu);
	kbev_set_close(&set);
	kbev_list_free(&l);
}

Test(events, an_event_set_on_exec_counts_nothing_before_the_exec)
{
	struct kbev_list l = parse_ok("page-faults,task-clock");
	struct kbev_set set;
	struct kb_error err;
	cr_assert_eq(kbev_set_open(&set, &l, 0, KBEV_OPEN_ENABLE_ON_EXEC, &err), 0, "%s", err.msg);
	long psz = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 10 * (size_t)psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	touch_pages(p, 10, psz);
	munmap(p, 10 * (size_t)psz);
	kbev_set_read(&set);
	cr_expect_eq(set.result[0].value, 0);
	cr_expect_eq(set.result[0].enabled, 0);
	cr_expect_eq(set.result[0].status, KBEV_OK);
	kbev_set_close(&set);
	kbev_list_free(&l);
}

Test(events, kbprof_stat_names_an_unknown_event)
{
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "stat", "-e", "cycles,nosuch", "--", "true", NULL), 0);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "kbprof stat: nosuch: unknown event (libpfm: event not found)"),
		  "%s", r.err);
	run_result_free(&r);
}

Test(events, grouped_software_events_count_like_single_ones)
{
	/* One set grouped per PMU, one event per set: both must agree. */
	struct kbev_list l = parse_ok("task-clock,page-faults,minor-faults,context-switches");
	struct kbev_list solo = parse_ok("page-faults");
	struct kbev_set set, one;
	struct kb_error err;
	cr_assert_eq(kbev_set_open(&set, &l, 0, 0, &err), 0, "%s", err.msg);
	cr_assert_eq(kbev_set_open(&one, &solo, 0, 0, &err), 0, "%s", err.msg);
	cr_expect_eq(set.leader[1], 1, "page-faults leads the software group");
	cr_expect_eq(set.leader[2], 1);
	cr_expect_eq(set.leader[0], 0, "task-clock has a group of its own");
	long psz = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 64 * (size_t)psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	madvise(p, 64 * (size_t)psz, MADV_NOHUGEPAGE);
	kbev_set_read(&set);
	kbev_set_read(&one);
	uint64_t grouped0 = set.result[1].value, solo0 = one.result[0].value;
	touch_pages(p, 64, psz);
	kbev_set_read(&set);
	kbev_set_read(&one);
	cr_expect_geq(set.result[1].value - grouped0, 64);
	cr_expect_eq(set.result[1].value - grouped0, one.result[0].value - solo0);
	cr_expect_gt(set.result[0].value, 0);
	munmap(p, 64 * (size_t)psz);
	kbev_set_close(&set);
	kbev_set_close(&one);
	kbev_list_free(&l);
	kbev_list_free(&solo);
}

Test(events, a_derived_task_clock_matches_the_kernels_task_clock)
{
	struct kbev_list l = parse_ok("page-faults,task-clock");
	struct kbev_list tc = parse_ok("task-clock");
	struct kbev_set set, real;
	struct kb_error err;
	cr_assert_eq(kbev_set_open(&set, &l, 0, KBEV_OPEN_DERIVE_TASK_CLOCK, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(kbev_set_open(&real, &tc, 0, 0, &err), 0, "%s", err.msg);
	cr_expect(set.derived[1], "task-clock rides on the page-faults group");
	cr_expect_eq(set.fd[1], -1);
	cr_expect_eq(set.nopen, 2);
	kbev_set_read(&set);
	kbev_set_read(&real);
	uint64_t d0 = set.result[1].value, r0 = real.result[0].value;
	uint64_t cpu0 = thread_cpu_ns();
	volatile uint64_t x = 1;
	while (thread_cpu_ns() - cpu0 < 50000000ull)
		for (int i = 0; i < 10000; i++)
			x = x * 3 + 1;
	kbev_set_read(&set);
	kbev_set_read(&real);
	double derived = (double)(set.result[1].value - d0);
	double kernel = (double)(real.result[0].value - r0);
	cr_expect(derived > kernel * 0.98 && derived < kernel * 1.02 + 2e5,
		  "derived %.0f ns, task-clock %.0f ns", derived, kernel);
	cr_expect_eq(set.result[1].status, KBEV_OK);
	kbev_set_close(&set);
	kbev_set_close(&real);
	kbev_list_free(&l);
	kbev_list_free(&tc);
}
