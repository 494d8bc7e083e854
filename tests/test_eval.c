/* Tests of core/eval: Hyperon's evaluation rules (every matching rule,
 * Cartesian products, bindings across arguments, no-rule expressions),
 * every built-in, errors, the limits, deep recursion, and the streaming
 * iterator (start / next / teardown, also mid-stream). */
#include "core/eval.h"
#include "core/parse.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static struct mt_store *st;
static struct mt_space *sp;
static struct mt_eval_ctx *ctx;

static void setup(void)
{
	st = mt_store_new();
	sp = mt_space_new(st);
	ctx = mt_eval_ctx_new(sp, NULL);
	cr_assert(st && sp && ctx);
}

static void teardown(void)
{
	mt_eval_ctx_free(ctx);
	mt_space_free(sp);
	mt_store_free(st);
}

TestSuite(eval, .init = setup, .fini = teardown);

static int add_cb(void *c, mt_term atom, int bang, const struct mt_varnames *names,
		  struct mt_srcpos where)
{
	struct kb_error err;
	cr_assert_geq(mt_space_add(c, atom, names, &err), 0, "%s", err.msg);
	return 0;
}

static void load(const char *text)
{
	struct kb_error err;
	cr_assert_eq(mt_parse_buffer(st, text, strlen(text), NULL, add_cb, sp, &err), 0, "%s",
		     err.msg);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Evaluates `query` with the context's options and returns its results
 * printed, sorted, joined by " | " (malloc'd). */
static char *eval_in(struct mt_eval_ctx *c, const char *query)
{
	mt_term q;
	struct kb_error err;
	cr_assert_eq(mt_parse_one(st, query, strlen(query), &q, &err), 0, "%s", err.msg);
	struct mt_eval_it *it = mt_eval_start(c, q, NULL, &err);
	cr_assert_not_null(it, "%s", err.msg);
	char *items[4096];
	size_t n = 0;
	mt_term r;
	int rc;
	while ((rc = mt_eval_next(it, &r)) == 1) {
		struct kb_buf buf = {0};
		mt_print(st, r, NULL, &buf);
		cr_assert_lt(n, 4096);
		items[n++] = buf.data ? buf.data : strdup("");
	}
	cr_assert_eq(rc, 0, "%s", mt_eval_error(it));
	mt_eval_teardown(it);
	qsort(items, n, sizeof *items, cmp_str);
	struct kb_buf out = {0};
	kb_buf_puts(&out, "");
	for (size_t i = 0; i < n; i++) {
		if (i)
			kb_buf_puts(&out, " | ");
		kb_buf_puts(&out, items[i]);
		free(items[i]);
	}
	return out.data;
}

#define expect_eval(query, want)                                                                   \
	do {                                                                                       \
		char *got_ = eval_in(ctx, query);                                                  \
		cr_expect_str_eq(got_, want, "%s", query);                                         \
		free(got_);                                                                        \
	} while (0)

/* ---- evaluation rules ---- */

Test(eval, every_matching_rule_fires_and_results_form_a_multiset)
{
	load("(= (color) red) (= (color) green) (= (color) red)"
	     "(= (g $x) general) (= (g 1) specific)");
	expect_eval("(color)", "green | red | red");
	expect_eval("(g 1)", "general | specific");
	expect_eval("(g 2)", "general");
}

Test(eval, an_expression_without_rules_is_its_own_result)
{
	expect_eval("(no rules here)", "(no rules here)");
	expect_eval("(f (g 1) $x)", "(f (g 1) $_0)");
	expect_eval("()", "()");
	expect_eval("42", "42");
}

Test(eval, arguments_combine_as_a_cartesian_product)
{
	load("(= (bit) 0) (= (bit) 1) (= (pair $a $b) ($a $b))");
	expect_eval("(pair (bit) (bit))", "(0 0) | (0 1) | (1 0) | (1 1)");
	expect_eval("(+ (bit) (bit))", "0 | 1 | 1 | 2");
}

Test(eval, bindings_of_one_argument_hold_for_the_others)
{
	load("(= (val A) 1) (= (val B) 2)");
	expect_eval("(entry $k (val $k))", "(entry A 1) | (entry B 2)");
	expect_eval("((val $k) $k)", "(1 A) | (2 B)");
}

Test(eval, a_rule_without_results_gives_none)
{
	load("(= (f $x) (match &self (nothing $x) $x))");
	expect_eval("(f 1)", "");
	expect_eval("(wrap (f 1))", "");
}

Test(eval, results_are_expressed_in_the_query_variables)
{
	load("(= (Add $x Z) $x) (= (Add $x (S $y)) (Add (S $x) $y))");
	expect_eval("(Add (S Z) (S Z))", "(S (S Z))");
	expect_eval("(Add $n (S Z))", "(S $_0)");
}

Test(eval, a_variable_head_is_not_looked_up)
{
	load("(= (foo $a B) $a)");
	expect_eval("($x A B)", "($_0 A B)");
}

Test(eval, symbols_with_rules_reduce_unless_switched_off)
{
	load("(= answer 42)");
	expect_eval("answer", "42");
	expect_eval("(+ answer 1)", "43");
	struct mt_eval_opts o = mt_eval_default_opts();
	o.symbol_rules = 0;
	struct mt_eval_ctx *plain = mt_eval_ctx_new(sp, &o);
	char *got = eval_in(plain, "(+ answer 1)");
	cr_expect_str_eq(got, "(+ answer 1)");
	free(got);
	mt_eval_ctx_free(plain);
}

/* ---- built-ins ---- */

Test(eval, if_evaluates_only_the_branch_taken)
{
	expect_eval("(if (< 1 2) yes (empty))", "yes");
	expect_eval("(if False (empty) no)", "no");
	expect_eval("(if maybe yes no)", "(if maybe yes no)");
}

Test(eval, let_and_let_star_unify_and_bind)
{
	expect_eval("(let $x (+ 2 3) (* $x $x))", "25");
	expect_eval("(let ($a $b) (1 2) (+ $a $b))", "3");
	expect_eval("(let (A $b) (B 2) $b)", "");
	expect_eval("(let* (($x 2) ($y (* $x 3))) (+ $x $y))", "8");
	expect_eval("(let* () done)", "done");
	expect_eval("(let* (bad) done)",
		    "(Error (let* (bad) done) \"List of (<pattern> <atom>) pairs is expected as a "
		    "second argument\")");
}

Test(eval, case_matches_the_first_pattern_and_handles_empty)
{
	expect_eval("(case 5 ((5 five) ($x other)))", "five");
	expect_eval("(case 7 ((5 five) ($x (other $x))))", "(other 7)");
	expect_eval("(case (empty) ((Empty none) ($x some)))", "none");
	expect_eval("(case (superpose (1 2)) ((1 one) (2 two)))", "one | two");
	expect_eval("(case 3 ((1 one)))", "");
}

Test(eval, superpose_and_collapse_convert_between_results_and_lists)
{
	load("(= (c) H) (= (c) T)");
	expect_eval("(superpose (a (+ 1 1) b))", "2 | a | b");
	expect_eval("(superpose ())", "");
	expect_eval("(collapse (c))", "(H T)");
	expect_eval("(collapse (empty))", "()");
	expect_eval("(let $l (collapse (c)) (superpose $l))", "H | T");
}

Test(eval, quote_unify_and_expression_surgery)
{
	expect_eval("(quote (+ 1 2))", "(quote (+ 1 2))");
	expect_eval("(unify (a $x) (a b) (got $x) no)", "(got b)");
	expect_eval("(unify (a $x) (c b) (got $x) no)", "no");
	expect_eval("(cons-atom a (b c))", "(a b c)");
	expect_eval("(decons-atom (a b c))", "(a (b c))");
	expect_eval("(car-atom (a b c))", "a");
	expect_eval("(cdr-atom (a b c))", "(b c)");
	expect_eval("(car-atom ())",
		    "(Error (car-atom ()) \"car-atom expects a non-empty expression as an "
		    "argument\")");
	expect_eval("(empty)", "");
	expect_eval("Empty", "");
}

Test(eval, match_finds_atoms_at_the_top_level_only)
{
	load("(parent Tom Bob) (parent Bob Ann) (wrap (parent X Y)) (likes $x pizza)");
	expect_eval("(match &self (parent $a $b) $b)", "Ann | Bob");
	expect_eval("(match &self (parent $p Y) $p)", "");
	expect_eval("(match &self (, (parent $a $b) (parent $b $c)) ($a $c))", "(Tom Ann)");
	expect_eval("(match &self (likes Sam $w) $w)", "pizza");
	expect_eval("(match elsewhere (parent $a $b) $b)",
		    "(Error (match elsewhere (parent $_0 $_1) $_1) \"match: the only space is "
		    "&self\")");
}

Test(eval, add_and_remove_atom_change_the_space)
{
	expect_eval("(add-atom &self (fact 1))", "()");
	expect_eval("(add-atom &self (= (dyn) added))", "()");
	expect_eval("(match &self (fact $x) $x)", "1");
	expect_eval("(dyn)", "added");
	expect_eval("(remove-atom &self (= (dyn) added))", "()");
	expect_eval("(dyn)", "(dyn)");
	cr_expect_eq(mt_space_size(sp), 1);
	/* atoms added while a match runs are not seen by it */
	expect_eval("(match &self (fact $x) (add-atom &self (fact (+ $x 1))))", "()");
	expect_eval("(match &self (fact $x) (quote $x))", "(quote (+ 1 1)) | (quote 1)");
}

Test(eval, grounded_arithmetic_promotes_like_hyperon)
{
	expect_eval("(+ 2 (* 3 5.5))", "18.5");
	expect_eval("(- 8 (/ 4 6.4))", "7.375");
	expect_eval("(/ 7 2)", "3");
	expect_eval("(/ -7 2)", "-3");
	expect_eval("(% -7 2)", "-1");
	expect_eval("(% 7.5 2)", "1.5");
	expect_eval("(* 100000 100000)", "10000000000");
	expect_eval("(< 4 (+ 2 (* 3 5)))", "True");
	expect_eval("(>= 1 2.5)", "False");
	expect_eval("(== 2 2.0)", "True");
	expect_eval("(== (A B) (A (B C)))", "False");
	expect_eval("(and (> 4 2) (< 4 3))", "False");
	expect_eval("(or False True)", "True");
	expect_eval("(not True)", "False");
	expect_eval("(+ ln 2)", "(+ ln 2)");
	expect_eval("(> 4 (+ $x 2))", "(> 4 (+ $_0 2))");
	expect_eval("(and True maybe)", "(and True maybe)");
}

Test(eval, division_by_zero_and_overflow_are_error_atoms)
{
	expect_eval("(/ 5 0)", "(Error (/ 5 0) DivisionByZero)");
	expect_eval("(% 5 0)", "(Error (% 5 0) DivisionByZero)");
	expect_eval("(+ 9223372036854775807 1)",
		    "(Error (+ 9223372036854775807 1) IntegerOverflow)");
	expect_eval("(/ -9223372036854775808 -1)",
		    "(Error (/ -9223372036854775808 -1) IntegerOverflow)");
	expect_eval("(f (/ 1 0) never)", "(Error (/ 1 0) DivisionByZero)");
	expect_eval("(Error (+ 1 1) msg)", "(Error (+ 1 1) msg)");
}

Test(eval, assertions_compare_results_as_multisets)
{
	load("(= (c) H) (= (c) T) (= (mk) (R $x $y))");
	expect_eval("(assertEqual (c) (superpose (T H)))", "()");
	expect_eval("(assertEqualToResult (c) (T H))", "()");
	expect_eval("(assertAlphaEqual (mk) (R $a $b))", "()");
	char *got = eval_in(ctx, "(assertEqualToResult (c) (H H))");
	cr_expect(strstr(got, "(Error (assertEqualToResult (c) (H H))") == got, "%s", got);
	cr_expect_not_null(strstr(got, "Missed results: H"), "%s", got);
	cr_expect_not_null(strstr(got, "Excessive results: T"), "%s", got);
	free(got);
}

/* ---- limits and depth ---- */

Test(eval, peano_addition_a_hundred_thousand_deep_runs)
{
	load("(= (num $n) (if (== $n 0) Z (S (num (- $n 1)))))"
	     "(= (add Z $y) $y) (= (add (S $x) $y) (S (add $x $y)))"
	     "(= (depth Z) 0) (= (depth (S $x)) (+ 1 (depth $x)))");
	expect_eval("(depth (add (num 100000) (num 3)))", "100003");
	struct mt_eval_stats s;
	mt_eval_get_stats(ctx, &s);
	cr_expect_gt(s.max_depth, 100000);
}

Test(eval, the_depth_limit_gives_an_error_atom)
{
	load("(= (down $n) (+ 1 (down (+ $n 1))))");
	struct mt_eval_opts o = mt_eval_default_opts();
	o.max_depth = 1000;
	struct mt_eval_ctx *c = mt_eval_ctx_new(sp, &o);
	char *got = eval_in(c, "(down 0)");
	cr_expect(strncmp(got, "(Error (", 8) == 0, "%s", got);
	cr_expect_not_null(strstr(got, "\"depth limit 1000 exceeded\")"), "%s", got);
	free(got);
	mt_eval_ctx_free(c);
}

Test(eval, the_result_limit_stops_a_query_and_a_collapse)
{
	load("(= (nat) Z) (= (nat) (S (nat)))");
	struct mt_eval_opts o = mt_eval_default_opts();
	o.max_results = 3;
	struct mt_eval_ctx *c = mt_eval_ctx_new(sp, &o);
	char *got = eval_in(c, "(nat)");
	cr_expect_str_eq(got, "(Error (nat) \"result limit 3 reached\") | (S (S Z)) | (S Z) | Z");
	free(got);
	got = eval_in(c, "(collapse (nat))");
	cr_expect_str_eq(got, "(Error (collapse (nat)) \"result limit 3 reached\")");
	free(got);
	mt_eval_ctx_free(c);
}

Test(eval, the_step_limit_stops_an_endless_loop)
{
	load("(= (loop) (loop))");
	struct mt_eval_opts o = mt_eval_default_opts();
	o.max_steps = 10000;
	struct mt_eval_ctx *c = mt_eval_ctx_new(sp, &o);
	char *got = eval_in(c, "(loop)");
	cr_expect_str_eq(got, "(Error (loop) \"step limit 10000 reached\")");
	free(got);
	mt_eval_ctx_free(c);
}

Test(eval, the_memory_limit_stops_a_query_that_grows_too_much)
{
	load("(= (num $n) (if (== $n 0) Z (S (num (- $n 1)))))");
	struct mt_eval_opts o = mt_eval_default_opts();
	o.max_memory = 1 << 20;
	struct mt_eval_ctx *c = mt_eval_ctx_new(sp, &o);
	char *got = eval_in(c, "(num 200000)");
	cr_expect_str_eq(got, "(Error (num 200000) \"memory limit 1 MiB reached\")");
	free(got);
	got = eval_in(c, "(num 3)");
	cr_expect_str_eq(got, "(S (S (S Z)))", "the context works after the limit");
	free(got);
	mt_eval_ctx_free(c);
}

/* ---- the iterator ---- */

Test(eval, streams_results_of_an_endless_query)
{
	load("(= (nat) Z) (= (nat) (S (nat)))");
	mt_term q;
	struct kb_error err;
	cr_assert_eq(mt_parse_one(st, "(nat)", 5, &q, &err), 0);
	struct mt_eval_it *it = mt_eval_start(ctx, q, NULL, &err);
	cr_assert_not_null(it);
	const char *want[] = {"Z", "(S Z)", "(S (S Z))", "(S (S (S Z)))"};
	for (int i = 0; i < 4; i++) {
		mt_term r;
		cr_assert_eq(mt_eval_next(it, &r), 1);
		struct kb_buf buf = {0};
		mt_print(st, r, NULL, &buf);
		cr_expect_str_eq(buf.data, want[i]);
		kb_buf_free(&buf);
	}
	/* torn down mid-stream: nothing leaks, the context is free again */
	mt_eval_teardown(it);
	expect_eval("(+ 1 1)", "2");
}

Test(eval, one_query_at_a_time_per_context)
{
	mt_term q;
	struct kb_error err;
	cr_assert_eq(mt_parse_one(st, "(a)", 3, &q, &err), 0);
	struct mt_eval_it *it = mt_eval_start(ctx, q, NULL, &err);
	cr_assert_not_null(it);
	cr_expect_null(mt_eval_start(ctx, q, NULL, &err));
	cr_expect_not_null(strstr(err.msg, "another query"));
	mt_eval_teardown(it);
	mt_eval_teardown(it); /* a second teardown does nothing */
	it = mt_eval_start(ctx, q, NULL, &err);
	cr_expect_not_null(it);
	/* the context tears an active query down when freed */
}

Test(eval, teardown_with_alternatives_left_releases_everything)
{
	load("(= (nat) Z) (= (nat) (S (nat)))"
	     "(= (both) (collapse (superpose (1 2)))) (= (both) (nat))");
	mt_term q, r;
	struct kb_error err;
	cr_assert_eq(mt_parse_one(st, "(both)", 6, &q, &err), 0);
	struct mt_eval_it *it = mt_eval_start(ctx, q, NULL, &err);
	cr_assert_eq(mt_eval_next(it, &r), 1);
	cr_assert_eq(mt_eval_next(it, &r), 1);
	mt_eval_teardown(it);
}
