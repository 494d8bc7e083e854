/* profile: a recording made ready for analysis (module prefix prof_).
 *
 * prof_load() reads a recording's side-band once: the session, the events,
 * processes with their process images (one symbolizer address space per
 * image: a new one at each exec, a forked child sharing its parent's until
 * it execs), every mapping (code and data), the module map, per-thread
 * region timelines, lost/throttle counts, notes and the finish record; and,
 * when asked, the page-fault samples. CPU samples are not kept: they are
 * streamed again from the file by prof_each_sample(), so memory follows
 * the side-band, not the number of samples.
 *
 * Bad input: a file that is not a recording is an error. A record that is
 * malformed part-way, or a file cut short, is a warning: everything before
 * it is used, and prof_each_sample() stops at the same place.
 *
 * Ownership: struct prof owns everything reachable from it (arena, tables,
 * the symbolizer session); prof_free() releases all of it. */
#ifndef KB_ANALYZE_PROFILE_H
#define KB_ANALYZE_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/arena.h"
#include "analyze/recording.h"
#include "analyze/strtab.h"
#include "analyze/symbolize.h"
#include "util/kb_buf.h"
#include "util/kb_error.h"

struct prof_event {
	uint32_t id, kind, perf_type, flags; /* as in struct kbrec_event */
	uint64_t config, period_or_freq;
	const char *name, *note;
	uint64_t samples;   /* samples of this event in the file */
	uint64_t period;    /* their summed period */
	uint64_t lost;      /* from LOST records naming this event */
	uint64_t throttles; /* THROTTLE records with throttled = 1 */
};

/* A mapping as recorded, for fault attribution. */
struct prof_mapping {
	uint32_t pid;
	uint64_t time, start, end, pgoff;
	uint32_t prot, map_flags, flags; /* flags: KBREC_MMAP_* */
	const char *name;                /* interned: path, "[heap]", "//anon", ... */
	uint64_t seq;                    /* file order */
};

/* A page-fault sample, kept when prof_load is asked for faults. */
struct prof_fault {
	uint32_t pid, tid, event_id;
	uint64_t time, addr, ip;
	uint64_t caller;       /* first user return address of the call chain, 0 if none */
	const uint64_t *chain; /* user call chain, innermost first (chain[0] == ip), when kept */
	uint32_t n_chain;
};

/* A region path seen in the recording, with what the probes measured. */
/* A fork of a process or an exec, in the order they shape address spaces. */
struct prof_task {
	uint64_t time, seq;
	uint32_t pid, ppid;
	int exec; /* 1: pid exec'd (its mappings are replaced); 0: pid forked from ppid */
};

struct prof_region {
	const char *path; /* interned */
	uint64_t entries; /* REGION_BEGIN records */
	uint64_t wall_ns; /* inclusive, from matched begin/end pairs */
	uint64_t stats_calls, stats_wall_incl_ns, stats_wall_excl_ns; /* REGION_STATS sums */
};

struct prof_image {
	uint64_t time; /* start of this image (exec or fork) */
	struct sym_space *space;
	const char *comm; /* the command name in this image, or NULL */
};

struct prof_proc {
	uint32_t pid, ppid;
	const char *comm;
	struct prof_image *images; /* by time; at least one */
	size_t n_images, cap_images;
	struct prof_proc *hnext;
};

struct prof_transition {
	uint64_t time;
	const char *path; /* innermost open region from `time` on; NULL: none */
	uint64_t seq;
};

struct prof_thread {
	uint32_t pid, tid;
	struct prof_transition *tr;
	size_t n, cap;
	uint64_t *open; /* begin time + 1 of the open region at each depth (loading only) */
	size_t open_cap;
	struct prof_thread *hnext;
};

struct prof_module {
	const char *path; /* interned */
	uint32_t build_id_len, elf_type;
	uint8_t build_id[KBREC_BUILD_ID_MAX];
	uint64_t size, mtime_ns;
	const char *note;
};

struct prof {
	const char *path;
	struct arena arena;
	struct strtab strs;
	struct sym_session *sym;

	int have_session, finished;
	struct {
		uint64_t start_ns, start_realtime_ns;
		uint32_t pid;
		const char *kbprof_version, *hostname, *kernel;
		const char *command; /* argv joined by spaces */
	} session;
	struct kbrec_finish finish; /* valid when finished */

	struct prof_event *events;
	size_t n_events;
	struct prof_mapping *maps;
	size_t n_maps;
	struct prof_module *modules;
	size_t n_modules;
	struct prof_region *regions;
	size_t n_regions;
	struct prof_fault *faults;
	size_t n_faults;
	int faults_kept;                /* loaded with keep_faults */
	const char *kernel_symbols_why; /* NULL when kernel symbols are in use, else why not */
	const char **notes;
	size_t n_notes;
	struct prof_task *tasks; /* sorted by (time, seq) */
	size_t n_tasks;

	uint64_t records, samples, lost, throttles, lost_unknown_event;
	uint64_t first_time, last_time; /* over every timed record */
	uint64_t sample_end_offset;     /* file offset where reading stopped */

	/* Why the file ends early or where it is malformed; "" when clean. */
	struct kb_buf problems;

	/* private lookup tables */
	struct prof_proc **proc_hash;
	size_t proc_hash_cap, n_procs;
	struct prof_thread **thread_hash;
	size_t thread_hash_cap, n_threads;
	struct prof_proc *last_proc;
	struct prof_thread *last_thread;
};

struct prof_options {
	int keep_faults;       /* keep page-fault samples in prof->faults */
	int keep_fault_chains; /* and their user call chains (folded stacks of faults) */
	/* Kernel symbols: NULL uses /proc/kallsyms when the recording was made
	 * under the running kernel in this boot (KASLR moves it every boot);
	 * a path forces that file. */
	const char *kallsyms;
};

int prof_load(struct prof **out, const char *path, const struct prof_options *opts,
	      struct kb_error *err);
void prof_free(struct prof *p);

/* Calls fn for each SAMPLE record in file order, stopping early when fn
 * returns non-zero (that value is returned). Returns 0 at the end, or -1
 * with err when the file cannot be read again. */
int prof_each_sample(struct prof *p, int (*fn)(void *ctx, const struct kbrec_sample *s), void *ctx,
		     struct kb_error *err);

const struct prof_event *prof_event_by_id(const struct prof *p, uint32_t id);
/* The first event of a kind (KBREC_EVENT_CPU, KBREC_EVENT_FAULTS), or the
 * one named `name` when not NULL. */
const struct prof_event *prof_event_find(const struct prof *p, uint32_t kind, const char *name);

/* The process image (symbolizer space) of pid at time t; NULL for a pid
 * the side-band never named. */
struct sym_space *prof_space_at(struct prof *p, uint32_t pid, uint64_t t);
const struct prof_proc *prof_proc_get(struct prof *p, uint32_t pid);
/* The command name of pid at time t (after an exec, the new one), or NULL. */
const char *prof_comm_at(struct prof *p, uint32_t pid, uint64_t t);

/* The innermost region path thread (pid, tid) had open at time t, or NULL. */
const char *prof_region_at(struct prof *p, uint32_t pid, uint32_t tid, uint64_t t);

/* Does region path `path` ("startup/parse/intern") lie inside region
 * `want`? `want` with a '/' is a path prefix ("startup/parse"); without,
 * a region name anywhere on the path ("parse"). */
int prof_region_match(const char *path, const char *want);

/* Everything a report should warn about, one message each, in arena
 * memory: a truncated or malformed file, a missing finish record, lost
 * and throttled samples and the event fallback of `ev` (when not NULL),
 * the recorder's notes and the symbolizer's warnings so far. */
int prof_warnings(struct prof *p, const struct prof_event *ev, const char ***out, size_t *n);

/* Duration: finish end (or last record) minus session start (or first record). */
uint64_t prof_duration_ns(const struct prof *p);

#endif
