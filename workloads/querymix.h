/* querymix: a fixed, seeded mix of queries over the functions of a
 * generated KB (workloads/kbgen), each with its expected results, and the
 * check of actual results against them (module prefix qmix_).
 *
 * The queries call the KB's own functions with index i drawn from the
 * seeded generator of analyze/stats (the same seed gives the same mix on
 * every machine): add{i}, mul{i}, and{i}, or{i}, length{i}, append{i},
 * match{i}, equals{i}, not-equals{i}, and a `match` over `&self`. Expected
 * results follow Hyperon's semantics: every matching rule fires, so
 * (match{i} foo foo) gives True and False, (add{i} zero zero) gives zero
 * twice.
 *
 * Results are compared as multisets of canonical text: each result printed
 * with mt_print, its variables renamed $0, $1, ... in order of first
 * appearance (so alpha-equivalent results compare equal), then sorted.
 *
 * Ownership: a struct qmix owns its queries (one malloc'd array);
 * qmix_free releases it. */
#ifndef QUERYMIX_H
#define QUERYMIX_H

#include <stddef.h>
#include <stdint.h>

#include "util/kb_buf.h"

#define QMIX_MAX_EXPECTED 2
#define QMIX_DEFAULT_SEED 0x6b62717565727931ULL /* "kbquery1" */

struct qmix_query {
	char text[160];
	const char *expected[QMIX_MAX_EXPECTED]; /* canonical texts (static strings) */
	unsigned nexpected;
};

struct qmix {
	struct qmix_query *q;
	size_t n;
};

/* Builds `count` queries over a KB generated with size `kb_n` (function
 * indexes 0 .. kb_n/4 - 1). Returns 0, or -1 if memory runs out or the KB
 * has no functions. */
int qmix_build(struct qmix *mix, uint64_t kb_n, size_t count, uint64_t seed);
void qmix_free(struct qmix *mix);

/* Canonical form of one printed result: variables renamed $0, $1, ... */
void qmix_canonical(const char *printed, struct kb_buf *out);

/* Checks actual results (canonical texts, any order) against a query's
 * expected multiset. Returns 0 when equal; otherwise -1 and a message
 * "got [a, b], expected [c]" in msg. */
int qmix_check(const struct qmix_query *q, char *const *actual, size_t nactual, char *msg,
	       size_t size);

#endif
