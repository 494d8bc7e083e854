/* bench_text: terminal summary of a kbprof-bench JSON document. */
#ifndef BENCH_TEXT_H
#define BENCH_TEXT_H

#include <jansson.h>

#include "util/kb_buf.h"

/* Appends one aligned line per metric (median, mean, n) and one line per
 * skipped or failed benchmark with its reason. */
void bench_text_summary(const json_t *doc, struct kb_buf *out);

#endif
