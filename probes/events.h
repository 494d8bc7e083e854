/* events: perf event lists, as perf and libpfm4 users write them, encoded
 * with libpfm4 and opened as per-PMU groups with perf_event_open(2).
 *
 * Two objects with separate lifetimes:
 * - struct kbev_list: the parsed, encoded events (names, perf_event_attr).
 *   Immutable once parsed, so threads may share one list. Owns its arrays;
 *   kbev_list_free() releases them.
 * - struct kbev_set: one opening of a list for one target (a thread, or a
 *   process and its children), with a file descriptor per event, the
 *   grouping, the reason any event could not be opened and the last values
 *   read. Owns its descriptors and arrays; kbev_set_close() releases them.
 *   The list must outlive the set.
 *
 * An event the kernel refuses never stops the others: its reason is kept
 * ("not supported", "no permission: perf_event_paranoid is 2; needs <= 1
 * or CAP_PERFMON") and the rest of its group is opened without it. */
#ifndef KBPROF_PROBES_EVENTS_H
#define KBPROF_PROBES_EVENTS_H

#include "util/kb_error.h"

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The events `kbprof stat` counts when not given -e. */
#define KBEV_DEFAULT_EVENTS                                                                        \
	"cycles,instructions,cache-references,cache-misses,branch-misses,task-clock,page-faults,"  \
	"minor-faults,major-faults,context-switches"

#define KBEV_MAX_EVENTS 64
#define KBEV_REASON_MAX 200

struct kbev {
	char *name;  /* as the user wrote it ("cycles:u"); owned */
	char *fstr;  /* libpfm's fully qualified name; owned */
	char *pmu;   /* libpfm's PMU name ("perf", "amd64_fam19h_zen4"); owned */
	int pmu_key; /* events with equal keys share a group (one kernel PMU) */
	struct perf_event_attr attr;
};

struct kbev_list {
	struct kbev *ev;
	size_t n;
};

/* Initialises libpfm4 once per process (thread-safe); -1 with the reason. */
int kbev_init(struct kb_error *err);

/* Parses a comma-separated list ("cycles,instructions:u,perf::MAJOR-FAULTS")
 * and encodes each event with pfm_get_os_event_encoding(PFM_OS_PERF_EVENT_EXT).
 * Counting at user and kernel level unless a modifier says otherwise. An
 * unknown event fails the whole list: "NAME: unknown event (libpfm: event
 * not found)". On failure the list is left empty. */
int kbev_list_parse(struct kbev_list *list, const char *spec, struct kb_error *err);

/* Releases the list's arrays and strings; the list can be parsed again. */
void kbev_list_free(struct kbev_list *list);

/* Grouping key of an attr, one per kernel PMU: hardware, cache and raw
 * events share the core PMU; task-clock and cpu-clock have a PMU each;
 * the other software events share one; any other type its own. */
int kbev_pmu_key(const struct perf_event_attr *attr);

enum kbev_status {
	KBEV_OK = 0,
	KBEV_NOT_SUPPORTED, /* ENOENT, EOPNOTSUPP, ENODEV */
	KBEV_NO_PERMISSION, /* EACCES, EPERM */
	KBEV_FAILED,        /* any other errno */
	KBEV_NOT_COUNTED,   /* opened, but time running was 0 */
};

/* What the kernel was asked, to explain a refusal. */
struct kbev_open_ctx {
	int paranoid;       /* /proc/sys/kernel/perf_event_paranoid */
	bool counts_kernel; /* exclude_kernel was 0 */
	bool cpu_wide;      /* pid == -1 */
	bool hardware;      /* attr.type is hardware, cache or raw */
	bool has_hw_pmu;    /* /sys/bus/event_source/devices/cpu exists */
	bool privileged;    /* root or CAP_PERFMON */
};

/* Maps an errno of perf_event_open() and its context to a status and a
 * one-line reason ("no permission: perf_event_paranoid is 2; needs <= 1 or
 * CAP_PERFMON"). Pure: no system calls. */
enum kbev_status kbev_explain(int errnum, const struct kbev_open_ctx *ctx, char *reason,
			      size_t size);

/* Reads /proc/sys/kernel/perf_event_paranoid (2, the usual default, if it
 * cannot be read) and fills the parts of ctx that depend on the machine. */
void kbev_machine_ctx(struct kbev_open_ctx *ctx);

/* Scales a multiplexed count: value * enabled / running, and sets
 * *fraction to running / enabled (1 when enabled is 0). A count never
 * running yields 0 and fraction 0. Pure. */
double kbev_scale(uint64_t value, uint64_t enabled, uint64_t running, double *fraction);

enum {
	KBEV_OPEN_INHERIT = 1u << 0,        /* follow threads and children */
	KBEV_OPEN_ENABLE_ON_EXEC = 1u << 1, /* start disabled, count from the next exec */
	/* For a thread's own counters (pid 0, no inherit): task-clock is not
	 * opened but taken from another group's time enabled, which for
	 * counters of one task advances exactly while the task runs, on the
	 * same clock the kernel's task-clock reads. Saves one read(2) per
	 * boundary. Used only when some other group is open. */
	KBEV_OPEN_DERIVE_TASK_CLOCK = 1u << 2,
};

struct kbev_result {
	enum kbev_status status;
	char reason[KBEV_REASON_MAX]; /* why not OK; empty when OK */
	char note[KBEV_REASON_MAX];   /* a fallback taken ("user space only: ..."), or "" */
	uint64_t value;               /* raw count, as last read */
	uint64_t enabled, running;    /* ns, as last read */
};

struct kbev_set {
	const struct kbev_list *list;
	size_t n;
	int *fd;                    /* per event; -1 if not open */
	uint64_t *id;               /* kernel event ids (PERF_FORMAT_ID) */
	int *leader;                /* index of the event's group leader, -1 if not open */
	bool *derived;              /* task-clock taken from its leader's time enabled */
	struct kbev_result *result; /* per event */
	uint64_t *buf;              /* read(2) buffer */
	size_t buf_words;
	size_t nopen;
};

/* Opens every event of the list for pid (0: the calling thread; a pid:
 * that process) on cpu -1, grouped per PMU with PERF_FORMAT_GROUP | ID |
 * TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING. Events the kernel refuses get
 * their status and reason; a group member refused in its group is retried
 * on its own. Returns 0 even if no event could be opened (check nopen); -1
 * only when memory runs out. */
int kbev_set_open(struct kbev_set *set, const struct kbev_list *list, pid_t pid, unsigned flags,
		  struct kb_error *err);

/* Reads every group (one read(2) per group) into set->result[].value,
 * enabled, running; marks events that never ran as KBEV_NOT_COUNTED.
 * Returns 0, or -1 if a read failed (errno set). */
int kbev_set_read(struct kbev_set *set);

/* Enables or disables every group (ioctl on the leaders). */
void kbev_set_enable(struct kbev_set *set, bool on);

/* Closes the descriptors and frees the arrays. Safe on a zeroed set. */
void kbev_set_close(struct kbev_set *set);

/* A name perf prints for an event's unit: "msec" for task-clock and
 * cpu-clock (their counts are ns), else "". */
const char *kbev_unit(const struct perf_event_attr *attr);

#endif
