/* space: the knowledge base, a multiset of atoms (module prefix mt_space_).
 *
 * Atoms are persistent terms of one store. Each distinct atom is one entry,
 * numbered in insertion order, with a multiplicity; removing the last copy
 * leaves a tombstone (multiplicity 0) so entry numbers stay stable and
 * iteration stays in insertion order.
 *
 * Indexes:
 *  - rules: every atom (= LHS RHS) is indexed by LHS's head symbol and arity
 *    (an LHS that is a symbol is indexed as arity 0 of that symbol), and by
 *    its first argument where that is ground, for evaluation;
 *  - atoms: every atom is indexed by head symbol and arity (a symbol atom by
 *    the symbol), for match.
 * A look-up with a ground head never scans the whole space; only a query
 * whose head is a variable (or an expression) visits every entry.
 *
 * Candidates are a superset of the matches, in insertion order; the caller
 * unifies each. An iterator stays valid while the space is not changed;
 * an evaluator that adds or removes atoms during a query must collect the
 * candidates first.
 *
 * Ownership: the space owns its entries and indexes, not the store.
 *
 * Threads: a space is for one thread at a time. Even a const call may fill
 * a cache: the atom -> entry table is built on the first count, remove, or
 * add of an atom that could already be there (a fresh load never needs it). */
#ifndef MT_SPACE_H
#define MT_SPACE_H

#include "core/term.h"

struct mt_space;

struct mt_space *mt_space_new(struct mt_store *store);
void mt_space_free(struct mt_space *space);
struct mt_store *mt_space_store(const struct mt_space *space);

/* Adds one copy of a persistent atom (scratch atoms: call
 * mt_term_persist() first). `names` may be NULL; the first names given for
 * an entry are kept for printing. Returns the entry number, or -1 with err
 * set if memory runs out. */
int64_t mt_space_add(struct mt_space *space, mt_term atom, const struct mt_varnames *names,
		     struct kb_error *err);

/* Removes one copy; returns 1 if a copy was removed, 0 if the atom was not
 * there. */
int mt_space_remove(struct mt_space *space, mt_term atom);

/* Number of entries ever added (tombstones included): entries are
 * 0..mt_space_entries()-1. */
uint32_t mt_space_entries(const struct mt_space *space);
/* Atoms counted with multiplicity, and distinct live atoms. */
uint64_t mt_space_size(const struct mt_space *space);
uint64_t mt_space_distinct(const struct mt_space *space);
/* Number of live `(= LHS RHS)` entries. */
uint64_t mt_space_rules(const struct mt_space *space);

mt_term mt_space_atom(const struct mt_space *space, uint32_t entry);
uint32_t mt_space_multiplicity(const struct mt_space *space, uint32_t entry);
/* The names given when the entry was added, or NULL. */
const struct mt_varnames *mt_space_varnames(const struct mt_space *space, uint32_t entry);
/* Multiplicity of an atom (0 if absent); O(1) expected. The atom may be a
 * scratch term. */
uint32_t mt_space_count(const struct mt_space *space, mt_term atom);

/* Memory the space holds (entries, indexes, name lists), in bytes. */
size_t mt_space_bytes(const struct mt_space *space);

/* Rules with at least this many rules for one (head, arity) get a
 * first-argument index. Below it the key's chain is the candidate list:
 * unifying a handful of candidates costs less than the index probe. */
#define MT_SPACE_FIRST_ARG_MIN 8

/* Candidate iteration. `it` is caller-owned storage; its fields are the
 * space's business (callers use only begin/next).
 *
 * The indexes are chains threaded through the entries (each index key
 * holds its last entry; entries link to the next one with the same key),
 * so an iterator merges up to three chains in entry order: for a rule
 * look-up, the key's chain (or its first-argument group and the group of
 * rules whose first argument is not ground) and the chain of rules whose
 * LHS has no ground head. layer[] is the state of a layered space
 * (core/space_layer.h: an image queried in place). */
struct mt_space_iter {
	const struct mt_space *space;
	uint64_t layer[11];
	uint32_t scan, scan_end; /* full scan: entries scan..scan_end-1 */
	int full_scan;
	int nchains;
	uint32_t cur[3];       /* next entry of each chain, UINT32_MAX when done */
	uint32_t last[3];      /* the chain's last entry */
	unsigned char kind[3]; /* which link the chain follows */
};

/* Rules (= LHS RHS) whose LHS may unify with `call` (a term of this
 * store, persistent or scratch). */
void mt_space_rules_begin(const struct mt_space *space, mt_term call, struct mt_space_iter *it);
/* Atoms that may unify with `pattern`. */
void mt_space_atoms_begin(const struct mt_space *space, mt_term pattern, struct mt_space_iter *it);
/* Next live candidate entry; returns 0 when exhausted. Entries with
 * multiplicity > 1 are returned once: read the multiplicity. */
int mt_space_next(struct mt_space_iter *it, uint32_t *entry);

#endif
