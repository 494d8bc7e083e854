/* baseline_doc: the kbprof-bench JSON document rendered as the baseline
 * markdown document (see baseline_doc.h). Everything here reads the JSON
 * tree and formats; the only arithmetic is unit conversion for display.
 * Owns nothing beyond the caller's output buffer. */
#include "reports/baseline_doc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- number formatting ---- */

static void sig3(double v, const char *unit, char *buf, size_t size)
{
	int decimals = v < 9.995 ? 2 : v < 99.95 ? 1 : 0;
	snprintf(buf, size, "%.*f %s", decimals, v, unit);
}

void doc_fmt_ns(double ns, char *buf, size_t size)
{
	if (!isfinite(ns))
		snprintf(buf, size, "n/a");
	else if (ns < 999.5)
		sig3(ns, "ns", buf, size);
	else if (ns < 999.5e3)
		sig3(ns / 1e3, "µs", buf, size);
	else if (ns < 999.5e6)
		sig3(ns / 1e6, "ms", buf, size);
	else
		sig3(ns / 1e9, "s", buf, size);
}

void doc_fmt_bytes(double b, char *buf, size_t size)
{
	const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	if (!isfinite(b)) {
		snprintf(buf, size, "n/a");
		return;
	}
	int neg = b < 0;
	double v = fabs(b);
	int u = 0;
	while (v >= 1023.5 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%s%.0f B", neg ? "-" : "", v);
	else {
		char tmp[32];
		sig3(v, units[u], tmp, sizeof tmp);
		snprintf(buf, size, "%s%s", neg ? "-" : "", tmp);
	}
}

void doc_fmt_count(double v, char *buf, size_t size)
{
	if (!isfinite(v)) {
		snprintf(buf, size, "n/a");
		return;
	}
	char digits[32];
	snprintf(digits, sizeof digits, "%.0f", fabs(v));
	size_t n = strlen(digits), o = 0;
	if (v < 0 && o + 1 < size)
		buf[o++] = '-';
	for (size_t i = 0; i < n && o + 2 < size; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
}

/* ---- JSON access (null-safe: jansson getters accept NULL) ---- */

static double num(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

static const json_t *bench(const json_t *doc, const char *name)
{
	const json_t *arr = json_object_get(doc, "benchmarks");
	size_t i;
	const json_t *b;
	json_array_foreach(arr, i, b) if (strcmp(str(b, "name"), name) == 0) return b;
	return NULL;
}

static const json_t *named(const json_t *arr, const char *name)
{
	size_t i;
	const json_t *m;
	json_array_foreach(arr, i, m) if (strcmp(str(m, "name"), name) == 0) return m;
	return NULL;
}

/* A scaling series of derived.scaling by its id. */
static const json_t *series(const json_t *doc, const char *id)
{
	const json_t *arr = json_object_get(json_object_get(doc, "derived"), "scaling");
	size_t i;
	const json_t *s;
	json_array_foreach(arr, i, s) if (strcmp(str(s, "series"), id) == 0) return s;
	return NULL;
}

static const json_t *metric(const json_t *b, const char *name)
{
	return named(json_object_get(b, "metrics"), name);
}

static double fact(const json_t *b, const char *name)
{
	return num(named(json_object_get(b, "facts"), name), "value");
}

static double stat(const json_t *m, const char *key)
{
	return num(json_object_get(m, "stats"), key);
}

static int ok(const json_t *b)
{
	return b && strcmp(str(b, "status"), "ok") == 0;
}

/* Why a benchmark has no numbers: "not run (filtered out)", "skipped by --quick", ... */
static void why_not(const json_t *b, char *buf, size_t size)
{
	if (!b)
		snprintf(buf, size, "not measured: not selected in this run");
	else if (strcmp(str(b, "status"), "skipped") == 0)
		snprintf(buf, size, "not measured: %s", str(b, "error"));
	else
		snprintf(buf, size, "**FAILED**: %s", str(b, "error"));
}

/* ---- pieces of the document ---- */

struct doc {
	const json_t *root;
	struct kb_buf *out;
};

#define P(d, ...) kb_buf_printf((d)->out, __VA_ARGS__)

static void fmt_value(double v, const char *unit, char *buf, size_t size)
{
	if (strcmp(unit, "ns") == 0)
		doc_fmt_ns(v, buf, size);
	else if (strcmp(unit, "bytes") == 0)
		doc_fmt_bytes(v, buf, size);
	else if (strcmp(unit, "fraction") == 0 && isfinite(v))
		snprintf(buf, size, "%.1f%%", v * 100);
	else if (strcmp(unit, "bytes/rule") == 0 && isfinite(v))
		snprintf(buf, size, "%.1f B/rule", v);
	else if (isfinite(v) && v == floor(v))
		doc_fmt_count(v, buf, size);
	else if (isfinite(v))
		snprintf(buf, size, "%.3g %s", v, unit);
	else
		snprintf(buf, size, "n/a");
}

static void kb_label(const json_t *b, char *buf, size_t size)
{
	const json_t *kb = json_object_get(b, "kb");
	char rules[32];
	if (!kb || json_is_null(kb)) {
		buf[0] = '\0';
		return;
	}
	doc_fmt_count(num(kb, "rules"), rules, sizeof rules);
	snprintf(buf, size, "%s label, %s rules", str(kb, "label"), rules);
}

/* A "Median | Mean" row for one time metric of a benchmark. */
static void time_row(struct doc *d, const char *name, const char *mname, const char *title,
		     int samples_col, const char *notes)
{
	const json_t *b = bench(d->root, name);
	char label[96], med[32], mean[32], why[1200];
	kb_label(b, label, sizeof label);
	char head[256];
	snprintf(head, sizeof head, "`%s`%s%s%s%s", name, label[0] ? " (" : "", label,
		 label[0] ? ")" : "", title ? title : "");
	const json_t *m = metric(b, mname);
	if (!ok(b) || !m) {
		why_not(b, why, sizeof why);
		P(d, "| %s | — | —%s | %s |\n", head, samples_col ? " | —" : "", why);
		return;
	}
	doc_fmt_ns(stat(m, "median"), med, sizeof med);
	doc_fmt_ns(stat(m, "mean"), mean, sizeof mean);
	if (samples_col)
		P(d, "| %s | %s | %s | %.0f | %s |\n", head, med, mean, stat(m, "n"), notes);
	else
		P(d, "| %s | %s | %s | %s |\n", head, med, mean, notes);
}

static void section_header(struct doc *d)
{
	const json_t *r = d->root, *k = json_object_get(r, "kbprof"),
		     *opt = json_object_get(r, "options");
	P(d, "# kbprof Baseline Performance Metrics\n\n");
	P(d, "## Overview\n\n");
	P(d,
	  "This document gives the baseline performance of kbprof's MeTTa engine on the "
	  "`%s` suite, the benchmarks MeTTaTron's `benches/kb_persistence.rs` defined, doing "
	  "the real work: compiling means parsing, interning, hash-consing, inserting and "
	  "indexing every rule; queries are evaluated and every result is checked; memory is "
	  "read from the kernel. It was generated by `kbprof bench`; every number in it was "
	  "measured in the run described here, and the same numbers, with every raw sample, "
	  "are in the JSON results (schema: docs/bench-json.md).\n\n",
	  str(r, "suite"));
	P(d, "**Date**: %s\n", str(r, "timestamp"));
	P(d, "**System**: See Hardware Specifications below\n");
	P(d, "**kbprof**: version %s, commit `%s` (%s build)\n", str(k, "version"),
	  str(k, "commit"), str(k, "build_type"));
	P(d, "**Run**: `%s` (%s mode; benchmarks took %.1f s)\n\n---\n\n", str(r, "command"),
	  json_is_true(json_object_get(opt, "quick")) ? "quick" : "full", num(r, "duration_s"));
}

static void section_hardware(struct doc *d)
{
	const json_t *e = json_object_get(d->root, "environment"),
		     *k = json_object_get(d->root, "kbprof");
	const json_t *cpu = json_object_get(e, "cpu"), *st = json_object_get(e, "storage"),
		     *os = json_object_get(e, "os");
	char ram[32], cores[32] = "unknown";
	doc_fmt_bytes(num(json_object_get(e, "memory"), "ram_bytes"), ram, sizeof ram);
	if (isfinite(num(cpu, "cores")))
		snprintf(cores, sizeof cores, "%.0f", num(cpu, "cores"));
	P(d, "## Hardware Specifications\n\n");
	P(d, "- **CPU**: %s (%s cores, %.0f threads%s)\n", str(cpu, "model"), cores,
	  num(cpu, "threads"),
	  json_is_true(json_object_get(cpu, "virtualized")) ? "; virtual machine" : "");
	P(d, "- **RAM**: %s\n", ram);
	const json_t *rot = json_object_get(st, "rotational");
	P(d,
	  "- **Storage**: %s%s%s%s%s (%s on `%s`; the kernel reports it as %s); benchmark files "
	  "in `%s`\n",
	  str(st, "source"), *str(st, "device") ? ", device " : "", str(st, "device"),
	  *str(st, "model") ? ", " : "", str(st, "model"), str(st, "fstype"),
	  str(st, "mount_point"),
	  json_is_true(rot)    ? "rotational"
	  : json_is_false(rot) ? "non-rotational"
			       : "of unknown type",
	  str(st, "path"));
	P(d, "- **OS**: %s%s%s\n", str(os, "kernel"), *str(os, "distribution") ? "; " : "",
	  str(os, "distribution"));
	P(d, "- **Compiler**: %s\n", str(k, "compiler"));
	P(d, "- **Optimization**: %s build, C flags `%s`\n", str(k, "build_type"),
	  str(k, "cflags"));
	if (isfinite(num(e, "perf_event_paranoid")))
		P(d, "- **perf_event_paranoid**: %.0f\n", num(e, "perf_event_paranoid"));
	P(d, "\n---\n\n");
}

static void kb_sizes_line(struct doc *d, const char *title, const char *bname)
{
	const json_t *kb = json_object_get(bench(d->root, bname), "kb");
	char rules[32], bytes[32], sz[32];
	if (!kb || json_is_null(kb)) {
		P(d, "   - %s: not measured in this run\n", title);
		return;
	}
	doc_fmt_count(num(kb, "rules"), rules, sizeof rules);
	doc_fmt_count(num(kb, "source_bytes"), bytes, sizeof bytes);
	doc_fmt_bytes(num(kb, "source_bytes"), sz, sizeof sz);
	P(d,
	  "   - %s: MeTTaTron's \"%s rules\" label; the generator writes %s rules, %s bytes "
	  "(%s) of source\n",
	  title, str(kb, "label"), rules, bytes, sz);
}

static void section_suite(struct doc *d)
{
	P(d, "## Benchmark Suite\n\n");
	P(d, "The suite (`kbprof bench`, workloads/suite_kb_persistence.c) keeps the names of "
	     "MeTTaTron's `benches/kb_persistence.rs`:\n\n");
	P(d, "1. **Compilation Benchmarks**: parse + intern + hash-cons + insert + index MeTTa "
	     "source (from memory) into a knowledge base\n");
	kb_sizes_line(d, "Small KB", "compile_small_kb");
	kb_sizes_line(d, "Medium KB", "compile_medium_kb");
	kb_sizes_line(d, "Large KB", "compile_large_kb");
	P(d, "\n2. **Memory Footprint Benchmarks**: resident memory of the compiled KB (RSS growth "
	     "and peak from /proc/self/status), in memory and as an opened image with every page "
	     "touched\n\n");
	P(d, "3. **Serialization/Deserialization Benchmarks**: canonical MeTTa text dump + file "
	     "write, and read + parse back; image write, and image open\n\n");
	P(d,
	  "4. **Query Performance Benchmarks**: a fixed, seeded mix of queries over the KB's own "
	  "functions, every result checked against its expected value\n");
	P(d, "   - Cold cache: freshly opened image, file evicted from the page cache "
	     "(fsync + posix_fadvise DONTNEED, checked with mincore)\n");
	P(d, "   - Warm cache: the same queries repeated\n\n");
	P(d, "5. **Startup Time Benchmarks**: source file to ready-to-query KB (first query "
	     "answered), and image file to ready-to-query KB\n\n---\n\n");
}

static void section_compile(struct doc *d)
{
	static const char *const names[] = {"compile_small_kb", "compile_medium_kb",
					    "compile_large_kb"};
	const json_t *scal = series(d->root, "compile");
	P(d, "### Compilation Performance\n\n");
	P(d, "| Benchmark | Median | Mean | Samples | Notes |\n");
	P(d, "|-----------|--------|------|---------|-------|\n");
	for (int i = 0; i < 3; i++) {
		const json_t *b = bench(d->root, names[i]);
		char notes[512] = "", bytes[32], ci[128] = "";
		const json_t *m = metric(b, "time");
		const json_t *pt = NULL;
		size_t j;
		const json_t *p;
		json_array_foreach(json_object_get(scal, "points"), j,
				   p) if (strcmp(str(p, "benchmark"), names[i]) == 0) pt = p;
		if (ok(b) && m) {
			const json_t *civ =
			    json_object_get(json_object_get(m, "stats"), "median_ci95");
			char lo[32], hi[32];
			doc_fmt_ns(json_number_value(json_array_get(civ, 0)), lo, sizeof lo);
			doc_fmt_ns(json_number_value(json_array_get(civ, 1)), hi, sizeof hi);
			snprintf(ci, sizeof ci, "; median 95%% CI [%s, %s]", lo, hi);
		}
		doc_fmt_count(fact(b, "source_bytes"), bytes, sizeof bytes);
		snprintf(notes, sizeof notes, "%s bytes of source; %.0f MB/s, %.0f ns per rule%s",
			 bytes, num(pt, "mb_per_s"), num(pt, "ns_per_rule"), ci);
		time_row(d, names[i], "time", NULL, 1, notes);
	}
	P(d, "\n");
}

static void section_memory(struct doc *d)
{
	static const char *const names[] = {"memory_footprint_small_kb",
					    "memory_footprint_medium_kb"};
	P(d, "### Memory Footprint\n\n");
	P(d, "| Benchmark | Memory Usage | Notes |\n");
	P(d, "|-----------|--------------|-------|\n");
	for (int i = 0; i < 2; i++) {
		const json_t *b = bench(d->root, names[i]);
		char label[96], why[1200];
		kb_label(b, label, sizeof label);
		if (!ok(b)) {
			why_not(b, why, sizeof why);
			P(d, "| `%s`%s%s%s | — | %s |\n", names[i], label[0] ? " (" : "", label,
			  label[0] ? ")" : "", why);
			continue;
		}
		char g[32], pk[32], bpr[32], ig[32], ibpr[32], store[32], img[32], src[32];
		doc_fmt_bytes(stat(metric(b, "rss_growth"), "median"), g, sizeof g);
		doc_fmt_bytes(stat(metric(b, "rss_peak_growth"), "median"), pk, sizeof pk);
		fmt_value(stat(metric(b, "bytes_per_rule"), "median"), "bytes/rule", bpr,
			  sizeof bpr);
		doc_fmt_bytes(stat(metric(b, "image_rss"), "median"), ig, sizeof ig);
		fmt_value(stat(metric(b, "image_bytes_per_rule"), "median"), "bytes/rule", ibpr,
			  sizeof ibpr);
		doc_fmt_bytes(fact(b, "store_bytes"), store, sizeof store);
		doc_fmt_bytes(fact(b, "image_bytes"), img, sizeof img);
		doc_fmt_bytes(fact(b, "source_bytes"), src, sizeof src);
		P(d,
		  "| `%s` (%s) | %s RSS growth (peak %s), %s | compiled in memory in a fresh child "
		  "process, median of %.0f; "
		  "the store accounts %s; source %s. Opened image (%s file), every page touched: "
		  "%s RSS growth, %s |\n",
		  names[i], label, g, pk, bpr, stat(metric(b, "rss_growth"), "n"), store, src, img,
		  ig, ibpr);
	}
	P(d, "\n");
}

static void section_serial(struct doc *d)
{
	char notes[256], a[32], b2[32];
	const json_t *s = bench(d->root, "serialize_small_kb");
	const json_t *ds = bench(d->root, "deserialize_small_kb");
	P(d, "### Serialization Performance\n\n");
	P(d, "| Benchmark | Median | Mean | Notes |\n");
	P(d, "|-----------|--------|------|-------|\n");
	doc_fmt_bytes(fact(s, "text_bytes"), a, sizeof a);
	snprintf(notes, sizeof notes, "canonical MeTTa text dump + file write (%s, no fsync)", a);
	time_row(d, "serialize_small_kb", "text_dump_write", ": text", 0, notes);
	doc_fmt_bytes(fact(s, "image_bytes"), a, sizeof a);
	snprintf(notes, sizeof notes,
		 "image write (%s): temporary file, fsync, rename, as the format requires", a);
	time_row(d, "serialize_small_kb", "image_write", ": image", 0, notes);
	doc_fmt_bytes(fact(ds, "text_bytes"), b2, sizeof b2);
	snprintf(notes, sizeof notes,
		 "file read + parse + compile of the dump (%s) into a new KB; atom count checked",
		 b2);
	time_row(d, "deserialize_small_kb", "text_read_parse", ": text", 0, notes);
	time_row(d, "deserialize_small_kb", "image_open", ": image", 0,
		 "image open (mmap, header and section checks), page cache warm");
	P(d, "\n");
}

static void section_query(struct doc *d)
{
	const json_t *c = bench(d->root, "query_cold_small_kb");
	const json_t *w = bench(d->root, "query_warm_small_kb");
	char notes[512], q[32];
	double nq = fact(ok(c) ? c : w, "queries");
	doc_fmt_count(nq, q, sizeof q);
	P(d, "### Query Performance\n\n");
	P(d, "| Benchmark | Median | Mean | Notes |\n");
	P(d, "|-----------|--------|------|-------|\n");
	snprintf(notes, sizeof notes,
		 "first query on a freshly opened image, file evicted from the page cache "
		 "(resident pages after eviction: median %.0f of %.0f); major faults per sample: "
		 "median %.0f",
		 stat(metric(c, "resident_after_evict"), "median"), fact(c, "image_pages"),
		 stat(metric(c, "major_faults"), "median"));
	time_row(d, "query_cold_small_kb", "first_query", ": first query", 0, notes);
	snprintf(notes, sizeof notes, "the whole mix of %s queries, cold (after the same eviction)",
		 q);
	time_row(d, "query_cold_small_kb", "mix", ": mix", 0, notes);
	time_row(d, "query_cold_small_kb", "mix_cached", ": mix, cached", 0,
		 "the same mix after a fresh lazy open with the image still in the page cache");
	{
		char open_t[32], buf[512];
		doc_fmt_ns(stat(metric(c, "open_populated"), "median"), open_t, sizeof open_t);
		snprintf(buf, sizeof buf,
			 "the same mix after evicting again and opening with populate "
			 "(MAP_POPULATE + WILLNEED; the open itself: median %s)",
			 open_t);
		time_row(d, "query_cold_small_kb", "mix_populated", ": mix, populated", 0, buf);
	}
	time_row(d, "query_warm_small_kb", "first_query", ": first query", 0,
		 "the same first query, repeated on the opened image (warm cache)");
	snprintf(notes, sizeof notes, "the same mix of %s queries, repeated (warm cache)", q);
	time_row(d, "query_warm_small_kb", "mix", ": mix", 0, notes);
	time_row(d, "query_warm_small_kb", "per_query", ": per query", 0,
		 "mean latency of one query of the warm mix");
	P(d, "\n");
}

static void section_startup(struct doc *d)
{
	static const char *const names[] = {"startup_time_small_kb", "startup_time_medium_kb",
					    "startup_time_large_kb", "startup_time_1gb_kb"};
	P(d, "### Startup Time\n\n");
	P(d, "| Benchmark | Median | Mean | Notes |\n");
	P(d, "|-----------|--------|------|-------|\n");
	for (int i = 0; i < 4; i++) {
		if (i == 3 && !bench(d->root, names[i]))
			continue;
		const json_t *b = bench(d->root, names[i]);
		if (i == 3 && ok(b)) {
			/* the 1 GB KB is compiled once, to write its image: not sampled */
			char label[96], t[32];
			kb_label(b, label, sizeof label);
			doc_fmt_ns(fact(b, "compile_and_image_write_ns"), t, sizeof t);
			P(d,
			  "| `%s` (%s): source | — | — | not sampled: compiling its source from "
			  "memory and writing its image, done once in setup, took %s |\n",
			  names[i], label, t);
		} else {
			time_row(d, names[i], "from_source", ": source", 0,
				 "read the source file + parse + compile + first query answered");
		}
		time_row(d, names[i], "from_image", ": image", 0,
			 "open the image + first query answered (page cache warm)");
		time_row(d, names[i], "from_image_cold", ": image, cold", 0,
			 "the same, with the image evicted from the page cache first");
	}
	P(d, "\n---\n\n");
}

static void section_profile(struct doc *d)
{
	const json_t *p = json_object_get(d->root, "profile");
	size_t i;
	const json_t *x;
	P(d, "## Profiling Analysis\n\n### Bottleneck Identification\n\n");
	if (strcmp(str(p, "status"), "ok") != 0) {
		P(d, "**Not measured in this run**: %s\n\n",
		  *str(p, "reason") ? str(p, "reason") : "no profiling pass");
		P(d, "#### Hotspots\n\nNot measured (see above).\n\n");
		P(d, "#### Page Fault Analysis\n\nNot measured (see above).\n\n---\n\n");
		return;
	}
	char samples[32], lost[32];
	doc_fmt_count(num(p, "samples"), samples, sizeof samples);
	doc_fmt_count(num(p, "lost"), lost, sizeof lost);
	P(d,
	  "**Method**: `%s`, then kbprof's analyzer (analyze/: libdwfl symbolization, "
	  "hot spots, page-fault attribution) on that recording.\n\n",
	  str(p, "command"));
	P(d,
	  "Sampling event: `%s`%s%s%s; %s samples in %.1f s, %s lost; %.0f%% of the samples "
	  "symbolized to a function, %.0f%% to a source line.\n\n",
	  str(p, "event"), *str(p, "fallback") ? " (" : "", str(p, "fallback"),
	  *str(p, "fallback") ? ")" : "", samples, num(p, "duration_s"), lost,
	  num(p, "function_coverage_pct"), num(p, "line_coverage_pct"));

	P(d, "#### Hotspots\n\nTop functions by CPU time (self samples; inclusive counts every "
	     "function on the call chain):\n\n");
	P(d, "| # | Function | Module | Source | Self | Inclusive |\n|---|---|---|---|---|---|\n");
	json_array_foreach(json_object_get(p, "hotspots"), i, x)
	{
		const char *file = str(x, "file");
		const char *slash = strrchr(file, '/');
		P(d, "| %zu | `%s` | %s | %s | %.1f%% | %.1f%% |\n", i + 1, str(x, "function"),
		  str(x, "module"), slash ? slash + 1 : file, num(x, "self_pct"),
		  num(x, "inclusive_pct"));
	}
	if (!json_array_size(json_object_get(p, "hotspots")))
		P(d, "| | no CPU samples were recorded | | | | |\n");
	P(d, "\nCPU time by probed region (a benchmark, its setup, and the core's phases "
	     "inside them):\n\n| Region | Self | Inclusive | Wall time |\n|---|---|---|---|\n");
	size_t small = 0;
	json_array_foreach(json_object_get(p, "cpu_regions"), i, x)
	{
		char w[32];
		if (!(num(x, "inclusive_pct") >= 1.0)) {
			small++;
			continue;
		}
		if (num(x, "wall_ns") > 0)
			doc_fmt_ns(num(x, "wall_ns"), w, sizeof w);
		else
			snprintf(w, sizeof w, "—");
		P(d, "| `%s` | %.1f%% | %.1f%% | %s |\n", str(x, "region"), num(x, "self_pct"),
		  num(x, "inclusive_pct"), w);
	}
	if (small)
		P(d, "| (%zu regions under 1%% each, in the JSON) | | | |\n", small);

	P(d, "\n#### Page Fault Analysis\n\n");
	const json_t *t = json_object_get(p, "fault_totals");
	if (!json_is_object(t)) {
		P(d, "No page-fault samples were recorded.\n\n");
	} else {
		char f[32], pg[32];
		doc_fmt_count(num(t, "faults"), f, sizeof f);
		doc_fmt_count(num(t, "pages"), pg, sizeof pg);
		P(d,
		  "Every page fault was sampled (%s): %s faults on %s distinct pages (%.0f "
		  "faults per MB touched).",
		  str(t, "events"), f, pg, num(t, "density"));
		if (isfinite(num(t, "rusage_minor")))
			P(d,
			  " getrusage counted %.0f minor and %.0f major faults for the same "
			  "run (difference %.0f%s%s).",
			  num(t, "rusage_minor"), num(t, "rusage_major"),
			  num(t, "rusage_minus_perf"), *str(t, "explanation") ? ": " : "",
			  str(t, "explanation"));
		int classified = json_is_true(json_object_get(t, "classified"));
		if (!classified)
			P(d,
			  " The `page-faults` event does not tell minor from major faults, so the "
			  "tables below give no split (—); getrusage's split is above.");
		P(d, " Pages count distinct (process, page) pairs: memory freed and mapped again "
		     "by the next sample faults again at the same addresses, so a phase that "
		     "compiles repeatedly shows several faults per page.");
		P(d, "\n\nFrequency and pattern per phase (innermost probed region):\n\n");
		P(d, "| Region | Faults | Minor | Major | Pages | Faults/s | Most faults in |\n");
		P(d, "|---|---|---|---|---|---|---|\n");
		small = 0;
		json_array_foreach(json_object_get(p, "faults"), i, x)
		{
			char fa[32], mi[32], ma[32], pa[32], top[320] = "—";
			if (!(num(x, "pct") >= 1.0)) {
				small++;
				continue;
			}
			doc_fmt_count(num(x, "faults"), fa, sizeof fa);
			doc_fmt_count(num(x, "minor"), mi, sizeof mi);
			doc_fmt_count(num(x, "major"), ma, sizeof ma);
			if (!classified) {
				snprintf(mi, sizeof mi, "—");
				snprintf(ma, sizeof ma, "—");
			}
			doc_fmt_count(num(x, "pages"), pa, sizeof pa);
			char rate[32] = "—";
			if (*str(x, "top_mapping") && num(x, "faults") > 0)
				snprintf(top, sizeof top, "%.250s (%.0f%%)", str(x, "top_mapping"),
					 num(x, "top_mapping_pct"));
			if (isfinite(num(x, "per_second")))
				doc_fmt_count(num(x, "per_second"), rate, sizeof rate);
			P(d, "| `%s` | %s | %s | %s | %s | %s | %s |\n", str(x, "region"), fa, mi,
			  ma, pa, rate, top);
		}
		if (small)
			P(d,
			  "| (%zu regions with under 1%% of the faults each, in the JSON) | | | | "
			  "| "
			  "| |\n",
			  small);
		P(d, "\nBy mapping:\n\n| Mapping | Kind | Faults | Share | Major | Pages | "
		     "Touched |\n|---|---|---|---|---|---|---|\n");
		const json_t *maps = json_object_get(p, "fault_mappings");
		json_array_foreach(maps, i, x)
		{
			char fa[32], pa[32];
			if (i == 10) {
				P(d, "| (%zu more mappings) | | | | | | |\n",
				  json_array_size(maps) - 10);
				break;
			}
			doc_fmt_count(num(x, "faults"), fa, sizeof fa);
			doc_fmt_count(num(x, "pages"), pa, sizeof pa);
			char mj[32] = "—";
			if (classified)
				doc_fmt_count(num(x, "major"), mj, sizeof mj);
			P(d, "| `%s` | %s | %s | %.1f%% | %s | %s | %.0f%% |\n", str(x, "mapping"),
			  str(x, "kind"), fa, num(x, "pct"), mj, pa, num(x, "touched_pct"));
		}
		P(d, "\n");
	}
	P(d, "#### Events this machine could not count\n\n");
	const json_t *ev = json_object_get(p, "events_not_counted");
	if (json_array_size(ev)) {
		P(d, "kbprof's default counters, opened on this machine; the ones the kernel "
		     "refused, with its reason:\n\n| Event | Reason |\n|---|---|\n");
		json_array_foreach(ev, i, x)
		{
			P(d, "| `%s` | %s |\n", str(x, "event"), str(x, "reason"));
		}
	} else {
		P(d, "None: every default counter opened.\n");
	}
	P(d, "\n---\n\n");
}

static void scaling_table(struct doc *d, const json_t *s, const char *title)
{
	static const char *const sizes[] = {"Small", "Medium", "Large", "1 GB"};
	P(d, "### %s\n\n", title);
	P(d, "| KB Size | Rules | Time | Time per Rule | Scaling Factor |\n");
	P(d, "|---------|-------|------|---------------|----------------|\n");
	size_t i;
	const json_t *p;
	json_array_foreach(json_object_get(s, "points"), i, p)
	{
		char rules[32], t[32], tpr[32];
		doc_fmt_count(num(p, "rules"), rules, sizeof rules);
		doc_fmt_ns(num(p, "median_ns"), t, sizeof t);
		doc_fmt_ns(num(p, "ns_per_rule"), tpr, sizeof tpr);
		double sf = num(p, "scaling_factor");
		P(d, "| %s | %s label (%s) | %s | %s | ", i < 4 ? sizes[i] : str(p, "benchmark"),
		  str(p, "label"), rules, t, tpr);
		if (i == 0)
			P(d, "1.0× (baseline) |\n");
		else
			P(d, "%.2f× (%.1f× the rules) |\n", sf, num(p, "rules_factor"));
	}
	const json_t *fit = json_object_get(s, "fit");
	if (json_is_object(fit))
		P(d,
		  "\nFitted time ∝ rules^%.3f (log-log least squares over %.0f sizes, R² = "
		  "%.4f); an exponent of 1 is linear scaling.\n\n",
		  num(fit, "exponent"), num(fit, "n"), num(fit, "r2"));
	else
		P(d, "\nNo fit: fewer than two sizes were measured in this run.\n\n");
}

static void stats_table(struct doc *d)
{
	P(d, "### Statistics per Benchmark\n\n");
	P(d, "Every metric of every benchmark: samples, median, mean, standard deviation, min, "
	     "max, 95%% bootstrap confidence interval of the median, Tukey outliers (mild beyond "
	     "1.5 IQR / severe beyond 3 IQR).\n\n");
	P(d, "| Benchmark | Metric | n | Median | Mean | Stddev | Min | Max | Median 95%% CI | "
	     "Outliers |\n");
	P(d, "|---|---|---|---|---|---|---|---|---|---|\n");
	size_t i, j;
	const json_t *b, *m;
	json_array_foreach(json_object_get(d->root, "benchmarks"), i, b)
	{
		if (!ok(b)) {
			char why[1200];
			why_not(b, why, sizeof why);
			P(d, "| `%s` | — | 0 | | | | | | | %s |\n", str(b, "name"), why);
			continue;
		}
		json_array_foreach(json_object_get(b, "metrics"), j, m)
		{
			const char *u = str(m, "unit");
			const json_t *s = json_object_get(m, "stats");
			const json_t *ci = json_object_get(s, "median_ci95");
			const json_t *o = json_object_get(s, "outliers");
			char v[6][32], lo[32], hi[32];
			fmt_value(num(s, "median"), u, v[0], 32);
			fmt_value(num(s, "mean"), u, v[1], 32);
			fmt_value(num(s, "stddev"), u, v[2], 32);
			fmt_value(num(s, "min"), u, v[3], 32);
			fmt_value(num(s, "max"), u, v[4], 32);
			fmt_value(json_number_value(json_array_get(ci, 0)), u, lo, sizeof lo);
			fmt_value(json_number_value(json_array_get(ci, 1)), u, hi, sizeof hi);
			P(d,
			  "| `%s` | %s | %.0f | %s | %s | %s | %s | %s | [%s, %s] | %.0f / %.0f "
			  "|\n",
			  str(b, "name"), str(m, "name"), num(s, "n"), v[0], v[1], v[2], v[3], v[4],
			  lo, hi, num(o, "mild"), num(o, "severe"));
		}
	}
	P(d, "\n");
}

static void section_stats(struct doc *d)
{
	P(d, "## Statistical Summary\n\n");
	const json_t *c = series(d->root, "compile");
	if (c)
		scaling_table(d, c, "Compilation Time Scaling");
	else
		P(d, "### Compilation Time Scaling\n\nNot measured in this run (no compile "
		     "benchmark ran).\n\n");
	const json_t *s = series(d->root, "startup_source");
	if (s)
		scaling_table(d, s, "Startup Time Scaling (source to ready-to-query)");
	s = series(d->root, "startup_image");
	if (s)
		scaling_table(d, s,
			      "Startup Time Scaling (image to ready-to-query, page cache warm)");
	s = series(d->root, "startup_image_cold");
	if (s)
		scaling_table(d, s,
			      "Startup Time Scaling (image to ready-to-query, image evicted)");
	stats_table(d);

	P(d, "### Measured Performance Characteristics\n\n");
	const json_t *fit = json_object_get(c, "fit");
	if (json_is_object(fit))
		P(d,
		  "- **Load time (compile from source)**: O(n^%.2f) in the number of rules "
		  "(fitted exponent; R² %.4f)\n",
		  num(fit, "exponent"), num(fit, "r2"));
	const json_t *mf = bench(d->root, "memory_footprint_medium_kb");
	if (!ok(mf))
		mf = bench(d->root, "memory_footprint_small_kb");
	if (ok(mf))
		P(d,
		  "- **Memory usage**: %.1f bytes per rule resident after compiling (`%s`); "
		  "%.1f bytes per rule as an image with every page touched\n",
		  stat(metric(mf, "bytes_per_rule"), "median"), str(mf, "name"),
		  stat(metric(mf, "image_bytes_per_rule"), "median"));
	const json_t *sz = bench(d->root, "serialize_small_kb");
	if (ok(sz)) {
		char t[32], i2[32];
		doc_fmt_bytes(fact(sz, "text_bytes"), t, sizeof t);
		doc_fmt_bytes(fact(sz, "image_bytes"), i2, sizeof i2);
		P(d,
		  "- **Serialization**: canonical MeTTa text (%s for the small KB) and a "
		  "mmap-able image (%s)\n",
		  t, i2);
	}
	P(d, "\n---\n\n");
}

static void section_hypothesis(struct doc *d)
{
	const json_t *h = json_object_get(json_object_get(d->root, "derived"), "hypothesis");
	P(d, "## Hypothesis for PathMap ACT Integration: Results\n\n");
	P(d, "The seed's hypothesis, checked against kbprof's image format (an mmap-able, "
	     "hash-consed KB image: term interning and structural sharing, O(1) open):\n\n");
	P(d, "| Claim | Target | Measured | Basis | Verdict | How |\n");
	P(d, "|---|---|---|---|---|---|\n");
	size_t i;
	const json_t *x;
	json_array_foreach(h, i, x)
	{
		char v[48];
		const char *u = str(x, "unit");
		double val = num(x, "value");
		if (!isfinite(val))
			snprintf(v, sizeof v, "not measured");
		else if (strcmp(u, "x") == 0 && val >= 999.5) {
			doc_fmt_count(val, v, sizeof v - 3);
			strcat(v, "×");
		} else if (strcmp(u, "x") == 0)
			snprintf(v, sizeof v, "%.3g×", val);
		else if (strcmp(u, "%") == 0)
			snprintf(v, sizeof v, "%.1f%%", val);
		else if (strcmp(u, "ns") == 0)
			doc_fmt_ns(val, v, sizeof v);
		else
			snprintf(v, sizeof v, "%.3g %s", val, u);
		P(d, "| %s | %s | %s | %s | %s | %s |\n", str(x, "claim"), str(x, "target"), v,
		  str(x, "basis"), str(x, "verdict"), str(x, "detail"));
	}
	if (!json_array_size(h))
		P(d, "| (all) | | not measured | not measured | not measured | the benchmarks "
		     "the checks need did not run |\n");
	P(d, "\n---\n\n");
}

static void section_commands(struct doc *d)
{
	P(d, "## Benchmark Execution\n\n### Running Benchmarks\n\n```bash\n");
	P(d, "# This document and its JSON (the command that produced this run)\n%s\n\n",
	  str(d->root, "command"));
	P(d, "# All benchmarks (full sample counts, large KB included)\n"
	     "kbprof bench --doc reports/BASELINE.md --json reports/baseline.json\n\n"
	     "# Quick run: fewer samples, large-KB benchmarks skipped (under 2 minutes)\n"
	     "kbprof bench --quick --doc reports/BASELINE.md --json reports/baseline.json\n\n"
	     "# Specific benchmark (substring or glob)\n"
	     "kbprof bench --filter compile_small_kb\n"
	     "kbprof bench --filter 'query_*' --samples 20\n\n"
	     "# List the benchmarks and their default sample counts\n"
	     "kbprof bench --list\n```\n\n");
	P(d, "### Profiling Commands\n\n```bash\n"
	     "# CPU hot spots and page faults, per benchmark region\n"
	     "kbprof record -g --faults -o bench.kbrec -- kbprof bench --filter compile_medium_kb\n"
	     "kbprof report -i bench.kbrec\n"
	     "kbprof report --faults -i bench.kbrec\n\n"
	     "# Counters per region\n"
	     "kbprof stat -- kbprof bench --filter compile_medium_kb\n```\n\n---\n\n");
}

static void section_notes(struct doc *d)
{
	P(d, "## Notes\n\n");
	P(d, "- Each benchmark runs its warm-up runs, then its samples; setup and teardown are "
	     "outside the timed part. Times are CLOCK_MONOTONIC.\n");
	P(d, "- Statistics come from analyze/stats: medians with 95%% percentile-bootstrap "
	     "intervals (10,000 resamples, fixed seed), Tukey outliers. The JSON keeps every raw "
	     "sample.\n");
	P(d, "- Memory: VmRSS/VmHWM from /proc/self/status, the peak reset through "
	     "/proc/self/clear_refs before each sample.\n");
	P(d, "- Each benchmark is a probed region named after it, so `kbprof record -- kbprof "
	     "bench` attributes samples and faults per benchmark.\n");
	P(d, "- Other processes shared this machine during the run; medians are the figures to "
	     "read.\n\n");
	P(d,
	  "---\n\n**Document Status**: generated by `kbprof bench` at %s; every number is from "
	  "that run.\n",
	  str(d->root, "timestamp"));
}

int baseline_doc_render(const json_t *doc, struct kb_buf *out, struct kb_error *err)
{
	if (!json_is_object(doc) || strcmp(str(doc, "schema"), "kbprof-bench") != 0)
		return kb_error_set(err, "baseline document: input is not a kbprof-bench document");
	json_t *ver = json_object_get(doc, "schema_version");
	if (!json_is_integer(ver))
		return kb_error_set(err, "baseline document: schema_version: missing or not an "
					 "integer");
	if (json_integer_value(ver) != 1)
		return kb_error_set(err,
				    "baseline document: schema_version %lld: this kbprof reads "
				    "version 1",
				    (long long)json_integer_value(ver));
	struct doc d = {.root = doc, .out = out};
	section_header(&d);
	section_hardware(&d);
	section_suite(&d);
	P(&d, "## Baseline Results\n\n");
	section_compile(&d);
	section_memory(&d);
	section_serial(&d);
	section_query(&d);
	section_startup(&d);
	section_profile(&d);
	section_stats(&d);
	section_hypothesis(&d);
	section_commands(&d);
	section_notes(&d);
	if (out->oom)
		return kb_error_set(err, "baseline document: out of memory");
	return 0;
}
