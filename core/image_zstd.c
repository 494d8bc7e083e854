/* image_zstd: expanding the shipping form of an image, one zstd frame
 * (KB.kbi.zst), into anonymous memory that is then read like a mapped
 * file. The frame must declare its content size; a frame that expands past
 * the size its image header announces, or differs from it, is refused, so a
 * crafted frame cannot make us allocate more than it says up front.
 *
 * Owner: the expanded bytes are an anonymous mapping handed to the caller
 * (struct mt_image munmaps it at close). */
#include "core/image_format.h"

#include <errno.h>
#include <sys/mman.h>
#include <zstd.h>

int img_zstd_is_frame(const uint8_t *p, size_t len);
int img_zstd_expand(const uint8_t *src, size_t len, const char *name, uint8_t **out,
		    size_t *out_len, struct kb_error *err);

int img_zstd_is_frame(const uint8_t *p, size_t len)
{
	return len >= 4 && img_le32(p) == ZSTD_MAGICNUMBER;
}

int img_zstd_expand(const uint8_t *src, size_t len, const char *name, uint8_t **out,
		    size_t *out_len, struct kb_error *err)
{
	unsigned long long size = ZSTD_getFrameContentSize(src, len);
	if (size == ZSTD_CONTENTSIZE_ERROR)
		return kb_error_set(err, "%s: not a valid zstd frame", name);
	if (size == ZSTD_CONTENTSIZE_UNKNOWN)
		return kb_error_set(err, "%s: zstd frame does not declare its content size", name);
	if (size < IMG_HEADER_FIXED)
		return kb_error_set(err,
				    "%s: zstd frame holds %llu bytes, shorter than an image header",
				    name, size);
	if (size > SIZE_MAX / 2)
		return kb_error_set(err, "%s: zstd frame content of %llu bytes is too large", name,
				    size);
	size_t frame = ZSTD_findFrameCompressedSize(src, len);
	if (ZSTD_isError(frame))
		return kb_error_set(err, "%s: zstd: %s", name, ZSTD_getErrorName(frame));
	if (frame != len)
		return kb_error_set(err, "%s: %zu bytes of trailing data after the zstd frame",
				    name, len - frame);
	uint8_t *dst =
	    mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED)
		return kb_error_set(err, "%s: cannot map %llu bytes to expand into: %s", name, size,
				    strerror(errno));
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	if (!dc) {
		munmap(dst, (size_t)size);
		return kb_error_set(err, "%s: out of memory", name);
	}
	/* Expand the header first: its file_size must be the declared size. */
	ZSTD_inBuffer in = {src, len, 0};
	ZSTD_outBuffer o = {dst, IMG_HEADER_FIXED, 0};
	size_t r = 0;
	while (o.pos < o.size) {
		r = ZSTD_decompressStream(dc, &o, &in);
		if (ZSTD_isError(r) || (r == 0 && o.pos < o.size))
			break;
	}
	if (!ZSTD_isError(r) && o.pos == IMG_HEADER_FIXED &&
	    memcmp(dst, IMG_MAGIC, IMG_MAGIC_LEN) == 0 && img_le64(dst + IMG_H_FILE_SIZE) != size) {
		/* read before the bytes go away */
		unsigned long long says = (unsigned long long)img_le64(dst + IMG_H_FILE_SIZE);
		ZSTD_freeDCtx(dc);
		munmap(dst, (size_t)size);
		return kb_error_set(
		    err, "%s: zstd frame declares %llu bytes but its image header says %llu", name,
		    size, says);
	}
	o.size = (size_t)size;
	while (!ZSTD_isError(r) && o.pos < o.size) {
		r = ZSTD_decompressStream(dc, &o, &in);
		if (r == 0)
			break;
	}
	ZSTD_freeDCtx(dc);
	if (ZSTD_isError(r) || o.pos != o.size || r != 0) {
		munmap(dst, (size_t)size);
		if (ZSTD_isError(r))
			return kb_error_set(err, "%s: zstd: %s", name, ZSTD_getErrorName(r));
		return kb_error_set(err, "%s: zstd frame is truncated (%zu of %llu bytes expanded)",
				    name, o.pos, size);
	}
	mprotect(dst, (size_t)size, PROT_READ);
	*out = dst;
	*out_len = (size_t)size;
	return 0;
}
