/* image_space: a space answered from a mapped image in place, plus an
 * in-memory overlay (core/image.h, core/space_layer.h).
 *
 * The store's symbol table sits on the image's symbols (ids 0..S-1, names
 * read from the mapping, look-ups by name through the hash order of the
 * symbol records). Entries 0..E-1 are the image's; a candidate is found
 * through the on-disk index runs, read from its home (the record of its
 * key's symbol, where the runs were found: no other page is read) and its
 * atom decoded on demand into the store (hash-consed, so equal atoms are
 * equal handles) and kept in a small direct-mapped cache. An entry asked
 * for by number is found through section 'order' first. Atoms
 * added afterwards go to an ordinary in-memory space on the same store
 * (entries E, E+1, ...); adding or removing an atom the image holds changes
 * a per-entry multiplicity delta instead.
 *
 * Iteration: mt_space_iter.layer[] holds the image part (two merged run
 * streams, or a full scan); the iterator's other fields hold the overlay's
 * own iteration, prepared at begin and run after the image part.
 *
 * Errors met while reading the mapping are recorded once in the image
 * (img_lazy_fail) and the damaged candidate is skipped.
 *
 * Owner: struct img_space (the layer context) owns the overlay space, the
 * decoder, the caches and the decoded name lists; the image and the store
 * belong to struct mt_image_kb. */
#include "core/image_impl.h"
#include "core/space_layer.h"
#include "core/store_impl.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_BITS 12u

struct cached {
	uint32_t entry_p1; /* entry + 1; 0 = empty */
	mt_term atom;
	uint32_t mult;
	uint32_t names; /* name list + 1 */
};

struct img_space {
	struct mt_image *img;
	struct mt_store *store;
	struct mt_space *overlay;
	uint32_t E;
	struct img_decoder dec;
	struct cached cache[1u << CACHE_BITS];
	/* for scans in entry order: the order run last used */
	struct img_orun seq;
	int seq_ok;
	/* the home last used, and the record after the last entry read in it */
	struct img_home home;
	uint32_t home_id;
	int home_ok;
	uint64_t home_next_pos, home_next_off;
	/* multiplicity changes to image entries: entry + 1 -> delta */
	uint32_t *dkeys;
	int64_t *dvals;
	size_t dcount, dmask;
	/* current totals of the image part */
	uint64_t size, distinct, rules;
	/* decoded name lists, by list number (allocated on first use) */
	struct mt_varnames **lists;
	/* for finding an atom in the image (add, remove, count): the index
	 * groups decoded whole so far (group key + 1), and their atoms
	 * (persistent atom + 1 -> entry, the first entry holding it) */
	uint64_t *gkeys;
	size_t gcount, gmask;
	uint32_t *akeys, *avals;
	size_t acount, amask;
};

static void lazy(struct img_space *s, const struct kb_error *err)
{
	img_lazy_fail(s->img, err);
}

/* ---- open-addressing tables (power-of-two slots, nonzero keys) ---- */

static uint64_t mix(uint64_t k)
{
	return k * 0x9E3779B97F4A7C15ULL >> 32;
}

/* The slot of key k (nonzero) in a table of u32 keys, or the empty slot
 * where it would go. */
static size_t slot32(const uint32_t *keys, size_t mask, uint32_t k)
{
	size_t i = mix(k) & mask;
	while (keys[i] && keys[i] != k)
		i = (i + 1) & mask;
	return i;
}

static uint64_t key_at(const void *keys, size_t ksize, size_t i)
{
	return ksize == 8 ? ((const uint64_t *)keys)[i] : ((const uint32_t *)keys)[i];
}

/* Grows a table of `ksize`-byte keys (4 or 8) and `vsize`-byte values
 * (vals NULL: a set) so that it holds one more than count at half load. */
static int table_reserve(void **keys, void **vals, size_t ksize, size_t vsize, size_t count,
			 size_t *mask)
{
	if (*keys && (count + 1) * 2 <= *mask + 1)
		return 0;
	size_t cap = *keys ? (*mask + 1) * 2 : 64;
	char *nk = calloc(cap, ksize), *nv = vals ? malloc(cap * vsize) : NULL;
	if (!nk || (vals && !nv)) {
		free(nk);
		free(nv);
		return -1;
	}
	for (size_t i = 0; *keys && i <= *mask; i++) {
		uint64_t k = key_at(*keys, ksize, i);
		if (!k)
			continue;
		size_t j = mix(k) & (cap - 1);
		while (key_at(nk, ksize, j))
			j = (j + 1) & (cap - 1);
		memcpy(nk + j * ksize, (char *)*keys + i * ksize, ksize);
		if (vals)
			memcpy(nv + j * vsize, (char *)*vals + i * vsize, vsize);
	}
	free(*keys);
	*keys = nk;
	if (vals) {
		free(*vals);
		*vals = nv;
	}
	*mask = cap - 1;
	return 0;
}

/* ---- multiplicity deltas ---- */

static int64_t delta_of(const struct img_space *s, uint32_t e)
{
	if (!s->dkeys)
		return 0;
	size_t i = slot32(s->dkeys, s->dmask, e + 1);
	return s->dkeys[i] ? s->dvals[i] : 0;
}

static int delta_add(struct img_space *s, uint32_t e, int64_t d)
{
	if (table_reserve((void **)&s->dkeys, (void **)&s->dvals, sizeof *s->dkeys,
			  sizeof *s->dvals, s->dcount, &s->dmask))
		return -1;
	size_t i = slot32(s->dkeys, s->dmask, e + 1);
	if (!s->dkeys[i]) {
		s->dkeys[i] = e + 1;
		s->dvals[i] = 0;
		s->dcount++;
	}
	s->dvals[i] += d;
	return 0;
}

/* ---- entries ---- */

/* The home and home position of entry e, through section 'order'. */
static int locate(struct img_space *s, uint32_t e, uint32_t *home, uint64_t *hpos,
		  struct kb_error *err)
{
	struct img_orun *r = &s->seq;
	int ok = s->seq_ok && e >= r->first && e < r->first + r->count;
	if (!ok && s->seq_ok && e == r->first + r->count && r->k + 1 < s->img->order_runs) {
		s->seq_ok = 0;
		if (img_order_next(s->img, r, err))
			return -1;
		s->seq_ok = ok = 1;
	}
	if (!ok) {
		s->seq_ok = 0;
		if (img_order_find(s->img, e, r, err))
			return -1;
		s->seq_ok = 1;
	}
	*home = r->home;
	*hpos = r->hpos + (e - r->first);
	return 0;
}

/* Reads the entry at position hpos of a home; an entry right after the
 * last one read in the same home is found without the home's table. */
static int home_entry(struct img_space *s, uint32_t home, uint64_t hpos, struct img_entry *ent,
		      struct kb_error *err)
{
	int r;
	if (s->home_ok && s->home_id == home && hpos == s->home_next_pos && s->home_next_off) {
		r = img_entry_at(s->img, s->home.sec, s->home_next_off, s->home.base, ent, err);
	} else {
		if (!s->home_ok || s->home_id != home) {
			s->home_ok = 0;
			if (img_home_find(s->img, home, &s->home, err))
				return -1;
			s->home_ok = 1;
			s->home_id = home;
		}
		r = img_home_entry(s->img, &s->home, hpos, ent, err);
	}
	s->home_next_off = 0;
	if (r)
		return -1;
	if (img_entry_end(s->img, ent, err))
		return -1;
	if (hpos + 1 < s->home.n && ent->end < s->home.end) {
		s->home_next_pos = hpos + 1;
		s->home_next_off = ent->end;
	}
	return 0;
}

/* Locates, decodes and caches image entry e, at home position hpos of
 * home (hpos UINT64_MAX: found through section 'order'). Returns NULL
 * (error recorded) if the image is damaged there. */
static const struct cached *load_at(struct img_space *s, uint32_t e, uint32_t home, uint64_t hpos)
{
	struct cached *c = &s->cache[e & ((1u << CACHE_BITS) - 1)];
	if (c->entry_p1 == e + 1)
		return c;
	struct kb_error err;
	struct img_entry ent;
	mt_term atom;
	if ((hpos == UINT64_MAX && locate(s, e, &home, &hpos, &err)) ||
	    home_entry(s, home, hpos, &ent, &err) || img_decode_entry(&s->dec, &ent, &atom, &err)) {
		lazy(s, &err);
		return NULL;
	}
	*c = (struct cached){e + 1, atom, (uint32_t)ent.mult, (uint32_t)ent.names};
	return c;
}

static const struct cached *load(struct img_space *s, uint32_t e)
{
	return load_at(s, e, 0, UINT64_MAX);
}

static uint32_t eff_mult(struct img_space *s, const struct cached *c, uint32_t e)
{
	return (uint32_t)((int64_t)c->mult + delta_of(s, e));
}

static int is_rule_term(const struct mt_store *st, mt_term t)
{
	return mt_tag(t) == MT_EXPR && mt_expr_arity(st, t) == 3 &&
	       mt_expr_args(st, t)[0] == mt_sym(MT_S_EQUAL);
}

/* ---- the query side's view of a term's index class ---- */

/* Class of a store term (persistent or scratch), as the writer classifies
 * atoms: IC_SYM with the image symbol id (UINT32_MAX when the image has no
 * such symbol) and arity, IC_OTHER, or IC_WILD. */
static enum img_class class_of(const struct img_space *s, mt_term t, uint32_t *sym, uint32_t *arity)
{
	const struct mt_store *st = s->store;
	*arity = 0;
	switch (mt_tag(t)) {
	case MT_SYM:
		*sym = mt_payload(t) < s->img->symbols ? mt_payload(t) : UINT32_MAX;
		return IC_SYM;
	case MT_VAR:
		return IC_WILD;
	case MT_EXPR:
	case MT_TEXPR:
		break;
	default:
		return IC_OTHER;
	}
	uint32_t n = mt_expr_arity(st, t);
	if (n == 0)
		return IC_OTHER;
	mt_term h = mt_expr_args(st, t)[0];
	if (mt_tag(h) == MT_SYM) {
		*sym = mt_payload(h) < s->img->symbols ? mt_payload(h) : UINT32_MAX;
		*arity = n;
		return IC_SYM;
	}
	if (mt_tag(h) == MT_VAR || (mt_is_expr(h) && !mt_is_ground(st, h)))
		return IC_WILD;
	return IC_OTHER;
}

/* Opens the run list of (class, kind); *none when there is none. */
static int open_runs(struct img_space *s, enum img_class cls, uint32_t sym, uint32_t arity,
		     int kind, struct img_runs *runs, int *none)
{
	struct kb_error err;
	int found = 1;
	*none = 0;
	if (cls == IC_SYM) {
		if (sym == UINT32_MAX) {
			*none = 1;
			return 0;
		}
		if (img_runs_find(s->img, sym, kind, arity, runs, &found, &err))
			goto fail;
		*none = !found;
		return 0;
	}
	int list = cls == IC_WILD ? (kind == IMG_K_ATOMS ? IMG_W_ATOMS_WILD : IMG_W_RULES_WILD)
				  : (kind == IMG_K_ATOMS ? IMG_W_ATOMS_OTHER : IMG_W_RULES_OTHER);
	if (img_runs_wild(s->img, list, runs, &err))
		goto fail;
	return 0;
fail:
	lazy(s, &err);
	*none = 1;
	return -1;
}

/* ---- finding an atom ----
 * The first look-up of an atom in an index group decodes the whole group
 * into the store and notes each atom's entry, so the next look-ups in it
 * are a hash probe: adding n atoms to one head of m is O(n + m), not
 * O(n x m). */

static size_t group_slot(const struct img_space *s, uint64_t key)
{
	size_t i = mix(key + 1) & s->gmask;
	while (s->gkeys[i] && s->gkeys[i] != key + 1)
		i = (i + 1) & s->gmask;
	return i;
}

static size_t atom_slot(const struct img_space *s, mt_term atom)
{
	return slot32(s->akeys, s->amask, atom + 1);
}

/* Decodes every entry the runs list and notes it under its atom. */
static int index_group(struct img_space *s, struct img_runs *runs)
{
	for (;;) {
		uint64_t start, count, hpos;
		struct kb_error err;
		int r = img_runs_next(s->img, runs, &start, &count, &hpos, &err);
		if (r < 0)
			lazy(s, &err);
		if (r <= 0)
			return 0;
		for (uint64_t e = start; e < start + count; e++) {
			const struct cached *c =
			    load_at(s, (uint32_t)e, runs->home,
				    hpos == UINT64_MAX ? hpos : hpos + (e - start));
			if (!c)
				continue;
			if (table_reserve((void **)&s->akeys, (void **)&s->avals, sizeof *s->akeys,
					  sizeof *s->avals, s->acount, &s->amask))
				return -1;
			size_t i = atom_slot(s, c->atom);
			if (!s->akeys[i]) { /* the first entry holding the atom */
				s->akeys[i] = c->atom + 1;
				s->avals[i] = (uint32_t)e;
				s->acount++;
			}
		}
	}
}

/* The live image entry equal to atom (persistent or scratch); -1 when
 * there is none, -2 when memory ran out (recorded as the image's error).
 * A scratch atom may equal an image atom never decoded yet: its group is
 * decoded before the store is asked for a persistent twin. An image entry whose
 * multiplicity fell to 0 stays dead: adding the atom again appends a new
 * overlay entry, as the in-memory space does. */
static int64_t image_find(struct img_space *s, mt_term atom)
{
	const struct mt_store *st = s->store;
	uint32_t sym, arity;
	int kind = IMG_K_ATOMS;
	enum img_class cls;
	if (mt_is_expr(atom) && mt_expr_arity(st, atom) == 3 &&
	    mt_expr_args(st, atom)[0] == mt_sym(MT_S_EQUAL)) {
		kind = IMG_K_RULES; /* the rule index is the narrower one */
		cls = class_of(s, mt_expr_args(st, atom)[1], &sym, &arity);
	} else {
		cls = class_of(s, atom, &sym, &arity);
	}
	if (cls == IC_SYM && sym == UINT32_MAX)
		return -1; /* a symbol the image does not hold */
	if (cls != IC_SYM)
		sym = arity = 0;
	uint64_t key = (uint64_t)sym << 27 | (uint64_t)arity << 3 | (uint64_t)cls << 1 |
		       (uint64_t)(kind == IMG_K_RULES);
	if (table_reserve((void **)&s->gkeys, NULL, sizeof *s->gkeys, 0, s->gcount, &s->gmask))
		goto oom;
	size_t g = group_slot(s, key);
	if (!s->gkeys[g]) {
		struct img_runs runs;
		int none;
		if (!open_runs(s, cls, sym, arity, kind, &runs, &none) && !none &&
		    index_group(s, &runs))
			goto oom;
		s->gkeys[g] = key + 1; /* even if damaged: it is not read again */
		s->gcount++;
	}
	/* every atom of the group is a persistent term of the store now */
	mt_term p = mt_is_scratch(atom) ? mt_term_find(st, atom) : atom;
	if (p == MT_NONE || !s->akeys)
		return -1;
	size_t i = atom_slot(s, p);
	if (!s->akeys[i])
		return -1;
	uint32_t e = s->avals[i];
	const struct cached *c = load(s, e);
	return c && eff_mult(s, c, e) ? (int64_t)e : -1;
oom:;
	struct kb_error err;
	kb_error_set(&err, "%s: out of memory while indexing the image's atoms", s->img->file);
	lazy(s, &err);
	return -2;
}

/* ---- layer functions ---- */

static void l_free(void *ctx)
{
	struct img_space *s = ctx;
	mt_space_free(s->overlay);
	img_decoder_free(&s->dec);
	free(s->dkeys);
	free(s->dvals);
	free(s->gkeys);
	free(s->akeys);
	free(s->avals);
	if (s->lists)
		for (uint64_t i = 0; i < s->img->name_lists; i++)
			free(s->lists[i]);
	free(s->lists);
	free(s);
}

static int64_t l_add(void *ctx, mt_term atom, const struct mt_varnames *names, struct kb_error *err)
{
	struct img_space *s = ctx;
	if (mt_is_scratch(atom) || atom == MT_NONE)
		return kb_error_set(err, "space: cannot add a scratch atom (persist it first)");
	int64_t e = image_find(s, atom);
	if (e == -2)
		return kb_error_set(err, "space: out of memory");
	if (e < 0) {
		int64_t o = mt_space_add(s->overlay, atom, names, err);
		return o < 0 ? o : o + s->E;
	}
	const struct cached *c = load(s, (uint32_t)e);
	if (!c || eff_mult(s, c, (uint32_t)e) == UINT32_MAX)
		return kb_error_set(err, "space: multiplicity overflow");
	if (delta_add(s, (uint32_t)e, 1))
		return kb_error_set(err, "space: out of memory");
	s->size++;
	return e;
}

static int l_remove(void *ctx, mt_term atom)
{
	struct img_space *s = ctx;
	int64_t e = image_find(s, atom);
	if (e == -2)
		return 0;
	if (e < 0)
		return mt_space_remove(s->overlay, atom);
	const struct cached *c = load(s, (uint32_t)e);
	uint32_t m = c ? eff_mult(s, c, (uint32_t)e) : 0;
	if (m == 0 || delta_add(s, (uint32_t)e, -1))
		return 0;
	s->size--;
	if (m == 1) {
		s->distinct--;
		s->rules -= is_rule_term(s->store, c->atom);
	}
	return 1;
}

static uint32_t l_entries(void *ctx)
{
	struct img_space *s = ctx;
	return s->E + mt_space_entries(s->overlay);
}

static uint64_t l_size(void *ctx)
{
	struct img_space *s = ctx;
	return s->size + mt_space_size(s->overlay);
}

static uint64_t l_distinct(void *ctx)
{
	struct img_space *s = ctx;
	return s->distinct + mt_space_distinct(s->overlay);
}

static uint64_t l_rules(void *ctx)
{
	struct img_space *s = ctx;
	return s->rules + mt_space_rules(s->overlay);
}

static mt_term l_atom(void *ctx, uint32_t entry)
{
	struct img_space *s = ctx;
	if (entry >= s->E)
		return mt_space_atom(s->overlay, entry - s->E);
	const struct cached *c = load(s, entry);
	return c ? c->atom : MT_NONE;
}

static uint32_t l_multiplicity(void *ctx, uint32_t entry)
{
	struct img_space *s = ctx;
	if (entry >= s->E)
		return mt_space_multiplicity(s->overlay, entry - s->E);
	const struct cached *c = load(s, entry);
	return c ? eff_mult(s, c, entry) : 0;
}

static const struct mt_varnames *l_varnames(void *ctx, uint32_t entry)
{
	struct img_space *s = ctx;
	if (entry >= s->E)
		return mt_space_varnames(s->overlay, entry - s->E);
	const struct cached *c = load(s, entry);
	if (!c || !c->names)
		return NULL;
	uint32_t list = c->names - 1;
	if (!s->lists && !(s->lists = calloc(s->img->name_lists, sizeof *s->lists)))
		return NULL;
	if (!s->lists[list]) {
		struct kb_error err;
		uint32_t n;
		if (img_name_list(s->img, list, NULL, 0, &n, &err)) {
			lazy(s, &err);
			return NULL;
		}
		struct mt_varnames *vn = malloc(sizeof *vn + (size_t)n * sizeof(uint32_t));
		if (!vn)
			return NULL;
		uint32_t *ids = (uint32_t *)(vn + 1);
		if (img_name_list(s->img, list, ids, n, &n, &err)) {
			free(vn);
			lazy(s, &err);
			return NULL;
		}
		vn->count = n;
		vn->names = ids;
		s->lists[list] = vn;
	}
	return s->lists[list];
}

static uint32_t l_count(void *ctx, mt_term atom)
{
	struct img_space *s = ctx;
	int64_t e = image_find(s, atom);
	if (e == -2)
		return 0;
	if (e < 0)
		return mt_space_count(s->overlay, atom);
	const struct cached *c = load(s, (uint32_t)e);
	return c ? eff_mult(s, c, (uint32_t)e) : 0;
}

static size_t l_bytes(void *ctx)
{
	struct img_space *s = ctx;
	size_t b = sizeof *s + mt_space_bytes(s->overlay);
	b += s->dec.frames_cap * 64 + s->dec.args_cap * sizeof(mt_term) +
	     (s->dec.memo_keys ? (s->dec.memo_mask + 1) * 12 : 0);
	b += s->dkeys ? (s->dmask + 1) * 12 : 0;
	b += s->gkeys ? (s->gmask + 1) * sizeof *s->gkeys : 0;
	b += s->akeys ? (s->amask + 1) * (sizeof *s->akeys + sizeof *s->avals) : 0;
	b += s->lists ? s->img->name_lists * sizeof *s->lists : 0;
	return b;
}

/* ---- iteration ----
 * layer[0]: mode; RUNS: streams A and B in layer[1..2] and layer[3..4]
 * (pos | left << 32, cur | end << 32), layer[5] bit i: stream i reads
 * section 'wild', layer[6 + i]: the home position of stream i's cur
 * (UINT64_MAX when unknown), layer[8]: the homes of A | B << 32,
 * layer[9 + i]: the record stream i's runs are in (for messages). SCAN:
 * layer[1] is the next entry. */

enum { M_OVERLAY, M_RUNS, M_SCAN };

static void stream_init(struct img_space *s, struct mt_space_iter *it, int i, struct img_runs *runs,
			int none)
{
	uint64_t start = 0, count = 0, hpos = UINT64_MAX;
	struct kb_error err;
	if (!none) {
		int r = img_runs_next(s->img, runs, &start, &count, &hpos, &err);
		if (r < 0)
			lazy(s, &err);
		if (r <= 0)
			none = 1;
	}
	if (none) {
		it->layer[1 + 2 * i] = 0;
		it->layer[2 + 2 * i] = 0;
		return;
	}
	it->layer[1 + 2 * i] = runs->pos | runs->left << 32;
	it->layer[2 + 2 * i] = start | (start + count) << 32;
	it->layer[6 + i] = hpos;
	it->layer[8] |= (uint64_t)runs->home << (32 * i);
	it->layer[9 + i] = runs->rec;
	if (runs->wild)
		it->layer[5] |= 1u << i;
}

/* Next candidate of stream i, advancing it; UINT64_MAX when exhausted. */
static uint64_t stream_peek(const struct mt_space_iter *it, int i)
{
	uint64_t ce = it->layer[2 + 2 * i];
	uint32_t cur = (uint32_t)ce, end = (uint32_t)(ce >> 32);
	return cur < end ? cur : UINT64_MAX;
}

static void stream_advance(struct img_space *s, struct mt_space_iter *it, int i)
{
	uint64_t ce = it->layer[2 + 2 * i];
	uint64_t cur = (uint32_t)ce + 1, end = ce >> 32;
	uint64_t hpos = it->layer[6 + i];
	if (hpos != UINT64_MAX)
		hpos++;
	it->layer[6 + i] = hpos;
	if (cur < end) {
		it->layer[2 + 2 * i] = cur | end << 32;
		return;
	}
	uint64_t pl = it->layer[1 + 2 * i];
	struct img_runs runs = {
	    .wild = (int)((it->layer[5] >> i) & 1),
	    .pos = (uint32_t)pl,
	    .rec = it->layer[9 + i],
	    .left = pl >> 32,
	    .prev_end = end,
	    .first = 0,
	    .home = (uint32_t)(it->layer[8] >> (32 * i)),
	    .hpos = hpos,
	};
	uint64_t start, count;
	struct kb_error err;
	int r = img_runs_next(s->img, &runs, &start, &count, &hpos, &err);
	if (r < 0)
		lazy(s, &err);
	if (r <= 0) {
		it->layer[2 + 2 * i] = 0;
		return;
	}
	it->layer[1 + 2 * i] = runs.pos | runs.left << 32;
	it->layer[2 + 2 * i] = start | (start + count) << 32;
	it->layer[6 + i] = hpos;
}

static void image_begin(struct img_space *s, mt_term t, int kind, struct mt_space_iter *it)
{
	uint32_t sym, arity;
	enum img_class cls = class_of(s, t, &sym, &arity);
	struct img_runs a, b;
	int none_a, none_b;
	it->layer[5] = 0;
	it->layer[8] = 0;
	if (cls == IC_WILD && kind == IMG_K_ATOMS) {
		it->layer[0] = M_SCAN;
		it->layer[1] = 0;
		return;
	}
	it->layer[0] = M_RUNS;
	if (cls == IC_WILD) { /* every rule: the atom runs of (=, 3) */
		open_runs(s, IC_SYM, MT_S_EQUAL, 3, IMG_K_ATOMS, &a, &none_a);
		stream_init(s, it, 0, &a, none_a);
		stream_init(s, it, 1, &b, 1);
		return;
	}
	open_runs(s, cls, sym, arity, kind, &a, &none_a);
	stream_init(s, it, 0, &a, none_a);
	open_runs(s, IC_WILD, 0, 0, kind, &b, &none_b);
	stream_init(s, it, 1, &b, none_b);
}

static void l_rules_begin(void *ctx, mt_term call, struct mt_space_iter *it)
{
	struct img_space *s = ctx;
	mt_space_rules_begin(s->overlay, call, it);
	image_begin(s, call, IMG_K_RULES, it);
}

static void l_atoms_begin(void *ctx, mt_term pattern, struct mt_space_iter *it)
{
	struct img_space *s = ctx;
	mt_space_atoms_begin(s->overlay, pattern, it);
	image_begin(s, pattern, IMG_K_ATOMS, it);
}

static int l_next(void *ctx, struct mt_space_iter *it, uint32_t *entry)
{
	struct img_space *s = ctx;
	for (;;) {
		uint64_t e;
		if (it->layer[0] == M_SCAN) {
			e = it->layer[1]++;
			if (e >= s->E) {
				it->layer[0] = M_OVERLAY;
				continue;
			}
		} else if (it->layer[0] == M_RUNS) {
			uint64_t pa = stream_peek(it, 0), pb = stream_peek(it, 1);
			if (pa == UINT64_MAX && pb == UINT64_MAX) {
				it->layer[0] = M_OVERLAY;
				continue;
			}
			int i = pb < pa;
			e = i ? pb : pa;
			uint32_t home = (uint32_t)(it->layer[8] >> (32 * i));
			uint64_t hpos = it->layer[6 + i];
			stream_advance(s, it, i);
			if (e >= s->E)
				continue;
			const struct cached *c = load_at(s, (uint32_t)e, home, hpos);
			if (c && eff_mult(s, c, (uint32_t)e) > 0) {
				*entry = (uint32_t)e;
				return 1;
			}
			continue;
		} else {
			const struct mt_space *self = it->space;
			struct mt_space_iter own = *it;
			own.space = s->overlay;
			uint32_t oe;
			int r = mt_space_next(&own, &oe);
			*it = own;
			it->space = self;
			if (!r)
				return 0;
			*entry = oe + s->E;
			return 1;
		}
		const struct cached *c = load(s, (uint32_t)e);
		if (c && eff_mult(s, c, (uint32_t)e) > 0) {
			*entry = (uint32_t)e;
			return 1;
		}
	}
}

static const struct mt_space_layer image_layer = {
    .free = l_free,
    .add = l_add,
    .remove = l_remove,
    .entries = l_entries,
    .size = l_size,
    .distinct = l_distinct,
    .rules = l_rules,
    .atom = l_atom,
    .multiplicity = l_multiplicity,
    .varnames = l_varnames,
    .count = l_count,
    .bytes = l_bytes,
    .rules_begin = l_rules_begin,
    .atoms_begin = l_atoms_begin,
    .next = l_next,
};

/* ---- the store's symbol base ---- */

static const char *base_name(void *ctx, uint32_t id, size_t *len)
{
	const struct mt_image *img = ctx;
	const char *name;
	struct kb_error err;
	if (img_sym_name(img, id, &name, len, &err)) {
		img_lazy_fail(img, &err);
		*len = 0;
		return NULL;
	}
	return name;
}

static uint32_t base_find(void *ctx, const char *name, size_t len, uint64_t hash)
{
	const struct mt_image *img = ctx;
	uint32_t id;
	struct kb_error err;
	if (img_sym_find(img, name, len, hash, &id, &err)) {
		img_lazy_fail(img, &err);
		return UINT32_MAX;
	}
	return id;
}

int mt_store_set_sym_base(struct mt_store *store, const struct mt_symtab_base *base)
{
	if (mt_symtab_set_base(&store->syms, base))
		return -1;
	/* the births noted so far were for symbols the base now holds */
	mt_store_forget_symbols(store);
	return 0;
}

/* ---- struct mt_image_kb ---- */

int mt_image_kb_attach(struct mt_image *img, struct mt_image_kb *kb, struct kb_error *err)
{
	memset(kb, 0, sizeof *kb);
	kb->image = img;
	struct img_space *s = NULL;
	kb->store = mt_store_new();
	if (!kb->store)
		goto oom;
	struct mt_symtab_base base = {
	    .count = (uint32_t)img->symbols, .ctx = img, .name = base_name, .find = base_find};
	if (mt_store_set_sym_base(kb->store, &base)) {
		kb_error_set(err, "%s: the image's symbols cannot be the store's base", img->file);
		goto fail;
	}
	s = calloc(1, sizeof *s);
	if (!s)
		goto oom;
	s->img = img;
	s->store = kb->store;
	s->E = (uint32_t)img->entries;
	s->size = img->atoms;
	s->distinct = img->entries;
	s->rules = img->rules;
	img_decoder_init(&s->dec, img, kb->store);
	s->overlay = mt_space_new(kb->store);
	if (!s->overlay)
		goto oom;
	kb->space = mt_space_new_layered(kb->store, &image_layer, s);
	if (!kb->space)
		goto oom;
	return 0;
oom:
	kb_error_set(err, "%s: out of memory", img->file);
fail:
	if (s)
		l_free(s);
	kb->space = NULL;
	mt_image_kb_close(kb);
	return -1;
}

int mt_image_kb_open(const char *path, enum mt_image_load load, struct mt_image_kb *kb,
		     struct kb_error *err)
{
	struct mt_image *img;
	memset(kb, 0, sizeof *kb);
	if (mt_image_open(path, load, &img, err))
		return -1;
	return mt_image_kb_attach(img, kb, err);
}

void mt_image_kb_close(struct mt_image_kb *kb)
{
	mt_space_free(kb->space);
	mt_store_free(kb->store);
	mt_image_close(kb->image);
	memset(kb, 0, sizeof *kb);
}

int mt_image_kb_status(const struct mt_image_kb *kb, struct kb_error *err)
{
	if (!kb->image->lazy_failed)
		return 0;
	if (err)
		*err = kb->image->lazy_err;
	return -1;
}
