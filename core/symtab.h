/* symtab: the symbol table behind mt_sym_* (internal to core/).
 *
 * Interns byte strings to dense ids 0..n-1. Names live in an arena as
 * [length prefix][bytes][NUL]; a lookup table of 32-bit slots holds
 * (id + 1) with three bits of the hash beside it, so most mismatching
 * probes are rejected without touching the names.
 *
 * All symbol-table internals stay in this file pair: the image issue puts
 * the table on top of a read-only base (the symbols of a mapped image keep
 * ids 0..base-1 and new ones follow), which only changes this module.
 *
 * Owner: the struct mt_symtab (embedded in struct mt_store) owns the names,
 * the id array and the slots; mt_symtab_free() releases them. */
#ifndef MT_SYMTAB_H
#define MT_SYMTAB_H

#include "core/arena.h"

#include <stddef.h>
#include <stdint.h>

/* Symbol ids must fit the 29-bit handle payload. */
#define MT_SYMTAB_MAX_IDS ((1u << 29) - 2)

/* A read-only base under the table (core/image_space.c: a mapped image's
 * symbols). Ids 0..count-1 are the base's: names come from name(), look-ups
 * try find() first (UINT32_MAX: absent); symbols interned afterwards get
 * ids count, count+1, ... Base names need not be NUL-terminated. */
struct mt_symtab_base {
	uint32_t count;
	void *ctx;
	const char *(*name)(void *ctx, uint32_t id, size_t *len);
	uint32_t (*find)(void *ctx, const char *name, size_t len, uint64_t hash);
};

struct mt_symtab {
	const char **names;  /* id - base.count -> NUL-terminated name (length prefix before it) */
	uint32_t count, cap; /* count: all ids, base included; cap: of names */
	uint32_t *slots;     /* (id + 1) << 3 | 3 hash bits; 0 = empty */
	uint32_t mask;
	struct mt_arena arena;
	struct mt_symtab_base base; /* count 0: none */
};

int mt_symtab_init(struct mt_symtab *t);
/* Puts the table on a base. Only on a table holding exactly the
 * well-known symbols, which the base must hold at the same ids; returns -1
 * otherwise. */
int mt_symtab_set_base(struct mt_symtab *t, const struct mt_symtab_base *base);
void mt_symtab_free(struct mt_symtab *t);

uint64_t mt_symtab_hash(const char *name, size_t len);

/* Interns name (hash from mt_symtab_hash); sets *created to 1 when the
 * symbol is new. Returns the id, or UINT32_MAX if memory or ids run out. */
uint32_t mt_symtab_intern(struct mt_symtab *t, const char *name, size_t len, uint64_t hash,
			  int *created);
uint32_t mt_symtab_find(const struct mt_symtab *t, const char *name, size_t len, uint64_t hash);

static inline size_t mt_symtab_len(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	if (p[-1] != 0xff)
		return p[-1];
	uint32_t len;
	__builtin_memcpy(&len, p - 5, sizeof len);
	return len;
}

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
	const char *s = t->names[id - t->base.count];
	if (len)
		*len = mt_symtab_len(s);
	return s;
}

size_t mt_symtab_bytes(const struct mt_symtab *t);

/* Hints that about `n` more symbols are coming (sizes the table once). */
int mt_symtab_reserve(struct mt_symtab *t, uint32_t n);

#endif
