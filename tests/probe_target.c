/* probe_target: the program the probes, stat and record tests measure.
 * Each mode does a known amount of a known kind of work:
 *   hot              hot_fn and cold_fn, 9:1 in work, called from run_hot,
 *                    inside region "hot" (for sample attribution)
 *   pages N          touches N fresh anonymous pages (N page faults)
 *   filemap PATH N   maps PATH privately and writes one byte per page of its
 *                    first N pages (N faults inside that mapping)
 *   spin MS          burns MS ms of CPU time; prints the process CPU time
 *   regions          nested and repeated regions with known page counts
 *   threads          one region per thread in two threads
 *   children         a thread and a child process both run hot_fn
 *   sleep S          sleeps S seconds (for signal tests)
 *   exit N           exits with status N
 *   kill SIG         kills itself with signal SIG
 * It links the probes library, so KBPROF_PROBES* switch its regions on. */
#include "kbprof/probe.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __clang__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif
#define NO_ASAN __attribute__((no_sanitize("address")))

static volatile uint64_t sink;

static uint64_t cpu_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

NOINLINE static uint64_t work(uint64_t n, uint64_t seed)
{
	uint64_t x = seed;
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

/* Keeps hot_fn and cold_fn from being leaf functions: GCC omits the frame
 * pointer setup of a leaf that needs no stack, and a frame-pointer unwind
 * from inside such a leaf skips its caller. */
NOINLINE static uint64_t not_a_leaf(void)
{
	return sink & 1;
}

/* The two functions of known relative cost: the loops are inside each, so
 * their samples land in their own address ranges. */
NOINLINE static uint64_t hot_fn(uint64_t n)
{
	uint64_t x = n | 1;
	for (uint64_t i = 0; i < 9 * n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		__asm__ volatile("" : "+r"(x));
	}
	return x + not_a_leaf();
}

NOINLINE static uint64_t cold_fn(uint64_t n)
{
	uint64_t x = n | 3;
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		__asm__ volatile("" : "+r"(x));
	}
	return x + not_a_leaf();
}

NOINLINE static void run_hot(double cpu_ms)
{
	uint64_t end = cpu_ns(CLOCK_THREAD_CPUTIME_ID) + (uint64_t)(cpu_ms * 1e6);
	while (cpu_ns(CLOCK_THREAD_CPUTIME_ID) < end) {
		sink += hot_fn(100000);
		sink += cold_fn(100000);
	}
}

NO_ASAN NOINLINE static void touch(char *p, size_t pages, long psz)
{
	for (size_t i = 0; i < pages; i++)
		((volatile char *)p)[i * (size_t)psz] = 1;
}

static void touch_fresh(size_t pages)
{
	if (pages == 0)
		return;
	long psz = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, pages * (size_t)psz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	madvise(p, pages * (size_t)psz, MADV_NOHUGEPAGE);
	touch(p, pages, psz);
	munmap(p, pages * (size_t)psz);
}

static void *thread_main(void *arg)
{
	KBPROF_REGION_BEGIN("worker");
	touch_fresh(16);
	run_hot(arg ? 100 : 0);
	KBPROF_REGION_END("worker");
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: probe_target MODE [ARGS]\n");
		return 2;
	}
	const char *mode = argv[1];
	if (strcmp(mode, "hot") == 0) {
		KBPROF_REGION_BEGIN("hot");
		run_hot(argc > 2 ? atof(argv[2]) : 300);
		KBPROF_REGION_END("hot");
	} else if (strcmp(mode, "pages") == 0 && argc > 2) {
		touch_fresh((size_t)atol(argv[2]));
	} else if (strcmp(mode, "filemap") == 0 && argc > 3) {
		FILE *f = fopen(argv[2], "r");
		if (!f) {
			perror(argv[2]);
			return 2;
		}
		long psz = sysconf(_SC_PAGESIZE);
		size_t pages = (size_t)atol(argv[3]);
		char *p = mmap(NULL, pages * (size_t)psz, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			       fileno(f), 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			return 2;
		}
		KBPROF_REGION_BEGIN("filemap");
		touch(p, pages, psz);
		KBPROF_REGION_END("filemap");
		printf("%p %zu\n", (void *)p, pages * (size_t)psz);
		munmap(p, pages * (size_t)psz);
		fclose(f);
	} else if (strcmp(mode, "spin") == 0 && argc > 2) {
		uint64_t end = cpu_ns(CLOCK_PROCESS_CPUTIME_ID) + (uint64_t)(atof(argv[2]) * 1e6);
		while (cpu_ns(CLOCK_PROCESS_CPUTIME_ID) < end)
			sink += work(1000, end);
		printf("cpu_ns %llu\n", (unsigned long long)cpu_ns(CLOCK_PROCESS_CPUTIME_ID));
	} else if (strcmp(mode, "regions") == 0) {
		/* outer x2 { 10 pages; inner x3 { 20 pages } }: page faults
		 * outer incl 140, excl 20; outer/inner incl = excl = 120. */
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
	} else if (strcmp(mode, "threads") == 0) {
		pthread_t t[2];
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, thread_main, NULL);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
	} else if (strcmp(mode, "children") == 0) {
		/* Fork before starting the thread: a child forked from a
		 * threaded process inherits whatever lock the other thread
		 * held at that moment (malloc's, ASan's allocator's) and may
		 * wait on it forever: under ASan, 3 runs in 40 of the record
		 * test hung in LeakSanitizer's exit check, which locks the
		 * allocator. */
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			KBPROF_REGION_BEGIN("child");
			run_hot(100);
			KBPROF_REGION_END("child");
			exit(0);
		}
		pthread_t t;
		pthread_create(&t, NULL, thread_main, (void *)1);
		run_hot(100);
		pthread_join(t, NULL);
		int st;
		waitpid(pid, &st, 0);
	} else if (strcmp(mode, "sleep") == 0 && argc > 2) {
		KBPROF_REGION_BEGIN("sleep");
		sleep((unsigned)atoi(argv[2]));
		KBPROF_REGION_END("sleep");
	} else if (strcmp(mode, "exit") == 0 && argc > 2) {
		return atoi(argv[2]);
	} else if (strcmp(mode, "kill") == 0 && argc > 2) {
		fflush(NULL);
		signal(atoi(argv[2]), SIG_DFL);
		raise(atoi(argv[2]));
		return 99;
	} else {
		fprintf(stderr, "probe_target: unknown mode '%s'\n", mode);
		return 2;
	}
	return 0;
}
