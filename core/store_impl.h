/* store_impl: the layout of struct mt_store, shared by the core's own
 * modules (store.c, print.c, parse.c, space.c, textio.c) and nobody else.
 * Everything outside core/ goes through term.h.
 *
 * Persistent heap: `heap` is a flat array of 32-bit words; word 0 is
 * reserved so that no expression has payload 0 (a lookup slot of 0 means
 * empty). Expressions are hash-consed through `hc`, an open-addressing
 * table of 32-bit slots holding (payload << 3 | 3 hash bits).
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

	uint32_t *heap; /* persistent expressions */
	size_t heap_len, heap_cap;
	uint32_t *hc; /* hash-consing slots */
	uint32_t hc_mask;
	size_t hc_count;

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

#define MT_HEAP_MAX_WORDS ((size_t)MT_PAYLOAD_MAX + 1)

static inline uint64_t mt_expr_hash(uint32_t hdr, const mt_term *args, uint32_t arity)
{
	return XXH3_64bits_withSeed(args, (size_t)arity * sizeof *args, hdr);
}

/* Builds a persistent expression whose header `hdr` (arity and ground flag)
 * the caller computed. If `known_new` is set the caller guarantees that no
 * equal expression exists (a child was created by this very construction),
 * so the look-up is skipped and only the insertion remains. Sets *created
 * when the expression is new. Returns MT_NONE if memory runs out or the
 * heap is full. */
mt_term mt_store_expr(struct mt_store *st, uint32_t hdr, const mt_term *args, int known_new,
		      int *created);

/* Header word of a persistent or scratch expression handle. */
static inline const uint32_t *mt_store_words(const struct mt_store *st, mt_term t)
{
	return mt_tag(t) == MT_EXPR ? st->heap + mt_payload(t) : st->sheap + mt_payload(t);
}

static inline const struct mt_box *mt_store_box(const struct mt_store *st, mt_term t)
{
	return mt_tag(t) == MT_BOX ? &st->boxes[mt_payload(t)] : &st->sboxes[mt_payload(t)];
}

#endif
