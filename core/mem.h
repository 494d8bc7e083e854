/* mem: growable flat arrays and big zeroed tables, shared by the core's
 * modules (internal to core/).
 *
 * Every block carries a small header before the data. Blocks of 16 KiB
 * and more are their own memory mappings: they grow with mremap, so the
 * pages move instead of being copied (no copy, and no moment with both the
 * old and the new array resident), and they go back to the system as soon
 * as they are freed. (Grown with malloc instead, each doubling of such an
 * array left a freed hole in the heap: 7% of the small KB's compile.) A
 * mapping costs a page of rounding and a kernel mapping; a store and its
 * space have about twenty such arrays. Smaller blocks use malloc. Blocks
 * of 4 MiB and more also ask for transparent huge pages, which cuts the
 * TLB misses of random probes into big tables.
 *
 * A "fill" block (mt_grow_fill) is an array that fills from the front: the
 * term heap, the space's entries. A huge page is resident in full from its
 * first touch, so the one holding a fill block's fill point costs up to
 * 2 MiB that hold nothing (the medium generated KB's compile: 1.6 MB, 6%).
 * A fill block asks for huge pages only from MT_FILL_HUGE up, where that is
 * at most 6% of the block; below, it pays some TLB misses (the medium KB
 * compiles about 8% slower than with huge pages).
 *
 * A block's mapping stays one kernel mapping (VMA), its advice set on the
 * whole: mremap before Linux 6.17 moves only a range inside one mapping, and
 * a block whose moved front kept other advice than its fresh tail would be
 * two. If a move fails anyway, the block is copied.
 * With KBPROF_ARENA_DEBUG every block uses malloc, so sanitizers check it.
 *
 * Owner: the caller owns what these return and releases it with
 * mt_array_free() (never free()). */
#ifndef MT_MEM_H
#define MT_MEM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MT_MAP_MIN ((size_t)16 << 10)
#define MT_HUGE_MIN ((size_t)4 << 20)

struct mt_block {
	size_t mapped; /* bytes of the mapping, header included; 0: malloc'd */
	size_t fill;   /* 1: a fill block (also keeps the data 16-byte aligned) */
};

static inline struct mt_block *mt_block_of(void *data)
{
	return (struct mt_block *)data - 1;
}

static inline size_t mt_page_round(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

#define MT_FILL_HUGE ((size_t)32 << 20)

/* Whether a block of `len` bytes asks for huge pages. */
static inline int mt_wants_huge(size_t len, int fill)
{
	return len >= (fill ? MT_FILL_HUGE : MT_HUGE_MIN);
}

static inline void mt_hint_huge(void *p, size_t bytes, int fill)
{
	if (mt_wants_huge(bytes, fill))
		madvise(p, bytes, MADV_HUGEPAGE);
}

#define MT_HUGE_ALIGN ((size_t)2 << 20)

/* A fresh zero-filled mapping of `len` bytes (a multiple of the page size)
 * starting on a 2 MiB boundary when it is big enough for huge pages: the
 * kernel backs only aligned 2 MiB ranges with them. */
static inline void *mt_map_aligned(size_t len, int fill)
{
	size_t extra = len >= MT_HUGE_MIN ? MT_HUGE_ALIGN : 0;
	char *m =
	    mmap(NULL, len + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (extra) {
		uintptr_t a = ((uintptr_t)m + MT_HUGE_ALIGN - 1) & ~(uintptr_t)(MT_HUGE_ALIGN - 1);
		size_t head = a - (uintptr_t)m;
		if (head)
			munmap(m, head);
		if (extra - head)
			munmap((char *)a + len, extra - head);
		m = (char *)a;
	}
	mt_hint_huge(m, len, fill);
	return m;
}

/* A fresh mapping of at least `bytes` (header included), zero-filled. */
static inline struct mt_block *mt_block_map(size_t bytes, int fill)
{
	size_t len = mt_page_round(bytes);
	struct mt_block *b = mt_map_aligned(len, fill);
	if (!b)
		return NULL;
	b->mapped = len;
	b->fill = (size_t)fill;
	return b;
}

/* Grows a mapped block to `len` bytes: its pages move (no copy) to a fresh
 * aligned place, resized there in the same call so that the block stays
 * one mapping, which then gets the new size's advice. */
static inline struct mt_block *mt_block_remap(struct mt_block *old, size_t len)
{
	int fill = (int)old->fill;
	size_t old_len = old->mapped;
	void *m = mt_map_aligned(len, fill);
	if (!m)
		return NULL;
	void *r = mremap(old, old_len, len, MREMAP_MAYMOVE | MREMAP_FIXED, m);
	if (r == MAP_FAILED) {
		/* the kernel may have unmapped the target already: copy into
		 * a fresh mapping */
		munmap(m, len);
		if (!(r = mt_map_aligned(len, fill)))
			return NULL;
		memcpy(r, old, old_len);
		munmap(old, old_len);
	} else if (mt_wants_huge(len, fill)) {
		madvise(r, len, MADV_HUGEPAGE);
	}
	struct mt_block *b = r;
	b->mapped = len;
	return b;
}

static inline int mt_use_map(size_t bytes)
{
#ifdef KBPROF_ARENA_DEBUG
	(void)bytes;
	return 0;
#else
	return bytes >= MT_MAP_MIN;
#endif
}

/* Maps every page of a fresh mapping writable now, in one call.
 *
 * A hash table's slots are read before they are written (a probe finds
 * the empty slot, then fills it). The read of an untouched page maps the
 * shared zero page; the write then faults again to replace it, and that
 * second fault must flush the old entry from every CPU the process runs
 * on: with the parse's two threads, an interrupt to the other thread per
 * page. Populated up front, each page costs neither fault. Every page of
 * a hash table is touched anyway (it grows at 75-85% load, its keys
 * spread over all of it), so this costs no memory. A kernel without
 * MADV_POPULATE_WRITE (before 5.14) refuses it and the pages fault in as
 * before. */
static inline void mt_populate(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
	(void)madvise(p, len, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)len;
#endif
}

/* mt_populate for the pages holding bytes [from, to) of a mapped block. */
static inline void mt_populate_range(void *from, void *to)
{
	uintptr_t a = (uintptr_t)from & ~(uintptr_t)4095;
	uintptr_t b = ((uintptr_t)to + 4095) & ~(uintptr_t)4095;
	if (b > a)
		mt_populate((void *)a, b - a);
}

/* A zeroed block of n elements of `elem` bytes, or NULL. Meant for hash
 * tables: a mapped block's pages are all made resident (mt_populate). */
static inline void *mt_table_new(size_t n, size_t elem)
{
	if (n && elem > (SIZE_MAX - sizeof(struct mt_block) - 4096) / n)
		return NULL;
	size_t bytes = sizeof(struct mt_block) + n * elem;
	struct mt_block *b;
	if (mt_use_map(bytes)) {
		b = mt_block_map(bytes, 0);
		if (b)
			mt_populate(b, b->mapped);
	} else {
		b = calloc(1, bytes);
		if (b) {
			b->mapped = 0;
			b->fill = 0;
		}
	}
	return b ? b + 1 : NULL;
}

/* Open-addressing tables of any slot count (not just powers of two), so
 * they can sit at about 80% load: the home slot of hash `h` in a table of
 * `n` slots is the high half of (low 32 bits of h) * n, and probes wrap
 * from n - 1 to 0. */
static inline uint32_t mt_slot_home(uint64_t h, uint32_t n)
{
	return (uint32_t)(((uint64_t)(uint32_t)h * n) >> 32);
}

/* Slot counts for `count` keys at 80% load, and the count past which a
 * table of `n` slots grows (85% load). */
#if defined(__SSE2__)
/* Four slots at once, from s (inside the table): bit k of the result is
 * set when slot s[k] is empty (0). A probe loop whose length varies from
 * one key to the next mispredicts its exit about every other time; at
 * 80-85% load most probes end within the first four slots. */
static inline unsigned mt_empty4(const uint32_t *s)
{
	__m128i w = _mm_loadu_si128((const __m128i *)s);
	return (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(w, _mm_setzero_si128())));
}
#endif

static inline uint64_t mt_slots_for(uint64_t count)
{
	return count + count / 4 + 16;
}

static inline uint64_t mt_slots_limit(uint64_t n)
{
	return n - n * 3 / 20;
}

static inline void mt_array_free(void *data)
{
	if (!data)
		return;
	struct mt_block *b = mt_block_of(data);
	if (b->mapped)
		munmap(b, b->mapped);
	else
		free(b);
}

/* mt_grow_kind's growing half, out of line: the check that there is room
 * is inlined at every call, this is called only when there is not. */
static __attribute__((noinline)) int mt_grow_slow(void **p, size_t *cap, size_t need, size_t elem,
						  size_t max, int fill)
{
	if (need > max)
		return -1;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c = c > max / 2 ? max : c * 2;
	if (c > (SIZE_MAX - sizeof(struct mt_block) - 4096) / elem)
		return -1;
	size_t bytes = sizeof(struct mt_block) + c * elem;
	struct mt_block *old = *p ? mt_block_of(*p) : NULL, *b;
	if (!mt_use_map(bytes)) {
		b = realloc(old, bytes);
		if (!b)
			return -1;
		b->mapped = 0;
		b->fill = (size_t)fill;
	} else if (old && old->mapped) {
		b = mt_block_remap(old, mt_page_round(bytes));
		if (!b)
			return -1;
	} else {
		b = mt_block_map(bytes, fill);
		if (!b)
			return -1;
		if (old) {
			memcpy(b + 1, old + 1, *cap * elem);
			free(old);
		}
	}
	*p = b + 1;
	*cap = c;
	return 0;
}

static inline int mt_grow_kind(void **p, size_t *cap, size_t need, size_t elem, size_t max,
			       int fill)
{
	if (__builtin_expect(need <= *cap, 1))
		return 0;
	return mt_grow_slow(p, cap, need, elem, max, fill);
}

/* Grows *p (NULL or from mt_grow/mt_table_new) to hold at least `need`
 * elements of `elem` bytes; the capacity doubles, capped at `max`. New
 * elements are uninitialised. Returns 0, or -1 with *p unchanged. */
static inline int mt_grow(void **p, size_t *cap, size_t need, size_t elem, size_t max)
{
	return mt_grow_kind(p, cap, need, elem, max, 0);
}

/* mt_grow for a fill block (an array filled from the front); a block is
 * grown with the same one of the two throughout. */
static inline int mt_grow_fill(void **p, size_t *cap, size_t need, size_t elem, size_t max)
{
	return mt_grow_kind(p, cap, need, elem, max, 1);
}

#endif
