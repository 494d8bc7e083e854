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
	uint64_t S = img->symbols, E = img->entries, H = img->hashed, R = img->order_runs;
	static const enum img_sec u32_addressed[] = {IMG_SYMTAB, IMG_TERMS, IMG_NAMES, IMG_WILD,
						     IMG_ORDER};
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
	if (H < MT_S__COUNT || H > S || H > IMG_FREQ_SYMS)
		return kb_error_set(err,
				    "%s: header: hash order from symbol %llu is impossible (%llu "
				    "symbols, %d well-known, at most %u before the hash order)",
				    f, (unsigned long long)H, (unsigned long long)S, MT_S__COUNT,
				    IMG_FREQ_SYMS);
	if (E > img->sec[IMG_SYMTAB].size + img->sec[IMG_WILD].size || E >= UINT32_MAX)
		return kb_error_set(
		    err,
		    "%s: header: %llu entries is impossible (sections 'symtab' and "
		    "'wild' hold %llu bytes)",
		    f, (unsigned long long)E,
		    (unsigned long long)(img->sec[IMG_SYMTAB].size + img->sec[IMG_WILD].size));
	if (R > E || (R == 0) != (E == 0) || R > img->sec[IMG_ORDER].size)
		return kb_error_set(err,
				    "%s: header: %llu order runs is impossible (%llu entries, "
				    "section 'order' is %llu bytes)",
				    f, (unsigned long long)R, (unsigned long long)E,
				    (unsigned long long)img->sec[IMG_ORDER].size);
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
	    expect_size(img, IMG_ORDIDX, 8 * ceil_div(R, IMG_SAMPLE), "8 bytes per 16 order runs",
			err) ||
	    expect_size(img, IMG_NAMEIDX, 4 * img->name_lists, "4 bytes per name list", err) ||
	    expect_size(img, IMG_TERMBASE,
			4 * ceil_div(img->sec[IMG_TERMS].size, 1u << IMG_BLOCK_SHIFT),
			"4 bytes per 256 bytes of 'terms'", err))
		return -1;
	if (img->sec[IMG_WILD].size < IMG_WILD_HEADER)
		return kb_error_set(err, "%s: section 'wild' is %llu bytes (its header is %u)", f,
				    (unsigned long long)img->sec[IMG_WILD].size, IMG_WILD_HEADER);
	return 0;
}

/* Checks the well-known names and notes the hashes of the names before
 * the hash order (at most 64 records: constant work). */
static int check_wellknown(struct mt_image *img, struct kb_error *err)
{
	for (uint32_t id = 0; id < img->hashed; id++) {
		const char *name;
		size_t len;
		if (img_sym_name(img, id, &name, &len, err))
			return -1;
		img->low_hash[id] = XXH3_64bits(name, len);
		if (id >= MT_S__COUNT)
			continue;
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
				    "%s: header: %u sections in a %u-byte header (version 4 has "
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
	img->hashed = img_le64(h + IMG_H_HASHED);
	img->order_runs = img_le64(h + IMG_H_ORDER_RUNS);
	uint64_t k = img_le64(h + IMG_H_WELLKNOWN);
	if (k != MT_S__COUNT)
		return kb_error_set(
		    err,
		    "%s: header: the image was written with %llu well-known symbols, "
		    "this kbprof has %d (rebuild the image with this kbprof)",
		    f, (unsigned long long)k, MT_S__COUNT);
	for (int i = IMG_H_RESERVED; i < IMG_H_CHECKSUM; i++)
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
	info->hashed = img->hashed;
	info->order_runs = img->order_runs;
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

int img_sym_head(struct img_cur *c, const char **name, size_t *len, unsigned *flags)
{
	uint64_t v;
	if (img_varint(c, &v))
		return -1;
	const uint8_t *p = c->p + c->pos;
	if (img_skip(c, v >> 2, "symbol name"))
		return -1;
	*name = (const char *)p;
	*len = (size_t)(v >> 2);
	*flags = (unsigned)(v & 3);
	if ((*flags & IMG_R_LONG) && !(*flags & IMG_R_INDEX))
		return img_fail(c, "symbol record marked long without an index");
	return 0;
}

int img_sym_skip(const struct mt_image *img, struct img_cur *c, uint64_t id)
{
	const char *name;
	size_t len;
	unsigned flags;
	uint64_t n;
	c->rec = c->pos;
	if (img_sym_head(c, &name, &len, &flags))
		return -1;
	if (!(flags & IMG_R_INDEX))
		return 0;
	if (id < img->hashed) /* the index part is elsewhere: its u32 offset */
		return img_skip(c, 4, "symbol index offset");
	if (img_varint(c, &n))
		return -1;
	return img_skip(c, n, "symbol index");
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
	for (uint32_t i = 0; i < (id & (IMG_SAMPLE - 1)); i++)
		if (img_sym_skip(img, &c, (id & ~(IMG_SAMPLE - 1)) + i))
			return -1;
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
	unsigned flags;
	if (img_sym_record(img, id, &pos, err))
		return -1;
	struct img_cur c = img_cursor(img, IMG_SYMTAB, pos, pos, err);
	return img_sym_head(&c, name, len, &flags);
}

/* The hash key of sample k of 'symidx': the high 32 bits of its name's
 * hash. */
static uint32_t sample_key(const struct mt_image *img, uint64_t k)
{
	return img_le32(img->sec[IMG_SYMIDX].p + 8 * k + 4);
}

int img_sym_find(const struct mt_image *img, const char *name, size_t len, uint64_t hash,
		 uint32_t *id, struct kb_error *err)
{
	*id = UINT32_MAX;
	for (uint32_t i = 0; i < img->hashed; i++)
		if (img->low_hash[i] == hash) {
			const char *n;
			size_t l;
			if (img_sym_name(img, i, &n, &l, err))
				return -1;
			if (l == len && memcmp(n, name, len) == 0) {
				*id = i;
				return 0;
			}
		}
	uint64_t S = img->symbols, H = img->hashed;
	if (H == S)
		return 0;
	/* Samples whose first symbol is in the hash order: lo..ns-1. The
	 * name, if present, is after the last of them whose key is below its
	 * own (or from H on), and before the first whose key is above. */
	uint32_t key = (uint32_t)(hash >> 32);
	uint64_t lo = (H + IMG_SAMPLE - 1) >> IMG_SAMPLE_SHIFT, ns = ceil_div(S, IMG_SAMPLE);
	/* The first sample with key >= key, in [a, b]: samples below a have
	 * smaller keys, samples from b on have no smaller one. The keys are
	 * uniform, so interpolation finds it in a few probes on one or two
	 * pages of 'symidx' (a binary search reads a page per halving, the
	 * first query after a cold open waits for each); a few steps, then
	 * halving, so that a crafted table costs no more than a search. */
	uint64_t a = lo, b = ns;
	for (int step = 0; a < b; step++) {
		uint64_t m = a + (b - a) / 2;
		if (step < 4) {
			uint32_t ka = sample_key(img, a), kb = sample_key(img, b - 1);
			if (key <= ka) {
				b = a;
				break;
			}
			if (key > kb) {
				a = b;
				break;
			}
			m = a + (uint64_t)((double)(key - ka) / ((double)(kb - ka) + 1) *
					   (double)(b - a));
			if (m >= b)
				m = b - 1;
		}
		if (sample_key(img, m) < key)
			a = m + 1;
		else
			b = m;
	}
	uint64_t from = a > lo ? (a - 1) << IMG_SAMPLE_SHIFT : H;
	uint64_t pos;
	if (img_sym_record(img, (uint32_t)from, &pos, err))
		return -1;
	struct img_cur c = img_cursor(img, IMG_SYMTAB, pos, pos, err);
	for (uint64_t i = from; i < S; i++) {
		if (i > from && (i & (IMG_SAMPLE - 1)) == 0 &&
		    sample_key(img, i >> IMG_SAMPLE_SHIFT) > key)
			break;
		uint64_t at = c.pos;
		const char *n;
		size_t l;
		unsigned flags;
		c.rec = at;
		if (img_sym_head(&c, &n, &l, &flags))
			return -1;
		if (l == len && memcmp(n, name, len) == 0) {
			*id = (uint32_t)i;
			return 0;
		}
		c.pos = at;
		if (img_sym_skip(img, &c, i))
			return -1;
	}
	return 0;
}

/* ---- index groups ---- */

/* A symbol record's index part: c positioned at its groups. */
struct img_groups {
	struct img_cur c;
	uint64_t end;        /* end of the record */
	uint64_t groups_end; /* end of the groups, 0 unless the record is long */
	uint64_t n;          /* home entries, when long */
	int has_index, is_long;
};

static int groups_open(const struct mt_image *img, uint32_t id, struct img_groups *g,
		       struct kb_error *err)
{
	uint64_t pos, v;
	const char *name;
	size_t len;
	unsigned flags;
	if (img_sym_record(img, id, &pos, err))
		return -1;
	g->c = img_cursor(img, IMG_SYMTAB, pos, pos, err);
	if (img_sym_head(&g->c, &name, &len, &flags))
		return -1;
	g->has_index = (flags & IMG_R_INDEX) != 0;
	g->is_long = (flags & IMG_R_LONG) != 0;
	g->groups_end = 0;
	g->n = 0;
	if (!g->has_index)
		return 0;
	if (id < img->hashed) {
		/* the index parts of the symbols before the hash order follow the
		 * last record, so that those records stay small */
		if (g->c.end - g->c.pos < 4)
			return img_fail(&g->c, "symbol index offset runs past end of section");
		uint64_t at = img_le32(g->c.p + g->c.pos);
		if (at >= g->c.end)
			return img_fail(&g->c, "symbol index at offset %llu past end of section",
					(unsigned long long)at);
		g->c.pos = at;
	}
	if (img_varint(&g->c, &v))
		return -1;
	if (v > g->c.end - g->c.pos)
		return img_fail(&g->c, "symbol index of %llu bytes runs past end of section",
				(unsigned long long)v);
	g->end = g->c.pos + v;
	g->c.end = g->end; /* nothing of this record reads past it */
	if (g->is_long) {
		if (img_varint(&g->c, &v) || img_varint(&g->c, &g->n))
			return -1;
		if (v > g->end - g->c.pos)
			return img_fail(&g->c, "index groups of %llu bytes run past the record",
					(unsigned long long)v);
		g->groups_end = g->c.pos + v;
		if (g->n > g->end - g->groups_end)
			return img_fail(&g->c, "home of %llu entries does not fit the record",
					(unsigned long long)g->n);
	}
	return 0;
}

/* Reads a group header: g = (arity << 3) | (kind << 2) | (multi << 1) |
 * more, and its run count. */
static int group_head(struct img_cur *c, uint64_t *g, uint64_t *nruns)
{
	if (img_varint(c, g))
		return -1;
	*nruns = 1;
	if (*g & 2) {
		if (img_varint(c, nruns))
			return -1;
		if (*nruns > (c->end - c->pos) / 2)
			return img_fail(c, "index group claims %llu runs, more than fit",
					(unsigned long long)*nruns + 2);
		*nruns += 2;
	}
	return 0;
}

/* Whether group g of symbol id lists entries that live elsewhere: the atom
 * group of (=, 3) lists every rule, and rules live with their heads. */
static int listing_only(uint32_t id, uint64_t g)
{
	return id == MT_S_EQUAL && ((g >> 2) & 1) == IMG_K_ATOMS && (g >> 3) == 3;
}

/* Skips a group's runs, adding their entries to *count. */
static int skip_runs(struct img_cur *c, uint64_t nruns, uint64_t *count)
{
	for (uint64_t i = 0; i < nruns; i++) {
		uint64_t s, n;
		if (img_varint(c, &s) || img_varint(c, &n))
			return -1;
		if (n >= UINT32_MAX || *count > UINT32_MAX)
			return img_fail(c, "index run of %llu entries is too long",
					(unsigned long long)n + 1);
		*count += n + 1;
	}
	return 0;
}

int img_runs_find(const struct mt_image *img, uint32_t id, int kind, uint64_t arity,
		  struct img_runs *runs, int *found, struct kb_error *err)
{
	struct img_groups gr;
	*found = 0;
	if (groups_open(img, id, &gr, err))
		return -1;
	if (!gr.has_index)
		return 0;
	uint64_t hpos = 0;
	for (;;) {
		uint64_t g, n;
		if (group_head(&gr.c, &g, &n))
			return -1;
		if ((uint64_t)((g >> 2) & 1) == (uint64_t)kind && (g >> 3) == arity) {
			*runs = (struct img_runs){
			    .wild = 0,
			    .pos = gr.c.pos,
			    .rec = gr.c.rec,
			    .left = n,
			    .prev_end = 0,
			    .first = 1,
			    .home = id,
			    .hpos = listing_only(id, g) ? UINT64_MAX : hpos,
			};
			*found = 1;
			return 0;
		}
		uint64_t count = 0;
		if (skip_runs(&gr.c, n, &count))
			return -1;
		if (!listing_only(id, g))
			hpos += count;
		if (!(g & 1))
			return 0;
	}
}

int img_runs_wild(const struct mt_image *img, int list, struct img_runs *runs, struct kb_error *err)
{
	const uint8_t *w = img->sec[IMG_WILD].p;
	uint64_t off = img_le32(w + 4 * list);
	struct img_cur c = img_cursor(img, IMG_WILD, off, off, err);
	uint64_t n;
	if (img_varint(&c, &n))
		return -1;
	if (n > (c.end - c.pos) / 2)
		return img_fail(&c, "run list %d claims %llu runs, more than fit", list,
				(unsigned long long)n);
	*runs = (struct img_runs){.wild = 1,
				  .pos = c.pos,
				  .rec = off,
				  .left = n,
				  .prev_end = 0,
				  .first = 1,
				  .home = IMG_HOME_WILD,
				  .hpos = img_le32(w + 16 + 4 * list)};
	return 0;
}

int img_runs_next(const struct mt_image *img, struct img_runs *runs, uint64_t *start,
		  uint64_t *count, uint64_t *hpos, struct kb_error *err)
{
	if (!runs->left)
		return 0;
	struct img_cur c =
	    img_cursor(img, runs->wild ? IMG_WILD : IMG_SYMTAB, runs->pos, runs->rec, err);
	uint64_t a, b, s;
	if (img_varint(&c, &a) || img_varint(&c, &b))
		return -1;
	if (runs->first) {
		s = a;
	} else {
		s = runs->prev_end + a + 1;
		if (s <= runs->prev_end)
			return img_fail(&c, "index run start overflows");
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
	*hpos = runs->hpos;
	if (runs->hpos != UINT64_MAX)
		runs->hpos += b + 1;
	return 1;
}

/* ---- homes and entries ---- */

int img_home_find(const struct mt_image *img, uint32_t home, struct img_home *h,
		  struct kb_error *err)
{
	struct img_cur c;
	if (home == IMG_HOME_WILD) {
		uint64_t off = img_le32(img->sec[IMG_WILD].p + 32);
		c = img_cursor(img, IMG_WILD, off, off, err);
		if (off >= c.end)
			return img_fail(&c, "the wild home starts past end of section (size %llu)",
					(unsigned long long)c.end);
		if (img_varint(&c, &h->n))
			return -1;
		h->sec = IMG_WILD;
		h->rec = off;
		h->end = c.end;
		h->base = 0;
	} else {
		struct img_groups gr;
		if (groups_open(img, home, &gr, err))
			return -1;
		c = gr.c;
		if (!gr.has_index)
			return img_fail(&c, "symbol %u holds no entries", home);
		if (gr.is_long) {
			h->n = gr.n;
			c.pos = gr.groups_end;
		} else {
			/* short groups take less than IMG_LONG_GROUPS bytes, so
			 * finding a short home again is cheap */
			uint64_t g = 0, nruns, n = 0, start = c.pos;
			do {
				uint64_t count = 0;
				if (group_head(&c, &g, &nruns))
					return -1;
				if (nruns > IMG_LONG_GROUPS / 2)
					goto too_long;
				if (skip_runs(&c, nruns, &count))
					return -1;
				if (!listing_only(home, g))
					n += count;
				if (c.pos - start >= IMG_LONG_GROUPS)
					goto too_long;
			} while (g & 1);
			h->n = n;
		}
		h->sec = IMG_SYMTAB;
		h->rec = c.rec;
		h->end = gr.end;
		h->base = home;
	}
	uint64_t tab = h->n > IMG_SAMPLE ? (h->n - 1) / IMG_SAMPLE : 0;
	h->table = c.pos;
	if (tab > (h->end - c.pos) / 4)
		return img_fail(&c, "home of %llu entries does not fit its record",
				(unsigned long long)h->n);
	h->first = c.pos + 4 * tab;
	return 0;
too_long:
	return img_fail(&c,
			"the index groups of symbol %u take %u bytes or more and the record "
			"is not long",
			home, IMG_LONG_GROUPS);
}

int img_home_entry(const struct mt_image *img, const struct img_home *h, uint64_t pos,
		   struct img_entry *e, struct kb_error *err)
{
	struct img_cur c = img_cursor(img, h->sec, h->table, h->rec, err);
	if (pos >= h->n)
		return img_fail(&c, "home position %llu outside its %llu entries",
				(unsigned long long)pos, (unsigned long long)h->n);
	uint64_t off = h->first;
	if (pos >= IMG_SAMPLE) {
		off += img_le32(img->sec[h->sec].p + h->table + 4 * (pos / IMG_SAMPLE - 1));
		if (off < h->first || off >= h->end)
			return img_fail(&c, "entry %llu of the home at offset %llu is outside it",
					(unsigned long long)pos, (unsigned long long)off);
	}
	for (uint64_t i = 0; i < pos % IMG_SAMPLE; i++) {
		if (img_entry_at(img, h->sec, off, h->base, e, err) || img_entry_end(img, e, err))
			return -1;
		off = e->end;
	}
	if (off >= h->end)
		return img_fail(&c, "entry %llu of the home starts past its end",
				(unsigned long long)pos);
	return img_entry_at(img, h->sec, off, h->base, e, err);
}

int img_entry_at(const struct mt_image *img, enum img_sec sec, uint64_t rec, uint32_t base,
		 struct img_entry *e, struct kb_error *err)
{
	struct img_cur c = img_cursor(img, sec, rec, rec, err);
	uint8_t h;
	uint64_t v;
	if (rec >= c.end)
		return img_fail(&c, "entry record starts past end of section (size %llu)",
				(unsigned long long)c.end);
	if (img_u8(&c, &h))
		return -1;
	e->sec = sec;
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
	e->base = base;
	return 0;
}

int img_entry_end(const struct mt_image *img, struct img_entry *e, struct kb_error *err)
{
	struct img_cur c = img_cursor(img, e->sec, e->body, e->rec, err);
	if (img_skip_items(img, &c, e->base, e->rule ? 2 : 1))
		return -1;
	e->end = c.pos;
	return 0;
}

/* ---- order ---- */

/* Reads the order run at r->pos whose first entry is r->first. */
static int order_read(const struct mt_image *img, struct img_orun *r, struct kb_error *err)
{
	struct img_cur c = img_cursor(img, IMG_ORDER, r->pos, r->pos, err);
	uint64_t h, v, p = 0;
	if (r->pos >= c.end)
		return img_fail(&c, "order run %llu starts past end of section (size %llu)",
				(unsigned long long)r->k, (unsigned long long)c.end);
	if (img_varint(&c, &h) || img_varint(&c, &v) || ((v & 1) && img_varint(&c, &p)))
		return -1;
	if (h > img->symbols)
		return img_fail(&c, "order run %llu: home symbol %llu outside 0..%llu",
				(unsigned long long)r->k, (unsigned long long)h - 1,
				(unsigned long long)img->symbols - 1);
	if ((v >> 1) >= img->entries - r->first || p >= UINT32_MAX)
		return img_fail(&c,
				"order run %llu of %llu entries from entry %llu (home position "
				"%llu) runs past the %llu entries",
				(unsigned long long)r->k, (unsigned long long)(v >> 1) + 1,
				(unsigned long long)r->first, (unsigned long long)p,
				(unsigned long long)img->entries);
	r->home = h ? (uint32_t)(h - 1) : IMG_HOME_WILD;
	r->count = (v >> 1) + 1;
	r->hpos = p;
	r->next = c.pos;
	return 0;
}

int img_order_find(const struct mt_image *img, uint64_t n, struct img_orun *r, struct kb_error *err)
{
	if (n >= img->entries)
		return kb_error_set(err, "%s: entry %llu outside 0..%lld", img->file,
				    (unsigned long long)n, (long long)img->entries - 1);
	const uint8_t *idx = img->sec[IMG_ORDIDX].p;
	uint64_t a = 0, b = ceil_div(img->order_runs, IMG_SAMPLE); /* last sample <= n */
	while (b - a > 1) {
		uint64_t m = a + (b - a) / 2;
		if (img_le32(idx + 8 * m + 4) <= n)
			a = m;
		else
			b = m;
	}
	r->k = a << IMG_SAMPLE_SHIFT;
	r->pos = img_le32(idx + 8 * a);
	r->first = img_le32(idx + 8 * a + 4);
	if (r->first > n) {
		struct img_cur ic = img_cursor(img, IMG_ORDIDX, 8 * a, 8 * a, err);
		return img_fail(&ic, "order sample %llu starts at entry %llu, past entry %llu",
				(unsigned long long)a, (unsigned long long)r->first,
				(unsigned long long)n);
	}
	for (int i = 0;; i++) {
		if (order_read(img, r, err))
			return -1;
		if (n < r->first + r->count)
			return 0;
		if (i == IMG_SAMPLE - 1 || r->k + 1 >= img->order_runs) {
			struct img_cur c = img_cursor(img, IMG_ORDER, r->pos, r->pos, err);
			return img_fail(&c, "entry %llu is in no order run", (unsigned long long)n);
		}
		r->k++;
		r->first += r->count;
		r->pos = r->next;
	}
}

int img_order_next(const struct mt_image *img, struct img_orun *r, struct kb_error *err)
{
	if (r->k + 1 >= img->order_runs)
		return kb_error_set(err, "%s: no order run after run %llu", img->file,
				    (unsigned long long)r->k);
	r->k++;
	r->first += r->count;
	r->pos = r->next;
	return order_read(img, r, err);
}

int img_entry_find(const struct mt_image *img, uint64_t n, struct img_entry *e,
		   struct kb_error *err)
{
	struct img_orun r;
	struct img_home h;
	if (img_order_find(img, n, &r, err) || img_home_find(img, r.home, &h, err))
		return -1;
	return img_home_entry(img, &h, r.hpos + (n - r.first), e, err);
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
		*base = img_terms_base(img, t);
		if (img_read_item(img, c, *base, it))
			return -1;
	}
	return 0;
}

/* Whether the item at c holds no variable. A reference is ground when
 * ground_refs (verify's bitmap of the shared records that hold no
 * variable, worked out once in 'terms' order) says so: the walk never
 * follows references, so a term exponentially larger than the file (a
 * record of two references to the one before, 40 times over) costs its
 * own items only. */
static int item_ground(const struct mt_image *img, struct img_cur c, uint32_t base,
		       const uint8_t *ground_refs, int *ground)
{
	struct img_item it;
	uint64_t owed = 1;
	*ground = 1;
	while (owed) {
		if (img_read_item(img, &c, base, &it))
			return -1;
		owed--;
		if (it.kind == IK_VAR ||
		    (it.kind == IK_REF && !((ground_refs[it.v >> 3] >> (it.v & 7)) & 1))) {
			*ground = 0;
			return 0;
		}
		if (it.kind == IK_EXPR)
			owed += it.v;
	}
	return 0;
}

/* Class of the term at c (see struct img_keys); leaves c after the term's
 * head when the term is an expression. */
static int term_class(const struct mt_image *img, struct img_cur *c, uint32_t *base,
		      const uint8_t *ground_refs, enum img_class *cls, uint32_t *sym,
		      uint64_t *arity)
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
		if (item_ground(img, head, head_base, ground_refs, &ground))
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

int img_entry_keys(const struct mt_image *img, const struct img_entry *e,
		   const uint8_t *ground_refs, struct img_keys *k, struct kb_error *err)
{
	struct img_cur c = img_cursor(img, e->sec, e->body, e->rec, err);
	uint32_t base = e->base;
	memset(k, 0, sizeof *k);
	k->rule = IC_NONE;
	if (e->rule) {
		k->atom = IC_SYM;
		k->atom_sym = MT_S_EQUAL;
		k->atom_arity = 3;
		return term_class(img, &c, &base, ground_refs, &k->rule, &k->rule_sym,
				  &k->rule_arity);
	}
	if (term_class(img, &c, &base, ground_refs, &k->atom, &k->atom_sym, &k->atom_arity))
		return -1;
	/* c is past the head symbol of an expression: L follows. */
	if (k->atom == IC_SYM && k->atom_sym == MT_S_EQUAL && k->atom_arity == 3)
		return term_class(img, &c, &base, ground_refs, &k->rule, &k->rule_sym,
				  &k->rule_arity);
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
	/* DF_REF: where to resume, the record being decoded, and the variable
	 * summary of the items read before it (its own starts empty) */
	uint64_t ret_pos, ret_rec, target;
	uint32_t ret_base;
	enum img_sec ret_sec;
	struct img_vars ret_vars;
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

static const struct img_memo *memo_get(const struct img_decoder *d, uint64_t off)
{
	if (!d->memo_keys)
		return NULL;
	for (size_t i = memo_hash(off + 1) & d->memo_mask;; i = (i + 1) & d->memo_mask) {
		if (d->memo_keys[i] == off + 1)
			return &d->memo_vals[i];
		if (d->memo_keys[i] == 0)
			return NULL;
	}
}

static int memo_put(struct img_decoder *d, uint64_t off, struct img_memo m)
{
	if ((d->memo_count + 1) * 2 > d->memo_mask + 1 || !d->memo_keys) {
		size_t cap = d->memo_keys ? (d->memo_mask + 1) * 2 : 1024;
		uint64_t *keys = calloc(cap, sizeof *keys);
		struct img_memo *vals = malloc(cap * sizeof *vals);
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
	d->memo_vals[i] = m;
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
	enum img_sec sec = e->sec;
	struct img_cur c = img_cursor(img, sec, e->body, e->rec, err);
	uint32_t base = e->base;
	struct img_item it;
	struct img_vars vars = {0, 0}; /* of the entry, or of the record being read */
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
				/* a verified image is numbered right; this keeps an
				 * unverified one from claiming variable 2^29 */
				if (vars.need) {
					c = img_cursor(img, e->sec, e->body, e->rec, err);
					return img_fail(
					    &c,
					    "the entry numbers its variables out of "
					    "order: variable %u occurs before variables "
					    "0..%u all have",
					    vars.need, vars.need - 1);
				}
				*atom = d->args[top->args];
				return 0;
			}
			if (top->kind == DF_EXPR) {
				t = mt_expr(d->store, d->args + top->args, top->arity);
				if (t == MT_NONE)
					return img_fail(&c, "the term store is full");
			} else {
				t = d->args[top->args];
				if (memo_put(d, top->target, (struct img_memo){t, vars}))
					goto oom;
				sec = top->ret_sec;
				c = img_cursor(img, sec, top->ret_pos, top->ret_rec, err);
				base = top->ret_base;
				struct img_vars inner = vars;
				vars = top->ret_vars;
				img_vars_add(&vars, inner.need, inner.end);
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
			const struct img_memo *m = memo_get(d, it.v);
			if (m) {
				img_vars_add(&vars, m->vars.need, m->vars.end);
				if (deliver(d, m->t))
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
							      .target = it.v,
							      .ret_vars = vars}))
				goto deep;
			vars = (struct img_vars){0, 0};
			sec = IMG_TERMS;
			c = img_cursor(img, sec, it.v, it.v, err);
			base = img_terms_base(img, it.v);
			continue;
		}
		if (it.kind == IK_VAR)
			img_vars_add(&vars, (uint32_t)it.v, (uint32_t)it.v + 1);
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
