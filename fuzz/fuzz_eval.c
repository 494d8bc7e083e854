/* fuzz_eval: libFuzzer harness for the evaluator (core/eval, core/unify)
 * driven like `kbprof metta`: atoms without `!` go to the space, each `!`
 * atom is evaluated and its results printed.
 *
 * Any input must give results, Error atoms or a parse error, never a
 * crash, a sanitizer report, a leak or a hang: the limits (depth, results,
 * steps, memory) are set low so that every program ends quickly. */
#include "core/eval.h"
#include "core/eval_int.h"
#include "core/parse.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct mt_space *space;
	struct mt_eval_ctx *ctx;
	struct kb_buf out;
	struct mt_termvec stack;
	int queries;
};

static int on_atom(void *p, mt_term atom, int bang, const struct mt_varnames *names,
		   struct mt_srcpos where)
{
	struct run *r = p;
	struct kb_error err;
	if (!bang)
		return mt_space_add(r->space, atom, names, &err) < 0;
	if (++r->queries > 16)
		return 1;
	struct mt_eval_it *it = mt_eval_start(r->ctx, atom, names, &err);
	if (!it)
		return 1;
	mt_term res;
	while (mt_eval_next(it, &res) == 1) {
		kb_buf_reset(&r->out);
		mt_print_capped(mt_space_store(r->space), res, names, &r->out, 10000, &r->stack);
	}
	mt_eval_teardown(it);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r = {0};
	struct mt_store *st = mt_store_new();
	r.space = st ? mt_space_new(st) : NULL;
	struct mt_eval_opts o = mt_eval_default_opts();
	o.max_depth = 2000;
	o.max_results = 100;
	o.max_steps = 20000;
	o.max_memory = 64u << 20;
	r.ctx = r.space ? mt_eval_ctx_new(r.space, &o) : NULL;
	if (r.ctx) {
		struct kb_error err;
		mt_parse_buffer(st, (const char *)data, size, NULL, on_atom, &r, &err);
	}
	kb_buf_free(&r.out);
	mt_termvec_free(&r.stack);
	mt_eval_ctx_free(r.ctx);
	mt_space_free(r.space);
	mt_store_free(st);
	return 0;
}
