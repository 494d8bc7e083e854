/* table: aligned text and markdown tables (see table.h). */
#include "reports/table.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rtab_init(struct rtab *t, const char *const *spec)
{
	memset(t, 0, sizeof *t);
	for (size_t i = 0; spec[i] && i < RTAB_MAX_COLS; i++) {
		const char *c = strrchr(spec[i], ':');
		t->head[i] = spec[i];
		t->align[i] = c && c[1] == 'r' ? 'r' : 'l';
		t->ncol++;
	}
}

void rtab_cell(struct rtab *t, const char *fmt, ...)
{
	if (t->oom)
		return;
	size_t idx = t->nrow * t->ncol + t->next;
	if (idx >= t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16 * t->ncol;
		char **c = realloc(t->cells, cap * sizeof *c);
		if (!c) {
			t->oom = 1;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s) {
		t->oom = 1;
		return;
	}
	t->cells[idx] = s;
	if (++t->next == t->ncol) {
		t->next = 0;
		t->nrow++;
	}
}

static size_t head_len(const char *h)
{
	const char *c = strrchr(h, ':');
	return c ? (size_t)(c - h) : strlen(h);
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n && s[i]; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

static void pad(struct kb_buf *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kb_buf_putc(out, ' ');
}

void rtab_text(const struct rtab *t, struct kb_buf *out, int indent)
{
	size_t w[RTAB_MAX_COLS];
	for (size_t c = 0; c < t->ncol; c++) {
		w[c] = width(t->head[c], head_len(t->head[c]));
		for (size_t r = 0; r < t->nrow; r++) {
			const char *s = t->cells[r * t->ncol + c];
			size_t l = width(s, strlen(s));
			if (l > w[c])
				w[c] = l;
		}
	}
	for (size_t r = 0; r <= t->nrow; r++) {
		pad(out, (size_t)indent);
		for (size_t c = 0; c < t->ncol; c++) {
			const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * t->ncol + c];
			size_t len = r == 0 ? head_len(s) : strlen(s);
			size_t l = width(s, len);
			int last = c + 1 == t->ncol;
			if (c)
				kb_buf_puts(out, "  ");
			if (t->align[c] == 'r')
				pad(out, w[c] - l);
			kb_buf_add(out, s, len);
			if (t->align[c] == 'l' && !last)
				pad(out, w[c] - l);
		}
		kb_buf_putc(out, '\n');
	}
}

static void md_cell(struct kb_buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '|')
			kb_buf_putc(out, '\\');
		kb_buf_putc(out, s[i] == '\n' ? ' ' : s[i]);
	}
}

void rtab_markdown(const struct rtab *t, struct kb_buf *out)
{
	kb_buf_putc(out, '|');
	for (size_t c = 0; c < t->ncol; c++) {
		kb_buf_putc(out, ' ');
		md_cell(out, t->head[c], head_len(t->head[c]));
		kb_buf_puts(out, " |");
	}
	kb_buf_puts(out, "\n|");
	for (size_t c = 0; c < t->ncol; c++)
		kb_buf_puts(out, t->align[c] == 'r' ? "---:|" : "---|");
	kb_buf_putc(out, '\n');
	for (size_t r = 0; r < t->nrow; r++) {
		kb_buf_putc(out, '|');
		for (size_t c = 0; c < t->ncol; c++) {
			const char *s = t->cells[r * t->ncol + c];
			kb_buf_putc(out, ' ');
			md_cell(out, s, strlen(s));
			kb_buf_puts(out, " |");
		}
		kb_buf_putc(out, '\n');
	}
}

void rtab_free(struct rtab *t)
{
	size_t n = t->nrow * t->ncol + t->next;
	for (size_t i = 0; i < n; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof *t);
}
