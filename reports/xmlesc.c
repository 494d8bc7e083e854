/* xmlesc: see xmlesc.h. Owns nothing. */
#include "reports/xmlesc.h"

#include <stdint.h>
#include <string.h>

/* Decodes one UTF-8 sequence at s (n bytes left); returns its length, or 0
 * when it is not valid UTF-8 (overlong, surrogate, out of range, cut). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	size_t len;
	uint32_t c, min;
	if ((s[0] & 0xE0) == 0xC0) {
		len = 2, c = s[0] & 0x1F, min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3, c = s[0] & 0x0F, min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* Number of characters (code points; invalid bytes count one each). */
size_t xml_text_chars(const char *s)
{
	size_t n = 0, len = strlen(s);
	for (size_t i = 0; i < len; n++) {
		uint32_t cp;
		size_t k = utf8_seq((const unsigned char *)s + i, len - i, &cp);
		i += k ? k : 1;
	}
	return n;
}

/* Appends at most max_chars characters of s, escaped for XML text and
 * attribute values. Bytes that are not valid UTF-8 and characters XML 1.0
 * forbids become '?', so any input gives well-formed output. */
void xml_escape(struct kb_buf *b, const char *s, size_t max_chars)
{
	size_t len = strlen(s), chars = 0;
	for (size_t i = 0; i < len && chars < max_chars; chars++) {
		uint32_t cp;
		size_t k = utf8_seq((const unsigned char *)s + i, len - i, &cp);
		if (!k || (cp < 0x20 && cp != '\t') || cp == 0xFFFE || cp == 0xFFFF) {
			kb_buf_putc(b, '?');
			i += k ? k : 1;
			continue;
		}
		switch (cp) {
		case '&':
			kb_buf_puts(b, "&amp;");
			break;
		case '<':
			kb_buf_puts(b, "&lt;");
			break;
		case '>':
			kb_buf_puts(b, "&gt;");
			break;
		case '"':
			kb_buf_puts(b, "&quot;");
			break;
		case '\'':
			kb_buf_puts(b, "&apos;");
			break;
		default:
			kb_buf_add(b, s + i, k);
		}
		i += k;
	}
}
