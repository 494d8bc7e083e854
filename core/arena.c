/* arena: chunked bump allocation (see arena.h). Chunks grow geometrically
 * from 64 KiB to 4 MiB; an object larger than a quarter of the chunk size
 * gets a chunk of its own so the bump space is not wasted. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>

struct mt_arena_chunk {
	struct mt_arena_chunk *next;
	size_t size; /* usable bytes after the header */
	_Alignas(16) char data[];
};

#define CHUNK_MIN ((size_t)64 << 10)
#define CHUNK_MAX ((size_t)4 << 20)

#ifdef KBPROF_ARENA_DEBUG

void *mt_arena_alloc(struct mt_arena *a, size_t size, size_t align)
{
	(void)align; /* malloc alignment covers every request (at most 16) */
	if (size > SIZE_MAX - sizeof(struct mt_arena_chunk))
		return NULL;
	struct mt_arena_chunk *c = malloc(sizeof *c + size);
	if (!c)
		return NULL;
	c->next = a->chunks;
	c->size = size;
	a->chunks = c;
	a->bytes += size;
	return c->data;
}

#else

void *mt_arena_alloc(struct mt_arena *a, size_t size, size_t align)
{
	uintptr_t p = ((uintptr_t)a->cur + (align - 1)) & ~(uintptr_t)(align - 1);
	if (a->cur && p <= (uintptr_t)a->end && size <= (uintptr_t)a->end - p) {
		a->cur = (char *)(p + size);
		return (void *)p;
	}
	size_t want = a->chunks ? a->chunks->size * 2 : CHUNK_MIN;
	if (want > CHUNK_MAX)
		want = CHUNK_MAX;
	if (size > SIZE_MAX - sizeof(struct mt_arena_chunk) - 16)
		return NULL;
	int own = size + align > want / 4;
	size_t csize = own ? size + align : want;
	struct mt_arena_chunk *c = malloc(sizeof *c + csize);
	if (!c)
		return NULL;
	c->size = csize;
	a->bytes += csize;
	if (own && a->chunks) {
		/* keep bump-allocating from the current chunk */
		c->next = a->chunks->next;
		a->chunks->next = c;
		return c->data;
	}
	c->next = a->chunks;
	a->chunks = c;
	a->cur = c->data + size;
	a->end = c->data + csize;
	return c->data;
}

#endif

void mt_arena_release(struct mt_arena *a)
{
	struct mt_arena_chunk *c = a->chunks;
	while (c) {
		struct mt_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->chunks = NULL;
	a->cur = a->end = NULL;
	a->bytes = 0;
}
