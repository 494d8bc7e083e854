/* bench-query: warm query latency over the seed's generated KBs, and the
 * fib benchmark (a benchmark the project runs, never a test).
 *
 * For each size (kbgen_generate(10000): 40K rules, small; (1000000): 4M
 * rules, large) the KB is generated and compiled in memory, then for K
 * seeded random i in [0, n/4) each query over the KB's own functions
 *
 *     (add{i} (succ (succ zero)) (succ zero))     -> (succ (succ (succ zero)))
 *     (length{i} (cons a (cons b (cons c ()))))    -> 3
 *     (append{i} (cons a ()) (cons b ()))          -> (cons a (cons b ()))
 *     (and{i} True False)                          -> False
 *     (match{i} foo foo)                           -> True, False
 *     (match &self (= (add{i} zero $x) $r) $r)     -> $x, zero
 *
 * is evaluated to completion (start, next until exhausted, teardown)
 * `batch` times per timing, `reps` timings per i, after a warm-up whose
 * results are checked against the expected ones (any mismatch fails the
 * run). Reported per query: the median over every timing of the time per
 * evaluation, and the large/small ratio.
 *
 * fib: (= (fib $n) (if (< $n 2) $n (+ (fib (- $n 1)) (fib (- $n 2)))))
 * and !(fib N) (default 25: 242,785 calls), run R times: median total time
 * and time per call.
 *
 * usage: bench-query [--sizes small,large] [--indices K] [--reps N]
 *                    [--batch B] [--seed S] [--fib N] [--fib-runs R] */
#include "core/eval.h"
#include "core/parse.h"
#include "core/space.h"
#include "workloads/kbgen.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: on a shared machine it leaves out the time
 * other processes held the CPU, which wall-clock time includes. */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint64_t rng_state;
static uint64_t rng(void)
{
	/* xorshift64*: reproducible from --seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

struct query_kind {
	const char *name;
	const char *pre, *post; /* the query is pre, i, post */
	const char *expect[2];
	int nexpect;
};

static const struct query_kind kinds[] = {
    {"add", "(add", " (succ (succ zero)) (succ zero))", {"(succ (succ (succ zero)))"}, 1},
    {"length", "(length", " (cons a (cons b (cons c ()))))", {"3"}, 1},
    {"append", "(append", " (cons a ()) (cons b ()))", {"(cons a (cons b ()))"}, 1},
    {"and", "(and", " True False)", {"False"}, 1},
    {"match-fn", "(match", " foo foo)", {"False", "True"}, 2},
    {"match-self", "(match &self (= (add", " zero $x) $r) $r)", {"$x", "zero"}, 2},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

struct opts {
	int small, large;
	unsigned indices, reps, batch, fib, fib_runs;
	uint64_t seed;
};

static int add_atom(void *ctx, mt_term atom, int bang, const struct mt_varnames *names,
		    struct mt_srcpos where)
{
	return mt_space_add(ctx, atom, names, NULL) < 0 ? -1 : 0;
}

/* Evaluates q once; if check, compares the printed, sorted results with
 * the expected ones. Returns 0, or -1 after printing what went wrong. */
static int eval_once(struct mt_eval_ctx *ctx, struct mt_store *st, mt_term q,
		     const struct mt_varnames *names, const struct query_kind *k, const char *text,
		     int check)
{
	struct kb_error err;
	struct mt_eval_it *it = mt_eval_start(ctx, q, names, &err);
	if (!it) {
		fprintf(stderr, "bench-query: %s\n", err.msg);
		return -1;
	}
	mt_term r;
	int rc, n = 0, bad = 0;
	char *got[8];
	while ((rc = mt_eval_next(it, &r)) == 1) {
		if (!check)
			continue;
		if (n == 8) {
			bad = 1;
			continue;
		}
		struct kb_buf b = {0};
		mt_print(st, r, names, &b);
		got[n++] = b.data ? b.data : strdup("");
	}
	if (rc < 0) {
		fprintf(stderr, "bench-query: %s: %s\n", text, mt_eval_error(it));
		bad = 1;
	}
	mt_eval_teardown(it);
	if (!check)
		return rc < 0 ? -1 : 0;
	qsort(got, (size_t)n, sizeof *got, cmp_str);
	if (n != k->nexpect)
		bad = 1;
	for (int j = 0; j < n && !bad; j++)
		bad = strcmp(got[j], k->expect[j]) != 0;
	if (bad) {
		fprintf(stderr, "bench-query: %s gave [", text);
		for (int j = 0; j < n; j++)
			fprintf(stderr, "%s%s", j ? ", " : "", got[j]);
		fprintf(stderr, "], expected [");
		for (int j = 0; j < k->nexpect; j++)
			fprintf(stderr, "%s%s", j ? ", " : "", k->expect[j]);
		fprintf(stderr, "]\n");
	}
	for (int j = 0; j < n; j++)
		free(got[j]);
	return bad ? -1 : 0;
}

/* One parsed query with its variable names (copied: the parser's are
 * valid during its callback only). */
struct parsed {
	mt_term t;
	struct mt_varnames names;
	uint32_t ids[4];
};

static int keep_query(void *vp, mt_term atom, int bang, const struct mt_varnames *names,
		      struct mt_srcpos where)
{
	struct parsed *p = vp;
	p->t = atom;
	p->names.count = names && names->count <= 4 ? names->count : 0;
	for (uint32_t i = 0; i < p->names.count; i++)
		p->ids[i] = names->names[i];
	p->names.names = p->ids;
	return 0;
}

static int bench_size(const char *label, uint64_t n, const struct opts *o, double *med)
{
	size_t len;
	char *text = kbgen_generate(n, &len);
	if (!text) {
		fprintf(stderr, "bench-query: out of memory generating the %s KB\n", label);
		return -1;
	}
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = st ? mt_space_new(st) : NULL;
	struct mt_eval_ctx *ctx = sp ? mt_eval_ctx_new(sp, NULL) : NULL;
	struct kb_error err;
	int rc = -1;
	if (!ctx) {
		fprintf(stderr, "bench-query: out of memory\n");
		goto out;
	}
	double t0 = now();
	if (mt_parse_buffer(st, text, len, NULL, add_atom, sp, &err)) {
		fprintf(stderr, "bench-query: %s\n", err.msg);
		goto out;
	}
	printf("%s KB: kbgen_generate(%llu), %llu rules, compiled in %.2f s\n", label,
	       (unsigned long long)n, (unsigned long long)mt_space_rules(sp), now() - t0);
	free(text);
	text = NULL;

	uint64_t units = n / 4;
	rng_state = o->seed ? o->seed : 1;
	uint64_t *idx = malloc(o->indices * sizeof *idx);
	size_t per_kind = (size_t)o->indices * o->reps;
	double *samples = malloc(per_kind * sizeof *samples);
	double *csamples = malloc(per_kind * sizeof *csamples);
	if (!idx || !samples || !csamples) {
		free(idx);
		free(samples);
		free(csamples);
		goto out;
	}
	for (unsigned j = 0; j < o->indices; j++)
		idx[j] = rng() % units;
	for (size_t k = 0; k < NKINDS; k++) {
		size_t ns = 0;
		for (unsigned j = 0; j < o->indices; j++) {
			char q[256];
			snprintf(q, sizeof q, "%s%llu%s", kinds[k].pre, (unsigned long long)idx[j],
				 kinds[k].post);
			struct parsed p = {.t = MT_NONE};
			if (mt_parse_buffer(st, q, strlen(q), NULL, keep_query, &p, &err) ||
			    p.t == MT_NONE) {
				fprintf(stderr, "bench-query: %s\n", err.msg);
				goto fail;
			}
			/* warm-up, with the results checked */
			for (int w = 0; w < 3; w++)
				if (eval_once(ctx, st, p.t, &p.names, &kinds[k], q, 1))
					goto fail;
			for (unsigned r = 0; r < o->reps; r++) {
				double a = now(), ca = cpu_now();
				for (unsigned b = 0; b < o->batch; b++)
					if (eval_once(ctx, st, p.t, &p.names, &kinds[k], q, 0))
						goto fail;
				csamples[ns] = (cpu_now() - ca) / o->batch * 1e9;
				samples[ns++] = (now() - a) / o->batch * 1e9;
			}
		}
		med[k] = median(samples, ns);
		double cmed = median(csamples, ns);
		printf("  %-10s %8.0f ns (cpu %6.0f ns)  %s{i}%s\n", kinds[k].name, med[k], cmed,
		       kinds[k].pre, kinds[k].post);
	}
	rc = 0;
fail:
	free(idx);
	free(samples);
	free(csamples);
out:
	free(text);
	mt_eval_ctx_free(ctx);
	mt_space_free(sp);
	mt_store_free(st);
	return rc;
}

static int bench_fib(const struct opts *o)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = st ? mt_space_new(st) : NULL;
	struct mt_eval_ctx *ctx = sp ? mt_eval_ctx_new(sp, NULL) : NULL;
	struct kb_error err;
	int rc = -1;
	double *t = malloc(o->fib_runs * sizeof *t), *ct = malloc(o->fib_runs * sizeof *ct);
	if (!ctx || !t || !ct)
		goto out;
	const char *rule = "(= (fib $n) (if (< $n 2) $n (+ (fib (- $n 1)) (fib (- $n 2)))))";
	if (mt_parse_buffer(st, rule, strlen(rule), NULL, add_atom, sp, &err)) {
		fprintf(stderr, "bench-query: %s\n", err.msg);
		goto out;
	}
	char q[64];
	snprintf(q, sizeof q, "(fib %u)", o->fib);
	mt_term query;
	if (mt_parse_one(st, q, strlen(q), &query, &err)) {
		fprintf(stderr, "bench-query: %s\n", err.msg);
		goto out;
	}
	/* fib(n) by iteration, and the number of calls the recursion makes */
	uint64_t a = 0, b = 1, calls_prev = 1, calls = 1;
	for (unsigned i = 0; i < o->fib; i++) {
		uint64_t c = a + b;
		a = b;
		b = c;
	}
	for (unsigned i = 2; i <= o->fib; i++) {
		uint64_t c = calls + calls_prev + 1;
		calls_prev = calls;
		calls = c;
	}
	if (o->fib == 0)
		calls = 1;
	struct mt_eval_stats stats = {0};
	for (unsigned r = 0; r < o->fib_runs; r++) {
		double t0 = now(), c0 = cpu_now();
		struct mt_eval_it *it = mt_eval_start(ctx, query, NULL, &err);
		mt_term res;
		int64_t v = -1;
		int n = 0, k;
		while (it && (k = mt_eval_next(it, &res)) == 1) {
			n++;
			if (!mt_int_value(st, res, &v))
				v = -1;
		}
		if (it)
			mt_eval_teardown(it);
		t[r] = now() - t0;
		ct[r] = cpu_now() - c0;
		mt_eval_get_stats(ctx, &stats);
		if (!it || n != 1 || (uint64_t)v != a) {
			fprintf(stderr, "bench-query: %s gave %d results (%lld), expected %llu\n",
				q, n, (long long)v, (unsigned long long)a);
			goto out;
		}
	}
	double m = median(t, o->fib_runs), cm = median(ct, o->fib_runs);
	printf("fib: !(fib %u) = %llu, %llu calls, %u runs: median %.1f ms, %.1f ns per call"
	       " (cpu %.1f ms, %.1f ns per call; %llu steps per run)\n",
	       o->fib, (unsigned long long)a, (unsigned long long)calls, o->fib_runs, m * 1e3,
	       m / (double)calls * 1e9, cm * 1e3, cm / (double)calls * 1e9,
	       (unsigned long long)stats.steps);
	printf("fib: vs MeTTaTron's ~17000 ns per call: %.0fx less (wall), %.0fx less (cpu)\n",
	       17000.0 / (m / (double)calls * 1e9), 17000.0 / (cm / (double)calls * 1e9));
	rc = 0;
out:
	free(t);
	free(ct);
	mt_eval_ctx_free(ctx);
	mt_space_free(sp);
	mt_store_free(st);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"sizes", required_argument, NULL, 'z'},    {"indices", required_argument, NULL, 'k'},
	    {"reps", required_argument, NULL, 'r'},     {"batch", required_argument, NULL, 'b'},
	    {"seed", required_argument, NULL, 's'},     {"fib", required_argument, NULL, 'f'},
	    {"fib-runs", required_argument, NULL, 'R'}, {NULL, 0, NULL, 0},
	};
	struct opts o = {1, 1, 8, 50, 20, 25, 5, 42};
	int c;
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'z':
			o.small = strstr(optarg, "small") != NULL;
			o.large = strstr(optarg, "large") != NULL;
			break;
		case 'k':
			o.indices = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o.reps = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			o.batch = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o.seed = strtoull(optarg, NULL, 10);
			break;
		case 'f':
			o.fib = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'R':
			o.fib_runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
				"usage: bench-query [--sizes small,large] [--indices K] "
				"[--reps N] [--batch B] [--seed S] [--fib N] [--fib-runs R]\n");
			return 2;
		}
	}
	if (!o.indices || !o.reps || !o.batch || !o.fib_runs || o.fib > 90) {
		fprintf(stderr, "bench-query: --indices, --reps, --batch, --fib-runs must be "
				"positive and --fib at most 90\n");
		return 2;
	}
	double small[NKINDS], large[NKINDS];
	printf("bench-query: %u indices x %u timings x %u evaluations per query, seed %llu\n",
	       o.indices, o.reps, o.batch, (unsigned long long)o.seed);
	if (o.small && bench_size("small", 10000, &o, small))
		return 1;
	if (o.large && bench_size("large", 1000000, &o, large))
		return 1;
	if (o.small && o.large) {
		printf("large/small median ratio:");
		for (size_t k = 0; k < NKINDS; k++)
			printf(" %s %.2f", kinds[k].name, large[k] / small[k]);
		printf("\n");
	}
	if (bench_fib(&o))
		return 1;
	return 0;
}
