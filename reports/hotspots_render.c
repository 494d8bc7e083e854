/* hotspots_render: the hotspot report as text, markdown, JSON and folded
 * stacks. Layout and schema: docs/report-json.md. */
#include "reports/common.h"
#include "reports/report.h"
#include "reports/table.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int rep_format_parse(const char *name)
{
	if (!name)
		return -1;
	if (strcmp(name, "text") == 0)
		return REP_TEXT;
	if (strcmp(name, "markdown") == 0 || strcmp(name, "md") == 0)
		return REP_MARKDOWN;
	if (strcmp(name, "json") == 0)
		return REP_JSON;
	if (strcmp(name, "folded") == 0)
		return REP_FOLDED;
	return -1;
}

static const char *module_of(const struct sym_function *fn)
{
	return fn->module ? rep_base(fn->module) : "";
}

static void source_of(const struct sym_function *fn, char *buf, size_t size)
{
	if (fn->decl_file)
		snprintf(buf, size, "%s:%u", rep_base(fn->decl_file), fn->decl_line);
	else
		snprintf(buf, size, "%s", "");
}

static void event_line(const struct hot_report *r, char *buf, size_t size)
{
	const struct prof_event *e = r->event;
	char rate[64];
	if (e->flags & KBREC_EVENT_FREQ)
		snprintf(rate, sizeof rate, "%" PRIu64 " Hz", e->period_or_freq);
	else
		snprintf(rate, sizeof rate, "every %" PRIu64, e->period_or_freq);
	snprintf(buf, size, "%s, %s%s%s", e->name, rate,
		 e->flags & KBREC_EVENT_CALLCHAIN ? ", call chains" : ", no call chains",
		 e->flags & KBREC_EVENT_FALLBACK ? " (a fallback: see warnings)" : "");
}

static double share(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

static void header(const struct hot_report *r, struct kb_buf *out, int md)
{
	const struct prof *p = r->prof;
	char ev[512], line[1024];
	kb_buf_puts(out, md ? "## Hotspots\n\n" : "kbprof report: hotspots\n");
	rep_recording_text(p, out, md);
	event_line(r, ev, sizeof ev);
	rep_field(out, md, "event", ev);
	char filters[512];
	rep_filters_text(filters, sizeof filters, r->region, r->comm, r->pid);
	snprintf(line, sizeof line,
		 "%" PRIu64 " selected of %" PRIu64 " (lost %" PRIu64 ", throttled %" PRIu64
		 " times)%s",
		 r->samples, r->event_samples, r->event->lost, r->event->throttles, filters);
	rep_field(out, md, "samples", line);
	snprintf(line, sizeof line,
		 "%.1f%% of samples in a known function, %.1f%% with a source line "
		 "(%zu distinct addresses: %zu with a line, %zu function only, %zu module only, "
		 "%zu outside every module: kernel or unknown)",
		 share(r->with_function, r->samples), share(r->with_line, r->samples),
		 r->addresses[0] + r->addresses[1] + r->addresses[2] + r->addresses[3],
		 r->addresses[SYM_LEVEL_LINE], r->addresses[SYM_LEVEL_FUNCTION],
		 r->addresses[SYM_LEVEL_MODULE], r->addresses[SYM_LEVEL_NONE]);
	rep_field(out, md, "coverage", line);
}

static void functions_table(const struct hot_report *r, struct kb_buf *out, int md)
{
	static const char *const spec[] = {"self%:r",    "self:r",   "total%:r", "total:r",
					   "function:l", "module:l", "source:l", NULL};
	struct rtab t;
	rtab_init(&t, spec);
	for (size_t i = 0; i < r->n_rows; i++) {
		const struct hot_row *row = &r->rows[i];
		char src[512];
		source_of(row->fn, src, sizeof src);
		rtab_cell(&t, "%.2f%%", row->self.pct);
		rtab_cell(&t, "%" PRIu64, row->self.samples);
		rtab_cell(&t, "%.2f%%", row->total.pct);
		rtab_cell(&t, "%" PRIu64, row->total.samples);
		rtab_cell(&t, "%s", row->fn->name);
		rtab_cell(&t, "%s", module_of(row->fn));
		rtab_cell(&t, "%s", src);
	}
	kb_buf_printf(out, md ? "\n### Top functions by %s time\n\n" : "\ntop functions by %s:\n",
		      r->sort == HOT_SORT_TOTAL ? "inclusive" : "self");
	if (md)
		rtab_markdown(&t, out);
	else
		rtab_text(&t, out, 2);
	if (r->n_rows < r->n_functions)
		kb_buf_printf(out,
			      md ? "\n%zu of %zu functions shown.\n" : "  (%zu of %zu functions)\n",
			      r->n_rows, r->n_functions);
	out->oom |= t.oom;
	rtab_free(&t);
}

static void regions_table(const struct hot_report *r, struct kb_buf *out, int md)
{
	if (r->n_regions == 0 || (r->n_regions == 1 && !r->regions[0].path))
		return;
	static const char *const spec[] = {"region:l", "self%:r",   "self:r", "incl%:r",
					   "incl:r",   "entries:r", "wall:r", NULL};
	struct rtab t;
	rtab_init(&t, spec);
	for (size_t i = 0; i < r->n_regions; i++) {
		const struct hot_region_row *g = &r->regions[i];
		char wall[64];
		rep_duration(wall, sizeof wall, g->wall_ns);
		rtab_cell(&t, "%s", g->path ? g->path : "(no region)");
		rtab_cell(&t, "%.2f%%", g->self.pct);
		rtab_cell(&t, "%" PRIu64, g->self.samples);
		rtab_cell(&t, "%.2f%%", g->incl.pct);
		rtab_cell(&t, "%" PRIu64, g->incl.samples);
		rtab_cell(&t, "%" PRIu64, g->entries);
		rtab_cell(&t, "%s", g->path ? wall : "");
	}
	kb_buf_puts(out, md ? "\n### Samples by region\n\n" : "\nsamples by region:\n");
	if (md)
		rtab_markdown(&t, out);
	else
		rtab_text(&t, out, 2);
	out->oom |= t.oom;
	rtab_free(&t);
}

static void edges_table(const struct hot_edge *e, size_t n, const char *what, const char *none,
			struct kb_buf *out, int md)
{
	static const char *const spec[] = {"share:r", "samples:r", "function:l", "module:l", NULL};
	struct rtab t;
	rtab_init(&t, spec);
	for (size_t i = 0; i < n; i++) {
		rtab_cell(&t, "%.2f%%", e[i].count.pct);
		rtab_cell(&t, "%" PRIu64, e[i].count.samples);
		rtab_cell(&t, "%s", e[i].fn ? e[i].fn->name : none);
		rtab_cell(&t, "%s", e[i].fn ? module_of(e[i].fn) : "");
	}
	kb_buf_printf(out, md ? "\n%s\n\n" : "\n  %s\n", what);
	if (md)
		rtab_markdown(&t, out);
	else
		rtab_text(&t, out, 4);
	out->oom |= t.oom;
	rtab_free(&t);
}

static void callgraph(const struct hot_report *r, struct kb_buf *out, int md)
{
	const struct hot_callgraph *cg = r->callgraph;
	if (!cg)
		return;
	if (!cg->n_matches) {
		kb_buf_printf(out,
			      md ? "\n### Callers of `%s`\n\nNo selected sample has `%s` on its "
				   "call chain.\n"
				 : "\ncallers of %s: no selected sample has %s on its call chain\n",
			      cg->name, cg->name);
		return;
	}
	const char *merged = cg->n_matches > 1 ? "; several functions of that name, merged" : "";
	if (md)
		kb_buf_printf(out,
			      "\n### Callers and callees of `%s`\n\n`%s` is on the call chain of "
			      "%" PRIu64 " samples (%.2f%%)%s.\n",
			      cg->name, cg->name, cg->total.samples, cg->total.pct, merged);
	else
		kb_buf_printf(out,
			      "\ncallers and callees of %s (on the call chain of %" PRIu64
			      " samples, %.2f%%%s):\n",
			      cg->name, cg->total.samples, cg->total.pct, merged);
	edges_table(cg->callers, cg->n_callers, "callers", "(root of the stack)", out, md);
	edges_table(cg->callees, cg->n_callees, "callees", "(itself: self time)", out, md);
}

static void lines_tables(const struct hot_report *r, struct kb_buf *out, int md)
{
	for (size_t i = 0; i < r->n_lines; i++) {
		const struct hot_lines *hl = &r->lines[i];
		if (!hl->n)
			continue;
		static const char *const spec[] = {"self%:r", "samples:r", "line:l", NULL};
		struct rtab t;
		rtab_init(&t, spec);
		for (size_t k = 0; k < hl->n; k++) {
			const struct hot_line *l = &hl->lines[k];
			rtab_cell(&t, "%.2f%%", l->self.pct);
			rtab_cell(&t, "%" PRIu64, l->self.samples);
			if (l->file)
				rtab_cell(&t, "%s:%u", l->file, l->line);
			else
				rtab_cell(&t, "%s", "(no line information)");
		}
		kb_buf_printf(out,
			      md ? "\n### Source lines of `%s`\n\n" : "\nsource lines of %s:\n",
			      hl->fn->name);
		if (md)
			rtab_markdown(&t, out);
		else
			rtab_text(&t, out, 2);
		out->oom |= t.oom;
		rtab_free(&t);
	}
}

static void addrs_table(const struct hot_report *r, struct kb_buf *out, int md)
{
	if (!r->n_addrs)
		return;
	static const char *const spec[] = {"self%:r",         "samples:r",  "address:l",
					   "module+offset:l", "function:l", "source:l",
					   "inlined from:l",  NULL};
	struct rtab t;
	rtab_init(&t, spec);
	for (size_t i = 0; i < r->n_addrs; i++) {
		const struct sym_info *in = r->addrs[i].info;
		rtab_cell(&t, "%.2f%%", r->addrs[i].self.pct);
		rtab_cell(&t, "%" PRIu64, r->addrs[i].self.samples);
		rtab_cell(&t, "0x%" PRIx64, in->addr);
		if (in->module)
			rtab_cell(&t, "%s+0x%" PRIx64, in->module->name, in->offset);
		else
			rtab_cell(&t, "%s", "");
		if (in->level >= SYM_LEVEL_FUNCTION)
			rtab_cell(&t, "%s+0x%" PRIx64, in->function->name, in->function_offset);
		else
			rtab_cell(&t, "%s", in->function->name);
		if (in->file && in->column)
			rtab_cell(&t, "%s:%u:%u", in->file, in->line, in->column);
		else if (in->file)
			rtab_cell(&t, "%s:%u", in->file, in->line);
		else
			rtab_cell(&t, "%s", "");
		struct kb_buf chain = {0};
		for (unsigned k = 0; k + 1 < in->n_frames; k++)
			kb_buf_printf(&chain, "%s%s", k ? " < " : "",
				      in->frames[k].function ? in->frames[k].function : "?");
		rtab_cell(&t, "%s", chain.len ? chain.data : "");
		kb_buf_free(&chain);
	}
	kb_buf_puts(out, md ? "\n### Most sampled addresses\n\n" : "\nmost sampled addresses:\n");
	if (md)
		rtab_markdown(&t, out);
	else
		rtab_text(&t, out, 2);
	out->oom |= t.oom;
	rtab_free(&t);
}

static int render_text(const struct hot_report *r, struct kb_buf *out, int md)
{
	header(r, out, md);
	functions_table(r, out, md);
	regions_table(r, out, md);
	callgraph(r, out, md);
	lines_tables(r, out, md);
	addrs_table(r, out, md);
	rep_warnings_text(r->warnings, r->n_warnings, out, md);
	return out->oom ? -1 : 0;
}

static json_t *count_json(const struct hot_count *c)
{
	return json_pack("{s:I, s:I, s:f}", "samples", (json_int_t)c->samples, "weight",
			 (json_int_t)c->period, "pct", c->pct);
}

static json_t *function_json(const struct sym_function *fn)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", rep_jstr(fn->name));
	json_object_set_new(o, "module", rep_str_or_null(fn->module));
	json_object_set_new(o, "start", fn->start == UINT64_MAX ? json_null() : rep_hex(fn->start));
	if (fn->decl_file)
		json_object_set_new(o, "source",
				    json_pack("{s:o, s:i}", "file", rep_jstr(fn->decl_file), "line",
					      (int)fn->decl_line));
	else
		json_object_set_new(o, "source", json_null());
	return o;
}

static json_t *edges_json(const struct hot_edge *e, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = e[i].fn ? function_json(e[i].fn) : json_object();
		if (!e[i].fn)
			json_object_set_new(o, "name", json_null());
		json_object_update_new(o, count_json(&e[i].count));
		json_array_append_new(a, o);
	}
	return a;
}

static int render_json(const struct hot_report *r, struct kb_buf *out)
{
	const struct prof_event *e = r->event;
	json_t *root = json_object();
	json_object_set_new(root, "schema", json_string("kbprof-report-hotspots"));
	json_object_set_new(root, "schema_version", json_integer(REP_SCHEMA_VERSION));
	json_object_set_new(root, "recording", rep_recording_json(r->prof));
	json_t *ev = json_object();
	json_object_set_new(ev, "name", rep_jstr(e->name));
	json_object_set_new(ev, "fallback", json_boolean(e->flags & KBREC_EVENT_FALLBACK));
	json_object_set_new(ev, "note", rep_jstr(e->note));
	json_object_set_new(ev, "frequency_hz",
			    e->flags & KBREC_EVENT_FREQ
				? json_integer((json_int_t)e->period_or_freq)
				: json_null());
	json_object_set_new(ev, "period",
			    e->flags & KBREC_EVENT_FREQ
				? json_null()
				: json_integer((json_int_t)e->period_or_freq));
	json_object_set_new(ev, "call_chains", json_boolean(e->flags & KBREC_EVENT_CALLCHAIN));
	json_object_set_new(ev, "samples", json_integer((json_int_t)r->event_samples));
	json_object_set_new(ev, "lost", json_integer((json_int_t)e->lost));
	json_object_set_new(ev, "throttled", json_integer((json_int_t)e->throttles));
	json_object_set_new(root, "event", ev);
	json_t *sel = rep_filters_json(r->region, r->comm, r->pid);
	json_object_set_new(sel, "sort", json_string(r->sort == HOT_SORT_TOTAL ? "total" : "self"));
	json_object_set_new(root, "selection", sel);
	json_t *tot = json_object();
	json_object_set_new(tot, "samples", json_integer((json_int_t)r->samples));
	json_object_set_new(tot, "weight", json_integer((json_int_t)r->period));
	json_object_set_new(tot, "functions", json_integer((json_int_t)r->n_functions));
	json_object_set_new(tot, "unknown_process_samples",
			    json_integer((json_int_t)r->unknown_process));
	json_object_set_new(tot, "coverage",
			    json_pack("{s:I, s:I, s:f, s:f}", "with_function",
				      (json_int_t)r->with_function, "with_line",
				      (json_int_t)r->with_line, "function_pct",
				      share(r->with_function, r->samples), "line_pct",
				      share(r->with_line, r->samples)));
	json_object_set_new(tot, "addresses",
			    json_pack("{s:I, s:I, s:I, s:I}", "line",
				      (json_int_t)r->addresses[SYM_LEVEL_LINE], "function",
				      (json_int_t)r->addresses[SYM_LEVEL_FUNCTION], "module",
				      (json_int_t)r->addresses[SYM_LEVEL_MODULE], "none",
				      (json_int_t)r->addresses[SYM_LEVEL_NONE]));
	json_object_set_new(root, "totals", tot);

	json_t *fns = json_array();
	for (size_t i = 0; i < r->n_rows; i++) {
		json_t *o = function_json(r->rows[i].fn);
		json_object_set_new(o, "self", count_json(&r->rows[i].self));
		json_object_set_new(o, "total", count_json(&r->rows[i].total));
		json_array_append_new(fns, o);
	}
	json_object_set_new(root, "functions", fns);

	json_t *regs = json_array();
	for (size_t i = 0; i < r->n_regions; i++) {
		const struct hot_region_row *g = &r->regions[i];
		json_array_append_new(
		    regs,
		    json_pack("{s:o, s:o, s:o, s:I, s:I}", "path", rep_str_or_null(g->path), "self",
			      count_json(&g->self), "inclusive", count_json(&g->incl), "entries",
			      (json_int_t)g->entries, "wall_ns", (json_int_t)g->wall_ns));
	}
	json_object_set_new(root, "regions", regs);

	if (r->callgraph) {
		const struct hot_callgraph *cg = r->callgraph;
		json_object_set_new(
		    root, "callgraph",
		    json_pack("{s:o, s:I, s:o, s:o, s:o}", "function", rep_jstr(cg->name),
			      "matches", (json_int_t)cg->n_matches, "total", count_json(&cg->total),
			      "callers", edges_json(cg->callers, cg->n_callers), "callees",
			      edges_json(cg->callees, cg->n_callees)));
	} else {
		json_object_set_new(root, "callgraph", json_null());
	}

	json_t *lines = json_array();
	for (size_t i = 0; i < r->n_lines; i++) {
		const struct hot_lines *hl = &r->lines[i];
		json_t *ls = json_array();
		for (size_t k = 0; k < hl->n; k++) {
			json_t *o = json_object();
			json_object_set_new(o, "file", rep_str_or_null(hl->lines[k].file));
			json_object_set_new(o, "line",
					    hl->lines[k].file ? json_integer(hl->lines[k].line)
							      : json_null());
			json_object_update_new(o, count_json(&hl->lines[k].self));
			json_array_append_new(ls, o);
		}
		json_t *o = function_json(hl->fn);
		json_object_set_new(o, "lines", ls);
		json_array_append_new(lines, o);
	}
	json_object_set_new(root, "lines", lines);

	json_t *addrs = json_array();
	for (size_t i = 0; i < r->n_addrs; i++) {
		const struct sym_info *in = r->addrs[i].info;
		json_t *o = json_object();
		json_object_set_new(o, "address", rep_hex(in->addr));
		json_object_set_new(o, "module",
				    in->module ? rep_jstr(in->module->path) : json_null());
		json_object_set_new(o, "offset", in->module ? rep_hex(in->offset) : json_null());
		json_object_set_new(o, "level",
				    json_string(in->level == SYM_LEVEL_LINE       ? "line"
						: in->level == SYM_LEVEL_FUNCTION ? "function"
						: in->level == SYM_LEVEL_MODULE   ? "module"
										  : "none"));
		json_object_set_new(o, "function", rep_jstr(in->function->name));
		json_object_set_new(o, "function_offset",
				    in->level >= SYM_LEVEL_FUNCTION ? rep_hex(in->function_offset)
								    : json_null());
		json_object_set_new(o, "file", rep_str_or_null(in->file));
		json_object_set_new(o, "line", in->file ? json_integer(in->line) : json_null());
		json_object_set_new(
		    o, "column", in->file && in->column ? json_integer(in->column) : json_null());
		json_t *inl = json_array();
		for (unsigned k = 0; k < in->n_frames; k++)
			json_array_append_new(
			    inl, json_pack("{s:o, s:o, s:o}", "function",
					   rep_str_or_null(in->frames[k].function), "file",
					   rep_str_or_null(in->frames[k].file), "line",
					   in->frames[k].file ? json_integer(in->frames[k].line)
							      : json_null()));
		json_object_set_new(o, "scopes", inl);
		json_object_update_new(o, count_json(&r->addrs[i].self));
		json_array_append_new(addrs, o);
	}
	json_object_set_new(root, "addresses", addrs);

	json_t *folded = json_array();
	for (size_t i = 0; i < r->n_folded; i++)
		json_array_append_new(folded,
				      json_pack("{s:o, s:I}", "stack", rep_jstr(r->folded[i].stack),
						"samples", (json_int_t)r->folded[i].samples));
	json_object_set_new(root, "folded", folded);
	json_object_set_new(root, "warnings", rep_warnings_json(r->warnings, r->n_warnings));
	return rep_json_dump(root, out);
}

int rep_hotspots(const struct hot_report *r, enum rep_format f, struct kb_buf *out,
		 struct kb_error *err)
{
	int rc;
	switch (f) {
	case REP_TEXT:
		rc = render_text(r, out, 0);
		break;
	case REP_MARKDOWN:
		rc = render_text(r, out, 1);
		break;
	case REP_JSON:
		rc = render_json(r, out);
		break;
	case REP_FOLDED:
		for (size_t i = 0; i < r->n_folded; i++)
			kb_buf_printf(out, "%s %" PRIu64 "\n", r->folded[i].stack,
				      r->folded[i].samples);
		rc = out->oom ? -1 : 0;
		break;
	default:
		return kb_error_set(err, "report: unknown format %d", (int)f);
	}
	if (rc)
		return kb_error_set(err, "report: out of memory while rendering");
	return 0;
}
