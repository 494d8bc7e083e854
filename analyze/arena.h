/* arena: the analyzer's bump allocator (module prefix arena_). Everything
 * an aggregate builds (names, symbol results, tables of nodes) lives in
 * one arena and is freed at once with arena_free().
 *
 * Ownership: the arena owns every byte it hands out; pointers stay valid
 * until arena_free(). Nothing is freed individually.
 * With KBPROF_ARENA_DEBUG every allocation is its own malloc, chained in a
 * list, so AddressSanitizer and valgrind see each object's bounds. */
#ifndef KB_ANALYZE_ARENA_H
#define KB_ANALYZE_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
	char *cur, *end;
	size_t total; /* bytes handed out, for reports */
};

#define ARENA_INIT                                                                                 \
	{                                                                                          \
		NULL, NULL, NULL, 0                                                                \
	}

/* Returns zeroed memory aligned for any type, or NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t size);
/* Copies n bytes of s and a terminating NUL. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
void arena_free(struct arena *a);

#endif
