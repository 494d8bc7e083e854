/* image_read: opening a .kbi image and reading it in place
 * (docs/kb-image.md). Open maps the file and checks the header and section
 * table only: constant work. Everything else reads the mapping on demand,
 * bounds-checking every byte, sampled offset, id, run and reference before
 * use.
 *
 * Owner: struct mt_image owns its mapping; a struct img_decoder owns its
 * explicit stacks and memo table (img_decoder_free). */
#include "core/image_impl.h"
#include "kbprof/probe.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Implemented in image_zstd.c. */
int img_zstd_is_frame(const uint8_t *p, size_t len);
int img_zstd_expand(const uint8_t *src, size_t len, const char *name, uint8_t **out,
		    size_t *out_len, struct kb_error *err);

#define IMG_MAX_DEPTH (1u << 22)

static const char *const wellknown_names[MT_S__COUNT] = {
#define MT_WK_NAME(name, text) text,
    MT_WELLKNOWN(MT_WK_NAME)
#undef MT_WK_NAME
};

void img_lazy_fail(const struct mt_image *img, const struct kb_error *err)
{
	struct mt_image *m = (struct mt_image *)img; /* the error slot is mutable state */
	if (m->lazy_failed)
		return;
	m->lazy_failed = 1;
	snprintf(m->lazy_err.msg, sizeof m->lazy_err.msg, "%s", err->msg);
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

/* ---- header and section table ---- */

static int check_sections(struct mt_image *img, const uint8_t *h, uint32_t count,
			  uint32_t header_size, struct kb_error *err)
{
	const char *f = img->file;
	int seen[IMG_NSEC] = {0};
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = h + IMG_HEADER_FIXED + (size_t)i * IMG_SECTION_ENTRY;
		uint32_t id = img_le32(e);
		uint64_t off = img_le64(e + 8), size = img_le64(e + 16);
		if (id < 1 || id > IMG_NSEC)
			return kb_error_set(
			    err, "%s: section table entry %u: unknown section id %u", f, i, id);
		const char *name = img_sec_names[id - 1];
		if (seen[id - 1])
			return kb_error_set(
			    err, "%s: section '%s' appears twice in the section table", f, name);
		seen[id - 1] = 1;
		if (img_le32(e + 4) != 0)
			return kb_error_set(err, "%s: section '%s': reserved field is not zero", f,
					    name);
		if (off % IMG_ALIGN || off < header_size)
			return kb_error_set(err,
					    "%s: section '%s' starts at offset %llu (must be a "
					    "multiple of %u past the header, %u bytes)",
					    f, name, (unsigned long long)off, IMG_ALIGN,
					    header_size);
		if (off > img->size || size > img->size - off)
			return kb_error_set(err,
					    "%s: section '%s' ends past end of file (offset %llu, "
					    "size %llu, file size %llu)",
					    f, name, (unsigned long long)off,
					    (unsigned long long)size,
					    (unsigned long long)img->size);
		img->sec[id - 1] =
		    (struct img_section){img->map + off, off, size, img_le64(e + 24)};
	}
	for (int i = 0; i < IMG_NSEC; i++)
		if (!seen[i])
			return kb_error_set(err, "%s: section '%s' is missing", f,
					    img_sec_names[i]);
	for (int i = 0; i < IMG_NSEC; i++)
		for (int j = i + 1; j < IMG_NSEC; j++) {
			const struct img_section *a = &img->sec[i], *b = &img->sec[j];
			if (a->size && b->size && a->off < b->off + b->size &&
			    b->off < a->off + a->size)
				return kb_error_set(err, "%s: sections '%s' and '%s' overlap", f,
						    img_sec_names[i], img_sec_names[j]);
		}
	return 0;
}

static int expect_size(const struct mt_image *img, enum img_sec s, uint64_t want, const char *why,
		       struct kb_error *err)
{
	if (img->sec[s].size != want)
		return kb_error_set(err, "%s: section '%s' is %llu bytes, expected %llu (%s)",
				    img->file, img_sec_names[s],
				    (unsigned long long)img->sec[s].size, (unsigned long long)want,
				    why);
	return 0;
}

static int check_tables(struct mt_image *img, struct kb_error *err)
{
	const char *f = img->file;
	uint64_t S = img->symbols, E = img->entries;
	static const enum img_sec u32_addressed[] = {IMG_SYMTAB, IMG_TERMS, IMG_ENTRIES, IMG_NAMES};
	for (size_t i = 0; i < sizeof u32_addressed / sizeof *u32_addressed; i++)
		if (img->sec[u32_addressed[i]].size > UINT32_MAX)
			return kb_error_set(err, "%s: section '%s' is %llu bytes (limit 4 GiB)", f,
					    img_sec_names[u32_addressed[i]],
					    (unsigned long long)img->sec[u32_addressed[i]].size);
	if (S < MT_S__COUNT || S > img->sec[IMG_SYMTAB].size || S > (1u << 29) - 2)
		return kb_error_set(err,
				    "%s: header: %llu symbols is impossible (section 'symtab' is "
				    "%llu bytes; at least %d well-known symbols)",
				    f, (unsigned long long)S,
				    (unsigned long long)img->sec[IMG_SYMTAB].size, MT_S__COUNT);
	if (E > img->sec[IMG_ENTRIES].size || E >= UINT32_MAX)
		return kb_error_set(err,
				    "%s: header: %llu entries is impossible (section 'entries' is "
				    "%llu bytes)",
				    f, (unsigned long long)E,
				    (unsigned long long)img->sec[IMG_ENTRIES].size);
	if (img->rules > E || img->atoms < E || (E == 0 && img->atoms != 0))
		return kb_error_set(err,
				    "%s: header: counts disagree (%llu entries, %llu atoms, %llu "
				    "rules)",
				    f, (unsigned long long)E, (unsigned long long)img->atoms,
				    (unsigned long long)img->rules);
	if (img->name_lists > img->sec[IMG_NAMES].size || img->name_lists > UINT32_MAX)
		return kb_error_set(err, "%s: header: %llu name lists is impossible", f,
				    (unsigned long long)img->name_lists);
	if (img->shared > img->sec[IMG_TERMS].size)
		return kb_error_set(err, "%s: header: %llu shared records is impossible", f,
				    (unsigned long long)img->shared);
	if (expect_size(img, IMG_SYMIDX, 8 * ceil_div(S, IMG_SAMPLE), "8 bytes per 16 symbols",
			err) ||
	    expect_size(img, IMG_ENTIDX, 4 * ceil_div(E, IMG_SAMPLE), "4 bytes per 16 entries",
			err) ||
	    expect_size(img, IMG_NAMEIDX, 4 * img->name_lists, "4 bytes per name list", err) ||
	    expect_size(img, IMG_TERMBASE,
			4 * ceil_div(img->sec[IMG_TERMS].size, 1u << IMG_BLOCK_SHIFT),
			"4 bytes per 256 bytes of 'terms'", err) ||
	    expect_size(img, IMG_ENTBASE,
			4 * ceil_div(img->sec[IMG_ENTRIES].size, 1u << IMG_BLOCK_SHIFT),
			"4 bytes per 256 bytes of 'entries'", err))
		return -1;
	if (img->sec[IMG_WILD].size < 4 * IMG_W_COUNT)
		return kb_error_set(err,
				    "%s: section 'wild' is %llu bytes (its offset table is %d)", f,
				    (unsigned long long)img->sec[IMG_WILD].size, 4 * IMG_W_COUNT);
	const struct img_section *h = &img->sec[IMG_SYMHASH];
	if (h->size < 16)
		return kb_error_set(err, "%s: section 'symhash' is %llu bytes (header is 16)", f,
				    (unsigned long long)h->size);
	img->slots = img_le64(h->p);
	img->width = h->p[8];
	img->id_bits = h->p[9];
	for (int i = 10; i < 16; i++)
		if (h->p[i])
			return kb_error_set(
			    err, "%s: section 'symhash': reserved byte %d is not zero", f, i);
	if (img->width < 1 || img->width > 4 || img->id_bits < 1 || img->id_bits > 8 * img->width ||
	    S >= (1ull << img->id_bits))
		return kb_error_set(err,
				    "%s: section 'symhash': slot width %u with %u id bits cannot "
				    "hold %llu symbols",
				    f, img->width, img->id_bits, (unsigned long long)S);
	if (img->slots <= S || img->slots > (h->size - 16) / img->width ||
	    16 + img->slots * img->width != h->size)
		return kb_error_set(err,
				    "%s: section 'symhash': %llu slots of %u bytes do not fit its "
				    "%llu bytes or cannot hold %llu symbols",
				    f, (unsigned long long)img->slots, img->width,
				    (unsigned long long)h->size, (unsigned long long)S);
	return 0;
}

static int check_wellknown(const struct mt_image *img, struct kb_error *err)
{
	for (uint32_t id = 0; id < MT_S__COUNT; id++) {
		const char *name;
		size_t len;
		if (img_sym_name(img, id, &name, &len, err))
			return -1;
		size_t want = strlen(wellknown_names[id]);
		if (len != want || memcmp(name, wellknown_names[id], len) != 0)
			return kb_error_set(
			    err,
			    "%s: section 'symtab': symbol %u is '%.*s', expected the "
			    "well-known '%s'",
			    img->file, id, (int)(len > 64 ? 64 : len), name, wellknown_names[id]);
	}
	return 0;
}

/* Checks header and section table of img->map / img->size (constant work). */
static int img_check(struct mt_image *img, struct kb_error *err)
{
	const char *f = img->file;
	const uint8_t *h = img->map;
	if (img->size < IMG_HEADER_FIXED)
		return kb_error_set(err, "%s: file is %zu bytes, shorter than the %u-byte header",
				    f, img->size, IMG_HEADER_FIXED);
	if (memcmp(h, IMG_MAGIC, IMG_MAGIC_LEN) != 0)
		return kb_error_set(err, "%s: not a kbprof image (bad magic)", f);
	uint32_t version = img_le32(h + IMG_H_VERSION);
	if (version != IMG_VERSION)
		return kb_error_set(err,
				    "%s: format version %u is not supported (this kbprof reads "
				    "version %u)",
				    f, version, IMG_VERSION);
	uint32_t bo = img_le32(h + IMG_H_BYTE_ORDER);
	if (bo != IMG_BYTE_ORDER)
		return kb_error_set(err, "%s: header: byte-order mark 0x%08x, expected 0x%08x", f,
				    bo, IMG_BYTE_ORDER);
	uint32_t header_size = img_le32(h + IMG_H_HEADER_SIZE);
	uint32_t count = img_le32(h + IMG_H_SECTION_COUNT);
	if (count != IMG_NSEC || header_size != IMG_HEADER_FIXED + count * IMG_SECTION_ENTRY)
		return kb_error_set(err,
				    "%s: header: %u sections in a %u-byte header (version 3 has "
				    "%u sections, %u bytes)",
				    f, count, header_size, IMG_NSEC,
				    IMG_HEADER_FIXED + IMG_NSEC * IMG_SECTION_ENTRY);
	if (header_size > img->size)
		return kb_error_set(err, "%s: header (%u bytes) runs past end of file (%zu bytes)",
				    f, header_size, img->size);
	uint64_t file_size = img_le64(h + IMG_H_FILE_SIZE);
	if (file_size != img->size)
		return kb_error_set(err,
				    "%s: header says %llu bytes but the file has %zu (truncated?)",
				    f, (unsigned long long)file_size, img->size);
	uint8_t copy[IMG_HEADER_FIXED + IMG_NSEC * IMG_SECTION_ENTRY];
	memcpy(copy, h, header_size);
	memset(copy + IMG_H_CHECKSUM, 0, 8);
	uint64_t want = img_le64(h + IMG_H_CHECKSUM), got = XXH3_64bits(copy, header_size);
	if (want != got)
		return kb_error_set(
		    err, "%s: header checksum mismatch (stored %016llx, computed %016llx)", f,
		    (unsigned long long)want, (unsigned long long)got);
	img->entries = img_le64(h + IMG_H_ENTRIES);
	img->atoms = img_le64(h + IMG_H_ATOMS);
	img->rules = img_le64(h + IMG_H_RULES);
	img->symbols = img_le64(h + IMG_H_SYMBOLS);
	img->name_lists = img_le64(h + IMG_H_NAME_LISTS);
	img->shared = img_le64(h + IMG_H_SHARED);
	uint64_t k = img_le64(h + IMG_H_WELLKNOWN);
	if (k != MT_S__COUNT)
		return kb_error_set(
		    err,
		    "%s: header: the image was written with %llu well-known symbols, "
		    "this kbprof has %d (rebuild the image with this kbprof)",
		    f, (unsigned long long)k, MT_S__COUNT);
	for (int i = 88; i < IMG_H_CHECKSUM; i++)
		if (h[i])
			return kb_error_set(err, "%s: header: reserved byte %d is not zero", f, i);
	if (check_sections(img, h, count, header_size, err) || check_tables(img, err) ||
	    check_wellknown(img, err))
		return -1;
	return 0;
}

static struct mt_image *img_alloc(const char *name)
{
	struct mt_image *img = calloc(1, sizeof *img);
	if (img)
		snprintf(img->file, sizeof img->file, "%s", name ? name : "<image>");
	return img;
}

void mt_image_close(struct mt_image *img)
{
	if (!img)
		return;
	if (img->mapped && img->map)
		munmap((void *)img->map, img->size);
	free(img);
}

/* Takes a zstd frame, expands it, and makes the result the image's bytes. */
static int adopt_expanded(struct mt_image *img, const uint8_t *src, size_t len,
			  struct kb_error *err)
{
	uint8_t *out;
	size_t out_len;
	if (img_zstd_expand(src, len, img->file, &out, &out_len, err))
		return -1;
	img->map = out;
	img->size = out_len;
	img->mapped = 1;
	img->compressed = 1;
	img->compressed_size = len;
	return 0;
}

int mt_image_open(const char *path, enum mt_image_load load, struct mt_image **out,
		  struct kb_error *err)
{
	KBPROF_REGION_BEGIN("image_open");
	int rc = -1;
	struct mt_image *img = img_alloc(path);
	int fd = -1;
	if (!img) {
		kb_error_set(err, "%s: out of memory", path);
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		kb_error_set(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		kb_error_set(err, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size < IMG_HEADER_FIXED) {
		kb_error_set(err, "%s: file is %lld bytes, shorter than the %u-byte header", path,
			     (long long)st.st_size, IMG_HEADER_FIXED);
		goto out;
	}
	int flags = MAP_SHARED | (load == MT_IMAGE_POPULATE ? MAP_POPULATE : 0);
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, flags, fd, 0);
	if (map == MAP_FAILED) {
		kb_error_set(err, "%s: mmap: %s", path, strerror(errno));
		goto out;
	}
	img->map = map;
	img->size = (size_t)st.st_size;
	img->mapped = 1;
	/* Before the first read of the mapping: the fault that reads the
	 * header would otherwise start the file's readahead window (8 MB on
	 * the project machine) and, through fault-around, map its pages. A
	 * small image is read ahead whole: a few large reads instead of one
	 * per page, and at most IMG_READAHEAD_MAX bytes of memory. */
	if (load == MT_IMAGE_POPULATE)
		madvise(map, img->size, MADV_WILLNEED);
	else if (img->size > IMG_READAHEAD_MAX)
		madvise(map, img->size, MADV_RANDOM);
	if (img_zstd_is_frame(img->map, img->size)) {
		const uint8_t *z = img->map;
		size_t zlen = img->size;
		img->map = NULL;
		img->mapped = 0;
		int r = adopt_expanded(img, z, zlen, err);
		munmap((void *)z, zlen);
		if (r)
			goto out;
	}
	if (img_check(img, err))
		goto out;
	*out = img;
	img = NULL;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	mt_image_close(img);
	KBPROF_REGION_END("image_open");
	return rc;
}

int mt_image_open_mem(const void *bytes, size_t len, const char *name, struct mt_image **out,
		      struct kb_error *err)
{
	struct mt_image *img = img_alloc(name);
	if (!img)
		return kb_error_set(err, "%s: out of memory", name ? name : "<image>");
	if (img_zstd_is_frame(bytes, len)) {
		if (adopt_expanded(img, bytes, len, err)) {
			mt_image_close(img);
			return -1;
		}
	} else {
		img->map = bytes;
		img->size = len;
	}
	if (img_check(img, err)) {
		mt_image_close(img);
		return -1;
	}
	*out = img;
	return 0;
}

void mt_image_get_info(const struct mt_image *img, struct mt_image_info *info)
{
	memset(info, 0, sizeof *info);
	info->version = img_le32(img->map + IMG_H_VERSION);
	info->file_size = img->size;
	info->entries = img->entries;
	info->atoms = img->atoms;
	info->rules = img->rules;
	info->symbols = img->symbols;
	info->name_lists = img->name_lists;
	info->shared = img->shared;
	info->hash_slots = img->slots;
	info->hash_width = img->width;
	info->compressed = img->compressed;
	info->compressed_size = img->compressed_size;
	for (int i = 0; i < IMG_NSEC; i++)
		info->sections[i] = (struct mt_image_section_info){
		    img_sec_names[i], img->sec[i].off, img->sec[i].size, img->sec[i].sum};
}

const void *mt_image_bytes(const struct mt_image *img, size_t *len)
{
	*len = img->size;
	return img->map;
}

/* ---- items ---- */

int img_read_item(const struct mt_image *img, struct img_cur *c, uint32_t base, struct img_item *it)
{
	uint64_t at = c->pos, v;
	uint8_t code, b;
	if (img_u8(c, &code))
		return -1;
	if (code < IMG_C_SYMD) {
		it->kind = IK_SYM;
		it->v = code;
	} else if (code < IMG_C_VAR) {
		it->kind = IK_SYM;
		it->v = (uint64_t)base + (uint64_t)img_unzigzag(code - IMG_C_SYMD);
	} else if (code < IMG_C_EXPR) {
		it->kind = IK_VAR;
		it->v = code - IMG_C_VAR;
	} else if (code < IMG_C_INT) {
		it->kind = IK_EXPR;
		it->v = code - IMG_C_EXPR;
	} else if (code < IMG_C_SYMD2) {
		it->kind = IK_INT;
		it->i = code - IMG_C_INT;
	} else if (code < IMG_C_REF) {
		if (img_u8(c, &b))
			return -1;
		it->kind = IK_SYM;
		it->v = (uint64_t)base +
			(uint64_t)img_unzigzag((uint64_t)(code - IMG_C_SYMD2) << 8 | b);
	} else if (code < IMG_C_SYMA) {
		if (img_varint(c, &v))
			return -1;
		if (v > (UINT64_MAX >> 4))
			return img_fail(c, "reference at offset %llu overflows",
					(unsigned long long)at);
		it->kind = IK_REF;
		it->v = v << 4 | (uint64_t)(code - IMG_C_REF);
		uint64_t tsize = img->sec[IMG_TERMS].size;
		if (it->v >= tsize)
			return img_fail(c,
					"reference at offset %llu to offset %llu past end of "
					"section 'terms' (size %llu)",
					(unsigned long long)at, (unsigned long long)it->v,
					(unsigned long long)tsize);
		if (c->p == img->sec[IMG_TERMS].p && it->v >= c->rec)
			return img_fail(c,
					"reference at offset %llu to offset %llu does not point "
					"backwards",
					(unsigned long long)at, (unsigned long long)it->v);
	} else if (code < IMG_C_EXPRN) {
		if (img_varint(c, &v))
			return -1;
		if (v > (UINT64_MAX >> 4))
			return img_fail(c, "symbol id at offset %llu overflows",
					(unsigned long long)at);
		it->kind = IK_SYM;
		it->v = v << 4 | (uint64_t)(code - IMG_C_SYMA);
	} else if (code == IMG_C_EXPRN) {
		if (img_varint(c, &it->v))
			return -1;
		it->kind = IK_EXPR;
	} else if (code == IMG_C_VARN) {
		if (img_varint(c, &it->v))
			return -1;
		if (it->v > MT_VAR_MAX)
			return img_fail(c, "variable number %llu at offset %llu exceeds %u",
					(unsigned long long)it->v, (unsigned long long)at,
					MT_VAR_MAX);
		it->kind = IK_VAR;
	} else if (code == IMG_C_INTN) {
		if (img_varint(c, &v))
			return -1;
		it->kind = IK_INT;
		it->i = img_unzigzag(v);
	} else if (code == IMG_C_FLOAT) {
		if (c->end - c->pos < 8)
			return img_fail(c,
					"float at offset %llu runs past end of section (size %llu)",
					(unsigned long long)at, (unsigned long long)c->end);
		uint64_t bits = img_le64(c->p + c->pos);
		c->pos += 8;
		memcpy(&it->f, &bits, sizeof it->f);
		it->kind = IK_FLOAT;
	} else if (code == IMG_C_STR) {
		if (img_varint(c, &it->v))
			return -1;
		it->s = c->p + c->pos;
		if (img_skip(c, it->v, "string"))
			return -1;
		it->kind = IK_STR;
	} else {
		return img_fail(c, "invalid item code 0x%02x at offset %llu", code,
				(unsigned long long)at);
	}
	if (it->kind == IK_SYM && it->v >= img->symbols)
		return img_fail(c, "symbol item at offset %llu gives id %lld outside 0..%llu",
				(unsigned long long)at, (long long)it->v,
				(unsigned long long)img->symbols - 1);
	if (it->kind == IK_EXPR && (it->v > MT_HDR_ARITY_MASK || it->v > c->end - c->pos))
		return img_fail(c,
				"expression at offset %llu has arity %llu, more than the %llu "
				"bytes left in the section",
				(unsigned long long)at, (unsigned long long)it->v,
				(unsigned long long)(c->end - c->pos));
	return 0;
}

int img_skip_items(const struct mt_image *img, struct img_cur *c, uint32_t base, uint64_t n)
{
	struct img_item it;
	while (n) {
		if (img_read_item(img, c, base, &it))
			return -1;
		n--;
		if (it.kind == IK_EXPR) {
			if (it.v > c->end - c->pos)
				return img_fail(c, "expression elements run past end of section");
			n += it.v;
		}
	}
	return 0;
}

/* ---- symbols ---- */

static int skip_groups(struct img_cur *c)
{
	for (;;) {
		uint64_t g, v, n = 1;
		if (img_varint(c, &g))
			return -1;
		if (g & 2) {
			if (img_varint(c, &n))
				return -1;
			if (n > (c->end - c->pos) / 2)
				return img_fail(c, "index group claims %llu runs, more than fit",
						(unsigned long long)n + 2);
			n += 2;
		}
		for (uint64_t i = 0; i < 2 * n; i++)
			if (img_varint(c, &v))
				return -1;
		if (!(g & 1))
			return 0;
	}
}

/* Reads a symbol record's first varint and name; leaves c after the name. */
static int read_sym_head(struct img_cur *c, const char **name, size_t *len, int *has_index)
{
	uint64_t v;
	if (img_varint(c, &v))
		return -1;
	const uint8_t *p = c->p + c->pos;
	if (img_skip(c, v >> 1, "symbol name"))
		return -1;
	*name = (const char *)p;
	*len = (size_t)(v >> 1);
	*has_index = (int)(v & 1);
	return 0;
}

int img_sym_record(const struct mt_image *img, uint32_t id, uint64_t *pos, struct kb_error *err)
{
	if (id >= img->symbols)
		return kb_error_set(err, "%s: symbol id %u outside 0..%llu", img->file, id,
				    (unsigned long long)img->symbols - 1);
	uint64_t k = id >> IMG_SAMPLE_SHIFT;
	uint64_t off = img_le32(img->sec[IMG_SYMIDX].p + 8 * k);
	struct img_cur c = img_cursor(img, IMG_SYMTAB, off, off, err);
	if (off >= c.end) {
		struct img_cur ic = img_cursor(img, IMG_SYMIDX, 8 * k, 8 * k, err);
		return img_fail(
		    &ic, "symbol record offset %llu past end of section 'symtab' (size %llu)",
		    (unsigned long long)off, (unsigned long long)c.end);
	}
	for (uint32_t i = 0; i < (id & (IMG_SAMPLE - 1)); i++) {
		const char *name;
		size_t len;
		int has_index;
		c.rec = c.pos;
		if (read_sym_head(&c, &name, &len, &has_index) || (has_index && skip_groups(&c)))
			return -1;
	}
	if (c.pos >= c.end) {
		c.rec = c.pos;
		return img_fail(&c, "record of symbol %u starts past end of section", id);
	}
	*pos = c.pos;
	return 0;
}

int img_sym_name(const struct mt_image *img, uint32_t id, const char **name, size_t *len,
		 struct kb_error *err)
{
	uint64_t pos;
	int has_index;
	if (img_sym_record(img, id, &pos, err))
		return -1;
	struct img_cur c = img_cursor(img, IMG_SYMTAB, pos, pos, err);
	return read_sym_head(&c, name, len, &has_index);
}

int img_sym_find(const struct mt_image *img, const char *name, size_t len, uint64_t hash,
		 uint32_t *id, struct kb_error *err)
{
	const uint8_t *slots = img->sec[IMG_SYMHASH].p + 16;
	unsigned tag_bits = 8 * img->width - img->id_bits;
	uint64_t id_mask = (1ull << img->id_bits) - 1;
	uint64_t tag = tag_bits ? hash & ((1ull << tag_bits) - 1) : 0;
	uint64_t i = (uint64_t)(((unsigned __int128)hash * img->slots) >> 64);
	for (uint64_t probes = 0; probes < img->slots; probes++) {
		uint64_t v = img_leN(slots + i * img->width, img->width);
		if (v == 0) {
			*id = UINT32_MAX;
			return 0;
		}
		uint64_t idp1 = v & id_mask;
		if (idp1 == 0 || idp1 > img->symbols) {
			struct img_cur c = img_cursor(img, IMG_SYMHASH, 16 + i * img->width,
						      16 + i * img->width, err);
			return img_fail(&c, "slot %llu holds symbol id %lld outside 0..%llu",
					(unsigned long long)i, (long long)idp1 - 1,
					(unsigned long long)img->symbols - 1);
		}
		if ((v >> img->id_bits) == tag) {
			const char *n;
			size_t l;
			if (img_sym_name(img, (uint32_t)(idp1 - 1), &n, &l, err))
				return -1;
			if (l == len && memcmp(n, name, len) == 0) {
				*id = (uint32_t)(idp1 - 1);
				return 0;
			}
		}
		if (++i == img->slots)
			i = 0;
	}
	*id = UINT32_MAX;
	return 0;
}

/* ---- index runs ---- */

int img_runs_find(const struct mt_image *img, uint32_t id, int kind, uint64_t arity,
		  struct img_runs *runs, int *found, struct kb_error *err)
{
	uint64_t pos;
	const char *name;
	size_t len;
	int has_index;
	*found = 0;
	if (img_sym_record(img, id, &pos, err))
		return -1;
	struct img_cur c = img_cursor(img, IMG_SYMTAB, pos, pos, err);
	if (read_sym_head(&c, &name, &len, &has_index))
		return -1;
	if (!has_index)
		return 0;
	for (;;) {
		uint64_t g, n = 0, v;
		if (img_varint(&c, &g))
			return -1;
		if (g & 2) {
			if (img_varint(&c, &n))
				return -1;
			if (n > (c.end - c.pos) / 2)
				return img_fail(&c, "index group claims %llu runs, more than fit",
						(unsigned long long)n + 2);
			n += 2;
		} else {
			n = 1;
		}
		if ((uint64_t)((g >> 2) & 1) == (uint64_t)kind && (g >> 3) == arity) {
			runs->wild = 0;
			runs->pos = c.pos;
			runs->rec = pos;
			runs->left = n;
			runs->prev_end = 0;
			runs->first = 1;
			runs->base =
			    img_le32(img->sec[IMG_SYMIDX].p + 8 * (id >> IMG_SAMPLE_SHIFT) + 4);
			*found = 1;
			return 0;
		}
		for (uint64_t i = 0; i < 2 * n; i++)
			if (img_varint(&c, &v))
				return -1;
		if (!(g & 1))
			return 0;
	}
}

int img_runs_wild(const struct mt_image *img, int list, struct img_runs *runs, struct kb_error *err)
{
	uint64_t off = img_le32(img->sec[IMG_WILD].p + 4 * list);
	struct img_cur c = img_cursor(img, IMG_WILD, off, off, err);
	uint64_t n;
	if (img_varint(&c, &n))
		return -1;
	if (n > (c.end - c.pos) / 2)
		return img_fail(&c, "run list %d claims %llu runs, more than fit", list,
				(unsigned long long)n);
	*runs = (struct img_runs){
	    .wild = 1, .pos = c.pos, .rec = off, .left = n, .prev_end = 0, .base = 0, .first = 1};
	return 0;
}

int img_runs_next(const struct mt_image *img, struct img_runs *runs, uint64_t *start,
		  uint64_t *count, struct kb_error *err)
{
	if (!runs->left)
		return 0;
	struct img_cur c =
	    img_cursor(img, runs->wild ? IMG_WILD : IMG_SYMTAB, runs->pos, runs->rec, err);
	uint64_t a, b, s;
	if (img_varint(&c, &a) || img_varint(&c, &b))
		return -1;
	if (runs->first) {
		s = (uint64_t)runs->base + a;
		if (s < a)
			goto overflow;
	} else {
		s = runs->prev_end + a + 1;
		if (s <= runs->prev_end)
			goto overflow;
	}
	if (s >= img->entries || b >= img->entries - s)
		return img_fail(&c, "index run [%llu, +%llu] outside entries 0..%llu",
				(unsigned long long)s, (unsigned long long)b + 1,
				(unsigned long long)img->entries - 1);
	runs->first = 0;
	runs->prev_end = s + b + 1;
	runs->pos = c.pos;
	runs->left--;
	*start = s;
	*count = b + 1;
	return 1;
overflow:
	return img_fail(&c, "index run start overflows");
}

/* ---- entries ---- */

int img_entry_at(const struct mt_image *img, uint64_t rec, struct img_entry *e,
		 struct kb_error *err)
{
	struct img_cur c = img_cursor(img, IMG_ENTRIES, rec, rec, err);
	uint8_t h;
	uint64_t v;
	if (rec >= c.end)
		return img_fail(&c, "entry record starts past end of section (size %llu)",
				(unsigned long long)c.end);
	if (img_u8(&c, &h))
		return -1;
	e->rec = rec;
	e->rule = (h & IMG_E_RULE) != 0;
	e->mult = 1;
	if (h & IMG_E_MULT) {
		if (img_varint(&c, &v))
			return -1;
		if (v > UINT32_MAX - 2)
			return img_fail(&c, "multiplicity %llu exceeds %u",
					(unsigned long long)v + 2, UINT32_MAX);
		e->mult = v + 2;
	}
	uint64_t n = h & IMG_E_NAMES;
	if (n == IMG_E_NAMES) {
		if (img_varint(&c, &v))
			return -1;
		if (v > UINT64_MAX - IMG_NAMES_INLINE - 1)
			return img_fail(&c, "name list index overflows");
		n = IMG_NAMES_INLINE + v + 1;
	}
	if (n > img->name_lists)
		return img_fail(&c, "name list %llu outside 0..%lld", (unsigned long long)n - 1,
				(long long)img->name_lists - 1);
	e->names = n;
	e->body = c.pos;
	e->end = 0;
	e->base = img_record_base(img, IMG_ENTRIES, rec);
	return 0;
}

int img_entry_end(const struct mt_image *img, struct img_entry *e, struct kb_error *err)
{
	struct img_cur c = img_cursor(img, IMG_ENTRIES, e->body, e->rec, err);
	if (img_skip_items(img, &c, e->base, e->rule ? 2 : 1))
		return -1;
	e->end = c.pos;
	return 0;
}

int img_entry_find(const struct mt_image *img, uint64_t n, struct img_entry *e,
		   struct kb_error *err)
{
	if (n >= img->entries)
		return kb_error_set(err, "%s: entry %llu outside 0..%lld", img->file,
				    (unsigned long long)n, (long long)img->entries - 1);
	uint64_t k = n >> IMG_SAMPLE_SHIFT;
	uint64_t off = img_le32(img->sec[IMG_ENTIDX].p + 4 * k);
	if (off >= img->sec[IMG_ENTRIES].size) {
		struct img_cur ic = img_cursor(img, IMG_ENTIDX, 4 * k, 4 * k, err);
		return img_fail(
		    &ic, "entry record offset %llu past end of section 'entries' (size %llu)",
		    (unsigned long long)off, (unsigned long long)img->sec[IMG_ENTRIES].size);
	}
	for (uint64_t i = 0; i < (n & (IMG_SAMPLE - 1)); i++) {
		if (img_entry_at(img, off, e, err) || img_entry_end(img, e, err))
			return -1;
		off = e->end;
	}
	return img_entry_at(img, off, e, err);
}

/* Reads the item at c, following references to shared records; leaves c
 * (and *base) positioned after the resolved item's code and payload. */
static int resolve_item(const struct mt_image *img, struct img_cur *c, uint32_t *base,
			struct img_item *it)
{
	if (img_read_item(img, c, *base, it))
		return -1;
	while (it->kind == IK_REF) {
		uint64_t t = it->v;
		*c = img_cursor(img, IMG_TERMS, t, t, c->err);
		*base = img_record_base(img, IMG_TERMS, t);
		if (img_read_item(img, c, *base, it))
			return -1;
	}
	return 0;
}

/* Whether the item at c (references followed) holds no variable. */
static int item_ground(const struct mt_image *img, struct img_cur c, uint32_t base, int *ground)
{
	struct saved {
		struct img_cur c;
		uint32_t base;
		uint64_t owed;
	};
	struct saved *stack = NULL;
	size_t n = 0, cap = 0;
	uint64_t owed = 1;
	struct img_item it;
	int rc = -1;
	*ground = 1;
	for (;;) {
		while (owed == 0 && n > 0) {
			n--;
			c = stack[n].c;
			base = stack[n].base;
			owed = stack[n].owed;
		}
		if (owed == 0)
			break;
		if (img_read_item(img, &c, base, &it))
			goto out;
		owed--;
		if (it.kind == IK_VAR) {
			*ground = 0;
			break;
		}
		if (it.kind == IK_EXPR) {
			owed += it.v;
		} else if (it.kind == IK_REF) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct saved *p = realloc(stack, ncap * sizeof *p);
				if (!p) {
					img_fail(&c, "out of memory");
					goto out;
				}
				stack = p;
				cap = ncap;
			}
			stack[n++] = (struct saved){c, base, owed};
			uint64_t t = it.v;
			c = img_cursor(img, IMG_TERMS, t, t, c.err);
			base = img_record_base(img, IMG_TERMS, t);
			owed = 1;
		}
	}
	rc = 0;
out:
	free(stack);
	return rc;
}

/* Class of the term at c (see struct img_keys); leaves c after the term's
 * head when the term is an expression. */
static int term_class(const struct mt_image *img, struct img_cur *c, uint32_t *base,
		      enum img_class *cls, uint32_t *sym, uint64_t *arity)
{
	struct img_item it;
	if (resolve_item(img, c, base, &it))
		return -1;
	*sym = 0;
	*arity = 0;
	switch (it.kind) {
	case IK_SYM:
		*cls = IC_SYM;
		*sym = (uint32_t)it.v;
		return 0;
	case IK_VAR:
		*cls = IC_WILD;
		return 0;
	case IK_EXPR:
		break;
	default:
		*cls = IC_OTHER;
		return 0;
	}
	if (it.v == 0) {
		*cls = IC_OTHER;
		return 0;
	}
	uint64_t n = it.v;
	struct img_cur head = *c;
	uint32_t head_base = *base;
	if (resolve_item(img, c, base, &it))
		return -1;
	if (it.kind == IK_SYM) {
		*cls = IC_SYM;
		*sym = (uint32_t)it.v;
		*arity = n;
	} else if (it.kind == IK_VAR) {
		*cls = IC_WILD;
	} else if (it.kind == IK_EXPR) {
		int ground;
		if (item_ground(img, head, head_base, &ground))
			return -1;
		*cls = ground ? IC_OTHER : IC_WILD;
		/* leave c after the head expression */
		*c = head;
		*base = head_base;
		if (img_skip_items(img, c, *base, 1))
			return -1;
	} else {
		*cls = IC_OTHER;
	}
	return 0;
}

int img_entry_keys(const struct mt_image *img, const struct img_entry *e, struct img_keys *k,
		   struct kb_error *err)
{
	struct img_cur c = img_cursor(img, IMG_ENTRIES, e->body, e->rec, err);
	uint32_t base = e->base;
	memset(k, 0, sizeof *k);
	k->rule = IC_NONE;
	if (e->rule) {
		k->atom = IC_SYM;
		k->atom_sym = MT_S_EQUAL;
		k->atom_arity = 3;
		return term_class(img, &c, &base, &k->rule, &k->rule_sym, &k->rule_arity);
	}
	if (term_class(img, &c, &base, &k->atom, &k->atom_sym, &k->atom_arity))
		return -1;
	/* c is past the head symbol of an expression: L follows. */
	if (k->atom == IC_SYM && k->atom_sym == MT_S_EQUAL && k->atom_arity == 3)
		return term_class(img, &c, &base, &k->rule, &k->rule_sym, &k->rule_arity);
	return 0;
}

int img_name_list(const struct mt_image *img, uint64_t list, uint32_t *ids, uint32_t cap,
		  uint32_t *count, struct kb_error *err)
{
	if (list >= img->name_lists)
		return kb_error_set(err, "%s: name list %llu outside 0..%lld", img->file,
				    (unsigned long long)list, (long long)img->name_lists - 1);
	uint64_t off = img_le32(img->sec[IMG_NAMEIDX].p + 4 * list);
	struct img_cur c = img_cursor(img, IMG_NAMES, off, off, err);
	uint64_t n, v;
	if (off >= c.end) {
		struct img_cur ic = img_cursor(img, IMG_NAMEIDX, 4 * list, 4 * list, err);
		return img_fail(&ic,
				"name list offset %llu past end of section 'names' (size %llu)",
				(unsigned long long)off, (unsigned long long)c.end);
	}
	if (img_varint(&c, &n))
		return -1;
	if (n > c.end - c.pos || n > MT_VAR_MAX)
		return img_fail(&c, "name list of %llu names does not fit the section",
				(unsigned long long)n);
	for (uint64_t i = 0; i < n; i++) {
		if (img_varint(&c, &v))
			return -1;
		if (v >= img->symbols)
			return img_fail(&c, "name %llu is symbol id %llu outside 0..%llu",
					(unsigned long long)i, (unsigned long long)v,
					(unsigned long long)img->symbols - 1);
		if (i < cap)
			ids[i] = (uint32_t)v;
	}
	*count = (uint32_t)n;
	return 0;
}

/* ---- decoding into the store ---- */

enum { DF_ROOT, DF_EXPR, DF_REF };

struct img_dframe {
	int kind;
	uint32_t arity;
	uint64_t left;
	size_t args;
	/* DF_REF: where to resume, and the record being decoded */
	uint64_t ret_pos, ret_rec, target;
	uint32_t ret_base;
	enum img_sec ret_sec;
};

void img_decoder_init(struct img_decoder *d, const struct mt_image *img, struct mt_store *store)
{
	memset(d, 0, sizeof *d);
	d->img = img;
	d->store = store;
}

void img_decoder_free(struct img_decoder *d)
{
	free(d->frames);
	free(d->args);
	free(d->memo_keys);
	free(d->memo_vals);
	memset(d, 0, sizeof *d);
}

static uint64_t memo_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

static mt_term memo_get(const struct img_decoder *d, uint64_t off)
{
	if (!d->memo_keys)
		return MT_NONE;
	for (size_t i = memo_hash(off + 1) & d->memo_mask;; i = (i + 1) & d->memo_mask) {
		if (d->memo_keys[i] == off + 1)
			return d->memo_vals[i];
		if (d->memo_keys[i] == 0)
			return MT_NONE;
	}
}

static int memo_put(struct img_decoder *d, uint64_t off, mt_term t)
{
	if ((d->memo_count + 1) * 2 > d->memo_mask + 1 || !d->memo_keys) {
		size_t cap = d->memo_keys ? (d->memo_mask + 1) * 2 : 1024;
		uint64_t *keys = calloc(cap, sizeof *keys);
		mt_term *vals = malloc(cap * sizeof *vals);
		if (!keys || !vals) {
			free(keys);
			free(vals);
			return -1;
		}
		if (d->memo_keys)
			for (size_t i = 0; i <= d->memo_mask; i++) {
				if (!d->memo_keys[i])
					continue;
				size_t j = memo_hash(d->memo_keys[i]) & (cap - 1);
				while (keys[j])
					j = (j + 1) & (cap - 1);
				keys[j] = d->memo_keys[i];
				vals[j] = d->memo_vals[i];
			}
		free(d->memo_keys);
		free(d->memo_vals);
		d->memo_keys = keys;
		d->memo_vals = vals;
		d->memo_mask = cap - 1;
	}
	size_t i = memo_hash(off + 1) & d->memo_mask;
	while (d->memo_keys[i] && d->memo_keys[i] != off + 1)
		i = (i + 1) & d->memo_mask;
	if (!d->memo_keys[i])
		d->memo_count++;
	d->memo_keys[i] = off + 1;
	d->memo_vals[i] = t;
	return 0;
}

static int push_frame(struct img_decoder *d, struct img_dframe f)
{
	if (d->nframes == d->frames_cap) {
		if (d->nframes >= IMG_MAX_DEPTH)
			return -1;
		size_t cap = d->frames_cap ? d->frames_cap * 2 : 64;
		struct img_dframe *p = realloc(d->frames, cap * sizeof *p);
		if (!p)
			return -1;
		d->frames = p;
		d->frames_cap = cap;
	}
	d->frames[d->nframes++] = f;
	return 0;
}

static int push_arg(struct img_decoder *d, mt_term t)
{
	if (d->nargs == d->args_cap) {
		size_t cap = d->args_cap ? d->args_cap * 2 : 256;
		mt_term *p = realloc(d->args, cap * sizeof *p);
		if (!p)
			return -1;
		d->args = p;
		d->args_cap = cap;
	}
	d->args[d->nargs++] = t;
	return 0;
}

/* Hands a finished term to the innermost open frame. */
static int deliver(struct img_decoder *d, mt_term t)
{
	if (push_arg(d, t))
		return -1;
	d->frames[d->nframes - 1].left--;
	return 0;
}

static mt_term leaf_term(struct img_decoder *d, const struct img_item *it)
{
	switch (it->kind) {
	case IK_SYM:
		return mt_sym((uint32_t)it->v);
	case IK_VAR:
		return mt_var((uint32_t)it->v);
	case IK_INT:
		return mt_int(d->store, it->i, 0);
	case IK_FLOAT:
		return mt_float(d->store, it->f, 0);
	case IK_STR:
		return mt_string(d->store, (const char *)it->s, (size_t)it->v, 0);
	default:
		return MT_NONE;
	}
}

int img_decode_entry(struct img_decoder *d, const struct img_entry *e, mt_term *atom,
		     struct kb_error *err)
{
	const struct mt_image *img = d->img;
	enum img_sec sec = IMG_ENTRIES;
	struct img_cur c = img_cursor(img, sec, e->body, e->rec, err);
	uint32_t base = e->base;
	struct img_item it;
	d->nframes = 0;
	d->nargs = 0;
	if (push_frame(d, (struct img_dframe){.kind = DF_ROOT, .left = 1}))
		goto oom;
	if (e->rule) {
		if (push_frame(d, (struct img_dframe){.kind = DF_EXPR, .arity = 3, .left = 3}) ||
		    deliver(d, mt_sym(MT_S_EQUAL)))
			goto oom;
	}
	for (;;) {
		struct img_dframe *top = &d->frames[d->nframes - 1];
		if (top->left == 0) {
			mt_term t;
			if (top->kind == DF_ROOT) {
				*atom = d->args[top->args];
				return 0;
			}
			if (top->kind == DF_EXPR) {
				t = mt_expr(d->store, d->args + top->args, top->arity);
				if (t == MT_NONE)
					return img_fail(&c, "the term store is full");
			} else {
				t = d->args[top->args];
				if (memo_put(d, top->target, t))
					goto oom;
				sec = top->ret_sec;
				c = img_cursor(img, sec, top->ret_pos, top->ret_rec, err);
				base = top->ret_base;
			}
			d->nargs = top->args;
			d->nframes--;
			if (deliver(d, t))
				goto oom;
			continue;
		}
		if (img_read_item(img, &c, base, &it))
			return -1;
		if (it.kind == IK_EXPR) {
			if (it.v == 0) {
				mt_term t = mt_expr(d->store, NULL, 0);
				if (t == MT_NONE || deliver(d, t))
					goto oom;
				continue;
			}
			if (push_frame(d, (struct img_dframe){.kind = DF_EXPR,
							      .arity = (uint32_t)it.v,
							      .left = it.v,
							      .args = d->nargs}))
				goto deep;
			continue;
		}
		if (it.kind == IK_REF) {
			mt_term t = memo_get(d, it.v);
			if (t != MT_NONE) {
				if (deliver(d, t))
					goto oom;
				continue;
			}
			if (push_frame(d, (struct img_dframe){.kind = DF_REF,
							      .left = 1,
							      .args = d->nargs,
							      .ret_pos = c.pos,
							      .ret_rec = c.rec,
							      .ret_base = base,
							      .ret_sec = sec,
							      .target = it.v}))
				goto deep;
			sec = IMG_TERMS;
			c = img_cursor(img, sec, it.v, it.v, err);
			base = img_record_base(img, IMG_TERMS, it.v);
			continue;
		}
		mt_term t = leaf_term(d, &it);
		if (t == MT_NONE || deliver(d, t))
			goto oom;
	}
deep:
	if (d->nframes >= IMG_MAX_DEPTH)
		return img_fail(&c, "term nesting deeper than %u", IMG_MAX_DEPTH);
oom:
	return img_fail(&c, "out of memory while decoding");
}
