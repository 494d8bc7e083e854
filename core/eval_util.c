/* eval_util: the evaluator's helpers that do not drive evaluation: the
 * result codec used by collapse and the assertions, canonical variable
 * numbering for add-atom, and the grounded arithmetic with Hyperon's
 * integer/float promotion. Owns nothing: buffers belong to the callers. */
#include "core/eval_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Codec words. A word whose low three bits are 7 (a tag no handle uses)
 * starts an encoded node; any other word is a handle kept as is. */
enum {
	CODE_EXPR = 0,  /* next word: arity; then the children */
	CODE_INT = 1,   /* next two words: int64 (low, high) */
	CODE_FLOAT = 2, /* next two words: the double's bits */
	CODE_STR = 3,   /* next word: byte length; then the bytes, padded */
};
#define CODE_WORD(kind) (((uint32_t)(kind) << 3) | 7u)

static int put(struct mt_codebuf *b, uint32_t w)
{
	if (b->len == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		uint32_t *p = realloc(b->w, cap * sizeof *p);
		if (!p)
			return -1;
		b->w = p;
		b->cap = cap;
	}
	b->w[b->len++] = w;
	return 0;
}

static int put64(struct mt_codebuf *b, uint64_t v)
{
	return put(b, (uint32_t)v) || put(b, (uint32_t)(v >> 32));
}

static int is_ground_expr(const struct mt_store *store, mt_term t)
{
	return (mt_expr_header(store, t) & MT_HDR_GROUND) != 0;
}

int mt_code_put(struct mt_store *store, struct mt_codebuf *buf, mt_term t, struct mt_termvec *stack)
{
	size_t base = stack->len;
	if (mt_termvec_push(stack, t))
		return -1;
	while (stack->len > base) {
		mt_term x = stack->v[--stack->len];
		enum mt_tag tag = mt_tag(x);
		if (tag == MT_TEXPR || (tag == MT_EXPR && !is_ground_expr(store, x))) {
			uint32_t n = mt_expr_arity(store, x);
			if (put(buf, CODE_WORD(CODE_EXPR)) || put(buf, n))
				goto oom;
			for (uint32_t i = n; i-- > 0;)
				if (mt_termvec_push(stack, mt_expr_args(store, x)[i]))
					goto oom;
			continue;
		}
		if (tag == MT_TBOX) {
			int64_t iv;
			double dv;
			size_t len;
			const char *s;
			switch (mt_box_kind(store, x)) {
			case MT_BOX_INT:
				mt_int_value(store, x, &iv);
				if (put(buf, CODE_WORD(CODE_INT)) || put64(buf, (uint64_t)iv))
					goto oom;
				break;
			case MT_BOX_FLOAT: {
				mt_float_value(store, x, &dv);
				uint64_t bits;
				memcpy(&bits, &dv, sizeof bits);
				if (put(buf, CODE_WORD(CODE_FLOAT)) || put64(buf, bits))
					goto oom;
				break;
			}
			case MT_BOX_STRING:
				s = mt_str_value(store, x, &len);
				if (!s || len > UINT32_MAX || put(buf, CODE_WORD(CODE_STR)) ||
				    put(buf, (uint32_t)len))
					goto oom;
				for (size_t i = 0; i < len; i += 4) {
					uint32_t w = 0;
					size_t k = len - i < 4 ? len - i : 4;
					memcpy(&w, s + i, k);
					if (put(buf, w))
						goto oom;
					/* a scratch put never moves the string's bytes */
				}
				break;
			}
			continue;
		}
		if (put(buf, x))
			goto oom;
	}
	return 0;
oom:
	stack->len = base;
	return -1;
}

/* Decode frames: [arity, first output index] pairs in `frames`. */
mt_term mt_code_get(struct mt_store *store, struct mt_bindings *b, const struct mt_codebuf *buf,
		    size_t *pos, uint32_t fresh_from, struct mt_termvec *out,
		    struct mt_termvec *frames)
{
	size_t obase = out->len, fbase = frames->len;
	/* variable renaming pairs live after the frames, as (old, new) */
	struct mt_termvec map = {0};
	size_t p = *pos;
	mt_term result = MT_NONE;
	for (;;) {
		mt_term node;
		if (p >= buf->len)
			goto bad;
		uint32_t w = buf->w[p++];
		if ((w & 7u) == 7u) {
			uint32_t kind = w >> 3;
			if (kind == CODE_EXPR) {
				if (p >= buf->len)
					goto bad;
				uint32_t n = buf->w[p++];
				if (n > 0) {
					if (mt_termvec_push(frames, n) ||
					    mt_termvec_push(frames, (mt_term)out->len))
						goto bad;
					continue;
				}
				mt_term none[1] = {0};
				node = mt_texpr(store, none, 0);
			} else if (kind == CODE_INT || kind == CODE_FLOAT) {
				if (p + 2 > buf->len)
					goto bad;
				uint64_t v = buf->w[p] | ((uint64_t)buf->w[p + 1] << 32);
				p += 2;
				if (kind == CODE_INT) {
					node = mt_int(store, (int64_t)v, 1);
				} else {
					double d;
					memcpy(&d, &v, sizeof d);
					node = mt_float(store, d, 1);
				}
			} else if (kind == CODE_STR) {
				if (p >= buf->len)
					goto bad;
				uint32_t len = buf->w[p++];
				size_t words = ((size_t)len + 3) / 4;
				if (words > buf->len - p)
					goto bad;
				node = mt_string(store, (const char *)(buf->w + p), len, 1);
				p += words;
			} else {
				goto bad;
			}
		} else if (mt_tag(w) == MT_VAR && mt_payload(w) >= fresh_from) {
			node = MT_NONE;
			for (size_t i = 0; i < map.len; i += 2)
				if (map.v[i] == w)
					node = map.v[i + 1];
			if (node == MT_NONE) {
				node = mt_bind_fresh(b);
				if (node == MT_NONE || mt_termvec_push(&map, w) ||
				    mt_termvec_push(&map, node))
					goto bad;
			}
		} else {
			node = w;
		}
		if (node == MT_NONE)
			goto bad;
		/* attach the node, closing every frame it completes */
		for (;;) {
			if (frames->len == fbase) {
				result = node;
				goto done;
			}
			if (mt_termvec_push(out, node))
				goto bad;
			uint32_t n = frames->v[frames->len - 2];
			uint32_t first = frames->v[frames->len - 1];
			if (out->len - first < n)
				break;
			node = mt_texpr(store, out->v + first, n);
			if (node == MT_NONE)
				goto bad;
			out->len = first;
			frames->len -= 2;
		}
	}
done:
	*pos = p;
	out->len = obase;
	frames->len = fbase;
	mt_termvec_free(&map);
	return result;
bad:
	out->len = obase;
	frames->len = fbase;
	mt_termvec_free(&map);
	return MT_NONE;
}

/* ---- printing ---- */

uint64_t mt_term_tree_size(struct mt_store *store, mt_term t, uint64_t cap,
			   struct mt_termvec *stack)
{
	size_t base = stack->len;
	uint64_t n = 0;
	if (mt_termvec_push(stack, t))
		return cap + 1;
	while (stack->len > base && n <= cap) {
		mt_term x = stack->v[--stack->len];
		n++;
		if (mt_is_expr(x)) {
			uint32_t k = mt_expr_arity(store, x);
			for (uint32_t i = 0; i < k; i++)
				if (mt_termvec_push(stack, mt_expr_args(store, x)[i])) {
					n = cap + 1;
					break;
				}
		} else if (mt_is_box(x)) {
			size_t len;
			if (mt_str_value(store, x, &len))
				n += len / 8; /* a long string weighs like its text */
		}
	}
	stack->len = base;
	return n > cap ? cap + 1 : n;
}

void mt_print_capped(struct mt_store *store, mt_term t, const struct mt_varnames *names,
		     struct kb_buf *out, uint64_t max_nodes, struct mt_termvec *stack)
{
	if (mt_term_tree_size(store, t, max_nodes, stack) > max_nodes)
		kb_buf_printf(out, "<term of more than %llu nodes, not printed>",
			      (unsigned long long)max_nodes);
	else
		mt_print(store, t, names, out);
}

/* ---- variables ---- */

uint32_t mt_term_var_end(struct mt_store *store, mt_term t, struct mt_termvec *stack)
{
	size_t base = stack->len;
	uint32_t end = 0;
	if (mt_termvec_push(stack, t))
		return MT_VAR_MAX;
	while (stack->len > base) {
		mt_term x = stack->v[--stack->len];
		if (mt_tag(x) == MT_VAR) {
			if (mt_payload(x) + 1 > end)
				end = mt_payload(x) + 1;
		} else if (mt_is_expr(x) && !is_ground_expr(store, x)) {
			uint32_t n = mt_expr_arity(store, x);
			for (uint32_t i = 0; i < n; i++)
				if (mt_termvec_push(stack, mt_expr_args(store, x)[i])) {
					stack->len = base;
					return MT_VAR_MAX;
				}
		}
	}
	return end;
}

mt_term mt_canon_vars(struct mt_store *store, mt_term t, struct mt_termvec *map,
		      struct mt_termvec *stack, struct mt_termvec *out)
{
	/* Walk in prefix order, children left to right, rebuilding bottom up:
	 * stack holds (term, next child, output base) triples. */
	size_t sbase = stack->len, obase = out->len;
	map->len = 0;
	mt_term cur = t, result = MT_NONE;
	for (;;) {
		if (cur != MT_NONE) {
			mt_term node = cur;
			if (mt_tag(cur) == MT_VAR) {
				uint32_t k = (uint32_t)map->len;
				for (uint32_t i = 0; i < map->len; i++)
					if (map->v[i] == cur)
						k = i;
				if (k == map->len && mt_termvec_push(map, cur))
					goto oom;
				node = mt_var(k);
			} else if (mt_is_expr(cur) && !is_ground_expr(store, cur)) {
				if (mt_termvec_push(stack, cur) || mt_termvec_push(stack, 0) ||
				    mt_termvec_push(stack, (mt_term)out->len))
					goto oom;
				cur = MT_NONE;
				continue;
			}
			if (stack->len == sbase) {
				result = node;
				break;
			}
			if (mt_termvec_push(out, node))
				goto oom;
			cur = MT_NONE;
			continue;
		}
		mt_term x = stack->v[stack->len - 3];
		uint32_t i = stack->v[stack->len - 2];
		uint32_t n = mt_expr_arity(store, x);
		if (i < n) {
			stack->v[stack->len - 2] = i + 1;
			cur = mt_expr_args(store, x)[i];
			continue;
		}
		uint32_t first = stack->v[stack->len - 1];
		mt_term node = mt_texpr(store, out->v + first, n);
		if (node == MT_NONE)
			goto oom;
		out->len = first;
		stack->len -= 3;
		if (stack->len == sbase) {
			result = node;
			break;
		}
		if (mt_termvec_push(out, node))
			goto oom;
	}
	stack->len = sbase;
	out->len = obase;
	return result;
oom:
	stack->len = sbase;
	out->len = obase;
	return MT_NONE;
}

/* ---- grounded arithmetic ---- */

enum mt_arith_status mt_arith(struct mt_store *store, uint32_t op, mt_term a, mt_term b,
			      mt_term *result)
{
	int fa, fb;
	int64_t ia = 0, ib = 0;
	double da = 0, db = 0;
	if (!mt_num(store, a, &fa, &ia, &da) || !mt_num(store, b, &fb, &ib, &db))
		return MT_ARITH_NOT_NUMBERS;
	if (fa || fb) {
		/* Hyperon promotes to the widest type: float */
		if (!fa)
			da = (double)ia;
		if (!fb)
			db = (double)ib;
		double r;
		switch (op) {
		case MT_S_PLUS:
			r = da + db;
			break;
		case MT_S_MINUS:
			r = da - db;
			break;
		case MT_S_TIMES:
			r = da * db;
			break;
		case MT_S_DIV:
			r = da / db;
			break;
		default:
			r = fmod(da, db);
			break;
		}
		*result = mt_float(store, r, 1);
		return *result == MT_NONE ? MT_ARITH_OOM : MT_ARITH_OK;
	}
	int64_t r;
	switch (op) {
	case MT_S_PLUS:
		if (__builtin_add_overflow(ia, ib, &r))
			return MT_ARITH_OVERFLOW;
		break;
	case MT_S_MINUS:
		if (__builtin_sub_overflow(ia, ib, &r))
			return MT_ARITH_OVERFLOW;
		break;
	case MT_S_TIMES:
		if (__builtin_mul_overflow(ia, ib, &r))
			return MT_ARITH_OVERFLOW;
		break;
	case MT_S_DIV:
	default:
		if (ib == 0)
			return MT_ARITH_DIV_ZERO;
		if (ia == INT64_MIN && ib == -1)
			return MT_ARITH_OVERFLOW;
		/* C and Rust both truncate toward zero */
		r = op == MT_S_DIV ? ia / ib : ia % ib;
		break;
	}
	*result = mt_int(store, r, 1);
	return *result == MT_NONE ? MT_ARITH_OOM : MT_ARITH_OK;
}

int mt_compare(struct mt_store *store, uint32_t op, mt_term a, mt_term b)
{
	int fa, fb;
	int64_t ia = 0, ib = 0;
	double da = 0, db = 0;
	if (!mt_num(store, a, &fa, &ia, &da) || !mt_num(store, b, &fb, &ib, &db))
		return -1;
	if (!fa && !fb) {
		switch (op) {
		case MT_S_LT:
			return ia < ib;
		case MT_S_GT:
			return ia > ib;
		case MT_S_LE:
			return ia <= ib;
		default:
			return ia >= ib;
		}
	}
	if (!fa)
		da = (double)ia;
	if (!fb)
		db = (double)ib;
	switch (op) {
	case MT_S_LT:
		return da < db;
	case MT_S_GT:
		return da > db;
	case MT_S_LE:
		return da <= db;
	default:
		return da >= db;
	}
}
