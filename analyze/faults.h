/* faults: page-fault frequency and patterns from a recording's fault
 * samples (module prefix flt_).
 *
 * Every fault sample carries the faulting data address, the instruction
 * and the thread and time. flt_report_build() attributes each one to
 *   - the region its thread had open (innermost; --region filters),
 *   - the mapping that held the address at that time (replaying the mmap
 *     records, forks and execs in time order): heap, stack, anonymous, or
 *     each file mapping such as a KB image,
 *   - the function that faulted (the user-space ip, symbolized),
 *   - a bin of time, and a page,
 * and sets the perf-event counts beside the workload's getrusage counts.
 *
 * Definitions:
 * - Minor and major: a sample of the minor-faults (perf config 5) or
 *   major-faults (6) event is classified; a page-faults (2) sample is not
 *   (the kernel does not say which). When a recording holds samples of
 *   minor/major events those are used, and page-faults samples are ignored
 *   so nothing counts twice.
 * - Pages touched: distinct (process, 4 KiB page) pairs that faulted. A
 *   read fault on a file mapping maps up to 16 neighbouring pages at once
 *   (the kernel's fault-around), so a file read in sequence faults on
 *   about one page in 16 and its "touched" share reads low;
 *   MB touched = pages * 4096 / 2^20; density = faults per MB touched
 *   (256 when every page faulted exactly once, more when pages fault again:
 *   copy-on-write after a read, reclaim).
 *
 * Ownership: the report owns its tables (one arena); the sym_function
 * pointers belong to the profile: free the report first. */
#ifndef KB_ANALYZE_FAULTS_H
#define KB_ANALYZE_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/arena.h"
#include "analyze/profile.h"
#include "util/kb_error.h"

#define FLT_PAGE_SIZE 4096u

struct flt_options {
	const char *region; /* keep faults inside this region; NULL: all */
	const char *comm;   /* keep faults of processes with this command name; NULL: all */
	uint32_t pid;       /* keep faults of this process; 0: all */
	size_t limit;       /* rows per table (functions, pages, mappings); 0: 20 */
	size_t bins;        /* time histogram bins; 0: 20 */
	int folded;         /* folded stacks of the faults (profile loaded with chains) */
};

struct flt_count {
	uint64_t faults, minor, major; /* minor/major meaningful when classified */
	uint64_t pages;                /* distinct pages touched */
	double pct;                    /* of the selected faults */
	double mb_touched, density;
};

struct flt_region_row {
	const char *path;   /* NULL: no region open */
	struct flt_count c; /* faults while this was the innermost region */
	/* faults in this region or one nested in it: faults, minor, major and
	 * pct only (pages and density are not summed over nested regions) */
	struct flt_count incl;
	uint64_t entries, wall_ns;
};

enum flt_kind {
	FLT_FILE,  /* a file mapping: executable, library, KB image */
	FLT_HEAP,  /* [heap] (brk) */
	FLT_STACK, /* [stack] */
	FLT_ANON,  /* anonymous mmap (malloc arenas, thread stacks, ...) */
	FLT_OTHER, /* [vdso], [vvar], ... */
	FLT_NONE,  /* no mapping recorded at that address and time */
};

/* A row is one data-file mapping (one mmap of a KB image: two mappings of
 * the same file, say one lazy and one populated, are two rows), or every
 * mapping of one code file (its segments), or all anonymous memory, the
 * heap, the stack. */
struct flt_mapping_row {
	const char *name; /* path, "[heap]", "[stack]", "anonymous", "(no mapping recorded)" */
	enum flt_kind kind;
	int instance; /* one mmap: start and pid say which */
	uint64_t start;
	uint32_t pid;
	int code;      /* a code file (has an executable mapping) */
	uint64_t maps; /* mmap records in the row */
	uint64_t size; /* bytes mapped, summed over those records */
	uint64_t mapped_pages;
	int shared;    /* MAP_SHARED */
	int populated; /* MAP_POPULATE: 1 yes, -1 unknown (perf's mmap records do not carry it) */
	struct flt_count c;
	double touched_pct; /* pages that faulted / pages mapped (at most 100) */
};

struct flt_function_row {
	const struct sym_function *fn;
	uint64_t faults;
	double pct;
};

struct flt_page_row {
	uint64_t addr; /* page address */
	uint32_t pid;
	const char *mapping;
	int has_offset;
	uint64_t file_offset; /* of the page within the mapped file */
	uint64_t faults;
	uint64_t first_ns; /* relative to the session start */
	const struct sym_function *first_fn;
};

struct flt_bin {
	uint64_t from_ns, to_ns; /* relative to the session start */
	uint64_t faults;
};

struct flt_folded {
	const char *stack; /* "main;load;memcpy" from the root, user frames */
	uint64_t faults;
};

struct flt_report {
	struct arena arena;
	const struct prof *prof;
	const char *region, *comm; /* the filters, or NULL / 0 */
	uint32_t pid;
	const char *events; /* the events counted, "page-faults" or "minor-faults, major-faults" */
	int classified;     /* minor/major known per fault */
	uint64_t samples;   /* fault samples in the file (all fault events) */
	struct flt_count total; /* selected */
	uint64_t kernel_ip; /* faults whose ip is in the kernel and no user frame was recorded */

	struct flt_region_row *regions;
	size_t n_regions;
	struct flt_mapping_row *mappings; /* by faults, largest first */
	size_t n_mappings;
	struct flt_function_row *functions;
	size_t n_functions, n_functions_all;
	struct flt_page_row *pages;
	size_t n_pages;
	struct flt_bin *bins;
	size_t n_bins;
	struct flt_folded *folded;
	size_t n_folded;

	/* getrusage(RUSAGE_CHILDREN) of the workload, when the recording ended
	 * normally, beside the perf-event count over the whole recording. */
	int have_rusage;
	uint64_t ru_minflt, ru_majflt;
	uint64_t perf_faults; /* every fault sample of the counted events, no filter */
	int64_t difference;   /* rusage total - perf_faults */
	const char *explanation;

	const char **warnings;
	size_t n_warnings;
};

/* The profile must have been loaded with keep_faults. Fails when the
 * recording has no page-fault event ("record with --faults"). */
int flt_report_build(struct prof *p, const struct flt_options *o, struct flt_report **out,
		     struct kb_error *err);
void flt_report_free(struct flt_report *r);

const char *flt_kind_name(enum flt_kind k);

#endif
