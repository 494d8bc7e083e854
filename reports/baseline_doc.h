/* baseline_doc: renders a kbprof-bench JSON document (docs/bench-json.md)
 * as the baseline-metrics markdown document, in the structure of the seed
 * (../shared/seed/BASELINE.md) with every table filled from the document.
 *
 * It only renders: every number it prints is in the JSON (samples, their
 * statistics, the derived scaling fits and hypothesis checks, the profile).
 * A benchmark that was skipped or failed, or a part that was not measured,
 * is shown as such with its reason; nothing is invented. */
#ifndef BASELINE_DOC_H
#define BASELINE_DOC_H

#include <jansson.h>

#include "util/kb_buf.h"
#include "util/kb_error.h"

/* Appends the document to `out`. Returns 0, or -1 with err set if `doc`
 * is not a kbprof-bench document or memory ran out. */
int baseline_doc_render(const json_t *doc, struct kb_buf *out, struct kb_error *err);

/* Number formatting shared with other renderers: 3 significant digits with
 * a unit ("1.23 ms", "850 ns", "12.4 MiB"); "n/a" for NaN. */
void doc_fmt_ns(double ns, char *buf, size_t size);
void doc_fmt_bytes(double bytes, char *buf, size_t size);
/* Thousands separators: 1291555 -> "1,291,555". */
void doc_fmt_count(double v, char *buf, size_t size);

#endif
