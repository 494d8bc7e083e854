/* kbprof dump: prints every record of a recording, one per line, as the
 * reader decodes it (like perf script -D): for checking what a recording
 * holds, and where a damaged one goes wrong. */
#include "analyze/recording.h"
#include "cli/builtin.h"

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

const char cmd_dump_usage[] =
    "usage: kbprof dump [-i FILE] [--type TYPE]\n\n"
    "Prints every record of a recording on one line: its offset, type and fields.\n"
    "Ends with a count per type; says where a truncated file ends and stops with\n"
    "an error at a malformed record (exit status 1).\n\n"
    "  -i, --input FILE  the recording (default kbprof.data)\n"
    "  -t, --type TYPE   print only records of TYPE (sample, mmap, region-begin, ...)\n";

static void hex(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static void print_record(const struct kbrec_record *r)
{
	printf("%10" PRIu64 " %-12s ", r->offset, kbrec_type_name(r->type));
	switch (r->type) {
	case KBREC_SESSION:
		printf("pid %u clock %u start %" PRIu64 " kbprof '%s' host '%s' kernel '%s' argv",
		       r->session.pid, r->session.clockid, r->session.start_ns,
		       r->session.kbprof_version, r->session.hostname, r->session.kernel);
		for (uint32_t i = 0; i < r->session.argc; i++)
			printf(" '%s'", r->session.argv[i]);
		break;
	case KBREC_EVENT:
		printf("id %u kind %u type %u config %#" PRIx64 " %s %" PRIu64 " flags %#x '%s' "
		       "note '%s'",
		       r->event.id, r->event.kind, r->event.perf_type, r->event.perf_config,
		       (r->event.flags & KBREC_EVENT_FREQ) ? "freq" : "period",
		       r->event.period_or_freq, r->event.flags, r->event.name, r->event.note);
		break;
	case KBREC_COMM:
		printf("%u/%u time %" PRIu64 " '%s'%s", r->comm.pid, r->comm.tid, r->comm.time,
		       r->comm.comm, (r->comm.flags & KBREC_COMM_EXEC) ? " exec" : "");
		break;
	case KBREC_FORK:
	case KBREC_EXIT:
		printf("%u/%u parent %u/%u time %" PRIu64, r->task.pid, r->task.tid, r->task.ppid,
		       r->task.ptid, r->task.time);
		break;
	case KBREC_MMAP:
		printf("%u/%u time %" PRIu64 " [%#" PRIx64 ", %#" PRIx64 ") pgoff %#" PRIx64
		       " prot %#x flags %#x%s '%s'",
		       r->mmap.pid, r->mmap.tid, r->mmap.time, r->mmap.start,
		       r->mmap.start + r->mmap.len, r->mmap.pgoff, r->mmap.prot, r->mmap.map_flags,
		       (r->mmap.flags & KBREC_MMAP_DATA) ? " data" : "", r->mmap.filename);
		if (r->mmap.flags & KBREC_MMAP_BUILD_ID) {
			printf(" build-id ");
			hex(r->mmap.build_id, r->mmap.build_id_len);
		}
		break;
	case KBREC_MODULE:
		printf("'%s' elf-type %u size %" PRIu64 " build-id ", r->module.path,
		       r->module.elf_type, r->module.size);
		hex(r->module.build_id, r->module.build_id_len);
		if (*r->module.note)
			printf(" (%s)", r->module.note);
		break;
	case KBREC_SAMPLE:
		printf("ev %u %u/%u cpu %u time %" PRIu64 " ip %#" PRIx64 " period %" PRIu64
		       " addr %#" PRIx64 " mode %u chain %u+%u",
		       r->sample.event_id, r->sample.pid, r->sample.tid, r->sample.cpu,
		       r->sample.time, r->sample.ip, r->sample.period, r->sample.addr,
		       r->sample.cpumode, r->sample.nr_kernel, r->sample.nr_user);
		for (uint32_t i = 0; i < r->sample.nr_kernel + r->sample.nr_user; i++)
			printf(" %#" PRIx64, r->sample.ips[i]);
		break;
	case KBREC_REGION_BEGIN:
	case KBREC_REGION_END:
		printf("%u/%u time %" PRIu64 " depth %u '%s'", r->region.pid, r->region.tid,
		       r->region.time, r->region.depth, r->region.path);
		break;
	case KBREC_REGION_STATS:
		printf("pid %u '%s' calls %" PRIu64 " wall %" PRIu64 " excl %" PRIu64,
		       r->region_stats.pid, r->region_stats.path, r->region_stats.calls,
		       r->region_stats.wall_incl_ns, r->region_stats.wall_excl_ns);
		for (uint32_t i = 0; i < r->region_stats.ncounters; i++) {
			const struct kbrec_counter *c = &r->region_stats.counters[i];
			printf(" %s %" PRIu64 "/%" PRIu64, c->name, c->incl, c->excl);
		}
		break;
	case KBREC_LOST:
		printf("ev %u cpu %u time %" PRIu64 " lost %" PRIu64, r->lost.event_id, r->lost.cpu,
		       r->lost.time, r->lost.count);
		break;
	case KBREC_THROTTLE:
		printf("ev %u %s time %" PRIu64, r->throttle.event_id,
		       r->throttle.throttled ? "throttled" : "unthrottled", r->throttle.time);
		break;
	case KBREC_NOTE:
		printf("pid %u time %" PRIu64 " '%s'", r->note.pid, r->note.time, r->note.text);
		break;
	case KBREC_FINISH:
		printf("end %" PRIu64 " status %d flags %#x samples %" PRIu64 " lost %" PRIu64
		       " throttled %" PRIu64 " minflt %" PRIu64 " majflt %" PRIu64,
		       r->finish.end_ns, r->finish.status, r->finish.flags, r->finish.samples,
		       r->finish.lost, r->finish.throttled, r->finish.ru_minflt,
		       r->finish.ru_majflt);
		break;
	default:
		printf("type %u, %u bytes", r->unknown.type, r->unknown.size);
		break;
	}
	putchar('\n');
}

CMD(dump)
{
	static const struct option opts[] = {
	    {"input", required_argument, NULL, 'i'},
	    {"type", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	const char *input = "kbprof.data", *only = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			input = optarg;
			break;
		case 't':
			only = optarg;
			break;
		default:
			return cli_usage_error("dump", "unknown option");
		}
	}
	if (optind < argc)
		input = argv[optind++];
	if (optind < argc)
		return cli_usage_error("dump", "unexpected argument '%s'", argv[optind]);
	struct kbrec_reader *r;
	struct kb_error err;
	if (kbrec_reader_open(&r, input, &err))
		return cli_fail("dump", "%s", err.msg);
	struct kbrec_record rec;
	uint64_t counts[KBREC_TYPE_COUNT] = {0};
	int rc;
	while ((rc = kbrec_reader_next(r, &rec, &err)) == 1) {
		counts[rec.type < KBREC_TYPE_COUNT ? rec.type : 0]++;
		if (!only || strcmp(only, kbrec_type_name(rec.type)) == 0)
			print_record(&rec);
	}
	printf("#");
	for (unsigned t = 0; t < KBREC_TYPE_COUNT; t++)
		if (counts[t])
			printf(" %s %" PRIu64, kbrec_type_name(t), counts[t]);
	printf("\n");
	int status = KBPROF_EXIT_OK;
	if (rc < 0) {
		fflush(stdout);
		status = cli_fail("dump", "%s", err.msg);
	} else if (kbrec_reader_truncation(r)) {
		fflush(stdout);
		fprintf(stderr, "kbprof dump: %s\n", kbrec_reader_truncation(r));
	} else if (!kbrec_reader_finished(r)) {
		fflush(stdout);
		fprintf(stderr, "kbprof dump: %s: no finish record (the recorder did not end)\n",
			input);
	}
	kbrec_reader_close(r);
	return status;
}
