/* store: the term store (term.h): interning, the hash-consed persistent
 * heap, boxed values, the scratch heap, persist/find/equal.
 *
 * Owner: struct mt_store (store_impl.h) owns every array here; nothing is
 * allocated per term. Traversals (persist, find, equal) use explicit
 * stacks, never C recursion, so term depth is bounded by memory only. */
#include "core/mem.h"
#include "core/store_impl.h"
#include "kbprof/probe.h"

#include <stdlib.h>
#include <string.h>

#define HC_TAG(h) MT_HC_TAG(h)
#define HC_MAX_SLOTS ((uint32_t)1 << 31)

static const char *const wellknown_names[] = {
#define MT_WK_NAME(name, text) text,
    MT_WELLKNOWN(MT_WK_NAME)
#undef MT_WK_NAME
};

static int hc_rehash(struct mt_store *st, uint32_t nslots);

static int grow(void **p, size_t *cap, size_t need, size_t elem, size_t max)
{
	return mt_grow(p, cap, need, elem, max);
}

struct mt_store *mt_store_new(void)
{
	struct mt_store *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	mt_store_forget_symbols(st);
	if (mt_symtab_init(&st->syms))
		goto fail;
	st->hc_slots = 1024;
	st->bx_mask = 63;
	st->hc = mt_table_new(st->hc_slots, sizeof *st->hc);
	st->bx = mt_table_new((size_t)st->bx_mask + 1, sizeof *st->bx);
	if (!st->hc || !st->bx)
		goto fail;
	if (mt_grow_fill((void **)&st->heap, &st->heap_cap, 1024, sizeof *st->heap,
			 MT_HEAP_MAX_WORDS) ||
	    grow((void **)&st->sheap, &st->sheap_cap, 1024, sizeof *st->sheap, MT_HEAP_MAX_WORDS))
		goto fail;
	st->heap[0] = 0;
	st->heap_len = 1;
	st->sheap[0] = 0;
	st->sheap_len = 1;
	for (size_t i = 0; i < sizeof wellknown_names / sizeof *wellknown_names; i++) {
		const char *n = wellknown_names[i];
		if (mt_sym_intern(st, n, strlen(n)) != i)
			goto fail;
	}
	return st;
fail:
	mt_store_free(st);
	return NULL;
}

void mt_store_free(struct mt_store *st)
{
	if (!st)
		return;
	mt_symtab_free(&st->syms);
	mt_array_free(st->heap);
	mt_array_free(st->hc);
	mt_array_free(st->boxes);
	mt_array_free(st->bx);
	mt_arena_release(&st->arena);
	mt_array_free(st->sheap);
	mt_array_free(st->sboxes);
	mt_array_free(st->sbytes);
	free(st);
}

size_t mt_store_bytes(const struct mt_store *st)
{
	return sizeof *st + mt_symtab_bytes(&st->syms) + st->heap_len * sizeof *st->heap +
	       (size_t)st->hc_slots * sizeof *st->hc + st->nboxes * sizeof *st->boxes +
	       ((size_t)st->bx_mask + 1) * sizeof *st->bx + mt_arena_bytes(&st->arena) +
	       st->sheap_len * sizeof *st->sheap + st->nsboxes * sizeof *st->sboxes +
	       st->sbytes_len;
}

/* Slots for `count` expressions after a growth: 80% load, and at least
 * half again the current count so that a run of small growths stays
 * geometric. */
static uint32_t hc_grown(const struct mt_store *st, uint64_t count)
{
	uint64_t n = mt_slots_for(count), half = (uint64_t)st->hc_slots + st->hc_slots / 2;
	if (n < half)
		n = half;
	return n > HC_MAX_SLOTS ? HC_MAX_SLOTS : (uint32_t)n;
}

void mt_store_reserve(struct mt_store *st, size_t exprs, size_t syms)
{
	/* A hash table's pages are all resident from the start (mt_populate),
	 * so an estimate too high costs its excess for good; too low costs a
	 * growth (old and new table live at once) once the count passes 85%
	 * of the slots. */
	uint64_t want = (uint64_t)st->hc_count + exprs;
	if (mt_slots_for(want) > st->hc_slots)
		hc_rehash(st, hc_grown(st, want));
	if (syms > MT_SYMTAB_MAX_IDS)
		syms = MT_SYMTAB_MAX_IDS;
	mt_symtab_reserve(&st->syms, (uint32_t)syms);
	/* The heap, at about 3.5 words an expression: a big array is a mapping
	 * whose untouched pages cost nothing, and growing it step by step
	 * copies it while the smaller copy still lives (a peak). */
	size_t words = st->heap_len + exprs / 2 * 7;
	if (words > MT_HEAP_MAX_WORDS)
		words = MT_HEAP_MAX_WORDS;
	mt_grow_fill((void **)&st->heap, &st->heap_cap, words, sizeof *st->heap, MT_HEAP_MAX_WORDS);
}

size_t mt_store_expr_count(const struct mt_store *st)
{
	return st->hc_count;
}

size_t mt_store_box_count(const struct mt_store *st)
{
	return st->nboxes;
}

/* ---- symbols ---- */

void mt_store_note_symbol(struct mt_store *st, uint32_t id)
{
	st->sym_recent_id[id % MT_SYM_RECENT] = id;
	st->sym_recent_born[id % MT_SYM_RECENT] = (uint32_t)st->heap_len;
}

void mt_store_forget_symbols(struct mt_store *st)
{
	memset(st->sym_recent_id, 0xff, sizeof st->sym_recent_id);
}

uint32_t mt_sym_intern(struct mt_store *st, const char *name, size_t len)
{
	int created;
	return mt_store_intern(st, name, len, mt_symtab_hash(name, len), &created);
}

uint32_t mt_sym_find(const struct mt_store *st, const char *name, size_t len)
{
	return mt_symtab_find(&st->syms, name, len, mt_symtab_hash(name, len));
}

const char *mt_sym_name(const struct mt_store *st, uint32_t id, size_t *len)
{
	return mt_symtab_name(&st->syms, id, len);
}

uint32_t mt_sym_count(const struct mt_store *st)
{
	return st->syms.count;
}

/* ---- expressions ---- */

static int hc_rehash(struct mt_store *st, uint32_t nslots)
{
	uint32_t *slots = mt_table_new(nslots, sizeof *slots);
	if (!slots)
		return -1;
	KBPROF_REGION_BEGIN("intern");
	/* Every expression is in the old table or the pending ring (the heap
	 * cannot be walked: compact records have no header). */
	for (size_t i = 0; i < st->hc_slots; i++) {
		uint32_t s = st->hc[i];
		if (!s)
			continue;
		uint32_t p = s >> MT_TAG_BITS, hdr = mt_store_hdr_of(st, p);
		mt_hc_insert(slots, nslots,
			     mt_expr_hash(hdr, mt_store_args_of(st, p), mt_hdr_arity(hdr)), p);
	}
	for (uint32_t j = 0; j < MT_HC_PENDING; j++)
		if (st->pend_pos[j])
			mt_hc_insert(slots, nslots, st->pend_hash[j], st->pend_pos[j]);
	mt_array_free(st->hc);
	st->hc = slots;
	st->hc_slots = nslots;
	memset(st->pend_pos, 0, sizeof st->pend_pos);
	KBPROF_REGION_END("intern");
	return 0;
}

static inline int words_equal(const uint32_t *a, const mt_term *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* 1 if the expression with payload p is (hdr, args). */
static inline int rec_equal(const struct mt_store *st, uint32_t p, uint32_t hdr,
			    const mt_term *args, uint32_t arity)
{
	const uint32_t *heap = st->heap;
	if (p & MT_XC_BIT) {
		const uint32_t *w = heap + (p & MT_XC_OFF);
		return hdr == mt_store_hdr_of(st, p) && w[0] == args[0] && w[1] == args[1] &&
		       (arity == 2 || w[2] == args[2]);
	}
	return heap[p] == hdr && words_equal(heap + p + 1, args, arity);
}

/* The earliest heap position an expression with these children can have. */
static inline size_t youngest_child(const struct mt_store *st, const mt_term *args, uint32_t arity)
{
	size_t t = 1;
	for (uint32_t i = 0; i < arity; i++) {
		mt_term c = args[i];
		size_t b = 0;
		if (mt_tag(c) == MT_EXPR)
			b = mt_store_off(c);
		else if (mt_tag(c) == MT_SYM &&
			 st->sym_recent_id[mt_payload(c) % MT_SYM_RECENT] == mt_payload(c))
			b = st->sym_recent_born[mt_payload(c) % MT_SYM_RECENT];
		if (b > t)
			t = b;
	}
	return t;
}

/* Finds an expression among those whose record starts at `from` or later
 * (at most MT_SCAN_WORDS words back, so all in the ring of the newest).
 * Returns MT_NONE when it is not there. */
static mt_term scan_tail(const struct mt_store *st, size_t from, uint32_t hdr, const mt_term *args)
{
	uint32_t arity = mt_hdr_arity(hdr);
	for (uint32_t k = 1; k <= MT_RECENT; k++) {
		uint32_t p = st->recent[(st->recent_head - k) % MT_RECENT];
		if (!p || mt_store_off(mt_make(MT_EXPR, p)) < from)
			break;
		if (rec_equal(st, p, hdr, args, arity))
			return mt_make(MT_EXPR, p);
	}
	return MT_NONE;
}

static mt_term hc_lookup(const struct mt_store *st, uint32_t hdr, const mt_term *args, uint64_t h,
			 uint32_t *slot)
{
	uint32_t arity = mt_hdr_arity(hdr), tag = HC_TAG(h), nslots = st->hc_slots;
	const uint32_t *hc = st->hc;
	uint32_t i = mt_slot_home(h, nslots);
	for (;; i = i + 1 == nslots ? 0 : i + 1) {
		uint32_t s = hc[i];
		if (!s)
			break;
		if ((s & MT_TAG_MASK) != tag)
			continue;
		uint32_t p = s >> MT_TAG_BITS;
		if (rec_equal(st, p, hdr, args, arity))
			return mt_make(MT_EXPR, p);
	}
	*slot = i;
	/* not in the table: maybe still waiting in the pending ring (a slot
	 * there is free when its position is 0) */
	unsigned hit = 0;
	for (uint32_t j = 0; j < MT_HC_PENDING; j++)
		hit |= (unsigned)(st->pend_hash[j] == h) << j;
	while (hit) {
		uint32_t j = (uint32_t)__builtin_ctz(hit);
		uint32_t p = st->pend_pos[j];
		hit &= hit - 1;
		if (p && rec_equal(st, p, hdr, args, arity))
			return mt_make(MT_EXPR, p);
	}
	return MT_NONE;
}

mt_term mt_store_expr(struct mt_store *st, uint32_t hdr, const mt_term *args, int known_new,
		      int *created)
{
	uint32_t arity = mt_hdr_arity(hdr);
	uint64_t h = mt_expr_hash(hdr, args, arity);
	uint32_t i = 0;
	if (!known_new) {
		size_t from = youngest_child(st, args, arity);
		mt_term found;
		if (st->heap_len - from <= MT_SCAN_WORDS) {
			/* absent from the tail means absent: insert as new */
			found = scan_tail(st, from, hdr, args);
			known_new = found == MT_NONE;
		} else {
			found = hc_lookup(st, hdr, args, h, &i);
		}
		if (found != MT_NONE) {
			*created = 0;
			return found;
		}
	}
	if (st->hc_count + 3 >= st->hc_slots)
		return MT_NONE; /* the table is full and could not grow */
	int compact = (arity == 3 || arity == 2) && st->heap_len + 3 <= (size_t)MT_XC_OFF + 1;
	size_t need = st->heap_len + (compact ? arity : 1 + (size_t)arity);
	if (need > st->heap_cap) {
		/* args may point into the heap itself (a caller rebuilding from
		 * mt_expr_args): keep it valid across the move */
		const uint32_t *old = st->heap;
		int inside = args >= old && args < old + st->heap_len;
		size_t off = inside ? (size_t)(args - old) : 0;
		if (mt_grow_fill((void **)&st->heap, &st->heap_cap, need, sizeof *st->heap,
				 MT_HEAP_MAX_WORDS))
			return MT_NONE;
		if (inside)
			args = st->heap + off;
	}
	size_t p = st->heap_len;
	uint32_t *dst = st->heap + p;
	uint32_t payload = (uint32_t)p;
	if (compact) {
		payload = MT_XC_BIT | (hdr & MT_HDR_GROUND) << 3 | (uint32_t)p |
			  (arity == 2 ? MT_XC_TWO : 0);
		dst[0] = args[0];
		dst[1] = args[1];
		if (arity == 3)
			dst[2] = args[2];
	} else if (arity <= 4) {
		dst[0] = hdr;
		switch (arity) {
		case 4:
			dst[4] = args[3];
			/* fall through */
		case 3:
			dst[3] = args[2];
			/* fall through */
		case 2:
			dst[2] = args[1];
			/* fall through */
		case 1:
			dst[1] = args[0];
			/* fall through */
		default:
			break;
		}
	} else {
		dst[0] = hdr;
		memcpy(dst + 1, args, (size_t)arity * sizeof *args);
	}
	st->heap_len = need;
	if (known_new) {
		mt_store_record_new(st, payload, h);
	} else {
		st->recent[st->recent_head % MT_RECENT] = payload;
		st->recent_head++;
		st->hc[i] = payload << MT_TAG_BITS | HC_TAG(h);
		st->hc_count++;
	}
	/* a failed growth is not fatal: the table only gets fuller, and the
	 * check above refuses new expressions before it is full */
	if (st->hc_count > mt_slots_limit(st->hc_slots) && st->hc_slots < HC_MAX_SLOTS)
		hc_rehash(st, hc_grown(st, st->hc_count));
	*created = 1;
	return mt_make(MT_EXPR, payload);
}

static uint32_t child_ground(const struct mt_store *st, mt_term c)
{
	switch (mt_tag(c)) {
	case MT_VAR:
		return 0;
	case MT_EXPR:
	case MT_TEXPR:
		return mt_store_hdr(st, c) & MT_HDR_GROUND;
	default:
		return MT_HDR_GROUND;
	}
}

static uint32_t make_header(const struct mt_store *st, const mt_term *args, uint32_t arity)
{
	uint32_t g = MT_HDR_GROUND;
	for (uint32_t i = 0; i < arity && g; i++)
		g = child_ground(st, args[i]);
	return arity | g;
}

mt_term mt_expr(struct mt_store *st, const mt_term *args, uint32_t arity)
{
	if (arity > MT_HDR_ARITY_MASK)
		return MT_NONE;
	for (uint32_t i = 0; i < arity; i++)
		if (mt_is_scratch(args[i]) || mt_tag(args[i]) > MT_TBOX)
			return MT_NONE;
	int created;
	return mt_store_expr(st, make_header(st, args, arity), args, 0, &created);
}

mt_term mt_texpr(struct mt_store *st, const mt_term *args, uint32_t arity)
{
	if (arity > MT_HDR_ARITY_MASK)
		return MT_NONE;
	uint32_t hdr = make_header(st, args, arity);
	size_t need = st->sheap_len + 1 + (size_t)arity;
	if (need > st->sheap_cap) {
		const uint32_t *old = st->sheap;
		int inside = args >= old && args < old + st->sheap_len;
		size_t off = inside ? (size_t)(args - old) : 0;
		if (grow((void **)&st->sheap, &st->sheap_cap, need, sizeof *st->sheap,
			 MT_HEAP_MAX_WORDS))
			return MT_NONE;
		if (inside)
			args = st->sheap + off;
	}
	size_t p = st->sheap_len;
	st->sheap[p] = hdr;
	if (arity)
		memcpy(st->sheap + p + 1, args, (size_t)arity * sizeof *args);
	st->sheap_len = need;
	return mt_make(MT_TEXPR, (uint32_t)p);
}

/* ---- boxes ---- */

static uint64_t box_hash(uint32_t kind, const void *bytes, size_t len)
{
	return XXH3_64bits_withSeed(bytes, len, kind);
}

static const void *box_bytes(const struct mt_store *st, const struct mt_box *b, int scratch,
			     size_t *len)
{
	if (b->kind == MT_BOX_STRING) {
		*len = b->len;
		return scratch ? st->sbytes + b->v.off : b->v.s;
	}
	*len = sizeof b->v.i;
	return &b->v;
}

static int bx_rehash(struct mt_store *st, uint32_t new_mask)
{
	uint32_t *slots = mt_table_new((size_t)new_mask + 1, sizeof *slots);
	if (!slots)
		return -1;
	for (uint32_t k = 0; k < st->nboxes; k++) {
		uint64_t h = st->boxes[k].hash;
		uint32_t i = (uint32_t)h & new_mask;
		while (slots[i])
			i = (i + 1) & new_mask;
		slots[i] = (k + 1) << MT_TAG_BITS;
	}
	mt_array_free(st->bx);
	st->bx = slots;
	st->bx_mask = new_mask;
	return 0;
}

/* Finds a persistent box equal to (kind, bytes); sets *slot to the free
 * slot where it would go when absent. */
static mt_term bx_lookup(const struct mt_store *st, uint32_t kind, const void *bytes, size_t len,
			 uint32_t hash, uint32_t *slot)
{
	uint32_t mask = st->bx_mask;
	uint32_t i = hash & mask;
	for (;; i = (i + 1) & mask) {
		uint32_t s = st->bx[i];
		if (!s)
			break;
		uint32_t k = (s >> MT_TAG_BITS) - 1;
		const struct mt_box *b = &st->boxes[k];
		if (b->hash != hash || b->kind != kind)
			continue;
		size_t blen;
		const void *bb = box_bytes(st, b, 0, &blen);
		if (blen == len && memcmp(bb, bytes, len) == 0)
			return mt_make(MT_BOX, k);
	}
	*slot = i;
	return MT_NONE;
}

static mt_term box_new(struct mt_store *st, uint32_t kind, const void *bytes, size_t len,
		       int scratch)
{
	if (scratch) {
		if (grow((void **)&st->sboxes, &st->sboxes_cap, st->nsboxes + 1, sizeof *st->sboxes,
			 MT_PAYLOAD_MAX))
			return MT_NONE;
		struct mt_box *b = &st->sboxes[st->nsboxes];
		b->kind = kind;
		b->hash = 0;
		b->len = 0;
		if (kind == MT_BOX_STRING) {
			if (len > SIZE_MAX / 2 - st->sbytes_len - 1 ||
			    grow((void **)&st->sbytes, &st->sbytes_cap, st->sbytes_len + len + 1, 1,
				 SIZE_MAX / 2))
				return MT_NONE;
			if (len)
				memcpy(st->sbytes + st->sbytes_len, bytes, len);
			st->sbytes[st->sbytes_len + len] = '\0';
			b->v.off = st->sbytes_len;
			b->len = len;
			st->sbytes_len += len + 1;
		} else {
			memcpy(&b->v, bytes, sizeof b->v.i);
		}
		return mt_make(MT_TBOX, (uint32_t)st->nsboxes++);
	}
	uint32_t hash = (uint32_t)box_hash(kind, bytes, len), slot;
	mt_term found = bx_lookup(st, kind, bytes, len, hash, &slot);
	if (found != MT_NONE)
		return found;
	size_t cap = st->boxes_cap;
	if (grow((void **)&st->boxes, &cap, (size_t)st->nboxes + 1, sizeof *st->boxes,
		 MT_PAYLOAD_MAX - 1))
		return MT_NONE;
	st->boxes_cap = (uint32_t)cap;
	struct mt_box *b = &st->boxes[st->nboxes];
	b->kind = kind;
	b->hash = hash;
	b->len = 0;
	if (kind == MT_BOX_STRING) {
		char *s = mt_arena_alloc(&st->arena, len + 1, 1);
		if (!s)
			return MT_NONE;
		if (len)
			memcpy(s, bytes, len);
		s[len] = '\0';
		b->v.s = s;
		b->len = len;
	} else {
		memcpy(&b->v, bytes, sizeof b->v.i);
	}
	uint32_t k = st->nboxes++;
	st->bx[slot] = (k + 1) << MT_TAG_BITS;
	if ((size_t)st->nboxes * 4 > ((size_t)st->bx_mask + 1) * 3 &&
	    bx_rehash(st, st->bx_mask * 2 + 1) && st->nboxes + 1 > st->bx_mask) {
		st->bx[slot] = 0;
		st->nboxes--;
		return MT_NONE;
	}
	return mt_make(MT_BOX, k);
}

mt_term mt_int(struct mt_store *st, int64_t v, int scratch)
{
	if (mt_small_int_fits(v))
		return mt_small_int(v);
	return box_new(st, MT_BOX_INT, &v, sizeof v, scratch);
}

mt_term mt_float(struct mt_store *st, double v, int scratch)
{
	return box_new(st, MT_BOX_FLOAT, &v, sizeof v, scratch);
}

mt_term mt_string(struct mt_store *st, const char *bytes, size_t len, int scratch)
{
	return box_new(st, MT_BOX_STRING, bytes, len, scratch);
}

/* ---- reading ---- */

uint32_t mt_expr_header(const struct mt_store *st, mt_term t)
{
	return mt_store_hdr(st, t);
}

uint32_t mt_expr_arity(const struct mt_store *st, mt_term t)
{
	return mt_hdr_arity(mt_store_hdr(st, t));
}

const mt_term *mt_expr_args(const struct mt_store *st, mt_term t)
{
	return mt_store_args(st, t);
}

int mt_is_ground(const struct mt_store *st, mt_term t)
{
	return child_ground(st, t) != 0;
}

enum mt_box_kind mt_box_kind(const struct mt_store *st, mt_term t)
{
	return (enum mt_box_kind)mt_store_box(st, t)->kind;
}

int mt_int_value(const struct mt_store *st, mt_term t, int64_t *v)
{
	if (mt_tag(t) == MT_INT) {
		*v = mt_small_int_value(t);
		return 1;
	}
	if (!mt_is_box(t) || mt_store_box(st, t)->kind != MT_BOX_INT)
		return 0;
	*v = mt_store_box(st, t)->v.i;
	return 1;
}

int mt_float_value(const struct mt_store *st, mt_term t, double *v)
{
	if (!mt_is_box(t) || mt_store_box(st, t)->kind != MT_BOX_FLOAT)
		return 0;
	*v = mt_store_box(st, t)->v.f;
	return 1;
}

const char *mt_str_value(const struct mt_store *st, mt_term t, size_t *len)
{
	if (!mt_is_box(t))
		return NULL;
	const struct mt_box *b = mt_store_box(st, t);
	if (b->kind != MT_BOX_STRING)
		return NULL;
	if (len)
		*len = b->len;
	return mt_tag(t) == MT_BOX ? b->v.s : st->sbytes + b->v.off;
}

/* ---- persist, find, equal: explicit-stack traversals ---- */

/* A frame of a post-order walk over a scratch expression: `next` is the
 * next child to visit; the finished children are on the output stack from
 * `base` on. */
struct walk_frame {
	mt_term src;
	uint32_t next;
	size_t base;
};

struct walk {
	struct walk_frame *frames;
	size_t nframes, frames_cap;
	mt_term *out;
	size_t nout, out_cap;
};

static int walk_push_out(struct walk *w, mt_term t)
{
	if (grow((void **)&w->out, &w->out_cap, w->nout + 1, sizeof *w->out, SIZE_MAX / 8))
		return -1;
	w->out[w->nout++] = t;
	return 0;
}

static void walk_free(struct walk *w)
{
	mt_array_free(w->frames);
	mt_array_free(w->out);
}

/* Persistent equivalent of a scratch box: created (create=1) or looked up. */
static mt_term box_to_persistent(struct mt_store *st, mt_term t, int create)
{
	const struct mt_box *b = &st->sboxes[mt_payload(t)];
	size_t len;
	const void *bytes = box_bytes(st, b, 1, &len);
	if (create) {
		/* bytes may live in sbytes, which box_new never touches for a
		 * persistent box, so the pointer stays valid */
		return box_new(st, b->kind, bytes, len, 0);
	}
	uint32_t slot;
	return bx_lookup(st, b->kind, bytes, len, (uint32_t)box_hash(b->kind, bytes, len), &slot);
}

/* Shared by persist (create=1) and find (create=0). */
static mt_term to_persistent(struct mt_store *st, mt_term t, int create)
{
	if (!mt_is_scratch(t))
		return t;
	if (mt_tag(t) == MT_TBOX)
		return box_to_persistent(st, t, create);
	struct walk w = {0};
	mt_term result = MT_NONE;
	if (grow((void **)&w.frames, &w.frames_cap, 1, sizeof *w.frames, SIZE_MAX / 32))
		goto out;
	w.frames[w.nframes++] = (struct walk_frame){t, 0, 0};
	while (w.nframes) {
		struct walk_frame *f = &w.frames[w.nframes - 1];
		const uint32_t *words = st->sheap + mt_payload(f->src);
		uint32_t arity = mt_hdr_arity(words[0]);
		if (f->next < arity) {
			mt_term c = words[1 + f->next++];
			if (mt_tag(c) == MT_TEXPR) {
				if (grow((void **)&w.frames, &w.frames_cap, w.nframes + 1,
					 sizeof *w.frames, SIZE_MAX / 32))
					goto out;
				w.frames[w.nframes++] = (struct walk_frame){c, 0, w.nout};
				continue;
			}
			if (mt_tag(c) == MT_TBOX)
				c = box_to_persistent(st, c, create);
			if (c == MT_NONE || walk_push_out(&w, c))
				goto out;
			continue;
		}
		/* all children done: build (or find) this expression (with no
		 * children yet, out is still NULL: `()` alone) */
		static const mt_term no_args[1];
		const mt_term *args = w.out ? w.out + f->base : no_args;
		uint32_t hdr = make_header(st, args, arity);
		mt_term e;
		if (create) {
			int created;
			e = mt_store_expr(st, hdr, args, 0, &created);
		} else {
			uint32_t slot;
			e = hc_lookup(st, hdr, args, mt_expr_hash(hdr, args, arity), &slot);
		}
		if (e == MT_NONE)
			goto out;
		w.nout = f->base;
		w.nframes--;
		if (w.nframes == 0) {
			result = e;
			break;
		}
		if (walk_push_out(&w, e))
			goto out;
	}
out:
	walk_free(&w);
	return result;
}

mt_term mt_term_persist(struct mt_store *st, mt_term t)
{
	return to_persistent(st, t, 1);
}

mt_term mt_term_find(const struct mt_store *st, mt_term t)
{
	/* find never writes to the store: the cast only shares code with
	 * persist, whose create=0 path does not modify anything */
	return to_persistent((struct mt_store *)st, t, 0);
}

static int box_equal(const struct mt_store *st, mt_term a, mt_term b)
{
	const struct mt_box *x = mt_store_box(st, a), *y = mt_store_box(st, b);
	if (x->kind != y->kind)
		return 0;
	size_t la, lb;
	const void *pa = box_bytes(st, x, mt_tag(a) == MT_TBOX, &la);
	const void *pb = box_bytes(st, y, mt_tag(b) == MT_TBOX, &lb);
	return la == lb && memcmp(pa, pb, la) == 0;
}

int mt_term_equal(const struct mt_store *st, mt_term a, mt_term b)
{
	if (a == b)
		return 1;
	if (!mt_is_scratch(a) && !mt_is_scratch(b))
		return 0;
	/* pairs still to compare */
	mt_term small[64];
	mt_term *stack = small;
	size_t n = 0, cap = 64;
	int equal = 1;
	stack[n++] = a;
	stack[n++] = b;
	while (n && equal) {
		mt_term y = stack[--n], x = stack[--n];
		if (x == y)
			continue;
		if (!mt_is_scratch(x) && !mt_is_scratch(y)) {
			equal = 0;
			break;
		}
		if (mt_is_box(x) && mt_is_box(y)) {
			equal = box_equal(st, x, y);
			continue;
		}
		if (!mt_is_expr(x) || !mt_is_expr(y)) {
			equal = 0;
			break;
		}
		const mt_term *wx = mt_store_args(st, x), *wy = mt_store_args(st, y);
		uint32_t arity = mt_hdr_arity(mt_store_hdr(st, x));
		if (arity != mt_hdr_arity(mt_store_hdr(st, y))) {
			equal = 0;
			break;
		}
		if (n + 2 * (size_t)arity > cap) {
			size_t ncap = cap;
			while (n + 2 * (size_t)arity > ncap)
				ncap *= 2;
			mt_term *p = stack == small ? malloc(ncap * sizeof *p)
						    : realloc(stack, ncap * sizeof *p);
			if (!p) {
				/* cannot finish: report "not equal" rather than crash */
				equal = 0;
				break;
			}
			if (stack == small)
				memcpy(p, small, n * sizeof *p);
			stack = p;
			cap = ncap;
		}
		for (uint32_t i = arity; i-- > 0;) {
			stack[n++] = wx[i];
			stack[n++] = wy[i];
		}
	}
	if (stack != small)
		free(stack);
	return equal;
}

/* ---- scratch heap ---- */

struct mt_scratch_mark mt_scratch_mark(const struct mt_store *st)
{
	return (struct mt_scratch_mark){st->sheap_len, st->nsboxes, st->sbytes_len};
}

void mt_scratch_release(struct mt_store *st, struct mt_scratch_mark mark)
{
	if (mark.words >= 1 && mark.words <= st->sheap_len)
		st->sheap_len = mark.words;
	if (mark.boxes <= st->nsboxes)
		st->nsboxes = mark.boxes;
	if (mark.bytes <= st->sbytes_len)
		st->sbytes_len = mark.bytes;
}
