/* symtab: symbol interning (see symtab.h). Open addressing with linear
 * probing; the table doubles at 3/4 load and is rebuilt from the names
 * (hashes are not stored, to keep a symbol at its name plus 12 bytes). */
#include "core/symtab.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdlib.h>
#include <string.h>

#define TAG_BITS 3u
#define TAG_MASK 7u

static inline uint32_t slot_tag(uint64_t h)
{
	return (uint32_t)(h >> 61);
}

uint64_t mt_symtab_hash(const char *name, size_t len)
{
	return XXH3_64bits(name, len);
}

int mt_symtab_init(struct mt_symtab *t)
{
	memset(t, 0, sizeof *t);
	t->mask = 1023;
	t->slots = calloc(t->mask + 1, sizeof *t->slots);
	return t->slots ? 0 : -1;
}

void mt_symtab_free(struct mt_symtab *t)
{
	free(t->names);
	free(t->slots);
	mt_arena_release(&t->arena);
	memset(t, 0, sizeof *t);
}

static int rehash(struct mt_symtab *t, uint32_t new_mask)
{
	uint32_t *slots = calloc((size_t)new_mask + 1, sizeof *slots);
	if (!slots)
		return -1;
	for (uint32_t id = t->base.count; id < t->count; id++) {
		const char *s = t->names[id - t->base.count];
		uint64_t h = XXH3_64bits(s, mt_symtab_len(s));
		uint32_t i = (uint32_t)h & new_mask;
		while (slots[i])
			i = (i + 1) & new_mask;
		slots[i] = ((id + 1) << TAG_BITS) | slot_tag(h);
	}
	free(t->slots);
	t->slots = slots;
	t->mask = new_mask;
	return 0;
}

int mt_symtab_reserve(struct mt_symtab *t, uint32_t n)
{
	if ((uint64_t)t->count + n > MT_SYMTAB_MAX_IDS)
		return -1;
	uint64_t want = (uint64_t)t->count - t->base.count + n; /* own symbols */
	uint64_t cap = (uint64_t)t->mask + 1;
	while (want * 4 > cap * 3)
		cap *= 2;
	if (cap - 1 != t->mask && rehash(t, (uint32_t)(cap - 1)))
		return -1;
	if (want > t->cap) {
		const char **names = realloc(t->names, want * sizeof *names);
		if (!names)
			return -1;
		t->names = names;
		t->cap = (uint32_t)want;
	}
	return 0;
}

uint32_t mt_symtab_find(const struct mt_symtab *t, const char *name, size_t len, uint64_t hash)
{
	if (t->base.count) {
		uint32_t id = t->base.find(t->base.ctx, name, len, hash);
		if (id != UINT32_MAX)
			return id;
	}
	uint32_t tag = slot_tag(hash);
	for (uint32_t i = (uint32_t)hash & t->mask;; i = (i + 1) & t->mask) {
		uint32_t s = t->slots[i];
		if (!s)
			return UINT32_MAX;
		if ((s & TAG_MASK) != tag)
			continue;
		uint32_t id = (s >> TAG_BITS) - 1;
		const char *n = t->names[id - t->base.count];
		if (mt_symtab_len(n) == len && memcmp(n, name, len) == 0)
			return id;
	}
}

static const char *store_name(struct mt_symtab *t, const char *name, size_t len)
{
	size_t prefix = len < 0xff ? 1 : 5;
	if (len > UINT32_MAX - 6)
		return NULL;
	char *p = mt_arena_alloc(&t->arena, prefix + len + 1, 1);
	if (!p)
		return NULL;
	if (prefix == 5) {
		uint32_t l32 = (uint32_t)len;
		memcpy(p, &l32, sizeof l32);
		p[4] = (char)0xff;
	} else {
		p[0] = (char)len;
	}
	memcpy(p + prefix, name, len);
	p[prefix + len] = '\0';
	return p + prefix;
}

uint32_t mt_symtab_intern(struct mt_symtab *t, const char *name, size_t len, uint64_t hash,
			  int *created)
{
	if (t->base.count) {
		uint32_t id = t->base.find(t->base.ctx, name, len, hash);
		if (id != UINT32_MAX) {
			*created = 0;
			return id;
		}
	}
	uint32_t tag = slot_tag(hash);
	uint32_t i = (uint32_t)hash & t->mask;
	for (;; i = (i + 1) & t->mask) {
		uint32_t s = t->slots[i];
		if (!s)
			break;
		if ((s & TAG_MASK) != tag)
			continue;
		uint32_t id = (s >> TAG_BITS) - 1;
		const char *n = t->names[id - t->base.count];
		if (mt_symtab_len(n) == len && memcmp(n, name, len) == 0) {
			*created = 0;
			return id;
		}
	}
	if (t->count >= MT_SYMTAB_MAX_IDS)
		return UINT32_MAX;
	if (t->count - t->base.count == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 256;
		if (cap > MT_SYMTAB_MAX_IDS)
			cap = MT_SYMTAB_MAX_IDS;
		const char **names = realloc(t->names, (size_t)cap * sizeof *names);
		if (!names)
			return UINT32_MAX;
		t->names = names;
		t->cap = cap;
	}
	const char *stored = store_name(t, name, len);
	if (!stored)
		return UINT32_MAX;
	uint32_t id = t->count++;
	t->names[id - t->base.count] = stored;
	t->slots[i] = ((id + 1) << TAG_BITS) | tag;
	if ((uint64_t)(t->count - t->base.count) * 4 > ((uint64_t)t->mask + 1) * 3 &&
	    rehash(t, t->mask * 2 + 1)) {
		/* The symbol is in; the table stays fuller than planned, which
		 * only costs probes, until the next successful growth. */
		if (t->count - t->base.count + 1 > t->mask) {
			t->slots[i] = 0;
			t->count--;
			return UINT32_MAX;
		}
	}
	*created = 1;
	return id;
}

int mt_symtab_set_base(struct mt_symtab *t, const struct mt_symtab_base *base)
{
	if (t->base.count || t->count > base->count || base->count > MT_SYMTAB_MAX_IDS)
		return -1;
	for (uint32_t id = 0; id < t->count; id++) {
		size_t len, blen;
		const char *own = mt_symtab_name(t, id, &len);
		const char *b = base->name(base->ctx, id, &blen);
		if (!b || blen != len || memcmp(b, own, len) != 0)
			return -1;
	}
	/* The base now answers for every existing id: empty our own part. */
	memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof *t->slots);
	mt_arena_release(&t->arena);
	t->base = *base;
	t->count = base->count;
	return 0;
}

size_t mt_symtab_bytes(const struct mt_symtab *t)
{
	return (size_t)t->cap * sizeof *t->names + ((size_t)t->mask + 1) * sizeof *t->slots +
	       mt_arena_bytes(&t->arena);
}
