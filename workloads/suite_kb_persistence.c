/* suite_kb_persistence: the seed's kb_persistence benchmarks, doing the
 * real work (see bench.h for the harness, docs/bench-json.md for the
 * results). Every KB is MeTTaTron's generated one (workloads/kbgen);
 * compiling means parse + intern + hash-cons + insert + index (core);
 * queries are evaluated (core/eval.h) and every result is checked against
 * its expected value (workloads/querymix); images are core/image.h's.
 *
 * Fixtures are shared through the suite state: for each generator size the
 * generated source (in memory, and as a file in the work directory) and its
 * image file, created on first use and released by the suite's fini. Each
 * benchmark owns what its setup builds and frees it in its teardown. */
#include "workloads/bench.h"
#include "workloads/kbgen.h"
#include "workloads/kbp_derive.h"
#include "workloads/measure.h"
#include "workloads/querymix.h"

#include "core/eval.h"
#include "core/image.h"
#include "core/parse.h"
#include "core/space.h"
#include "core/term.h"
#include "core/textio.h"
#include "kbprof/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Queries in the mix of the query benchmarks: every template of
 * workloads/querymix.c five times, with random function indexes. */
#define KBP_QUERIES 65

/* ---- fixtures ---- */

enum kbp_size { KBP_SMALL, KBP_MEDIUM, KBP_LARGE, KBP_1GB, KBP_NSIZES };

struct kbp_kb {
	uint64_t n;
	char *src; /* generated text (owned), NULL until first use */
	size_t len;
	char src_path[PATH_MAX];   /* "" until written */
	char image_path[PATH_MAX]; /* "" until written */
	struct mt_image_write_stats image_stats;
};

struct kbp_suite {
	struct kbp_kb kbs[KBP_NSIZES];
};

static int suite_init(void **state, const char *workdir, struct kb_error *err)
{
	(void)workdir;
	struct kbp_suite *s = calloc(1, sizeof *s);
	if (!s)
		return kb_error_set(err, "out of memory");
	s->kbs[KBP_SMALL].n = 10000;
	s->kbs[KBP_MEDIUM].n = 100000;
	s->kbs[KBP_LARGE].n = 1000000;
	s->kbs[KBP_1GB].n = kbp_gigabyte_n();
	*state = s;
	return 0;
}

static void kb_drop_source(struct kbp_kb *kb)
{
	free(kb->src);
	kb->src = NULL;
	kb->len = 0;
}

static void kb_release(struct kbp_kb *kb)
{
	kb_drop_source(kb);
	if (kb->src_path[0])
		unlink(kb->src_path);
	if (kb->image_path[0])
		unlink(kb->image_path);
	kb->src_path[0] = kb->image_path[0] = '\0';
}

static void suite_fini(void *state)
{
	struct kbp_suite *s = state;
	if (!s)
		return;
	for (int i = 0; i < KBP_NSIZES; i++)
		kb_release(&s->kbs[i]);
	free(s);
}

static struct kbp_kb *fixture(struct bench_ctx *ctx, enum kbp_size size)
{
	struct kbp_suite *s = bench_suite_state(ctx);
	return &s->kbs[size];
}

static void kb_facts(struct bench_ctx *ctx, const struct kbp_kb *kb)
{
	bench_fact(ctx, "source_bytes", "bytes", (double)kbgen_size(kb->n));
	bench_fact(ctx, "rules", "rules", (double)kbgen_rule_count(kb->n));
}

/* The generated source in memory. */
static int kb_source(struct bench_ctx *ctx, struct kbp_kb *kb)
{
	kb_facts(ctx, kb);
	if (kb->src)
		return 0;
	kb->src = kbgen_generate(kb->n, &kb->len);
	if (!kb->src)
		return bench_fail(ctx, "generating the KB (n = %llu): %s",
				  (unsigned long long)kb->n, strerror(errno));
	return 0;
}

/* The generated source as a file in the work directory (written from the
 * generator in chunks, so the text need not be held in memory). */
static int kb_source_file(struct bench_ctx *ctx, struct kbp_kb *kb)
{
	kb_facts(ctx, kb);
	if (kb->src_path[0])
		return 0;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/kb_%llu.metta", bench_workdir(ctx),
		 (unsigned long long)kb->n);
	FILE *f = fopen(path, "w");
	if (!f)
		return bench_fail(ctx, "%s: %s", path, strerror(errno));
	int rc = kbgen_write(f, kb->n);
	int saved = errno;
	if (fclose(f) != 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	if (rc) {
		unlink(path);
		return bench_fail(ctx, "%s: %s", path, strerror(saved));
	}
	snprintf(kb->src_path, sizeof kb->src_path, "%s", path);
	return 0;
}

/* ---- compiling: parse + intern + hash-cons + insert + index (core/textio) ---- */

struct kbp_compiled {
	struct mt_store *store;
	struct mt_space *space;
	struct kb_error err;
};

static void compiled_free(struct kbp_compiled *c)
{
	mt_space_free(c->space);
	mt_store_free(c->store);
	c->space = NULL;
	c->store = NULL;
}

/* Compiles source text (path != NULL: the file at path) into *c. 0, or -1
 * with c->err set and nothing left allocated. For a caller without a
 * bench context (a measuring child); others call compile(). */
static int compile_into(const char *text, size_t len, const char *path, struct kbp_compiled *c)
{
	memset(c, 0, sizeof *c);
	c->store = mt_store_new();
	c->space = c->store ? mt_space_new(c->store) : NULL;
	int rc = !c->space ? kb_error_set(&c->err, "out of memory creating a store")
		 : path    ? mt_textio_load_file(c->space, path, MT_BANG_REJECT, NULL, &c->err)
			: mt_textio_load_buffer(c->space, text, len, "<generated>", MT_BANG_REJECT,
						NULL, &c->err);
	if (rc)
		compiled_free(c);
	return rc ? -1 : 0;
}

/* compile_into, with a failure reported to the bench. */
static int compile(struct bench_ctx *ctx, const char *text, size_t len, const char *path,
		   struct kbp_compiled *c)
{
	if (compile_into(text, len, path, c))
		return bench_fail(ctx, "compiling: %s", c->err.msg);
	return 0;
}

/* The rule count must be what the generator wrote: a KB that lost rules
 * would make every other figure meaningless. */
static int check_rules(struct bench_ctx *ctx, const struct mt_space *space, uint64_t n)
{
	uint64_t want = kbgen_rule_count(n), got = mt_space_rules(space);
	if (got != want)
		return bench_fail(ctx, "the KB has %llu rules, the generator wrote %llu",
				  (unsigned long long)got, (unsigned long long)want);
	return 0;
}

/* The image file of a KB (compiled and written on first use). */
static int kb_image(struct bench_ctx *ctx, struct kbp_kb *kb)
{
	if (kb->image_path[0])
		return 0;
	int had_src = kb->src != NULL;
	if (kb_source(ctx, kb))
		return -1;
	struct kbp_compiled c;
	if (compile(ctx, kb->src, kb->len, NULL, &c))
		return -1;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/kb_%llu.kbi", bench_workdir(ctx),
		 (unsigned long long)kb->n);
	struct kb_error err;
	int rc = mt_image_write(c.space, path, NULL, &kb->image_stats, &err);
	compiled_free(&c);
	if (!had_src && kb->n > 1000000)
		kb_drop_source(kb); /* the 1 GB text is not kept once its image exists */
	if (rc)
		return bench_fail(ctx, "writing the image: %s", err.msg);
	snprintf(kb->image_path, sizeof kb->image_path, "%s", path);
	return 0;
}

static int compile_setup(struct bench_ctx *ctx, enum kbp_size size, void **state)
{
	struct kbp_kb *kb = fixture(ctx, size);
	if (kb_source(ctx, kb))
		return -1;
	/* one untimed compile to check the result and record the KB's facts */
	struct kbp_compiled c;
	if (compile(ctx, kb->src, kb->len, NULL, &c))
		return -1;
	int rc = check_rules(ctx, c.space, kb->n);
	bench_fact(ctx, "atoms", "atoms", (double)mt_space_size(c.space));
	bench_fact(ctx, "distinct_symbols", "symbols", (double)mt_sym_count(c.store));
	bench_fact(ctx, "distinct_expressions", "expressions",
		   (double)mt_store_expr_count(c.store));
	bench_fact(ctx, "store_bytes", "bytes", (double)mt_store_bytes(c.store));
	bench_fact(ctx, "space_bytes", "bytes", (double)mt_space_bytes(c.space));
	compiled_free(&c);
	*state = kb;
	return rc;
}

static int compile_small_setup(struct bench_ctx *ctx, void **state)
{
	return compile_setup(ctx, KBP_SMALL, state);
}
static int compile_medium_setup(struct bench_ctx *ctx, void **state)
{
	return compile_setup(ctx, KBP_MEDIUM, state);
}
static int compile_large_setup(struct bench_ctx *ctx, void **state)
{
	return compile_setup(ctx, KBP_LARGE, state);
}

static int compile_sample(struct bench_ctx *ctx, void *state)
{
	struct kbp_kb *kb = state;
	struct kbp_compiled c;
	bench_clock_start(ctx);
	if (compile(ctx, kb->src, kb->len, NULL, &c))
		return -1;
	bench_clock_stop(ctx, 0);
	compiled_free(&c); /* untimed */
	return 0;
}

static const struct bench_metric_def compile_metrics[] = {
    {"time", "ns", "parse + intern + hash-cons + insert + index the whole source, from memory"},
};

/* ---- queries: the seeded mix, run and checked ---- */

struct kbp_querier {
	struct qmix mix;
	struct kb_buf *out; /* per query: its results printed, one per line */
	size_t *nresults;
	struct kb_buf canon;
};

static int querier_init(struct bench_ctx *ctx, struct kbp_querier *q, uint64_t kb_n, size_t count)
{
	memset(q, 0, sizeof *q);
	if (qmix_build(&q->mix, kb_n, count, QMIX_DEFAULT_SEED))
		return bench_fail(ctx, "out of memory building the query mix");
	q->out = calloc(count, sizeof *q->out);
	q->nresults = calloc(count, sizeof *q->nresults);
	if (!q->out || !q->nresults)
		return bench_fail(ctx, "out of memory for the query results");
	bench_fact(ctx, "queries", "queries", (double)count);
	return 0;
}

static void querier_free(struct kbp_querier *q)
{
	for (size_t i = 0; q->out && i < q->mix.n; i++)
		kb_buf_free(&q->out[i]);
	free(q->out);
	free(q->nresults);
	kb_buf_free(&q->canon);
	qmix_free(&q->mix);
}

/* Parses and evaluates query i, printing every result into q->out[i]
 * (consuming the results is part of answering). The check is separate
 * (querier_check), so callers can keep it out of the timed part. */
static int query_run(struct bench_ctx *ctx, struct kbp_querier *q, size_t i, struct mt_space *sp,
		     struct mt_eval_ctx *ev)
{
	struct mt_store *store = mt_space_store(sp);
	const char *text = q->mix.q[i].text;
	struct kb_error err;
	mt_term query;
	if (mt_parse_one(store, text, strlen(text), &query, &err))
		return bench_fail(ctx, "query %s: %s", text, err.msg);
	struct mt_eval_it *it = mt_eval_start(ev, query, NULL, &err);
	if (!it)
		return bench_fail(ctx, "query %s: %s", text, err.msg);
	kb_buf_reset(&q->out[i]);
	q->nresults[i] = 0;
	mt_term r;
	int rc;
	while ((rc = mt_eval_next(it, &r)) == 1) {
		mt_print(store, r, NULL, &q->out[i]);
		kb_buf_putc(&q->out[i], '\n');
		q->nresults[i]++;
	}
	if (rc < 0) {
		bench_fail(ctx, "query %s: %s", text, mt_eval_error(it));
		mt_eval_teardown(it);
		return -1;
	}
	mt_eval_teardown(it);
	if (q->out[i].oom)
		return bench_fail(ctx, "query %s: out of memory printing results", text);
	return 0;
}

/* Checks query i's printed results against the expected ones; a mismatch
 * fails the benchmark with both. */
static int query_check(struct bench_ctx *ctx, struct kbp_querier *q, size_t i)
{
	char *results[16];
	size_t n = 0;
	char *text = q->out[i].data;
	kb_buf_reset(&q->canon);
	/* canonical forms, NUL-separated, in q->canon */
	size_t offsets[16];
	for (char *line = text; line && *line && n < 16;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		offsets[n++] = q->canon.len;
		qmix_canonical(line, &q->canon);
		kb_buf_putc(&q->canon, '\0');
		if (nl)
			*nl = '\n';
		line = nl ? nl + 1 : NULL;
	}
	if (q->canon.oom)
		return bench_fail(ctx, "out of memory checking results");
	for (size_t k = 0; k < n; k++)
		results[k] = q->canon.data + offsets[k];
	char msg[1024];
	if (qmix_check(&q->mix.q[i], results, q->nresults[i] < 16 ? q->nresults[i] : 16, msg,
		       sizeof msg) != 0 ||
	    q->nresults[i] != n)
		return bench_fail(ctx, "wrong result: %s", msg);
	return 0;
}

/* Runs queries [from, to) and checks them; returns the ns of the runs
 * (checks excluded), or -1, and puts their CPU time in *cpu_ns. */
static double query_range(struct bench_ctx *ctx, struct kbp_querier *q, size_t from, size_t to,
			  struct mt_space *sp, struct mt_eval_ctx *ev, double *cpu_ns)
{
	double ns = 0;
	*cpu_ns = 0;
	for (size_t i = from; i < to; i++) {
		uint64_t c0 = bench_cpu_now_ns(), t0 = bench_now_ns();
		if (query_run(ctx, q, i, sp, ev))
			return -1;
		ns += (double)(bench_now_ns() - t0);
		*cpu_ns += (double)(bench_cpu_now_ns() - c0);
		if (query_check(ctx, q, i))
			return -1;
	}
	return ns;
}

/* ---- memory footprint ---- */

static const struct bench_metric_def memory_metrics[] = {
    {"rss_growth", "bytes",
     "VmRSS after compiling minus before (the source text excluded), in a fresh child process"},
    {"rss_peak_growth", "bytes", "VmHWM while compiling minus VmRSS before, same child"},
    {"bytes_per_rule", "bytes/rule", "rss_growth / rules"},
    {"image_rss", "bytes",
     "VmRSS growth after opening the image and reading every page of it (lazy open)"},
    {"image_bytes_per_rule", "bytes/rule", "image_rss / rules"},
};

static int memory_setup(struct bench_ctx *ctx, enum kbp_size size, void **state)
{
	if (compile_setup(ctx, size, state))
		return -1;
	struct kbp_kb *kb = *state;
	if (kb_image(ctx, kb))
		return -1;
	bench_fact(ctx, "image_bytes", "bytes", (double)kb->image_stats.image_bytes);
	return 0;
}
static int memory_small_setup(struct bench_ctx *ctx, void **state)
{
	return memory_setup(ctx, KBP_SMALL, state);
}
static int memory_medium_setup(struct bench_ctx *ctx, void **state)
{
	return memory_setup(ctx, KBP_MEDIUM, state);
}

/* What compiling a KB costs in memory, measured in a child (a fork) whose
 * allocator starts as a new program's does: in this long-lived process,
 * memory glibc kept from earlier benchmarks would hide growth, and its mmap
 * threshold (raised to as much as 32 MiB by freeing big blocks) would send
 * the compile's arrays to the brk heap, where growing them fragments it. */
struct compile_mem {
	double growth, peak, rules;
	char error[1200];
};

static int warm_up_add(void *space, mt_term atom, int bang, const struct mt_varnames *names,
		       struct mt_srcpos where)
{
	(void)bang;
	(void)where;
	return mt_space_add(space, atom, names, NULL) < 0;
}

/* Compiles the 4,000-rule generated KB with the thread count a load of
 * `len` bytes gets, and frees it: run in the child before its baseline, so
 * that the code the compile runs is mapped. A forked child has no
 * page-table entries for the parent's file-backed code, and faulting it in
 * (16 pages per fault, with the kernel's fault-around) would count as the
 * measured compile's growth: 0.1 MB on every KB size. 0, or -1 with err
 * set. */
static int compile_warm_up(size_t len, struct kb_error *err)
{
	size_t n;
	char *text = kbgen_generate(1000, &n);
	if (!text)
		return kb_error_set(err, "cannot generate the warm-up KB");
	struct mt_store *st = mt_store_new();
	struct mt_space *sp = st ? mt_space_new(st) : NULL;
	struct mt_parse_opts o = {.filename = "<warm-up>", .threads = mt_parse_threads_for(len)};
	int rc = !sp ? kb_error_set(err, "out of memory creating a store")
		     : mt_parse_buffer(st, text, n, &o, warm_up_add, sp, err);
	if (rc > 0) /* warm_up_add stopped the parse */
		rc = kb_error_set(err, "warm-up: out of memory adding atoms");
	mt_space_free(sp);
	mt_store_free(st);
	free(text);
	return rc;
}

/* The child's part (through meas_in_child): arg the KB, out a struct
 * compile_mem. */
static void compile_mem_child(void *arg, void *out)
{
	const struct kbp_kb *kb = arg;
	struct compile_mem *m = out;
	memset(m, 0, sizeof *m);
	mallopt(M_MMAP_THRESHOLD, 128 * 1024); /* glibc's initial threshold */
	struct meas_mem before, after;
	struct kb_error err;
	struct kbp_compiled c;
	if (compile_warm_up(kb->len, &err) || meas_hwm_reset(&err) ||
	    meas_mem_read(&before, &err)) {
		snprintf(m->error, sizeof m->error, "%s", err.msg);
		return;
	}
	if (compile_into(kb->src, kb->len, NULL, &c)) {
		snprintf(m->error, sizeof m->error, "compiling: %s", c.err.msg);
		return;
	}
	if (meas_mem_read(&after, &err)) {
		snprintf(m->error, sizeof m->error, "%s", err.msg);
	} else {
		m->growth = (double)after.rss - (double)before.rss;
		m->peak = (double)after.hwm - (double)before.rss;
		m->rules = (double)mt_space_rules(c.space);
	}
	compiled_free(&c);
}

static int compile_mem(struct bench_ctx *ctx, const struct kbp_kb *kb, struct compile_mem *m)
{
	struct kb_error err;
	if (meas_in_child(compile_mem_child, (void *)kb, m, sizeof *m, &err))
		return bench_fail(ctx, "%s", err.msg);
	if (m->error[0])
		return bench_fail(ctx, "%s", m->error);
	return 0;
}

static int memory_sample(struct bench_ctx *ctx, void *state)
{
	struct kbp_kb *kb = state;
	struct meas_mem before, after;
	struct kb_error err;
	struct compile_mem cm;
	if (compile_mem(ctx, kb, &cm))
		return -1;
	if (cm.rules != (double)kbgen_rule_count(kb->n))
		return bench_fail(ctx, "the compiled KB has %.0f rules, the generator wrote %llu",
				  cm.rules, (unsigned long long)kbgen_rule_count(kb->n));
	double rules = cm.rules, growth;
	bench_record(ctx, 0, cm.growth);
	bench_record(ctx, 1, cm.peak);
	bench_record(ctx, 2, cm.growth / rules);

	/* the same KB as an opened image, every page read */
	struct mt_image_kb ik;
	if (meas_hwm_reset(&err) || meas_mem_read(&before, &err))
		return bench_fail(ctx, "%s", err.msg);
	if (mt_image_kb_open(kb->image_path, MT_IMAGE_LAZY, &ik, &err))
		return bench_fail(ctx, "%s", err.msg);
	size_t len;
	const void *bytes = mt_image_bytes(ik.image, &len);
	meas_touch_pages(bytes, len);
	int rc = meas_mem_read(&after, &err);
	if (rc)
		bench_fail(ctx, "%s", err.msg);
	else
		rc = check_rules(ctx, ik.space, kb->n);
	mt_image_kb_close(&ik);
	if (rc)
		return -1;
	growth = (double)after.rss - (double)before.rss;
	bench_record(ctx, 3, growth);
	bench_record(ctx, 4, growth / rules);
	return 0;
}

/* ---- serialization: text dump and image, written and read back ---- */

struct kbp_serial_state {
	struct kbp_kb *kb;
	struct kbp_compiled c;
	char text_path[PATH_MAX], image_path[PATH_MAX];
	uint64_t atoms;
};

static void serial_teardown(void *state)
{
	struct kbp_serial_state *s = state;
	compiled_free(&s->c);
	unlink(s->text_path);
	unlink(s->image_path);
	free(s);
}

/* Writes the canonical text dump of the space to path. */
static int dump_text(struct bench_ctx *ctx, const struct mt_space *space, const char *path)
{
	struct kb_error err;
	FILE *f = fopen(path, "w");
	if (!f)
		return bench_fail(ctx, "%s: %s", path, strerror(errno));
	int rc = mt_textio_dump(space, f, path, &err);
	if (fclose(f) != 0 && rc == 0)
		return bench_fail(ctx, "%s: %s", path, strerror(errno));
	return rc ? bench_fail(ctx, "%s", err.msg) : 0;
}

static int serial_setup(struct bench_ctx *ctx, void **state)
{
	struct kbp_serial_state *s = calloc(1, sizeof *s);
	if (!s)
		return bench_fail(ctx, "out of memory");
	*state = s;
	s->kb = fixture(ctx, KBP_SMALL);
	snprintf(s->text_path, sizeof s->text_path, "%s/serial.metta", bench_workdir(ctx));
	snprintf(s->image_path, sizeof s->image_path, "%s/serial.kbi", bench_workdir(ctx));
	if (kb_source(ctx, s->kb) || compile(ctx, s->kb->src, s->kb->len, NULL, &s->c) ||
	    check_rules(ctx, s->c.space, s->kb->n))
		return -1;
	s->atoms = mt_space_size(s->c.space);
	/* sizes: the dump, the image, and the image's zstd form */
	struct mt_image_write_stats st;
	struct mt_image_write_opts zo = {.zstd = 1};
	struct kb_error err;
	char zpath[PATH_MAX + 8];
	snprintf(zpath, sizeof zpath, "%s.zst", s->image_path);
	if (dump_text(ctx, s->c.space, s->text_path))
		return -1;
	if (mt_image_write(s->c.space, zpath, &zo, &st, &err)) {
		unlink(zpath);
		return bench_fail(ctx, "writing the compressed image: %s", err.msg);
	}
	unlink(zpath);
	bench_fact(ctx, "image_zstd_bytes", "bytes", (double)st.file_bytes);
	if (mt_image_write(s->c.space, s->image_path, NULL, &st, &err))
		return bench_fail(ctx, "writing the image: %s", err.msg);
	bench_fact(ctx, "image_bytes", "bytes", (double)st.file_bytes);
	int64_t text = meas_file_size(s->text_path, &err);
	if (text < 0)
		return bench_fail(ctx, "%s", err.msg);
	bench_fact(ctx, "text_bytes", "bytes", (double)text);
	return 0;
}

static const struct bench_metric_def serialize_metrics[] = {
    {"text_dump_write", "ns", "canonical MeTTa text dump of the KB written to a file (no fsync)"},
    {"image_write", "ns", "image written: temporary file, fsync, rename, directory fsync"},
};

static int serialize_sample(struct bench_ctx *ctx, void *state)
{
	struct kbp_serial_state *s = state;
	struct kb_error err;
	bench_clock_start(ctx);
	if (dump_text(ctx, s->c.space, s->text_path))
		return -1;
	bench_clock_stop(ctx, 0);
	bench_clock_start(ctx);
	if (mt_image_write(s->c.space, s->image_path, NULL, NULL, &err))
		return bench_fail(ctx, "writing the image: %s", err.msg);
	bench_clock_stop(ctx, 1);
	return 0;
}

static const struct bench_metric_def deserialize_metrics[] = {
    {"text_read_parse", "ns",
     "the dump read and parsed back into a new KB (parse + intern + hash-cons + insert + "
     "index); atom and rule counts checked"},
    {"image_open", "ns", "the image opened for querying (lazy mmap, header and section checks)"},
};

static int deserialize_sample(struct bench_ctx *ctx, void *state)
{
	struct kbp_serial_state *s = state;
	struct kbp_compiled back;
	struct kb_error err;
	bench_clock_start(ctx);
	if (compile(ctx, NULL, 0, s->text_path, &back))
		return -1;
	bench_clock_stop(ctx, 0);
	uint64_t atoms = mt_space_size(back.space);
	int rc = check_rules(ctx, back.space, s->kb->n);
	compiled_free(&back);
	if (rc)
		return -1;
	if (atoms != s->atoms)
		return bench_fail(ctx, "the dump read back holds %llu atoms, the KB %llu",
				  (unsigned long long)atoms, (unsigned long long)s->atoms);
	struct mt_image_kb ik;
	bench_clock_start(ctx);
	if (mt_image_kb_open(s->image_path, MT_IMAGE_LAZY, &ik, &err))
		return bench_fail(ctx, "%s", err.msg);
	bench_clock_stop(ctx, 1);
	rc = check_rules(ctx, ik.space, s->kb->n);
	mt_image_kb_close(&ik);
	return rc;
}

/* ---- query: cold (image evicted) and warm (repeated) ---- */

struct kbp_query_state {
	struct kbp_kb *kb;
	struct kbp_querier q;
	struct mt_image_kb ik; /* warm: opened once in setup */
	struct mt_eval_ctx *ev;
	struct kbp_compiled mem; /* warm: the same KB compiled in memory */
	struct mt_eval_ctx *mem_ev;
};

static void query_teardown(void *state)
{
	struct kbp_query_state *s = state;
	mt_eval_ctx_free(s->ev);
	mt_eval_ctx_free(s->mem_ev);
	if (s->ik.image)
		mt_image_kb_close(&s->ik);
	compiled_free(&s->mem);
	querier_free(&s->q);
	free(s);
}

static int query_setup_common(struct bench_ctx *ctx, void **state)
{
	struct kbp_query_state *s = calloc(1, sizeof *s);
	if (!s)
		return bench_fail(ctx, "out of memory");
	*state = s;
	s->kb = fixture(ctx, KBP_SMALL);
	if (kb_image(ctx, s->kb) || querier_init(ctx, &s->q, s->kb->n, KBP_QUERIES))
		return -1;
	bench_fact(ctx, "image_bytes", "bytes", (double)s->kb->image_stats.image_bytes);
	uint64_t res, pages;
	struct kb_error err;
	if (meas_file_residency(s->kb->image_path, &res, &pages, &err))
		return bench_fail(ctx, "%s", err.msg);
	bench_fact(ctx, "image_pages", "pages", (double)pages);
	return 0;
}

static const struct bench_metric_def cold_metrics[] = {
    {"first_query", "ns",
     "the first query of the mix, right after a lazy open of the evicted image"},
    {"mix", "ns", "the whole mix (first query included), cold"},
    {"open", "ns", "lazy open of the evicted image (mmap, header and section checks)"},
    {"major_faults", "faults", "major faults during open + mix (getrusage)"},
    {"minor_faults", "faults", "minor faults during open + mix (getrusage)"},
    {"resident_after_evict", "pages", "image pages still in the page cache after eviction"},
    {"rss_after_mix", "bytes", "VmRSS growth from before the open to after the mix"},
    {"open_populated", "ns",
     "evicted again, opened with populate (MAP_POPULATE + WILLNEED: the image is read in)"},
    {"mix_populated", "ns", "the whole mix after that populated open"},
    {"mix_cached", "ns",
     "the whole mix after a fresh lazy open with the image still in the page cache"},
};

static int evict(struct bench_ctx *ctx, const char *path)
{
	uint64_t res, pages;
	struct kb_error err;
	if (meas_evict_file(path, &res, &pages, &err))
		return bench_fail(ctx, "%s", err.msg);
	return (int)res;
}

/* Opens the image (load mode `load`), runs the whole mix; the open and
 * the mix are timed apart, wall ([0]) and CPU ([1]) time. */
static int fresh_mix(struct bench_ctx *ctx, struct kbp_query_state *s, enum mt_image_load load,
		     double open_ns[2], double mix_ns[2])
{
	struct mt_image_kb ik;
	struct kb_error err;
	uint64_t c0 = bench_cpu_now_ns(), t0 = bench_now_ns();
	if (mt_image_kb_open(s->kb->image_path, load, &ik, &err))
		return bench_fail(ctx, "%s", err.msg);
	open_ns[0] = (double)(bench_now_ns() - t0);
	open_ns[1] = (double)(bench_cpu_now_ns() - c0);
	struct mt_eval_ctx *ev = mt_eval_ctx_new(ik.space, NULL);
	*mix_ns = ev ? query_range(ctx, &s->q, 0, s->q.mix.n, ik.space, ev, &mix_ns[1])
		     : bench_fail(ctx, "out of memory");
	mt_eval_ctx_free(ev);
	mt_image_kb_close(&ik);
	return *mix_ns < 0 ? -1 : 0;
}

static int cold_sample(struct bench_ctx *ctx, void *state)
{
	struct kbp_query_state *s = state;
	struct kb_error err;
	struct meas_mem m0, m1;
	struct meas_faults f0, f1;
	int resident = evict(ctx, s->kb->image_path);
	if (resident < 0)
		return -1;
	if (meas_hwm_reset(&err) || meas_mem_read(&m0, &err))
		return bench_fail(ctx, "%s", err.msg);
	meas_faults_read(&f0);
	struct mt_image_kb ik;
	bench_clock_start(ctx);
	if (mt_image_kb_open(s->kb->image_path, MT_IMAGE_LAZY, &ik, &err))
		return bench_fail(ctx, "%s", err.msg);
	bench_clock_stop(ctx, 2);
	struct mt_eval_ctx *ev = mt_eval_ctx_new(ik.space, NULL);
	if (!ev) {
		mt_image_kb_close(&ik);
		return bench_fail(ctx, "out of memory");
	}
	double first_cpu, rest_cpu = 0;
	double first = query_range(ctx, &s->q, 0, 1, ik.space, ev, &first_cpu);
	double rest =
	    first < 0 ? -1 : query_range(ctx, &s->q, 1, s->q.mix.n, ik.space, ev, &rest_cpu);
	meas_faults_read(&f1);
	int rc = meas_mem_read(&m1, &err);
	if (mt_image_kb_status(&ik, &err) && !rc)
		rc = bench_fail(ctx, "image: %s", err.msg);
	mt_eval_ctx_free(ev);
	mt_image_kb_close(&ik);
	if (first < 0 || rest < 0)
		return -1;
	if (rc)
		return bench_fail(ctx, "%s", err.msg);
	bench_record(ctx, 0, first);
	bench_record_cpu(ctx, 0, first_cpu);
	bench_record(ctx, 1, first + rest);
	bench_record_cpu(ctx, 1, first_cpu + rest_cpu);
	bench_record(ctx, 3, (double)(f1.major - f0.major));
	bench_record(ctx, 4, (double)(f1.minor - f0.minor));
	bench_record(ctx, 5, resident);
	bench_record(ctx, 6, (double)m1.rss - (double)m0.rss);

	/* a fresh open again, the page cache now warm: what is left of the
	 * gap to the repeated (warm) mix is first-use work, not I/O */
	double open_ns[2], all[2];
	if (fresh_mix(ctx, s, MT_IMAGE_LAZY, open_ns, all))
		return -1;
	bench_record(ctx, 9, all[0]);
	bench_record_cpu(ctx, 9, all[1]);
	/* populated: evicted again, the image read in at open */
	if (evict(ctx, s->kb->image_path) < 0 || fresh_mix(ctx, s, MT_IMAGE_POPULATE, open_ns, all))
		return -1;
	bench_record(ctx, 7, open_ns[0]);
	bench_record_cpu(ctx, 7, open_ns[1]);
	bench_record(ctx, 8, all[0]);
	bench_record_cpu(ctx, 8, all[1]);
	return 0;
}

static const struct bench_metric_def warm_metrics[] = {
    {"first_query", "ns", "the first query of the mix, repeated on the opened image"},
    {"mix", "ns", "the whole mix, repeated on the opened image"},
    {"per_query", "ns", "mix / number of queries"},
    {"mix_in_memory", "ns", "the same mix on the KB compiled in memory (same results checked)"},
};

static int warm_setup(struct bench_ctx *ctx, void **state)
{
	if (query_setup_common(ctx, state))
		return -1;
	struct kbp_query_state *s = *state;
	struct kb_error err;
	if (mt_image_kb_open(s->kb->image_path, MT_IMAGE_LAZY, &s->ik, &err))
		return bench_fail(ctx, "%s", err.msg);
	s->ev = mt_eval_ctx_new(s->ik.space, NULL);
	if (!s->ev)
		return bench_fail(ctx, "out of memory");
	if (kb_source(ctx, s->kb) || compile(ctx, s->kb->src, s->kb->len, NULL, &s->mem))
		return -1;
	s->mem_ev = mt_eval_ctx_new(s->mem.space, NULL);
	if (!s->mem_ev)
		return bench_fail(ctx, "out of memory");
	return 0;
}

static int warm_sample(struct bench_ctx *ctx, void *state)
{
	struct kbp_query_state *s = state;
	double first_cpu, rest_cpu = 0, mem_cpu;
	double first = query_range(ctx, &s->q, 0, 1, s->ik.space, s->ev, &first_cpu);
	double rest =
	    first < 0 ? -1 : query_range(ctx, &s->q, 1, s->q.mix.n, s->ik.space, s->ev, &rest_cpu);
	if (first < 0 || rest < 0)
		return -1;
	double mem = query_range(ctx, &s->q, 0, s->q.mix.n, s->mem.space, s->mem_ev, &mem_cpu);
	if (mem < 0)
		return -1;
	bench_record(ctx, 0, first);
	bench_record_cpu(ctx, 0, first_cpu);
	bench_record(ctx, 1, first + rest);
	bench_record_cpu(ctx, 1, first_cpu + rest_cpu);
	bench_record(ctx, 2, (first + rest) / (double)s->q.mix.n);
	bench_record_cpu(ctx, 2, (first_cpu + rest_cpu) / (double)s->q.mix.n);
	bench_record(ctx, 3, mem);
	bench_record_cpu(ctx, 3, mem_cpu);
	return 0;
}

/* ---- start-up: source or image to ready-to-query ---- */

static const struct bench_metric_def startup_metrics[] = {
    {"from_source", "ns", "read the source file + parse + compile + first query answered"},
    {"from_image", "ns", "open the image (lazy) + first query answered, page cache warm"},
    {"from_image_cold", "ns", "the same with the image evicted from the page cache first"},
    {"faults_source", "faults", "page faults (minor + major) of from_source"},
    {"faults_image", "faults", "page faults (minor + major) of from_image"},
};

struct kbp_startup_state {
	struct kbp_kb *kb;
	struct kbp_querier q; /* one query: the first of the mix */
};

static void startup_teardown(void *state)
{
	struct kbp_startup_state *s = state;
	querier_free(&s->q);
	free(s);
}

static int startup_setup(struct bench_ctx *ctx, enum kbp_size size, void **state)
{
	struct kbp_startup_state *s = calloc(1, sizeof *s);
	if (!s)
		return bench_fail(ctx, "out of memory");
	*state = s;
	s->kb = fixture(ctx, size);
	if (size == KBP_1GB) {
		/* source, image and the compile's memory must fit */
		struct statvfs vfs;
		uint64_t need = kbgen_size(s->kb->n) * 3;
		if (statvfs(bench_workdir(ctx), &vfs) == 0 &&
		    (uint64_t)vfs.f_bavail * vfs.f_frsize < need)
			return bench_skip(ctx,
					  "not enough free disk for a 1 GB KB (%llu bytes needed)",
					  (unsigned long long)need);
		long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
		if (pages > 0 && (uint64_t)pages * (uint64_t)psz < need * 3)
			return bench_skip(ctx, "not enough free memory to compile a 1 GB KB");
	}
	if (size != KBP_1GB && kb_source_file(ctx, s->kb))
		return -1;
	if (size == KBP_1GB && !s->kb->image_path[0]) {
		/* compiling 1 GB of source is measured once, as the image is made */
		uint64_t t0 = bench_now_ns();
		if (kb_image(ctx, s->kb))
			return -1;
		bench_fact(ctx, "compile_and_image_write_ns", "ns", (double)(bench_now_ns() - t0));
	}
	if (kb_image(ctx, s->kb) || querier_init(ctx, &s->q, s->kb->n, 1))
		return -1;
	kb_facts(ctx, s->kb);
	bench_fact(ctx, "image_bytes", "bytes", (double)s->kb->image_stats.image_bytes);
	return 0;
}
static int startup_small_setup(struct bench_ctx *ctx, void **state)
{
	return startup_setup(ctx, KBP_SMALL, state);
}
static int startup_medium_setup(struct bench_ctx *ctx, void **state)
{
	return startup_setup(ctx, KBP_MEDIUM, state);
}
static int startup_large_setup(struct bench_ctx *ctx, void **state)
{
	return startup_setup(ctx, KBP_LARGE, state);
}
static int startup_1gb_setup(struct bench_ctx *ctx, void **state)
{
	return startup_setup(ctx, KBP_1GB, state);
}

static int startup_from_image(struct bench_ctx *ctx, struct kbp_startup_state *s, unsigned metric,
			      unsigned faults_metric)
{
	struct mt_image_kb ik;
	struct kb_error err;
	struct meas_faults f0, f1;
	meas_faults_read(&f0);
	bench_clock_start(ctx);
	if (mt_image_kb_open(s->kb->image_path, MT_IMAGE_LAZY, &ik, &err))
		return bench_fail(ctx, "%s", err.msg);
	struct mt_eval_ctx *ev = mt_eval_ctx_new(ik.space, NULL);
	int rc = ev ? query_run(ctx, &s->q, 0, ik.space, ev) : bench_fail(ctx, "out of memory");
	if (rc == 0)
		bench_clock_stop(ctx, metric);
	meas_faults_read(&f1);
	mt_eval_ctx_free(ev);
	mt_image_kb_close(&ik);
	if (rc || query_check(ctx, &s->q, 0))
		return -1;
	if (faults_metric < BENCH_MAX_METRICS)
		bench_record(ctx, faults_metric,
			     (double)(f1.minor - f0.minor + f1.major - f0.major));
	return 0;
}

static int startup_sample(struct bench_ctx *ctx, void *state)
{
	struct kbp_startup_state *s = state;
	struct kbp_compiled c;
	struct meas_faults f0, f1;
	meas_faults_read(&f0);
	bench_clock_start(ctx);
	if (compile(ctx, NULL, 0, s->kb->src_path, &c))
		return -1;
	struct mt_eval_ctx *ev = mt_eval_ctx_new(c.space, NULL);
	int rc = ev ? query_run(ctx, &s->q, 0, c.space, ev) : bench_fail(ctx, "out of memory");
	if (rc == 0)
		bench_clock_stop(ctx, 0);
	meas_faults_read(&f1);
	mt_eval_ctx_free(ev);
	rc = rc ? rc : check_rules(ctx, c.space, s->kb->n);
	compiled_free(&c);
	if (rc || query_check(ctx, &s->q, 0))
		return -1;
	bench_record(ctx, 3, (double)(f1.minor - f0.minor + f1.major - f0.major));

	if (startup_from_image(ctx, s, 1, 4))
		return -1;
	if (evict(ctx, s->kb->image_path) < 0)
		return -1;
	return startup_from_image(ctx, s, 2, BENCH_MAX_METRICS);
}

static const struct bench_metric_def startup_1gb_metrics[] = {
    {"from_image", "ns", "open the image (lazy) + first query answered, page cache warm"},
    {"from_image_cold", "ns", "the same with the image evicted from the page cache first"},
    {"faults_image", "faults", "page faults (minor + major) of from_image"},
};

/* The 1 GB KB: start-up from its image only (compiling its source once,
 * to write the image, is recorded as a fact). */
static int startup_1gb_sample(struct bench_ctx *ctx, void *state)
{
	struct kbp_startup_state *s = state;
	if (startup_from_image(ctx, s, 0, 2))
		return -1;
	if (evict(ctx, s->kb->image_path) < 0)
		return -1;
	return startup_from_image(ctx, s, 1, BENCH_MAX_METRICS);
}

#define METRICS(m) m, (unsigned)(sizeof m / sizeof m[0])

static const struct bench_def defs[] = {
    {"compile_small_kb", "compilation", "compile the small KB's source (from memory)", 100, 20, 3,
     10000, METRICS(compile_metrics), compile_small_setup, compile_sample, NULL},
    {"compile_medium_kb", "compilation", "compile the medium KB's source (from memory)", 100, 5, 1,
     100000, METRICS(compile_metrics), compile_medium_setup, compile_sample, NULL},
    {"compile_large_kb", "compilation", "compile the large KB's source (from memory)", 10, 0, 1,
     1000000, METRICS(compile_metrics), compile_large_setup, compile_sample, NULL},
    {"memory_footprint_small_kb", "memory",
     "resident memory of the small KB, compiled and as an image", 10, 3, 1, 10000,
     METRICS(memory_metrics), memory_small_setup, memory_sample, NULL},
    {"memory_footprint_medium_kb", "memory",
     "resident memory of the medium KB, compiled and as an image", 10, 3, 1, 100000,
     METRICS(memory_metrics), memory_medium_setup, memory_sample, NULL},
    {"serialize_small_kb", "serialization", "text dump + write, and image write, of the small KB",
     100, 20, 2, 10000, METRICS(serialize_metrics), serial_setup, serialize_sample,
     serial_teardown},
    {"deserialize_small_kb", "serialization", "read + parse the dump back, and open the image", 100,
     20, 2, 10000, METRICS(deserialize_metrics), serial_setup, deserialize_sample, serial_teardown},
    {"query_cold_small_kb", "query", "evict the image, open it, run the query mix", 30, 10, 1,
     10000, METRICS(cold_metrics), query_setup_common, cold_sample, query_teardown},
    {"query_warm_small_kb", "query", "run the query mix again on the opened image", 100, 30, 3,
     10000, METRICS(warm_metrics), warm_setup, warm_sample, query_teardown},
    {"startup_time_small_kb", "startup", "source, and image, to ready-to-query", 20, 5, 1, 10000,
     METRICS(startup_metrics), startup_small_setup, startup_sample, startup_teardown},
    {"startup_time_medium_kb", "startup", "source, and image, to ready-to-query", 10, 3, 1, 100000,
     METRICS(startup_metrics), startup_medium_setup, startup_sample, startup_teardown},
    {"startup_time_large_kb", "startup", "source, and image, to ready-to-query", 5, 0, 1, 1000000,
     METRICS(startup_metrics), startup_large_setup, startup_sample, startup_teardown},
    {"startup_time_1gb_kb", "startup",
     "image of a KB with at least 1 GiB of source to ready-to-query", 5, 0, 1, 7600000,
     METRICS(startup_1gb_metrics), startup_1gb_setup, startup_1gb_sample, startup_teardown},
};

const struct bench_suite bench_suite_kb_persistence = {
    .name = "kb_persistence",
    .defs = defs,
    .ndefs = sizeof defs / sizeof defs[0],
    .init = suite_init,
    .fini = suite_fini,
    .derive = kbp_derive,
};
