/* bench_text: the short terminal summary `kbprof bench` prints after a run,
 * rendered from the kbprof-bench JSON document: one line per metric with its
 * median, mean and sample count, and the status of each benchmark. */
#include "reports/bench_text.h"

#include "reports/baseline_doc.h"

#include <math.h>
#include <string.h>

static void value(double v, const char *unit, char *buf, size_t size)
{
	if (strcmp(unit, "ns") == 0)
		doc_fmt_ns(v, buf, size);
	else if (strcmp(unit, "bytes") == 0)
		doc_fmt_bytes(v, buf, size);
	else if (strcmp(unit, "fraction") == 0 && isfinite(v))
		snprintf(buf, size, "%.1f%%", v * 100);
	else if (isfinite(v))
		snprintf(buf, size, "%.4g %s", v, unit);
	else
		snprintf(buf, size, "n/a");
}

void bench_text_summary(const json_t *doc, struct kb_buf *out)
{
	size_t i, j;
	const json_t *b, *m;
	kb_buf_printf(out, "%-28s %-22s %12s %12s %6s\n", "benchmark", "metric", "median", "mean",
		      "n");
	json_array_foreach(json_object_get(doc, "benchmarks"), i, b)
	{
		const char *name = json_string_value(json_object_get(b, "name"));
		const char *status = json_string_value(json_object_get(b, "status"));
		if (!name || !status)
			continue;
		if (strcmp(status, "ok") != 0) {
			const char *why = json_string_value(json_object_get(b, "error"));
			kb_buf_printf(out, "%-28s %s: %s\n", name,
				      strcmp(status, "skipped") == 0 ? "skipped" : "FAILED",
				      why ? why : "");
			continue;
		}
		json_array_foreach(json_object_get(b, "metrics"), j, m)
		{
			const json_t *s = json_object_get(m, "stats");
			const char *unit = json_string_value(json_object_get(m, "unit"));
			const char *mname = json_string_value(json_object_get(m, "name"));
			char med[32], mean[32];
			value(json_number_value(json_object_get(s, "median")), unit ? unit : "",
			      med, sizeof med);
			value(json_number_value(json_object_get(s, "mean")), unit ? unit : "", mean,
			      sizeof mean);
			kb_buf_printf(out, "%-28s %-22s %12s %12s %6lld\n", j == 0 ? name : "",
				      mname ? mname : "", med, mean,
				      (long long)json_integer_value(json_object_get(s, "n")));
		}
	}
}
