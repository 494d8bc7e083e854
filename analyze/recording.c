/* recording: decodes kbprof recordings (docs/recording-format.md).
 *
 * Owns: the file mapping (or borrows the caller's bytes) and a scratch area
 * reused for each record's decoded arrays (argv, call chain, counters).
 * Every read goes through a cursor that is checked against the end of its
 * record, and every record against the end of the data, so a crafted file
 * can at worst produce an error message. */
#include "analyze/recording.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARGC_MAX 4096u
#define COUNTERS_MAX 256u
#define HEADER_SIZE_MAX 4096u

struct kbrec_reader {
	const uint8_t *data;
	size_t len;
	size_t pos; /* offset of the next record */
	void *map;  /* owned mapping, or NULL when the bytes are borrowed */
	size_t map_len;
	char name[512];
	unsigned major, minor;
	bool failed;
	bool finished;
	bool seen_session;
	bool at_end;
	char truncation[768];
	/* Scratch reused by each record: owned, grown on demand. */
	void *scratch;
	size_t scratch_cap;
};

/* A bounds-checked cursor over one record's payload. */
struct cursor {
	const uint8_t *p;
	size_t len, pos;
	const char *what; /* the record's type name, for messages */
	const char *fail; /* first failure, static text */
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint32_t get_u32(struct cursor *c)
{
	if (c->fail || c->len - c->pos < 4) {
		c->fail = c->fail ? c->fail : "field runs past the end of the record";
		return 0;
	}
	uint32_t v = le32(c->p + c->pos);
	c->pos += 4;
	return v;
}

static uint64_t get_u64(struct cursor *c)
{
	if (c->fail || c->len - c->pos < 8) {
		c->fail = c->fail ? c->fail : "field runs past the end of the record";
		return 0;
	}
	uint64_t v = le64(c->p + c->pos);
	c->pos += 8;
	return v;
}

static void get_bytes(struct cursor *c, uint8_t *out, size_t n)
{
	if (c->fail || c->len - c->pos < n) {
		c->fail = c->fail ? c->fail : "field runs past the end of the record";
		memset(out, 0, n);
		return;
	}
	memcpy(out, c->p + c->pos, n);
	c->pos += n;
}

/* Strings are NUL-terminated in the file, so they are handed out in place. */
static const char *get_str(struct cursor *c)
{
	uint32_t n = get_u32(c);
	if (c->fail)
		return "";
	if (n == 0) {
		c->fail = "string has length 0 (a NUL terminator is required)";
		return "";
	}
	if (c->len - c->pos < n) {
		c->fail = "string runs past the end of the record";
		return "";
	}
	const char *s = (const char *)c->p + c->pos;
	if (s[n - 1] != '\0' || memchr(s, '\0', n - 1)) {
		c->fail = "string is not NUL-terminated at its length";
		return "";
	}
	c->pos += n;
	return s;
}

const char *kbrec_type_name(uint32_t type)
{
	static const char *const names[KBREC_TYPE_COUNT] = {
	    [KBREC_UNKNOWN] = "unknown",
	    [KBREC_SESSION] = "session",
	    [KBREC_EVENT] = "event",
	    [KBREC_COMM] = "comm",
	    [KBREC_FORK] = "fork",
	    [KBREC_EXIT] = "exit",
	    [KBREC_MMAP] = "mmap",
	    [KBREC_MODULE] = "module",
	    [KBREC_SAMPLE] = "sample",
	    [KBREC_REGION_BEGIN] = "region-begin",
	    [KBREC_REGION_END] = "region-end",
	    [KBREC_REGION_STATS] = "region-stats",
	    [KBREC_LOST] = "lost",
	    [KBREC_THROTTLE] = "throttle",
	    [KBREC_NOTE] = "note",
	    [KBREC_FINISH] = "finish",
	};
	return type < KBREC_TYPE_COUNT ? names[type] : "unknown";
}

static void *scratch(struct kbrec_reader *r, size_t n)
{
	if (n > r->scratch_cap) {
		size_t cap = r->scratch_cap ? r->scratch_cap : 1024;
		while (cap < n)
			cap *= 2;
		void *p = realloc(r->scratch, cap);
		if (!p)
			return NULL;
		r->scratch = p;
		r->scratch_cap = cap;
	}
	return r->scratch;
}

static int check_header(struct kbrec_reader *r, struct kb_error *err)
{
	if (r->len < KBREC_HEADER_SIZE) {
		if (r->len >= 8 && memcmp(r->data, KBREC_MAGIC, 8) != 0)
			return kb_error_set(err, "%s: not a kbprof recording (bad magic)", r->name);
		return kb_error_set(err,
				    "%s: not a kbprof recording (%zu bytes, shorter than the "
				    "%d-byte header)",
				    r->name, r->len, KBREC_HEADER_SIZE);
	}
	if (memcmp(r->data, KBREC_MAGIC, 8) != 0)
		return kb_error_set(err, "%s: not a kbprof recording (bad magic)", r->name);
	r->major = (unsigned)r->data[8] | (unsigned)r->data[9] << 8;
	r->minor = (unsigned)r->data[10] | (unsigned)r->data[11] << 8;
	uint32_t hsize = le32(r->data + 12);
	if (r->major != KBREC_VERSION_MAJOR)
		return kb_error_set(err,
				    "%s: format version %u.%u is not supported (this reader reads "
				    "%d.x)",
				    r->name, r->major, r->minor, KBREC_VERSION_MAJOR);
	if (hsize < KBREC_HEADER_SIZE || hsize > HEADER_SIZE_MAX || hsize % 8 != 0)
		return kb_error_set(err, "%s: header size %u is invalid", r->name, hsize);
	if (hsize > r->len)
		return kb_error_set(err, "%s: header of %u bytes runs past the end of the file",
				    r->name, hsize);
	r->pos = hsize;
	return 0;
}

static int open_common(struct kbrec_reader **out, struct kbrec_reader *r, struct kb_error *err)
{
	if (check_header(r, err)) {
		kbrec_reader_close(r);
		*out = NULL;
		return -1;
	}
	*out = r;
	return 0;
}

int kbrec_reader_open_mem(struct kbrec_reader **out, const void *data, size_t len, const char *name,
			  struct kb_error *err)
{
	struct kbrec_reader *r = calloc(1, sizeof *r);
	if (!r)
		return kb_error_set(err, "%s: out of memory", name);
	r->data = data;
	r->len = data ? len : 0;
	snprintf(r->name, sizeof r->name, "%s", name ? name : "recording");
	return open_common(out, r, err);
}

int kbrec_reader_open(struct kbrec_reader **out, const char *path, struct kb_error *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kb_error_set(err, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return kb_error_set(err, "%s: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return kb_error_set(err, "%s: not a regular file", path);
	}
	struct kbrec_reader *r = calloc(1, sizeof *r);
	if (!r) {
		close(fd);
		return kb_error_set(err, "%s: out of memory", path);
	}
	snprintf(r->name, sizeof r->name, "%s", path);
	if (st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			int e = errno;
			close(fd);
			free(r);
			return kb_error_set(err, "%s: cannot map: %s", path, strerror(e));
		}
		r->map = m;
		r->map_len = (size_t)st.st_size;
		r->data = m;
		r->len = (size_t)st.st_size;
		madvise(m, r->map_len, MADV_SEQUENTIAL);
	}
	close(fd);
	return open_common(out, r, err);
}

void kbrec_reader_close(struct kbrec_reader *r)
{
	if (!r)
		return;
	if (r->map)
		munmap(r->map, r->map_len);
	free(r->scratch);
	free(r);
}

const char *kbrec_reader_truncation(const struct kbrec_reader *r)
{
	return r->truncation[0] ? r->truncation : NULL;
}

int kbrec_reader_finished(const struct kbrec_reader *r)
{
	return r->finished;
}

void kbrec_reader_version(const struct kbrec_reader *r, unsigned *major, unsigned *minor)
{
	*major = r->major;
	*minor = r->minor;
}

uint64_t kbrec_reader_offset(const struct kbrec_reader *r)
{
	return r->pos;
}

static int decode_session(struct kbrec_reader *r, struct cursor *c, struct kbrec_session *s)
{
	s->start_ns = get_u64(c);
	s->start_realtime_ns = get_u64(c);
	s->clockid = get_u32(c);
	s->pid = get_u32(c);
	s->argc = get_u32(c);
	s->kbprof_version = get_str(c);
	s->hostname = get_str(c);
	s->kernel = get_str(c);
	if (c->fail)
		return -1;
	if (s->argc > ARGC_MAX) {
		c->fail = "argc exceeds 4096";
		return -1;
	}
	const char **argv = scratch(r, (s->argc + 1) * sizeof *argv);
	if (!argv) {
		c->fail = "out of memory";
		return -1;
	}
	for (uint32_t i = 0; i < s->argc; i++)
		argv[i] = get_str(c);
	argv[s->argc] = NULL;
	s->argv = argv;
	return c->fail ? -1 : 0;
}

static int decode_sample(struct kbrec_reader *r, struct cursor *c, struct kbrec_sample *s)
{
	s->event_id = get_u32(c);
	s->pid = get_u32(c);
	s->tid = get_u32(c);
	s->cpu = get_u32(c);
	s->time = get_u64(c);
	s->ip = get_u64(c);
	s->period = get_u64(c);
	s->addr = get_u64(c);
	s->cpumode = get_u32(c);
	s->nr_kernel = get_u32(c);
	s->nr_user = get_u32(c);
	(void)get_u32(c);
	if (c->fail)
		return -1;
	uint64_t n = (uint64_t)s->nr_kernel + s->nr_user;
	if (n > (c->len - c->pos) / 8) {
		c->fail = "call chain runs past the end of the record";
		return -1;
	}
	uint64_t *ips = scratch(r, (size_t)(n ? n : 1) * sizeof *ips);
	if (!ips) {
		c->fail = "out of memory";
		return -1;
	}
	for (uint64_t i = 0; i < n; i++)
		ips[i] = get_u64(c);
	s->ips = ips;
	return 0;
}

static int decode_region_stats(struct kbrec_reader *r, struct cursor *c,
			       struct kbrec_region_stats *s)
{
	s->pid = get_u32(c);
	s->tid = get_u32(c);
	s->calls = get_u64(c);
	s->wall_incl_ns = get_u64(c);
	s->wall_excl_ns = get_u64(c);
	s->ncounters = get_u32(c);
	if (c->fail)
		return -1;
	if (s->ncounters > COUNTERS_MAX) {
		c->fail = "more than 256 counters";
		return -1;
	}
	struct kbrec_counter *cs = scratch(r, (s->ncounters + 1) * sizeof *cs);
	if (!cs) {
		c->fail = "out of memory";
		return -1;
	}
	for (uint32_t i = 0; i < s->ncounters; i++) {
		cs[i].incl = get_u64(c);
		cs[i].excl = get_u64(c);
		cs[i].enabled = get_u64(c);
		cs[i].running = get_u64(c);
		cs[i].name = get_str(c);
	}
	s->counters = cs;
	s->path = get_str(c);
	return c->fail ? -1 : 0;
}

static int decode(struct kbrec_reader *r, uint32_t type, struct cursor *c, struct kbrec_record *rec)
{
	switch (type) {
	case KBREC_SESSION:
		return decode_session(r, c, &rec->session);
	case KBREC_EVENT: {
		struct kbrec_event *e = &rec->event;
		e->id = get_u32(c);
		e->kind = get_u32(c);
		e->perf_type = get_u32(c);
		e->flags = get_u32(c);
		e->perf_config = get_u64(c);
		e->period_or_freq = get_u64(c);
		e->name = get_str(c);
		e->note = get_str(c);
		break;
	}
	case KBREC_COMM: {
		struct kbrec_comm *m = &rec->comm;
		m->pid = get_u32(c);
		m->tid = get_u32(c);
		m->time = get_u64(c);
		m->flags = get_u32(c);
		m->comm = get_str(c);
		break;
	}
	case KBREC_FORK:
	case KBREC_EXIT: {
		struct kbrec_task *t = &rec->task;
		t->pid = get_u32(c);
		t->ppid = get_u32(c);
		t->tid = get_u32(c);
		t->ptid = get_u32(c);
		t->time = get_u64(c);
		break;
	}
	case KBREC_MMAP: {
		struct kbrec_mmap *m = &rec->mmap;
		m->pid = get_u32(c);
		m->tid = get_u32(c);
		m->time = get_u64(c);
		m->start = get_u64(c);
		m->len = get_u64(c);
		m->pgoff = get_u64(c);
		m->prot = get_u32(c);
		m->map_flags = get_u32(c);
		m->maj = get_u32(c);
		m->min = get_u32(c);
		m->ino = get_u64(c);
		m->flags = get_u32(c);
		m->build_id_len = get_u32(c);
		get_bytes(c, m->build_id, KBREC_BUILD_ID_MAX);
		m->filename = get_str(c);
		if (!c->fail && m->build_id_len > KBREC_BUILD_ID_MAX)
			c->fail = "build-id longer than 20 bytes";
		break;
	}
	case KBREC_MODULE: {
		struct kbrec_module *m = &rec->module;
		m->build_id_len = get_u32(c);
		m->elf_type = get_u32(c);
		m->size = get_u64(c);
		m->mtime_ns = get_u64(c);
		get_bytes(c, m->build_id, KBREC_BUILD_ID_MAX);
		m->path = get_str(c);
		m->note = get_str(c);
		if (!c->fail && m->build_id_len > KBREC_BUILD_ID_MAX)
			c->fail = "build-id longer than 20 bytes";
		break;
	}
	case KBREC_SAMPLE:
		return decode_sample(r, c, &rec->sample);
	case KBREC_REGION_BEGIN:
	case KBREC_REGION_END: {
		struct kbrec_region_event *e = &rec->region;
		e->pid = get_u32(c);
		e->tid = get_u32(c);
		e->time = get_u64(c);
		e->depth = get_u32(c);
		e->path = get_str(c);
		if (!c->fail && e->depth == 0)
			c->fail = "region depth 0 (the outermost region has depth 1)";
		break;
	}
	case KBREC_REGION_STATS:
		return decode_region_stats(r, c, &rec->region_stats);
	case KBREC_LOST: {
		struct kbrec_lost *l = &rec->lost;
		l->event_id = get_u32(c);
		l->cpu = get_u32(c);
		l->time = get_u64(c);
		l->count = get_u64(c);
		break;
	}
	case KBREC_THROTTLE: {
		struct kbrec_throttle *t = &rec->throttle;
		t->event_id = get_u32(c);
		t->throttled = get_u32(c);
		t->time = get_u64(c);
		if (!c->fail && t->throttled > 1)
			c->fail = "throttle flag is neither 0 nor 1";
		break;
	}
	case KBREC_NOTE: {
		struct kbrec_note *n = &rec->note;
		n->pid = get_u32(c);
		(void)get_u32(c);
		n->time = get_u64(c);
		n->text = get_str(c);
		break;
	}
	case KBREC_FINISH: {
		struct kbrec_finish *f = &rec->finish;
		f->end_ns = get_u64(c);
		f->status = (int32_t)get_u32(c);
		f->flags = get_u32(c);
		f->samples = get_u64(c);
		f->lost = get_u64(c);
		f->throttled = get_u64(c);
		f->ru_minflt = get_u64(c);
		f->ru_majflt = get_u64(c);
		f->ru_utime_ns = get_u64(c);
		f->ru_stime_ns = get_u64(c);
		f->ru_maxrss_kb = get_u64(c);
		break;
	}
	default:
		rec->type = KBREC_UNKNOWN;
		rec->unknown.type = type;
		rec->unknown.size = (uint32_t)c->len;
		rec->unknown.data = c->p;
		return 0;
	}
	return c->fail ? -1 : 0;
}

static int fail_at(struct kbrec_reader *r, struct kb_error *err, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct kbrec_reader *r, struct kb_error *err, size_t off, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	r->failed = true;
	snprintf(r->truncation, sizeof r->truncation, "%s", "");
	return kb_error_set(err, "%s: offset %zu: %s", r->name, off, msg);
}

int kbrec_reader_next(struct kbrec_reader *r, struct kbrec_record *rec, struct kb_error *err)
{
	if (r->failed)
		return kb_error_set(err, "%s: reading stopped at an earlier error", r->name);
	if (r->at_end)
		return 0;
	size_t off = r->pos;
	size_t left = r->len - off;
	if (left == 0) {
		r->at_end = true;
		return 0;
	}
	if (left < 8) {
		snprintf(r->truncation, sizeof r->truncation,
			 "%s: truncated at offset %zu: %zu bytes left, less than a record header",
			 r->name, off, left);
		r->at_end = true;
		return 0;
	}
	uint32_t type = le32(r->data + off);
	uint32_t size = le32(r->data + off + 4);
	if (size < 8)
		return fail_at(r, err, off, "record size %u is smaller than a record header", size);
	if (size % 8 != 0)
		return fail_at(r, err, off, "record size %u is not a multiple of 8", size);
	if (size > KBREC_RECORD_MAX)
		return fail_at(r, err, off, "record size %u exceeds the 1 MiB limit", size);
	if (type == KBREC_UNKNOWN)
		return fail_at(r, err, off, "record type 0 is invalid");
	if (size > left) {
		snprintf(r->truncation, sizeof r->truncation,
			 "%s: truncated at offset %zu: %s record of %u bytes has only %zu", r->name,
			 off, kbrec_type_name(type), size, left);
		r->at_end = true;
		return 0;
	}
	if (!r->seen_session && type != KBREC_SESSION)
		return fail_at(r, err, off, "first record is %s, expected session",
			       kbrec_type_name(type));
	if (r->seen_session && type == KBREC_SESSION)
		return fail_at(r, err, off, "second session record");
	if (r->finished)
		return fail_at(r, err, off, "%s record after the finish record",
			       kbrec_type_name(type));

	memset(rec, 0, sizeof *rec);
	rec->type = type < KBREC_TYPE_COUNT ? (enum kbrec_type)type : KBREC_UNKNOWN;
	rec->offset = off;
	struct cursor c = {.p = r->data + off + 8, .len = size - 8, .what = kbrec_type_name(type)};
	if (decode(r, type, &c, rec))
		return fail_at(r, err, off, "%s (size %u): %s", c.what, size,
			       c.fail ? c.fail : "invalid record");
	if (type == KBREC_SESSION)
		r->seen_session = true;
	if (type == KBREC_FINISH)
		r->finished = true;
	r->pos = off + size;
	return 1;
}
