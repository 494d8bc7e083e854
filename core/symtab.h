/* symtab: the symbol table behind mt_sym_* (internal to core/).
 *
 * Interns byte strings to dense ids 0..n-1. Names live in chunks as
 * [length prefix][bytes], with no terminator (1 byte per symbol: 2.25 MB
 * on the large generated KB), and never move (callers keep mt_sym_name
 * pointers across later interning); an id maps to a 32-bit name
 * reference, the chunk index and the offset of the name in that chunk. A
 * lookup table of 32-bit slots (any count, kept at 80-85% load) holds
 * (id + 1) with a tag of the hash's top bits beside it, as many bits as the
 * ids leave free (at least 3; 14 with 200,000 symbols, 10 with 2.25
 * million), so nearly every mismatching probe is rejected without reading
 * the symbol's reference and name: two cache misses each.
 *
 * All symbol-table internals stay in this file pair: the image issue puts
 * the table on top of a read-only base (the symbols of a mapped image keep
 * ids 0..base-1 and new ones follow), which only changes this module.
 *
 * Owner: the struct mt_symtab (embedded in struct mt_store) owns the name
 * chunks, the chunk and reference arrays and the slots; mt_symtab_free()
 * releases them. */
#ifndef MT_SYMTAB_H
#define MT_SYMTAB_H

#include "core/mem.h"

#include <stddef.h>
#include <stdint.h>

/* Symbol ids must fit the 29-bit handle payload. */
#define MT_SYMTAB_MAX_IDS ((1u << 29) - 2)

/* A read-only base under the table (core/image_space.c: a mapped image's
 * symbols). Ids 0..count-1 are the base's: names come from name(), look-ups
 * try find() first (UINT32_MAX: absent); symbols interned afterwards get
 * ids count, count+1, ... Base names are not NUL-terminated either. */
struct mt_symtab_base {
	uint32_t count;
	void *ctx;
	const char *(*name)(void *ctx, uint32_t id, size_t *len);
	uint32_t (*find)(void *ctx, const char *name, size_t len, uint64_t hash);
};

/* A name reference: chunk index << MT_SYMTAB_OFF_BITS | offset of the
 * name's first byte in the chunk. Shared chunks hold at most 2^OFF_BITS
 * bytes (1 MiB); a name longer than that gets a chunk of its own. With
 * KBPROF_ARENA_DEBUG every name is its own malloc (so sanitizers see its
 * bounds) and the offset is only the length prefix. */
#ifdef KBPROF_ARENA_DEBUG
#define MT_SYMTAB_OFF_BITS 3u
#else
#define MT_SYMTAB_OFF_BITS 20u
#endif
#define MT_SYMTAB_MAX_CHUNKS (1u << (32 - MT_SYMTAB_OFF_BITS))

struct mt_symtab {
	uint32_t *refs;      /* id - base.count -> name reference */
	uint32_t count, cap; /* count: all ids, base included; cap: of refs */
	char **chunks;       /* name chunks (malloc'd), oldest first */
	uint32_t nchunks, chunks_cap;
	uint32_t used, room;        /* bytes used and free in the newest chunk */
	uint32_t next_size;         /* size of the next shared chunk (grows to 1 MiB) */
	size_t chunk_bytes;         /* bytes of all chunks */
	uint32_t *slots;            /* (id + 1) << tag_bits | tag; 0 = empty */
	uint32_t nslots;            /* any count; index from mt_slot_home */
	uint32_t tag_bits;          /* 32 - bits of (base.count + nslots), 3..31 */
	struct mt_symtab_base base; /* count 0: none */
};

static inline const char *mt_symtab_ref_name(const struct mt_symtab *t, uint32_t ref)
{
	return t->chunks[ref >> MT_SYMTAB_OFF_BITS] + (ref & ((1u << MT_SYMTAB_OFF_BITS) - 1));
}

int mt_symtab_init(struct mt_symtab *t);
/* Puts the table on a base. Only on a table holding exactly the
 * well-known symbols, which the base must hold at the same ids; returns -1
 * otherwise. */
int mt_symtab_set_base(struct mt_symtab *t, const struct mt_symtab_base *base);
void mt_symtab_free(struct mt_symtab *t);

uint64_t mt_symtab_hash(const char *name, size_t len);

static inline size_t mt_symtab_len(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	if (p[-1] != 0xff)
		return p[-1];
	uint32_t len;
	__builtin_memcpy(&len, p - 5, sizeof len);
	return len;
}

/* Equality of two names of the same length `len`, without a call for the
 * short names that make up nearly every symbol table. */
static inline int mt_symtab_same(const char *a, const char *b, size_t len)
{
	if (len >= 8 && len <= 16) {
		uint64_t a0, b0, a1, b1;
		__builtin_memcpy(&a0, a, 8);
		__builtin_memcpy(&b0, b, 8);
		__builtin_memcpy(&a1, a + len - 8, 8);
		__builtin_memcpy(&b1, b + len - 8, 8);
		return a0 == b0 && a1 == b1;
	}
	if (len >= 4 && len < 8) {
		uint32_t a0, b0, a1, b1;
		__builtin_memcpy(&a0, a, 4);
		__builtin_memcpy(&b0, b, 4);
		__builtin_memcpy(&a1, a + len - 4, 4);
		__builtin_memcpy(&b1, b + len - 4, 4);
		return a0 == b0 && a1 == b1;
	}
	if (len < 4) {
		for (size_t i = 0; i < len; i++)
			if (a[i] != b[i])
				return 0;
		return 1;
	}
	return __builtin_memcmp(a, b, len) == 0;
}

/* Adds a symbol known to be absent at free slot `slot`. */
uint32_t mt_symtab_insert(struct mt_symtab *t, const char *name, size_t len, uint64_t hash,
			  uint32_t slot);

/* Interns name (hash from mt_symtab_hash); sets *created to 1 when the
 * symbol is new. Returns the id, or UINT32_MAX if memory or ids run out. */
static inline __attribute__((always_inline)) uint32_t
mt_symtab_intern(struct mt_symtab *t, const char *name, size_t len, uint64_t hash, int *created)
{
	if (t->base.count) {
		uint32_t id = t->base.find(t->base.ctx, name, len, hash);
		if (id != UINT32_MAX) {
			*created = 0;
			return id;
		}
	}
	uint32_t tb = t->tag_bits, mask = (1u << tb) - 1, n_slots = t->nslots;
	uint32_t tag = (uint32_t)(hash >> (64 - tb));
	uint32_t i = mt_slot_home(hash, n_slots);
	for (;; i = i + 1 == n_slots ? 0 : i + 1) {
		uint32_t s = t->slots[i];
		if (!s)
			break;
		if ((s & mask) != tag)
			continue;
		uint32_t id = (s >> tb) - 1;
		const char *n = mt_symtab_ref_name(t, t->refs[id - t->base.count]);
		if (mt_symtab_len(n) == len && mt_symtab_same(n, name, len)) {
			*created = 0;
			return id;
		}
	}
	*created = 1;
	return mt_symtab_insert(t, name, len, hash, i);
}

uint32_t mt_symtab_find(const struct mt_symtab *t, const char *name, size_t len, uint64_t hash);

static inline const char *mt_symtab_name(const struct mt_symtab *t, uint32_t id, size_t *len)
{
	if (id >= t->count) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (id < t->base.count) {
		size_t l;
		const char *b = t->base.name(t->base.ctx, id, &l);
		if (len)
			*len = l;
		return b;
	}
	const char *s = mt_symtab_ref_name(t, t->refs[id - t->base.count]);
	if (len)
		*len = mt_symtab_len(s);
	return s;
}

size_t mt_symtab_bytes(const struct mt_symtab *t);

/* Hints that about `n` more symbols are coming (sizes the table once). */
int mt_symtab_reserve(struct mt_symtab *t, uint32_t n);

#endif
