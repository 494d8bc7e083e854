/* Tests of core/runner and `kbprof metta`: the reference runner's output
 * (one `[r1, r2, ...]` line per `!`), the --check report (pass / FAIL /
 * skipped and the summary), exit codes, and syntax errors with their
 * position. */
#include "core/runner.h"
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;

static void setup(void)
{
	dir = make_temp_dir();
	cr_assert_not_null(dir);
}

static void teardown(void)
{
	rm_rf(dir);
	free(dir);
}

TestSuite(runner, .init = setup, .fini = teardown);

static char *put(const char *name, const char *text)
{
	char *path = malloc(4096);
	snprintf(path, 4096, "%s/%s", dir, name);
	cr_assert_eq(write_file(path, text, strlen(text)), 0);
	return path;
}

/* Runs one file through mt_run_file, returning its output (malloc'd). */
static char *run(const char *path, int check, struct mt_check_counts *counts, int *rc,
		 struct kb_error *err)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	cr_assert_not_null(f);
	struct mt_run_opts o = {.check = check, .eval = mt_eval_default_opts(), .out = f};
	*rc = mt_run_file(path, &o, counts, err);
	fclose(f);
	return out;
}

Test(runner, prints_one_result_list_per_bang_line)
{
	char *p =
	    put("p.metta", "(= (color) red)\n(= (color) blue)\n"
			   "!(color)\n!(+ 1 2)\n!(empty)\n(fact $x)\n!(match &self (fact $y) $y)\n"
			   "!\"str\"\n");
	struct mt_check_counts c = {0};
	struct kb_error err;
	int rc;
	char *out = run(p, 0, &c, &rc, &err);
	cr_expect_eq(rc, 0, "%s", err.msg);
	cr_expect_str_eq(out, "[red, blue]\n[3]\n[]\n[$y]\n[\"str\"]\n");
	cr_expect_eq(c.queries, 5);
	free(out);
	free(p);
}

Test(runner, check_reports_pass_fail_and_skipped_assertions)
{
	char *p =
	    put("c.metta", "(= (f) a)\n"
			   "!(assertEqual (f) a)\n"
			   "!(assertEqualToResult (f) (b))\n"
			   "!(assertEqualToResult (+ 2 \"x\") ((Error (+ 2 \"x\") (BadArgType 2 "
			   "Number String))))\n"
			   "!(add-atom &self (g))\n"
			   "!(assertAlphaEqual (g) (g))\n");
	struct mt_check_counts c = {0};
	struct kb_error err;
	int rc;
	char *out = run(p, 1, &c, &rc, &err);
	cr_expect_eq(rc, 0, "%s", err.msg);
	cr_expect_eq(c.passed, 2);
	cr_expect_eq(c.failed, 1);
	cr_expect_eq(c.skipped, 1);
	cr_expect_not_null(strstr(out, "c.metta:2: pass assertEqual\n"), "%s", out);
	cr_expect_not_null(strstr(out, "c.metta:3: FAIL assertEqualToResult\n"
				       "    Expected: [b]\n    Got: [a]\n"),
			   "%s", out);
	cr_expect_not_null(strstr(out, "c.metta:4: skipped assertEqualToResult: needs type "
				       "checking (BadArgType)"),
			   "%s", out);
	cr_expect_not_null(strstr(out, "c.metta: 2 passed, 1 failed, 1 skipped\n"), "%s", out);
	free(out);
	free(p);
}

Test(runner, reports_a_syntax_error_with_its_position)
{
	char *p = put("bad.metta", "(a b)\n!(a\n   (b c)\n");
	struct mt_check_counts c = {0};
	struct kb_error err;
	int rc;
	char *out = run(p, 0, &c, &rc, &err);
	cr_expect_eq(rc, -1);
	cr_expect_not_null(strstr(err.msg, "bad.metta:"), "%s", err.msg);
	cr_expect_not_null(strstr(err.msg, "(opened at 2:2)"), "%s", err.msg);
	free(out);
	free(p);
}

Test(runner, kbprof_metta_check_exits_nonzero_on_a_failure)
{
	char *good = put("good.metta", "!(assertEqual (+ 1 1) 2)\n");
	char *bad = put("bad.metta", "!(assertEqual (+ 1 1) 3)\n");
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "metta", "--check", good, NULL), 0);
	cr_expect_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_expect_not_null(strstr(r.out, "total: 1 passed, 0 failed, 0 skipped in 1 file\n"));
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "metta", "--check", good, bad, NULL), 0);
	cr_expect_eq(r.status, 1, "%s%s", r.out, r.err);
	cr_expect_not_null(strstr(r.out, "bad.metta:1: FAIL assertEqual"), "%s", r.out);
	cr_expect_not_null(strstr(r.out, "total: 1 passed, 1 failed, 0 skipped in 2 files\n"));
	run_result_free(&r);
	free(good);
	free(bad);
}

Test(runner, kbprof_metta_rejects_bad_arguments_and_missing_files)
{
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "metta", NULL), 0);
	cr_expect_eq(r.status, 2);
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "metta", "--max-depth", "x", "f.metta", NULL), 0);
	cr_expect_eq(r.status, 2);
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "metta", "/nonexistent/x.metta", NULL), 0);
	cr_expect_eq(r.status, 1);
	cr_expect_not_null(strstr(r.err, "/nonexistent/x.metta"), "%s", r.err);
	run_result_free(&r);
}

Test(runner, kbprof_metta_limits_give_error_results)
{
	char *p = put("deep.metta", "(= (down $n) (+ 1 (down (+ $n 1))))\n!(down 0)\n");
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "metta", "--max-depth", "500", p, NULL), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect_not_null(strstr(r.out, "\"depth limit 500 exceeded\")]\n"), "%s", r.out);
	run_result_free(&r);
	free(p);
}
