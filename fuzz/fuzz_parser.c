/* fuzz_parser: libFuzzer harness for the MeTTa parser (core/parse) and
 * everything a parsed atom goes through: the space, the printer and text
 * persistence.
 *
 * Any input must give either atoms or an error, never a crash, a
 * sanitizer report or a leak. Beyond that, two oracles abort on a wrong
 * result: every atom printed and read back is the same handle (parse(print
 * (a)) == a), and the dump of the space, loaded into a fresh store and
 * dumped again, gives the same text. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = st ? mt_space_new(st) : NULL;
	if (!sp) {
		mt_store_free(st);
		return 0;
	}
	struct ctx c = {sp, {0}};
	struct kb_error err;
	struct mt_parse_opts o = {"fuzz", 200};
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
