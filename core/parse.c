/* parse: MeTTa text to hash-consed terms (parse.h).
 *
 * One pass over the bytes: a table-driven lexer feeds a shift-reduce
 * builder with an explicit stack (frames for open parentheses, a value
 * stack for finished children), so nesting is bounded by max_depth and
 * memory, never by the C stack. Symbols are interned straight from the
 * input bytes; expressions are hash-consed as soon as their ')' is read.
 *
 * A child that this construction just created (a new symbol or a new
 * expression) proves that its parent cannot exist yet, so the parent is
 * inserted without a look-up: that is what keeps a large, mostly-new KB
 * from paying a dependent cache miss per expression.
 *
 * Syntax decisions:
 *  - `!` is the evaluation mark only as a token of its own at top level
 *    (`!(f x)` or `! (f x)`); `!foo` is the symbol "!foo", and inside an
 *    expression `!` is an ordinary symbol, so `(! x)` is a 2-element
 *    expression.
 *  - A token is a number when it matches [+-]?D+ (integer) or
 *    [+-]?D+.D+ / [+-]?D+(.D+)?[eE][+-]?D+ (float); anything else (`1+`,
 *    `-`, `1.`, `.5`) is a symbol.
 *  - `$` alone is an error; `$name` is a variable named "name".
 *  - Strings may span lines; escapes: \" \\ \n \t \r \0 \xHH (any byte)
 *    \u{H...} (a Unicode scalar value, written as UTF-8).
 *  - The input must be valid UTF-8 and contain no NUL byte, comments
 *    included.
 *
 * Probe regions: "parse" covers a whole parse call. Interning, hash-consing
 * and indexing happen inline, atom by atom, inside it; only their bulk
 * operations (table growth: "intern" in the store and symbol table,
 * "index" in the space) are regions of their own, so a region is never
 * per atom.
 *
 * Owner: a struct parser lives on the caller's stack for one parse call
 * and frees its stacks before returning; terms belong to the store. */
#include "core/parse.h"
#include "core/store_impl.h"
#include "core/utf8.h"
#include "kbprof/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum cls {
	C_SYM = 0, /* part of a symbol, number or variable token */
	C_WS,
	C_NL,
	C_LP,
	C_RP,
	C_QUOTE,
	C_SEMI,
	C_NUL,
	C_HIGH, /* >= 0x80: part of a token once validated as UTF-8 */
};

static const unsigned char cls[256] = {
    [0] = C_NUL,   [' '] = C_WS, ['\t'] = C_WS, ['\r'] = C_WS,   ['\v'] = C_WS,  ['\f'] = C_WS,
    ['\n'] = C_NL, ['('] = C_LP, [')'] = C_RP,  ['"'] = C_QUOTE, [';'] = C_SEMI,
#define H4(b) [b] = C_HIGH, [b + 1] = C_HIGH, [b + 2] = C_HIGH, [b + 3] = C_HIGH
#define H16(b) H4(b), H4(b + 4), H4(b + 8), H4(b + 12)
#define H64(b) H16(b), H16(b + 16), H16(b + 32), H16(b + 48)
    H64(0x80),     H64(0xc0),
#undef H64
#undef H16
#undef H4
};

/* value flags on the stack */
#define V_FRESH 1u     /* created by this construction: its parents are new */
#define V_NONGROUND 2u /* contains a variable */

struct frame {
	uint32_t base; /* first child on the value stack */
	uint32_t line, col;
	uint32_t flags; /* V_* of the children so far, or-ed */
};

struct parser {
	struct mt_store *st;
	const unsigned char *start, *p, *end, *line_start;
	uint32_t line;
	const char *file;
	uint32_t max_depth;
	struct kb_error *err;

	mt_term *vals;
	size_t nvals, vals_cap;
	struct frame *frames;
	size_t nframes, frames_cap;

	/* variables of the current top-level atom: number -> name symbol,
	 * and an open-addressing map name symbol -> number */
	uint32_t *var_names;
	uint32_t nvars, var_names_cap;
	uint32_t *vmap_keys, *vmap_vals; /* key: symbol id + 1; 0 = empty */
	uint32_t vmap_mask;

	char *tmp; /* decoded strings, float text */
	size_t tmp_cap;
};

static int grow_array(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

static uint32_t col_of(const struct parser *ps, const unsigned char *at)
{
	return (uint32_t)(at - ps->line_start) + 1;
}

__attribute__((format(printf, 3, 4))) static int fail_at(struct parser *ps, const unsigned char *at,
							 const char *fmt, ...)
{
	char cause[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cause, sizeof cause, fmt, ap);
	va_end(ap);
	return kb_error_set(ps->err, "%s:%u:%u: %s", ps->file, ps->line, col_of(ps, at), cause);
}

static int fail_oom(struct parser *ps, const unsigned char *at)
{
	return fail_at(ps, at, "out of memory (or the term store is full)");
}

/* A short, printable excerpt of a token for messages. */
static void excerpt(const unsigned char *tok, size_t len, char *out, size_t cap)
{
	size_t n = len < 40 ? len : 40;
	snprintf(out, cap, "%.*s%s", (int)n, (const char *)tok, len > n ? "..." : "");
}

/* ---- variables ---- */

static void vars_reset(struct parser *ps)
{
	for (uint32_t i = 0; i < ps->nvars; i++) {
		uint32_t k = ps->var_names[i] + 1;
		uint32_t j = (k * 0x9e3779b1u) & ps->vmap_mask;
		while (ps->vmap_keys[j] != k)
			j = (j + 1) & ps->vmap_mask;
		ps->vmap_keys[j] = 0;
	}
	/* the map uses linear probing: clearing single slots could break
	 * chains of keys that stay, but every key goes, so it is safe */
	ps->nvars = 0;
}

static int vmap_grow(struct parser *ps)
{
	uint32_t mask = ps->vmap_mask ? ps->vmap_mask * 2 + 1 : 15;
	uint32_t *keys = calloc((size_t)mask + 1, sizeof *keys);
	uint32_t *vals = malloc(((size_t)mask + 1) * sizeof *vals);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -1;
	}
	for (uint32_t i = 0; i < ps->nvars; i++) {
		uint32_t k = ps->var_names[i] + 1;
		uint32_t j = (k * 0x9e3779b1u) & mask;
		while (keys[j])
			j = (j + 1) & mask;
		keys[j] = k;
		vals[j] = i;
	}
	free(ps->vmap_keys);
	free(ps->vmap_vals);
	ps->vmap_keys = keys;
	ps->vmap_vals = vals;
	ps->vmap_mask = mask;
	return 0;
}

/* Number of the variable named by symbol `name` in the current atom. */
static uint32_t var_number(struct parser *ps, uint32_t name)
{
	uint32_t k = name + 1;
	uint32_t j = (k * 0x9e3779b1u) & ps->vmap_mask;
	for (;; j = (j + 1) & ps->vmap_mask) {
		if (ps->vmap_keys[j] == k)
			return ps->vmap_vals[j];
		if (!ps->vmap_keys[j])
			break;
	}
	if (ps->nvars >= MT_VAR_MAX)
		return UINT32_MAX;
	if ((ps->nvars + 1) * 2 > ps->vmap_mask) {
		if (vmap_grow(ps))
			return UINT32_MAX;
		j = (k * 0x9e3779b1u) & ps->vmap_mask;
		while (ps->vmap_keys[j])
			j = (j + 1) & ps->vmap_mask;
	}
	size_t cap = ps->var_names_cap;
	if (grow_array((void **)&ps->var_names, &cap, (size_t)ps->nvars + 1, sizeof *ps->var_names))
		return UINT32_MAX;
	ps->var_names_cap = (uint32_t)cap;
	uint32_t n = ps->nvars++;
	ps->var_names[n] = name;
	ps->vmap_keys[j] = k;
	ps->vmap_vals[j] = n;
	return n;
}

/* ---- tokens ---- */

static int push_val(struct parser *ps, mt_term t)
{
	if (ps->nvals == ps->vals_cap &&
	    grow_array((void **)&ps->vals, &ps->vals_cap, ps->nvals + 1, sizeof *ps->vals))
		return -1;
	ps->vals[ps->nvals++] = t;
	return 0;
}

static char *tmp_reserve(struct parser *ps, size_t n)
{
	if (grow_array((void **)&ps->tmp, &ps->tmp_cap, n, 1))
		return NULL;
	return ps->tmp;
}

enum numkind { NUM_NONE, NUM_INT, NUM_FLOAT };

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Classifies a token per the number grammar in the file comment. */
static enum numkind number_kind(const unsigned char *t, size_t len)
{
	size_t i = (t[0] == '+' || t[0] == '-') ? 1 : 0;
	size_t d = i;
	while (i < len && is_digit(t[i]))
		i++;
	if (i == d)
		return NUM_NONE;
	if (i == len)
		return NUM_INT;
	int is_float = 0;
	if (t[i] == '.') {
		size_t f = ++i;
		while (i < len && is_digit(t[i]))
			i++;
		if (i == f)
			return NUM_NONE;
		is_float = 1;
	}
	if (i < len && (t[i] == 'e' || t[i] == 'E')) {
		i++;
		if (i < len && (t[i] == '+' || t[i] == '-'))
			i++;
		size_t e = i;
		while (i < len && is_digit(t[i]))
			i++;
		if (i == e)
			return NUM_NONE;
		is_float = 1;
	}
	return i == len && is_float ? NUM_FLOAT : NUM_NONE;
}

static int parse_int(const unsigned char *t, size_t len, int64_t *v)
{
	size_t i = 0;
	int neg = 0;
	if (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-';
		i = 1;
	}
	uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	uint64_t acc = 0;
	for (; i < len; i++) {
		uint64_t d = (uint64_t)(t[i] - '0');
		if (acc > (limit - d) / 10)
			return -1;
		acc = acc * 10 + d;
	}
	*v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return 0;
}

/* Turns a token (symbol, variable or number) into a value. */
static int token_value(struct parser *ps, const unsigned char *tok, size_t len, mt_term *out,
		       unsigned *flags)
{
	struct mt_store *st = ps->st;
	unsigned char c = tok[0];
	*flags = 0;
	if (c == '$') {
		if (len == 1)
			return fail_at(ps, tok, "'$' without a variable name");
		int created;
		uint32_t name =
		    mt_store_intern(st, (const char *)tok + 1, len - 1,
				    mt_symtab_hash((const char *)tok + 1, len - 1), &created);
		uint32_t n = name == UINT32_MAX ? UINT32_MAX : var_number(ps, name);
		if (n == UINT32_MAX)
			return fail_oom(ps, tok);
		*out = mt_var(n);
		*flags = V_NONGROUND;
		return 0;
	}
	if (is_digit(c) || ((c == '-' || c == '+') && len > 1 && is_digit(tok[1]))) {
		enum numkind k = number_kind(tok, len);
		char text[48];
		if (k == NUM_INT) {
			int64_t v;
			if (parse_int(tok, len, &v)) {
				excerpt(tok, len, text, sizeof text);
				return fail_at(ps, tok, "integer literal '%s' out of range", text);
			}
			*out = mt_int(st, v, 0);
		} else if (k == NUM_FLOAT) {
			char *buf = tmp_reserve(ps, len + 1);
			if (!buf)
				return fail_oom(ps, tok);
			memcpy(buf, tok, len);
			buf[len] = '\0';
			double v = strtod(buf, NULL);
			if (!isfinite(v)) {
				excerpt(tok, len, text, sizeof text);
				return fail_at(ps, tok, "float literal '%s' out of range", text);
			}
			*out = mt_float(st, v, 0);
		}
		if (k != NUM_NONE)
			return *out == MT_NONE ? fail_oom(ps, tok) : 0;
	}
	int created;
	uint32_t id = mt_store_intern(st, (const char *)tok, len,
				      mt_symtab_hash((const char *)tok, len), &created);
	if (id == UINT32_MAX)
		return fail_oom(ps, tok);
	*out = mt_sym(id);
	*flags = created ? V_FRESH : 0;
	return 0;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Reads a string literal; ps->p is at the opening quote. */
static int read_string(struct parser *ps, mt_term *out)
{
	const unsigned char *open = ps->p, *p = ps->p + 1, *end = ps->end;
	uint32_t open_line = ps->line, open_col = col_of(ps, open);
	size_t n = 0;
	for (;;) {
		if (p == end) {
			ps->p = p;
			return fail_at(ps, p, "unterminated string (opened at %u:%u)", open_line,
				       open_col);
		}
		unsigned char c = *p;
		if (c == '"')
			break;
		/* worst case the decoded text is as long as the source */
		if (!tmp_reserve(ps, n + 8))
			return fail_oom(ps, p);
		if (c == '\\') {
			const unsigned char *esc = p;
			if (p + 1 == end) {
				ps->p = end;
				return fail_at(ps, end, "unterminated string (opened at %u:%u)",
					       open_line, open_col);
			}
			unsigned char e = p[1];
			p += 2;
			switch (e) {
			case '"':
			case '\\':
				ps->tmp[n++] = (char)e;
				continue;
			case 'n':
				ps->tmp[n++] = '\n';
				continue;
			case 't':
				ps->tmp[n++] = '\t';
				continue;
			case 'r':
				ps->tmp[n++] = '\r';
				continue;
			case '0':
				ps->tmp[n++] = '\0';
				continue;
			case 'x': {
				int hi = p < end ? hex_value(p[0]) : -1;
				int lo = p + 1 < end ? hex_value(p[1]) : -1;
				if (hi < 0 || lo < 0)
					return fail_at(
					    ps, esc,
					    "invalid escape '\\x' in string (expected two "
					    "hex digits)");
				ps->tmp[n++] = (char)(hi << 4 | lo);
				p += 2;
				continue;
			}
			case 'u': {
				uint32_t cp = 0;
				int digits = 0, ok = p < end && *p == '{';
				if (ok) {
					p++;
					while (p < end && hex_value(*p) >= 0 && digits < 6) {
						cp = cp << 4 | (uint32_t)hex_value(*p++);
						digits++;
					}
					ok = digits > 0 && p < end && *p == '}' && cp <= 0x10ffff &&
					     (cp < 0xd800 || cp > 0xdfff);
				}
				if (!ok)
					return fail_at(ps, esc,
						       "invalid escape '\\u' in string (expected "
						       "\\u{HEX} naming a Unicode scalar value)");
				p++;
				n += utf8_encode(cp, ps->tmp + n);
				continue;
			}
			default:
				if (e == '\n' || e == 0 || e >= 0x80)
					return fail_at(ps, esc, "invalid escape in string");
				return fail_at(ps, esc, "invalid escape '\\%c' in string", e);
			}
		}
		if (c == 0)
			return fail_at(ps, p, "NUL byte in input");
		if (c == '\n') {
			ps->line++;
			ps->line_start = p + 1;
			ps->tmp[n++] = '\n';
			p++;
			continue;
		}
		if (c >= 0x80) {
			size_t k = mt_utf8_seq(p, (size_t)(end - p));
			if (!k)
				return fail_at(ps, p, "invalid UTF-8 byte 0x%02x", c);
			if (!tmp_reserve(ps, n + k + 8))
				return fail_oom(ps, p);
			memcpy(ps->tmp + n, p, k);
			n += k;
			p += k;
			continue;
		}
		ps->tmp[n++] = (char)c;
		p++;
	}
	ps->p = p + 1;
	*out = mt_string(ps->st, ps->tmp ? ps->tmp : "", n, 0);
	return *out == MT_NONE ? fail_oom(ps, open) : 0;
}

/* Skips a comment up to (not including) the newline. */
static int skip_comment(struct parser *ps)
{
	const unsigned char *p = ps->p, *end = ps->end;
	while (p < end) {
		unsigned char c = *p;
		if (c == '\n')
			break;
		if (c == 0) {
			ps->p = p;
			return fail_at(ps, p, "NUL byte in input");
		}
		if (c >= 0x80) {
			size_t k = mt_utf8_seq(p, (size_t)(end - p));
			if (!k) {
				ps->p = p;
				return fail_at(ps, p, "invalid UTF-8 byte 0x%02x", c);
			}
			p += k;
			continue;
		}
		p++;
	}
	ps->p = p;
	return 0;
}

/* Scans a token run starting at ps->p; returns its end, or NULL on invalid
 * UTF-8 (error set). Symbol bytes have class 0, so the common case is a
 * table load and a test per byte, eight at a time away from the end. */
static inline const unsigned char *scan_token(struct parser *ps, const unsigned char *p)
{
	const unsigned char *end = ps->end;
	for (;;) {
		while (end - p >= 8) {
			if (cls[p[0]])
				goto stop;
			if (cls[p[1]]) {
				p += 1;
				goto stop;
			}
			if (cls[p[2]]) {
				p += 2;
				goto stop;
			}
			if (cls[p[3]]) {
				p += 3;
				goto stop;
			}
			if (cls[p[4]]) {
				p += 4;
				goto stop;
			}
			if (cls[p[5]]) {
				p += 5;
				goto stop;
			}
			if (cls[p[6]]) {
				p += 6;
				goto stop;
			}
			if (cls[p[7]]) {
				p += 7;
				goto stop;
			}
			p += 8;
		}
		while (p < end && cls[*p] == C_SYM)
			p++;
	stop:
		if (p < end && cls[*p] == C_HIGH) {
			size_t k = mt_utf8_seq(p, (size_t)(end - p));
			if (!k) {
				fail_at(ps, p, "invalid UTF-8 byte 0x%02x", *p);
				return NULL;
			}
			p += k;
			continue;
		}
		return p;
	}
}

/* ---- the parse loop ---- */

enum mode { MODE_ALL, MODE_ONE };

/* First bytes that need token_value's full treatment: variables and
 * tokens that may be numbers. Everything else is a plain symbol. */
static const unsigned char special_start[256] = {
    ['$'] = 1, ['+'] = 1, ['-'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
    ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
};

/* The look-ahead: a second, rough scanner a few plain symbols ahead of the
 * parser. It hashes each plain symbol token (one made of class-0 bytes
 * only) and prefetches its symbol-table slot, so that interning a new
 * symbol does not stall on a cache miss. What it finds is a pure function
 * of the token's start (scan to the first byte of another class, hash
 * those bytes), so the parser uses an entry only when it starts where the
 * parser's token starts; when the rough scan loses its way (inside a
 * string or comment it misread) the parser simply hashes the token itself. */
#define AHEAD 4

struct ahead {
	const unsigned char *pos; /* next byte the look-ahead examines */
	const unsigned char *tp[AHEAD], *te[AHEAD];
	uint64_t th[AHEAD];
	unsigned head, n;
};

static void ahead_fill(struct parser *ps, struct ahead *a)
{
	const unsigned char *q = a->pos, *end = ps->end;
	const struct mt_symtab *syms = &ps->st->syms;
	while (a->n < AHEAD && q < end) {
		unsigned k = cls[*q];
		if (k == C_SYM || k == C_HIGH) {
			const unsigned char *t = q;
			while (q < end && cls[*q] == C_SYM)
				q++;
			if ((q < end && cls[*q] == C_HIGH) || k == C_HIGH) {
				while (q < end && (cls[*q] == C_SYM || cls[*q] == C_HIGH))
					q++;
				continue; /* non-ASCII: the parser validates and hashes it */
			}
			size_t len = (size_t)(q - t);
			if (special_start[*t] || (len == 1 && *t == '!'))
				continue;
			uint64_t h = mt_symtab_hash((const char *)t, len);
			__builtin_prefetch(&syms->slots[mt_slot_home(h, syms->nslots)]);
			unsigned j = (a->head + a->n) % AHEAD;
			a->tp[j] = t;
			a->te[j] = q;
			a->th[j] = h;
			a->n++;
		} else if (k == C_QUOTE) {
			q++;
			while (q < end && *q != '"')
				q += (*q == '\\' && q + 1 < end) ? 2 : 1;
			if (q < end)
				q++;
		} else if (k == C_SEMI) {
			const unsigned char *nl = memchr(q, '\n', (size_t)(end - q));
			q = nl ? nl : end;
		} else {
			q++;
		}
	}
	a->pos = q;
}

/* The look-ahead's entry for a plain symbol token starting at p, if any. */
static inline int ahead_take(struct ahead *a, const unsigned char *p, const unsigned char **e,
			     uint64_t *h)
{
	while (a->n && a->tp[a->head] < p) {
		a->head = (a->head + 1) % AHEAD;
		a->n--;
	}
	if (!a->n || a->tp[a->head] != p)
		return 0;
	*e = a->te[a->head];
	*h = a->th[a->head];
	a->head = (a->head + 1) % AHEAD;
	a->n--;
	return 1;
}

static int run(struct parser *ps, enum mode mode, mt_atom_fn fn, void *ctx, mt_term *one)
{
	struct ahead ahead = {ps->p, {0}, {0}, {0}, 0, 0};
	struct mt_store *st = ps->st;
	const unsigned char *p = ps->p, *const end = ps->end;
	int bang = 0, have_one = 0;
	struct mt_srcpos where = {0, 0, 0};
	for (;;) {
		unsigned k;
		/* white space and comments */
		for (;;) {
			if (p == end)
				goto eof;
			k = cls[*p];
			if (k == C_WS) {
				p++;
			} else if (k == C_NL) {
				ps->line++;
				ps->line_start = ++p;
			} else if (k == C_SEMI) {
				ps->p = p;
				if (skip_comment(ps))
					return -1;
				p = ps->p;
			} else {
				break;
			}
		}
		size_t depth = ps->nframes;
		if (depth == 0) {
			if (mode == MODE_ONE && have_one)
				return fail_at(ps, p, "trailing text after the atom");
			if (!bang) {
				where.line = ps->line;
				where.col = col_of(ps, p);
				where.offset = (size_t)(p - ps->start);
			}
		}
		mt_term v;
		unsigned vfl;
		if (k == C_LP) {
			if (depth >= ps->max_depth)
				return fail_at(ps, p, "expressions nested deeper than %u levels",
					       ps->max_depth);
			if (depth == ps->frames_cap &&
			    grow_array((void **)&ps->frames, &ps->frames_cap, depth + 1,
				       sizeof *ps->frames))
				return fail_oom(ps, p);
			ps->frames[depth] =
			    (struct frame){(uint32_t)ps->nvals, ps->line, col_of(ps, p), 0};
			ps->nframes = depth + 1;
			p++;
			continue;
		} else if (k == C_RP) {
			if (depth == 0)
				return fail_at(ps, p, "unexpected ')' (no '(' is open)");
			const struct frame *f = &ps->frames[depth - 1];
			size_t base = f->base, arity = ps->nvals - base;
			if (arity > MT_HDR_ARITY_MASK)
				return fail_at(ps, p, "expression with more than %u elements",
					       MT_HDR_ARITY_MASK);
			unsigned fl = f->flags;
			uint32_t hdr = (uint32_t)arity | ((fl & V_NONGROUND) ? 0 : MT_HDR_GROUND);
			int created;
			v = mt_store_expr(st, hdr, ps->vals + base, (fl & V_FRESH) != 0, &created);
			if (v == MT_NONE)
				return fail_oom(ps, p);
			ps->nvals = base;
			ps->nframes = --depth;
			vfl = (created ? V_FRESH : 0) | (fl & V_NONGROUND);
			p++;
		} else if (k == C_SYM || k == C_HIGH) {
			const unsigned char *e;
			uint64_t h;
			if (ahead_take(&ahead, p, &e, &h)) {
				/* a plain symbol the look-ahead has hashed */
				int created;
				uint32_t id = mt_store_intern(st, (const char *)p, (size_t)(e - p),
							      h, &created);
				if (id == UINT32_MAX)
					return fail_oom(ps, p);
				v = mt_sym(id);
				vfl = created ? V_FRESH : 0;
				p = e;
				if (ahead.pos < p)
					ahead.pos = p;
				ahead_fill(ps, &ahead);
				goto deliver;
			}
			e = scan_token(ps, p);
			if (!e)
				return -1;
			size_t len = (size_t)(e - p);
			if (ahead.pos < e)
				ahead.pos = e;
			ahead_fill(ps, &ahead);
			if (!special_start[*p]) {
				if (len == 1 && *p == '!' && depth == 0) {
					if (bang)
						return fail_at(ps, p,
							       "'!' after '!' (expected an atom)");
					bang = 1;
					p = e;
					continue;
				}
				int created;
				uint32_t id =
				    mt_store_intern(st, (const char *)p, len,
						    mt_symtab_hash((const char *)p, len), &created);
				if (id == UINT32_MAX)
					return fail_oom(ps, p);
				v = mt_sym(id);
				vfl = created ? V_FRESH : 0;
			} else if (token_value(ps, p, len, &v, &vfl)) {
				return -1;
			}
			p = e;
		} else if (k == C_QUOTE) {
			ps->p = p;
			if (read_string(ps, &v))
				return -1;
			p = ps->p;
			vfl = 0;
		} else {
			return fail_at(ps, p, "NUL byte in input");
		}
	deliver:
		if (depth) {
			if (push_val(ps, v))
				return fail_oom(ps, p);
			ps->frames[depth - 1].flags |= vfl;
			continue;
		}
		/* a complete top-level atom */
		if (mode == MODE_ONE) {
			*one = v;
			have_one = 1;
		} else {
			struct mt_varnames names = {ps->nvars, ps->var_names};
			int rc = fn(ctx, v, bang, &names, where);
			if (rc)
				return rc;
		}
		vars_reset(ps);
		bang = 0;
	}
eof:
	ps->p = p;
	if (ps->nframes) {
		struct frame *f = &ps->frames[ps->nframes - 1];
		return fail_at(ps, end, "unclosed '(' (opened at %u:%u)", f->line, f->col);
	}
	if (bang)
		return fail_at(ps, end, "'!' at end of input (expected an atom to evaluate)");
	if (mode == MODE_ONE && !have_one)
		return fail_at(ps, end, "empty input (expected one atom)");
	return 0;
}

static void parser_init(struct parser *ps, struct mt_store *st, const char *text, size_t len,
			const char *file, uint32_t max_depth, struct kb_error *err)
{
	memset(ps, 0, sizeof *ps);
	ps->st = st;
	ps->start = ps->p = ps->line_start = (const unsigned char *)text;
	ps->end = ps->start + len;
	ps->line = 1;
	ps->file = file ? file : "<input>";
	ps->max_depth = max_depth ? max_depth : MT_PARSE_DEFAULT_MAX_DEPTH;
	ps->err = err;
}

static void parser_free(struct parser *ps)
{
	free(ps->vals);
	free(ps->frames);
	free(ps->var_names);
	free(ps->vmap_keys);
	free(ps->vmap_vals);
	free(ps->tmp);
}

static int parse_with(struct mt_store *st, const char *text, size_t len, const char *file,
		      uint32_t max_depth, enum mode mode, mt_atom_fn fn, void *ctx, mt_term *one,
		      struct kb_error *err)
{
	struct parser ps;
	parser_init(&ps, st, text, len, file, max_depth, err);
	int rc = vmap_grow(&ps) || grow_array((void **)&ps.vals, &ps.vals_cap, 256, sizeof *ps.vals)
		     ? kb_error_set(err, "%s: out of memory", ps.file)
		     : run(&ps, mode, fn, ctx, one);
	parser_free(&ps);
	return rc;
}

int mt_parse_buffer(struct mt_store *st, const char *text, size_t len,
		    const struct mt_parse_opts *opts, mt_atom_fn fn, void *ctx,
		    struct kb_error *err)
{
	KBPROF_REGION_BEGIN("parse");
	/* Size the tables for the whole text at once (80% load for the
	 * estimate; they grow past 85%). The generated KBs have one distinct
	 * expression per 13.6 (small), 14.1 (medium), 14.6 (large) bytes and
	 * one distinct symbol per 57.3, 59.5, 61.6: the densest must stay
	 * under 85%, and every slot of a hash table is touched, so a high
	 * guess costs its excess for good (docs/core.md, "Compile cost"). */
	mt_store_reserve(st, len / 14, len / 58);
	int rc = parse_with(st, text, len, opts ? opts->filename : NULL, opts ? opts->max_depth : 0,
			    MODE_ALL, fn, ctx, NULL, err);
	KBPROF_REGION_END("parse");
	return rc;
}

int mt_parse_one(struct mt_store *st, const char *text, size_t len, mt_term *atom,
		 struct kb_error *err)
{
	return parse_with(st, text, len, "<input>", 0, MODE_ONE, NULL, NULL, atom, err);
}

/* Reads all of fd into a malloc'd buffer (pipes, terminals, /proc files). */
static char *read_all(int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	for (;;) {
		if (n == cap) {
			char *b = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = b;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

int mt_parse_file(struct mt_store *st, const char *path, const struct mt_parse_opts *opts,
		  mt_atom_fn fn, void *ctx, struct kb_error *err)
{
	int is_stdin = strcmp(path, "-") == 0;
	const char *name = opts && opts->filename ? opts->filename : is_stdin ? "<stdin>" : path;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kb_error_set(err, "%s: %s", name, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		int e = errno;
		if (!is_stdin)
			close(fd);
		return kb_error_set(err, "%s: %s", name, strerror(e));
	}
	if (S_ISDIR(sb.st_mode)) {
		if (!is_stdin)
			close(fd);
		return kb_error_set(err, "%s: %s", name, strerror(EISDIR));
	}
	const char *text = NULL;
	char *owned = NULL;
	size_t len = 0;
	void *map = NULL;
	if (S_ISREG(sb.st_mode) && sb.st_size > 0) {
		len = (size_t)sb.st_size;
		/* populated at once: the parse reads every byte, and one pass
		 * of faults in bulk beats a fault per few pages */
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (map == MAP_FAILED)
			map = NULL;
		else
			madvise(map, len, MADV_SEQUENTIAL);
		text = map;
	}
	if (!map) {
		owned = read_all(fd, &len);
		if (!owned) {
			int e = errno;
			if (!is_stdin)
				close(fd);
			return kb_error_set(err, "%s: %s", name, strerror(e));
		}
		text = owned;
	}
	if (!is_stdin)
		close(fd);
	struct mt_parse_opts o = {name, opts ? opts->max_depth : 0};
	int rc = mt_parse_buffer(st, text, len, &o, fn, ctx, err);
	if (map)
		munmap(map, len);
	free(owned);
	return rc;
}
