/* textio: dump a space as canonical MeTTa text and load it back (see
 * textio.h). The dump goes through one reusable text buffer flushed in
 * 64 KiB pieces; the load is the parser with an add-to-space callback. */
#include "core/textio.h"
#include "core/parse.h"
#include "kbprof/probe.h"

#include <errno.h>
#include <string.h>

#define FLUSH_AT (64u << 10)

/* Appends one entry's lines: one per copy, none for a tombstone. */
static void dump_entry(const struct mt_space *sp, uint32_t e, struct kb_buf *b)
{
	uint32_t m = mt_space_multiplicity(sp, e);
	if (!m)
		return;
	size_t start = b->len;
	mt_print(mt_space_store(sp), mt_space_atom(sp, e), mt_space_varnames(sp, e), b);
	kb_buf_putc(b, '\n');
	size_t line = b->len - start;
	for (uint32_t i = 1; i < m && !b->oom; i++) {
		if (kb_buf_reserve(b, line))
			return;
		memcpy(b->data + b->len, b->data + start, line);
		b->len += line;
		b->data[b->len] = '\0';
	}
}

void mt_textio_dump_buf(const struct mt_space *sp, struct kb_buf *out)
{
	KBPROF_REGION_BEGIN("dump");
	uint32_t n = mt_space_entries(sp);
	for (uint32_t e = 0; e < n && !out->oom; e++)
		dump_entry(sp, e, out);
	KBPROF_REGION_END("dump");
}

int mt_textio_dump(const struct mt_space *sp, FILE *out, const char *name, struct kb_error *err)
{
	KBPROF_REGION_BEGIN("dump");
	struct kb_buf b = {0};
	int rc = 0;
	uint32_t n = mt_space_entries(sp);
	for (uint32_t e = 0; e < n; e++) {
		dump_entry(sp, e, &b);
		if (b.oom) {
			rc = kb_error_set(err, "%s: out of memory while dumping", name);
			break;
		}
		if (b.len >= FLUSH_AT || e + 1 == n) {
			if (b.len && fwrite(b.data, 1, b.len, out) != b.len) {
				rc =
				    kb_error_set(err, "%s: write error: %s", name, strerror(errno));
				break;
			}
			kb_buf_reset(&b);
		}
	}
	kb_buf_free(&b);
	if (rc == 0 && fflush(out) != 0)
		rc = kb_error_set(err, "%s: write error: %s", name, strerror(errno));
	KBPROF_REGION_END("dump");
	return rc;
}

struct load_ctx {
	struct mt_space *sp;
	enum mt_bang_policy bangs;
	struct mt_load_stats stats;
	const char *name;
	struct kb_error *err;
};

/* Callback return values that stop the parse. */
#define STOP_ERROR 2

static int load_atom(void *ctx, mt_term atom, int bang, const struct mt_varnames *names,
		     struct mt_srcpos where)
{
	struct load_ctx *l = ctx;
	if (bang) {
		if (l->bangs == MT_BANG_SKIP) {
			l->stats.bangs++;
			return 0;
		}
		kb_error_set(l->err,
			     "%s:%u:%u: '!' asks for an evaluation, which loading a knowledge base "
			     "does not do",
			     l->name, where.line, where.col);
		return STOP_ERROR;
	}
	struct kb_error e;
	if (mt_space_add(l->sp, atom, names, &e) < 0) {
		kb_error_set(l->err, "%s:%u:%u: %s", l->name, where.line, where.col, e.msg);
		return STOP_ERROR;
	}
	l->stats.atoms++;
	return 0;
}

static int finish(struct load_ctx *l, int rc, struct mt_load_stats *stats)
{
	if (stats)
		*stats = l->stats;
	return rc == 0 ? 0 : -1;
}

/* Loads parse with MT_PARSE_THREADS_AUTO: two threads on a large input,
 * which load_atom allows, since it only adds atoms (parse.h). */
int mt_textio_load_buffer(struct mt_space *sp, const char *text, size_t len, const char *name,
			  enum mt_bang_policy bangs, struct mt_load_stats *stats,
			  struct kb_error *err)
{
	KBPROF_REGION_BEGIN("load");
	struct load_ctx l = {sp, bangs, {0, 0}, name ? name : "<input>", err};
	struct mt_parse_opts o = {.filename = l.name, .threads = MT_PARSE_THREADS_AUTO};
	int rc = mt_parse_buffer(mt_space_store(sp), text, len, &o, load_atom, &l, err);
	KBPROF_REGION_END("load");
	return finish(&l, rc, stats);
}

int mt_textio_load_file(struct mt_space *sp, const char *path, enum mt_bang_policy bangs,
			struct mt_load_stats *stats, struct kb_error *err)
{
	KBPROF_REGION_BEGIN("load");
	const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
	struct load_ctx l = {sp, bangs, {0, 0}, name, err};
	struct mt_parse_opts o = {.filename = name, .threads = MT_PARSE_THREADS_AUTO};
	int rc = mt_parse_file(mt_space_store(sp), path, &o, load_atom, &l, err);
	KBPROF_REGION_END("load");
	return finish(&l, rc, stats);
}
