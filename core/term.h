/* term: the MeTTa term store (module prefix mt_).
 *
 * A term is a 32-bit tagged handle, mt_term. The low three bits are the tag;
 * the remaining 29 bits are the payload:
 *
 *   MT_SYM    symbol id (interned: equal names have equal ids)
 *   MT_VAR    variable number (see "Variables" below)
 *   MT_INT    signed integer in [MT_INT_MIN, MT_INT_MAX], stored inline
 *   MT_EXPR   a hash-consed expression in the store's heap: its record's
 *             word offset, or for a compact expression of arity 2 or 3 a
 *             flag, its ground bit, its arity bit and the offset (below)
 *   MT_TEXPR  word index of an expression in the scratch heap (not hash-consed)
 *   MT_BOX    index of a boxed grounded value (64-bit integer outside the
 *             inline range, float, string) owned by the store, hash-consed
 *   MT_TBOX   index of a boxed value in the scratch heap
 *
 * Persistent terms (SYM, VAR, INT, EXPR, BOX) are hash-consed: two
 * persistent terms are structurally equal exactly when their handles are
 * equal. This is what lets the knowledge base store each distinct sub-term
 * once and compare atoms in O(1).
 *
 * Scratch terms (TEXPR, TBOX) are what evaluation builds: allocation is a
 * bump of the scratch heap, with no hashing; mt_scratch_mark() /
 * mt_scratch_release() free everything built after a mark at once. A scratch
 * expression may contain persistent children; a persistent expression never
 * contains a scratch child. mt_term_persist() copies a scratch term into the
 * persistent store (add-atom does this).
 *
 * Expression layout: one header word, then `arity` child handles; a
 * persistent expression of arity 2 or 3 may be compact (no header word, see
 * store_impl.h), so read them through mt_expr_header/arity/args. Header:
 * bits 0..23 arity, bit 24 MT_HDR_GROUND (no variable at any depth), bits
 * 25..31 reserved (zero). The empty expression `()` is an expression of
 * arity 0.
 *
 * Variables: in a stored atom, variables are numbered 0..k-1 in order of
 * first occurrence (left to right, depth first), so alpha-equivalent atoms
 * are the same handle. Their source names are kept beside the atom (struct
 * mt_varnames), only for printing. The evaluator renames a rule apart by
 * adding an offset to its variable numbers; numbers up to MT_VAR_MAX exist.
 *
 * Ownership: the store owns every term, symbol name and box. Handles stay
 * valid until mt_store_free() (persistent) or the release of an earlier
 * scratch mark (scratch). Pointers returned by accessors (mt_expr_args,
 * mt_sym_name, mt_str_value) are valid until the next allocation in the
 * same heap: copy what you keep across allocations.
 *
 * Well-known symbols are interned at mt_store_new() in the order of
 * MT_WELLKNOWN, so their ids are compile-time constants (MT_S_EQUAL, ...). */
#ifndef MT_TERM_H
#define MT_TERM_H

#include <stddef.h>
#include <stdint.h>

#include "util/kb_buf.h"
#include "util/kb_error.h"

typedef uint32_t mt_term;

/* "No term": the result of a failed construction. Its tag (7) is unused. */
#define MT_NONE UINT32_MAX

enum mt_tag {
	MT_SYM = 0,
	MT_VAR = 1,
	MT_INT = 2,
	MT_EXPR = 3,
	MT_TEXPR = 4,
	MT_BOX = 5,
	MT_TBOX = 6,
};

#define MT_TAG_BITS 3u
#define MT_TAG_MASK 7u
#define MT_PAYLOAD_MAX ((1u << 29) - 1)
#define MT_INT_MIN (-((int64_t)1 << 28))
#define MT_INT_MAX (((int64_t)1 << 28) - 1)
#define MT_VAR_MAX MT_PAYLOAD_MAX

#define MT_HDR_ARITY_MASK 0x00ffffffu
#define MT_HDR_GROUND (1u << 24)

/* Symbols interned first, in this order, by every store. */
#define MT_WELLKNOWN(X)                                                                            \
	X(EQUAL, "=")                                                                              \
	X(COLON, ":")                                                                              \
	X(ARROW, "->")                                                                             \
	X(COMMA, ",")                                                                              \
	X(SELF, "&self")                                                                           \
	X(TRUE, "True")                                                                            \
	X(FALSE, "False")                                                                          \
	X(EMPTY, "Empty")                                                                          \
	X(ERROR, "Error")                                                                          \
	X(TYPE, "Type")                                                                            \
	/* built-ins of the evaluator (eval.c dispatches on these ids) */                          \
	X(IF, "if")                                                                                \
	X(LET, "let")                                                                              \
	X(LETSTAR, "let*")                                                                         \
	X(CASE, "case")                                                                            \
	X(SUPERPOSE, "superpose")                                                                  \
	X(COLLAPSE, "collapse")                                                                    \
	X(QUOTE, "quote")                                                                          \
	X(UNIFY, "unify")                                                                          \
	X(CONS_ATOM, "cons-atom")                                                                  \
	X(DECONS_ATOM, "decons-atom")                                                              \
	X(CAR_ATOM, "car-atom")                                                                    \
	X(CDR_ATOM, "cdr-atom")                                                                    \
	X(EMPTY_OP, "empty")                                                                       \
	X(ADD_ATOM, "add-atom")                                                                    \
	X(REMOVE_ATOM, "remove-atom")                                                              \
	X(MATCH, "match")                                                                          \
	X(ASSERT_EQUAL, "assertEqual")                                                             \
	X(ASSERT_EQUAL_TO_RESULT, "assertEqualToResult")                                           \
	X(ASSERT_ALPHA_EQUAL, "assertAlphaEqual")                                                  \
	X(PLUS, "+")                                                                               \
	X(MINUS, "-")                                                                              \
	X(TIMES, "*")                                                                              \
	X(DIV, "/")                                                                                \
	X(MOD, "%")                                                                                \
	X(LT, "<")                                                                                 \
	X(GT, ">")                                                                                 \
	X(LE, "<=")                                                                                \
	X(GE, ">=")                                                                                \
	X(EQEQ, "==")                                                                              \
	X(AND, "and")                                                                              \
	X(OR, "or")                                                                                \
	X(NOT, "not")

enum mt_wellknown {
#define MT_WK_ENUM(name, text) MT_S_##name,
	MT_WELLKNOWN(MT_WK_ENUM)
#undef MT_WK_ENUM
	    MT_S__COUNT
};

struct mt_store;

/* Names of an atom's variables: names[i] is the symbol id of the name of
 * variable i (without the '$'). Owned by whoever built it (the parser's
 * callback receives one valid for the duration of the call). */
struct mt_varnames {
	uint32_t count;
	const uint32_t *names;
};

/* ---- handles ---- */

static inline enum mt_tag mt_tag(mt_term t)
{
	return (enum mt_tag)(t & MT_TAG_MASK);
}
static inline uint32_t mt_payload(mt_term t)
{
	return t >> MT_TAG_BITS;
}
static inline mt_term mt_make(enum mt_tag tag, uint32_t payload)
{
	return (payload << MT_TAG_BITS) | (uint32_t)tag;
}
static inline mt_term mt_sym(uint32_t id)
{
	return mt_make(MT_SYM, id);
}
static inline mt_term mt_var(uint32_t n)
{
	return mt_make(MT_VAR, n);
}
/* A persistent expression's payload: bit 28 set for a compact expression
 * of arity 2 or 3 (no header word), with bit 27 its ground flag, bit 26 set
 * for arity 2, and bits 0..25 its record's heap offset; otherwise the
 * offset of its header word. */
#define MT_XC_BIT (1u << 28)
#define MT_XC_GROUND (1u << 27)
#define MT_XC_TWO (1u << 26)
#define MT_XC_OFF ((1u << 26) - 1)

/* The heap offset of a persistent expression's record: larger for a newer
 * expression (a child is always older than its parent). */
static inline uint32_t mt_expr_order(mt_term t)
{
	uint32_t p = t >> MT_TAG_BITS;
	return p & MT_XC_BIT ? p & MT_XC_OFF : p;
}

static inline int mt_is_expr(mt_term t)
{
	return mt_tag(t) == MT_EXPR || mt_tag(t) == MT_TEXPR;
}
static inline int mt_is_box(mt_term t)
{
	return mt_tag(t) == MT_BOX || mt_tag(t) == MT_TBOX;
}
static inline int mt_is_scratch(mt_term t)
{
	return mt_tag(t) == MT_TEXPR || mt_tag(t) == MT_TBOX;
}
static inline int mt_small_int_fits(int64_t v)
{
	return v >= MT_INT_MIN && v <= MT_INT_MAX;
}
static inline mt_term mt_small_int(int64_t v)
{
	return mt_make(MT_INT, (uint32_t)v & MT_PAYLOAD_MAX);
}
static inline int64_t mt_small_int_value(mt_term t)
{
	/* sign-extend the 29-bit payload */
	return (int64_t)((int32_t)t >> MT_TAG_BITS);
}

/* ---- store lifecycle ---- */

struct mt_store *mt_store_new(void);
void mt_store_free(struct mt_store *store);

/* Memory the store holds (heaps, tables, names), in bytes. */
size_t mt_store_bytes(const struct mt_store *store);
/* Sizes the tables for about `exprs` more expressions and `syms` more
 * symbols at once, instead of growing them step by step (each growth
 * rehashes everything so far). Only a hint: a reservation that fails is
 * ignored, and nothing fails for lack of one. */
void mt_store_reserve(struct mt_store *store, size_t exprs, size_t syms);

/* Distinct persistent expressions and distinct persistent boxes. */
size_t mt_store_expr_count(const struct mt_store *store);
size_t mt_store_box_count(const struct mt_store *store);

/* ---- symbols ---- */

/* Interns a name (any bytes, not NUL-terminated); returns its id, or
 * UINT32_MAX if memory runs out. */
uint32_t mt_sym_intern(struct mt_store *store, const char *name, size_t len);
/* Looks a name up without interning it; UINT32_MAX if absent. */
uint32_t mt_sym_find(const struct mt_store *store, const char *name, size_t len);
/* A symbol's name: *len bytes, not NUL-terminated (NULL for an unknown id). */
const char *mt_sym_name(const struct mt_store *store, uint32_t id, size_t *len);
uint32_t mt_sym_count(const struct mt_store *store);

/* ---- building terms ---- */

/* A hash-consed expression of persistent children (no TEXPR/TBOX child).
 * Returns the handle, or MT_NONE if memory runs out or the heap is full. */
mt_term mt_expr(struct mt_store *store, const mt_term *args, uint32_t arity);
/* A scratch expression; children may be persistent or scratch. */
mt_term mt_texpr(struct mt_store *store, const mt_term *args, uint32_t arity);

/* Integers: inline when they fit, boxed otherwise. `scratch` selects the
 * heap for a box. Each returns MT_NONE if memory runs out. */
mt_term mt_int(struct mt_store *store, int64_t v, int scratch);
mt_term mt_float(struct mt_store *store, double v, int scratch);
mt_term mt_string(struct mt_store *store, const char *bytes, size_t len, int scratch);

/* Copies a (possibly scratch) term into the persistent store, hash-consing
 * it; persistent input is returned as is. Returns MT_NONE on failure. */
mt_term mt_term_persist(struct mt_store *store, mt_term t);

/* The persistent term structurally equal to t (persistent or scratch), or
 * MT_NONE if the store holds none. Never allocates: an index can look up a
 * scratch key without growing the store. */
mt_term mt_term_find(const struct mt_store *store, mt_term t);

/* ---- reading terms ---- */

static inline uint32_t mt_hdr_arity(uint32_t hdr)
{
	return hdr & MT_HDR_ARITY_MASK;
}

uint32_t mt_expr_header(const struct mt_store *store, mt_term t);
uint32_t mt_expr_arity(const struct mt_store *store, mt_term t);
const mt_term *mt_expr_args(const struct mt_store *store, mt_term t);
/* 1 if t has no variable at any depth (O(1): from the header for expressions). */
int mt_is_ground(const struct mt_store *store, mt_term t);

enum mt_box_kind { MT_BOX_INT, MT_BOX_FLOAT, MT_BOX_STRING };
enum mt_box_kind mt_box_kind(const struct mt_store *store, mt_term t);
/* 1 if t is an integer (inline or boxed) and sets *v. */
int mt_int_value(const struct mt_store *store, mt_term t, int64_t *v);
/* 1 if t is a float and sets *v. */
int mt_float_value(const struct mt_store *store, mt_term t, double *v);
/* The bytes of a string atom (without quotes or escapes), or NULL. */
const char *mt_str_value(const struct mt_store *store, mt_term t, size_t *len);

/* Structural equality; O(1) when both are persistent. */
int mt_term_equal(const struct mt_store *store, mt_term a, mt_term b);

/* ---- scratch heap ---- */

struct mt_scratch_mark {
	size_t words, boxes, bytes;
};
struct mt_scratch_mark mt_scratch_mark(const struct mt_store *store);
void mt_scratch_release(struct mt_store *store, struct mt_scratch_mark mark);

/* ---- printing ---- */

/* Appends canonical MeTTa text for t: `(a b c)`, `$name` (from `names` when
 * given and the number is in range, else `$_N`), integers in decimal, floats
 * so that they read back as floats with the same value, strings quoted with
 * escapes, symbols as their names. parse(print(t)) == t for every t the
 * parser can produce. */
void mt_print(const struct mt_store *store, mt_term t, const struct mt_varnames *names,
	      struct kb_buf *out);

#endif
