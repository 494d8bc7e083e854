/* kbprof region probes: the public header any C program can include.
 *
 *     #include <kbprof/probe.h>
 *     KBPROF_REGION_BEGIN("parse");
 *     ...                               // nested regions are fine
 *     KBPROF_REGION_END("parse");
 *
 * Regions are per thread and nest; their counts accumulate per path
 * ("startup/parse") with call counts, inclusive and exclusive values.
 *
 * Cost. Off by default: each macro is one load of a global flag and a
 * branch the compiler marks unlikely (__builtin_expect), nothing else.
 * Defining KBPROF_PROBES_DISABLED before including this header (or
 * configuring with -DKBPROF_PROBES_COMPILED_OUT=ON, which defines it for
 * every target linking `probes`) makes the macros vanish entirely. When on,
 * a boundary reads the clock (vDSO) and, if counters are requested, the
 * thread's counter groups with read(2): one read per group, one group per
 * kernel PMU (software events; hardware events), task-clock taken from a
 * group's time enabled rather than read apart. Self-monitoring with rdpmc
 * is not used: it reads hardware counters only, and the default set is
 * mostly software events. Counts of a region include the probe's cost of
 * its child regions' boundaries (a few microseconds each on a VM).
 *
 * Switching on. The library reads its environment before main() (a
 * constructor), so a program run under `kbprof stat` or `kbprof record`
 * is probed without any change:
 *   KBPROF_PROBES=count|trace|count,trace   what to do ("1" means count)
 *   KBPROF_PROBES_EVENTS=cycles,page-faults  counters to read per boundary
 *                                            (libpfm4/perf names)
 *   KBPROF_PROBES_OUT=FILE                   append records to FILE (the
 *                                            kbprof recording format); unset:
 *                                            print a table to stderr at exit
 * or a program calls kbprof_probes_enable() itself, before it starts threads.
 *
 * Output. With "count", totals per region path are written when the process
 * exits (and on kbprof_probes_flush()). With "trace", every boundary is a
 * timestamped REGION_BEGIN/END record (CLOCK_MONOTONIC, the clock kbprof
 * record opens its events with), so samples fall into regions.
 *
 * Linking: link the `probes` library (CMake target `probes`, archive
 * libprobes.a) with libpfm4, elfutils and pthreads:
 *     cc prog.c -I.../probes/include .../libprobes.a -lpfm -ldw -lelf -lpthread -lm
 * Names are copied on first use, so they may be any NUL-terminated strings;
 * literals are cheapest (compared by address first). A region must end in
 * the thread that began it. */
#ifndef KBPROF_PROBE_H
#define KBPROF_PROBE_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(KBPROF_PROBES_DISABLED)

#define KBPROF_REGION_BEGIN(name) ((void)0)
#define KBPROF_REGION_END(name) ((void)0)

#else

/* Nonzero while probes are on. Read-only for programs. */
extern int kbprof_probes_active;

void kbprof_region_begin(const char *name);
void kbprof_region_end(const char *name);

#define KBPROF_REGION_BEGIN(name)                                                                  \
	(__builtin_expect(kbprof_probes_active, 0) ? kbprof_region_begin(name) : (void)0)
#define KBPROF_REGION_END(name)                                                                    \
	(__builtin_expect(kbprof_probes_active, 0) ? kbprof_region_end(name) : (void)0)

#endif

/* The API, for programs that switch probes on themselves. Each returns 0,
 * or -1 after printing the reason to stderr once.
 *
 * kbprof_probes_enable(mode, events, out): mode as KBPROF_PROBES ("count",
 * "trace", "count,trace"); events as KBPROF_PROBES_EVENTS (NULL: none, only
 * wall-clock time and call counts); out as KBPROF_PROBES_OUT (NULL: a table
 * on stderr at exit). Call before starting threads. */
int kbprof_probes_enable(const char *mode, const char *events, const char *out);

/* Writes the totals gathered so far (of the calling thread's finished
 * regions and of threads that ended) to the output, and resets them. */
int kbprof_probes_flush(void);

/* Stops probing; totals not flushed yet are written first. */
void kbprof_probes_disable(void);

#ifdef __cplusplus
}
#endif

#endif
