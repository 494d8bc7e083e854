/* print: the canonical MeTTa printer (mt_print in term.h).
 *
 * Writes what the parser reads back to the same term: expressions as
 * `(a b c)`, variables as `$name`, integers in decimal, floats in the
 * shortest of %.15g/%.16g/%.17g that reads back exactly (with ".0" added
 * when the text would otherwise read as an integer), strings quoted with
 * escapes. Nested expressions are walked with an explicit stack. */
#include "core/store_impl.h"
#include "core/utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void print_float(double v, struct kb_buf *out)
{
	if (isnan(v)) {
		kb_buf_puts(out, "nan");
		return;
	}
	if (isinf(v)) {
		kb_buf_puts(out, v < 0 ? "-inf" : "inf");
		return;
	}
	char text[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(text, sizeof text, "%.*g", prec, v);
		if (strtod(text, NULL) == v)
			break;
	}
	kb_buf_puts(out, text);
	if (!strpbrk(text, ".eE"))
		kb_buf_puts(out, ".0");
}

static void print_string(const char *s, size_t len, struct kb_buf *out)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	kb_buf_putc(out, '"');
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		switch (c) {
		case '"':
			kb_buf_puts(out, "\\\"");
			i++;
			continue;
		case '\\':
			kb_buf_puts(out, "\\\\");
			i++;
			continue;
		case '\n':
			kb_buf_puts(out, "\\n");
			i++;
			continue;
		case '\t':
			kb_buf_puts(out, "\\t");
			i++;
			continue;
		case '\r':
			kb_buf_puts(out, "\\r");
			i++;
			continue;
		case '\0':
			kb_buf_puts(out, "\\0");
			i++;
			continue;
		default:
			break;
		}
		size_t n = c < 0x20 || c == 0x7f ? 0 : mt_utf8_seq(p + i, len - i);
		if (n == 0) {
			char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
			kb_buf_add(out, esc, sizeof esc);
			i++;
		} else {
			kb_buf_add(out, p + i, n);
			i += n;
		}
	}
	kb_buf_putc(out, '"');
}

static void print_atom(const struct mt_store *st, mt_term t, const struct mt_varnames *names,
		       struct kb_buf *out)
{
	switch (mt_tag(t)) {
	case MT_SYM: {
		size_t len;
		const char *s = mt_sym_name(st, mt_payload(t), &len);
		if (s)
			kb_buf_add(out, s, len);
		else
			kb_buf_printf(out, "<bad-symbol-%u>", mt_payload(t));
		return;
	}
	case MT_VAR: {
		uint32_t n = mt_payload(t);
		size_t len;
		const char *s =
		    names && n < names->count ? mt_sym_name(st, names->names[n], &len) : NULL;
		if (s) {
			kb_buf_putc(out, '$');
			kb_buf_add(out, s, len);
		} else {
			kb_buf_printf(out, "$_%u", n);
		}
		return;
	}
	case MT_INT:
		kb_buf_printf(out, "%" PRId64, mt_small_int_value(t));
		return;
	case MT_BOX:
	case MT_TBOX: {
		const struct mt_box *b = mt_store_box(st, t);
		if (b->kind == MT_BOX_INT) {
			kb_buf_printf(out, "%" PRId64, b->v.i);
		} else if (b->kind == MT_BOX_FLOAT) {
			print_float(b->v.f, out);
		} else {
			size_t len;
			const char *s = mt_str_value(st, t, &len);
			print_string(s, len, out);
		}
		return;
	}
	default:
		kb_buf_printf(out, "<bad-term-%#x>", t);
		return;
	}
}

struct print_frame {
	const mt_term *args; /* the expression's children */
	uint32_t arity, next;
};

void mt_print(const struct mt_store *st, mt_term t, const struct mt_varnames *names,
	      struct kb_buf *out)
{
	if (!mt_is_expr(t)) {
		print_atom(st, t, names, out);
		return;
	}
	struct print_frame small[32];
	struct print_frame *stack = small;
	size_t n = 0, cap = 32;
	stack[n++] =
	    (struct print_frame){mt_store_args(st, t), mt_hdr_arity(mt_store_hdr(st, t)), 0};
	kb_buf_putc(out, '(');
	while (n) {
		struct print_frame *f = &stack[n - 1];
		if (f->next == f->arity) {
			kb_buf_putc(out, ')');
			n--;
			continue;
		}
		mt_term c = f->args[f->next];
		if (f->next++)
			kb_buf_putc(out, ' ');
		if (!mt_is_expr(c)) {
			print_atom(st, c, names, out);
			continue;
		}
		if (n == cap) {
			struct print_frame *p = stack == small
						    ? malloc(2 * cap * sizeof *p)
						    : realloc(stack, 2 * cap * sizeof *p);
			if (!p) {
				out->oom = 1;
				break;
			}
			if (stack == small)
				memcpy(p, small, sizeof small);
			stack = p;
			cap *= 2;
		}
		stack[n++] = (struct print_frame){mt_store_args(st, c),
						  mt_hdr_arity(mt_store_hdr(st, c)), 0};
		kb_buf_putc(out, '(');
	}
	if (stack != small)
		free(stack);
}
