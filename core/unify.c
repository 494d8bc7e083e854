/* unify: the binding table with its trail, two-sided unification with
 * renaming apart by offsets, substitution, equality and alpha-equivalence.
 * See unify.h for the conventions. Owns nothing beyond the arrays inside
 * struct mt_bindings. Every walk over a term is iterative. */
#include "core/unify.h"
#include "core/store_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- small growable arrays ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

int mt_termvec_grow(struct mt_termvec *v)
{
	return grow((void **)&v->v, &v->cap, v->len + 1, sizeof *v->v);
}

void mt_termvec_free(struct mt_termvec *v)
{
	free(v->v);
	v->v = NULL;
	v->len = v->cap = 0;
}

/* ---- binding table ---- */

void mt_bind_init(struct mt_bindings *b, struct mt_store *store)
{
	memset(b, 0, sizeof *b);
	b->store = store;
	b->var_limit = MT_VAR_MAX;
}

void mt_bind_free(struct mt_bindings *b)
{
	free(b->val);
	free(b->trail);
	free(b->sframe);
	free(b->amap);
	free(b->up);
	mt_termvec_free(&b->sout);
	mt_termvec_free(&b->ostack);
	mt_termvec_free(&b->estack);
	memset(b, 0, sizeof *b);
}

static void clear_from(struct mt_bindings *b, uint32_t from)
{
	if (b->hw > from) {
		for (uint32_t g = from; g < b->hw; g++)
			b->val[g] = MT_NONE;
		b->hw = from;
	}
}

void mt_bind_reset(struct mt_bindings *b, uint32_t next_var)
{
	clear_from(b, 0);
	b->trail_len = 0;
	b->trail_from = 0;
	b->next_var = next_var;
	b->oom = 0;
}

void mt_bind_restore(struct mt_bindings *b, struct mt_bind_state s)
{
	while (b->trail_len > s.trail_len) {
		uint32_t g = b->trail[--b->trail_len];
		b->val[g] = MT_NONE;
	}
	clear_from(b, s.next_var);
	b->next_var = s.next_var;
}

void mt_bind_compact(struct mt_bindings *b, size_t from)
{
	size_t w = from;
	for (size_t r = from; r < b->trail_len; r++)
		if (b->trail[r] < b->trail_from)
			b->trail[w++] = b->trail[r];
	b->trail_len = w;
}

static int ensure_slot(struct mt_bindings *b, uint32_t g)
{
	if (g < b->cap)
		return 0;
	size_t cap = b->cap;
	if (grow((void **)&b->val, &cap, (size_t)g + 1, sizeof *b->val)) {
		b->oom = 1;
		return -1;
	}
	for (size_t i = b->cap; i < cap; i++)
		b->val[i] = MT_NONE;
	b->cap = (uint32_t)cap;
	return 0;
}

static inline int bind_fast(struct mt_bindings *b, uint32_t g, mt_term value)
{
	if (g >= b->cap || g < b->trail_from)
		return mt_bind_set(b, g, value);
	b->val[g] = value;
	if (g >= b->hw)
		b->hw = g + 1;
	return 0;
}

int mt_bind_set(struct mt_bindings *b, uint32_t g, mt_term value)
{
	if (ensure_slot(b, g))
		return -1;
	if (g < b->trail_from) {
		if (b->trail_len == b->trail_cap &&
		    grow((void **)&b->trail, &b->trail_cap, b->trail_len + 1, sizeof *b->trail)) {
			b->oom = 1;
			return -1;
		}
		b->trail[b->trail_len++] = g;
	}
	b->val[g] = value;
	if (g >= b->hw)
		b->hw = g + 1;
	return 0;
}

mt_term mt_bind_fresh(struct mt_bindings *b)
{
	if (b->next_var >= b->var_limit) {
		b->oom = 1;
		return MT_NONE;
	}
	return mt_var(b->next_var++);
}

/* Global number of variable v of a term with offset off; numbers handed
 * out this way advance next_var. Returns UINT32_MAX past the limit. */
static inline uint32_t gvar(struct mt_bindings *b, uint32_t v, uint32_t off)
{
	uint64_t g = (uint64_t)v + off;
	if (g >= b->var_limit) {
		b->oom = 1;
		return UINT32_MAX;
	}
	if (g >= b->next_var)
		b->next_var = (uint32_t)g + 1;
	return (uint32_t)g;
}

/* Resolves (t, off) to a global term that is not a bound variable.
 * Returns MT_NONE past the variable limit. */
static inline mt_term resolve(struct mt_bindings *b, mt_term t, uint32_t off)
{
	if (mt_tag(t) != MT_VAR)
		return t;
	/* offset 0 is a rule renamed at base 0 as well as a global term: the
	 * number is counted as handed out either way */
	uint32_t g = gvar(b, mt_payload(t), off);
	if (g == UINT32_MAX)
		return MT_NONE;
	mt_term v = mt_bind_value(b, g);
	if (v == MT_NONE)
		return off ? mt_var(g) : t;
	return mt_bind_deref(b, v);
}

/* A term needs its offset only while it may contain variables. */
static inline int is_ground(const struct mt_bindings *b, mt_term t)
{
	switch (mt_tag(t)) {
	case MT_VAR:
		return 0;
	case MT_EXPR:
	case MT_TEXPR:
		return (mt_store_hdr(b->store, t) & MT_HDR_GROUND) != 0;
	default:
		return 1;
	}
}

/* ---- numbers and atoms compared by value ---- */

int mt_num(const struct mt_store *store, mt_term t, int *is_float, int64_t *i, double *d)
{
	switch (mt_tag(t)) {
	case MT_INT:
		*is_float = 0;
		*i = mt_small_int_value(t);
		return 1;
	case MT_BOX:
	case MT_TBOX:
		switch (mt_box_kind(store, t)) {
		case MT_BOX_INT:
			*is_float = 0;
			return mt_int_value(store, t, i);
		case MT_BOX_FLOAT:
			*is_float = 1;
			return mt_float_value(store, t, d);
		default:
			return 0;
		}
	default:
		return 0;
	}
}

/* Equality of two non-variable, non-expression atoms (symbols, numbers,
 * strings). */
static int atom_eq(const struct mt_store *store, mt_term x, mt_term y)
{
	if (x == y)
		return 1;
	int fx, fy;
	int64_t ix = 0, iy = 0;
	double dx = 0, dy = 0;
	if (mt_num(store, x, &fx, &ix, &dx) && mt_num(store, y, &fy, &iy, &dy)) {
		if (!fx && !fy)
			return ix == iy;
		if (!fx)
			dx = (double)ix;
		if (!fy)
			dy = (double)iy;
		return dx == dy;
	}
	if (mt_is_box(x) && mt_is_box(y)) {
		size_t lx, ly;
		const char *sx = mt_str_value(store, x, &lx);
		const char *sy = mt_str_value(store, y, &ly);
		return sx && sy && lx == ly && memcmp(sx, sy, lx) == 0;
	}
	return 0;
}

/* ---- occurs check ---- */

int mt_occurs(struct mt_bindings *b, uint32_t g, mt_term t, uint32_t off)
{
	struct mt_termvec *st = &b->ostack;
	size_t base = st->len;
	if (mt_termvec_push(st, t) || mt_termvec_push(st, off)) {
		b->oom = 1;
		st->len = base;
		return 1;
	}
	int found = 0;
	while (st->len > base && !found) {
		uint32_t o = st->v[--st->len];
		mt_term orig = st->v[--st->len];
		mt_term x = resolve(b, orig, o);
		if (x == MT_NONE) {
			found = 1;
			break;
		}
		if (mt_tag(x) == MT_VAR) {
			found = mt_payload(x) == g;
			continue;
		}
		if (!mt_is_expr(x) || is_ground(b, x))
			continue;
		/* values reached through a binding are global (offset 0) */
		uint32_t co = mt_tag(orig) == MT_VAR ? 0 : o;
		uint32_t n = mt_expr_arity(b->store, x);
		const mt_term *a = mt_expr_args(b->store, x);
		for (uint32_t i = 0; i < n; i++)
			if (mt_termvec_push(st, a[i]) || mt_termvec_push(st, co)) {
				b->oom = 1;
				found = 1;
				break;
			}
	}
	st->len = base;
	return found;
}

/* ---- substitution ---- */

/* Frame of the substitution walk: an expression whose children are being
 * substituted. */
struct sframe {
	mt_term t;
	uint32_t off;
	uint32_t next;    /* next child to visit */
	uint32_t outbase; /* index in sout of its first substituted child */
};
#define SFRAME_WORDS 4

mt_term mt_subst(struct mt_bindings *b, mt_term t, uint32_t off, enum mt_subst_mode mode)
{
	struct mt_store *st = b->store;
	size_t fbase = b->sframe_len, obase = b->sout.len;
	mt_term result = MT_NONE;
	/* `cur` is the next term to visit (with `coff`), or MT_NONE when the
	 * top frame should be advanced. */
	mt_term cur = t;
	uint32_t coff = off;
	for (;;) {
		if (cur != MT_NONE) {
			mt_term out;
			mt_term x = cur;
			uint32_t xo = coff;
			if (mt_tag(x) == MT_VAR) {
				uint32_t g = gvar(b, mt_payload(x), xo);
				if (g == UINT32_MAX)
					goto fail;
				mt_term v = mt_bind_value(b, g);
				if (v == MT_NONE) {
					out = mt_var(g);
					goto emit;
				}
				v = mt_bind_deref(b, v);
				if (mode == MT_SUBST_SHALLOW || !mt_is_expr(v) || is_ground(b, v)) {
					out = v;
					goto emit;
				}
				x = v;
				xo = 0;
			} else if (!mt_is_expr(x) || is_ground(b, x)) {
				out = x;
				goto emit;
			}
			/* a non-ground expression: open a frame */
			if (b->sframe_len + SFRAME_WORDS > b->sframe_cap &&
			    grow((void **)&b->sframe, &b->sframe_cap, b->sframe_len + SFRAME_WORDS,
				 sizeof *b->sframe))
				goto fail;
			struct sframe *f = (struct sframe *)(b->sframe + b->sframe_len);
			f->t = x;
			f->off = xo;
			f->next = 0;
			f->outbase = (uint32_t)b->sout.len;
			b->sframe_len += SFRAME_WORDS;
			cur = MT_NONE;
			continue;
		emit:
			if (b->sframe_len == fbase) {
				result = out;
				break;
			}
			if (mt_termvec_push(&b->sout, out))
				goto fail;
			cur = MT_NONE;
			continue;
		}
		/* advance the top frame */
		struct sframe *f = (struct sframe *)(b->sframe + b->sframe_len - SFRAME_WORDS);
		uint32_t n = mt_expr_arity(st, f->t);
		if (f->next < n) {
			cur = mt_expr_args(st, f->t)[f->next++];
			coff = f->off;
			continue;
		}
		/* all children done: rebuild if anything changed */
		mt_term *kids = b->sout.v + f->outbase;
		const mt_term *orig = mt_expr_args(st, f->t);
		int changed = 0;
		for (uint32_t i = 0; i < n && !changed; i++)
			changed = kids[i] != orig[i];
		mt_term out = f->t;
		if (changed) {
			out = mt_texpr(st, kids, n);
			if (out == MT_NONE)
				goto fail;
		}
		b->sout.len = f->outbase;
		b->sframe_len -= SFRAME_WORDS;
		cur = out;
		coff = 0;
		/* `out` is final: emit it without re-visiting */
		if (b->sframe_len == fbase) {
			result = out;
			break;
		}
		if (mt_termvec_push(&b->sout, out))
			goto fail;
		cur = MT_NONE;
	}
	b->sframe_len = fbase;
	b->sout.len = obase;
	return result;
fail:
	b->oom = 1;
	b->sframe_len = fbase;
	b->sout.len = obase;
	return MT_NONE;
}

/* ---- unification ---- */

/* Binds unbound global variable g to (t, off), t not a variable. */
static int bind_to(struct mt_bindings *b, uint32_t g, mt_term t, uint32_t off)
{
	if (!is_ground(b, t)) {
		if (mt_occurs(b, g, t, off))
			return b->oom ? -1 : 0;
		if (off) {
			t = mt_subst(b, t, off, MT_SUBST_SHALLOW);
			if (t == MT_NONE)
				return -1;
		}
	}
	return bind_fast(b, g, t) ? -1 : 1;
}

/* One pair of the unification. Returns 1 (unified), 0 (not), -1 (out of
 * memory) or 2: both are expressions of arity *n whose elements must be
 * unified pairwise (then *x, *xo, *y, *yo are the resolved terms). */
static inline int unify_step(struct mt_bindings *b, mt_term *px, uint32_t *pxo, mt_term *py,
			     uint32_t *pyo, uint32_t *n)
{
	mt_term x = *px, y = *py;
	uint32_t xo = *pxo, yo = *pyo;
	if (x == y && (xo == yo || is_ground(b, x)))
		return 1;
	/* a variable resolves to a global term: its offset is spent */
	if (mt_tag(x) == MT_VAR) {
		x = resolve(b, x, xo);
		xo = 0;
		if (x == MT_NONE)
			return -1;
	}
	if (mt_tag(y) == MT_VAR) {
		y = resolve(b, y, yo);
		yo = 0;
		if (y == MT_NONE)
			return -1;
	}
	if (mt_tag(x) == MT_VAR) {
		if (mt_tag(y) == MT_VAR) {
			uint32_t gx = mt_payload(x), gy = mt_payload(y);
			if (gx == gy)
				return 1;
			/* the younger variable points to the older */
			return bind_fast(b, gx > gy ? gx : gy, gx > gy ? y : x) ? -1 : 1;
		}
		return bind_to(b, mt_payload(x), y, yo);
	}
	if (mt_tag(y) == MT_VAR)
		return bind_to(b, mt_payload(y), x, xo);
	if (mt_is_expr(x)) {
		if (!mt_is_expr(y))
			return 0;
		if (x == y && (xo == yo || is_ground(b, x)))
			return 1;
		uint32_t ax = mt_hdr_arity(mt_store_hdr(b->store, x));
		if (ax != mt_hdr_arity(mt_store_hdr(b->store, y)))
			return 0;
		if (ax == 0)
			return 1;
		*px = x;
		*py = y;
		*pxo = xo;
		*pyo = yo;
		*n = ax;
		return 2;
	}
	if (mt_is_expr(y))
		return 0;
	/* symbols and inline integers are equal exactly when their handles are */
	if (mt_tag(x) == MT_SYM || mt_tag(y) == MT_SYM ||
	    (mt_tag(x) == MT_INT && mt_tag(y) == MT_INT))
		return x == y;
	return atom_eq(b->store, x, y);
}

int mt_unify(struct mt_bindings *b, mt_term x, uint32_t xo, mt_term y, uint32_t yo)
{
	uint32_t saved_from = b->trail_from;
	size_t tmark = b->trail_len, base = b->up_len;
	b->trail_from = b->next_var;
	uint32_t n = 0;
	int rc = unify_step(b, &x, &xo, &y, &yo, &n);
	for (;;) {
		if (rc == 2) {
			if (b->up_len == b->up_cap &&
			    grow((void **)&b->up, &b->up_cap, b->up_len + 1, sizeof *b->up)) {
				rc = -1;
				break;
			}
			struct mt_upair *p = &b->up[b->up_len++];
			p->x = x;
			p->y = y;
			p->xo = xo;
			p->yo = yo;
			p->i = 0;
			p->n = n;
		} else if (rc != 1) {
			break;
		}
		/* the next pair of elements */
		struct mt_upair *p = NULL;
		while (b->up_len > base) {
			p = &b->up[b->up_len - 1];
			if (p->i < p->n)
				break;
			b->up_len--;
			p = NULL;
		}
		if (!p) {
			rc = 1;
			break;
		}
		uint32_t i = p->i++;
		/* fetched afresh: a binding may have moved the scratch heap */
		x = mt_store_args(b->store, p->x)[i];
		y = mt_store_args(b->store, p->y)[i];
		xo = p->xo;
		yo = p->yo;
		rc = unify_step(b, &x, &xo, &y, &yo, &n);
	}
	b->up_len = base;
	b->trail_from = saved_from;
	if (rc == 1)
		mt_bind_compact(b, tmark);
	if (rc < 0)
		b->oom = 1;
	return rc;
}

/* ---- equality ---- */

int mt_term_eq(struct mt_bindings *b, mt_term x0, mt_term y0)
{
	struct mt_store *st = b->store;
	struct mt_termvec *s = &b->estack;
	size_t base = s->len;
	int eq = 1;
	if (mt_termvec_push(s, x0) || mt_termvec_push(s, y0)) {
		s->len = base;
		return 0;
	}
	while (s->len > base && eq) {
		mt_term y = mt_bind_deref(b, s->v[--s->len]);
		mt_term x = mt_bind_deref(b, s->v[--s->len]);
		if (x == y)
			continue;
		if (mt_is_expr(x) && mt_is_expr(y)) {
			uint32_t n = mt_expr_arity(st, x);
			if (n != mt_expr_arity(st, y)) {
				eq = 0;
				break;
			}
			const mt_term *ax = mt_expr_args(st, x);
			const mt_term *ay = mt_expr_args(st, y);
			for (uint32_t i = n; i-- > 0;)
				if (mt_termvec_push(s, ax[i]) || mt_termvec_push(s, ay[i])) {
					eq = 0;
					break;
				}
			continue;
		}
		if (mt_is_expr(x) || mt_is_expr(y) || mt_tag(x) == MT_VAR || mt_tag(y) == MT_VAR)
			eq = 0;
		else
			eq = atom_eq(st, x, y);
	}
	s->len = base;
	return eq;
}

/* Looks up or records the pairing gx <-> gy; 0 if it contradicts an
 * earlier pairing. */
static int alpha_pair(struct mt_bindings *b, uint32_t gx, uint32_t gy)
{
	for (size_t i = 0; i < b->amap_len; i += 2) {
		int hx = b->amap[i] == gx, hy = b->amap[i + 1] == gy;
		if (hx || hy)
			return hx && hy;
	}
	if (grow((void **)&b->amap, &b->amap_cap, b->amap_len + 2, sizeof *b->amap))
		return 0;
	b->amap[b->amap_len++] = gx;
	b->amap[b->amap_len++] = gy;
	return 1;
}

int mt_alpha_eq(struct mt_bindings *b, mt_term x0, mt_term y0)
{
	struct mt_store *st = b->store;
	struct mt_termvec *s = &b->estack;
	size_t base = s->len;
	int eq = 1;
	b->amap_len = 0;
	if (mt_termvec_push(s, x0) || mt_termvec_push(s, y0)) {
		s->len = base;
		return 0;
	}
	while (s->len > base && eq) {
		mt_term y = mt_bind_deref(b, s->v[--s->len]);
		mt_term x = mt_bind_deref(b, s->v[--s->len]);
		if (mt_tag(x) == MT_VAR || mt_tag(y) == MT_VAR) {
			eq = mt_tag(x) == MT_VAR && mt_tag(y) == MT_VAR &&
			     alpha_pair(b, mt_payload(x), mt_payload(y));
			continue;
		}
		if (x == y && is_ground(b, x))
			continue;
		if (mt_is_expr(x) && mt_is_expr(y)) {
			uint32_t n = mt_expr_arity(st, x);
			if (n != mt_expr_arity(st, y)) {
				eq = 0;
				break;
			}
			const mt_term *ax = mt_expr_args(st, x);
			const mt_term *ay = mt_expr_args(st, y);
			for (uint32_t i = n; i-- > 0;)
				if (mt_termvec_push(s, ax[i]) || mt_termvec_push(s, ay[i])) {
					eq = 0;
					break;
				}
			continue;
		}
		eq = !mt_is_expr(x) && !mt_is_expr(y) && atom_eq(st, x, y);
	}
	s->len = base;
	return eq;
}
