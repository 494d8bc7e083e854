/* hotspots: where the CPU samples of a recording fell (module prefix hot_).
 *
 * hot_report_build() streams the samples of one CPU event through the
 * symbolizer and aggregates them: functions by self and inclusive weight,
 * a region breakdown, the callers and callees of one function, the source
 * lines of the top functions, folded stacks, and the totals and coverage a
 * reader needs to trust the numbers.
 *
 * Definitions:
 * - Weight is the samples' period (nanoseconds for cpu-clock, events for
 *   cycles), as perf report's "Overhead"; percentages are of the total
 *   weight of the samples selected (event and region). Sample counts are
 *   given beside it.
 * - Self: the function of the sample's innermost frame. Inclusive: every
 *   function on the call chain, counted once per sample however often it
 *   recurs.
 * - Kernel frames are named from kallsyms when the recording was made
 *   under the running kernel in this boot (see prof_options.kallsyms),
 *   else they all read "[kernel]"; consecutive kernel frames in one
 *   function count as one frame.
 * - Region: the innermost region the sampled thread had open at the
 *   sample's time; --region R keeps samples inside R (nested ones too).
 * - Coverage: share of the selected samples whose innermost frame has a
 *   function (symbol or DWARF), and a source line.
 *
 * Ownership: struct hot_report owns everything it points to, except the
 * struct sym_function and prof_event pointers, which belong to the struct
 * prof it was built from: free the report before the profile. */
#ifndef KB_ANALYZE_HOTSPOTS_H
#define KB_ANALYZE_HOTSPOTS_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/arena.h"
#include "analyze/profile.h"
#include "analyze/symbolize.h"
#include "util/kb_error.h"

enum hot_sort {
	HOT_SORT_SELF,
	HOT_SORT_TOTAL,
};

struct hot_options {
	const char *event;  /* event name; NULL: the first CPU-sample event */
	const char *region; /* keep samples inside this region; NULL: all */
	const char *comm;   /* keep samples of processes with this command name; NULL: all */
	uint32_t pid;       /* keep samples of this process; 0: all */
	enum hot_sort sort;
	size_t limit;           /* function rows kept; 0: all */
	const char *callers_of; /* function name for the caller/callee view, or NULL */
	int lines;              /* source lines of the top functions */
	size_t lines_limit;     /* lines shown per function; 0: 10 */
	int folded;             /* build folded stacks */
	size_t addresses;       /* the N most sampled instruction addresses; 0: none */
};

struct hot_count {
	uint64_t samples, period;
	double pct; /* of the selected weight */
};

struct hot_row {
	const struct sym_function *fn;
	struct hot_count self, total;
};

struct hot_line {
	const char *file; /* NULL: addresses without a line */
	unsigned line;
	struct hot_count self; /* pct: of the function's self weight */
};

struct hot_lines {
	const struct sym_function *fn;
	struct hot_line *lines;
	size_t n;
};

/* A caller or callee of the --callers function; fn NULL means "(the
 * function itself)" among callees (its self weight) or "(root)" among
 * callers (the function started the stack). */
struct hot_edge {
	const struct sym_function *fn;
	struct hot_count count; /* pct: of the function's inclusive weight */
};

struct hot_callgraph {
	const char *name;
	size_t n_matches;       /* distinct functions of that name (modules) */
	struct hot_count total; /* samples containing it */
	struct hot_edge *callers, *callees;
	size_t n_callers, n_callees;
};

/* A sampled instruction address (innermost frames only), resolved. */
struct hot_addr {
	const struct sym_info *info; /* address, module+offset, function, line, inlines */
	struct hot_count self;       /* pct: of the selected weight */
};

struct hot_region_row {
	const char *path;          /* NULL: no region open */
	struct hot_count self;     /* innermost region */
	struct hot_count incl;     /* this region or one nested in it */
	uint64_t entries, wall_ns; /* from the region events */
};

struct hot_folded {
	const char *stack; /* "main;parse;intern" from the root */
	uint64_t samples;
};

struct hot_report {
	struct arena arena;
	const struct prof *prof;
	const struct prof_event *event;
	const char *region; /* the filters, or NULL / 0 */
	const char *comm;
	uint32_t pid;
	enum hot_sort sort;

	uint64_t event_samples;            /* samples of the event in the file */
	uint64_t samples, period;          /* selected */
	uint64_t with_function, with_line; /* selected samples, by leaf coverage */
	uint64_t unknown_process;          /* selected samples of a pid the side-band never named */
	size_t n_functions;                /* distinct functions with weight */

	struct hot_row *rows;
	size_t n_rows;
	struct hot_lines *lines;
	size_t n_lines;
	struct hot_callgraph *callgraph; /* NULL unless asked */
	struct hot_region_row *regions;
	size_t n_regions;
	struct hot_folded *folded;
	size_t n_folded;
	struct hot_addr *addrs;
	size_t n_addrs;
	size_t addresses[4];   /* distinct addresses by symbolization level */
	const char **warnings; /* what may make the numbers incomplete */
	size_t n_warnings;
};

int hot_report_build(struct prof *p, const struct hot_options *o, struct hot_report **out,
		     struct kb_error *err);
void hot_report_free(struct hot_report *r);

#endif
