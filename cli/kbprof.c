/* kbprof: the command dispatcher (after perf.c and git.c).
 *
 * `kbprof CMD ARGS` runs CMD from the command table; `kbprof CMD --help`
 * and `kbprof help CMD` print its help; an unknown command is answered
 * with the closest known one and the usage exit code. Before exiting, the
 * dispatcher flushes stdout and checks for a write error, so output lost to
 * a full disk is never reported as success. */
#include "cli/builtin.h"
#include "kbprof_version.h"
#include "util/kb_buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kbprof %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return KBPROF_EXIT_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kbprof %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'kbprof %s --help'.\n", cmd);
	return KBPROF_EXIT_USAGE;
}

int cli_write_output(const char *cmd, const char *path, const struct kb_buf *b)
{
	FILE *f = path ? fopen(path, "w") : stdout;
	if (!f)
		return cli_fail(cmd, "%s: %s", path, strerror(errno));
	int bad = b->len && fwrite(b->data, 1, b->len, f) != b->len;
	bad |= fflush(f) != 0 || ferror(f);
	if (path && fclose(f) != 0)
		bad = 1;
	if (bad)
		return cli_fail(cmd, "write failure on %s: %s", path ? path : "standard output",
				strerror(errno));
	return KBPROF_EXIT_OK;
}

int cli_parse_u64(const char *text, unsigned long long *out)
{
	char *end;
	if (!text || !*text || *text == '-' || *text == '+')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static const struct kbprof_cmd *find_command(const char *name)
{
	for (const struct kbprof_cmd *c = kbprof_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* Optimal string alignment distance: edits, with adjacent swaps as one. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return (size_t)-1;
	size_t d[65][65];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

static const struct kbprof_cmd *closest_command(const char *name)
{
	const struct kbprof_cmd *best = NULL;
	size_t best_d = (size_t)-1;
	for (const struct kbprof_cmd *c = kbprof_commands; c->name; c++) {
		size_t d = edit_distance(name, c->name);
		/* A prefix of a command ("rep" for "report") is as good as one edit. */
		if (strncmp(c->name, name, strlen(name)) == 0 && d > 1)
			d = 1;
		if (d < best_d) {
			best_d = d;
			best = c;
		}
	}
	return best;
}

static void print_main_help(FILE *out)
{
	fprintf(out,
		"usage: kbprof [--version] [--help] <command> [<args>]\n\n"
		"kbprof profiles MeTTa knowledge bases: it compiles and queries them with its\n"
		"own engine, counts and samples them with perf events, and writes reports.\n\n"
		"Commands:\n");
	for (const struct kbprof_cmd *c = kbprof_commands; c->name; c++)
		fprintf(out, "   %-10s %s\n", c->name, c->summary);
	fprintf(out, "\nSee 'kbprof help <command>' for the options of one command.\n");
}

CMD(help)
{
	if (argc < 2) {
		print_main_help(stdout);
		return KBPROF_EXIT_OK;
	}
	const struct kbprof_cmd *c = find_command(argv[1]);
	if (!c) {
		const struct kbprof_cmd *near = closest_command(argv[1]);
		fprintf(stderr, "kbprof help: no such command '%s'", argv[1]);
		if (near)
			fprintf(stderr, "; the closest is '%s'", near->name);
		fputc('\n', stderr);
		return KBPROF_EXIT_USAGE;
	}
	fputs(c->usage, stdout);
	return KBPROF_EXIT_OK;
}

const char cmd_help_usage[] =
    "usage: kbprof help [COMMAND]\n\n"
    "Without COMMAND, lists the commands; with it, prints that command's help.\n";

CMD(version)
{
	printf("kbprof %s (commit %s, %s build, %s)\n", KBPROF_VERSION, KBPROF_GIT_COMMIT,
	       KBPROF_BUILD_TYPE, KBPROF_COMPILER);
	return KBPROF_EXIT_OK;
}

const char cmd_version_usage[] =
    "usage: kbprof version\n\n"
    "Prints the version, the git commit, the build type and the compiler.\n";

/* Flushes stdout and turns a write error into a failure exit. */
static int finish(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "kbprof: write failure on standard output: %s\n",
			errno ? strerror(errno) : "unknown error");
		return KBPROF_EXIT_FAIL;
	}
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_main_help(stderr);
		return KBPROF_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
		return finish(cmd_help(1, argv + 1));
	if (strcmp(name, "--version") == 0 || strcmp(name, "-v") == 0)
		return finish(cmd_version(1, argv + 1));

	const struct kbprof_cmd *c = find_command(name);
	if (!c) {
		const struct kbprof_cmd *near = closest_command(name);
		fprintf(stderr, "kbprof: '%s' is not a kbprof command.", name);
		if (near)
			fprintf(stderr, " The closest is '%s'.", near->name);
		fprintf(stderr, "\nSee 'kbprof --help'.\n");
		return KBPROF_EXIT_USAGE;
	}
	if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
		fputs(c->usage, stdout);
		return finish(KBPROF_EXIT_OK);
	}
	return finish(c->fn(argc - 1, argv + 1));
}
