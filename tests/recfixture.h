/* recfixture: builds recordings for the analyzer's tests with the probes'
 * writer (probes/recording_write.h), so tests read files written exactly
 * as `kbprof record` writes them. The module map is this test process's
 * own (/proc/self/maps), recorded under a made-up pid, so sampled
 * addresses of the test's functions symbolize for real. */
#ifndef KBPROF_TESTS_RECFIXTURE_H
#define KBPROF_TESTS_RECFIXTURE_H

#include "probes/recording_write.h"

#include <stddef.h>
#include <stdint.h>

#define FX_PID 4242
#define FX_CPU_EVENT 1   /* cpu-clock, call chains */
#define FX_FAULT_EVENT 2 /* page-faults, period 1 */
#define FX_MINOR_EVENT 3 /* minor-faults */
#define FX_MAJOR_EVENT 4 /* major-faults */

/* Creates path: session (start 1000 ns), the four events, an exec COMM at
 * 1000 and MMAP + MODULE records of every mapping of this process (code
 * and data) at time 1001 under FX_PID. Aborts the test on failure. */
struct recw_file *fx_create(const char *path);

/* The same without mappings or COMM (a bare header, session and events). */
struct recw_file *fx_create_bare(const char *path);

/* Mappings of this process into f for pid at time t. */
void fx_self_maps(struct recw_file *f, uint32_t pid, uint64_t t);

/* A sample of `event` on (pid, pid) at time t: n user frames innermost
 * first (ips[0] the interrupted ip, the others return addresses). */
void fx_sample(struct recw_file *f, uint32_t event, uint32_t pid, uint64_t t, uint64_t period,
	       uint64_t addr, size_t n, const uint64_t *ips);
/* The same with nk kernel frames before the user ones. */
void fx_sample_k(struct recw_file *f, uint32_t event, uint32_t pid, uint64_t t, uint64_t period,
		 uint64_t addr, size_t nk, const uint64_t *kips, size_t n, const uint64_t *ips);

void fx_region(struct recw_file *f, int begin, uint32_t pid, uint64_t t, uint32_t depth,
	       const char *path);

/* FINISH at time t with the given rusage fault counts, then close. */
void fx_finish(struct recw_file *f, uint64_t t, uint64_t minflt, uint64_t majflt);
/* Close without a FINISH record (a recorder that was killed). */
void fx_close(struct recw_file *f);

/* Address of a mapping of this process holding `needle` in its path. */
uint64_t fx_mapping_start(const char *needle, int exec, uint64_t *end);

#endif
