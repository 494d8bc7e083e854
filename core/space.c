/* space: the knowledge base (space.h): a multiset of persistent atoms in
 * insertion order, with a rule index and an atom index.
 *
 * Entries are one flat array. The indexes are circular chains threaded
 * through the entries: an index key keeps only its last entry, and
 * entry.next_* links each entry to the next one with the same key (the
 * last links back to the first), so adding an atom costs a few word writes
 * and no allocation, and a chain is read in insertion order.
 *
 *  - atom index: key (head, arity) for an expression with a ground head,
 *    (atom, 0) for a symbol, number, string or `()`; atoms with a variable
 *    (or non-ground) head, or that are variables, form the atom-wild chain.
 *  - rule index: for `(= L R)`, the same key computed on L; rules whose L
 *    has no ground head form the rule-wild chain.
 *  - first-argument index: once a rule key has MT_SPACE_FIRST_ARG_MIN
 *    rules, each of its rules also joins the group of (key, first argument
 *    of L) when that is ground, or the key's non-ground group.
 *  - atom -> entry table, for add (multiplicity), remove and count.
 *
 * A key is a term compared by handle, which is right only when every
 * ground term that unifies with it is the same term. Numbers break that:
 * 1 and 1.0 unify (unify.c, as Hyperon's Number equality). So a ground
 * head or first argument holding a float of integral value (or too big to
 * look into) is not a key: its atom or rule goes to the wild chain or the
 * non-ground group, and a query holding one reads the whole key or space.
 *
 * Owner: struct mt_space owns every array and its arena (variable-name
 * lists); mt_space_free() releases them. The store is only borrowed. */
#include "core/space.h"
#include "core/arena.h"
#include "core/mem.h"
#include "core/space_layer.h"
#include "kbprof/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#define NONE UINT32_MAX
#define SLOT_TAG(h) ((uint32_t)((h) >> 61))

enum { LINK_ENTRY, LINK_FA };

/* An entry's meta word, in an array of its own (beside `e`, same index):
 * bits 0..2 the multiplicity (0: removed, a tombstone), bits 3..15 the
 * variable-name list + 1 (0: none). A value that does not fit is in a side
 * table, with the escape value in the field. Most atoms have multiplicity
 * 1 and one of a few name lists, so 16 bits hold them: an entry costs 10
 * bytes in all. */
#define MULT_BITS 3u
#define MULT_ESC 0x7u
#define NAMES_ESC 0x1fffu

struct entry {
	mt_term atom;
	uint32_t next; /* its chain: the rule chain of a rule, else the atom chain */
};

/* entry -> value, for the values that do not fit in the meta word. Slots are
 * (entry + 1) << 32 | value, 0 when empty; nothing is ever deleted. */
struct side {
	uint64_t *slots;
	uint32_t mask, count;
};

struct akey { /* atom index key */
	mt_term head;
	uint32_t arity;
	uint32_t last;
};

/* A rule index key is one word: (last entry of its chain + 1) | RK_GROUPED
 * once its rules are in first-argument groups (the chain reached
 * MT_SPACE_FIRST_ARG_MIN rules, tombstones included); 0 marks an unused
 * slot of rk_sym. A key is created with its first rule, so it always has a
 * last entry; removal leaves tombstones in the chain, so that entry's atom
 * stays readable and the key's head and arity are read back from its LHS.
 * Entries are numbered below MAX_ENTRIES, so the flag never meets an entry. */
#define RK_GROUPED 0x80000000u
#define MAX_ENTRIES (RK_GROUPED - 2)

static inline uint32_t rk_last(uint32_t key)
{
	return (key & ~RK_GROUPED) - 1;
}

/* Rule key ids (first-argument groups name their key by id): a symbol's
 * key in rk_sym is the symbol id; other keys are RKEY_OTHER | index. */
#define RKEY_OTHER 0x80000000u

struct fgroup { /* first-argument group of a rule key */
	uint32_t key;
	mt_term arg; /* MT_NONE: rules whose first argument is not ground */
	uint32_t last;
};

/* An open-addressing table of 32-bit slots, (record + 1) << 3 | hash tag. */
struct table {
	uint32_t *slots;
	uint32_t mask, count;
};

struct mt_space {
	struct mt_store *store;

	struct entry *e;
	uint16_t *meta; /* per entry, see MULT_BITS */
	size_t n, cap, meta_cap;
	uint64_t size, distinct, rules;

	/* atom -> entry. Built on the first need: while every added atom is
	 * an expression newer than all earlier ones (a fresh load), no atom
	 * can already be here and the table would only cost memory. */
	struct table atoms;
	int atoms_built;
	uint32_t max_expr; /* largest mt_expr_order() of an atom ever added */

	struct akey *akeys;
	size_t nakeys, akeys_cap;
	struct table akt;
	uint32_t atom_wild_last;

	/* symbol id -> the rule key of its first arity: most heads are
	 * symbols with one arity, found here without hashing; other keys are
	 * in rkeys, found through rkt */
	uint32_t *rk_sym;
	size_t rk_sym_cap;
	uint32_t *rkeys;
	size_t nrkeys, rkeys_cap;
	struct table rkt;
	uint32_t rule_wild_last;

	struct fgroup *fgroups;
	size_t nfgroups, fgroups_cap;
	struct table fgt;
	uint32_t *next_fa; /* per entry; allocated with the first group */
	size_t next_fa_cap;

	struct side side_mult, side_names;

	struct mt_varnames **lists;
	size_t nlists, lists_cap;
	uint32_t recent_lists[4]; /* lists interned lately, + 1 (0: none) */
	unsigned recent_next;
	struct table lt;
	struct mt_arena arena;

	/* A layered space forwards every call (space_layer.h). */
	const struct mt_space_layer *layer;
	void *layer_ctx;
};

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	return mt_grow(p, cap, need, elem, SIZE_MAX / 2);
}

static int table_init(struct table *t, uint32_t size)
{
	t->slots = mt_table_new(size, sizeof *t->slots);
	t->mask = size - 1;
	t->count = 0;
	return t->slots ? 0 : -1;
}

/* Grows a table at 3/4 load; `hash_of(space, record)` recomputes hashes. */
static int table_maybe_grow(struct mt_space *sp, struct table *t,
			    uint64_t (*hash_of)(const struct mt_space *, uint32_t))
{
	if ((uint64_t)t->count * 4 <= ((uint64_t)t->mask + 1) * 3)
		return 0;
	uint32_t mask = t->mask * 2 + 1;
	uint32_t *slots = mt_table_new((size_t)mask + 1, sizeof *slots);
	if (!slots)
		return -1;
	KBPROF_REGION_BEGIN("index");
	for (uint32_t i = 0; i <= t->mask; i++) {
		uint32_t s = t->slots[i];
		if (!s)
			continue;
		uint32_t rec = (s >> 3) - 1;
		uint64_t h = hash_of(sp, rec);
		uint32_t j = (uint32_t)h & mask;
		while (slots[j])
			j = (j + 1) & mask;
		slots[j] = ((rec + 1) << 3) | SLOT_TAG(h);
	}
	mt_array_free(t->slots);
	t->slots = slots;
	t->mask = mask;
	KBPROF_REGION_END("index");
	return 0;
}

/* ---- hashes of records ---- */

static inline uint64_t atom_hash(mt_term a)
{
	return mix64(a);
}

static inline uint64_t key_hash(mt_term head, uint32_t arity)
{
	return mix64(((uint64_t)arity << 32) | head);
}

static inline uint64_t fa_hash(uint32_t key, mt_term arg)
{
	return mix64(((uint64_t)key << 32) | arg) ^ 0x5bd1e995u;
}

static uint64_t hash_entry(const struct mt_space *sp, uint32_t rec)
{
	return atom_hash(sp->e[rec].atom);
}

static uint64_t hash_akey(const struct mt_space *sp, uint32_t rec)
{
	return key_hash(sp->akeys[rec].head, sp->akeys[rec].arity);
}

static void rkey_read(const struct mt_space *sp, uint32_t last, mt_term *head, uint32_t *arity);

static uint64_t hash_rkey(const struct mt_space *sp, uint32_t rec)
{
	mt_term head;
	uint32_t arity;
	rkey_read(sp, rk_last(sp->rkeys[rec]), &head, &arity);
	return key_hash(head, arity);
}

static uint64_t hash_fgroup(const struct mt_space *sp, uint32_t rec)
{
	return fa_hash(sp->fgroups[rec].key, sp->fgroups[rec].arg);
}

static uint64_t hash_names(const uint32_t *names, uint32_t count)
{
	return XXH3_64bits(names, (size_t)count * sizeof *names);
}

static uint64_t hash_list(const struct mt_space *sp, uint32_t rec)
{
	return hash_names(sp->lists[rec]->names, sp->lists[rec]->count);
}

/* ---- lifecycle ---- */

struct mt_space *mt_space_new(struct mt_store *store)
{
	struct mt_space *sp = calloc(1, sizeof *sp);
	if (!sp)
		return NULL;
	sp->store = store;
	sp->atom_wild_last = sp->rule_wild_last = NONE;
	if (table_init(&sp->atoms, 64) || table_init(&sp->akt, 64) || table_init(&sp->rkt, 1024) ||
	    table_init(&sp->fgt, 64) || table_init(&sp->lt, 64)) {
		mt_space_free(sp);
		return NULL;
	}
	return sp;
}

struct mt_space *mt_space_new_layered(struct mt_store *store, const struct mt_space_layer *layer,
				      void *ctx)
{
	struct mt_space *sp = calloc(1, sizeof *sp);
	if (!sp)
		return NULL;
	sp->store = store;
	sp->layer = layer;
	sp->layer_ctx = ctx;
	return sp;
}

void mt_space_free(struct mt_space *sp)
{
	if (!sp)
		return;
	if (sp->layer) {
		sp->layer->free(sp->layer_ctx);
		free(sp);
		return;
	}
	mt_array_free(sp->e);
	mt_array_free(sp->meta);
	mt_array_free(sp->atoms.slots);
	mt_array_free(sp->akeys);
	mt_array_free(sp->akt.slots);
	mt_array_free(sp->rkeys);
	mt_array_free(sp->rkt.slots);
	mt_array_free(sp->rk_sym);
	mt_array_free(sp->fgroups);
	mt_array_free(sp->fgt.slots);
	mt_array_free(sp->next_fa);
	mt_array_free(sp->side_mult.slots);
	mt_array_free(sp->side_names.slots);
	mt_array_free(sp->lists);
	mt_array_free(sp->lt.slots);
	mt_arena_release(&sp->arena);
	free(sp);
}

struct mt_store *mt_space_store(const struct mt_space *sp)
{
	return sp->store;
}

size_t mt_space_bytes(const struct mt_space *sp)
{
	if (sp->layer)
		return sp->layer->bytes(sp->layer_ctx);
	size_t b = sizeof *sp + sp->n * (sizeof *sp->e + sizeof *sp->meta);
	b += ((size_t)sp->atoms.mask + 1) * 4 + ((size_t)sp->akt.mask + 1) * 4 +
	     ((size_t)sp->rkt.mask + 1) * 4 + ((size_t)sp->fgt.mask + 1) * 4 +
	     ((size_t)sp->lt.mask + 1) * 4;
	b += sp->nakeys * sizeof *sp->akeys + sp->nrkeys * sizeof *sp->rkeys +
	     sp->nfgroups * sizeof *sp->fgroups + (sp->next_fa ? sp->n * 4 : 0) +
	     sp->rk_sym_cap * sizeof *sp->rk_sym;
	b += (sp->side_mult.slots ? ((size_t)sp->side_mult.mask + 1) * 8 : 0) +
	     (sp->side_names.slots ? ((size_t)sp->side_names.mask + 1) * 8 : 0);
	b += sp->nlists * sizeof *sp->lists + mt_arena_bytes(&sp->arena);
	return b;
}

/* ---- keys ---- */

enum keyed { KEY_OK, KEY_WILD, KEY_ABSENT };

#define KEYABLE_NODES 64

/* Whether a ground term can be an index key by its handle (see the top of
 * the file): no float of integral value within its first KEYABLE_NODES
 * nodes, and no more nodes than that. */
static int keyable(const struct mt_store *st, mt_term t)
{
	if (mt_tag(t) == MT_SYM || mt_tag(t) == MT_INT)
		return 1;
	mt_term stack[KEYABLE_NODES];
	size_t n = 0, nodes = 0;
	stack[n++] = t;
	while (n) {
		mt_term x = stack[--n];
		if (++nodes > KEYABLE_NODES)
			return 0;
		double d;
		if (mt_is_box(x) && mt_box_kind(st, x) == MT_BOX_FLOAT &&
		    mt_float_value(st, x, &d) && isfinite(d) && trunc(d) == d)
			return 0;
		if (mt_is_expr(x)) {
			uint32_t a = mt_expr_arity(st, x);
			if (a > KEYABLE_NODES - n)
				return 0;
			const mt_term *args = mt_expr_args(st, x);
			for (uint32_t i = 0; i < a; i++)
				stack[n++] = args[i];
		}
	}
	return 1;
}

/* The index key of a term: (head, arity) for an expression with a ground
 * head, (t, 0) for other ground atoms and `()`. KEY_WILD when the head is
 * not ground or not keyable; KEY_ABSENT when a scratch key has no
 * persistent equal (so no stored atom can have it). */
static enum keyed key_of(const struct mt_store *st, mt_term t, mt_term *head, uint32_t *arity)
{
	if (mt_tag(t) == MT_EXPR) {
		/* the common case first: a stored expression with a symbol head */
		uint32_t n = mt_expr_arity(st, t);
		mt_term h;
		if (n && mt_tag(h = mt_expr_args(st, t)[0]) == MT_SYM) {
			*head = h;
			*arity = n;
			return KEY_OK;
		}
	}
	switch (mt_tag(t)) {
	case MT_VAR:
		return KEY_WILD;
	case MT_EXPR:
	case MT_TEXPR: {
		uint32_t n = mt_expr_arity(st, t);
		mt_term h = n ? mt_expr_args(st, t)[0] : t;
		if (n && (mt_tag(h) == MT_VAR || (mt_is_expr(h) && !mt_is_ground(st, h)) ||
			  !keyable(st, h)))
			return KEY_WILD;
		if (mt_is_scratch(h) && (h = mt_term_find(st, h)) == MT_NONE)
			return KEY_ABSENT;
		*head = h;
		*arity = n;
		return KEY_OK;
	}
	case MT_TBOX:
		if (!keyable(st, t))
			return KEY_WILD;
		if ((t = mt_term_find(st, t)) == MT_NONE)
			return KEY_ABSENT;
		/* fall through */
	default:
		if (!keyable(st, t))
			return KEY_WILD;
		*head = t;
		*arity = 0;
		return KEY_OK;
	}
}

static uint32_t akey_find(const struct mt_space *sp, mt_term head, uint32_t arity, uint64_t h,
			  uint32_t *slot)
{
	uint32_t mask = sp->akt.mask, tag = SLOT_TAG(h), i = (uint32_t)h & mask;
	for (;; i = (i + 1) & mask) {
		uint32_t s = sp->akt.slots[i];
		if (!s)
			break;
		if ((s & 7) != tag)
			continue;
		const struct akey *k = &sp->akeys[(s >> 3) - 1];
		if (k->head == head && k->arity == arity)
			return (s >> 3) - 1;
	}
	*slot = i;
	return NONE;
}

static uint32_t rkey_find(const struct mt_space *sp, mt_term head, uint32_t arity, uint64_t h,
			  uint32_t *slot)
{
	uint32_t mask = sp->rkt.mask, tag = SLOT_TAG(h), i = (uint32_t)h & mask;
	for (;; i = (i + 1) & mask) {
		uint32_t s = sp->rkt.slots[i];
		if (!s)
			break;
		if ((s & 7) != tag)
			continue;
		mt_term kh;
		uint32_t ka;
		rkey_read(sp, rk_last(sp->rkeys[(s >> 3) - 1]), &kh, &ka);
		if (kh == head && ka == arity)
			return (s >> 3) - 1;
	}
	*slot = i;
	return NONE;
}

static uint32_t fgroup_find(const struct mt_space *sp, uint32_t key, mt_term arg, uint64_t h,
			    uint32_t *slot)
{
	uint32_t mask = sp->fgt.mask, tag = SLOT_TAG(h), i = (uint32_t)h & mask;
	for (;; i = (i + 1) & mask) {
		uint32_t s = sp->fgt.slots[i];
		if (!s)
			break;
		if ((s & 7) != tag)
			continue;
		const struct fgroup *g = &sp->fgroups[(s >> 3) - 1];
		if (g->key == key && g->arg == arg)
			return (s >> 3) - 1;
	}
	*slot = i;
	return NONE;
}

static uint32_t entry_find(const struct mt_space *sp, mt_term atom, uint32_t *slot)
{
	uint64_t h = atom_hash(atom);
	uint32_t mask = sp->atoms.mask, tag = SLOT_TAG(h), i = (uint32_t)h & mask;
	for (;; i = (i + 1) & mask) {
		uint32_t s = sp->atoms.slots[i];
		if (!s)
			break;
		if ((s & 7) != tag)
			continue;
		if (sp->e[(s >> 3) - 1].atom == atom)
			return (s >> 3) - 1;
	}
	if (slot)
		*slot = i;
	return NONE;
}

/* ---- chains ---- */

static inline uint32_t *link_of(const struct mt_space *sp, int kind, uint32_t e)
{
	struct mt_space *w = (struct mt_space *)sp;
	return kind == LINK_ENTRY ? &w->e[e].next : &w->next_fa[e];
}

static void chain_append(struct mt_space *sp, int kind, uint32_t *last, uint32_t e)
{
	uint32_t *le = link_of(sp, kind, e);
	if (*last == NONE) {
		*le = e;
	} else {
		uint32_t *ll = link_of(sp, kind, *last);
		*le = *ll;
		*ll = e;
	}
	*last = e;
}

/* ---- entry fields: multiplicity and name list ---- */

static uint64_t *side_slot(const struct side *t, uint32_t e)
{
	uint32_t i = (uint32_t)mix64(e) & t->mask;
	for (;; i = (i + 1) & t->mask)
		if (!t->slots[i] || (uint32_t)(t->slots[i] >> 32) == e + 1)
			return &t->slots[i];
}

static uint32_t side_get(const struct side *t, uint32_t e)
{
	return (uint32_t)*side_slot(t, e); /* present: the field said so */
}

/* Sets e's value (inserting it if new); -1 if memory runs out. */
static int side_put(struct side *t, uint32_t e, uint32_t v)
{
	uint64_t *s = t->slots ? side_slot(t, e) : NULL;
	if (s && *s) { /* an update never allocates */
		*s = (uint64_t)(e + 1) << 32 | v;
		return 0;
	}
	if (!t->slots || (uint64_t)(t->count + 1) * 2 > (uint64_t)t->mask + 1) {
		uint32_t size = t->slots ? (t->mask + 1) * 2 : 16;
		uint64_t *slots = mt_table_new(size, sizeof *slots);
		if (!slots)
			return -1;
		struct side n = {slots, size - 1, t->count};
		for (uint32_t i = 0; t->slots && i <= t->mask; i++)
			if (t->slots[i])
				*side_slot(&n, (uint32_t)(t->slots[i] >> 32) - 1) = t->slots[i];
		mt_array_free(t->slots);
		*t = n;
	}
	s = side_slot(t, e);
	t->count++;
	*s = (uint64_t)(e + 1) << 32 | v;
	return 0;
}

static inline uint32_t mult_of(const struct mt_space *sp, uint32_t e)
{
	uint32_t m = sp->meta[e] & MULT_ESC;
	return m == MULT_ESC ? side_get(&sp->side_mult, e) : m;
}

static int mult_set(struct mt_space *sp, uint32_t e, uint32_t v)
{
	uint16_t *meta = &sp->meta[e];
	if (v >= MULT_ESC) {
		if (side_put(&sp->side_mult, e, v))
			return -1;
		v = MULT_ESC;
	}
	*meta = (uint16_t)((*meta & ~MULT_ESC) | v);
	return 0;
}

/* The entry's name list + 1, 0 if none. */
static uint32_t names_of(const struct mt_space *sp, uint32_t e)
{
	uint32_t l = (uint32_t)sp->meta[e] >> MULT_BITS;
	return l == NAMES_ESC ? side_get(&sp->side_names, e) : l;
}

static int names_set(struct mt_space *sp, uint32_t e, uint32_t l)
{
	if (l >= NAMES_ESC) {
		if (side_put(&sp->side_names, e, l))
			return -1;
		l = NAMES_ESC;
	}
	sp->meta[e] = (uint16_t)((sp->meta[e] & MULT_ESC) | l << MULT_BITS);
	return 0;
}

/* ---- variable-name lists ---- */

static uint32_t remember_list(struct mt_space *sp, uint32_t id)
{
	sp->recent_lists[sp->recent_next] = id;
	sp->recent_next = (sp->recent_next + 1) % 4;
	return id;
}

static inline int same_names(const struct mt_varnames *a, const struct mt_varnames *b)
{
	if (a->count != b->count)
		return 0;
	for (uint32_t i = 0; i < a->count; i++)
		if (a->names[i] != b->names[i])
			return 0;
	return 1;
}

static uint32_t intern_names(struct mt_space *sp, const struct mt_varnames *names)
{
	if (!names || names->count == 0)
		return 0;
	/* a knowledge base reuses a handful of name lists: try the recent ones */
	for (int r = 0; r < 4; r++) {
		uint32_t id = sp->recent_lists[r];
		if (id && same_names(sp->lists[id - 1], names)) {
			return id;
		}
	}
	uint64_t h = hash_names(names->names, names->count);
	uint32_t mask = sp->lt.mask, tag = SLOT_TAG(h), i = (uint32_t)h & mask;
	for (;; i = (i + 1) & mask) {
		uint32_t s = sp->lt.slots[i];
		if (!s)
			break;
		if ((s & 7) != tag)
			continue;
		if (same_names(sp->lists[(s >> 3) - 1], names))
			return remember_list(sp, s >> 3);
	}
	if (grow((void **)&sp->lists, &sp->lists_cap, sp->nlists + 1, sizeof *sp->lists))
		return NONE;
	struct mt_varnames *l = mt_arena_alloc(&sp->arena, sizeof *l, _Alignof(struct mt_varnames));
	uint32_t *copy =
	    mt_arena_alloc(&sp->arena, (size_t)names->count * sizeof *copy, _Alignof(uint32_t));
	if (!l || !copy)
		return NONE;
	memcpy(copy, names->names, (size_t)names->count * sizeof *copy);
	l->count = names->count;
	l->names = copy;
	uint32_t rec = (uint32_t)sp->nlists++;
	sp->lists[rec] = l;
	sp->lt.slots[i] = ((rec + 1) << 3) | tag;
	sp->lt.count++;
	if (table_maybe_grow(sp, &sp->lt, hash_list))
		return NONE;
	return remember_list(sp, rec + 1);
}

/* ---- adding ---- */

static inline int is_rule(const struct mt_store *st, mt_term a)
{
	return mt_tag(a) == MT_EXPR && mt_expr_arity(st, a) == 3 &&
	       mt_expr_args(st, a)[0] == mt_sym(MT_S_EQUAL);
}

/* The LHS of a rule atom. */
static inline mt_term lhs_of(const struct mt_store *st, mt_term rule)
{
	return mt_expr_args(st, rule)[1];
}

/* The (head, arity) of a rule key, read back from the LHS of its last
 * rule (a key always has one; removal leaves the atom in place). */
static void rkey_read(const struct mt_space *sp, uint32_t last, mt_term *head, uint32_t *arity)
{
	enum keyed r = key_of(sp->store, lhs_of(sp->store, sp->e[last].atom), head, arity);
	(void)r; /* KEY_OK: the key was made from this LHS */
}

static inline uint32_t *rkey_at(const struct mt_space *sp, uint32_t id)
{
	return id & RKEY_OTHER ? &sp->rkeys[id & ~RKEY_OTHER] : &sp->rk_sym[id];
}

/* The first-argument group a rule entry joins, given its LHS. */
static int fa_join(struct mt_space *sp, uint32_t key, uint32_t e)
{
	const struct mt_store *st = sp->store;
	mt_term lhs = lhs_of(st, sp->e[e].atom), arg = MT_NONE;
	if (mt_tag(lhs) == MT_EXPR && mt_expr_arity(st, lhs) >= 2) {
		mt_term a = mt_expr_args(st, lhs)[1];
		if (mt_is_ground(st, a) && keyable(st, a))
			arg = a;
	}
	if (grow((void **)&sp->next_fa, &sp->next_fa_cap, sp->cap ? sp->cap : 1,
		 sizeof *sp->next_fa))
		return -1;
	uint64_t h = fa_hash(key, arg);
	uint32_t slot;
	uint32_t g = fgroup_find(sp, key, arg, h, &slot);
	if (g == NONE) {
		if (grow((void **)&sp->fgroups, &sp->fgroups_cap, sp->nfgroups + 1,
			 sizeof *sp->fgroups))
			return -1;
		g = (uint32_t)sp->nfgroups++;
		sp->fgroups[g] = (struct fgroup){key, arg, NONE};
		sp->fgt.slots[slot] = ((g + 1) << 3) | SLOT_TAG(h);
		sp->fgt.count++;
		if (table_maybe_grow(sp, &sp->fgt, hash_fgroup))
			return -1;
	}
	chain_append(sp, LINK_FA, &sp->fgroups[g].last, e);
	return 0;
}

/* The id of rule key (head, arity), or NONE. */
static uint32_t rkey_lookup(const struct mt_space *sp, mt_term head, uint32_t arity)
{
	if (mt_tag(head) == MT_SYM) {
		uint32_t id = mt_payload(head);
		if (id >= sp->rk_sym_cap || !sp->rk_sym[id])
			return NONE; /* a symbol's first key always lands in rk_sym */
		mt_term lhs = lhs_of(sp->store, sp->e[rk_last(sp->rk_sym[id])].atom);
		/* the LHS is the symbol (arity 0) or an expression it heads */
		if ((mt_tag(lhs) == MT_EXPR ? mt_expr_arity(sp->store, lhs) : 0) == arity)
			return id;
	}
	uint32_t slot;
	uint32_t k = rkey_find(sp, head, arity, key_hash(head, arity), &slot);
	return k == NONE ? NONE : k | RKEY_OTHER;
}

/* Chains rule entry e into key (head, arity), making the key if it is new.
 * Returns the key id, or NONE if memory runs out. */
static uint32_t rkey_append(struct mt_space *sp, mt_term head, uint32_t arity, uint32_t e)
{
	uint32_t id = rkey_lookup(sp, head, arity);
	if (id != NONE) {
		uint32_t *rk = rkey_at(sp, id), last = rk_last(*rk);
		chain_append(sp, LINK_ENTRY, &last, e);
		*rk = (last + 1) | (*rk & RK_GROUPED);
		return id;
	}
	sp->e[e].next = e;
	if (mt_tag(head) == MT_SYM) {
		uint32_t sym = mt_payload(head);
		if (sym >= sp->rk_sym_cap) {
			/* sized by the symbol id alone (growth doubles): the
			 * symbol table may belong to a parser's lexer thread
			 * (parse.h, threads) */
			size_t old = sp->rk_sym_cap, want = (size_t)sym + 1;
			if (grow((void **)&sp->rk_sym, &sp->rk_sym_cap, want, sizeof *sp->rk_sym))
				return NONE;
			/* A mapped block grows with fresh zero pages. Grown
			 * one doubling (rules keep coming with new symbols,
			 * as in a parse), they are made resident now, as a
			 * hash table's: each is read before it is written
			 * (mt_populate). Grown by a jump (a first rule with a
			 * symbol of a big image), they stay untouched: only
			 * the rules' own symbols' pages become resident. */
			if (!mt_block_of(sp->rk_sym)->mapped)
				memset(sp->rk_sym + old, 0,
				       (sp->rk_sym_cap - old) * sizeof *sp->rk_sym);
			else if (want <= old * 2)
				mt_populate_range(sp->rk_sym + old, sp->rk_sym + sp->rk_sym_cap);
		}
		if (!sp->rk_sym[sym]) {
			sp->rk_sym[sym] = e + 1;
			return sym;
		}
	}
	if (sp->nrkeys >= RKEY_OTHER - 1 ||
	    grow((void **)&sp->rkeys, &sp->rkeys_cap, sp->nrkeys + 1, sizeof *sp->rkeys))
		return NONE;
	uint32_t k = (uint32_t)sp->nrkeys++;
	sp->rkeys[k] = e + 1;
	uint64_t h = key_hash(head, arity);
	uint32_t slot;
	rkey_find(sp, head, arity, h, &slot);
	sp->rkt.slots[slot] = ((k + 1) << 3) | SLOT_TAG(h);
	sp->rkt.count++;
	if (table_maybe_grow(sp, &sp->rkt, hash_rkey))
		return NONE;
	return k | RKEY_OTHER;
}

static int index_rule(struct mt_space *sp, uint32_t e, mt_term lhs)
{
	mt_term head;
	uint32_t arity;
	if (key_of(sp->store, lhs, &head, &arity) != KEY_OK) {
		chain_append(sp, LINK_ENTRY, &sp->rule_wild_last, e);
		return 0;
	}
	uint32_t k = rkey_append(sp, head, arity, e);
	if (k == NONE)
		return -1;
	uint32_t *rk = rkey_at(sp, k);
	if (*rk & RK_GROUPED)
		return fa_join(sp, k, e);
	/* count the chain, up to the threshold (a short walk: a key below it
	 * has few rules, and they are usually neighbours) */
	uint32_t last = rk_last(*rk), x = last, n = 0;
	do {
		x = sp->e[x].next;
		n++;
	} while (x != last && n < MT_SPACE_FIRST_ARG_MIN);
	if (n < MT_SPACE_FIRST_ARG_MIN)
		return 0;
	/* the key just reached the threshold: group all its rules so far */
	*rk |= RK_GROUPED;
	KBPROF_REGION_BEGIN("index");
	x = last;
	int rc = 0;
	do {
		x = sp->e[x].next;
		rc = fa_join(sp, k, x);
	} while (rc == 0 && x != last);
	KBPROF_REGION_END("index");
	return rc;
}

static int index_atom(struct mt_space *sp, uint32_t e, mt_term atom)
{
	mt_term head;
	uint32_t arity;
	if (key_of(sp->store, atom, &head, &arity) != KEY_OK) {
		chain_append(sp, LINK_ENTRY, &sp->atom_wild_last, e);
		return 0;
	}
	uint64_t h = key_hash(head, arity);
	uint32_t slot;
	uint32_t k = akey_find(sp, head, arity, h, &slot);
	if (k == NONE) {
		if (grow((void **)&sp->akeys, &sp->akeys_cap, sp->nakeys + 1, sizeof *sp->akeys))
			return -1;
		k = (uint32_t)sp->nakeys++;
		sp->akeys[k] = (struct akey){head, arity, NONE};
		sp->akt.slots[slot] = ((k + 1) << 3) | SLOT_TAG(h);
		sp->akt.count++;
		if (table_maybe_grow(sp, &sp->akt, hash_akey))
			return -1;
	}
	chain_append(sp, LINK_ENTRY, &sp->akeys[k].last, e);
	return 0;
}

/* Builds the atom -> entry table from the entries (the newest entry of an
 * atom wins, so a re-added atom maps to its live entry). */
static int build_atoms(struct mt_space *sp)
{
	size_t size = 64;
	while (size * 3 < sp->n * 4 + 4)
		size *= 2;
	if (size > ((size_t)1 << 32))
		return -1;
	struct table t;
	if (table_init(&t, (uint32_t)size))
		return -1;
	KBPROF_REGION_BEGIN("index");
	mt_array_free(sp->atoms.slots);
	sp->atoms = t;
	for (uint32_t e = 0; e < sp->n; e++) {
		uint64_t h = atom_hash(sp->e[e].atom);
		uint32_t mask = sp->atoms.mask, i = (uint32_t)h & mask;
		for (;; i = (i + 1) & mask) {
			uint32_t s = sp->atoms.slots[i];
			if (!s) {
				sp->atoms.count++;
				break;
			}
			if (sp->e[(s >> 3) - 1].atom == sp->e[e].atom)
				break;
		}
		sp->atoms.slots[i] = ((e + 1) << 3) | SLOT_TAG(h);
	}
	sp->atoms_built = 1;
	KBPROF_REGION_END("index");
	return 0;
}

/* The entry of an atom (live or tombstone), building the table if needed;
 * sets *slot to where a new atom would go. Returns NONE, or NONE - 1 when
 * memory runs out. */
static uint32_t entry_lookup(struct mt_space *sp, mt_term atom, uint32_t *slot)
{
	if (!sp->atoms_built) {
		if (mt_tag(atom) == MT_EXPR && mt_expr_order(atom) > sp->max_expr)
			return NONE; /* newer than every atom added: absent */
		if (build_atoms(sp))
			return NONE - 1;
	}
	return entry_find(sp, atom, slot);
}

int64_t mt_space_add(struct mt_space *sp, mt_term atom, const struct mt_varnames *names,
		     struct kb_error *err)
{
	if (sp->layer)
		return sp->layer->add(sp->layer_ctx, atom, names, err);
	if (mt_is_scratch(atom) || atom == MT_NONE)
		return kb_error_set(err, "space: cannot add a scratch atom (persist it first)");
	uint32_t slot = 0;
	uint32_t old = entry_lookup(sp, atom, &slot);
	if (old == NONE - 1)
		return kb_error_set(err, "space: out of memory");
	uint32_t m = old != NONE ? mult_of(sp, old) : 0;
	if (m) {
		if (m == UINT32_MAX)
			return kb_error_set(err, "space: multiplicity overflow");
		if (!names_of(sp, old) && names && names->count) {
			uint32_t l = intern_names(sp, names);
			if (l == NONE || names_set(sp, old, l))
				return kb_error_set(err, "space: out of memory");
		}
		if (mult_set(sp, old, m + 1))
			return kb_error_set(err, "space: out of memory");
		sp->size++;
		return old;
	}
	if (sp->n >= MAX_ENTRIES)
		return kb_error_set(err, "space: too many entries");
	if (mt_grow_fill((void **)&sp->e, &sp->cap, sp->n + 1, sizeof *sp->e, SIZE_MAX / 2) ||
	    mt_grow_fill((void **)&sp->meta, &sp->meta_cap, sp->n + 1, sizeof *sp->meta,
			 SIZE_MAX / 2))
		return kb_error_set(err, "space: out of memory");
	if (sp->next_fa &&
	    grow((void **)&sp->next_fa, &sp->next_fa_cap, sp->cap, sizeof *sp->next_fa))
		return kb_error_set(err, "space: out of memory");
	uint32_t l = intern_names(sp, names);
	if (l == NONE)
		return kb_error_set(err, "space: out of memory");
	uint32_t e = (uint32_t)sp->n++;
	sp->e[e] = (struct entry){atom, NONE};
	sp->meta[e] = 1;
	if (names_set(sp, e, l))
		return kb_error_set(err, "space: out of memory");
	if (mt_tag(atom) == MT_EXPR && mt_expr_order(atom) > sp->max_expr)
		sp->max_expr = mt_expr_order(atom);
	if (!sp->atoms_built) {
		/* nothing to record: the table will be built from the entries */
	} else if (old != NONE) {
		/* a tombstone of the same atom: point the table at the new entry */
		uint32_t mask = sp->atoms.mask;
		uint64_t h = atom_hash(atom);
		for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
			if (sp->atoms.slots[i] >> 3 == old + 1) {
				sp->atoms.slots[i] = ((e + 1) << 3) | SLOT_TAG(h);
				break;
			}
		}
	} else {
		sp->atoms.slots[slot] = ((e + 1) << 3) | SLOT_TAG(atom_hash(atom));
		sp->atoms.count++;
		if (table_maybe_grow(sp, &sp->atoms, hash_entry))
			return kb_error_set(err, "space: out of memory");
	}
	/* one chain per entry: a rule is in its rule chain only (a match on
	 * (= L R) reads the rule index), other atoms in their atom chain */
	int rule = is_rule(sp->store, atom);
	if (rule ? index_rule(sp, e, lhs_of(sp->store, atom)) : index_atom(sp, e, atom))
		return kb_error_set(err, "space: out of memory");
	sp->rules += (uint64_t)rule;
	sp->size++;
	sp->distinct++;
	return e;
}

int mt_space_remove(struct mt_space *sp, mt_term atom)
{
	if (sp->layer)
		return sp->layer->remove(sp->layer_ctx, atom);
	if (mt_is_scratch(atom) && (atom = mt_term_find(sp->store, atom)) == MT_NONE)
		return 0;
	uint32_t slot;
	uint32_t e = entry_lookup(sp, atom, &slot);
	uint32_t m = e >= NONE - 1 ? 0 : mult_of(sp, e);
	if (m == 0)
		return 0;
	sp->size--;
	mult_set(sp, e, m - 1); /* cannot fail: an escaped value is in place */
	if (m == 1) {
		sp->distinct--;
		if (is_rule(sp->store, atom))
			sp->rules--;
	}
	return 1;
}

/* ---- reading ---- */

uint32_t mt_space_entries(const struct mt_space *sp)
{
	if (sp->layer)
		return sp->layer->entries(sp->layer_ctx);
	return (uint32_t)sp->n;
}

uint64_t mt_space_size(const struct mt_space *sp)
{
	if (sp->layer)
		return sp->layer->size(sp->layer_ctx);
	return sp->size;
}

uint64_t mt_space_distinct(const struct mt_space *sp)
{
	if (sp->layer)
		return sp->layer->distinct(sp->layer_ctx);
	return sp->distinct;
}

uint64_t mt_space_rules(const struct mt_space *sp)
{
	if (sp->layer)
		return sp->layer->rules(sp->layer_ctx);
	return sp->rules;
}

mt_term mt_space_atom(const struct mt_space *sp, uint32_t entry)
{
	if (sp->layer)
		return sp->layer->atom(sp->layer_ctx, entry);
	return entry < sp->n ? sp->e[entry].atom : MT_NONE;
}

uint32_t mt_space_multiplicity(const struct mt_space *sp, uint32_t entry)
{
	if (sp->layer)
		return sp->layer->multiplicity(sp->layer_ctx, entry);
	return entry < sp->n ? mult_of(sp, entry) : 0;
}

const struct mt_varnames *mt_space_varnames(const struct mt_space *sp, uint32_t entry)
{
	if (sp->layer)
		return sp->layer->varnames(sp->layer_ctx, entry);
	uint32_t l = entry < sp->n ? names_of(sp, entry) : 0;
	return l ? sp->lists[l - 1] : NULL;
}

/* Count by scanning, for when the atom table cannot be built. */
static uint32_t mt_space_count_scan(const struct mt_space *sp, mt_term atom)
{
	uint32_t m = 0;
	for (size_t e = 0; e < sp->n; e++)
		if (sp->e[e].atom == atom && mult_of(sp, (uint32_t)e))
			m = mult_of(sp, (uint32_t)e);
	return m;
}

uint32_t mt_space_count(const struct mt_space *sp, mt_term atom)
{
	if (sp->layer)
		return sp->layer->count(sp->layer_ctx, atom);
	if (mt_is_scratch(atom) && (atom = mt_term_find(sp->store, atom)) == MT_NONE)
		return 0;
	/* the first count may build the atom table: a cache, not a change */
	uint32_t slot;
	uint32_t e = entry_lookup((struct mt_space *)sp, atom, &slot);
	if (e >= NONE - 1)
		return e == NONE ? 0 : mt_space_count_scan(sp, atom);
	return mult_of(sp, e);
}

/* ---- iteration ---- */

enum { SCAN_NONE, SCAN_ALL, SCAN_RULES };

static void iter_init(const struct mt_space *sp, struct mt_space_iter *it)
{
	memset(it, 0, sizeof *it);
	it->space = sp;
}

/* Visits the entry array: every entry (SCAN_ALL), or its rules, merged with
 * the chains (SCAN_RULES). */
static void iter_scan(struct mt_space_iter *it, int mode)
{
	it->full_scan = mode;
	it->scan = 0;
	it->scan_end = (uint32_t)it->space->n;
}

static void iter_chain(struct mt_space_iter *it, int kind, uint32_t last)
{
	if (last == NONE)
		return;
	int i = it->nchains++;
	it->kind[i] = (unsigned char)kind;
	it->last[i] = last;
	it->cur[i] = *link_of(it->space, kind, last);
}

/* The rules (= L R) that may unify with (= L' R') given L': the rule key
 * of L' and the rule-wild chain, or when L' has no ground head every
 * rule, from the entry array (rules are in no chain of their own). */
static void iter_rules_of_lhs(const struct mt_space *sp, mt_term lhs, struct mt_space_iter *it)
{
	mt_term head;
	uint32_t arity;
	switch (key_of(sp->store, lhs, &head, &arity)) {
	case KEY_WILD:
		iter_scan(it, SCAN_RULES);
		return;
	case KEY_OK: {
		uint32_t k = rkey_lookup(sp, head, arity);
		if (k != NONE)
			iter_chain(it, LINK_ENTRY, rk_last(*rkey_at(sp, k)));
		break;
	}
	case KEY_ABSENT:
		break;
	}
	iter_chain(it, LINK_ENTRY, sp->rule_wild_last);
}

void mt_space_atoms_begin(const struct mt_space *sp, mt_term pattern, struct mt_space_iter *it)
{
	if (sp->layer) {
		sp->layer->atoms_begin(sp->layer_ctx, pattern, it);
		it->space = sp;
		return;
	}
	iter_init(sp, it);
	mt_term head;
	uint32_t arity;
	switch (key_of(sp->store, pattern, &head, &arity)) {
	case KEY_WILD:
		iter_scan(it, SCAN_ALL);
		return;
	case KEY_OK: {
		if (head == mt_sym(MT_S_EQUAL) && arity == 3) {
			/* every (= L R) atom is a rule: read the rule index */
			iter_rules_of_lhs(sp, lhs_of(sp->store, pattern), it);
			break;
		}
		uint32_t slot, k = akey_find(sp, head, arity, key_hash(head, arity), &slot);
		if (k != NONE)
			iter_chain(it, LINK_ENTRY, sp->akeys[k].last);
		break;
	}
	case KEY_ABSENT:
		break;
	}
	iter_chain(it, LINK_ENTRY, sp->atom_wild_last);
}

void mt_space_rules_begin(const struct mt_space *sp, mt_term call, struct mt_space_iter *it)
{
	if (sp->layer) {
		sp->layer->rules_begin(sp->layer_ctx, call, it);
		it->space = sp;
		return;
	}
	iter_init(sp, it);
	const struct mt_store *st = sp->store;
	mt_term head;
	uint32_t arity;
	switch (key_of(st, call, &head, &arity)) {
	case KEY_WILD:
		/* every rule */
		iter_scan(it, SCAN_RULES);
		return;
	case KEY_OK: {
		uint32_t slot, k = rkey_lookup(sp, head, arity);
		if (k == NONE)
			break;
		uint32_t rk = *rkey_at(sp, k);
		mt_term arg = arity >= 2 ? mt_expr_args(st, call)[1] : MT_NONE;
		if (!(rk & RK_GROUPED) || arg == MT_NONE || !mt_is_ground(st, arg) ||
		    !keyable(st, arg)) {
			iter_chain(it, LINK_ENTRY, rk_last(rk));
			break;
		}
		if (mt_is_scratch(arg))
			arg = mt_term_find(st, arg);
		if (arg != MT_NONE) {
			uint32_t g = fgroup_find(sp, k, arg, fa_hash(k, arg), &slot);
			if (g != NONE)
				iter_chain(it, LINK_FA, sp->fgroups[g].last);
		}
		uint32_t g = fgroup_find(sp, k, MT_NONE, fa_hash(k, MT_NONE), &slot);
		if (g != NONE)
			iter_chain(it, LINK_FA, sp->fgroups[g].last);
		break;
	}
	case KEY_ABSENT:
		break;
	}
	/* rules whose LHS has no ground head match any call */
	iter_chain(it, LINK_ENTRY, sp->rule_wild_last);
}

int mt_space_next(struct mt_space_iter *it, uint32_t *entry)
{
	const struct mt_space *sp = it->space;
	if (sp->layer)
		return sp->layer->next(sp->layer_ctx, it, entry);
	if (it->full_scan == SCAN_ALL) {
		while (it->scan < it->scan_end) {
			uint32_t e = it->scan++;
			if (sp->meta[e] & MULT_ESC) {
				*entry = e;
				return 1;
			}
		}
		return 0;
	}
	for (;;) {
		if (it->full_scan == SCAN_RULES) /* the next live rule */
			while (it->scan < it->scan_end &&
			       !((sp->meta[it->scan] & MULT_ESC) &&
				 is_rule(sp->store, sp->e[it->scan].atom)))
				it->scan++;
		int best = -1;
		for (int i = 0; i < it->nchains; i++)
			if (it->cur[i] != NONE && (best < 0 || it->cur[i] < it->cur[best]))
				best = i;
		if (it->full_scan == SCAN_RULES && it->scan < it->scan_end &&
		    (best < 0 || it->scan < it->cur[best])) {
			*entry = it->scan++;
			return 1;
		}
		if (best < 0)
			return 0;
		uint32_t e = it->cur[best];
		it->cur[best] = e == it->last[best] ? NONE : *link_of(sp, it->kind[best], e);
		if (sp->meta[e] & MULT_ESC) {
			*entry = e;
			return 1;
		}
	}
}
