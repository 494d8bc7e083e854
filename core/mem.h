/* mem: growable flat arrays and big zeroed tables, shared by the core's
 * modules (internal to core/).
 *
 * Arrays of millions of elements (heaps, entries, hash tables) are touched
 * densely and randomly: they ask for transparent huge pages, which cuts
 * the TLB misses of random probes. The caller owns what these return and
 * frees it with free(). */
#ifndef MT_MEM_H
#define MT_MEM_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define MT_HUGE_MIN ((size_t)4 << 20)

static inline void mt_hint_huge(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
	if (bytes < MT_HUGE_MIN)
		return;
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
	uintptr_t e = ((uintptr_t)p + bytes) & ~(uintptr_t)4095;
	if (e > a)
		madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
	(void)p;
	(void)bytes;
#endif
}

/* A zeroed table of n elements. */
static inline void *mt_table_new(size_t n, size_t elem)
{
	void *p = calloc(n, elem);
	if (p)
		mt_hint_huge(p, n * elem);
	return p;
}

/* Grows *p to hold at least `need` elements of `elem` bytes (capacity
 * doubles, capped at `max`). Returns 0, or -1 with *p unchanged. */
static inline int mt_grow(void **p, size_t *cap, size_t need, size_t elem, size_t max)
{
	if (need <= *cap)
		return 0;
	if (need > max)
		return -1;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c = c > max / 2 ? max : c * 2;
	if (c > SIZE_MAX / elem)
		return -1;
	void *q = realloc(*p, c * elem);
	if (!q)
		return -1;
	mt_hint_huge(q, c * elem);
	*p = q;
	*cap = c;
	return 0;
}

#endif
