/* Tests of text persistence (core/textio): dump format, load errors, and
 * dump/load round trips (the generated small KB included) that keep
 * atoms, order, multiplicities and variable names. */
#include "core/parse.h"
#include "core/textio.h"
#include "workloads/kbgen.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

struct kb {
	struct mt_store *st;
	struct mt_space *sp;
};

static struct kb kb_new(void)
{
	struct kb k = {mt_store_new(), NULL};
	cr_assert_not_null(k.st);
	k.sp = mt_space_new(k.st);
	cr_assert_not_null(k.sp);
	return k;
}

static void kb_free(struct kb *k)
{
	mt_space_free(k->sp);
	mt_store_free(k->st);
}

static void load(struct kb *k, const char *text)
{
	struct kb_error err;
	cr_assert_eq(
	    mt_textio_load_buffer(k->sp, text, strlen(text), "t.metta", MT_BANG_REJECT, NULL, &err),
	    0, "%s", err.msg);
}

static char *dump(struct kb *k)
{
	struct kb_buf b = {0};
	mt_textio_dump_buf(k->sp, &b);
	cr_assert(!b.oom);
	return b.data ? b.data : strdup("");
}

Test(textio, dump_writes_one_line_per_copy_in_entry_order)
{
	struct kb k = kb_new();
	load(&k, "; comment\n(a $x)\n(b)\n(a $y) \"s\\n\" (= (f $n) (g $n 1.5))\n(b) -3");
	char *d = dump(&k);
	cr_expect_str_eq(d, "(a $x)\n(a $x)\n(b)\n(b)\n\"s\\n\"\n(= (f $n) (g $n 1.5))\n-3\n");
	free(d);
	kb_free(&k);
}

Test(textio, dump_omits_removed_atoms)
{
	struct kb k = kb_new();
	load(&k, "(a) (b) (c) (b)");
	mt_term t;
	cr_assert_eq(mt_parse_one(k.st, "(b)", 3, &t, NULL), 0);
	cr_expect_eq(mt_space_remove(k.sp, t), 1);
	cr_assert_eq(mt_parse_one(k.st, "(a)", 3, &t, NULL), 0);
	cr_expect_eq(mt_space_remove(k.sp, t), 1);
	char *d = dump(&k);
	cr_expect_str_eq(d, "(b)\n(c)\n");
	free(d);
	kb_free(&k);
}

Test(textio, load_rejects_or_skips_evaluation_requests)
{
	struct kb k = kb_new();
	struct kb_error err;
	const char *text = "(a)\n!(f a)\n(b)";
	cr_expect_eq(
	    mt_textio_load_buffer(k.sp, text, strlen(text), "x.metta", MT_BANG_REJECT, NULL, &err),
	    -1);
	cr_expect_str_eq(err.msg, "x.metta:2:1: '!' asks for an evaluation, which loading a "
				  "knowledge base does not do");
	struct kb k2 = kb_new();
	struct mt_load_stats stats;
	cr_expect_eq(
	    mt_textio_load_buffer(k2.sp, text, strlen(text), "x.metta", MT_BANG_SKIP, &stats, &err),
	    0);
	cr_expect_eq(stats.atoms, 2);
	cr_expect_eq(stats.bangs, 1);
	cr_expect_eq(mt_space_size(k2.sp), 2);
	kb_free(&k);
	kb_free(&k2);
}

Test(textio, load_errors_name_the_file_and_position)
{
	struct kb k = kb_new();
	struct kb_error err;
	cr_expect_eq(
	    mt_textio_load_buffer(k.sp, "(a)\n(b", 6, "bad.metta", MT_BANG_REJECT, NULL, &err), -1);
	cr_expect_str_eq(err.msg, "bad.metta:2:3: unclosed '(' (opened at 2:1)");
	cr_expect_eq(mt_space_size(k.sp), 1, "atoms before the error stay added");
	cr_expect_eq(mt_textio_load_file(k.sp, "/nonexistent/x.metta", MT_BANG_REJECT, NULL, &err),
		     -1);
	cr_expect_str_eq(err.msg, "/nonexistent/x.metta: No such file or directory");
	kb_free(&k);
}

Test(textio, dump_reports_write_errors)
{
	struct kb k = kb_new();
	load(&k, "(a) (b)");
	FILE *f = fopen("/dev/full", "w");
	cr_assert_not_null(f);
	struct kb_error err;
	cr_expect_eq(mt_textio_dump(k.sp, f, "/dev/full", &err), -1);
	cr_expect_str_eq(err.msg, "/dev/full: write error: No space left on device");
	fclose(f);
	kb_free(&k);
}

/* Same atoms, order and multiplicities: compared through their printed
 * form, since the two spaces live in different stores. */
static void expect_same_space(struct kb *a, struct kb *b)
{
	uint32_t na = mt_space_entries(a->sp), nb = mt_space_entries(b->sp);
	uint32_t ia = 0, ib = 0;
	struct kb_buf pa = {0}, pb = {0};
	for (;;) {
		while (ia < na && !mt_space_multiplicity(a->sp, ia))
			ia++;
		while (ib < nb && !mt_space_multiplicity(b->sp, ib))
			ib++;
		if (ia == na || ib == nb)
			break;
		kb_buf_reset(&pa);
		kb_buf_reset(&pb);
		mt_print(a->st, mt_space_atom(a->sp, ia), mt_space_varnames(a->sp, ia), &pa);
		mt_print(b->st, mt_space_atom(b->sp, ib), mt_space_varnames(b->sp, ib), &pb);
		cr_assert_str_eq(pa.data, pb.data, "entry %u / %u", ia, ib);
		cr_assert_eq(mt_space_multiplicity(a->sp, ia), mt_space_multiplicity(b->sp, ib));
		ia++;
		ib++;
	}
	cr_expect_eq(ia, na, "first space has more atoms");
	cr_expect_eq(ib, nb, "second space has more atoms");
	cr_expect_eq(mt_space_size(a->sp), mt_space_size(b->sp));
	cr_expect_eq(mt_space_distinct(a->sp), mt_space_distinct(b->sp));
	cr_expect_eq(mt_space_rules(a->sp), mt_space_rules(b->sp));
	kb_buf_free(&pa);
	kb_buf_free(&pb);
}

Test(textio, round_trip_of_the_generated_small_kb_keeps_atoms_order_and_counts)
{
	size_t len;
	char *text = kbgen_generate(10000, &len);
	cr_assert_not_null(text);
	struct kb a = kb_new();
	struct kb_error err;
	cr_assert_eq(
	    mt_textio_load_buffer(a.sp, text, len, "small.metta", MT_BANG_REJECT, NULL, &err), 0,
	    "%s", err.msg);
	free(text);
	cr_expect_eq(mt_space_rules(a.sp), 40000);
	cr_expect_eq(mt_space_size(a.sp), 40003);
	char *d1 = dump(&a);
	struct kb b = kb_new();
	load(&b, d1);
	expect_same_space(&a, &b);
	char *d2 = dump(&b);
	cr_expect(strcmp(d1, d2) == 0, "a second dump gives the same bytes");
	const char *head = "(: Nat Type)\n(: zero Nat)\n(: succ (-> Nat Nat))\n"
			   "(= (add0 zero $x) $x)\n";
	cr_expect_eq(strncmp(d1, head, strlen(head)), 0, "dump starts: %.80s", d1);
	free(d1);
	free(d2);
	kb_free(&a);
	kb_free(&b);
}

Test(textio, round_trip_keeps_multiplicities_and_removals)
{
	struct kb a = kb_new();
	struct kb_buf src = {0};
	for (int i = 0; i < 3000; i++)
		kb_buf_printf(&src, "(fact %d $v%d) \"s%d\" %d.5\n", i % 700, i % 3, i % 11,
			      i % 13);
	load(&a, src.data);
	kb_buf_free(&src);
	for (int i = 0; i < 500; i += 3) {
		mt_term t;
		char q[64];
		int n = snprintf(q, sizeof q, "(fact %d $z)", i);
		cr_assert_eq(mt_parse_one(a.st, q, (size_t)n, &t, NULL), 0);
		mt_space_remove(a.sp, t);
	}
	char *d1 = dump(&a);
	struct kb b = kb_new();
	load(&b, d1);
	expect_same_space(&a, &b);
	char *d2 = dump(&b);
	cr_expect_str_eq(d1, d2);
	free(d1);
	free(d2);
	kb_free(&a);
	kb_free(&b);
}
