/* image_format: constants and byte-level helpers of the .kbi format
 * (docs/kb-image.md), shared by the writer, the reader and the verifier.
 * Internal to core/image_*.c.
 *
 * Every read of image bytes goes through a struct img_cur, which knows its
 * section and the record it is in, checks each read against the section's
 * end and, on failure, writes "FILE: section 'NAME' record at offset R:
 * cause" into the error slot. Nothing here allocates. */
#ifndef MT_IMAGE_FORMAT_H
#define MT_IMAGE_FORMAT_H

#include "util/kb_error.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define IMG_MAGIC "\x89KBI\r\n\x1a\n"
#define IMG_MAGIC_LEN 8
#define IMG_VERSION 4u
#define IMG_BYTE_ORDER 0x01020304u
#define IMG_HEADER_FIXED 128u
#define IMG_SECTION_ENTRY 32u
#define IMG_ALIGN 64u
#define IMG_SAMPLE_SHIFT 4u /* symidx, ordidx, home entry tables: every 16th */
#define IMG_SAMPLE (1u << IMG_SAMPLE_SHIFT)
/* a lazily opened image up to this size keeps the kernel's readahead */
#define IMG_READAHEAD_MAX ((size_t)16 << 20)
#define IMG_BLOCK_SHIFT 8u /* termbase: per 256 bytes */
#define IMG_FREQ_SYMS 64u  /* ids below this are one-byte symbol items */
#define IMG_NAMES_INLINE 62u
/* a symbol record whose index groups take at least this many bytes
 * carries their length and its entry count (the writer's choice) */
#define IMG_LONG_GROUPS 64u
#define IMG_WILD_HEADER 36u /* u32 list offsets[4], u32 home positions[4], u32 home */

/* header field offsets */
#define IMG_H_VERSION 8
#define IMG_H_BYTE_ORDER 12
#define IMG_H_HEADER_SIZE 16
#define IMG_H_SECTION_COUNT 20
#define IMG_H_FILE_SIZE 24
#define IMG_H_ENTRIES 32
#define IMG_H_ATOMS 40
#define IMG_H_RULES 48
#define IMG_H_SYMBOLS 56
#define IMG_H_NAME_LISTS 64
#define IMG_H_SHARED 72
#define IMG_H_WELLKNOWN 80
#define IMG_H_HASHED 88
#define IMG_H_ORDER_RUNS 96
#define IMG_H_RESERVED 104
#define IMG_H_CHECKSUM 120

enum img_sec {
	IMG_SYMTAB,
	IMG_SYMIDX,
	IMG_TERMS,
	IMG_TERMBASE,
	IMG_NAMES,
	IMG_NAMEIDX,
	IMG_WILD,
	IMG_ORDER,
	IMG_ORDIDX,
	IMG_NSEC
};

/* On-disk section ids are enum img_sec + 1. */
static const char *const img_sec_names[IMG_NSEC] = {
    "symtab", "symidx", "terms", "termbase", "names", "nameidx", "wild", "order", "ordidx",
};

/* The home of an entry: the symbol record or the 'wild' section holding
 * it (docs/kb-image.md, "Homes"). */
#define IMG_HOME_WILD UINT32_MAX

/* item codes */
enum {
	IMG_C_SYM = 0x00,   /* 00-3F: symbol id 0..63 */
	IMG_C_SYMD = 0x40,  /* 40-7F: symbol delta -32..31 */
	IMG_C_VAR = 0x80,   /* 80-8F: variable 0..15 */
	IMG_C_EXPR = 0x90,  /* 90-9F: expression arity 0..15 */
	IMG_C_INT = 0xA0,   /* A0-AF: integer 0..15 */
	IMG_C_SYMD2 = 0xB0, /* B0-BF + u8: symbol delta -2048..2047 */
	IMG_C_REF = 0xC0,   /* C0-CF + varint: shared record */
	IMG_C_SYMA = 0xD0,  /* D0-DF + varint: symbol id */
	IMG_C_EXPRN = 0xE0, /* + varint arity */
	IMG_C_VARN = 0xE1,  /* + varint number */
	IMG_C_INTN = 0xE2,  /* + varint zigzag value */
	IMG_C_FLOAT = 0xE3, /* + 8 bytes */
	IMG_C_STR = 0xE4,   /* + varint length + bytes */
};

#define IMG_E_RULE 0x80u
#define IMG_E_MULT 0x40u
#define IMG_E_NAMES 0x3fu

/* symbol record head: (name_length << 2) | IMG_R_* */
#define IMG_R_INDEX 1u
#define IMG_R_LONG 2u

/* index kinds */
enum { IMG_K_RULES = 0, IMG_K_ATOMS = 1 };

/* the run lists of section 'wild' */
enum { IMG_W_ATOMS_WILD, IMG_W_RULES_WILD, IMG_W_ATOMS_OTHER, IMG_W_RULES_OTHER, IMG_W_COUNT };

/* ---- little-endian fixed-width access (any alignment, any host) ---- */

static inline uint32_t img_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t img_le64(const uint8_t *p)
{
	return (uint64_t)img_le32(p) | (uint64_t)img_le32(p + 4) << 32;
}
static inline void img_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void img_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint64_t img_leN(const uint8_t *p, unsigned width)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < width; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline uint64_t img_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t img_unzigzag(uint64_t u)
{
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* ---- bounds-checked reading ---- */

struct img_cur {
	const uint8_t *p; /* section start */
	uint64_t pos, end;
	uint64_t rec; /* start of the record being read, for messages */
	const char *file, *sec;
	struct kb_error *err;
};

__attribute__((format(printf, 2, 3))) static inline int img_fail(struct img_cur *c, const char *fmt,
								 ...)
{
	if (c->err) {
		char cause[700];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(cause, sizeof cause, fmt, ap);
		va_end(ap);
		kb_error_set(c->err, "%s: section '%s' record at offset %llu: %s", c->file, c->sec,
			     (unsigned long long)c->rec, cause);
	}
	return -1;
}

static inline int img_u8(struct img_cur *c, uint8_t *out)
{
	if (c->pos >= c->end)
		return img_fail(c, "truncated at offset %llu (section size %llu)",
				(unsigned long long)c->pos, (unsigned long long)c->end);
	*out = c->p[c->pos++];
	return 0;
}

static inline int img_varint(struct img_cur *c, uint64_t *out)
{
	uint64_t v = 0;
	uint64_t start = c->pos;
	for (unsigned shift = 0;; shift += 7) {
		if (c->pos >= c->end)
			return img_fail(
			    c, "varint at offset %llu runs past end of section (size %llu)",
			    (unsigned long long)start, (unsigned long long)c->end);
		uint8_t b = c->p[c->pos++];
		if (shift == 63 && b > 1)
			return img_fail(c, "varint at offset %llu overflows 64 bits",
					(unsigned long long)start);
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
		if (shift == 63)
			return img_fail(c, "varint at offset %llu is longer than 10 bytes",
					(unsigned long long)start);
	}
	*out = v;
	return 0;
}

/* Skips n bytes, or fails naming what was being skipped. */
static inline int img_skip(struct img_cur *c, uint64_t n, const char *what)
{
	if (n > c->end - c->pos)
		return img_fail(
		    c, "%s of %llu bytes at offset %llu runs past end of section (size %llu)", what,
		    (unsigned long long)n, (unsigned long long)c->pos, (unsigned long long)c->end);
	c->pos += n;
	return 0;
}

/* ---- writing varints (writer side) ---- */

static inline size_t img_varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline unsigned img_bitlen(uint64_t v)
{
	return v ? 64u - (unsigned)__builtin_clzll(v) : 0u;
}

#endif
