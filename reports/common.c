/* common: recording header, warnings and JSON helpers shared by the
 * hotspot and fault renderers. */
#include "reports/common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rep_base(const char *path)
{
	if (!path)
		return "";
	const char *s = strrchr(path, '/');
	return s && s[1] ? s + 1 : path;
}

void rep_duration(char *buf, size_t size, uint64_t ns)
{
	if (ns >= 1000000000ULL)
		snprintf(buf, size, "%.3f s", (double)ns / 1e9);
	else if (ns >= 1000000ULL)
		snprintf(buf, size, "%.3f ms", (double)ns / 1e6);
	else if (ns >= 1000ULL)
		snprintf(buf, size, "%.3f us", (double)ns / 1e3);
	else
		snprintf(buf, size, "%" PRIu64 " ns", ns);
}

static void exit_text(const struct prof *p, char *buf, size_t size)
{
	if (!p->finished) {
		snprintf(buf, size, "unknown (the recording has no finish record)");
		return;
	}
	if (p->finish.flags & KBREC_FINISH_SIGNALED)
		snprintf(buf, size, "killed by signal %" PRId32 "%s", p->finish.status,
			 p->finish.flags & KBREC_FINISH_INTERRUPTED ? " (interrupted)" : "");
	else
		snprintf(buf, size, "exit %" PRId32 "%s", p->finish.status,
			 p->finish.flags & KBREC_FINISH_INTERRUPTED ? " (interrupted)" : "");
}

void rep_field(struct kb_buf *out, int markdown, const char *key, const char *value)
{
	if (markdown)
		kb_buf_printf(out, "- **%s**: %s\n", key, value);
	else
		kb_buf_printf(out, "%-10s %s\n", key, value);
}

void rep_recording_text(const struct prof *p, struct kb_buf *out, int markdown)
{
	char dur[64], ex[128];
	rep_duration(dur, sizeof dur, prof_duration_ns(p));
	exit_text(p, ex, sizeof ex);
	char line[4096];
	snprintf(line, sizeof line, "%s (pid %" PRIu32 ", %s)",
		 p->session.command && *p->session.command ? p->session.command : "(unknown)",
		 p->session.pid, ex);
	rep_field(out, markdown, "command", line);
	snprintf(line, sizeof line, "%s, kernel %s, kbprof %s",
		 p->session.hostname ? p->session.hostname : "?",
		 p->session.kernel ? p->session.kernel : "?",
		 p->session.kbprof_version ? p->session.kbprof_version : "?");
	rep_field(out, markdown, "host", line);
	snprintf(line, sizeof line, "%s (%s)", dur, p->path);
	rep_field(out, markdown, "recording", line);
}

json_t *rep_hex(uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "0x%" PRIx64, v);
	return json_string(buf);
}

json_t *rep_jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (j)
		return j;
	/* not valid UTF-8 (a symbol or path from a binary): keep ASCII */
	size_t n = strlen(s);
	char *c = malloc(n + 1);
	if (!c)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		c[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	j = json_string(c);
	free(c);
	return j;
}

json_t *rep_str_or_null(const char *s)
{
	return s ? rep_jstr(s) : json_null();
}

json_t *rep_recording_json(const struct prof *p)
{
	json_t *o = json_object();
	json_object_set_new(o, "path", rep_jstr(p->path));
	json_object_set_new(o, "command", rep_str_or_null(p->session.command));
	json_object_set_new(o, "pid", json_integer(p->session.pid));
	json_object_set_new(o, "host", rep_str_or_null(p->session.hostname));
	json_object_set_new(o, "kernel", rep_str_or_null(p->session.kernel));
	json_object_set_new(o, "kbprof_version", rep_str_or_null(p->session.kbprof_version));
	json_object_set_new(o, "start_realtime_ns",
			    json_integer((json_int_t)p->session.start_realtime_ns));
	json_object_set_new(o, "duration_ns", json_integer((json_int_t)prof_duration_ns(p)));
	json_object_set_new(o, "finished", json_boolean(p->finished));
	if (p->finished) {
		json_object_set_new(o, "exit_status", json_integer(p->finish.status));
		json_object_set_new(o, "signaled",
				    json_boolean(p->finish.flags & KBREC_FINISH_SIGNALED));
		json_object_set_new(o, "interrupted",
				    json_boolean(p->finish.flags & KBREC_FINISH_INTERRUPTED));
	} else {
		json_object_set_new(o, "exit_status", json_null());
		json_object_set_new(o, "signaled", json_null());
		json_object_set_new(o, "interrupted", json_null());
	}
	json_object_set_new(o, "complete", json_boolean(p->problems.len == 0));
	return o;
}

void rep_warnings_text(const char *const *w, size_t n, struct kb_buf *out, int markdown)
{
	if (!n)
		return;
	kb_buf_puts(out, markdown ? "\n**Warnings**\n\n" : "\nwarnings:\n");
	for (size_t i = 0; i < n; i++)
		kb_buf_printf(out, markdown ? "- %s\n" : "  - %s\n", w[i]);
}

json_t *rep_warnings_json(const char *const *w, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, rep_jstr(w[i]));
	return a;
}

int rep_json_dump(json_t *root, struct kb_buf *out)
{
	if (!root)
		return -1;
	char *s = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!s)
		return -1;
	kb_buf_puts(out, s);
	kb_buf_putc(out, '\n');
	free(s);
	return out->oom ? -1 : 0;
}

void rep_filters_text(char *buf, size_t size, const char *region, const char *comm, uint32_t pid)
{
	int n = snprintf(buf, size, "%s%s%s%s", region ? ", region " : "", region ? region : "",
			 comm ? ", command " : "", comm ? comm : "");
	if (pid && n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, ", pid %" PRIu32, pid);
}

json_t *rep_filters_json(const char *region, const char *comm, uint32_t pid)
{
	json_t *o = json_object();
	json_object_set_new(o, "region", rep_str_or_null(region));
	json_object_set_new(o, "comm", rep_str_or_null(comm));
	json_object_set_new(o, "pid", pid ? json_integer(pid) : json_null());
	return o;
}
