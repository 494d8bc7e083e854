/* recording_write: the encoder of kbprof recordings. See recording_write.h
 * for buffer ownership; docs/recording-format.md for the layouts. */
#include "probes/recording_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void recw_enc_init(struct recw_enc *e, void *buf, size_t cap, recw_sink_fn sink, void *ctx)
{
	memset(e, 0, sizeof *e);
	e->buf = buf;
	e->cap = cap;
	e->sink = sink;
	e->sink_ctx = ctx;
}

static int sink_bytes(struct recw_enc *e, size_t n)
{
	if (n == 0)
		return 0;
	if (!e->sink) {
		e->error = ENOSPC;
		return -1;
	}
	if (e->sink(e->sink_ctx, e->buf, n) != 0) {
		if (!e->error)
			e->error = errno ? errno : EIO;
		return -1;
	}
	return 0;
}

/* Makes room for n more bytes of the current record. */
static bool room(struct recw_enc *e, size_t n)
{
	if (e->overflow)
		return false;
	if (e->cap - e->len >= n)
		return true;
	/* Hand finished records to the sink and move the partial one down. */
	if (e->rec_start > 0 && e->sink) {
		if (sink_bytes(e, e->rec_start) != 0) {
			e->overflow = true;
			return false;
		}
		memmove(e->buf, e->buf + e->rec_start, e->len - e->rec_start);
		e->len -= e->rec_start;
		e->rec_start = 0;
	}
	if (e->cap - e->len >= n && e->len + n <= RECW_RECORD_MAX)
		return true;
	e->overflow = true;
	return false;
}

void recw_begin(struct recw_enc *e, uint32_t type)
{
	e->rec_start = e->len;
	e->in_record = true;
	e->overflow = false;
	recw_u32(e, type);
	recw_u32(e, 0); /* size, patched by recw_end */
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void recw_u32(struct recw_enc *e, uint32_t v)
{
	if (!room(e, 4))
		return;
	put_le(e->buf + e->len, v, 4);
	e->len += 4;
}

void recw_u64(struct recw_enc *e, uint64_t v)
{
	if (!room(e, 8))
		return;
	put_le(e->buf + e->len, v, 8);
	e->len += 8;
}

void recw_bytes(struct recw_enc *e, const void *p, size_t n)
{
	if (!room(e, n))
		return;
	memcpy(e->buf + e->len, p, n);
	e->len += n;
}

void recw_str(struct recw_enc *e, const char *s)
{
	if (!s)
		s = "";
	size_t n = strlen(s) + 1;
	if (n > RECW_RECORD_MAX / 2) {
		e->overflow = true;
		return;
	}
	recw_u32(e, (uint32_t)n);
	recw_bytes(e, s, n);
}

int recw_end(struct recw_enc *e)
{
	e->in_record = false;
	size_t size = e->len - e->rec_start;
	size_t padded = (size + 7) & ~(size_t)7;
	if (!e->overflow && padded > size && room(e, padded - size)) {
		memset(e->buf + e->len, 0, padded - size);
		e->len += padded - size;
	}
	if (e->overflow || e->len - e->rec_start != padded || padded > RECW_RECORD_MAX) {
		e->len = e->rec_start;
		e->overflow = false;
		return -1;
	}
	put_le(e->buf + e->rec_start + 4, padded, 4);
	e->rec_start = e->len;
	e->records++;
	return e->error ? -1 : 0;
}

int recw_flush(struct recw_enc *e)
{
	size_t done = e->in_record ? e->rec_start : e->len;
	if (done == 0)
		return e->error ? -1 : 0;
	if (sink_bytes(e, done) != 0)
		return -1;
	memmove(e->buf, e->buf + done, e->len - done);
	e->len -= done;
	e->rec_start -= done;
	return 0;
}

int recw_raw(struct recw_enc *e, const void *data, size_t len)
{
	if (e->in_record)
		return -1;
	e->rec_start = e->len;
	e->overflow = false;
	if (!room(e, len)) {
		e->overflow = false;
		return -1;
	}
	memcpy(e->buf + e->len, data, len);
	e->len += len;
	e->rec_start = e->len;
	return 0;
}

void recw_header(uint8_t out[RECW_HEADER_SIZE])
{
	memcpy(out, RECW_MAGIC, 8);
	put_le(out + 8, RECW_VERSION_MAJOR, 2);
	put_le(out + 10, RECW_VERSION_MINOR, 2);
	put_le(out + 12, RECW_HEADER_SIZE, 4);
}

long recw_frame_check(const void *data, size_t len, uint32_t allowed)
{
	const uint8_t *p = data;
	if (len < 8)
		return 0;
	uint32_t type =
	    (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	uint32_t size =
	    (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
	if (type >= 32 || !(allowed & (1u << type)) || size < 8 || size % 8 ||
	    size > RECW_RECORD_MAX)
		return -1;
	if (size > len)
		return 0;
	return (long)size;
}

int recw_session(struct recw_enc *e, const struct recw_session *s)
{
	recw_begin(e, RECW_SESSION);
	recw_u64(e, s->start_ns);
	recw_u64(e, s->start_realtime_ns);
	recw_u32(e, s->clockid);
	recw_u32(e, s->pid);
	recw_u32(e, s->argc);
	recw_str(e, s->kbprof_version);
	recw_str(e, s->hostname);
	recw_str(e, s->kernel);
	for (uint32_t i = 0; i < s->argc; i++)
		recw_str(e, s->argv[i]);
	return recw_end(e);
}

int recw_event(struct recw_enc *e, uint32_t id, uint32_t kind, uint32_t perf_type, uint32_t flags,
	       uint64_t config, uint64_t period_or_freq, const char *name, const char *note)
{
	recw_begin(e, RECW_EVENT);
	recw_u32(e, id);
	recw_u32(e, kind);
	recw_u32(e, perf_type);
	recw_u32(e, flags);
	recw_u64(e, config);
	recw_u64(e, period_or_freq);
	recw_str(e, name);
	recw_str(e, note);
	return recw_end(e);
}

int recw_comm(struct recw_enc *e, uint32_t pid, uint32_t tid, uint64_t time, uint32_t flags,
	      const char *comm)
{
	recw_begin(e, RECW_COMM);
	recw_u32(e, pid);
	recw_u32(e, tid);
	recw_u64(e, time);
	recw_u32(e, flags);
	recw_str(e, comm);
	return recw_end(e);
}

int recw_task(struct recw_enc *e, uint32_t type, uint32_t pid, uint32_t ppid, uint32_t tid,
	      uint32_t ptid, uint64_t time)
{
	recw_begin(e, type);
	recw_u32(e, pid);
	recw_u32(e, ppid);
	recw_u32(e, tid);
	recw_u32(e, ptid);
	recw_u64(e, time);
	return recw_end(e);
}

int recw_mmap(struct recw_enc *e, const struct recw_mmap *m)
{
	recw_begin(e, RECW_MMAP);
	recw_u32(e, m->pid);
	recw_u32(e, m->tid);
	recw_u64(e, m->time);
	recw_u64(e, m->start);
	recw_u64(e, m->len);
	recw_u64(e, m->pgoff);
	recw_u32(e, m->prot);
	recw_u32(e, m->map_flags);
	recw_u32(e, m->maj);
	recw_u32(e, m->min);
	recw_u64(e, m->ino);
	recw_u32(e, m->flags);
	recw_u32(e, m->build_id_len);
	recw_bytes(e, m->build_id, RECW_BUILD_ID_MAX);
	recw_str(e, m->filename);
	return recw_end(e);
}

int recw_module(struct recw_enc *e, const struct recw_module *m)
{
	recw_begin(e, RECW_MODULE);
	recw_u32(e, m->build_id_len);
	recw_u32(e, m->elf_type);
	recw_u64(e, m->size);
	recw_u64(e, m->mtime_ns);
	recw_bytes(e, m->build_id, RECW_BUILD_ID_MAX);
	recw_str(e, m->path);
	recw_str(e, m->note);
	return recw_end(e);
}

int recw_sample(struct recw_enc *e, const struct recw_sample *s)
{
	recw_begin(e, RECW_SAMPLE);
	recw_u32(e, s->event_id);
	recw_u32(e, s->pid);
	recw_u32(e, s->tid);
	recw_u32(e, s->cpu);
	recw_u64(e, s->time);
	recw_u64(e, s->ip);
	recw_u64(e, s->period);
	recw_u64(e, s->addr);
	recw_u32(e, s->cpumode);
	recw_u32(e, s->nr_kernel);
	recw_u32(e, s->nr_user);
	recw_u32(e, 0);
	size_t n = (size_t)s->nr_kernel + s->nr_user;
	for (size_t i = 0; i < n; i++)
		recw_u64(e, s->ips[i]);
	return recw_end(e);
}

int recw_region(struct recw_enc *e, uint32_t type, uint32_t pid, uint32_t tid, uint64_t time,
		uint32_t depth, const char *path)
{
	recw_begin(e, type);
	recw_u32(e, pid);
	recw_u32(e, tid);
	recw_u64(e, time);
	recw_u32(e, depth);
	recw_str(e, path);
	return recw_end(e);
}

int recw_region_stats(struct recw_enc *e, uint32_t pid, uint32_t tid, uint64_t calls,
		      uint64_t wall_incl, uint64_t wall_excl, uint32_t ncounters,
		      const struct recw_counter *counters, const char *path)
{
	recw_begin(e, RECW_REGION_STATS);
	recw_u32(e, pid);
	recw_u32(e, tid);
	recw_u64(e, calls);
	recw_u64(e, wall_incl);
	recw_u64(e, wall_excl);
	recw_u32(e, ncounters);
	for (uint32_t i = 0; i < ncounters; i++) {
		recw_u64(e, counters[i].incl);
		recw_u64(e, counters[i].excl);
		recw_u64(e, counters[i].enabled);
		recw_u64(e, counters[i].running);
		recw_str(e, counters[i].name);
	}
	recw_str(e, path);
	return recw_end(e);
}

int recw_lost(struct recw_enc *e, uint32_t event_id, uint32_t cpu, uint64_t time, uint64_t count)
{
	recw_begin(e, RECW_LOST);
	recw_u32(e, event_id);
	recw_u32(e, cpu);
	recw_u64(e, time);
	recw_u64(e, count);
	return recw_end(e);
}

int recw_throttle(struct recw_enc *e, uint32_t event_id, uint32_t throttled, uint64_t time)
{
	recw_begin(e, RECW_THROTTLE);
	recw_u32(e, event_id);
	recw_u32(e, throttled);
	recw_u64(e, time);
	return recw_end(e);
}

int recw_note(struct recw_enc *e, uint32_t pid, uint64_t time, const char *text)
{
	recw_begin(e, RECW_NOTE);
	recw_u32(e, pid);
	recw_u32(e, 0);
	recw_u64(e, time);
	recw_str(e, text);
	return recw_end(e);
}

int recw_finish(struct recw_enc *e, const struct recw_finish *f)
{
	recw_begin(e, RECW_FINISH);
	recw_u64(e, f->end_ns);
	recw_u32(e, (uint32_t)f->status);
	recw_u32(e, f->flags);
	recw_u64(e, f->samples);
	recw_u64(e, f->lost);
	recw_u64(e, f->throttled);
	recw_u64(e, f->ru_minflt);
	recw_u64(e, f->ru_majflt);
	recw_u64(e, f->ru_utime_ns);
	recw_u64(e, f->ru_stime_ns);
	recw_u64(e, f->ru_maxrss_kb);
	return recw_end(e);
}

/* ---- the recording file ---- */

#define FILE_BUF (1u << 20)

struct file_sink {
	struct recw_file *f;
};

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int file_sink(void *ctx, const void *data, size_t len)
{
	struct recw_file *f = ctx;
	if (write_all(f->fd, data, len) != 0)
		return -1;
	f->bytes += len;
	return 0;
}

int recw_file_create(struct recw_file **out, const char *path, struct kb_error *err)
{
	*out = NULL;
	struct recw_file *f = calloc(1, sizeof *f);
	uint8_t *buf = malloc(FILE_BUF);
	if (!f || !buf) {
		free(f);
		free(buf);
		return kb_error_set(err, "%s: out of memory", path);
	}
	snprintf(f->path, sizeof f->path, "%s", path);
	f->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f->fd < 0) {
		int e = errno;
		free(buf);
		free(f);
		return kb_error_set(err, "%s: %s", path, strerror(e));
	}
	uint8_t header[RECW_HEADER_SIZE];
	recw_header(header);
	if (write_all(f->fd, header, sizeof header) != 0) {
		int e = errno;
		close(f->fd);
		free(buf);
		free(f);
		return kb_error_set(err, "%s: %s", path, strerror(e));
	}
	f->bytes = sizeof header;
	recw_enc_init(&f->enc, buf, FILE_BUF, file_sink, f);
	*out = f;
	return 0;
}

int recw_file_close(struct recw_file *f, struct kb_error *err)
{
	if (!f)
		return 0;
	int rc = recw_flush(&f->enc);
	int e = f->enc.error;
	if (close(f->fd) != 0 && !e)
		e = errno;
	if (rc || e)
		kb_error_set(err, "%s: write failed: %s", f->path, strerror(e ? e : EIO));
	free(f->enc.buf);
	free(f);
	return (rc || e) ? -1 : 0;
}
