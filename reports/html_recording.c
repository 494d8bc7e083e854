/* html_recording: the recording's sections of the HTML report (see
 * html_recording.h). Owns what struct html_rec holds. */
#include "reports/html_recording.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "reports/common.h"
#include "reports/profile_input.h"

void html_rec_free(struct html_rec *r)
{
	for (size_t i = 0; i < HTML_REC_MAX_REGIONS; i++)
		flt_report_free(r->flt_region[i]);
	flt_report_free(r->flt_all);
	hot_report_free(r->hot);
	if (r->have_tree)
		fg_tree_free(&r->tree);
	free(r->rows);
	free(r->bins);
	memset(r, 0, sizeof *r);
}

/* Hotspot rows and flame graph from the recording's CPU samples. */
static int from_hotspots(struct html_rec *r, struct prof *p, const char *path,
			 const struct html_rec_opts *o, const char *filters, struct html_input *in,
			 struct kb_error *err)
{
	struct hot_options ho = {.event = o->event,
				 .region = o->region,
				 .comm = o->comm,
				 .pid = o->pid,
				 .limit = o->top,
				 .folded = 1,
				 .sort = HOT_SORT_SELF};
	if (hot_report_build(p, &ho, &r->hot, err))
		return -1;
	const struct hot_report *h = r->hot;
	r->rows = calloc(h->n_rows + 1, sizeof *r->rows);
	if (!r->rows)
		return kb_error_set(err, "out of memory");
	for (size_t i = 0; i < h->n_rows; i++)
		r->rows[i] = (struct html_hotspot){
		    .function = h->rows[i].fn->name,
		    .module = h->rows[i].fn->module,
		    .self_samples = h->rows[i].self.samples,
		    .total_samples = h->rows[i].total.samples,
		    .self_pct = h->rows[i].self.pct,
		    .total_pct = h->rows[i].total.pct,
		};
	const char *ev = h->event ? h->event->name : "?";
	snprintf(r->hot_source, sizeof r->hot_source,
		 "Recording %s: %llu samples of %s%s; top %zu of %zu functions by self samples",
		 path, (unsigned long long)h->samples, ev, filters, h->n_rows, h->n_functions);
	r->hotspots = (struct html_hotspots){r->hot_source, r->rows, h->n_rows};
	in->hotspots = &r->hotspots;
	if (h->samples == 0) /* a filter that selects nothing: no graph to draw */
		return 0;
	if (fg_tree_init(&r->tree, err))
		return -1;
	r->have_tree = 1;
	if (profile_input_add_hotspots(&r->tree, p, h, path, NULL, err))
		return -1;
	snprintf(r->flame_source, sizeof r->flame_source, "Call chains of %s, %s samples%s", path,
		 ev, filters);
	in->flame = &r->tree;
	in->flame_source = r->flame_source;
	return 0;
}

/* The fault timeline: every selected fault, then each region (nested ones
 * included), on the recording's time axis. */
static int from_faults(struct html_rec *r, struct prof *p, const char *path,
		       const struct html_rec_opts *o, const char *filters, struct html_input *in,
		       struct kb_error *err)
{
	size_t bins = o->bins ? o->bins : 60;
	struct flt_options fo = {.region = o->region, .comm = o->comm, .pid = o->pid, .bins = bins};
	if (flt_report_build(p, &fo, &r->flt_all, err))
		return -1;
	const struct flt_report *all = r->flt_all;
	size_t n_series = 0;
	r->bins = calloc((HTML_REC_MAX_REGIONS + 1) * bins, sizeof *r->bins);
	if (!r->bins)
		return kb_error_set(err, "out of memory");
	for (size_t k = 0; k < all->n_bins && k < bins; k++)
		r->bins[k] = all->bins[k].faults;
	r->series[n_series++] = (struct html_fault_series){o->region ? o->region : "all faults",
							   r->bins, all->total.faults};
	for (size_t i = 0; i < all->n_regions && n_series <= HTML_REC_MAX_REGIONS; i++) {
		const char *region = all->regions[i].path;
		if (!region || (o->region && strcmp(region, o->region) == 0))
			continue;
		fo.region = region;
		struct flt_report **rr = &r->flt_region[n_series - 1];
		if (flt_report_build(p, &fo, rr, err))
			return -1;
		uint64_t *b = r->bins + n_series * bins;
		for (size_t k = 0; k < (*rr)->n_bins && k < bins; k++)
			b[k] = (*rr)->bins[k].faults;
		r->series[n_series++] = (struct html_fault_series){region, b, (*rr)->total.faults};
	}
	snprintf(r->fault_source, sizeof r->fault_source,
		 "Recording %s: %llu %s samples%s; a region's row includes its nested regions",
		 path, (unsigned long long)all->total.faults, all->events, filters);
	r->faults = (struct html_faults){r->fault_source, prof_duration_ns(p), all->n_bins,
					 r->series, n_series};
	in->faults = &r->faults;
	return 0;
}

static void env_row(struct html_rec *r, size_t *n, const char *key, const char *value)
{
	snprintf(r->env_text[*n], sizeof r->env_text[*n], "%s", value ? value : "?");
	r->env[*n] = (struct html_env_row){key, r->env_text[*n]};
	(*n)++;
}

/* The recording's own description of where it ran. */
static void environment(struct html_rec *r, const struct prof *p, const char *path,
			struct html_input *in)
{
	size_t n = 0;
	char line[1024], dur[64];
	rep_duration(dur, sizeof dur, prof_duration_ns(p));
	snprintf(line, sizeof line, "%s (%s)", path, dur);
	env_row(r, &n, "recording", line);
	env_row(r, &n, "recorded command", p->session.command);
	env_row(r, &n, "recording host", p->session.hostname);
	env_row(r, &n, "recording kernel", p->session.kernel);
	env_row(r, &n, "recorded by kbprof", p->session.kbprof_version);
	in->env = r->env;
	in->n_env = n;
}

/* Appends "; " and one more missing piece to the reason. */
static void missing(struct html_rec *r, const char *what)
{
	size_t n = strlen(r->reason);
	snprintf(r->reason + n, sizeof r->reason - n, "%s%s", n ? "; " : "", what);
}

int html_rec_build(struct html_rec *r, struct prof *p, const char *path,
		   const struct html_rec_opts *o, struct html_input *in, struct kb_error *err)
{
	char filters[512], why[1024];
	rep_filters_text(filters, sizeof filters, o->region, o->comm, o->pid);
	environment(r, p, path, in);
	int cpu = o->event || prof_event_find(p, KBREC_EVENT_CPU, NULL);
	if (cpu && from_hotspots(r, p, path, o, filters, in, err))
		return -1;
	if (!cpu) {
		snprintf(why, sizeof why, "%s has no CPU samples (record with -g)", path);
		missing(r, why);
	} else if (!in->flame) {
		snprintf(why, sizeof why, "no CPU samples of %s%s", path, filters);
		missing(r, why);
	}
	if (prof_event_find(p, KBREC_EVENT_FAULTS, NULL)) {
		if (from_faults(r, p, path, o, filters, in, err))
			return -1;
	} else {
		snprintf(why, sizeof why, "%s has no page-fault samples (record with --faults)",
			 path);
		missing(r, why);
	}
	if (r->reason[0])
		in->absent_reason = r->reason;
	return 0;
}

int html_report_write(const char *dir, const struct html_input *in, char *path, size_t path_size,
		      struct kb_error *err)
{
	struct kb_buf page = {0};
	int rc = -1;
	if (html_report_render(in, &page, err))
		goto out;
	if (page.oom) {
		kb_error_set(err, "%s: out of memory rendering the page", dir);
		goto out;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		kb_error_set(err, "%s: cannot create the directory: %s", dir, strerror(errno));
		goto out;
	}
	int n = snprintf(path, path_size, "%s/index.html", dir);
	if (n < 0 || (size_t)n >= path_size) {
		kb_error_set(err, "%s: directory name too long", dir);
		goto out;
	}
	FILE *f = fopen(path, "w");
	if (!f) {
		kb_error_set(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	int bad = fwrite(page.data, 1, page.len, f) != page.len;
	if (fclose(f) != 0 || bad) {
		kb_error_set(err, "%s: write failed: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	kb_buf_free(&page);
	return rc;
}
