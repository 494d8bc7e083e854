/* Tests of `kbprof kb compile` and `kbprof kb dump`: they run the real
 * binary on generated and hand-written knowledge bases. */
#include "core/term.h"
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *write_temp(const char *dir, const char *name, const char *text)
{
	char *path = malloc(4096);
	snprintf(path, 4096, "%s/%s", dir, name);
	cr_assert_eq(write_file(path, text, strlen(text)), 0);
	return path;
}

Test(kb, compile_reports_the_counts_of_the_small_generated_kb)
{
	char *dir = make_temp_dir();
	char path[4096];
	snprintf(path, sizeof path, "%s/small.metta", dir);
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "gen", "--rules", "10000", "-o", path, NULL), 0);
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "kb", "compile", path, NULL), 0);
	cr_expect_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_not_null(strstr(r.out, "atoms:      40003 (40003 distinct)\n"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "rules:      40000\n"), "%s", r.out);
	/* the well-known symbols, 9 heads x 2500, the other symbols of the
	 * rules and the variable names (some may be well-known) */
	struct mt_store *st = mt_store_new();
	static const char *const others[] = {"Nat",  "zero", "succ", "->", "True", "False",
					     "cons", "+",    "x",    "y",  "h",    "t"};
	for (size_t i = 0; i < sizeof others / sizeof *others; i++)
		mt_sym_intern(st, others[i], strlen(others[i]));
	char want[64];
	snprintf(want, sizeof want, "symbols:    %u distinct\n", mt_sym_count(st) + 22500);
	mt_store_free(st);
	cr_expect_not_null(strstr(r.out, want), "want %s in %s", want, r.out);
	cr_expect_not_null(strstr(r.out, "sub-terms:  95007 distinct expressions"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "memory:     "), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "1291555 bytes of source"), "%s", r.out);
	run_result_free(&r);
	rm_rf(dir);
	free(dir);
}

Test(kb, compile_counts_skipped_evaluations_and_distinct_sub_terms)
{
	char *dir = make_temp_dir();
	char *path = write_temp(dir, "k.metta",
				"(f (g a) (g a))\n(f (g a) (g a))\n!(f x)\n(h $x (g $x))\n"
				"(= (k $y) (g $y))\n\"s\" 1.5 99999999999\n");
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "kb", "compile", path, NULL), 0);
	cr_expect_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_not_null(strstr(r.out, "atoms:      7 (6 distinct)\n"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "rules:      1\n"), "%s", r.out);
	/* (g a) (f ..) (g $0) (h ..) (k $0) (= ..); (f x) of the skipped line
	 * is parsed too */
	cr_expect_not_null(strstr(r.out, "sub-terms:  7 distinct expressions, 3 distinct boxed"),
			   "%s", r.out);
	cr_expect_not_null(strstr(r.out, "skipped:    1 '!' expressions"), "%s", r.out);
	run_result_free(&r);
	rm_rf(dir);
	free(dir);
	free(path);
}

Test(kb, dump_prints_canonical_text_that_compiles_to_the_same_kb)
{
	char *dir = make_temp_dir();
	char *path = write_temp(dir, "k.metta",
				"; a comment\n(parent  Tom   Bob)\n(parent Tom Bob)\n"
				"(= (f $x)\n   (g $x 2.50 \"q\\\"\"))\n!(f 1)\n");
	char out[4096];
	snprintf(out, sizeof out, "%s/out.metta", dir);
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "kb", "dump", path, NULL), 0);
	cr_expect_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_str_eq(r.out,
			 "(parent Tom Bob)\n(parent Tom Bob)\n(= (f $x) (g $x 2.5 \"q\\\"\"))\n");
	cr_expect_not_null(strstr(r.err, "skipped 1 '!' expressions"), "%s", r.err);
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "kb", "dump", "-o", out, path, NULL), 0);
	cr_expect_eq(r.status, 0);
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "kb", "dump", out, NULL), 0);
	size_t len;
	char *again = read_file(out, &len);
	cr_assert_not_null(again);
	cr_expect_str_eq(r.out, again, "dumping the dump changes nothing");
	free(again);
	run_result_free(&r);
	rm_rf(dir);
	free(dir);
	free(path);
}

Test(kb, bad_files_give_an_error_naming_them)
{
	char *dir = make_temp_dir();
	char *path = write_temp(dir, "bad.metta", "(a b)\n(c (d e)\n");
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "kb", "compile", path, NULL), 0);
	cr_expect_eq(r.status, 1);
	char want[4200];
	snprintf(want, sizeof want, "kbprof kb compile: %s:3:1: unclosed '(' (opened at 2:1)\n",
		 path);
	cr_expect_str_eq(r.err, want);
	cr_expect_eq(r.out_len, 0);
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "kb", "dump", "/nonexistent/kb.metta", NULL), 0);
	cr_expect_eq(r.status, 1);
	cr_expect_str_eq(r.err,
			 "kbprof kb dump: /nonexistent/kb.metta: No such file or directory\n");
	run_result_free(&r);
	rm_rf(dir);
	free(dir);
	free(path);
}

Test(kb, usage_errors_exit_with_code_two)
{
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "kb", NULL), 0);
	cr_expect_eq(r.status, 2);
	cr_expect_not_null(strstr(r.err, "a subcommand is required"));
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "kb", "frobnicate", NULL), 0);
	cr_expect_eq(r.status, 2);
	cr_expect_not_null(strstr(r.err, "unknown subcommand 'frobnicate'"));
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "kb", "compile", NULL), 0);
	cr_expect_eq(r.status, 2);
	cr_expect_not_null(strstr(r.err, "no FILE given"));
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "kb", "dump", "--help", NULL), 0);
	cr_expect_eq(r.status, 0);
	cr_expect_not_null(strstr(r.out, "usage: kbprof kb"));
	run_result_free(&r);
}

Test(kb, dump_write_errors_are_failures)
{
	char *dir = make_temp_dir();
	char *path = write_temp(dir, "k.metta", "(a)\n(b)\n");
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, "/dev/full", "kb", "dump", path, NULL), 0);
	cr_expect_eq(r.status, 1);
	cr_expect_not_null(strstr(r.err, "write error"), "%s", r.err);
	run_result_free(&r);
	rm_rf(dir);
	free(dir);
	free(path);
}
