/* image: the knowledge-base image, a file the core maps with mmap and
 * queries in place (module prefix mt_image_). The format is specified in
 * docs/kb-image.md.
 *
 * Writing: mt_image_write() writes the atoms of any space (in memory, or
 * an image with an overlay) atomically, optionally zstd-compressed.
 *
 * Reading: mt_image_open() maps a file and checks its header and section
 * table (constant work, whatever the size of the KB). mt_image_kb_open()
 * then gives a term store whose symbols are the image's (ids 0..S-1, names
 * read from the mapping) and a space whose atoms are the image's, found
 * through the on-disk index and decoded on demand; atoms added or removed
 * afterwards live in an in-memory overlay. mt_image_verify() checks the
 * whole file (structure and checksums).
 *
 * Errors: open and verify return -1 with an error naming the file, the
 * section and the offset. Queries go through space.h, which has no error
 * return: a damaged record met while answering one is skipped, and the
 * first such error is kept for mt_image_kb_status().
 *
 * Ownership: struct mt_image owns its mapping; struct mt_image_kb owns the
 * image, the store and the space and frees them in the right order in
 * mt_image_kb_close(). */
#ifndef MT_IMAGE_H
#define MT_IMAGE_H

#include "core/space.h"
#include "core/term.h"
#include "util/kb_error.h"

#include <stddef.h>
#include <stdint.h>

struct mt_image;

enum mt_image_load {
	MT_IMAGE_LAZY = 0,     /* pages fault in on use (madvise RANDOM) */
	MT_IMAGE_POPULATE = 1, /* MAP_POPULATE and madvise WILLNEED */
};

#define MT_IMAGE_SECTIONS 9

/* ---- writing ---- */

struct mt_image_write_opts {
	int zstd;       /* write the zstd-compressed form */
	int zstd_level; /* 0: the default, 9 (19 is ~11% smaller, ~25x slower) */
};

struct mt_image_write_stats {
	uint64_t image_bytes; /* the image, uncompressed */
	uint64_t file_bytes;  /* what was written (compressed size with zstd) */
	uint64_t section_bytes[MT_IMAGE_SECTIONS];
	uint64_t entries, atoms, rules, symbols, shared, name_lists;
};

/* Builds the image of a space in memory: *bytes is malloc'd, the caller
 * frees it. */
int mt_image_build(const struct mt_space *space, uint8_t **bytes, size_t *len,
		   struct mt_image_write_stats *stats, struct kb_error *err);

/* Writes the image of a space to path: a temporary file in the same
 * directory, fsync, rename, fsync of the directory. On failure the target
 * is untouched and no temporary file is left. opts and stats may be NULL. */
int mt_image_write(const struct mt_space *space, const char *path,
		   const struct mt_image_write_opts *opts, struct mt_image_write_stats *stats,
		   struct kb_error *err);

/* ---- opening ---- */

/* Maps an image (a .zst frame is expanded into anonymous memory first). */
int mt_image_open(const char *path, enum mt_image_load load, struct mt_image **out,
		  struct kb_error *err);
/* Opens an image held in memory; the bytes are borrowed and must outlive
 * the image. A zstd frame is expanded (into memory the image owns). */
int mt_image_open_mem(const void *bytes, size_t len, const char *name, struct mt_image **out,
		      struct kb_error *err);
void mt_image_close(struct mt_image *img);

struct mt_image_section_info {
	const char *name;
	uint64_t offset, size, checksum;
};

struct mt_image_info {
	uint32_t version;
	uint64_t file_size;
	uint64_t entries, atoms, rules, symbols, name_lists, shared;
	uint64_t hashed;     /* symbol ids from here on are in name-hash order */
	uint64_t order_runs; /* runs of section 'order' */
	int compressed;
	uint64_t compressed_size;
	struct mt_image_section_info sections[MT_IMAGE_SECTIONS];
};

void mt_image_get_info(const struct mt_image *img, struct mt_image_info *info);

/* The mapped bytes (for page-residency measurements). */
const void *mt_image_bytes(const struct mt_image *img, size_t *len);

/* Checks the whole image: every checksum, every record, every reference,
 * the symbol order, the homes, the order runs and the index against the
 * entries. */
int mt_image_verify(const struct mt_image *img, struct kb_error *err);

/* ---- querying in place ---- */

struct mt_image_kb {
	struct mt_image *image;
	struct mt_store *store;
	struct mt_space *space;
};

/* Opens path (an image, or its .zst form) for querying. */
int mt_image_kb_open(const char *path, enum mt_image_load load, struct mt_image_kb *kb,
		     struct kb_error *err);
/* Same over an already opened image; takes ownership of it (closed on
 * failure too). */
int mt_image_kb_attach(struct mt_image *img, struct mt_image_kb *kb, struct kb_error *err);
void mt_image_kb_close(struct mt_image_kb *kb);

/* 0 if every on-demand read so far succeeded, else -1 with the first
 * error. */
int mt_image_kb_status(const struct mt_image_kb *kb, struct kb_error *err);

#endif
