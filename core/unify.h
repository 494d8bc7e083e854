/* unify: variable bindings, unification and substitution (module prefix
 * mt_bind_ for the binding table, mt_unify / mt_subst / mt_term_eq /
 * mt_alpha_eq for the operations on terms).
 *
 * Variables. A variable is a number (term.h). Evaluation gives every
 * variable one global number: the query's own variables keep 0..k-1, and
 * each use of a stored atom (a rule, or an atom found by match) is renamed
 * apart by an offset: its variable v stands for global variable base + v,
 * with base = next_var at the time of the use. The operations below take
 * an offset beside each term for that purpose; a term with offset 0 is
 * "global" (its variable numbers are global numbers already).
 *
 * Bindings. val[g] is the value of global variable g, or MT_NONE when g is
 * unbound. Values are global terms (offset 0) that may themselves contain
 * bound variables: readers dereference (mt_bind_deref) as they go, and
 * mt_subst(..., MT_SUBST_FULL) resolves a term completely.
 *
 * Backtracking. Bindings are undone through a trail. A binding is trailed
 * only when the variable is older than `trail_from` (the next_var of the
 * newest choice point of the caller; 0 when there is none): younger
 * variables are simply cleared when next_var is reset, which is how a
 * deterministic computation binds without ever growing the trail.
 * mt_bind_save() takes a snapshot, mt_bind_restore() returns to it; a
 * restore undoes bindings of the variables older than the snapshot only if
 * they were trailed, so trail_from must be at least the snapshot's
 * next_var while the snapshot may be restored (the evaluator sets it to
 * the newest choice point's next_var).
 * Inside mt_unify() every binding of a variable that existed when the
 * unification started is trailed, so a failed unification can always be
 * undone with a restore to a snapshot taken just before it.
 *
 * Binding direction. When two unbound variables meet, the younger (higher
 * number) is bound to the older. The query's variables are the oldest, so
 * results are expressed in the query's own variables, as Hyperon prints
 * them (`(Add $n Z)` reduces to `$n`, not to a renamed rule variable).
 *
 * Occurs check. Like Hyperon (which drops bindings that contain loops),
 * unification fails rather than bind a variable to a term that contains
 * it: `(f $x)` does not unify with `$x`. The check only walks terms that
 * are not ground, so it costs nothing on ground data.
 *
 * Numbers unify and compare by value with integer/float promotion, as
 * Hyperon's Number equality does: 1 matches 1.0.
 *
 * Every operation is iterative (explicit work stacks owned by the struct),
 * so terms of any depth are handled without C recursion.
 *
 * Ownership: struct mt_bindings is embedded by its user (the evaluator);
 * mt_bind_free() releases its arrays. Terms built by mt_subst() live in the
 * store's scratch heap. */
#ifndef MT_UNIFY_H
#define MT_UNIFY_H

#include <stddef.h>
#include <stdint.h>

#include "core/term.h"

/* A pair of expressions being unified element by element (internal). */
struct mt_upair {
	mt_term x, y;
	uint32_t xo, yo, i, n;
};

/* A growable array of terms, used as a work stack. */
struct mt_termvec {
	mt_term *v;
	size_t len, cap;
};

struct mt_bindings {
	struct mt_store *store;
	mt_term *val;        /* val[g] for g < cap; g >= cap is unbound */
	uint32_t cap;        /* slots allocated */
	uint32_t hw;         /* every slot >= hw is MT_NONE */
	uint32_t next_var;   /* lowest global number never handed out */
	uint32_t trail_from; /* bindings of variables >= this are not trailed */
	uint32_t *trail;
	size_t trail_len, trail_cap;
	uint32_t var_limit; /* next_var may not pass this (MT_VAR_MAX + 1 by default) */
	int oom;            /* set when memory ran out or var_limit was hit */
	/* work stacks (internal) */
	struct mt_termvec sout, ostack, estack;
	struct mt_upair *up;
	size_t up_len, up_cap;
	uint32_t *sframe;
	size_t sframe_len, sframe_cap;
	uint32_t *amap;
	size_t amap_len, amap_cap;
};

struct mt_bind_state {
	size_t trail_len;
	uint32_t next_var;
};

void mt_bind_init(struct mt_bindings *b, struct mt_store *store);
void mt_bind_free(struct mt_bindings *b);

/* Unbinds everything and starts numbering fresh variables at next_var. */
void mt_bind_reset(struct mt_bindings *b, uint32_t next_var);

static inline struct mt_bind_state mt_bind_save(const struct mt_bindings *b)
{
	struct mt_bind_state s = {b->trail_len, b->next_var};
	return s;
}

/* Undoes every binding made since `s` was saved and forgets the variables
 * numbered since. */
void mt_bind_restore(struct mt_bindings *b, struct mt_bind_state s);

/* Drops trail entries after `from` that trail_from no longer requires
 * (after a successful unification, or when a choice point is popped). */
void mt_bind_compact(struct mt_bindings *b, size_t from);

static inline mt_term mt_bind_value(const struct mt_bindings *b, uint32_t g)
{
	return g < b->cap ? b->val[g] : MT_NONE;
}

/* Follows bindings until t is not a bound variable (offset 0). */
static inline mt_term mt_bind_deref(const struct mt_bindings *b, mt_term t)
{
	while (mt_tag(t) == MT_VAR) {
		mt_term v = mt_bind_value(b, mt_payload(t));
		if (v == MT_NONE)
			break;
		t = v;
	}
	return t;
}

/* Binds unbound global variable g to a global term (no occurs check);
 * trails as described above. Returns 0, or -1 if memory runs out. */
int mt_bind_set(struct mt_bindings *b, uint32_t g, mt_term value);

/* A fresh global variable. Returns MT_NONE if the variable limit is hit. */
mt_term mt_bind_fresh(struct mt_bindings *b);

/* Unifies x (its variables offset by xoff) with y (offset by yoff).
 * Returns 1 on success, 0 if the terms do not unify, -1 if memory ran out.
 * Bindings made by a failed call stay: restore a snapshot to undo them. */
int mt_unify(struct mt_bindings *b, mt_term x, uint32_t xoff, mt_term y, uint32_t yoff);

enum mt_subst_mode {
	/* Rename t's variables by the offset and replace each bound one by
	 * its value (without looking inside values): instantiates a rule's
	 * body after its head was unified. */
	MT_SUBST_SHALLOW,
	/* Replace every bound variable at any depth, values included: the
	 * resolved term no longer depends on the bindings. */
	MT_SUBST_FULL,
};

/* Returns the substituted term (a new scratch term, or t itself when
 * nothing changes), or MT_NONE if memory runs out. */
mt_term mt_subst(struct mt_bindings *b, mt_term t, uint32_t off, enum mt_subst_mode mode);

/* 1 if global term t contains unbound variable g after dereferencing. */
int mt_occurs(struct mt_bindings *b, uint32_t g, mt_term t, uint32_t off);

/* Structural equality of two global terms under the bindings; numbers
 * compare by value with promotion, variables by identity. Returns 1 or 0
 * (0 also if memory runs out). */
int mt_term_eq(struct mt_bindings *b, mt_term x, mt_term y);

/* Alpha-equivalence of two global terms under the bindings: equal up to a
 * one-to-one renaming of unbound variables. */
int mt_alpha_eq(struct mt_bindings *b, mt_term x, mt_term y);

/* Number of a term: 1 and *is_float / *i / *d if t (dereferenced) is an
 * integer or a float, else 0. */
int mt_num(const struct mt_store *store, mt_term t, int *is_float, int64_t *i, double *d);

/* Growable term vector helpers (shared with the evaluator). */
int mt_termvec_grow(struct mt_termvec *v);
static inline int mt_termvec_push(struct mt_termvec *v, mt_term t)
{
	if (v->len == v->cap && mt_termvec_grow(v))
		return -1;
	v->v[v->len++] = t;
	return 0;
}
void mt_termvec_free(struct mt_termvec *v);

#endif
