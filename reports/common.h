/* common: pieces both renderers share (private to reports/). */
#ifndef KB_REPORTS_COMMON_H
#define KB_REPORTS_COMMON_H

#include <jansson.h>
#include <stdint.h>

#include "analyze/profile.h"
#include "util/kb_buf.h"

const char *rep_base(const char *path);
/* "1.234 s", "12.3 ms", "45 us", "800 ns" */
void rep_duration(char *buf, size_t size, uint64_t ns);
/* "key   value" (text) or "- **key**: value" (markdown). */
void rep_field(struct kb_buf *out, int markdown, const char *key, const char *value);
/* The recording block: command, host, duration, exit. */
void rep_recording_text(const struct prof *p, struct kb_buf *out, int markdown);
json_t *rep_recording_json(const struct prof *p);
json_t *rep_hex(uint64_t v);
json_t *rep_str_or_null(const char *s);
/* A JSON string; bytes that are not UTF-8 become '?'. */
json_t *rep_jstr(const char *s);
void rep_warnings_text(const char *const *w, size_t n, struct kb_buf *out, int markdown);
json_t *rep_warnings_json(const char *const *w, size_t n);
/* ", region R, command C, pid P" for the filters set (or ""). */
void rep_filters_text(char *buf, size_t size, const char *region, const char *comm, uint32_t pid);
/* {"region":…, "comm":…, "pid":…} with nulls for filters not set. */
json_t *rep_filters_json(const char *region, const char *comm, uint32_t pid);
/* Serializes and appends; decrefs root. Returns 0 or -1. */
int rep_json_dump(json_t *root, struct kb_buf *out);

#endif
