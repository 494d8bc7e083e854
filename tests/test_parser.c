/* Tests of the MeTTa lexer and parser (core/parse): tokens, numbers,
 * strings, variables, the '!' mark, and every syntax error with its exact
 * line and column. */
#include "core/parse.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

struct collected {
	mt_term atoms[64];
	int bang[64];
	struct mt_srcpos where[64];
	uint32_t nvars[64];
	int n;
	int stop_after; /* 0: never */
};

static int collect(void *ctx, mt_term atom, int bang, const struct mt_varnames *names,
		   struct mt_srcpos where)
{
	struct collected *c = ctx;
	if (c->n < 64) {
		c->atoms[c->n] = atom;
		c->bang[c->n] = bang;
		c->where[c->n] = where;
		c->nvars[c->n] = names->count;
	}
	c->n++;
	if (c->stop_after && c->n == c->stop_after)
		return 7;
	return 0;
}

static int parse_text(struct mt_store *st, const char *text, size_t len, struct collected *c,
		      struct kb_error *err)
{
	memset(c, 0, sizeof *c);
	struct mt_parse_opts o = {.filename = "t.metta"};
	return mt_parse_buffer(st, text, len, &o, collect, c, err);
}

/* Parses text that must fail and checks the whole message. */
static void expect_error(const char *text, size_t len, const char *msg)
{
	struct mt_store *st = mt_store_new();
	struct collected c;
	struct kb_error err = {{0}};
	int rc = parse_text(st, text, len, &c, &err);
	cr_expect_eq(rc, -1, "parse of %s should fail", text);
	cr_expect_str_eq(err.msg, msg);
	mt_store_free(st);
}

static char *print_term(struct mt_store *st, mt_term t)
{
	struct kb_buf b = {0};
	mt_print(st, t, NULL, &b);
	return b.data ? b.data : strdup("");
}

Test(parser, reads_symbols_of_every_shape)
{
	struct mt_store *st = mt_store_new();
	struct collected c;
	const char *text = "= -> + &self : , not-equals42 a.b \xc3\xa9t\xc3\xa9 1+ - 1. .5 !foo";
	cr_assert_eq(parse_text(st, text, strlen(text), &c, NULL), 0);
	cr_assert_eq(c.n, 14);
	const char *names[] = {
	    "=",  "->", "+",  "&self", ":",   ",", "not-equals42", "a.b", "\xc3\xa9t\xc3\xa9",
	    "1+", "-",  "1.", ".5",    "!foo"};
	for (int i = 0; i < 14; i++) {
		cr_assert_eq(mt_tag(c.atoms[i]), MT_SYM, "atom %d", i);
		size_t len;
		const char *s = mt_sym_name(st, mt_payload(c.atoms[i]), &len);
		cr_expect_eq(len, strlen(names[i]));
		cr_expect_eq(memcmp(s, names[i], len), 0, "atom %d is %.*s", i, (int)len, s);
	}
	cr_expect_eq(c.atoms[0], mt_sym(MT_S_EQUAL));
	cr_expect_eq(c.atoms[3], mt_sym(MT_S_SELF));
	mt_store_free(st);
}

Test(parser, reads_integers_and_floats)
{
	struct mt_store *st = mt_store_new();
	struct collected c;
	const char *text = "42 -7 +3 0 268435455 268435456 -268435456 -268435457 "
			   "9223372036854775807 -9223372036854775808 1.5 -2.0 1e3 2.5E-3 "
			   "+4.25";
	cr_assert_eq(parse_text(st, text, strlen(text), &c, NULL), 0);
	cr_assert_eq(c.n, 15);
	int64_t ints[] = {42,        -7,         3,          0,         268435455,
			  268435456, -268435456, -268435457, INT64_MAX, INT64_MIN};
	for (int i = 0; i < 10; i++) {
		int64_t v;
		cr_assert(mt_int_value(st, c.atoms[i], &v), "atom %d is an integer", i);
		cr_expect_eq(v, ints[i]);
	}
	cr_expect_eq(mt_tag(c.atoms[4]), MT_INT);
	cr_expect_eq(mt_tag(c.atoms[5]), MT_BOX);
	cr_expect_eq(mt_tag(c.atoms[6]), MT_INT);
	cr_expect_eq(mt_tag(c.atoms[7]), MT_BOX);
	double floats[] = {1.5, -2.0, 1000.0, 0.0025, 4.25};
	for (int i = 0; i < 5; i++) {
		double v;
		cr_assert(mt_float_value(st, c.atoms[10 + i], &v), "atom %d is a float", 10 + i);
		cr_expect_eq(v, floats[i]);
	}
	mt_store_free(st);
}

Test(parser, reads_strings_with_escapes)
{
	struct mt_store *st = mt_store_new();
	struct collected c;
	const char *text = "\"plain\" \"q\\\"b\\\\n\\n\\t\\r\" \"\\x41\\u{e9}\\u{1F600}\" \"\" "
			   "\"two\nlines\" \"nul\\0\"";
	cr_assert_eq(parse_text(st, text, strlen(text), &c, NULL), 0);
	cr_assert_eq(c.n, 6);
	const char *want[] = {"plain", "q\"b\\n\n\t\r", "A\xc3\xa9\xf0\x9f\x98\x80", "",
			      "two\nlines"};
	for (int i = 0; i < 5; i++) {
		size_t len;
		const char *s = mt_str_value(st, c.atoms[i], &len);
		cr_assert_not_null(s);
		cr_expect_eq(len, strlen(want[i]), "string %d", i);
		cr_expect_eq(memcmp(s, want[i], len), 0, "string %d", i);
	}
	size_t len;
	const char *s = mt_str_value(st, c.atoms[5], &len);
	cr_expect_eq(len, 4);
	cr_expect_eq(memcmp(s, "nul\0", 4), 0);
	mt_store_free(st);
}

Test(parser, builds_expressions_and_the_empty_expression)
{
	struct mt_store *st = mt_store_new();
	struct collected c;
	const char *text = "(= (add zero $x) $x) () (f ())";
	cr_assert_eq(parse_text(st, text, strlen(text), &c, NULL), 0);
	cr_assert_eq(c.n, 3);
	char *p = print_term(st, c.atoms[0]);
	cr_expect_str_eq(p, "(= (add zero $_0) $_0)");
	free(p);
	cr_expect_eq(mt_tag(c.atoms[1]), MT_EXPR);
	cr_expect_eq(mt_expr_arity(st, c.atoms[1]), 0);
	cr_expect_eq(mt_expr_args(st, c.atoms[2])[1], c.atoms[1]);
	cr_expect(!mt_is_ground(st, c.atoms[0]));
	cr_expect(mt_is_ground(st, c.atoms[2]));
	mt_store_free(st);
}

Test(parser, skips_comments_and_tracks_atom_positions)
{
	struct mt_store *st = mt_store_new();
	struct collected c;
	const char *text = "; header\n(a b) ; trailing\n  ; only a comment\n   c\n(d\n e)";
	cr_assert_eq(parse_text(st, text, strlen(text), &c, NULL), 0);
	cr_assert_eq(c.n, 3);
	cr_expect_eq(c.where[0].line, 2);
	cr_expect_eq(c.where[0].col, 1);
	cr_expect_eq(c.where[0].offset, 9);
	cr_expect_eq(c.where[1].line, 4);
	cr_expect_eq(c.where[1].col, 4);
	cr_expect_eq(c.where[2].line, 5);
	mt_store_free(st);
}

Test(parser, marks_top_level_bang_only)
{
	struct mt_store *st = mt_store_new();
	struct collected c;
	const char *text = "!(f x) ! (g) (h) (! y) !z";
	cr_assert_eq(parse_text(st, text, strlen(text), &c, NULL), 0);
	cr_assert_eq(c.n, 5);
	cr_expect_eq(c.bang[0], 1);
	cr_expect_eq(c.bang[1], 1);
	cr_expect_eq(c.bang[2], 0);
	cr_expect_eq(c.bang[3], 0);
	cr_expect_eq(c.bang[4], 0);
	cr_expect_eq(c.where[0].col, 1);
	cr_expect_eq(c.where[1].col, 8);
	cr_expect_eq(mt_expr_arity(st, c.atoms[3]), 2);
	char *p = print_term(st, c.atoms[3]);
	cr_expect_str_eq(p, "(! y)");
	free(p);
	p = print_term(st, c.atoms[4]);
	cr_expect_str_eq(p, "!z");
	free(p);
	mt_store_free(st);
}

Test(parser, numbers_variables_per_atom_in_first_occurrence_order)
{
	struct mt_store *st = mt_store_new();
	struct collected c;
	const char *text = "(f $b $a $b) (f $x $y $x) (f $a $b $a) (g $a)";
	cr_assert_eq(parse_text(st, text, strlen(text), &c, NULL), 0);
	cr_assert_eq(c.n, 4);
	const mt_term *args = mt_expr_args(st, c.atoms[0]);
	cr_expect_eq(args[1], mt_var(0));
	cr_expect_eq(args[2], mt_var(1));
	cr_expect_eq(args[3], mt_var(0));
	cr_expect_eq(c.atoms[0], c.atoms[1], "alpha-equivalent atoms are one handle");
	cr_expect_eq(c.atoms[1], c.atoms[2]);
	cr_expect_eq(c.nvars[0], 2);
	cr_expect_eq(mt_expr_args(st, c.atoms[3])[1], mt_var(0), "numbering restarts per atom");
	mt_store_free(st);
}

/* Each atom's names, as text joined by ' ', checked against what the
 * atom should hold. */
struct names_check {
	struct mt_store *st;
	const uint32_t *sizes;
	int n, bad;
};

static int check_names(void *ctx, mt_term atom, int bang, const struct mt_varnames *names,
		       struct mt_srcpos where)
{
	(void)bang;
	(void)where;
	struct names_check *c = ctx;
	uint32_t k = c->sizes[c->n];
	cr_expect_eq(names->count, k, "atom %d: %u names", c->n, names->count);
	cr_expect_eq(mt_expr_arity(c->st, atom), 1 + 2 * k);
	const mt_term *args = mt_expr_args(c->st, atom);
	for (uint32_t i = 0; i < k && i < names->count; i++) {
		/* $v{(i * 7) % k} first, in that order; then again, backwards */
		char want[32];
		snprintf(want, sizeof want, "v%u", (i * 7 + (uint32_t)c->n) % k);
		size_t len;
		const char *got = mt_sym_name(c->st, names->names[i], &len);
		if (len != strlen(want) || memcmp(got, want, len) != 0 ||
		    args[1 + i] != mt_var(i) || args[1 + 2 * k - 1 - i] != mt_var(i))
			c->bad++;
	}
	c->n++;
	return 0;
}

/* Few variables are found by a scan, many through a map that takes over
 * mid-atom, grows, and must be empty again for the next atom. */
Test(parser, numbers_many_variables_per_atom_like_few)
{
	static const uint32_t sizes[] = {1, 8, 9, 3, 16, 17, 40, 2, 300, 9, 8, 1000, 1, 10};
	enum { N = sizeof sizes / sizeof *sizes };
	struct kb_buf b = {0};
	for (int a = 0; a < N; a++) {
		uint32_t k = sizes[a];
		kb_buf_puts(&b, "(f");
		/* i * 7 + a is a permutation of 0..k-1 when k is not a multiple of 7 */
		for (uint32_t i = 0; i < k; i++)
			kb_buf_printf(&b, " $v%u", (i * 7 + (uint32_t)a) % k);
		for (uint32_t i = k; i-- > 0;)
			kb_buf_printf(&b, " $v%u", (i * 7 + (uint32_t)a) % k);
		kb_buf_puts(&b, ")\n");
	}
	cr_assert(!b.oom);
	for (unsigned threads = 1; threads <= 2; threads++) {
		struct mt_store *st = mt_store_new();
		struct names_check c = {st, sizes, 0, 0};
		struct mt_parse_opts o = {.filename = "vars.metta", .threads = threads};
		struct kb_error err;
		cr_assert_eq(mt_parse_buffer(st, b.data, b.len, &o, check_names, &c, &err), 0, "%s",
			     err.msg);
		cr_expect_eq(c.n, N);
		cr_expect_eq(c.bad, 0, "%d atoms numbered wrong (%u threads)", c.bad, threads);
		mt_store_free(st);
	}
	kb_buf_free(&b);
}

Test(parser, callback_value_stops_the_parse)
{
	struct mt_store *st = mt_store_new();
	struct collected c;
	memset(&c, 0, sizeof c);
	c.stop_after = 2;
	const char *text = "a b c d";
	cr_expect_eq(mt_parse_buffer(st, text, strlen(text), NULL, collect, &c, NULL), 7);
	cr_expect_eq(c.n, 2);
	mt_store_free(st);
}

Test(parser, parse_one_reads_exactly_one_atom)
{
	struct mt_store *st = mt_store_new();
	struct kb_error err;
	mt_term t;
	cr_assert_eq(mt_parse_one(st, "  (f $x) ; note", 15, &t, &err), 0, "%s", err.msg);
	char *p = print_term(st, t);
	cr_expect_str_eq(p, "(f $_0)");
	free(p);
	cr_expect_eq(mt_parse_one(st, "  ; nothing\n", 12, &t, &err), -1);
	cr_expect_str_eq(err.msg, "<input>:2:1: empty input (expected one atom)");
	cr_expect_eq(mt_parse_one(st, "(a) b", 5, &t, &err), -1);
	cr_expect_str_eq(err.msg, "<input>:1:5: trailing text after the atom");
	mt_store_free(st);
}

Test(parser, reports_unclosed_paren_position)
{
	expect_error("(a (b c)\n(d", 11, "t.metta:2:3: unclosed '(' (opened at 2:1)");
	expect_error("  (a\n", 5, "t.metta:2:1: unclosed '(' (opened at 1:3)");
}

Test(parser, reports_stray_close_paren)
{
	expect_error("(a)\n  b )", 9, "t.metta:2:5: unexpected ')' (no '(' is open)");
}

Test(parser, reports_unterminated_string)
{
	expect_error("(a \"abc", 7, "t.metta:1:8: unterminated string (opened at 1:4)");
	expect_error("\"x\ny", 4, "t.metta:2:2: unterminated string (opened at 1:1)");
	expect_error("\"x\\", 3, "t.metta:1:4: unterminated string (opened at 1:1)");
}

Test(parser, reports_bad_escapes)
{
	expect_error("a \"x\\qy\"", 8, "t.metta:1:5: invalid escape '\\q' in string");
	expect_error("\"\\x4\"", 5,
		     "t.metta:1:2: invalid escape '\\x' in string (expected two hex digits)");
	expect_error("\"\\u{d800}\"", 10,
		     "t.metta:1:2: invalid escape '\\u' in string (expected \\u{HEX} naming a "
		     "Unicode scalar value)");
	expect_error("\"\\u{110000}\"", 12,
		     "t.metta:1:2: invalid escape '\\u' in string (expected \\u{HEX} naming a "
		     "Unicode scalar value)");
	expect_error("\"\\u41\"", 6,
		     "t.metta:1:2: invalid escape '\\u' in string (expected \\u{HEX} naming a "
		     "Unicode scalar value)");
}

Test(parser, reports_integer_overflow)
{
	expect_error("(x 9223372036854775808)", 23,
		     "t.metta:1:4: integer literal '9223372036854775808' out of range");
	expect_error("\n -9223372036854775809", 22,
		     "t.metta:2:2: integer literal '-9223372036854775809' out of range");
	expect_error("1e999", 5, "t.metta:1:1: float literal '1e999' out of range");
}

Test(parser, reports_nul_bytes_and_invalid_utf8)
{
	expect_error("ab\0c", 4, "t.metta:1:3: NUL byte in input");
	expect_error("; c\0", 4, "t.metta:1:4: NUL byte in input");
	expect_error("\"a\0\"", 4, "t.metta:1:3: NUL byte in input");
	expect_error("x \xff", 3, "t.metta:1:3: invalid UTF-8 byte 0xff");
	expect_error("x\xc3(", 3, "t.metta:1:2: invalid UTF-8 byte 0xc3");
	expect_error("\xed\xa0\x80", 3, "t.metta:1:1: invalid UTF-8 byte 0xed");
	expect_error("; \xc0\xaf", 4, "t.metta:1:3: invalid UTF-8 byte 0xc0");
	expect_error("\"\xf5\"", 3, "t.metta:1:2: invalid UTF-8 byte 0xf5");
}

Test(parser, reports_misplaced_bang_and_empty_variable)
{
	expect_error("(a) !", 5, "t.metta:1:6: '!' at end of input (expected an atom to evaluate)");
	expect_error("! ! a", 5, "t.metta:1:3: '!' after '!' (expected an atom)");
	expect_error("(f $ x)", 7, "t.metta:1:4: '$' without a variable name");
}

static char *nested(size_t depth, size_t *len)
{
	char *s = malloc(2 * depth + 2);
	for (size_t i = 0; i < depth; i++)
		s[i] = '(';
	s[depth] = 'x';
	for (size_t i = 0; i < depth; i++)
		s[depth + 1 + i] = ')';
	*len = 2 * depth + 1;
	s[*len] = '\0';
	return s;
}

Test(parser, accepts_nesting_up_to_the_limit_without_stack_overflow)
{
	struct mt_store *st = mt_store_new();
	size_t len;
	char *s = nested(10000, &len);
	struct collected c;
	struct kb_error err;
	cr_assert_eq(parse_text(st, s, len, &c, &err), 0, "%s", err.msg);
	cr_assert_eq(c.n, 1);
	struct kb_buf b = {0};
	mt_print(st, c.atoms[0], NULL, &b);
	cr_expect_str_eq(b.data, s, "deep terms print back to the source");
	kb_buf_free(&b);
	free(s);
	mt_store_free(st);
}

Test(parser, reports_nesting_deeper_than_the_limit)
{
	size_t len;
	char *s = nested(10001, &len);
	expect_error(s, len, "t.metta:1:10001: expressions nested deeper than 10000 levels");
	free(s);
	struct mt_store *st = mt_store_new();
	struct kb_error err;
	struct mt_parse_opts o = {.filename = "d", .max_depth = 3};
	cr_expect_eq(mt_parse_buffer(st, "(((())))", 8, &o, collect, &(struct collected){0}, &err),
		     -1);
	cr_expect_str_eq(err.msg, "d:1:4: expressions nested deeper than 3 levels");
	mt_store_free(st);
}

Test(parser, file_errors_name_the_file)
{
	struct mt_store *st = mt_store_new();
	struct kb_error err;
	struct collected c = {0};
	cr_expect_eq(mt_parse_file(st, "/nonexistent/kb.metta", NULL, collect, &c, &err), -1);
	cr_expect_str_eq(err.msg, "/nonexistent/kb.metta: No such file or directory");
	cr_expect_eq(mt_parse_file(st, "/", NULL, collect, &c, &err), -1);
	cr_expect_str_eq(err.msg, "/: Is a directory");
	mt_store_free(st);
}

Test(parser, tokens_after_tricky_strings_and_comments_read_the_same)
{
	/* strings and comments full of parentheses, quotes, escapes and
	 * semicolons, where a rough scanner could lose its way */
	struct mt_store *st = mt_store_new();
	struct collected c;
	const char *text = "(f \"a) (b \\\" c; d\" sym1 ; comment \" (x\n sym2)\n"
			   "(g \"\\\\\" sym3 \"\\\\\\\"\" sym4) ; \"\n(h sym5 \"\xc3\xa9\" sym6)\n"
			   "(k \"\" \"\" sym7 \";\" sym8)";
	cr_assert_eq(parse_text(st, text, strlen(text), &c, NULL), 0);
	cr_assert_eq(c.n, 4);
	const char *want[] = {"(f \"a) (b \\\" c; d\" sym1 sym2)",
			      "(g \"\\\\\" sym3 \"\\\\\\\"\" sym4)", "(h sym5 \"\xc3\xa9\" sym6)",
			      "(k \"\" \"\" sym7 \";\" sym8)"};
	for (int i = 0; i < 4; i++) {
		char *p = print_term(st, c.atoms[i]);
		cr_expect_str_eq(p, want[i]);
		free(p);
	}
	mt_store_free(st);
}

Test(parser, a_byte_order_mark_is_a_symbol_so_dumps_read_back)
{
	/* not skipped: a space whose first atom is the symbol U+FEFF must
	 * dump and load back to the same atoms */
	struct mt_store *st = mt_store_new();
	struct collected c;
	const char *text = "\xef\xbb\xbf(a b)";
	cr_assert_eq(parse_text(st, text, strlen(text), &c, NULL), 0);
	cr_assert_eq(c.n, 2);
	cr_expect_eq(mt_tag(c.atoms[0]), MT_SYM);
	cr_expect_eq(c.where[1].col, 4);
	mt_term back;
	cr_expect_eq(mt_parse_one(st, "\xef\xbb\xbf", 3, &back, NULL), 0);
	cr_expect_eq(back, c.atoms[0]);
	mt_store_free(st);
}

/* ---- two threads (mt_parse_opts.threads = 2) ---- */

/* Every atom a parse delivered, in order. The callback only stores (a
 * two-thread parse forbids symbol-table calls in it). */
struct seen_atoms {
	size_t n, cap;
	struct seen_atom {
		mt_term atom;
		int bang;
		struct mt_srcpos where;
		uint32_t nvars;
		uint32_t names[4];
	} * a;
	size_t stop_after; /* 0: never */
	int stop_value;    /* what the callback returns then */
};

static int record_atom(void *ctx, mt_term atom, int bang, const struct mt_varnames *names,
		       struct mt_srcpos where)
{
	struct seen_atoms *s = ctx;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->a = realloc(s->a, s->cap * sizeof *s->a);
		cr_assert(s->a);
	}
	struct seen_atom *e = &s->a[s->n++];
	memset(e, 0, sizeof *e);
	e->atom = atom;
	e->bang = bang;
	e->where = where;
	e->nvars = names->count;
	for (uint32_t i = 0; i < names->count && i < 4; i++)
		e->names[i] = names->names[i];
	return s->stop_after && s->n == s->stop_after ? s->stop_value : 0;
}

/* How a parse runs: threads, and whether the store's symbol table starts
 * big enough (2^19 slots) for the lexer's look-ahead, which a small input
 * would not turn on. */
struct variant {
	unsigned threads;
	int lookahead;
};

/* The baseline, then every other way of running the same parse. */
static const struct variant variants[] = {{1, 0}, {1, 1}, {2, 0}, {2, 1}};
#define NVARIANTS (sizeof variants / sizeof variants[0])

/* Parses text into a new store as v says; *st is the store. */
static int parse_threads(const char *text, size_t len, struct variant v, struct mt_store **st,
			 struct seen_atoms *s, struct kb_error *err)
{
	*st = mt_store_new();
	cr_assert(*st);
	if (v.lookahead)
		mt_store_reserve(*st, 0, (size_t)1 << 19);
	struct mt_parse_opts o = {.filename = "big.metta", .threads = v.threads};
	return mt_parse_buffer(*st, text, len, &o, record_atom, s, err);
}

/* Text of every token kind, `reps` times over, each copy with its own
 * symbols (so that most are new, as in a generated KB) and some shared. */
static char *mixed_text(int reps, size_t *len)
{
	size_t cap = (size_t)reps * 400 + 1, n = 0;
	char *t = malloc(cap);
	cr_assert(t);
	for (int i = 0; i < reps; i++)
		n += (size_t)snprintf(
		    t + n, cap - n,
		    "; copy %d\n(= (add%d zero $x) $x)\n(= (add%d (succ $x) $y) (succ (add%d $x "
		    "$y)))\n"
		    "!(f%d 12345678901 -4.5e3 \"s\\t\\u{e9}%d\")\n(: n%d \"two\nlines\")\n"
		    "(m \xc3\xa9%d () (()) %d -%d 1.5 $a $b $a)\n",
		    i, i, i, i, i, i, i, i, i, i);
	*len = n;
	return t;
}

Test(parser_threads, build_the_same_store_and_atoms_as_one_thread)
{
	size_t len;
	char *text = mixed_text(2000, &len);
	struct mt_store *st1;
	struct seen_atoms s1 = {0};
	struct kb_error err = {{0}};
	cr_assert_eq(parse_threads(text, len, variants[0], &st1, &s1, &err), 0, "%s", err.msg);
	cr_assert_eq(s1.n, 10000);
	for (size_t k = 1; k < NVARIANTS; k++) {
		struct variant v = variants[k];
		struct mt_store *st2;
		struct seen_atoms s2 = {0};
		cr_assert_eq(parse_threads(text, len, v, &st2, &s2, &err), 0, "%s", err.msg);
		cr_assert_eq(s2.n, s1.n);
		/* the stores are built in the same order, so equal terms are
		 * equal handles, and so are symbol ids */
		cr_expect_eq(mt_sym_count(st2), mt_sym_count(st1));
		cr_expect_eq(mt_store_expr_count(st2), mt_store_expr_count(st1));
		for (size_t i = 0; i < s1.n; i++) {
			const struct seen_atom *a = &s1.a[i], *b = &s2.a[i];
			cr_assert_eq(b->atom, a->atom, "%u threads, look-ahead %d: atom %zu",
				     v.threads, v.lookahead, i);
			cr_assert_eq(b->bang, a->bang, "atom %zu", i);
			cr_assert_eq(b->where.line, a->where.line, "atom %zu", i);
			cr_assert_eq(b->where.col, a->where.col, "atom %zu", i);
			cr_assert_eq(b->where.offset, a->where.offset, "atom %zu", i);
			cr_assert_eq(b->nvars, a->nvars, "atom %zu", i);
			cr_assert_eq(memcmp(b->names, a->names, sizeof a->names), 0, "atom %zu", i);
		}
		/* and the atoms are what the text says */
		char *p = print_term(st2, s2.a[9997].atom);
		cr_expect_str_eq(p, "(f1999 12345678901 -4500.0 \"s\\t\xc3\xa9"
				    "1999\")");
		free(p);
		cr_expect_eq(s2.a[9997].bang, 1);
		p = print_term(st2, s2.a[9999].atom);
		cr_expect_str_eq(p, "(m \xc3\xa9"
				    "1999 () (()) 1999 -1999 1.5 $_0 $_1 $_0)");
		free(p);
		cr_expect_eq(s2.a[9999].nvars, 2);
		free(s2.a);
		mt_store_free(st2);
	}
	free(s1.a);
	mt_store_free(st1);
	free(text);
}

/* Valid text, then `tail`: both parses fail with the same message after
 * delivering the same atoms. */
static void expect_same_error(const char *tail, const char *cause)
{
	size_t len;
	char *valid = mixed_text(400, &len);
	size_t tl = strlen(tail);
	char *text = malloc(len + tl + 1);
	cr_assert(text);
	memcpy(text, valid, len);
	memcpy(text + len, tail, tl + 1);
	struct mt_store *st1;
	struct seen_atoms s1 = {0};
	struct kb_error e1 = {{0}};
	cr_assert_eq(parse_threads(text, len + tl, variants[0], &st1, &s1, &e1), -1, "%s", tail);
	cr_expect(strstr(e1.msg, cause), "'%s' in %s", cause, e1.msg);
	cr_expect_eq(strncmp(e1.msg, "big.metta:2801:", 15), 0, "%s", e1.msg);
	cr_expect_eq(s1.n, 2000);
	for (size_t k = 1; k < NVARIANTS; k++) {
		struct mt_store *st2;
		struct seen_atoms s2 = {0};
		struct kb_error e2 = {{0}};
		cr_assert_eq(parse_threads(text, len + tl, variants[k], &st2, &s2, &e2), -1, "%s",
			     tail);
		cr_expect_str_eq(e2.msg, e1.msg);
		cr_expect_eq(s2.n, s1.n);
		free(s2.a);
		mt_store_free(st2);
	}
	free(s1.a);
	mt_store_free(st1);
	free(text);
	free(valid);
}

Test(parser_threads, report_the_same_errors_as_one_thread)
{
	expect_same_error("(a (b c)", "unclosed '(' (opened at 2801:1)");
	expect_same_error(") x", "unexpected ')'");
	expect_same_error("(a \"b\\q\")", "invalid escape '\\q' in string");
	expect_same_error("(a 99999999999999999999)", "integer literal");
	expect_same_error("(a $)", "'$' without a variable name");
	expect_same_error("(a \xff)", "invalid UTF-8 byte 0xff");
	expect_same_error("! !", "'!' after '!'");
	expect_same_error("(a \"open", "unterminated string");
}

Test(parser_threads, stop_when_the_callback_says_so)
{
	size_t len;
	char *text = mixed_text(2000, &len);
	/* any non-zero value stops the parse and is returned, 1 included */
	static const int values[] = {9, 1};
	for (size_t v = 0; v < sizeof values / sizeof values[0]; v++)
		for (size_t k = 0; k < NVARIANTS; k++) {
			struct mt_store *st;
			struct seen_atoms s = {0};
			s.stop_after = 1234;
			s.stop_value = values[v];
			struct kb_error err = {{0}};
			cr_expect_eq(parse_threads(text, len, variants[k], &st, &s, &err),
				     values[v], "variant %zu, value %d", k, values[v]);
			cr_expect_eq(s.n, 1234, "variant %zu, value %d", k, values[v]);
			cr_expect_str_eq(err.msg, "");
			free(s.a);
			mt_store_free(st);
		}
	free(text);
}

/* The callback runs on the calling thread; it notes the thread's affinity. */
static int note_affinity(void *ctx, mt_term atom, int bang, const struct mt_varnames *names,
			 struct mt_srcpos where)
{
	(void)atom, (void)bang, (void)names, (void)where;
	cpu_set_t *during = ctx;
	if (CPU_COUNT(during) == 0)
		pthread_getaffinity_np(pthread_self(), sizeof *during, during);
	return 0;
}

/* With two threads, the caller and the lexer are pinned to two CPUs for the
 * parse (so that they do not take turns on one), and the caller gets its own
 * affinity back afterwards. */
Test(parser_threads, pin_the_caller_to_one_cpu_for_the_parse_and_restore_its_affinity)
{
	cpu_set_t before, during, after;
	cr_assert_eq(pthread_getaffinity_np(pthread_self(), sizeof before, &before), 0);
	if (CPU_COUNT(&before) < 2)
		cr_skip_test("one CPU allowed: nothing to pin the two threads apart on");
	size_t len;
	char *text = mixed_text(200, &len);
	struct mt_store *st = mt_store_new();
	struct mt_parse_opts o = {.threads = 2};
	struct kb_error err;
	CPU_ZERO(&during);
	cr_assert_eq(mt_parse_buffer(st, text, len, &o, note_affinity, &during, &err), 0, "%s",
		     err.msg);
	cr_expect_eq(CPU_COUNT(&during), 1, "the caller ran on %d CPUs", CPU_COUNT(&during));
	cr_assert_eq(pthread_getaffinity_np(pthread_self(), sizeof after, &after), 0);
	cr_expect(CPU_EQUAL(&before, &after), "the caller's affinity is restored");
	mt_store_free(st);
	free(text);
}
