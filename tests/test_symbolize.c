/* Tests of analyze/symbolize against this test binary itself: its own
 * functions (lines known through __LINE__ markers), an inlined call, the
 * return-address adjustment, eu-addr2line's answers for the same file
 * offsets, and the degradations (stripped copies, rebuilt and missing
 * files). The module map comes from /proc/self/maps, as a recording's
 * would. */
#include "analyze/symbolize.h"
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- functions with known lines ---- */

/* The volatile store keeps the compiler from merging two calls. */
static volatile int calls;

/* Test functions are global (LTO keeps their names) and never cloned. */
#ifdef __clang__
#define TEST_FN __attribute__((noinline))
#else
#define TEST_FN __attribute__((noinline, noclone))
#endif
uintptr_t return_address(void);
uintptr_t marked_caller(int *line);
uintptr_t outer_of_inline(int *inner_line, int *call_line);

TEST_FN uintptr_t return_address(void)
{
	calls++;
	return (uintptr_t)__builtin_return_address(0);
}

/* The call and the marker share one line on purpose. */
/* clang-format off */
TEST_FN uintptr_t marked_caller(int *line)
{
	uintptr_t ra = return_address(); *line = __LINE__;
	return ra;
}

__attribute__((always_inline)) static inline uintptr_t inlined_helper(int *line)
{
	uintptr_t ra = return_address(); *line = __LINE__;
	return ra;
}

TEST_FN uintptr_t outer_of_inline(int *inner_line, int *call_line)
{
	uintptr_t ra = inlined_helper(inner_line); *call_line = __LINE__;
	return ra;
}
/* clang-format on */

/* ---- the module map of this process ---- */

static char self_path[PATH_MAX];

static const char *self_exe(void)
{
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
	cr_assert_gt(n, 0);
	self_path[n] = '\0';
	return self_path;
}

/* Adds every executable file mapping of this process; a mapping of
 * `replace_from` is added under the path `replace_to` instead, with
 * build_id (when not NULL). */
static void add_self_modules(struct sym_space *sp, const char *replace_from, const char *replace_to,
			     const unsigned char *build_id, size_t build_id_len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	cr_assert_not_null(f);
	char line[PATH_MAX + 128];
	int added = 0;
	while (fgets(line, sizeof line, f)) {
		uint64_t start, end, pgoff;
		char perms[8], path[PATH_MAX];
		path[0] = '\0';
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %4095s", &start,
			   &end, perms, &pgoff, path) < 4)
			continue;
		if (perms[2] != 'x' || path[0] != '/')
			continue;
		const char *p = path;
		const unsigned char *bid = NULL;
		size_t bid_len = 0;
		if (replace_from && strcmp(path, replace_from) == 0) {
			p = replace_to;
			bid = build_id;
			bid_len = build_id_len;
		}
		struct kb_error err = {{0}};
		struct sym_module_desc d = {.path = p,
					    .start = start,
					    .end = end,
					    .pgoff = pgoff,
					    .build_id = bid,
					    .build_id_len = bid_len};
		cr_assert_eq(sym_space_add_module(sp, &d, &err), 0, "%s", err.msg);
		added++;
	}
	fclose(f);
	cr_assert_gt(added, 1);
}

static struct sym_session *new_session(struct sym_space **sp)
{
	struct kb_error err = {{0}};
	struct sym_session *s = sym_session_new(&err);
	cr_assert_not_null(s, "%s", err.msg);
	*sp = sym_space_new(s, "self");
	cr_assert_not_null(*sp);
	return s;
}

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

Test(symbolize, return_address_maps_to_the_calling_line)
{
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	add_self_modules(sp, NULL, NULL, NULL, 0);
	int line = 0;
	uintptr_t ra = marked_caller(&line);
	const struct sym_info *i = sym_lookup(sp, ra, 1);
	cr_assert_not_null(i);
	cr_expect_eq(i->addr, ra - 1);
	cr_expect_eq(i->level, SYM_LEVEL_LINE);
	cr_expect_str_eq(i->function->name, "marked_caller");
	cr_expect_str_eq(base(i->file), "test_symbolize.c");
	cr_expect_eq(i->line, (unsigned)line);
	cr_expect_str_eq(i->module->path, self_exe());
	cr_expect_eq(i->module->state, SYM_MODULE_OK);
	cr_expect_eq(i->offset, ra - 1 - i->module->bias);
	sym_session_free(s);
}

Test(symbolize, function_entry_gives_offset_zero_and_its_declaration)
{
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	add_self_modules(sp, NULL, NULL, NULL, 0);
	const struct sym_info *i = sym_lookup(sp, (uintptr_t)&marked_caller, 0);
	cr_assert_not_null(i);
	cr_expect_str_eq(i->function->name, "marked_caller");
	cr_expect_eq(i->function_offset, 0);
	cr_expect_eq(i->function->start, i->offset);
	cr_expect_str_eq(base(i->function->decl_file), "test_symbolize.c");
	/* declared on the line after the attribute comment: 2 lines above
	 * the marker's line in marked_caller */
	int line;
	marked_caller(&line);
	cr_expect_eq(i->function->decl_line, (unsigned)line - 2);
	sym_session_free(s);
}

/* eu-addr2line -i -f: one (function, file:line[:col]) pair per scope,
 * innermost first. Returns the number of pairs. */
static int addr2line_chain(const char *exe, uint64_t offset, char fn[][128], char loc[][512],
			   int max)
{
	char off[32];
	snprintf(off, sizeof off, "0x%" PRIx64, offset);
	char *argv[] = {"eu-addr2line", "-i", "-f", "-e", (char *)exe, off, NULL};
	struct run_result r;
	cr_assert_eq(run_capture(argv, NULL, &r), 0);
	cr_assert_eq(r.status, 0, "eu-addr2line: %s", r.err);
	int n = 0;
	char *save = NULL;
	for (char *line = strtok_r(r.out, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		char *l2 = strtok_r(NULL, "\n", &save);
		if (!l2)
			break;
		sscanf(line, "%127s", fn[n]);
		snprintf(loc[n], 512, "%s", l2);
		n++;
	}
	run_result_free(&r);
	return n;
}

Test(symbolize, inlined_call_gives_the_chain_innermost_first)
{
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	add_self_modules(sp, NULL, NULL, NULL, 0);
	int inner = 0, call = 0;
	uintptr_t ra = outer_of_inline(&inner, &call);
	const struct sym_info *i = sym_lookup(sp, ra, 1);
	cr_assert_not_null(i);
	cr_expect_str_eq(i->function->name, "outer_of_inline");
	cr_expect_eq(i->line, (unsigned)inner);
	/* The chain agrees with eu-addr2line's, scope by scope. Without any
	 * DWARF scope (LTO can leave the address without one) eu-addr2line
	 * prints the symbol and the line: one pair, as our leaf is. */
	char fn[8][128], loc[8][512];
	int n = addr2line_chain(self_exe(), i->offset, fn, loc, 8);
	struct sym_frame leaf = {i->function->name, i->file, i->line};
	const struct sym_frame *fr = i->n_frames ? i->frames : &leaf;
	unsigned nf = i->n_frames ? i->n_frames : 1;
	cr_assert_eq(nf, (unsigned)n, "%u frames, eu-addr2line %d", i->n_frames, n);
	for (int k = 0; k < n; k++) {
		char mine[600];
		snprintf(mine, sizeof mine, "%s:%u", fr[k].file, fr[k].line);
		cr_expect_str_eq(fr[k].function, fn[k], "scope %d", k);
		cr_expect(strncmp(loc[k], mine, strlen(mine)) == 0 &&
			      (loc[k][strlen(mine)] == '\0' || loc[k][strlen(mine)] == ':'),
			  "scope %d: %s vs %s", k, mine, loc[k]);
	}
	/* Unless the optimizer dropped the inline scope (LTO at -O3 does,
	 * and eu-addr2line then shows none either), it is there by hand. */
	if (n == 2) {
		cr_expect_str_eq(i->frames[0].function, "inlined_helper");
		cr_expect_eq(i->frames[0].line, (unsigned)inner);
		cr_expect_str_eq(i->frames[1].function, "outer_of_inline");
		cr_expect_eq(i->frames[1].line, (unsigned)call);
		cr_expect_str_eq(base(i->frames[1].file), "test_symbolize.c");
	}
	sym_session_free(s);
}

Test(symbolize, repeated_lookups_hit_the_cache)
{
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	add_self_modules(sp, NULL, NULL, NULL, 0);
	size_t before[4], after[4];
	const struct sym_info *a = sym_lookup(sp, (uintptr_t)&outer_of_inline, 0);
	sym_session_address_counts(s, before);
	for (int k = 0; k < 1000; k++)
		cr_assert_eq(sym_lookup(sp, (uintptr_t)&outer_of_inline, 0), a);
	/* a return address one past the same byte is the same lookup */
	cr_expect_eq(sym_lookup(sp, (uintptr_t)&outer_of_inline + 1, 1), a);
	sym_session_address_counts(s, after);
	cr_expect_eq(memcmp(before, after, sizeof before), 0);
	cr_expect_eq(before[SYM_LEVEL_LINE], 1);
	sym_session_free(s);
}

Test(symbolize, functions_are_shared_ids_across_addresses)
{
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	add_self_modules(sp, NULL, NULL, NULL, 0);
	const struct sym_info *a = sym_lookup(sp, (uintptr_t)&marked_caller, 0);
	int line;
	const struct sym_info *b = sym_lookup(sp, marked_caller(&line), 1);
	cr_expect_neq(a, b);
	cr_expect_eq(a->function, b->function);
	cr_expect_eq(sym_function_get(s, a->function->id), a->function);
	sym_session_free(s);
}

Test(symbolize, shared_library_functions_resolve)
{
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	add_self_modules(sp, NULL, NULL, NULL, 0);
	const struct sym_info *i = sym_lookup(sp, (uintptr_t)&getppid, 0);
	cr_assert_not_null(i);
	cr_expect_geq(i->level, SYM_LEVEL_FUNCTION);
	cr_expect_not_null(strstr(i->function->name, "getppid"), "%s", i->function->name);
	cr_expect_not_null(strstr(i->module->name, "libc"), "%s", i->module->name);
	sym_session_free(s);
}

Test(symbolize, addresses_outside_modules_are_unknown_or_kernel)
{
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	add_self_modules(sp, NULL, NULL, NULL, 0);
	const struct sym_info *u = sym_lookup(sp, 0x10, 0);
	cr_expect_eq(u->level, SYM_LEVEL_NONE);
	cr_expect_str_eq(u->function->name, "[unknown]");
	const struct sym_info *k = sym_lookup(sp, 0xffffffff81000000ULL, 0);
	cr_expect_str_eq(k->function->name, "[kernel]");
	char buf[64];
	cr_expect_str_eq(sym_describe(u, buf, sizeof buf), "0x10");
	sym_session_free(s);
}

/* eu-addr2line -f -e FILE OFFSET: "function\nfile:line\n". */
static void addr2line(const char *file, uint64_t offset, char *func, size_t fsize, char *loc,
		      size_t lsize)
{
	char off[32];
	snprintf(off, sizeof off, "0x%" PRIx64, offset);
	char *argv[] = {"eu-addr2line", "-f", "-e", (char *)file, off, NULL};
	struct run_result r;
	cr_assert_eq(run_capture(argv, NULL, &r), 0);
	cr_assert_eq(r.status, 0, "eu-addr2line: %s", r.err);
	char *nl = strchr(r.out, '\n');
	cr_assert_not_null(nl, "eu-addr2line printed: %s", r.out);
	*nl = '\0';
	snprintf(func, fsize, "%s", r.out);
	char *l2 = nl + 1;
	char *nl2 = strchr(l2, '\n');
	if (nl2)
		*nl2 = '\0';
	snprintf(loc, lsize, "%s", l2);
	run_result_free(&r);
}

Test(symbolize, agrees_with_eu_addr2line_on_file_offsets)
{
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	add_self_modules(sp, NULL, NULL, NULL, 0);
	int line;
	uintptr_t addrs[] = {
	    (uintptr_t)&marked_caller, (uintptr_t)&outer_of_inline, (uintptr_t)&add_self_modules,
	    marked_caller(&line) - 1,  (uintptr_t)&addr2line + 7,
	};
	for (size_t k = 0; k < sizeof addrs / sizeof *addrs; k++) {
		const struct sym_info *i = sym_lookup(sp, addrs[k], 0);
		cr_assert_not_null(i);
		cr_assert_eq(i->level, SYM_LEVEL_LINE);
		char func[256], loc[PATH_MAX + 32], mine[PATH_MAX + 32];
		addr2line(self_exe(), i->offset, func, sizeof func, loc, sizeof loc);
		if (i->column)
			snprintf(mine, sizeof mine, "%s:%u:%u", i->file, i->line, i->column);
		else
			snprintf(mine, sizeof mine, "%s:%u", i->file, i->line);
		cr_expect_str_eq(mine, loc, "address %zu: %s vs %s", k, mine, loc);
		cr_expect_str_eq(i->function->name, func, "address %zu: %s vs %s", k,
				 i->function->name, func);
	}
	sym_session_free(s);
}

static char *copy_stripped(const char *dir, const char *flag)
{
	char *out = malloc(PATH_MAX);
	cr_assert_not_null(out);
	snprintf(out, PATH_MAX, "%s/stripped%s", dir, flag ? flag : "");
	char *argv[] = {
	    "eu-strip", (char *)(flag ? flag : "--remove-comment"), "-o", out, (char *)self_exe(),
	    NULL};
	struct run_result r;
	cr_assert_eq(run_capture(argv, NULL, &r), 0);
	cr_assert_eq(r.status, 0, "eu-strip: %s", r.err);
	run_result_free(&r);
	return out;
}

Test(symbolize, without_debug_info_degrades_to_symbol_and_offset)
{
	char *dir = make_temp_dir();
	char *stripped = copy_stripped(dir, "-g");
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	add_self_modules(sp, self_exe(), stripped, NULL, 0);
	const struct sym_info *i = sym_lookup(sp, (uintptr_t)&marked_caller + 3, 0);
	cr_assert_not_null(i);
	cr_expect_eq(i->level, SYM_LEVEL_FUNCTION);
	cr_expect_str_eq(i->function->name, "marked_caller");
	cr_expect_null(i->file);
	char buf[128];
	cr_expect_str_eq(sym_describe(i, buf, sizeof buf), "marked_caller+0x3");
	cr_expect_eq(sym_session_warning_count(s), 0);
	sym_session_free(s);
	rm_rf(dir);
	free(dir);
	free(stripped);
}

Test(symbolize, without_symbols_degrades_to_module_and_offset)
{
	char *dir = make_temp_dir();
	char *stripped = copy_stripped(dir, NULL);
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	add_self_modules(sp, self_exe(), stripped, NULL, 0);
	const struct sym_info *i = sym_lookup(sp, (uintptr_t)&marked_caller, 0);
	cr_assert_not_null(i);
	cr_expect_eq(i->level, SYM_LEVEL_MODULE);
	cr_expect_str_eq(i->function->name, "[stripped]");
	char buf[128], want[128];
	snprintf(want, sizeof want, "stripped+0x%" PRIx64, i->offset);
	cr_expect_str_eq(sym_describe(i, buf, sizeof buf), want);
	sym_session_free(s);
	rm_rf(dir);
	free(dir);
	free(stripped);
}

Test(symbolize, rebuilt_binary_is_a_warning_and_its_symbols_are_not_used)
{
	unsigned char wrong[20];
	memset(wrong, 0xab, sizeof wrong);
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	add_self_modules(sp, self_exe(), self_exe(), wrong, sizeof wrong);
	const struct sym_info *i = sym_lookup(sp, (uintptr_t)&marked_caller, 0);
	cr_assert_not_null(i);
	cr_expect_eq(i->level, SYM_LEVEL_MODULE);
	cr_expect_eq(i->module->state, SYM_MODULE_MISMATCH);
	cr_expect_eq(sym_session_warning_count(s), 1);
	const char *w = sym_session_warnings(s);
	cr_expect_not_null(strstr(w, "differs from the recorded abababab"), "%s", w);
	cr_expect_not_null(strstr(w, "rebuilt"), "%s", w);
	sym_session_free(s);
}

Test(symbolize, matching_build_id_is_checked)
{
	/* The right build-id, read back through a first session. */
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof cmd, "eu-readelf -n '%s' | sed -n 's/.*Build ID: //p'", self_exe());
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char hexid[256] = "";
	cr_assert_not_null(fgets(hexid, sizeof hexid, p));
	pclose(p);
	unsigned char id[64];
	size_t n = 0;
	for (const char *c = hexid; c[0] && c[1] && c[0] != '\n' && n < sizeof id; c += 2) {
		unsigned v;
		cr_assert_eq(sscanf(c, "%2x", &v), 1);
		id[n++] = (unsigned char)v;
	}
	cr_assert_gt(n, 0);
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	add_self_modules(sp, self_exe(), self_exe(), id, n);
	const struct sym_info *i = sym_lookup(sp, (uintptr_t)&marked_caller, 0);
	cr_expect_eq(i->level, SYM_LEVEL_LINE);
	cr_expect(i->module->build_id_checked);
	cr_expect_eq(sym_session_warning_count(s), 0);
	sym_session_free(s);
}

Test(symbolize, missing_file_is_warned_once_and_shown_as_module_offset)
{
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	const char *gone = "/nonexistent/kbprof/libgone.so";
	struct sym_module_desc d = {
	    .path = gone, .start = 0x7f0000001000, .end = 0x7f0000005000, .pgoff = 0x1000};
	cr_assert_eq(sym_space_add_module(sp, &d, NULL), 0);
	struct sym_space *sp2 = sym_space_new(s, "second");
	cr_assert_eq(sym_space_add_module(sp2, &d, NULL), 0);
	const struct sym_info *i = sym_lookup(sp, 0x7f0000001234, 0);
	cr_expect_eq(i->level, SYM_LEVEL_MODULE);
	cr_expect_eq(i->module->state, SYM_MODULE_MISSING);
	char buf[128];
	cr_expect_str_eq(sym_describe(i, buf, sizeof buf), "libgone.so+0x1234");
	cr_expect_eq(sym_session_warning_count(s), 1);
	cr_expect_not_null(strstr(sym_session_warnings(s), "moved or deleted"));
	sym_session_free(s);
}

Test(symbolize, malformed_mapping_is_an_error)
{
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	struct kb_error err = {{0}};
	struct sym_module_desc d = {.path = "/bin/true", .start = 0x2000, .end = 0x1000};
	cr_expect_eq(sym_space_add_module(sp, &d, &err), -1);
	cr_expect_str_eq(err.msg, "module /bin/true: mapping end 0x1000 is not above its start "
				  "0x2000");
	sym_session_free(s);
}

Test(symbolize, non_elf_file_is_unusable_with_a_warning)
{
	char *dir = make_temp_dir();
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/notelf", dir);
	cr_assert_eq(write_file(path, "hello, not ELF\n", 15), 0);
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	struct sym_module_desc d = {.path = path, .start = 0x400000, .end = 0x401000};
	cr_assert_eq(sym_space_add_module(sp, &d, NULL), 0);
	const struct sym_info *i = sym_lookup(sp, 0x400010, 0);
	cr_expect_eq(i->module->state, SYM_MODULE_UNUSABLE);
	cr_expect_eq(i->level, SYM_LEVEL_MODULE);
	cr_expect_not_null(strstr(sym_session_warnings(s), "not a readable ELF file"));
	sym_session_free(s);
	rm_rf(dir);
	free(dir);
}

Test(symbolize, changed_file_without_build_id_is_a_mismatch)
{
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	/* The test binary, recorded with another size and no build-id. */
	FILE *f = fopen("/proc/self/maps", "r");
	cr_assert_not_null(f);
	char line[PATH_MAX + 128];
	int found = 0;
	while (!found && fgets(line, sizeof line, f)) {
		uint64_t start, end, pgoff;
		char perms[8], path[PATH_MAX];
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %4095s", &start,
			   &end, perms, &pgoff, path) == 5 &&
		    perms[2] == 'x' && strcmp(path, self_exe()) == 0) {
			struct sym_module_desc d = {.path = path,
						    .start = start,
						    .end = end,
						    .pgoff = pgoff,
						    .size = 12345,
						    .mtime_ns = 1};
			cr_assert_eq(sym_space_add_module(sp, &d, NULL), 0);
			found = 1;
		}
	}
	fclose(f);
	cr_assert(found);
	const struct sym_info *i = sym_lookup(sp, (uintptr_t)&marked_caller, 0);
	cr_expect_eq(i->module->state, SYM_MODULE_MISMATCH);
	cr_expect_eq(i->level, SYM_LEVEL_MODULE);
	cr_expect_not_null(
	    strstr(sym_session_warnings(s), "changed since the recording (size 12345"), "%s",
	    sym_session_warnings(s));
	sym_session_free(s);
}

Test(symbolize, pseudo_files_have_no_file_and_no_warning)
{
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	struct sym_module_desc d = {.path = "[vdso]", .start = 0x7fff0000, .end = 0x7fff2000};
	cr_assert_eq(sym_space_add_module(sp, &d, NULL), 0);
	const struct sym_info *i = sym_lookup(sp, 0x7fff0100, 0);
	cr_expect_eq(i->module->state, SYM_MODULE_NOFILE);
	cr_expect_str_eq(i->function->name, "[vdso]");
	cr_expect_eq(sym_session_warning_count(s), 0);
	sym_session_free(s);
}

static char *write_kallsyms(const char *text)
{
	char *dir = make_temp_dir();
	char *path = malloc(PATH_MAX);
	cr_assert_not_null(path);
	snprintf(path, PATH_MAX, "%s/kallsyms", dir);
	cr_assert_eq(write_file(path, text, strlen(text)), 0);
	free(dir);
	return path;
}

Test(symbolize, kernel_addresses_resolve_through_kallsyms)
{
	char *ks = write_kallsyms("ffffffff81000000 T _stext\n"
				  "ffffffff81000000 t _text_alias\n"
				  "ffffffff81001000 T do_page_fault\n"
				  "ffffffff81002000 d some_data\n"
				  "ffffffff81003000 t local_helper\n"
				  "ffffffffc0000000 t kvm_thing\t[kvm]\n");
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	sym_session_kernel_symbols(s, ks);
	const struct sym_info *a = sym_lookup(sp, 0xffffffff81001010ULL, 0);
	cr_expect_eq(a->level, SYM_LEVEL_FUNCTION);
	cr_expect_str_eq(a->function->name, "do_page_fault");
	cr_expect_str_eq(a->function->module, "[kernel]");
	cr_expect_eq(a->function_offset, 0x10);
	/* data symbols are not functions: 0x...2800 is still in do_page_fault */
	cr_expect_str_eq(sym_lookup(sp, 0xffffffff81002800ULL, 0)->function->name, "do_page_fault");
	cr_expect_str_eq(sym_lookup(sp, 0xffffffff81000004ULL, 0)->function->name, "_stext");
	const struct sym_info *k = sym_lookup(sp, 0xffffffffc0000005ULL, 0);
	cr_expect_str_eq(k->function->name, "kvm_thing");
	cr_expect_str_eq(k->function->module, "[kvm]");
	cr_expect_eq(sym_session_kernel_addresses(s), 4);
	sym_session_free(s);
	char *dir = strdup(ks);
	*strrchr(dir, '/') = '\0';
	rm_rf(dir);
	free(dir);
	free(ks);
}

Test(symbolize, hidden_kallsyms_addresses_are_a_warning)
{
	char *ks = write_kallsyms("0000000000000000 T _stext\n0000000000000000 T do_page_fault\n");
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	sym_session_kernel_symbols(s, ks);
	const struct sym_info *a = sym_lookup(sp, 0xffffffff81001010ULL, 0);
	cr_expect_str_eq(a->function->name, "[kernel]");
	cr_expect_not_null(strstr(sym_session_warnings(s), "kptr_restrict"), "%s",
			   sym_session_warnings(s));
	sym_session_free(s);
	char *dir = strdup(ks);
	*strrchr(dir, '/') = '\0';
	rm_rf(dir);
	free(dir);
	free(ks);
}

Test(symbolize, a_fifo_or_device_is_refused_without_blocking)
{
	char *dir = make_temp_dir();
	char fifo[PATH_MAX];
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	struct sym_space *sp;
	struct sym_session *s = new_session(&sp);
	struct sym_module_desc d = {.path = fifo, .start = 0x400000, .end = 0x401000};
	cr_assert_eq(sym_space_add_module(sp, &d, NULL), 0);
	struct sym_module_desc z = {.path = "/dev/zero", .start = 0x500000, .end = 0x501000};
	cr_assert_eq(sym_space_add_module(sp, &z, NULL), 0);
	cr_expect_eq(sym_lookup(sp, 0x400010, 0)->module->state, SYM_MODULE_UNUSABLE);
	cr_expect_eq(sym_lookup(sp, 0x500010, 0)->module->state, SYM_MODULE_UNUSABLE);
	cr_expect_eq(sym_session_warning_count(s), 2);
	cr_expect_not_null(strstr(sym_session_warnings(s), "not a regular file"));
	sym_session_free(s);
	rm_rf(dir);
	free(dir);
}
