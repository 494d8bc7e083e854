/* eval: the MeTTa evaluator, a backtracking machine with an explicit
 * continuation stack (see eval.h for the API and the semantics).
 *
 * Machine. Three registers drive a loop: EVAL term T with continuation K,
 * RETurn value V to continuation K, or FAIL (backtrack to the newest
 * choice point). A continuation is a linked chain of immutable frames
 * ("what to do with a value"); a choice point records where to resume an
 * alternative (the remaining rule candidates of a call, the remaining
 * elements of a superpose, ...) together with the state to return to: the
 * binding trail, the scratch heap mark and the frame region mark. Results
 * reach the bottom frame (K_TOP) one at a time and are handed to the
 * caller; asking for the next result backtracks. Nothing recurses in C, so
 * evaluation depth is bounded by max_depth and memory only.
 *
 * Deterministic steps push no choice point: a call with one candidate rule
 * (the common case) is a plain jump, and the rule body is evaluated with
 * the caller's continuation (a tail call), so tail recursion runs in
 * constant continuation depth.
 *
 * Memory. Frames live in a region with marks (released on backtracking and
 * at teardown); terms in the store's scratch heap (likewise); bindings in
 * struct mt_bindings (unify.h). Results collected by collapse and the
 * assertions are encoded into malloc'd buffers owned by their choice point
 * (eval_util.c), because backtracking releases the scratch heap they were
 * built in. The context owns all of it; teardown returns everything the
 * query took. */
#include "core/eval.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/eval_int.h"
#include "core/store_impl.h"
#include "core/unify.h"
#include "util/kb_buf.h"

/* ---- frame region: a bump allocator with marks ---- */

#ifndef KBPROF_ARENA_DEBUG
struct region_chunk {
	struct region_chunk *prev;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};
struct region {
	struct region_chunk *cur, *spare;
	size_t bytes;
};
struct region_mark {
	struct region_chunk *chunk;
	size_t used;
};
#define REGION_CHUNK (256u * 1024u)

static void *region_alloc_slow(struct region *r, size_t size);

__attribute__((always_inline)) static inline void *region_alloc(struct region *r, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	struct region_chunk *c = r->cur;
	if (__builtin_expect(c != NULL && c->size - c->used >= size, 1)) {
		void *p = c->data + c->used;
		c->used += size;
		return p;
	}
	return region_alloc_slow(r, size);
}

static void *region_alloc_slow(struct region *r, size_t size)
{
	struct region_chunk *c = r->cur;
	if (!c || c->size - c->used < size) {
		c = r->spare;
		if (c && c->size >= size) {
			r->spare = c->prev;
		} else {
			size_t cap = size > REGION_CHUNK ? size : REGION_CHUNK;
			c = malloc(sizeof *c + cap);
			if (!c)
				return NULL;
			c->size = cap;
			r->bytes += cap;
		}
		c->used = 0;
		c->prev = r->cur;
		r->cur = c;
	}
	void *p = c->data + c->used;
	c->used += size;
	return p;
}

static struct region_mark region_mark(const struct region *r)
{
	struct region_mark m = {r->cur, r->cur ? r->cur->used : 0};
	return m;
}

static void region_release(struct region *r, struct region_mark m)
{
	while (r->cur != m.chunk) {
		struct region_chunk *c = r->cur;
		r->cur = c->prev;
		c->prev = r->spare;
		r->spare = c;
	}
	if (r->cur)
		r->cur->used = m.used;
}

static void region_free(struct region *r)
{
	region_release(r, (struct region_mark){NULL, 0});
	while (r->spare) {
		struct region_chunk *c = r->spare;
		r->spare = c->prev;
		free(c);
	}
	r->bytes = 0;
}
#else
/* Debug build: every frame is its own malloc, so sanitizers see its
 * bounds; a mark is the number of live objects. */
struct region {
	void **obj;
	size_t *size;
	size_t len, cap, bytes;
};
struct region_mark {
	size_t len;
};

static void *region_alloc(struct region *r, size_t size)
{
	if (r->len == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		void **p = realloc(r->obj, cap * sizeof *p);
		if (!p)
			return NULL;
		r->obj = p;
		size_t *q = realloc(r->size, cap * sizeof *q);
		if (!q)
			return NULL;
		r->size = q;
		r->cap = cap;
	}
	void *o = malloc(size);
	if (!o)
		return NULL;
	r->size[r->len] = size;
	r->obj[r->len++] = o;
	r->bytes += size;
	return o;
}

static struct region_mark region_mark(const struct region *r)
{
	struct region_mark m = {r->len};
	return m;
}

static void region_release(struct region *r, struct region_mark m)
{
	while (r->len > m.len) {
		r->len--;
		r->bytes -= r->size[r->len];
		free(r->obj[r->len]);
	}
}

static void region_free(struct region *r)
{
	region_release(r, (struct region_mark){0});
	free(r->obj);
	free(r->size);
	memset(r, 0, sizeof *r);
}
#endif

/* Frees what was allocated after the object at p (of `size` bytes), if p
 * lies in the newest chunk above `floor`: frames allocated after a frame
 * that receives a value are dead unless a choice point keeps them, so the
 * region behaves like a stack while evaluation is deterministic. */
#ifndef KBPROF_ARENA_DEBUG
static void region_pop_above(struct region *r, const void *p, size_t size, struct region_mark floor)
{
	struct region_chunk *c = r->cur;
	const unsigned char *q = p;
	if (!c || q < c->data || q >= c->data + c->used)
		return;
	size_t end = (size_t)(q - c->data) + ((size + 15) & ~(size_t)15);
	if (floor.chunk == c && floor.used > end)
		return;
	if (end < c->used)
		c->used = end;
}
#else
static void region_pop_above(struct region *r, const void *p, size_t size, struct region_mark floor)
{
	/* debug build: objects are freed on backtracking and at teardown */
	(void)r, (void)p, (void)size, (void)floor;
}
#endif

/* ---- frames and choice points ----
 * A term to evaluate comes with an offset (see unify.h): a rule's body is
 * evaluated in place, its variable v standing for global variable off + v,
 * instead of being copied with its variables renamed. Values (results of
 * evaluation) are always global terms (offset 0). */

enum frame_kind {
	K_TOP,           /* bottom: a value here is a result of the query */
	K_TUPLE,         /* a = expression, i = element being evaluated */
	K_STRICT,        /* same, for a grounded operation b (elements 1..) */
	K_IF,            /* a = then, b = else */
	K_LET,           /* a = pattern, b = body */
	K_LETSTAR,       /* a = the let* expression, i = pair */
	K_CASE,          /* a = cases, b = the case expression, i = its choice point */
	K_COLLAPSE_ITEM, /* i = the collapse choice point */
	K_CONJ,          /* a = pattern, b = template, c = 1 if a is (, ...), i/n */
	K_ASSERT,        /* a = assertion, i = stage, b = first list (global) */
};

struct frame {
	struct frame *next;
	uint32_t kind, depth;
	mt_term a, b, c;
	uint32_t off; /* offset of a, b and c (K_ASSERT: of a only) */
	uint32_t i, n;
	mt_term vals[]; /* K_TUPLE, K_STRICT: values of elements 0..i-1 */
};

static inline size_t frame_size(const struct frame *f)
{
	size_t n = f->kind == K_TUPLE || f->kind == K_STRICT ? f->n : 0;
	return sizeof *f + n * sizeof(mt_term);
}

enum cp_kind { CP_RULES, CP_MATCH, CP_SUPERPOSE, CP_COLLAPSE, CP_CASE };

/* Candidate iteration over the space (rule calls and match). */
struct cand {
	struct mt_space_iter it;
	mt_term goal; /* the call (rules, global) or the pattern (match) */
	uint32_t goal_off;
	mt_term lookup; /* what the index is asked about */
	uint32_t last;  /* entry being tried (UINT32_MAX: none yet) */
	uint32_t la;    /* look-ahead entry */
	uint32_t mult_left;
	uint32_t limit; /* entries that existed when the iteration began */
	uint32_t gen;   /* space generation the iterator belongs to */
	uint8_t la_valid, by_rules, matched;
};

struct choice {
	uint32_t kind;
	struct mt_bind_state bs;
	struct mt_scratch_mark sm;
	struct region_mark rm;
	struct frame *k;
	union {
		struct cand cand;
		struct {
			mt_term list;
			uint32_t off, idx;
		} sup;
		struct {
			struct mt_codebuf buf;
			uint64_t count;
			mt_term expr; /* global, for the limit's message */
		} col;
		struct {
			mt_term cases, expr;
			uint32_t off;
			int produced;
		} cas;
	} u;
};

enum mode { M_EVAL, M_RET, M_FAIL, M_FATAL };

struct mt_eval_it {
	struct mt_eval_ctx *ctx;
	mt_term query;
	const struct mt_varnames *names;
	enum mode mode;
	mt_term T, V;
	uint32_t Toff;
	struct frame *K;
	struct mt_scratch_mark start;
	struct region_mark rstart;
	uint64_t nresults;
	int started, done;
	int over_memory;            /* the memory limit was passed: stop at the next step */
	size_t reg_base, bind_base; /* memory the context held when it started */
	char errmsg[256];
};

#define SYMC_SIZE 1024u
#define VARC_SIZE 4096u

struct mt_eval_ctx {
	struct mt_space *space;
	struct mt_store *store;
	struct mt_eval_opts opts;
	struct mt_bindings b;
	struct region reg;
	struct choice *cp;
	size_t ncp, cpcap;
	uint32_t gen; /* bumped by every change this context makes to the space */
	mt_term unit, s_div0, s_overflow;
	struct mt_eval_it it;
	int busy;
	struct mt_termvec tmp, tmp2, tmp3, tmp4;
	struct kb_buf msg;
	struct mt_eval_stats stats;
	/* normal forms: ground expressions known to evaluate to themselves */
	uint64_t *nf_bits; /* scratch expressions, by heap word index */
	size_t nf_words;   /* 64-bit words allocated in nf_bits */
	size_t nf_hw;      /* every bit at index >= nf_hw is clear */
	uint32_t *nf_keys; /* persistent expressions: open addressing */
	uint32_t *nf_epochs;
	uint32_t nf_mask, nf_count, nf_epoch;
	size_t col_bytes;      /* capacity of the collapse buffers */
	uint32_t seen_entries; /* space fingerprint when the marks were made */
	uint64_t seen_size;
	/* whether a symbol may have rules, valid while nf_epoch is unchanged */
	struct {
		uint32_t sym, epoch, may;
	} symc[SYMC_SIZE];
	/* 1 + the largest variable number of the atom at an entry (entries
	 * never change, so these never go stale) */
	struct {
		uint32_t entry, end;
	} varc[VARC_SIZE];
};

/* ---- small helpers ---- */

static inline mt_term deref(struct mt_eval_ctx *ctx, mt_term t)
{
	return mt_bind_deref(&ctx->b, t);
}

/* Expressions are read in place (store_impl.h): the evaluator is part of
 * the core, and these are its hottest reads. */
static inline int is_ground(struct mt_eval_ctx *ctx, mt_term t)
{
	return (mt_store_hdr(ctx->store, t) & MT_HDR_GROUND) != 0;
}

static inline const mt_term *args(struct mt_eval_ctx *ctx, mt_term t)
{
	return mt_store_args(ctx->store, t);
}

static inline uint32_t arity(struct mt_eval_ctx *ctx, mt_term t)
{
	return mt_hdr_arity(mt_store_hdr(ctx->store, t));
}

/* Resolves (t, *off): a variable becomes its value or its global unbound
 * self (offset 0); a ground expression drops its offset. */
__attribute__((always_inline)) static inline mt_term deref_off(struct mt_eval_ctx *ctx, mt_term t,
							       uint32_t *off)
{
	if (mt_tag(t) == MT_VAR) {
		uint32_t g = mt_payload(t) + *off;
		*off = 0;
		mt_term v = mt_bind_value(&ctx->b, g);
		return v == MT_NONE ? mt_var(g) : mt_bind_deref(&ctx->b, v);
	}
	if (*off && (!mt_is_expr(t) || is_ground(ctx, t)))
		*off = 0;
	return t;
}

/* A global copy of (t, off): the term as a value. */
static inline mt_term globalize(struct mt_eval_ctx *ctx, mt_term t, uint32_t off)
{
	t = deref_off(ctx, t, &off);
	return off ? mt_subst(&ctx->b, t, off, MT_SUBST_SHALLOW) : t;
}

/* ---- normal forms ----
 * Hyperon marks an expression that evaluated to itself as "evaluated" and
 * does not evaluate it again; without that, data such as a 100,000-deep
 * Peano numeral passed from call to call is re-evaluated at every step
 * (quadratic time). Marks are kept for ground expressions only, cleared
 * with the scratch memory they describe, and dropped whenever the space
 * changes. */

static int nf_test(struct mt_eval_ctx *ctx, mt_term t)
{
	uint32_t x = mt_payload(t);
	if (mt_tag(t) == MT_TEXPR)
		return x < ctx->nf_hw && (ctx->nf_bits[x >> 6] >> (x & 63) & 1);
	if (!ctx->nf_keys)
		return 0;
	for (uint32_t i = (x * 0x9E3779B1u) & ctx->nf_mask;; i = (i + 1) & ctx->nf_mask) {
		if (ctx->nf_epochs[i] != ctx->nf_epoch)
			return 0;
		if (ctx->nf_keys[i] == t)
			return 1;
	}
}

static void nf_mark(struct mt_eval_ctx *ctx, mt_term t)
{
	uint32_t x = mt_payload(t);
	if (mt_tag(t) == MT_TEXPR) {
		if ((size_t)(x >> 6) >= ctx->nf_words) {
			size_t n = ctx->nf_words ? ctx->nf_words : 1024;
			while (n <= (size_t)(x >> 6))
				n *= 2;
			uint64_t *p = realloc(ctx->nf_bits, n * sizeof *p);
			if (!p)
				return; /* a missed mark only costs time */
			memset(p + ctx->nf_words, 0, (n - ctx->nf_words) * sizeof *p);
			ctx->nf_bits = p;
			ctx->nf_words = n;
		}
		ctx->nf_bits[x >> 6] |= (uint64_t)1 << (x & 63);
		if (x >= ctx->nf_hw)
			ctx->nf_hw = (size_t)x + 1;
		return;
	}
	if (!ctx->nf_keys || 2 * (ctx->nf_count + 1) > ctx->nf_mask + 1) {
		uint32_t cap = ctx->nf_keys ? 2 * (ctx->nf_mask + 1) : 1024;
		uint32_t *k = malloc(cap * sizeof *k), *e = malloc(cap * sizeof *e);
		if (!k || !e) {
			free(k);
			free(e);
			return;
		}
		for (uint32_t i = 0; i < cap; i++)
			e[i] = ctx->nf_epoch - 1;
		uint32_t count = 0;
		for (uint32_t i = 0; ctx->nf_keys && i <= ctx->nf_mask; i++) {
			if (ctx->nf_epochs[i] != ctx->nf_epoch)
				continue;
			uint32_t j = (mt_payload(ctx->nf_keys[i]) * 0x9E3779B1u) & (cap - 1);
			while (e[j] == ctx->nf_epoch)
				j = (j + 1) & (cap - 1);
			k[j] = ctx->nf_keys[i];
			e[j] = ctx->nf_epoch;
			count++;
		}
		free(ctx->nf_keys);
		free(ctx->nf_epochs);
		ctx->nf_keys = k;
		ctx->nf_epochs = e;
		ctx->nf_mask = cap - 1;
		ctx->nf_count = count;
	}
	uint32_t i = (x * 0x9E3779B1u) & ctx->nf_mask;
	while (ctx->nf_epochs[i] == ctx->nf_epoch) {
		if (ctx->nf_keys[i] == t)
			return;
		i = (i + 1) & ctx->nf_mask;
	}
	ctx->nf_keys[i] = t;
	ctx->nf_epochs[i] = ctx->nf_epoch;
	ctx->nf_count++;
}

/* Forgets every persistent mark (the space changed). */
static void nf_forget_persistent(struct mt_eval_ctx *ctx)
{
	ctx->nf_epoch++;
	ctx->nf_count = 0;
	if (ctx->nf_epoch == 0 && ctx->nf_keys) {
		/* wrapped around: old entries could look current again */
		for (uint32_t i = 0; i <= ctx->nf_mask; i++)
			ctx->nf_epochs[i] = UINT32_MAX;
	}
}

/* Forgets every mark (the space changed). */
static void nf_forget_all(struct mt_eval_ctx *ctx)
{
	nf_forget_persistent(ctx);
	if (ctx->nf_hw)
		memset(ctx->nf_bits, 0, ((ctx->nf_hw + 63) >> 6) * 8);
	ctx->nf_hw = 0;
}

/* Releases the scratch heap to `m`, with the marks of what it frees. */
static void scratch_release(struct mt_eval_ctx *ctx, struct mt_scratch_mark m)
{
	if (ctx->nf_hw > m.words) {
		size_t from = m.words;
		while (from < ctx->nf_hw && (from & 63)) {
			ctx->nf_bits[from >> 6] &= ~((uint64_t)1 << (from & 63));
			from++;
		}
		if (from < ctx->nf_hw)
			memset(ctx->nf_bits + (from >> 6), 0, ((ctx->nf_hw - from + 63) >> 6) * 8);
		ctx->nf_hw = m.words;
	}
	mt_scratch_release(ctx->store, m);
}

static inline void go_eval(struct mt_eval_it *it, mt_term t, uint32_t off, struct frame *k)
{
	it->T = t;
	it->Toff = off;
	it->K = k;
	it->mode = M_EVAL;
}

static inline void go_ret(struct mt_eval_it *it, mt_term v, struct frame *k)
{
	it->V = v;
	it->K = k;
	it->mode = M_RET;
}

static inline void go_fail(struct mt_eval_it *it)
{
	it->mode = M_FAIL;
}

__attribute__((format(printf, 2, 3))) static void go_fatal(struct mt_eval_it *it, const char *fmt,
							   ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(it->errmsg, sizeof it->errmsg, fmt, ap);
	va_end(ap);
	it->mode = M_FATAL;
}

static void oom(struct mt_eval_it *it)
{
	if (it->ctx->b.oom && it->ctx->b.next_var >= it->ctx->b.var_limit)
		go_fatal(it, "evaluation: variable limit reached");
	else
		go_fatal(it, "evaluation: out of memory");
}

static inline int is_error(struct mt_eval_ctx *ctx, mt_term v)
{
	if (mt_tag(v) == MT_VAR)
		v = deref(ctx, v);
	if (!mt_is_expr(v))
		return 0;
	return mt_is_expr(v) && arity(ctx, v) > 0 &&
	       deref(ctx, args(ctx, v)[0]) == mt_sym(MT_S_ERROR);
}

static mt_term mk_expr(struct mt_eval_ctx *ctx, const mt_term *kids, uint32_t n)
{
	return mt_texpr(ctx->store, kids, n);
}

/* (Error atom msg) with msg a string atom; atom is (atom, off). */
__attribute__((format(printf, 4, 5))) static mt_term mk_error(struct mt_eval_ctx *ctx, mt_term atom,
							      uint32_t off, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof text)
		n = sizeof text - 1;
	atom = globalize(ctx, atom, off);
	mt_term msg = atom == MT_NONE ? MT_NONE : mt_string(ctx->store, text, (size_t)n, 1);
	if (msg == MT_NONE)
		return MT_NONE;
	mt_term kids[3] = {mt_sym(MT_S_ERROR), atom, msg};
	return mk_expr(ctx, kids, 3);
}

static mt_term mk_error_term(struct mt_eval_ctx *ctx, mt_term atom, mt_term msg)
{
	mt_term kids[3] = {mt_sym(MT_S_ERROR), atom, msg};
	return mk_expr(ctx, kids, 3);
}

static void ret_value(struct mt_eval_it *it, mt_term v, struct frame *k)
{
	if (v == MT_NONE)
		oom(it);
	else
		go_ret(it, v, k);
}

/* ---- frames ---- */

/* A new frame over continuation `next`, or NULL when the depth limit is
 * reached (then the Error of (culprit, off) is returned to `next`) or
 * memory ran out. */
static inline struct frame *new_frame(struct mt_eval_it *it, uint32_t kind, struct frame *next,
				      uint32_t nvals, mt_term culprit, uint32_t off)
{
	struct mt_eval_ctx *ctx = it->ctx;
	if (next->depth >= ctx->opts.max_depth) {
		ret_value(
		    it, mk_error(ctx, culprit, off, "depth limit %u exceeded", ctx->opts.max_depth),
		    next);
		return NULL;
	}
	struct frame *f = region_alloc(&ctx->reg, sizeof *f + (size_t)nvals * sizeof(mt_term));
	if (!f) {
		oom(it);
		return NULL;
	}
	f->next = next;
	f->kind = kind;
	f->depth = next->depth + 1;
	f->off = off;
	if (f->depth > ctx->stats.max_depth)
		ctx->stats.max_depth = f->depth;
	return f;
}

/* ---- choice points ---- */

static struct choice *push_cp(struct mt_eval_it *it, uint32_t kind, struct frame *k)
{
	struct mt_eval_ctx *ctx = it->ctx;
	if (ctx->ncp == ctx->cpcap) {
		size_t cap = ctx->cpcap ? ctx->cpcap * 2 : 64;
		struct choice *p = realloc(ctx->cp, cap * sizeof *p);
		if (!p) {
			oom(it);
			return NULL;
		}
		ctx->cp = p;
		ctx->cpcap = cap;
	}
	struct choice *c = &ctx->cp[ctx->ncp++];
	c->kind = kind;
	c->bs = mt_bind_save(&ctx->b);
	c->sm = mt_scratch_mark(ctx->store);
	c->rm = region_mark(&ctx->reg);
	c->k = k;
	ctx->b.trail_from = c->bs.next_var;
	return c;
}

static void pop_cp(struct mt_eval_ctx *ctx)
{
	struct choice *c = &ctx->cp[--ctx->ncp];
	if (c->kind == CP_COLLAPSE) {
		ctx->col_bytes -= c->u.col.buf.cap * sizeof *c->u.col.buf.w;
		free(c->u.col.buf.w);
	}
	ctx->b.trail_from = ctx->ncp ? ctx->cp[ctx->ncp - 1].bs.next_var : 0;
}

static void restore_cp(struct mt_eval_ctx *ctx, struct choice *c)
{
	mt_bind_restore(&ctx->b, c->bs);
	scratch_release(ctx, c->sm);
	region_release(&ctx->reg, c->rm);
}

/* Unifies (x, xo) with (y, yo); on failure undoes what the attempt did.
 * Returns 1, 0, or -1 (out of memory: the machine is stopped). */
static int try_unify(struct mt_eval_it *it, mt_term x, uint32_t xo, mt_term y, uint32_t yo)
{
	struct mt_eval_ctx *ctx = it->ctx;
	struct mt_bind_state bs = mt_bind_save(&ctx->b);
	struct mt_scratch_mark sm = mt_scratch_mark(ctx->store);
	int rc = mt_unify(&ctx->b, x, xo, y, yo);
	if (rc < 0) {
		oom(it);
	} else if (rc == 0) {
		mt_bind_restore(&ctx->b, bs);
		scratch_release(ctx, sm);
	}
	return rc;
}

/* Hands out the variables of the atom at `entry` renamed from `base`. */
static int claim_vars(struct mt_eval_ctx *ctx, uint32_t entry, mt_term atom, uint32_t base)
{
	uint32_t slot = entry & (VARC_SIZE - 1), end;
	if (ctx->varc[slot].entry == entry + 1) {
		end = ctx->varc[slot].end;
	} else {
		end = mt_term_var_end(ctx->store, atom, &ctx->tmp);
		if (end >= MT_VAR_MAX)
			return -1;
		ctx->varc[slot].entry = entry + 1;
		ctx->varc[slot].end = end;
	}
	uint64_t top = (uint64_t)base + end;
	if (top > ctx->b.var_limit) {
		ctx->b.oom = 1;
		return -1;
	}
	if (top > ctx->b.next_var)
		ctx->b.next_var = (uint32_t)top;
	return 0;
}

/* ---- candidates from the space ---- */

static void cand_begin(struct mt_eval_ctx *ctx, struct cand *c)
{
	if (c->by_rules)
		mt_space_rules_begin(ctx->space, c->lookup, &c->it);
	else
		mt_space_atoms_begin(ctx->space, c->lookup, &c->it);
	c->gen = ctx->gen;
}

static int next_live(struct cand *c, uint32_t *e)
{
	/* entries come in increasing order: past the limit, all are newer */
	return mt_space_next(&c->it, e) && *e < c->limit;
}

static void cand_init(struct mt_eval_ctx *ctx, struct cand *c, mt_term goal, uint32_t goal_off,
		      mt_term lookup, int by_rules)
{
	c->goal = goal;
	c->goal_off = goal_off;
	c->lookup = lookup;
	c->by_rules = (uint8_t)by_rules;
	c->matched = 0;
	c->mult_left = 0;
	c->last = UINT32_MAX;
	c->limit = mt_space_entries(ctx->space);
	cand_begin(ctx, c);
	c->la_valid = (uint8_t)next_live(c, &c->la);
}

/* The next candidate entry (each copy of a multiple atom counts). The
 * space may have changed since the last call (add-atom during the query):
 * the iterator is then rebuilt and resumes after the last entry. */
static int cand_next(struct mt_eval_ctx *ctx, struct cand *c, uint32_t *entry)
{
	if (c->mult_left) {
		c->mult_left--;
		*entry = c->last;
		return 1;
	}
	if (c->gen != ctx->gen) {
		cand_begin(ctx, c);
		do
			c->la_valid = (uint8_t)next_live(c, &c->la);
		while (c->la_valid && c->last != UINT32_MAX && c->la <= c->last);
	}
	while (c->la_valid) {
		uint32_t e = c->la;
		c->la_valid = (uint8_t)next_live(c, &c->la);
		uint32_t m = mt_space_multiplicity(ctx->space, e);
		if (m == 0)
			continue;
		c->last = e;
		c->mult_left = m - 1;
		*entry = e;
		return 1;
	}
	return 0;
}

static int is_rule(struct mt_eval_ctx *ctx, mt_term atom)
{
	return mt_is_expr(atom) && arity(ctx, atom) == 3 &&
	       args(ctx, atom)[0] == mt_sym(MT_S_EQUAL);
}

static void maybe_mark_normal(struct mt_eval_ctx *ctx, mt_term r);

/* Tries candidates until one unifies. For a rule call, success evaluates
 * the rule's body (in place, offset by the renaming base) with
 * continuation k, and a call no rule unifies with is its own value; for
 * match, success returns to k. `c` is local, or the top choice point's
 * when `in_cp` (resuming after backtracking). A choice point is kept only
 * while candidates remain. */
static void cand_drive(struct mt_eval_it *it, struct cand *c, int in_cp, uint32_t kind,
		       struct frame *k)
{
	struct mt_eval_ctx *ctx = it->ctx;
	struct cand local;
	for (;;) {
		uint32_t e;
		if (!cand_next(ctx, c, &e)) {
			int matched = c->matched;
			mt_term goal = c->goal;
			if (in_cp)
				pop_cp(ctx);
			if (kind == CP_RULES && !matched) {
				maybe_mark_normal(ctx, goal);
				go_ret(it, goal, k);
			} else {
				go_fail(it);
			}
			return;
		}
		int more = c->mult_left > 0 || c->la_valid;
		if (more && !in_cp) {
			struct choice *cp = push_cp(it, kind, k);
			if (!cp)
				return;
			cp->u.cand = *c;
			c = &cp->u.cand;
			in_cp = 1;
		} else if (!more && in_cp) {
			local = *c;
			pop_cp(ctx);
			c = &local;
			in_cp = 0;
		}
		struct mt_bind_state bs = mt_bind_save(&ctx->b);
		struct mt_scratch_mark sm = mt_scratch_mark(ctx->store);
		mt_term atom = mt_space_atom(ctx->space, e);
		uint32_t base = ctx->b.next_var;
		int rc = 0;
		ctx->stats.rule_tries++;
		if (kind == CP_RULES) {
			if (is_rule(ctx, atom))
				rc = mt_unify(&ctx->b, args(ctx, atom)[1], base, c->goal, 0);
		} else {
			rc = mt_unify(&ctx->b, c->goal, c->goal_off, atom, base);
		}
		if (rc > 0 && claim_vars(ctx, e, atom, base))
			rc = -1;
		if (rc < 0) {
			oom(it);
			return;
		}
		if (rc == 0) {
			mt_bind_restore(&ctx->b, bs);
			scratch_release(ctx, sm);
			continue;
		}
		c->matched = 1;
		if (kind == CP_RULES)
			go_eval(it, args(ctx, atom)[2], base, k);
		else
			go_ret(it, ctx->unit, k);
		return;
	}
}

/* Reduces call r (global: a symbol, or an expression with evaluated
 * elements) through every rule whose left side unifies with it. */
static void call_rules(struct mt_eval_it *it, mt_term r, struct frame *k)
{
	struct cand c;
	cand_init(it->ctx, &c, r, 0, r, 1);
	cand_drive(it, &c, 0, CP_RULES, k);
}

/* Whether a symbol might reduce: some rule may have it as left side. */
static int sym_may_reduce_slow(struct mt_eval_ctx *ctx, mt_term s);

__attribute__((always_inline)) static inline int sym_may_reduce(struct mt_eval_ctx *ctx, mt_term s)
{
	uint32_t id = mt_payload(s), slot = id & (SYMC_SIZE - 1);
	if (ctx->symc[slot].sym == id && ctx->symc[slot].epoch == ctx->nf_epoch)
		return (int)ctx->symc[slot].may;
	return sym_may_reduce_slow(ctx, s);
}

static int sym_may_reduce_slow(struct mt_eval_ctx *ctx, mt_term s)
{
	uint32_t id = mt_payload(s), slot = id & (SYMC_SIZE - 1);
	struct mt_space_iter i;
	uint32_t e;
	mt_space_rules_begin(ctx->space, s, &i);
	int may = mt_space_next(&i, &e);
	ctx->symc[slot].sym = id;
	ctx->symc[slot].epoch = ctx->nf_epoch;
	ctx->symc[slot].may = (uint32_t)may;
	return may;
}

/* A global term that evaluates to itself, without alternatives or
 * bindings. */
__attribute__((always_inline)) static inline int trivial(struct mt_eval_ctx *ctx, mt_term e)
{
	switch (mt_tag(e)) {
	case MT_VAR:
	case MT_INT:
	case MT_BOX:
	case MT_TBOX:
		return 1;
	case MT_SYM:
		return e != mt_sym(MT_S_EMPTY) &&
		       (!ctx->opts.symbol_rules || !sym_may_reduce(ctx, e));
	default:
		return arity(ctx, e) == 0 || (is_ground(ctx, e) && nf_test(ctx, e));
	}
}

/* After a ground call found no rule: it is a normal form if each of its
 * elements is (so evaluating it again would give it back). */
static void maybe_mark_normal(struct mt_eval_ctx *ctx, mt_term r)
{
	if (!mt_is_expr(r) || !is_ground(ctx, r))
		return;
	uint32_t n = arity(ctx, r);
	for (uint32_t i = 0; i < n; i++)
		if (!trivial(ctx, args(ctx, r)[i]))
			return;
	nf_mark(ctx, r);
}

/* The head of an expression is (recursively) an unbound variable. */
static int var_headed(struct mt_eval_ctx *ctx, mt_term h)
{
	for (;;) {
		h = deref(ctx, h);
		if (mt_tag(h) == MT_VAR)
			return 1;
		if (!mt_is_expr(h) || arity(ctx, h) == 0)
			return 0;
		h = args(ctx, h)[0];
	}
}

/* ---- tuples and grounded operations ---- */

static void tuple_reduce(struct mt_eval_it *it, struct frame *f);
static int strict_inline(struct mt_eval_ctx *ctx, mt_term e, uint32_t off, mt_term *v);
static void tuple_begin(struct mt_eval_it *it, mt_term t, uint32_t off, uint32_t kind, uint32_t op,
			struct frame *k, int try_inline);

/* Evaluates the elements of f->a from f->i on; f is private until it
 * becomes the continuation of an element's evaluation. */
static void tuple_advance(struct mt_eval_it *it, struct frame *f)
{
	struct mt_eval_ctx *ctx = it->ctx;
	const mt_term *a = args(ctx, f->a);
	for (uint32_t i = f->i; i < f->n; i++) {
		uint32_t off = f->off;
		mt_term e = deref_off(ctx, a[i], &off);
		if (!off && trivial(ctx, e)) {
			f->vals[i] = e;
			continue;
		}
		mt_term v;
		int si = strict_inline(ctx, e, off, &v);
		if (si == 2) {
			/* a grounded operation to apply once its arguments are in */
			uint32_t ho = off;
			mt_term op = deref_off(ctx, args(ctx, e)[0], &ho);
			f->i = i;
			tuple_begin(it, e, off, K_STRICT, mt_payload(op), f, 0);
			return;
		}
		if (si == 1) {
			if (v == MT_NONE) {
				oom(it);
				return;
			}
			if (is_error(ctx, v)) {
				go_ret(it, v, f->next);
				return;
			}
			f->vals[i] = v;
			a = args(ctx, f->a); /* the heap may have moved */
			continue;
		}
		f->i = i;
		go_eval(it, e, off, f);
		return;
	}
	tuple_reduce(it, f);
}

static void apply_strict(struct mt_eval_it *it, struct frame *f);

static void tuple_begin(struct mt_eval_it *it, mt_term t, uint32_t off, uint32_t kind, uint32_t op,
			struct frame *k, int try_inline)
{
	struct mt_eval_ctx *ctx = it->ctx;
	uint32_t n = arity(ctx, t);
	if (kind == K_STRICT && try_inline) {
		mt_term v;
		if (strict_inline(ctx, t, off, &v) == 1) {
			ret_value(it, v, k);
			return;
		}
	}
	struct frame *f = new_frame(it, kind, k, n, t, off);
	if (!f)
		return;
	f->a = t;
	f->b = op;
	f->n = n;
	f->i = 0;
	if (kind == K_STRICT) {
		f->vals[0] = mt_sym(op);
		f->i = 1;
	}
	tuple_advance(it, f);
}

/* The expression with the evaluated elements (t itself if it is global
 * and no element changed). */
static mt_term reduced(struct mt_eval_ctx *ctx, mt_term t, uint32_t off, const mt_term *vals,
		       uint32_t n)
{
	if (off && !is_ground(ctx, t))
		return mk_expr(ctx, vals, n);
	const mt_term *orig = args(ctx, t);
	for (uint32_t i = 0; i < n; i++)
		if (vals[i] != orig[i])
			return mk_expr(ctx, vals, n);
	return t;
}

static mt_term bool_term(int v)
{
	return mt_sym(v ? MT_S_TRUE : MT_S_FALSE);
}

static int bool_value(struct mt_eval_ctx *ctx, mt_term t, int *v)
{
	t = deref(ctx, t);
	if (t == mt_sym(MT_S_TRUE) || t == mt_sym(MT_S_FALSE)) {
		*v = t == mt_sym(MT_S_TRUE);
		return 1;
	}
	return 0;
}

/* The value of grounded operation op on evaluated arguments v[1..n-1] of
 * (t, off): a number, True / False, an Error, or the expression itself
 * when the arguments are of the wrong kind. MT_NONE if memory runs out. */
static mt_term strict_value(struct mt_eval_ctx *ctx, mt_term t, uint32_t off, uint32_t op,
			    const mt_term *v, uint32_t n)
{
	mt_term res;
	int x, y;
	if (op <= MT_S_GE && mt_tag(v[1]) == MT_INT && mt_tag(v[2]) == MT_INT) {
		/* inline integers: 29 bits, so + - * < > <= >= cannot overflow
		 * int64 (division and remainder take the general path) */
		int64_t p = mt_small_int_value(v[1]), q = mt_small_int_value(v[2]), r;
		switch (op) {
		case MT_S_PLUS:
			r = p + q;
			break;
		case MT_S_MINUS:
			r = p - q;
			break;
		case MT_S_TIMES:
			r = p * q;
			break;
		case MT_S_LT:
			return bool_term(p < q);
		case MT_S_GT:
			return bool_term(p > q);
		case MT_S_LE:
			return bool_term(p <= q);
		case MT_S_GE:
			return bool_term(p >= q);
		default:
			goto general;
		}
		return mt_small_int_fits(r) ? mt_small_int(r) : mt_int(ctx->store, r, 1);
	}
general:
	switch (op) {
	case MT_S_PLUS:
	case MT_S_MINUS:
	case MT_S_TIMES:
	case MT_S_DIV:
	case MT_S_MOD:
		x = (int)mt_arith(ctx->store, op, deref(ctx, v[1]), deref(ctx, v[2]), &res);
		if (x == MT_ARITH_OK)
			return res;
		if (x == MT_ARITH_OOM)
			return MT_NONE;
		if (x == MT_ARITH_NOT_NUMBERS)
			break;
		res = reduced(ctx, t, off, v, n);
		return res == MT_NONE
			   ? MT_NONE
			   : mk_error_term(ctx, res,
					   x == MT_ARITH_DIV_ZERO ? ctx->s_div0 : ctx->s_overflow);
	case MT_S_LT:
	case MT_S_GT:
	case MT_S_LE:
	case MT_S_GE:
		x = mt_compare(ctx->store, op, deref(ctx, v[1]), deref(ctx, v[2]));
		if (x >= 0)
			return bool_term(x);
		break;
	case MT_S_EQEQ:
		return bool_term(mt_term_eq(&ctx->b, v[1], v[2]));
	case MT_S_AND:
	case MT_S_OR:
		if (bool_value(ctx, v[1], &x) && bool_value(ctx, v[2], &y))
			return bool_term(op == MT_S_AND ? x && y : x || y);
		break;
	case MT_S_NOT:
		if (bool_value(ctx, v[1], &x))
			return bool_term(!x);
		break;
	}
	/* arguments of the wrong kind: the expression stays unreduced */
	return reduced(ctx, t, off, v, n);
}

static void apply_strict(struct mt_eval_it *it, struct frame *f)
{
	ret_value(it, strict_value(it->ctx, f->a, f->off, f->b, f->vals, f->n), f->next);
}

/* A grounded operation whose arguments are values already, such as
 * (- $n 1) or (< $n 2), is computed on the spot without a frame: returns
 * 1 and its value in *v (MT_NONE if memory ran out), 2 if (e, off) is a
 * grounded operation whose arguments need evaluating, 0 otherwise. */
static int strict_inline(struct mt_eval_ctx *ctx, mt_term e, uint32_t off, mt_term *v)
{
	if (!mt_is_expr(e))
		return 0;
	const mt_term *a = args(ctx, e);
	uint32_t n = arity(ctx, e);
	if (n < 2 || n > 3)
		return 0;
	uint32_t ho = off;
	mt_term h = deref_off(ctx, a[0], &ho);
	if (mt_tag(h) != MT_SYM || mt_payload(h) < MT_S_PLUS || mt_payload(h) > MT_S_NOT ||
	    (n == 2) != (mt_payload(h) == MT_S_NOT))
		return 0;
	mt_term vals[3] = {h, 0, 0};
	for (uint32_t i = 1; i < n; i++) {
		uint32_t eo = off;
		mt_term x = deref_off(ctx, a[i], &eo);
		if (eo || !trivial(ctx, x))
			return 2;
		vals[i] = x;
	}
	*v = strict_value(ctx, e, off, mt_payload(h), vals, n);
	return 1;
}

static int is_builtin_head(uint32_t id);

static void tuple_reduce(struct mt_eval_it *it, struct frame *f)
{
	struct mt_eval_ctx *ctx = it->ctx;
	if (f->kind == K_STRICT) {
		apply_strict(it, f);
		return;
	}
	uint32_t hoff = f->off;
	mt_term orig_head = deref_off(ctx, args(ctx, f->a)[0], &hoff);
	mt_term r = reduced(ctx, f->a, f->off, f->vals, f->n);
	if (r == MT_NONE) {
		oom(it);
		return;
	}
	mt_term h = deref(ctx, f->vals[0]);
	if (mt_tag(h) == MT_SYM && h != orig_head && is_builtin_head(mt_payload(h))) {
		/* the head evaluated to a built-in: dispatch on it */
		go_eval(it, r, 0, f->next);
		return;
	}
	if (var_headed(ctx, h)) {
		go_ret(it, r, f->next);
		return;
	}
	call_rules(it, r, f->next);
}

/* Bytes the running query holds: scratch terms built since it started,
 * frames, bindings and collected results. */
static uint64_t mem_used(struct mt_eval_it *it)
{
	struct mt_eval_ctx *ctx = it->ctx;
	struct mt_scratch_mark m = mt_scratch_mark(ctx->store);
	uint64_t n = (uint64_t)(m.words - it->start.words) * sizeof(uint32_t) +
		     (uint64_t)(m.bytes - it->start.bytes) +
		     (uint64_t)(m.boxes - it->start.boxes) * sizeof(struct mt_box);
	size_t bind = (size_t)ctx->b.cap * sizeof(mt_term) + ctx->b.trail_cap * sizeof(uint32_t);
	/* memory the context kept from earlier queries is reused, not taken */
	n += ctx->reg.bytes > it->reg_base ? ctx->reg.bytes - it->reg_base : 0;
	n += bind > it->bind_base ? bind - it->bind_base : 0;
	return n + ctx->col_bytes;
}

/* ---- collapse ---- */

static void collapse_begin(struct mt_eval_it *it, mt_term arg, mt_term expr, uint32_t off,
			   struct frame *k)
{
	struct mt_eval_ctx *ctx = it->ctx;
	struct frame *f = new_frame(it, K_COLLAPSE_ITEM, k, 0, expr, off);
	if (!f)
		return;
	mt_term gexpr = globalize(ctx, expr, off);
	if (gexpr == MT_NONE) {
		oom(it);
		return;
	}
	struct choice *cp = push_cp(it, CP_COLLAPSE, k);
	if (!cp)
		return;
	memset(&cp->u.col, 0, sizeof cp->u.col);
	cp->u.col.expr = gexpr;
	f->i = (uint32_t)(ctx->ncp - 1);
	go_eval(it, arg, off, f);
}

/* Pops every choice point above index `idx` and returns to its state. */
static void cut_to(struct mt_eval_ctx *ctx, size_t idx)
{
	while (ctx->ncp > idx + 1)
		pop_cp(ctx);
	restore_cp(ctx, &ctx->cp[idx]);
}

static void collapse_item(struct mt_eval_it *it, struct frame *f, mt_term v)
{
	struct mt_eval_ctx *ctx = it->ctx;
	struct choice *cp = &ctx->cp[f->i];
	mt_term r = mt_subst(&ctx->b, v, 0, MT_SUBST_FULL);
	size_t cap0 = cp->u.col.buf.cap;
	if (r == MT_NONE || mt_code_put(ctx->store, &cp->u.col.buf, r, &ctx->tmp)) {
		oom(it);
		return;
	}
	ctx->col_bytes += (cp->u.col.buf.cap - cap0) * sizeof *cp->u.col.buf.w;
	if (mem_used(it) > ctx->opts.max_memory) {
		it->over_memory = 1;
		go_fail(it);
		return;
	}
	if (++cp->u.col.count > ctx->opts.max_results) {
		/* stop collecting: the collapse's value is an error */
		cut_to(ctx, f->i);
		cp = &ctx->cp[f->i];
		struct frame *k = cp->k;
		mt_term expr = cp->u.col.expr;
		pop_cp(ctx);
		ret_value(it,
			  mk_error(ctx, expr, 0, "result limit %llu reached",
				   (unsigned long long)ctx->opts.max_results),
			  k);
		return;
	}
	go_fail(it);
}

/* All alternatives were collected: the value is the list of them. */
static void collapse_done(struct mt_eval_it *it, struct choice *cp)
{
	struct mt_eval_ctx *ctx = it->ctx;
	struct frame *k = cp->k;
	struct mt_codebuf buf = cp->u.col.buf;
	uint32_t fresh_from = cp->bs.next_var;
	cp->u.col.buf.w = NULL; /* we own it now */
	cp->u.col.buf.cap = 0;
	ctx->col_bytes -= buf.cap * sizeof *buf.w;
	pop_cp(ctx);
	size_t pos = 0, base = ctx->tmp.len;
	mt_term list = MT_NONE;
	int ok = 1;
	while (pos < buf.len && ok) {
		mt_term t = mt_code_get(ctx->store, &ctx->b, &buf, &pos, fresh_from, &ctx->tmp2,
					&ctx->tmp3);
		ok = t != MT_NONE && !mt_termvec_push(&ctx->tmp, t);
	}
	if (ok)
		list = mk_expr(ctx, ctx->tmp.v + base, (uint32_t)(ctx->tmp.len - base));
	ctx->tmp.len = base;
	free(buf.w);
	ret_value(it, list, k);
}

/* ---- case ---- */

/* The first case whose pattern unifies with value v gives the result. */
static void case_select(struct mt_eval_it *it, mt_term v, mt_term cases, mt_term expr, uint32_t off,
			struct frame *k)
{
	struct mt_eval_ctx *ctx = it->ctx;
	uint32_t n = arity(ctx, cases);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t coff = off;
		mt_term c = deref_off(ctx, args(ctx, cases)[i], &coff);
		if (!mt_is_expr(c) || arity(ctx, c) != 2) {
			ret_value(it,
				  mk_error(ctx, expr, off,
					   "case expects a list of (<pattern> <result>) pairs"),
				  k);
			return;
		}
		mt_term pat = args(ctx, c)[0], tmpl = args(ctx, c)[1];
		int rc = try_unify(it, pat, coff, v, 0);
		if (rc < 0)
			return;
		if (rc) {
			go_eval(it, tmpl, coff, k);
			return;
		}
	}
	go_fail(it);
}

/* ---- match ---- */

static mt_term conj_pattern(struct mt_eval_ctx *ctx, struct frame *f, uint32_t j)
{
	return f->c ? args(ctx, f->a)[j + 1] : f->a;
}

/* Every atom of the space unifying with pattern (p, off), at the top level
 * only; success returns to k. A pattern (= L R) is looked up in the rule
 * index by L. */
static void match_goal(struct mt_eval_it *it, mt_term p, uint32_t off, struct frame *k)
{
	struct mt_eval_ctx *ctx = it->ctx;
	struct cand c;
	p = deref_off(ctx, p, &off);
	if (is_rule(ctx, p)) {
		uint32_t loff = off;
		cand_init(ctx, &c, p, off, deref_off(ctx, args(ctx, p)[1], &loff), 1);
	} else {
		cand_init(ctx, &c, p, off, p, 0);
	}
	cand_drive(it, &c, 0, CP_MATCH, k);
}

/* ---- assertions ---- */

#define MSG_MAX 65536u

static void print_list(struct mt_eval_ctx *ctx, const struct mt_varnames *names, const mt_term *v,
		       uint32_t n, const unsigned char *pick, int want, const char *sep)
{
	int first = 1;
	for (uint32_t i = 0; i < n; i++) {
		if (pick && pick[i] != want)
			continue;
		if (!first)
			kb_buf_puts(&ctx->msg, sep);
		first = 0;
		if (ctx->msg.len > MSG_MAX) {
			/* errors nest their messages: keep each one bounded */
			kb_buf_puts(&ctx->msg, "...");
			return;
		}
		mt_print_capped(ctx->store, v[i], names, &ctx->msg, MSG_MAX / 8, &ctx->tmp2);
	}
}

/* Compares the results (global lists, as multisets) and returns () or an
 * Error about expr (global). */
static mt_term assert_compare(struct mt_eval_it *it, mt_term expr, mt_term actual, mt_term expected,
			      int alpha)
{
	struct mt_eval_ctx *ctx = it->ctx;
	actual = deref(ctx, actual);
	expected = deref(ctx, expected);
	uint32_t na = arity(ctx, actual), ne = arity(ctx, expected);
	/* copy the items: printing and matching must not see moved heaps */
	size_t base = ctx->tmp.len;
	for (uint32_t i = 0; i < na; i++)
		if (mt_termvec_push(&ctx->tmp, args(ctx, actual)[i]))
			return MT_NONE;
	for (uint32_t i = 0; i < ne; i++)
		if (mt_termvec_push(&ctx->tmp, args(ctx, expected)[i]))
			return MT_NONE;
	unsigned char *used = calloc((size_t)na + ne + 1, 1);
	if (!used) {
		ctx->tmp.len = base;
		return MT_NONE;
	}
	mt_term *a = ctx->tmp.v + base, *e = a + na;
	unsigned char *ua = used, *ue = used + na;
	int missing = 0, extra = 0;
	for (uint32_t i = 0; i < na; i++)
		for (uint32_t j = 0; j < ne; j++)
			if (!ue[j] && (alpha ? mt_alpha_eq(&ctx->b, a[i], e[j])
					     : mt_term_eq(&ctx->b, a[i], e[j]))) {
				ue[j] = ua[i] = 1;
				break;
			}
	for (uint32_t i = 0; i < na; i++)
		extra |= !ua[i];
	for (uint32_t j = 0; j < ne; j++)
		missing |= !ue[j];
	mt_term res = ctx->unit;
	if (missing || extra) {
		struct kb_buf *m = &ctx->msg;
		kb_buf_reset(m);
		kb_buf_puts(m, "\nExpected: [");
		print_list(ctx, it->names, e, ne, NULL, 0, ", ");
		kb_buf_puts(m, "]\nGot: [");
		print_list(ctx, it->names, a, na, NULL, 0, ", ");
		kb_buf_puts(m, "]");
		if (missing) {
			kb_buf_puts(m, "\nMissed results: ");
			print_list(ctx, it->names, e, ne, ue, 0, ", ");
		}
		if (extra) {
			kb_buf_puts(m, "\nExcessive results: ");
			print_list(ctx, it->names, a, na, ua, 0, ", ");
		}
		res = MT_NONE;
		if (!m->oom) {
			mt_term s = mt_string(ctx->store, m->data ? m->data : "", m->len, 1);
			if (s != MT_NONE)
				res = mk_error_term(ctx, expr, s);
		}
	}
	free(used);
	ctx->tmp.len = base;
	return res;
}

static void assert_step(struct mt_eval_it *it, struct frame *f, mt_term v)
{
	struct mt_eval_ctx *ctx = it->ctx;
	if (is_error(ctx, v)) {
		/* a limit error instead of a list: pass it on */
		go_ret(it, v, f->next);
		return;
	}
	uint32_t id = mt_payload(deref(ctx, args(ctx, f->a)[0]));
	if (f->i == 0 && id != MT_S_ASSERT_EQUAL_TO_RESULT) {
		struct frame *g = new_frame(it, K_ASSERT, f->next, 0, f->a, f->off);
		if (!g)
			return;
		g->a = f->a;
		g->b = v;
		g->i = 1;
		collapse_begin(it, args(ctx, f->a)[2], f->a, f->off, g);
		return;
	}
	mt_term expr = globalize(ctx, f->a, f->off);
	mt_term actual = f->i == 0 ? v : f->b, expected = v;
	if (f->i == 0) {
		/* the second argument is the literal list of expected results */
		uint32_t eo = f->off;
		expected = deref_off(ctx, args(ctx, f->a)[2], &eo);
		if (!mt_is_expr(expected)) {
			ret_value(
			    it,
			    mk_error(ctx, expr, 0, "assertEqualToResult expects a list of results"),
			    f->next);
			return;
		}
		expected = mt_subst(&ctx->b, expected, eo, MT_SUBST_FULL);
	}
	if (expr == MT_NONE || expected == MT_NONE) {
		oom(it);
		return;
	}
	ret_value(it, assert_compare(it, expr, actual, expected, id == MT_S_ASSERT_ALPHA_EQUAL),
		  f->next);
}

/* ---- space changes ---- */

static void space_change(struct mt_eval_it *it, mt_term expr, uint32_t off, mt_term spc,
			 mt_term atom, int add, struct frame *k)
{
	struct mt_eval_ctx *ctx = it->ctx;
	uint32_t so = off;
	if (deref_off(ctx, spc, &so) != mt_sym(MT_S_SELF)) {
		ret_value(it,
			  mk_error(ctx, expr, off, "%s: the only space is &self",
				   add ? "add-atom" : "remove-atom"),
			  k);
		return;
	}
	mt_term a = mt_subst(&ctx->b, atom, off, MT_SUBST_FULL);
	if (a != MT_NONE)
		a = mt_canon_vars(ctx->store, a, &ctx->tmp, &ctx->tmp2, &ctx->tmp3);
	if (a == MT_NONE) {
		oom(it);
		return;
	}
	if (add) {
		struct kb_error err;
		a = mt_term_persist(ctx->store, a);
		if (a == MT_NONE) {
			oom(it);
			return;
		}
		if (mt_space_add(ctx->space, a, NULL, &err) < 0) {
			go_fatal(it, "add-atom: %s", err.msg);
			return;
		}
	} else {
		/* an atom the store never held cannot be in the space */
		a = mt_term_find(ctx->store, a);
		if (a == MT_NONE || !mt_space_remove(ctx->space, a)) {
			go_ret(it, ctx->unit, k);
			return;
		}
	}
	ctx->gen++;
	nf_forget_all(ctx);
	ctx->seen_entries = mt_space_entries(ctx->space);
	ctx->seen_size = mt_space_size(ctx->space);
	go_ret(it, ctx->unit, k);
}

/* ---- built-ins ---- */

static int is_builtin_head(uint32_t id)
{
	return id == MT_S_ERROR || (id >= MT_S_IF && id <= MT_S_NOT);
}

static void letstar_step(struct mt_eval_it *it, mt_term t, uint32_t off, uint32_t i,
			 struct frame *k)
{
	struct mt_eval_ctx *ctx = it->ctx;
	uint32_t po = off;
	mt_term pairs = deref_off(ctx, args(ctx, t)[1], &po);
	if (mt_is_expr(pairs) && i == arity(ctx, pairs)) {
		go_eval(it, args(ctx, t)[2], off, k);
		return;
	}
	uint32_t qo = po;
	mt_term pair = mt_is_expr(pairs) ? deref_off(ctx, args(ctx, pairs)[i], &qo) : MT_NONE;
	if (pair == MT_NONE || !mt_is_expr(pair) || arity(ctx, pair) != 2) {
		ret_value(
		    it,
		    mk_error(ctx, t, off,
			     "List of (<pattern> <atom>) pairs is expected as a second argument"),
		    k);
		return;
	}
	struct frame *f = new_frame(it, K_LETSTAR, k, 0, t, off);
	if (!f)
		return;
	f->a = t;
	f->i = i;
	go_eval(it, args(ctx, pair)[1], qo, f);
}

/* A non-empty expression (dereferenced), or MT_NONE. */
static mt_term nonempty_expr(struct mt_eval_ctx *ctx, mt_term t, uint32_t *off)
{
	t = deref_off(ctx, t, off);
	return mt_is_expr(t) && arity(ctx, t) > 0 ? t : MT_NONE;
}

/* An expression of `prefix` followed by the elements of e from `from` on,
 * every piece made global. */
static mt_term rebuild(struct mt_eval_ctx *ctx, const mt_term *prefix, uint32_t np, uint32_t poff,
		       mt_term e, uint32_t eoff, uint32_t from)
{
	struct mt_termvec *v = &ctx->tmp4;
	v->len = 0;
	for (uint32_t i = 0; i < np; i++) {
		mt_term x = globalize(ctx, prefix[i], poff);
		if (x == MT_NONE || mt_termvec_push(v, x))
			return MT_NONE;
	}
	uint32_t n = arity(ctx, e);
	for (uint32_t i = from; i < n; i++) {
		mt_term x = globalize(ctx, args(ctx, e)[i], eoff);
		if (x == MT_NONE || mt_termvec_push(v, x))
			return MT_NONE;
	}
	return mk_expr(ctx, v->v, (uint32_t)v->len);
}

/* Handles (t, off) = (head ...) when head is a built-in with the right
 * arity; returns 0 to evaluate t as an ordinary expression. */
static int builtin(struct mt_eval_it *it, mt_term t, uint32_t off, uint32_t id, uint32_t n,
		   struct frame *k)
{
	struct mt_eval_ctx *ctx = it->ctx;
	struct frame *f;
	int cb;
	mt_term a[5];
	const mt_term *ta = args(ctx, t);
	for (uint32_t i = 0; i < 5; i++)
		a[i] = i < n ? ta[i] : MT_NONE;
	switch (id) {
	case MT_S_ERROR:
		ret_value(it, globalize(ctx, t, off), k);
		return 1;
	case MT_S_QUOTE:
		if (n != 2)
			return 0;
		ret_value(it, globalize(ctx, t, off), k);
		return 1;
	case MT_S_IF:
		if (n != 4)
			return 0;
		{
			mt_term c;
			uint32_t co = off;
			mt_term ce = deref_off(ctx, a[1], &co);
			if (bool_value(ctx, ce, &cb) || (strict_inline(ctx, ce, co, &c) == 1 &&
							 c != MT_NONE && bool_value(ctx, c, &cb))) {
				/* a condition that is (or computes at once to) a boolean */
				go_eval(it, cb ? a[2] : a[3], off, k);
				return 1;
			}
		}
		if ((f = new_frame(it, K_IF, k, 0, t, off))) {
			f->a = a[2];
			f->b = a[3];
			go_eval(it, a[1], off, f);
		}
		return 1;
	case MT_S_LET:
		if (n != 4)
			return 0;
		if ((f = new_frame(it, K_LET, k, 0, t, off))) {
			f->a = a[1];
			f->b = a[3];
			go_eval(it, a[2], off, f);
		}
		return 1;
	case MT_S_LETSTAR:
		if (n != 3)
			return 0;
		letstar_step(it, t, off, 0, k);
		return 1;
	case MT_S_CASE: {
		if (n != 3)
			return 0;
		uint32_t co = off;
		mt_term cases = deref_off(ctx, a[2], &co);
		if (!mt_is_expr(cases)) {
			ret_value(it, mk_error(ctx, t, off, "case expects a list of cases"), k);
			return 1;
		}
		if (!(f = new_frame(it, K_CASE, k, 0, t, co)))
			return 1;
		struct choice *cp = push_cp(it, CP_CASE, k);
		if (!cp)
			return 1;
		cp->u.cas.cases = cases;
		cp->u.cas.expr = t;
		cp->u.cas.off = co;
		cp->u.cas.produced = 0;
		f->a = cases;
		f->b = t;
		f->i = (uint32_t)(ctx->ncp - 1);
		go_eval(it, a[1], off, f);
		return 1;
	}
	case MT_S_SUPERPOSE: {
		if (n != 2)
			return 0;
		uint32_t lo = off;
		mt_term list = deref_off(ctx, a[1], &lo);
		if (!mt_is_expr(list)) {
			ret_value(it,
				  mk_error(ctx, t, off,
					   "superpose expects single expression as an argument"),
				  k);
			return 1;
		}
		uint32_t m = arity(ctx, list);
		if (m == 0) {
			go_fail(it);
			return 1;
		}
		mt_term first = args(ctx, list)[0];
		if (m > 1) {
			struct choice *cp = push_cp(it, CP_SUPERPOSE, k);
			if (!cp)
				return 1;
			cp->u.sup.list = list;
			cp->u.sup.off = lo;
			cp->u.sup.idx = 1;
		}
		go_eval(it, first, lo, k);
		return 1;
	}
	case MT_S_COLLAPSE:
		if (n != 2)
			return 0;
		collapse_begin(it, a[1], t, off, k);
		return 1;
	case MT_S_UNIFY: {
		if (n != 5)
			return 0;
		int rc = try_unify(it, a[1], off, a[2], off);
		if (rc >= 0)
			go_eval(it, rc ? a[3] : a[4], off, k);
		return 1;
	}
	case MT_S_CONS_ATOM: {
		if (n != 3)
			return 0;
		uint32_t to = off;
		mt_term tail = deref_off(ctx, a[2], &to);
		if (!mt_is_expr(tail)) {
			ret_value(
			    it,
			    mk_error(ctx, t, off, "cons-atom expects an expression as its tail"),
			    k);
			return 1;
		}
		ret_value(it, rebuild(ctx, &a[1], 1, off, tail, to, 0), k);
		return 1;
	}
	case MT_S_DECONS_ATOM: {
		if (n != 2)
			return 0;
		uint32_t eo = off;
		mt_term e = nonempty_expr(ctx, a[1], &eo);
		if (e == MT_NONE) {
			ret_value(
			    it, mk_error(ctx, t, off, "decons-atom expects a non-empty expression"),
			    k);
			return 1;
		}
		mt_term pair[2] = {globalize(ctx, args(ctx, e)[0], eo), MT_NONE};
		pair[1] = pair[0] == MT_NONE ? MT_NONE : rebuild(ctx, NULL, 0, 0, e, eo, 1);
		ret_value(it, pair[1] == MT_NONE ? MT_NONE : mk_expr(ctx, pair, 2), k);
		return 1;
	}
	case MT_S_CAR_ATOM:
	case MT_S_CDR_ATOM: {
		if (n != 2)
			return 0;
		uint32_t eo = off;
		mt_term e = nonempty_expr(ctx, a[1], &eo);
		if (e == MT_NONE) {
			ret_value(it,
				  mk_error(ctx, t, off,
					   "%s expects a non-empty expression as an argument",
					   id == MT_S_CAR_ATOM ? "car-atom" : "cdr-atom"),
				  k);
			return 1;
		}
		/* Hyperon evaluates what car-atom and cdr-atom return */
		if (id == MT_S_CAR_ATOM) {
			go_eval(it, args(ctx, e)[0], eo, k);
		} else {
			mt_term r = rebuild(ctx, NULL, 0, 0, e, eo, 1);
			if (r == MT_NONE)
				oom(it);
			else
				go_eval(it, r, 0, k);
		}
		return 1;
	}
	case MT_S_EMPTY_OP:
		if (n != 1)
			return 0;
		go_fail(it);
		return 1;
	case MT_S_ADD_ATOM:
	case MT_S_REMOVE_ATOM:
		if (n != 3)
			return 0;
		space_change(it, t, off, a[1], a[2], id == MT_S_ADD_ATOM, k);
		return 1;
	case MT_S_MATCH: {
		if (n != 4)
			return 0;
		uint32_t so = off, po = off;
		if (deref_off(ctx, a[1], &so) != mt_sym(MT_S_SELF)) {
			ret_value(it, mk_error(ctx, t, off, "match: the only space is &self"), k);
			return 1;
		}
		mt_term p = deref_off(ctx, a[2], &po);
		int conj =
		    mt_is_expr(p) && arity(ctx, p) > 0 && args(ctx, p)[0] == mt_sym(MT_S_COMMA);
		uint32_t count = conj ? arity(ctx, p) - 1 : 1;
		if (count == 0) {
			go_eval(it, a[3], off, k);
			return 1;
		}
		if (po != off && !is_ground(ctx, p)) {
			/* the pattern came through a binding: a global term, and
			 * the template keeps the expression's offset */
			mt_term g = globalize(ctx, a[3], off);
			if (g == MT_NONE) {
				oom(it);
				return 1;
			}
			a[3] = g;
			off = 0;
		}
		if (!(f = new_frame(it, K_CONJ, k, 0, t, po)))
			return 1;
		f->a = p;
		f->b = a[3];
		f->c = (mt_term)conj;
		f->i = 1;
		f->n = count;
		match_goal(it, conj_pattern(ctx, f, 0), po, f);
		return 1;
	}
	case MT_S_ASSERT_EQUAL:
	case MT_S_ASSERT_EQUAL_TO_RESULT:
	case MT_S_ASSERT_ALPHA_EQUAL:
		if (n != 3)
			return 0;
		if ((f = new_frame(it, K_ASSERT, k, 0, t, off))) {
			f->a = t;
			f->b = MT_NONE;
			f->i = 0;
			collapse_begin(it, a[1], t, off, f);
		}
		return 1;
	case MT_S_PLUS:
	case MT_S_MINUS:
	case MT_S_TIMES:
	case MT_S_DIV:
	case MT_S_MOD:
	case MT_S_LT:
	case MT_S_GT:
	case MT_S_LE:
	case MT_S_GE:
	case MT_S_EQEQ:
	case MT_S_AND:
	case MT_S_OR:
		if (n != 3)
			return 0;
		tuple_begin(it, t, off, K_STRICT, id, k, 1);
		return 1;
	case MT_S_NOT:
		if (n != 2)
			return 0;
		tuple_begin(it, t, off, K_STRICT, id, k, 1);
		return 1;
	default:
		return 0;
	}
}

/* ---- the machine's three steps ---- */

static void step_eval(struct mt_eval_it *it)
{
	struct mt_eval_ctx *ctx = it->ctx;
	uint32_t off = it->Toff;
	mt_term t = deref_off(ctx, it->T, &off);
	struct frame *k = it->K;
	switch (mt_tag(t)) {
	case MT_SYM:
		if (t == mt_sym(MT_S_EMPTY)) {
			go_fail(it);
			return;
		}
		if (ctx->opts.symbol_rules && sym_may_reduce(ctx, t))
			call_rules(it, t, k);
		else
			go_ret(it, t, k);
		return;
	case MT_EXPR:
	case MT_TEXPR:
		break;
	default:
		go_ret(it, t, k);
		return;
	}
	uint32_t n = arity(ctx, t);
	if (n == 0 || (!off && is_ground(ctx, t) && nf_test(ctx, t))) {
		go_ret(it, t, k);
		return;
	}
	uint32_t ho = off;
	mt_term h = deref_off(ctx, args(ctx, t)[0], &ho);
	if (mt_tag(h) == MT_SYM && is_builtin_head(mt_payload(h)) &&
	    builtin(it, t, off, mt_payload(h), n, k))
		return;
	tuple_begin(it, t, off, K_TUPLE, 0, k, 0);
}

/* Delivers it->V to frame it->K (not K_TOP). */
static void step_ret(struct mt_eval_it *it)
{
	struct mt_eval_ctx *ctx = it->ctx;
	struct frame *f = it->K, *g;
	mt_term v = it->V;
	int b;
	/* what was allocated after f served evaluations that are over, unless
	 * a choice point still needs it */
	region_pop_above(&ctx->reg, f, frame_size(f),
			 ctx->ncp ? ctx->cp[ctx->ncp - 1].rm : it->rstart);
	switch (f->kind) {
	case K_TUPLE:
	case K_STRICT: {
		if (is_error(ctx, v)) {
			go_ret(it, v, f->next);
			return;
		}
		g = region_alloc(&ctx->reg, sizeof *f + (size_t)f->n * sizeof(mt_term));
		if (!g) {
			oom(it);
			return;
		}
		g->next = f->next;
		g->kind = f->kind;
		g->depth = f->depth;
		g->a = f->a;
		g->b = f->b;
		g->c = f->c;
		g->off = f->off;
		g->n = f->n;
		for (uint32_t j = 0; j < f->i; j++)
			g->vals[j] = f->vals[j];
		g->vals[f->i] = v;
		g->i = f->i + 1;
		tuple_advance(it, g);
		return;
	}
	case K_IF: {
		mt_term c = deref(ctx, v);
		if (is_error(ctx, c)) {
			go_ret(it, c, f->next);
		} else if (bool_value(ctx, c, &b)) {
			go_eval(it, b ? f->a : f->b, f->off, f->next);
		} else {
			mt_term kids[4] = {mt_sym(MT_S_IF), c, globalize(ctx, f->a, f->off),
					   MT_NONE};
			kids[3] = kids[2] == MT_NONE ? MT_NONE : globalize(ctx, f->b, f->off);
			ret_value(it, kids[3] == MT_NONE ? MT_NONE : mk_expr(ctx, kids, 4),
				  f->next);
		}
		return;
	}
	case K_LET:
		if (is_error(ctx, v)) {
			go_ret(it, v, f->next);
			return;
		}
		b = try_unify(it, f->a, f->off, v, 0);
		if (b > 0)
			go_eval(it, f->b, f->off, f->next);
		else if (b == 0)
			go_fail(it);
		return;
	case K_LETSTAR: {
		if (is_error(ctx, v)) {
			go_ret(it, v, f->next);
			return;
		}
		uint32_t po = f->off;
		mt_term pairs = deref_off(ctx, args(ctx, f->a)[1], &po);
		uint32_t qo = po;
		mt_term pair = deref_off(ctx, args(ctx, pairs)[f->i], &qo);
		b = try_unify(it, args(ctx, pair)[0], qo, v, 0);
		if (b > 0)
			letstar_step(it, f->a, f->off, f->i + 1, f->next);
		else if (b == 0)
			go_fail(it);
		return;
	}
	case K_CASE:
		ctx->cp[f->i].u.cas.produced = 1;
		case_select(it, v, f->a, f->b, f->off, f->next);
		return;
	case K_COLLAPSE_ITEM:
		collapse_item(it, f, v);
		return;
	case K_CONJ:
		if (f->i >= f->n) {
			go_eval(it, f->b, f->off, f->next);
			return;
		}
		g = new_frame(it, K_CONJ, f->next, 0, f->a, f->off);
		if (!g)
			return;
		*g = *f;
		g->i = f->i + 1;
		match_goal(it, conj_pattern(ctx, f, f->i), f->off, g);
		return;
	case K_ASSERT:
		assert_step(it, f, v);
		return;
	default:
		go_fatal(it, "evaluation: corrupt continuation");
		return;
	}
}

/* Resumes the newest choice point; returns 0 when there is none. */
static int step_fail(struct mt_eval_it *it)
{
	struct mt_eval_ctx *ctx = it->ctx;
	if (ctx->ncp == 0)
		return 0;
	struct choice *cp = &ctx->cp[ctx->ncp - 1];
	restore_cp(ctx, cp);
	switch (cp->kind) {
	case CP_RULES:
	case CP_MATCH:
		cand_drive(it, &cp->u.cand, 1, cp->kind, cp->k);
		break;
	case CP_SUPERPOSE: {
		mt_term list = cp->u.sup.list;
		uint32_t i = cp->u.sup.idx, off = cp->u.sup.off;
		struct frame *k = cp->k;
		if (i + 1 >= arity(ctx, list))
			pop_cp(ctx);
		else
			cp->u.sup.idx = i + 1;
		go_eval(it, args(ctx, list)[i], off, k);
		break;
	}
	case CP_COLLAPSE:
		collapse_done(it, cp);
		break;
	case CP_CASE: {
		int produced = cp->u.cas.produced;
		mt_term cases = cp->u.cas.cases, expr = cp->u.cas.expr;
		uint32_t off = cp->u.cas.off;
		struct frame *k = cp->k;
		pop_cp(ctx);
		if (produced)
			go_fail(it);
		else
			case_select(it, mt_sym(MT_S_EMPTY), cases, expr, off, k);
		break;
	}
	}
	return 1;
}

/* Runs until a result reaches the bottom frame (1), the alternatives run
 * out (0) or memory does (-1). */
static int run(struct mt_eval_it *it, mt_term *result)
{
	struct mt_eval_ctx *ctx = it->ctx;
	uint64_t max_steps = ctx->opts.max_steps;
	for (;;) {
		if ((ctx->stats.steps & 255) == 0 && mem_used(it) > ctx->opts.max_memory)
			it->over_memory = 1;
		if (__builtin_expect(
			((max_steps != 0 && ctx->stats.steps >= max_steps) || it->over_memory) &&
			    it->mode != M_FATAL,
			0)) {
			/* out of steps or memory: the last result says so */
			while (ctx->ncp)
				pop_cp(ctx);
			mt_term e =
			    it->over_memory
				? mk_error(ctx, it->query, 0, "memory limit %llu MiB reached",
					   (unsigned long long)(ctx->opts.max_memory >> 20))
				: mk_error(ctx, it->query, 0, "step limit %llu reached",
					   (unsigned long long)max_steps);
			it->done = 1;
			if (e == MT_NONE) {
				oom(it);
				continue;
			}
			*result = e;
			ctx->stats.results++;
			return 1;
		}
		ctx->stats.steps++;
		switch (it->mode) {
		case M_EVAL:
			step_eval(it);
			break;
		case M_RET:
			if (it->K->kind == K_TOP) {
				mt_term r = mt_subst(&ctx->b, it->V, 0, MT_SUBST_FULL);
				if (r == MT_NONE) {
					oom(it);
					break;
				}
				if (it->nresults >= ctx->opts.max_results) {
					r = mk_error(ctx, it->query, 0, "result limit %llu reached",
						     (unsigned long long)ctx->opts.max_results);
					it->done = 1;
					if (r == MT_NONE) {
						oom(it);
						break;
					}
				}
				it->nresults++;
				ctx->stats.results++;
				*result = r;
				return 1;
			}
			step_ret(it);
			break;
		case M_FAIL:
			if (!step_fail(it)) {
				it->done = 1;
				return 0;
			}
			break;
		case M_FATAL:
			it->done = 1;
			return -1;
		}
	}
}

/* ---- API ---- */

struct mt_eval_opts mt_eval_default_opts(void)
{
	struct mt_eval_opts o = {MT_EVAL_DEFAULT_MAX_DEPTH, MT_EVAL_DEFAULT_MAX_RESULTS, 0, 0,
				 MT_EVAL_DEFAULT_MAX_MEMORY};
	return o;
}

struct mt_eval_ctx *mt_eval_ctx_new(struct mt_space *space, const struct mt_eval_opts *opts)
{
	struct mt_eval_ctx *ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		return NULL;
	ctx->space = space;
	ctx->store = mt_space_store(space);
	ctx->opts = opts ? *opts : mt_eval_default_opts();
	if (!ctx->opts.max_depth)
		ctx->opts.max_depth = MT_EVAL_DEFAULT_MAX_DEPTH;
	if (!ctx->opts.max_results)
		ctx->opts.max_results = MT_EVAL_DEFAULT_MAX_RESULTS;
	if (!ctx->opts.max_memory)
		ctx->opts.max_memory = MT_EVAL_DEFAULT_MAX_MEMORY;
	ctx->opts.symbol_rules = ctx->opts.symbol_rules != 0;
	for (uint32_t i = 0; i < SYMC_SIZE; i++)
		ctx->symc[i].sym = UINT32_MAX;
	mt_bind_init(&ctx->b, ctx->store);
	mt_term none[1] = {0};
	ctx->unit = mt_expr(ctx->store, none, 0);
	uint32_t d = mt_sym_intern(ctx->store, "DivisionByZero", 14);
	uint32_t o = mt_sym_intern(ctx->store, "IntegerOverflow", 15);
	if (ctx->unit == MT_NONE || d == UINT32_MAX || o == UINT32_MAX) {
		mt_eval_ctx_free(ctx);
		return NULL;
	}
	ctx->s_div0 = mt_sym(d);
	ctx->s_overflow = mt_sym(o);
	return ctx;
}

void mt_eval_ctx_free(struct mt_eval_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->busy)
		mt_eval_teardown(&ctx->it);
	mt_bind_free(&ctx->b);
	region_free(&ctx->reg);
	free(ctx->cp);
	mt_termvec_free(&ctx->tmp);
	mt_termvec_free(&ctx->tmp2);
	mt_termvec_free(&ctx->tmp3);
	mt_termvec_free(&ctx->tmp4);
	kb_buf_free(&ctx->msg);
	free(ctx->nf_bits);
	free(ctx->nf_keys);
	free(ctx->nf_epochs);
	free(ctx);
}

struct mt_eval_it *mt_eval_start(struct mt_eval_ctx *ctx, mt_term query,
				 const struct mt_varnames *names, struct kb_error *err)
{
	if (ctx->busy) {
		kb_error_set(err, "evaluation: another query is still active on this context");
		return NULL;
	}
	struct mt_eval_it *it = &ctx->it;
	memset(it, 0, sizeof *it);
	it->ctx = ctx;
	it->query = query;
	it->names = names;
	it->start = mt_scratch_mark(ctx->store);
	it->rstart = region_mark(&ctx->reg);
	it->reg_base = ctx->reg.bytes;
	it->bind_base = (size_t)ctx->b.cap * sizeof(mt_term) + ctx->b.trail_cap * sizeof(uint32_t);
	memset(&ctx->stats, 0, sizeof ctx->stats);
	uint32_t end = mt_term_var_end(ctx->store, query, &ctx->tmp);
	if (end >= MT_VAR_MAX) {
		kb_error_set(err, "evaluation: out of memory");
		return NULL;
	}
	mt_bind_reset(&ctx->b, end);
	/* marks describe the space they were made with, and scratch memory
	 * the caller may have reused since the last query */
	if (ctx->seen_entries != mt_space_entries(ctx->space) ||
	    ctx->seen_size != mt_space_size(ctx->space)) {
		nf_forget_all(ctx);
		ctx->seen_entries = mt_space_entries(ctx->space);
		ctx->seen_size = mt_space_size(ctx->space);
	} else if (ctx->nf_hw) {
		memset(ctx->nf_bits, 0, ((ctx->nf_hw + 63) >> 6) * 8);
		ctx->nf_hw = 0;
	}
	struct frame *top = region_alloc(&ctx->reg, sizeof *top);
	if (!top) {
		kb_error_set(err, "evaluation: out of memory");
		return NULL;
	}
	memset(top, 0, sizeof *top);
	top->kind = K_TOP;
	it->rstart = region_mark(&ctx->reg);
	go_eval(it, query, 0, top);
	ctx->busy = 1;
	return it;
}

int mt_eval_next(struct mt_eval_it *it, mt_term *result)
{
	if (it->done)
		return 0;
	if (it->started)
		go_fail(it);
	it->started = 1;
	return run(it, result);
}

const char *mt_eval_error(const struct mt_eval_it *it)
{
	return it->errmsg;
}

void mt_eval_teardown(struct mt_eval_it *it)
{
	struct mt_eval_ctx *ctx = it->ctx;
	if (!ctx || !ctx->busy)
		return;
	while (ctx->ncp)
		pop_cp(ctx);
	mt_bind_reset(&ctx->b, 0);
	scratch_release(ctx, it->start);
	region_release(&ctx->reg, (struct region_mark){0});
	ctx->busy = 0;
}

void mt_eval_get_stats(const struct mt_eval_ctx *ctx, struct mt_eval_stats *stats)
{
	*stats = ctx->stats;
}
