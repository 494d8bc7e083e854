/* The command table: one row per subcommand, in the order `kbprof --help`
 * lists them. Add a row here and a cmd_<name>.c beside it. */
#include "cli/builtin.h"

#include <stddef.h>

const struct kbprof_cmd kbprof_commands[] = {
    {"bench", cmd_bench, "run the kb_persistence benchmarks; write JSON and the baseline document",
     cmd_bench_usage},
    {"gen", cmd_gen, "write a generated MeTTa knowledge base (MeTTaTron's generator)",
     cmd_gen_usage},
    {"kb", cmd_kb, "compile, dump and inspect MeTTa knowledge bases", cmd_kb_usage},
    {"metta", cmd_metta, "run a MeTTa program, or check its assertions (--check)", cmd_metta_usage},
    {"stat", cmd_stat, "count a command's events, whole and per probed region (like perf stat)",
     cmd_stat_usage},
    {"record", cmd_record, "sample a command into a recording (like perf record)",
     cmd_record_usage},
    {"dump", cmd_dump, "print every record of a recording", cmd_dump_usage},
    {"report", cmd_report, "hotspots or page faults of a recording (like perf report)",
     cmd_report_usage},
    {"help", cmd_help, "show help for kbprof or for one command", cmd_help_usage},
    {"version", cmd_version, "print the version and the commit it was built from",
     cmd_version_usage},
    {NULL, NULL, NULL, NULL},
};
