/* export_bench: bench results as Bencher Metric Format, github-action-
 * benchmark custom JSON and Google Benchmark JSON (see export.h).
 * Owns nothing beyond each call (jansson trees built and released here). */
#include "reports/export.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name, *alias;
	enum export_format f;
} formats[] = {
    {"bmf", "bencher", EXPORT_BMF},
    {"gab-smaller", "customSmallerIsBetter", EXPORT_GAB_SMALLER},
    {"gab-bigger", "customBiggerIsBetter", EXPORT_GAB_BIGGER},
    {"gbench", "google-benchmark", EXPORT_GBENCH},
    {"speedscope", NULL, EXPORT_SPEEDSCOPE},
    {"folded", NULL, EXPORT_FOLDED},
    {"pprof", NULL, EXPORT_PPROF},
};

int export_format_parse(const char *name, enum export_format *out)
{
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
		if (strcmp(name, formats[i].name) == 0 ||
		    (formats[i].alias && strcmp(name, formats[i].alias) == 0)) {
			*out = formats[i].f;
			return 0;
		}
	}
	return -1;
}

const char *export_format_name(enum export_format f)
{
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (formats[i].f == f)
			return formats[i].name;
	return "?";
}

int export_format_is_bench(enum export_format f)
{
	return f == EXPORT_BMF || f == EXPORT_GAB_SMALLER || f == EXPORT_GAB_BIGGER ||
	       f == EXPORT_GBENCH;
}

/* ---- shared ---- */

static int is_time(const struct benchfile_metric *m)
{
	return strcmp(m->unit, "ns") == 0;
}

/* "bench" for a benchmark's headline metric, "bench/metric" otherwise. */
static void series_name(const struct benchfile_bench *b, size_t k, char *out, size_t size)
{
	if (k == 0)
		snprintf(out, size, "%s", b->name);
	else
		snprintf(out, size, "%s/%s", b->name, b->metrics[k].name);
}

static int dump(json_t *doc, struct kb_buf *out, struct kb_error *err, const char *what)
{
	char *text =
	    doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))
		: NULL;
	json_decref(doc);
	if (!text)
		return kb_error_set(err, "%s: out of memory building the JSON", what);
	kb_buf_puts(out, text);
	kb_buf_putc(out, '\n');
	free(text);
	return out->oom ? kb_error_set(err, "%s: out of memory", what) : 0;
}

__attribute__((format(printf, 2, 3))) static void note(struct kb_buf *notes, const char *fmt, ...)
{
	if (!notes)
		return;
	va_list ap;
	va_start(ap, fmt);
	char line[512];
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	kb_buf_puts(notes, line);
	kb_buf_putc(notes, '\n');
}

/* Benchmarks that did not run are left out of every format. */
static int usable(const struct benchfile_bench *b, struct kb_buf *notes)
{
	if (strcmp(b->status, "ok") != 0) {
		note(notes, "%s: left out (%s%s%s)", b->name, b->status, b->error ? ": " : "",
		     b->error ? b->error : "");
		return 0;
	}
	return 1;
}

static int have_median(const struct benchfile_bench *b, const struct benchfile_metric *m,
		       struct kb_buf *notes)
{
	if (!m->have_stats || !isfinite(m->stats.median)) {
		note(notes, "%s/%s: left out (no samples)", b->name, m->name);
		return 0;
	}
	return 1;
}

/* ---- Bencher Metric Format ---- */

int export_bmf(const struct benchfile *bf, struct kb_buf *out, struct kb_buf *notes,
	       struct kb_error *err)
{
	json_t *doc = json_object();
	size_t written = 0;
	for (size_t i = 0; i < bf->n_benches; i++) {
		const struct benchfile_bench *b = &bf->benches[i];
		if (!usable(b, notes))
			continue;
		for (size_t k = 0; k < b->n_metrics; k++) {
			const struct benchfile_metric *m = &b->metrics[k];
			if (!have_median(b, m, notes))
				continue;
			/* Times go to Bencher's built-in latency measure (ns), one
			 * benchmark per time series; other metrics become measures
			 * of the benchmark, named after the metric. */
			char bench[512];
			const char *measure;
			if (is_time(m)) {
				series_name(b, k, bench, sizeof bench);
				measure = "latency";
			} else {
				snprintf(bench, sizeof bench, "%s", b->name);
				measure = m->name;
			}
			json_t *entry = json_object_get(doc, bench);
			if (!entry) {
				entry = json_object();
				json_object_set_new(doc, bench, entry);
			}
			if (json_object_get(entry, measure)) {
				json_decref(doc);
				return kb_error_set(err, "bmf: %s has two '%s' measures", bench,
						    measure);
			}
			json_t *v = json_pack("{s:f}", "value", m->stats.median);
			if (isfinite(m->stats.median_lo) && isfinite(m->stats.median_hi)) {
				json_object_set_new(v, "lower_value",
						    json_real(m->stats.median_lo));
				json_object_set_new(v, "upper_value",
						    json_real(m->stats.median_hi));
			}
			json_object_set_new(entry, measure, v);
			written++;
		}
	}
	if (!written) {
		json_decref(doc);
		return kb_error_set(err, "bmf: %s has no benchmark with samples", bf->path);
	}
	return dump(doc, out, err, "bmf");
}

/* ---- github-action-benchmark ---- */

int export_gab(const struct benchfile *bf, int bigger, struct kb_buf *out, struct kb_buf *notes,
	       struct kb_error *err)
{
	json_t *doc = json_array();
	for (size_t i = 0; i < bf->n_benches; i++) {
		const struct benchfile_bench *b = &bf->benches[i];
		if (!usable(b, notes))
			continue;
		for (size_t k = 0; k < b->n_metrics; k++) {
			const struct benchfile_metric *m = &b->metrics[k];
			if (!have_median(b, m, notes))
				continue;
			if (bigger && !is_time(m)) {
				note(notes,
				     "%s/%s: left out (%s is not a time: no bigger-is-better form)",
				     b->name, m->name, m->unit);
				continue;
			}
			if (bigger && !(m->stats.median > 0)) {
				note(notes, "%s/%s: left out (median %g ns has no rate)", b->name,
				     m->name, m->stats.median);
				continue;
			}
			char name[512], range[128] = "", extra[512];
			series_name(b, k, name, sizeof name);
			const struct benchfile_stats *s = &m->stats;
			double value = bigger ? 1e9 / s->median : s->median;
			double lo = bigger ? 1e9 / s->median_hi : s->median_lo;
			double hi = bigger ? 1e9 / s->median_lo : s->median_hi;
			if (isfinite(lo) && isfinite(hi)) {
				double half = fmax(value - lo, hi - value);
				snprintf(range, sizeof range, "\xc2\xb1 %.6g", half);
			}
			int n = snprintf(extra, sizeof extra,
					 "median of %zu samples; 95%% CI %.6g .. %.6g %s", s->n,
					 s->median_lo, s->median_hi, m->unit);
			if (isfinite(s->mean) && n > 0 && (size_t)n < sizeof extra)
				snprintf(extra + n, sizeof extra - (size_t)n, "\nmean %.6g %s",
					 s->mean, m->unit);
			json_t *e = json_pack("{s:s, s:s, s:f}", "name", name, "unit",
					      bigger ? "runs/s" : m->unit, "value", value);
			if (range[0])
				json_object_set_new(e, "range", json_string(range));
			json_object_set_new(e, "extra", json_string(extra));
			json_array_append_new(doc, e);
		}
	}
	if (json_array_size(doc) == 0) {
		json_decref(doc);
		return kb_error_set(err, "%s: %s has no benchmark with samples to export",
				    bigger ? "gab-bigger" : "gab-smaller", bf->path);
	}
	return dump(doc, out, err, bigger ? "gab-bigger" : "gab-smaller");
}

/* ---- Google Benchmark ---- */

static json_t *gbench_context(const struct benchfile *bf)
{
	json_t *ctx = json_object();
	json_object_set_new(ctx, "date", json_string(bf->timestamp));
	json_object_set_new(ctx, "executable", json_string("kbprof bench"));
	json_t *env = json_object_get(bf->doc, "environment");
	json_t *threads = json_object_get(json_object_get(env, "cpu"), "threads");
	if (json_is_integer(threads))
		json_object_set_new(ctx, "num_cpus", json_integer(json_integer_value(threads)));
	char build[64];
	snprintf(build, sizeof build, "%s", bf->build_type);
	for (char *p = build; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (build[0])
		json_object_set_new(ctx, "library_build_type",
				    json_string(strcmp(build, "debug") == 0 ? "debug" : "release"));
	json_object_set_new(ctx, "kbprof_version", json_string(bf->version));
	json_object_set_new(ctx, "kbprof_commit", json_string(bf->commit));
	return ctx;
}

static int no_cpu_anywhere(const struct benchfile *bf)
{
	for (size_t i = 0; i < bf->n_benches; i++)
		for (size_t k = 0; k < bf->benches[i].n_metrics; k++)
			if (bf->benches[i].metrics[k].cpu_samples)
				return 0;
	return 1;
}

int export_gbench(const struct benchfile *bf, struct kb_buf *out, struct kb_buf *notes,
		  struct kb_error *err)
{
	json_t *runs = json_array();
	json_int_t family = 0;
	size_t skipped_cpu = 0;
	for (size_t i = 0; i < bf->n_benches; i++) {
		const struct benchfile_bench *b = &bf->benches[i];
		if (!usable(b, notes))
			continue;
		for (size_t k = 0; k < b->n_metrics; k++) {
			const struct benchfile_metric *m = &b->metrics[k];
			if (!is_time(m)) {
				if (k != 0 && is_time(&b->metrics[0]) && m->n == b->metrics[0].n)
					continue; /* carried as a counter below */
				note(notes,
				     "%s/%s: left out (%s is not a time and the benchmark has no "
				     "headline time to carry it as a counter)",
				     b->name, m->name, m->unit);
				continue;
			}
			if (!have_median(b, m, notes))
				continue;
			/* Google Benchmark's consumers (tools/compare.py) read
			 * cpu_time of every run: a series without measured CPU
			 * times is left out rather than given made-up ones. */
			if (!m->have_cpu) {
				note(notes,
				     "%s/%s: left out (no CPU time per sample: cpu_samples is "
				     "absent%s)",
				     b->name, m->name,
				     no_cpu_anywhere(bf) ? "; the file predates it" : "");
				skipped_cpu++;
				continue;
			}
			char name[512];
			series_name(b, k, name, sizeof name);
			for (size_t r = 0; r < m->n; r++) {
				json_t *run = json_pack(
				    "{s:s, s:I, s:i, s:s, s:s, s:I, s:I, s:i, s:i, s:f, s:f, s:s}",
				    "name", name, "family_index", family,
				    "per_family_instance_index", 0, "run_name", name, "run_type",
				    "iteration", "repetitions", (json_int_t)m->n,
				    "repetition_index", (json_int_t)r, "threads", 1, "iterations",
				    1, "real_time", m->samples[r], "cpu_time", m->cpu_samples[r],
				    "time_unit", "ns");
				/* Counters: the benchmark's other, non-time metrics of
				 * the same sample, on its headline series. */
				for (size_t c = 1; k == 0 && c < b->n_metrics; c++) {
					const struct benchfile_metric *cm = &b->metrics[c];
					if (!is_time(cm) && cm->n == m->n)
						json_object_set_new(run, cm->name,
								    json_real(cm->samples[r]));
				}
				json_array_append_new(runs, run);
			}
			const struct benchfile_stats *s = &m->stats, *c = &m->cpu_stats;
			const struct {
				const char *agg;
				double v, cpu;
			} aggs[] = {{"mean", s->mean, c->mean},
				    {"median", s->median, c->median},
				    {"stddev", s->stddev, c->stddev}};
			for (size_t a = 0; a < 3; a++) {
				if (!isfinite(aggs[a].v) || !isfinite(aggs[a].cpu))
					continue;
				char aname[560];
				snprintf(aname, sizeof aname, "%s_%s", name, aggs[a].agg);
				json_array_append_new(
				    runs,
				    json_pack("{s:s, s:I, s:i, s:s, s:s, s:I, s:i, s:s, s:s, s:I, "
					      "s:f, s:f, s:s}",
					      "name", aname, "family_index", family,
					      "per_family_instance_index", 0, "run_name", name,
					      "run_type", "aggregate", "repetitions",
					      (json_int_t)m->n, "threads", 1, "aggregate_name",
					      aggs[a].agg, "aggregate_unit", "time", "iterations",
					      (json_int_t)m->n, "real_time", aggs[a].v, "cpu_time",
					      aggs[a].cpu, "time_unit", "ns"));
			}
			family++;
		}
	}
	if (json_array_size(runs) == 0) {
		json_decref(runs);
		if (skipped_cpu)
			return kb_error_set(
			    err,
			    "gbench: %s has no CPU times (metrics[].cpu_samples, written by kbprof "
			    "bench since schema 1 gained it), and Google Benchmark JSON needs "
			    "cpu_time on every run: rerun kbprof bench --json with this build",
			    bf->path);
		return kb_error_set(err, "gbench: %s has no time series to export", bf->path);
	}
	json_t *doc = json_pack("{s:o, s:o}", "context", gbench_context(bf), "benchmarks", runs);
	return dump(doc, out, err, "gbench");
}
