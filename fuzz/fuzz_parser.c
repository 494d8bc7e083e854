/* fuzz_parser: libFuzzer harness for the MeTTa parser (core/parse) and
 * everything a parsed atom goes through: the space, the printer and text
 * persistence.
 *
 * Any input must give either atoms or an error, never a crash, a
 * sanitizer report or a leak. Beyond that, three oracles abort on a wrong
 * result: every atom printed and read back is the same handle (parse(print
 * (a)) == a); the dump of the space, loaded into a fresh store and dumped
 * again, gives the same text; and a two-thread parse delivers the same
 * atoms, at the same places, and the same error as a one-thread parse, and
 * so does a parse with the lexer's look-ahead on. */
#include "core/parse.h"
#include "core/space.h"
#include "core/textio.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct mt_space *space;
	struct kb_buf text;
};

static int on_atom(void *p, mt_term atom, int bang, const struct mt_varnames *names,
		   struct mt_srcpos where)
{
	struct ctx *c = p;
	struct mt_store *st = mt_space_store(c->space);
	kb_buf_reset(&c->text);
	mt_print(st, atom, names, &c->text);
	if (c->text.oom)
		return 1;
	mt_term back;
	struct kb_error err;
	if (mt_parse_one(st, c->text.data, c->text.len, &back, &err) != 0 || back != atom) {
		fprintf(stderr, "printed atom does not read back: %s\n", c->text.data);
		abort();
	}
	if (!bang && mt_space_add(c->space, atom, names, &err) < 0)
		return 1;
	return 0;
}

static void check_dump_round_trip(const struct mt_space *sp)
{
	struct kb_buf d1 = {0}, d2 = {0};
	mt_textio_dump_buf(sp, &d1);
	struct mt_store *st = mt_store_new();
	struct mt_space *copy = st ? mt_space_new(st) : NULL;
	if (!copy || d1.oom)
		goto out;
	struct kb_error err;
	if (mt_textio_load_buffer(copy, d1.data ? d1.data : "", d1.len, "dump", MT_BANG_REJECT,
				  NULL, &err) != 0) {
		fprintf(stderr, "dump does not load: %s\n", err.msg);
		abort();
	}
	mt_textio_dump_buf(copy, &d2);
	if (!d2.oom && (d1.len != d2.len || (d1.len && memcmp(d1.data, d2.data, d1.len) != 0))) {
		fprintf(stderr, "dump changed after a load\n");
		abort();
	}
out:
	kb_buf_free(&d1);
	kb_buf_free(&d2);
	mt_space_free(copy);
	mt_store_free(st);
}

/* What a parse delivered: rc, message and every atom, in order. */
struct delivered {
	int rc;
	struct kb_error err;
	struct kb_buf log; /* per atom: handle, bang, line, col, offset, names */
};

static int log_atom(void *p, mt_term atom, int bang, const struct mt_varnames *names,
		    struct mt_srcpos where)
{
	struct kb_buf *log = p;
	/* binary, compared byte for byte; no symbol-table call (two threads) */
	uint64_t rec[6] = {atom, (uint64_t)bang, where.line, where.col, where.offset, names->count};
	kb_buf_add(log, rec, sizeof rec);
	if (names->count)
		kb_buf_add(log, names->names, names->count * sizeof *names->names);
	return log->oom;
}

/* lookahead: start with a symbol table big enough (2^19 slots) for the
 * lexer's look-ahead, which a small input would not turn on. */
static void parse_logged(const char *text, size_t len, unsigned threads, int lookahead,
			 struct delivered *d)
{
	memset(d, 0, sizeof *d);
	struct mt_store *st = mt_store_new();
	if (!st) {
		d->rc = -2;
		return;
	}
	if (lookahead)
		mt_store_reserve(st, 0, (size_t)1 << 19);
	struct mt_parse_opts o = {.filename = "fuzz", .max_depth = 200, .threads = threads};
	d->rc = mt_parse_buffer(st, text, len, &o, log_atom, &d->log, &d->err);
	mt_store_free(st);
}

static int oom_in(const struct delivered *d)
{
	return d->rc == -2 || d->log.oom || strstr(d->err.msg, "out of memory");
}

/* A parse as `threads` and `lookahead` say delivers what the one-thread
 * parse without the look-ahead delivered. */
static void check_agrees(const uint8_t *data, size_t size, const struct delivered *one,
			 unsigned threads, int lookahead)
{
	struct delivered two;
	parse_logged((const char *)data, size, threads, lookahead, &two);
	if (!oom_in(one) && !oom_in(&two) &&
	    (one->rc != two.rc || strcmp(one->err.msg, two.err.msg) != 0 ||
	     one->log.len != two.log.len ||
	     (one->log.len && memcmp(one->log.data, two.log.data, one->log.len) != 0))) {
		fprintf(stderr,
			"%u threads, look-ahead %d differ from one thread: rc %d / %d, "
			"'%s' / '%s'\n",
			threads, lookahead, one->rc, two.rc, one->err.msg, two.err.msg);
		abort();
	}
	kb_buf_free(&two.log);
}

static void check_threads_agree(const uint8_t *data, size_t size)
{
	struct delivered one;
	parse_logged((const char *)data, size, 1, 0, &one);
	check_agrees(data, size, &one, 2, 0);
	check_agrees(data, size, &one, 1, 1);
	kb_buf_free(&one.log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_threads_agree(data, size);

	struct mt_store *st = mt_store_new();
	struct mt_space *sp = st ? mt_space_new(st) : NULL;
	if (!sp) {
		mt_store_free(st);
		return 0;
	}
	struct ctx c = {sp, {0}};
	struct kb_error err;
	struct mt_parse_opts o = {.filename = "fuzz", .max_depth = 200};
	int rc = mt_parse_buffer(st, (const char *)data, size, &o, on_atom, &c, &err);
	if (rc == -1 && strncmp(err.msg, "fuzz:", 5) != 0) {
		fprintf(stderr, "error without a position: %s\n", err.msg);
		abort();
	}
	if (rc == 0)
		check_dump_round_trip(sp);
	mt_term one;
	(void)mt_parse_one(st, (const char *)data, size, &one, &err);
	kb_buf_free(&c.text);
	mt_space_free(sp);
	mt_store_free(st);
	return 0;
}
