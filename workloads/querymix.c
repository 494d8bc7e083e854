/* querymix: the seeded query mix over a generated KB and its result check
 * (see querymix.h). */
#include "workloads/querymix.h"

#include "analyze/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One template per kind of query; '#' stands for the function index. The
 * expected results follow from the rules kbgen writes for index i. */
struct template
{
	const char *fmt;
	const char *expected[QMIX_MAX_EXPECTED];
	unsigned nexpected;
};

static const struct template templates[] = {
    /* (add (succ $x) $y) -> (succ (add $x $y)), down to (add zero $x) -> $x */
    {"(add# (succ (succ zero)) (succ zero))", {"(succ (succ (succ zero)))"}, 1},
    /* both (add zero $x) and (add $x zero) match */
    {"(add# zero zero)", {"zero", "zero"}, 2},
    {"(mul# zero (succ zero))", {"zero"}, 1},
    {"(and# True False)", {"False"}, 1},
    {"(and# False True)", {"False"}, 1},
    {"(or# False False)", {"False"}, 1},
    /* (+ 1 (+ 1 (+ 1 0))) */
    {"(length# (cons a (cons b (cons c ()))))", {"3"}, 1},
    {"(append# (cons a ()) (cons b ()))", {"(cons a (cons b ()))"}, 1},
    /* both (match $x $x) and (match $x $y) match */
    {"(match# foo foo)", {"True", "False"}, 2},
    {"(match# foo bar)", {"False"}, 1},
    {"(equals# foo foo)", {"True"}, 1},
    {"(not-equals# bar bar)", {"False"}, 1},
    /* a query of the space itself; unification is two-sided, so both
     * (= (add zero $x) $x) (giving the rule's variable) and
     * (= (add $x zero) $x) (binding both $x to zero) match */
    {"(match &self (= (add# zero $x) $r) $r)", {"$0", "zero"}, 2},
};

#define NTEMPLATES (sizeof templates / sizeof templates[0])

int qmix_build(struct qmix *mix, uint64_t kb_n, size_t count, uint64_t seed)
{
	uint64_t functions = kb_n / 4;
	mix->q = NULL;
	mix->n = 0;
	if (functions == 0 || count == 0)
		return -1;
	mix->q = calloc(count, sizeof *mix->q);
	if (!mix->q)
		return -1;
	struct stats_rng rng;
	stats_rng_seed(&rng, seed);
	for (size_t k = 0; k < count; k++) {
		/* every template appears once before any repeats; indexes are random */
		const struct template *t = &templates[k % NTEMPLATES];
		char digits[24];
		snprintf(digits, sizeof digits, "%llu",
			 (unsigned long long)stats_rng_below(&rng, functions));
		struct qmix_query *q = &mix->q[k];
		size_t o = 0;
		for (const char *p = t->fmt; *p && o + 24 < sizeof q->text; p++) {
			if (*p == '#') {
				memcpy(q->text + o, digits, strlen(digits));
				o += strlen(digits);
			} else {
				q->text[o++] = *p;
			}
		}
		q->text[o] = '\0';
		for (unsigned e = 0; e < t->nexpected; e++)
			q->expected[e] = t->expected[e];
		q->nexpected = t->nexpected;
	}
	mix->n = count;
	return 0;
}

void qmix_free(struct qmix *mix)
{
	free(mix->q);
	mix->q = NULL;
	mix->n = 0;
}

static int name_char(char c)
{
	return c && !strchr(" \t\n\r()\"", c);
}

void qmix_canonical(const char *printed, struct kb_buf *out)
{
	/* variable names seen so far, in order of first appearance */
	const char *names[64];
	size_t lens[64], nnames = 0;
	const char *p = printed;
	int in_string = 0;
	while (*p) {
		if (*p == '"' && (p == printed || p[-1] != '\\'))
			in_string = !in_string;
		if (in_string || *p != '$') {
			kb_buf_putc(out, *p++);
			continue;
		}
		const char *start = ++p;
		while (name_char(*p))
			p++;
		size_t len = (size_t)(p - start), i;
		for (i = 0; i < nnames; i++)
			if (lens[i] == len && memcmp(names[i], start, len) == 0)
				break;
		if (i == nnames && nnames < 64) {
			names[nnames] = start;
			lens[nnames++] = len;
		}
		kb_buf_printf(out, "$%zu", i);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void list(struct kb_buf *b, const char *const *items, size_t n)
{
	kb_buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			kb_buf_puts(b, ", ");
		kb_buf_puts(b, items[i]);
	}
	kb_buf_putc(b, ']');
}

int qmix_check(const struct qmix_query *q, char *const *actual, size_t nactual, char *msg,
	       size_t size)
{
	const char *want[QMIX_MAX_EXPECTED];
	const char *got[16];
	int same = nactual == q->nexpected && nactual <= 16;
	for (unsigned i = 0; i < q->nexpected; i++)
		want[i] = q->expected[i];
	qsort(want, q->nexpected, sizeof *want, cmp_str);
	size_t ng = nactual < 16 ? nactual : 16;
	for (size_t i = 0; i < ng; i++)
		got[i] = actual[i];
	qsort(got, ng, sizeof *got, cmp_str);
	for (size_t i = 0; same && i < ng; i++)
		same = strcmp(got[i], want[i]) == 0;
	if (same)
		return 0;
	struct kb_buf b = {0};
	kb_buf_printf(&b, "%s gave ", q->text);
	list(&b, got, ng);
	if (nactual > ng)
		kb_buf_printf(&b, " (and %zu more)", nactual - ng);
	kb_buf_puts(&b, ", expected ");
	list(&b, want, q->nexpected);
	snprintf(msg, size, "%s", b.data ? b.data : "results differ");
	kb_buf_free(&b);
	return -1;
}
