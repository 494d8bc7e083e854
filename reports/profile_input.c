/* profile_input: see profile_input.h. Owns nothing beyond each call. */
#include "reports/profile_input.h"

#include <stdio.h>
#include <string.h>

#include "analyze/hotspots.h"
#include "analyze/profile.h"

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

static int load_recording(struct fg_tree *t, const char *path, const char *event,
			  struct profile_meta *meta, struct kb_error *err)
{
	struct prof *p = NULL;
	struct hot_report *h = NULL;
	struct hot_options ho = {.folded = 1, .event = event};
	int rc = -1;
	if (prof_load(&p, path, NULL, err) || hot_report_build(p, &ho, &h, err))
		goto out;
	for (size_t i = 0; i < h->n_folded; i++)
		if (fg_tree_add_path(t, h->folded[i].stack, h->folded[i].samples, err))
			goto out;
	const char *ev = h->event ? h->event->name : "?";
	snprintf(meta->name, sizeof meta->name, "%s (%s samples)",
		 p->session.command && p->session.command[0] ? p->session.command : path, ev);
	snprintf(meta->event, sizeof meta->event, "%s", ev);
	meta->time_nanos = (int64_t)p->session.start_realtime_ns;
	meta->duration_nanos = (int64_t)prof_duration_ns(p);
	rc = 0;
out:
	if (h)
		hot_report_free(h);
	if (p)
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
