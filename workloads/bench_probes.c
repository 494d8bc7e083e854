/* bench-probes: what probing costs, and whether kbprof's counts agree with
 * perf's (a benchmark the project runs, never a test).
 *
 *   bench-probes pairs [--n N]
 *       ns per KBPROF_REGION_BEGIN/END pair: probes off (the default), on
 *       with wall time and calls only, on with trace records, and on with
 *       the default events (one read(2) per PMU group per boundary).
 *   bench-probes work [--scale X]
 *       the workload the next two modes measure: 20 phases in regions, each
 *       faulting 512 fresh pages and computing 50 matches, X * 2e8 steps of
 *       a xorshift in all (X = 1: about 0.3 s on a 2020s x86 core).
 *   bench-probes overhead --kbprof PATH [--runs R] [-- CMD ARGS]
 *       median wall time and CPU time (user + system, of the tool and the
 *       command together) of CMD (default: this program's `work`) plain,
 *       under kbprof stat, perf stat, kbprof record -F 1000 (with and
 *       without -g) and perf record -F 1000 (with and without -g), with the
 *       overhead over the plain run.
 *   bench-probes agree --kbprof PATH [--runs R] [-- CMD ARGS]
 *       medians of page-faults, minor-faults, task-clock, context-switches
 *       from kbprof stat and perf stat on CMD, and their difference.
 *
 * Runs interleave the variants, so a change of machine load hits all. */
#include "kbprof/probe.h"
#include "probes/events.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- pairs ---- */

static volatile uint64_t sink;

static double loop_ns(uint64_t n, bool with_probes)
{
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		if (with_probes)
			KBPROF_REGION_BEGIN("pair");
		sink += i;
		if (with_probes)
			KBPROF_REGION_END("pair");
		/* Keep the flag's load in the loop, as in real code between calls. */
		__asm__ volatile("" ::: "memory");
	}
	return (double)(now_ns() - t0);
}

/* Median over 7 runs of the ns per iteration of a loop with a begin/end
 * pair, and (in *base) of the same loop without. */
static double pair_cost(uint64_t n, const char *mode, const char *events, const char *out,
			double *base)
{
	double v[7], b[7];
	for (int r = 0; r < 7; r++) {
		if (mode && kbprof_probes_enable(mode, events, out)) {
			fprintf(stderr, "bench-probes: cannot enable probes\n");
			exit(1);
		}
		b[r] = loop_ns(n, false) / (double)n;
		v[r] = loop_ns(n, true) / (double)n;
		if (mode)
			kbprof_probes_disable();
	}
	if (base)
		*base = median(b, 7);
	return median(v, 7);
}

static int cmd_pairs(uint64_t n)
{
	char out[] = "/tmp/bench-probes-XXXXXX";
	int fd = mkstemp(out);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	printf("region begin/end pair cost, median of 7 runs, ns per loop iteration\n");
	double base;
	double off = pair_cost(n * 10, NULL, NULL, NULL, &base);
	printf("  %-52s %10.2f\n", "loop without probes", base);
	printf("  %-52s %10.2f\n", "probes off (the default; a load and a branch each)", off);
	printf("  %-52s %10.1f\n", "on, wall time and calls only",
	       pair_cost(n, "count", NULL, out, NULL));
	printf("  %-52s %10.1f\n", "on, with trace records (kbprof record)",
	       pair_cost(n, "count,trace", NULL, out, NULL));
	/* What the default events cost here: the ones the machine can open. */
	struct kbev_list list;
	struct kb_error err;
	if (kbev_list_parse(&list, KBEV_DEFAULT_EVENTS, &err) == 0) {
		struct kbev_set set;
		if (kbev_set_open(&set, &list, 0, KBEV_OPEN_DERIVE_TASK_CLOCK, &err) == 0) {
			size_t groups = 0;
			for (size_t i = 0; i < set.n; i++)
				groups += set.fd[i] >= 0 && set.leader[i] == (int)i;
			printf("  %-52s %10.1f\n", "on, default events (kbprof stat)",
			       pair_cost(n / 10, "count", KBEV_DEFAULT_EVENTS, out, NULL));
			printf(
			    "    (%zu of %zu default events open here, in %zu groups: %zu read(2) "
			    "per boundary)\n",
			    set.nopen, set.n, groups, groups);
			kbev_set_close(&set);
		}
		kbev_list_free(&list);
	}
	unlink(out);
	return 0;
}

/* ---- the workload ---- */

static void fresh_pages(size_t pages)
{
	long psz = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, pages * (size_t)psz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	for (size_t i = 0; i < pages; i++)
		((volatile char *)p)[i * (size_t)psz] = (char)i;
	munmap(p, pages * (size_t)psz);
}

static uint64_t compute(uint64_t n)
{
	uint64_t x = n | 1;
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	return x;
}

static int cmd_work(double scale)
{
	/* A fixed amount of work (never calibrated: every run does the same). */
	uint64_t total = (uint64_t)(scale * 2e8);
	KBPROF_REGION_BEGIN("work");
	for (int phase = 0; phase < 20; phase++) {
		KBPROF_REGION_BEGIN("load");
		fresh_pages(512);
		KBPROF_REGION_END("load");
		KBPROF_REGION_BEGIN("query");
		for (int q = 0; q < 50; q++) {
			KBPROF_REGION_BEGIN("match");
			sink += compute(total / 1000);
			KBPROF_REGION_END("match");
		}
		KBPROF_REGION_END("query");
	}
	KBPROF_REGION_END("work");
	return 0;
}

/* ---- running commands ---- */

/* Runs argv with stdout and stderr to /dev/null; returns its wall time in
 * ns, or -1, and in *cpu (if not NULL) the CPU time, user and system, of
 * the process and the children it waited for (the tool and the workload
 * both, for a tool), in ns. */
static double run_cpu(char *const argv[], double *cpu)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	uint64_t t0 = now_ns();
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		return -1;
	int st;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR)
		;
	double t = (double)(now_ns() - t0);
	if (cpu)
		*cpu = (double)ru.ru_utime.tv_sec * 1e9 + (double)ru.ru_utime.tv_usec * 1e3 +
		       (double)ru.ru_stime.tv_sec * 1e9 + (double)ru.ru_stime.tv_usec * 1e3;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? t : -1;
}

static double run_wall(char *const argv[])
{
	return run_cpu(argv, NULL);
}

#define MAXARGS 64

struct variant {
	const char *name;
	char *argv[MAXARGS];
	double *t, *cpu;
	bool failed;
};

static void build_argv(char **out, char *const *prefix, char *const *cmd)
{
	int n = 0;
	for (int i = 0; prefix && prefix[i] && n < MAXARGS - 1; i++)
		out[n++] = prefix[i];
	for (int i = 0; cmd[i] && n < MAXARGS - 1; i++)
		out[n++] = cmd[i];
	out[n] = NULL;
}

static bool have_perf(void)
{
	char *argv[] = {"perf", "--version", NULL};
	return run_wall(argv) >= 0;
}

static int cmd_overhead(const char *kbprof, int runs, char *const *cmd)
{
	char kdata[] = "/tmp/bench-probes-kb-XXXXXX", pdata[] = "/tmp/bench-probes-perf-XXXXXX";
	int a = mkstemp(kdata), b = mkstemp(pdata);
	if (a < 0 || b < 0) {
		perror("mkstemp");
		return 1;
	}
	close(a);
	close(b);
	bool perf = have_perf();
	char *kb = (char *)kbprof;
	char *p_plain[] = {NULL};
	char *p_kstat[] = {kb, "stat", "-o", "/dev/null", "--", NULL};
	char *p_pstat[] = {"perf", "stat", "-o", "/dev/null", "--", NULL};
	char *p_krec[] = {kb, "record", "-F", "1000", "-o", kdata, "--", NULL};
	char *p_krec_g[] = {kb, "record", "-F", "1000", "-g", "-o", kdata, "--", NULL};
	char *p_prec[] = {"perf", "record", "-q", "-F", "1000", "-o", pdata, "--", NULL};
	char *p_prec_g[] = {"perf", "record", "-q", "-F", "1000", "-g", "-o", pdata, "--", NULL};
	struct variant v[] = {
	    {"plain run", {0}, NULL, NULL, false},
	    {"kbprof stat (default events)", {0}, NULL, NULL, false},
	    {"perf stat (default events)", {0}, NULL, NULL, !perf},
	    {"kbprof record -F 1000", {0}, NULL, NULL, false},
	    {"perf record -F 1000", {0}, NULL, NULL, !perf},
	    {"kbprof record -F 1000 -g", {0}, NULL, NULL, false},
	    {"perf record -F 1000 -g", {0}, NULL, NULL, !perf},
	};
	char *const *prefixes[] = {p_plain, p_kstat, p_pstat, p_krec, p_prec, p_krec_g, p_prec_g};
	size_t nv = sizeof v / sizeof v[0];
	for (size_t i = 0; i < nv; i++) {
		build_argv(v[i].argv, prefixes[i], cmd);
		v[i].t = calloc((size_t)runs, sizeof *v[i].t);
		v[i].cpu = calloc((size_t)runs, sizeof *v[i].cpu);
	}
	/* One warm-up of each, then interleaved runs. */
	for (size_t i = 0; i < nv; i++)
		if (!v[i].failed && run_wall(v[i].argv) < 0)
			v[i].failed = true;
	for (int r = 0; r < runs; r++)
		for (size_t i = 0; i < nv; i++)
			if (!v[i].failed && (v[i].t[r] = run_cpu(v[i].argv, &v[i].cpu[r])) < 0)
				v[i].failed = true;
	printf("time of '");
	for (int i = 0; cmd[i]; i++)
		printf("%s%s", i ? " " : "", cmd[i]);
	printf("', median of %d interleaved runs\n", runs);
	printf("  %-30s %10s %14s %10s %14s\n", "", "wall", "", "CPU", "(tool + command)");
	double plain = 0, plain_cpu = 0;
	for (size_t i = 0; i < nv; i++) {
		if (v[i].failed) {
			printf("  %-30s %10s\n", v[i].name, "failed");
			continue;
		}
		double m = median(v[i].t, (size_t)runs), c = median(v[i].cpu, (size_t)runs);
		if (i == 0) {
			plain = m;
			plain_cpu = c;
		}
		printf("  %-30s %7.1f ms", v[i].name, m / 1e6);
		if (i > 0)
			printf(" %+12.1f%%", 100.0 * (m - plain) / plain);
		else
			printf(" %13s", "");
		printf(" %7.1f ms", c / 1e6);
		if (i > 0)
			printf(" %+12.1f%%", 100.0 * (c - plain_cpu) / plain_cpu);
		printf("\n");
	}
	for (size_t i = 0; i < nv; i++) {
		free(v[i].t);
		free(v[i].cpu);
	}
	unlink(kdata);
	unlink(pdata);
	return 0;
}

/* ---- agreement with perf stat ---- */

#define NAGREE 4
static const char *const agree_events[NAGREE] = {"page-faults", "minor-faults", "task-clock",
						 "context-switches"};

static int kbprof_values(const char *kbprof, bool regions, char *const *cmd, double *out)
{
	char json[] = "/tmp/bench-probes-json-XXXXXX";
	int fd = mkstemp(json);
	if (fd < 0)
		return -1;
	close(fd);
	char *pre[] = {
	    (char *)kbprof, "stat", "-e", "page-faults,minor-faults,task-clock,context-switches",
	    "--json",       "-o",   json, regions ? "--" : "--no-regions",
	    "--",           NULL};
	if (regions)
		pre[8] = NULL;
	char *argv[MAXARGS];
	build_argv(argv, pre, cmd);
	int rc = run_wall(argv) < 0 ? -1 : 0;
	json_error_t je;
	json_t *root = rc ? NULL : json_load_file(json, 0, &je);
	unlink(json);
	if (!root)
		return -1;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(root, "events"), i, e)
	{
		for (int k = 0; k < NAGREE; k++)
			if (strcmp(json_string_value(json_object_get(e, "name")),
				   agree_events[k]) == 0)
				out[k] = json_real_value(json_object_get(e, "value"));
	}
	json_decref(root);
	return 0;
}

static int perf_values(char *const *cmd, double *out)
{
	char csv[] = "/tmp/bench-probes-csv-XXXXXX";
	int fd = mkstemp(csv);
	if (fd < 0)
		return -1;
	close(fd);
	char *pre[] = {
	    "perf", "stat", "-x", ",", "-e", "page-faults,minor-faults,task-clock,context-switches",
	    "-o",   csv,    "--", NULL};
	char *argv[MAXARGS];
	build_argv(argv, pre, cmd);
	if (run_wall(argv) < 0) {
		unlink(csv);
		return -1;
	}
	FILE *f = fopen(csv, "r");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		/* value,unit,event,... (unit empty for counts; task-clock in msec) */
		char *rest = line;
		char *value = strsep(&rest, ","), *unit = strsep(&rest, ","),
		     *event = strsep(&rest, ",");
		if (!value || !unit || !event)
			continue;
		for (int k = 0; k < NAGREE; k++)
			if (strcmp(event, agree_events[k]) == 0)
				out[k] = atof(value) * (strcmp(unit, "msec") == 0 ? 1e6 : 1);
	}
	if (f)
		fclose(f);
	unlink(csv);
	return 0;
}

static int cmd_agree(const char *kbprof, int runs, char *const *cmd)
{
	if (!have_perf()) {
		printf("perf is not installed: nothing to agree with\n");
		return 0;
	}
	/* Per run: kbprof with the command's region probes on (the default),
	 * kbprof with them off, perf. */
	double *v[3];
	for (int k = 0; k < 3; k++)
		v[k] = calloc((size_t)runs * NAGREE, sizeof *v[k]);
	for (int r = 0; r < runs; r++) {
		if (kbprof_values(kbprof, true, cmd, v[0] + r * NAGREE) ||
		    kbprof_values(kbprof, false, cmd, v[1] + r * NAGREE) ||
		    perf_values(cmd, v[2] + r * NAGREE)) {
			fprintf(stderr, "bench-probes: a run failed\n");
			return 1;
		}
	}
	printf("kbprof stat against perf stat on '");
	for (int i = 0; cmd[i]; i++)
		printf("%s%s", i ? " " : "", cmd[i]);
	printf("', medians of %d interleaved runs each\n", runs);
	printf("  %-18s %14s %8s %14s %8s %14s\n", "event", "kbprof", "diff", "--no-regions",
	       "diff", "perf");
	double *col = calloc((size_t)runs, sizeof *col);
	for (int k = 0; k < NAGREE; k++) {
		double m[3];
		for (int c = 0; c < 3; c++) {
			for (int r = 0; r < runs; r++)
				col[r] = v[c][r * NAGREE + k];
			m[c] = median(col, (size_t)runs);
		}
		bool ms = strcmp(agree_events[k], "task-clock") == 0;
		double scale = ms ? 1e6 : 1;
		printf("  %-18s %11.2f%3s %+7.2f%% %11.2f%3s %+7.2f%% %11.2f%3s\n", agree_events[k],
		       m[0] / scale, ms ? " ms" : "", m[2] ? 100.0 * (m[0] - m[2]) / m[2] : 0.0,
		       m[1] / scale, ms ? " ms" : "", m[2] ? 100.0 * (m[1] - m[2]) / m[2] : 0.0,
		       m[2] / scale, ms ? " ms" : "");
	}
	printf("  (context switches follow the machine's load, not the tool)\n");
	free(col);
	for (int k = 0; k < 3; k++)
		free(v[k]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr,
			"usage: bench-probes pairs|work|overhead|agree [options] [-- CMD]\n");
		return 2;
	}
	const char *mode = argv[1];
	static const struct option opts[] = {
	    {"n", required_argument, NULL, 'n'},
	    {"scale", required_argument, NULL, 'm'},
	    {"kbprof", required_argument, NULL, 'k'},
	    {"runs", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t n = 2000000;
	double scale = 1;
	const char *kbprof = "kbprof";
	int runs = 7, c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			n = strtoull(optarg, NULL, 10);
			break;
		case 'm':
			scale = atof(optarg);
			break;
		case 'k':
			kbprof = optarg;
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (runs < 1)
		runs = 1;
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	self[len > 0 ? len : 0] = '\0';
	char *dflt[] = {self, "work", NULL};
	char *const *cmd = optind < argc ? argv + optind : dflt;
	if (strcmp(mode, "pairs") == 0)
		return cmd_pairs(n);
	if (strcmp(mode, "work") == 0)
		return cmd_work(scale);
	if (strcmp(mode, "overhead") == 0)
		return cmd_overhead(kbprof, runs, cmd);
	if (strcmp(mode, "agree") == 0)
		return cmd_agree(kbprof, runs, cmd);
	fprintf(stderr, "bench-probes: unknown mode '%s'\n", mode);
	return 2;
}
