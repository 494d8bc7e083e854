/* recording_write: encodes kbprof recordings (docs/recording-format.md).
 *
 * struct recw_enc encodes records into a fixed buffer the caller owns and
 * hands complete records to a sink function when the buffer fills up or on
 * recw_flush(). Only whole records ever reach the sink, so a file written
 * this way reads up to its last complete record whatever happens to the
 * writer. The region probes use an encoder over a per-thread buffer with a
 * write(2) sink; `kbprof record` uses struct recw_file, an encoder whose
 * sink is a file it owns.
 *
 * The record type numbers are the reader's (analyze/recording.h); probes/
 * does not include analyze/, so they are repeated here and a test checks
 * that both agree. */
#ifndef KBPROF_PROBES_RECORDING_WRITE_H
#define KBPROF_PROBES_RECORDING_WRITE_H

#include "util/kb_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECW_MAGIC "KBPROFRC"
#define RECW_VERSION_MAJOR 1
#define RECW_VERSION_MINOR 0
#define RECW_HEADER_SIZE 16
#define RECW_RECORD_MAX (1u << 20)
#define RECW_BUILD_ID_MAX 20

enum recw_type {
	RECW_SESSION = 1,
	RECW_EVENT = 2,
	RECW_COMM = 3,
	RECW_FORK = 4,
	RECW_EXIT = 5,
	RECW_MMAP = 6,
	RECW_MODULE = 7,
	RECW_SAMPLE = 8,
	RECW_REGION_BEGIN = 9,
	RECW_REGION_END = 10,
	RECW_REGION_STATS = 11,
	RECW_LOST = 12,
	RECW_THROTTLE = 13,
	RECW_NOTE = 14,
	RECW_FINISH = 15,
};

/* Receives complete records; returns 0, or -1 with errno set. */
typedef int (*recw_sink_fn)(void *ctx, const void *data, size_t len);

struct recw_enc {
	uint8_t *buf; /* borrowed from the caller */
	size_t cap;
	size_t len;       /* bytes in buf */
	size_t rec_start; /* start of the record being built */
	bool in_record;
	bool overflow; /* the current record did not fit: it is dropped */
	int error;     /* errno of the first failed sink call, 0 if none */
	recw_sink_fn sink;
	void *sink_ctx;
	uint64_t records; /* complete records encoded */
};

void recw_enc_init(struct recw_enc *e, void *buf, size_t cap, recw_sink_fn sink, void *ctx);

/* Builds one record: begin, put fields, end. recw_end() pads to 8 bytes,
 * writes the size and returns 0, or -1 if the record did not fit the
 * buffer (then nothing of it remains) or the sink failed. */
void recw_begin(struct recw_enc *e, uint32_t type);
void recw_u32(struct recw_enc *e, uint32_t v);
void recw_u64(struct recw_enc *e, uint64_t v);
void recw_bytes(struct recw_enc *e, const void *p, size_t n);
void recw_str(struct recw_enc *e, const char *s); /* NULL writes "" */
int recw_end(struct recw_enc *e);

/* Hands every complete record to the sink. Returns 0 or -1 (errno). */
int recw_flush(struct recw_enc *e);

/* Appends already-encoded complete records (validated by the caller). */
int recw_raw(struct recw_enc *e, const void *data, size_t len);

/* The 16-byte file header. */
void recw_header(uint8_t out[RECW_HEADER_SIZE]);

/* Checks the framing of one encoded record at data[0..len): its type is one
 * of `allowed` (a bit mask of 1u << type), its size fits. Returns the
 * record size, 0 if more bytes are needed, -1 if malformed. */
long recw_frame_check(const void *data, size_t len, uint32_t allowed);

/* Typed records. Each returns recw_end()'s result. */
struct recw_session {
	uint64_t start_ns, start_realtime_ns;
	uint32_t clockid, pid;
	const char *kbprof_version, *hostname, *kernel;
	uint32_t argc;
	char *const *argv;
};
int recw_session(struct recw_enc *e, const struct recw_session *s);

int recw_event(struct recw_enc *e, uint32_t id, uint32_t kind, uint32_t perf_type, uint32_t flags,
	       uint64_t config, uint64_t period_or_freq, const char *name, const char *note);
int recw_comm(struct recw_enc *e, uint32_t pid, uint32_t tid, uint64_t time, uint32_t flags,
	      const char *comm);
int recw_task(struct recw_enc *e, uint32_t type, uint32_t pid, uint32_t ppid, uint32_t tid,
	      uint32_t ptid, uint64_t time);

struct recw_mmap {
	uint32_t pid, tid;
	uint64_t time, start, len, pgoff;
	uint32_t prot, map_flags, maj, min;
	uint64_t ino;
	uint32_t flags, build_id_len;
	uint8_t build_id[RECW_BUILD_ID_MAX];
	const char *filename;
};
int recw_mmap(struct recw_enc *e, const struct recw_mmap *m);

struct recw_module {
	uint32_t build_id_len, elf_type;
	uint64_t size, mtime_ns;
	uint8_t build_id[RECW_BUILD_ID_MAX];
	const char *path, *note;
};
int recw_module(struct recw_enc *e, const struct recw_module *m);

struct recw_sample {
	uint32_t event_id, pid, tid, cpu;
	uint64_t time, ip, period, addr;
	uint32_t cpumode, nr_kernel, nr_user;
	const uint64_t *ips; /* nr_kernel kernel frames, then nr_user user frames */
};
int recw_sample(struct recw_enc *e, const struct recw_sample *s);

int recw_region(struct recw_enc *e, uint32_t type, uint32_t pid, uint32_t tid, uint64_t time,
		uint32_t depth, const char *path);

struct recw_counter {
	const char *name;
	uint64_t incl, excl, enabled, running;
};
int recw_region_stats(struct recw_enc *e, uint32_t pid, uint32_t tid, uint64_t calls,
		      uint64_t wall_incl, uint64_t wall_excl, uint32_t ncounters,
		      const struct recw_counter *counters, const char *path);

int recw_lost(struct recw_enc *e, uint32_t event_id, uint32_t cpu, uint64_t time, uint64_t count);
int recw_throttle(struct recw_enc *e, uint32_t event_id, uint32_t throttled, uint64_t time);
int recw_note(struct recw_enc *e, uint32_t pid, uint64_t time, const char *text);

struct recw_finish {
	uint64_t end_ns;
	int32_t status;
	uint32_t flags;
	uint64_t samples, lost, throttled;
	uint64_t ru_minflt, ru_majflt, ru_utime_ns, ru_stime_ns, ru_maxrss_kb;
};
int recw_finish(struct recw_enc *e, const struct recw_finish *f);

/* A recording file: creates (truncates) path and writes the header.
 * Owns the descriptor, the buffer and the encoder. */
struct recw_file {
	struct recw_enc enc;
	int fd;
	uint64_t bytes; /* written to the file so far */
	char path[4096];
};

int recw_file_create(struct recw_file **out, const char *path, struct kb_error *err);
/* Flushes and closes; -1 with the reason if any write failed. Frees f. */
int recw_file_close(struct recw_file *f, struct kb_error *err);

#endif
