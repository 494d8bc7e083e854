/* Helpers shared by the Criterion tests: running the kbprof binary (or any
 * program) with captured output, and scratch files. Criterion runs each test
 * in a forked worker; these helpers only spawn children that exec. */
#ifndef KBPROF_TESTUTIL_H
#define KBPROF_TESTUTIL_H

#include <stddef.h>

struct run_result {
	int status; /* exit status, or 128 + signal number */
	char *out;  /* captured stdout, NUL-terminated (malloc'd) */
	char *err;  /* captured stderr, NUL-terminated (malloc'd) */
	size_t out_len, err_len;
};

/* Runs argv (argv[0] looked up in PATH unless it has a '/') with stdin from
 * /dev/null, or from `input` if not NULL, and stdout redirected to
 * `stdout_path` if not NULL. */
int run_capture(char *const argv[], const char *stdout_path, struct run_result *r);

/* Runs the kbprof binary under test with the given arguments (NULL-terminated). */
int run_kbprof(struct run_result *r, const char *stdout_path, ...);

void run_result_free(struct run_result *r);

/* Path of the kbprof binary under test (from $KBPROF_BIN or the build tree). */
const char *kbprof_bin(void);

/* Creates a fresh temporary directory; the caller removes it with rm_rf. */
char *make_temp_dir(void);
void rm_rf(const char *path);

/* Writes `len` bytes to path; returns 0 or -1. */
int write_file(const char *path, const void *data, size_t len);

/* Reads a whole file into a malloc'd NUL-terminated buffer, or NULL. */
char *read_file(const char *path, size_t *len);

#endif
