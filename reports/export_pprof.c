/* export_pprof: a stack tree as pprof's profile.proto, gzipped (see
 * export.h). The message types come from protoc-c, run at build time on
 * Debian's copy of profile.proto (golang-github-google-pprof-dev); zlib
 * writes the gzip member. Owns nothing beyond each call: the message graph
 * lives in arrays allocated and freed here. */
#include "reports/export.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;
typedef Perftools__Profiles__ValueType ValueType;

struct pprof_ctx {
	Sample *samples;
	Sample **sample_ptrs;
	uint64_t *ids;   /* location ids, leaf first, for every sample */
	int64_t *values; /* n_values per sample */
	size_t n_samples, n_ids, n_values;
	uint64_t period;
};

static int pprof_visit(const struct fg_tree *t, uint32_t node, void *arg)
{
	struct pprof_ctx *c = arg;
	uint64_t self = t->nodes[node].self;
	if (self == 0)
		return 0;
	Sample *s = &c->samples[c->n_samples];
	perftools__profiles__sample__init(s);
	s->location_id = &c->ids[c->n_ids];
	/* Location id = tree name index + 1 (one location per function). */
	for (uint32_t x = node; x != 0; x = t->nodes[x].parent)
		c->ids[c->n_ids++] = (uint64_t)t->nodes[x].name + 1;
	s->n_location_id = (size_t)(&c->ids[c->n_ids] - s->location_id);
	s->value = &c->values[c->n_samples * c->n_values];
	s->n_value = c->n_values;
	s->value[0] = (int64_t)self;
	if (c->n_values > 1)
		s->value[1] = (int64_t)(self * c->period);
	c->sample_ptrs[c->n_samples] = s;
	c->n_samples++;
	return 0;
}

static int gzip_into(const uint8_t *data, size_t len, struct kb_buf *out, struct kb_error *err)
{
	if (len > UINT32_MAX / 2)
		return kb_error_set(err, "pprof: profile too large to compress (%zu bytes)", len);
	z_stream z;
	memset(&z, 0, sizeof z);
	/* windowBits 15 + 16: a gzip header and trailer around the deflate data. */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return kb_error_set(err, "pprof: zlib deflateInit2 failed");
	uLong bound = deflateBound(&z, (uLong)len);
	if (kb_buf_reserve(out, bound)) {
		deflateEnd(&z);
		return kb_error_set(err, "pprof: out of memory (%lu bytes)", (unsigned long)bound);
	}
	z.next_in = (Bytef *)data;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out->data + out->len;
	z.avail_out = (uInt)bound;
	int rc = deflate(&z, Z_FINISH);
	size_t produced = (size_t)bound - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END)
		return kb_error_set(err, "pprof: zlib deflate failed (%d)", rc);
	out->len += produced;
	out->data[out->len] = '\0';
	return 0;
}

static int count_visit(const struct fg_tree *t, uint32_t node, void *arg)
{
	size_t *counts = arg; /* [0] samples, [1] location ids */
	if (t->nodes[node].self == 0)
		return 0;
	counts[0]++;
	counts[1] += t->nodes[node].depth;
	return 0;
}

int export_pprof(const struct fg_tree *t, const struct export_profile_info *info,
		 struct kb_buf *out, struct kb_error *err)
{
	static const struct export_profile_info none;
	if (!info)
		info = &none;
	if (t->nodes[0].total == 0)
		return kb_error_set(err, "pprof: the profile has no samples");
	if (t->nodes[0].total > INT64_MAX / (info->period ? info->period : 1))
		return kb_error_set(err, "pprof: sample values overflow 64 bits");

	size_t counts[2] = {0, 0};
	if (fg_tree_walk(t, count_visit, counts, err))
		return -1;
	int weighted = info->period > 0 && info->period_unit;
	size_t n_names = t->n_names;
	/* Strings: "" first, name i at i + 1, then the value type strings. */
	size_t n_strings = n_names + 5;
	struct pprof_ctx c = {.n_values = weighted ? 2 : 1, .period = info->period};
	char **strings = calloc(n_strings, sizeof *strings);
	unsigned char *used = calloc(n_names, 1);
	Function *funcs = calloc(n_names, sizeof *funcs);
	Function **func_ptrs = calloc(n_names, sizeof *func_ptrs);
	Location *locs = calloc(n_names, sizeof *locs);
	Location **loc_ptrs = calloc(n_names, sizeof *loc_ptrs);
	Line *lines = calloc(n_names, sizeof *lines);
	Line **line_ptrs = calloc(n_names, sizeof *line_ptrs);
	c.samples = calloc(counts[0] + 1, sizeof *c.samples);
	c.sample_ptrs = calloc(counts[0] + 1, sizeof *c.sample_ptrs);
	c.ids = calloc(counts[1] + 1, sizeof *c.ids);
	c.values = calloc((counts[0] + 1) * c.n_values, sizeof *c.values);
	uint8_t *packed = NULL;
	int rc = -1;
	if (!strings || !used || !funcs || !func_ptrs || !locs || !loc_ptrs || !lines ||
	    !line_ptrs || !c.samples || !c.sample_ptrs || !c.ids || !c.values) {
		kb_error_set(err, "pprof: out of memory (%zu frames, %zu samples)", n_names,
			     counts[0]);
		goto out;
	}
	if (fg_tree_walk(t, pprof_visit, &c, err))
		goto out;

	strings[0] = "";
	for (size_t i = 0; i < n_names; i++)
		strings[i + 1] = t->names[i];
	size_t ns = n_names + 1;
	int64_t s_samples = (int64_t)ns;
	strings[ns++] = "samples";
	int64_t s_count = (int64_t)ns;
	strings[ns++] = "count";
	int64_t s_event = 0, s_unit = 0;
	if (weighted) {
		s_event = (int64_t)ns;
		strings[ns++] = (char *)(info->event ? info->event : "events");
		s_unit = (int64_t)ns;
		strings[ns++] = (char *)info->period_unit;
	}

	for (size_t i = 1; i < t->n_nodes; i++)
		used[t->nodes[i].name] = 1;
	size_t nf = 0;
	for (size_t i = 0; i < n_names; i++) {
		if (!used[i])
			continue;
		perftools__profiles__function__init(&funcs[nf]);
		funcs[nf].id = i + 1;
		funcs[nf].name = funcs[nf].system_name = (int64_t)i + 1;
		func_ptrs[nf] = &funcs[nf];
		perftools__profiles__line__init(&lines[nf]);
		lines[nf].function_id = i + 1;
		line_ptrs[nf] = &lines[nf];
		perftools__profiles__location__init(&locs[nf]);
		locs[nf].id = i + 1;
		locs[nf].n_line = 1;
		locs[nf].line = &line_ptrs[nf];
		loc_ptrs[nf] = &locs[nf];
		nf++;
	}

	ValueType types[2], period_type;
	ValueType *type_ptrs[2] = {&types[0], &types[1]};
	perftools__profiles__value_type__init(&types[0]);
	types[0].type = s_samples;
	types[0].unit = s_count;
	Profile p;
	perftools__profiles__profile__init(&p);
	if (weighted) {
		perftools__profiles__value_type__init(&types[1]);
		types[1].type = s_event;
		types[1].unit = s_unit;
		perftools__profiles__value_type__init(&period_type);
		period_type.type = s_event;
		period_type.unit = s_unit;
		p.period_type = &period_type;
		p.period = (int64_t)info->period;
	}
	p.n_sample_type = c.n_values;
	p.sample_type = type_ptrs;
	p.n_sample = c.n_samples;
	p.sample = c.sample_ptrs;
	p.n_location = nf;
	p.location = loc_ptrs;
	p.n_function = nf;
	p.function = func_ptrs;
	p.n_string_table = ns;
	p.string_table = strings;
	p.time_nanos = info->time_nanos;
	p.duration_nanos = info->duration_nanos;

	size_t size = perftools__profiles__profile__get_packed_size(&p);
	packed = malloc(size ? size : 1);
	if (!packed) {
		kb_error_set(err, "pprof: out of memory (%zu bytes)", size);
		goto out;
	}
	if (perftools__profiles__profile__pack(&p, packed) != size) {
		kb_error_set(err, "pprof: protobuf-c packed a different size than it computed");
		goto out;
	}
	rc = gzip_into(packed, size, out, err);
out:
	free(packed);
	free(strings);
	free(used);
	free(funcs);
	free(func_ptrs);
	free(locs);
	free(loc_ptrs);
	free(lines);
	free(line_ptrs);
	free(c.samples);
	free(c.sample_ptrs);
	free(c.ids);
	free(c.values);
	return rc;
}
