/* runner: runs a MeTTa file the way Hyperon's runner does (module prefix
 * mt_run_).
 *
 * Every top-level atom without `!` is added to the space `&self`; every
 * `!expr` is evaluated when it is read, in order. In print mode each `!`
 * line prints its results as one line `[r1, r2, ...]`. In check mode the
 * assertions (assertEqual, assertEqualToResult, assertAlphaEqual) are
 * reported one per line as pass, FAIL (with Hyperon's expected / got
 * message) or skipped (with the missing feature); other `!` lines are
 * evaluated silently. Each file gets a fresh store, space and evaluator.
 *
 * Ownership: the runner owns everything it creates for a file and frees it
 * before returning; `out` is borrowed. */
#ifndef MT_RUNNER_H
#define MT_RUNNER_H

#include <stdint.h>
#include <stdio.h>

#include "core/eval.h"
#include "util/kb_error.h"

struct mt_run_opts {
	int check;                /* report assertions instead of printing results */
	struct mt_eval_opts eval; /* evaluator limits */
	FILE *out;                /* results or the report */
};

struct mt_check_counts {
	uint64_t passed, failed, skipped;
	uint64_t queries; /* `!` lines evaluated */
};

/* Runs one file ("-" for standard input), adding to *counts. Returns 0, or
 * -1 with err set on a syntax error ("FILE:LINE:COL: cause"), an I/O error
 * or memory exhaustion. */
int mt_run_file(const char *path, const struct mt_run_opts *opts, struct mt_check_counts *counts,
		struct kb_error *err);

#endif
