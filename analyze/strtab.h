/* strtab: interned strings (module prefix strtab_). Equal strings intern
 * to the same pointer, so tables keyed by names compare pointers.
 *
 * Ownership: the bytes live in the arena given at init (the caller's);
 * the slot array is the table's own, freed by strtab_free(), which leaves
 * the strings to the arena. */
#ifndef KB_ANALYZE_STRTAB_H
#define KB_ANALYZE_STRTAB_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/arena.h"

struct strtab {
	struct arena *arena;
	const char **slots;
	size_t cap, len;
};

void strtab_init(struct strtab *t, struct arena *arena);
/* The interned copy of s (NULL for NULL, or when out of memory). */
const char *strtab_intern(struct strtab *t, const char *s);
const char *strtab_intern_n(struct strtab *t, const char *s, size_t n);
void strtab_free(struct strtab *t);

uint64_t strtab_hash(const char *s, size_t n);

#endif
