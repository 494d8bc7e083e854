/* html_recording: the recording's sections of the HTML report (module
 * prefix html_rec_): the hotspot rows and flame graph of its CPU samples and
 * the page-fault timeline per region, taken from what analyze/hotspots and
 * analyze/faults computed under the report's filters (event, region,
 * command, pid), in the shapes reports/html_report draws. `kbprof html
 * --recording` and `kbprof report --html` both build their page with it,
 * and html_report_write renders the page into its directory.
 *
 * Ownership: struct html_rec owns the analyzer reports, the flame tree and
 * the row and bin arrays it fills; html_rec_free() releases them. The
 * profile stays the caller's and must outlive the html_rec (rows point into
 * its symbol tables). The html_input it fills points into the html_rec. */
#ifndef KB_REPORTS_HTML_RECORDING_H
#define KB_REPORTS_HTML_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/faults.h"
#include "analyze/hotspots.h"
#include "analyze/profile.h"
#include "reports/flamegraph.h"
#include "reports/html_report.h"
#include "util/kb_buf.h"
#include "util/kb_error.h"

#define HTML_REC_MAX_REGIONS 12 /* fault-timeline rows besides "all faults" */

struct html_rec_opts {
	const char *event;  /* CPU event for hotspots and flame graph; NULL: the first */
	const char *region; /* only samples and faults inside this region; NULL: all */
	const char *comm;   /* only processes running this command; NULL: all */
	uint32_t pid;       /* only this process; 0: all */
	size_t top;         /* hotspot rows; 0: all */
	size_t bins;        /* time bins of the fault timeline; 0: 60 */
};

struct html_rec {
	struct hot_report *hot;
	struct flt_report *flt_all, *flt_region[HTML_REC_MAX_REGIONS];
	struct fg_tree tree;
	int have_tree;
	struct html_hotspot *rows;
	struct html_hotspots hotspots;
	struct html_fault_series series[HTML_REC_MAX_REGIONS + 1];
	struct html_faults faults;
	uint64_t *bins;
	struct html_env_row env[5];
	char env_text[5][1024];
	char hot_source[768], flame_source[768], fault_source[768], reason[768];
};

/* Fills in->env (the recording's command, host, kernel, kbprof version and
 * length), in->hotspots, in->flame, in->flame_source (when the recording has
 * CPU samples), in->faults (when it has page-fault samples) and
 * in->absent_reason (what is missing and how to record it) from p, loaded
 * from `path` with prof_options.keep_faults. Leaves in's other fields
 * alone. r starts zeroed; on failure too it needs html_rec_free(). */
int html_rec_build(struct html_rec *r, struct prof *p, const char *path,
		   const struct html_rec_opts *o, struct html_input *in, struct kb_error *err);
void html_rec_free(struct html_rec *r);

/* Renders the page of `in` (reports/html_report) and writes it to
 * DIR/index.html, creating DIR (not its parents) when it is missing. path
 * receives the file's name. Errors name the directory or file and the
 * system's cause. */
int html_report_write(const char *dir, const struct html_input *in, char *path, size_t path_size,
		      struct kb_error *err);

#endif
