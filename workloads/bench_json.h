/* bench_json: benchmark results as the `kbprof-bench` JSON document
 * (schema: docs/bench-json.md). Builds the jansson tree the --json file and
 * the --doc renderer both use, so the two carry the same numbers.
 *
 * Ownership: every function returning json_t* returns a new reference the
 * caller releases with json_decref(); arguments are borrowed unless the
 * name says "steal". */
#ifndef BENCH_JSON_H
#define BENCH_JSON_H

#include <jansson.h>

#include "workloads/bench.h"
#include "workloads/sysinfo.h"

#define BENCH_JSON_SCHEMA "kbprof-bench"
#define BENCH_JSON_SCHEMA_VERSION 1

/* A number, or JSON null when v is NaN or infinite. */
json_t *bench_json_real(double v);

json_t *bench_json_environment(const struct sysinfo *si);
json_t *bench_json_kbprof(const struct sysinfo *si);
json_t *bench_json_result(const struct bench_result *r);

/* The whole document. `derived_steal` and `profile_steal` (may be NULL:
 * an empty object / a "not measured" profile with `profile_reason`) are
 * taken over. Returns NULL if memory runs out. */
json_t *bench_json_document(const struct bench_results *res, const struct bench_opts *opts,
			    const struct sysinfo *si, const char *command, json_t *derived_steal,
			    json_t *profile_steal, const char *profile_reason);

/* Writes a document to a file (indented, keys in insertion order). */
int bench_json_write(const json_t *doc, const char *path, struct kb_error *err);

#endif
