/* benchfile: the `kbprof-bench` JSON reader (see benchfile.h).
 * Owns: the parsed document and the arrays built from it. */
#include "analyze/benchfile.h"

#include "analyze/stats.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA "kbprof-bench"
#define SCHEMA_VERSION 1

static const char *opt_string(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : "";
}

static double opt_number(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static void read_interval(json_t *obj, const char *key, double *lo, double *hi)
{
	json_t *v = json_object_get(obj, key);
	*lo = *hi = NAN;
	if (json_is_array(v) && json_array_size(v) == 2 && json_is_number(json_array_get(v, 0)) &&
	    json_is_number(json_array_get(v, 1))) {
		*lo = json_number_value(json_array_get(v, 0));
		*hi = json_number_value(json_array_get(v, 1));
	}
}

/* analyze/stats' summary of x[0..n-1], as kbprof bench computes it. */
static int describe(const double *x, size_t n, struct benchfile_stats *out, const char *where,
		    const char *field, struct kb_error *err)
{
	struct stats_summary sum;
	struct kb_error serr;
	if (stats_describe(x, n, NULL, &sum, &serr))
		return kb_error_set(err, "%s.%s: %s", where, field, serr.msg);
	*out = (struct benchfile_stats){
	    .n = sum.n,
	    .min = sum.min,
	    .max = sum.max,
	    .mean = sum.mean,
	    .median = sum.median,
	    .stddev = sum.stddev,
	    .mad = sum.mad,
	    .p5 = sum.p5,
	    .p95 = sum.p95,
	    .median_lo = sum.median_ci.lo,
	    .median_hi = sum.median_ci.hi,
	    .mean_lo = sum.mean_ci.lo,
	    .mean_hi = sum.mean_ci.hi,
	};
	return 0;
}

/* The optional cpu_samples: one non-negative number per sample. */
static int read_cpu(struct benchfile_metric *m, json_t *jm, const char *where, struct kb_error *err)
{
	json_t *cpu = json_object_get(jm, "cpu_samples");
	if (!cpu || json_is_null(cpu))
		return 0; /* older files, and metrics that are not stopwatch times */
	if (!json_is_array(cpu))
		return kb_error_set(err, "%s.cpu_samples: not an array", where);
	if (json_array_size(cpu) != m->n)
		return kb_error_set(err, "%s.cpu_samples: %zu values for %zu samples", where,
				    json_array_size(cpu), m->n);
	m->cpu_samples = malloc((m->n ? m->n : 1) * sizeof *m->cpu_samples);
	if (!m->cpu_samples)
		return kb_error_set(err, "%s.cpu_samples: out of memory", where);
	for (size_t i = 0; i < m->n; i++) {
		json_t *v = json_array_get(cpu, i);
		double x = json_is_number(v) ? json_number_value(v) : NAN;
		if (!(x >= 0) || !isfinite(x))
			return kb_error_set(err, "%s.cpu_samples[%zu]: not a non-negative number",
					    where, i);
		m->cpu_samples[i] = x;
	}
	if (m->n > 0) {
		if (describe(m->cpu_samples, m->n, &m->cpu_stats, where, "cpu_samples", err))
			return -1;
		m->have_cpu = 1;
	}
	return 0;
}

static int read_metric(struct benchfile_metric *m, json_t *jm, const char *where,
		       struct kb_error *err)
{
	if (!json_is_object(jm))
		return kb_error_set(err, "%s: not an object", where);
	json_t *name = json_object_get(jm, "name"), *unit = json_object_get(jm, "unit");
	if (!json_is_string(name))
		return kb_error_set(err, "%s.name: missing or not a string", where);
	if (!json_is_string(unit))
		return kb_error_set(err, "%s.unit: missing or not a string", where);
	m->name = json_string_value(name);
	m->unit = json_string_value(unit);
	m->summary = opt_string(jm, "summary");
	json_t *samples = json_object_get(jm, "samples");
	if (!json_is_array(samples))
		return kb_error_set(err, "%s.samples: missing or not an array", where);
	m->n = json_array_size(samples);
	m->samples = malloc((m->n ? m->n : 1) * sizeof *m->samples);
	if (!m->samples)
		return kb_error_set(err, "%s.samples: out of memory (%zu values)", where, m->n);
	for (size_t i = 0; i < m->n; i++) {
		json_t *v = json_array_get(samples, i);
		if (!json_is_number(v))
			return kb_error_set(err, "%s.samples[%zu]: not a number", where, i);
		m->samples[i] = json_number_value(v);
		if (!isfinite(m->samples[i]))
			return kb_error_set(err, "%s.samples[%zu]: not a finite number", where, i);
	}
	json_t *st = json_object_get(jm, "stats");
	if (json_is_object(st)) {
		struct benchfile_stats *s = &m->stats;
		json_t *n = json_object_get(st, "n");
		if (!json_is_integer(n) || json_integer_value(n) < 0)
			return kb_error_set(err, "%s.stats.n: missing or not a count", where);
		s->n = (size_t)json_integer_value(n);
		s->min = opt_number(st, "min");
		s->max = opt_number(st, "max");
		s->mean = opt_number(st, "mean");
		s->median = opt_number(st, "median");
		s->stddev = opt_number(st, "stddev");
		s->mad = opt_number(st, "mad");
		s->p5 = opt_number(st, "p5");
		s->p95 = opt_number(st, "p95");
		read_interval(st, "median_ci95", &s->median_lo, &s->median_hi);
		read_interval(st, "mean_ci95", &s->mean_lo, &s->mean_hi);
		if (isnan(s->median))
			return kb_error_set(err, "%s.stats.median: missing or not a number", where);
		m->have_stats = 1;
	} else if (st && !json_is_null(st)) {
		return kb_error_set(err, "%s.stats: neither an object nor null", where);
	} else if (m->n > 0) {
		/* Samples without recorded statistics (a hand-made or trimmed
		 * file): compute them the way kbprof bench does. */
		if (describe(m->samples, m->n, &m->stats, where, "samples", err))
			return -1;
		m->have_stats = 1;
	}
	return read_cpu(m, jm, where, err);
}

static int read_bench(struct benchfile_bench *b, json_t *jb, size_t index, struct kb_error *err)
{
	char where[96];
	snprintf(where, sizeof where, "benchmarks[%zu]", index);
	if (!json_is_object(jb))
		return kb_error_set(err, "%s: not an object", where);
	json_t *name = json_object_get(jb, "name"), *status = json_object_get(jb, "status");
	if (!json_is_string(name) || !json_string_length(name))
		return kb_error_set(err, "%s.name: missing or not a non-empty string", where);
	if (!json_is_string(status))
		return kb_error_set(err, "%s.status: missing or not a string", where);
	b->name = json_string_value(name);
	b->status = json_string_value(status);
	b->group = opt_string(jb, "group");
	b->summary = opt_string(jb, "summary");
	json_t *e = json_object_get(jb, "error");
	b->error = json_is_string(e) ? json_string_value(e) : NULL;
	b->kb_rules = -1;
	json_t *kb = json_object_get(jb, "kb");
	if (json_is_object(kb)) {
		json_t *label = json_object_get(kb, "label"), *rules = json_object_get(kb, "rules");
		b->kb_label = json_is_string(label) ? json_string_value(label) : NULL;
		b->kb_rules = json_is_integer(rules) ? json_integer_value(rules) : -1;
	}
	json_t *metrics = json_object_get(jb, "metrics");
	if (!json_is_array(metrics))
		return kb_error_set(err, "%s.metrics: missing or not an array", where);
	b->n_metrics = json_array_size(metrics);
	b->metrics = calloc(b->n_metrics ? b->n_metrics : 1, sizeof *b->metrics);
	if (!b->metrics) {
		b->n_metrics = 0;
		return kb_error_set(err, "%s.metrics: out of memory", where);
	}
	for (size_t i = 0; i < b->n_metrics; i++) {
		char mwhere[128];
		snprintf(mwhere, sizeof mwhere, "%s.metrics[%zu]", where, i);
		if (read_metric(&b->metrics[i], json_array_get(metrics, i), mwhere, err))
			return -1;
	}
	return 0;
}

/* derived.scaling and profile.hotspots are optional: a file without them
 * has none; present but malformed is an error. */
static int read_scaling(struct benchfile *bf, json_t *doc, struct kb_error *err)
{
	json_t *sc = json_object_get(json_object_get(doc, "derived"), "scaling");
	if (!sc || json_is_null(sc))
		return 0;
	if (!json_is_array(sc))
		return kb_error_set(err, "derived.scaling: not an array");
	bf->scaling = calloc(json_array_size(sc) + 1, sizeof *bf->scaling);
	if (!bf->scaling)
		return kb_error_set(err, "derived.scaling: out of memory");
	for (size_t i = 0; i < json_array_size(sc); i++) {
		json_t *js = json_array_get(sc, i), *pts = json_object_get(js, "points");
		struct benchfile_scaling *s = &bf->scaling[bf->n_scaling++];
		if (!json_is_object(js) || !json_is_array(pts))
			return kb_error_set(err, "derived.scaling[%zu]: no points array", i);
		s->series = opt_string(js, "series");
		s->metric = opt_string(js, "metric");
		s->points = calloc(json_array_size(pts) + 1, sizeof *s->points);
		if (!s->points)
			return kb_error_set(err, "derived.scaling[%zu]: out of memory", i);
		for (size_t k = 0; k < json_array_size(pts); k++) {
			json_t *jp = json_array_get(pts, k);
			struct benchfile_scaling_point *p = &s->points[s->n_points];
			p->benchmark = opt_string(jp, "benchmark");
			p->label = opt_string(jp, "label");
			p->rules = opt_number(jp, "rules");
			p->median_ns = opt_number(jp, "median_ns");
			if (!(p->rules > 0) || !(p->median_ns > 0))
				continue; /* not measured at that size */
			s->n_points++;
		}
		json_t *fit = json_object_get(js, "fit");
		if (json_is_object(fit)) {
			s->exponent = opt_number(fit, "exponent");
			s->coefficient = opt_number(fit, "coefficient");
			s->r2 = opt_number(fit, "r2");
			s->have_fit = isfinite(s->exponent) && isfinite(s->coefficient);
		}
	}
	return 0;
}

static int read_profile(struct benchfile *bf, json_t *doc, struct kb_error *err)
{
	json_t *pr = json_object_get(doc, "profile");
	bf->profile_status = opt_string(pr, "status");
	bf->profile_reason = opt_string(pr, "reason");
	bf->profile_event = opt_string(pr, "event");
	json_t *hs = json_object_get(pr, "hotspots");
	if (!json_is_array(hs))
		return 0;
	bf->hotspots = calloc(json_array_size(hs) + 1, sizeof *bf->hotspots);
	if (!bf->hotspots)
		return kb_error_set(err, "profile.hotspots: out of memory");
	for (size_t i = 0; i < json_array_size(hs); i++) {
		json_t *h = json_array_get(hs, i);
		if (!json_is_string(json_object_get(h, "function")))
			return kb_error_set(err, "profile.hotspots[%zu].function: missing", i);
		struct benchfile_hotspot *o = &bf->hotspots[bf->n_hotspots++];
		o->function = opt_string(h, "function");
		o->module = opt_string(h, "module");
		o->self_samples = opt_number(h, "self_samples");
		o->self_pct = opt_number(h, "self_pct");
		o->inclusive_pct = opt_number(h, "inclusive_pct");
	}
	return 0;
}

static int read_doc(struct benchfile *bf, struct kb_error *err)
{
	json_t *doc = bf->doc;
	if (!json_is_object(doc))
		return kb_error_set(err, "the top level is not a JSON object");
	json_t *schema = json_object_get(doc, "schema");
	if (!json_is_string(schema) || strcmp(json_string_value(schema), SCHEMA) != 0)
		return kb_error_set(err, "not a kbprof bench result (\"schema\" is not \"%s\")",
				    SCHEMA);
	json_t *ver = json_object_get(doc, "schema_version");
	if (!json_is_integer(ver))
		return kb_error_set(err, "schema_version: missing or not an integer");
	if (json_integer_value(ver) != SCHEMA_VERSION)
		return kb_error_set(err, "schema_version %lld: this kbprof reads version %d",
				    (long long)json_integer_value(ver), SCHEMA_VERSION);
	bf->suite = opt_string(doc, "suite");
	bf->timestamp = opt_string(doc, "timestamp");
	bf->command = opt_string(doc, "command");
	json_t *k = json_object_get(doc, "kbprof");
	bf->version = opt_string(k, "version");
	bf->commit = opt_string(k, "commit");
	bf->build_type = opt_string(k, "build_type");
	bf->compiler = opt_string(k, "compiler");
	bf->quick = json_is_true(json_object_get(json_object_get(doc, "options"), "quick"));
	json_t *benches = json_object_get(doc, "benchmarks");
	if (!json_is_array(benches))
		return kb_error_set(err, "benchmarks: missing or not an array");
	size_t n = json_array_size(benches);
	bf->benches = calloc(n ? n : 1, sizeof *bf->benches);
	if (!bf->benches)
		return kb_error_set(err, "benchmarks: out of memory");
	bf->n_benches = n;
	for (size_t i = 0; i < n; i++) {
		if (read_bench(&bf->benches[i], json_array_get(benches, i), i, err))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(bf->benches[j].name, bf->benches[i].name) == 0)
				return kb_error_set(err, "benchmarks[%zu]: '%s' appears twice", i,
						    bf->benches[i].name);
	}
	return read_scaling(bf, doc, err) || read_profile(bf, doc, err) ? -1 : 0;
}

int benchfile_parse(struct benchfile *bf, const char *text, size_t len, const char *origin,
		    struct kb_error *err)
{
	memset(bf, 0, sizeof *bf);
	bf->path = strdup(origin);
	if (!bf->path)
		return kb_error_set(err, "%s: out of memory", origin);
	json_error_t je;
	bf->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!bf->doc) {
		kb_error_set(err, "%s:%d:%d: %s", origin, je.line, je.column, je.text);
		benchfile_free(bf);
		return -1;
	}
	struct kb_error inner;
	if (read_doc(bf, &inner)) {
		kb_error_set(err, "%s: %s", origin, inner.msg);
		benchfile_free(bf);
		return -1;
	}
	return 0;
}

int benchfile_load(struct benchfile *bf, const char *path, struct kb_error *err)
{
	int is_stdin = strcmp(path, "-") == 0;
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	memset(bf, 0, sizeof *bf);
	if (!f)
		return kb_error_set(err, "%s: %s", path, strerror(errno));
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	int rc = 0;
	for (;;) {
		if (len + 65536 > cap) {
			size_t c = cap ? cap * 2 : 65536;
			char *p = realloc(text, c);
			if (!p) {
				rc = kb_error_set(err, "%s: out of memory", path);
				break;
			}
			text = p;
			cap = c;
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (rc == 0 && ferror(f))
		rc = kb_error_set(err, "%s: read error: %s", path, strerror(errno));
	if (!is_stdin)
		fclose(f);
	if (rc == 0)
		rc = benchfile_parse(bf, text ? text : "", len, is_stdin ? "<stdin>" : path, err);
	free(text);
	return rc;
}

void benchfile_free(struct benchfile *bf)
{
	for (size_t i = 0; i < bf->n_benches; i++) {
		struct benchfile_bench *b = &bf->benches[i];
		for (size_t j = 0; j < b->n_metrics; j++) {
			free(b->metrics[j].samples);
			free(b->metrics[j].cpu_samples);
		}
		free(b->metrics);
	}
	free(bf->benches);
	for (size_t i = 0; i < bf->n_scaling; i++)
		free(bf->scaling[i].points);
	free(bf->scaling);
	free(bf->hotspots);
	if (bf->doc)
		json_decref(bf->doc);
	free(bf->path);
	memset(bf, 0, sizeof *bf);
}

const struct benchfile_bench *benchfile_find(const struct benchfile *bf, const char *name)
{
	for (size_t i = 0; i < bf->n_benches; i++)
		if (strcmp(bf->benches[i].name, name) == 0)
			return &bf->benches[i];
	return NULL;
}

const struct benchfile_metric *benchfile_metric(const struct benchfile_bench *b, const char *name)
{
	for (size_t i = 0; i < b->n_metrics; i++)
		if (strcmp(b->metrics[i].name, name) == 0)
			return &b->metrics[i];
	return NULL;
}
