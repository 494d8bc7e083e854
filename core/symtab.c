/* symtab: symbol interning (see symtab.h). Open addressing with linear
 * probing over any number of slots; the table is sized for 80% load, grows
 * by half when it passes 85% and is rebuilt from the names (hashes are not
 * stored, to keep a symbol at its name plus 4 bytes of reference and about
 * 5 of table). */
#include "core/symtab.h"
#include "core/mem.h"
#include "kbprof/probe.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdlib.h>
#include <string.h>

/* The tag of hash h in a slot of t: its top t->tag_bits bits. */
static inline uint32_t slot_tag(const struct mt_symtab *t, uint64_t h)
{
	return (uint32_t)(h >> (64 - t->tag_bits));
}

/* Sets tag_bits for the table's slot count and base. While a slot array
 * lives, an own symbol's id is below base.count + nslots (the table never
 * fills), and no id reaches MT_SYMTAB_MAX_IDS (< 2^29), so (id + 1) needs
 * at most the bits of base.count + nslots, and at most 29. */
static void set_tag_bits(struct mt_symtab *t)
{
	uint64_t top = (uint64_t)t->base.count + t->nslots;
	uint32_t id_bits = 64 - (uint32_t)__builtin_clzll(top);
	t->tag_bits = 32 - (id_bits > 29 ? 29 : id_bits);
}

uint64_t mt_symtab_hash(const char *name, size_t len)
{
	return XXH3_64bits(name, len);
}

/* The first shared name chunk; each next one doubles, up to 1 MiB. */
#define FIRST_CHUNK 4096u
#define MAX_CHUNK (1u << MT_SYMTAB_OFF_BITS)

int mt_symtab_init(struct mt_symtab *t)
{
	memset(t, 0, sizeof *t);
	t->nslots = 1024;
	set_tag_bits(t);
	t->next_size = FIRST_CHUNK;
	t->slots = mt_table_new(t->nslots, sizeof *t->slots);
	return t->slots ? 0 : -1;
}

static void free_names(struct mt_symtab *t)
{
	for (uint32_t i = 0; i < t->nchunks; i++)
		free(t->chunks[i]);
	t->nchunks = 0;
	t->used = t->room = 0;
	t->next_size = FIRST_CHUNK;
	t->chunk_bytes = 0;
}

void mt_symtab_free(struct mt_symtab *t)
{
	free_names(t);
	mt_array_free(t->chunks);
	mt_array_free(t->refs);
	mt_array_free(t->slots);
	memset(t, 0, sizeof *t);
}

static int rehash(struct mt_symtab *t, uint32_t nslots)
{
	uint32_t *slots = mt_table_new(nslots, sizeof *slots);
	if (!slots)
		return -1;
	KBPROF_REGION_BEGIN("intern");
	mt_array_free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	set_tag_bits(t);
	for (uint32_t id = t->base.count; id < t->count; id++) {
		const char *s = mt_symtab_ref_name(t, t->refs[id - t->base.count]);
		uint64_t h = XXH3_64bits(s, mt_symtab_len(s));
		uint32_t i = mt_slot_home(h, nslots);
		while (slots[i])
			i = i + 1 == nslots ? 0 : i + 1;
		slots[i] = ((id + 1) << t->tag_bits) | slot_tag(t, h);
	}
	KBPROF_REGION_END("intern");
	return 0;
}

/* Slots for `own` symbols after a growth: 80% load, and at least half
 * again the current count so that a run of small growths stays geometric. */
static uint32_t grown_slots(const struct mt_symtab *t, uint64_t own)
{
	uint64_t n = mt_slots_for(own), half = (uint64_t)t->nslots + t->nslots / 2;
	if (n < half)
		n = half;
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int mt_symtab_reserve(struct mt_symtab *t, uint32_t n)
{
	uint64_t want = (uint64_t)t->count + n;
	if (want > MT_SYMTAB_MAX_IDS)
		want = MT_SYMTAB_MAX_IDS;
	want -= t->base.count; /* the table holds only the symbols above the base */
	if (mt_slots_for(want) > t->nslots && rehash(t, grown_slots(t, want)))
		return -1;
	size_t cap = t->cap;
	if (mt_grow((void **)&t->refs, &cap, want, sizeof *t->refs, MT_SYMTAB_MAX_IDS))
		return -1;
	t->cap = (uint32_t)cap;
	return 0;
}

uint32_t mt_symtab_find(const struct mt_symtab *t, const char *name, size_t len, uint64_t hash)
{
	if (t->base.count) {
		uint32_t id = t->base.find(t->base.ctx, name, len, hash);
		if (id != UINT32_MAX)
			return id;
	}
	uint32_t tag = slot_tag(t, hash), nslots = t->nslots, mask = (1u << t->tag_bits) - 1;
	for (uint32_t i = mt_slot_home(hash, nslots);; i = i + 1 == nslots ? 0 : i + 1) {
		uint32_t s = t->slots[i];
		if (!s)
			return UINT32_MAX;
		if ((s & mask) != tag)
			continue;
		uint32_t id = (s >> t->tag_bits) - 1;
		const char *n = mt_symtab_ref_name(t, t->refs[id - t->base.count]);
		if (mt_symtab_len(n) == len && mt_symtab_same(n, name, len))
			return id;
	}
}

/* Room for a record of `need` bytes: the newest chunk if it fits there,
 * else a new chunk. Returns the record's place and sets *ref to the
 * reference of its byte at `prefix`, or NULL if memory or chunk indices
 * run out. */
static char *name_room(struct mt_symtab *t, size_t need, size_t prefix, uint32_t *ref)
{
#ifdef KBPROF_ARENA_DEBUG
	int fresh = 1;
#else
	int fresh = need > t->room;
#endif
	if (fresh) {
		if (t->nchunks >= MT_SYMTAB_MAX_CHUNKS)
			return NULL;
		if (t->nchunks == t->chunks_cap) {
			size_t cap = t->chunks_cap;
			if (mt_grow((void **)&t->chunks, &cap, (size_t)t->nchunks + 1,
				    sizeof *t->chunks, MT_SYMTAB_MAX_CHUNKS))
				return NULL;
			t->chunks_cap = (uint32_t)cap;
		}
#ifdef KBPROF_ARENA_DEBUG
		size_t size = need;
#else
		size_t size = need > t->next_size ? need : t->next_size;
#endif
		char *c = malloc(size);
		if (!c)
			return NULL;
		t->chunks[t->nchunks++] = c;
		t->chunk_bytes += size;
		t->used = 0;
		/* a chunk bigger than 1 MiB holds its one name: offsets stop there */
		t->room = size > MAX_CHUNK ? 0 : (uint32_t)size;
		if (size == t->next_size && t->next_size < MAX_CHUNK)
			t->next_size *= 2;
		if (t->room >= need)
			t->room -= (uint32_t)need;
	} else {
		t->room -= (uint32_t)need;
	}
	char *p = t->chunks[t->nchunks - 1] + t->used;
	*ref = (t->nchunks - 1) << MT_SYMTAB_OFF_BITS | (uint32_t)(t->used + prefix);
	t->used += (uint32_t)need;
	return p;
}

static const char *store_name(struct mt_symtab *t, const char *name, size_t len, uint32_t *ref)
{
	size_t prefix = len < 0xff ? 1 : 5;
	if (len > UINT32_MAX - 5)
		return NULL;
	char *p = name_room(t, prefix + len, prefix, ref);
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
	return p + prefix;
}

uint32_t mt_symtab_insert(struct mt_symtab *t, const char *name, size_t len, uint64_t hash,
			  uint32_t slot)
{
	if (t->count >= MT_SYMTAB_MAX_IDS)
		return UINT32_MAX;
	uint32_t own = t->count - t->base.count; /* symbols in this table */
	if (own == t->cap) {
		size_t cap = t->cap;
		if (mt_grow((void **)&t->refs, &cap, (size_t)own + 1, sizeof *t->refs,
			    MT_SYMTAB_MAX_IDS))
			return UINT32_MAX;
		t->cap = (uint32_t)cap;
	}
	uint32_t ref;
	if (!store_name(t, name, len, &ref))
		return UINT32_MAX;
	uint32_t id = t->count++;
	t->refs[own++] = ref;
	t->slots[slot] = ((id + 1) << t->tag_bits) | slot_tag(t, hash);
	/* a failed growth only leaves the table fuller than planned; refuse
	 * new symbols before it is full */
	if (own > mt_slots_limit(t->nslots) && rehash(t, grown_slots(t, own)) &&
	    own + 2 >= t->nslots) {
		t->slots[slot] = 0;
		t->count--;
		return UINT32_MAX;
	}
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
	memset(t->slots, 0, (size_t)t->nslots * sizeof *t->slots);
	free_names(t);
	t->base = *base;
	set_tag_bits(t);
	t->count = base->count;
	return 0;
}

size_t mt_symtab_bytes(const struct mt_symtab *t)
{
	return (size_t)t->cap * sizeof *t->refs + (size_t)t->nslots * sizeof *t->slots +
	       (size_t)t->chunks_cap * sizeof *t->chunks + t->chunk_bytes;
}
