/* textio: a space as canonical MeTTa text, and back (module prefix
 * mt_textio_).
 *
 * Dump writes every live entry in entry (insertion) order, one line per
 * copy, so an atom of multiplicity 3 is three identical lines; variables
 * carry the names the entry was added with ($_N when none were given).
 * Load parses text and adds every top-level atom. Dumping a space and
 * loading the text into an empty space gives the same atoms, in the same
 * order, with the same multiplicities; dumping that space again gives the
 * same bytes.
 *
 * Ownership: nothing is allocated beyond the space's own growth. */
#ifndef MT_TEXTIO_H
#define MT_TEXTIO_H

#include "core/space.h"

#include <stdio.h>

/* Writes the space to `out`; `name` names the destination in messages.
 * Returns 0, or -1 with err set ("NAME: write error: ..."). */
int mt_textio_dump(const struct mt_space *space, FILE *out, const char *name, struct kb_error *err);

/* Appends the dump to a buffer (sets buf->oom when memory runs out). */
void mt_textio_dump_buf(const struct mt_space *space, struct kb_buf *out);

/* What a load does with `!expr` lines, which ask for an evaluation and
 * are not part of a knowledge base. */
enum mt_bang_policy {
	MT_BANG_REJECT, /* a syntax-level error naming the line */
	MT_BANG_SKIP,   /* counted in stats->bangs, not added */
};

struct mt_load_stats {
	uint64_t atoms; /* atoms added (copies) */
	uint64_t bangs; /* `!` expressions skipped */
};

/* Parses text (or a file; "-" is standard input) into the space. Returns
 * 0, or -1 with err set; atoms before an error stay added. `stats` may be
 * NULL. An input of 4 MiB or more is parsed with two threads when two
 * CPUs are online (parse.h): the same space, sooner. */
int mt_textio_load_buffer(struct mt_space *space, const char *text, size_t len, const char *name,
			  enum mt_bang_policy bangs, struct mt_load_stats *stats,
			  struct kb_error *err);
int mt_textio_load_file(struct mt_space *space, const char *path, enum mt_bang_policy bangs,
			struct mt_load_stats *stats, struct kb_error *err);

#endif
