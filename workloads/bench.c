/* bench: the benchmark harness (see bench.h). Owns the run loop: selection,
 * warm-up, samples, the per-benchmark probed region, the progress line, and
 * the result arrays (freed by bench_results_free). */
#include "workloads/bench.h"

#include "kbprof/probe.h"

#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bench_ctx {
	const struct bench_def *def;
	struct bench_result *res;
	void *suite_state;
	const char *workdir;
	int warmup;
	int failed;
	int skipped;
	uint64_t clock_start, cpu_start;
	double values[BENCH_MAX_METRICS];
	int recorded[BENCH_MAX_METRICS];
	double cpu_values[BENCH_MAX_METRICS];
	int cpu_recorded[BENCH_MAX_METRICS];
};

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void *bench_suite_state(struct bench_ctx *ctx)
{
	return ctx->suite_state;
}

const char *bench_workdir(struct bench_ctx *ctx)
{
	return ctx->workdir;
}

int bench_is_warmup(const struct bench_ctx *ctx)
{
	return ctx->warmup;
}

void bench_clock_start(struct bench_ctx *ctx)
{
	ctx->cpu_start = bench_cpu_now_ns();
	ctx->clock_start = bench_now_ns();
}

/* KBPROF_BENCH_SLOWDOWN=NAME:PERCENT (dash, docs/kbprof-compare.md): every
 * timed interval of benchmark NAME is made PERCENT% longer by spinning
 * before the clock stops -- a real slowdown of the measured work, so that
 * `kbprof compare` can be shown to catch one (scripts/compare-live).
 * Returns the extra fraction for this benchmark, 0 when unset. */
static double injected_slowdown(struct bench_ctx *ctx)
{
	const char *env = getenv("KBPROF_BENCH_SLOWDOWN");
	const char *colon = env ? strrchr(env, ':') : NULL;
	if (!colon || (size_t)(colon - env) != strlen(ctx->def->name) ||
	    strncmp(env, ctx->def->name, (size_t)(colon - env)) != 0)
		return 0;
	char *end;
	double pct = strtod(colon + 1, &end);
	if (end == colon + 1 || *end != '\0' || !(pct > 0 && pct <= 1000)) {
		bench_fail(ctx, "KBPROF_BENCH_SLOWDOWN='%s': the percentage must be in (0, 1000]",
			   env);
		return 0;
	}
	return pct / 100;
}

double bench_clock_stop(struct bench_ctx *ctx, unsigned metric)
{
	uint64_t elapsed = bench_now_ns() - ctx->clock_start;
	double extra = injected_slowdown(ctx);
	if (extra > 0) {
		uint64_t until = ctx->clock_start + elapsed + (uint64_t)((double)elapsed * extra);
		while (bench_now_ns() < until)
			;
	}
	double ns = (double)(bench_now_ns() - ctx->clock_start);
	bench_record_cpu(ctx, metric, (double)(bench_cpu_now_ns() - ctx->cpu_start));
	bench_record(ctx, metric, ns);
	return ns;
}

void bench_record_cpu(struct bench_ctx *ctx, unsigned metric, double cpu_ns)
{
	if (metric >= ctx->def->nmetrics)
		return; /* bench_record reports it */
	ctx->cpu_values[metric] = cpu_ns;
	ctx->cpu_recorded[metric] = 1;
}

void bench_record(struct bench_ctx *ctx, unsigned metric, double value)
{
	if (metric >= ctx->def->nmetrics) {
		bench_fail(ctx, "internal: metric %u recorded, benchmark has %u", metric,
			   ctx->def->nmetrics);
		return;
	}
	ctx->values[metric] = value;
	ctx->recorded[metric] = 1;
}

void bench_fact(struct bench_ctx *ctx, const char *name, const char *unit, double value)
{
	struct bench_result *r = ctx->res;
	unsigned i;
	for (i = 0; i < r->nfacts; i++)
		if (strcmp(r->facts[i].name, name) == 0)
			break;
	if (i == r->nfacts) {
		if (r->nfacts == BENCH_MAX_FACTS) {
			bench_fail(ctx, "internal: more than %d facts", BENCH_MAX_FACTS);
			return;
		}
		r->nfacts++;
	}
	snprintf(r->facts[i].name, sizeof r->facts[i].name, "%s", name);
	snprintf(r->facts[i].unit, sizeof r->facts[i].unit, "%s", unit);
	r->facts[i].value = value;
}

int bench_fail(struct bench_ctx *ctx, const char *fmt, ...)
{
	if (!ctx->failed) { /* the first cause is the one worth reading */
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ctx->res->error, sizeof ctx->res->error, fmt, ap);
		va_end(ap);
		ctx->failed = 1;
	}
	return -1;
}

int bench_skip(struct bench_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx->res->error, sizeof ctx->res->error, fmt, ap);
	va_end(ap);
	ctx->skipped = 1;
	return -1;
}

static int has_glob(const char *pattern)
{
	return strpbrk(pattern, "*?[") != NULL;
}

int bench_selected(const struct bench_opts *opts, const char *name)
{
	if (!opts || opts->nfilters == 0)
		return 1;
	for (size_t i = 0; i < opts->nfilters; i++) {
		const char *f = opts->filters[i];
		if (has_glob(f) ? fnmatch(f, name, 0) == 0 : strstr(name, f) != NULL)
			return 1;
	}
	return 0;
}

unsigned bench_sample_count(const struct bench_opts *opts, const struct bench_def *def)
{
	if (opts->quick && def->quick_samples == 0)
		return 0;
	if (opts->samples)
		return opts->samples;
	return opts->quick ? def->quick_samples : def->samples;
}

void bench_kb_label(uint64_t n, char *buf, size_t size)
{
	if (n >= 1000000 && n % 1000000 == 0)
		snprintf(buf, size, "%lluM", (unsigned long long)(n / 1000000));
	else if (n >= 1000000 && n % 100000 == 0)
		snprintf(buf, size, "%llu.%lluM", (unsigned long long)(n / 1000000),
			 (unsigned long long)(n / 100000 % 10));
	else if (n >= 1000 && n % 1000 == 0)
		snprintf(buf, size, "%lluK", (unsigned long long)(n / 1000));
	else
		snprintf(buf, size, "%llu", (unsigned long long)n);
}

/* ---- progress line (stderr, only when the caller says it is a terminal) ---- */

static void progress(const struct bench_opts *opts, const struct bench_def *def, size_t index,
		     size_t total, const char *phase, unsigned i, unsigned n, uint64_t started)
{
	if (!opts->progress)
		return;
	char left[48] = "";
	if (i > 0 && n > i) {
		double per = (double)(bench_now_ns() - started) / 1e9 / i;
		double rest = per * (n - i);
		if (rest >= 60)
			snprintf(left, sizeof left, ", ~%.0f min %02.0f s left", floor(rest / 60),
				 fmod(rest, 60));
		else
			snprintf(left, sizeof left, ", ~%.0f s left", ceil(rest));
	}
	fprintf(stderr, "\r\033[K[%zu/%zu] %s: %s %u/%u%s", index + 1, total, def->name, phase, i,
		n, left);
	fflush(stderr);
}

static void progress_done(const struct bench_opts *opts)
{
	if (opts->progress) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}

/* ---- one benchmark ---- */

static int push_sample(struct bench_ctx *ctx, unsigned capacity)
{
	const struct bench_def *def = ctx->def;
	for (unsigned m = 0; m < def->nmetrics; m++)
		if (!ctx->recorded[m])
			return bench_fail(ctx, "sample %zu did not record metric '%s'",
					  ctx->res->metrics[0].n, def->metrics[m].name);
	for (unsigned m = 0; m < def->nmetrics; m++) {
		struct bench_metric_result *mr = &ctx->res->metrics[m];
		if (mr->n == capacity)
			return bench_fail(ctx, "internal: sample array full");
		/* CPU time is kept only while every sample of the metric has it */
		if (mr->cpu_samples && ctx->cpu_recorded[m]) {
			mr->cpu_samples[mr->n] = ctx->cpu_values[m];
		} else if (mr->cpu_samples) {
			free(mr->cpu_samples);
			mr->cpu_samples = NULL;
		}
		mr->samples[mr->n++] = ctx->values[m];
	}
	return 0;
}

static void run_one(const struct bench_opts *opts, struct bench_ctx *ctx, unsigned nsamples,
		    size_t index, size_t total)
{
	const struct bench_def *def = ctx->def;
	struct bench_result *r = ctx->res;
	uint64_t t0 = bench_now_ns();
	void *state = NULL;

	for (unsigned m = 0; m < def->nmetrics; m++) {
		r->metrics[m].def = &def->metrics[m];
		r->metrics[m].samples = calloc(nsamples ? nsamples : 1, sizeof(double));
		r->metrics[m].cpu_samples = calloc(nsamples ? nsamples : 1, sizeof(double));
		if (!r->metrics[m].samples || !r->metrics[m].cpu_samples) {
			bench_fail(ctx, "out of memory for %u samples", nsamples);
			goto out;
		}
	}

	KBPROF_REGION_BEGIN(def->name);
	progress(opts, def, index, total, "setup", 0, nsamples, t0);
	KBPROF_REGION_BEGIN("setup");
	int rc = def->setup ? def->setup(ctx, &state) : 0;
	KBPROF_REGION_END("setup");
	if (ctx->skipped && !ctx->failed) {
		/* setup found the machine cannot run it: not a failure */
	} else if (rc == 0 && !ctx->failed) {
		for (unsigned w = 0; w < def->warmup && !ctx->failed; w++) {
			progress(opts, def, index, total, "warm-up", w, def->warmup, t0);
			ctx->warmup = 1;
			memset(ctx->recorded, 0, sizeof ctx->recorded);
			memset(ctx->cpu_recorded, 0, sizeof ctx->cpu_recorded);
			def->sample(ctx, state);
		}
		ctx->warmup = 0;
		uint64_t s0 = bench_now_ns();
		for (unsigned i = 0; i < nsamples && !ctx->failed; i++) {
			progress(opts, def, index, total, "sample", i, nsamples, s0);
			memset(ctx->recorded, 0, sizeof ctx->recorded);
			memset(ctx->cpu_recorded, 0, sizeof ctx->cpu_recorded);
			if (def->sample(ctx, state) == 0 && !ctx->failed)
				push_sample(ctx, nsamples);
			else
				bench_fail(ctx, "sample %u failed", i);
		}
	} else {
		bench_fail(ctx, "setup failed");
	}
	if (def->teardown && state) {
		KBPROF_REGION_BEGIN("teardown");
		def->teardown(state);
		KBPROF_REGION_END("teardown");
	}
	KBPROF_REGION_END(def->name);
	progress_done(opts);
out:
	r->wall_s = (double)(bench_now_ns() - t0) / 1e9;
	r->status = ctx->failed ? BENCH_FAILED : ctx->skipped ? BENCH_SKIPPED : BENCH_OK;
}

static void describe(struct bench_result *r)
{
	for (unsigned m = 0; m < r->def->nmetrics; m++) {
		struct bench_metric_result *mr = &r->metrics[m];
		struct kb_error err;
		if (mr->n == 0)
			continue;
		if (stats_describe(mr->samples, mr->n, NULL, &mr->stats, &err) == 0)
			mr->have_stats = 1;
		else if (r->status == BENCH_OK) {
			r->status = BENCH_FAILED;
			snprintf(r->error, sizeof r->error, "statistics of '%s': %.900s",
				 mr->def->name, err.msg);
		}
	}
}

int bench_run_suite(const struct bench_suite *suite, const struct bench_opts *opts,
		    struct bench_results *out, struct kb_error *err)
{
	memset(out, 0, sizeof *out);
	out->suite = suite;
	out->start_unix = (int64_t)time(NULL);
	out->items = calloc(suite->ndefs ? suite->ndefs : 1, sizeof *out->items);
	if (!out->items)
		return kb_error_set(err, "bench: out of memory");

	size_t total = 0;
	for (size_t i = 0; i < suite->ndefs; i++)
		if (bench_selected(opts, suite->defs[i].name))
			total++;

	void *suite_state = NULL;
	if (suite->init && suite->init(&suite_state, opts->workdir, err) != 0) {
		if (err) {
			char cause[sizeof err->msg];
			snprintf(cause, sizeof cause, "%s", err->msg);
			kb_error_set(err, "bench: suite %s: %.900s", suite->name, cause);
		}
		free(out->items);
		out->items = NULL;
		return -1;
	}

	uint64_t t0 = bench_now_ns();
	size_t index = 0;
	for (size_t i = 0; i < suite->ndefs; i++) {
		const struct bench_def *def = &suite->defs[i];
		if (!bench_selected(opts, def->name))
			continue;
		struct bench_result *r = &out->items[out->n++];
		r->def = def;
		r->warmup = def->warmup;
		unsigned nsamples = bench_sample_count(opts, def);
		r->samples_requested = nsamples;
		if (nsamples == 0) {
			r->status = BENCH_SKIPPED;
			snprintf(r->error, sizeof r->error, "skipped by --quick");
			index++;
			continue;
		}
		struct bench_ctx ctx = {
		    .def = def,
		    .res = r,
		    .suite_state = suite_state,
		    .workdir = opts->workdir,
		};
		run_one(opts, &ctx, nsamples, index++, total);
		describe(r);
		if (r->status == BENCH_FAILED) {
			out->failed++;
			fprintf(stderr, "bench: %s FAILED: %s\n", def->name, r->error);
		}
	}
	out->duration_s = (double)(bench_now_ns() - t0) / 1e9;
	if (suite->fini)
		suite->fini(suite_state);
	return 0;
}

void bench_results_free(struct bench_results *res)
{
	if (!res->items)
		return;
	for (size_t i = 0; i < res->n; i++)
		for (unsigned m = 0; m < BENCH_MAX_METRICS; m++) {
			free(res->items[i].metrics[m].samples);
			free(res->items[i].metrics[m].cpu_samples);
		}
	free(res->items);
	res->items = NULL;
	res->n = 0;
}

const struct bench_result *bench_results_find(const struct bench_results *res, const char *name)
{
	for (size_t i = 0; i < res->n; i++)
		if (strcmp(res->items[i].def->name, name) == 0)
			return &res->items[i];
	return NULL;
}

const struct bench_metric_result *bench_result_metric(const struct bench_result *r,
						      const char *name)
{
	if (!r)
		return NULL;
	for (unsigned m = 0; m < r->def->nmetrics; m++)
		if (strcmp(r->def->metrics[m].name, name) == 0)
			return &r->metrics[m];
	return NULL;
}

const struct bench_fact *bench_result_fact(const struct bench_result *r, const char *name)
{
	if (!r)
		return NULL;
	for (unsigned i = 0; i < r->nfacts; i++)
		if (strcmp(r->facts[i].name, name) == 0)
			return &r->facts[i];
	return NULL;
}
