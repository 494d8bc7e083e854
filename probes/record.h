/* record: samples a command into a kbprof recording (`kbprof record`).
 *
 * Opens one sampling event per online CPU on the command (pid, cpu, with
 * inherit, so its threads and child processes are followed, and
 * enable_on_exec), on `cycles` or the event asked for, falling back to
 * `cpu-clock` where the machine cannot sample it; optionally a page-fault
 * event (period 1, with the data address) redirected into the same per-CPU
 * ring buffers. Drains the buffers into the recording as it goes, with
 * side-band (mmap of code and data, comm, fork, exit), the module map
 * (build-ids read at record time), lost and throttle records, and the
 * region events the command's probes append to a side file. See
 * docs/recording-format.md and docs/kbprof-record.md.
 *
 * Owns everything it opens; kbrecord_run() releases it all before
 * returning. */
#ifndef KBPROF_PROBES_RECORD_H
#define KBPROF_PROBES_RECORD_H

#include "util/kb_error.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define KBRECORD_DEFAULT_OUTPUT "kbprof.data"
#define KBRECORD_DEFAULT_FREQ 4000

struct kbrecord_opts {
	const char *event;   /* one event; NULL: "cycles" */
	uint64_t freq;       /* samples per second (0: KBRECORD_DEFAULT_FREQ) */
	uint64_t period;     /* a sample every `period` events; overrides freq */
	bool callchain;      /* -g: frame-pointer call chains */
	bool faults;         /* --faults: page-fault samples with data addresses */
	const char *output;  /* NULL: KBRECORD_DEFAULT_OUTPUT */
	unsigned mmap_pages; /* data pages per CPU buffer, a power of 2 (0: 256) */
	char *const *argv;   /* the command */
	FILE *msgs;          /* where fallbacks and the summary are said (stderr) */
	bool no_regions;     /* leave the command's region probes off */
	const char *kbprof_version;
};

struct kbrecord_summary {
	uint64_t samples;       /* CPU samples written */
	uint64_t fault_samples; /* page-fault samples written */
	uint64_t lost, throttled;
	uint64_t region_records;
	uint64_t bytes;
	int exit_code; /* the command's: exit code or 128 + signal */
	bool interrupted;
	bool fallback;
	char event[128]; /* the event sampled */
};

/* Records the command. Returns 0 once the command ran (whatever its exit
 * status), -1 with err otherwise: bad event, cannot open any event, cannot
 * write the file, command not found (then *exec_failed is set and the
 * output file is removed). */
int kbrecord_run(const struct kbrecord_opts *opts, struct kbrecord_summary *sum, bool *exec_failed,
		 struct kb_error *err);

/* Splits a perf call chain (ips with PERF_CONTEXT_* markers) into kernel
 * frames then user frames, without markers, into out[] (capacity cap).
 * Pure; exposed for tests. */
void kbrecord_split_callchain(const uint64_t *ips, uint64_t nr, uint64_t *out, uint32_t cap,
			      uint32_t *nr_kernel, uint32_t *nr_user);

#endif
