/* kbprof record: samples a command into a recording. Wiring only: options
 * to probes/record.c, and the one-line summary perf record prints. */
#include "cli/builtin.h"
#include "kbprof_version.h"
#include "probes/record.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

const char cmd_record_usage[] =
    "usage: kbprof record [-e EVENT] [-F HZ | -c PERIOD] [-g] [--faults] [-o FILE] [--] CMD "
    "[ARGS...]\n\n"
    "Runs CMD and samples it, its threads and child processes into a recording\n"
    "(docs/recording-format.md) for `kbprof report`: instruction pointers, threads,\n"
    "times, periods and, with -g, frame-pointer call chains; mappings of code and\n"
    "data files, with the build-ids needed to symbolize later; the begin and end of\n"
    "the regions its probes mark. Samples `cycles`, or `cpu-clock` where the\n"
    "machine has no hardware PMU (it says so). The exit status is the command's;\n"
    "127 if it cannot be found.\n\n"
    "  -e, --event EVENT    the event to sample (default cycles)\n"
    "  -F, --freq HZ        samples per second (default 4000)\n"
    "  -c, --count PERIOD   a sample every PERIOD events instead\n"
    "  -g, --call-graph     record frame-pointer call chains\n"
    "      --faults         also sample every page fault, with its data address\n"
    "  -o, --output FILE    the recording (default kbprof.data)\n"
    "  -m, --mmap-pages N   ring buffer pages per CPU, a power of 2 (default 256)\n"
    "      --no-regions     leave the command's region probes off\n";

CMD(record)
{
	static const struct option opts[] = {
	    {"event", required_argument, NULL, 'e'},      {"freq", required_argument, NULL, 'F'},
	    {"count", required_argument, NULL, 'c'},      {"call-graph", no_argument, NULL, 'g'},
	    {"faults", no_argument, NULL, 'f'},           {"output", required_argument, NULL, 'o'},
	    {"mmap-pages", required_argument, NULL, 'm'}, {NULL, 0, NULL, 0},
	};
	struct kbrecord_opts o = {.msgs = stderr, .kbprof_version = KBPROF_VERSION};
	unsigned long long v;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+e:F:c:go:m:", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (strchr(optarg, ','))
				return cli_usage_error("record", "-e takes one event, not a list");
			o.event = optarg;
			break;
		case 'F':
			if (cli_parse_u64(optarg, &v) || v < 1 || v > 1000000)
				return cli_usage_error(
				    "record", "-F wants a frequency in Hz, not '%s'", optarg);
			o.freq = v;
			break;
		case 'c':
			if (cli_parse_u64(optarg, &v) || v < 1)
				return cli_usage_error(
				    "record", "-c wants a period from 1, not '%s'", optarg);
			o.period = v;
			break;
		case 'g':
			o.callchain = true;
			break;
		case 'f':
			o.faults = true;
			break;
		case 'o':
			o.output = optarg;
			break;
		case 'm':
			if (cli_parse_u64(optarg, &v) || v < 1 || v > (1u << 20) || (v & (v - 1)))
				return cli_usage_error(
				    "record", "-m wants a power of 2 number of pages, not '%s'",
				    optarg);
			o.mmap_pages = (unsigned)v;
			break;
		case 'R':
			o.no_regions = true;
			break;
		default:
			return cli_usage_error("record", "unknown option");
		}
	}
	if (o.freq && o.period)
		return cli_usage_error("record", "-F and -c exclude each other");
	if (optind >= argc)
		return cli_usage_error("record", "no command given");
	o.argv = argv + optind;

	struct kbrecord_summary sum;
	struct kb_error err;
	bool exec_failed;
	if (kbrecord_run(&o, &sum, &exec_failed, &err)) {
		cli_fail("record", "%s", err.msg);
		if (exec_failed)
			return strstr(err.msg, "not found") ? 127 : 126;
		return KBPROF_EXIT_FAIL;
	}
	fprintf(stderr, "[ kbprof record: %llu %s samples", (unsigned long long)sum.samples,
		sum.event);
	if (o.faults)
		fprintf(stderr, ", %llu page-fault samples", (unsigned long long)sum.fault_samples);
	fprintf(stderr, ", %llu region records, %llu lost, %llu throttled; wrote %.3f MB to %s ]\n",
		(unsigned long long)sum.region_records, (unsigned long long)sum.lost,
		(unsigned long long)sum.throttled, (double)sum.bytes / 1e6,
		o.output ? o.output : KBRECORD_DEFAULT_OUTPUT);
	if (sum.lost)
		fprintf(stderr, "kbprof record: %llu samples lost: try a larger -m or a lower -F\n",
			(unsigned long long)sum.lost);
	return sum.exit_code;
}
