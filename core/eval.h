/* eval: the MeTTa evaluator (module prefix mt_eval_), with Hyperon's
 * semantics, as a streaming iterator in the shape of jq's
 * start / next / teardown.
 *
 *     struct mt_eval_ctx *ctx = mt_eval_ctx_new(space, NULL);
 *     struct mt_eval_it *it = mt_eval_start(ctx, query, names, &err);
 *     mt_term r;
 *     while ((rc = mt_eval_next(it, &r)) == 1)
 *             use(r);            // valid until the next mt_eval_next/teardown
 *     mt_eval_teardown(it);      // also fine in the middle of the stream
 *     mt_eval_ctx_free(ctx);
 *
 * OWNERSHIP
 *  - The caller owns the store, the space and the context; the context
 *    must not outlive them. The context owns the iterator: one iterator is
 *    active per context at a time (mt_eval_start fails while one is), and
 *    mt_eval_teardown() returns it. mt_eval_ctx_free() tears down an
 *    active iterator.
 *  - The query is a term of the space's store (persistent or scratch); its
 *    variables are the query's own (numbered as in a parsed top-level atom)
 *    and must stay valid until teardown. `names` (may be NULL) is borrowed
 *    until teardown; it is only used to print messages.
 *  - A result is a fully resolved term in the store's scratch heap, valid
 *    until the next mt_eval_next() or mt_eval_teardown() on the iterator
 *    (the evaluator backtracks into, and releases, that memory). Copy it
 *    (mt_term_persist, or print it) to keep it. Teardown releases
 *    everything the query allocated in the scratch heap.
 *  - Side effects (add-atom, remove-atom) change the space and persistent
 *    store for good; they are not undone by backtracking.
 *
 * SEMANTICS (Hyperon's MeTTa interpreter, without type checking)
 *  - An expression's elements, head included, are evaluated first, left to
 *    right; their results combine as a Cartesian product, and bindings a
 *    result makes (a variable of the query matched by a rule) hold for the
 *    elements after it and for the rest of that branch.
 *  - The reduced expression is then matched against the left side of every
 *    rule (= LHS RHS) of the space (rules renamed apart at each use); each
 *    rule that unifies contributes the results of evaluating its RHS.
 *    An expression no rule unifies with is its own result. An expression
 *    whose head is an unbound variable is not looked up (as in Hyperon).
 *  - Results form a multiset: duplicates are kept, order is not specified.
 *  - `Empty` (and `(empty)`) produces no result; an element without results
 *    gives the enclosing expression none. An element that evaluates to an
 *    (Error ...) atom makes the enclosing expression evaluate to that error.
 *  - Symbols: with opts.symbol_rules (the default) a symbol with rules
 *    (= foo 42) reduces like an expression. Hyperon leaves symbols
 *    unevaluated; set symbol_rules = 0 for exactly that.
 *  - Built-ins, grounded operations and special forms: see eval.c's table
 *    (if let let* case superpose collapse quote unify cons-atom car-atom
 *    cdr-atom decons-atom empty add-atom remove-atom match Error
 *    assertEqual assertEqualToResult assertAlphaEqual + - * / % < > <= >=
 *    == and or not).
 *
 * LIMITS (an (Error ...) atom instead of a crash)
 *  - max_depth: depth of the evaluation's continuation stack (nesting of
 *    pending evaluations). The evaluation that would pass it yields
 *    (Error ATOM "depth limit N exceeded") as its value. Evaluation uses
 *    an explicit stack, never the C stack, so 100,000-deep recursion runs.
 *  - max_results: results per query, and items per collapse / assertion.
 *    Past it the query (or collapse) yields (Error ATOM "result limit N
 *    reached") and stops.
 *  - max_steps: evaluation steps per query (0: no limit); past it the
 *    query yields (Error QUERY "step limit N reached") and stops.
 *  - max_memory: bytes a query may take (scratch terms, frames, bindings,
 *    collected results); past it the query yields (Error QUERY "memory
 *    limit N MiB reached") and stops. Nondeterminism can make results grow
 *    exponentially with depth; this bounds what such a program takes.
 *  - Integer overflow in + - * / % gives (Error EXPR IntegerOverflow);
 *    integer division or remainder by zero gives (Error EXPR DivisionByZero)
 *    (float division by zero gives an infinity, as in Hyperon). */
#ifndef MT_EVAL_H
#define MT_EVAL_H

#include <stdint.h>

#include "core/space.h"
#include "core/term.h"
#include "util/kb_error.h"

#define MT_EVAL_DEFAULT_MAX_DEPTH 1000000u
#define MT_EVAL_DEFAULT_MAX_RESULTS 1000000u
#define MT_EVAL_DEFAULT_MAX_MEMORY ((uint64_t)2 << 30)

struct mt_eval_opts {
	uint32_t max_depth;   /* 0: MT_EVAL_DEFAULT_MAX_DEPTH */
	uint64_t max_results; /* 0: MT_EVAL_DEFAULT_MAX_RESULTS */
	uint64_t max_steps;   /* 0: unlimited */
	int symbol_rules;     /* -1 (or the default opts): on; 0: off, as Hyperon */
	uint64_t max_memory;  /* bytes; 0: MT_EVAL_DEFAULT_MAX_MEMORY */
};

struct mt_eval_ctx;
struct mt_eval_it;

/* Default options (symbol_rules on). */
struct mt_eval_opts mt_eval_default_opts(void);

/* A context over `space` (and its store). opts may be NULL. Returns NULL
 * if memory runs out. */
struct mt_eval_ctx *mt_eval_ctx_new(struct mt_space *space, const struct mt_eval_opts *opts);
void mt_eval_ctx_free(struct mt_eval_ctx *ctx);

/* Starts evaluating `query`. Returns the iterator, or NULL with err set
 * (another iterator is active, or memory ran out). */
struct mt_eval_it *mt_eval_start(struct mt_eval_ctx *ctx, mt_term query,
				 const struct mt_varnames *names, struct kb_error *err);

/* Produces the next result: returns 1 and sets *result, 0 when there are
 * no more results, or -1 with the cause in mt_eval_error() if memory ran
 * out (the iterator is then exhausted). */
int mt_eval_next(struct mt_eval_it *it, mt_term *result);

/* The message of the last -1 from mt_eval_next(). */
const char *mt_eval_error(const struct mt_eval_it *it);

/* Ends the evaluation (exhausted or not) and releases what it allocated. */
void mt_eval_teardown(struct mt_eval_it *it);

/* Counters of the last (or current) query, for benchmarks and profiles. */
struct mt_eval_stats {
	uint64_t steps;      /* evaluation steps */
	uint64_t rule_tries; /* unifications of a rule's head with a call */
	uint64_t max_depth;  /* deepest continuation stack reached */
	uint64_t results;    /* results produced */
};
void mt_eval_get_stats(const struct mt_eval_ctx *ctx, struct mt_eval_stats *stats);

#endif
