/* Tests of the recording format: the writer (probes/recording_write.c) and
 * the reader (analyze/recording.c) agree on every record; cut files read up
 * to their last complete record; malformed files are rejected with the
 * offset and the cause, never a crash. */
#include "analyze/recording.h"
#include "probes/recording_write.h"
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A growable memory sink for the encoder. */
struct mem {
	uint8_t *data;
	size_t len, cap;
};

static int mem_sink(void *ctx, const void *p, size_t n)
{
	struct mem *m = ctx;
	if (m->len + n > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		while (cap < m->len + n)
			cap *= 2;
		uint8_t *d = realloc(m->data, cap);
		if (!d)
			return -1;
		m->data = d;
		m->cap = cap;
	}
	memcpy(m->data + m->len, p, n);
	m->len += n;
	return 0;
}

static const uint64_t chain[] = {0xffffffff81000010ull, 0xffffffff81000020ull, 0x401000, 0x401100,
				 0x401200};

/* Writes one record of every type; returns the record offsets in offs[]. */
static size_t build(struct mem *m, size_t *offs)
{
	static uint8_t buf[256];
	struct recw_enc e;
	recw_enc_init(&e, buf, sizeof buf, mem_sink, m);
	uint8_t header[RECW_HEADER_SIZE];
	recw_header(header);
	mem_sink(m, header, sizeof header);
	size_t n = 0;
#define MARK() (recw_flush(&e), offs[n++] = m->len)
	char *argv[] = {"prog", "--flag", "arg with spaces", NULL};
	struct recw_session s = {.start_ns = 100,
				 .start_realtime_ns = 200,
				 .clockid = 1,
				 .pid = 42,
				 .kbprof_version = "0.1.0",
				 .hostname = "host",
				 .kernel = "6.1",
				 .argc = 3,
				 .argv = argv};
	MARK();
	cr_assert_eq(recw_session(&e, &s), 0);
	MARK();
	cr_assert_eq(recw_event(&e, 0, 1, 1, 7, 0, 1000, "cpu-clock", "cycles: not supported"), 0);
	MARK();
	cr_assert_eq(recw_comm(&e, 42, 43, 300, 1, "prog"), 0);
	MARK();
	cr_assert_eq(recw_task(&e, RECW_FORK, 42, 42, 44, 42, 310), 0);
	MARK();
	cr_assert_eq(recw_task(&e, RECW_EXIT, 42, 42, 44, 42, 315), 0);
	MARK();
	struct recw_mmap mm = {.pid = 42,
			       .tid = 42,
			       .time = 320,
			       .start = 0x400000,
			       .len = 0x2000,
			       .pgoff = 0x1000,
			       .prot = 5,
			       .map_flags = 2,
			       .flags = 1,
			       .build_id_len = 20,
			       .filename = "/usr/bin/prog"};
	for (int i = 0; i < 20; i++)
		mm.build_id[i] = (uint8_t)(i + 1);
	cr_assert_eq(recw_mmap(&e, &mm), 0);
	MARK();
	struct recw_module mod = {.build_id_len = 3,
				  .elf_type = 3,
				  .size = 12345,
				  .mtime_ns = 999,
				  .build_id = {0xab, 0xcd, 0xef},
				  .path = "/usr/bin/prog",
				  .note = ""};
	cr_assert_eq(recw_module(&e, &mod), 0);
	MARK();
	struct recw_sample smp = {.event_id = 1,
				  .pid = 42,
				  .tid = 44,
				  .cpu = 1,
				  .time = 330,
				  .ip = 0x401000,
				  .period = 1,
				  .addr = 0x7f0000001000,
				  .cpumode = 2,
				  .nr_kernel = 2,
				  .nr_user = 3,
				  .ips = chain};
	cr_assert_eq(recw_sample(&e, &smp), 0);
	MARK();
	cr_assert_eq(recw_region(&e, RECW_REGION_BEGIN, 42, 44, 340, 1, "startup"), 0);
	MARK();
	cr_assert_eq(recw_region(&e, RECW_REGION_END, 42, 44, 350, 2, "startup/parse"), 0);
	MARK();
	struct recw_counter cs[2] = {{"page-faults", 140, 20, 1000, 1000},
				     {"cycles", 5000, 4000, 1000, 500}};
	cr_assert_eq(recw_region_stats(&e, 42, 0, 2, 1000, 300, 2, cs, "outer"), 0);
	MARK();
	cr_assert_eq(recw_lost(&e, 0, 1, 360, 17), 0);
	MARK();
	cr_assert_eq(recw_throttle(&e, 0, 1, 370), 0);
	MARK();
	cr_assert_eq(recw_note(&e, 0, 380, "a note"), 0);
	MARK();
	struct recw_finish f = {.end_ns = 400,
				.status = 3,
				.flags = 1,
				.samples = 1,
				.lost = 17,
				.throttled = 1,
				.ru_minflt = 50,
				.ru_majflt = 2,
				.ru_utime_ns = 10,
				.ru_stime_ns = 20,
				.ru_maxrss_kb = 30};
	cr_assert_eq(recw_finish(&e, &f), 0);
	recw_flush(&e);
	offs[n] = m->len;
	return n;
#undef MARK
}

Test(recording, writer_and_reader_agree_on_type_numbers)
{
	cr_expect_eq(RECW_SESSION, KBREC_SESSION);
	cr_expect_eq(RECW_EVENT, KBREC_EVENT);
	cr_expect_eq(RECW_COMM, KBREC_COMM);
	cr_expect_eq(RECW_FORK, KBREC_FORK);
	cr_expect_eq(RECW_EXIT, KBREC_EXIT);
	cr_expect_eq(RECW_MMAP, KBREC_MMAP);
	cr_expect_eq(RECW_MODULE, KBREC_MODULE);
	cr_expect_eq(RECW_SAMPLE, KBREC_SAMPLE);
	cr_expect_eq(RECW_REGION_BEGIN, KBREC_REGION_BEGIN);
	cr_expect_eq(RECW_REGION_END, KBREC_REGION_END);
	cr_expect_eq(RECW_REGION_STATS, KBREC_REGION_STATS);
	cr_expect_eq(RECW_LOST, KBREC_LOST);
	cr_expect_eq(RECW_THROTTLE, KBREC_THROTTLE);
	cr_expect_eq(RECW_NOTE, KBREC_NOTE);
	cr_expect_eq(RECW_FINISH, KBREC_FINISH);
	cr_expect_eq(RECW_HEADER_SIZE, KBREC_HEADER_SIZE);
	cr_expect_eq(RECW_RECORD_MAX, KBREC_RECORD_MAX);
	cr_expect_str_eq(RECW_MAGIC, KBREC_MAGIC);
}

Test(recording, every_record_reads_back_as_written)
{
	struct mem m = {0};
	size_t offs[32];
	size_t n = build(&m, offs);
	struct kbrec_reader *r;
	struct kb_error err;
	cr_assert_eq(kbrec_reader_open_mem(&r, m.data, m.len, "mem", &err), 0, "%s", err.msg);
	struct kbrec_record rec;
	size_t i = 0;
	int rc;
	while ((rc = kbrec_reader_next(r, &rec, &err)) == 1) {
		cr_expect_eq(rec.offset, offs[i], "record %zu at %llu", i,
			     (unsigned long long)rec.offset);
		switch (rec.type) {
		case KBREC_SESSION:
			cr_expect_eq(rec.session.pid, 42);
			cr_expect_eq(rec.session.start_ns, 100);
			cr_expect_eq(rec.session.argc, 3);
			cr_expect_str_eq(rec.session.argv[2], "arg with spaces");
			cr_expect_null(rec.session.argv[3]);
			cr_expect_str_eq(rec.session.kernel, "6.1");
			break;
		case KBREC_EVENT:
			cr_expect_str_eq(rec.event.name, "cpu-clock");
			cr_expect_str_eq(rec.event.note, "cycles: not supported");
			cr_expect_eq(rec.event.flags, 7);
			cr_expect_eq(rec.event.period_or_freq, 1000);
			break;
		case KBREC_COMM:
			cr_expect_str_eq(rec.comm.comm, "prog");
			cr_expect_eq(rec.comm.flags, KBREC_COMM_EXEC);
			break;
		case KBREC_FORK:
			cr_expect_eq(rec.task.tid, 44);
			cr_expect_eq(rec.task.time, 310);
			break;
		case KBREC_EXIT:
			cr_expect_eq(rec.task.time, 315);
			break;
		case KBREC_MMAP:
			cr_expect_eq(rec.mmap.start, 0x400000);
			cr_expect_eq(rec.mmap.pgoff, 0x1000);
			cr_expect_eq(rec.mmap.build_id_len, 20);
			cr_expect_eq(rec.mmap.build_id[19], 20);
			cr_expect_str_eq(rec.mmap.filename, "/usr/bin/prog");
			break;
		case KBREC_MODULE:
			cr_expect_eq(rec.module.build_id[2], 0xef);
			cr_expect_eq(rec.module.size, 12345);
			cr_expect_str_eq(rec.module.path, "/usr/bin/prog");
			break;
		case KBREC_SAMPLE:
			cr_expect_eq(rec.sample.addr, 0x7f0000001000);
			cr_expect_eq(rec.sample.nr_kernel, 2);
			cr_expect_eq(rec.sample.nr_user, 3);
			for (int k = 0; k < 5; k++)
				cr_expect_eq(rec.sample.ips[k], chain[k]);
			break;
		case KBREC_REGION_BEGIN:
			cr_expect_str_eq(rec.region.path, "startup");
			cr_expect_eq(rec.region.depth, 1);
			break;
		case KBREC_REGION_END:
			cr_expect_str_eq(rec.region.path, "startup/parse");
			cr_expect_eq(rec.region.time, 350);
			break;
		case KBREC_REGION_STATS:
			cr_expect_str_eq(rec.region_stats.path, "outer");
			cr_expect_eq(rec.region_stats.ncounters, 2);
			cr_expect_str_eq(rec.region_stats.counters[1].name, "cycles");
			cr_expect_eq(rec.region_stats.counters[0].excl, 20);
			cr_expect_eq(rec.region_stats.counters[1].running, 500);
			break;
		case KBREC_LOST:
			cr_expect_eq(rec.lost.count, 17);
			break;
		case KBREC_THROTTLE:
			cr_expect_eq(rec.throttle.throttled, 1);
			break;
		case KBREC_NOTE:
			cr_expect_str_eq(rec.note.text, "a note");
			break;
		case KBREC_FINISH:
			cr_expect_eq(rec.finish.status, 3);
			cr_expect_eq(rec.finish.ru_maxrss_kb, 30);
			break;
		default:
			cr_expect_fail("unexpected type %d", rec.type);
		}
		cr_expect_eq((int)rec.type, (int)i + 1, "record %zu has type %d", i, rec.type);
		i++;
	}
	cr_expect_eq(rc, 0, "%s", err.msg);
	cr_expect_eq(i, n);
	cr_expect_null(kbrec_reader_truncation(r));
	cr_expect(kbrec_reader_finished(r));
	kbrec_reader_close(r);
	free(m.data);
}

Test(recording, a_file_cut_at_every_byte_reads_up_to_its_last_full_record)
{
	struct mem m = {0};
	size_t offs[32];
	size_t n = build(&m, offs);
	for (size_t cut = 0; cut <= m.len; cut++) {
		/* A copy of exactly `cut` bytes, so ASan sees any read past it. */
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, m.data, cut);
		struct kbrec_reader *r;
		struct kb_error err;
		int open = kbrec_reader_open_mem(&r, copy, cut, "cut", &err);
		if (cut < KBREC_HEADER_SIZE) {
			cr_expect_eq(open, -1, "cut %zu opened", cut);
			cr_expect(strstr(err.msg, "not a kbprof recording") != NULL, "%s", err.msg);
			free(copy);
			continue;
		}
		cr_assert_eq(open, 0, "cut %zu: %s", cut, err.msg);
		size_t complete = 0;
		while (complete < n && offs[complete + 1] <= cut)
			complete++;
		struct kbrec_record rec;
		size_t got = 0;
		int rc;
		while ((rc = kbrec_reader_next(r, &rec, &err)) == 1)
			got++;
		cr_expect_eq(rc, 0, "cut %zu: %s", cut, err.msg);
		cr_expect_eq(got, complete, "cut %zu: read %zu records, %zu complete", cut, got,
			     complete);
		bool at_boundary = cut == offs[complete];
		if (at_boundary) {
			cr_expect_null(kbrec_reader_truncation(r), "cut %zu", cut);
		} else {
			const char *t = kbrec_reader_truncation(r);
			cr_expect_not_null(t, "cut %zu not reported", cut);
			char want[64];
			snprintf(want, sizeof want, "truncated at offset %zu", offs[complete]);
			cr_expect(t && strstr(t, want), "cut %zu: '%s'", cut, t ? t : "");
		}
		cr_expect_eq(kbrec_reader_finished(r), cut == m.len);
		kbrec_reader_close(r);
		free(copy);
	}
	free(m.data);
}

/* Reads all of data; returns the reader's result and the message. */
static int read_all(const uint8_t *data, size_t len, char *msg, size_t size)
{
	struct kbrec_reader *r;
	struct kb_error err = {{0}};
	if (kbrec_reader_open_mem(&r, data, len, "bad", &err)) {
		snprintf(msg, size, "%s", err.msg);
		return -2;
	}
	struct kbrec_record rec;
	int rc;
	while ((rc = kbrec_reader_next(r, &rec, &err)) == 1)
		;
	snprintf(msg, size, "%s", rc < 0 ? err.msg : "");
	if (rc < 0)
		cr_expect_eq(kbrec_reader_next(r, &rec, &err), -1, "a failed reader stays failed");
	kbrec_reader_close(r);
	return rc;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

Test(recording, malformed_records_are_rejected_with_offset_and_cause)
{
	struct mem m = {0};
	size_t offs[32];
	build(&m, offs);
	uint8_t *d = malloc(m.len);
	char msg[1024], want[64];
	struct {
		size_t rec;        /* which record to damage */
		size_t at;         /* byte within it */
		uint32_t value;    /* u32 written there */
		const char *cause; /* expected in the message */
	} cases[] = {
	    {7, 4, 12, "not a multiple of 8"},
	    {7, 4, 0, "smaller than a record header"},
	    {7, 4, 1u << 24, "exceeds the 1 MiB limit"},
	    {7, 0, 0, "record type 0 is invalid"},
	    {7, 8 + 52, 1000, "call chain runs past the end of the record"},
	    {0, 8 + 24, 5, "runs past the end of the record"}, /* argc 5: argv runs out */
	    {5, 8 + 92, 200, "string runs past"},              /* mmap file name length */
	    {5, 8 + 92, 3, "not NUL-terminated"},
	    {5, 8 + 68, 21, "build-id longer than 20 bytes"},
	    {8, 8 + 16, 0, "region depth 0"},
	    {12, 8 + 4, 2, "throttle flag"},
	    {0, 0, KBREC_MMAP, "first record is mmap, expected session"},
	    {1, 0, KBREC_SESSION, "second session record"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memcpy(d, m.data, m.len);
		put32(d + offs[cases[i].rec] + cases[i].at, cases[i].value);
		int rc = read_all(d, m.len, msg, sizeof msg);
		cr_expect_eq(rc, -1, "case %zu (%s) not rejected", i, cases[i].cause);
		snprintf(want, sizeof want, "bad: offset %zu: ", offs[cases[i].rec]);
		cr_expect(strstr(msg, want) != NULL, "case %zu: '%s' lacks '%s'", i, msg, want);
		cr_expect(strstr(msg, cases[i].cause) != NULL, "case %zu: '%s' lacks '%s'", i, msg,
			  cases[i].cause);
	}
	/* A record after the finish record. */
	uint8_t *longer = malloc(m.len + 16);
	memcpy(longer, m.data, m.len);
	memset(longer + m.len, 0, 16);
	put32(longer + m.len, KBREC_LOST);
	put32(longer + m.len + 4, 16);
	int rc = read_all(longer, m.len + 16, msg, sizeof msg);
	cr_expect_eq(rc, -1);
	cr_expect(strstr(msg, "after the finish record"), "%s", msg);
	free(longer);
	free(d);
	free(m.data);
}

Test(recording, bad_headers_are_rejected)
{
	struct mem m = {0};
	size_t offs[32];
	build(&m, offs);
	char msg[1024];
	uint8_t *d = malloc(m.len);
	memcpy(d, m.data, m.len);
	d[0] = 'X';
	cr_expect_eq(read_all(d, m.len, msg, sizeof msg), -2);
	cr_expect(strstr(msg, "bad: not a kbprof recording (bad magic)"), "%s", msg);
	memcpy(d, m.data, m.len);
	d[8] = 2;
	cr_expect_eq(read_all(d, m.len, msg, sizeof msg), -2);
	cr_expect(strstr(msg, "format version 2.0 is not supported"), "%s", msg);
	memcpy(d, m.data, m.len);
	put32(d + 12, 9);
	cr_expect_eq(read_all(d, m.len, msg, sizeof msg), -2);
	cr_expect(strstr(msg, "header size 9 is invalid"), "%s", msg);
	/* A newer minor version reads; its unknown record types are handed out. */
	memcpy(d, m.data, m.len);
	d[10] = 7;
	put32(d + offs[13], 99); /* the note becomes an unknown type */
	struct kbrec_reader *r;
	struct kb_error err;
	cr_assert_eq(kbrec_reader_open_mem(&r, d, m.len, "newer", &err), 0);
	unsigned major, minor;
	kbrec_reader_version(r, &major, &minor);
	cr_expect_eq(minor, 7);
	struct kbrec_record rec;
	int unknown = 0, rc;
	while ((rc = kbrec_reader_next(r, &rec, &err)) == 1)
		if (rec.type == KBREC_UNKNOWN) {
			unknown++;
			cr_expect_eq(rec.unknown.type, 99);
		}
	cr_expect_eq(rc, 0, "%s", err.msg);
	cr_expect_eq(unknown, 1);
	kbrec_reader_close(r);
	free(d);
	free(m.data);
}

Test(recording, random_damage_never_crashes_the_reader)
{
	struct mem m = {0};
	size_t offs[32];
	build(&m, offs);
	uint8_t *d = malloc(m.len);
	uint64_t x = 88172645463325252ull;
	int rejected = 0;
	for (int round = 0; round < 20000; round++) {
		memcpy(d, m.data, m.len);
		int flips = 1 + (int)(x % 4);
		for (int k = 0; k < flips; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			d[KBREC_HEADER_SIZE + x % (m.len - KBREC_HEADER_SIZE)] = (uint8_t)(x >> 32);
		}
		char msg[1024];
		if (read_all(d, m.len, msg, sizeof msg) == -1) {
			rejected++;
			cr_expect(strstr(msg, "bad: offset "), "%s", msg);
		}
	}
	cr_expect_gt(rejected, 0);
	free(d);
	free(m.data);
}

Test(recording, the_file_writer_streams_whole_records)
{
	char *dir = make_temp_dir();
	char path[4096];
	snprintf(path, sizeof path, "%s/rec.data", dir);
	struct recw_file *f;
	struct kb_error err;
	cr_assert_eq(recw_file_create(&f, path, &err), 0, "%s", err.msg);
	char *argv[] = {"x", NULL};
	struct recw_session s = {.clockid = 1, .argc = 1, .argv = argv};
	recw_session(&f->enc, &s);
	/* More than the writer's buffer, so records reach the file mid-way. */
	for (int i = 0; i < 40000; i++) {
		struct recw_sample smp = {
		    .time = (uint64_t)i, .ip = 0x1000 + (uint64_t)i, .nr_user = 5, .ips = chain};
		cr_assert_eq(recw_sample(&f->enc, &smp), 0);
	}
	/* Before close: what reached the file is whole records. */
	struct kbrec_reader *r;
	cr_assert_eq(kbrec_reader_open(&r, path, &err), 0, "%s", err.msg);
	struct kbrec_record rec;
	int rc, got = 0;
	while ((rc = kbrec_reader_next(r, &rec, &err)) == 1)
		got++;
	cr_expect_eq(rc, 0, "%s", err.msg);
	cr_expect_null(kbrec_reader_truncation(r));
	cr_expect_gt(got, 1000);
	kbrec_reader_close(r);
	cr_assert_eq(recw_file_close(f, &err), 0, "%s", err.msg);
	cr_assert_eq(kbrec_reader_open(&r, path, &err), 0, "%s", err.msg);
	got = 0;
	uint64_t last = 0;
	while ((rc = kbrec_reader_next(r, &rec, &err)) == 1)
		if (rec.type == KBREC_SAMPLE) {
			cr_expect_eq(rec.sample.time, (uint64_t)got);
			last = rec.sample.ip;
			got++;
		}
	cr_expect_eq(got, 40000);
	cr_expect_eq(last, 0x1000 + 39999);
	kbrec_reader_close(r);

	/* Cut the file mid-record: readable up to there, the cut reported. */
	cr_assert_eq(truncate(path, 16 + 104 + 3 * 112 + 50), 0);
	cr_assert_eq(kbrec_reader_open(&r, path, &err), 0, "%s", err.msg);
	got = 0;
	while ((rc = kbrec_reader_next(r, &rec, &err)) == 1)
		got++;
	cr_expect_eq(rc, 0);
	cr_expect_not_null(kbrec_reader_truncation(r));
	cr_expect_not(kbrec_reader_finished(r));
	kbrec_reader_close(r);

	cr_expect_eq(kbrec_reader_open(&r, dir, &err), -1);
	cr_expect(strstr(err.msg, "not a regular file"), "%s", err.msg);
	snprintf(path, sizeof path, "%s/missing", dir);
	cr_expect_eq(kbrec_reader_open(&r, path, &err), -1);
	cr_expect(strstr(err.msg, "No such file"), "%s", err.msg);
	rm_rf(dir);
	free(dir);
}

Test(recording, a_record_too_big_for_the_buffer_is_dropped_whole)
{
	uint8_t buf[64];
	struct recw_enc e;
	recw_enc_init(&e, buf, sizeof buf, NULL, NULL);
	cr_expect_eq(recw_note(&e, 0, 1, "short"), 0);
	size_t before = e.len;
	char big[200];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	cr_expect_eq(recw_note(&e, 0, 2, big), -1);
	cr_expect_eq(e.len, before);
	cr_expect_eq(recw_frame_check(buf, e.len, 1u << RECW_NOTE), (long)e.len);
	cr_expect_eq(recw_frame_check(buf, e.len, 1u << RECW_SAMPLE), -1);
	cr_expect_eq(recw_frame_check(buf, 7, 1u << RECW_NOTE), 0);
}
