/* xmlesc: text made safe for XML and HTML (module prefix xml_): escapes
 * markup characters and replaces what XML 1.0 cannot carry (invalid UTF-8,
 * control characters) with '?', so any input gives well-formed output.
 * Appends to caller-owned buffers; owns nothing. */
#ifndef KB_REPORTS_XMLESC_H
#define KB_REPORTS_XMLESC_H

#include <stddef.h>

#include "util/kb_buf.h"

/* Appends at most max_chars characters of s (SIZE_MAX: all), escaped for
 * text and attribute values. */
void xml_escape(struct kb_buf *b, const char *s, size_t max_chars);

/* Number of characters in s (code points; invalid bytes count one each). */
size_t xml_text_chars(const char *s);

#endif
