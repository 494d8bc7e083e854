/* compare_report: renders a comparison (analyze/compare.h) as aligned text
 * for a terminal, markdown for a pull-request comment, or JSON (schema
 * `kbprof-compare` version 1, docs/kbprof-compare.md). Module prefix
 * compare_report_. Appends to a caller-owned kb_buf; allocates nothing
 * that outlives a call. */
#ifndef KB_REPORTS_COMPARE_REPORT_H
#define KB_REPORTS_COMPARE_REPORT_H

#include "analyze/benchfile.h"
#include "analyze/compare.h"
#include "util/kb_buf.h"
#include "util/kb_error.h"

enum compare_format {
	COMPARE_FORMAT_TEXT,
	COMPARE_FORMAT_MARKDOWN,
	COMPARE_FORMAT_JSON,
};

/* "text", "markdown" (or "md"), "json"; returns 0 or -1 for an unknown name. */
int compare_format_parse(const char *name, enum compare_format *out);

int compare_report_render(const struct compare_result *res, const struct benchfile *base,
			  const struct benchfile *now, enum compare_format fmt, struct kb_buf *out,
			  struct kb_error *err);

#endif
