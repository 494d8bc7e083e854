/* store_impl: the layout of struct mt_store, shared by the core's own
 * modules (store.c, print.c, parse.c, space.c, textio.c) and nobody else.
 * Everything outside core/ goes through term.h.
 *
 * Persistent heap: `heap` is a flat array of 32-bit words; word 0 is
 * reserved so that no expression has payload 0 (a lookup slot of 0 means
 * empty). An expression of arity 2 or 3 whose record starts below 2^26 is
 * "compact": its record is its children, and its handle's payload holds
 * MT_XC_BIT, the ground flag (MT_XC_GROUND), MT_XC_TWO for arity 2 and the
 * record's offset.
 * Any other expression's record is a header word (arity | MT_HDR_GROUND)
 * followed by its children, and its payload is the record's offset (below
 * 2^28). Records are not self-describing, so the heap is never walked
 * word by word: `recent` keeps the newest expressions for the tail scan.
 * Expressions are hash-consed through `hc`, an open-addressing table of
 * 32-bit slots holding (payload << 3 | 3 hash bits); it has any number of
 * slots (mt_slot_home), kept at 80-85% load.
 *
 * Boxes: `boxes` holds every persistent boxed value (hash-consed through
 * `bx`, slots of (index + 1) << 3 | 3 hash bits); their strings live in
 * `arena`. Scratch boxes keep strings in `sbytes` (offsets, since that
 * buffer moves when it grows).
 *
 * Owner: the store owns all of it; mt_store_free() releases it. */
#ifndef MT_STORE_IMPL_H
#define MT_STORE_IMPL_H

#include "core/arena.h"
#include "core/symtab.h"
#include "core/term.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#define MT_HC_PENDING 16
/* a look-up scans the newest expressions instead of probing the table when
 * every child is younger than the last MT_SCAN_WORDS heap words; each
 * expression takes at least one word, so the ring holds all of them */
#define MT_SCAN_WORDS 128u
#define MT_RECENT 128u
#define MT_SYM_RECENT 256u

struct mt_box {
	uint32_t kind; /* enum mt_box_kind */
	uint32_t hash; /* low 32 bits of the value's hash (persistent boxes) */
	size_t len;    /* string length in bytes */
	union {
		int64_t i;
		double f;
		const char *s; /* persistent string: in the arena, NUL-terminated */
		size_t off;    /* scratch string: offset in sbytes */
	} v;
};

struct mt_store {
	struct mt_symtab syms;
	/* A two-thread parse's lexer writes syms while the builder writes the
	 * rest: keep them on different cache lines (malloc aligns to 16). */
	char syms_apart[64];

	uint32_t *heap; /* persistent expressions */
	size_t heap_len, heap_cap;
	uint32_t *hc; /* hash-consing slots */
	uint32_t hc_slots;
	size_t hc_count; /* expressions, pending ones included */
	/* Expressions known to be new wait here, their slot prefetched, before
	 * they go into hc: inserting them at once would stall on a cache miss
	 * per expression. Look-ups check this ring too. */
	uint64_t pend_hash[MT_HC_PENDING];
	uint32_t pend_pos[MT_HC_PENDING]; /* payload, 0 = free */
	uint32_t pend_head;
	/* payloads of the newest expressions, a circle; 0 = none yet */
	uint32_t recent[MT_RECENT];
	uint32_t recent_head;

	/* heap length when each of the newest symbols was created: no
	 * expression holding the symbol can sit before it (see mt_store_expr).
	 * Slot id % MT_SYM_RECENT holds (id, birth); a symbol not there counts
	 * as old, which only sends its look-ups to the table. */
	uint32_t sym_recent_id[MT_SYM_RECENT]; /* UINT32_MAX: none */
	uint32_t sym_recent_born[MT_SYM_RECENT];

	struct mt_box *boxes;
	uint32_t nboxes, boxes_cap;
	uint32_t *bx;
	uint32_t bx_mask;
	struct mt_arena arena;

	uint32_t *sheap; /* scratch expressions; word 0 reserved */
	size_t sheap_len, sheap_cap;
	struct mt_box *sboxes;
	size_t nsboxes, sboxes_cap;
	char *sbytes;
	size_t sbytes_len, sbytes_cap;
};

#define MT_HEAP_MAX_WORDS ((size_t)1 << 28)

/* 64 x 64 -> 128-bit multiply, folded: both halves of the product. */
static inline uint64_t mt_mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* Hash of an expression's words. The key is a short run of 32-bit words:
 * header and first child, second and third child, each pair a 64-bit lane,
 * and one folded 128-bit multiply of the two lanes (wyhash's mix) hashes
 * the common arities 2 and 3. A long chain of 64-bit multiplies (xxh64's
 * rounds and avalanche, used before) took about 30 cycles of latency,
 * which the builder waited for at each expression's insertion; this is
 * about 7. Longer expressions fold each further pair in the same way.
 * A header is below 2^25 (arity, ground bit) and s0's high half is not,
 * so the first lane is never zero after the xor. Not persisted: images hash
 * their own way. */
static inline uint64_t mt_expr_hash(uint32_t hdr, const mt_term *args, uint32_t arity)
{
	const uint64_t s0 = 0xa0761d6478bd642fULL, s1 = 0xe7037ed1a0b428dbULL,
		       s2 = 0x8ebc6af09c88c6e3ULL, s3 = 0x589965cc75374cc3ULL;
	uint64_t a = (uint64_t)hdr << 32 | (arity ? args[0] : 0);
	uint64_t b = arity > 1 ? args[1] | (arity > 2 ? (uint64_t)args[2] << 32 : 0) : 0;
	uint64_t h = mt_mum(a ^ s0, b ^ s1);
	for (uint32_t i = 3; i < arity; i += 2) {
		uint64_t c = args[i] | (i + 1 < arity ? (uint64_t)args[i + 1] << 32 : 0);
		h ^= mt_mum(h ^ s2, c ^ s3);
	}
	/* the home slot takes the low 32 bits: fold the high ones in (keys
	 * that differ by a small step in one child, like a run of heap
	 * offsets, otherwise crowd some slots: up to 16 of 65,536 keys in one
	 * of 65,536 slots, against at most 9 with the fold) */
	return h ^ h >> 29 ^ h >> 47;
}

/* Builds a persistent expression whose header `hdr` (arity and ground flag)
 * the caller computed. An expression can only sit in the heap after all
 * its children were born (a symbol's birth is the heap length when it was
 * created); when the youngest child is recent, the look-up scans that
 * short, cache-hot tail of the heap instead of probing the table. If `known_new` is set the caller
 * guarantees that no equal expression exists (a child was created by this very construction), so
 * the look-up is skipped and only the insertion remains. Sets *created when the expression is new.
 * Returns MT_NONE if memory runs out or the heap is full. */
mt_term mt_store_expr(struct mt_store *st, uint32_t hdr, const mt_term *args, int known_new,
		      int *created);

/* Records the birth of a new symbol. */
void mt_store_note_symbol(struct mt_store *st, uint32_t id);
/* Forgets every birth: the symbols count as old. */
void mt_store_forget_symbols(struct mt_store *st);

/* Interns a symbol from bytes whose hash is known (the parser's path). */
static inline __attribute__((always_inline)) uint32_t
mt_store_intern(struct mt_store *st, const char *name, size_t len, uint64_t hash, int *created)
{
	uint32_t id = mt_symtab_intern(&st->syms, name, len, hash, created);
	if (*created && id != UINT32_MAX)
		mt_store_note_symbol(st, id);
	return id;
}

/* Heap offset of a persistent expression's record (term.h). */
static inline uint32_t mt_store_off(mt_term t)
{
	return mt_expr_order(t);
}

/* Header (arity | MT_HDR_GROUND) of a persistent expression's payload. */
static inline uint32_t mt_store_hdr_of(const struct mt_store *st, uint32_t p)
{
	return p & MT_XC_BIT ? (3u - ((p & MT_XC_TWO) >> 26)) | (p & MT_XC_GROUND) >> 3
			     : st->heap[p];
}

static inline const mt_term *mt_store_args_of(const struct mt_store *st, uint32_t p)
{
	return p & MT_XC_BIT ? st->heap + (p & MT_XC_OFF) : st->heap + p + 1;
}

/* Header of a persistent or scratch expression handle. */
static inline uint32_t mt_store_hdr(const struct mt_store *st, mt_term t)
{
	return mt_tag(t) == MT_EXPR ? mt_store_hdr_of(st, mt_payload(t)) : st->sheap[mt_payload(t)];
}

/* Its children: mt_hdr_arity(mt_store_hdr(st, t)) handles in a row. */
static inline const mt_term *mt_store_args(const struct mt_store *st, mt_term t)
{
	return mt_tag(t) == MT_EXPR ? mt_store_args_of(st, mt_payload(t))
				    : st->sheap + mt_payload(t) + 1;
}

static inline const struct mt_box *mt_store_box(const struct mt_store *st, mt_term t)
{
	return mt_tag(t) == MT_BOX ? &st->boxes[mt_payload(t)] : &st->sboxes[mt_payload(t)];
}

/* ---- inserting a new expression (store.c, and the parser's fast path) ---- */

#define MT_HC_TAG(h) ((uint32_t)((h) >> 61))

/* Puts payload p (hash h) in the first free slot from its home (the first
 * four at once: mt_empty4). */
static inline void mt_hc_insert(uint32_t *hc, uint32_t nslots, uint64_t h, uint32_t p)
{
	uint32_t i = mt_slot_home(h, nslots);
#if defined(__SSE2__)
	if (i + 4 <= nslots) {
		unsigned free4 = mt_empty4(hc + i);
		if (free4) {
			hc[i + (uint32_t)__builtin_ctz(free4)] = (p << MT_TAG_BITS) | MT_HC_TAG(h);
			return;
		}
		i += 4;
		if (i == nslots)
			i = 0;
	}
#endif
	while (hc[i])
		i = i + 1 == nslots ? 0 : i + 1;
	hc[i] = (p << MT_TAG_BITS) | MT_HC_TAG(h);
}

/* Records an expression just written at the end of the heap, known to be
 * new, with hash h: it joins the newest expressions, and waits in the
 * pending ring, its slot prefetched, until MT_HC_PENDING more have come;
 * the oldest one there goes into the table. The caller grows the table
 * when the count passes its limit. */
static inline __attribute__((always_inline)) void mt_store_record_new(struct mt_store *st,
								      uint32_t payload, uint64_t h)
{
	__builtin_prefetch(&st->hc[mt_slot_home(h, st->hc_slots)], 1);
	st->recent[st->recent_head % MT_RECENT] = payload;
	st->recent_head++;
	/* the ring is a circle of MT_HC_PENDING slots; the one at pend_head
	 * is the oldest and is the one reused */
	uint32_t j = st->pend_head;
	if (st->pend_pos[j])
		mt_hc_insert(st->hc, st->hc_slots, st->pend_hash[j], st->pend_pos[j]);
	st->pend_hash[j] = h;
	st->pend_pos[j] = payload;
	st->pend_head = (j + 1) % MT_HC_PENDING;
	st->hc_count++;
}

/* mt_store_expr(st, hdr, args, 1, ...) for the parser's commonest case,
 * inlined where the parser closes an expression: arity 2 or 3, known to
 * be new (a child was just created), with room in the heap and in the
 * table. Any other case goes to mt_store_expr. */
static inline __attribute__((always_inline)) mt_term
mt_store_expr_new(struct mt_store *st, uint32_t hdr, const mt_term *args)
{
	uint32_t arity = mt_hdr_arity(hdr);
	size_t p = st->heap_len;
	if ((arity != 2 && arity != 3) || p + 3 > st->heap_cap || p + 3 > (size_t)MT_XC_OFF + 1 ||
	    st->hc_count + 1 > mt_slots_limit(st->hc_slots)) {
		int created;
		return mt_store_expr(st, hdr, args, 1, &created);
	}
	uint64_t h = mt_expr_hash(hdr, args, arity);
	uint32_t *dst = st->heap + p;
	dst[0] = args[0];
	dst[1] = args[1];
	if (arity == 3)
		dst[2] = args[2];
	st->heap_len = p + arity;
	uint32_t payload =
	    MT_XC_BIT | (hdr & MT_HDR_GROUND) << 3 | (uint32_t)p | (arity == 2 ? MT_XC_TWO : 0);
	mt_store_record_new(st, payload, h);
	return mt_make(MT_EXPR, payload);
}

#endif
