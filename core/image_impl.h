/* image_impl: the opened image (struct mt_image) and the reader's internal
 * entry points, shared by core/image_read.c, image_verify.c and
 * image_space.c. Nobody outside core/image_*.c includes this.
 *
 * Owner: struct mt_image owns its mapping (munmap at close) or nothing when
 * it borrows caller memory (mt_image_open_mem). A struct img_decoder owns
 * its stacks and its memo table; it borrows the image and the store. */
#ifndef MT_IMAGE_IMPL_H
#define MT_IMAGE_IMPL_H

#include "core/image.h"
#include "core/image_format.h"

struct img_section {
	const uint8_t *p;
	uint64_t off, size, sum;
};

struct mt_image {
	const uint8_t *map;
	size_t size;
	int mapped;     /* munmap(map, size) at close */
	int compressed; /* expanded from a .zst frame */
	uint64_t compressed_size;
	char file[256]; /* name used in messages */

	struct img_section sec[IMG_NSEC];
	uint64_t entries, atoms, rules, symbols, name_lists, shared;
	uint64_t hashed;     /* H: ids H..S-1 are in name-hash order */
	uint64_t order_runs; /* R */
	/* XXH3 of the names of symbols 0..H-1, read at open (H <= 64) */
	uint64_t low_hash[IMG_FREQ_SYMS];

	/* The first error met while answering queries lazily (the space API
	 * has no error return): set once, read by mt_image_kb_status(). */
	struct kb_error lazy_err;
	int lazy_failed;
};

static inline struct img_cur img_cursor(const struct mt_image *img, enum img_sec s, uint64_t pos,
					uint64_t rec, struct kb_error *err)
{
	struct img_cur c = {
	    .p = img->sec[s].p,
	    .pos = pos,
	    .end = img->sec[s].size,
	    .rec = rec,
	    .file = img->file,
	    .sec = img_sec_names[s],
	    .err = err,
	};
	return c;
}

/* The symbol base of the shared record starting at offset rec of `terms`
 * (rec < section size). */
static inline uint32_t img_terms_base(const struct mt_image *img, uint64_t rec)
{
	return img_le32(img->sec[IMG_TERMBASE].p + 4 * (rec >> IMG_BLOCK_SHIFT));
}

/* Records a lazy (query-time) error once. */
void img_lazy_fail(const struct mt_image *img, const struct kb_error *err);

/* ---- items ---- */

enum img_kind { IK_SYM, IK_VAR, IK_INT, IK_FLOAT, IK_STR, IK_EXPR, IK_REF };

struct img_item {
	enum img_kind kind;
	uint64_t v; /* symbol id, variable number, arity, reference target, string length */
	int64_t i;
	double f;
	const uint8_t *s;
};

/* Reads one item's code and payload (not an expression's elements) and
 * validates it: symbol ids < S, arity and lengths within the section,
 * references inside `terms` (and, read inside `terms`, below the record). */
int img_read_item(const struct mt_image *img, struct img_cur *c, uint32_t base,
		  struct img_item *it);

/* Skips `n` whole items (expressions with their elements). */
int img_skip_items(const struct mt_image *img, struct img_cur *c, uint32_t base, uint64_t n);

/* ---- symbols ---- */

int img_sym_record(const struct mt_image *img, uint32_t id, uint64_t *pos, struct kb_error *err);
/* Reads a symbol record's head (c at its start): name, flags; leaves c
 * after the name. */
int img_sym_head(struct img_cur *c, const char **name, size_t *len, unsigned *flags);
/* Skips the whole record of symbol id (c at its start). */
int img_sym_skip(const struct mt_image *img, struct img_cur *c, uint64_t id);
int img_sym_name(const struct mt_image *img, uint32_t id, const char **name, size_t *len,
		 struct kb_error *err);
/* Sets *id to the symbol's id, or UINT32_MAX when the image has no such
 * symbol. `hash` is XXH3_64bits(name, len). */
int img_sym_find(const struct mt_image *img, const char *name, size_t len, uint64_t hash,
		 uint32_t *id, struct kb_error *err);

/* ---- index runs ---- */

struct img_runs {
	int wild;      /* in section 'wild' rather than 'symtab' */
	uint64_t pos;  /* offset of the next run's varints */
	uint64_t rec;  /* record, for messages */
	uint64_t left; /* runs not yet read */
	uint64_t prev_end;
	int first;
	/* Where the listed entries live: the home (symbol id, or
	 * IMG_HOME_WILD) and the home position of the next run's first entry;
	 * hpos is UINT64_MAX when the list is not its entries' home (the atom
	 * group of (=, 3), which lists every rule). */
	uint32_t home;
	uint64_t hpos;
};

/* Finds the (kind, arity) group of symbol id. Sets *found to 0 when the
 * symbol has no such group. */
int img_runs_find(const struct mt_image *img, uint32_t id, int kind, uint64_t arity,
		  struct img_runs *runs, int *found, struct kb_error *err);
/* Opens run list `list` (IMG_W_*) of section 'wild'. */
int img_runs_wild(const struct mt_image *img, int list, struct img_runs *runs,
		  struct kb_error *err);
/* Next run [start, start + count), and the home position of its first
 * entry (UINT64_MAX if unknown, see struct img_runs); returns 1, 0 when
 * exhausted, -1 on error. */
int img_runs_next(const struct mt_image *img, struct img_runs *runs, uint64_t *start,
		  uint64_t *count, uint64_t *hpos, struct kb_error *err);

/* ---- entries ---- */

struct img_entry {
	enum img_sec sec; /* IMG_SYMTAB or IMG_WILD */
	uint64_t rec;     /* record offset in the section */
	uint64_t body;    /* offset of the first item */
	uint64_t end;     /* offset just past the record (set by img_entry_end) */
	uint64_t mult;    /* multiplicity */
	uint64_t names;   /* name list + 1, 0 for none */
	int rule;         /* rule shorthand: two items L, R */
	uint32_t base;
};

/* A home's entry list (docs/kb-image.md, "Homes"). */
struct img_home {
	enum img_sec sec; /* IMG_SYMTAB or IMG_WILD */
	uint64_t rec;     /* the symbol record or the home list, for messages */
	uint64_t n;       /* entries */
	uint64_t table;   /* offset of the u32 table of entries 16, 32, ... */
	uint64_t first;   /* offset of the first entry record */
	uint64_t end;     /* end of the home's bytes */
	uint32_t base;    /* symbol base of its entries */
};

/* Reads the header of the entry record starting at `rec` of section sec
 * (a home's entries, symbol base `base`). */
int img_entry_at(const struct mt_image *img, enum img_sec sec, uint64_t rec, uint32_t base,
		 struct img_entry *e, struct kb_error *err);
/* Locates home `home` (a symbol id or IMG_HOME_WILD). */
int img_home_find(const struct mt_image *img, uint32_t home, struct img_home *h,
		  struct kb_error *err);
/* Locates the entry at position pos of a home (its table, then at most 15
 * records skipped). */
int img_home_entry(const struct mt_image *img, const struct img_home *h, uint64_t pos,
		   struct img_entry *e, struct kb_error *err);

/* A position in section 'order': run k starts at byte pos and covers
 * entries [first, first + count), home positions [hpos, hpos + count). */
struct img_orun {
	uint64_t k, pos, next; /* run number, its offset, the next run's offset */
	uint64_t first, count, hpos;
	uint32_t home;
};

/* The order run holding entry n (ordidx, then at most 15 runs read). */
int img_order_find(const struct mt_image *img, uint64_t n, struct img_orun *r,
		   struct kb_error *err);
/* Reads the run at r->next (run r->k + 1) into r. */
int img_order_next(const struct mt_image *img, struct img_orun *r, struct kb_error *err);
/* Locates entry number n: its order run, then its home. */
int img_entry_find(const struct mt_image *img, uint64_t n, struct img_entry *e,
		   struct kb_error *err);
/* Sets e->end by skipping the record's items. */
int img_entry_end(const struct mt_image *img, struct img_entry *e, struct kb_error *err);

/* Index classes of an entry (docs/kb-image.md, "Indexes"). */
enum img_class {
	IC_NONE,  /* rule class of an entry that is not a rule */
	IC_SYM,   /* head symbol and arity */
	IC_OTHER, /* a ground head that is not a symbol */
	IC_WILD,  /* a head that is not ground */
};

struct img_keys {
	enum img_class rule, atom;
	uint32_t rule_sym, atom_sym;
	uint64_t rule_arity, atom_arity;
};
/* How a run of items numbers its variables (docs/kb-image.md, "Variable
 * names"). Read from a state m where variables 0..m-1 have occurred, the
 * run is in first-occurrence order exactly when m >= need, and leaves the
 * state at max(m, end). A variable n is the run need n, end n+1; runs
 * compose item by item, so a shared record's summary serves every entry
 * that refers to it, and an entry is numbered right when its need is 0. */
struct img_vars {
	uint32_t need, end;
};

static inline void img_vars_add(struct img_vars *s, uint32_t need, uint32_t end)
{
	if (need > s->end && need > s->need)
		s->need = need;
	if (end > s->end)
		s->end = end;
}

/* ground_refs has bit r set for each shared record at offset r of 'terms'
 * that holds no variable (verify works it out once, in 'terms' order). */
int img_entry_keys(const struct mt_image *img, const struct img_entry *e,
		   const uint8_t *ground_refs, struct img_keys *k, struct kb_error *err);

/* Reads name list `list` (0-based) into ids (at most cap; *count is the
 * real count). */
int img_name_list(const struct mt_image *img, uint64_t list, uint32_t *ids, uint32_t cap,
		  uint32_t *count, struct kb_error *err);

/* ---- decoding into a term store ---- */

struct img_dframe;
struct img_memo {
	mt_term t;
	struct img_vars vars;
};

struct img_decoder {
	const struct mt_image *img;
	struct mt_store *store;
	struct img_dframe *frames;
	size_t nframes, frames_cap;
	mt_term *args;
	size_t nargs, args_cap;
	/* memo: shared record offset + 1 -> persistent term and how the
	 * record numbers its variables */
	uint64_t *memo_keys;
	struct img_memo *memo_vals;
	size_t memo_count, memo_mask;
};

void img_decoder_init(struct img_decoder *d, const struct mt_image *img, struct mt_store *store);
void img_decoder_free(struct img_decoder *d);
/* Decodes the atom of an entry into a persistent term of the store. */
int img_decode_entry(struct img_decoder *d, const struct img_entry *e, mt_term *atom,
		     struct kb_error *err);

#endif
