/* parse: MeTTa text to hash-consed terms (parse.h).
 *
 * Two stages joined by a stream of 32-bit words. The lexer (struct
 * parser) reads the bytes with a table-driven scanner, interns symbols in
 * the store's symbol table, numbers variables, reads numbers and strings,
 * checks nesting and reports every syntax error; it writes each token as a
 * word (see "the token stream"). The builder (struct builder) reads the
 * words, owns everything else in the store, and hash-conses each
 * expression as soon as its ')' arrives, with an explicit stack (frames
 * for open parentheses, a value stack for finished children): nesting is
 * bounded by max_depth and memory, never by the C stack.
 *
 * With one thread (the default) the lexer calls the builder's functions
 * directly, token by token, so a callback may use the store freely. With
 * mt_parse_opts.threads = 2 the lexer runs on a thread of its own, a ring
 * of blocks ahead of the builder; the symbol table then belongs to it
 * until the parse returns, so the callback must not look symbols up or
 * intern them (parse.h). The terms, ids and store are the same either way.
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
 * Probe regions: "parse" covers a whole parse call (and "lex" the lexer's
 * thread, when it has one). Interning, hash-consing and indexing happen
 * inline, atom by atom, inside it; only their bulk operations (table
 * growth: "intern" in the store and symbol table, "index" in the space)
 * are regions of their own, so a region is never per atom.
 *
 * Owner: a struct parser and a struct builder live on the caller's stack
 * for one parse call and free their stacks before returning; terms belong
 * to the store. */
#include "core/parse.h"
#include "core/store_impl.h"
#include "core/utf8.h"
#include "kbprof/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* value flags on the builder's stack */
#define V_FRESH 1u     /* created by this construction: its parents are new */
#define V_NONGROUND 2u /* contains a variable */

/* ---- the token stream ----
 *
 * A word's low 3 bits are its kind. The leaves the lexer makes on its own
 * are the term itself: a symbol interned before this parse's look-up
 * (MT_SYM), a variable (MT_VAR), a small integer (MT_INT). The other kinds
 * take the tags of terms the lexer never makes. An atom is
 * X_ATOM/X_BANGATOM, its tokens, then X_NAMES; the stream ends with X_END
 * or X_ERROR. */
#define W_NEWSYM MT_EXPR /* a symbol the look-up created: payload its id */
#define W_OPEN MT_TEXPR  /* '(' */
#define W_CLOSE MT_BOX   /* ')' */
#define W_CTRL MT_TBOX   /* payload: an enum ctrl */

enum ctrl {
	X_ATOM,     /* an atom starts; then line, col and offset (low, high words) */
	X_BANGATOM, /* the same for an atom marked with '!' */
	X_INT,      /* an integer outside the small range: low, high words */
	X_FLOAT,    /* a float: its binary64 bits, low, high words */
	X_STRING,   /* a string: length (low, high words), then its bytes, 4 a word */
	X_NAMES,    /* the atom is complete: a count, then that many name symbol ids */
	X_END,      /* the end of the input */
	X_ERROR,    /* a syntax error (or memory exhausted): the lexer's message */
};

#define CTRL(x) ((uint32_t)(x) << MT_TAG_BITS | W_CTRL)

/* Words the lexer may write for one token without checking for room,
 * and words always kept free beyond them for X_ERROR or X_END. */
#define TOKEN_WORDS 8u
#define SPARE_WORDS 2u

/* With two threads the stream is a ring of blocks (struct pipe, below). */
struct pipe;

enum mode { MODE_ALL, MODE_ONE };

struct frame {
	uint32_t line, col; /* of the '(' */
	uint32_t count;     /* elements so far */
};

/* The look-ahead's entries (see ahead_fill): it is refilled to AHEAD when
 * fewer than AHEAD_LOW are left, so one call scans several symbols and the
 * prefetches run 4 to 8 symbols ahead (against a call per symbol, 1 to 4
 * ahead: 5% fewer instructions on a compile with the look-ahead on, large
 * KB one thread 141.2 -> 148.1 MB/s, five alternating runs). */
#define AHEAD 8
#define AHEAD_LOW 4
/* The look-ahead runs only once the symbol table has this many slots
 * (2 MiB of them): below that the slots stay in cache, and the second scan
 * costs more than the misses it hides (small generated KB, one thread:
 * 143 MB/s without it, 127 with it; large KB level). */
#define AHEAD_MIN_SLOTS (1u << 19)

struct ahead {
	const unsigned char *pos; /* next byte the look-ahead examines */
	const unsigned char *tp[AHEAD], *te[AHEAD];
	uint64_t th[AHEAD];
	unsigned head, n;
};

/* The symbols the lexer interned last, by a cheap key of their bytes
 * (seen_slot): a token found here is compared with the earlier token's
 * bytes in the input (recent, so in cache) and needs neither the symbol
 * table's hash nor its chain of dependent loads (slot, reference, chunk,
 * name). */
#define SYM_CACHE_BITS 9
#define SYM_CACHE (1u << SYM_CACHE_BITS)

struct sym_seen {
	const unsigned char *at; /* the token in the input */
	uint32_t len, id;        /* len 0: empty */
};

/* The lexer. */
struct parser {
	struct mt_symtab *syms;
	const unsigned char *start, *p, *end, *line_start;
	uint32_t line;
	const char *file;
	uint32_t max_depth;
	enum mode mode;
	int have_one; /* MODE_ONE: the atom was read */
	struct kb_error err;

	struct frame *frames;
	size_t frames_cap;

	/* variables of the current top-level atom: number -> name symbol,
	 * and an open-addressing map name symbol -> number */
	uint32_t *var_names;
	uint32_t nvars, var_names_cap;
	uint32_t *vmap_keys, *vmap_vals; /* key: symbol id + 1; 0 = empty */
	uint32_t vmap_mask;

	char *tmp; /* decoded strings, float text */
	size_t tmp_cap;

	struct ahead ahead;
	struct sym_seen seen[SYM_CACHE];

	/* two threads: the block of the ring being filled */
	uint32_t *out;
	size_t n, cap;
	struct pipe *pipe;
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
	return kb_error_set(&ps->err, "%s:%u:%u: %s", ps->file, ps->line, col_of(ps, at), cause);
}

static int fail_oom(struct parser *ps, const unsigned char *at)
{
	return fail_at(ps, at, "out of memory (or the symbol table is full)");
}

/* A short, printable excerpt of a token for messages. */
static void excerpt(const unsigned char *tok, size_t len, char *out, size_t cap)
{
	size_t n = len < 40 ? len : 40;
	snprintf(out, cap, "%.*s%s", (int)n, (const char *)tok, len > n ? "..." : "");
}

/* ---- variables ----
 *
 * An atom's variables are numbered in order of first occurrence. Most
 * atoms have a handful, found by scanning their names (VARS_SCAN); past
 * that many, an open-addressing map (name symbol -> number) takes over
 * for the rest of the atom, so an atom with thousands stays linear. */
#define VARS_SCAN 8u

/* The map's slot for name key k: where it is, or the empty slot that ends
 * its chain. */
static uint32_t vmap_slot(const struct parser *ps, uint32_t k)
{
	uint32_t j = (k * 0x9e3779b1u) & ps->vmap_mask;
	while (ps->vmap_keys[j] && ps->vmap_keys[j] != k)
		j = (j + 1) & ps->vmap_mask;
	return j;
}

static void vars_reset(struct parser *ps)
{
	/* the map uses linear probing: clearing single slots could break
	 * chains of keys that stay, but every key goes */
	if (ps->nvars > VARS_SCAN)
		for (uint32_t i = 0; i < ps->nvars; i++)
			ps->vmap_keys[vmap_slot(ps, ps->var_names[i] + 1)] = 0;
	ps->nvars = 0;
}

/* Called as a name is added after the first `n` (n >= VARS_SCAN): makes
 * the map hold those n, with room for one more at most half full. The map
 * is empty while an atom has VARS_SCAN names or fewer (vars_reset). */
static int vmap_fill(struct parser *ps, uint32_t n)
{
	int fresh = n == VARS_SCAN;
	if ((n + 1) * 2 > ps->vmap_mask) {
		uint32_t mask = ps->vmap_mask ? ps->vmap_mask : 31;
		while ((n + 1) * 2 > mask)
			mask = mask * 2 + 1;
		uint32_t *keys = calloc((size_t)mask + 1, sizeof *keys);
		uint32_t *vals = malloc(((size_t)mask + 1) * sizeof *vals);
		if (!keys || !vals) {
			free(keys);
			free(vals);
			return -1;
		}
		free(ps->vmap_keys);
		free(ps->vmap_vals);
		ps->vmap_keys = keys;
		ps->vmap_vals = vals;
		ps->vmap_mask = mask;
		fresh = 1;
	}
	for (uint32_t i = 0; fresh && i < n; i++) {
		uint32_t j = vmap_slot(ps, ps->var_names[i] + 1);
		ps->vmap_keys[j] = ps->var_names[i] + 1;
		ps->vmap_vals[j] = i;
	}
	return 0;
}

/* Number of the variable named by symbol `name` in the current atom. */
static uint32_t var_number(struct parser *ps, uint32_t name)
{
	uint32_t n = ps->nvars;
	if (n <= VARS_SCAN) {
		for (uint32_t i = 0; i < n; i++)
			if (ps->var_names[i] == name)
				return i;
	} else {
		uint32_t j = vmap_slot(ps, name + 1);
		if (ps->vmap_keys[j])
			return ps->vmap_vals[j];
	}
	if (n >= MT_VAR_MAX)
		return UINT32_MAX;
	size_t cap = ps->var_names_cap;
	if (grow_array((void **)&ps->var_names, &cap, (size_t)n + 1, sizeof *ps->var_names))
		return UINT32_MAX;
	ps->var_names_cap = (uint32_t)cap;
	ps->var_names[n] = name;
	ps->nvars = n + 1;
	if (n >= VARS_SCAN) {
		/* the map holds every name once there are more than VARS_SCAN */
		if (vmap_fill(ps, n)) {
			ps->nvars = n;
			return UINT32_MAX;
		}
		uint32_t j = vmap_slot(ps, name + 1);
		ps->vmap_keys[j] = name + 1;
		ps->vmap_vals[j] = n;
	}
	return n;
}

/* ---- tokens ---- */

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

/* Writes a word; the caller made room (TOKEN_WORDS per token). */
static inline void emit(struct parser *ps, uint32_t w)
{
	ps->out[ps->n++] = w;
}

static inline void emit64(struct parser *ps, uint64_t v)
{
	emit(ps, (uint32_t)v);
	emit(ps, (uint32_t)(v >> 32));
}

/* A token as the lexer passes it on: a word (a leaf), or, when ctrl is
 * X_INT or X_FLOAT, a 64-bit value. */
struct tok {
	uint32_t w, ctrl;
	uint64_t v;
};

/* Whether the len bytes at a (an earlier token) and b (the current one)
 * are equal: up to 16 bytes with two word loads, no call. */
static inline __attribute__((always_inline)) int
same_token(const struct parser *ps, const unsigned char *a, const unsigned char *b, size_t len)
{
	uint64_t x, y, u, v;
	if (len >= 8 && len <= 16) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		memcpy(&u, a + len - 8, 8);
		memcpy(&v, b + len - 8, 8);
		return ((x ^ y) | (u ^ v)) == 0;
	}
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (len < 8 && ps->end - b >= 8) { /* a < b: both 8-byte loads are inside */
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		return ((x ^ y) & (((uint64_t)1 << (len * 8)) - 1)) == 0;
	}
#endif
	return memcmp(a, b, len) == 0;
}

/* mt_symtab_hash (XXH3-64, core/symtab.c), inlined in the lexer: the
 * symbol table finds a symbol by this hash, so the two must agree. */
static inline __attribute__((always_inline)) uint64_t tok_hash(const char *p, size_t len)
{
	return XXH3_64bits(p, len);
}

/* The slot of a token (len >= 1) in the cache of recent symbols: its
 * first and last 8 bytes (fewer if it is shorter) and its length, mixed.
 * Two multiplications where the table's hash takes about 40 instructions. */
static inline __attribute__((always_inline)) struct sym_seen *
seen_slot(struct parser *ps, const unsigned char *tok, size_t len)
{
	uint64_t a = 0, b = 0;
	if (len >= 8) {
		memcpy(&a, tok, 8);
		memcpy(&b, tok + len - 8, 8);
	}
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	else if (ps->end - tok >= 8) {
		memcpy(&a, tok, 8);
		a &= ((uint64_t)1 << (len * 8)) - 1;
	}
#endif
	else {
		memcpy(&a, tok, len);
	}
	uint64_t k = (a ^ len) * 0x9e3779b97f4a7c15ULL ^ b * 0xc2b2ae3d27d4eb4fULL;
	return &ps->seen[k >> (64 - SYM_CACHE_BITS)];
}

/* Interns a symbol token: its word. h is its table hash (tok_hash) if
 * have_h, else it is computed here if needed. UINT32_MAX if memory ran
 * out. */
static inline __attribute__((always_inline)) uint32_t
intern_symbol(struct parser *ps, const unsigned char *tok, size_t len, int have_h, uint64_t h)
{
	struct sym_seen *c = seen_slot(ps, tok, len);
	if (c->len == len && same_token(ps, c->at, tok, len))
		return mt_sym(c->id);
	if (!have_h)
		h = tok_hash((const char *)tok, len);
	int created;
	uint32_t id = mt_symtab_intern(ps->syms, (const char *)tok, len, h, &created);
	if (id == UINT32_MAX)
		return UINT32_MAX;
	*c = (struct sym_seen){tok, (uint32_t)len, id};
	return created ? mt_make(W_NEWSYM, id) : mt_sym(id);
}

/* The word of a variable token `$name` (len > 1): its number in the
 * atom. UINT32_MAX if memory ran out. */
static inline __attribute__((always_inline)) uint32_t var_word(struct parser *ps,
							       const unsigned char *tok, size_t len)
{
	uint32_t name = intern_symbol(ps, tok + 1, len - 1, 0, 0);
	uint32_t n = name == UINT32_MAX ? UINT32_MAX : var_number(ps, mt_payload(name));
	return n == UINT32_MAX ? UINT32_MAX : mt_var(n);
}

/* Reads a token that is a variable, a number or a symbol. */
static int token_value(struct parser *ps, const unsigned char *tok, size_t len, struct tok *out)
{
	unsigned char c = tok[0];
	out->ctrl = 0;
	if (c == '$') {
		if (len == 1)
			return fail_at(ps, tok, "'$' without a variable name");
		out->w = var_word(ps, tok, len);
		return out->w == UINT32_MAX ? fail_oom(ps, tok) : 0;
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
			if (mt_small_int_fits(v)) {
				out->w = mt_small_int(v);
			} else {
				out->ctrl = X_INT;
				out->v = (uint64_t)v;
			}
			return 0;
		}
		if (k == NUM_FLOAT) {
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
			out->ctrl = X_FLOAT;
			memcpy(&out->v, &v, sizeof v);
			return 0;
		}
	}
	out->w = intern_symbol(ps, tok, len, 0, 0);
	return out->w == UINT32_MAX ? fail_oom(ps, tok) : 0;
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

/* Reads a string literal into ps->tmp (*len bytes); ps->p is at the
 * opening quote. */
static int read_string(struct parser *ps, size_t *len)
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
	*len = n;
	return 0;
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

/* The end of a run of class-0 (symbol) bytes starting at p: the first byte
 * at or after p of another class, or end. With SSE2, 16 bytes at a time:
 * a byte below 0x21 or above 0x7f (signed below 0x21), '"', '(', ')' or
 * ';' stops the run, unless it is a control character other than white
 * space (class 0 too, rare). */
static inline const unsigned char *sym_run_end(const unsigned char *p, const unsigned char *end)
{
#if defined(__SSE2__)
	const __m128i lim = _mm_set1_epi8(0x21), quote = _mm_set1_epi8('"'),
		      lp = _mm_set1_epi8('('), rp = _mm_set1_epi8(')'), semi = _mm_set1_epi8(';');
	while (end - p >= 16) {
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i m = _mm_or_si128(
		    _mm_or_si128(_mm_cmpgt_epi8(lim, b), _mm_cmpeq_epi8(b, quote)),
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(b, lp), _mm_cmpeq_epi8(b, rp)),
				 _mm_cmpeq_epi8(b, semi)));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);
		if (!bits) {
			p += 16;
			continue;
		}
		p += __builtin_ctz(bits);
		if (cls[*p] != C_SYM)
			return p;
		p++;
	}
#endif
	while (p < end && cls[*p] == C_SYM)
		p++;
	return p;
}

/* Scans a token run starting at p; returns its end, or NULL on invalid
 * UTF-8 (error set). Runs of class-0 bytes go by sym_run_end; a byte of
 * 0x80 or above must start a valid UTF-8 sequence, which continues it. */
static inline const unsigned char *scan_token(struct parser *ps, const unsigned char *p)
{
	const unsigned char *end = ps->end;
	for (;;) {
		p = sym_run_end(p, end);
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

/* ---- the lexer's look-ahead ---- */

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

static void ahead_fill(struct parser *ps, struct ahead *a)
{
	const unsigned char *q = a->pos, *end = ps->end;
	const struct mt_symtab *syms = ps->syms;
	while (a->n < AHEAD && q < end) {
		unsigned k = cls[*q];
		if (k == C_SYM || k == C_HIGH) {
			const unsigned char *t = q;
			q = sym_run_end(q, end);
			if ((q < end && cls[*q] == C_HIGH) || k == C_HIGH) {
				while (q < end && (cls[*q] == C_SYM || cls[*q] == C_HIGH))
					q++;
				continue; /* non-ASCII: the parser validates and hashes it */
			}
			size_t len = (size_t)(q - t);
			if (special_start[*t] || (len == 1 && *t == '!'))
				continue;
			uint64_t h = tok_hash((const char *)t, len);
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

/* ---- the builder ----
 *
 * One function per kind of token; the lexer calls them directly with one
 * thread, the stream reader (build_stream) with two. Each returns 0, or
 * non-zero to stop: -1 with the message in *err, or the callback's value. */

struct bframe {
	uint32_t base;  /* first child on the value stack */
	uint32_t flags; /* V_* of the children so far, or-ed */
};

struct builder {
	struct mt_store *st;
	mt_atom_fn fn;
	void *ctx;
	mt_term *one; /* MODE_ONE: where the atom goes */
	struct kb_error *err;
	const char *file;

	struct mt_srcpos where; /* of the current atom */
	int bang;
	mt_term atom; /* the current atom, once complete */

	mt_term *vals;
	size_t nvals, vals_cap;
	struct bframe *frames;
	size_t nframes, frames_cap;

	/* two threads: the words at hand, and room for a string's bytes and
	 * an atom's names read from them */
	const uint32_t *cur, *lim;
	char *bytes;
	size_t bytes_cap;
	uint32_t *names;
	size_t names_cap;
};

#define ALWAYS_INLINE inline __attribute__((always_inline))

static int b_oom(struct builder *b)
{
	return kb_error_set(b->err, "%s:%u:%u: out of memory (or the term store is full)", b->file,
			    b->where.line, b->where.col);
}

static ALWAYS_INLINE int b_value(struct builder *b, mt_term v, unsigned vfl)
{
	size_t depth = b->nframes;
	if (!depth) {
		b->atom = v; /* complete: its names follow */
		return 0;
	}
	if (b->nvals == b->vals_cap &&
	    grow_array((void **)&b->vals, &b->vals_cap, b->nvals + 1, sizeof *b->vals))
		return b_oom(b);
	b->vals[b->nvals++] = v;
	b->frames[depth - 1].flags |= vfl;
	return 0;
}

static ALWAYS_INLINE int b_open(struct builder *b)
{
	size_t depth = b->nframes;
	if (depth == b->frames_cap &&
	    grow_array((void **)&b->frames, &b->frames_cap, depth + 1, sizeof *b->frames))
		return b_oom(b);
	b->frames[depth] = (struct bframe){(uint32_t)b->nvals, 0};
	b->nframes = depth + 1;
	return 0;
}

static ALWAYS_INLINE int b_close(struct builder *b)
{
	const struct bframe *f = &b->frames[b->nframes - 1];
	size_t base = f->base;
	unsigned fl = f->flags;
	uint32_t hdr = (uint32_t)(b->nvals - base) | ((fl & V_NONGROUND) ? 0 : MT_HDR_GROUND);
	int created = 1;
	mt_term v = (fl & V_FRESH) ? mt_store_expr_new(b->st, hdr, b->vals + base)
				   : mt_store_expr(b->st, hdr, b->vals + base, 0, &created);
	if (v == MT_NONE)
		return b_oom(b);
	b->nvals = base;
	b->nframes--;
	return b_value(b, v, (created ? V_FRESH : 0) | (fl & V_NONGROUND));
}

/* A symbol: interned before (MT_SYM) or by this look-up (W_NEWSYM). */
static ALWAYS_INLINE int b_symbol(struct builder *b, uint32_t w)
{
	if ((w & MT_TAG_MASK) == MT_SYM)
		return b_value(b, w, 0);
	mt_store_note_symbol(b->st, mt_payload(w));
	return b_value(b, mt_sym(mt_payload(w)), V_FRESH);
}

/* A leaf, '(' or ')'. */
static ALWAYS_INLINE int b_word(struct builder *b, uint32_t w)
{
	switch (w & MT_TAG_MASK) {
	case MT_VAR:
		return b_value(b, w, V_NONGROUND);
	case W_NEWSYM:
		mt_store_note_symbol(b->st, mt_payload(w));
		return b_value(b, mt_sym(mt_payload(w)), V_FRESH);
	case W_OPEN:
		return b_open(b);
	case W_CLOSE:
		return b_close(b);
	default: /* MT_SYM, MT_INT */
		return b_value(b, w, 0);
	}
}

static void b_atom(struct builder *b, int bang, uint32_t line, uint32_t col, size_t offset)
{
	b->bang = bang;
	b->where = (struct mt_srcpos){line, col, offset};
}

/* An integer outside the small range (X_INT) or a float (X_FLOAT). */
static int b_number(struct builder *b, uint32_t ctrl, uint64_t v)
{
	mt_term t;
	if (ctrl == X_INT) {
		t = mt_int(b->st, (int64_t)v, 0);
	} else {
		double d;
		memcpy(&d, &v, sizeof d);
		t = mt_float(b->st, d, 0);
	}
	return t == MT_NONE ? b_oom(b) : b_value(b, t, 0);
}

static int b_string(struct builder *b, const char *bytes, size_t len)
{
	mt_term t = mt_string(b->st, bytes ? bytes : "", len, 0);
	return t == MT_NONE ? b_oom(b) : b_value(b, t, 0);
}

/* The atom is complete, with these variable names. */
static int b_names(struct builder *b, uint32_t n, const uint32_t *ids)
{
	if (b->one) {
		*b->one = b->atom;
		return 0;
	}
	struct mt_varnames names = {n, ids};
	return b->fn(b->ctx, b->atom, b->bang, &names, b->where);
}

/* ---- the lexer ----
 *
 * lex_run reads atoms until the end of the input or an error. With a
 * builder (fb, one thread) it hands each token to it; without, it writes
 * the words (two threads). Both are instances of the one function below,
 * so the one-thread parse costs no stream. */

/* Makes room for `need` more words and the spare ones: with two threads,
 * the full block goes to the builder and the next free one is taken. 0, or
 * -1 when the builder has stopped. */
static int pipe_next_block(struct parser *ps);

static inline int out_room(struct parser *ps, size_t need)
{
	if (__builtin_expect(ps->cap - ps->n >= need + SPARE_WORDS, 1))
		return 0;
	return pipe_next_block(ps);
}

/* Writes a word that may not fit the room made for a token. */
static int emit_checked(struct parser *ps, uint32_t w)
{
	if (out_room(ps, 1))
		return -1;
	emit(ps, w);
	return 0;
}

/* Hands on a token: to the builder, or into the stream. */
#define SINK(call_builder, write_words)                                                            \
	do {                                                                                       \
		if (fb) {                                                                          \
			int rc_ = (call_builder);                                                  \
			if (rc_)                                                                   \
				return rc_;                                                        \
		} else {                                                                           \
			write_words;                                                               \
		}                                                                                  \
	} while (0)

#define SINK_WORD(w) SINK(b_word(fb, (w)), emit(ps, (w)))
#define SINK_SYMBOL(w) SINK(b_symbol(fb, (w)), emit(ps, (w)))

#define SINK_ATOM_START()                                                                          \
	SINK((b_atom(fb, bang, wline, wcol, woff), 0),                                             \
	     (emit(ps, CTRL(bang ? X_BANGATOM : X_ATOM)), emit(ps, wline), emit(ps, wcol),         \
	      emit64(ps, woff)))

static ALWAYS_INLINE int lex_run_impl(struct parser *ps, struct builder *fb)
{
	struct ahead *ahead = &ps->ahead;
	const unsigned char *p = ps->p, *const end = ps->end;
	int bang = 0;
	size_t depth = 0;
	uint32_t wline = 0, wcol = 0;
	size_t woff = 0;
	for (;;) {
		if (!fb && out_room(ps, TOKEN_WORDS))
			return -1;
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
					goto fail;
				p = ps->p;
			} else {
				break;
			}
		}
		if (depth == 0) {
			if (ps->mode == MODE_ONE && ps->have_one) {
				fail_at(ps, p, "trailing text after the atom");
				goto fail;
			}
			if (!bang) {
				wline = ps->line;
				wcol = col_of(ps, p);
				woff = (size_t)(p - ps->start);
			}
		}
		if (k == C_LP) {
			if (depth >= ps->max_depth) {
				fail_at(ps, p, "expressions nested deeper than %u levels",
					ps->max_depth);
				goto fail;
			}
			if (depth == ps->frames_cap &&
			    grow_array((void **)&ps->frames, &ps->frames_cap, depth + 1,
				       sizeof *ps->frames)) {
				fail_oom(ps, p);
				goto fail;
			}
			if (depth == 0)
				SINK_ATOM_START();
			ps->frames[depth++] = (struct frame){ps->line, col_of(ps, p), 0};
			p++;
			SINK_WORD(W_OPEN);
			continue;
		} else if (k == C_RP) {
			if (depth == 0) {
				fail_at(ps, p, "unexpected ')' (no '(' is open)");
				goto fail;
			}
			if (ps->frames[depth - 1].count > MT_HDR_ARITY_MASK) {
				fail_at(ps, p, "expression with more than %u elements",
					MT_HDR_ARITY_MASK);
				goto fail;
			}
			depth--;
			p++;
			SINK_WORD(W_CLOSE);
		} else if (k == C_SYM || k == C_HIGH) {
			const unsigned char *e;
			uint64_t h;
			int look = ps->syms->nslots >= AHEAD_MIN_SLOTS;
			if (look && ahead_take(ahead, p, &e, &h)) {
				/* a plain symbol the look-ahead has hashed */
				if (depth == 0)
					SINK_ATOM_START();
				uint32_t w = intern_symbol(ps, p, (size_t)(e - p), 1, h);
				if (w == UINT32_MAX) {
					fail_oom(ps, p);
					goto fail;
				}
				p = e;
				if (ahead->pos < p)
					ahead->pos = p;
				if (ahead->n < AHEAD_LOW)
					ahead_fill(ps, ahead);
				SINK_SYMBOL(w);
			} else {
				e = scan_token(ps, p);
				if (!e)
					goto fail;
				size_t len = (size_t)(e - p);
				if (look) {
					/* the look-ahead starts where the parser is,
					 * also when it has just been turned on */
					if (ahead->pos < e)
						ahead->pos = e;
					if (ahead->n < AHEAD_LOW)
						ahead_fill(ps, ahead);
				}
				if (len == 1 && *p == '!' && depth == 0) {
					if (bang) {
						fail_at(ps, p, "'!' after '!' (expected an atom)");
						goto fail;
					}
					bang = 1;
					p = e;
					continue;
				}
				if (depth == 0)
					SINK_ATOM_START();
				if (*p == '$' && len > 1) {
					uint32_t w = var_word(ps, p, len);
					if (w == UINT32_MAX) {
						fail_oom(ps, p);
						goto fail;
					}
					p = e;
					SINK_WORD(w);
				} else if (!special_start[*p]) {
					uint32_t w = intern_symbol(ps, p, len, 0, 0);
					if (w == UINT32_MAX) {
						fail_oom(ps, p);
						goto fail;
					}
					p = e;
					SINK_SYMBOL(w);
				} else {
					struct tok t = {0, 0, 0};
					if (token_value(ps, p, len, &t))
						goto fail;
					p = e;
					if (!t.ctrl)
						SINK_WORD(t.w);
					else
						SINK(b_number(fb, t.ctrl, t.v),
						     (emit(ps, CTRL(t.ctrl)), emit64(ps, t.v)));
				}
			}
		} else if (k == C_QUOTE) {
			if (depth == 0)
				SINK_ATOM_START();
			size_t len;
			ps->p = p;
			if (read_string(ps, &len))
				goto fail;
			p = ps->p;
			if (fb) {
				int rc = b_string(fb, ps->tmp, len);
				if (rc)
					return rc;
			} else {
				if (emit_checked(ps, CTRL(X_STRING)) ||
				    emit_checked(ps, (uint32_t)len) ||
				    emit_checked(ps, (uint32_t)((uint64_t)len >> 32)))
					return -1;
				for (size_t i = 0; i < len; i += 4) {
					uint32_t w = 0;
					memcpy(&w, ps->tmp + i, len - i < 4 ? len - i : 4);
					if (emit_checked(ps, w))
						return -1;
				}
			}
		} else {
			fail_at(ps, p, "NUL byte in input");
			goto fail;
		}
		/* a value is complete */
		if (depth) {
			uint32_t *count = &ps->frames[depth - 1].count;
			if (*count <= MT_HDR_ARITY_MASK) /* stops there: never wraps */
				++*count;
			continue;
		}
		/* so is a top-level atom: its variables' names */
		ps->p = p;
		if (fb) {
			int rc = b_names(fb, ps->nvars, ps->var_names);
			if (rc)
				return rc;
		} else {
			if (emit_checked(ps, CTRL(X_NAMES)) || emit_checked(ps, ps->nvars))
				return -1;
			for (uint32_t i = 0; i < ps->nvars; i++)
				if (emit_checked(ps, ps->var_names[i]))
					return -1;
		}
		vars_reset(ps);
		ps->have_one = 1;
		bang = 0;
	}
eof:
	ps->p = p;
	if (depth) {
		const struct frame *f = &ps->frames[depth - 1];
		fail_at(ps, end, "unclosed '(' (opened at %u:%u)", f->line, f->col);
		goto fail;
	}
	if (bang) {
		fail_at(ps, end, "'!' at end of input (expected an atom to evaluate)");
		goto fail;
	}
	if (ps->mode == MODE_ONE && !ps->have_one) {
		fail_at(ps, end, "empty input (expected one atom)");
		goto fail;
	}
	if (!fb)
		emit(ps, CTRL(X_END));
	return 0;
fail:
	if (fb) {
		*fb->err = ps->err;
		return -1;
	}
	emit(ps, CTRL(X_ERROR));
	return 0;
}

#undef SINK_ATOM_START
#undef SINK_SYMBOL
#undef SINK_WORD
#undef SINK

/* One thread: the lexer drives the builder. */
static int lex_build(struct parser *ps, struct builder *b)
{
	return lex_run_impl(ps, b);
}

/* Two threads: the lexer writes the stream. 0 when the stream is complete
 * (it ends with X_END or X_ERROR), -1 if the builder stopped first. */
static int lex_stream(struct parser *ps)
{
	return lex_run_impl(ps, NULL);
}

/* ---- two threads: the ring of blocks ----
 *
 * The lexer fills blocks in ring order and hands each over by storing its
 * word count; the builder reads it and hands it back by storing 0. A side
 * that finds nothing to do spins briefly, then sleeps on its futex word,
 * which the other side bumps when it sees the sleeper's flag (each side
 * stores its flag or count, then loads the other's, sequentially
 * consistent, so one of the two always sees the other). */
#define PIPE_BLOCKS 8u
#define PIPE_WORDS 4096u
#define PIPE_SPINS 4000

struct pipe_block {
	_Atomic uint32_t n; /* words in it; 0: the lexer's to fill */
	uint32_t w[PIPE_WORDS];
};

struct pipe_side {
	_Atomic uint32_t seq;     /* the futex word */
	_Atomic uint32_t waiting; /* set while asleep on seq */
};

struct pipe {
	struct pipe_block blk[PIPE_BLOCKS];
	_Atomic uint32_t stop; /* set by the builder: the lexer ends */
	struct pipe_side lexer, builder;
	unsigned fill, drain; /* the lexer's block, the builder's */
	int holding;          /* the builder holds blk[drain] */
};

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void side_wake(struct pipe_side *s)
{
	if (atomic_load(&s->waiting)) {
		atomic_fetch_add(&s->seq, 1);
		syscall(SYS_futex, &s->seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
}

/* Waits until ready(pp, i) holds. */
static void side_wait(struct pipe *pp, struct pipe_side *s, int (*ready)(struct pipe *, unsigned),
		      unsigned i)
{
	for (int k = 0; k < PIPE_SPINS; k++) {
		if (ready(pp, i))
			return;
		cpu_relax();
	}
	for (;;) {
		uint32_t seq = atomic_load(&s->seq);
		atomic_store(&s->waiting, 1);
		if (ready(pp, i)) {
			atomic_store(&s->waiting, 0);
			return;
		}
		syscall(SYS_futex, &s->seq, FUTEX_WAIT_PRIVATE, seq, NULL, NULL, 0);
		atomic_store(&s->waiting, 0);
	}
}

static int block_free(struct pipe *pp, unsigned i)
{
	return atomic_load(&pp->blk[i].n) == 0 || atomic_load(&pp->stop);
}

static int block_full(struct pipe *pp, unsigned i)
{
	return atomic_load(&pp->blk[i].n) != 0;
}

static void pipe_publish(struct parser *ps)
{
	struct pipe *pp = ps->pipe;
	atomic_store(&pp->blk[pp->fill].n, (uint32_t)ps->n);
	side_wake(&pp->builder);
}

static int pipe_next_block(struct parser *ps)
{
	struct pipe *pp = ps->pipe;
	pipe_publish(ps);
	pp->fill = (pp->fill + 1) % PIPE_BLOCKS;
	side_wait(pp, &pp->lexer, block_free, pp->fill);
	if (atomic_load(&pp->stop))
		return -1;
	ps->out = pp->blk[pp->fill].w;
	ps->n = 0;
	return 0;
}

static void *lexer_main(void *arg)
{
	struct parser *ps = arg;
	KBPROF_REGION_BEGIN("lex");
	if (lex_stream(ps) == 0)
		pipe_publish(ps); /* the block with X_END or X_ERROR */
	KBPROF_REGION_END("lex");
	return NULL;
}

/* The next word once the ones at hand are used up. */
static uint32_t next_block(struct builder *b, struct pipe *pp)
{
	if (pp->holding) {
		atomic_store(&pp->blk[pp->drain].n, 0);
		side_wake(&pp->lexer);
		pp->drain = (pp->drain + 1) % PIPE_BLOCKS;
	}
	side_wait(pp, &pp->builder, block_full, pp->drain);
	pp->holding = 1;
	b->cur = pp->blk[pp->drain].w;
	b->lim = b->cur + atomic_load(&pp->blk[pp->drain].n);
	return *b->cur++;
}

#define NEXT() (__builtin_expect(b->cur < b->lim, 1) ? *b->cur++ : next_block(b, pp))

/* Reads the stream into the builder until X_END (0), X_ERROR (-1 with the
 * lexer's message in *b->err) or a builder function stops it. */
static int build_stream(struct builder *b, struct pipe *pp, const struct parser *ps)
{
	for (;;) {
		uint32_t w = NEXT();
		int rc;
		if ((w & MT_TAG_MASK) != W_CTRL) {
			rc = b_word(b, w);
		} else {
			uint32_t x = mt_payload(w);
			if (x == X_ATOM || x == X_BANGATOM) {
				uint32_t line = NEXT(), col = NEXT();
				uint64_t lo = NEXT();
				b_atom(b, x == X_BANGATOM, line, col,
				       (size_t)(lo | (uint64_t)NEXT() << 32));
				rc = 0;
			} else if (x == X_INT || x == X_FLOAT) {
				uint64_t lo = NEXT();
				rc = b_number(b, x, lo | (uint64_t)NEXT() << 32);
			} else if (x == X_STRING) {
				uint64_t lo = NEXT();
				size_t len = (size_t)(lo | (uint64_t)NEXT() << 32);
				int ok =
				    grow_array((void **)&b->bytes, &b->bytes_cap, len + 1, 1) == 0;
				for (size_t i = 0; i < len; i += 4) {
					uint32_t v = NEXT();
					if (ok)
						memcpy(b->bytes + i, &v, len - i < 4 ? len - i : 4);
				}
				rc = ok ? b_string(b, b->bytes, len) : b_oom(b);
			} else if (x == X_NAMES) {
				uint32_t n = NEXT();
				int ok = grow_array((void **)&b->names, &b->names_cap, n,
						    sizeof *b->names) == 0;
				for (uint32_t i = 0; i < n; i++) {
					uint32_t id = NEXT();
					if (ok)
						b->names[i] = id;
				}
				rc = ok ? b_names(b, n, b->names) : b_oom(b);
			} else if (x == X_END) {
				return 0;
			} else { /* X_ERROR */
				*b->err = ps->err;
				return -1;
			}
		}
		if (rc)
			return rc;
	}
}

#undef NEXT

static void parser_init(struct parser *ps, struct mt_store *st, const char *text, size_t len,
			const char *file, uint32_t max_depth, enum mode mode)
{
	memset(ps, 0, sizeof *ps);
	ps->syms = &st->syms;
	ps->start = ps->p = ps->line_start = (const unsigned char *)text;
	ps->end = ps->start + len;
	ps->line = 1;
	ps->file = file ? file : "<input>";
	ps->max_depth = max_depth ? max_depth : MT_PARSE_DEFAULT_MAX_DEPTH;
	ps->mode = mode;
	ps->ahead.pos = ps->p;
}

static void parser_free(struct parser *ps)
{
	free(ps->frames);
	free(ps->var_names);
	free(ps->vmap_keys);
	free(ps->vmap_vals);
	free(ps->tmp);
}

static void builder_free(struct builder *b)
{
	free(b->vals);
	free(b->frames);
	free(b->bytes);
	free(b->names);
}

/* The lexer and the builder on two different CPUs of the caller's allowed
 * set, for the length of a parse. Left to the scheduler, the two threads
 * of a short parse often start on one CPU and take turns, each spinning or
 * sleeping while the other runs: on the 2-CPU test machine the small KB's
 * compile took 6 to 15 ms from one fresh process to the next, 6.1 ms
 * pinned (docs/core.md, "Two threads"). The caller's own affinity comes
 * back when the parse ends. Nothing is pinned when fewer than two CPUs are
 * allowed or the kernel refuses. */
struct pin {
	cpu_set_t saved;
	int pinned;
};

static void pin_begin(struct pin *p, pthread_attr_t *attr)
{
	p->pinned = 0;
	if (pthread_getaffinity_np(pthread_self(), sizeof p->saved, &p->saved) ||
	    CPU_COUNT(&p->saved) < 2)
		return;
	int cur = sched_getcpu(), alt = -1;
	if (cur < 0 || cur >= CPU_SETSIZE || !CPU_ISSET(cur, &p->saved))
		return;
	for (int k = 1; k < CPU_SETSIZE && alt < 0; k++) /* the next allowed CPU */
		if (CPU_ISSET((cur + k) % CPU_SETSIZE, &p->saved))
			alt = (cur + k) % CPU_SETSIZE;
	cpu_set_t self, lexer;
	CPU_ZERO(&self);
	CPU_SET(cur, &self);
	CPU_ZERO(&lexer);
	CPU_SET(alt, &lexer);
	if (pthread_setaffinity_np(pthread_self(), sizeof self, &self))
		return;
	if (pthread_attr_setaffinity_np(attr, sizeof lexer, &lexer)) {
		pthread_setaffinity_np(pthread_self(), sizeof p->saved, &p->saved);
		return;
	}
	p->pinned = 1;
}

static void pin_end(struct pin *p)
{
	if (p->pinned)
		pthread_setaffinity_np(pthread_self(), sizeof p->saved, &p->saved);
	p->pinned = 0;
}

/* Builds with the lexer on a thread of its own. Sets *started to 0, and
 * returns 0, if the thread cannot be started (nothing was lexed): any
 * return value is the parse's, the callback's 1 included. */
static int build_threaded(struct parser *ps, struct builder *b, int *started)
{
	*started = 0;
	struct pipe *pp = calloc(1, sizeof *pp);
	if (!pp)
		return 0;
	ps->pipe = pp;
	ps->out = pp->blk[0].w;
	ps->n = 0;
	ps->cap = PIPE_WORDS;
	pthread_t tid;
	pthread_attr_t attr;
	struct pin pin = {.pinned = 0};
	int crc = -1;
	if (pthread_attr_init(&attr) == 0) {
		pin_begin(&pin, &attr);
		crc = pthread_create(&tid, &attr, lexer_main, ps);
		pthread_attr_destroy(&attr);
	}
	if (crc) { /* unpinned, then */
		pin_end(&pin);
		crc = pthread_create(&tid, NULL, lexer_main, ps);
	}
	if (crc) {
		ps->pipe = NULL;
		ps->out = NULL;
		ps->cap = 0;
		free(pp);
		return 0;
	}
	*started = 1;
	int rc = build_stream(b, pp, ps);
	/* after X_END or X_ERROR the lexer has ended already */
	atomic_store(&pp->stop, 1);
	side_wake(&pp->lexer);
	pthread_join(tid, NULL);
	pin_end(&pin);
	ps->pipe = NULL;
	ps->out = NULL;
	free(pp);
	return rc;
}

static int parse_with(struct mt_store *st, const char *text, size_t len, const char *file,
		      uint32_t max_depth, unsigned threads, enum mode mode, mt_atom_fn fn,
		      void *ctx, mt_term *one, struct kb_error *err)
{
	struct parser ps;
	parser_init(&ps, st, text, len, file, max_depth, mode);
	struct builder b = {.st = st,
			    .fn = fn,
			    .ctx = ctx,
			    .one = one,
			    .err = err,
			    .file = ps.file,
			    .atom = MT_NONE};
	int rc, started = 0;
	if (grow_array((void **)&b.vals, &b.vals_cap, 256, sizeof *b.vals))
		rc = kb_error_set(err, "%s: out of memory", ps.file);
	else if (threads < 2 || mode != MODE_ALL || st->syms.base.count ||
		 (rc = build_threaded(&ps, &b, &started), !started))
		rc = lex_build(&ps, &b);
	parser_free(&ps);
	builder_free(&b);
	return rc;
}

unsigned mt_parse_threads_for(size_t len)
{
	cpu_set_t allowed; /* the CPUs this thread may run on, not just those online */
	if (len < MT_PARSE_THREADS_MIN)
		return 1;
	if (pthread_getaffinity_np(pthread_self(), sizeof allowed, &allowed))
		return sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
	return CPU_COUNT(&allowed) >= 2 ? 2 : 1;
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
	unsigned threads = opts ? opts->threads : 1;
	if (threads == MT_PARSE_THREADS_AUTO)
		threads = mt_parse_threads_for(len);
	int rc = parse_with(st, text, len, opts ? opts->filename : NULL, opts ? opts->max_depth : 0,
			    threads, MODE_ALL, fn, ctx, NULL, err);
	KBPROF_REGION_END("parse");
	return rc;
}

int mt_parse_one(struct mt_store *st, const char *text, size_t len, mt_term *atom,
		 struct kb_error *err)
{
	return parse_with(st, text, len, "<input>", 0, 1, MODE_ONE, NULL, NULL, atom, err);
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
	struct mt_parse_opts o = {name, opts ? opts->max_depth : 0, opts ? opts->threads : 1};
	int rc = mt_parse_buffer(st, text, len, &o, fn, ctx, err);
	if (map)
		munmap(map, len);
	free(owned);
	return rc;
}
