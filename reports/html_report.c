/* html_report: the self-contained HTML page (see html_report.h).
 * Owns nothing beyond each call. */
#include "reports/html_report.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/stats.h"
#include "reports/units.h"
#include "reports/xmlesc.h"

static void esc(struct kb_buf *b, const char *s)
{
	xml_escape(b, s ? s : "", SIZE_MAX);
}

#define ESC(b, s) esc((b), (s))

static const char css[] =
    "body{font-family:-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "margin:0 auto;max-width:1240px;padding:0 20px 40px;color:#222;background:#fff}"
    "h1{font-size:1.6em;margin:18px 0 4px}h2{font-size:1.25em;margin:28px 0 8px;"
    "border-bottom:1px solid #ddd;padding-bottom:4px}"
    ".meta{color:#555;font-size:.9em;margin:0 0 6px}"
    "nav a{margin-right:14px;font-size:.9em}"
    "table{border-collapse:collapse;font-size:.86em;margin:6px 0}"
    "th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.failed td{background:#fde8e8}tr.skipped td{color:#888}"
    ".absent{color:#888;font-style:italic}"
    "figure{margin:6px 0}figcaption{font-size:.85em;color:#444;margin-top:4px}"
    "svg text{font-family:inherit}";

static void num_cell(struct kb_buf *b, double v, const char *unit)
{
	char t[48];
	units_format(v, unit, t, sizeof t);
	kb_buf_puts(b, "<td class=\"num\">");
	ESC(b, t);
	kb_buf_puts(b, "</td>");
}

static void absent(struct kb_buf *b, const char *why)
{
	kb_buf_puts(b, "<p class=\"absent\">Not in this report: ");
	ESC(b, why);
	kb_buf_puts(b, ".</p>\n");
}

/* ---- benchmark table ---- */

static void bench_table(struct kb_buf *b, const struct benchfile *bf)
{
	kb_buf_puts(b, "<section id=\"benchmarks\"><h2>Benchmarks</h2>\n");
	if (!bf || bf->n_benches == 0) {
		absent(b, bf ? "the bench results hold no benchmark" : "no bench results given");
		kb_buf_puts(b, "</section>\n");
		return;
	}
	kb_buf_puts(b, "<p class=\"meta\">");
	ESC(b, bf->path);
	kb_buf_printf(b, "%s: medians with 95%% bootstrap intervals.</p>\n",
		      bf->quick ? " (--quick)" : "");
	kb_buf_puts(b,
		    ""
		    "<table id=\"bench-table\"><thead><tr><th>benchmark</th><th>group</th>"
		    "<th>KB</th><th>metric</th><th>n</th><th>median</th><th>95% interval</th>"
		    "<th>mean</th><th>stddev</th><th>min</th><th>max</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < bf->n_benches; i++) {
		const struct benchfile_bench *be = &bf->benches[i];
		int ok = strcmp(be->status, "ok") == 0;
		char kb[96] = "";
		if (be->kb_label && be->kb_rules >= 0)
			snprintf(kb, sizeof kb, "%s (%lld rules)", be->kb_label, be->kb_rules);
		if (!ok || be->n_metrics == 0) {
			kb_buf_printf(b, "<tr class=\"%s\"><td>", ok ? "ok" : be->status);
			ESC(b, be->name);
			kb_buf_puts(b, "</td><td>");
			ESC(b, be->group);
			kb_buf_puts(b, "</td><td>");
			ESC(b, kb);
			kb_buf_puts(b, "</td><td colspan=\"8\">");
			ESC(b, be->status);
			if (be->error) {
				kb_buf_puts(b, ": ");
				ESC(b, be->error);
			}
			kb_buf_puts(b, "</td></tr>\n");
			continue;
		}
		for (size_t k = 0; k < be->n_metrics; k++) {
			const struct benchfile_metric *m = &be->metrics[k];
			const struct benchfile_stats *s = &m->stats;
			kb_buf_puts(b, "<tr>");
			if (k == 0) {
				kb_buf_printf(b, "<td rowspan=\"%zu\">", be->n_metrics);
				ESC(b, be->name);
				kb_buf_printf(b, "</td><td rowspan=\"%zu\">", be->n_metrics);
				ESC(b, be->group);
				kb_buf_printf(b, "</td><td rowspan=\"%zu\">", be->n_metrics);
				ESC(b, kb);
				kb_buf_puts(b, "</td>");
			}
			kb_buf_puts(b, "<td title=\"");
			ESC(b, m->summary);
			kb_buf_puts(b, "\">");
			ESC(b, m->name);
			if (!m->have_stats) {
				kb_buf_puts(
				    b, "</td><td colspan=\"7\" class=\"absent\">no samples</td>"
				       "</tr>\n");
				continue;
			}
			kb_buf_printf(b, "</td><td class=\"num\">%zu</td>", s->n);
			num_cell(b, s->median, m->unit);
			char lo[48], hi[48];
			units_format(s->median_lo, m->unit, lo, sizeof lo);
			units_format(s->median_hi, m->unit, hi, sizeof hi);
			kb_buf_puts(b, "<td class=\"num\">");
			ESC(b, lo);
			kb_buf_puts(b, " \xe2\x80\x93 ");
			ESC(b, hi);
			kb_buf_puts(b, "</td>");
			num_cell(b, s->mean, m->unit);
			num_cell(b, s->stddev, m->unit);
			num_cell(b, s->min, m->unit);
			num_cell(b, s->max, m->unit);
			kb_buf_puts(b, "</tr>\n");
		}
	}
	kb_buf_puts(b, "</tbody></table></section>\n");
}

/* ---- scaling chart ---- */

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
				      "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

static void count_label(double v, char *out, size_t size)
{
	if (v >= 1e9)
		snprintf(out, size, "%gG", v / 1e9);
	else if (v >= 1e6)
		snprintf(out, size, "%gM", v / 1e6);
	else if (v >= 1e3)
		snprintf(out, size, "%gK", v / 1e3);
	else
		snprintf(out, size, "%g", v);
}

static void scaling_chart(struct kb_buf *b, const struct benchfile *bf)
{
	kb_buf_puts(b, "<section id=\"scaling\"><h2>Scaling</h2>\n");
	double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
	size_t plotted = 0;
	for (size_t i = 0; bf && i < bf->n_scaling; i++) {
		for (size_t k = 0; k < bf->scaling[i].n_points; k++) {
			const struct benchfile_scaling_point *p = &bf->scaling[i].points[k];
			x0 = fmin(x0, p->rules), x1 = fmax(x1, p->rules);
			y0 = fmin(y0, p->median_ns), y1 = fmax(y1, p->median_ns);
			plotted++;
		}
	}
	if (!plotted) {
		absent(b, bf ? "the bench results have no scaling series (derived.scaling)"
			     : "no bench results given");
		kb_buf_puts(b, "</section>\n");
		return;
	}
	/* Whole decades on both axes. */
	double lx0 = floor(log10(x0)), lx1 = ceil(log10(x1));
	double ly0 = floor(log10(y0)), ly1 = ceil(log10(y1));
	if (lx1 <= lx0)
		lx1 = lx0 + 1;
	if (ly1 <= ly0)
		ly1 = ly0 + 1;
	const double W = 780, H = 420, L = 80, R = 250, T = 16, B = 48;
	double pw = W - L - R, ph = H - T - B;
#define SX(x) (L + (log10(x) - lx0) / (lx1 - lx0) * pw)
#define SY(y) (T + ph - (log10(y) - ly0) / (ly1 - ly0) * ph)
	kb_buf_printf(b,
		      "<figure><svg id=\"scaling-chart\" xmlns=\"http://www.w3.org/2000/svg\" "
		      "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-size=\"12\">\n"
		      "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fcfcfc\" "
		      "stroke=\"#bbb\"/>\n",
		      W, H, W, H, L, T, pw, ph);
	for (double d = lx0; d <= lx1 + 1e-9; d++) {
		double x = L + (d - lx0) / (lx1 - lx0) * pw;
		char t[32];
		count_label(pow(10, d), t, sizeof t);
		kb_buf_printf(
		    b,
		    "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#e3e3e3\"/>"
		    "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
		    x, T, x, T + ph, x, T + ph + 16, t);
	}
	for (double d = ly0; d <= ly1 + 1e-9; d++) {
		double y = T + ph - (d - ly0) / (ly1 - ly0) * ph;
		char t[48];
		units_format(pow(10, d), "ns", t, sizeof t);
		kb_buf_printf(
		    b,
		    "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>"
		    "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">",
		    L, y, L + pw, y, L - 6, y + 4);
		ESC(b, t);
		kb_buf_puts(b, "</text>\n");
	}
	kb_buf_printf(
	    b,
	    "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">rules in the KB (log)</text>"
	    "<text x=\"14\" y=\"%.0f\" text-anchor=\"middle\" transform=\"rotate(-90 14 "
	    "%.0f)\">median time (log)</text>\n",
	    L + pw / 2, H - 8, T + ph / 2, T + ph / 2);
	size_t legend = 0;
	for (size_t i = 0; i < bf->n_scaling; i++) {
		const struct benchfile_scaling *s = &bf->scaling[i];
		if (!s->n_points)
			continue;
		const char *col = palette[legend % (sizeof palette / sizeof palette[0])];
		kb_buf_printf(b, "<g class=\"series\" data-series=\"");
		ESC(b, s->series);
		kb_buf_puts(b, "\">\n");
		if (s->have_fit) {
			/* The fitted power law across the series' own range. */
			double fx0 = INFINITY, fx1 = -INFINITY;
			for (size_t k = 0; k < s->n_points; k++)
				fx0 = fmin(fx0, s->points[k].rules),
				fx1 = fmax(fx1, s->points[k].rules);
			struct stats_fit fit = {.n = s->n_points,
						.exponent = s->exponent,
						.coefficient = s->coefficient,
						.r2 = s->r2};
			double fy0 = stats_fit_predict(&fit, fx0),
			       fy1 = stats_fit_predict(&fit, fx1);
			if (fy0 > 0 && fy1 > 0 && isfinite(fy0) && isfinite(fy1))
				kb_buf_printf(
				    b,
				    "<line class=\"fit\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
				    "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\" "
				    "stroke-dasharray=\"5 3\"/>\n",
				    SX(fx0), SY(fy0), SX(fx1), SY(fy1), col);
		}
		for (size_t k = 0; k < s->n_points; k++) {
			const struct benchfile_scaling_point *p = &s->points[k];
			char t[48];
			units_format(p->median_ns, "ns", t, sizeof t);
			kb_buf_printf(b,
				      "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
				      "fill=\"%s\"><title>",
				      SX(p->rules), SY(p->median_ns), col);
			ESC(b, p->benchmark);
			kb_buf_printf(b, " (%s, %.0f rules): ", p->label, p->rules);
			ESC(b, t);
			kb_buf_puts(b, "</title></circle>\n");
		}
		double ly = T + 14 + (double)legend * 36;
		kb_buf_printf(b,
			      "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
			      "<text x=\"%.0f\" y=\"%.0f\">",
			      L + pw + 16, ly - 10, col, L + pw + 34, ly);
		ESC(b, s->series);
		kb_buf_printf(b,
			      "</text><text x=\"%.0f\" y=\"%.0f\" fill=\"#555\" font-size=\"11\">",
			      L + pw + 34, ly + 14);
		if (s->have_fit)
			kb_buf_printf(b, "t \xe2\x88\x9d rules^%.3f, R\xc2\xb2 %.4f", s->exponent,
				      s->r2);
		else
			kb_buf_puts(b, "no fit (one size)");
		kb_buf_puts(b, "</text></g>\n");
		legend++;
	}
#undef SX
#undef SY
	kb_buf_puts(b, "</svg><figcaption>Median time against KB size, both axes logarithmic; "
		       "dashed: the least-squares power-law fit of each series (from the bench "
		       "results).</figcaption></figure></section>\n");
}

/* ---- hotspots ---- */

static void hotspot_table(struct kb_buf *b, const struct html_input *in)
{
	kb_buf_puts(b, "<section id=\"hotspots\"><h2>Hotspots</h2>\n");
	const struct benchfile *bf = in->bench;
	if (in->hotspots && in->hotspots->n) {
		kb_buf_puts(b, "<p class=\"meta\">");
		ESC(b, in->hotspots->source);
		kb_buf_puts(b, "</p>\n<table id=\"hotspot-table\"><thead><tr><th>#</th>"
			       "<th>function</th><th>module</th><th>self</th><th>self samples</th>"
			       "<th>total</th><th>total samples</th></tr></thead><tbody>\n");
		for (size_t i = 0; i < in->hotspots->n; i++) {
			const struct html_hotspot *h = &in->hotspots->rows[i];
			const char *mod = h->module ? strrchr(h->module, '/') : NULL;
			kb_buf_printf(b, "<tr><td class=\"num\">%zu</td><td>", i + 1);
			ESC(b, h->function);
			kb_buf_puts(b, "</td><td>");
			ESC(b, mod ? mod + 1 : h->module);
			kb_buf_printf(b,
				      "</td><td class=\"num\">%.2f%%</td><td class=\"num\">%" PRIu64
				      "</td><td class=\"num\">%.2f%%</td><td class=\"num\">%" PRIu64
				      "</td></tr>\n",
				      h->self_pct, h->self_samples, h->total_pct, h->total_samples);
		}
		kb_buf_puts(b, "</tbody></table></section>\n");
		return;
	}
	if (bf && bf->n_hotspots) {
		kb_buf_puts(b, "<p class=\"meta\">From the bench run's profiling pass");
		if (bf->profile_event[0]) {
			kb_buf_puts(b, " (event ");
			ESC(b, bf->profile_event);
			kb_buf_puts(b, ")");
		}
		kb_buf_puts(b, ".</p>\n<table id=\"hotspot-table\"><thead><tr><th>#</th>"
			       "<th>function</th><th>module</th><th>self</th><th>self samples</th>"
			       "<th>inclusive</th></tr></thead><tbody>\n");
		for (size_t i = 0; i < bf->n_hotspots; i++) {
			const struct benchfile_hotspot *h = &bf->hotspots[i];
			const char *mod = strrchr(h->module, '/');
			kb_buf_printf(b, "<tr><td class=\"num\">%zu</td><td>", i + 1);
			ESC(b, h->function);
			kb_buf_puts(b, "</td><td>");
			ESC(b, mod ? mod + 1 : h->module);
			kb_buf_printf(
			    b,
			    "</td><td class=\"num\">%.2f%%</td><td class=\"num\">%.0f</td>"
			    "<td class=\"num\">%.2f%%</td></tr>\n",
			    h->self_pct, h->self_samples, h->inclusive_pct);
		}
		kb_buf_puts(b, "</tbody></table></section>\n");
		return;
	}
	absent(b, in->absent_reason
		      ? in->absent_reason
		      : (bf && bf->profile_reason[0] ? bf->profile_reason : "no recording given"));
	kb_buf_puts(b, "</section>\n");
}

/* ---- flame graph ---- */

static int flame_section(struct kb_buf *b, const struct html_input *in, struct kb_error *err)
{
	kb_buf_puts(b, "<section id=\"flame\"><h2>Flame graph</h2>\n");
	if (!in->flame || in->flame->nodes[0].total == 0) {
		absent(b, in->absent_reason ? in->absent_reason : "no stacks given");
		kb_buf_puts(b, "</section>\n");
		return 0;
	}
	kb_buf_puts(b, "<p class=\"meta\">");
	ESC(b, in->flame_source);
	kb_buf_puts(b, ". Hover for details; click a frame to zoom; 'Search' highlights frames "
		       "matching a regular expression.</p>\n<figure>");
	struct fg_opts o = {.id = "flamegraph", .embed = 1, .width = 1200, .title = "CPU samples"};
	if (fg_render_svg(in->flame, &o, b, err))
		return -1;
	kb_buf_puts(b, "</figure></section>\n");
	return 0;
}

/* ---- page-fault timeline ---- */

static void fault_timeline(struct kb_buf *b, const struct html_input *in)
{
	kb_buf_puts(b, "<section id=\"faults\"><h2>Page faults over time, per region</h2>\n");
	const struct html_faults *f = in->faults;
	if (!f || f->n == 0 || f->n_bins == 0) {
		absent(b, in->absent_reason ? in->absent_reason
					    : "no recording with page-fault samples given "
					      "(kbprof record --faults)");
		kb_buf_puts(b, "</section>\n");
		return;
	}
	kb_buf_puts(b, "<p class=\"meta\">");
	ESC(b, f->source);
	kb_buf_puts(b, "; each row scaled to its own peak.</p>\n");
	const double W = 1000, L = 220, R = 40, row = 54, T = 8, B = 40;
	double pw = W - L - R, H = T + (double)f->n * row + B;
	double bw = pw / (double)f->n_bins;
	kb_buf_printf(
	    b,
	    "<figure><svg id=\"fault-timeline\" xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-size=\"12\">\n",
	    W, H, W, H);
	for (size_t i = 0; i < f->n; i++) {
		const struct html_fault_series *s = &f->series[i];
		double y = T + (double)i * row;
		uint64_t peak = 0;
		for (size_t k = 0; k < f->n_bins; k++)
			if (s->bins[k] > peak)
				peak = s->bins[k];
		const char *col = palette[i % (sizeof palette / sizeof palette[0])];
		kb_buf_puts(b, "<g class=\"fault-row\" data-region=\"");
		ESC(b, s->region ? s->region : "(no region)");
		kb_buf_printf(b,
			      "\"><rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" "
			      "fill=\"%s\" stroke=\"#ddd\"/>"
			      "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">",
			      L, y + 2, pw, row - 6, i % 2 ? "#fafafa" : "#f4f4f4", L - 8, y + 22);
		/* Long paths keep their tail, which names the region. */
		const char *label = s->region ? s->region : "(no region)";
		size_t chars = xml_text_chars(label);
		if (chars > 32) {
			kb_buf_puts(b, "\xe2\x80\xa6");
			for (size_t skip = chars - 31; skip > 0 && *label; skip--) {
				label++;
				while ((*label & 0xC0) == 0x80)
					label++;
			}
		}
		ESC(b, label);
		kb_buf_printf(
		    b,
		    "</text><text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\" fill=\"#666\" "
		    "font-size=\"11\">%" PRIu64 " faults, peak %" PRIu64 "/bin</text>\n",
		    L - 8, y + 38, s->total, peak);
		for (size_t k = 0; k < f->n_bins && peak; k++) {
			if (!s->bins[k])
				continue;
			double h = (row - 10) * (double)s->bins[k] / (double)peak;
			double from = (double)f->span_ns * (double)k / (double)f->n_bins / 1e6;
			double to = (double)f->span_ns * (double)(k + 1) / (double)f->n_bins / 1e6;
			kb_buf_printf(b,
				      "<rect class=\"bin\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
				      "height=\"%.2f\" fill=\"%s\"><title>%" PRIu64
				      " faults, %.1f\xe2\x80\x93%.1f ms</title></rect>\n",
				      L + (double)k * bw + 0.5, y + row - 4 - h,
				      bw > 2 ? bw - 1 : bw, h, col, s->bins[k], from, to);
		}
		kb_buf_puts(b, "</g>\n");
	}
	double ay = T + (double)f->n * row;
	for (int t = 0; t <= 5; t++) {
		double x = L + pw * t / 5;
		kb_buf_printf(
		    b,
		    "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#999\"/>"
		    "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.1f ms</text>\n",
		    x, ay, x, ay + 5, x, ay + 18, (double)f->span_ns * t / 5 / 1e6);
	}
	kb_buf_printf(b,
		      "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#555\">time since "
		      "the recording started</text>\n</svg></figure></section>\n",
		      L + pw / 2, H - 4);
}

/* ---- environment ---- */

static void env_rows(struct kb_buf *b, const char *prefix, json_t *v)
{
	if (json_is_object(v)) {
		const char *key;
		json_t *x;
		json_object_foreach(v, key, x)
		{
			char path[256];
			snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", key);
			env_rows(b, path, x);
		}
		return;
	}
	kb_buf_puts(b, "<tr><th>");
	ESC(b, prefix);
	kb_buf_puts(b, "</th><td>");
	if (json_is_string(v)) {
		ESC(b, json_string_value(v));
	} else {
		char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		ESC(b, t ? t : "?");
		free(t);
	}
	kb_buf_puts(b, "</td></tr>\n");
}

static void environment(struct kb_buf *b, const struct html_input *in)
{
	const struct benchfile *bf = in->bench;
	kb_buf_puts(b, "<section id=\"environment\"><h2>Environment</h2>\n");
	if (!bf && in->n_env == 0) {
		absent(b, "no bench results or recording given");
		kb_buf_puts(b, "</section>\n");
		return;
	}
	kb_buf_puts(b, "<table id=\"env-table\"><tbody>\n");
	for (size_t i = 0; i < in->n_env; i++) {
		kb_buf_puts(b, "<tr class=\"recording\"><th>");
		ESC(b, in->env[i].key);
		kb_buf_puts(b, "</th><td>");
		ESC(b, in->env[i].value);
		kb_buf_puts(b, "</td></tr>\n");
	}
	if (!bf) {
		kb_buf_puts(b, "</tbody></table></section>\n");
		return;
	}
	env_rows(b, "kbprof", json_object_get(bf->doc, "kbprof"));
	env_rows(b, "", json_object_get(bf->doc, "environment"));
	if (bf->command[0]) {
		kb_buf_puts(b, "<tr><th>command</th><td><code>");
		ESC(b, bf->command);
		kb_buf_puts(b, "</code></td></tr>\n");
	}
	kb_buf_puts(b, "</tbody></table></section>\n");
}

int html_report_render(const struct html_input *in, struct kb_buf *out, struct kb_error *err)
{
	const char *title = in->title ? in->title : "kbprof report";
	const struct benchfile *bf = in->bench;
	kb_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			 "<meta name=\"viewport\" content=\"width=device-width\">"
			 "<meta name=\"generator\" content=\"kbprof\"><title>");
	ESC(out, title);
	kb_buf_printf(out, "</title><style>%s</style></head>\n<body>\n<header><h1>", css);
	ESC(out, title);
	kb_buf_puts(out, "</h1>");
	if (bf) {
		const char *parts[][2] = {{"kbprof ", bf->version},
					  {"commit ", bf->commit},
					  {"build ", bf->build_type},
					  {"run ", bf->timestamp},
					  {"suite ", bf->suite}};
		int first = 1;
		kb_buf_puts(out, "<p class=\"meta\">");
		for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
			if (!parts[i][1][0])
				continue;
			kb_buf_puts(out, first ? "" : "; ");
			kb_buf_puts(out, parts[i][0]);
			ESC(out, parts[i][1]);
			first = 0;
		}
		kb_buf_puts(out, "</p>");
	}
	kb_buf_puts(out, "<nav><a href=\"#benchmarks\">Benchmarks</a><a href=\"#scaling\">Scaling"
			 "</a><a href=\"#hotspots\">Hotspots</a><a href=\"#flame\">Flame graph</a>"
			 "<a href=\"#faults\">Page faults</a><a href=\"#environment\">Environment"
			 "</a></nav></header>\n<main>\n");
	bench_table(out, bf);
	scaling_chart(out, bf);
	hotspot_table(out, in);
	if (flame_section(out, in, err))
		return -1;
	fault_timeline(out, in);
	environment(out, in);
	kb_buf_puts(out, "</main>\n</body></html>\n");
	if (out->oom)
		return kb_error_set(err, "html: out of memory");
	return 0;
}
