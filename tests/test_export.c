/* Tests for reports/export and `kbprof export`: each format is checked the
 * way its consumer reads it -- pprof decoded by `protoc --decode` against
 * profile.proto and by protobuf-c; the JSON formats against the required
 * fields, types and enums of their documented schemas (BMF's bmf.json,
 * speedscope's file-format-schema.json, github-action-benchmark's custom
 * entries, Google Benchmark's runs); folded stacks parsed back. */
#include "reports/export.h"
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.pb-c.h"

/* ---- fixtures ---- */

/* Two benchmarks: one with a time headline (with CPU times), a second time
 * metric (without: as in a file from before cpu_samples) and a byte
 * counter; one with only a byte metric; one that was skipped. */
static const char bench_doc[] =
    "{\"schema\":\"kbprof-bench\",\"schema_version\":1,\"suite\":\"kb_persistence\","
    "\"timestamp\":\"2025-11-24T01:25:00Z\","
    "\"kbprof\":{\"version\":\"0.1.0\",\"commit\":\"0123456789ab\",\"build_type\":\"Release\"},"
    "\"environment\":{\"cpu\":{\"threads\":2}},"
    "\"benchmarks\":["
    "{\"name\":\"startup_time_small_kb\",\"status\":\"ok\",\"metrics\":["
    "{\"name\":\"from_source\",\"unit\":\"ns\",\"samples\":[100,110,90,105,95],\"stats\":null,"
    "\"cpu_samples\":[80,99,81,94,85]},"
    "{\"name\":\"from_image\",\"unit\":\"ns\",\"samples\":[10,11,9,10,10],\"stats\":null},"
    "{\"name\":\"rss_growth\",\"unit\":\"bytes\",\"samples\":[4096,4096,8192,4096,4096],"
    "\"stats\":null}]},"
    "{\"name\":\"memory_footprint_small_kb\",\"status\":\"ok\",\"metrics\":["
    "{\"name\":\"rss_growth\",\"unit\":\"bytes\",\"samples\":[1000,1200,1100],\"stats\":null}]},"
    "{\"name\":\"compile_large_kb\",\"status\":\"skipped\",\"error\":\"--quick\",\"metrics\":[]}"
    "]}";

static void load_bench(struct benchfile *bf)
{
	struct kb_error err = {0};
	cr_assert_eq(benchfile_parse(bf, bench_doc, strlen(bench_doc), "bench.json", &err), 0, "%s",
		     err.msg);
}

static const char folded[] = "main;parse;lex 30\n"
			     "main;parse;intern 10\n"
			     "main;eval 55\n"
			     "main 5\n";

static void load_tree(struct fg_tree *t, const char *text)
{
	struct kb_error err = {0};
	cr_assert_eq(fg_tree_init(t, &err), 0);
	cr_assert_eq(fg_tree_parse_folded(t, text, strlen(text), "t", &err), 0, "%s", err.msg);
}

static json_t *parse_json(const struct kb_buf *b)
{
	json_error_t je;
	json_t *doc = json_loadb(b->data, b->len, JSON_REJECT_DUPLICATES, &je);
	cr_assert_not_null(doc, "not JSON: %s at %d:%d", je.text, je.line, je.column);
	return doc;
}

static int is_num(json_t *v)
{
	return json_is_number(v);
}

/* ---- Bencher Metric Format ---- */

Test(export, bmf_follows_the_bencher_schema)
{
	struct benchfile bf;
	load_bench(&bf);
	struct kb_buf out = {0}, notes = {0};
	struct kb_error err = {0};
	cr_assert_eq(export_bmf(&bf, &out, &notes, &err), 0, "%s", err.msg);
	json_t *doc = parse_json(&out);
	/* bmf.json: an object of benchmarks, each an object of measures, each
	 * an object with a number "value" and optional number bounds. */
	cr_assert(json_is_object(doc));
	const char *bench;
	json_t *measures;
	json_object_foreach(doc, bench, measures)
	{
		cr_assert(json_is_object(measures), "%s", bench);
		const char *measure;
		json_t *m;
		json_object_foreach(measures, measure, m)
		{
			cr_assert(json_is_object(m));
			cr_assert(is_num(json_object_get(m, "value")), "%s/%s", bench, measure);
			json_t *lo = json_object_get(m, "lower_value"),
			       *hi = json_object_get(m, "upper_value");
			cr_assert((!lo && !hi) || (is_num(lo) && is_num(hi)));
			if (lo)
				cr_expect(json_number_value(lo) <= json_number_value(hi));
		}
	}
	/* Times on the latency measure, one benchmark per series; other units
	 * as measures named after the metric; the failed run left out. */
	json_t *v = json_object_get(
	    json_object_get(json_object_get(doc, "startup_time_small_kb"), "latency"), "value");
	cr_expect_eq(json_number_value(v), 100);
	v = json_object_get(
	    json_object_get(json_object_get(doc, "startup_time_small_kb/from_image"), "latency"),
	    "value");
	cr_expect_eq(json_number_value(v), 10);
	v = json_object_get(
	    json_object_get(json_object_get(doc, "memory_footprint_small_kb"), "rss_growth"),
	    "value");
	cr_expect_eq(json_number_value(v), 1100);
	cr_expect_null(json_object_get(doc, "compile_large_kb"));
	cr_expect(strstr(notes.data, "compile_large_kb: left out (skipped: --quick)"), "%s",
		  notes.data);
	json_decref(doc);
	kb_buf_free(&out);
	kb_buf_free(&notes);
	benchfile_free(&bf);
}

/* ---- github-action-benchmark ---- */

static void check_gab_entries(json_t *doc)
{
	/* Each entry: name (string), unit (string), value (number), and
	 * optional range and extra strings. */
	cr_assert(json_is_array(doc));
	cr_assert_gt(json_array_size(doc), 0);
	size_t i;
	json_t *e;
	json_array_foreach(doc, i, e)
	{
		cr_assert(json_is_string(json_object_get(e, "name")), "entry %zu", i);
		cr_assert(json_is_string(json_object_get(e, "unit")), "entry %zu", i);
		cr_assert(is_num(json_object_get(e, "value")), "entry %zu", i);
		json_t *r = json_object_get(e, "range"), *x = json_object_get(e, "extra");
		cr_assert(!r || json_is_string(r));
		cr_assert(!x || json_is_string(x));
	}
}

static json_t *entry_named(json_t *doc, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach(doc, i, e) if (strcmp(json_string_value(json_object_get(e, "name")),
						 name) == 0) return e;
	return NULL;
}

Test(export, gab_smaller_is_better_carries_every_median)
{
	struct benchfile bf;
	load_bench(&bf);
	struct kb_buf out = {0};
	struct kb_error err = {0};
	cr_assert_eq(export_gab(&bf, 0, &out, NULL, &err), 0, "%s", err.msg);
	json_t *doc = parse_json(&out);
	check_gab_entries(doc);
	cr_expect_eq(json_array_size(doc), 4);
	json_t *e = entry_named(doc, "startup_time_small_kb");
	cr_assert_not_null(e);
	cr_expect_str_eq(json_string_value(json_object_get(e, "unit")), "ns");
	cr_expect_eq(json_number_value(json_object_get(e, "value")), 100);
	e = entry_named(doc, "startup_time_small_kb/rss_growth");
	cr_assert_not_null(e);
	cr_expect_str_eq(json_string_value(json_object_get(e, "unit")), "bytes");
	json_decref(doc);
	kb_buf_free(&out);
	benchfile_free(&bf);
}

Test(export, gab_bigger_is_better_turns_times_into_rates)
{
	struct benchfile bf;
	load_bench(&bf);
	struct kb_buf out = {0}, notes = {0};
	struct kb_error err = {0};
	cr_assert_eq(export_gab(&bf, 1, &out, &notes, &err), 0, "%s", err.msg);
	json_t *doc = parse_json(&out);
	check_gab_entries(doc);
	cr_expect_eq(json_array_size(doc), 2); /* the two time series */
	json_t *e = entry_named(doc, "startup_time_small_kb/from_image");
	cr_assert_not_null(e);
	cr_expect_str_eq(json_string_value(json_object_get(e, "unit")), "runs/s");
	cr_expect(fabs(json_number_value(json_object_get(e, "value")) - 1e8) < 1e-3);
	cr_expect(strstr(notes.data, "memory_footprint_small_kb/rss_growth: left out"), "%s",
		  notes.data);
	json_decref(doc);
	kb_buf_free(&out);
	kb_buf_free(&notes);
	benchfile_free(&bf);
}

/* ---- Google Benchmark ---- */

Test(export, gbench_has_one_run_per_sample_and_the_aggregates)
{
	struct benchfile bf;
	load_bench(&bf);
	struct kb_buf out = {0}, notes = {0};
	struct kb_error err = {0};
	cr_assert_eq(export_gbench(&bf, &out, &notes, &err), 0, "%s", err.msg);
	json_t *doc = parse_json(&out);
	json_t *ctx = json_object_get(doc, "context");
	cr_assert(json_is_object(ctx));
	cr_expect_str_eq(json_string_value(json_object_get(ctx, "date")), "2025-11-24T01:25:00Z");
	cr_expect_eq(json_integer_value(json_object_get(ctx, "num_cpus")), 2);
	cr_expect_str_eq(json_string_value(json_object_get(ctx, "library_build_type")), "release");
	json_t *runs = json_object_get(doc, "benchmarks");
	cr_assert(json_is_array(runs));
	size_t iterations = 0, aggregates = 0, i;
	json_t *r;
	json_array_foreach(runs, i, r)
	{
		/* The fields a Google Benchmark JSON reader relies on. */
		cr_assert(json_is_string(json_object_get(r, "name")));
		cr_assert(json_is_string(json_object_get(r, "run_name")));
		const char *type = json_string_value(json_object_get(r, "run_type"));
		cr_assert(type);
		cr_assert(json_is_integer(json_object_get(r, "repetitions")));
		cr_assert(json_is_integer(json_object_get(r, "threads")));
		cr_assert(json_is_integer(json_object_get(r, "iterations")));
		cr_assert(is_num(json_object_get(r, "real_time")));
		cr_assert(is_num(json_object_get(r, "cpu_time")), "compare.py reads cpu_time");
		cr_assert_str_eq(json_string_value(json_object_get(r, "time_unit")), "ns");
		if (strcmp(type, "iteration") == 0) {
			iterations++;
			cr_assert(json_is_integer(json_object_get(r, "repetition_index")));
		} else {
			cr_assert_str_eq(type, "aggregate");
			aggregates++;
			const char *agg = json_string_value(json_object_get(r, "aggregate_name"));
			cr_assert(agg);
			if (strcmp(agg, "median") == 0 &&
			    strcmp(json_string_value(json_object_get(r, "run_name")),
				   "startup_time_small_kb") == 0)
				cr_expect_eq(json_number_value(json_object_get(r, "real_time")),
					     100);
			if (strcmp(agg, "median") == 0)
				cr_expect_eq(json_number_value(json_object_get(r, "cpu_time")), 85);
		}
	}
	cr_expect_eq(iterations, 5); /* 5 samples of the one series with CPU times */
	cr_expect_eq(aggregates, 3); /* mean, median, stddev */
	/* The byte counter rides on the headline series' runs. */
	json_t *first = json_array_get(runs, 0);
	cr_expect_str_eq(json_string_value(json_object_get(first, "name")),
			 "startup_time_small_kb");
	cr_expect_eq(json_number_value(json_object_get(first, "rss_growth")), 4096);
	cr_expect_eq(json_number_value(json_object_get(first, "real_time")), 100);
	cr_expect_eq(json_number_value(json_object_get(first, "cpu_time")), 80);
	cr_expect_eq(json_number_value(json_object_get(json_array_get(runs, 1), "cpu_time")), 99);
	cr_expect(strstr(notes.data, "memory_footprint_small_kb/rss_growth: left out"));
	cr_expect(strstr(notes.data, "startup_time_small_kb/from_image: left out (no CPU time per "
				     "sample: cpu_samples is absent)"),
		  "%s", notes.data);
	json_decref(doc);
	kb_buf_free(&out);
	kb_buf_free(&notes);
	benchfile_free(&bf);
}

Test(export, gbench_of_a_file_without_cpu_times_fails_and_says_why)
{
	static const char old[] =
	    "{\"schema\":\"kbprof-bench\",\"schema_version\":1,\"benchmarks\":["
	    "{\"name\":\"a\",\"status\":\"ok\",\"metrics\":[{\"name\":\"time\",\"unit\":\"ns\","
	    "\"samples\":[1,2,3],\"stats\":null}]}]}";
	struct benchfile bf;
	struct kb_error err = {0};
	cr_assert_eq(benchfile_parse(&bf, old, strlen(old), "old.json", &err), 0, "%s", err.msg);
	cr_expect_eq(bf.benches[0].metrics[0].have_cpu, 0);
	struct kb_buf out = {0}, notes = {0};
	cr_expect_eq(export_gbench(&bf, &out, &notes, &err), -1);
	cr_expect(strstr(err.msg, "old.json has no CPU times"), "%s", err.msg);
	cr_expect(strstr(notes.data, "the file predates it"), "%s", notes.data);
	/* the formats that need no CPU time still take the file */
	kb_buf_reset(&out);
	cr_expect_eq(export_bmf(&bf, &out, NULL, &err), 0, "%s", err.msg);
	kb_buf_free(&out);
	kb_buf_free(&notes);
	benchfile_free(&bf);
}

Test(export, cpu_samples_of_the_wrong_length_or_sign_are_named)
{
	static const char *bad[] = {
	    "[1,2]",
	    "[1,-2,3]",
	    "\"x\"",
	};
	static const char *why[] = {
	    "benchmarks[0].metrics[0].cpu_samples: 2 values for 3 samples",
	    "benchmarks[0].metrics[0].cpu_samples[1]: not a non-negative number",
	    "benchmarks[0].metrics[0].cpu_samples: not an array",
	};
	for (size_t i = 0; i < 3; i++) {
		char doc[512];
		snprintf(
		    doc, sizeof doc,
		    "{\"schema\":\"kbprof-bench\",\"schema_version\":1,\"benchmarks\":["
		    "{\"name\":\"a\",\"status\":\"ok\",\"metrics\":[{\"name\":\"time\","
		    "\"unit\":\"ns\",\"samples\":[1,2,3],\"stats\":null,\"cpu_samples\":%s}]}]}",
		    bad[i]);
		struct benchfile bf;
		struct kb_error err = {0};
		cr_expect_eq(benchfile_parse(&bf, doc, strlen(doc), "b.json", &err), -1);
		cr_expect(strstr(err.msg, why[i]), "%s", err.msg);
	}
}

/* ---- speedscope ---- */

Test(export, speedscope_follows_its_file_format_schema)
{
	struct fg_tree t;
	load_tree(&t, folded);
	struct kb_buf out = {0};
	struct kb_error err = {0};
	struct export_profile_info info = {
	    .name = "bench", .period = 1000000, .period_unit = "nanoseconds"};
	cr_assert_eq(export_speedscope(&t, &info, &out, &err), 0, "%s", err.msg);
	json_t *doc = parse_json(&out);
	/* FileFormat.File: required $schema (the enum's one value), shared
	 * (with frames), profiles. */
	cr_expect_str_eq(json_string_value(json_object_get(doc, "$schema")),
			 "https://www.speedscope.app/file-format-schema.json");
	json_t *frames = json_object_get(json_object_get(doc, "shared"), "frames");
	cr_assert(json_is_array(frames));
	size_t i;
	json_t *f;
	json_array_foreach(frames, i, f) cr_assert(json_is_string(json_object_get(f, "name")));
	json_t *profiles = json_object_get(doc, "profiles");
	cr_assert(json_is_array(profiles) && json_array_size(profiles) == 1);
	/* FileFormat.SampledProfile: type "sampled", name, unit from the
	 * ValueUnit enum, startValue, endValue, samples (arrays of frame
	 * indices), weights. */
	json_t *p = json_array_get(profiles, 0);
	cr_expect_str_eq(json_string_value(json_object_get(p, "type")), "sampled");
	cr_expect_str_eq(json_string_value(json_object_get(p, "name")), "bench");
	cr_expect_str_eq(json_string_value(json_object_get(p, "unit")), "nanoseconds");
	cr_assert(is_num(json_object_get(p, "startValue")));
	cr_assert(is_num(json_object_get(p, "endValue")));
	json_t *samples = json_object_get(p, "samples"), *weights = json_object_get(p, "weights");
	cr_assert(json_is_array(samples) && json_is_array(weights));
	cr_assert_eq(json_array_size(samples), json_array_size(weights));
	/* Rebuild the profile from the file: the same tree, in nanoseconds. */
	struct fg_tree back;
	cr_assert_eq(fg_tree_init(&back, &err), 0);
	double sum = 0;
	json_t *s;
	json_array_foreach(samples, i, s)
	{
		const char *names[64];
		size_t n = json_array_size(s);
		cr_assert_leq(n, 64);
		for (size_t k = 0; k < n; k++) {
			json_t *ix = json_array_get(s, k);
			cr_assert(json_is_integer(ix));
			cr_assert_lt((size_t)json_integer_value(ix), json_array_size(frames));
			names[k] = json_string_value(json_object_get(
			    json_array_get(frames, (size_t)json_integer_value(ix)), "name"));
		}
		double w = json_number_value(json_array_get(weights, i));
		sum += w;
		cr_assert_eq(fg_tree_add(&back, names, n, (uint64_t)(w / 1e6), &err), 0);
	}
	cr_expect_eq(sum, json_number_value(json_object_get(p, "endValue")));
	cr_expect_eq(sum, 100 * 1e6);
	cr_expect_eq(back.nodes[fg_tree_find_child(&back, 0, "main")].total, 100);
	cr_expect_eq(
	    back.nodes[fg_tree_find_child(&back, fg_tree_find_child(&back, 0, "main"), "parse")]
		.total,
	    40);
	fg_tree_free(&back);
	json_decref(doc);
	kb_buf_free(&out);
	fg_tree_free(&t);
}

Test(export, speedscope_counts_samples_when_the_period_is_not_a_time)
{
	struct fg_tree t;
	load_tree(&t, folded);
	struct kb_buf out = {0};
	struct kb_error err = {0};
	struct export_profile_info info = {.period = 1000, .period_unit = "count"};
	cr_assert_eq(export_speedscope(&t, &info, &out, &err), 0, "%s", err.msg);
	json_t *doc = parse_json(&out);
	json_t *p = json_array_get(json_object_get(doc, "profiles"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(p, "unit")), "none");
	cr_expect_eq(json_number_value(json_object_get(p, "endValue")), 100);
	json_decref(doc);
	kb_buf_free(&out);
	fg_tree_free(&t);
}

/* ---- folded ---- */

Test(export, folded_stacks_round_trip)
{
	struct fg_tree t, back;
	load_tree(&t, "b;y 2\na;x 1\nb;y 3\nb 4\n");
	struct kb_buf out = {0};
	struct kb_error err = {0};
	cr_assert_eq(export_folded(&t, &out, NULL, &err), 0, "%s", err.msg);
	cr_expect_str_eq(out.data, "a;x 1\nb 4\nb;y 5\n");
	load_tree(&back, out.data);
	cr_expect_eq(back.nodes[0].total, 10);
	kb_buf_free(&out);
	fg_tree_free(&t);
	fg_tree_free(&back);
}

/* ---- pprof ---- */

static uint8_t *gunzip(const struct kb_buf *in, size_t *len)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
	size_t cap = 1 << 20;
	uint8_t *outp = malloc(cap);
	z.next_in = (Bytef *)in->data;
	z.avail_in = (uInt)in->len;
	z.next_out = outp;
	z.avail_out = (uInt)cap;
	int rc = inflate(&z, Z_FINISH);
	cr_assert_eq(rc, Z_STREAM_END, "not a complete gzip stream (%d)", rc);
	*len = cap - z.avail_out;
	inflateEnd(&z);
	return outp;
}

static void pprof_of(const char *text, const struct export_profile_info *info, struct kb_buf *out)
{
	struct fg_tree t;
	load_tree(&t, text);
	struct kb_error err = {0};
	cr_assert_eq(export_pprof(&t, info, out, &err), 0, "%s", err.msg);
	fg_tree_free(&t);
}

Test(export, pprof_is_gzipped_profile_proto_with_the_stacks)
{
	struct kb_buf out = {0};
	struct export_profile_info info = {.event = "task-clock",
					   .period = 1000000,
					   .period_unit = "nanoseconds",
					   .time_nanos = 1700000000000000000LL,
					   .duration_nanos = 2000000000};
	pprof_of(folded, &info, &out);
	cr_assert((unsigned char)out.data[0] == 0x1f && (unsigned char)out.data[1] == 0x8b,
		  "gzip magic");
	size_t len;
	uint8_t *raw = gunzip(&out, &len);
	Perftools__Profiles__Profile *p = perftools__profiles__profile__unpack(NULL, len, raw);
	cr_assert_not_null(p, "protobuf-c cannot unpack it");
	cr_assert_gt(p->n_string_table, 0);
	cr_expect_str_eq(p->string_table[0], "");
	cr_assert_eq(p->n_sample_type, 2);
	cr_expect_str_eq(p->string_table[p->sample_type[0]->type], "samples");
	cr_expect_str_eq(p->string_table[p->sample_type[1]->type], "task-clock");
	cr_expect_str_eq(p->string_table[p->sample_type[1]->unit], "nanoseconds");
	cr_expect_eq(p->period, 1000000);
	cr_expect_eq(p->time_nanos, 1700000000000000000LL);
	/* Every sample's leaf-first locations resolve to function names; the
	 * samples whose leaf is "lex" sum to 30. */
	int64_t total = 0, lex = 0;
	for (size_t i = 0; i < p->n_sample; i++) {
		Perftools__Profiles__Sample *s = p->sample[i];
		cr_assert_eq(s->n_value, 2);
		cr_expect_eq(s->value[1], s->value[0] * 1000000);
		total += s->value[0];
		cr_assert_gt(s->n_location_id, 0);
		uint64_t leaf = s->location_id[0];
		const char *name = NULL;
		for (size_t l = 0; l < p->n_location; l++) {
			if (p->location[l]->id != leaf)
				continue;
			uint64_t fid = p->location[l]->line[0]->function_id;
			for (size_t f = 0; f < p->n_function; f++)
				if (p->function[f]->id == fid)
					name = p->string_table[p->function[f]->name];
		}
		cr_assert_not_null(name, "location %lu has no function", (unsigned long)leaf);
		if (strcmp(name, "lex") == 0)
			lex += s->value[0];
	}
	cr_expect_eq(total, 100);
	cr_expect_eq(lex, 30);
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(raw);
	kb_buf_free(&out);
}

Test(export, pprof_decodes_with_protoc_against_profile_proto)
{
	struct kb_buf out = {0};
	struct export_profile_info info = {
	    .event = "cpu-clock", .period = 250000, .period_unit = "nanoseconds"};
	pprof_of(folded, &info, &out);
	char *dir = make_temp_dir();
	char path[512], cmd[2048];
	snprintf(path, sizeof path, "%s/profile.pb.gz", dir);
	cr_assert_eq(write_file(path, out.data, out.len), 0);
	char proto_dir[512];
	snprintf(proto_dir, sizeof proto_dir, "%s", KBPROF_PPROF_PROTO);
	*strrchr(proto_dir, '/') = '\0';
	snprintf(cmd, sizeof cmd,
		 "gzip -dc '%s' | protoc --decode perftools.profiles.Profile -I '%s' profile.proto",
		 path, proto_dir);
	char *argv[] = {"sh", "-c", cmd, NULL};
	struct run_result r;
	cr_assert_eq(run_capture(argv, NULL, &r), 0);
	cr_expect_eq(r.status, 0, "protoc --decode failed: %s", r.err);
	cr_expect(strstr(r.out, "string_table: \"lex\""), "%s", r.out);
	cr_expect(strstr(r.out, "string_table: \"cpu-clock\""));
	cr_expect(strstr(r.out, "period: 250000"));
	cr_expect(strstr(r.out, "value: 55\n  value: 13750000"), "%s", r.out);
	run_result_free(&r);
	/* The decoder is not a rubber stamp: a truncated file fails. */
	cr_assert_eq(write_file(path, out.data, out.len / 2), 0);
	cr_assert_eq(run_capture(argv, NULL, &r), 0);
	cr_expect_neq(r.status, 0, "protoc accepted a truncated profile");
	run_result_free(&r);
	rm_rf(dir);
	free(dir);
	kb_buf_free(&out);
}

Test(export, an_empty_profile_is_refused_by_every_profile_format)
{
	struct fg_tree t;
	struct kb_error err = {0};
	cr_assert_eq(fg_tree_init(&t, &err), 0);
	struct kb_buf out = {0};
	cr_expect_eq(export_pprof(&t, NULL, &out, &err), -1);
	cr_expect(strstr(err.msg, "no samples"));
	cr_expect_eq(export_speedscope(&t, NULL, &out, &err), -1);
	cr_expect_eq(export_folded(&t, &out, NULL, &err), -1);
	kb_buf_free(&out);
	fg_tree_free(&t);
}

/* ---- the command ---- */

Test(export, cli_writes_each_format_and_rejects_bad_input)
{
	char *dir = make_temp_dir();
	char in[512], fin[512], outp[512];
	snprintf(in, sizeof in, "%s/bench.json", dir);
	snprintf(fin, sizeof fin, "%s/p.folded", dir);
	snprintf(outp, sizeof outp, "%s/out", dir);
	cr_assert_eq(write_file(in, bench_doc, strlen(bench_doc)), 0);
	cr_assert_eq(write_file(fin, folded, strlen(folded)), 0);
	static const char *bench_formats[] = {"bmf", "gab-smaller", "customBiggerIsBetter",
					      "gbench"};
	struct run_result r;
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(run_kbprof(&r, NULL, "export", "-f", bench_formats[i], "-i", in, NULL),
			     0);
		cr_expect_eq(r.status, 0, "%s: %s", bench_formats[i], r.err);
		json_error_t je;
		json_t *doc = json_loads(r.out, 0, &je);
		cr_expect_not_null(doc, "%s: %s", bench_formats[i], je.text);
		json_decref(doc);
		run_result_free(&r);
	}
	cr_assert_eq(run_kbprof(&r, NULL, "export", "-f", "pprof", "-i", fin, "-o", outp, NULL), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	run_result_free(&r);
	size_t len;
	char *gz = read_file(outp, &len);
	cr_assert(gz && len > 20 && (unsigned char)gz[0] == 0x1f);
	free(gz);

	cr_assert_eq(run_kbprof(&r, NULL, "export", "-f", "xml", NULL), 0);
	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "unknown format 'xml'"), "%s", r.err);
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "export", "-f", "bmf", "-i", fin, NULL), 0);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "p.folded:1:"), "%s", r.err);
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "export", "-f", "speedscope", "-i", in, NULL), 0);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "bench.json:1: no sample count"), "%s", r.err);
	run_result_free(&r);
	rm_rf(dir);
	free(dir);
}

Test(export, a_real_recording_exports_to_pprof_and_folded_alike)
{
	char *dir = make_temp_dir();
	char rec[512], gz[512], kb[512];
	snprintf(rec, sizeof rec, "%s/rec.kbrec", dir);
	snprintf(gz, sizeof gz, "%s/rec.pb.gz", dir);
	snprintf(kb, sizeof kb, "%s/kb.metta", dir);
	struct run_result r;
	cr_assert_eq(run_kbprof(&r, NULL, "record", "-g", "-F", "5000", "-o", rec, "--",
				kbprof_bin(), "gen", "--rules", "100000", "-o", kb, NULL),
		     0);
	if (r.status != 0) {
		run_result_free(&r);
		rm_rf(dir);
		free(dir);
		cr_skip_test("kbprof record cannot sample here: %s", r.err);
	}
	run_result_free(&r);
	cr_assert_eq(run_kbprof(&r, NULL, "export", "-f", "folded", "-i", rec, NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	struct fg_tree t;
	load_tree(&t, r.out);
	run_result_free(&r);
	cr_assert_gt(t.nodes[0].total, 0, "the recording has no CPU samples");

	cr_assert_eq(run_kbprof(&r, NULL, "export", "-f", "pprof", "-i", rec, "-o", gz, NULL), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_free(&r);
	size_t len;
	char *data = read_file(gz, &len);
	cr_assert_not_null(data);
	struct kb_buf in = {.data = data, .len = len, .cap = len + 1};
	size_t rawlen;
	uint8_t *raw = gunzip(&in, &rawlen);
	Perftools__Profiles__Profile *p = perftools__profiles__profile__unpack(NULL, rawlen, raw);
	cr_assert_not_null(p);
	int64_t total = 0;
	for (size_t i = 0; i < p->n_sample; i++)
		total += p->sample[i]->value[0];
	cr_expect_eq((uint64_t)total, t.nodes[0].total, "pprof %lld vs folded %llu samples",
		     (long long)total, (unsigned long long)t.nodes[0].total);
	cr_expect_gt(p->time_nanos, 0);
	cr_expect_gt(p->duration_nanos, 0);
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(raw);
	free(data);
	fg_tree_free(&t);
	rm_rf(dir);
	free(dir);
}
