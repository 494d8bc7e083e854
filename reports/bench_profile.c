/* bench_profile: analyzer aggregates to the profile object of the
 * kbprof-bench JSON document (see bench_profile.h). */
#include "reports/bench_profile.h"

#include <string.h>

/* A number, or null when not finite (JSON has no NaN). */
static json_t *real(double v)
{
	return v == v && v - v == 0 ? json_real(v) : json_null();
}

static const char *base_name(const char *path)
{
	if (!path)
		return "";
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static json_t *hotspots(const struct hot_report *hot, size_t limit)
{
	json_t *a = json_array();
	for (size_t i = 0; hot && i < hot->n_rows && i < limit; i++) {
		const struct hot_row *r = &hot->rows[i];
		json_array_append_new(
		    a, json_pack("{s:s, s:s, s:o, s:I, s:o, s:o}", "function", r->fn->name,
				 "module", base_name(r->fn->module), "file",
				 r->fn->decl_file ? json_string(r->fn->decl_file) : json_null(),
				 "self_samples", (json_int_t)r->self.samples, "self_pct",
				 real(r->self.pct), "inclusive_pct", real(r->total.pct)));
	}
	return a;
}

static json_t *cpu_regions(const struct hot_report *hot)
{
	json_t *a = json_array();
	for (size_t i = 0; hot && i < hot->n_regions; i++) {
		const struct hot_region_row *r = &hot->regions[i];
		json_array_append_new(a, json_pack("{s:s, s:I, s:o, s:o, s:I}", "region",
						   r->path ? r->path : "(no region)",
						   "self_samples", (json_int_t)r->self.samples,
						   "self_pct", real(r->self.pct), "inclusive_pct",
						   real(r->incl.pct), "wall_ns",
						   (json_int_t)r->wall_ns));
	}
	return a;
}

static const struct flt_report *subtree_of(const struct bench_region_faults *per, size_t n,
					   const char *path)
{
	for (size_t i = 0; path && i < n; i++)
		if (strcmp(per[i].region, path) == 0)
			return per[i].subtree;
	return NULL;
}

static json_t *fault_regions(const struct flt_report *f, const struct bench_region_faults *per,
			     size_t n_per)
{
	json_t *a = json_array();
	for (size_t i = 0; f && i < f->n_regions; i++) {
		const struct flt_region_row *r = &f->regions[i];
		const struct flt_report *sub = subtree_of(per, n_per, r->path);
		const struct flt_mapping_row *top =
		    sub && sub->n_mappings ? &sub->mappings[0] : NULL;
		double secs = (double)r->wall_ns / 1e9;
		json_array_append_new(
		    a,
		    json_pack("{s:s, s:I, s:o, s:I, s:I, s:I, s:o, s:I, s:o, s:o, s:o}", "region",
			      r->path ? r->path : "(no region)", "faults", (json_int_t)r->c.faults,
			      "pct", real(r->c.pct), "minor", (json_int_t)r->c.minor, "major",
			      (json_int_t)r->c.major, "pages", (json_int_t)r->c.pages, "density",
			      real(r->c.density), "wall_ns", (json_int_t)r->wall_ns, "per_second",
			      secs > 0 ? real((double)r->c.faults / secs) : json_null(),
			      "top_mapping", top ? json_string(top->name) : json_null(),
			      "top_mapping_pct", top ? real(top->c.pct) : json_null()));
	}
	return a;
}

static json_t *fault_mappings(const struct flt_report *f)
{
	json_t *a = json_array();
	for (size_t i = 0; f && i < f->n_mappings; i++) {
		const struct flt_mapping_row *m = &f->mappings[i];
		json_array_append_new(
		    a, json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o}", "mapping", m->name,
				 "kind", flt_kind_name(m->kind), "faults", (json_int_t)m->c.faults,
				 "major", (json_int_t)m->c.major, "pages", (json_int_t)m->c.pages,
				 "pct", real(m->c.pct), "touched_pct", real(m->touched_pct),
				 "populated",
				 m->populated < 0 ? json_null() : json_boolean(m->populated)));
	}
	return a;
}

static json_t *fault_totals(const struct flt_report *f)
{
	if (!f)
		return json_null();
	return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "events",
			 f->events ? f->events : "", "classified", f->classified, "faults",
			 (json_int_t)f->total.faults, "minor", (json_int_t)f->total.minor, "major",
			 (json_int_t)f->total.major, "pages", (json_int_t)f->total.pages, "density",
			 real(f->total.density), "rusage_minor",
			 f->have_rusage ? json_integer((json_int_t)f->ru_minflt) : json_null(),
			 "rusage_major",
			 f->have_rusage ? json_integer((json_int_t)f->ru_majflt) : json_null(),
			 "rusage_minus_perf",
			 f->have_rusage ? json_integer((json_int_t)f->difference) : json_null(),
			 "explanation", f->explanation ? json_string(f->explanation) : json_null());
}

json_t *bench_profile_json(const char *command, const struct prof *prof,
			   const struct hot_report *hot, const struct flt_report *faults,
			   const struct bench_region_faults *per_region, size_t n_per_region,
			   const struct bench_event_refusal *refused, size_t n_refused,
			   size_t hotspot_limit)
{
	json_t *ev = json_array();
	for (size_t i = 0; i < n_refused; i++)
		json_array_append_new(ev, json_pack("{s:s, s:s}", "event", refused[i].event,
						    "reason", refused[i].reason));
	const char *event = hot && hot->event ? hot->event->name : "";
	const char *fallback = hot && hot->event && hot->event->note ? hot->event->note : "";
	double covered =
	    hot && hot->samples ? 100.0 * (double)hot->with_function / (double)hot->samples : -1;
	double lines =
	    hot && hot->samples ? 100.0 * (double)hot->with_line / (double)hot->samples : -1;
	return json_pack(
	    "{s:s, s:n, s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:o, s:o, s:o}",
	    "status", "ok", "reason", "command", command, "event", event, "fallback", fallback,
	    "samples", (json_int_t)(hot ? hot->samples : 0), "lost", (json_int_t)prof->lost,
	    "duration_s", real((double)prof_duration_ns(prof) / 1e9), "function_coverage_pct",
	    covered >= 0 ? real(covered) : json_null(), "line_coverage_pct",
	    lines >= 0 ? real(lines) : json_null(), "hotspots", hotspots(hot, hotspot_limit),
	    "cpu_regions", cpu_regions(hot), "faults",
	    fault_regions(faults, per_region, n_per_region), "fault_mappings",
	    fault_mappings(faults), "fault_totals", fault_totals(faults), "events_not_counted", ev);
}
