/* The kbprof command table and the helpers every subcommand shares.
 * cli/ is argument parsing and wiring only: each cmd_<name>.c parses its
 * options and calls into the libraries. */
#ifndef KBPROF_BUILTIN_H
#define KBPROF_BUILTIN_H

#include <stdio.h>

/* Exit codes shared by every subcommand. */
enum {
	KBPROF_EXIT_OK = 0,
	KBPROF_EXIT_FAIL = 1,  /* the work failed: bad input, I/O error, ... */
	KBPROF_EXIT_USAGE = 2, /* the command line was wrong */
};

struct kbprof_cmd {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the subcommand name */
	const char *summary;              /* one line, for `kbprof --help` */
	const char *usage;                /* the full help text: `kbprof help CMD` */
};

extern const struct kbprof_cmd kbprof_commands[];

/* Prints "kbprof CMD: <message>\n" to stderr and returns KBPROF_EXIT_FAIL. */
__attribute__((format(printf, 2, 3))) int cli_fail(const char *cmd, const char *fmt, ...);

/* Prints the usage error and a hint to stderr, returns KBPROF_EXIT_USAGE. */
__attribute__((format(printf, 2, 3))) int cli_usage_error(const char *cmd, const char *fmt, ...);

/* Parses a non-negative decimal integer option; returns 0 or -1. */
int cli_parse_u64(const char *text, unsigned long long *out);

/* Writes b to path (NULL: standard output), checking every step; returns
 * KBPROF_EXIT_OK, or KBPROF_EXIT_FAIL after "kbprof CMD: PATH: cause". */
struct kb_buf;
int cli_write_output(const char *cmd, const char *path, const struct kb_buf *b);

#define CMD(name) int cmd_##name(int argc, char **argv)
CMD(help);
CMD(version);
CMD(gen);
CMD(kb);
CMD(metta);
CMD(stat);
CMD(record);
CMD(dump);
CMD(report);
CMD(flamegraph);
CMD(compare);
CMD(export);
CMD(html);
CMD(bench);

extern const char cmd_help_usage[], cmd_version_usage[], cmd_gen_usage[];
extern const char cmd_kb_usage[], cmd_metta_usage[];
extern const char cmd_stat_usage[], cmd_record_usage[], cmd_dump_usage[];
extern const char cmd_report_usage[];
extern const char cmd_flamegraph_usage[], cmd_compare_usage[], cmd_export_usage[];
extern const char cmd_html_usage[];
extern const char cmd_bench_usage[];

#endif
