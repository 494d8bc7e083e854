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
 * Each size is compiled with one thread and with two (mt_parse_opts.threads:
 * the lexer on a thread of its own, as `kbprof kb compile` does where two
 * CPUs are online), the runs of the two alternating so that a change in
 * the host's load hits both; the two-thread row also gives its speed-up
 * over one thread (ratio of the medians).
 *
 * Times are wall clock (what a user waits). The CPU time of the process is
 * reported beside it: on a machine shared with other work, wall time also
 * counts the time the scheduler gave to others, CPU time does not. The
 * kernel's share of that CPU time is reported too, for runs of 0.2 s of
 * CPU or more: it is mostly zeroing the fresh pages the compile fills, and
 * on a VM its cost moves with the host's state.
 *
 * usage: bench-compile [--sizes small,medium,large] [--runs N] [--threads 1,2] */
#include "core/parse.h"
#include "core/space.h"
#include "workloads/kbgen.h"
#include "workloads/measure.h"

#include <getopt.h>
#include <stddef.h>
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
	unsigned threads;
};

/* Compiles text into a new store and space (*st, *sp). 0, or -1 with err
 * set and nothing left allocated. */
static int compile_text(const char *text, size_t len, unsigned threads, struct mt_store **st,
			struct mt_space **sp, struct kb_error *err)
{
	*st = mt_store_new();
	*sp = *st ? mt_space_new(*st) : NULL;
	struct mt_parse_opts o = {.threads = threads};
	if (!*sp) {
		kb_error_set(err, "out of memory");
	} else if (mt_parse_buffer(*st, text, len, &o, add_atom, *sp, err) == 0) {
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
static int warm_up(unsigned threads, struct kb_error *err)
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
	int rc = compile_text(text, len, threads, &st, &sp, err);
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
	unsigned threads = ((const struct once_arg *)arg)->threads;
	struct run *out = result;
	memset(out, 0, sizeof *out);
	struct kb_error err;
	if (warm_up(threads, &err)) {
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
	if (compile_text(text, len, threads, &st, &sp, &err)) {
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
static int compile_in_child(const char *label, uint64_t n, unsigned threads, struct run *out)
{
	struct once_arg a = {label, n, threads};
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

/* The median of one double field (at byte offset off) over n runs; v is
 * scratch room for n values. */
static double median_field(const struct run *runs, int n, size_t off, double *v)
{
	for (int r = 0; r < n; r++)
		memcpy(&v[r], (const char *)&runs[r] + off, sizeof v[r]);
	return median(v, n);
}

/* The medians of one size and thread count's runs. 0, or -1 if memory
 * ran out. */
static int summarize(const struct run *runs, int n, struct result *res)
{
	memset(res, 0, sizeof *res);
	double *v = calloc((size_t)n, sizeof *v);
	if (!v)
		return -1;
	res->seconds = median_field(runs, n, offsetof(struct run, seconds), v);
	res->cpu = median_field(runs, n, offsetof(struct run, cpu), v);
	res->sys = median_field(runs, n, offsetof(struct run, sys), v);
	res->rss_growth = median_field(runs, n, offsetof(struct run, rss), v);
	res->bytes = median_field(runs, n, offsetof(struct run, bytes), v);
	res->rules = runs[0].rules;
	res->len = runs[0].len;
	free(v);
	return 0;
}

static void print_result(const char *label, unsigned threads, int runs, const struct result *res,
			 const struct result *one)
{
	/* The kernel's time comes from the scheduler's tick-based split of
	 * the CPU time (getrusage): meaningless under about 50 ticks. */
	char kernel[16] = "  -", speedup[32] = "";
	if (res->cpu >= 0.2)
		snprintf(kernel, sizeof kernel, "%2.0f%%", 100 * res->sys / res->cpu);
	if (one)
		snprintf(speedup, sizeof speedup, " | %.2fx one thread",
			 one->seconds / res->seconds);
	printf("%-6s %u thread%s %7.2f MB %7lu rules %2d runs | %6.1f MB/s %9.0f rules/s %6.1f "
	       "ns/rule (cpu %6.1f MB/s %6.1f ns/rule, kernel %s) | peak RSS +%6.1f MB = %.2fx "
	       "source | %5.1f bytes/rule held%s\n",
	       label, threads, threads == 1 ? " " : "s", (double)res->len / 1e6,
	       (unsigned long)res->rules, runs, (double)res->len / 1e6 / res->seconds,
	       (double)res->rules / res->seconds, res->seconds * 1e9 / (double)res->rules,
	       (double)res->len / 1e6 / res->cpu, res->cpu * 1e9 / (double)res->rules, kernel,
	       res->rss_growth / 1e6, res->rss_growth / (double)res->len,
	       res->bytes / (double)res->rules, speedup);
	fflush(stdout);
}

#define MAX_MODES 2

/* Compiles one size `runs` times with each thread count in turn. */
static int bench_size(const char *label, uint64_t n, int runs, const unsigned *threads, int nmodes,
		      struct result *res)
{
	struct run *all = calloc((size_t)runs * MAX_MODES, sizeof *all);
	if (!all)
		return -1;
	int hwm_ok = 1;
	for (int r = 0; r < runs; r++)
		for (int m = 0; m < nmodes; m++) {
			struct run *one = &all[m * runs + r];
			if (compile_in_child(label, n, threads[m], one)) {
				free(all);
				return -1;
			}
			hwm_ok &= one->hwm_ok;
		}
	if (!hwm_ok)
		fprintf(stderr, "bench-compile: cannot reset VmHWM; peak RSS growth is an "
				"upper bound\n");
	for (int m = 0; m < nmodes; m++) {
		if (summarize(&all[m * runs], runs, &res[m])) {
			fprintf(stderr, "bench-compile: out of memory\n");
			free(all);
			return -1;
		}
		print_result(label, threads[m], runs, &res[m],
			     m > 0 && threads[0] == 1 ? &res[0] : NULL);
	}
	free(all);
	return 0;
}

/* "1,2" -> {1, 2}; 0, or -1 if it is not a list of 1s and 2s. */
static int parse_threads(const char *arg, unsigned *threads, int *n)
{
	*n = 0;
	for (const char *p = arg; *p;) {
		if ((*p != '1' && *p != '2') || *n == MAX_MODES)
			return -1;
		threads[(*n)++] = (unsigned)(*p - '0');
		p++;
		if (*p == ',')
			p++;
		else if (*p)
			return -1;
	}
	return *n ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"sizes", required_argument, NULL, 's'},
	    {"runs", required_argument, NULL, 'r'},
	    {"threads", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sizes = "small,medium,large";
	unsigned threads[MAX_MODES] = {1, 2};
	int runs = 0, nmodes = 2, c;
	while ((c = getopt_long(argc, argv, "s:r:t:h", opts, NULL)) != -1) {
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
		case 't':
			if (parse_threads(optarg, threads, &nmodes)) {
				fprintf(stderr, "bench-compile: --threads wants 1, 2 or 1,2\n");
				return 2;
			}
			break;
		case 'h':
			printf("usage: bench-compile [--sizes small,medium,large] [--runs N] "
			       "[--threads 1,2]\n");
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
	struct result res[3][MAX_MODES];
	int have[3] = {0, 0, 0};
	for (int i = 0; i < 3; i++) {
		if (!strstr(sizes, all[i].label))
			continue;
		if (bench_size(all[i].label, all[i].n, runs ? runs : all[i].runs, threads, nmodes,
			       res[i]))
			return 1;
		have[i] = 1;
	}
	if (have[0] && have[2])
		for (int m = 0; m < nmodes; m++) {
			double small = res[0][m].seconds / (double)res[0][m].rules;
			double large = res[2][m].seconds / (double)res[2][m].rules;
			double lc = res[2][m].cpu / (double)res[2][m].rules,
			       sc = res[0][m].cpu / (double)res[0][m].rules;
			printf("time per rule, large / small, %u thread%s: %.2f (cpu %.2f)\n",
			       threads[m], threads[m] == 1 ? "" : "s", large / small, lc / sc);
		}
	return 0;
}
