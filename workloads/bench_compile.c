/* bench-compile: how fast the core compiles the seed's generated KBs.
 *
 * For each size (kbgen_generate(10000 / 100000 / 1000000): 1.29 / 13.4 /
 * 138.6 MB, 40K / 400K / 4M rules), R runs, each in a fresh process (a
 * fork of a parent that allocates nothing big, so that each child's
 * allocator starts as a new program's would): the child generates the
 * source in memory, then compiles it into a fresh store and space (parse,
 * intern, hash-cons, insert, index), as `kbprof kb compile` does. Runs in
 * one process would let later runs reuse memory the allocator kept from
 * earlier ones, and glibc's mmap threshold, raised by freeing a big
 * block, would change how the next run allocates: both distort the peak
 * RSS. Before it reads its baseline, the child runs a small compile with
 * the clocks read around it, so that the code the measured window runs is
 * mapped (see warm_up). Reported per size, as medians over the runs: MB/s,
 * rules/s, ns per rule, peak RSS growth during the compile (VmHWM after
 * minus VmRSS before, with the high-water mark reset through
 * /proc/self/clear_refs), and the bytes the store and space hold per rule.
 * Finally the large/small ratio of time per rule.
 *
 * Times are wall clock (what a user waits). The CPU time of the process is
 * reported beside it: on a machine shared with other work, wall time also
 * counts the time the scheduler gave to others, CPU time does not. The
 * kernel's share of that CPU time is reported too, for runs of 0.2 s of
 * CPU or more: it is mostly zeroing the fresh pages the compile fills, and
 * on a VM its cost moves with the host's state.
 *
 * usage: bench-compile [--sizes small,medium,large] [--runs N] */
#include "core/parse.h"
#include "core/space.h"
#include "workloads/kbgen.h"
#include "workloads/measure.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* System (kernel) CPU time of this process so far, in seconds. */
static double sys_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int add_atom(void *ctx, mt_term atom, int bang, const struct mt_varnames *names,
		    struct mt_srcpos where)
{
	return mt_space_add(ctx, atom, names, NULL) < 0 ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct result {
	double seconds, cpu, sys, rss_growth, bytes;
	uint64_t rules;
	size_t len;
};

/* One run's figures, from the child that compiled. */
struct run {
	double seconds, cpu, sys, rss, bytes;
	uint64_t rules;
	size_t len;
	int hwm_ok;
	char error[1200]; /* a kb_error message (1024 bytes) and the label */
};

struct once_arg {
	const char *label;
	uint64_t n;
};

/* Compiles text into a new store and space (*st, *sp). 0, or -1 with err
 * set and nothing left allocated. */
static int compile_text(const char *text, size_t len, struct mt_store **st, struct mt_space **sp,
			struct kb_error *err)
{
	*st = mt_store_new();
	*sp = *st ? mt_space_new(*st) : NULL;
	if (!*sp) {
		kb_error_set(err, "out of memory");
	} else if (mt_parse_buffer(*st, text, len, NULL, add_atom, *sp, err) == 0) {
		return 0;
	}
	mt_space_free(*sp);
	mt_store_free(*st);
	*st = NULL;
	*sp = NULL;
	return -1;
}

/* Reads the clocks the measured window reads, compiles a 4,000-rule KB
 * (big enough that its arrays grow as mappings) and frees it, so that the
 * code the window runs is mapped before the baseline is read. A forked
 * child has no page-table entries for the parent's file-backed code: on
 * the small KB the window used to fault in 160 KB of code (the kernel maps
 * 16 pages around each such fault; clock_gettime's libc page alone was
 * 64 KB), the same for every KB size, and count it as the compile's
 * growth. 0, or -1 with err set. */
static int warm_up(struct kb_error *err)
{
	size_t len;
	char *text = kbgen_generate(1000, &len);
	if (!text)
		return kb_error_set(err, "cannot generate the warm-up KB");
	struct mt_store *st;
	struct mt_space *sp;
	(void)sys_s();
	(void)clock_s(CLOCK_MONOTONIC);
	(void)clock_s(CLOCK_PROCESS_CPUTIME_ID);
	int rc = compile_text(text, len, &st, &sp, err);
	mt_space_free(sp);
	mt_store_free(st);
	free(text);
	return rc;
}

/* One run (in the child, through meas_in_child): arg a struct once_arg, out
 * a struct run. */
static void compile_once(void *arg, void *result)
{
	const char *label = ((const struct once_arg *)arg)->label;
	uint64_t n = ((const struct once_arg *)arg)->n;
	struct run *out = result;
	memset(out, 0, sizeof *out);
	struct kb_error err;
	if (warm_up(&err)) {
		snprintf(out->error, sizeof out->error, "warm-up: %s", err.msg);
		return;
	}
	size_t len;
	char *text = kbgen_generate(n, &len);
	if (!text) {
		snprintf(out->error, sizeof out->error, "cannot generate the %s KB", label);
		return;
	}
	out->len = len;
	struct meas_mem before, peak = {0};
	out->hwm_ok = meas_hwm_reset(&err) == 0;
	if (meas_mem_read(&before, &err)) {
		snprintf(out->error, sizeof out->error, "%s", err.msg);
		free(text);
		return;
	}
	double s0 = sys_s();
	double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	struct mt_store *st;
	struct mt_space *sp;
	if (compile_text(text, len, &st, &sp, &err)) {
		snprintf(out->error, sizeof out->error, "%s KB: %s", label, err.msg);
		free(text);
		return;
	}
	double t1 = clock_s(CLOCK_MONOTONIC), c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	if (meas_mem_read(&peak, &err))
		snprintf(out->error, sizeof out->error, "%s", err.msg);
	out->seconds = t1 - t0;
	out->cpu = c1 - c0;
	out->sys = sys_s() - s0;
	out->rss = peak.hwm > before.rss ? (double)(peak.hwm - before.rss) : 0;
	out->bytes = (double)(mt_store_bytes(st) + mt_space_bytes(sp));
	out->rules = mt_space_rules(sp);
	mt_space_free(sp);
	mt_store_free(st);
	free(text);
}

/* Runs compile_once in a child process; 0, or -1 with a message. */
static int compile_in_child(const char *label, uint64_t n, struct run *out)
{
	struct once_arg a = {label, n};
	struct kb_error err;
	if (meas_in_child(compile_once, &a, out, sizeof *out, &err)) {
		fprintf(stderr, "bench-compile: %s KB: %s\n", label, err.msg);
		return -1;
	}
	if (out->error[0]) {
		fprintf(stderr, "bench-compile: %s\n", out->error);
		return -1;
	}
	return 0;
}

static int bench_size(const char *label, uint64_t n, int runs, struct result *res)
{
	size_t len = 0;
	double *secs = calloc((size_t)runs, sizeof *secs);
	double *cpu = calloc((size_t)runs, sizeof *cpu);
	double *sys = calloc((size_t)runs, sizeof *sys);
	double *rss = calloc((size_t)runs, sizeof *rss);
	double *bytes = calloc((size_t)runs, sizeof *bytes);
	uint64_t rules = 0;
	int hwm_ok = 1;
	for (int r = 0; r < runs; r++) {
		struct run one;
		if (compile_in_child(label, n, &one))
			return -1;
		len = one.len;
		hwm_ok &= one.hwm_ok;
		secs[r] = one.seconds;
		cpu[r] = one.cpu;
		sys[r] = one.sys;
		rss[r] = one.rss;
		bytes[r] = one.bytes;
		rules = one.rules;
	}
	if (!hwm_ok)
		fprintf(stderr, "bench-compile: cannot reset VmHWM; peak RSS growth is an "
				"upper bound\n");
	res->seconds = median(secs, runs);
	res->cpu = median(cpu, runs);
	res->sys = median(sys, runs);
	res->rss_growth = median(rss, runs);
	res->bytes = median(bytes, runs);
	res->rules = rules;
	res->len = len;
	/* The kernel's time comes from the scheduler's tick-based split of
	 * the CPU time (getrusage): meaningless under about 50 ticks. */
	char kernel[16] = "  -";
	if (res->cpu >= 0.2)
		snprintf(kernel, sizeof kernel, "%2.0f%%", 100 * res->sys / res->cpu);
	printf("%-6s %7.2f MB %7lu rules %2d runs | %6.1f MB/s %9.0f rules/s %6.1f ns/rule "
	       "(cpu %6.1f MB/s %6.1f ns/rule, kernel %s) | peak RSS +%6.1f MB = %.2fx source | "
	       "%5.1f bytes/rule held\n",
	       label, (double)len / 1e6, (unsigned long)rules, runs,
	       (double)len / 1e6 / res->seconds, (double)rules / res->seconds,
	       res->seconds * 1e9 / (double)rules, (double)len / 1e6 / res->cpu,
	       res->cpu * 1e9 / (double)rules, kernel, res->rss_growth / 1e6,
	       res->rss_growth / (double)len, res->bytes / (double)rules);
	fflush(stdout);
	free(secs);
	free(cpu);
	free(sys);
	free(rss);
	free(bytes);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"sizes", required_argument, NULL, 's'},
	    {"runs", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sizes = "small,medium,large";
	int runs = 0, c;
	while ((c = getopt_long(argc, argv, "s:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sizes = optarg;
			break;
		case 'r':
			runs = atoi(optarg);
			if (runs < 1 || runs > 1000) {
				fprintf(stderr, "bench-compile: --runs wants 1..1000\n");
				return 2;
			}
			break;
		case 'h':
			printf("usage: bench-compile [--sizes small,medium,large] [--runs N]\n");
			return 0;
		default:
			return 2;
		}
	}
	static const struct {
		const char *label;
		uint64_t n;
		int runs;
	} all[] = {{"small", 10000, 15}, {"medium", 100000, 7}, {"large", 1000000, 5}};
	struct result res[3];
	int have[3] = {0, 0, 0};
	for (int i = 0; i < 3; i++) {
		if (!strstr(sizes, all[i].label))
			continue;
		if (bench_size(all[i].label, all[i].n, runs ? runs : all[i].runs, &res[i]))
			return 1;
		have[i] = 1;
	}
	if (have[0] && have[2]) {
		double small = res[0].seconds / (double)res[0].rules;
		double large = res[2].seconds / (double)res[2].rules;
		double lc = res[2].cpu / (double)res[2].rules,
		       sc = res[0].cpu / (double)res[0].rules;
		printf("time per rule, large / small: %.2f (cpu %.2f)\n", large / small, lc / sc);
	}
	return 0;
}
