/* kbprof gen: writes the seed benchmark's generated knowledge base. */
#include "cli/builtin.h"
#include "workloads/kbgen.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

const char cmd_gen_usage[] =
    "usage: kbprof gen --rules N [-o FILE] [--count]\n\n"
    "Writes the MeTTa knowledge base that MeTTaTron's generate_metta_kb(N) writes,\n"
    "byte for byte (the kb_persistence benchmarks' input). N is MeTTaTron's label:\n"
    "the file holds 16 * (N / 4) rules, so N = 10000 gives 40,000 rules.\n\n"
    "  -n, --rules N   generator size (10000 small, 100000 medium, 1000000 large)\n"
    "  -o, --output F  write to F instead of standard output\n"
    "      --count     print the size in bytes and the rule count instead\n";

CMD(gen)
{
	static const struct option opts[] = {
	    {"rules", required_argument, NULL, 'n'},
	    {"output", required_argument, NULL, 'o'},
	    {"count", no_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long long n = 0;
	int have_n = 0, count_only = 0;
	const char *output = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (cli_parse_u64(optarg, &n) || n > (1ULL << 40))
				return cli_usage_error(
				    "gen", "--rules wants a whole number up to 2^40, not '%s'",
				    optarg);
			have_n = 1;
			break;
		case 'o':
			output = optarg;
			break;
		case 'c':
			count_only = 1;
			break;
		default:
			return cli_usage_error("gen", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("gen", "unexpected argument '%s'", argv[optind]);
	if (!have_n)
		return cli_usage_error("gen", "--rules N is required");
	if (count_only) {
		printf("%llu bytes, %llu rules\n", (unsigned long long)kbgen_size(n),
		       (unsigned long long)kbgen_rule_count(n));
		return KBPROF_EXIT_OK;
	}
	FILE *out = stdout;
	if (output && !(out = fopen(output, "w")))
		return cli_fail("gen", "%s: %s", output, strerror(errno));
	int rc = kbgen_write(out, n);
	int saved = errno;
	if (out != stdout && fclose(out) != 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	if (rc)
		return cli_fail("gen", "%s: %s", output ? output : "standard output",
				strerror(saved));
	return KBPROF_EXIT_OK;
}
