/* fuzz_image: libFuzzer harness for the image loader and decoder
 * (core/image_*.c): open, verify, and every on-demand read a query makes.
 *
 * Each input is tried twice: as it is (so the header and section checks
 * and the checksums see arbitrary bytes), and "resealed", with its section
 * checksums and header checksum recomputed, so that mutations reach the
 * structural checks, the decoder and the index. Any input must give an
 * image or an error, never a crash, a sanitizer report or a leak. The
 * oracle: when verify accepts an image, reading every entry and running
 * look-ups must meet no error (verify checks everything a query reads). */
#include "core/image.h"
#include "core/image_format.h"
#include "core/parse.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reseal(uint8_t *p, size_t len)
{
	if (len < IMG_HEADER_FIXED)
		return;
	uint32_t count = img_le32(p + IMG_H_SECTION_COUNT);
	uint32_t hsize = img_le32(p + IMG_H_HEADER_SIZE);
	if (count > 64 || (uint64_t)IMG_HEADER_FIXED + (uint64_t)count * IMG_SECTION_ENTRY > len ||
	    hsize > len || hsize < IMG_HEADER_FIXED)
		return;
	for (uint32_t i = 0; i < count; i++) {
		uint8_t *e = p + IMG_HEADER_FIXED + i * IMG_SECTION_ENTRY;
		uint64_t off = img_le64(e + 8), sz = img_le64(e + 16);
		if (off <= len && sz <= len - off)
			img_put64(e + 24, XXH3_64bits(p + off, sz));
	}
	memset(p + IMG_H_CHECKSUM, 0, 8);
	img_put64(p + IMG_H_CHECKSUM, XXH3_64bits(p, hsize));
}

static void lookups(struct mt_image_kb *kb, int verified)
{
	static const char *const patterns[] = {"$x",      "(= $x $y)", "(: $x $t)", "(f $x)",
					       "(a b c)", "42",        "\"s\"",     "()"};
	struct kb_buf out = {0};
	uint32_t n = mt_space_entries(kb->space);
	for (uint32_t e = 0; e < n && e < 4096; e++) {
		mt_term a = mt_space_atom(kb->space, e);
		if (a != MT_NONE)
			mt_print(kb->store, a, mt_space_varnames(kb->space, e), &out);
		(void)mt_space_multiplicity(kb->space, e);
		kb_buf_reset(&out);
	}
	for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++) {
		mt_term p;
		struct kb_error err;
		if (mt_parse_one(kb->store, patterns[i], strlen(patterns[i]), &p, &err))
			continue;
		struct mt_space_iter it;
		uint32_t e;
		int k = 0;
		mt_space_atoms_begin(kb->space, p, &it);
		while (k++ < 4096 && mt_space_next(&it, &e))
			(void)mt_space_atom(kb->space, e);
		k = 0;
		mt_space_rules_begin(kb->space, p, &it);
		while (k++ < 4096 && mt_space_next(&it, &e))
			(void)mt_space_atom(kb->space, e);
		(void)mt_space_count(kb->space, p);
	}
	/* overlay changes on top of whatever the image holds */
	if (n > 0) {
		mt_term a = mt_space_atom(kb->space, 0);
		struct kb_error err;
		if (a != MT_NONE && !mt_is_scratch(a)) {
			mt_space_add(kb->space, a, NULL, &err);
			mt_space_remove(kb->space, a);
			mt_space_remove(kb->space, a);
		}
	}
	struct kb_error err;
	if (verified && mt_image_kb_status(kb, &err)) {
		fprintf(stderr, "verify accepted an image a query could not read: %s\n", err.msg);
		abort();
	}
	kb_buf_free(&out);
}

static void try_image(const uint8_t *p, size_t len)
{
	struct mt_image *img;
	struct kb_error err;
	if (mt_image_open_mem(p, len, "fuzz.kbi", &img, &err))
		return;
	int verified = mt_image_verify(img, &err) == 0;
	struct mt_image_kb kb;
	if (mt_image_kb_attach(img, &kb, &err))
		return;
	lookups(&kb, verified);
	mt_image_kb_close(&kb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	try_image(data, size);
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	reseal(copy, size);
	try_image(copy, size);
	free(copy);
	return 0;
}
