/* space_layer: hooks that let another core module answer a space's calls
 * and a store's symbol look-ups (internal to core/; used by
 * core/image_space.c to query a mapped image in place).
 *
 * A layered space is a struct mt_space whose every mt_space_* call is
 * forwarded to a layer (a table of functions and a context). Callers see an
 * ordinary space. The layer keeps its iteration state in
 * mt_space_iter.layer[] and may use the other fields for an in-memory space
 * of its own.
 *
 * Ownership: the layered space owns ctx: mt_space_free() calls
 * layer->free(ctx). */
#ifndef MT_SPACE_LAYER_H
#define MT_SPACE_LAYER_H

#include "core/space.h"
#include "core/symtab.h"

struct mt_space_layer {
	void (*free)(void *ctx);
	int64_t (*add)(void *ctx, mt_term atom, const struct mt_varnames *names,
		       struct kb_error *err);
	int (*remove)(void *ctx, mt_term atom);
	uint32_t (*entries)(void *ctx);
	uint64_t (*size)(void *ctx);
	uint64_t (*distinct)(void *ctx);
	uint64_t (*rules)(void *ctx);
	mt_term (*atom)(void *ctx, uint32_t entry);
	uint32_t (*multiplicity)(void *ctx, uint32_t entry);
	const struct mt_varnames *(*varnames)(void *ctx, uint32_t entry);
	uint32_t (*count)(void *ctx, mt_term atom);
	size_t (*bytes)(void *ctx);
	void (*rules_begin)(void *ctx, mt_term call, struct mt_space_iter *it);
	void (*atoms_begin)(void *ctx, mt_term pattern, struct mt_space_iter *it);
	int (*next)(void *ctx, struct mt_space_iter *it, uint32_t *entry);
};

/* A space over `store` whose calls go to layer (NULL if memory runs out;
 * ctx is then not freed). */
struct mt_space *mt_space_new_layered(struct mt_store *store, const struct mt_space_layer *layer,
				      void *ctx);

/* Puts a store's symbol table on a read-only base (see symtab.h). Only on
 * a fresh store. Returns 0 or -1. */
int mt_store_set_sym_base(struct mt_store *store, const struct mt_symtab_base *base);

#endif
