/* kbprof stat: counts a command's events, whole and per probed region.
 * Wiring: options, probes/stat.c to run and count, the recording reader to
 * decode the regions the command's probes wrote, and the text or JSON
 * report (to stderr, as perf stat does, or to -o FILE). */
#include "analyze/recording.h"
#include "cli/builtin.h"
#include "probes/stat.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char cmd_stat_usage[] =
    "usage: kbprof stat [-e EVENTS] [-r N] [--json] [-o FILE] [--] CMD [ARGS...]\n\n"
    "Runs CMD and counts its events, like perf stat: for the whole command (its\n"
    "threads and child processes included) and for each region its probes mark\n"
    "(KBPROF_REGION_BEGIN/END), with mean and standard deviation over N runs.\n"
    "Events the machine cannot count are listed with the reason. The exit status is\n"
    "the command's; 127 if it cannot be found.\n\n"
    "  -e, --events LIST  events, comma-separated, as perf or libpfm4 name them\n"
    "                     (default: " KBEV_DEFAULT_EVENTS ")\n"
    "  -r, --repeat N     run N times (default 1)\n"
    "  -j, --json         print JSON instead of text\n"
    "  -o, --output FILE  write the report to FILE instead of standard error\n"
    "      --no-regions   leave the command's region probes off (count it whole only)\n";

struct notes {
	char **text;
	size_t n;
};

static void notes_add(struct notes *ns, const char *text)
{
	for (size_t i = 0; i < ns->n; i++)
		if (strcmp(ns->text[i], text) == 0)
			return;
	char **p = realloc(ns->text, (ns->n + 1) * sizeof *p);
	if (!p)
		return;
	ns->text = p;
	if ((ns->text[ns->n] = strdup(text)))
		ns->n++;
}

static void notes_free(struct notes *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->text[i]);
	free(ns->text);
}

/* Decodes the side file of one run: region totals and the probes' notes. */
static int read_regions(void *ctx, struct kbstat *st, unsigned run, const char *path,
			struct kb_error *err)
{
	struct notes *ns = ctx;
	struct kbrec_reader *r;
	if (kbrec_reader_open(&r, path, err))
		return -1;
	struct kbrec_record rec;
	int rc;
	while ((rc = kbrec_reader_next(r, &rec, err)) == 1) {
		if (rec.type == KBREC_NOTE) {
			notes_add(ns, rec.note.text);
		} else if (rec.type == KBREC_REGION_STATS) {
			const struct kbrec_region_stats *s = &rec.region_stats;
			const char *names[256];
			uint64_t incl[256], excl[256], en[256], ru[256];
			for (uint32_t i = 0; i < s->ncounters; i++) {
				names[i] = s->counters[i].name;
				incl[i] = s->counters[i].incl;
				excl[i] = s->counters[i].excl;
				en[i] = s->counters[i].enabled;
				ru[i] = s->counters[i].running;
			}
			if (kbstat_add_region(st, run, s->path, s->calls, s->wall_incl_ns,
					      s->wall_excl_ns, s->ncounters, names, incl, excl, en,
					      ru)) {
				rc = kb_error_set(err, "out of memory");
				break;
			}
		}
	}
	if (rc == 0 && kbrec_reader_truncation(r))
		notes_add(ns, kbrec_reader_truncation(r));
	kbrec_reader_close(r);
	return rc < 0 ? -1 : 0;
}

static const char *status_tag(enum kbev_status s)
{
	switch (s) {
	case KBEV_NOT_SUPPORTED:
		return "<not supported>";
	case KBEV_NO_PERMISSION:
		return "<no permission>";
	case KBEV_NOT_COUNTED:
		return "<not counted>";
	case KBEV_FAILED:
		return "<failed>";
	default:
		return "";
	}
}

/* Per event over the completed runs: mean, stddev of the scaled count, and
 * the mean running fraction, over the runs that counted it. */
struct event_summary {
	size_t counted;
	double mean, stddev, fraction;
	enum kbev_status status;
	const char *reason, *note;
};

static void summarize_event(const struct kbstat *st, size_t e, struct event_summary *out)
{
	double *v = calloc(st->nruns ? st->nruns : 1, sizeof *v);
	double frac = 0;
	memset(out, 0, sizeof *out);
	if (!v)
		return;
	out->status = KBEV_OK;
	out->reason = out->note = "";
	for (unsigned r = 0; r < st->nruns; r++) {
		const struct kbev_result *res = &st->runs[r].result[e];
		if (res->note[0])
			out->note = res->note;
		if (res->status != KBEV_OK) {
			out->status = res->status;
			out->reason = res->reason;
			continue;
		}
		double f;
		v[out->counted++] = kbev_scale(res->value, res->enabled, res->running, &f);
		frac += f;
	}
	if (out->counted) {
		out->status = KBEV_OK;
		kbstat_mean_stddev(v, out->counted, 1, &out->mean, &out->stddev);
		out->fraction = frac / (double)out->counted;
	}
	free(v);
}

/* 1234567 -> "1,234,567" */
static void group_digits(char *out, size_t size, double v)
{
	char raw[64];
	snprintf(raw, sizeof raw, "%.0f", v);
	size_t len = strlen(raw), neg = raw[0] == '-', o = 0;
	for (size_t i = 0; i < len && o + 2 < size; i++) {
		out[o++] = raw[i];
		size_t left = len - i - 1;
		if (i >= neg && left > 0 && left % 3 == 0)
			out[o++] = ',';
	}
	out[o] = '\0';
}

static void format_value(char *out, size_t size, double v, const char *unit)
{
	if (*unit)
		snprintf(out, size, "%.2f %s", v / 1e6, unit);
	else
		group_digits(out, size, v);
}

static void elapsed_stats(const struct kbstat *st, double *mean, double *sd)
{
	*mean = *sd = 0;
	double *el = calloc(st->nruns ? st->nruns : 1, sizeof *el);
	if (!el)
		return;
	for (unsigned r = 0; r < st->nruns; r++)
		el[r] = (double)st->runs[r].elapsed_ns;
	kbstat_mean_stddev(el, st->nruns, 1, mean, sd);
	free(el);
}

static void print_cmdline(FILE *f, char *const *argv)
{
	for (size_t i = 0; argv[i]; i++)
		fprintf(f, "%s%s", i ? " " : "", argv[i]);
}

static void print_text(FILE *f, const struct kbstat *st, char *const *argv, const struct notes *ns)
{
	fprintf(f, "\n Performance counter stats for '");
	print_cmdline(f, argv);
	fprintf(f, "'");
	if (st->repeat > 1)
		fprintf(f, " (%u runs)", st->nruns);
	fprintf(f, ":\n\n");
	double task_clock = 0;
	for (size_t e = 0; e < st->list.n; e++) {
		const struct kbev *ev = &st->list.ev[e];
		struct event_summary s;
		summarize_event(st, e, &s);
		if (s.counted == 0) {
			fprintf(f, "  %20s      %s\n", status_tag(s.status), ev->name);
			continue;
		}
		const char *unit = kbev_unit(&ev->attr);
		char val[64];
		format_value(val, sizeof val, s.mean, unit);
		fprintf(f, "  %25s %-26s", val, ev->name);
		if (ev->attr.type == PERF_TYPE_SOFTWARE &&
		    ev->attr.config == PERF_COUNT_SW_TASK_CLOCK)
			task_clock = s.mean;
		if (st->nruns > 1 && s.mean != 0)
			fprintf(f, " ( +- %5.2f%% )", 100.0 * s.stddev / s.mean);
		if (s.fraction < 0.9999)
			fprintf(f, "  (%.2f%%)", 100.0 * s.fraction);
		fputc('\n', f);
	}
	double elapsed, elapsed_sd;
	elapsed_stats(st, &elapsed, &elapsed_sd);
	fputc('\n', f);
	if (st->nruns > 1)
		fprintf(f, "  %20.9f +- %.9f seconds time elapsed  ( +- %5.2f%% )\n", elapsed / 1e9,
			elapsed_sd / 1e9, elapsed ? 100.0 * elapsed_sd / elapsed : 0);
	else
		fprintf(f, "  %20.9f seconds time elapsed\n", elapsed / 1e9);
	if (task_clock > 0 && elapsed > 0)
		fprintf(f, "  %20.3f CPUs utilized\n", task_clock / elapsed);
	if (st->nruns == 1) {
		fprintf(f, "\n  %20.9f seconds user\n", st->runs[0].user_ns / 1e9);
		fprintf(f, "  %20.9f seconds sys\n", st->runs[0].sys_ns / 1e9);
	}

	if (st->nregions) {
		fprintf(f, "\n Regions (%s):\n",
			st->nruns > 1 ? "mean per run" : "inclusive / exclusive");
		for (size_t i = 0; i < st->nregions; i++) {
			const struct kbstat_region *rg = &st->regions[i];
			double calls, calls_sd, wi, wi_sd, we, we_sd;
			kbstat_mean_stddev(rg->metrics + 0, st->nruns, st->nmetrics, &calls,
					   &calls_sd);
			kbstat_mean_stddev(rg->metrics + 1, st->nruns, st->nmetrics, &wi, &wi_sd);
			kbstat_mean_stddev(rg->metrics + 2, st->nruns, st->nmetrics, &we, &we_sd);
			fprintf(f, "\n  %-40s calls %-10.0f wall %.3f msec (excl %.3f)", rg->path,
				calls, wi / 1e6, we / 1e6);
			if (st->nruns > 1 && wi != 0)
				fprintf(f, " ( +- %.2f%% )", 100.0 * wi_sd / wi);
			fputc('\n', f);
			for (size_t e = 0; e < st->list.n; e++) {
				if (!rg->has_event[e])
					continue;
				const struct kbev *ev = &st->list.ev[e];
				const char *unit = kbev_unit(&ev->attr);
				double in, in_sd, ex, ex_sd, en, en_sd, ru, ru_sd;
				kbstat_mean_stddev(rg->metrics + 3 + 4 * e, st->nruns, st->nmetrics,
						   &in, &in_sd);
				kbstat_mean_stddev(rg->metrics + 4 + 4 * e, st->nruns, st->nmetrics,
						   &ex, &ex_sd);
				kbstat_mean_stddev(rg->metrics + 5 + 4 * e, st->nruns, st->nmetrics,
						   &en, &en_sd);
				kbstat_mean_stddev(rg->metrics + 6 + 4 * e, st->nruns, st->nmetrics,
						   &ru, &ru_sd);
				char a[64], b[64];
				format_value(a, sizeof a, in, unit);
				format_value(b, sizeof b, ex, unit);
				fprintf(f, "  %25s %-26s excl %s", a, ev->name, b);
				if (st->nruns > 1 && in != 0)
					fprintf(f, "  ( +- %.2f%% )", 100.0 * in_sd / in);
				if (en > 0 && ru < en * 0.9999)
					fprintf(f, "  (%.2f%%)", 100.0 * ru / en);
				fputc('\n', f);
			}
		}
	}

	bool header = false;
	for (size_t e = 0; e < st->list.n; e++) {
		struct event_summary s;
		summarize_event(st, e, &s);
		const char *why = s.counted ? s.note : s.reason;
		if (!*why)
			continue;
		if (!header)
			fprintf(f, "\n %s:\n", "Notes");
		header = true;
		fprintf(f, "   %s: %s\n", st->list.ev[e].name, why);
	}
	for (size_t i = 0; i < ns->n; i++) {
		if (!header)
			fprintf(f, "\n Notes:\n");
		header = true;
		fprintf(f, "   %s\n", ns->text[i]);
	}
	if (st->failed[0])
		fprintf(f, "\n Runs stopped early: %s\n", st->failed);
	fputc('\n', f);
}

static json_t *mean_sd(const double *v, size_t n, size_t stride)
{
	double m, sd;
	kbstat_mean_stddev(v, n, stride, &m, &sd);
	return json_pack("{s:f,s:f}", "mean", m, "stddev", sd);
}

static const char *status_name(enum kbev_status s)
{
	switch (s) {
	case KBEV_OK:
		return "counted";
	case KBEV_NOT_SUPPORTED:
		return "not supported";
	case KBEV_NO_PERMISSION:
		return "no permission";
	case KBEV_NOT_COUNTED:
		return "not counted";
	default:
		return "failed";
	}
}

static int print_json(FILE *f, const struct kbstat *st, char *const *argv, const struct notes *ns)
{
	json_t *root = json_object();
	json_t *cmd = json_array();
	for (size_t i = 0; argv[i]; i++)
		json_array_append_new(cmd, json_string(argv[i]));
	json_object_set_new(root, "command", cmd);
	json_object_set_new(root, "runs", json_integer(st->nruns));
	json_object_set_new(root, "exit_status", json_integer(st->exit_code));
	json_object_set_new(root, "interrupted", json_boolean(st->interrupted));
	double elapsed, elapsed_sd;
	elapsed_stats(st, &elapsed, &elapsed_sd);
	json_object_set_new(root, "elapsed_ns",
			    json_pack("{s:f,s:f}", "mean", elapsed, "stddev", elapsed_sd));

	json_t *events = json_array();
	for (size_t e = 0; e < st->list.n; e++) {
		const struct kbev *ev = &st->list.ev[e];
		struct event_summary s;
		summarize_event(st, e, &s);
		json_t *o = json_pack("{s:s,s:s,s:i,s:I,s:s}", "name", ev->name, "encoding",
				      ev->fstr ? ev->fstr : "", "perf_type", (int)ev->attr.type,
				      "perf_config", (json_int_t)ev->attr.config, "status",
				      status_name(s.status));
		if (s.counted) {
			json_object_set_new(o, "value", json_real(s.mean));
			json_object_set_new(o, "stddev", json_real(s.stddev));
			json_object_set_new(o, "running_fraction", json_real(s.fraction));
			json_object_set_new(o, "unit",
					    json_string(*kbev_unit(&ev->attr) ? "ns" : "count"));
		} else {
			json_object_set_new(o, "reason", json_string(s.reason));
		}
		if (*s.note)
			json_object_set_new(o, "note", json_string(s.note));
		json_array_append_new(events, o);
	}
	json_object_set_new(root, "events", events);

	json_t *regions = json_array();
	for (size_t i = 0; i < st->nregions; i++) {
		const struct kbstat_region *rg = &st->regions[i];
		json_t *o = json_object();
		json_object_set_new(o, "path", json_string(rg->path));
		json_object_set_new(o, "calls", mean_sd(rg->metrics + 0, st->nruns, st->nmetrics));
		json_object_set_new(o, "wall_ns_incl",
				    mean_sd(rg->metrics + 1, st->nruns, st->nmetrics));
		json_object_set_new(o, "wall_ns_excl",
				    mean_sd(rg->metrics + 2, st->nruns, st->nmetrics));
		json_t *cs = json_array();
		for (size_t e = 0; e < st->list.n; e++) {
			if (!rg->has_event[e])
				continue;
			double en, ensd, ru, rusd;
			kbstat_mean_stddev(rg->metrics + 5 + 4 * e, st->nruns, st->nmetrics, &en,
					   &ensd);
			kbstat_mean_stddev(rg->metrics + 6 + 4 * e, st->nruns, st->nmetrics, &ru,
					   &rusd);
			json_t *c = json_object();
			json_object_set_new(c, "name", json_string(st->list.ev[e].name));
			json_object_set_new(
			    c, "incl", mean_sd(rg->metrics + 3 + 4 * e, st->nruns, st->nmetrics));
			json_object_set_new(
			    c, "excl", mean_sd(rg->metrics + 4 + 4 * e, st->nruns, st->nmetrics));
			json_object_set_new(c, "running_fraction", json_real(en > 0 ? ru / en : 1));
			json_array_append_new(cs, c);
		}
		json_object_set_new(o, "counters", cs);
		json_array_append_new(regions, o);
	}
	json_object_set_new(root, "regions", regions);
	json_t *nj = json_array();
	for (size_t i = 0; i < ns->n; i++)
		json_array_append_new(nj, json_string(ns->text[i]));
	json_object_set_new(root, "notes", nj);
	if (st->failed[0])
		json_object_set_new(root, "stopped_early", json_string(st->failed));
	int rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
	fputc('\n', f);
	json_decref(root);
	return rc;
}

CMD(stat)
{
	static const struct option opts[] = {
	    {"events", required_argument, NULL, 'e'}, {"repeat", required_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},         {"output", required_argument, NULL, 'o'},
	    {"no-regions", no_argument, NULL, 'R'},   {NULL, 0, NULL, 0},
	};
	bool no_regions = false;
	char events[8192] = "";
	unsigned long long repeat = 1;
	bool json = false;
	const char *output = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+e:r:jo:", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (strlen(events) + strlen(optarg) + 2 > sizeof events)
				return cli_usage_error("stat", "event list too long");
			if (events[0])
				strcat(events, ",");
			strcat(events, optarg);
			break;
		case 'r':
			if (cli_parse_u64(optarg, &repeat) || repeat < 1 || repeat > 100000)
				return cli_usage_error(
				    "stat", "-r wants a run count from 1, not '%s'", optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'o':
			output = optarg;
			break;
		case 'R':
			no_regions = true;
			break;
		default:
			return cli_usage_error("stat", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("stat", "no command given");
	char *const *cmd = argv + optind;

	FILE *out = stderr;
	if (output && !(out = fopen(output, "w")))
		return cli_fail("stat", "%s: %s", output, strerror(errno));

	struct notes ns = {0};
	struct kbstat_opts o = {
	    .events = events[0] ? events : NULL,
	    .repeat = (unsigned)repeat,
	    .argv = cmd,
	    .regions = read_regions,
	    .regions_ctx = &ns,
	    .no_regions = no_regions,
	};
	struct kbstat st;
	struct kb_error err;
	bool exec_failed;
	if (kbstat_run(&st, &o, &exec_failed, &err)) {
		kbstat_free(&st);
		notes_free(&ns);
		if (out != stderr)
			fclose(out);
		cli_fail("stat", "%s", err.msg);
		return exec_failed ? (strstr(err.msg, "not found") ? 127 : 126) : KBPROF_EXIT_FAIL;
	}
	int rc = json ? print_json(out, &st, cmd, &ns) : (print_text(out, &st, cmd, &ns), 0);
	int status = st.exit_code;
	kbstat_free(&st);
	notes_free(&ns);
	if (out != stderr && (fclose(out) != 0 || rc != 0))
		return cli_fail("stat", "%s: write failed", output);
	return status;
}
