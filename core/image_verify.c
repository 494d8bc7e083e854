/* image_verify: `kbprof kb verify`, the whole-file check of an image
 * (docs/kb-image.md, "What a reader checks"). Unlike open, it reads every
 * byte: all checksums, every record of every section, every reference
 * (it must point at the start of an earlier shared record), the sampled
 * tables, the hash table, the header counts, and the index against the
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
	struct img_keys *keys; /* per entry */
	uint8_t *seen;         /* per entry: bit 0 atom index, bit 1 rule index */
};

static int bit(const uint8_t *map, uint64_t i)
{
	return (map[i >> 3] >> (i & 7)) & 1;
}

/* Walks n items at c like img_skip_items, also checking that every
 * reference points at a shared record start. */
static int walk_items(struct verifier *v, struct img_cur *c, uint32_t base, uint64_t n)
{
	struct img_item it;
	while (n) {
		uint64_t at = c->pos;
		if (img_read_item(v->img, c, base, &it))
			return -1;
		n--;
		if (it.kind == IK_EXPR)
			n += it.v;
		else if (it.kind == IK_REF && !bit(v->starts, it.v))
			return img_fail(c,
					"reference at offset %llu to offset %llu, which is not the "
					"start of an earlier shared record",
					(unsigned long long)at, (unsigned long long)it.v);
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
	uint64_t size = img->sec[IMG_TERMS].size, records = 0;
	struct img_cur c = img_cursor(img, IMG_TERMS, 0, 0, v->err);
	while (c.pos < size) {
		c.rec = c.pos;
		v->starts[c.pos >> 3] |= (uint8_t)(1u << (c.pos & 7));
		if (walk_items(v, &c, img_record_base(img, IMG_TERMS, c.rec), 1))
			return -1;
		records++;
	}
	if (records != img->shared)
		return kb_error_set(
		    v->err, "%s: header says %llu shared records, section 'terms' holds %llu",
		    img->file, (unsigned long long)img->shared, (unsigned long long)records);
	return 0;
}

static int check_entries(struct verifier *v)
{
	const struct mt_image *img = v->img;
	uint64_t atoms = 0, rules = 0, pos = 0;
	for (uint64_t n = 0; n < img->entries; n++) {
		struct img_entry e;
		if (n % IMG_SAMPLE == 0) {
			uint64_t want = img_le32(img->sec[IMG_ENTIDX].p + 4 * (n / IMG_SAMPLE));
			if (want != pos) {
				struct img_cur ic =
				    img_cursor(img, IMG_ENTIDX, 4 * (n / IMG_SAMPLE),
					       4 * (n / IMG_SAMPLE), v->err);
				return img_fail(&ic,
						"entry %llu is at offset %llu, the table says %llu",
						(unsigned long long)n, (unsigned long long)pos,
						(unsigned long long)want);
			}
		}
		if (img_entry_at(img, pos, &e, v->err))
			return -1;
		struct img_cur c = img_cursor(img, IMG_ENTRIES, e.body, e.rec, v->err);
		if (walk_items(v, &c, e.base, e.rule ? 2 : 1))
			return -1;
		if (img_entry_keys(img, &e, &v->keys[n], v->err))
			return -1;
		atoms += e.mult;
		rules += v->keys[n].rule != IC_NONE;
		pos = c.pos;
	}
	if (pos != img->sec[IMG_ENTRIES].size) {
		struct img_cur c = img_cursor(img, IMG_ENTRIES, pos, pos, v->err);
		return img_fail(&c, "%llu bytes after the last entry",
				(unsigned long long)(img->sec[IMG_ENTRIES].size - pos));
	}
	if (atoms != img->atoms || rules != img->rules)
		return kb_error_set(v->err,
				    "%s: header says %llu atoms and %llu rules, the entries hold "
				    "%llu and %llu",
				    img->file, (unsigned long long)img->atoms,
				    (unsigned long long)img->rules, (unsigned long long)atoms,
				    (unsigned long long)rules);
	return 0;
}

/* Marks the entries of a run list as indexed under (cls, sym, kind,
 * arity), checking each entry's own key agrees and no entry is listed
 * twice. */
static int check_runs(struct verifier *v, struct img_runs *runs, enum img_class cls, uint32_t sym,
		      int kind, uint64_t arity, uint64_t *first)
{
	const struct mt_image *img = v->img;
	uint64_t start, count;
	int r;
	*first = UINT64_MAX;
	while ((r = img_runs_next(img, runs, &start, &count, v->err)) > 0) {
		if (*first == UINT64_MAX)
			*first = start;
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

static int check_symbols(struct verifier *v)
{
	const struct mt_image *img = v->img;
	struct img_cur c = img_cursor(img, IMG_SYMTAB, 0, 0, v->err);
	uint32_t ebase = 0;
	uint64_t block_min = UINT64_MAX;
	for (uint64_t id = 0; id < img->symbols; id++) {
		c.rec = c.pos;
		if (id % IMG_SAMPLE == 0) {
			if (id && ebase != (block_min == UINT64_MAX ? 0 : block_min))
				goto bad_base;
			block_min = UINT64_MAX;
			const uint8_t *s = img->sec[IMG_SYMIDX].p + 8 * (id / IMG_SAMPLE);
			ebase = img_le32(s + 4);
			if (img_le32(s) != c.pos)
				return img_fail(
				    &c, "symbol %llu starts here but section 'symidx' says %u",
				    (unsigned long long)id, img_le32(s));
		}
		uint64_t h, len, g = 0;
		if (img_varint(&c, &h))
			return -1;
		len = h >> 1;
		const char *name = (const char *)c.p + c.pos;
		if (img_skip(&c, len, "symbol name"))
			return -1;
		uint32_t found;
		if (img_sym_find(img, name, len, XXH3_64bits(name, len), &found, v->err))
			return -1;
		if (found != id)
			return img_fail(&c,
					"symbol %llu ('%.*s') is not found at its place in section "
					"'symhash' (found %lld)",
					(unsigned long long)id, (int)(len > 64 ? 64 : len), name,
					found == UINT32_MAX ? -1LL : (long long)found);
		if (!(h & 1))
			continue;
		int64_t prev = -1;
		do {
			if (img_varint(&c, &g))
				return -1;
			int64_t kk = (int64_t)((g >> 3) << 1 | ((g >> 2) & 1));
			if ((g >> 3) > MT_HDR_ARITY_MASK || kk <= prev)
				return img_fail(&c, "index groups out of order or arity too large");
			prev = kk;
			struct img_runs runs = {
			    .pos = c.pos, .rec = c.rec, .left = 1, .base = ebase, .first = 1};
			if (g & 2) {
				uint64_t n;
				if (img_varint(&c, &n))
					return -1;
				if (n > (c.end - c.pos) / 2)
					return img_fail(&c, "index group claims too many runs");
				runs.left = n + 2;
				runs.pos = c.pos;
			}
			int kind = (int)((g >> 2) & 1);
			uint64_t first;
			if (check_runs(v, &runs, IC_SYM, (uint32_t)id, kind, g >> 3, &first))
				return -1;
			if (first < block_min)
				block_min = first;
			c.pos = runs.pos;
		} while (g & 1);
	}
	if (c.pos != c.end)
		return img_fail(&c, "%llu bytes after the last symbol record",
				(unsigned long long)(c.end - c.pos));
	if (ebase != (block_min == UINT64_MAX ? 0 : block_min))
		goto bad_base;
	return 0;
bad_base:;
	struct img_cur ic = img_cursor(img, IMG_SYMIDX, 0, 0, v->err);
	return img_fail(&ic, "an entry base is not the smallest run start of its 64 symbols");
}

static int check_hash(struct verifier *v)
{
	const struct mt_image *img = v->img;
	const uint8_t *slots = img->sec[IMG_SYMHASH].p + 16;
	uint64_t used = 0, id_mask = (1ull << img->id_bits) - 1;
	for (uint64_t i = 0; i < img->slots; i++) {
		uint64_t s = img_leN(slots + i * img->width, img->width);
		if (!s)
			continue;
		if ((s & id_mask) == 0 || (s & id_mask) > img->symbols) {
			struct img_cur c = img_cursor(img, IMG_SYMHASH, 16 + i * img->width,
						      16 + i * img->width, v->err);
			return img_fail(&c, "slot %llu holds an id outside the symbols",
					(unsigned long long)i);
		}
		used++;
	}
	if (used != img->symbols)
		return kb_error_set(
		    v->err, "%s: section 'symhash' holds %llu symbols, the header says %llu",
		    img->file, (unsigned long long)used, (unsigned long long)img->symbols);
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

static int check_wild(struct verifier *v)
{
	const struct mt_image *img = v->img;
	static const struct {
		enum img_class cls;
		int kind;
	} lists[IMG_W_COUNT] = {
	    [IMG_W_ATOMS_WILD] = {IC_WILD, IMG_K_ATOMS},
	    [IMG_W_RULES_WILD] = {IC_WILD, IMG_K_RULES},
	    [IMG_W_ATOMS_OTHER] = {IC_OTHER, IMG_K_ATOMS},
	    [IMG_W_RULES_OTHER] = {IC_OTHER, IMG_K_RULES},
	};
	uint64_t pos = 4 * IMG_W_COUNT;
	for (int l = 0; l < IMG_W_COUNT; l++) {
		struct img_runs runs;
		if (img_le32(img->sec[IMG_WILD].p + 4 * l) != pos) {
			struct img_cur c =
			    img_cursor(img, IMG_WILD, 4 * (uint64_t)l, 4 * (uint64_t)l, v->err);
			return img_fail(&c, "run list %d does not follow the previous one", l);
		}
		uint64_t first;
		if (img_runs_wild(img, l, &runs, v->err) ||
		    check_runs(v, &runs, lists[l].cls, 0, lists[l].kind, 0, &first))
			return -1;
		pos = runs.pos;
	}
	if (pos != img->sec[IMG_WILD].size) {
		struct img_cur c = img_cursor(img, IMG_WILD, pos, pos, v->err);
		return img_fail(&c, "%llu bytes after the last run list",
				(unsigned long long)(img->sec[IMG_WILD].size - pos));
	}
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
	return 0;
}

int mt_image_verify(const struct mt_image *img, struct kb_error *err)
{
	struct verifier v = {.img = img, .err = err};
	int rc = -1;
	if (check_checksums(&v) || check_padding(&v))
		return -1;
	v.starts = calloc(img->sec[IMG_TERMS].size / 8 + 1, 1);
	v.keys = calloc(img->entries + 1, sizeof *v.keys);
	v.seen = calloc(img->entries + 1, 1);
	if (!v.starts || !v.keys || !v.seen) {
		kb_error_set(err, "%s: out of memory", img->file);
		goto out;
	}
	if (check_terms(&v) || check_entries(&v) || check_names(&v) || check_hash(&v) ||
	    check_symbols(&v) || check_wild(&v) || check_coverage(&v))
		goto out;
	rc = 0;
out:
	free(v.starts);
	free(v.keys);
	free(v.seen);
	return rc;
}
