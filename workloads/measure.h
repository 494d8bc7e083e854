/* measure: what the benchmarks read from the kernel besides the clock
 * (module prefix meas_): resident memory from /proc/self/status, the peak
 * reset through /proc/self/clear_refs, page-fault counts from getrusage,
 * page-cache eviction of a file with its residency checked by mincore, and
 * a measurement run in a fresh child process. Nothing here allocates memory
 * that outlives a call. */
#ifndef MEASURE_H
#define MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "util/kb_error.h"

struct meas_mem {
	uint64_t rss;      /* VmRSS, bytes */
	uint64_t hwm;      /* VmHWM (peak RSS since start or the last reset), bytes */
	uint64_t rss_anon; /* RssAnon, bytes */
	uint64_t rss_file; /* RssFile, bytes */
};

/* Reads /proc/self/status. Returns 0, or -1 with err set. */
int meas_mem_read(struct meas_mem *m, struct kb_error *err);

/* Resets VmHWM to the current RSS (writes "5" to /proc/self/clear_refs).
 * Also returns freed heap memory to the kernel first (malloc_trim), so the
 * baseline that follows is not inflated by memory freed earlier. */
int meas_hwm_reset(struct kb_error *err);

struct meas_faults {
	uint64_t minor, major;
};
/* getrusage(RUSAGE_SELF) fault counters. */
void meas_faults_read(struct meas_faults *f);

/* Pages of the file at `path` currently in the page cache (mincore on a
 * read-only mapping), and its size in pages. An empty file has 0 of 0. */
int meas_file_residency(const char *path, uint64_t *resident, uint64_t *pages,
			struct kb_error *err);

/* Drops the file's pages from the page cache: fsync, then
 * posix_fadvise(POSIX_FADV_DONTNEED) over the whole file. *resident_after
 * (may be NULL) is the residency measured right after, so a caller can tell
 * whether the kernel honoured it. */
int meas_evict_file(const char *path, uint64_t *resident_after, uint64_t *pages,
		    struct kb_error *err);

/* Reads every page of a mapping (one byte per page), so that all of it is
 * resident; returns a checksum of the bytes read, so the reads are not
 * optimised away. */
uint64_t meas_touch_pages(const void *base, size_t len);

/* Runs fn(arg, out) in a child process (a fork) and copies its result,
 * the `len` bytes at out, back into the caller's out. For a measurement
 * that must start from a fresh process's memory. The child leaves with
 * _exit. Returns 0, or -1 with err set (pipe or fork failed, or the child
 * died or wrote no result). */
int meas_in_child(void (*fn)(void *arg, void *out), void *arg, void *out, size_t len,
		  struct kb_error *err);

/* Size of a file in bytes, or -1 with err set. */
int64_t meas_file_size(const char *path, struct kb_error *err);

#endif
