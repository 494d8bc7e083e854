/* table: the one table shape every text and markdown report uses (module
 * prefix rtab_). Cells are formatted once into the table; rendering pads
 * columns for a terminal or writes a markdown table.
 *
 * Ownership: the table owns its cells (malloc'd); rtab_free() releases
 * them. Rendering appends to a caller's kb_buf. */
#ifndef KB_REPORTS_TABLE_H
#define KB_REPORTS_TABLE_H

#include <stddef.h>

#include "util/kb_buf.h"

#define RTAB_MAX_COLS 12

struct rtab {
	size_t ncol;
	const char *head[RTAB_MAX_COLS];
	char align[RTAB_MAX_COLS]; /* 'l' or 'r' */
	char **cells;              /* nrow * ncol */
	size_t nrow, cap, next;    /* next: cells filled in the current row */
	int oom;
};

/* spec: one "name:l" or "name:r" per column, NULL-terminated. */
void rtab_init(struct rtab *t, const char *const *spec);
/* Appends the next cell, left to right, a row at a time. */
__attribute__((format(printf, 2, 3))) void rtab_cell(struct rtab *t, const char *fmt, ...);
/* indent: spaces before each text row. */
void rtab_text(const struct rtab *t, struct kb_buf *out, int indent);
void rtab_markdown(const struct rtab *t, struct kb_buf *out);
void rtab_free(struct rtab *t);

#endif
