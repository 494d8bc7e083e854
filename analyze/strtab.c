/* strtab: an open-addressing set of strings whose bytes live in an arena. */
#include "analyze/strtab.h"

#include <stdlib.h>
#include <string.h>

void strtab_init(struct strtab *t, struct arena *arena)
{
	memset(t, 0, sizeof *t);
	t->arena = arena;
}

uint64_t strtab_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

static int grow(struct strtab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 256;
	const char **slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < t->cap; i++) {
		const char *s = t->slots[i];
		if (!s)
			continue;
		size_t j = strtab_hash(s, strlen(s)) & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = s;
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

const char *strtab_intern_n(struct strtab *t, const char *s, size_t n)
{
	if (!s)
		return NULL;
	if ((t->len + 1) * 2 > t->cap && grow(t) != 0)
		return NULL;
	size_t j = strtab_hash(s, n) & (t->cap - 1);
	while (t->slots[j]) {
		const char *c = t->slots[j];
		if (strnlen(c, n + 1) == n && memcmp(c, s, n) == 0)
			return c;
		j = (j + 1) & (t->cap - 1);
	}
	const char *copy = arena_strndup(t->arena, s, n);
	if (!copy)
		return NULL;
	t->slots[j] = copy;
	t->len++;
	return copy;
}

const char *strtab_intern(struct strtab *t, const char *s)
{
	return s ? strtab_intern_n(t, s, strlen(s)) : NULL;
}

void strtab_free(struct strtab *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = t->len = 0;
}
