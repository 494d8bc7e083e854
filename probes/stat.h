/* stat: counts a command's events, whole and per probed region, over
 * repeated runs (`kbprof stat`).
 *
 * Each run forks the command (probes/run.h), opens the event list on it as
 * per-PMU groups that follow its threads and children (inherit) and start
 * at its exec (enable_on_exec), and reads them when it has ended. The
 * command's region probes are switched on through the environment and
 * append their totals to a side file in the recording format; the caller
 * decodes that file (analyze/ is above probes/) and hands each region's
 * totals back with kbstat_add_region().
 *
 * Owns: the event list, per-run results and the region table, all freed by
 * kbstat_free(). */
#ifndef KBPROF_PROBES_STAT_H
#define KBPROF_PROBES_STAT_H

#include "probes/events.h"
#include "util/kb_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kbstat;

/* Called after each run with the side file the command's probes wrote
 * (it may hold no region at all). Returns 0, or -1 with err filled. */
typedef int (*kbstat_regions_fn)(void *ctx, struct kbstat *st, unsigned run, const char *path,
				 struct kb_error *err);

struct kbstat_opts {
	const char *events; /* NULL: KBEV_DEFAULT_EVENTS */
	unsigned repeat;    /* runs, >= 1 */
	char *const *argv;  /* the command */
	kbstat_regions_fn regions;
	void *regions_ctx;
	bool no_regions; /* leave the command's region probes off */
};

/* One region path, over all runs: metrics[run * nmetrics + m], with m:
 * 0 calls, 1 wall inclusive ns, 2 wall exclusive ns, then per event e of
 * the list: 3+4e inclusive, 4+4e exclusive, 5+4e enabled ns, 6+4e running. */
struct kbstat_region {
	char *path;
	double *metrics;
	bool *has_event; /* per event: some process counted it in this region */
};

struct kbstat_run {
	uint64_t elapsed_ns;
	uint64_t user_ns, sys_ns;
	struct kbev_result *result; /* per event */
};

struct kbstat {
	struct kbev_list list;
	size_t nmetrics;
	unsigned nruns;  /* runs completed (the command ran to its end) */
	unsigned repeat; /* runs asked for */
	struct kbstat_run *runs;
	struct kbstat_region *regions;
	size_t nregions, regions_cap;
	int exit_code;     /* of the last run: exit code or 128 + signal */
	bool interrupted;  /* SIGINT/SIGTERM/SIGHUP stopped the runs */
	char failed[1100]; /* why the runs stopped early, or "" */
};

/* Runs the command opts->repeat times. Returns 0 if at least it could be
 * started once (check exit_code and nruns), -1 with err if not: bad event
 * list, "nosuchcmd: command not found" (then *exec_failed is set). */
int kbstat_run(struct kbstat *st, const struct kbstat_opts *opts, bool *exec_failed,
	       struct kb_error *err);

/* Adds a process's totals of one region path to run `run`. `names` are the
 * event names the probes counted; counters of names not in the list are
 * ignored. */
int kbstat_add_region(struct kbstat *st, unsigned run, const char *path, uint64_t calls,
		      uint64_t wall_incl, uint64_t wall_excl, size_t ncounters,
		      const char *const *names, const uint64_t *incl, const uint64_t *excl,
		      const uint64_t *enabled, const uint64_t *running);

/* Mean and sample standard deviation of n values (stddev 0 when n < 2). */
void kbstat_mean_stddev(const double *v, size_t n, size_t stride, double *mean, double *stddev);

void kbstat_free(struct kbstat *st);

#endif
