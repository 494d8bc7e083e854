/* kb_buf: a growable byte buffer for building text (printers, renderers).
 * Owner: whoever declares it; kb_buf_free() releases the bytes. A failed
 * allocation sets `oom` and later appends are dropped, so callers check
 * once at the end instead of after every append. */
#ifndef KB_BUF_H
#define KB_BUF_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kb_buf {
	char *data; /* NUL-terminated when len > 0 */
	size_t len, cap;
	int oom;
};

static inline int kb_buf_reserve(struct kb_buf *b, size_t more)
{
	if (b->oom)
		return -1;
	if (b->len + more + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

static inline void kb_buf_add(struct kb_buf *b, const void *p, size_t n)
{
	if (kb_buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static inline void kb_buf_puts(struct kb_buf *b, const char *s)
{
	kb_buf_add(b, s, strlen(s));
}

static inline void kb_buf_putc(struct kb_buf *b, char c)
{
	kb_buf_add(b, &c, 1);
}

__attribute__((format(printf, 2, 3))) static inline void kb_buf_printf(struct kb_buf *b,
								       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char small[256];
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		kb_buf_add(b, small, (size_t)n);
		return;
	}
	if (kb_buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static inline void kb_buf_reset(struct kb_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static inline void kb_buf_free(struct kb_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}

#endif
