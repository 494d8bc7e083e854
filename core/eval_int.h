/* eval_int: helpers the evaluator shares with its own files only (not a
 * public header): a flat codec that keeps collected results across
 * backtracking, canonical variable numbering for add-atom, and the
 * grounded arithmetic. Implemented in eval_util.c. */
#ifndef MT_EVAL_INT_H
#define MT_EVAL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/term.h"
#include "core/unify.h"
#include "util/kb_buf.h"

/* A growable buffer of 32-bit words holding encoded terms. The owner frees
 * `w` with free(). */
struct mt_codebuf {
	uint32_t *w;
	size_t len, cap;
};

/* Appends the encoding of fully resolved term t (no bound variable
 * reachable): scratch expressions and boxes are copied by value, so the
 * encoding survives the release of the scratch heap. Persistent ground
 * terms are kept as handles. Returns 0, or -1 if memory runs out. */
int mt_code_put(struct mt_store *store, struct mt_codebuf *buf, mt_term t,
		struct mt_termvec *stack);

/* Decodes the term at *pos into the scratch heap and advances *pos.
 * Variables numbered >= fresh_from (created while the encoded result was
 * computed, and since forgotten) become fresh variables of b, consistently
 * within the term. Returns MT_NONE if memory runs out or the buffer is
 * malformed. */
mt_term mt_code_get(struct mt_store *store, struct mt_bindings *b, const struct mt_codebuf *buf,
		    size_t *pos, uint32_t fresh_from, struct mt_termvec *out,
		    struct mt_termvec *frames);

/* Renumbers the variables of fully resolved term t as 0..k-1 in order of
 * first occurrence (the numbering of a stored atom), in the scratch heap.
 * Returns MT_NONE if memory runs out. */
mt_term mt_canon_vars(struct mt_store *store, mt_term t, struct mt_termvec *map,
		      struct mt_termvec *stack, struct mt_termvec *out);

/* Number of nodes of t printed as a tree (shared sub-terms counted at
 * each occurrence, a string as one node per 8 bytes), or cap + 1 as soon
 * as it exceeds cap. */
uint64_t mt_term_tree_size(struct mt_store *store, mt_term t, uint64_t cap,
			   struct mt_termvec *stack);

/* Prints t with mt_print unless its tree has more than max_nodes nodes:
 * a result built with shared sub-terms can be exponentially larger as text
 * than in memory. Then prints <term of more than N nodes, not printed>. */
void mt_print_capped(struct mt_store *store, mt_term t, const struct mt_varnames *names,
		     struct kb_buf *out, uint64_t max_nodes, struct mt_termvec *stack);

/* 1 + the largest variable number in t (0 if t has no variable). */
uint32_t mt_term_var_end(struct mt_store *store, mt_term t, struct mt_termvec *stack);

/* Grounded operations on evaluated arguments. */
enum mt_arith_status {
	MT_ARITH_OK,
	MT_ARITH_NOT_NUMBERS, /* stays unreduced */
	MT_ARITH_DIV_ZERO,
	MT_ARITH_OVERFLOW,
	MT_ARITH_OOM,
};

/* op is MT_S_PLUS .. MT_S_MOD. */
enum mt_arith_status mt_arith(struct mt_store *store, uint32_t op, mt_term a, mt_term b,
			      mt_term *result);

/* op is MT_S_LT .. MT_S_GE: returns 1 (true), 0 (false) or -1 if an
 * argument is not a number. */
int mt_compare(struct mt_store *store, uint32_t op, mt_term a, mt_term b);

#endif
