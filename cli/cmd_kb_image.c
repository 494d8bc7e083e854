/* kbprof kb compile -o / query / info / verify: the knowledge-base image
 * subcommands (core/image.h, docs/kb-image.md). Argument parsing, timing
 * and printing only.
 *
 *   kb compile [BASE.kbi] FILE.metta... -o KB.kbi [--zstd [--level N]]
 *   kb query KB.kbi|FILE.metta EXPR... [--populate] [--stats]
 *   kb info KB.kbi
 *   kb verify KB.kbi */
#include "cli/builtin.h"
#include "cli/kb_image.h"
#include "core/eval.h"
#include "core/image.h"
#include "core/parse.h"
#include "core/textio.h"
#include "kbprof/probe.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* An image (or its zstd form) rather than MeTTa text: by content when the
 * file can be read, else by name. */
static int is_image(const char *path)
{
	unsigned char magic[8] = {0};
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : NULL;
	size_t n = f ? fread(magic, 1, sizeof magic, f) : 0;
	if (f)
		fclose(f);
	if (n >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
		return 1;
	if (n == 8 && memcmp(magic, "\x89KBI\r\n\x1a\n", 8) == 0)
		return 1;
	return ends_with(path, ".kbi") || ends_with(path, ".kbi.zst");
}

/* A knowledge base to query: an image mapped in place, or MeTTa text
 * compiled in memory. */
struct qkb {
	struct mt_image_kb image; /* image.space set when it is an image */
	struct mt_store *store;
	struct mt_space *space;
};

static int qkb_open(struct qkb *q, const char *cmd, const char *path, enum mt_image_load load)
{
	struct kb_error err;
	memset(q, 0, sizeof *q);
	if (is_image(path)) {
		if (mt_image_kb_open(path, load, &q->image, &err))
			return cli_fail(cmd, "%s", err.msg);
		q->store = q->image.store;
		q->space = q->image.space;
		return 0;
	}
	q->store = mt_store_new();
	q->space = q->store ? mt_space_new(q->store) : NULL;
	if (!q->space) {
		mt_store_free(q->store);
		return cli_fail(cmd, "out of memory");
	}
	struct mt_load_stats stats;
	if (mt_textio_load_file(q->space, path, MT_BANG_SKIP, &stats, &err)) {
		mt_space_free(q->space);
		mt_store_free(q->store);
		return cli_fail(cmd, "%s", err.msg);
	}
	return 0;
}

static void qkb_close(struct qkb *q)
{
	if (q->image.space) {
		mt_image_kb_close(&q->image);
	} else {
		mt_space_free(q->space);
		mt_store_free(q->store);
	}
}

/* The first damaged record met on demand, if any. */
static int qkb_status(const struct qkb *q, const char *cmd)
{
	struct kb_error err;
	if (q->image.space && mt_image_kb_status(&q->image, &err))
		return cli_fail(cmd, "%s", err.msg);
	return 0;
}

/* ---- kb compile -o ---- */

int kb_compile_wants_image(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-o") == 0 || strncmp(argv[i], "-o", 2) == 0 ||
		    strncmp(argv[i], "--output", 8) == 0 || strcmp(argv[i], "--zstd") == 0)
			return 1;
	}
	return 0;
}

int kb_image_compile(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"zstd", no_argument, NULL, 'z'},
	    {"level", required_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "kb compile", *output = NULL;
	struct mt_image_write_opts wo = {0};
	unsigned long long v;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'z':
			wo.zstd = 1;
			break;
		case 'l':
			if (cli_parse_u64(optarg, &v) || v < 1 || v > 22)
				return cli_usage_error(cmd, "--level wants 1..22, not '%s'",
						       optarg);
			wo.zstd_level = (int)v;
			break;
		default:
			return cli_usage_error(cmd, "unknown option");
		}
	}
	if (!output)
		return cli_usage_error(cmd, "-o KB.kbi is required with --zstd");
	if (wo.zstd_level && !wo.zstd)
		return cli_usage_error(cmd, "--level is for --zstd");
	if (optind >= argc)
		return cli_usage_error(cmd, "no FILE given");
	char **files = argv + optind;
	int nfiles = argc - optind;
	struct qkb q;
	double t0 = now();
	int rc;
	uint64_t source_bytes = 0;
	int on_base = is_image(files[0]);
	if (on_base) {
		if ((rc = qkb_open(&q, cmd, files[0], MT_IMAGE_LAZY)))
			return rc;
		files++;
		nfiles--;
	} else {
		memset(&q, 0, sizeof q);
		q.store = mt_store_new();
		q.space = q.store ? mt_space_new(q.store) : NULL;
		if (!q.space) {
			mt_store_free(q.store);
			return cli_fail(cmd, "out of memory");
		}
	}
	struct kb_error err;
	for (int i = 0; i < nfiles; i++) {
		struct mt_load_stats stats;
		struct stat st;
		if (stat(files[i], &st) == 0)
			source_bytes += (uint64_t)st.st_size;
		if (mt_textio_load_file(q.space, files[i], MT_BANG_SKIP, &stats, &err)) {
			qkb_close(&q);
			return cli_fail(cmd, "%s", err.msg);
		}
	}
	/* Read every atom of the base before anything is written: a damaged
	 * record must stop the compile here, not drop out of the new image
	 * (which may replace the base itself). */
	if (q.image.space) {
		uint32_t n = mt_space_entries(q.space);
		for (uint32_t e = 0; e < n; e++)
			(void)mt_space_atom(q.space, e);
	}
	if ((rc = qkb_status(&q, cmd))) {
		qkb_close(&q);
		return rc;
	}
	double t1 = now();
	struct mt_image_write_stats ws;
	if (mt_image_write(q.space, output, &wo, &ws, &err)) {
		qkb_close(&q);
		return cli_fail(cmd, "%s", err.msg);
	}
	if ((rc = qkb_status(&q, cmd))) {
		qkb_close(&q);
		return rc;
	}
	double t2 = now();
	printf("wrote %s: %llu bytes", output, (unsigned long long)ws.file_bytes);
	if (wo.zstd)
		printf(" (zstd; image %llu bytes)", (unsigned long long)ws.image_bytes);
	if (on_base)
		printf(", %s with %d source file%s on top", files[-1], nfiles,
		       nfiles == 1 ? "" : "s");
	else if (source_bytes)
		printf(", %.1f%% of %llu bytes of source",
		       100.0 * (double)ws.file_bytes / (double)source_bytes,
		       (unsigned long long)source_bytes);
	printf("\natoms:      %llu (%llu distinct)\nrules:      %llu\nsymbols:    %llu\n"
	       "shared:     %llu sub-terms stored once and referenced\n"
	       "time:       compile %.3f ms, image %.3f ms\n",
	       (unsigned long long)ws.atoms, (unsigned long long)ws.entries,
	       (unsigned long long)ws.rules, (unsigned long long)ws.symbols,
	       (unsigned long long)ws.shared, (t1 - t0) * 1e3, (t2 - t1) * 1e3);
	qkb_close(&q);
	return KBPROF_EXIT_OK;
}

/* ---- kb query ---- */

static void faults(long *minor, long *major)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	*minor = ru.ru_minflt;
	*major = ru.ru_majflt;
}

static int run_query(struct qkb *q, const char *cmd, const char *text, struct mt_eval_ctx *ctx,
		     struct kb_buf *line)
{
	struct kb_error err;
	mt_term query;
	if (*text == '!')
		text++;
	if (mt_parse_one(q->store, text, strlen(text), &query, &err))
		return cli_usage_error(cmd, "in query '%s': %s", text, err.msg);
	KBPROF_REGION_BEGIN("query");
	struct mt_eval_it *it = mt_eval_start(ctx, query, NULL, &err);
	if (!it) {
		KBPROF_REGION_END("query");
		return cli_fail(cmd, "%s", err.msg);
	}
	kb_buf_reset(line);
	kb_buf_putc(line, '[');
	mt_term r;
	int rc, n = 0;
	while ((rc = mt_eval_next(it, &r)) == 1) {
		if (n++)
			kb_buf_puts(line, ", ");
		mt_print(q->store, r, NULL, line);
	}
	kb_buf_putc(line, ']');
	if (rc < 0) {
		int out = cli_fail(cmd, "%s: %s", text, mt_eval_error(it));
		mt_eval_teardown(it);
		KBPROF_REGION_END("query");
		return out;
	}
	mt_eval_teardown(it);
	KBPROF_REGION_END("query");
	if (line->oom)
		return cli_fail(cmd, "out of memory");
	return qkb_status(q, cmd);
}

int kb_query(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"populate", no_argument, NULL, 'p'},
	    {"stats", no_argument, NULL, 's'},
	    {"max-steps", required_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "kb query";
	enum mt_image_load load = MT_IMAGE_LAZY;
	int stats = 0;
	struct mt_eval_opts eo = mt_eval_default_opts();
	unsigned long long v;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			load = MT_IMAGE_POPULATE;
			break;
		case 's':
			stats = 1;
			break;
		case 'm':
			if (cli_parse_u64(optarg, &v))
				return cli_usage_error(cmd, "--max-steps wants a number, not '%s'",
						       optarg);
			eo.max_steps = v;
			break;
		default:
			return cli_usage_error(cmd, "unknown option");
		}
	}
	if (argc - optind < 2)
		return cli_usage_error(cmd, "wants a knowledge base and at least one EXPR");
	const char *path = argv[optind];
	long mi0, ma0, mi1, ma1;
	faults(&mi0, &ma0);
	double t0 = now();
	struct qkb q;
	int rc = qkb_open(&q, cmd, path, load);
	if (rc)
		return rc;
	double t1 = now();
	faults(&mi1, &ma1);
	if (stats)
		fprintf(stderr, "open:    %.3f ms (%s%s), minor faults %ld, major faults %ld\n",
			(t1 - t0) * 1e3, q.image.space ? "image" : "source compiled in memory",
			q.image.space ? (load == MT_IMAGE_POPULATE ? ", populated" : ", lazy") : "",
			mi1 - mi0, ma1 - ma0);
	struct mt_eval_ctx *ctx = mt_eval_ctx_new(q.space, &eo);
	if (!ctx) {
		qkb_close(&q);
		return cli_fail(cmd, "out of memory");
	}
	struct kb_buf line = {0};
	for (int i = optind + 1; i < argc && rc == 0; i++) {
		faults(&mi0, &ma0);
		double a = now();
		rc = run_query(&q, cmd, argv[i], ctx, &line);
		double b = now();
		faults(&mi1, &ma1);
		if (rc)
			break;
		puts(line.data);
		if (stats) {
			struct mt_eval_stats es;
			mt_eval_get_stats(ctx, &es);
			fprintf(stderr,
				"query %d: %.3f ms (%.3f ms since open), %llu results, %llu steps, "
				"minor "
				"faults %ld, major faults %ld\n",
				i - optind, (b - a) * 1e3, (b - t1) * 1e3,
				(unsigned long long)es.results, (unsigned long long)es.steps,
				mi1 - mi0, ma1 - ma0);
		}
	}
	kb_buf_free(&line);
	mt_eval_ctx_free(ctx);
	qkb_close(&q);
	return rc;
}

/* ---- kb info ---- */

int kb_info(int argc, char **argv)
{
	const char *cmd = "kb info";
	if (argc != 2)
		return cli_usage_error(cmd, "wants exactly one KB.kbi");
	struct mt_image *img;
	struct kb_error err;
	if (mt_image_open(argv[1], MT_IMAGE_LAZY, &img, &err))
		return cli_fail(cmd, "%s", err.msg);
	struct mt_image_info in;
	mt_image_get_info(img, &in);
	printf("image:      %s\nformat:     kbprof image version %u, little-endian\n", argv[1],
	       in.version);
	if (in.compressed)
		printf("size:       %llu bytes (zstd frame of %llu bytes, %.1f%%)\n",
		       (unsigned long long)in.file_size, (unsigned long long)in.compressed_size,
		       100.0 * (double)in.compressed_size / (double)in.file_size);
	else
		printf("size:       %llu bytes\n", (unsigned long long)in.file_size);
	printf("atoms:      %llu (%llu distinct entries)\nrules:      %llu\nsymbols:    %llu "
	       "(ids from %llu in name-hash order)\norder:      %llu runs\nshared:     %llu "
	       "sub-term records\n"
	       "names:      %llu distinct variable-name lists\n",
	       (unsigned long long)in.atoms, (unsigned long long)in.entries,
	       (unsigned long long)in.rules, (unsigned long long)in.symbols,
	       (unsigned long long)in.hashed, (unsigned long long)in.order_runs,
	       (unsigned long long)in.shared, (unsigned long long)in.name_lists);
	printf("sections:   %-9s %12s %12s %7s  %s\n", "name", "offset", "bytes", "share", "xxh3");
	for (int i = 0; i < MT_IMAGE_SECTIONS; i++) {
		const struct mt_image_section_info *s = &in.sections[i];
		printf("            %-9s %12llu %12llu %6.1f%%  %016llx\n", s->name,
		       (unsigned long long)s->offset, (unsigned long long)s->size,
		       100.0 * (double)s->size / (double)in.file_size,
		       (unsigned long long)s->checksum);
	}
	if (in.entries)
		printf("per entry:  %.1f bytes\n", (double)in.file_size / (double)in.entries);
	mt_image_close(img);
	return KBPROF_EXIT_OK;
}

/* ---- kb verify ---- */

int kb_verify(int argc, char **argv)
{
	const char *cmd = "kb verify";
	if (argc != 2)
		return cli_usage_error(cmd, "wants exactly one KB.kbi");
	struct mt_image *img;
	struct kb_error err;
	double t0 = now();
	if (mt_image_open(argv[1], MT_IMAGE_LAZY, &img, &err))
		return cli_fail(cmd, "%s", err.msg);
	if (mt_image_verify(img, &err)) {
		mt_image_close(img);
		return cli_fail(cmd, "%s", err.msg);
	}
	struct mt_image_info in;
	mt_image_get_info(img, &in);
	printf("%s: ok: %llu bytes, %d section checksums, %llu entries, %llu symbols, %llu shared "
	       "records and the index checked in %.3f s\n",
	       argv[1], (unsigned long long)in.file_size, MT_IMAGE_SECTIONS,
	       (unsigned long long)in.entries, (unsigned long long)in.symbols,
	       (unsigned long long)in.shared, now() - t0);
	mt_image_close(img);
	return KBPROF_EXIT_OK;
}
