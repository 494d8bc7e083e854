/* arena: chunked bump allocation freed in one call (see arena.h). */
#include "analyze/arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
	struct arena_chunk *next;
	alignas(max_align_t) char data[];
};

enum { ARENA_CHUNK = 64 * 1024 };

static size_t round_up(size_t n)
{
	size_t al = alignof(max_align_t);
	return (n + al - 1) & ~(al - 1);
}

void *arena_alloc(struct arena *a, size_t size)
{
	size_t need = round_up(size ? size : 1);
	if (need < size)
		return NULL;
#ifdef KBPROF_ARENA_DEBUG
	struct arena_chunk *c = calloc(1, sizeof *c + size);
	if (!c)
		return NULL;
	c->next = a->head;
	a->head = c;
	a->total += size;
	return c->data;
#else
	if ((size_t)(a->end - a->cur) < need) {
		size_t csize = need > ARENA_CHUNK / 4 ? need : ARENA_CHUNK;
		struct arena_chunk *c = malloc(sizeof *c + csize);
		if (!c)
			return NULL;
		if (need > ARENA_CHUNK / 4 && a->head) {
			/* A big object gets a chunk of its own, kept behind the
			 * current one so the current chunk's free space stays usable. */
			c->next = a->head->next;
			a->head->next = c;
			a->total += size;
			return memset(c->data, 0, need);
		}
		c->next = a->head;
		a->head = c;
		a->cur = c->data;
		a->end = c->data + csize;
	}
	void *p = a->cur;
	a->cur += need;
	a->total += size;
	return memset(p, 0, need);
#endif
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void arena_free(struct arena *a)
{
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	*a = (struct arena)ARENA_INIT;
}
