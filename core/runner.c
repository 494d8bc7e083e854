/* runner: one MeTTa file through the parser and the evaluator (see
 * runner.h). The parser streams atoms to a callback that adds them to the
 * space or evaluates them on the spot, so a `!` line sees exactly the atoms
 * above it, as in Hyperon. */
#include "core/runner.h"

#include <string.h>

#include "core/eval_int.h"
#include "core/parse.h"
#include "core/space.h"
#include "core/unify.h"
#include "util/kb_buf.h"

/* A `!` line's results are printed up to this many bytes, each result up
 * to this many nodes. */
#define LINE_MAX_BYTES (16u << 20)
#define PRINT_MAX_NODES 1000000u

struct run {
	const struct mt_run_opts *opts;
	const char *path; /* for messages */
	struct mt_store *store;
	struct mt_space *space;
	struct mt_eval_ctx *ctx;
	struct mt_check_counts *counts;
	struct mt_check_counts file; /* this file's share */
	struct kb_buf line;
	struct mt_termvec stack;
	struct kb_error *err;
};

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* The symbol of a term's head, or UINT32_MAX. */
static uint32_t head_sym(const struct mt_store *st, mt_term t)
{
	if (!mt_is_expr(t) || mt_expr_arity(st, t) == 0)
		return UINT32_MAX;
	mt_term h = mt_expr_args(st, t)[0];
	return mt_tag(h) == MT_SYM ? mt_payload(h) : UINT32_MAX;
}

/* Whether symbol `sym` occurs anywhere in t. */
static int mentions(const struct mt_store *st, mt_term t, uint32_t sym)
{
	if (sym == UINT32_MAX)
		return 0;
	struct mt_termvec stack = {0};
	int found = 0;
	if (mt_termvec_push(&stack, t))
		return 0;
	while (stack.len && !found) {
		mt_term x = stack.v[--stack.len];
		if (mt_tag(x) == MT_SYM)
			found = mt_payload(x) == sym;
		else if (mt_is_expr(x))
			for (uint32_t i = 0; i < mt_expr_arity(st, x); i++)
				if (mt_termvec_push(&stack, mt_expr_args(st, x)[i]))
					break;
	}
	mt_termvec_free(&stack);
	return found;
}

/* Evaluates one `!` atom; in print mode prints `[r1, r2, ...]`, in check
 * mode reports an assertion. */
static int run_query(struct run *r, mt_term atom, const struct mt_varnames *names,
		     struct mt_srcpos where)
{
	const struct mt_run_opts *o = r->opts;
	uint32_t head = head_sym(r->store, atom);
	int assertion = head == MT_S_ASSERT_EQUAL || head == MT_S_ASSERT_EQUAL_TO_RESULT ||
			head == MT_S_ASSERT_ALPHA_EQUAL;
	if (assertion && mt_expr_arity(r->store, atom) != 3)
		assertion = 0;
	size_t hlen = 0;
	const char *hname = assertion ? mt_sym_name(r->store, head, &hlen) : "";
	r->counts->queries++;
	if (o->check && assertion) {
		/* Hyperon reports ill-typed calls as BadArgType / BadType errors;
		 * kbprof has no type checker, so such expectations are skipped. */
		mt_term expected = mt_expr_args(r->store, atom)[2];
		const char *need = NULL;
		if (mentions(r->store, expected, mt_sym_find(r->store, "BadArgType", 10)))
			need = "BadArgType";
		else if (mentions(r->store, expected, mt_sym_find(r->store, "BadType", 7)))
			need = "BadType";
		if (need) {
			fprintf(o->out,
				"%s:%u: skipped %.*s: needs type checking (%s), which kbprof does "
				"not implement\n",
				base_name(r->path), where.line, (int)hlen, hname, need);
			r->file.skipped++;
			return 0;
		}
	}
	struct mt_eval_it *it = mt_eval_start(r->ctx, atom, names, r->err);
	if (!it)
		return -1;
	kb_buf_reset(&r->line);
	kb_buf_putc(&r->line, '[');
	mt_term res;
	int rc, n = 0, units = 0, other = 0;
	uint64_t unprinted = 0;
	while ((rc = mt_eval_next(it, &res)) == 1) {
		if (r->line.len > LINE_MAX_BYTES) {
			/* a result line stays readable: count what does not fit */
			unprinted++;
		} else {
			if (n)
				kb_buf_puts(&r->line, ", ");
			mt_print_capped(r->store, res, names, &r->line, PRINT_MAX_NODES, &r->stack);
		}
		n++;
		if (mt_is_expr(res) && mt_expr_arity(r->store, res) == 0) {
			units++;
		} else {
			other++;
			/* report the first result that is not () */
			if (o->check && assertion && other == 1) {
				struct kb_buf msg = {0};
				size_t len;
				const char *s = NULL;
				if (head_sym(r->store, res) == MT_S_ERROR &&
				    mt_expr_arity(r->store, res) == 3)
					s = mt_str_value(r->store, mt_expr_args(r->store, res)[2],
							 &len);
				if (s) {
					kb_buf_add(&msg, s, len);
				} else {
					kb_buf_puts(&msg, "result: ");
					mt_print_capped(r->store, res, names, &msg, PRINT_MAX_NODES,
							&r->stack);
				}
				fprintf(o->out, "%s:%u: FAIL %.*s", base_name(r->path), where.line,
					(int)hlen, hname);
				/* indent the message's lines */
				const char *p = msg.data ? msg.data : "";
				while (*p == '\n')
					p++;
				fputs("\n    ", o->out);
				for (; *p; p++) {
					fputc(*p, o->out);
					if (*p == '\n')
						fputs("    ", o->out);
				}
				fputc('\n', o->out);
				kb_buf_free(&msg);
			}
		}
	}
	if (rc < 0) {
		kb_error_set(r->err, "%s:%u:%u: %s", r->path, where.line, where.col,
			     mt_eval_error(it));
		mt_eval_teardown(it);
		return -1;
	}
	if (unprinted)
		kb_buf_printf(&r->line, ", ... %llu more results not printed",
			      (unsigned long long)unprinted);
	kb_buf_putc(&r->line, ']');
	mt_eval_teardown(it);
	if (r->line.oom)
		return kb_error_set(r->err, "%s: out of memory", r->path);
	if (!o->check) {
		fputs(r->line.data, o->out);
		fputc('\n', o->out);
		return 0;
	}
	if (!assertion)
		return 0;
	if (other == 0 && units > 0) {
		fprintf(o->out, "%s:%u: pass %.*s\n", base_name(r->path), where.line, (int)hlen,
			hname);
		r->file.passed++;
	} else {
		if (n == 0)
			fprintf(o->out, "%s:%u: FAIL %.*s\n    no result\n", base_name(r->path),
				where.line, (int)hlen, hname);
		r->file.failed++;
	}
	return 0;
}

static int on_atom(void *vr, mt_term atom, int bang, const struct mt_varnames *names,
		   struct mt_srcpos where)
{
	struct run *r = vr;
	if (!bang)
		return mt_space_add(r->space, atom, names, r->err) < 0 ? 1 : 0;
	return run_query(r, atom, names, where) ? 1 : 0;
}

int mt_run_file(const char *path, const struct mt_run_opts *opts, struct mt_check_counts *counts,
		struct kb_error *err)
{
	struct run r = {.opts = opts, .path = path, .counts = counts, .err = err};
	int rc = -1;
	r.store = mt_store_new();
	r.space = r.store ? mt_space_new(r.store) : NULL;
	r.ctx = r.space ? mt_eval_ctx_new(r.space, &opts->eval) : NULL;
	if (!r.ctx) {
		kb_error_set(err, "%s: out of memory", path);
		goto out;
	}
	struct mt_parse_opts po = {.filename = path};
	int prc = mt_parse_file(r.store, path, &po, on_atom, &r, err);
	if (prc == 0)
		rc = 0;
	if (opts->check && (rc == 0 || r.file.passed + r.file.failed + r.file.skipped))
		fprintf(opts->out, "%s: %llu passed, %llu failed, %llu skipped\n", base_name(path),
			(unsigned long long)r.file.passed, (unsigned long long)r.file.failed,
			(unsigned long long)r.file.skipped);
out:
	counts->passed += r.file.passed;
	counts->failed += r.file.failed;
	counts->skipped += r.file.skipped;
	kb_buf_free(&r.line);
	mt_termvec_free(&r.stack);
	mt_eval_ctx_free(r.ctx);
	mt_space_free(r.space);
	mt_store_free(r.store);
	return rc;
}
