/* kbgen: the knowledge-base generator of the seed's kb_persistence suite.
 *
 * Writes exactly what MeTTaTron's generate_metta_kb(n) writes, byte for
 * byte: a type header, then four blocks (mathematical, logical, list and
 * pattern-matching rules), each with four rules for every i in 0..n/4.
 * n = 10,000 gives 1,291,555 bytes and 40,000 rules; 100,000 gives
 * 13,389,055; 1,000,000 gives 138,639,055 (4,000,000 rules).
 * MeTTaTron labels a KB by n ("10K rules"); kbgen_rule_count() is the real
 * number of `=` rules written. */
#ifndef KBGEN_H
#define KBGEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Number of `(= ...)` rules generate_metta_kb(n) writes: 16 * (n / 4). */
uint64_t kbgen_rule_count(uint64_t n);

/* Exact size in bytes of the generated text, without generating it. */
uint64_t kbgen_size(uint64_t n);

/* Writes the KB to `out`. Returns 0, or -1 with errno set on a write error. */
int kbgen_write(FILE *out, uint64_t n);

/* Generates the KB into a malloc'd buffer (NUL-terminated; the caller frees
 * it). Returns NULL with errno set if memory runs out. */
char *kbgen_generate(uint64_t n, size_t *len);

#endif
