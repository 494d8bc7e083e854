/* Tests of the kbprof dispatcher: help, version, unknown commands, and
 * write errors on standard output. They run the real binary. */
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(cli, help_lists_every_subcommand)
{
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "--help", NULL), 0);
	cr_expect_eq(r.status, 0, "stderr: %s", r.err);
	cr_expect_not_null(strstr(r.out, "usage: kbprof"));
	cr_expect_not_null(strstr(r.out, "   gen "));
	cr_expect_not_null(strstr(r.out, "   version "));
	run_result_free(&r);
}

Test(cli, unknown_command_names_the_closest_and_exits_with_usage_code)
{
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "gne", NULL), 0);
	cr_expect_eq(r.status, 2);
	cr_expect_not_null(strstr(r.err, "'gne' is not a kbprof command"), "stderr: %s", r.err);
	cr_expect_not_null(strstr(r.err, "closest is 'gen'"), "stderr: %s", r.err);
	cr_expect_eq(r.out_len, 0);
	run_result_free(&r);
}

Test(cli, command_help_and_help_command_print_the_same_text)
{
	struct run_result a, b;
	cr_assert_eq(run_kbprof(&a, NULL, "gen", "--help", NULL), 0);
	cr_assert_eq(run_kbprof(&b, NULL, "help", "gen", NULL), 0);
	cr_expect_eq(a.status, 0);
	cr_expect_eq(b.status, 0);
	cr_expect_str_eq(a.out, b.out);
	cr_expect_not_null(strstr(a.out, "usage: kbprof gen"));
	run_result_free(&a);
	run_result_free(&b);
}

Test(cli, help_for_unknown_command_fails)
{
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "help", "nosuch", NULL), 0);
	cr_expect_eq(r.status, 2);
	cr_expect_not_null(strstr(r.err, "no such command 'nosuch'"));
	run_result_free(&r);
}

Test(cli, version_names_the_commit)
{
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "--version", NULL), 0);
	cr_expect_eq(r.status, 0);
	cr_expect_not_null(strstr(r.out, "kbprof 0."));
	cr_expect_not_null(strstr(r.out, "commit "));
	run_result_free(&r);
}

Test(cli, write_failure_on_stdout_is_an_error)
{
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, "/dev/full", "--help", NULL), 0);
	cr_expect_eq(r.status, 1);
	cr_expect_not_null(strstr(r.err, "write failure on standard output"), "stderr: %s", r.err);
	run_result_free(&r);
}

Test(cli, closed_pipe_reader_prints_no_error)
{
	char *argv[] = {"/bin/sh", "-c", NULL, NULL};
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "'%s' gen --rules 100000 | head -c 10 >/dev/null", kbprof_bin());
	argv[2] = cmd;
	struct run_result r;
	cr_assert_eq(run_capture(argv, NULL, &r), 0);
	cr_expect_eq(r.err_len, 0, "stderr: %s", r.err);
	run_result_free(&r);
}

Test(cli, gen_writes_the_small_kb_and_rejects_bad_sizes)
{
	char *dir = make_temp_dir();
	char path[4096];
	snprintf(path, sizeof path, "%s/small.metta", dir);
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "gen", "--rules", "10000", "-o", path, NULL), 0);
	cr_expect_eq(r.status, 0, "stderr: %s", r.err);
	size_t len;
	char *text = read_file(path, &len);
	cr_assert_not_null(text);
	cr_expect_eq(len, 1291555);
	free(text);
	run_result_free(&r);

	cr_assert_eq(run_kbprof(&r, NULL, "gen", "--rules", "-5", NULL), 0);
	cr_expect_eq(r.status, 2);
	cr_expect_not_null(strstr(r.err, "--rules"));
	run_result_free(&r);

	cr_assert_eq(run_kbprof(&r, NULL, "gen", "--rules", "8", "-o", "/nonexistent/dir/x", NULL),
		     0);
	cr_expect_eq(r.status, 1);
	cr_expect_not_null(strstr(r.err, "/nonexistent/dir/x"));
	run_result_free(&r);
	rm_rf(dir);
	free(dir);
}
