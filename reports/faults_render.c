/* faults_render: the page-fault report as text, markdown, JSON and folded
 * stacks. Layout and schema: docs/report-json.md. */
#include "reports/common.h"
#include "reports/report.h"
#include "reports/table.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void size_text(char *buf, size_t size, uint64_t bytes)
{
	if (bytes >= (1ULL << 30))
		snprintf(buf, size, "%.2f GiB", (double)bytes / (double)(1ULL << 30));
	else if (bytes >= (1ULL << 20))
		snprintf(buf, size, "%.2f MiB", (double)bytes / (double)(1ULL << 20));
	else if (bytes >= 1024)
		snprintf(buf, size, "%.1f KiB", (double)bytes / 1024.0);
	else
		snprintf(buf, size, "%" PRIu64 " B", bytes);
}

static void header(const struct flt_report *r, struct kb_buf *out, int md)
{
	char line[2048];
	kb_buf_puts(out, md ? "## Page faults\n\n" : "kbprof report: page faults\n");
	rep_recording_text(r->prof, out, md);
	snprintf(line, sizeof line, "%s%s", r->events,
		 r->classified ? " (minor and major told apart)"
			       : " (minor and major not told apart: the events recorded do not "
				 "say; sample minor-faults and major-faults to split them)");
	rep_field(out, md, "events", line);
	char filters[512];
	rep_filters_text(filters, sizeof filters, r->region, r->comm, r->pid);
	snprintf(line, sizeof line,
		 "%" PRIu64 " selected%s; on %" PRIu64 " pages (%.2f MB touched, %.1f faults/MB)",
		 r->total.faults, filters, r->total.pages, r->total.mb_touched, r->total.density);
	rep_field(out, md, "faults", line);
	if (r->classified) {
		snprintf(line, sizeof line, "%" PRIu64 " minor, %" PRIu64 " major", r->total.minor,
			 r->total.major);
		rep_field(out, md, "kinds", line);
	}
	if (r->have_rusage) {
		snprintf(line, sizeof line,
			 "getrusage: %" PRIu64 " minor + %" PRIu64 " major = %" PRIu64
			 "; perf events: %" PRIu64 "; difference %+" PRId64 ": %s",
			 r->ru_minflt, r->ru_majflt, r->ru_minflt + r->ru_majflt, r->perf_faults,
			 r->difference, r->explanation);
	} else {
		snprintf(line, sizeof line,
			 "no getrusage counts: the recording has no finish record; perf events: "
			 "%" PRIu64,
			 r->perf_faults);
	}
	rep_field(out, md, "rusage", line);
}

static void emit(struct rtab *t, struct kb_buf *out, int md, const char *title)
{
	kb_buf_printf(out, md ? "\n### %s\n\n" : "\n%s:\n", title);
	if (md)
		rtab_markdown(t, out);
	else
		rtab_text(t, out, 2);
	out->oom |= t->oom;
	rtab_free(t);
}

static void regions_table(const struct flt_report *r, struct kb_buf *out, int md)
{
	static const char *const spec_c[] = {"region:l",    "faults:r", "%:r",     "incl:r",
					     "incl%:r",     "minor:r",  "major:r", "pages:r",
					     "faults/MB:r", "wall:r",   NULL};
	static const char *const spec_u[] = {"region:l",    "faults:r", "%:r",
					     "incl:r",      "incl%:r",  "pages:r",
					     "faults/MB:r", "wall:r",   NULL};
	struct rtab t;
	rtab_init(&t, r->classified ? spec_c : spec_u);
	for (size_t i = 0; i < r->n_regions; i++) {
		const struct flt_region_row *g = &r->regions[i];
		char wall[64] = "";
		if (g->path)
			rep_duration(wall, sizeof wall, g->wall_ns);
		rtab_cell(&t, "%s", g->path ? g->path : "(no region)");
		rtab_cell(&t, "%" PRIu64, g->c.faults);
		rtab_cell(&t, "%.2f%%", g->c.pct);
		rtab_cell(&t, "%" PRIu64, g->incl.faults);
		rtab_cell(&t, "%.2f%%", g->incl.pct);
		if (r->classified) {
			rtab_cell(&t, "%" PRIu64, g->c.minor);
			rtab_cell(&t, "%" PRIu64, g->c.major);
		}
		rtab_cell(&t, "%" PRIu64, g->c.pages);
		rtab_cell(&t, "%.1f", g->c.density);
		rtab_cell(&t, "%s", wall);
	}
	emit(&t, out, md,
	     "faults by region (faults, pages: innermost region; incl: with nested ones)");
}

static void mappings_table(const struct flt_report *r, struct kb_buf *out, int md, size_t limit)
{
	static const char *const spec[] = {"mapping:l", "kind:l",  "size:r",    "faults:r",
					   "%:r",       "pages:r", "touched:r", "faults/MB:r",
					   "flags:l",   NULL};
	struct rtab t;
	rtab_init(&t, spec);
	size_t shown = 0, zero = 0;
	for (size_t i = 0; i < r->n_mappings; i++) {
		const struct flt_mapping_row *m = &r->mappings[i];
		/* mappings without faults: only data files (a KB image that
		 * was populated or never touched is worth seeing) */
		if (!m->c.faults && (!m->instance || m->maps == 0)) {
			zero++;
			continue;
		}
		if (shown == limit) {
			zero++;
			continue;
		}
		shown++;
		char size[64] = "", flags[64];
		if (m->size)
			size_text(size, sizeof size, m->size);
		snprintf(flags, sizeof flags, "%s%s%s%s", m->shared ? "shared" : "private",
			 m->populated > 0 ? ", populated" : "",
			 m->instance && !m->c.faults ? ", no faults: populated or untouched" : "",
			 m->instance && m->c.faults ? ", lazy" : "");
		if (m->instance)
			rtab_cell(&t, "%s @0x%" PRIx64, m->name, m->start);
		else
			rtab_cell(&t, "%s", m->name);
		rtab_cell(&t, "%s", flt_kind_name(m->kind));
		rtab_cell(&t, "%s", size);
		rtab_cell(&t, "%" PRIu64, m->c.faults);
		rtab_cell(&t, "%.2f%%", m->c.pct);
		rtab_cell(&t, "%" PRIu64, m->c.pages);
		if (m->mapped_pages)
			rtab_cell(&t, "%.1f%%", m->touched_pct);
		else
			rtab_cell(&t, "%s", "");
		rtab_cell(&t, "%.1f", m->c.density);
		rtab_cell(&t, "%s", flags);
	}
	emit(&t, out, md, "faults by mapping");
	for (size_t i = 0; i < r->n_mappings; i++)
		if (r->mappings[i].kind == FLT_NONE && r->mappings[i].c.faults)
			kb_buf_puts(
			    out, md ? "\n\"(no mapping recorded)\": addresses no mmap record "
				      "covers: memory moved or grown by mremap (realloc of "
				      "large blocks), which the kernel does not report.\n"
				    : "  (no mapping recorded): addresses no mmap record covers: "
				      "memory moved or grown by mremap\n  (realloc of large "
				      "blocks), which the kernel does not report\n");
	if (zero)
		kb_buf_printf(out,
			      md ? "\n%zu more mappings not shown.\n"
				 : "  (%zu more mappings not shown)\n",
			      zero);
}

static void functions_table(const struct flt_report *r, struct kb_buf *out, int md)
{
	static const char *const spec[] = {"faults:r", "%:r", "function:l", "module:l", NULL};
	struct rtab t;
	rtab_init(&t, spec);
	for (size_t i = 0; i < r->n_functions; i++) {
		const struct flt_function_row *f = &r->functions[i];
		rtab_cell(&t, "%" PRIu64, f->faults);
		rtab_cell(&t, "%.2f%%", f->pct);
		rtab_cell(&t, "%s", f->fn->name);
		rtab_cell(&t, "%s", f->fn->module ? rep_base(f->fn->module) : "");
	}
	emit(&t, out, md, "faults by function");
	if (r->n_functions < r->n_functions_all)
		kb_buf_printf(out,
			      md ? "\n%zu of %zu functions shown.\n" : "  (%zu of %zu functions)\n",
			      r->n_functions, r->n_functions_all);
}

static void pages_table(const struct flt_report *r, struct kb_buf *out, int md)
{
	static const char *const spec[] = {"faults:r", "page:l",  "pid:r",      "mapping:l",
					   "offset:r", "first:r", "first by:l", NULL};
	struct rtab t;
	rtab_init(&t, spec);
	for (size_t i = 0; i < r->n_pages; i++) {
		const struct flt_page_row *pg = &r->pages[i];
		char first[64];
		rep_duration(first, sizeof first, pg->first_ns);
		rtab_cell(&t, "%" PRIu64, pg->faults);
		rtab_cell(&t, "0x%" PRIx64, pg->addr);
		rtab_cell(&t, "%" PRIu32, pg->pid);
		rtab_cell(&t, "%s", rep_base(pg->mapping));
		if (pg->has_offset)
			rtab_cell(&t, "0x%" PRIx64, pg->file_offset);
		else
			rtab_cell(&t, "%s", "");
		rtab_cell(&t, "%s", first);
		rtab_cell(&t, "%s", pg->first_fn ? pg->first_fn->name : "");
	}
	emit(&t, out, md, "hottest pages");
}

static void histogram(const struct flt_report *r, struct kb_buf *out, int md)
{
	uint64_t max = 0;
	for (size_t i = 0; i < r->n_bins; i++)
		if (r->bins[i].faults > max)
			max = r->bins[i].faults;
	static const char *const spec[] = {"from:r", "to:r", "faults:r", "histogram:l", NULL};
	struct rtab t;
	rtab_init(&t, spec);
	for (size_t i = 0; i < r->n_bins; i++) {
		char from[64], to[64], bar[64];
		rep_duration(from, sizeof from, r->bins[i].from_ns);
		rep_duration(to, sizeof to, r->bins[i].to_ns);
		size_t n = max ? (size_t)((double)r->bins[i].faults * 40.0 / (double)max + 0.5) : 0;
		if (r->bins[i].faults && !n)
			n = 1;
		memset(bar, '#', n);
		bar[n] = '\0';
		rtab_cell(&t, "%s", from);
		rtab_cell(&t, "%s", to);
		rtab_cell(&t, "%" PRIu64, r->bins[i].faults);
		rtab_cell(&t, "%s", md ? (n ? bar : " ") : bar);
	}
	emit(&t, out, md, "faults over time (from the start of the recording)");
}

static int render_text(const struct flt_report *r, struct kb_buf *out, int md)
{
	header(r, out, md);
	regions_table(r, out, md);
	mappings_table(r, out, md, 20);
	functions_table(r, out, md);
	pages_table(r, out, md);
	histogram(r, out, md);
	rep_warnings_text(r->warnings, r->n_warnings, out, md);
	return out->oom ? -1 : 0;
}

static json_t *count_json(const struct flt_count *c, int classified)
{
	json_t *o = json_object();
	json_object_set_new(o, "faults", json_integer((json_int_t)c->faults));
	json_object_set_new(o, "minor",
			    classified ? json_integer((json_int_t)c->minor) : json_null());
	json_object_set_new(o, "major",
			    classified ? json_integer((json_int_t)c->major) : json_null());
	json_object_set_new(o, "pct", json_real(c->pct));
	json_object_set_new(o, "pages", json_integer((json_int_t)c->pages));
	json_object_set_new(o, "mb_touched", json_real(c->mb_touched));
	json_object_set_new(o, "faults_per_mb", json_real(c->density));
	return o;
}

static int render_json(const struct flt_report *r, struct kb_buf *out)
{
	json_t *root = json_object();
	json_object_set_new(root, "schema", json_string("kbprof-report-faults"));
	json_object_set_new(root, "schema_version", json_integer(REP_SCHEMA_VERSION));
	json_object_set_new(root, "recording", rep_recording_json(r->prof));
	json_object_set_new(root, "events", rep_jstr(r->events));
	json_object_set_new(root, "classified", json_boolean(r->classified));
	json_object_set_new(root, "selection", rep_filters_json(r->region, r->comm, r->pid));
	json_t *tot = count_json(&r->total, r->classified);
	json_object_set_new(tot, "samples_in_file", json_integer((json_int_t)r->samples));
	json_object_set_new(tot, "kernel_ip", json_integer((json_int_t)r->kernel_ip));
	json_object_set_new(root, "totals", tot);
	if (r->have_rusage)
		json_object_set_new(
		    root, "rusage",
		    json_pack("{s:I, s:I, s:I, s:I, s:s}", "minflt", (json_int_t)r->ru_minflt,
			      "majflt", (json_int_t)r->ru_majflt, "perf_faults",
			      (json_int_t)r->perf_faults, "difference", (json_int_t)r->difference,
			      "explanation", r->explanation));
	else
		json_object_set_new(root, "rusage", json_null());

	json_t *a = json_array();
	for (size_t i = 0; i < r->n_regions; i++) {
		const struct flt_region_row *g = &r->regions[i];
		json_t *o = json_object();
		json_object_set_new(o, "path", rep_str_or_null(g->path));
		json_object_update_new(o, count_json(&g->c, r->classified));
		json_object_set_new(
		    o, "inclusive",
		    json_pack("{s:I, s:o, s:o, s:f}", "faults", (json_int_t)g->incl.faults, "minor",
			      r->classified ? json_integer((json_int_t)g->incl.minor) : json_null(),
			      "major",
			      r->classified ? json_integer((json_int_t)g->incl.major) : json_null(),
			      "pct", g->incl.pct));
		json_object_set_new(o, "entries", json_integer((json_int_t)g->entries));
		json_object_set_new(o, "wall_ns", json_integer((json_int_t)g->wall_ns));
		json_array_append_new(a, o);
	}
	json_object_set_new(root, "regions", a);

	a = json_array();
	for (size_t i = 0; i < r->n_mappings; i++) {
		const struct flt_mapping_row *m = &r->mappings[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", rep_jstr(m->name));
		json_object_set_new(o, "kind", json_string(flt_kind_name(m->kind)));
		json_object_set_new(o, "start", m->instance ? rep_hex(m->start) : json_null());
		json_object_set_new(o, "pid", m->instance ? json_integer(m->pid) : json_null());
		json_object_set_new(o, "code", json_boolean(m->code));
		json_object_set_new(o, "maps", json_integer((json_int_t)m->maps));
		json_object_set_new(o, "size", json_integer((json_int_t)m->size));
		json_object_set_new(o, "mapped_pages", json_integer((json_int_t)m->mapped_pages));
		json_object_set_new(o, "shared", json_boolean(m->shared));
		json_object_set_new(o, "populated",
				    m->populated < 0 ? json_null() : json_boolean(m->populated));
		json_object_update_new(o, count_json(&m->c, r->classified));
		json_object_set_new(o, "touched_pct", json_real(m->touched_pct));
		json_array_append_new(a, o);
	}
	json_object_set_new(root, "mappings", a);

	a = json_array();
	for (size_t i = 0; i < r->n_functions; i++) {
		const struct flt_function_row *f = &r->functions[i];
		json_array_append_new(a, json_pack("{s:o, s:o, s:I, s:f}", "name",
						   rep_jstr(f->fn->name), "module",
						   rep_str_or_null(f->fn->module), "faults",
						   (json_int_t)f->faults, "pct", f->pct));
	}
	json_object_set_new(root, "functions", a);
	json_object_set_new(root, "functions_total", json_integer((json_int_t)r->n_functions_all));

	a = json_array();
	for (size_t i = 0; i < r->n_pages; i++) {
		const struct flt_page_row *pg = &r->pages[i];
		json_t *o = json_object();
		json_object_set_new(o, "address", rep_hex(pg->addr));
		json_object_set_new(o, "pid", json_integer(pg->pid));
		json_object_set_new(o, "mapping", rep_jstr(pg->mapping));
		json_object_set_new(o, "file_offset",
				    pg->has_offset ? json_integer((json_int_t)pg->file_offset)
						   : json_null());
		json_object_set_new(o, "faults", json_integer((json_int_t)pg->faults));
		json_object_set_new(o, "first_ns", json_integer((json_int_t)pg->first_ns));
		json_object_set_new(o, "first_function",
				    pg->first_fn ? rep_jstr(pg->first_fn->name) : json_null());
		json_array_append_new(a, o);
	}
	json_object_set_new(root, "pages", a);

	a = json_array();
	for (size_t i = 0; i < r->n_bins; i++)
		json_array_append_new(a, json_pack("{s:I, s:I, s:I}", "from_ns",
						   (json_int_t)r->bins[i].from_ns, "to_ns",
						   (json_int_t)r->bins[i].to_ns, "faults",
						   (json_int_t)r->bins[i].faults));
	json_object_set_new(root, "histogram", a);

	a = json_array();
	for (size_t i = 0; i < r->n_folded; i++)
		json_array_append_new(a,
				      json_pack("{s:o, s:I}", "stack", rep_jstr(r->folded[i].stack),
						"faults", (json_int_t)r->folded[i].faults));
	json_object_set_new(root, "folded", a);
	json_object_set_new(root, "warnings", rep_warnings_json(r->warnings, r->n_warnings));
	return rep_json_dump(root, out);
}

int rep_faults(const struct flt_report *r, enum rep_format f, struct kb_buf *out,
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
				      r->folded[i].faults);
		rc = out->oom ? -1 : 0;
		break;
	default:
		return kb_error_set(err, "report: unknown format %d", (int)f);
	}
	if (rc)
		return kb_error_set(err, "report: out of memory while rendering");
	return 0;
}
