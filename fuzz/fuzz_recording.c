/* fuzz_recording: feeds arbitrary bytes to the recording reader
 * (analyze/recording.c) as a file body after a valid header, and as a whole
 * file, reading every record and touching every field it hands out. The
 * reader must answer with records, a truncation or an error: never a crash,
 * an out-of-bounds read or a leak. Seeds: scripts/fuzz writes a real
 * recording into the corpus. */
#include "analyze/recording.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void touch(const char *s)
{
	sink += strlen(s);
}

static void consume(const struct kbrec_record *r)
{
	switch (r->type) {
	case KBREC_SESSION:
		touch(r->session.kbprof_version);
		touch(r->session.hostname);
		touch(r->session.kernel);
		for (uint32_t i = 0; i < r->session.argc; i++)
			touch(r->session.argv[i]);
		break;
	case KBREC_EVENT:
		touch(r->event.name);
		touch(r->event.note);
		break;
	case KBREC_COMM:
		touch(r->comm.comm);
		break;
	case KBREC_MMAP:
		touch(r->mmap.filename);
		for (uint32_t i = 0; i < r->mmap.build_id_len; i++)
			sink += r->mmap.build_id[i];
		break;
	case KBREC_MODULE:
		touch(r->module.path);
		touch(r->module.note);
		for (uint32_t i = 0; i < r->module.build_id_len; i++)
			sink += r->module.build_id[i];
		break;
	case KBREC_SAMPLE:
		for (uint32_t i = 0; i < r->sample.nr_kernel + r->sample.nr_user; i++)
			sink += r->sample.ips[i];
		break;
	case KBREC_REGION_BEGIN:
	case KBREC_REGION_END:
		touch(r->region.path);
		break;
	case KBREC_REGION_STATS:
		touch(r->region_stats.path);
		for (uint32_t i = 0; i < r->region_stats.ncounters; i++) {
			touch(r->region_stats.counters[i].name);
			sink += r->region_stats.counters[i].incl;
		}
		break;
	case KBREC_NOTE:
		touch(r->note.text);
		break;
	case KBREC_UNKNOWN:
		for (uint32_t i = 0; i < r->unknown.size; i++)
			sink += r->unknown.data[i];
		break;
	default:
		sink += r->offset;
		break;
	}
}

static void read_all(const uint8_t *data, size_t size)
{
	struct kbrec_reader *r;
	struct kb_error err;
	if (kbrec_reader_open_mem(&r, data, size, "fuzz", &err))
		return;
	struct kbrec_record rec;
	int rc;
	while ((rc = kbrec_reader_next(r, &rec, &err)) == 1)
		consume(&rec);
	if (rc == 0 && kbrec_reader_truncation(r))
		touch(kbrec_reader_truncation(r));
	kbrec_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* As a whole file (exact size, so ASan sees any read past it). */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	read_all(copy, size);
	free(copy);
	/* As the records after a valid header, so the fuzzer need not find it. */
	uint8_t *file = malloc(size + KBREC_HEADER_SIZE);
	if (!file)
		return 0;
	memcpy(file, KBREC_MAGIC, 8);
	file[8] = KBREC_VERSION_MAJOR;
	file[9] = 0;
	file[10] = KBREC_VERSION_MINOR;
	file[11] = 0;
	file[12] = KBREC_HEADER_SIZE;
	file[13] = file[14] = file[15] = 0;
	memcpy(file + KBREC_HEADER_SIZE, data, size);
	read_all(file, size + KBREC_HEADER_SIZE);
	free(file);
	return 0;
}
