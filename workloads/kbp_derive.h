/* kbp_derive: cross-benchmark figures of the kb_persistence suite (scaling
 * fits, the seed's hypothesis checked) as the "derived" object of
 * docs/bench-json.md. */
#ifndef KBP_DERIVE_H
#define KBP_DERIVE_H

#include <jansson.h>
#include <stdint.h>

#include "workloads/bench.h"

/* A new reference, or NULL if memory runs out. */
json_t *kbp_derive(const struct bench_results *res);

/* Generator size of the "1 GB" KB: the smallest multiple of 100,000 whose
 * source is at least 1 GiB (7,600,000: 30,400,000 rules, 1,084,689,055 bytes). */
uint64_t kbp_gigabyte_n(void);

#endif
