/* bench_json: results to the kbprof-bench JSON schema (see bench_json.h and
 * docs/bench-json.md). json_object_set_new and json_array_append_new steal
 * the new references built here; a NULL child (out of memory) makes them
 * fail, which the final NULL checks catch. */
#include "workloads/bench_json.h"

#include "workloads/kbgen.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

json_t *bench_json_real(double v)
{
	if (!isfinite(v))
		return json_null();
	/* integers print without a fraction: easier to read, same value */
	if (fabs(v) < 9e15 && v == (double)(int64_t)v)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *int_or_null(long v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

json_t *bench_json_environment(const struct sysinfo *si)
{
	json_t *rot =
	    si->storage_rotational < 0 ? json_null() : json_boolean(si->storage_rotational != 0);
	return json_pack(
	    "{s:{s:s, s:o, s:o, s:b}, s:{s:I}, s:{s:s, s:s, s:s, s:s, s:o, s:o, s:o},"
	    " s:{s:s, s:o}, s:o, s:I}",
	    "cpu", "model", si->cpu_model, "cores", int_or_null(si->cores), "threads",
	    int_or_null(si->threads), "virtualized", si->virtualized, "memory", "ram_bytes",
	    (json_int_t)si->ram_bytes, "storage", "path", si->storage_path, "mount_point",
	    si->storage_mount, "fstype", si->storage_fstype, "source", si->storage_source, "device",
	    str_or_null(si->storage_device), "model", str_or_null(si->storage_model), "rotational",
	    rot, "os", "kernel", si->kernel, "distribution", str_or_null(si->distribution),
	    "perf_event_paranoid", int_or_null(si->perf_event_paranoid), "page_size",
	    (json_int_t)si->page_size);
}

json_t *bench_json_kbprof(const struct sysinfo *si)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "version", si->version, "commit", si->commit,
			 "build_type", si->build_type, "compiler", si->compiler, "cflags",
			 si->cflags);
}

static json_t *interval(const struct stats_estimate *e)
{
	return json_pack("[o, o]", bench_json_real(e->lo), bench_json_real(e->hi));
}

static json_t *stats_json(const struct stats_summary *s)
{
	const struct stats_outliers *o = &s->outliers;
	return json_pack(
	    "{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
	    "n", (json_int_t)s->n, "min", bench_json_real(s->min), "max", bench_json_real(s->max),
	    "mean", bench_json_real(s->mean), "median", bench_json_real(s->median), "stddev",
	    bench_json_real(s->stddev), "mad", bench_json_real(s->mad), "p5",
	    bench_json_real(s->p5), "p95", bench_json_real(s->p95), "median_ci95",
	    interval(&s->median_ci), "mean_ci95", interval(&s->mean_ci), "outliers", "low_severe",
	    (json_int_t)o->low_severe, "low_mild", (json_int_t)o->low_mild, "high_mild",
	    (json_int_t)o->high_mild, "high_severe", (json_int_t)o->high_severe, "mild",
	    (json_int_t)o->mild, "severe", (json_int_t)o->severe);
}

static json_t *metric_json(const struct bench_metric_result *m)
{
	json_t *samples = json_array();
	for (size_t i = 0; samples && i < m->n; i++)
		json_array_append_new(samples, bench_json_real(m->samples[i]));
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", m->def->name, "unit",
			      m->def->unit, "summary", m->def->summary, "samples", samples, "stats",
			      m->have_stats ? stats_json(&m->stats) : json_null());
	if (o && m->cpu_samples && m->n > 0) {
		json_t *cpu = json_array();
		for (size_t i = 0; cpu && i < m->n; i++)
			json_array_append_new(cpu, bench_json_real(m->cpu_samples[i]));
		json_object_set_new(o, "cpu_samples", cpu);
	}
	return o;
}

static const char *status_name(enum bench_status s)
{
	switch (s) {
	case BENCH_OK:
		return "ok";
	case BENCH_FAILED:
		return "failed";
	case BENCH_SKIPPED:
		return "skipped";
	}
	return "failed";
}

json_t *bench_json_result(const struct bench_result *r)
{
	const struct bench_def *d = r->def;
	json_t *kb = json_null();
	if (d->kb_n) {
		char label[32];
		bench_kb_label(d->kb_n, label, sizeof label);
		/* properties of the generator, known whether or not the benchmark ran */
		kb = json_pack("{s:s, s:I, s:I, s:I}", "label", label, "generator_n",
			       (json_int_t)d->kb_n, "rules", (json_int_t)kbgen_rule_count(d->kb_n),
			       "source_bytes", (json_int_t)kbgen_size(d->kb_n));
	}
	json_t *metrics = json_array(), *facts = json_array();
	if (r->status != BENCH_SKIPPED)
		for (unsigned m = 0; metrics && m < d->nmetrics; m++)
			json_array_append_new(metrics, metric_json(&r->metrics[m]));
	for (unsigned i = 0; facts && i < r->nfacts; i++)
		json_array_append_new(facts, json_pack("{s:s, s:s, s:o}", "name", r->facts[i].name,
						       "unit", r->facts[i].unit, "value",
						       bench_json_real(r->facts[i].value)));
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:o, s:o, s:o}", "name", d->name,
			 "group", d->group, "summary", d->summary, "status", status_name(r->status),
			 "error", r->status == BENCH_OK ? json_null() : json_string(r->error), "kb",
			 kb, "warmup", (json_int_t)r->warmup, "samples_requested",
			 (json_int_t)r->samples_requested, "wall_s", bench_json_real(r->wall_s),
			 "metrics", metrics, "facts", facts);
}

json_t *bench_json_document(const struct bench_results *res, const struct bench_opts *opts,
			    const struct sysinfo *si, const char *command, json_t *derived_steal,
			    json_t *profile_steal, const char *profile_reason)
{
	char stamp[32];
	time_t t = (time_t)res->start_unix;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);

	json_t *filters = json_array();
	for (size_t i = 0; filters && i < opts->nfilters; i++)
		json_array_append_new(filters, json_string(opts->filters[i]));
	json_t *benchmarks = json_array();
	for (size_t i = 0; benchmarks && i < res->n; i++)
		json_array_append_new(benchmarks, bench_json_result(&res->items[i]));
	json_t *derived = derived_steal ? derived_steal : json_object();
	json_t *profile = profile_steal;
	if (!profile)
		profile = json_pack("{s:s, s:s}", "status", "not measured", "reason",
				    profile_reason ? profile_reason : "no profiling pass was run");

	return json_pack("{s:s, s:i, s:s, s:s, s:o, s:s, s:{s:b, s:o, s:o, s:s}, s:o, s:o, s:o,"
			 " s:o, s:o}",
			 "schema", BENCH_JSON_SCHEMA, "schema_version", BENCH_JSON_SCHEMA_VERSION,
			 "suite", res->suite ? res->suite->name : "", "timestamp", stamp,
			 "duration_s", bench_json_real(res->duration_s), "command",
			 command ? command : "", "options", "quick", opts->quick, "samples",
			 opts->samples ? json_integer(opts->samples) : json_null(), "filters",
			 filters, "workdir", opts->workdir ? opts->workdir : "", "kbprof",
			 bench_json_kbprof(si), "environment", bench_json_environment(si),
			 "benchmarks", benchmarks, "derived", derived, "profile", profile);
}

int bench_json_write(const json_t *doc, const char *path, struct kb_error *err)
{
	if (json_dump_file(doc, path,
			   JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) != 0)
		return kb_error_set(err, "%s: cannot write the JSON results", path);
	return 0;
}
