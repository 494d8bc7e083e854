/* profile_input: see profile_input.h. Owns nothing beyond each call. */
#include "reports/profile_input.h"

#include <stdio.h>
#include <string.h>

#include "analyze/faults.h"
#include "analyze/hotspots.h"
#include "analyze/profile.h"
#include "reports/common.h"

int profile_input_is_recording(const char *path)
{
	if (strcmp(path, "-") == 0)
		return 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	char magic[sizeof KBREC_MAGIC - 1];
	int yes = fread(magic, 1, sizeof magic, f) == sizeof magic &&
		  memcmp(magic, KBREC_MAGIC, sizeof magic) == 0;
	fclose(f);
	return yes;
}

int profile_input_add_hotspots(struct fg_tree *t, const struct prof *p, const struct hot_report *h,
			       const char *path, struct profile_meta *meta, struct kb_error *err)
{
	for (size_t i = 0; i < h->n_folded; i++)
		if (fg_tree_add_path(t, h->folded[i].stack, h->folded[i].samples, err))
			return -1;
	if (!meta)
		return 0;
	const char *ev = h->event ? h->event->name : "?";
	snprintf(meta->name, sizeof meta->name, "%s (%s samples)",
		 p->session.command && p->session.command[0] ? p->session.command : path, ev);
	snprintf(meta->event, sizeof meta->event, "%s", ev);
	meta->from_recording = 1;
	meta->time_nanos = (int64_t)p->session.start_realtime_ns;
	meta->duration_nanos = (int64_t)prof_duration_ns(p);
	return 0;
}

int profile_input_from_prof(struct fg_tree *t, struct prof *p, const char *path,
			    const struct profile_filter *f, struct profile_meta *meta,
			    struct kb_error *err)
{
	struct profile_meta scratch;
	if (!meta)
		meta = &scratch;
	struct hot_report *h = NULL;
	struct flt_report *fr = NULL;
	int rc = -1;
	if (f->faults) {
		struct flt_options fo = {
		    .region = f->region, .comm = f->comm, .pid = f->pid, .folded = 1};
		if (flt_report_build(p, &fo, &fr, err))
			goto out;
		for (size_t i = 0; i < fr->n_folded; i++)
			if (fg_tree_add_path(t, fr->folded[i].stack, fr->folded[i].faults, err))
				goto out;
		memset(meta, 0, sizeof *meta);
		snprintf(meta->name, sizeof meta->name, "%s (%s)",
			 p->session.command && p->session.command[0] ? p->session.command : path,
			 fr->events);
		snprintf(meta->event, sizeof meta->event, "%s", fr->events);
		meta->from_recording = 1;
	} else {
		struct hot_options ho = {.event = f->event,
					 .region = f->region,
					 .comm = f->comm,
					 .pid = f->pid,
					 .folded = 1};
		if (hot_report_build(p, &ho, &h, err) ||
		    profile_input_add_hotspots(t, p, h, path, meta, err))
			goto out;
	}
	size_t n = strlen(meta->name);
	rep_filters_text(meta->name + n, sizeof meta->name - n, f->region, f->comm, f->pid);
	rc = 0;
out:
	flt_report_free(fr);
	hot_report_free(h);
	return rc;
}

static int load_recording(struct fg_tree *t, const char *path, const char *event,
			  struct profile_meta *meta, struct kb_error *err)
{
	struct prof *p = NULL;
	struct profile_filter f = {.event = event};
	int rc = prof_load(&p, path, NULL, err)
		     ? -1
		     : profile_input_from_prof(t, p, path, &f, meta, err);
	prof_free(p);
	return rc;
}

int profile_input_load(struct fg_tree *t, const char *path, const char *event,
		       struct profile_meta *meta, struct kb_error *err)
{
	struct profile_meta scratch;
	if (!meta)
		meta = &scratch;
	memset(meta, 0, sizeof *meta);
	if (profile_input_is_recording(path)) {
		meta->from_recording = 1;
		return load_recording(t, path, event, meta, err);
	}
	snprintf(meta->name, sizeof meta->name, "%s", strcmp(path, "-") ? path : "kbprof profile");
	return fg_tree_load_folded(t, path, err);
}
