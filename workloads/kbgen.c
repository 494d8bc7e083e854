/* kbgen: byte-identical reimplementation of MeTTaTron's generate_metta_kb.
 * The text is produced by one routine that appends to a growable buffer;
 * the file writer flushes that buffer in chunks so the large KB (139 MB)
 * never needs to be held whole. */
#include "workloads/kbgen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sink {
	char *buf;
	size_t len, cap;
	FILE *out; /* NULL: keep everything in buf */
	int failed;
};

static int sink_reserve(struct sink *s, size_t more)
{
	if (s->len + more <= s->cap)
		return 0;
	if (s->out) {
		if (s->len && fwrite(s->buf, 1, s->len, s->out) != s->len)
			return s->failed = -1;
		s->len = 0;
		if (more <= s->cap)
			return 0;
	}
	size_t cap = s->cap ? s->cap : 1 << 16;
	while (cap < s->len + more)
		cap *= 2;
	char *p = realloc(s->buf, cap);
	if (!p)
		return s->failed = -1;
	s->buf = p;
	s->cap = cap;
	return 0;
}

static void put(struct sink *s, const char *text, size_t n)
{
	if (s->failed || sink_reserve(s, n))
		return;
	memcpy(s->buf + s->len, text, n);
	s->len += n;
}

/* Appends `fmt` with every '#' replaced by the decimal digits of i. */
static void put_rule(struct sink *s, const char *fmt, const char *digits, size_t ndigits)
{
	size_t n = strlen(fmt);
	if (s->failed || sink_reserve(s, n + 8 * ndigits))
		return;
	char *d = s->buf + s->len;
	for (const char *p = fmt; *p; p++) {
		if (*p == '#') {
			memcpy(d, digits, ndigits);
			d += ndigits;
		} else {
			*d++ = *p;
		}
	}
	s->len = (size_t)(d - s->buf);
}

static const char *const blocks[4][2] = {
    {"; Mathematical rules\n", "(= (add# zero $x) $x)\n"
			       "(= (add# $x zero) $x)\n"
			       "(= (add# (succ $x) $y) (succ (add# $x $y)))\n"
			       "(= (mul# zero $x) zero)\n"},
    {"\n; Logical rules\n", "(= (and# True True) True)\n"
			    "(= (and# True False) False)\n"
			    "(= (and# False $x) False)\n"
			    "(= (or# False False) False)\n"},
    {"\n; List operations\n", "(= (length# ()) 0)\n"
			      "(= (length# (cons $h $t)) (+ 1 (length# $t)))\n"
			      "(= (append# () $y) $y)\n"
			      "(= (append# (cons $h $t) $y) (cons $h (append# $t $y)))\n"},
    {"\n; Pattern matching\n", "(= (match# $x $x) True)\n"
			       "(= (match# $x $y) False)\n"
			       "(= (equals# $x $x) True)\n"
			       "(= (not-equals# $x $x) False)\n"},
};

static const char header[] = "; Type definitions\n"
			     "(: Nat Type)\n"
			     "(: zero Nat)\n"
			     "(: succ (-> Nat Nat))\n"
			     "\n";

static void emit(struct sink *s, uint64_t n)
{
	put(s, header, sizeof header - 1);
	for (int b = 0; b < 4; b++) {
		put(s, blocks[b][0], strlen(blocks[b][0]));
		for (uint64_t i = 0; i < n / 4 && !s->failed; i++) {
			char digits[24];
			int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)i);
			put_rule(s, blocks[b][1], digits, (size_t)nd);
		}
	}
}

uint64_t kbgen_rule_count(uint64_t n)
{
	return 16 * (n / 4);
}

uint64_t kbgen_size(uint64_t n)
{
	uint64_t size = sizeof header - 1;
	uint64_t units = n / 4, digits = 0;
	/* Total decimal digits of 0..units-1. */
	for (uint64_t lo = 0, hi = 10, w = 1; lo < units; lo = hi, hi *= 10, w++)
		digits += ((units < hi ? units : hi) - lo) * w;
	for (int b = 0; b < 4; b++) {
		uint64_t marks = 0, len = strlen(blocks[b][1]);
		for (const char *p = blocks[b][1]; *p; p++)
			marks += *p == '#';
		size += strlen(blocks[b][0]) + units * (len - marks) + digits * marks;
	}
	return size;
}

int kbgen_write(FILE *out, uint64_t n)
{
	struct sink s = {.out = out};
	emit(&s, n);
	if (!s.failed && s.len && fwrite(s.buf, 1, s.len, out) != s.len)
		s.failed = -1;
	int saved = errno;
	free(s.buf);
	errno = saved;
	return s.failed ? -1 : 0;
}

char *kbgen_generate(uint64_t n, size_t *len)
{
	struct sink s = {0};
	if (sink_reserve(&s, (size_t)kbgen_size(n) + 1))
		return NULL;
	emit(&s, n);
	if (s.failed || sink_reserve(&s, 1)) {
		free(s.buf);
		errno = ENOMEM;
		return NULL;
	}
	s.buf[s.len] = '\0';
	*len = s.len;
	return s.buf;
}
