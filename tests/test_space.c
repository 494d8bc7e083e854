/* Tests of the knowledge base (core/space): multiplicities, tombstones,
 * insertion order, and the rule, first-argument and atom indexes
 * (candidate counts, and no full scan when the head is ground). */
#include "core/parse.h"
#include "core/space.h"
#include "core/unify.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* 1 if symbol id's name is s (names are not NUL-terminated). */
static int name_is(const struct mt_store *st, uint32_t id, const char *s)
{
	size_t len;
	const char *n = mt_sym_name(st, id, &len);
	return n && len == strlen(s) && memcmp(n, s, len) == 0;
}

static mt_term atom_of(struct mt_store *st, const char *text)
{
	mt_term t;
	struct kb_error err;
	cr_assert_eq(mt_parse_one(st, text, strlen(text), &t, &err), 0, "%s", err.msg);
	return t;
}

static int add_cb(void *ctx, mt_term atom, int bang, const struct mt_varnames *names,
		  struct mt_srcpos where)
{
	struct kb_error err;
	cr_assert_geq(mt_space_add(ctx, atom, names, &err), 0, "%s", err.msg);
	return 0;
}

static void load(struct mt_space *sp, const char *text)
{
	struct kb_error err;
	cr_assert_eq(
	    mt_parse_buffer(mt_space_store(sp), text, strlen(text), NULL, add_cb, sp, &err), 0,
	    "%s", err.msg);
}

/* Collects the candidate entries of an iterator. */
static size_t drain(struct mt_space_iter *it, uint32_t *out, size_t cap)
{
	size_t n = 0;
	uint32_t e;
	while (mt_space_next(it, &e)) {
		if (n < cap)
			out[n] = e;
		n++;
	}
	return n;
}

static size_t rule_candidates(struct mt_space *sp, mt_term call, uint32_t *out, size_t cap,
			      int *full)
{
	struct mt_space_iter it;
	mt_space_rules_begin(sp, call, &it);
	*full = it.full_scan;
	return drain(&it, out, cap);
}

static size_t atom_candidates(struct mt_space *sp, mt_term pat, uint32_t *out, size_t cap,
			      int *full)
{
	struct mt_space_iter it;
	mt_space_atoms_begin(sp, pat, &it);
	*full = it.full_scan;
	return drain(&it, out, cap);
}

Test(space, counts_multiplicity_and_keeps_insertion_order)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = mt_space_new(st);
	load(sp, "(a 1) (b 2) (a 1) (c $x) (c $y) (= (f) 1)");
	cr_expect_eq(mt_space_entries(sp), 4);
	cr_expect_eq(mt_space_size(sp), 6);
	cr_expect_eq(mt_space_distinct(sp), 4);
	cr_expect_eq(mt_space_rules(sp), 1);
	cr_expect_eq(mt_space_atom(sp, 0), atom_of(st, "(a 1)"));
	cr_expect_eq(mt_space_atom(sp, 2), atom_of(st, "(c $z)"));
	cr_expect_eq(mt_space_multiplicity(sp, 0), 2);
	cr_expect_eq(mt_space_multiplicity(sp, 2), 2, "alpha-equivalent atoms are one entry");
	cr_expect_eq(mt_space_count(sp, atom_of(st, "(a 1)")), 2);
	cr_expect_eq(mt_space_count(sp, atom_of(st, "(a 2)")), 0);
	const struct mt_varnames *vn = mt_space_varnames(sp, 2);
	cr_assert_not_null(vn);
	cr_expect_eq(vn->count, 1);
	cr_expect(name_is(st, vn->names[0], "x"), "first names are kept");
	cr_expect_null(mt_space_varnames(sp, 0));
	mt_space_free(sp);
	mt_store_free(st);
}

Test(space, removing_the_last_copy_leaves_a_tombstone)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = mt_space_new(st);
	load(sp, "(a) (b) (a) (= (g) 2)");
	mt_term a = atom_of(st, "(a)");
	cr_expect_eq(mt_space_remove(sp, a), 1);
	cr_expect_eq(mt_space_count(sp, a), 1);
	cr_expect_eq(mt_space_remove(sp, a), 1);
	cr_expect_eq(mt_space_count(sp, a), 0);
	cr_expect_eq(mt_space_remove(sp, a), 0);
	cr_expect_eq(mt_space_remove(sp, atom_of(st, "(zzz)")), 0);
	cr_expect_eq(mt_space_entries(sp), 3);
	cr_expect_eq(mt_space_multiplicity(sp, 0), 0);
	cr_expect_eq(mt_space_size(sp), 2);
	cr_expect_eq(mt_space_distinct(sp), 2);
	cr_expect_eq(mt_space_remove(sp, atom_of(st, "(= (g) 2)")), 1);
	cr_expect_eq(mt_space_rules(sp), 0);
	/* iteration skips tombstones; re-adding appends a new entry */
	uint32_t got[8];
	int full;
	cr_expect_eq(atom_candidates(sp, mt_var(0), got, 8, &full), 1);
	cr_expect_eq(got[0], 1);
	struct kb_error err;
	cr_expect_eq(mt_space_add(sp, a, NULL, &err), 3);
	cr_expect_eq(mt_space_count(sp, a), 1);
	cr_expect_eq(atom_candidates(sp, atom_of(st, "(a)"), got, 8, &full), 1);
	cr_expect_eq(got[0], 3);
	mt_space_free(sp);
	mt_store_free(st);
}

Test(space, refuses_scratch_atoms)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = mt_space_new(st);
	mt_term t = mt_texpr(st, (mt_term[]){mt_sym(MT_S_TRUE)}, 1);
	struct kb_error err;
	cr_expect_eq(mt_space_add(sp, t, NULL, &err), -1);
	cr_expect_not_null(strstr(err.msg, "scratch"));
	mt_space_free(sp);
	mt_store_free(st);
}

Test(space, rule_lookup_uses_head_and_arity)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = mt_space_new(st);
	load(sp, "(= (add zero $x) $x)\n"
		 "(= (add (succ $x) $y) (succ (add $x $y)))\n"
		 "(= (add $x) $x)\n"
		 "(= (mul zero $x) zero)\n"
		 "(= ($op 1 1) 2)\n"
		 "(= top 1)\n"
		 "(add zero zero)\n");
	uint32_t got[16];
	int full;
	size_t n = rule_candidates(sp, atom_of(st, "(add zero (succ zero))"), got, 16, &full);
	cr_expect(!full);
	cr_assert_eq(n, 3, "two add/3 rules and the variable-head rule");
	cr_expect_eq(got[0], 0);
	cr_expect_eq(got[1], 1);
	cr_expect_eq(got[2], 4);
	n = rule_candidates(sp, atom_of(st, "(add 5)"), got, 16, &full);
	cr_expect_eq(n, 2, "n=%zu", n);
	cr_expect_eq(got[0], 2);
	n = rule_candidates(sp, atom_of(st, "top"), got, 16, &full);
	cr_expect_eq(n, 2, "a symbol LHS is arity 0 of the symbol");
	cr_expect_eq(got[0], 4);
	cr_expect_eq(got[1], 5);
	n = rule_candidates(sp, atom_of(st, "(nosuch 1 1)"), got, 16, &full);
	cr_expect_eq(n, 1);
	cr_expect_eq(got[0], 4);
	n = rule_candidates(sp, atom_of(st, "($f zero $y)"), got, 16, &full);
	cr_expect_eq(n, 6, "a call with a variable head sees every rule");
	mt_space_free(sp);
	mt_store_free(st);
}

Test(space, rule_lookup_accepts_scratch_calls)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = mt_space_new(st);
	load(sp, "(= (f (g a)) 1) (= (h x) 2)");
	mt_term g = mt_sym(mt_sym_intern(st, "g", 1)), a = mt_sym(mt_sym_intern(st, "a", 1));
	mt_term f = mt_sym(mt_sym_intern(st, "f", 1));
	mt_term ga = mt_texpr(st, (mt_term[]){g, a}, 2);
	mt_term call = mt_texpr(st, (mt_term[]){f, ga}, 2);
	uint32_t got[4];
	int full;
	cr_expect_eq(rule_candidates(sp, call, got, 4, &full), 1);
	cr_expect_eq(got[0], 0);
	/* a scratch head that the store has never seen: no candidates */
	mt_term unseen = mt_texpr(st, (mt_term[]){a, a, a}, 3);
	mt_term call2 = mt_texpr(st, (mt_term[]){unseen, a}, 2);
	cr_expect_eq(rule_candidates(sp, call2, got, 4, &full), 0);
	cr_expect(!full);
	mt_space_free(sp);
	mt_store_free(st);
}

Test(space, first_argument_index_narrows_large_rule_sets)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = mt_space_new(st);
	struct kb_buf b = {0};
	for (int i = 0; i < 1000; i++)
		kb_buf_printf(&b, "(= (fact %d) %d)\n", i, i * 2);
	kb_buf_puts(&b, "(= (fact $n) (other $n))\n(= (fact (pair $a $b)) $a)\n(= (fact 7 8) x)\n");
	load(sp, b.data);
	kb_buf_free(&b);
	uint32_t got[8];
	int full;
	size_t n = rule_candidates(sp, atom_of(st, "(fact 500)"), got, 8, &full);
	cr_expect(!full);
	cr_assert_eq(n, 3, "the rule for 500 and the two with a non-ground first argument");
	cr_expect_eq(got[0], 500);
	cr_expect_eq(got[1], 1000);
	cr_expect_eq(got[2], 1001);
	n = rule_candidates(sp, atom_of(st, "(fact $k)"), got, 8, &full);
	cr_expect_eq(n, 1002, "a variable first argument sees the whole key");
	n = rule_candidates(sp, atom_of(st, "(fact 5000)"), got, 8, &full);
	cr_expect_eq(n, 2, "n=%zu", n);
	/* rules added after the index exists join it */
	load(sp, "(= (fact 500) again)");
	n = rule_candidates(sp, atom_of(st, "(fact 500)"), got, 8, &full);
	cr_expect_eq(n, 4);
	cr_expect_eq(got[3], 1003);
	mt_space_free(sp);
	mt_store_free(st);
}

Test(space, atom_lookup_never_scans_when_the_head_is_ground)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = mt_space_new(st);
	struct kb_buf b = {0};
	for (int i = 0; i < 5000; i++)
		kb_buf_printf(&b, "(edge%d a%d b)\n(node%d)\nsym%d\n", i % 100, i, i, i);
	kb_buf_puts(&b, "($v a b)\n$w\n(\"str\" 1)\n((f x) y)\n(((g $q)) z)\n");
	load(sp, b.data);
	kb_buf_free(&b);
	uint32_t got[64];
	int full;
	/* three wild atoms match any pattern: ($v a b), $w and (((g $q)) z) */
	size_t n = atom_candidates(sp, atom_of(st, "(edge7 $x $y)"), got, 64, &full);
	cr_expect(!full);
	cr_expect_eq(n, 53, "50 edge7 atoms and the 3 wild ones, not %zu", n);
	n = atom_candidates(sp, atom_of(st, "(node42)"), got, 64, &full);
	cr_expect(!full);
	cr_expect_eq(n, 4, "n=%zu", n);
	n = atom_candidates(sp, atom_of(st, "sym42"), got, 64, &full);
	cr_expect(!full);
	cr_expect_eq(n, 4, "n=%zu", n);
	n = atom_candidates(sp, atom_of(st, "(\"str\" $k)"), got, 64, &full);
	cr_expect_eq(n, 4, "n=%zu", n);
	n = atom_candidates(sp, atom_of(st, "((f x) $k)"), got, 64, &full);
	cr_expect_eq(n, 4, "n=%zu", n);
	n = atom_candidates(sp, atom_of(st, "(((g 1)) z)"), got, 64, &full);
	cr_expect(!full);
	cr_expect_eq(n, 3, "a head the store has never seen: only the wild atoms");
	n = atom_candidates(sp, atom_of(st, "($h a b)"), got, 64, &full);
	cr_expect(full, "only a variable head scans");
	cr_expect_eq(n, 15005);
	mt_space_free(sp);
	mt_store_free(st);
}

Test(space, multiplicity_counts_past_what_fits_beside_the_names)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = mt_space_new(st);
	load(sp, "(b) (p $x)");
	mt_term p = atom_of(st, "(p $y)");
	struct kb_error err;
	for (int i = 1; i < 300; i++)
		cr_assert_eq(mt_space_add(sp, p, NULL, &err), 1, "%s", err.msg);
	cr_expect_eq(mt_space_count(sp, p), 300);
	cr_expect_eq(mt_space_multiplicity(sp, 1), 300);
	cr_expect_eq(mt_space_size(sp), 301);
	for (int i = 0; i < 50; i++)
		cr_assert_eq(mt_space_remove(sp, p), 1);
	cr_expect_eq(mt_space_multiplicity(sp, 1), 250);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(mt_space_add(sp, p, NULL, &err), 1, "%s", err.msg);
	cr_expect_eq(mt_space_count(sp, p), 260);
	const struct mt_varnames *vn = mt_space_varnames(sp, 1);
	cr_assert_not_null(vn, "the names stay beside a large multiplicity");
	cr_expect(name_is(st, vn->names[0], "x"));
	uint32_t got[4];
	int full;
	cr_expect_eq(atom_candidates(sp, atom_of(st, "(p 1)"), got, 4, &full), 1);
	for (int i = 0; i < 260; i++)
		cr_assert_eq(mt_space_remove(sp, p), 1);
	cr_expect_eq(mt_space_remove(sp, p), 0);
	cr_expect_eq(mt_space_multiplicity(sp, 1), 0);
	cr_expect_eq(atom_candidates(sp, atom_of(st, "(p 1)"), got, 4, &full), 0);
	cr_expect_eq(mt_space_add(sp, p, NULL, &err), 2, "a tombstone is not revived");
	mt_space_free(sp);
	mt_store_free(st);
}

Test(space, match_on_equals_reads_rules_in_insertion_order)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = mt_space_new(st);
	load(sp, "(= (f 1) a)\n"  /* 0 */
		 "(g 1)\n"        /* 1 */
		 "(= ($h 1) b)\n" /* 2: rule-wild */
		 "($v x y)\n"     /* 3: atom-wild */
		 "(= (g 2) c)\n"  /* 4 */
		 "(= x y z)\n"    /* 5: not a rule, key (=, 4) */
		 "(= (f 2) d)\n"  /* 6 */
		 "(= x)\n");      /* 7: not a rule, key (=, 2) */
	uint32_t got[16];
	int full;
	size_t n = atom_candidates(sp, atom_of(st, "(= (f $a) $r)"), got, 16, &full);
	cr_expect(!full, "a ground head of L reads its rule key");
	cr_assert_eq(n, 4, "n=%zu", n);
	cr_expect_eq(got[0], 0);
	cr_expect_eq(got[1], 2);
	cr_expect_eq(got[2], 3);
	cr_expect_eq(got[3], 6);
	n = atom_candidates(sp, atom_of(st, "(= (nosuch) $r)"), got, 16, &full);
	cr_assert_eq(n, 2, "n=%zu", n);
	cr_expect_eq(got[0], 2);
	cr_expect_eq(got[1], 3);
	n = atom_candidates(sp, atom_of(st, "(= $a $b)"), got, 16, &full);
	cr_assert_eq(n, 5, "every rule and the wild atom, n=%zu", n);
	cr_expect_eq(got[0], 0);
	cr_expect_eq(got[1], 2);
	cr_expect_eq(got[2], 3);
	cr_expect_eq(got[3], 4);
	cr_expect_eq(got[4], 6);
	n = atom_candidates(sp, atom_of(st, "(= $a $b $c)"), got, 16, &full);
	cr_assert_eq(n, 2);
	cr_expect_eq(got[0], 3);
	cr_expect_eq(got[1], 5);
	/* removed rules are skipped by the scan as by the chains */
	cr_expect_eq(mt_space_remove(sp, atom_of(st, "(= (g 2) c)")), 1);
	n = rule_candidates(sp, atom_of(st, "($any 1)"), got, 16, &full);
	cr_assert_eq(n, 3, "a call with a variable head: every live rule, n=%zu", n);
	cr_expect_eq(got[0], 0);
	cr_expect_eq(got[1], 2);
	cr_expect_eq(got[2], 6);
	mt_space_free(sp);
	mt_store_free(st);
}

Test(space, rule_keys_outlive_the_removal_of_their_rules)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = mt_space_new(st);
	load(sp, "(= (f 1) a) (= (f 2) b) (= (f 1 2) c) (= f d)");
	cr_expect_eq(mt_space_remove(sp, atom_of(st, "(= (f 1) a)")), 1);
	cr_expect_eq(mt_space_remove(sp, atom_of(st, "(= (f 2) b)")), 1);
	cr_expect_eq(mt_space_remove(sp, atom_of(st, "(= (f 1 2) c)")), 1);
	uint32_t got[4];
	int full;
	cr_expect_eq(rule_candidates(sp, atom_of(st, "(f 1)"), got, 4, &full), 0);
	cr_expect_eq(rule_candidates(sp, atom_of(st, "(f 1 2)"), got, 4, &full), 0);
	load(sp, "(= (f 3) e) (= (f $x $y) g)");
	size_t n = rule_candidates(sp, atom_of(st, "(f 1)"), got, 4, &full);
	cr_assert_eq(n, 1);
	cr_expect_eq(got[0], 4);
	n = rule_candidates(sp, atom_of(st, "(f 1 2)"), got, 4, &full);
	cr_assert_eq(n, 1);
	cr_expect_eq(got[0], 5);
	n = rule_candidates(sp, atom_of(st, "f"), got, 4, &full);
	cr_assert_eq(n, 1);
	cr_expect_eq(got[0], 3);
	mt_space_free(sp);
	mt_store_free(st);
}

Test(space, keys_other_than_a_symbols_first_arity_survive_table_growth)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = mt_space_new(st);
	struct kb_buf b = {0};
	for (int i = 0; i < 3000; i++)
		kb_buf_printf(&b, "(= (%d $x) n%d)\n(= (k %d $x) m%d)\n", i, i, i, i);
	load(sp, b.data);
	kb_buf_free(&b);
	cr_expect_eq(mt_space_rules(sp), 6000);
	uint32_t got[4];
	int full;
	for (int i = 0; i < 3000; i += 7) {
		char call[64];
		snprintf(call, sizeof call, "(%d 5)", i);
		cr_assert_eq(rule_candidates(sp, atom_of(st, call), got, 4, &full), 1, "%s", call);
		cr_expect_eq(got[0], (uint32_t)(2 * i));
	}
	size_t n = rule_candidates(sp, atom_of(st, "(k 2999 1)"), got, 4, &full);
	cr_assert_eq(n, 1, "n=%zu", n);
	cr_expect_eq(got[0], 5999);
	mt_space_free(sp);
	mt_store_free(st);
}

Test(space, name_lists_past_what_fits_beside_the_multiplicity)
{
	/* 9000 distinct name lists: past the 8190 the meta word holds, the
	 * rest go to the side table, and every entry keeps its own */
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = mt_space_new(st);
	struct kb_buf text = {0};
	for (int i = 0; i < 9000; i++)
		kb_buf_printf(&text, "(q%d $v%d)\n", i, i);
	cr_assert(!text.oom);
	load(sp, text.data);
	free(text.data);
	cr_assert_eq(mt_space_size(sp), 9000);
	for (uint32_t e = 0; e < 9000; e += 997) {
		const struct mt_varnames *vn = mt_space_varnames(sp, e);
		cr_assert_not_null(vn, "entry %u", e);
		char want[16];
		snprintf(want, sizeof want, "v%u", e);
		cr_expect(name_is(st, vn->names[0], want), "names[0] is %s", want);
		cr_expect_eq(mt_space_multiplicity(sp, e), 1);
	}
	/* a large multiplicity beside an escaped list */
	mt_term q = atom_of(st, "(q8999 $z)");
	struct kb_error err;
	for (int i = 0; i < 20; i++)
		cr_assert_eq(mt_space_add(sp, q, NULL, &err), 8999, "%s", err.msg);
	cr_expect_eq(mt_space_multiplicity(sp, 8999), 21);
	const struct mt_varnames *vn = mt_space_varnames(sp, 8999);
	cr_assert_not_null(vn);
	cr_expect(name_is(st, vn->names[0], "v8999"), "first names are kept");
	cr_expect_eq(mt_space_multiplicity(sp, 8998), 1);
	mt_space_free(sp);
	mt_store_free(st);
}

/* Whether a candidate list holds entry e. */
static int holds(const uint32_t *got, size_t n, uint32_t e)
{
	for (size_t i = 0; i < n; i++)
		if (got[i] == e)
			return 1;
	return 0;
}

/* 1 and 1.0 unify (as Hyperon's numbers compare), so no index may tell
 * them apart: for every query, the candidates hold every entry that
 * unifies with it, found by trying mt_unify on every entry. f has enough
 * rules for its first-argument index. */
Test(space, numbers_that_unify_are_never_told_apart_by_an_index)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = mt_space_new(st);
	struct kb_buf b = {0};
	for (int i = 0; i < 10; i++)
		kb_buf_printf(&b, "(= (f a%d) x)\n", i);
	kb_buf_puts(&b, "(= (f 1) int)\n(= (f 1.0) float)\n(= (f 2.5) half)\n(= (f -0.0) nz)\n"
			"(= (f 0) zero)\n(= (f (g 1)) gi)\n(= (f (g 1.0)) gf)\n(= 1.0 bare)\n"
			"(= (1 a) h)\n(= (1.0 a) hf)\n(= ((g 2.0) a) gh)\n((g 2.0) b)\n((g 2) c)\n"
			"3.0\n3\n(7.0 x)\n(7 y)\n");
	load(sp, b.data);
	kb_buf_free(&b);
	static const char *const calls[] = {"(f 1)",     "(f 1.0)",     "(f 0.0)", "(f 0)",
					    "(f (g 1))", "(f (g 1.0))", "(f 2.5)", "(f 2.50)",
					    "1",         "(1 a)",       "(1.0 a)", "((g 2) a)"};
	static const char *const patterns[] = {"((g 2) $x)", "((g 2.0) $x)", "3",
					       "3.0",        "(7 $x)",       "(7.0 $x)"};
	struct mt_bindings bind;
	mt_bind_init(&bind, st);
	uint32_t got[64];
	int full;
	for (size_t q = 0; q < sizeof calls / sizeof *calls + sizeof patterns / sizeof *patterns;
	     q++) {
		int rule = q < sizeof calls / sizeof *calls;
		const char *text = rule ? calls[q] : patterns[q - sizeof calls / sizeof *calls];
		mt_term query = atom_of(st, text);
		size_t n = rule ? rule_candidates(sp, query, got, 64, &full)
				: atom_candidates(sp, query, got, 64, &full);
		cr_assert_leq(n, 64);
		size_t expected = 0;
		for (uint32_t e = 0; e < mt_space_entries(sp); e++) {
			mt_term a = mt_space_atom(sp, e);
			int is_rule = mt_is_expr(a) && mt_expr_arity(st, a) == 3 &&
				      mt_expr_args(st, a)[0] == mt_sym(MT_S_EQUAL);
			if (rule && !is_rule)
				continue;
			mt_bind_reset(&bind, 200);
			if (!mt_unify(&bind, query, 0, rule ? mt_expr_args(st, a)[1] : a, 100))
				continue;
			expected++;
			struct kb_buf pa = {0};
			mt_print(st, a, NULL, &pa);
			cr_expect(holds(got, n, e), "%s: entry %u %s unifies but is no candidate",
				  text, e, pa.data);
			kb_buf_free(&pa);
		}
		cr_expect_geq(expected, 1, "%s unifies with something", text);
	}
	mt_bind_free(&bind);
	mt_space_free(sp);
	mt_store_free(st);
}
