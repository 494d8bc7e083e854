/* arena: a chunked bump allocator for many small objects (symbol names,
 * persistent strings, variable-name lists), released in one call.
 *
 * Owner: whoever embeds the struct mt_arena; mt_arena_release() frees every
 * object at once. Objects never move, so pointers into the arena stay valid
 * until the release.
 *
 * Built with KBPROF_ARENA_DEBUG, every object is its own malloc (linked in
 * a list for the release), so AddressSanitizer and valgrind see the bounds
 * of each object instead of one big chunk. */
#ifndef MT_ARENA_H
#define MT_ARENA_H

#include <stddef.h>

struct mt_arena_chunk;

struct mt_arena {
	struct mt_arena_chunk *chunks; /* newest first */
	char *cur, *end;               /* free space in the newest chunk */
	size_t bytes;                  /* bytes obtained from malloc */
};

#define MT_ARENA_INIT                                                                              \
	{                                                                                          \
		NULL, NULL, NULL, 0                                                                \
	}

/* Returns `size` bytes aligned to `align` (a power of two, at most 16), or
 * NULL if memory runs out. */
void *mt_arena_alloc(struct mt_arena *a, size_t size, size_t align);

/* Frees every object; the arena can be used again afterwards. */
void mt_arena_release(struct mt_arena *a);

/* Bytes the arena holds (chunk sizes, or object sizes in debug builds). */
static inline size_t mt_arena_bytes(const struct mt_arena *a)
{
	return a->bytes;
}

#endif
