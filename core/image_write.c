/* image_write: builds the .kbi image of a space (docs/kb-image.md) and
 * writes it atomically, optionally as a zstd frame.
 *
 * Passes over the live entries, reading the space only through space.h and
 * term.h (so an image with an overlay is written the same way):
 *  1. count references to every distinct expression and box (what is
 *     shared), symbol frequencies (the most used get one-byte ids, the
 *     others are numbered in the order of their names' hashes) and the
 *     distinct variable-name lists;
 *  2. write each shared sub-term's record to 'terms' (post-order, before
 *     its first user), in entry order;
 *  3. build the index runs and give every entry its home (the record of
 *     its index key's symbol, or the wild home) and its place there;
 *  4. write the symbol records with their home entries, the wild section,
 *     the order runs and the sampled tables, then the header.
 * Every structure here is temporary, owned by struct writer and freed by
 * writer_free(); the result is one malloc'd buffer the caller owns. */
#include "core/image_impl.h"
#include "core/store_impl.h"
#include "kbprof/probe.h"

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zstd.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- growable byte and word buffers ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

static uint8_t *wb_room(struct wbuf *b, size_t n)
{
	if (b->oom)
		return NULL;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	return b->p + b->len;
}

static void wb_u8(struct wbuf *b, uint8_t v)
{
	uint8_t *p = wb_room(b, 1);
	if (p) {
		*p = v;
		b->len++;
	}
}

static void wb_varint(struct wbuf *b, uint64_t v)
{
	uint8_t *p = wb_room(b, 10);
	if (p)
		b->len += img_varint_put(p, v);
}

static void wb_bytes(struct wbuf *b, const void *src, size_t n)
{
	uint8_t *p = wb_room(b, n);
	if (p && n) {
		memcpy(p, src, n);
		b->len += n;
	}
}

static void wb_u32(struct wbuf *b, uint32_t v)
{
	uint8_t *p = wb_room(b, 4);
	if (p) {
		img_put32(p, v);
		b->len += 4;
	}
}

struct u32vec {
	uint32_t *v;
	size_t len, cap;
	int oom;
};

static void uv_push(struct u32vec *a, uint32_t x)
{
	if (a->oom)
		return;
	if (a->len == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		uint32_t *p = realloc(a->v, cap * sizeof *p);
		if (!p) {
			a->oom = 1;
			return;
		}
		a->v = p;
		a->cap = cap;
	}
	a->v[a->len++] = x;
}

/* ---- term -> (references, shared record) ----
 * One 32-bit word per persistent expression (indexed by its heap word,
 * the handle's payload) and per box: bits 0-1 count references (0, 1, 2 =
 * more), bit 2 marks a shared record; bits 3-31 hold, during pass 1, the
 * first live entry reaching the term and, once shared, its index in
 * shared_off[]. */

#define NOT_WRITTEN UINT32_MAX
#define R_MASK 3u
#define R_SHARED 4u
#define R_SHIFT 3u
#define R_FIRST_MAX ((1u << 29) - 1)

/* ---- variable-name lists ---- */

struct namelists {
	struct u32vec pool;  /* count, then ids (store ids), per list */
	struct u32vec start; /* list -> offset in pool */
	struct u32vec uses;  /* list -> number of entries using it */
	uint32_t *slots;     /* list + 1; 0 = empty */
	size_t nslots;
	uint32_t *rank;    /* list -> rank by decreasing use */
	uint32_t *by_rank; /* rank -> list */
};

static uint64_t list_hash(const uint32_t *ids, uint32_t n)
{
	return XXH3_64bits_withSeed(ids, (size_t)n * sizeof *ids, n);
}

/* Returns the list number of names (interning it), or UINT32_MAX. */
static uint32_t nl_intern(struct namelists *nl, const uint32_t *ids, uint32_t n)
{
	if (!nl->slots || (nl->start.len + 1) * 2 > nl->nslots) {
		size_t cap = nl->slots ? nl->nslots * 2 : 1024;
		uint32_t *s = calloc(cap, sizeof *s);
		if (!s)
			return UINT32_MAX;
		for (size_t l = 0; l < nl->start.len; l++) {
			const uint32_t *p = nl->pool.v + nl->start.v[l];
			size_t j = list_hash(p + 1, p[0]) & (cap - 1);
			while (s[j])
				j = (j + 1) & (cap - 1);
			s[j] = (uint32_t)l + 1;
		}
		free(nl->slots);
		nl->slots = s;
		nl->nslots = cap;
	}
	size_t j = list_hash(ids, n) & (nl->nslots - 1);
	for (; nl->slots[j]; j = (j + 1) & (nl->nslots - 1)) {
		uint32_t l = nl->slots[j] - 1;
		const uint32_t *p = nl->pool.v + nl->start.v[l];
		if (p[0] == n && memcmp(p + 1, ids, (size_t)n * sizeof *ids) == 0)
			return l;
	}
	uint32_t l = (uint32_t)nl->start.len;
	uv_push(&nl->start, (uint32_t)nl->pool.len);
	uv_push(&nl->uses, 0);
	uv_push(&nl->pool, n);
	for (uint32_t i = 0; i < n; i++)
		uv_push(&nl->pool, ids[i]);
	if (nl->start.oom || nl->uses.oom || nl->pool.oom)
		return UINT32_MAX;
	nl->slots[j] = l + 1;
	return l;
}

/* ---- index postings ---- */

struct run {
	uint32_t start, count, next;
};

struct key {
	uint64_t key; /* sym << 33 | kind << 32 | arity */
	uint32_t first, last;
};

struct postings {
	struct key *keys;
	size_t nkeys, keys_cap;
	uint32_t *slots; /* key index + 1 */
	size_t nslots;
	struct run *runs;
	size_t nruns, runs_cap;
};

static uint64_t pk_hash(uint64_t k)
{
	k ^= k >> 31;
	k *= 0x7fb5d329728ea185ULL;
	k ^= k >> 27;
	return k;
}

static int post_add(struct postings *p, uint64_t key, uint32_t entry)
{
	if (!p->slots || (p->nkeys + 1) * 2 > p->nslots) {
		size_t cap = p->slots ? p->nslots * 2 : 4096;
		uint32_t *s = calloc(cap, sizeof *s);
		if (!s)
			return -1;
		for (size_t i = 0; i < p->nkeys; i++) {
			size_t j = pk_hash(p->keys[i].key) & (cap - 1);
			while (s[j])
				j = (j + 1) & (cap - 1);
			s[j] = (uint32_t)i + 1;
		}
		free(p->slots);
		p->slots = s;
		p->nslots = cap;
	}
	size_t j = pk_hash(key) & (p->nslots - 1);
	while (p->slots[j] && p->keys[p->slots[j] - 1].key != key)
		j = (j + 1) & (p->nslots - 1);
	if (p->slots[j]) {
		struct key *k = &p->keys[p->slots[j] - 1];
		struct run *last = &p->runs[k->last];
		if (last->start + last->count == entry) {
			last->count++;
			return 0;
		}
	}
	if (p->nruns == p->runs_cap) {
		size_t cap = p->runs_cap ? p->runs_cap * 2 : 4096;
		struct run *r = realloc(p->runs, cap * sizeof *r);
		if (!r)
			return -1;
		p->runs = r;
		p->runs_cap = cap;
	}
	uint32_t ri = (uint32_t)p->nruns++;
	p->runs[ri] = (struct run){entry, 1, UINT32_MAX};
	if (p->slots[j]) {
		struct key *k = &p->keys[p->slots[j] - 1];
		p->runs[k->last].next = ri;
		k->last = ri;
		return 0;
	}
	if (p->nkeys == p->keys_cap) {
		size_t cap = p->keys_cap ? p->keys_cap * 2 : 4096;
		struct key *k = realloc(p->keys, cap * sizeof *k);
		if (!k)
			return -1;
		p->keys = k;
		p->keys_cap = cap;
	}
	p->keys[p->nkeys] = (struct key){key, ri, ri};
	p->slots[j] = (uint32_t)++p->nkeys;
	return 0;
}

/* ---- the writer ---- */

struct writer {
	const struct mt_space *space;
	struct mt_store *store;
	struct kb_error *err;
	uint32_t nstore_syms;
	uint32_t *sym_img;       /* store id -> image id, UINT32_MAX unassigned */
	uint32_t *sym_freq;      /* store id -> uses */
	struct u32vec sym_store; /* image id -> store id */
	uint32_t next_sym;
	uint32_t hashed;          /* ids from here on are in name-hash order */
	uint8_t *sym_used;        /* store id -> used by a name list */
	int missed;               /* a symbol was met that was not numbered */
	struct hashed_sym *hsyms; /* ids hashed..S-1: hash and name */
	uint32_t cur_base;        /* symbol base of new 'terms' blocks */
	uint32_t *live;           /* image entry -> space entry */
	uint32_t *home_of;        /* image entry -> home (symbol id, IMG_HOME_WILD) */
	uint32_t *pos_of;         /* image entry -> position in its home */
	struct wbuf ebuf;         /* every entry record, in entry order */
	uint32_t *eoff;           /* image entry -> offset in ebuf (E + 1 of them) */
	uint64_t order_runs;

	uint32_t *einfo, *binfo; /* per heap word, per box (see R_*) */
	size_t heap_len, nboxes;
	uint32_t *shared_off;         /* shared record -> offset in 'terms' */
	struct img_vars *shared_vars; /* shared record -> how it numbers variables */
	struct img_vars vars;         /* of the items encode_item wrote since reset */
	size_t nshared;
	int first_overflow;    /* entries beyond R_FIRST_MAX: check them all */
	uint8_t *needs_shared; /* bitmap: live entries that first reach a shared record */
	struct namelists names;
	struct postings post;
	struct u32vec stack; /* explicit DFS stack (terms) */
	struct u32vec scan;  /* inline-subtree scan stack */
	struct u32vec work;  /* shared records waiting to be written */

	struct wbuf sec[IMG_NSEC];
	struct u32vec termbase;
	uint64_t entries, atoms, rules, shared;
	int oom;
};

static void writer_free(struct writer *w)
{
	free(w->sym_img);
	free(w->sym_freq);
	free(w->sym_store.v);
	free(w->einfo);
	free(w->binfo);
	free(w->shared_off);
	free(w->shared_vars);
	free(w->needs_shared);
	free(w->names.pool.v);
	free(w->names.start.v);
	free(w->names.uses.v);
	free(w->names.slots);
	free(w->names.rank);
	free(w->names.by_rank);
	free(w->post.keys);
	free(w->post.slots);
	free(w->post.runs);
	free(w->stack.v);
	free(w->scan.v);
	free(w->work.v);
	for (int i = 0; i < IMG_NSEC; i++)
		free(w->sec[i].p);
	free(w->termbase.v);
	free(w->sym_used);
	free(w->hsyms);
	free(w->live);
	free(w->home_of);
	free(w->pos_of);
	free(w->ebuf.p);
	free(w->eoff);
}

static int w_oom(struct writer *w)
{
	return kb_error_set(w->err, "image: out of memory");
}

static uint32_t *info_of(struct writer *w, mt_term t)
{
	return mt_tag(t) == MT_EXPR ? &w->einfo[mt_store_off(t)] : &w->binfo[mt_payload(t)];
}

static int is_shared(struct writer *w, mt_term t)
{
	if (mt_tag(t) != MT_EXPR && mt_tag(t) != MT_BOX)
		return 0;
	return (*info_of(w, t) & R_SHARED) != 0;
}

static uint32_t *shared_off(struct writer *w, mt_term t)
{
	return &w->shared_off[*info_of(w, t) >> R_SHIFT];
}

static struct img_vars *shared_vars(struct writer *w, mt_term t)
{
	return &w->shared_vars[*info_of(w, t) >> R_SHIFT];
}

/* After pass 1: a term is a shared record when referenced more than once
 * and a reference is shorter than the term itself. Marks the entries that
 * first reach a shared record: only they write records before their own. */
static int mark_one(struct writer *w, uint32_t *p, mt_term box)
{
	if ((*p & R_MASK) < 2)
		return 0;
	if (box != MT_NONE) {
		size_t len;
		if (mt_box_kind(w->store, box) != MT_BOX_STRING ||
		    (mt_str_value(w->store, box, &len), len < 4))
			return 0;
	}
	uint32_t first = *p >> R_SHIFT;
	w->needs_shared[first / 8] |= (uint8_t)(1u << (first % 8));
	if (w->nshared >= R_FIRST_MAX)
		return kb_error_set(w->err, "image: too many shared sub-terms");
	*p = (uint32_t)(w->nshared++ << R_SHIFT) | R_SHARED | 2;
	return 0;
}

static int mark_shared(struct writer *w)
{
	w->needs_shared = calloc(w->entries / 8 + 1, 1);
	if (!w->needs_shared)
		return w_oom(w);
	if (w->first_overflow)
		memset(w->needs_shared, 0xff, w->entries / 8 + 1);
	size_t n = 0;
	for (size_t i = 0; i < w->heap_len; i++)
		n += (w->einfo[i] & R_MASK) == 2;
	for (size_t i = 0; i < w->nboxes; i++)
		n += (w->binfo[i] & R_MASK) == 2;
	w->shared_off = malloc((n + 1) * sizeof *w->shared_off);
	w->shared_vars = malloc((n + 1) * sizeof *w->shared_vars);
	if (!w->shared_off || !w->shared_vars)
		return w_oom(w);
	for (size_t i = 0; i < w->heap_len; i++)
		if ((w->einfo[i] & R_MASK) == 2 && mark_one(w, &w->einfo[i], MT_NONE))
			return -1;
	for (size_t i = 0; i < w->nboxes; i++)
		if ((w->binfo[i] & R_MASK) == 2 &&
		    mark_one(w, &w->binfo[i], mt_make(MT_BOX, (uint32_t)i)))
			return -1;
	for (size_t i = 0; i < w->nshared; i++)
		w->shared_off[i] = NOT_WRITTEN;
	return 0;
}

/* Counts one more reference to t; returns 1 when it is the first. */
static int count_ref(struct writer *w, mt_term t)
{
	uint32_t *p = info_of(w, t), r = *p & R_MASK;
	if (r == 0) {
		uint32_t first = (uint32_t)w->entries;
		if (w->entries > R_FIRST_MAX) {
			w->first_overflow = 1;
			first = 0;
		}
		*p = first << R_SHIFT | 1;
		return 1;
	}
	/* `()` is never worth sharing (a reference is no shorter): it stays
	 * at one reference, so pass 2 need not tell it apart by offset */
	if (r == 1 && !(mt_tag(t) == MT_EXPR && mt_expr_arity(w->store, t) == 0))
		*p = (*p & ~R_MASK) | 2;
	return 0;
}

/* Pass 1 over one atom: reference counts and symbol frequencies. */
static int count_atom(struct writer *w, mt_term atom)
{
	w->stack.len = 0;
	uv_push(&w->stack, atom);
	while (w->stack.len) {
		mt_term t = w->stack.v[--w->stack.len];
		switch (mt_tag(t)) {
		case MT_SYM:
			if (mt_payload(t) >= w->nstore_syms)
				return kb_error_set(w->err,
						    "image: symbol id %u unknown to the store",
						    mt_payload(t));
			w->sym_freq[mt_payload(t)]++;
			break;
		case MT_EXPR: {
			if (mt_store_off(t) >= w->heap_len)
				return kb_error_set(w->err,
						    "image: expression %u outside the store",
						    mt_store_off(t));
			if (count_ref(w, t)) {
				uint32_t n = mt_expr_arity(w->store, t);
				const mt_term *a = mt_expr_args(w->store, t);
				for (uint32_t i = n; i-- > 0;)
					uv_push(&w->stack, a[i]);
			}
			break;
		}
		case MT_BOX:
			if (mt_payload(t) >= w->nboxes)
				return kb_error_set(w->err, "image: box %u outside the store",
						    mt_payload(t));
			count_ref(w, t);
			break;
		case MT_VAR:
		case MT_INT:
			break;
		default:
			return kb_error_set(w->err,
					    "image: the space holds a scratch term (tag %d): atoms "
					    "must be persistent",
					    (int)mt_tag(t));
		}
		if (w->stack.oom)
			return w_oom(w);
	}
	return 0;
}

/* Numbers a symbol (the next id) if it has no id yet. */
static uint32_t number_sym(struct writer *w, uint32_t store_id)
{
	uint32_t id = w->sym_img[store_id];
	if (id == UINT32_MAX) {
		id = w->next_sym++;
		w->sym_img[store_id] = id;
		uv_push(&w->sym_store, store_id);
	}
	return id;
}

/* The image id of a symbol numbered before encoding started. */
static uint32_t image_sym(struct writer *w, uint32_t store_id)
{
	uint32_t id = w->sym_img[store_id];
	if (id == UINT32_MAX) {
		w->missed = 1;
		return 0;
	}
	return id;
}

static void put_sym(struct writer *w, struct wbuf *b, uint32_t base, uint32_t id)
{
	int64_t d = (int64_t)id - (int64_t)base;
	if (id < IMG_FREQ_SYMS) {
		wb_u8(b, (uint8_t)(IMG_C_SYM + id));
	} else if (d >= -32 && d <= 31) {
		wb_u8(b, (uint8_t)(IMG_C_SYMD + img_zigzag(d)));
	} else if (d >= -2048 && d <= 2047) {
		uint64_t z = img_zigzag(d);
		wb_u8(b, (uint8_t)(IMG_C_SYMD2 + (z >> 8)));
		wb_u8(b, (uint8_t)(z & 0xff));
	} else {
		wb_u8(b, (uint8_t)(IMG_C_SYMA + (id & 15)));
		wb_varint(b, id >> 4);
	}
}

static void put_ref(struct wbuf *b, uint32_t off)
{
	wb_u8(b, (uint8_t)(IMG_C_REF + (off & 15)));
	wb_varint(b, off >> 4);
}

static void put_int(struct wbuf *b, int64_t v)
{
	if (v >= 0 && v < 16) {
		wb_u8(b, (uint8_t)(IMG_C_INT + v));
	} else {
		wb_u8(b, IMG_C_INTN);
		wb_varint(b, img_zigzag(v));
	}
}

/* Encodes t as one item into b (pre-order, explicit stack). When
 * root_is_record, the root is written inline even though it is shared (it
 * is the shared record being written). */
static int encode_item(struct writer *w, struct wbuf *b, uint32_t base, mt_term root,
		       int root_is_record)
{
	struct mt_store *st = w->store;
	w->stack.len = 0;
	uv_push(&w->stack, root);
	int first = root_is_record;
	while (w->stack.len) {
		mt_term t = w->stack.v[--w->stack.len];
		int inline_root = first;
		first = 0;
		switch (mt_tag(t)) {
		case MT_SYM:
			put_sym(w, b, base, image_sym(w, mt_payload(t)));
			break;
		case MT_VAR:
			img_vars_add(&w->vars, mt_payload(t), mt_payload(t) + 1);
			if (mt_payload(t) < 16) {
				wb_u8(b, (uint8_t)(IMG_C_VAR + mt_payload(t)));
			} else {
				wb_u8(b, IMG_C_VARN);
				wb_varint(b, mt_payload(t));
			}
			break;
		case MT_INT:
			put_int(b, mt_small_int_value(t));
			break;
		case MT_BOX:
			if (!inline_root && is_shared(w, t)) {
				put_ref(b, *shared_off(w, t));
				break;
			}
			switch (mt_box_kind(st, t)) {
			case MT_BOX_INT: {
				int64_t v = 0;
				mt_int_value(st, t, &v);
				put_int(b, v);
				break;
			}
			case MT_BOX_FLOAT: {
				double f = 0;
				uint64_t bits;
				mt_float_value(st, t, &f);
				memcpy(&bits, &f, sizeof bits);
				uint8_t *p = wb_room(b, 9);
				if (p) {
					p[0] = IMG_C_FLOAT;
					img_put64(p + 1, bits);
					b->len += 9;
				}
				break;
			}
			case MT_BOX_STRING: {
				size_t len = 0;
				const char *s = mt_str_value(st, t, &len);
				wb_u8(b, IMG_C_STR);
				wb_varint(b, len);
				wb_bytes(b, s, len);
				break;
			}
			}
			break;
		case MT_EXPR: {
			if (!inline_root && is_shared(w, t)) {
				uint32_t off = *shared_off(w, t);
				if (off == NOT_WRITTEN)
					return kb_error_set(w->err,
							    "image: internal error: shared record "
							    "not written before its user");
				put_ref(b, off);
				img_vars_add(&w->vars, shared_vars(w, t)->need,
					     shared_vars(w, t)->end);
				break;
			}
			uint32_t n = mt_expr_arity(st, t);
			if (n < 16) {
				wb_u8(b, (uint8_t)(IMG_C_EXPR + n));
			} else {
				wb_u8(b, IMG_C_EXPRN);
				wb_varint(b, n);
			}
			const mt_term *a = mt_expr_args(st, t);
			for (uint32_t i = n; i-- > 0;)
				uv_push(&w->stack, a[i]);
			break;
		}
		default:
			return kb_error_set(w->err, "image: scratch term in the space");
		}
		if (w->stack.oom)
			return w_oom(w);
	}
	return 0;
}

/* Pushes onto w->work the shared records reachable from root through
 * inline sub-terms that are not written yet; returns how many. */
static size_t push_unwritten_deps(struct writer *w, mt_term root)
{
	size_t pushed = 0;
	w->scan.len = 0;
	uv_push(&w->scan, root);
	int first = 1;
	while (w->scan.len) {
		mt_term t = w->scan.v[--w->scan.len];
		if (!first && is_shared(w, t)) {
			if (*shared_off(w, t) == NOT_WRITTEN) {
				uv_push(&w->work, t);
				pushed++;
			}
			continue;
		}
		first = 0;
		if (mt_tag(t) != MT_EXPR)
			continue;
		uint32_t n = mt_expr_arity(w->store, t);
		const mt_term *a = mt_expr_args(w->store, t);
		for (uint32_t i = 0; i < n; i++)
			if (mt_tag(a[i]) == MT_EXPR || mt_tag(a[i]) == MT_BOX)
				uv_push(&w->scan, a[i]);
	}
	return pushed;
}

static uint32_t block_base(struct writer *w, struct u32vec *bases, size_t rec)
{
	while (bases->len <= rec >> IMG_BLOCK_SHIFT)
		uv_push(bases, w->cur_base);
	return bases->oom ? 0 : bases->v[rec >> IMG_BLOCK_SHIFT];
}

/* Writes every shared record `root` needs (and root itself if it is
 * shared), children before parents. */
static int write_shared_for(struct writer *w, mt_term root, int root_is_record)
{
	w->work.len = 0;
	if (root_is_record) {
		if (*shared_off(w, root) == NOT_WRITTEN)
			uv_push(&w->work, root);
	} else {
		push_unwritten_deps(w, root);
	}
	while (w->work.len) {
		if (w->work.oom || w->scan.oom)
			return w_oom(w);
		mt_term s = w->work.v[w->work.len - 1];
		uint32_t *off = shared_off(w, s);
		if (*off != NOT_WRITTEN) {
			w->work.len--;
			continue;
		}
		if (push_unwritten_deps(w, s))
			continue;
		w->work.len--;
		struct wbuf *b = &w->sec[IMG_TERMS];
		if (b->len >= UINT32_MAX - 16)
			return kb_error_set(w->err, "image: section 'terms' would exceed 4 GiB");
		uint32_t base = block_base(w, &w->termbase, b->len);
		*off = (uint32_t)b->len;
		w->vars = (struct img_vars){0, 0};
		if (encode_item(w, b, base, s, 1))
			return -1;
		*shared_vars(w, s) = w->vars;
		w->shared++;
	}
	return w->work.oom || w->scan.oom ? w_oom(w) : 0;
}

static int is_rule(const struct mt_store *st, mt_term t)
{
	return mt_tag(t) == MT_EXPR && mt_expr_arity(st, t) == 3 &&
	       mt_expr_args(st, t)[0] == mt_sym(MT_S_EQUAL);
}

static uint32_t names_of(struct writer *w, uint32_t e, int *none)
{
	const struct mt_varnames *vn = mt_space_varnames(w->space, e);
	*none = !vn || vn->count == 0;
	if (*none)
		return 0;
	return nl_intern(&w->names, vn->names, vn->count);
}

static int pass_count(struct writer *w)
{
	uint32_t n = mt_space_entries(w->space);
	for (uint32_t e = 0; e < n; e++) {
		uint32_t mult = mt_space_multiplicity(w->space, e);
		if (!mult)
			continue;
		mt_term atom = mt_space_atom(w->space, e);
		if (count_atom(w, atom))
			return -1;
		int none;
		uint32_t l = names_of(w, e, &none);
		if (!none) {
			if (l == UINT32_MAX)
				return w_oom(w);
			w->names.uses.v[l]++;
			const uint32_t *p = w->names.pool.v + w->names.start.v[l];
			for (uint32_t i = 0; i < p[0]; i++)
				if (p[1 + i] >= w->nstore_syms)
					return kb_error_set(w->err,
							    "image: variable name is symbol %u, "
							    "unknown to the store",
							    p[1 + i]);
		}
		w->entries++;
		w->atoms += mult;
		w->rules += is_rule(w->store, atom);
	}
	if (w->entries >= UINT32_MAX)
		return kb_error_set(w->err, "image: too many entries");
	w->live = malloc((w->entries + 1) * sizeof *w->live);
	w->home_of = malloc((w->entries + 1) * sizeof *w->home_of);
	w->pos_of = malloc((w->entries + 1) * sizeof *w->pos_of);
	if (!w->live || !w->home_of || !w->pos_of)
		return w_oom(w);
	uint32_t live = 0;
	for (uint32_t e = 0; e < n; e++)
		if (mt_space_multiplicity(w->space, e))
			w->live[live++] = e;
	return 0;
}

/* Ids 0..K-1 are the well-known symbols; K..63 the most used others. */
static int assign_frequent(struct writer *w)
{
	uint32_t top[IMG_FREQ_SYMS], ntop = 0;
	uint32_t slots = MT_S__COUNT < IMG_FREQ_SYMS ? IMG_FREQ_SYMS - MT_S__COUNT : 0;
	for (uint32_t s = 0; s < MT_S__COUNT; s++)
		number_sym(w, s);
	for (uint32_t s = MT_S__COUNT; s < w->nstore_syms; s++) {
		uint32_t f = w->sym_freq[s];
		if (f < 2 || slots == 0 || (ntop == slots && f <= w->sym_freq[top[ntop - 1]]))
			continue;
		uint32_t i = ntop < slots ? ntop++ : ntop - 1;
		while (i > 0 && w->sym_freq[top[i - 1]] < f) {
			top[i] = top[i - 1];
			i--;
		}
		top[i] = s;
	}
	for (uint32_t i = 0; i < ntop; i++)
		number_sym(w, top[i]);
	return w->sym_store.oom ? w_oom(w) : 0;
}

struct hashed_sym {
	uint64_t hash;
	const char *name;
	uint32_t len, store_id;
};

static int hashed_cmp(const void *a, const void *b)
{
	const struct hashed_sym *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	int c = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Numbers every other symbol the image holds (used by an atom or a name
 * list) in the order of XXH3 of its name, ties by name: a look-up by name
 * then finds the symbol's record, and its entries, where a search of the
 * sampled hash keys leads (docs/kb-image.md, "Symbols"). */
static int assign_hashed(struct writer *w)
{
	w->hashed = w->next_sym;
	w->sym_used = calloc((size_t)w->nstore_syms + 1, 1);
	if (!w->sym_used)
		return w_oom(w);
	for (size_t l = 0; l < w->names.start.len; l++) {
		const uint32_t *p = w->names.pool.v + w->names.start.v[l];
		for (uint32_t i = 0; i < p[0]; i++)
			w->sym_used[p[1 + i]] = 1;
	}
	size_t n = 0;
	for (uint32_t s = 0; s < w->nstore_syms; s++)
		n += w->sym_img[s] == UINT32_MAX && (w->sym_freq[s] || w->sym_used[s]);
	struct hashed_sym *v = w->hsyms = malloc((n + 1) * sizeof *v);
	if (!v)
		return w_oom(w);
	n = 0;
	for (uint32_t s = 0; s < w->nstore_syms; s++)
		if (w->sym_img[s] == UINT32_MAX && (w->sym_freq[s] || w->sym_used[s])) {
			size_t len;
			const char *name = mt_sym_name(w->store, s, &len);
			if (!name) /* a damaged image under an overlay: its error is kept */
				name = "", len = 0;
			if (len > UINT32_MAX)
				return kb_error_set(w->err, "image: a symbol name exceeds 4 GiB");
			v[n++] =
			    (struct hashed_sym){XXH3_64bits(name, len), name, (uint32_t)len, s};
		}
	qsort(v, n, sizeof *v, hashed_cmp);
	for (size_t i = 0; i < n; i++)
		number_sym(w, v[i].store_id);
	return w->sym_store.oom ? w_oom(w) : 0;
}

static int rank_names(struct writer *w)
{
	size_t n = w->names.start.len;
	w->names.rank = malloc((n + 1) * sizeof *w->names.rank);
	w->names.by_rank = malloc((n + 1) * sizeof *w->names.by_rank);
	if (!w->names.rank || !w->names.by_rank)
		return w_oom(w);
	for (size_t i = 0; i < n; i++)
		w->names.by_rank[i] = (uint32_t)i;
	/* a stable merge sort by decreasing use: ties keep first-use order */
	const uint32_t *uses = w->names.uses.v;
	uint32_t *r = w->names.by_rank;
	for (size_t width = 1; width < n; width *= 2) {
		uint32_t *tmp = malloc(n * sizeof *tmp);
		if (!tmp)
			return w_oom(w);
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				tmp[k++] = uses[r[j]] > uses[r[i]] ? r[j++] : r[i++];
			while (i < mid)
				tmp[k++] = r[i++];
			while (j < hi)
				tmp[k++] = r[j++];
		}
		memcpy(r, tmp, n * sizeof *tmp);
		free(tmp);
	}
	for (size_t i = 0; i < n; i++)
		w->names.rank[r[i]] = (uint32_t)i;
	return 0;
}

static int encode_entry(struct writer *w, struct wbuf *b, uint32_t live, uint32_t base);

/* Encodes every entry in entry order (the space's memory is read in the
 * order it was written) into w->ebuf, each with its home's symbol base,
 * writing the shared records each needs before it; the homes are then
 * assembled from these bytes. */
static int pass_encode(struct writer *w)
{
	w->eoff = malloc((w->entries + 1) * sizeof *w->eoff);
	if (!w->eoff)
		return w_oom(w);
	for (uint32_t live = 0; live < w->entries; live++) {
		uint32_t home = w->home_of[live] == IMG_HOME_WILD ? 0 : w->home_of[live];
		mt_term atom = mt_space_atom(w->space, w->live[live]);
		w->cur_base = home;
		if ((w->needs_shared[live / 8] >> (live % 8) & 1) &&
		    write_shared_for(w, atom, is_shared(w, atom)))
			return -1;
		if (w->ebuf.len > UINT32_MAX - 16)
			return kb_error_set(w->err, "image: the entries would exceed 4 GiB");
		w->eoff[live] = (uint32_t)w->ebuf.len;
		if (encode_entry(w, &w->ebuf, live, home))
			return -1;
	}
	w->eoff[w->entries] = (uint32_t)w->ebuf.len;
	return w->ebuf.oom ? w_oom(w) : 0;
}

/* Encodes image entry `live` (header and items, symbol base `base`). */
static int encode_entry(struct writer *w, struct wbuf *b, uint32_t live, uint32_t base)
{
	uint32_t e = w->live[live];
	uint32_t mult = mt_space_multiplicity(w->space, e);
	mt_term atom = mt_space_atom(w->space, e);
	int shared_root = is_shared(w, atom);
	int rule = !shared_root && is_rule(w->store, atom);
	int none;
	uint32_t l = names_of(w, e, &none);
	if (!none && l == UINT32_MAX)
		return w_oom(w);
	uint64_t names = none ? 0 : (uint64_t)w->names.rank[l] + 1;
	uint8_t h = (uint8_t)((rule ? IMG_E_RULE : 0) | (mult > 1 ? IMG_E_MULT : 0) |
			      (names > IMG_NAMES_INLINE ? IMG_E_NAMES : names));
	wb_u8(b, h);
	if (mult > 1)
		wb_varint(b, mult - 2);
	if (names > IMG_NAMES_INLINE)
		wb_varint(b, names - IMG_NAMES_INLINE - 1);
	w->vars = (struct img_vars){0, 0};
	if (shared_root) {
		put_ref(b, *shared_off(w, atom));
		w->vars = *shared_vars(w, atom);
	} else if (rule) {
		const mt_term *a = mt_expr_args(w->store, atom);
		mt_term lhs = a[1], rhs = a[2]; /* copy: encoding does not allocate */
		if (encode_item(w, b, base, lhs, 0) || encode_item(w, b, base, rhs, 0))
			return -1;
	} else if (encode_item(w, b, base, atom, 0)) {
		return -1;
	}
	/* readers refuse such an entry; the space's own atoms (parsed, or
	 * added by add-atom) are always numbered right */
	if (w->vars.need)
		return kb_error_set(w->err,
				    "image: atom %u of the space numbers its variables out of "
				    "order (variable %u before variables 0..%u): it was added "
				    "without canonical numbering, so it cannot be written",
				    e, w->vars.need, w->vars.need - 1);
	return 0;
}

static int pass_names(struct writer *w)
{
	size_t n = w->names.start.len;
	struct wbuf *b = &w->sec[IMG_NAMES];
	for (size_t r = 0; r < n; r++) {
		const uint32_t *p = w->names.pool.v + w->names.start.v[w->names.by_rank[r]];
		wb_u32(&w->sec[IMG_NAMEIDX], (uint32_t)b->len);
		wb_varint(b, p[0]);
		for (uint32_t i = 0; i < p[0]; i++)
			wb_varint(b, image_sym(w, p[1 + i]));
	}
	if (b->len > UINT32_MAX)
		return kb_error_set(w->err, "image: section 'names' would exceed 4 GiB");
	return 0;
}

/* Keys of the special run lists of section 'wild' sort after every symbol. */
#define WILD_KEY(list) ((uint64_t)((1u << 29) + (list)) << 33)
#define KEY_EQ3 ((uint64_t)MT_S_EQUAL << 33 | (uint64_t)IMG_K_ATOMS << 32 | 3)

/* The atom key (=, 3) lists every rule; rules live with their rule keys. */
static int listing_key(uint64_t key)
{
	return key == KEY_EQ3;
}

static uint32_t key_home(uint64_t key)
{
	return (key >> 33) >= (1u << 29) ? IMG_HOME_WILD : (uint32_t)(key >> 33);
}

/* The index key of t for `kind` (docs/kb-image.md, "Indexes"): a symbol
 * key, or the 'wild' list of terms whose head is not ground (`wild`) or is
 * ground but not a symbol (`other`). */
static uint64_t key_of(struct writer *w, mt_term t, int kind, int wild, int other)
{
	const struct mt_store *st = w->store;
	uint64_t k = (uint64_t)kind << 32;
	switch (mt_tag(t)) {
	case MT_SYM:
		return (uint64_t)w->sym_img[mt_payload(t)] << 33 | k;
	case MT_VAR:
		return WILD_KEY(wild);
	case MT_EXPR:
		break;
	default:
		return WILD_KEY(other);
	}
	uint32_t n = mt_expr_arity(st, t);
	if (n == 0)
		return WILD_KEY(other);
	mt_term h = mt_expr_args(st, t)[0];
	switch (mt_tag(h)) {
	case MT_SYM:
		return (uint64_t)w->sym_img[mt_payload(h)] << 33 | k | n;
	case MT_VAR:
		return WILD_KEY(wild);
	case MT_EXPR:
		return WILD_KEY(mt_is_ground(st, h) ? other : wild);
	default:
		return WILD_KEY(other);
	}
}

/* Sorts the keys by (symbol, kind, arity), the wild lists last: counted
 * into one bucket per symbol, then each bucket's few keys in place. */
static int sort_keys(struct writer *w)
{
	size_t n = w->post.nkeys, S = w->next_sym, nb = S + IMG_W_COUNT;
	uint32_t *at = calloc(nb + 1, sizeof *at);
	struct key *out = malloc((n + 1) * sizeof *out);
	if (!at || !out) {
		free(at);
		free(out);
		return w_oom(w);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t sym = w->post.keys[i].key >> 33;
		at[(sym < S ? sym : S + (sym - (1u << 29))) + 1]++;
	}
	for (size_t b = 0; b < nb; b++)
		at[b + 1] += at[b];
	for (size_t i = 0; i < n; i++) {
		uint64_t sym = w->post.keys[i].key >> 33;
		out[at[sym < S ? sym : S + (sym - (1u << 29))]++] = w->post.keys[i];
	}
	/* at[b] is now the end of bucket b: sort each bucket's keys */
	for (size_t b = 0, lo = 0; b < nb; lo = at[b++])
		for (size_t i = lo + 1; i < at[b]; i++) {
			struct key k = out[i];
			size_t j = i;
			for (; j > lo && out[j - 1].key > k.key; j--)
				out[j] = out[j - 1];
			out[j] = k;
		}
	free(at);
	free(w->post.keys);
	w->post.keys = out;
	w->post.keys_cap = n + 1;
	return 0;
}

static int pass_index(struct writer *w)
{
	uint32_t n = mt_space_entries(w->space);
	uint32_t live = 0;
	for (uint32_t e = 0; e < n; e++) {
		if (!mt_space_multiplicity(w->space, e))
			continue;
		mt_term atom = mt_space_atom(w->space, e);
		if (post_add(&w->post,
			     key_of(w, atom, IMG_K_ATOMS, IMG_W_ATOMS_WILD, IMG_W_ATOMS_OTHER),
			     live))
			return w_oom(w);
		if (is_rule(w->store, atom) &&
		    post_add(&w->post,
			     key_of(w, mt_expr_args(w->store, atom)[1], IMG_K_RULES,
				    IMG_W_RULES_WILD, IMG_W_RULES_OTHER),
			     live))
			return w_oom(w);
		live++;
	}
	if (sort_keys(w))
		return -1;
	/* Homes: every entry is listed by exactly one key that is not the
	 * atom key (=, 3); its home is that key's symbol (or the wild home),
	 * and a home holds its keys' entries key by key, in key order. */
	uint32_t home = UINT32_MAX - 1, pos = 0;
	for (size_t j = 0; j < w->post.nkeys; j++) {
		const struct key *key = &w->post.keys[j];
		if (listing_key(key->key))
			continue;
		uint32_t h = key_home(key->key);
		if (h != home) {
			home = h;
			pos = 0;
		}
		for (uint32_t r = key->first; r != UINT32_MAX; r = w->post.runs[r].next)
			for (uint32_t i = 0; i < w->post.runs[r].count; i++) {
				uint32_t e = w->post.runs[r].start + i;
				w->home_of[e] = h;
				w->pos_of[e] = pos++;
			}
	}
	return 0;
}

static void put_runs(struct writer *w, struct wbuf *b, const struct key *key)
{
	int first = 1;
	uint64_t prev_end = 0;
	for (uint32_t r = key->first; r != UINT32_MAX; r = w->post.runs[r].next) {
		const struct run *run = &w->post.runs[r];
		wb_varint(b, first ? run->start : run->start - prev_end - 1);
		wb_varint(b, run->count - 1);
		prev_end = (uint64_t)run->start + run->count;
		first = 0;
	}
}

static uint64_t count_runs(struct writer *w, const struct key *key)
{
	uint64_t n = 0;
	for (uint32_t r = key->first; r != UINT32_MAX; r = w->post.runs[r].next)
		n++;
	return n;
}

static uint64_t key_entries(struct writer *w, const struct key *key)
{
	uint64_t n = 0;
	for (uint32_t r = key->first; r != UINT32_MAX; r = w->post.runs[r].next)
		n += w->post.runs[r].count;
	return n;
}

/* Calls fn(w, out, entry, index) for every entry of a home (the keys
 * [k0, k) of one home, the listing key left out), in home order. */
#define FOR_HOME(w, k0, k, e, body)                                                                \
	for (size_t j_ = (k0); j_ < (k); j_++) {                                                   \
		const struct key *key_ = &(w)->post.keys[j_];                                      \
		if (listing_key(key_->key))                                                        \
			continue;                                                                  \
		for (uint32_t r_ = key_->first; r_ != UINT32_MAX; r_ = (w)->post.runs[r_].next)    \
			for (uint32_t i_ = 0; i_ < (w)->post.runs[r_].count; i_++) {               \
				uint32_t e = (w)->post.runs[r_].start + i_;                        \
				body                                                               \
			}                                                                          \
	}

/* A home's entry count, and the bytes of its table and entry records. */
static void home_size(struct writer *w, size_t k0, size_t k, uint64_t *n, uint64_t *bytes)
{
	uint64_t count = 0, len = 0;
	FOR_HOME(w, k0, k, e, {
		count++;
		len += w->eoff[e + 1] - w->eoff[e];
	})
	*n = count;
	*bytes = len + 4 * (count > IMG_SAMPLE ? (count - 1) / IMG_SAMPLE : 0);
}

/* Writes a home: the table of every 16th entry's offset, then the entry
 * records (encoded in pass_encode with the home's symbol base). */
static int put_home(struct writer *w, struct wbuf *out, size_t k0, size_t k)
{
	uint64_t n = 0, off = 0;
	FOR_HOME(w, k0, k, e, {
		if (n && n % IMG_SAMPLE == 0) {
			if (off > UINT32_MAX)
				return kb_error_set(w->err, "image: a home's entries exceed 4 GiB");
			wb_u32(out, (uint32_t)off);
		}
		n++;
		off += w->eoff[e + 1] - w->eoff[e];
	})
	FOR_HOME(w, k0, k, e,
		 { wb_bytes(out, w->ebuf.p + w->eoff[e], w->eoff[e + 1] - w->eoff[e]); })
	return out->oom ? w_oom(w) : 0;
}

/* Section 'wild': the four run lists, where each list's entries start in
 * the wild home, and the wild home. */
static int pass_wild(struct writer *w)
{
	struct wbuf *b = &w->sec[IMG_WILD];
	uint8_t *head = wb_room(b, IMG_WILD_HEADER);
	if (!head)
		return w_oom(w);
	memset(head, 0, IMG_WILD_HEADER);
	b->len = IMG_WILD_HEADER;
	size_t k0 = w->post.nkeys;
	uint64_t hpos = 0;
	for (int list = 0; list < IMG_W_COUNT; list++) {
		img_put32(b->p + 4 * list, (uint32_t)b->len);
		img_put32(b->p + 16 + 4 * list, (uint32_t)hpos);
		const struct key *key = NULL;
		/* the wild keys sort last */
		for (size_t j = w->post.nkeys; j-- > 0 && w->post.keys[j].key >= WILD_KEY(0);)
			if (w->post.keys[j].key == WILD_KEY(list)) {
				key = &w->post.keys[j];
				if (j < k0)
					k0 = j;
			}
		if (!key) {
			wb_varint(b, 0);
			continue;
		}
		wb_varint(b, count_runs(w, key));
		put_runs(w, b, key);
		hpos += key_entries(w, key);
	}
	if (b->oom)
		return w_oom(w);
	img_put32(b->p + 32, (uint32_t)b->len);
	uint64_t n, bytes;
	home_size(w, k0, w->post.nkeys, &n, &bytes);
	wb_varint(b, n);
	if (put_home(w, b, k0, w->post.nkeys))
		return -1;
	if (b->len > UINT32_MAX)
		return kb_error_set(w->err, "image: section 'wild' would exceed 4 GiB");
	return 0;
}

/* The symbol records, each with its index groups and home entries, and
 * 'symidx'. */
static int pass_symbols(struct writer *w)
{
	uint32_t S = w->next_sym;
	struct wbuf *tab = &w->sec[IMG_SYMTAB], *idx = &w->sec[IMG_SYMIDX];
	struct wbuf grp = {0}, low = {0};
	struct u32vec lows = {0}; /* per symbol below hashed: offset of its u32, of its part */
	size_t k = 0;             /* next key (sorted by symbol) */
	int rc = 0;
	for (uint32_t id = 0; id < S && !rc; id++) {
		size_t len;
		const char *name;
		uint64_t hash;
		if (id >= w->hashed) { /* in hash order: no random read of the store */
			const struct hashed_sym *h = &w->hsyms[id - w->hashed];
			name = h->name;
			len = h->len;
			hash = h->hash;
		} else {
			name = mt_sym_name(w->store, w->sym_store.v[id], &len);
			hash = XXH3_64bits(name, len);
		}
		if (id % IMG_SAMPLE == 0) {
			if (tab->len > UINT32_MAX) {
				rc = kb_error_set(w->err,
						  "image: section 'symtab' would exceed 4 GiB");
				break;
			}
			wb_u32(idx, (uint32_t)tab->len);
			wb_u32(idx, (uint32_t)(hash >> 32));
		}
		size_t k0 = k;
		while (k < w->post.nkeys && (w->post.keys[k].key >> 33) == id)
			k++;
		if (k == k0) {
			wb_varint(tab, (uint64_t)len << 2);
			wb_bytes(tab, name, len);
			continue;
		}
		grp.len = 0;
		for (size_t j = k0; j < k; j++) {
			const struct key *key = &w->post.keys[j];
			uint64_t arity = key->key & 0xffffffffu, kind = (key->key >> 32) & 1;
			uint64_t nruns = count_runs(w, key);
			int multi = nruns > 1;
			wb_varint(&grp, arity << 3 | kind << 2 | (uint64_t)multi << 1 |
					    (uint64_t)(j + 1 < k));
			if (multi)
				wb_varint(&grp, nruns - 2);
			put_runs(w, &grp, key);
		}
		uint64_t n, hbytes;
		home_size(w, k0, k, &n, &hbytes);
		if (grp.oom) {
			rc = w_oom(w);
			break;
		}
		int is_long = grp.len >= IMG_LONG_GROUPS;
		uint8_t lens[20];
		size_t nl = 0;
		if (is_long) {
			nl = img_varint_put(lens, grp.len);
			nl += img_varint_put(lens + nl, n);
		}
		wb_varint(tab, (uint64_t)len << 2 | (is_long ? IMG_R_LONG : 0) | IMG_R_INDEX);
		wb_bytes(tab, name, len);
		struct wbuf *part = tab;
		if (id < w->hashed) {
			/* the frequent symbols' records stay small (open reads their
			 * names): their index parts follow the last record */
			uv_push(&lows, (uint32_t)tab->len);
			uv_push(&lows, (uint32_t)low.len);
			wb_u32(tab, 0);
			part = &low;
		}
		wb_varint(part, nl + grp.len + hbytes);
		wb_bytes(part, lens, nl);
		wb_bytes(part, grp.p, grp.len);
		if ((rc = put_home(w, part, k0, k)) != 0)
			break;
	}
	if (!rc && (low.oom || lows.oom || tab->oom))
		rc = w_oom(w);
	if (!rc && tab->len + low.len > UINT32_MAX)
		rc = kb_error_set(w->err, "image: section 'symtab' would exceed 4 GiB");
	if (!rc) {
		for (size_t i = 0; i < lows.len; i += 2)
			img_put32(tab->p + lows.v[i], (uint32_t)(tab->len + lows.v[i + 1]));
		wb_bytes(tab, low.p, low.len);
	}
	free(grp.p);
	free(low.p);
	free(lows.v);
	return rc;
}

/* Section 'order': the entries in insertion order as runs of consecutive
 * places in one home, and 'ordidx', every 16th run. */
static int pass_order(struct writer *w)
{
	struct wbuf *b = &w->sec[IMG_ORDER], *idx = &w->sec[IMG_ORDIDX];
	uint64_t R = 0;
	for (uint32_t e = 0; e < w->entries;) {
		uint32_t h = w->home_of[e], p = w->pos_of[e], c = 1;
		while (e + c < w->entries && w->home_of[e + c] == h && w->pos_of[e + c] == p + c)
			c++;
		if (R % IMG_SAMPLE == 0) {
			if (b->len > UINT32_MAX)
				return kb_error_set(w->err,
						    "image: section 'order' would exceed 4 GiB");
			wb_u32(idx, (uint32_t)b->len);
			wb_u32(idx, e);
		}
		wb_varint(b, h == IMG_HOME_WILD ? 0 : (uint64_t)h + 1);
		wb_varint(b, (uint64_t)(c - 1) << 1 | (p != 0));
		if (p)
			wb_varint(b, p);
		R++;
		e += c;
	}
	w->order_runs = R;
	if (b->len > UINT32_MAX)
		return kb_error_set(w->err, "image: section 'order' would exceed 4 GiB");
	return b->oom || idx->oom ? w_oom(w) : 0;
}

static void put_bases(struct writer *w, struct u32vec *bases, size_t section_len, struct wbuf *out)
{
	size_t blocks = (section_len + (1u << IMG_BLOCK_SHIFT) - 1) >> IMG_BLOCK_SHIFT;
	while (bases->len < blocks)
		uv_push(bases, 0);
	for (size_t i = 0; i < blocks && !bases->oom; i++)
		wb_u32(out, bases->v[i]);
}

static int assemble(struct writer *w, uint8_t **bytes, size_t *len,
		    struct mt_image_write_stats *stats)
{
	uint64_t header_size = IMG_HEADER_FIXED + IMG_NSEC * IMG_SECTION_ENTRY;
	uint64_t off[IMG_NSEC], pos = (header_size + IMG_ALIGN - 1) / IMG_ALIGN * IMG_ALIGN;
	for (int i = 0; i < IMG_NSEC; i++) {
		if (w->sec[i].oom)
			return w_oom(w);
		off[i] = pos;
		pos += w->sec[i].len;
		pos = (pos + IMG_ALIGN - 1) / IMG_ALIGN * IMG_ALIGN;
	}
	uint64_t total = off[IMG_NSEC - 1] + w->sec[IMG_NSEC - 1].len;
	uint8_t *out = calloc(1, total);
	if (!out)
		return w_oom(w);
	memcpy(out, IMG_MAGIC, IMG_MAGIC_LEN);
	img_put32(out + IMG_H_VERSION, IMG_VERSION);
	img_put32(out + IMG_H_BYTE_ORDER, IMG_BYTE_ORDER);
	img_put32(out + IMG_H_HEADER_SIZE, (uint32_t)header_size);
	img_put32(out + IMG_H_SECTION_COUNT, IMG_NSEC);
	img_put64(out + IMG_H_FILE_SIZE, total);
	img_put64(out + IMG_H_ENTRIES, w->entries);
	img_put64(out + IMG_H_ATOMS, w->atoms);
	img_put64(out + IMG_H_RULES, w->rules);
	img_put64(out + IMG_H_SYMBOLS, w->next_sym);
	img_put64(out + IMG_H_NAME_LISTS, w->names.start.len);
	img_put64(out + IMG_H_SHARED, w->shared);
	img_put64(out + IMG_H_WELLKNOWN, MT_S__COUNT);
	img_put64(out + IMG_H_HASHED, w->hashed);
	img_put64(out + IMG_H_ORDER_RUNS, w->order_runs);
	for (int i = 0; i < IMG_NSEC; i++) {
		uint8_t *e = out + IMG_HEADER_FIXED + i * IMG_SECTION_ENTRY;
		img_put32(e, (uint32_t)i + 1);
		img_put64(e + 8, off[i]);
		img_put64(e + 16, w->sec[i].len);
		img_put64(e + 24, XXH3_64bits(w->sec[i].p, w->sec[i].len));
		if (w->sec[i].len)
			memcpy(out + off[i], w->sec[i].p, w->sec[i].len);
	}
	img_put64(out + IMG_H_CHECKSUM, XXH3_64bits(out, header_size));
	*bytes = out;
	*len = total;
	if (stats) {
		memset(stats, 0, sizeof *stats);
		stats->image_bytes = stats->file_bytes = total;
		for (int i = 0; i < IMG_NSEC; i++)
			stats->section_bytes[i] = w->sec[i].len;
		stats->entries = w->entries;
		stats->atoms = w->atoms;
		stats->rules = w->rules;
		stats->symbols = w->next_sym;
		stats->shared = w->shared;
		stats->name_lists = w->names.start.len;
	}
	return 0;
}

int mt_image_build(const struct mt_space *space, uint8_t **bytes, size_t *len,
		   struct mt_image_write_stats *stats, struct kb_error *err)
{
	struct writer w = {.space = space, .store = mt_space_store(space), .err = err};
	int rc = -1;
	/* An image-backed space decodes its atoms into the store on demand:
	 * decode them all first, so that the store's heap no longer grows
	 * (decoding again finds the same hash-consed terms). */
	uint32_t nent = mt_space_entries(space);
	for (uint32_t e = 0; e < nent; e++)
		if (mt_space_multiplicity(space, e))
			(void)mt_space_atom(space, e);
	w.nstore_syms = mt_sym_count(w.store);
	w.heap_len = w.store->heap_len;
	w.nboxes = w.store->nboxes;
	w.einfo = calloc(w.heap_len + 1, sizeof *w.einfo);
	w.binfo = calloc(w.nboxes + 1, sizeof *w.binfo);
	if (!w.einfo || !w.binfo) {
		w_oom(&w);
		goto out;
	}
	w.sym_img = malloc(((size_t)w.nstore_syms + 1) * sizeof *w.sym_img);
	w.sym_freq = calloc((size_t)w.nstore_syms + 1, sizeof *w.sym_freq);
	if (!w.sym_img || !w.sym_freq) {
		w_oom(&w);
		goto out;
	}
	memset(w.sym_img, 0xff, ((size_t)w.nstore_syms + 1) * sizeof *w.sym_img);
	if (pass_count(&w) || mark_shared(&w) || assign_frequent(&w) || rank_names(&w) ||
	    assign_hashed(&w))
		goto out;
	if (w.next_sym > (1u << 29) - 2) {
		kb_error_set(err, "image: %u symbols exceed the store's id range", w.next_sym);
		goto out;
	}
	if (pass_index(&w) || pass_encode(&w) || pass_names(&w) || pass_symbols(&w) ||
	    pass_wild(&w) || pass_order(&w))
		goto out;
	put_bases(&w, &w.termbase, w.sec[IMG_TERMS].len, &w.sec[IMG_TERMBASE]);
	if (w.sym_store.oom || w.termbase.oom) {
		w_oom(&w);
		goto out;
	}
	if (w.missed) {
		kb_error_set(err, "image: internal error: a symbol was not numbered");
		goto out;
	}
	rc = assemble(&w, bytes, len, stats);
out:
	writer_free(&w);
	return rc;
}

/* ---- atomic file output ---- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int write_zstd(int fd, const uint8_t *p, size_t n, int level, uint64_t *written)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t cap = ZSTD_CStreamOutSize();
	uint8_t *buf = malloc(cap);
	int rc = -1;
	if (!cc || !buf) {
		errno = ENOMEM;
		goto out;
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cc, n))) {
		errno = EINVAL;
		goto out;
	}
	/* Use both cores when libzstd was built with threads; ignore if not. */
	(void)ZSTD_CCtx_setParameter(cc, ZSTD_c_nbWorkers, 2);
	ZSTD_inBuffer in = {p, n, 0};
	for (;;) {
		ZSTD_outBuffer o = {buf, cap, 0};
		size_t left = ZSTD_compressStream2(cc, &o, &in, ZSTD_e_end);
		if (ZSTD_isError(left)) {
			errno = EIO;
			goto out;
		}
		if (write_all(fd, buf, o.pos))
			goto out;
		*written += o.pos;
		if (left == 0)
			break;
	}
	rc = 0;
out:
	free(buf);
	ZSTD_freeCCtx(cc);
	return rc;
}

int mt_image_write(const struct mt_space *space, const char *path,
		   const struct mt_image_write_opts *opts, struct mt_image_write_stats *stats,
		   struct kb_error *err)
{
	KBPROF_REGION_BEGIN("image_write");
	uint8_t *bytes = NULL;
	size_t len = 0;
	int rc = -1, fd = -1;
	char *tmp = NULL, *dircopy = NULL;
	struct mt_image_write_stats local;
	if (!stats)
		stats = &local;
	if (mt_image_build(space, &bytes, &len, stats, err)) {
		if (err) {
			char cause[sizeof err->msg];
			memcpy(cause, err->msg, sizeof cause);
			kb_error_set(err, "%.200s: %.800s", path, cause);
		}
		goto out;
	}
	size_t plen = strlen(path);
	tmp = malloc(plen + 16);
	dircopy = strdup(path);
	if (!tmp || !dircopy) {
		kb_error_set(err, "%s: out of memory", path);
		goto out;
	}
	snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		kb_error_set(err, "%s: cannot create a temporary file beside it: %s", path,
			     strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	mode_t mask = umask(0);
	umask(mask);
	uint64_t written = 0;
	int wr = opts && opts->zstd
		     ? write_zstd(fd, bytes, len, opts->zstd_level ? opts->zstd_level : 9, &written)
		     : (written = len, write_all(fd, bytes, len));
	if (wr || fchmod(fd, 0666 & ~mask) || fsync(fd)) {
		kb_error_set(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	int cfd = fd;
	fd = -1;
	if (close(cfd)) {
		kb_error_set(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path)) {
		kb_error_set(err, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd)) {
		kb_error_set(err, "%s: fsync of its directory: %s", path, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		goto out;
	}
	close(dfd);
	stats->file_bytes = written;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(dircopy);
	free(bytes);
	KBPROF_REGION_END("image_write");
	return rc;
}
