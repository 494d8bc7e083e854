/* suites: the registry of benchmark suites `kbprof bench --suite` knows. */
#include "workloads/bench.h"

#include <string.h>

extern const struct bench_suite bench_suite_kb_persistence;

const struct bench_suite *const bench_suites[] = {
    &bench_suite_kb_persistence,
    NULL,
};

const struct bench_suite *bench_suite_find(const char *name)
{
	for (size_t i = 0; bench_suites[i]; i++)
		if (strcmp(bench_suites[i]->name, name) == 0)
			return bench_suites[i];
	return NULL;
}
