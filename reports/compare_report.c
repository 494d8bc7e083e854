/* compare_report: text, markdown and JSON renderings of a comparison
 * (see compare_report.h). Owns nothing beyond each call. */
#include "reports/compare_report.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/units.h"

int compare_format_parse(const char *name, enum compare_format *out)
{
	if (strcmp(name, "text") == 0)
		*out = COMPARE_FORMAT_TEXT;
	else if (strcmp(name, "markdown") == 0 || strcmp(name, "md") == 0)
		*out = COMPARE_FORMAT_MARKDOWN;
	else if (strcmp(name, "json") == 0)
		*out = COMPARE_FORMAT_JSON;
	else
		return -1;
	return 0;
}

/* Signed percent change of a ratio: 1.203 -> "+20.3%". */
static void pct(double ratio, char *out, size_t size)
{
	if (isnan(ratio))
		snprintf(out, size, "n/a");
	else
		snprintf(out, size, "%+.1f%%", 100 * (ratio - 1));
}

static void interval(const struct compare_row *r, const char *sep, char *out, size_t size)
{
	if (isnan(r->ratio.lo)) {
		snprintf(out, size, "n/a");
		return;
	}
	char lo[32], hi[32];
	pct(r->ratio.lo, lo, sizeof lo);
	pct(r->ratio.hi, hi, sizeof hi);
	snprintf(out, size, "%s%s%s", lo, sep, hi);
}

static void floor_text(const struct compare_row *r, char *out, size_t size)
{
	switch (r->floor_source) {
	case COMPARE_FLOOR_RUNS:
		snprintf(out, size, "%.1f%% (%zu runs)", 100 * r->floor, r->floor_runs);
		break;
	case COMPARE_FLOOR_WITHIN:
		snprintf(out, size, "%.1f%% (within)", 100 * r->floor);
		break;
	default:
		snprintf(out, size, "n/a");
	}
}

static void row_name(const struct compare_result *res, const struct compare_row *r, char *out,
		     size_t size, int all_metrics)
{
	(void)res;
	if (all_metrics && r->metric[0])
		snprintf(out, size, "%s/%s", r->bench, r->metric);
	else
		snprintf(out, size, "%s", r->bench);
}

/* Rows show "bench/metric" when some row is not a benchmark's headline. */
static int shows_metrics(const struct compare_result *res, const struct benchfile *now)
{
	for (size_t i = 0; i < res->n; i++) {
		const struct benchfile_bench *b = benchfile_find(now, res->rows[i].bench);
		if (b && b->n_metrics && strcmp(b->metrics[0].name, res->rows[i].metric) != 0)
			return 1;
	}
	return 0;
}

static void summary_line(const struct compare_result *res, struct kb_buf *out)
{
	static const enum compare_verdict order[] = {COMPARE_REGRESSED, COMPARE_IMPROVED,
						     COMPARE_UNCHANGED, COMPARE_NOISY,
						     COMPARE_NOT_COMPARED};
	int first = 1;
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		size_t c = res->counts[order[i]];
		if (!c && order[i] != COMPARE_REGRESSED)
			continue;
		kb_buf_printf(out, "%s%zu %s", first ? "" : ", ", c,
			      compare_verdict_name(order[i]));
		first = 0;
	}
}

static void margin_line(const struct compare_result *res, struct kb_buf *out)
{
	if (res->cpu_time)
		kb_buf_puts(out, "times compared by CPU time (--cpu-time); ");
	if (res->quantile != 0.5)
		kb_buf_printf(out, "compared: the %gth percentile, not the median (--quantile); ",
			      100 * res->quantile);
	if (res->n_new_runs)
		kb_buf_printf(out, "NEW pooled with %zu further run%s of the new build; ",
			      res->n_new_runs, res->n_new_runs == 1 ? "" : "s");
	kb_buf_printf(out, "threshold %.1f%%; noise floor ", 100 * res->threshold);
	if (res->n_noise)
		kb_buf_printf(out, "from BASE and %zu noise run%s of the base build", res->n_noise,
			      res->n_noise == 1 ? "" : "s");
	else
		kb_buf_puts(out, "from the within-run dispersion (no --noise runs given)");
}

static void render_text(const struct compare_result *res, const struct benchfile *base,
			const struct benchfile *now, struct kb_buf *out)
{
	int metrics = shows_metrics(res, now);
	kb_buf_printf(out, "BASE %s (commit %s)\nNEW  %s (commit %s)\n", base->path,
		      base->commit[0] ? base->commit : "?", now->path,
		      now->commit[0] ? now->commit : "?");
	margin_line(res, out);
	kb_buf_puts(out, "\n\n");
	size_t wname = strlen("benchmark");
	for (size_t i = 0; i < res->n; i++) {
		char name[256];
		row_name(res, &res->rows[i], name, sizeof name, metrics);
		if (strlen(name) > wname)
			wname = strlen(name);
	}
	kb_buf_printf(out, "%-*s %10s %10s %8s %-17s %-17s %s\n", (int)wname, "benchmark", "base",
		      "new", "change", "95% interval", "noise floor", "verdict");
	for (size_t i = 0; i < res->n; i++) {
		const struct compare_row *r = &res->rows[i];
		char name[256], b[32], n[32], ch[32], ci[48], fl[48];
		row_name(res, r, name, sizeof name, metrics);
		units_format(r->base_median, r->unit, b, sizeof b);
		units_format(r->new_median, r->unit, n, sizeof n);
		pct(r->ratio.value, ch, sizeof ch);
		interval(r, " .. ", ci, sizeof ci);
		floor_text(r, fl, sizeof fl);
		/* units_format may emit "µ" (two bytes, one column). */
		int pad_b = 10 + (strstr(b, "\xc2\xb5") ? 1 : 0);
		int pad_n = 10 + (strstr(n, "\xc2\xb5") ? 1 : 0);
		kb_buf_printf(out, "%-*s %*s %*s %8s %-17s %-17s %s\n", (int)wname, name, pad_b, b,
			      pad_n, n, ch, ci, fl, compare_verdict_name(r->verdict));
	}
	kb_buf_puts(out, "\n");
	summary_line(res, out);
	kb_buf_puts(out, "\n");
	for (size_t i = 0; i < res->n; i++) {
		const struct compare_row *r = &res->rows[i];
		if (r->verdict == COMPARE_NOT_COMPARED || r->verdict == COMPARE_NOISY) {
			char name[256];
			row_name(res, r, name, sizeof name, metrics);
			kb_buf_printf(out, "  %s: %s\n", name, r->note);
		}
	}
}

/* Markdown table cells must not contain '|' or newlines. */
static void md_cell(struct kb_buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			kb_buf_puts(out, "\\|");
		else if (*s == '\n' || *s == '\r')
			kb_buf_putc(out, ' ');
		else
			kb_buf_putc(out, *s);
	}
}

static void render_markdown(const struct compare_result *res, const struct benchfile *base,
			    const struct benchfile *now, struct kb_buf *out)
{
	int metrics = shows_metrics(res, now);
	kb_buf_puts(out, "### kbprof compare: ");
	summary_line(res, out);
	kb_buf_puts(out, "\n\nBASE `");
	md_cell(out, base->path);
	kb_buf_printf(out, "` (commit `%s`) \xe2\x86\x92 NEW `",
		      base->commit[0] ? base->commit : "?");
	md_cell(out, now->path);
	kb_buf_printf(out, "` (commit `%s`); ", now->commit[0] ? now->commit : "?");
	margin_line(res, out);
	kb_buf_puts(out, ".\n\n| benchmark | base | new | change | 95% interval | noise floor | "
			 "verdict |\n|---|---:|---:|---:|---|---:|---|\n");
	for (size_t i = 0; i < res->n; i++) {
		const struct compare_row *r = &res->rows[i];
		char name[256], b[32], n[32], ch[32], ci[48], fl[48];
		row_name(res, r, name, sizeof name, metrics);
		units_format(r->base_median, r->unit, b, sizeof b);
		units_format(r->new_median, r->unit, n, sizeof n);
		pct(r->ratio.value, ch, sizeof ch);
		interval(r, " \xe2\x80\xa6 ", ci, sizeof ci);
		floor_text(r, fl, sizeof fl);
		kb_buf_puts(out, "| `");
		md_cell(out, name);
		kb_buf_printf(out, "` | %s | %s | %s | %s | %s | ", b, n, ch, ci, fl);
		int strong = r->verdict == COMPARE_REGRESSED || r->verdict == COMPARE_IMPROVED;
		kb_buf_printf(out, "%s%s%s", strong ? "**" : "", compare_verdict_name(r->verdict),
			      strong ? "**" : "");
		if (r->verdict == COMPARE_NOT_COMPARED || r->verdict == COMPARE_NOISY) {
			kb_buf_puts(out, ": ");
			md_cell(out, r->note);
		}
		kb_buf_puts(out, " |\n");
	}
	kb_buf_puts(
	    out,
	    "\n<details><summary>How the verdicts are decided</summary>\n\n"
	    "Each row compares the medians (or, with --quantile, that percentile) of the raw "
	    "samples: *change* is NEW/BASE - 1, with a "
	    "95% percentile-bootstrap interval. The *margin* is the larger of the threshold and "
	    "the noise floor (how far medians move between runs of the same build). "
	    "**regressed**: slower by more than the margin, and the interval excludes no change (a "
	    "ratio of 1); "
	    "**improved**: the same, faster; **unchanged**: within the margin (without noise runs, "
	    "the interval must also rule out a change of twice the margin); otherwise **too noisy "
	    "to say**. "
	    "See docs/kbprof-compare.md.\n\n</details>\n");
}

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *run_json(const struct benchfile *bf)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b}", "path", bf->path, "commit", bf->commit,
			 "version", bf->version, "timestamp", bf->timestamp, "quick", bf->quick);
}

static int render_json(const struct compare_result *res, const struct benchfile *base,
		       const struct benchfile *now, struct kb_buf *out, struct kb_error *err)
{
	json_t *counts = json_object();
	for (int v = 0; v < COMPARE_N_VERDICTS; v++)
		json_object_set_new(counts, compare_verdict_id((enum compare_verdict)v),
				    json_integer((json_int_t)res->counts[v]));
	json_t *rows = json_array();
	for (size_t i = 0; i < res->n; i++) {
		const struct compare_row *r = &res->rows[i];
		json_t *ci = isfinite(r->ratio.lo) ? json_pack("[f, f]", r->ratio.lo, r->ratio.hi)
						   : json_null();
		const char *src = r->floor_source == COMPARE_FLOOR_RUNS     ? "runs"
				  : r->floor_source == COMPARE_FLOOR_WITHIN ? "within"
									    : NULL;
		json_t *row = json_pack(
		    "{s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:s, "
		    "s:s}",
		    "benchmark", r->bench, "metric", r->metric, "unit", r->unit, "n_base",
		    (json_int_t)r->n_base, "n_new", (json_int_t)r->n_new, "base_median",
		    num_or_null(r->base_median), "new_median", num_or_null(r->new_median), "ratio",
		    num_or_null(r->ratio.value), "ratio_ci95", ci, "change_pct",
		    num_or_null(100 * (r->ratio.value - 1)), "noise_floor", num_or_null(r->floor),
		    "noise_floor_source", src ? json_string(src) : json_null(), "noise_floor_runs",
		    (json_int_t)r->floor_runs, "margin", num_or_null(r->margin), "verdict",
		    compare_verdict_id(r->verdict), "note", r->note);
		if (!row || json_array_append_new(rows, row)) {
			json_decref(rows);
			json_decref(counts);
			return kb_error_set(err, "compare: cannot build the JSON (out of memory)");
		}
	}
	json_t *doc = json_pack("{s:s, s:i, s:o, s:o, s:f, s:I, s:s, s:f, s:o, s:o}", "schema",
				"kbprof-compare", "schema_version", 1, "base", run_json(base),
				"new", run_json(now), "threshold", res->threshold, "noise_runs",
				(json_int_t)res->n_noise, "time", res->cpu_time ? "cpu" : "wall",
				"quantile", res->quantile, "counts", counts, "results", rows);
	json_object_set_new(doc, "new_runs", json_integer((json_int_t)res->n_new_runs));
	char *text =
	    doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12))
		: NULL;
	json_decref(doc);
	if (!text)
		return kb_error_set(err, "compare: cannot build the JSON (out of memory)");
	kb_buf_puts(out, text);
	kb_buf_putc(out, '\n');
	free(text);
	return 0;
}

int compare_report_render(const struct compare_result *res, const struct benchfile *base,
			  const struct benchfile *now, enum compare_format fmt, struct kb_buf *out,
			  struct kb_error *err)
{
	switch (fmt) {
	case COMPARE_FORMAT_TEXT:
		render_text(res, base, now, out);
		break;
	case COMPARE_FORMAT_MARKDOWN:
		render_markdown(res, base, now, out);
		break;
	case COMPARE_FORMAT_JSON:
		if (render_json(res, base, now, out, err))
			return -1;
		break;
	}
	if (out->oom)
		return kb_error_set(err, "compare: out of memory");
	return 0;
}
