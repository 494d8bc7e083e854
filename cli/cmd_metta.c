/* kbprof metta: runs MeTTa files like Hyperon's runner, or checks their
 * assertions (--check). Argument parsing and wiring only: core/runner.c
 * does the work. */
#include "cli/builtin.h"
#include "core/runner.h"

#include <getopt.h>

const char cmd_metta_usage[] =
    "usage: kbprof metta [options] FILE.metta\n"
    "       kbprof metta --check [options] FILE.metta...\n\n"
    "Runs a MeTTa program with Hyperon's semantics: every top-level atom without\n"
    "`!` is added to the space &self, and every `!expr` is evaluated in order,\n"
    "printing one line `[r1, r2, ...]` of results per `!` line.\n\n"
    "With --check, reports every assertion (assertEqual, assertEqualToResult,\n"
    "assertAlphaEqual) of each FILE as pass, FAIL (expected and actual results)\n"
    "or skipped (the missing feature, e.g. type checking), prints a summary and\n"
    "exits with status 1 if any assertion failed.\n\n"
    "  -c, --check             check assertions instead of printing results\n"
    "      --max-depth N       evaluation depth limit (default 1000000)\n"
    "      --max-results N     results per query and per collapse (default 1000000)\n"
    "      --max-steps N       evaluation steps per query, 0 = no limit (default 0)\n"
    "      --max-memory MIB    memory a query may take (default 2048)\n"
    "      --no-symbol-rules   leave symbols unevaluated even when rules (= sym X)\n"
    "                          exist (Hyperon's behaviour)\n\n"
    "A limit that is hit gives an (Error ...) result, not a crash. Syntax errors\n"
    "are reported as FILE:LINE:COL: cause, with exit status 1.\n";

CMD(metta)
{
	static const struct option opts[] = {
	    {"check", no_argument, NULL, 'c'},
	    {"max-depth", required_argument, NULL, 'd'},
	    {"max-results", required_argument, NULL, 'r'},
	    {"max-steps", required_argument, NULL, 's'},
	    {"no-symbol-rules", no_argument, NULL, 'n'},
	    {"max-memory", required_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	struct mt_run_opts ro = {.eval = mt_eval_default_opts(), .out = stdout};
	unsigned long long v;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ro.check = 1;
			break;
		case 'd':
			if (cli_parse_u64(optarg, &v) || v == 0 || v > UINT32_MAX)
				return cli_usage_error("metta", "--max-depth wants 1..%u, not '%s'",
						       UINT32_MAX, optarg);
			ro.eval.max_depth = (uint32_t)v;
			break;
		case 'r':
			if (cli_parse_u64(optarg, &v) || v == 0)
				return cli_usage_error(
				    "metta", "--max-results wants a positive number, not '%s'",
				    optarg);
			ro.eval.max_results = v;
			break;
		case 's':
			if (cli_parse_u64(optarg, &v))
				return cli_usage_error(
				    "metta", "--max-steps wants a number, not '%s'", optarg);
			ro.eval.max_steps = v;
			break;
		case 'n':
			ro.eval.symbol_rules = 0;
			break;
		case 'm':
			if (cli_parse_u64(optarg, &v) || v == 0 || v > (1ULL << 40))
				return cli_usage_error(
				    "metta", "--max-memory wants MiB, 1..2^40, not '%s'", optarg);
			ro.eval.max_memory = v << 20;
			break;
		default:
			return cli_usage_error("metta", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("metta", "a FILE.metta is required");
	if (!ro.check && argc - optind > 1)
		return cli_usage_error("metta", "one FILE at a time without --check");
	struct mt_check_counts counts = {0};
	for (int i = optind; i < argc; i++) {
		struct kb_error err;
		if (mt_run_file(argv[i], &ro, &counts, &err)) {
			fflush(stdout);
			return cli_fail("metta", "%s", err.msg);
		}
	}
	if (ro.check) {
		printf("total: %llu passed, %llu failed, %llu skipped in %d file%s\n",
		       (unsigned long long)counts.passed, (unsigned long long)counts.failed,
		       (unsigned long long)counts.skipped, argc - optind,
		       argc - optind == 1 ? "" : "s");
		if (counts.failed)
			return KBPROF_EXIT_FAIL;
	}
	return KBPROF_EXIT_OK;
}
