/* bench_profile: the "profile" object of a kbprof-bench JSON document
 * (docs/bench-json.md), rendered from the analyzer's aggregates of the
 * profiling pass: CPU hot spots and their split by region (hotspots.h),
 * page faults per region with the mapping that took most of them, and
 * over mappings (faults.h), and the events the machine could not count.
 *
 * It only converts: every number is one the analyzer computed. The
 * reports and the profile are borrowed; the result is a new reference. */
#ifndef BENCH_PROFILE_H
#define BENCH_PROFILE_H

#include <jansson.h>
#include <stddef.h>

#include "analyze/faults.h"
#include "analyze/hotspots.h"

/* One event the kernel refused, with its reason. */
struct bench_event_refusal {
	const char *event;
	const char *reason;
};

/* The faults of one region subtree, for "most faults in". */
struct bench_region_faults {
	const char *region;               /* region path */
	const struct flt_report *subtree; /* faults inside it (nested included) */
};

/* hot may be NULL (no CPU samples), faults may be NULL (no fault samples);
 * each absent part is given as an empty array. `command` is the recording
 * command that was run. */
json_t *bench_profile_json(const char *command, const struct prof *prof,
			   const struct hot_report *hot, const struct flt_report *faults,
			   const struct bench_region_faults *per_region, size_t n_per_region,
			   const struct bench_event_refusal *refused, size_t n_refused,
			   size_t hotspot_limit);

#endif
