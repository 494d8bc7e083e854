/* image_verify: `kbprof kb verify`, the whole-file check of an image
 * (docs/kb-image.md, "What a reader checks"). Unlike open, it reads every
 * byte: all checksums, every record of every section, every reference
 * (it must point at the start of an earlier shared record), the sampled
 * tables, the symbols' hash order and look-ups, every home and its
 * entries, the order runs, the header counts, and the index against the
 * entries (recomputed from the decoded entries, it must equal the stored
 * runs exactly).
 *
 * Owner: the per-entry key arrays and the record-start bitmap are
 * allocated here and freed before returning. */
#include "core/image_impl.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdlib.h>

struct verifier {
	const struct mt_image *img;
	struct kb_error *err;
	uint8_t *starts;       /* bitmap of shared record starts in 'terms' */
	uint8_t *ground;       /* bitmap of the shared records holding no variable */
	uint32_t *rank_base;   /* shared records before each 64 bytes of 'terms' */
	struct img_vars *vars; /* per shared record, in 'terms' order */
	uint64_t records;      /* shared records seen so far */
	struct img_keys *keys; /* per entry */
	uint8_t *seen;         /* per entry: bit 0 atom index, bit 1 rule index, bit 2 homed */
	uint32_t *home, *hpos; /* per entry: where it lives */
	uint64_t atoms, rules;
	uint32_t *list; /* entries of the home being checked, in home order */
	size_t list_cap;
};

static int bit(const uint8_t *map, uint64_t i)
{
	return (map[i >> 3] >> (i & 7)) & 1;
}

/* The number of the shared record at offset off of 'terms' (a start). */
static uint64_t record_rank(const struct verifier *v, uint64_t off)
{
	uint64_t r = v->rank_base[off >> 6];
	for (uint64_t b = (off & ~(uint64_t)63) >> 3; b < off >> 3; b++)
		r += (uint64_t)__builtin_popcount(v->starts[b]);
	return r + (uint64_t)__builtin_popcount(v->starts[off >> 3] & ((1u << (off & 7)) - 1));
}

/* Walks n items at c like img_skip_items, also checking that every
 * reference points at a shared record start, and sums up how they number
 * their variables. */
static int walk_items(struct verifier *v, struct img_cur *c, uint32_t base, uint64_t n,
		      struct img_vars *vars)
{
	struct img_item it;
	*vars = (struct img_vars){0, 0};
	while (n) {
		uint64_t at = c->pos;
		if (img_read_item(v->img, c, base, &it))
			return -1;
		n--;
		if (it.kind == IK_EXPR)
			n += it.v;
		else if (it.kind == IK_VAR)
			img_vars_add(vars, (uint32_t)it.v, (uint32_t)it.v + 1);
		else if (it.kind == IK_REF && !bit(v->starts, it.v))
			return img_fail(c,
					"reference at offset %llu to offset %llu, which is not the "
					"start of an earlier shared record",
					(unsigned long long)at, (unsigned long long)it.v);
		else if (it.kind == IK_REF && !bit(v->ground, it.v)) {
			const struct img_vars *r = &v->vars[record_rank(v, it.v)];
			img_vars_add(vars, r->need, r->end);
		}
	}
	return 0;
}

static int check_checksums(struct verifier *v)
{
	const struct mt_image *img = v->img;
	for (int i = 0; i < IMG_NSEC; i++) {
		uint64_t got = XXH3_64bits(img->sec[i].p, img->sec[i].size);
		if (got != img->sec[i].sum)
			return kb_error_set(v->err,
					    "%s: section '%s' checksum mismatch (stored %016llx, "
					    "computed %016llx): the file is corrupted",
					    img->file, img_sec_names[i],
					    (unsigned long long)img->sec[i].sum,
					    (unsigned long long)got);
	}
	return 0;
}

/* Every byte outside the header and the sections is padding, zero. */
static int check_padding(struct verifier *v)
{
	const struct mt_image *img = v->img;
	uint64_t start[IMG_NSEC + 1], end[IMG_NSEC + 1];
	int n = 0;
	start[n] = 0;
	end[n++] = img_le32(img->map + IMG_H_HEADER_SIZE);
	for (int i = 0; i < IMG_NSEC; i++) {
		/* insertion sort by start */
		int j = n++;
		while (j > 0 && start[j - 1] > img->sec[i].off) {
			start[j] = start[j - 1];
			end[j] = end[j - 1];
			j--;
		}
		start[j] = img->sec[i].off;
		end[j] = img->sec[i].off + img->sec[i].size;
	}
	uint64_t at = 0;
	for (int i = 0; i <= n; i++) {
		uint64_t next = i < n ? start[i] : img->size;
		for (uint64_t o = at; o < next; o++)
			if (img->map[o])
				return kb_error_set(
				    v->err, "%s: padding byte at file offset %llu is not zero",
				    img->file, (unsigned long long)o);
		if (i < n && end[i] > at)
			at = end[i];
	}
	return 0;
}

static int check_terms(struct verifier *v)
{
	const struct mt_image *img = v->img;
	uint64_t size = img->sec[IMG_TERMS].size, filled = 0;
	struct img_cur c = img_cursor(img, IMG_TERMS, 0, 0, v->err);
	while (c.pos < size) {
		c.rec = c.pos;
		if (v->records == img->shared)
			return img_fail(&c, "more shared records than the %llu the header says",
					(unsigned long long)img->shared);
		for (; filled <= c.pos >> 6; filled++)
			v->rank_base[filled] = (uint32_t)v->records;
		v->starts[c.pos >> 3] |= (uint8_t)(1u << (c.pos & 7));
		/* its references point backwards: their summaries are known */
		struct img_vars *vars = &v->vars[v->records++];
		if (walk_items(v, &c, img_terms_base(img, c.rec), 1, vars))
			return -1;
		if (!vars->end)
			v->ground[c.rec >> 3] |= (uint8_t)(1u << (c.rec & 7));
	}
	if (v->records != img->shared)
		return kb_error_set(
		    v->err, "%s: header says %llu shared records, section 'terms' holds %llu",
		    img->file, (unsigned long long)img->shared, (unsigned long long)v->records);
	return 0;
}

/* Reads a run list to its end, appending its entries to v->list (*n
 * entries so far) unless n is NULL. */
static int list_runs(struct verifier *v, struct img_runs *runs, uint64_t *n)
{
	uint64_t start, count, hpos;
	int r;
	while ((r = img_runs_next(v->img, runs, &start, &count, &hpos, v->err)) > 0) {
		if (!n)
			continue;
		if (*n + count > v->img->entries)
			return kb_error_set(v->err,
					    "%s: a home lists more entries than the image holds "
					    "(section '%s' record at offset %llu)",
					    v->img->file, runs->wild ? "wild" : "symtab",
					    (unsigned long long)runs->rec);
		for (uint64_t e = start; e < start + count; e++)
			v->list[(*n)++] = (uint32_t)e;
	}
	return r;
}

/* Decodes the n entries of home h, which must be the entries v->list[0..n)
 * in that order, and notes where each lives. */
static int check_home(struct verifier *v, uint32_t home, const struct img_home *h, uint64_t n)
{
	const struct mt_image *img = v->img;
	struct img_cur c = img_cursor(img, h->sec, h->table, h->rec, v->err);
	if (h->n != n)
		return img_fail(&c, "the home holds %llu entries, its index groups %llu",
				(unsigned long long)h->n, (unsigned long long)n);
	uint64_t off = h->first;
	for (uint64_t i = 0; i < n; i++) {
		if (i && i % IMG_SAMPLE == 0 &&
		    img_le32(img->sec[h->sec].p + h->table + 4 * (i / IMG_SAMPLE - 1)) !=
			off - h->first)
			return img_fail(&c, "home entry %llu is at %llu, its table says otherwise",
					(unsigned long long)i,
					(unsigned long long)(off - h->first));
		struct img_entry e;
		uint32_t en = v->list[i];
		if (off >= h->end)
			return img_fail(&c, "home entry %llu starts past the home's end",
					(unsigned long long)i);
		if (img_entry_at(img, h->sec, off, h->base, &e, v->err))
			return -1;
		struct img_cur ec = img_cursor(img, h->sec, e.body, e.rec, v->err);
		struct img_vars vars;
		if (walk_items(v, &ec, e.base, e.rule ? 2 : 1, &vars))
			return -1;
		if (vars.need)
			return img_fail(&ec,
					"entry %u numbers its variables out of order: variable %u "
					"occurs before variables 0..%u all have",
					en, vars.need, vars.need - 1);
		if (v->seen[en] & 4)
			return img_fail(&ec, "entry %u has two homes", en);
		v->seen[en] |= 4;
		v->home[en] = home;
		v->hpos[en] = (uint32_t)i;
		if (img_entry_keys(img, &e, v->ground, &v->keys[en], v->err))
			return -1;
		v->atoms += e.mult;
		v->rules += v->keys[en].rule != IC_NONE;
		off = ec.pos;
	}
	if (off != h->end)
		return img_fail(&c, "%llu bytes after the home's last entry",
				(unsigned long long)(h->end - off));
	return 0;
}

/* Reads the index groups at c into v->list (the home's entries, in home
 * order), checking their order; leaves c after the groups. */
static int read_groups(struct verifier *v, uint32_t id, struct img_cur *c, uint64_t *n)
{
	int64_t prev = -1;
	uint64_t g;
	*n = 0;
	do {
		if (img_varint(c, &g))
			return -1;
		/* groups sorted by (kind, arity) */
		int64_t kk = (int64_t)(((g >> 2) & 1) << 40 | (g >> 3));
		if ((g >> 3) > MT_HDR_ARITY_MASK || kk <= prev)
			return img_fail(c, "index groups out of order or arity too large");
		prev = kk;
		struct img_runs runs = {.pos = c->pos, .rec = c->rec, .left = 1, .first = 1};
		if (g & 2) {
			uint64_t k;
			if (img_varint(c, &k))
				return -1;
			if (k > (c->end - c->pos) / 2)
				return img_fail(c, "index group claims too many runs");
			runs.left = k + 2;
			runs.pos = c->pos;
		}
		int listing = id == MT_S_EQUAL && ((g >> 2) & 1) == IMG_K_ATOMS && (g >> 3) == 3;
		if (list_runs(v, &runs, listing ? NULL : n))
			return -1;
		c->pos = runs.pos;
	} while (g & 1);
	return 0;
}

/* The order of the symbols from the hash order on: by XXH3 of the name,
 * then by the name's bytes. */
static int name_order(uint64_t ha, const char *a, size_t la, uint64_t hb, const char *b, size_t lb)
{
	if (ha != hb)
		return ha < hb ? -1 : 1;
	int m = memcmp(a, b, la < lb ? la : lb);
	if (m)
		return m < 0 ? -1 : 1;
	return (la > lb) - (la < lb);
}

/* The index part of symbol id at c (its length, groups and home); leaves
 * c after it. */
static int check_index_part(struct verifier *v, uint32_t id, unsigned flags, struct img_cur *c)
{
	const struct mt_image *img = v->img;
	uint64_t ilen;
	if (img_varint(c, &ilen))
		return -1;
	if (ilen > c->end - c->pos)
		return img_fail(c, "symbol index of %llu bytes runs past end of section",
				(unsigned long long)ilen);
	uint64_t end = c->pos + ilen;
	struct img_home h;
	if (img_home_find(img, id, &h, v->err))
		return -1;
	struct img_cur gc = *c;
	gc.end = end;
	if (flags & IMG_R_LONG) {
		uint64_t glen, n;
		if (img_varint(&gc, &glen) || img_varint(&gc, &n))
			return -1;
	}
	uint64_t n;
	if (read_groups(v, id, &gc, &n))
		return -1;
	if (gc.pos != h.table)
		return img_fail(&gc, "the index groups end at %llu, the record says %llu",
				(unsigned long long)gc.pos, (unsigned long long)h.table);
	if (h.end != end)
		return img_fail(&gc, "the home ends at %llu, the record at %llu",
				(unsigned long long)h.end, (unsigned long long)end);
	if (check_home(v, id, &h, n))
		return -1;
	c->pos = end;
	return 0;
}

/* Pass 1 over the symbols: sampled offsets and hash keys, the hash order,
 * look-ups, record lengths, and every home's entries. */
static int check_symbols(struct verifier *v)
{
	const struct mt_image *img = v->img;
	struct img_cur c = img_cursor(img, IMG_SYMTAB, 0, 0, v->err);
	uint64_t prev_hash = 0;
	const char *prev_name = NULL;
	size_t prev_len = 0;
	for (uint64_t id = 0; id < img->symbols; id++) {
		c.rec = c.pos;
		const char *name;
		size_t len;
		unsigned flags;
		if (img_sym_head(&c, &name, &len, &flags))
			return -1;
		uint64_t hash = XXH3_64bits(name, len);
		if (id % IMG_SAMPLE == 0) {
			const uint8_t *s = img->sec[IMG_SYMIDX].p + 8 * (id / IMG_SAMPLE);
			if (img_le32(s) != c.rec)
				return img_fail(
				    &c, "symbol %llu starts here but section 'symidx' says %u",
				    (unsigned long long)id, img_le32(s));
			if (img_le32(s + 4) != (uint32_t)(hash >> 32))
				return img_fail(&c,
						"section 'symidx' gives symbol %llu the hash key "
						"%08x, its name's is %08x",
						(unsigned long long)id, img_le32(s + 4),
						(unsigned)(hash >> 32));
		}
		if (id > img->hashed &&
		    name_order(prev_hash, prev_name, prev_len, hash, name, len) >= 0)
			return img_fail(&c, "symbol %llu ('%.*s') is out of name-hash order",
					(unsigned long long)id, (int)(len > 64 ? 64 : len), name);
		prev_hash = hash;
		prev_name = name;
		prev_len = len;
		uint32_t found;
		if (img_sym_find(img, name, len, hash, &found, v->err))
			return -1;
		if (found != id)
			return img_fail(
			    &c, "symbol %llu ('%.*s') is not found by its name (found %lld)",
			    (unsigned long long)id, (int)(len > 64 ? 64 : len), name,
			    found == UINT32_MAX ? -1LL : (long long)found);
		if (!(flags & IMG_R_INDEX))
			continue;
		if (id < img->hashed) { /* checked below, after the last record */
			if (img_skip(&c, 4, "symbol index offset"))
				return -1;
			continue;
		}
		if (check_index_part(v, (uint32_t)id, flags, &c))
			return -1;
	}
	/* the index parts of the symbols before the hash order, in id order */
	for (uint64_t id = 0; id < img->hashed; id++) {
		uint64_t pos;
		const char *name;
		size_t len;
		unsigned flags;
		if (img_sym_record(img, (uint32_t)id, &pos, v->err))
			return -1;
		struct img_cur rc = img_cursor(img, IMG_SYMTAB, pos, pos, v->err);
		if (img_sym_head(&rc, &name, &len, &flags))
			return -1;
		if (!(flags & IMG_R_INDEX))
			continue;
		if (rc.end - rc.pos < 4 || img_le32(rc.p + rc.pos) != c.pos)
			return img_fail(
			    &rc,
			    "the index part of symbol %llu is not at offset %llu, right "
			    "after the previous one",
			    (unsigned long long)id, (unsigned long long)c.pos);
		c.rec = c.pos;
		if (check_index_part(v, (uint32_t)id, flags, &c))
			return -1;
	}
	if (c.pos != c.end)
		return img_fail(&c, "%llu bytes after the last symbol record",
				(unsigned long long)(c.end - c.pos));
	return 0;
}

/* Marks the entries of a run list as indexed under (cls, sym, kind,
 * arity), checking each entry's own key agrees and no entry is listed
 * twice. */
static int check_runs(struct verifier *v, struct img_runs *runs, enum img_class cls, uint32_t sym,
		      int kind, uint64_t arity)
{
	const struct mt_image *img = v->img;
	uint64_t start, count, hpos;
	int r;
	while ((r = img_runs_next(img, runs, &start, &count, &hpos, v->err)) > 0) {
		for (uint64_t e = start; e < start + count; e++) {
			const struct img_keys *k = &v->keys[e];
			enum img_class ec = kind == IMG_K_RULES ? k->rule : k->atom;
			uint32_t es = kind == IMG_K_RULES ? k->rule_sym : k->atom_sym;
			uint64_t ea = kind == IMG_K_RULES ? k->rule_arity : k->atom_arity;
			uint8_t flag = kind == IMG_K_RULES ? 2 : 1;
			if (ec != cls || (cls == IC_SYM && (es != sym || ea != arity)))
				return kb_error_set(
				    v->err,
				    "%s: index lists entry %llu under the wrong key "
				    "(section '%s' record at offset %llu)",
				    img->file, (unsigned long long)e,
				    runs->wild ? "wild" : "symtab", (unsigned long long)runs->rec);
			if (v->seen[e] & flag)
				return kb_error_set(v->err, "%s: index lists entry %llu twice",
						    img->file, (unsigned long long)e);
			v->seen[e] |= flag;
		}
	}
	return r;
}

/* Pass 2 over the symbols: every index group against the entries' keys. */
static int check_index(struct verifier *v)
{
	const struct mt_image *img = v->img;
	for (uint32_t id = 0; id < img->symbols; id++) {
		uint64_t pos;
		if (img_sym_record(img, id, &pos, v->err))
			return -1;
		struct img_cur c = img_cursor(img, IMG_SYMTAB, pos, pos, v->err);
		const char *name;
		size_t len;
		unsigned flags;
		uint64_t x;
		if (img_sym_head(&c, &name, &len, &flags))
			return -1;
		if (!(flags & IMG_R_INDEX))
			continue;
		if (id < img->hashed) /* checked in pass 1: inside the section */
			c.pos = img_le32(c.p + c.pos);
		if (img_varint(&c, &x) ||
		    ((flags & IMG_R_LONG) && (img_varint(&c, &x) || img_varint(&c, &x))))
			return -1;
		uint64_t g;
		do {
			if (img_varint(&c, &g))
				return -1;
			struct img_runs runs = {.pos = c.pos, .rec = c.rec, .left = 1, .first = 1};
			if (g & 2) {
				if (img_varint(&c, &x))
					return -1;
				runs.left = x + 2;
				runs.pos = c.pos;
			}
			if (check_runs(v, &runs, IC_SYM, id, (int)((g >> 2) & 1), g >> 3))
				return -1;
			c.pos = runs.pos;
		} while (g & 1);
	}
	return 0;
}

static int check_names(struct verifier *v)
{
	const struct mt_image *img = v->img;
	uint64_t pos = 0;
	for (uint64_t l = 0; l < img->name_lists; l++) {
		uint64_t off = img_le32(img->sec[IMG_NAMEIDX].p + 4 * l);
		if (off != pos) {
			struct img_cur ic = img_cursor(img, IMG_NAMEIDX, 4 * l, 4 * l, v->err);
			return img_fail(&ic,
					"name list %llu is at offset %llu, the table says %llu",
					(unsigned long long)l, (unsigned long long)pos,
					(unsigned long long)off);
		}
		uint32_t n;
		if (img_name_list(img, l, NULL, 0, &n, v->err))
			return -1;
		struct img_cur c = img_cursor(img, IMG_NAMES, pos, pos, v->err);
		uint64_t x;
		for (uint64_t i = 0; i <= n; i++)
			if (img_varint(&c, &x))
				return -1;
		pos = c.pos;
	}
	if (pos != img->sec[IMG_NAMES].size) {
		struct img_cur c = img_cursor(img, IMG_NAMES, pos, pos, v->err);
		return img_fail(&c, "%llu bytes after the last name list",
				(unsigned long long)(img->sec[IMG_NAMES].size - pos));
	}
	return 0;
}

static const struct {
	enum img_class cls;
	int kind;
} wild_lists[IMG_W_COUNT] = {
    [IMG_W_ATOMS_WILD] = {IC_WILD, IMG_K_ATOMS},
    [IMG_W_RULES_WILD] = {IC_WILD, IMG_K_RULES},
    [IMG_W_ATOMS_OTHER] = {IC_OTHER, IMG_K_ATOMS},
    [IMG_W_RULES_OTHER] = {IC_OTHER, IMG_K_RULES},
};

/* The wild section's layout and its home (pass 1). */
static int check_wild_home(struct verifier *v)
{
	const struct mt_image *img = v->img;
	const uint8_t *w = img->sec[IMG_WILD].p;
	uint64_t pos = IMG_WILD_HEADER, n = 0;
	for (int l = 0; l < IMG_W_COUNT; l++) {
		struct img_cur c =
		    img_cursor(img, IMG_WILD, 4 * (uint64_t)l, 4 * (uint64_t)l, v->err);
		if (img_le32(w + 4 * l) != pos)
			return img_fail(&c, "run list %d does not follow the previous one", l);
		if (img_le32(w + 16 + 4 * l) != n)
			return img_fail(&c,
					"run list %d's entries start at home entry %u, not %llu", l,
					img_le32(w + 16 + 4 * l), (unsigned long long)n);
		struct img_runs runs;
		if (img_runs_wild(img, l, &runs, v->err) || list_runs(v, &runs, &n))
			return -1;
		pos = runs.pos;
	}
	if (img_le32(w + 32) != pos) {
		struct img_cur c = img_cursor(img, IMG_WILD, 32, 32, v->err);
		return img_fail(&c, "the wild home is at %u, the run lists end at %llu",
				img_le32(w + 32), (unsigned long long)pos);
	}
	struct img_home h;
	if (img_home_find(img, IMG_HOME_WILD, &h, v->err))
		return -1;
	return check_home(v, IMG_HOME_WILD, &h, n);
}

static int check_wild_index(struct verifier *v)
{
	for (int l = 0; l < IMG_W_COUNT; l++) {
		struct img_runs runs;
		if (img_runs_wild(v->img, l, &runs, v->err) ||
		    check_runs(v, &runs, wild_lists[l].cls, 0, wild_lists[l].kind, 0))
			return -1;
	}
	return 0;
}

/* Section 'order': every entry once, in order, at the place it lives. */
static int check_order(struct verifier *v)
{
	const struct mt_image *img = v->img;
	struct img_orun r = {0};
	uint64_t e = 0, k = 0;
	for (; e < img->entries; k++) {
		if (k >= img->order_runs) {
			struct img_cur c = img_cursor(img, IMG_ORDER, r.next, r.next, v->err);
			return img_fail(&c, "the header's %llu order runs end at entry %llu",
					(unsigned long long)img->order_runs, (unsigned long long)e);
		}
		if (k % IMG_SAMPLE == 0) {
			const uint8_t *s = img->sec[IMG_ORDIDX].p + 8 * (k / IMG_SAMPLE);
			uint64_t at = k ? r.next : 0;
			if (img_le32(s) != at || img_le32(s + 4) != e) {
				struct img_cur ic =
				    img_cursor(img, IMG_ORDIDX, 8 * (k / IMG_SAMPLE),
					       8 * (k / IMG_SAMPLE), v->err);
				return img_fail(
				    &ic,
				    "order run %llu is at offset %llu from entry %llu, the "
				    "table says %u from %u",
				    (unsigned long long)k, (unsigned long long)at,
				    (unsigned long long)e, img_le32(s), img_le32(s + 4));
			}
		}
		if (k == 0) {
			if (img_order_find(img, 0, &r, v->err))
				return -1;
		} else if (img_order_next(img, &r, v->err)) {
			return -1;
		}
		for (uint64_t i = 0; i < r.count; i++, e++)
			if (v->home[e] != r.home || v->hpos[e] != r.hpos + i) {
				struct img_cur c = img_cursor(img, IMG_ORDER, r.pos, r.pos, v->err);
				return img_fail(&c,
						"order run %llu puts entry %llu where it does not "
						"live",
						(unsigned long long)k, (unsigned long long)e);
			}
	}
	if (k != img->order_runs || (k ? r.next : 0) != img->sec[IMG_ORDER].size) {
		struct img_cur c = img_cursor(img, IMG_ORDER, r.next, r.next, v->err);
		return img_fail(&c, "%llu order runs and %llu bytes after the last entry's",
				(unsigned long long)(img->order_runs - k),
				(unsigned long long)(img->sec[IMG_ORDER].size - r.next));
	}
	return 0;
}

/* Every entry has a home (before the index is checked against keys). */
static int check_homed(struct verifier *v)
{
	for (uint64_t e = 0; e < v->img->entries; e++)
		if (!(v->seen[e] & 4))
			return kb_error_set(v->err, "%s: entry %llu has no home", v->img->file,
					    (unsigned long long)e);
	return 0;
}

static int check_coverage(struct verifier *v)
{
	const struct mt_image *img = v->img;
	for (uint64_t e = 0; e < img->entries; e++) {
		if (!(v->seen[e] & 1))
			return kb_error_set(v->err, "%s: entry %llu is missing from the atom index",
					    img->file, (unsigned long long)e);
		if (v->keys[e].rule != IC_NONE && !(v->seen[e] & 2))
			return kb_error_set(v->err,
					    "%s: rule entry %llu is missing from the rule index",
					    img->file, (unsigned long long)e);
	}
	if (v->atoms != img->atoms || v->rules != img->rules)
		return kb_error_set(v->err,
				    "%s: header says %llu atoms and %llu rules, the entries hold "
				    "%llu and %llu",
				    img->file, (unsigned long long)img->atoms,
				    (unsigned long long)img->rules, (unsigned long long)v->atoms,
				    (unsigned long long)v->rules);
	return 0;
}

int mt_image_verify(const struct mt_image *img, struct kb_error *err)
{
	struct verifier v = {.img = img, .err = err};
	int rc = -1;
	if (check_checksums(&v) || check_padding(&v))
		return -1;
	v.starts = calloc(img->sec[IMG_TERMS].size / 8 + 1, 1);
	v.ground = calloc(img->sec[IMG_TERMS].size / 8 + 1, 1);
	v.rank_base = calloc(img->sec[IMG_TERMS].size / 64 + 1, sizeof *v.rank_base);
	v.vars = calloc(img->shared + 1, sizeof *v.vars); /* open: at most the size of 'terms' */
	v.keys = calloc(img->entries + 1, sizeof *v.keys);
	v.seen = calloc(img->entries + 1, 1);
	v.home = calloc(img->entries + 1, sizeof *v.home);
	v.hpos = calloc(img->entries + 1, sizeof *v.hpos);
	v.list = calloc(img->entries + 1, sizeof *v.list);
	if (!v.starts || !v.ground || !v.rank_base || !v.vars || !v.keys || !v.seen || !v.home ||
	    !v.hpos || !v.list) {
		kb_error_set(err, "%s: out of memory", img->file);
		goto out;
	}
	if (check_terms(&v) || check_names(&v) || check_symbols(&v) || check_wild_home(&v) ||
	    check_homed(&v) || check_index(&v) || check_wild_index(&v) || check_order(&v) ||
	    check_coverage(&v))
		goto out;
	rc = 0;
out:
	free(v.starts);
	free(v.ground);
	free(v.rank_base);
	free(v.vars);
	free(v.keys);
	free(v.seen);
	free(v.home);
	free(v.hpos);
	free(v.list);
	return rc;
}
