/* Tests of core/unify: two-sided unification with renaming apart, the
 * binding direction, the occurs check, repeated variables, numbers with
 * promotion, undo on backtracking (plain and conditional trailing),
 * substitution, equality and alpha-equivalence, on shallow and very deep
 * terms. */
#include "core/parse.h"
#include "core/unify.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static struct mt_store *st;
static struct mt_bindings b;

static void setup(void)
{
	st = mt_store_new();
	cr_assert_not_null(st);
	mt_bind_init(&b, st);
	mt_bind_reset(&b, 100); /* globals 0..99 are "the query's" */
	b.trail_from = 100;     /* as after a choice point: restores undo them */
}

static void teardown(void)
{
	mt_bind_free(&b);
	mt_store_free(st);
}

TestSuite(unify, .init = setup, .fini = teardown);

static mt_term T(const char *text)
{
	mt_term t;
	struct kb_error err;
	cr_assert_eq(mt_parse_one(st, text, strlen(text), &t, &err), 0, "%s", err.msg);
	return t;
}

/* Prints the fully resolved term. */
static char *show(mt_term t)
{
	struct kb_buf buf = {0};
	mt_term r = mt_subst(&b, t, 0, MT_SUBST_FULL);
	cr_assert_neq(r, MT_NONE);
	mt_print(st, r, NULL, &buf);
	return buf.data ? buf.data : strdup("");
}

static void expect_show(mt_term t, const char *want)
{
	char *s = show(t);
	cr_expect_str_eq(s, want);
	free(s);
}

Test(unify, unifies_equal_ground_terms_without_binding)
{
	cr_expect_eq(mt_unify(&b, T("(f a (g 1) \"s\")"), 0, T("(f a (g 1) \"s\")"), 0), 1);
	cr_expect_eq(b.trail_len, 0);
	cr_expect_eq(b.hw, 0);
}

Test(unify, rejects_different_symbols_arities_and_kinds)
{
	cr_expect_eq(mt_unify(&b, T("(f a)"), 0, T("(f b)"), 0), 0);
	cr_expect_eq(mt_unify(&b, T("(f a)"), 0, T("(f a a)"), 0), 0);
	cr_expect_eq(mt_unify(&b, T("a"), 0, T("(a)"), 0), 0);
	cr_expect_eq(mt_unify(&b, T("\"a\""), 0, T("a"), 0), 0);
	cr_expect_eq(mt_unify(&b, T("()"), 0, T("(())"), 0), 0);
}

Test(unify, binds_variables_on_both_sides)
{
	/* (f $x b) with the query's variable 0; (f a $y) renamed to 10.. */
	mt_term q = T("(f $x b)"), a = T("(f a $y)");
	cr_assert_eq(mt_unify(&b, q, 0, a, 10), 1);
	expect_show(mt_var(0), "a");
	expect_show(mt_var(10), "b");
	expect_show(q, "(f a b)");
	cr_expect_geq(b.next_var, 11, "renamed variables are handed out");
}

Test(unify, renames_a_stored_atom_apart_by_its_offset)
{
	/* both atoms number their variable 0: the offset keeps them apart */
	mt_term q = T("(p $x)"), rule = T("(p (s $x))");
	cr_assert_eq(mt_unify(&b, q, 0, rule, 50), 1);
	expect_show(q, "(p (s $_50))");
	cr_expect_eq(mt_bind_value(&b, 50), MT_NONE, "variable 50 stays free");
}

Test(unify, binds_the_younger_of_two_variables_to_the_older)
{
	cr_assert_eq(mt_unify(&b, T("$n"), 0, T("$x"), 40), 1);
	cr_expect_eq(mt_bind_value(&b, 0), MT_NONE);
	cr_expect_eq(mt_bind_value(&b, 40), mt_var(0));
	cr_assert_eq(mt_unify(&b, T("$x"), 60, T("$n"), 0), 1);
	cr_expect_eq(mt_bind_value(&b, 60), mt_var(0));
}

Test(unify, requires_repeated_variables_to_agree)
{
	struct mt_bind_state s = mt_bind_save(&b);
	cr_expect_eq(mt_unify(&b, T("(g $x $x)"), 10, T("(g a b)"), 0), 0);
	mt_bind_restore(&b, s);
	cr_expect_eq(mt_unify(&b, T("(g $x $x)"), 10, T("(g a a)"), 0), 1);
	expect_show(mt_var(10), "a");
	mt_bind_restore(&b, s);
	/* repeated variables on both sides, bound through each other */
	cr_expect_eq(mt_unify(&b, T("(h $x $x c)"), 10, T("(h $y d $y)"), 20), 0);
	mt_bind_restore(&b, s);
	cr_expect_eq(mt_unify(&b, T("(h $x $x c)"), 10, T("(h $y c $y)"), 20), 1);
	expect_show(mt_var(20), "c");
}

Test(unify, fails_the_occurs_check_instead_of_building_a_loop)
{
	cr_expect_eq(mt_unify(&b, T("$x"), 0, T("(f $x)"), 0), 0);
	struct mt_bind_state s = mt_bind_save(&b);
	cr_expect_eq(mt_unify(&b, T("(p $x $x)"), 10, T("(p $y (f $y))"), 20), 0);
	mt_bind_restore(&b, s);
	cr_expect_eq(mt_unify(&b, T("(p $x (f $y))"), 10, T("(p $y $z)"), 20), 1);
}

Test(unify, matches_numbers_by_value_with_promotion)
{
	cr_expect_eq(mt_unify(&b, T("(n 1)"), 0, T("(n 1.0)"), 0), 1);
	cr_expect_eq(mt_unify(&b, T("(n 1)"), 0, T("(n 1.5)"), 0), 0);
	cr_expect_eq(mt_unify(&b, T("(n 12345678901234)"), 0, T("(n 12345678901234)"), 0), 1);
	cr_expect_eq(mt_unify(&b, T("(n 2)"), 0, T("(n \"2\")"), 0), 0);
}

Test(unify, restore_undoes_every_binding_of_a_failed_attempt)
{
	struct mt_bind_state s = mt_bind_save(&b);
	/* binds query variables 0 and 1, then fails on the last element */
	cr_expect_eq(mt_unify(&b, T("(t $a $b c)"), 0, T("(t 1 2 d)"), 0), 0);
	mt_bind_restore(&b, s);
	cr_expect_eq(mt_bind_value(&b, 0), MT_NONE);
	cr_expect_eq(mt_bind_value(&b, 1), MT_NONE);
	cr_expect_eq(b.next_var, s.next_var);
}

Test(unify, trails_only_variables_older_than_the_choice_point)
{
	/* a choice point was taken when variables 0..99 existed */
	struct mt_bind_state cp = mt_bind_save(&b);
	mt_term young = mt_bind_fresh(&b);
	cr_assert_eq(mt_unify(&b, T("(k $q)"), 0, T("(k 1)"), 0), 1); /* old var 0 */
	cr_assert_eq(mt_unify(&b, young, 0, T("2"), 0), 1);           /* var 100 */
	cr_expect_eq(b.trail_len, cp.trail_len + 1, "only the old variable is trailed");
	mt_bind_restore(&b, cp);
	cr_expect_eq(mt_bind_value(&b, 0), MT_NONE);
	cr_expect_eq(mt_bind_value(&b, 100), MT_NONE, "the young variable is cleared");
}

Test(unify, substitution_resolves_chains_and_renames)
{
	cr_assert_eq(mt_unify(&b, T("(r $a $b)"), 0, T("(r $c (s $c))"), 30), 1);
	cr_assert_eq(mt_unify(&b, T("$c"), 30, T("z"), 0), 1);
	expect_show(T("(r $a $b)"), "(r z (s z))");
	/* shallow: renames the atom's own variables and replaces bound ones */
	mt_term sh = mt_subst(&b, T("(w $x $y)"), 30, MT_SUBST_SHALLOW);
	struct kb_buf buf = {0};
	mt_print(st, sh, NULL, &buf);
	cr_expect_str_eq(buf.data, "(w z $_31)");
	kb_buf_free(&buf);
	/* a ground term comes back as the same handle */
	mt_term g = T("(g (h 1))");
	cr_expect_eq(mt_subst(&b, g, 7, MT_SUBST_FULL), g);
}

Test(unify, equality_and_alpha_equivalence)
{
	cr_expect(mt_term_eq(&b, T("(a (b 1))"), T("(a (b 1.0))")));
	cr_expect_not(mt_term_eq(&b, T("(a $x)"), T("(a b)")));
	cr_expect(
	    mt_alpha_eq(&b, T("(R $x $y)"), mt_subst(&b, T("(R $p $q)"), 20, MT_SUBST_SHALLOW)));
	cr_expect_not(mt_alpha_eq(&b, T("(R $x $y)"), T("(R $z $z)")));
	cr_expect_not(mt_alpha_eq(&b, T("(R $z $z)"), T("(R $x $y)")));
	cr_assert_eq(mt_unify(&b, T("$v"), 0, T("(k $w)"), 70), 1);
	cr_expect(mt_term_eq(&b, T("$v"), mt_subst(&b, T("(k $w)"), 70, MT_SUBST_SHALLOW)));
}

/* (s (s ... (s z))) n deep, built bottom up. */
static mt_term deep(int n, mt_term leaf)
{
	mt_term t = leaf, s = mt_sym(mt_sym_intern(st, "s", 1));
	for (int i = 0; i < n && t != MT_NONE; i++) {
		mt_term kids[2] = {s, t};
		t = mt_texpr(st, kids, 2);
	}
	cr_assert_neq(t, MT_NONE);
	return t;
}

Test(unify, handles_terms_a_hundred_thousand_deep)
{
	mt_term z = mt_sym(mt_sym_intern(st, "z", 1));
	mt_term x = deep(100000, mt_var(5)), y = deep(100000, z);
	cr_expect_eq(mt_unify(&b, x, 0, y, 0), 1);
	cr_expect_eq(mt_bind_value(&b, 5), z);
	cr_expect(mt_term_eq(&b, x, y));
	mt_term r = mt_subst(&b, x, 0, MT_SUBST_FULL);
	cr_expect(mt_term_eq(&b, r, y));
	/* and the occurs check walks them too */
	struct mt_bind_state s = mt_bind_save(&b);
	cr_expect_eq(mt_unify(&b, mt_var(6), 0, deep(100000, mt_var(6)), 0), 0);
	mt_bind_restore(&b, s);
}
