/* kbprof kb: knowledge-base commands, one sub-subcommand each.
 *
 *   kbprof kb compile FILE...   parse, intern, hash-cons, insert and index;
 *                               print what the knowledge base holds
 *   kbprof kb dump FILE...      print the knowledge base as canonical text
 *
 * New subcommands (image output, queries, info, verify) add a row to
 * kb_commands[] and a function beside the others. */
#include "cli/builtin.h"
#include "cli/kb_image.h"
#include "core/space.h"
#include "core/textio.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <time.h>

const char cmd_kb_usage[] =
    "usage: kbprof kb <subcommand> [<args>]\n\n"
    "Knowledge-base commands.\n\n"
    "  kbprof kb compile FILE...  compile MeTTa source into an indexed knowledge base\n"
    "                             and print its atoms, rules, distinct symbols and\n"
    "                             sub-terms, memory and compile time\n"
    "  kbprof kb dump [-o OUT] FILE...\n"
    "                             print the knowledge base as canonical MeTTa text:\n"
    "                             one line per copy of each atom, in insertion order\n"
    "  kbprof kb compile [BASE.kbi] FILE... -o KB.kbi [--zstd [--level N]]\n"
    "                             write the knowledge base as an image that `kb query`\n"
    "                             maps and queries in place (docs/kb-image.md);\n"
    "                             a BASE image first adds FILE's atoms on top of it;\n"
    "                             --zstd writes the compressed shipping form (level\n"
    "                             N, default 9)\n"
    "  kbprof kb query KB.kbi|FILE.metta EXPR... [--populate] [--stats] [--max-steps N]\n"
    "                             evaluate each EXPR against the knowledge base and\n"
    "                             print its results as one line `[r1, r2, ...]`;\n"
    "                             an image is mapped lazily (--populate: all pages\n"
    "                             read at open); --stats prints open time, per-query\n"
    "                             time and page faults to standard error\n"
    "  kbprof kb info KB.kbi      print the image's header, counts and sections\n"
    "  kbprof kb verify KB.kbi    check the whole image: checksums, every record and\n"
    "                             reference, the symbol order, the homes and the\n"
    "                             index\n\n"
    "FILE may be '-' for standard input. Top-level `!` expressions ask for an\n"
    "evaluation: compile and dump skip them and say how many there were.\n";

struct kb_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

struct kb {
	struct mt_store *store;
	struct mt_space *space;
	uint64_t source_bytes, bangs;
	double seconds;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void kb_close(struct kb *kb)
{
	mt_space_free(kb->space);
	mt_store_free(kb->store);
}

/* Loads every file into one fresh space. Returns 0, or prints the error as
 * `kbprof kb CMD: ...` and returns KBPROF_EXIT_FAIL. */
static int kb_open(struct kb *kb, const char *cmd, char **files, int nfiles)
{
	memset(kb, 0, sizeof *kb);
	kb->store = mt_store_new();
	kb->space = kb->store ? mt_space_new(kb->store) : NULL;
	if (!kb->space) {
		kb_close(kb);
		return cli_fail(cmd, "out of memory");
	}
	double t0 = now();
	for (int i = 0; i < nfiles; i++) {
		struct kb_error err;
		struct mt_load_stats stats;
		int rc = mt_textio_load_file(kb->space, files[i], MT_BANG_SKIP, &stats, &err);
		kb->bangs += stats.bangs;
		if (rc) {
			kb_close(kb);
			return cli_fail(cmd, "%s", err.msg);
		}
	}
	kb->seconds = now() - t0;
	return 0;
}

static int no_files(const char *cmd, int optind_, int argc)
{
	if (optind_ >= argc)
		return cli_usage_error(cmd, "no FILE given");
	return 0;
}

static uint64_t total_bytes(char **files, int nfiles)
{
	uint64_t n = 0;
	for (int i = 0; i < nfiles; i++) {
		FILE *f = strcmp(files[i], "-") == 0 ? NULL : fopen(files[i], "rb");
		if (f && fseek(f, 0, SEEK_END) == 0) {
			long sz = ftell(f);
			if (sz > 0)
				n += (uint64_t)sz;
		}
		if (f)
			fclose(f);
	}
	return n;
}

static int kb_compile(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "kb compile";
	int c;
	if (kb_compile_wants_image(argc, argv))
		return kb_image_compile(argc, argv);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'h')
			return cli_usage_error(cmd, "unknown option");
		fputs(cmd_kb_usage, stdout);
		return KBPROF_EXIT_OK;
	}
	int rc = no_files(cmd, optind, argc);
	if (rc)
		return rc;
	struct kb kb;
	if ((rc = kb_open(&kb, cmd, argv + optind, argc - optind)))
		return rc;
	uint64_t bytes = total_bytes(argv + optind, argc - optind);
	size_t store_bytes = mt_store_bytes(kb.store), space_bytes = mt_space_bytes(kb.space);
	printf("atoms:      %llu (%llu distinct)\n", (unsigned long long)mt_space_size(kb.space),
	       (unsigned long long)mt_space_distinct(kb.space));
	printf("rules:      %llu\n", (unsigned long long)mt_space_rules(kb.space));
	printf("symbols:    %u distinct\n", mt_sym_count(kb.store));
	printf("sub-terms:  %zu distinct expressions, %zu distinct boxed values\n",
	       mt_store_expr_count(kb.store), mt_store_box_count(kb.store));
	printf("memory:     %zu bytes (store %zu, space %zu)\n", store_bytes + space_bytes,
	       store_bytes, space_bytes);
	if (bytes)
		printf("time:       %.3f ms (%llu bytes of source, %.1f MB/s)\n", kb.seconds * 1e3,
		       (unsigned long long)bytes,
		       kb.seconds > 0 ? (double)bytes / 1e6 / kb.seconds : 0.0);
	else
		printf("time:       %.3f ms\n", kb.seconds * 1e3);
	if (kb.bangs)
		printf("skipped:    %llu '!' expressions (compile does not evaluate)\n",
		       (unsigned long long)kb.bangs);
	kb_close(&kb);
	return KBPROF_EXIT_OK;
}

static int kb_dump(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "kb dump", *output = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(cmd_kb_usage, stdout);
			return KBPROF_EXIT_OK;
		}
		if (c != 'o')
			return cli_usage_error(cmd, "unknown option");
		output = optarg;
	}
	int rc = no_files(cmd, optind, argc);
	if (rc)
		return rc;
	struct kb kb;
	if ((rc = kb_open(&kb, cmd, argv + optind, argc - optind)))
		return rc;
	FILE *out = stdout;
	if (output && !(out = fopen(output, "w"))) {
		int e = errno;
		kb_close(&kb);
		return cli_fail(cmd, "%s: %s", output, strerror(e));
	}
	struct kb_error err;
	rc = mt_textio_dump(kb.space, out, output ? output : "standard output", &err);
	if (out != stdout && fclose(out) != 0 && rc == 0)
		rc = kb_error_set(&err, "%s: %s", output, strerror(errno));
	if (rc == 0 && kb.bangs)
		fprintf(stderr, "kbprof %s: skipped %llu '!' expressions\n", cmd,
			(unsigned long long)kb.bangs);
	kb_close(&kb);
	return rc ? cli_fail(cmd, "%s", err.msg) : KBPROF_EXIT_OK;
}

static const struct kb_cmd kb_commands[] = {
    {"compile", kb_compile}, {"dump", kb_dump},     {"query", kb_query},
    {"info", kb_info},       {"verify", kb_verify}, {NULL, NULL},
};

CMD(kb)
{
	if (argc < 2)
		return cli_usage_error(
		    "kb", "a subcommand is required (compile, dump, query, info, verify)");
	for (const struct kb_cmd *k = kb_commands; k->name; k++)
		if (strcmp(k->name, argv[1]) == 0)
			return k->fn(argc - 1, argv + 1);
	return cli_usage_error("kb", "unknown subcommand '%s'", argv[1]);
}
