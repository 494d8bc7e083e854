/* units: human-readable numbers for reports (module prefix units_):
 * times in ns shown as ns/us/ms/s, byte counts as B/KiB/MiB/GiB, anything
 * else as a number with its unit. Writes into caller-owned buffers. */
#ifndef KB_REPORTS_UNITS_H
#define KB_REPORTS_UNITS_H

#include <stddef.h>

/* Formats `value` measured in `unit` ("ns", "bytes", ...) into out, with
 * about three significant digits: "4.56 ms", "23.4 MiB", "0.973 fraction".
 * NaN gives "n/a". Returns out. */
char *units_format(double value, const char *unit, char *out, size_t size);

#endif
