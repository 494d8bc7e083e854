/* stat: runs and counts a command for `kbprof stat`. See stat.h. */
#include "probes/stat.h"
#include "probes/recording_write.h"
#include "probes/run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

void kbstat_mean_stddev(const double *v, size_t n, size_t stride, double *mean, double *stddev)
{
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += v[i * stride];
	double m = n ? sum / (double)n : 0;
	double ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (v[i * stride] - m) * (v[i * stride] - m);
	*mean = m;
	*stddev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
}

void kbstat_free(struct kbstat *st)
{
	for (unsigned i = 0; st->runs && i < st->repeat; i++)
		free(st->runs[i].result);
	free(st->runs);
	for (size_t i = 0; i < st->nregions; i++) {
		free(st->regions[i].path);
		free(st->regions[i].metrics);
		free(st->regions[i].has_event);
	}
	free(st->regions);
	kbev_list_free(&st->list);
	memset(st, 0, sizeof *st);
}

static struct kbstat_region *region_for(struct kbstat *st, const char *path)
{
	for (size_t i = 0; i < st->nregions; i++)
		if (strcmp(st->regions[i].path, path) == 0)
			return &st->regions[i];
	if (st->nregions == st->regions_cap) {
		size_t cap = st->regions_cap ? 2 * st->regions_cap : 16;
		struct kbstat_region *p = realloc(st->regions, cap * sizeof *p);
		if (!p)
			return NULL;
		st->regions = p;
		st->regions_cap = cap;
	}
	struct kbstat_region *r = &st->regions[st->nregions];
	r->path = strdup(path);
	r->metrics = calloc((size_t)st->repeat * st->nmetrics, sizeof *r->metrics);
	r->has_event = calloc(st->list.n ? st->list.n : 1, sizeof *r->has_event);
	if (!r->path || !r->metrics || !r->has_event) {
		free(r->path);
		free(r->metrics);
		free(r->has_event);
		return NULL;
	}
	st->nregions++;
	return r;
}

int kbstat_add_region(struct kbstat *st, unsigned run, const char *path, uint64_t calls,
		      uint64_t wall_incl, uint64_t wall_excl, size_t ncounters,
		      const char *const *names, const uint64_t *incl, const uint64_t *excl,
		      const uint64_t *enabled, const uint64_t *running)
{
	if (run >= st->repeat)
		return -1;
	struct kbstat_region *r = region_for(st, path);
	if (!r)
		return -1;
	double *m = r->metrics + (size_t)run * st->nmetrics;
	m[0] += (double)calls;
	m[1] += (double)wall_incl;
	m[2] += (double)wall_excl;
	for (size_t c = 0; c < ncounters; c++)
		for (size_t e = 0; e < st->list.n; e++)
			if (strcmp(names[c], st->list.ev[e].name) == 0) {
				m[3 + 4 * e] += (double)incl[c];
				m[4 + 4 * e] += (double)excl[c];
				m[5 + 4 * e] += (double)enabled[c];
				m[6 + 4 * e] += (double)running[c];
				r->has_event[e] = true;
				break;
			}
	return 0;
}

/* A side file for the probes: a recording header and session, to which the
 * command's processes append. */
static int make_side_file(char *path, size_t size, char *const *argv, struct kb_error *err)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(path, size, "%s/kbprof-stat-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		return kb_error_set(err, "%s: %s", path, strerror(errno));
	close(fd);
	struct recw_file *f;
	if (recw_file_create(&f, path, err)) {
		unlink(path);
		return -1;
	}
	uint32_t argc = 0;
	while (argv[argc])
		argc++;
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	struct recw_session s = {
	    .start_ns = mono_ns(),
	    .start_realtime_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec,
	    .clockid = CLOCK_MONOTONIC,
	    .kbprof_version = "kbprof stat",
	    .argc = argc,
	    .argv = argv,
	};
	recw_session(&f->enc, &s);
	if (recw_file_close(f, err)) {
		unlink(path);
		return -1;
	}
	return 0;
}

static int run_once(struct kbstat *st, const struct kbstat_opts *o, unsigned run, bool *exec_failed,
		    struct kb_error *err)
{
	char side[4096];
	if (make_side_file(side, sizeof side, o->argv, err))
		return -1;
	char env_mode[] = "KBPROF_PROBES=count";
	char env_events[8192], env_out[4200];
	snprintf(env_events, sizeof env_events, "KBPROF_PROBES_EVENTS=%s",
		 o->events ? o->events : KBEV_DEFAULT_EVENTS);
	snprintf(env_out, sizeof env_out, "KBPROF_PROBES_OUT=%s", side);
	char *env[] = {env_mode, env_events, env_out, NULL};
	if (o->no_regions)
		env[0] = NULL;

	struct kbrun r;
	if (kbrun_start(&r, o->argv, env, err)) {
		unlink(side);
		return -1;
	}
	struct kbev_set set;
	if (kbev_set_open(&set, &st->list, r.pid, KBEV_OPEN_INHERIT | KBEV_OPEN_ENABLE_ON_EXEC,
			  err)) {
		kbrun_abort(&r);
		unlink(side);
		return -1;
	}
	uint64_t t0 = mono_ns();
	if (kbrun_go(&r, o->argv, err)) {
		*exec_failed = true;
		kbev_set_close(&set);
		kbrun_finish(&r);
		unlink(side);
		return -1;
	}
	kbrun_wait(&r);
	uint64_t t1 = mono_ns();
	kbev_set_read(&set);
	kbrun_finish(&r);

	struct kbstat_run *out = &st->runs[run];
	out->elapsed_ns = t1 - t0;
	out->user_ns = tv_ns(r.rusage.ru_utime);
	out->sys_ns = tv_ns(r.rusage.ru_stime);
	memcpy(out->result, set.result, st->list.n * sizeof *out->result);
	kbev_set_close(&set);
	st->exit_code = kbrun_exit_code(&r);
	st->nruns = run + 1;

	int rc = 0;
	if (o->regions)
		rc = o->regions(o->regions_ctx, st, run, side, err);
	unlink(side);
	if (kbrun_interrupted())
		st->interrupted = true;
	return rc;
}

int kbstat_run(struct kbstat *st, const struct kbstat_opts *o, bool *exec_failed,
	       struct kb_error *err)
{
	memset(st, 0, sizeof *st);
	*exec_failed = false;
	if (kbev_list_parse(&st->list, o->events ? o->events : KBEV_DEFAULT_EVENTS, err))
		return -1;
	st->repeat = o->repeat ? o->repeat : 1;
	st->nmetrics = 3 + 4 * st->list.n;
	st->runs = calloc(st->repeat, sizeof *st->runs);
	if (!st->runs)
		return kb_error_set(err, "out of memory");
	for (unsigned i = 0; i < st->repeat; i++)
		if (!(st->runs[i].result = calloc(st->list.n, sizeof *st->runs[i].result)))
			return kb_error_set(err, "out of memory");
	for (unsigned i = 0; i < st->repeat; i++) {
		struct kb_error e = {{0}};
		if (run_once(st, o, i, exec_failed, &e)) {
			if (st->nruns) {
				snprintf(st->failed, sizeof st->failed, "%s", e.msg);
				return 0;
			}
			return kb_error_set(err, "%s", e.msg);
		}
		if (st->interrupted) {
			if (i + 1 < st->repeat)
				snprintf(st->failed, sizeof st->failed,
					 "interrupted after %u of %u runs", i + 1, st->repeat);
			break;
		}
		if (st->exit_code != 0) {
			if (i + 1 < st->repeat)
				snprintf(st->failed, sizeof st->failed,
					 "stopped after run %u: the command exited with status %d",
					 i + 1, st->exit_code);
			break;
		}
	}
	return 0;
}
