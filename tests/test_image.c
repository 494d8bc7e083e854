/* Tests of the knowledge-base image (core/image): write/open round trips
 * (generated KB, conformance scripts' spaces), query results identical to
 * the in-memory space, overlay changes, the zstd form, atomic writes, and
 * damaged images (truncations, bit flips, crafted section tables and
 * references): clear errors naming the section, never a crash. */
#include "core/eval.h"
#include "core/image.h"
#include "core/image_format.h"
#include "core/parse.h"
#include "tests/testutil.h"
#include "workloads/kbgen.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zstd.h>

#define CONFORMANCE_DIR KBPROF_SOURCE_DIR "/../shared/conformance/hyperon"

/* ---- helpers ---- */

struct loaded {
	struct mt_store *store;
	struct mt_space *space;
	struct kb_buf queries; /* the `!` atoms, printed, one per line */
	size_t nqueries;
};

static int load_cb(void *ctx, mt_term atom, int bang, const struct mt_varnames *names,
		   struct mt_srcpos where)
{
	struct loaded *l = ctx;
	struct kb_error err;
	(void)where;
	if (bang) {
		mt_print(l->store, atom, names, &l->queries);
		kb_buf_putc(&l->queries, '\n');
		l->nqueries++;
		return 0;
	}
	cr_assert_geq(mt_space_add(l->space, atom, names, &err), 0, "%s", err.msg);
	return 0;
}

static void load_text(struct loaded *l, const char *text, size_t len)
{
	struct kb_error err;
	memset(l, 0, sizeof *l);
	l->store = mt_store_new();
	l->space = mt_space_new(l->store);
	cr_assert(l->store && l->space);
	cr_assert_eq(mt_parse_buffer(l->store, text, len, NULL, load_cb, l, &err), 0, "%s",
		     err.msg);
}

static void load_file(struct loaded *l, const char *path)
{
	size_t len;
	char *text = read_file(path, &len);
	cr_assert_not_null(text, "cannot read %s", path);
	load_text(l, text, len);
	free(text);
}

static void loaded_free(struct loaded *l)
{
	mt_space_free(l->space);
	mt_store_free(l->store);
	kb_buf_free(&l->queries);
}

static uint8_t *build(const struct mt_space *sp, size_t *len)
{
	uint8_t *bytes;
	struct kb_error err;
	cr_assert_eq(mt_image_build(sp, &bytes, len, NULL, &err), 0, "%s", err.msg);
	return bytes;
}

static void open_kb(const uint8_t *bytes, size_t len, struct mt_image_kb *kb)
{
	struct mt_image *img;
	struct kb_error err;
	cr_assert_eq(mt_image_open_mem(bytes, len, "test.kbi", &img, &err), 0, "%s", err.msg);
	cr_assert_eq(mt_image_verify(img, &err), 0, "%s", err.msg);
	cr_assert_eq(mt_image_kb_attach(img, kb, &err), 0, "%s", err.msg);
}

static void print_entry(const struct mt_space *sp, uint32_t e, struct kb_buf *out)
{
	kb_buf_reset(out);
	mt_print(mt_space_store(sp), mt_space_atom(sp, e), mt_space_varnames(sp, e), out);
	kb_buf_printf(out, " x%u", mt_space_multiplicity(sp, e));
}

/* Same live atoms, in the same order, with the same multiplicities and
 * variable names (entry numbers may differ: tombstones are not written). */
static void expect_same_atoms(const struct mt_space *a, const struct mt_space *b)
{
	struct kb_buf x = {0}, y = {0};
	uint32_t i = 0, j = 0, na = mt_space_entries(a), nb = mt_space_entries(b);
	for (;;) {
		while (i < na && !mt_space_multiplicity(a, i))
			i++;
		while (j < nb && !mt_space_multiplicity(b, j))
			j++;
		if (i == na || j == nb)
			break;
		print_entry(a, i, &x);
		print_entry(b, j, &y);
		cr_assert_str_eq(x.data, y.data, "entry %u / %u", i, j);
		i++;
		j++;
	}
	cr_expect_eq(i, na, "the first space has more live atoms");
	cr_expect_eq(j, nb, "the second space has more live atoms");
	cr_expect_eq(mt_space_size(a), mt_space_size(b));
	cr_expect_eq(mt_space_distinct(a), mt_space_distinct(b));
	cr_expect_eq(mt_space_rules(a), mt_space_rules(b));
	kb_buf_free(&x);
	kb_buf_free(&y);
}

/* Evaluates `query` (MeTTa text) on a space and prints `[r1, r2, ...]`. */
static void eval_line(struct mt_space *sp, const char *query, struct kb_buf *out)
{
	struct mt_store *st = mt_space_store(sp);
	struct kb_error err;
	mt_term q;
	cr_assert_eq(mt_parse_one(st, query, strlen(query), &q, &err), 0, "%s: %s", query, err.msg);
	/* some spaces hold rules like (= $x any) that never terminate: a step
	 * limit makes both sides stop at the same (Error ...) result */
	struct mt_eval_opts o = mt_eval_default_opts();
	o.max_steps = 50000;
	o.max_results = 1000;
	struct mt_eval_ctx *ctx = mt_eval_ctx_new(sp, &o);
	cr_assert_not_null(ctx);
	struct mt_eval_it *it = mt_eval_start(ctx, q, NULL, &err);
	cr_assert_not_null(it, "%s", err.msg);
	kb_buf_reset(out);
	kb_buf_putc(out, '[');
	mt_term r;
	int rc, n = 0;
	while ((rc = mt_eval_next(it, &r)) == 1) {
		if (n++)
			kb_buf_puts(out, ", ");
		mt_print(st, r, NULL, out);
	}
	cr_assert_geq(rc, 0, "%s", mt_eval_error(it));
	kb_buf_putc(out, ']');
	mt_eval_teardown(it);
	mt_eval_ctx_free(ctx);
}

static void expect_same_results(struct mt_space *mem, struct mt_space *img, const char *query)
{
	struct kb_buf a = {0}, b = {0};
	eval_line(mem, query, &a);
	eval_line(img, query, &b);
	cr_expect_str_eq(a.data, b.data, "query %s", query);
	kb_buf_free(&a);
	kb_buf_free(&b);
}

static void expect_same_for_all(struct mt_space *mem, struct mt_space *img,
				const char *const *queries, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect_same_results(mem, img, queries[i]);
}

static void generated(struct loaded *l, uint64_t n)
{
	size_t len;
	char *text = kbgen_generate(n, &len);
	cr_assert_not_null(text);
	load_text(l, text, len);
	free(text);
}

/* ---- round trips ---- */

Test(image, round_trip_keeps_every_atom_order_and_multiplicity_of_the_generated_kb)
{
	struct loaded l;
	generated(&l, 10000);
	cr_assert_eq(mt_space_rules(l.space), 40000);
	size_t len;
	uint8_t *bytes = build(l.space, &len);
	struct mt_image_kb kb;
	open_kb(bytes, len, &kb);
	cr_expect_eq(mt_space_entries(kb.space), mt_space_entries(l.space));
	expect_same_atoms(l.space, kb.space);
	struct kb_error err;
	cr_expect_eq(mt_image_kb_status(&kb, &err), 0, "%s", err.msg);
	mt_image_kb_close(&kb);
	free(bytes);
	loaded_free(&l);
}

Test(image, generated_kb_image_is_smaller_than_its_source)
{
	size_t src_len;
	char *text = kbgen_generate(10000, &src_len);
	struct loaded l;
	load_text(&l, text, src_len);
	size_t len;
	uint8_t *bytes = build(l.space, &len);
	cr_expect_lt(len, src_len * 6 / 10, "image %zu bytes, source %zu", len, src_len);
	free(bytes);
	free(text);
	loaded_free(&l);
}

Test(image, queries_on_the_generated_kb_image_match_the_in_memory_kb)
{
	struct loaded l;
	generated(&l, 1000);
	size_t len;
	uint8_t *bytes = build(l.space, &len);
	struct mt_image_kb kb;
	open_kb(bytes, len, &kb);
	static const char *const queries[] = {
	    "(add5 zero zero)",
	    "(add5 (succ (succ zero)) (succ zero))",
	    "(mul17 zero (succ zero))",
	    "(and3 True True)",
	    "(and3 False True)",
	    "(or249 False False)",
	    "(length7 (cons a (cons b (cons c ()))))",
	    "(append11 (cons a ()) (cons b ()))",
	    "(match42 x x)",
	    "(match42 x y)",
	    "(equals0 q q)",
	    "(not-equals249 q q)",
	    "(match &self (= (add5 $x $y) $z) (quote ($x $y $z)))",
	    "(match &self (: $x $t) ($x $t))",
	    "(match &self (= ($f True $x) $r) (quote ($f $r)))",
	    "(match &self (= ($f (cons $h $t)) $r) (quote $f))",
	    "(add99999 zero zero)",
	    "(nosuchsymbol 1 2)",
	};
	expect_same_for_all(l.space, kb.space, queries, sizeof queries / sizeof *queries);
	struct kb_error err;
	cr_expect_eq(mt_image_kb_status(&kb, &err), 0, "%s", err.msg);
	mt_image_kb_close(&kb);
	free(bytes);
	loaded_free(&l);
}

/* Every conformance script: its space written and read back is the same
 * space, and every `!` query of the script gives the same results on the
 * image as on the in-memory space (queries run after all atoms are in). */
Test(image, conformance_spaces_round_trip_and_answer_queries_identically)
{
	DIR *d = opendir(CONFORMANCE_DIR);
	if (!d)
		cr_skip_test("conformance scripts not found at %s", CONFORMANCE_DIR);
	struct dirent *de;
	int scripts = 0;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 7 || strcmp(de->d_name + n - 6, ".metta") != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", CONFORMANCE_DIR, de->d_name);
		struct loaded mem, again;
		load_file(&mem, path);
		load_file(&again, path); /* a second, untouched copy for the queries */
		size_t len;
		uint8_t *bytes = build(mem.space, &len);
		struct mt_image_kb kb;
		open_kb(bytes, len, &kb);
		expect_same_atoms(mem.space, kb.space);
		char *q = again.queries.data, *end;
		while (q && *q && (end = strchr(q, '\n'))) {
			*end = '\0';
			expect_same_results(again.space, kb.space, q);
			q = end + 1;
		}
		struct kb_error err;
		cr_expect_eq(mt_image_kb_status(&kb, &err), 0, "%s: %s", de->d_name, err.msg);
		mt_image_kb_close(&kb);
		free(bytes);
		loaded_free(&mem);
		loaded_free(&again);
		scripts++;
	}
	closedir(d);
	cr_expect_geq(scripts, 9);
}

Test(image, round_trip_keeps_numbers_strings_names_and_multiplicities)
{
	static const char text[] =
	    "(fact 1 -7 123456789012 -9223372036854775808 2.5 -0.0 1e300 \"s\" \"a longer "
	    "string\")\n"
	    "(same \"a longer string\" (deep (deeper (deepest $x))) $x)\n"
	    "(same \"a longer string\" (deep (deeper (deepest $y))) $y)\n"
	    "(= (f $a $b) (g $b $a))\n(= (f $a $b) (g $b $a))\n(= (f $a $b) (g $b $a))\n"
	    "foo\n42\n\"bare\"\n()\n($v head)\n((nested head) tail)\n(= $x wild)\n"
	    "(= 42 fortytwo)\n(= ((f a) b) c)\n(big (1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 "
	    "18))\n"
	    "(vars $a $b $c $d $e $f $g $h $i $j $k $l $m $n $o $p $q $r)\n";
	struct loaded l;
	load_text(&l, text, sizeof text - 1);
	size_t len;
	uint8_t *bytes = build(l.space, &len);
	struct mt_image_kb kb;
	open_kb(bytes, len, &kb);
	expect_same_atoms(l.space, kb.space);
	cr_expect_eq(mt_space_multiplicity(kb.space, 1), 2); /* alpha-equivalent */
	cr_expect_eq(mt_space_multiplicity(kb.space, 2), 3);
	static const char *const queries[] = {
	    "(match &self (fact $a $b $c $d $e $f $g $h $i) ($a $i))",
	    "(match &self ($h head) $h)",
	    "(match &self ((nested head) $t) $t)",
	    "(match &self $x $x)",
	    "(f 1 2)",
	    "(anything at all)",
	    "42",
	    "((f a) b)",
	};
	expect_same_for_all(l.space, kb.space, queries, sizeof queries / sizeof *queries);
	mt_image_kb_close(&kb);
	free(bytes);
	loaded_free(&l);
}

Test(image, homes_of_every_shape_verify_and_answer_like_the_source)
{
	/* `:` gets a home of 1000 declarations in 1000 runs (a long record with
	 * a table of every 16th entry), each f<i> a home of its own; g has a
	 * rule group of arity 3 after an atom group of arity 2 (groups sort by
	 * kind, then arity); `=` holds a rule whose LHS is a rule. */
	struct kb_buf text = {0};
	for (int i = 0; i < 1000; i++)
		kb_buf_printf(&text, "(: f%d (-> T%d T))\n(= (f%d $x) (g %d $x))\n", i, i % 7, i,
			      i);
	kb_buf_printf(&text, "(= (g a b) x)\n(g a)\n(= (= a b) eq)\n(g b)\n");
	struct loaded l;
	load_text(&l, text.data, text.len);
	size_t len;
	uint8_t *bytes = build(l.space, &len);
	struct mt_image_kb kb;
	open_kb(bytes, len, &kb);
	expect_same_atoms(l.space, kb.space);
	static const char *const queries[] = {
	    "(match &self (: f250 $t) $t)",
	    "(match &self (: $f (-> T3 T)) $f)",
	    "(f123 q)",
	    "(match &self (g $x) $x)",
	    "(g a b)",
	    "(match &self (= (= $a $b) $c) ($a $c))",
	    "(= a b)",
	};
	expect_same_for_all(l.space, kb.space, queries, sizeof queries / sizeof *queries);
	/* the records before the hash order stay small: their index parts (the
	 * 1000 declarations of `:`) follow the last record, so open reads the
	 * well-known names from the section's first page or two */
	struct mt_image_info info;
	mt_image_get_info(kb.image, &info);
	cr_assert_geq(info.hashed, MT_S__COUNT);
	const uint8_t *map = mt_image_bytes(kb.image, &(size_t){0});
	uint64_t symidx = info.sections[IMG_SYMIDX].offset;
	uint32_t first_hashed = img_le32(map + symidx + 8 * ((info.hashed + 15) / 16));
	cr_expect_lt(first_hashed, 4096, "records 0..%llu take %u bytes",
		     (unsigned long long)info.hashed, first_hashed);
	mt_image_kb_close(&kb);
	free(bytes);
	loaded_free(&l);
	kb_buf_free(&text);
}

/* T0 = (a b), Ti = (Ti-1 Ti-1): n + 1 shared records for a tree of 2^(n+1)
 * leaves. */
static mt_term doubling_chain(struct mt_store *st, int n)
{
	mt_term ab[2] = {mt_sym(mt_sym_intern(st, "a", 1)), mt_sym(mt_sym_intern(st, "b", 1))};
	mt_term t = mt_expr(st, ab, 2);
	for (int i = 0; i < n; i++) {
		mt_term pair[2] = {t, t};
		t = mt_expr(st, pair, 2);
	}
	return t;
}

/* A term of more than 2^41 leaves is 41 shared records and an entry:
 * (T40 end).
 * Reading its index key asks whether the head T40 is ground; that walk
 * must visit each shared record once. */
Test(image, a_term_exponentially_larger_than_its_image_is_verified_in_linear_time, .timeout = 60)
{
	struct loaded l;
	load_text(&l, "", 0);
	struct mt_store *st = mt_space_store(l.space);
	mt_term t = doubling_chain(st, 40);
	mt_term atom_args[2] = {t, mt_sym(mt_sym_intern(st, "end", 3))};
	mt_term atom = mt_expr(st, atom_args, 2);
	struct kb_error err;
	cr_assert_geq(mt_space_add(l.space, atom, NULL, &err), 0, "%s", err.msg);
	size_t len;
	uint8_t *bytes = build(l.space, &len);
	struct mt_image_kb kb;
	open_kb(bytes, len, &kb); /* verifies the whole image */
	cr_expect_eq(mt_space_entries(kb.space), 1);
	mt_term got = mt_space_atom(kb.space, 0);
	cr_assert_neq(got, MT_NONE);
	cr_expect_eq(mt_expr_arity(kb.store, got), 2);
	mt_image_kb_close(&kb);
	free(bytes);
	loaded_free(&l);
}

/* 32,000 atoms (R i) under one head R, a doubling chain of 32,001 shared
 * records. Each atom's index key asks whether
 * R is ground: worked out once per record, not walked per atom (a walk
 * per atom took 22 s for 16,000 and over 60 s for this; now 0.06 s). */
Test(image, many_atoms_under_one_deep_shared_head_are_verified_in_linear_time, .timeout = 60)
{
	struct loaded l;
	load_text(&l, "", 0);
	struct mt_store *st = mt_space_store(l.space);
	mt_term r = doubling_chain(st, 32000);
	struct kb_error err;
	for (int i = 0; i < 32000; i++) {
		mt_term args[2] = {r, mt_int(st, i, 0)};
		cr_assert_geq(mt_space_add(l.space, mt_expr(st, args, 2), NULL, &err), 0, "%s",
			      err.msg);
	}
	size_t len;
	uint8_t *bytes = build(l.space, &len);
	struct mt_image_kb kb;
	open_kb(bytes, len, &kb); /* verifies the whole image */
	cr_expect_eq(mt_space_entries(kb.space), 32000);
	mt_image_kb_close(&kb);
	free(bytes);
	loaded_free(&l);
}

Test(image, empty_space_round_trips)
{
	struct loaded l;
	load_text(&l, "", 0);
	size_t len;
	uint8_t *bytes = build(l.space, &len);
	struct mt_image_kb kb;
	open_kb(bytes, len, &kb);
	cr_expect_eq(mt_space_entries(kb.space), 0);
	expect_same_results(l.space, kb.space, "(match &self $x $x)");
	mt_image_kb_close(&kb);
	free(bytes);
	loaded_free(&l);
}

/* ---- overlay ---- */

static mt_term parse_in(struct mt_store *st, const char *text)
{
	mt_term t;
	struct kb_error err;
	cr_assert_eq(mt_parse_one(st, text, strlen(text), &t, &err), 0, "%s", err.msg);
	return t;
}

/* Applies the same changes to an in-memory space and to an opened image. */
static void change_both(struct mt_space *mem, struct mt_space *img, const char *text, int add)
{
	struct kb_error err;
	mt_term a = parse_in(mt_space_store(mem), text), b = parse_in(mt_space_store(img), text);
	if (add) {
		cr_assert_geq(mt_space_add(mem, a, NULL, &err), 0, "%s", err.msg);
		cr_assert_geq(mt_space_add(img, b, NULL, &err), 0, "%s", err.msg);
	} else {
		cr_expect_eq(mt_space_remove(mem, a), mt_space_remove(img, b), "remove %s", text);
	}
	cr_expect_eq(mt_space_count(mem, a), mt_space_count(img, b), "count %s", text);
}

Test(image, overlay_adds_and_removes_on_top_of_an_image_and_saves_a_new_one)
{
	struct loaded l;
	generated(&l, 100);
	size_t len;
	uint8_t *bytes = build(l.space, &len);
	struct mt_image_kb kb;
	open_kb(bytes, len, &kb);
	uint32_t E = mt_space_entries(kb.space);
	change_both(l.space, kb.space, "(= (add5 zero $x) $x)", 1); /* in the image: x2 */
	change_both(l.space, kb.space, "(= (add5 $x zero) $x)", 0); /* removed */
	change_both(l.space, kb.space, "(= (add5 $x zero) $x)", 0); /* not there any more */
	change_both(l.space, kb.space, "(= (new-fn $x) (succ $x))", 1);
	change_both(l.space, kb.space, "(= (new-fn $x) (succ $x))", 1);
	change_both(l.space, kb.space, "(new-fact a b)", 1);
	change_both(l.space, kb.space, "(new-fact a b)", 0);
	change_both(l.space, kb.space, "(and7 True True)", 1);
	change_both(l.space, kb.space, "(= (mul3 zero $x) zero)", 0);
	cr_expect_eq(mt_space_entries(kb.space), E + 3);
	expect_same_atoms(l.space, kb.space);
	expect_same_results(l.space, kb.space, "(add5 zero (succ zero))");
	expect_same_results(l.space, kb.space, "(add5 (succ zero) zero)");
	expect_same_results(l.space, kb.space, "(new-fn zero)");
	expect_same_results(l.space, kb.space, "(mul3 zero zero)");
	expect_same_results(l.space, kb.space, "(match &self (new-fact $a $b) ($a $b))");
	expect_same_results(l.space, kb.space, "(match &self ($h True True) $h)");
	/* an atom removed from the image comes back when added again */
	change_both(l.space, kb.space, "(= (mul3 zero $x) zero)", 1);
	expect_same_results(l.space, kb.space, "(mul3 zero zero)");

	/* saving the overlay gives an image of the merged contents */
	size_t len2;
	uint8_t *bytes2 = build(kb.space, &len2);
	struct mt_image_kb kb2;
	open_kb(bytes2, len2, &kb2);
	expect_same_atoms(l.space, kb2.space);
	expect_same_results(l.space, kb2.space, "(new-fn zero)");
	mt_image_kb_close(&kb2);
	free(bytes2);
	mt_image_kb_close(&kb);
	free(bytes);
	loaded_free(&l);
}

/* One atom of each kind of index group (symbol head, ground non-symbol
 * head, wild head; atoms and rules). */
static void group_atom(char *buf, size_t size, unsigned form, unsigned a, unsigned b)
{
	switch (form % 6) {
	case 0:
		snprintf(buf, size, "(edge n%u n%u)", a, b);
		break;
	case 1:
		snprintf(buf, size, "((pair %u) %u)", a, b);
		break;
	case 2:
		snprintf(buf, size, "($x %u %u)", a, b);
		break;
	case 3:
		snprintf(buf, size, "(= (f%u $x) %u)", a, b);
		break;
	case 4:
		snprintf(buf, size, "(= ($g %u) %u)", a, b);
		break;
	default:
		snprintf(buf, size, "(= 7 (%u %u))", a, b);
	}
}

/* Adds, removes and counts in every kind of index group, in a random
 * order, against the same changes in memory: the first look-up in a group
 * indexes the whole group, and later ones must see the image's
 * multiplicities, entries brought to 0, and atoms added since. */
Test(image, overlay_changes_in_every_kind_of_group_match_the_in_memory_space)
{
	struct kb_buf text = {0};
	char atom[64];
	for (unsigned i = 0; i < 60; i++)
		for (unsigned f = 0; f < 6; f++) {
			group_atom(atom, sizeof atom, f, i % 20, i % 7);
			kb_buf_printf(&text, "%s\n", atom);
		}
	struct loaded l;
	load_text(&l, text.data, text.len);
	kb_buf_free(&text);
	size_t len;
	uint8_t *bytes = build(l.space, &len);
	struct mt_image_kb kb;
	open_kb(bytes, len, &kb);
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	for (int step = 0; step < 3000; step++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		group_atom(atom, sizeof atom, (unsigned)(x % 6), (unsigned)(x >> 8) % 25,
			   (unsigned)(x >> 16) % 8);
		change_both(l.space, kb.space, atom, (x >> 24) % 3 != 0);
	}
	expect_same_atoms(l.space, kb.space);
	cr_expect_eq(mt_space_size(l.space), mt_space_size(kb.space));
	cr_expect_eq(mt_space_distinct(l.space), mt_space_distinct(kb.space));
	cr_expect_eq(mt_space_rules(l.space), mt_space_rules(kb.space));
	struct kb_error err;
	cr_expect_eq(mt_image_kb_status(&kb, &err), 0, "%s", err.msg);
	mt_image_kb_close(&kb);
	free(bytes);
	loaded_free(&l);
}

Test(image, scratch_atoms_are_counted_and_removed_from_an_image_before_any_decoding)
{
	struct loaded l;
	generated(&l, 100);
	size_t len;
	uint8_t *bytes = build(l.space, &len);
	struct mt_image_kb kb;
	open_kb(bytes, len, &kb);
	/* (= (mul7 zero $x) zero) built in the scratch heap */
	struct mt_store *st = kb.store;
	uint32_t mul7 = mt_sym_find(st, "mul7", 4), zero = mt_sym_find(st, "zero", 4);
	cr_assert_neq(mul7, UINT32_MAX);
	mt_term lhs_args[3] = {mt_sym(mul7), mt_sym(zero), mt_var(0)};
	mt_term lhs = mt_texpr(st, lhs_args, 3);
	mt_term rule_args[3] = {mt_sym(MT_S_EQUAL), lhs, mt_sym(zero)};
	mt_term rule = mt_texpr(st, rule_args, 3);
	cr_assert(mt_is_scratch(rule));
	uint64_t rules = mt_space_rules(kb.space), size = mt_space_size(kb.space);
	cr_expect_eq(mt_space_remove(kb.space, rule), 1);
	cr_expect_eq(mt_space_count(kb.space, rule), 0);
	cr_expect_eq(mt_space_rules(kb.space), rules - 1);
	cr_expect_eq(mt_space_size(kb.space), size - 1);
	cr_expect_eq(mt_space_remove(kb.space, rule), 0);
	mt_image_kb_close(&kb);
	free(bytes);
	loaded_free(&l);
}

Test(image, evaluation_with_add_atom_on_an_image_changes_only_the_overlay)
{
	struct loaded l;
	generated(&l, 100);
	size_t len;
	uint8_t *bytes = build(l.space, &len);
	struct mt_image_kb kb;
	open_kb(bytes, len, &kb);
	expect_same_results(l.space, kb.space, "(add-atom &self (= (extra) 42))");
	expect_same_results(l.space, kb.space, "(extra)");
	expect_same_results(l.space, kb.space, "(remove-atom &self (= (add2 zero $x) $x))");
	expect_same_results(l.space, kb.space, "(add2 zero zero)");
	expect_same_atoms(l.space, kb.space);
	mt_image_kb_close(&kb);
	free(bytes);
	loaded_free(&l);
}

/* ---- files: atomic writes, zstd ---- */

Test(image, written_file_opens_and_verifies_and_leaves_no_temporary_file)
{
	struct loaded l;
	generated(&l, 1000);
	char *dir = make_temp_dir();
	char path[1024];
	snprintf(path, sizeof path, "%s/kb.kbi", dir);
	struct kb_error err;
	struct mt_image_write_stats stats;
	cr_assert_eq(mt_image_write(l.space, path, NULL, &stats, &err), 0, "%s", err.msg);
	struct mt_image_kb kb;
	cr_assert_eq(mt_image_kb_open(path, MT_IMAGE_LAZY, &kb, &err), 0, "%s", err.msg);
	cr_expect_eq(mt_image_verify(kb.image, &err), 0, "%s", err.msg);
	expect_same_atoms(l.space, kb.space);
	mt_image_kb_close(&kb);
	DIR *d = opendir(dir);
	struct dirent *de;
	int files = 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			files++;
	closedir(d);
	cr_expect_eq(files, 1);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq((uint64_t)st.st_size, stats.image_bytes);
	rm_rf(dir);
	free(dir);
	loaded_free(&l);
}

Test(image, failed_write_leaves_the_target_untouched_and_no_partial_file)
{
	struct loaded l;
	generated(&l, 100);
	char *dir = make_temp_dir();
	char target[1024];
	snprintf(target, sizeof target, "%s/occupied", dir);
	cr_assert_eq(mkdir(target, 0755), 0); /* rename over a directory fails */
	struct kb_error err;
	cr_expect_eq(mt_image_write(l.space, target, NULL, NULL, &err), -1);
	cr_expect_not_null(strstr(err.msg, "occupied"), "%s", err.msg);
	DIR *d = opendir(dir);
	struct dirent *de;
	while ((de = readdir(d)))
		cr_expect(de->d_name[0] == '.' || strcmp(de->d_name, "occupied") == 0,
			  "left behind: %s", de->d_name);
	closedir(d);
	snprintf(target, sizeof target, "%s/no/such/dir/kb.kbi", dir);
	cr_expect_eq(mt_image_write(l.space, target, NULL, NULL, &err), -1);
	cr_expect_not_null(strstr(err.msg, "temporary"), "%s", err.msg);
	rm_rf(dir);
	free(dir);
	loaded_free(&l);
}

Test(image, zstd_form_round_trips_and_is_smaller)
{
	struct loaded l;
	generated(&l, 1000);
	char *dir = make_temp_dir();
	char plain[1024], packed[1024];
	snprintf(plain, sizeof plain, "%s/kb.kbi", dir);
	snprintf(packed, sizeof packed, "%s/kb.kbi.zst", dir);
	struct kb_error err;
	struct mt_image_write_opts zo = {.zstd = 1, .zstd_level = 3};
	struct mt_image_write_stats s1, s2;
	cr_assert_eq(mt_image_write(l.space, plain, NULL, &s1, &err), 0, "%s", err.msg);
	cr_assert_eq(mt_image_write(l.space, packed, &zo, &s2, &err), 0, "%s", err.msg);
	cr_expect_lt(s2.file_bytes, s1.file_bytes);
	struct mt_image_kb kb;
	cr_assert_eq(mt_image_kb_open(packed, MT_IMAGE_LAZY, &kb, &err), 0, "%s", err.msg);
	struct mt_image_info info;
	mt_image_get_info(kb.image, &info);
	cr_expect(info.compressed);
	cr_expect_eq(info.compressed_size, s2.file_bytes);
	cr_expect_eq(mt_image_verify(kb.image, &err), 0, "%s", err.msg);
	expect_same_atoms(l.space, kb.space);
	expect_same_results(l.space, kb.space, "(add5 (succ zero) zero)");
	mt_image_kb_close(&kb);

	/* a truncated frame is refused */
	size_t zlen;
	char *z = read_file(packed, &zlen);
	struct mt_image *img;
	cr_expect_eq(mt_image_open_mem(z, zlen / 2, "half.kbi.zst", &img, &err), -1);
	cr_expect_not_null(strstr(err.msg, "half.kbi.zst"), "%s", err.msg);
	free(z);

	/* a frame whose image header announces another size is refused, and
	 * the message quotes both sizes */
	size_t plen;
	char *p = read_file(plain, &plen);
	uint64_t lie = plen + 4096;
	memcpy(p + IMG_H_FILE_SIZE, &lie, sizeof lie);
	size_t cap = ZSTD_compressBound(plen);
	char *frame = malloc(cap);
	size_t flen = ZSTD_compress(frame, cap, p, plen, 3);
	cr_assert(!ZSTD_isError(flen));
	cr_expect_eq(mt_image_open_mem(frame, flen, "lies.kbi.zst", &img, &err), -1);
	char want[128];
	snprintf(want, sizeof want, "declares %zu bytes but its image header says %llu", plen,
		 (unsigned long long)lie);
	cr_expect_not_null(strstr(err.msg, want), "%s", err.msg);
	free(frame);
	free(p);
	rm_rf(dir);
	free(dir);
	loaded_free(&l);
}

/* ---- damaged images ---- */

static uint8_t *small_image(size_t *len)
{
	static const char text[] = "(: Nat Type)\n(= (add zero $x) $x)\n"
				   "(= (add (succ $x) $y) (succ (add $x $y)))\n"
				   "(= (length (cons $h $t)) (+ 1 (length $t)))\n"
				   "(= (length ()) 0)\n(fact \"a longer string\" 2.5 -7)\n"
				   "(fact \"a longer string\" (cons $h $t) 123456789012)\n"
				   "($v wild)\n(= ($f 1) any)\n(= 42 other)\n";
	struct loaded l;
	load_text(&l, text, sizeof text - 1);
	uint8_t *bytes = build(l.space, len);
	loaded_free(&l);
	return bytes;
}

/* Re-seals a modified image: section checksums and header checksum. */
static void reseal(uint8_t *p, size_t len)
{
	uint32_t hsize = img_le32(p + IMG_H_HEADER_SIZE);
	for (uint32_t i = 0; i < img_le32(p + IMG_H_SECTION_COUNT); i++) {
		uint8_t *e = p + IMG_HEADER_FIXED + i * IMG_SECTION_ENTRY;
		uint64_t off = img_le64(e + 8), size = img_le64(e + 16);
		if (off <= len && size <= len - off)
			img_put64(e + 24, XXH3_64bits(p + off, size));
	}
	memset(p + IMG_H_CHECKSUM, 0, 8);
	img_put64(p + IMG_H_CHECKSUM, XXH3_64bits(p, hsize));
}

/* Opens, verifies and, if open succeeds, reads every entry and runs
 * queries: whatever the damage, nothing crashes. Returns verify's result. */
static int exercise(const uint8_t *p, size_t len, struct kb_error *err)
{
	struct mt_image *img;
	if (mt_image_open_mem(p, len, "bad.kbi", &img, err))
		return -1;
	int verified = mt_image_verify(img, err);
	struct kb_error lazy;
	struct mt_image_kb kb;
	if (mt_image_kb_attach(img, &kb, &lazy))
		return -1;
	struct kb_buf out = {0};
	for (uint32_t e = 0; e < mt_space_entries(kb.space); e++)
		print_entry(kb.space, e, &out);
	static const char *const queries[] = {"(add (succ zero) zero)", "(length (cons a ()))",
					      "(match &self ($a $b $c) $a)", "(fact $x)"};
	for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
		mt_term q;
		if (mt_parse_one(kb.store, queries[i], strlen(queries[i]), &q, &lazy) == 0) {
			struct mt_eval_opts o = mt_eval_default_opts();
			o.max_steps = 5000;
			struct mt_eval_ctx *ctx = mt_eval_ctx_new(kb.space, &o);
			struct mt_eval_it *it = mt_eval_start(ctx, q, NULL, &lazy);
			mt_term r;
			while (it && mt_eval_next(it, &r) == 1)
				mt_print(kb.store, r, NULL, &out);
			if (it)
				mt_eval_teardown(it);
			mt_eval_ctx_free(ctx);
		}
	}
	if (verified == 0 && mt_image_kb_status(&kb, &lazy) != 0)
		cr_expect_fail("verify passed but a query met an error: %s", lazy.msg);
	kb_buf_free(&out);
	mt_image_kb_close(&kb);
	return verified;
}

Test(image, truncated_images_are_refused_with_a_clear_error)
{
	size_t len;
	uint8_t *bytes = small_image(&len);
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *p = malloc(cut + 1);
		memcpy(p, bytes, cut);
		struct kb_error err;
		struct mt_image *img;
		cr_assert_eq(mt_image_open_mem(p, cut, "cut.kbi", &img, &err), -1, "cut at %zu",
			     cut);
		cr_expect_not_null(strstr(err.msg, "cut.kbi: "), "%s", err.msg);
		/* the same truncation with the header's size patched to match */
		if (cut >= IMG_HEADER_FIXED + IMG_NSEC * IMG_SECTION_ENTRY) {
			img_put64(p + IMG_H_FILE_SIZE, cut);
			reseal(p, cut);
			cr_expect_eq(exercise(p, cut, &err), -1, "cut at %zu", cut);
		}
		free(p);
	}
	free(bytes);
}

Test(image, every_bit_flip_is_caught_by_verify_and_never_crashes)
{
	size_t len;
	uint8_t *bytes = small_image(&len);
	uint8_t *p = malloc(len);
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(p, bytes, len);
			p[i] ^= (uint8_t)(1u << b);
			struct kb_error err;
			cr_expect_eq(exercise(p, len, &err), -1, "flip of bit %d at %zu passed", b,
				     i);
		}
	}
	free(p);
	free(bytes);
}

Test(image, resealed_corruption_gives_errors_naming_a_section_and_never_crashes)
{
	size_t len;
	uint8_t *bytes = small_image(&len);
	uint8_t *p = malloc(len);
	uint32_t hsize = img_le32(bytes + IMG_H_HEADER_SIZE);
	int caught = 0;
	for (size_t i = hsize; i < len; i++) {
		for (int v = 0; v < 4; v++) {
			static const uint8_t vals[4] = {0x00, 0xff, 0x7f, 0xC5};
			memcpy(p, bytes, len);
			if (p[i] == vals[v])
				continue;
			p[i] = vals[v];
			reseal(p, len);
			struct kb_error err;
			if (exercise(p, len, &err) != 0) {
				caught++;
				cr_expect_not_null(strstr(err.msg, "bad.kbi: "), "%s", err.msg);
			}
		}
	}
	cr_expect_gt(caught, 0);
	free(p);
	free(bytes);
}

static void expect_open_error(uint8_t *p, size_t len, const char *want)
{
	reseal(p, len);
	struct mt_image *img;
	struct kb_error err;
	cr_assert_eq(mt_image_open_mem(p, len, "crafted.kbi", &img, &err), -1, "%s", want);
	cr_expect_not_null(strstr(err.msg, want), "wanted '%s' in: %s", want, err.msg);
}

static uint8_t *section_entry(uint8_t *p, int sec)
{
	for (uint32_t i = 0; i < IMG_NSEC; i++) {
		uint8_t *e = p + IMG_HEADER_FIXED + i * IMG_SECTION_ENTRY;
		if (img_le32(e) == (uint32_t)sec + 1)
			return e;
	}
	cr_assert_fail("no section %d", sec);
	return NULL;
}

Test(image, crafted_headers_and_section_tables_are_refused_at_open)
{
	size_t len;
	uint8_t *bytes = small_image(&len);
	uint8_t *p = malloc(len);
	memcpy(p, bytes, len);
	img_put64(section_entry(p, IMG_TERMS) + 8, (len + 63) / 64 * 64 + 64);
	expect_open_error(p, len, "section 'terms' ends past end of file");

	memcpy(p, bytes, len);
	img_put64(section_entry(p, IMG_ORDER) + 16, UINT64_MAX - 8);
	expect_open_error(p, len, "section 'order' ends past end of file");

	memcpy(p, bytes, len);
	img_put64(section_entry(p, IMG_SYMTAB) + 8, img_le64(section_entry(p, IMG_SYMIDX) + 8));
	expect_open_error(p, len, "overlap");

	memcpy(p, bytes, len);
	img_put64(section_entry(p, IMG_SYMTAB) + 8, img_le64(section_entry(p, IMG_SYMTAB) + 8) + 1);
	expect_open_error(p, len, "must be a multiple of 64");

	memcpy(p, bytes, len);
	img_put32(section_entry(p, IMG_WILD), 99);
	expect_open_error(p, len, "unknown section id 99");

	memcpy(p, bytes, len);
	img_put32(section_entry(p, IMG_WILD), IMG_NAMES + 1);
	expect_open_error(p, len, "section 'names' appears twice");

	memcpy(p, bytes, len);
	img_put64(p + IMG_H_ENTRIES, 1u << 30);
	expect_open_error(p, len, "entries is impossible");

	memcpy(p, bytes, len);
	img_put64(p + IMG_H_SYMBOLS, img_le64(p + IMG_H_SYMBOLS) + IMG_SAMPLE);
	expect_open_error(p, len, "section 'symidx' is");

	memcpy(p, bytes, len);
	img_put32(p + IMG_H_VERSION, IMG_VERSION + 1);
	expect_open_error(p, len, "is not supported (this kbprof reads version");

	memcpy(p, bytes, len);
	img_put32(p + IMG_H_VERSION, 3); /* version 3: a hash table, entries in their own section */
	expect_open_error(p, len, "format version 3 is not supported");

	memcpy(p, bytes, len);
	img_put64(p + IMG_H_HASHED, IMG_FREQ_SYMS + 1);
	expect_open_error(p, len, "hash order from symbol 65 is impossible");

	memcpy(p, bytes, len);
	img_put64(p + IMG_H_ORDER_RUNS, img_le64(p + IMG_H_ENTRIES) + 1);
	expect_open_error(p, len, "order runs is impossible");

	memcpy(p, bytes, len);
	img_put64(section_entry(p, IMG_ORDIDX) + 16,
		  img_le64(section_entry(p, IMG_ORDIDX) + 16) - 8);
	expect_open_error(p, len, "section 'ordidx' is 0 bytes, expected 8");

	memcpy(p, bytes, len);
	img_put64(p + IMG_H_WELLKNOWN, 10);
	expect_open_error(p, len, "10 well-known symbols");

	memcpy(p, bytes, len);
	p[0] = 'X';
	expect_open_error(p, len, "not a kbprof image");

	memcpy(p, bytes, len);
	p[IMG_H_CHECKSUM] ^= 1;
	struct mt_image *img;
	struct kb_error err;
	cr_expect_eq(mt_image_open_mem(p, len, "crafted.kbi", &img, &err), -1);
	cr_expect_not_null(strstr(err.msg, "header checksum mismatch"), "%s", err.msg);
	free(p);
	free(bytes);
}

/* Opens damaged bytes for querying without verifying them (as a lazy
 * open does): errors then come from the reads a query makes. */
static void open_unverified(const uint8_t *p, size_t len, struct mt_image_kb *kb)
{
	struct mt_image *img;
	struct kb_error err;
	cr_assert_eq(mt_image_open_mem(p, len, "bad.kbi", &img, &err), 0, "%s", err.msg);
	cr_assert_eq(mt_image_kb_attach(img, kb, &err), 0, "%s", err.msg);
}

Test(image, crafted_reference_past_the_end_names_section_and_offset)
{
	/* One entry, (f (g a) (g a)) twice over: (g a) is a shared record, so
	 * the entry holds two reference items; point one past 'terms'. */
	static const char text[] = "(f (g a) (g a))\n";
	struct loaded l;
	load_text(&l, text, sizeof text - 1);
	size_t len;
	uint8_t *p = build(l.space, &len);
	uint8_t *ent = section_entry(p, IMG_SYMTAB); /* the entry lives with f */
	uint64_t off = img_le64(ent + 8), size = img_le64(ent + 16);
	int patched = 0;
	for (uint64_t i = 0; i < size; i++)
		if ((p[off + i] & 0xf0) == IMG_C_REF) {
			p[off + i] = IMG_C_REF | 0xf; /* offset 15 + 16 * varint */
			p[off + i + 1] = 0x7f;        /* 15 + 16 * 127 = 2047 */
			patched = 1;
			break;
		}
	cr_assert(patched);
	reseal(p, len);
	struct kb_error err;
	cr_expect_eq(exercise(p, len, &err), -1);
	cr_expect_not_null(strstr(err.msg, "section 'symtab' record at offset "), "%s", err.msg);
	cr_expect_not_null(strstr(err.msg, "past end of section 'terms'"), "%s", err.msg);

	/* the same through the query path: the error is kept for the caller */
	struct mt_image_kb kb;
	open_unverified(p, len, &kb);
	struct mt_space_iter it;
	mt_term pat = parse_in(kb.store, "(f $x $y)");
	mt_space_atoms_begin(kb.space, pat, &it);
	uint32_t e;
	cr_expect_eq(mt_space_next(&it, &e), 0, "the damaged entry is skipped");
	cr_expect_eq(mt_image_kb_status(&kb, &err), -1);
	cr_expect_not_null(strstr(err.msg, "bad.kbi: section 'symtab'"), "%s", err.msg);
	mt_image_kb_close(&kb);
	free(p);
	loaded_free(&l);
}

/* Swaps the first two adjacent variable items $0 $1 found in section sec. */
static void swap_first_vars(uint8_t *p, int sec)
{
	uint8_t *ent = section_entry(p, sec);
	uint64_t off = img_le64(ent + 8), size = img_le64(ent + 16);
	for (uint64_t i = 0; i + 1 < size; i++)
		if (p[off + i] == IMG_C_VAR && p[off + i + 1] == IMG_C_VAR + 1) {
			p[off + i] = IMG_C_VAR + 1;
			p[off + i + 1] = IMG_C_VAR;
			return;
		}
	cr_assert_fail("no $0 $1 in section %d", sec);
}

/* Variables must be numbered 0..k-1 in order of first occurrence, through
 * shared records too: a query on an entry claiming variable n sizes its
 * bindings by n, so verify and the decoder both refuse the entry. */
Test(image, entries_numbering_variables_out_of_order_are_refused_by_verify_and_queries)
{
	static const struct {
		const char *text, *query;
		int sec;
	} cases[] = {
	    {"(f $a $b)\n", "(f $x $y)", IMG_SYMTAB},
	    /* (k $0 $1) is a shared record; made (k $1 $0) */
	    {"(f (k $a $b) (k $a $b))\n", "(f $x $y)", IMG_TERMS},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct loaded l;
		load_text(&l, cases[i].text, strlen(cases[i].text));
		size_t len;
		uint8_t *p = build(l.space, &len);
		struct mt_image_kb kb;
		open_kb(p, len, &kb); /* as written, it verifies */
		mt_image_kb_close(&kb);
		swap_first_vars(p, cases[i].sec);
		reseal(p, len);
		struct kb_error err;
		cr_expect_eq(exercise(p, len, &err), -1, "%s", cases[i].text);
		cr_expect_not_null(strstr(err.msg, "entry 0 numbers its variables out of order: "
						   "variable 1 occurs before variables 0..0"),
				   "%s", err.msg);

		open_unverified(p, len, &kb);
		struct mt_space_iter it;
		mt_space_atoms_begin(kb.space, parse_in(kb.store, cases[i].query), &it);
		uint32_t e;
		cr_expect_eq(mt_space_next(&it, &e), 0, "the entry is skipped");
		cr_expect_eq(mt_image_kb_status(&kb, &err), -1);
		cr_expect_not_null(strstr(err.msg, "section 'symtab' record at offset "), "%s",
				   err.msg);
		cr_expect_not_null(strstr(err.msg, "numbers its variables out of order"), "%s",
				   err.msg);
		mt_image_kb_close(&kb);
		free(p);
		loaded_free(&l);
	}
}

/* A shared record need not start at $0: in (f $a (k $b c) (k $b c)) the
 * record (k $1 c) is right after $0. An atom added through the API with
 * its variables out of order is refused by the writer, not written. */
Test(image, variable_numbering_is_checked_per_entry_and_the_writer_refuses_a_bad_atom)
{
	static const char text[] = "(f $a (k $b c) (k $b c))\n(g (k $b c) $a (k $b c))\n";
	struct loaded l;
	load_text(&l, text, sizeof text - 1);
	size_t len;
	uint8_t *p = build(l.space, &len);
	struct mt_image_kb kb;
	open_kb(p, len, &kb);
	static const char *const queries[] = {"(match &self (f $x $y $y) ($x $y))",
					      "(match &self (g $y $x $y) ($x $y))"};
	expect_same_for_all(l.space, kb.space, queries, 2);
	mt_image_kb_close(&kb);
	free(p);

	struct mt_store *st = mt_space_store(l.space);
	mt_term args[3] = {mt_sym(mt_sym_intern(st, "h", 1)), mt_var(1), mt_var(0)};
	struct kb_error err;
	cr_assert_geq(mt_space_add(l.space, mt_expr(st, args, 3), NULL, &err), 0, "%s", err.msg);
	uint8_t *bytes = NULL;
	cr_expect_eq(mt_image_build(l.space, &bytes, &len, NULL, &err), -1);
	cr_expect_null(bytes);
	cr_expect_not_null(strstr(err.msg, "numbers its variables out of order (variable 1 "
					   "before variables 0..0)"),
			   "%s", err.msg);
	loaded_free(&l);
}

static uint64_t get_varint(const uint8_t *p, size_t *i)
{
	uint64_t v = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint8_t b = p[(*i)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
}

/* A symbol record whose index groups take 64 bytes or more must be long
 * (its groups' length and entry count up front): a short one would make a
 * reader re-read every group each time it comes back to the symbol's home,
 * so a full scan would be quadratic. Here f (arities 1..40: 40 groups) is
 * frequent, so its index part is the last thing in 'symtab', and is
 * rewritten short in place. */
Test(image, a_short_symbol_record_with_64_bytes_of_groups_is_refused)
{
	struct kb_buf text = {0};
	for (int a = 1; a <= 40; a++) {
		kb_buf_puts(&text, "(f");
		for (int i = 0; i < a; i++)
			kb_buf_printf(&text, " %d", i);
		kb_buf_puts(&text, ")\n");
	}
	struct loaded l;
	load_text(&l, text.data, text.len);
	kb_buf_free(&text);
	size_t len;
	uint8_t *p = build(l.space, &len);
	struct mt_image_kb kb;
	open_kb(p, len, &kb);
	mt_image_kb_close(&kb);

	uint8_t *ent = section_entry(p, IMG_SYMTAB);
	uint64_t off = img_le64(ent + 8), size = img_le64(ent + 16);
	size_t i = 0;
	for (uint32_t id = 0; id < MT_S__COUNT; id++) { /* the well-known records */
		uint64_t v = get_varint(p + off, &i);
		cr_assert_eq(v & IMG_R_INDEX, 0);
		i += v >> 2;
	}
	size_t rec = i;
	uint64_t v = get_varint(p + off, &i);
	cr_assert_eq(v, 1u << 2 | IMG_R_LONG | IMG_R_INDEX, "f is frequent and long");
	cr_assert_eq(p[off + i], 'f');
	size_t part = img_le32(p + off + i + 1), j = part;
	uint64_t ilen = get_varint(p + off, &j);
	cr_assert_eq(j + ilen, size, "f's index part is the last thing in 'symtab'");
	uint64_t glen = get_varint(p + off, &j);
	get_varint(p + off, &j); /* n */
	cr_assert_geq(glen, IMG_LONG_GROUPS);
	size_t body = (size_t)(size - j);
	uint8_t *copy = malloc(body);
	memcpy(copy, p + off + j, body);
	p[off + rec] = (uint8_t)(v & ~(uint64_t)IMG_R_LONG);
	size_t k = part + img_varint_put(p + off + part, body);
	memcpy(p + off + k, copy, body);
	free(copy);
	memset(p + off + k + body, 0, size - (k + body));
	img_put64(ent + 16, k + body);
	reseal(p, len);

	struct kb_error err;
	cr_expect_eq(exercise(p, len, &err), -1);
	cr_expect_not_null(strstr(err.msg, "the index groups of symbol 42 take 64 bytes or more "
					   "and the record is not long"),
			   "%s", err.msg);
	open_unverified(p, len, &kb);
	struct kb_buf out = {0};
	for (uint32_t e = 0; e < mt_space_entries(kb.space); e++)
		print_entry(kb.space, e, &out);
	cr_expect_eq(mt_image_kb_status(&kb, &err), -1);
	cr_expect_not_null(strstr(err.msg, "take 64 bytes or more"), "%s", err.msg);
	kb_buf_free(&out);
	mt_image_kb_close(&kb);
	free(p);
	loaded_free(&l);
}

/* A damaged run after the first of a group is reported with the record it
 * is in, like the first: foo's group (foo 2) lists entries 0, 2 and 4 as
 * three runs; the second is made to claim 128 entries. */
Test(image, a_damaged_later_index_run_names_its_symbol_record)
{
	static const char text[] = "(foo 1)\n(bar 1)\n(foo 2)\n(bar 2)\n(foo 3)\n";
	struct loaded l;
	load_text(&l, text, sizeof text - 1);
	size_t len;
	uint8_t *p = build(l.space, &len);
	uint8_t *ent = section_entry(p, IMG_SYMTAB);
	uint64_t off = img_le64(ent + 8);
	size_t i = 0;
	for (uint32_t id = 0; id < MT_S__COUNT; id++)
		i += get_varint(p + off, &i) >> 2;
	size_t rec = i;
	uint64_t v = get_varint(p + off, &i);
	cr_assert_eq(v, 3u << 2 | IMG_R_INDEX, "foo is frequent and short");
	cr_assert_eq(memcmp(p + off + i, "foo", 3), 0);
	size_t j = img_le32(p + off + i + 3);
	get_varint(p + off, &j);                          /* index_len */
	cr_assert_eq(p[off + j], 2u << 3 | 1u << 2 | 2u); /* atoms, arity 2, three runs */
	cr_assert_eq(p[off + j + 1], 1);
	p[off + j + 2 + 2 * 1 + 1] = 0x7f; /* the second run's count */
	reseal(p, len);
	struct kb_error err;
	struct mt_image_kb kb;
	open_unverified(p, len, &kb);
	struct mt_space_iter it;
	mt_space_atoms_begin(kb.space, parse_in(kb.store, "(foo $x)"), &it);
	uint32_t e;
	while (mt_space_next(&it, &e)) /* foo's home count is damaged too: none */
		;
	cr_expect_eq(mt_image_kb_status(&kb, &err), -1);
	char want[160];
	snprintf(want, sizeof want,
		 "section 'symtab' record at offset %zu: index run [2, +128] outside entries 0..4",
		 rec);
	cr_expect_not_null(strstr(err.msg, want), "wanted '%s' in: %s", want, err.msg);
	mt_image_kb_close(&kb);
	free(p);
	loaded_free(&l);
}

Test(image, verify_reports_a_corrupted_section_by_name)
{
	size_t len;
	uint8_t *p = small_image(&len);
	uint8_t *ent = section_entry(p, IMG_ORDER);
	p[img_le64(ent + 8) + 1] ^= 0x10;
	struct mt_image *img;
	struct kb_error err;
	cr_assert_eq(mt_image_open_mem(p, len, "flip.kbi", &img, &err), 0, "%s", err.msg);
	cr_expect_eq(mt_image_verify(img, &err), -1);
	cr_expect_not_null(strstr(err.msg, "section 'order' checksum mismatch"), "%s", err.msg);
	mt_image_close(img);
	free(p);
}

/* ---- the kbprof kb commands ---- */

static char *kbprof_out(int want_status, ...)
{
	const char *args[16];
	va_list ap;
	va_start(ap, want_status);
	int n = 0;
	while (n < 15 && (args[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	args[n] = NULL;
	char *argv[18] = {(char *)kbprof_bin()};
	for (int i = 0; i <= n; i++)
		argv[i + 1] = (char *)args[i];
	struct run_result r;
	cr_assert_eq(run_capture(argv, NULL, &r), 0);
	cr_expect_eq(r.status, want_status, "%s %s: status %d, stderr: %s", args[0],
		     n > 1 ? args[1] : "", r.status, r.err);
	size_t len = r.out_len + r.err_len + 1;
	char *both = malloc(len + 1);
	snprintf(both, len + 1, "%s%s", r.out, r.err);
	run_result_free(&r);
	return both;
}

Test(image, kb_commands_compile_query_info_and_verify_an_image)
{
	char *dir = make_temp_dir();
	char src[1024], kbi[1024], zst[1024];
	snprintf(src, sizeof src, "%s/small.metta", dir);
	snprintf(kbi, sizeof kbi, "%s/small.kbi", dir);
	snprintf(zst, sizeof zst, "%s/small.kbi.zst", dir);
	free(kbprof_out(0, "gen", "--rules", "1000", "-o", src, NULL));
	char *out = kbprof_out(0, "kb", "compile", src, "-o", kbi, NULL);
	cr_expect_not_null(strstr(out, "rules:      4000"), "%s", out);
	free(out);
	out = kbprof_out(0, "kb", "info", kbi, NULL);
	cr_expect_not_null(strstr(out, "format:     kbprof image version 4"), "%s", out);
	cr_expect_not_null(strstr(out, "entries"), "%s", out);
	free(out);
	out = kbprof_out(0, "kb", "verify", kbi, NULL);
	cr_expect_not_null(strstr(out, ": ok: "), "%s", out);
	free(out);
	const char *q1 = "(add5 (succ (succ zero)) (succ zero))",
		   *q2 = "!(append3 (cons a ()) (cons b ()))";
	char *from_image = kbprof_out(0, "kb", "query", kbi, q1, q2, NULL);
	char *from_source = kbprof_out(0, "kb", "query", src, q1, q2, NULL);
	cr_expect_str_eq(from_image, from_source);
	cr_expect_not_null(
	    strstr(from_image, "[(succ (succ (succ zero)))]\n[(cons a (cons b ()))]\n"), "%s",
	    from_image);
	out = kbprof_out(0, "kb", "query", "--populate", "--stats", kbi, q1, NULL);
	cr_expect_not_null(strstr(out, "open:    "), "%s", out);
	cr_expect_not_null(strstr(out, "query 1: "), "%s", out);
	cr_expect_not_null(strstr(out, "major faults"), "%s", out);
	free(out);
	free(kbprof_out(0, "kb", "compile", src, "-o", zst, "--zstd", "--level", "3", NULL));
	out = kbprof_out(0, "kb", "query", zst, q1, q2, NULL);
	cr_expect_str_eq(out, from_source);
	free(out);
	free(from_image);
	free(from_source);
	rm_rf(dir);
	free(dir);
}

Test(image, kb_commands_report_damaged_images_and_bad_input)
{
	char *dir = make_temp_dir();
	char src[1024], kbi[1024];
	snprintf(src, sizeof src, "%s/kb.metta", dir);
	snprintf(kbi, sizeof kbi, "%s/kb.kbi", dir);
	static const char text[] = "(= (f $x) (g $x))\n(= (g a) b)\n";
	cr_assert_eq(write_file(src, text, sizeof text - 1), 0);
	free(kbprof_out(0, "kb", "compile", src, "-o", kbi, NULL));
	size_t len;
	char *bytes = read_file(kbi, &len);
	uint8_t *tab = section_entry((uint8_t *)bytes, IMG_SYMTAB);
	bytes[img_le64(tab + 8) + img_le64(tab + 16) - 1] ^= 0x55; /* an entry's last item */
	cr_assert_eq(write_file(kbi, bytes, len), 0);
	char *out = kbprof_out(1, "kb", "verify", kbi, NULL);
	cr_expect_not_null(strstr(out, "checksum mismatch"), "%s", out);
	free(out);
	out = kbprof_out(1, "kb", "info", src, NULL);
	cr_expect_not_null(strstr(out, "kb.metta: "), "%s", out);
	free(out);
	out = kbprof_out(2, "kb", "query", kbi, NULL);
	free(out);
	out = kbprof_out(2, "kb", "compile", src, "--zstd", NULL);
	free(out);

	/* An unreadable entry in a base image stops a compile on top of it
	 * before anything is written: the base is not replaced by an image
	 * without that entry. g is used twice, so it is a frequent symbol
	 * whose index part ends the section; its home's last entry is
	 * (= (g a) b), whose last item becomes the invalid code 0xff. */
	free(bytes);
	free(kbprof_out(0, "kb", "compile", src, "-o", kbi, NULL));
	bytes = read_file(kbi, &len);
	tab = section_entry((uint8_t *)bytes, IMG_SYMTAB);
	bytes[img_le64(tab + 8) + img_le64(tab + 16) - 1] = (char)0xff;
	cr_assert_eq(write_file(kbi, bytes, len), 0);
	out = kbprof_out(1, "kb", "compile", kbi, src, "-o", kbi, NULL);
	cr_expect_not_null(strstr(out, "invalid item code 0xff"), "%s", out);
	free(out);
	size_t len2;
	char *after = read_file(kbi, &len2);
	cr_expect(len2 == len && memcmp(after, bytes, len) == 0, "the damaged base was replaced");
	free(after);
	free(bytes);
	rm_rf(dir);
	free(dir);
}
