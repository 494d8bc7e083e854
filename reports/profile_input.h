/* profile_input: a profile for the flame graph and the exporters, from a
 * recording (kbprof record -g: the analyzer's folded stacks of its CPU
 * samples, analyze/hotspots) or from a folded-stacks file (module prefix
 * profile_input_). Owns nothing: the caller's tree receives the stacks and
 * the caller's struct the description. */
#ifndef KB_REPORTS_PROFILE_INPUT_H
#define KB_REPORTS_PROFILE_INPUT_H

#include <stdint.h>

#include "reports/flamegraph.h"
#include "util/kb_error.h"

struct profile_meta {
	int from_recording;
	char name[512];  /* "COMMAND (EVENT samples)" for a recording, else the path */
	char event[128]; /* the recording's event, "" for folded stacks */
	int64_t time_nanos, duration_nanos; /* recordings only; 0 otherwise */
};

/* 1 when path names a kbprof recording (by its magic), 0 otherwise. */
int profile_input_is_recording(const char *path);

/* Adds the stacks of path ("-": folded stacks on standard input) to t.
 * For a recording, `event` picks one of its events (NULL: the first CPU
 * sample event). meta may be NULL. */
int profile_input_load(struct fg_tree *t, const char *path, const char *event,
		       struct profile_meta *meta, struct kb_error *err);

/* Adds the folded stacks of hotspot report h (built from p, loaded from
 * path, with hot_options.folded set: exactly the samples its filters
 * selected) to t, and describes them in meta (may be NULL). */
struct prof;
struct hot_report;
int profile_input_add_hotspots(struct fg_tree *t, const struct prof *p, const struct hot_report *h,
			       const char *path, struct profile_meta *meta, struct kb_error *err);

/* Which samples of a loaded recording make the profile: hot_options' and
 * flt_options' filters; with `faults`, the page-fault samples' call chains
 * (the recording loaded with prof_options.keep_fault_chains) instead of
 * the CPU samples'. */
struct profile_filter {
	const char *event;  /* CPU event; NULL: the first */
	const char *region; /* NULL: all */
	const char *comm;   /* NULL: all */
	uint32_t pid;       /* 0: all */
	int faults;
};

/* Adds the stacks of p (loaded from path) that f selects to t; meta (may
 * be NULL) names them, filters included ("COMMAND (EVENT samples), region
 * R"). */
int profile_input_from_prof(struct fg_tree *t, struct prof *p, const char *path,
			    const struct profile_filter *f, struct profile_meta *meta,
			    struct kb_error *err);

#endif
