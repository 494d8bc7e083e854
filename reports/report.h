/* report: renders what analyze/ computed (module prefix rep_): the
 * hotspot report and the page-fault report, each as aligned text for a
 * terminal, markdown tables, JSON (schema: docs/report-json.md) or folded
 * stacks (`a;b;c count`, for flame graphs). Nothing here computes a
 * number: every figure comes from struct hot_report / struct flt_report.
 *
 * Output goes to a caller's kb_buf (the caller owns it). Returns 0, or -1
 * with err when out of memory. */
#ifndef KB_REPORTS_REPORT_H
#define KB_REPORTS_REPORT_H

#include "analyze/faults.h"
#include "analyze/hotspots.h"
#include "util/kb_buf.h"
#include "util/kb_error.h"

enum rep_format {
	REP_TEXT,
	REP_MARKDOWN,
	REP_JSON,
	REP_FOLDED,
};

/* "text", "markdown", "json", "folded"; -1 for anything else. */
int rep_format_parse(const char *name);

#define REP_SCHEMA_VERSION 1

int rep_hotspots(const struct hot_report *r, enum rep_format f, struct kb_buf *out,
		 struct kb_error *err);
int rep_faults(const struct flt_report *r, enum rep_format f, struct kb_buf *out,
	       struct kb_error *err);

#endif
