/* Tests of the term store (core/term.h): interning, hash-consing and
 * sharing, boxed values, the scratch heap, persist/find/equal, and the
 * printer, including print/parse round trips on random terms. */
#include "core/parse.h"
#include "core/symtab.h"
#include "core/term.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *print_term(struct mt_store *st, mt_term t, const struct mt_varnames *names)
{
	struct kb_buf b = {0};
	mt_print(st, t, names, &b);
	cr_assert(!b.oom);
	return b.data ? b.data : strdup("");
}

static mt_term sym(struct mt_store *st, const char *name)
{
	return mt_sym(mt_sym_intern(st, name, strlen(name)));
}

Test(store, wellknown_symbols_have_their_constant_ids)
{
	struct mt_store *st = mt_store_new();
	cr_assert_not_null(st);
	cr_expect_eq(mt_sym_find(st, "=", 1), MT_S_EQUAL);
	cr_expect_eq(mt_sym_find(st, "->", 2), MT_S_ARROW);
	cr_expect_eq(mt_sym_find(st, "&self", 5), MT_S_SELF);
	cr_expect_eq(mt_sym_find(st, "Type", 4), MT_S_TYPE);
	cr_expect_eq(mt_sym_count(st), MT_S__COUNT);
	mt_store_free(st);
}

Test(store, interning_gives_one_id_per_name)
{
	struct mt_store *st = mt_store_new();
	uint32_t a = mt_sym_intern(st, "succ", 4);
	uint32_t b = mt_sym_intern(st, "succ", 4);
	uint32_t c = mt_sym_intern(st, "succ2", 5);
	uint32_t d = mt_sym_intern(st, "su\0c", 4);
	cr_expect_eq(a, b);
	cr_expect_neq(a, c);
	cr_expect_neq(a, d);
	cr_expect_eq(mt_sym_find(st, "zero", 4), UINT32_MAX);
	size_t len;
	const char *n = mt_sym_name(st, d, &len);
	cr_expect_eq(len, 4);
	cr_expect_eq(memcmp(n, "su\0c", 4), 0);
	/* many symbols, long names: ids stay dense and names intact */
	char name[400];
	for (int i = 0; i < 50000; i++) {
		int k = snprintf(name, sizeof name, "sym%d", i);
		if (i % 1000 == 0) {
			memset(name + k, 'x', 300);
			k += 300;
		}
		uint32_t id = mt_sym_intern(st, name, (size_t)k);
		cr_assert_eq(id, MT_S__COUNT + 3 + (uint32_t)i);
	}
	for (int i = 0; i < 50000; i += 999) {
		int k = snprintf(name, sizeof name, "sym%d", i);
		if (i % 1000 == 0) {
			memset(name + k, 'x', 300);
			k += 300;
		}
		cr_assert_eq(mt_sym_find(st, name, (size_t)k), MT_S__COUNT + 3 + (uint32_t)i);
		const char *s = mt_sym_name(st, MT_S__COUNT + 3 + (uint32_t)i, &len);
		cr_assert_eq(len, (size_t)k);
		cr_assert_eq(memcmp(s, name, len), 0);
	}
	cr_expect_null(mt_sym_name(st, 1u << 28, &len));
	mt_store_free(st);
}

Test(store, symbol_names_never_move_while_more_are_interned)
{
	/* callers keep mt_sym_name pointers: names must stay put across
	 * table growths and new name chunks, long names (over a 1 MiB
	 * chunk) included */
	struct mt_store *st = mt_store_new();
	cr_assert_not_null(st);
	size_t big = (size_t)3 << 20;
	char *longname = malloc(big);
	cr_assert_not_null(longname);
	memset(longname, 'q', big);
	enum { N = 120000 };
	const char **kept = calloc(N, sizeof *kept);
	cr_assert_not_null(kept);
	char name[64];
	uint32_t first = mt_sym_count(st), long_id = UINT32_MAX;
	for (int i = 0; i < N; i++) {
		int k = snprintf(name, sizeof name, "keep-%d", i);
		uint32_t id = mt_sym_intern(st, name, (size_t)k);
		cr_assert_eq(id, first + (uint32_t)i + (i > N / 2));
		kept[i] = mt_sym_name(st, id, NULL);
		if (i == N / 2) {
			long_id = mt_sym_intern(st, longname, big);
			cr_assert_eq(long_id, id + 1);
		}
	}
	size_t len;
	const char *ln = mt_sym_name(st, long_id, &len);
	cr_expect_eq(len, big);
	cr_expect_eq(memcmp(ln, longname, big), 0);
	cr_expect_eq(mt_sym_find(st, longname, big), long_id);
	for (int i = 0; i < N; i++) {
		int k = snprintf(name, sizeof name, "keep-%d", i);
		uint32_t id = first + (uint32_t)i + (i > N / 2);
		cr_assert_eq(mt_sym_name(st, id, &len), kept[i], "name %d moved", i);
		cr_assert_eq(len, (size_t)k);
		cr_assert_eq(memcmp(kept[i], name, len), 0);
		cr_assert_eq(mt_sym_find(st, name, (size_t)k), id);
	}
	free(kept);
	free(longname);
	mt_store_free(st);
}

Test(store, identical_expressions_are_one_handle)
{
	struct mt_store *st = mt_store_new();
	mt_term f = sym(st, "f"), a = sym(st, "a");
	mt_term e1 = mt_expr(st, (mt_term[]){f, a}, 2);
	mt_term e2 = mt_expr(st, (mt_term[]){f, a}, 2);
	mt_term e3 = mt_expr(st, (mt_term[]){a, f}, 2);
	cr_expect_eq(e1, e2);
	cr_expect_neq(e1, e3);
	cr_expect(mt_term_equal(st, e1, e2));
	cr_expect(!mt_term_equal(st, e1, e3));
	cr_expect_eq(mt_store_expr_count(st), 2);
	mt_term empty1 = mt_expr(st, NULL, 0), empty2 = mt_expr(st, NULL, 0);
	cr_expect_eq(empty1, empty2);
	cr_expect_eq(mt_expr_arity(st, empty1), 0);
	mt_store_free(st);
}

static int count_atoms(void *ctx, mt_term atom, int bang, const struct mt_varnames *names,
		       struct mt_srcpos where)
{
	(*(int *)ctx)++;
	return 0;
}

Test(store, shares_identical_sub_terms_across_atoms)
{
	struct mt_store *st = mt_store_new();
	const char *text =
	    "(f (g a) (g a))\n(h (g a) (f (g a) (g a)))\n(k $x (g $x))\n(k $y (g $y))";
	int n = 0;
	cr_assert_eq(mt_parse_buffer(st, text, strlen(text), NULL, count_atoms, &n, NULL), 0);
	cr_expect_eq(n, 4);
	/* distinct: (g a), (f ..), (h ..), (g $0), (k $0 (g $0)) */
	cr_expect_eq(mt_store_expr_count(st), 5);
	mt_store_free(st);
}

Test(store, integers_are_inline_or_boxed_and_compare_by_value)
{
	struct mt_store *st = mt_store_new();
	mt_term small = mt_int(st, -5, 0);
	cr_expect_eq(mt_tag(small), MT_INT);
	cr_expect_eq(mt_small_int_value(small), -5);
	cr_expect_eq(mt_int(st, MT_INT_MIN, 0), mt_small_int(MT_INT_MIN));
	mt_term big1 = mt_int(st, INT64_MIN, 0), big2 = mt_int(st, INT64_MIN, 0);
	cr_expect_eq(mt_tag(big1), MT_BOX);
	cr_expect_eq(big1, big2);
	int64_t v;
	cr_expect(mt_int_value(st, big1, &v));
	cr_expect_eq(v, INT64_MIN);
	mt_term tbig = mt_int(st, INT64_MIN, 1);
	cr_expect_eq(mt_tag(tbig), MT_TBOX);
	cr_expect(mt_term_equal(st, tbig, big1));
	cr_expect_eq(mt_term_persist(st, tbig), big1);
	cr_expect_eq(mt_box_kind(st, big1), MT_BOX_INT);
	cr_expect(!mt_float_value(st, big1, &(double){0}));
	mt_store_free(st);
}

Test(store, floats_and_strings_are_hash_consed_boxes)
{
	struct mt_store *st = mt_store_new();
	mt_term f1 = mt_float(st, 2.5, 0), f2 = mt_float(st, 2.5, 0), f3 = mt_float(st, -0.0, 0);
	cr_expect_eq(f1, f2);
	cr_expect_neq(f1, f3);
	double d;
	cr_expect(mt_float_value(st, f1, &d));
	cr_expect_eq(d, 2.5);
	mt_term s1 = mt_string(st, "a\0b", 3, 0), s2 = mt_string(st, "a\0b", 3, 0);
	mt_term s3 = mt_string(st, "a", 1, 0);
	cr_expect_eq(s1, s2);
	cr_expect_neq(s1, s3);
	size_t len;
	cr_expect_eq(memcmp(mt_str_value(st, s1, &len), "a\0b", 3), 0);
	cr_expect_eq(len, 3);
	cr_expect_null(mt_str_value(st, f1, &len));
	cr_expect_eq(mt_store_box_count(st), 4);
	mt_store_free(st);
}

Test(store, scratch_terms_persist_to_the_hash_consed_equal)
{
	struct mt_store *st = mt_store_new();
	mt_term f = sym(st, "f"), a = sym(st, "a");
	mt_term pe = mt_expr(st, (mt_term[]){f, a, mt_var(0)}, 3);
	struct mt_scratch_mark m = mt_scratch_mark(st);
	mt_term ts = mt_string(st, "hello", 5, 1);
	mt_term te = mt_texpr(st, (mt_term[]){f, a, mt_var(0)}, 3);
	mt_term outer = mt_texpr(st, (mt_term[]){te, ts, pe}, 3);
	cr_expect_eq(mt_tag(te), MT_TEXPR);
	cr_expect(mt_term_equal(st, te, pe));
	cr_expect(!mt_is_ground(st, te));
	cr_expect_eq(mt_term_find(st, te), pe);
	cr_expect_eq(mt_term_find(st, outer), MT_NONE, "find never creates");
	size_t before = mt_store_expr_count(st);
	mt_term po = mt_term_persist(st, outer);
	cr_expect_eq(mt_tag(po), MT_EXPR);
	cr_expect_eq(mt_store_expr_count(st), before + 1);
	cr_expect_eq(mt_expr_args(st, po)[0], pe);
	cr_expect_eq(mt_expr_args(st, po)[2], pe);
	cr_expect(mt_term_equal(st, po, outer));
	cr_expect_eq(mt_term_find(st, outer), po);
	mt_scratch_release(st, m);
	struct mt_scratch_mark m2 = mt_scratch_mark(st);
	cr_expect_eq(m2.words, m.words);
	cr_expect_eq(m2.boxes, m.boxes);
	cr_expect_eq(m2.bytes, m.bytes);
	char *p = print_term(st, po, NULL);
	cr_expect_str_eq(p, "((f a $_0) \"hello\" (f a $_0))");
	free(p);
	mt_store_free(st);
}

Test(store, persistent_constructor_refuses_scratch_children)
{
	struct mt_store *st = mt_store_new();
	mt_term te = mt_texpr(st, (mt_term[]){sym(st, "x")}, 1);
	cr_expect_eq(mt_expr(st, (mt_term[]){te}, 1), MT_NONE);
	mt_store_free(st);
}

Test(store, printer_writes_canonical_hyperon_like_text)
{
	struct mt_store *st = mt_store_new();
	struct {
		const char *in, *out;
	} cases[] = {
	    {"(succ zero)", "(succ zero)"},
	    {"\"text\"", "\"text\""},
	    {"3.5", "3.5"},
	    {"3.0", "3.0"},
	    {"1e3", "1000.0"},
	    {"1e300", "1e+300"},
	    {"0.1", "0.1"},
	    {"-2.0e-7", "-2e-07"},
	    {"$x", "$x"},
	    {"()", "()"},
	    {"(f () (g))", "(f () (g))"},
	    {"\"q\\\"\\\\\\n\\t\\r\\0\\x01\\x7f\"", "\"q\\\"\\\\\\n\\t\\r\\0\\x01\\x7f\""},
	    {"\"\\xff\\u{e9}\"", "\"\\xff\xc3\xa9\""},
	    {"+7", "7"},
	    {"-9223372036854775808", "-9223372036854775808"},
	    {"(= (f $x $y) (g $y $x))", "(= (f $x $y) (g $y $x))"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		mt_term t;
		struct kb_error err;
		cr_assert_eq(mt_parse_one(st, cases[i].in, strlen(cases[i].in), &t, &err), 0, "%s",
			     err.msg);
		/* names of the variables, in first-occurrence order */
		uint32_t names[2] = {mt_sym_intern(st, "x", 1), mt_sym_intern(st, "y", 1)};
		struct mt_varnames vn = {2, names};
		char *p = print_term(st, t, &vn);
		cr_expect_str_eq(p, cases[i].out, "printing %s", cases[i].in);
		mt_term back;
		cr_expect_eq(mt_parse_one(st, p, strlen(p), &back, &err), 0, "%s", err.msg);
		cr_expect_eq(back, t, "%s reads back to the same term", p);
		free(p);
	}
	mt_store_free(st);
}

Test(store, unnamed_variables_print_as_numbered)
{
	struct mt_store *st = mt_store_new();
	mt_term t = mt_expr(st, (mt_term[]){sym(st, "f"), mt_var(0), mt_var(12)}, 3);
	uint32_t names[1] = {mt_sym_intern(st, "a", 1)};
	struct mt_varnames vn = {1, names};
	char *p = print_term(st, t, &vn);
	cr_expect_str_eq(p, "(f $a $_12)");
	free(p);
	mt_store_free(st);
}

/* ---- random round trips ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64: a fixed seed makes every run the same */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A random term; variables are numbered in first-occurrence order (as the
 * parser numbers them), *nvars counts them. */
static mt_term random_term(struct mt_store *st, int depth, uint32_t *nvars)
{
	static const char *const syms[] = {"a",  "foo", "=",  "->",  "+",        "&self", "not-eq",
					   "1+", "-",   "1.", "x.y", "\xc3\xa9", "!",     "Nat"};
	unsigned k = (unsigned)(rnd() % (depth > 0 ? 9 : 6));
	switch (k) {
	case 0:
		return sym(st, syms[rnd() % (sizeof syms / sizeof *syms)]);
	case 1: {
		uint32_t n = *nvars && rnd() % 2 ? (uint32_t)(rnd() % *nvars) : (*nvars)++;
		return mt_var(n);
	}
	case 2: {
		int64_t v = (int64_t)rnd();
		if (rnd() % 2)
			v %= 1000;
		return mt_int(st, v, 0);
	}
	case 3: {
		double d;
		do {
			uint64_t bits = rnd();
			memcpy(&d, &bits, sizeof d);
			if (rnd() % 2)
				d = (double)(int64_t)(rnd() % 2000 - 1000) / 8;
		} while (!isfinite(d));
		return mt_float(st, d, 0);
	}
	case 4: {
		char s[16];
		size_t len = rnd() % sizeof s;
		for (size_t i = 0; i < len; i++)
			s[i] = (char)(rnd() % 3 ? 'a' + rnd() % 26 : rnd() % 256);
		return mt_string(st, s, len, 0);
	}
	case 5:
		return mt_expr(st, NULL, 0);
	default: {
		mt_term args[6];
		uint32_t n = 1 + (uint32_t)(rnd() % 5);
		for (uint32_t i = 0; i < n; i++)
			args[i] = random_term(st, depth - 1, nvars);
		return mt_expr(st, args, n);
	}
	}
}

Test(store, print_parse_round_trips_on_random_terms)
{
	struct mt_store *st = mt_store_new();
	rng_state = 20240601;
	for (int i = 0; i < 3000; i++) {
		uint32_t nvars = 0;
		mt_term t = random_term(st, 6, &nvars);
		cr_assert_neq(t, MT_NONE);
		if (t == sym(st, "!"))
			continue; /* a lone top-level '!' is the evaluation mark */
		char *p = print_term(st, t, NULL);
		mt_term back;
		struct kb_error err;
		int rc = mt_parse_one(st, p, strlen(p), &back, &err);
		cr_assert_eq(rc, 0, "term %d: %s: %s", i, p, err.msg);
		cr_assert_eq(back, t, "term %d does not read back: %s", i, p);
		free(p);
	}
	mt_store_free(st);
}

Test(store, deep_terms_persist_compare_and_print_without_recursion)
{
	struct mt_store *st = mt_store_new();
	mt_term f = sym(st, "f");
	mt_term p = f, s = f;
	for (int i = 0; i < 200000; i++) {
		p = mt_expr(st, (mt_term[]){f, p}, 2);
		s = mt_texpr(st, (mt_term[]){f, s}, 2);
	}
	cr_expect(mt_term_equal(st, s, p));
	cr_expect_eq(mt_term_find(st, s), p);
	cr_expect_eq(mt_term_persist(st, s), p);
	struct kb_buf b = {0};
	mt_print(st, p, NULL, &b);
	cr_expect_eq(b.len, 200000 * 4 + 1);
	kb_buf_free(&b);
	mt_store_free(st);
}

/* ---- big blocks (core/mem.h) ---- */

#include "core/mem.h"

#include <errno.h>
#include <stdio.h>

/* The mapping of this process that holds an address (smaps): its bounds,
 * whether it asks for huge pages (VmFlags "hg"), and the kilobytes of
 * anonymous memory resident in it ("Anonymous"; the shared zero page does
 * not count). */
struct mapping {
	uintptr_t lo, hi;
	int huge;
	long anon_kb;
};

/* 0 if the mapping holding p was found. */
static int mapping_of(const void *p, struct mapping *m)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	cr_assert_not_null(f);
	char line[512];
	int in = 0, found = -1;
	uintptr_t a = (uintptr_t)p;
	while (fgets(line, sizeof line, f)) {
		unsigned long s, e;
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 &&
		    strchr(line, ' ') > strchr(line, '-')) {
			in = a >= s && a < e;
			if (in)
				*m = (struct mapping){s, e, 0, -1};
		} else if (in && sscanf(line, "Anonymous: %ld kB", &m->anon_kb) == 1) {
			continue;
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			m->huge = strstr(line, " hg") != NULL;
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

static void fill_words(uint32_t *a, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		a[i] = (uint32_t)(i * 2654435761u);
}

static void check_words(const uint32_t *a, size_t n)
{
	for (size_t i = 0; i < n; i += 4093)
		cr_assert_eq(a[i], (uint32_t)(i * 2654435761u), "word %zu", i);
	cr_assert_eq(a[n - 1], (uint32_t)((n - 1) * 2654435761u));
}

/* A growing block must stay one mapping: mremap before Linux 6.17 moves
 * only a range inside one mapping, so a block split in two (a moved front
 * and a fresh tail with other advice) could not grow again. */
static void grows_as_one_mapping(int fill)
{
	uint32_t *a = NULL;
	size_t cap = 0, n = 0;
	static const size_t steps[] = {300000, 3000000, 6000000, 20000000};
	for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
		int rc = fill ? mt_grow_fill((void **)&a, &cap, steps[k], 4, SIZE_MAX / 4)
			      : mt_grow((void **)&a, &cap, steps[k], 4, SIZE_MAX / 4);
		cr_assert_eq(rc, 0);
		if (!mt_block_of(a)->mapped) {
			mt_array_free(a);
			cr_skip_test("blocks are malloc'd in this build (KBPROF_ARENA_DEBUG)");
		}
		fill_words(a, n, steps[k]);
		n = steps[k];
		check_words(a, n);
		struct mapping m;
		cr_assert_eq(mapping_of(a, &m), 0);
		struct mt_block *b = mt_block_of(a);
		cr_expect(m.lo <= (uintptr_t)b && (uintptr_t)b + b->mapped <= m.hi,
			  "a block of %zu bytes is one mapping", b->mapped);
		cr_expect_eq(m.huge, mt_wants_huge(b->mapped, fill), "%zu bytes, fill %d: huge %d",
			     b->mapped, fill, m.huge);
	}
	mt_array_free(a);
}

Test(mem, a_growing_block_stays_one_mapping)
{
	grows_as_one_mapping(0);
}

Test(mem, a_fill_block_asks_for_huge_pages_only_when_big)
{
	cr_expect(!mt_wants_huge(16u << 20, 1));
	cr_expect(mt_wants_huge(64u << 20, 1));
	cr_expect(mt_wants_huge(16u << 20, 0));
	grows_as_one_mapping(1);
}

/* A hash table's slots are read (probed) before they are written: its
 * pages must be resident and writable from the start, or each read maps
 * the zero page and each first write faults again, flushing the other
 * CPUs' TLBs (mt_populate). */
Test(mem, a_hash_table_is_resident_and_writable_from_the_start)
{
	enum { SLOTS = 1 << 18 }; /* 1 MiB: below the huge-page size */
	uint32_t *t = mt_table_new(SLOTS, sizeof *t);
	cr_assert_not_null(t);
	struct mt_block *b = mt_block_of(t);
	if (!b->mapped) {
		mt_array_free(t);
		cr_skip_test("blocks are malloc'd in this build (KBPROF_ARENA_DEBUG)");
	}
	if (madvise(b, 4096, MADV_POPULATE_WRITE) != 0) {
		int e = errno;
		mt_array_free(t);
		cr_skip_test("this kernel cannot populate a mapping: %s", strerror(e));
	}
	struct mapping m;
	cr_assert_eq(mapping_of(t, &m), 0);
	cr_expect_eq(m.anon_kb, (long)(b->mapped / 1024), "%ld kB of %zu resident", m.anon_kb,
		     b->mapped / 1024);
	for (size_t i = 0; i < SLOTS; i += 997)
		cr_assert_eq(t[i], 0u, "slot %zu", i);
	mt_array_free(t);
}

/* ---- the expression hash (core/store_impl.h) ---- */

#include "core/store_impl.h"

/* The most keys of `n` that share a home slot of a table of n slots. */
static unsigned worst_home(const uint64_t *h, uint32_t n)
{
	unsigned *load = calloc(n, sizeof *load), worst = 0;
	cr_assert_not_null(load);
	for (uint32_t i = 0; i < n; i++) {
		unsigned l = ++load[mt_slot_home(h[i], n)];
		worst = l > worst ? l : worst;
	}
	free(load);
	return worst;
}

/* The table's home slot takes the hash's low 32 bits and its 3-bit tag the
 * top 3: keys that differ in any one child only, by a small step (a run of
 * symbol ids, a run of heap offsets), must spread over both. With n keys in
 * n slots a random hash puts at most about 9 in one slot. */
Test(store, expression_hashes_spread_keys_that_differ_in_one_child)
{
	enum { N = 1 << 16 };
	uint64_t *h = malloc(N * sizeof *h);
	cr_assert_not_null(h);
	for (uint32_t arity = 1; arity <= 7; arity++) {
		for (uint32_t pos = 0; pos < arity; pos++) {
			unsigned tags[8] = {0};
			for (uint32_t i = 0; i < N; i++) {
				mt_term args[7];
				for (uint32_t k = 0; k < arity; k++)
					args[k] = mt_sym(100 + k);
				args[pos] = mt_make(MT_EXPR, 4000 + i * 3);
				h[i] = mt_expr_hash(arity | MT_HDR_GROUND, args, arity);
				tags[h[i] >> 61]++;
			}
			unsigned w = worst_home(h, N);
			cr_expect_leq(w, 12u, "arity %u, child %u varies: %u keys in one slot",
				      arity, pos, w);
			for (int t = 0; t < 8; t++)
				cr_expect(tags[t] > N / 8 * 9 / 10 && tags[t] < N / 8 * 11 / 10,
					  "arity %u, child %u: tag %d on %u of %u keys", arity, pos,
					  t, tags[t], N);
		}
	}
	/* the header counts: the same children, ground or not, differ */
	mt_term two[2] = {mt_sym(7), mt_sym(8)};
	cr_expect_neq(mt_expr_hash(2 | MT_HDR_GROUND, two, 2), mt_expr_hash(2, two, 2));
	free(h);
}

/* The insertion looks at four slots at once where it can (mt_empty4):
 * it must still take the first free slot from the home, in order and
 * wrapping at the end, as a one-by-one probe does. Every home of small
 * tables, with random occupancy, against that probe. */
Test(store, a_table_insertion_takes_the_first_free_slot_from_its_home)
{
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	static const uint32_t sizes[] = {1, 3, 4, 5, 7, 8, 9, 64, 67};
	for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
		uint32_t n = sizes[z];
		for (int round = 0; round < 200; round++) {
			uint32_t hc[80], want[80];
			uint32_t used = 0;
			for (uint32_t i = 0; i < n; i++) {
				rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
				/* from empty to all but one slot full, as rounds go */
				hc[i] = (rng >> 33) % 200 < (uint64_t)round ? 8u << MT_TAG_BITS : 0;
				used += hc[i] != 0;
			}
			if (used == n)
				hc[(uint32_t)(rng >> 40) % n] = 0;
			/* a hash for each home in turn */
			for (uint32_t home = 0; home < n; home++) {
				uint64_t h = ((uint64_t)home << 32) / n + 1;
				while (mt_slot_home(h, n) != home)
					h++;
				h |= (uint64_t)(round & 7) << 61;
				memcpy(want, hc, n * sizeof *hc);
				uint32_t i = home;
				while (want[i])
					i = i + 1 == n ? 0 : i + 1;
				want[i] = (77u << MT_TAG_BITS) | MT_HC_TAG(h);
				uint32_t got[80];
				memcpy(got, hc, n * sizeof *hc);
				mt_hc_insert(got, n, h, 77);
				cr_assert_arr_eq(got, want, n * sizeof *got,
						 "%u slots, home %u, round %d", n, home, round);
			}
		}
	}
}

/* A base that holds the well-known symbols (their names from a store that
 * has only those) and claims `count` ids in all, finding none of the
 * others: the symbols interned above it get ids count, count + 1, ... */
struct fake_base {
	struct mt_store *wk;
	uint32_t count;
};

static const char *fake_name(void *ctx, uint32_t id, size_t *len)
{
	const struct fake_base *fb = ctx;
	if (id < MT_S__COUNT)
		return mt_sym_name(fb->wk, id, len);
	*len = 0;
	return "";
}

static uint32_t fake_find(void *ctx, const char *name, size_t len, uint64_t hash)
{
	(void)hash;
	const struct fake_base *fb = ctx;
	uint32_t id = mt_sym_find(fb->wk, name, len);
	return id < MT_S__COUNT ? id : UINT32_MAX;
}

/* The slots keep as many hash bits as the ids leave free: 22 for a fresh
 * table, 3 when ids reach 2^28 and more. Interning and finding must give
 * the same ids at every width and across the growths that change it. */
static void interns_above_a_base(uint32_t base_count)
{
	struct fake_base fb = {mt_store_new(), base_count};
	cr_assert_not_null(fb.wk);
	struct mt_symtab t;
	cr_assert_eq(mt_symtab_init(&t), 0);
	for (uint32_t id = 0; id < MT_S__COUNT; id++) {
		size_t len;
		const char *n = mt_sym_name(fb.wk, id, &len);
		int created;
		cr_assert_eq(mt_symtab_intern(&t, n, len, mt_symtab_hash(n, len), &created), id);
	}
	struct mt_symtab_base b = {base_count, &fb, fake_name, fake_find};
	cr_assert_eq(mt_symtab_set_base(&t, &b), 0);
	cr_expect_geq(t.tag_bits, 3u);
	cr_expect_leq(t.tag_bits, 31u);
	enum { N = 30000 };
	char name[32];
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < N; i++) {
			int k = snprintf(name, sizeof name, "s%u", i);
			uint64_t h = mt_symtab_hash(name, (size_t)k);
			int created;
			uint32_t id = mt_symtab_intern(&t, name, (size_t)k, h, &created);
			cr_assert_eq(id, base_count + i, "base %u, %s: id %u", base_count, name,
				     id);
			cr_assert_eq(created, pass == 0);
			cr_assert_eq(mt_symtab_find(&t, name, (size_t)k, h), id);
		}
	}
	cr_expect_eq(mt_symtab_find(&t, "absent", 6, mt_symtab_hash("absent", 6)), UINT32_MAX);
	size_t len;
	const char *s123 = mt_symtab_name(&t, base_count + 123, &len);
	cr_expect(len == 4 && memcmp(s123, "s123", 4) == 0);
	mt_symtab_free(&t);
	mt_store_free(fb.wk);
}

Test(symtab, interns_above_bases_of_any_size)
{
	interns_above_a_base(MT_S__COUNT);
	interns_above_a_base(1u << 20);
	interns_above_a_base(1u << 28);
	interns_above_a_base(MT_SYMTAB_MAX_IDS - 40000);
}
