/* recording: the reader of kbprof recordings (format: docs/recording-format.md).
 *
 * A recording is a file header followed by a stream of length-prefixed,
 * typed records, written by `kbprof record` (probes/recording_write.c) and by
 * the region probes of the programs it runs. This module is the only decoder
 * of that format: a pull iterator in the shape of jq's start/next/teardown.
 *
 *     struct kbrec_reader *r;
 *     struct kb_error err;
 *     if (kbrec_reader_open(&r, "kbprof.data", &err))
 *             die(err.msg);                 // not a recording, unreadable, ...
 *     struct kbrec_record rec;
 *     int rc;
 *     while ((rc = kbrec_reader_next(r, &rec, &err)) == 1)
 *             use(&rec);
 *     if (rc < 0)
 *             warn(err.msg);                // "kbprof.data: offset 812: ..."
 *     if (kbrec_reader_truncation(r))
 *             warn(kbrec_reader_truncation(r));
 *     kbrec_reader_close(r);
 *
 * Ownership (the only rules; they hold for every function below):
 * - The reader owns everything it hands out. A record's strings, arrays and
 *   pointers stay valid until the next call of kbrec_reader_next() or
 *   kbrec_reader_close() on the same reader; copy what must live longer.
 * - kbrec_reader_open_mem() borrows the caller's bytes; they must outlive
 *   the reader. kbrec_reader_open() maps the file and owns the mapping.
 * - Strings handed out are NUL-terminated UTF-8 (or whatever bytes the
 *   program wrote), never NULL: an absent string is "".
 *
 * Safety: every field is bounds-checked against its record and every record
 * against the file. A malformed record stops the iteration with an error
 * naming the byte offset and the cause; a file cut short (crash, kill,
 * copy in progress) reads up to its last complete record, after which
 * kbrec_reader_next() returns 0 and kbrec_reader_truncation() says where
 * and how the file ends. Nothing in the file is trusted.
 *
 * Records of an unknown type (written by a newer minor version) are returned
 * as KBREC_UNKNOWN with their raw bytes, so readers may skip them. */
#ifndef KBPROF_ANALYZE_RECORDING_H
#define KBPROF_ANALYZE_RECORDING_H

#include "util/kb_error.h"

#include <stddef.h>
#include <stdint.h>

/* File header: magic, then the format version this reader understands. */
#define KBREC_MAGIC "KBPROFRC"
#define KBREC_VERSION_MAJOR 1
#define KBREC_VERSION_MINOR 0
#define KBREC_HEADER_SIZE 16
#define KBREC_RECORD_MAX (1u << 20) /* largest record a reader accepts, bytes */
#define KBREC_BUILD_ID_MAX 20

enum kbrec_type {
	KBREC_UNKNOWN = 0,
	KBREC_SESSION = 1,       /* who recorded what, when (first record of a file) */
	KBREC_EVENT = 2,         /* a sampled event: its id, kind, attr and any fallback */
	KBREC_COMM = 3,          /* a thread's command name (at exec or rename) */
	KBREC_FORK = 4,          /* a process or thread was created */
	KBREC_EXIT = 5,          /* a process or thread ended */
	KBREC_MMAP = 6,          /* a mapping: code, data file, anonymous, heap, stack */
	KBREC_MODULE = 7,        /* a mapped file's build-id and identity, read at record time */
	KBREC_SAMPLE = 8,        /* one sample: ip, tid, time, period, address, call chain */
	KBREC_REGION_BEGIN = 9,  /* a thread entered a probed region */
	KBREC_REGION_END = 10,   /* a thread left a probed region */
	KBREC_REGION_STATS = 11, /* per-process totals of one region path */
	KBREC_LOST = 12,         /* samples the kernel dropped */
	KBREC_THROTTLE = 13,     /* the kernel throttled or unthrottled an event */
	KBREC_NOTE = 14,         /* a diagnostic worth keeping ("cycles: not supported ...") */
	KBREC_FINISH = 15,       /* the end: exit status, totals, rusage (last record) */
};
#define KBREC_TYPE_COUNT 16

/* Timestamps are nanoseconds of the clock named in the session record
 * (CLOCK_MONOTONIC), the same clock for samples, side-band and regions. */

struct kbrec_session {
	uint64_t start_ns;          /* session clock at the start */
	uint64_t start_realtime_ns; /* CLOCK_REALTIME at the same moment (for display) */
	uint32_t clockid;           /* the session clock: 1 = CLOCK_MONOTONIC */
	uint32_t pid;               /* the workload's process id (0: not started yet) */
	const char *kbprof_version;
	const char *hostname;
	const char *kernel; /* uname release */
	uint32_t argc;      /* the workload's command line */
	const char *const *argv;
};

enum kbrec_event_kind {
	KBREC_EVENT_CPU = 1,    /* time/cycle samples with ip and call chain */
	KBREC_EVENT_FAULTS = 2, /* page-fault samples (period 1) with the data address */
};

enum {
	KBREC_EVENT_FREQ = 1u << 0,      /* period_or_freq is a frequency in Hz */
	KBREC_EVENT_CALLCHAIN = 1u << 1, /* samples carry frame-pointer call chains */
	KBREC_EVENT_FALLBACK = 1u << 2,  /* not the event asked for; `note` says why */
};

struct kbrec_event {
	uint32_t id;   /* referenced by kbrec_sample.event_id, kbrec_lost.event_id */
	uint32_t kind; /* enum kbrec_event_kind */
	uint32_t perf_type;
	uint32_t flags; /* KBREC_EVENT_* */
	uint64_t perf_config;
	uint64_t period_or_freq;
	const char *name; /* as the user wrote it, or the fallback's name */
	const char *note; /* why a fallback was used, or "" */
};

enum {
	KBREC_COMM_EXEC = 1u << 0, /* the name changed because of an exec */
};

struct kbrec_comm {
	uint32_t pid, tid;
	uint64_t time;
	uint32_t flags; /* KBREC_COMM_* */
	const char *comm;
};

/* KBREC_FORK and KBREC_EXIT share this layout. */
struct kbrec_task {
	uint32_t pid, ppid, tid, ptid;
	uint64_t time;
};

enum {
	KBREC_MMAP_BUILD_ID = 1u << 0, /* build_id is valid (the kernel sent it) */
	KBREC_MMAP_INODE = 1u << 1,    /* maj, min, ino are valid */
	KBREC_MMAP_DATA = 1u << 2,     /* a data mapping (not PROT_EXEC) */
};

struct kbrec_mmap {
	uint32_t pid, tid;
	uint64_t time;
	uint64_t start, len, pgoff; /* [start, start+len) maps file offset pgoff */
	uint32_t prot, map_flags;   /* PROT_*, MAP_* as mmap(2) took them */
	uint32_t maj, min;
	uint64_t ino;
	uint32_t flags; /* KBREC_MMAP_* */
	uint32_t build_id_len;
	uint8_t build_id[KBREC_BUILD_ID_MAX];
	const char *filename; /* path, or "[heap]", "[stack]", "//anon", "[vdso]", ... */
};

struct kbrec_module {
	uint32_t build_id_len; /* 0: none found (`note` says why) */
	uint32_t elf_type;     /* ET_EXEC, ET_DYN, ... ; 0 if not an ELF file */
	uint64_t size;         /* st_size and st_mtim at record time, to detect rebuilds */
	uint64_t mtime_ns;
	uint8_t build_id[KBREC_BUILD_ID_MAX];
	const char *path;
	const char *note; /* "", or why the build-id is missing ("not an ELF file", ...) */
};

struct kbrec_sample {
	uint32_t event_id; /* kbrec_event.id */
	uint32_t pid, tid, cpu;
	uint64_t time;
	uint64_t ip;
	uint64_t period;
	uint64_t addr;    /* faulting data address (fault samples), else 0 */
	uint32_t cpumode; /* PERF_RECORD_MISC_CPUMODE_*: 1 kernel, 2 user, 3 hypervisor */
	/* Frame-pointer call chain without perf's context markers: the first
	 * nr_kernel entries are kernel addresses, then nr_user user addresses,
	 * innermost first (ips[0] is the sampled ip itself when present). */
	uint32_t nr_kernel, nr_user;
	const uint64_t *ips;
};

/* KBREC_REGION_BEGIN and KBREC_REGION_END share this layout. Events of one
 * thread are in time order; attribute a sample (pid, tid, time) to the
 * innermost region of that thread open at that time. */
struct kbrec_region_event {
	uint32_t pid, tid;
	uint64_t time;
	uint32_t depth;   /* 1 for an outermost region */
	const char *path; /* "startup/parse": names from the outermost region inwards */
};

struct kbrec_counter {
	const char *name; /* event name as given to the probes */
	uint64_t incl;    /* inclusive count, scaled by enabled/running */
	uint64_t excl;    /* inclusive minus the inclusive counts of child regions */
	uint64_t enabled; /* summed time enabled and running over the region's calls, ns */
	uint64_t running; /* running/enabled is the share of time actually counted */
};

struct kbrec_region_stats {
	uint32_t pid;
	uint32_t tid; /* 0: summed over the process's threads */
	uint64_t calls;
	uint64_t wall_incl_ns, wall_excl_ns;
	uint32_t ncounters; /* 0 when the probes counted no events (record mode) */
	const struct kbrec_counter *counters;
	const char *path;
};

struct kbrec_lost {
	uint32_t event_id; /* kbrec_event.id, or UINT32_MAX if unknown */
	uint32_t cpu;
	uint64_t time;
	uint64_t count;
};

struct kbrec_throttle {
	uint32_t event_id;
	uint32_t throttled; /* 1 throttled, 0 unthrottled */
	uint64_t time;
};

struct kbrec_note {
	uint32_t pid; /* 0: from kbprof itself */
	uint64_t time;
	const char *text;
};

enum {
	KBREC_FINISH_INTERRUPTED = 1u << 0, /* kbprof got SIGINT/SIGTERM during the run */
	KBREC_FINISH_SIGNALED = 1u << 1,    /* the workload died of signal `status` */
};

struct kbrec_finish {
	uint64_t end_ns; /* session clock */
	int32_t status;  /* exit code, or the signal number if KBREC_FINISH_SIGNALED */
	uint32_t flags;  /* KBREC_FINISH_* */
	uint64_t samples, lost, throttled; /* totals over all events */
	/* The workload's rusage as wait4() returned it (its waited-for
	 * children included). */
	uint64_t ru_minflt, ru_majflt;
	uint64_t ru_utime_ns, ru_stime_ns;
	uint64_t ru_maxrss_kb;
};

struct kbrec_unknown {
	uint32_t type;
	uint32_t size; /* payload bytes */
	const uint8_t *data;
};

struct kbrec_record {
	enum kbrec_type type;
	uint64_t offset; /* byte offset of the record in the file */
	union {
		struct kbrec_session session;
		struct kbrec_event event;
		struct kbrec_comm comm;
		struct kbrec_task task; /* KBREC_FORK, KBREC_EXIT */
		struct kbrec_mmap mmap;
		struct kbrec_module module;
		struct kbrec_sample sample;
		struct kbrec_region_event region; /* KBREC_REGION_BEGIN, KBREC_REGION_END */
		struct kbrec_region_stats region_stats;
		struct kbrec_lost lost;
		struct kbrec_throttle throttle;
		struct kbrec_note note;
		struct kbrec_finish finish;
		struct kbrec_unknown unknown;
	};
};

struct kbrec_reader;

/* Opens a recording file and checks its header. On failure returns -1 and
 * fills err ("FILE: not a kbprof recording (magic ...)", "FILE: format
 * version 2.0 is newer than this reader (1.x)", "FILE: No such file ..."). */
int kbrec_reader_open(struct kbrec_reader **out, const char *path, struct kb_error *err);

/* The same over bytes in memory (borrowed); `name` is used in messages. */
int kbrec_reader_open_mem(struct kbrec_reader **out, const void *data, size_t len, const char *name,
			  struct kb_error *err);

/* Decodes the next record into *rec. Returns 1 when a record was decoded,
 * 0 at the end of the data (complete or truncated: see
 * kbrec_reader_truncation), -1 on a malformed record, with err naming the
 * offset and the cause; after -1 every further call returns -1 again. */
int kbrec_reader_next(struct kbrec_reader *r, struct kbrec_record *rec, struct kb_error *err);

/* NULL while the data ended cleanly (after a complete record), else a
 * message such as "kbprof.data: truncated at offset 4096: record of 120
 * bytes has only 17". Meaningful once kbrec_reader_next() returned 0. */
const char *kbrec_reader_truncation(const struct kbrec_reader *r);

/* 1 once a KBREC_FINISH record was read (the recorder ended normally). */
int kbrec_reader_finished(const struct kbrec_reader *r);

/* Format version of the file (major, minor). */
void kbrec_reader_version(const struct kbrec_reader *r, unsigned *major, unsigned *minor);

/* Offset of the next record to be read (the file size once all is read). */
uint64_t kbrec_reader_offset(const struct kbrec_reader *r);

/* Releases the reader and everything it handed out. NULL is allowed. */
void kbrec_reader_close(struct kbrec_reader *r);

/* "sample", "mmap", ...; "unknown" for values outside enum kbrec_type. */
const char *kbrec_type_name(uint32_t type);

#endif
