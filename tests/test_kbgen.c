/* Tests of the MeTTaTron-compatible KB generator (workloads/kbgen). */
#include "workloads/kbgen.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test(kbgen, sizes_match_mettatron_published_sizes)
{
	cr_expect_eq(kbgen_size(10000), 1291555);
	cr_expect_eq(kbgen_size(100000), 13389055);
	cr_expect_eq(kbgen_size(1000000), 138639055);
	cr_expect_eq(kbgen_rule_count(10000), 40000);
	cr_expect_eq(kbgen_rule_count(1000000), 4000000);
}

Test(kbgen, generated_small_kb_has_the_predicted_length)
{
	size_t len;
	char *kb = kbgen_generate(10000, &len);
	cr_assert_not_null(kb);
	cr_expect_eq(len, 1291555);
	cr_expect_eq(strlen(kb), len);
	free(kb);
}

Test(kbgen, text_starts_with_type_header_and_first_rules)
{
	size_t len;
	char *kb = kbgen_generate(8, &len);
	cr_assert_not_null(kb);
	const char *expect = "; Type definitions\n"
			     "(: Nat Type)\n"
			     "(: zero Nat)\n"
			     "(: succ (-> Nat Nat))\n"
			     "\n"
			     "; Mathematical rules\n"
			     "(= (add0 zero $x) $x)\n"
			     "(= (add0 $x zero) $x)\n"
			     "(= (add0 (succ $x) $y) (succ (add0 $x $y)))\n"
			     "(= (mul0 zero $x) zero)\n"
			     "(= (add1 zero $x) $x)\n";
	cr_expect_eq(strncmp(kb, expect, strlen(expect)), 0, "got:\n%.400s", kb);
	cr_expect_not_null(strstr(kb, "\n\n; Pattern matching\n(= (match0 $x $x) True)\n"));
	const char *tail = "(= (not-equals1 $x $x) False)\n";
	cr_expect_eq(strcmp(kb + len - strlen(tail), tail), 0);
	free(kb);
}

Test(kbgen, file_writer_and_buffer_agree)
{
	size_t len;
	char *kb = kbgen_generate(1000, &len);
	cr_assert_not_null(kb);
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	cr_assert_eq(kbgen_write(f, 1000), 0);
	cr_assert_eq((size_t)ftell(f), len);
	rewind(f);
	char *back = malloc(len);
	cr_assert_eq(fread(back, 1, len, f), len);
	cr_expect_eq(memcmp(back, kb, len), 0);
	fclose(f);
	free(back);
	free(kb);
}

Test(kbgen, sizes_below_four_write_only_the_headers)
{
	size_t len;
	char *kb = kbgen_generate(3, &len);
	cr_assert_not_null(kb);
	cr_expect_eq(len, kbgen_size(3));
	cr_expect_null(strstr(kb, "(= "));
	free(kb);
}
