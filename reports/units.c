/* units: see units.h. Owns nothing. */
#include "reports/units.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void three_digits(double v, const char *suffix, char *out, size_t size)
{
	double a = fabs(v);
	int decimals = a >= 100 || a == 0 ? 0 : a >= 10 ? 1 : 2;
	snprintf(out, size, "%.*f %s", decimals, v, suffix);
}

char *units_format(double value, const char *unit, char *out, size_t size)
{
	if (isnan(value)) {
		snprintf(out, size, "n/a");
		return out;
	}
	double a = fabs(value);
	if (strcmp(unit, "ns") == 0) {
		if (a < 1e3)
			three_digits(value, "ns", out, size);
		else if (a < 1e6)
			three_digits(value / 1e3, "\xc2\xb5s", out, size);
		else if (a < 1e9)
			three_digits(value / 1e6, "ms", out, size);
		else
			three_digits(value / 1e9, "s", out, size);
	} else if (strcmp(unit, "bytes") == 0) {
		static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
		size_t i = 0;
		double v = value;
		while (fabs(v) >= 1024 && i + 1 < sizeof names / sizeof names[0]) {
			v /= 1024;
			i++;
		}
		if (i == 0)
			snprintf(out, size, "%.0f B", v);
		else
			three_digits(v, names[i], out, size);
	} else {
		snprintf(out, size, "%.4g %s", value, unit);
	}
	return out;
}
