/* export_profile: a stack tree as speedscope JSON and as folded stacks
 * (see export.h). Owns nothing beyond each call. */
#include "reports/export.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The frames from the root's child down to `node`, outermost first, into
 * path (sized max_depth + 1); returns how many. */
static size_t path_of(const struct fg_tree *t, uint32_t node, uint32_t *path)
{
	size_t n = 0;
	for (uint32_t x = node; x != 0; x = t->nodes[x].parent)
		n++;
	size_t i = n;
	for (uint32_t x = node; x != 0; x = t->nodes[x].parent)
		path[--i] = x;
	return n;
}

/* ---- folded stacks ---- */

struct folded_ctx {
	struct kb_buf *out;
	uint32_t *path;
};

static int folded_visit(const struct fg_tree *t, uint32_t node, void *arg)
{
	struct folded_ctx *c = arg;
	if (node == 0 || t->nodes[node].self == 0)
		return 0;
	size_t n = path_of(t, node, c->path);
	for (size_t i = 0; i < n; i++) {
		if (i)
			kb_buf_putc(c->out, ';');
		/* A ';' or newline inside a name would split the frame: the
		 * folded format has no escape, so they become '_'. */
		for (const char *s = fg_node_name(t, c->path[i]); *s; s++)
			kb_buf_putc(c->out, *s == ';' || *s == '\n' || *s == '\r' ? '_' : *s);
	}
	kb_buf_printf(c->out, " %" PRIu64 "\n", t->nodes[node].self);
	return 0;
}

int export_folded(const struct fg_tree *t, struct kb_buf *out, struct kb_buf *notes,
		  struct kb_error *err)
{
	if (t->nodes[0].total == 0)
		return kb_error_set(err, "folded: the profile has no samples");
	struct folded_ctx c = {out, malloc(((size_t)t->max_depth + 1) * sizeof(uint32_t))};
	if (!c.path)
		return kb_error_set(err, "folded: out of memory");
	int rc = fg_tree_walk(t, folded_visit, &c, err);
	free(c.path);
	if (rc)
		return -1;
	if (t->nodes[0].self && notes)
		kb_buf_printf(notes, "folded: %" PRIu64 " samples with no stack left out\n",
			      t->nodes[0].self);
	return out->oom ? kb_error_set(err, "folded: out of memory") : 0;
}

/* ---- speedscope ---- */

struct speedscope_ctx {
	json_t *samples, *weights;
	uint32_t *path;
	uint64_t period;
	double total;
	int oom;
};

static int speedscope_visit(const struct fg_tree *t, uint32_t node, void *arg)
{
	struct speedscope_ctx *c = arg;
	uint64_t self = t->nodes[node].self;
	if (self == 0)
		return 0;
	size_t n = path_of(t, node, c->path);
	json_t *stack = json_array();
	for (size_t i = 0; i < n; i++)
		c->oom |= json_array_append_new(stack, json_integer(t->nodes[c->path[i]].name));
	double w = (double)self * (double)(c->period ? c->period : 1);
	c->total += w;
	c->oom |= json_array_append_new(c->samples, stack);
	c->oom |= json_array_append_new(c->weights, json_real(w));
	return 0;
}

int export_speedscope(const struct fg_tree *t, const struct export_profile_info *info,
		      struct kb_buf *out, struct kb_error *err)
{
	static const struct export_profile_info none;
	if (!info)
		info = &none;
	if (t->nodes[0].total == 0)
		return kb_error_set(err, "speedscope: the profile has no samples");
	/* speedscope weighs samples in a unit it knows, or "none" (counts). */
	const char *unit = "none";
	uint64_t period = 0;
	if (info->period && info->period_unit && strcmp(info->period_unit, "nanoseconds") == 0) {
		unit = "nanoseconds";
		period = info->period;
	}
	json_t *frames = json_array();
	for (size_t i = 0; i < t->n_names; i++)
		json_array_append_new(frames, json_pack("{s:s}", "name", t->names[i]));
	struct speedscope_ctx c = {json_array(),
				   json_array(),
				   malloc(((size_t)t->max_depth + 1) * sizeof(uint32_t)),
				   period,
				   0,
				   0};
	int rc = c.path ? fg_tree_walk(t, speedscope_visit, &c, err)
			: kb_error_set(err, "speedscope: out of memory");
	free(c.path);
	if (rc || c.oom) {
		json_decref(frames);
		json_decref(c.samples);
		json_decref(c.weights);
		return rc ? -1 : kb_error_set(err, "speedscope: out of memory");
	}
	const char *name = info->name ? info->name : "kbprof profile";
	json_t *profile = json_pack("{s:s, s:s, s:s, s:i, s:f, s:o, s:o}", "type", "sampled",
				    "name", name, "unit", unit, "startValue", 0, "endValue",
				    c.total, "samples", c.samples, "weights", c.weights);
	json_t *doc = json_pack("{s:s, s:{s:o}, s:[o], s:s, s:i, s:s}", "$schema",
				"https://www.speedscope.app/file-format-schema.json", "shared",
				"frames", frames, "profiles", profile, "name", name,
				"activeProfileIndex", 0, "exporter", "kbprof");
	char *text =
	    doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))
		: NULL;
	json_decref(doc);
	if (!text)
		return kb_error_set(err, "speedscope: out of memory building the JSON");
	kb_buf_puts(out, text);
	kb_buf_putc(out, '\n');
	free(text);
	return out->oom ? kb_error_set(err, "speedscope: out of memory") : 0;
}
