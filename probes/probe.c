/* probe: the runtime behind KBPROF_REGION_BEGIN/END (kbprof/probe.h).
 *
 * Owns, per thread (struct thread_state, reached through a TLS pointer and
 * a process-wide list): the region tree of that thread (one node per path,
 * malloc'd, freed when the thread's totals are folded into the process
 * tree), the stack of open regions with their start values, the thread's
 * counter groups (struct kbev_set) and a buffer of trace records.
 * Process-wide (under `lock`): the configuration, the encoded event list,
 * the output descriptor and the process tree of totals that threads fold
 * into when they end and that is written at exit.
 *
 * Counts of a region are deltas of the thread's counters between its
 * boundaries, scaled per call by the enabled/running times of that call;
 * exclusive values are inclusive minus the children's inclusive values,
 * computed when the totals are written. */
#include "kbprof/probe.h"
#include "probes/events.h"
#include "probes/recording_write.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int kbprof_probes_active;

#define MAX_DEPTH 128
#define TRACE_BUF (32u << 10)
#define TRACE_FLUSH_NS 100000000ull /* write trace records at least every 0.1 s */

struct node {
	const char *key; /* the caller's pointer at creation: compared first */
	char *name;      /* owned copy */
	char *path;      /* owned, "startup/parse" */
	struct node *parent, *child, *last, *next; /* children in creation order */
	uint64_t calls, wall;
	double *incl;      /* per counter, scaled; owned (NULL if no counters) */
	uint64_t *enabled; /* per counter, ns; same block as incl */
	uint64_t *running;
};

struct thread_state {
	unsigned gen; /* configuration it was made for */
	pid_t pid, tid;
	struct node root;
	struct node *cur;
	size_t depth, skipped;
	uint64_t t0[MAX_DEPTH];
	uint64_t *base; /* [MAX_DEPTH][3 * ncounters]: value, enabled, running at begin */
	struct kbev_set set;
	bool set_open;
	uint64_t unmatched;
	uint8_t *trace;
	struct recw_enc enc;
	uint64_t last_flush;
	struct thread_state *next; /* in `live` */
};

static struct {
	pthread_mutex_t lock;
	bool configured;
	bool trace;
	struct kbev_list events;
	bool *counter_ok; /* per event: opened in some thread */
	bool *counter_noted;
	int out_fd; /* -1: print a table to stderr */
	char *out_path;
	struct node root; /* totals of finished threads */
	struct thread_state *live;
	struct thread_state *orphans;   /* other threads' states copied by fork(): unused */
	struct thread_state *abandoned; /* threads still running when probes stopped */
	unsigned gen;                   /* bumped at each configuration */
	uint64_t unmatched;
	pthread_key_t key;
	bool key_made;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .out_fd = -1};

static __thread struct thread_state *tls;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "kbprof probes: %s\n", msg);
}

/* ---- output ---- */

static int fd_sink(void *ctx, const void *data, size_t len)
{
	(void)ctx;
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t w = write(g.out_fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static void note(const char *text)
{
	if (g.out_fd < 0) {
		warn("%s", text);
		return;
	}
	uint8_t buf[1024];
	struct recw_enc e;
	recw_enc_init(&e, buf, sizeof buf, fd_sink, NULL);
	recw_note(&e, (uint32_t)getpid(), now_ns(), text);
	recw_flush(&e);
}

/* ---- region trees ---- */

static size_t ncounters(void)
{
	return g.events.n;
}

static struct node *node_new(struct node *parent, const char *key, const char *name)
{
	struct node *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->key = key;
	n->name = strdup(name);
	size_t plen = parent->path ? strlen(parent->path) : 0;
	n->path = malloc(plen + strlen(name) + 2);
	size_t nc = ncounters();
	if (nc) {
		n->incl = calloc(nc, sizeof *n->incl);
		n->enabled = calloc(2 * nc, sizeof *n->enabled);
		n->running = n->enabled ? n->enabled + nc : NULL;
	}
	if (!n->name || !n->path || (nc && (!n->incl || !n->enabled))) {
		free(n->name);
		free(n->path);
		free(n->incl);
		free(n->enabled);
		free(n);
		return NULL;
	}
	if (plen)
		sprintf(n->path, "%s/%s", parent->path, name);
	else
		strcpy(n->path, name);
	n->parent = parent;
	if (parent->last)
		parent->last->next = n;
	else
		parent->child = n;
	parent->last = n;
	return n;
}

static struct node *child_named(struct node *parent, const char *key, const char *name)
{
	if (key)
		for (struct node *c = parent->child; c; c = c->next)
			if (c->key == key)
				return c;
	for (struct node *c = parent->child; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void tree_free(struct node *n)
{
	struct node *c = n->child;
	while (c) {
		struct node *next = c->next;
		tree_free(c);
		free(c->name);
		free(c->path);
		free(c->incl);
		free(c->enabled);
		free(c);
		c = next;
	}
	n->child = n->last = NULL;
}

static void tree_reset(struct node *n)
{
	n->calls = n->wall = 0;
	for (size_t i = 0; n->incl && i < g.events.n; i++) {
		n->incl[i] = 0;
		n->enabled[i] = 0;
		n->running[i] = 0;
	}
	for (struct node *c = n->child; c; c = c->next)
		tree_reset(c);
}

/* Adds the totals of `from`'s subtree into `into` (same path). */
static void tree_fold(struct node *into, const struct node *from)
{
	size_t nc = ncounters();
	into->calls += from->calls;
	into->wall += from->wall;
	for (size_t i = 0; i < nc && into->incl && from->incl; i++) {
		into->incl[i] += from->incl[i];
		into->enabled[i] += from->enabled[i];
		into->running[i] += from->running[i];
	}
	for (const struct node *c = from->child; c; c = c->next) {
		struct node *t = child_named(into, NULL, c->name);
		if (!t)
			t = node_new(into, NULL, c->name);
		if (t)
			tree_fold(t, c);
	}
}

/* ---- writing totals ---- */

static double child_incl(const struct node *n, size_t i)
{
	double sum = 0;
	for (const struct node *c = n->child; c; c = c->next)
		sum += c->incl[i];
	return sum;
}

static uint64_t child_wall(const struct node *n)
{
	uint64_t sum = 0;
	for (const struct node *c = n->child; c; c = c->next)
		sum += c->wall;
	return sum;
}

/* cs: scratch for one record's counters, shared down the recursion. */
static void emit_stats(struct recw_enc *e, const struct node *n, uint32_t pid,
		       struct recw_counter *cs)
{
	if (n->parent && n->calls) {
		uint32_t k = 0;
		for (size_t i = 0; i < ncounters(); i++) {
			if (!g.counter_ok[i])
				continue;
			double excl = n->incl[i] - child_incl(n, i);
			cs[k].name = g.events.ev[i].name;
			cs[k].incl = (uint64_t)(n->incl[i] + 0.5);
			cs[k].excl = excl > 0 ? (uint64_t)(excl + 0.5) : 0;
			cs[k].enabled = n->enabled[i];
			cs[k].running = n->running[i];
			k++;
		}
		uint64_t cw = child_wall(n);
		recw_region_stats(e, pid, 0, n->calls, n->wall, n->wall > cw ? n->wall - cw : 0, k,
				  cs, n->path);
	}
	for (const struct node *c = n->child; c; c = c->next)
		emit_stats(e, c, pid, cs);
}

static void print_table(FILE *out, const struct node *n)
{
	if (n->parent && n->calls) {
		uint64_t cw = child_wall(n);
		fprintf(out, "  %-32s %10llu %12.3f %12.3f", n->path, (unsigned long long)n->calls,
			(double)n->wall / 1e6, (double)(n->wall > cw ? n->wall - cw : 0) / 1e6);
		for (size_t i = 0; i < ncounters(); i++) {
			if (!g.counter_ok[i])
				continue;
			double excl = n->incl[i] - child_incl(n, i);
			fprintf(out, "  %s %.0f (excl %.0f)", g.events.ev[i].name, n->incl[i],
				excl > 0 ? excl : 0);
		}
		fputc('\n', out);
	}
	for (const struct node *c = n->child; c; c = c->next)
		print_table(out, c);
}

/* Writes the process totals and resets them. Called with g.lock held. */
static int write_totals(void)
{
	if (!g.root.child)
		return 0;
	int rc = 0;
	if (g.out_fd < 0) {
		fprintf(stderr, "kbprof probes: regions of pid %d\n  %-32s %10s %12s %12s\n",
			(int)getpid(), "path", "calls", "wall ms", "excl ms");
		print_table(stderr, &g.root);
	} else {
		size_t cap = 64u << 10;
		uint8_t *buf = malloc(cap);
		if (!buf)
			return -1;
		struct recw_enc e;
		recw_enc_init(&e, buf, cap, fd_sink, NULL);
		struct recw_counter cs[KBEV_MAX_EVENTS];
		emit_stats(&e, &g.root, (uint32_t)getpid(), cs);
		if (g.unmatched) {
			char text[200];
			snprintf(text, sizeof text,
				 "probes: %llu region ends without a matching begin were ignored",
				 (unsigned long long)g.unmatched);
			recw_note(&e, (uint32_t)getpid(), now_ns(), text);
		}
		rc = recw_flush(&e);
		free(buf);
	}
	tree_free(&g.root);
	g.unmatched = 0;
	return rc;
}

/* ---- threads ---- */

static int trace_sink(void *ctx, const void *data, size_t len)
{
	return fd_sink(ctx, data, len);
}

static void thread_flush_trace(struct thread_state *ts)
{
	if (ts->trace && g.out_fd >= 0)
		recw_flush(&ts->enc);
}

static void read_counters(struct thread_state *ts, uint64_t *out)
{
	size_t nc = ncounters();
	if (!ts->set_open || !nc)
		return;
	kbev_set_read(&ts->set);
	for (size_t i = 0; i < nc; i++) {
		out[3 * i] = ts->set.result[i].value;
		out[3 * i + 1] = ts->set.result[i].enabled;
		out[3 * i + 2] = ts->set.result[i].running;
	}
}

static void open_counters(struct thread_state *ts)
{
	size_t nc = ncounters();
	if (!nc)
		return;
	struct kb_error err;
	if (kbev_set_open(&ts->set, &g.events, 0, KBEV_OPEN_DERIVE_TASK_CLOCK, &err)) {
		warn("%s", err.msg);
		return;
	}
	ts->set_open = true;
	pthread_mutex_lock(&g.lock);
	for (size_t i = 0; i < nc; i++) {
		if (ts->set.fd[i] >= 0 || ts->set.derived[i]) {
			g.counter_ok[i] = true;
		} else if (!g.counter_noted[i]) {
			g.counter_noted[i] = true;
			char text[KBEV_REASON_MAX + 100];
			snprintf(text, sizeof text, "probes: %s: %s", g.events.ev[i].name,
				 ts->set.result[i].reason);
			if (g.out_fd >= 0)
				note(text);
		}
	}
	pthread_mutex_unlock(&g.lock);
}

static void thread_end(void *arg);

static struct thread_state *thread_state(void)
{
	if (tls && tls->gen == g.gen)
		return tls;
	tls = NULL; /* made for an earlier configuration: abandoned */
	struct thread_state *ts = calloc(1, sizeof *ts);
	if (!ts)
		return NULL;
	size_t nc = ncounters();
	if (nc && !(ts->base = calloc((size_t)MAX_DEPTH * 3 * nc, sizeof *ts->base))) {
		free(ts);
		return NULL;
	}
	if (g.trace) {
		ts->trace = malloc(TRACE_BUF);
		if (!ts->trace) {
			free(ts->base);
			free(ts);
			return NULL;
		}
		recw_enc_init(&ts->enc, ts->trace, TRACE_BUF, trace_sink, NULL);
	}
	ts->gen = g.gen;
	ts->pid = getpid();
	ts->tid = gettid();
	ts->cur = &ts->root;
	open_counters(ts);
	pthread_mutex_lock(&g.lock);
	ts->next = g.live;
	g.live = ts;
	pthread_mutex_unlock(&g.lock);
	if (g.key_made)
		pthread_setspecific(g.key, ts);
	tls = ts;
	return ts;
}

static void unlink_live(struct thread_state *ts)
{
	for (struct thread_state **p = &g.live; *p; p = &(*p)->next)
		if (*p == ts) {
			*p = ts->next;
			break;
		}
}

static void region_close_top(struct thread_state *ts, uint64_t t);

/* Folds a thread's totals into the process tree and frees its state.
 * `close_open` ends the regions still open (process exit). */
static void thread_retire(struct thread_state *ts, bool close_open)
{
	if (close_open && ts->depth > 0) {
		uint64_t t = now_ns();
		while (ts->depth > 0)
			region_close_top(ts, t);
	}
	thread_flush_trace(ts);
	pthread_mutex_lock(&g.lock);
	unlink_live(ts);
	tree_fold(&g.root, &ts->root);
	g.unmatched += ts->unmatched;
	pthread_mutex_unlock(&g.lock);
	tree_free(&ts->root);
	kbev_set_close(&ts->set);
	free(ts->base);
	free(ts->trace);
	free(ts);
}

static void thread_end(void *arg)
{
	struct thread_state *ts = arg;
	if (ts && ts == tls && ts->gen == g.gen && g.configured) {
		tls = NULL;
		thread_retire(ts, false);
	}
}

/* ---- boundaries ---- */

static void trace_event(struct thread_state *ts, uint32_t type, uint64_t t, const char *path)
{
	if (!ts->trace)
		return;
	recw_region(&ts->enc, type, (uint32_t)ts->pid, (uint32_t)ts->tid, t, (uint32_t)ts->depth,
		    path);
	if (t - ts->last_flush > TRACE_FLUSH_NS) {
		ts->last_flush = t;
		recw_flush(&ts->enc);
	}
}

void kbprof_region_begin(const char *name)
{
	if (!kbprof_probes_active || !name)
		return;
	struct thread_state *ts = thread_state();
	if (!ts)
		return;
	if (ts->depth == MAX_DEPTH) {
		ts->skipped++;
		return;
	}
	struct node *n = child_named(ts->cur, name, name);
	if (!n && !(n = node_new(ts->cur, name, name)))
		return;
	ts->cur = n;
	size_t d = ts->depth++;
	uint64_t t = now_ns();
	trace_event(ts, RECW_REGION_BEGIN, t, n->path);
	if (ts->set_open) {
		read_counters(ts, ts->base + d * 3 * ncounters());
		/* The clock again, so the region's time leaves out the reads. */
		t = now_ns();
	}
	ts->t0[d] = t;
}

static void region_close_top(struct thread_state *ts, uint64_t t)
{
	size_t nc = ncounters();
	size_t d = ts->depth - 1;
	struct node *n = ts->cur;
	if (nc && ts->set_open) {
		uint64_t now[3 * KBEV_MAX_EVENTS];
		read_counters(ts, now);
		const uint64_t *b = ts->base + d * 3 * nc;
		for (size_t i = 0; i < nc; i++) {
			uint64_t dv = now[3 * i] - b[3 * i];
			uint64_t de = now[3 * i + 1] - b[3 * i + 1];
			uint64_t dr = now[3 * i + 2] - b[3 * i + 2];
			n->incl[i] += kbev_scale(dv, de, dr, NULL);
			n->enabled[i] += de;
			n->running[i] += dr;
		}
	}
	n->calls++;
	n->wall += t > ts->t0[d] ? t - ts->t0[d] : 0;
	trace_event(ts, RECW_REGION_END, t, n->path);
	ts->depth--;
	ts->cur = n->parent;
}

void kbprof_region_end(const char *name)
{
	if (!kbprof_probes_active || !name)
		return;
	uint64_t t = now_ns();
	struct thread_state *ts = tls;
	if (!ts || ts->gen != g.gen) {
		/* An end in a thread that never began a region (or began it
		 * before a fork): nothing to close. */
		if ((ts = thread_state()))
			ts->unmatched++;
		return;
	}
	if (ts->skipped) {
		ts->skipped--;
		return;
	}
	/* Find the innermost open region of that name; regions opened inside
	 * it and never ended are ended with it. */
	struct node *n = ts->cur;
	size_t up = 0;
	while (n != &ts->root && n->key != name && strcmp(n->name, name) != 0) {
		n = n->parent;
		up++;
	}
	if (n == &ts->root) {
		ts->unmatched++;
		return;
	}
	if (up)
		ts->unmatched += up;
	for (size_t i = 0; i <= up; i++)
		region_close_top(ts, t);
}

/* ---- configuration ---- */

static void at_exit(void)
{
	if (!g.configured)
		return;
	kbprof_probes_disable();
}

static void after_fork_child(void)
{
	/* The child has a copy of the parent's totals and of the forking
	 * thread's state, whose counters count the parent's thread. Start
	 * afresh; other threads' copies are kept reachable, unused. */
	if (!g.configured)
		return;
	struct thread_state *mine = tls;
	tls = NULL;
	if (mine) {
		unlink_live(mine);
		tree_free(&mine->root);
		kbev_set_close(&mine->set);
		free(mine->base);
		free(mine->trace);
		free(mine);
	}
	while (g.live) {
		struct thread_state *t = g.live;
		g.live = t->next;
		t->next = g.orphans;
		g.orphans = t;
	}
	tree_free(&g.root);
	g.unmatched = 0;
	pthread_mutex_init(&g.lock, NULL);
}

static int configure(const char *mode, const char *events, const char *out)
{
	bool count = false, trace = false;
	char buf[128];
	snprintf(buf, sizeof buf, "%s", mode ? mode : "count");
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "count") == 0 || strcmp(t, "1") == 0)
			count = true;
		else if (strcmp(t, "trace") == 0)
			trace = true;
		else {
			warn("KBPROF_PROBES: unknown mode '%s' (count, trace); probes stay off", t);
			return -1;
		}
	}
	(void)count;
	struct kb_error err;
	if (events && *events && kbev_list_parse(&g.events, events, &err)) {
		warn("%s; probes stay off", err.msg);
		return -1;
	}
	size_t nc = g.events.n ? g.events.n : 1;
	g.counter_ok = calloc(nc, sizeof *g.counter_ok);
	g.counter_noted = calloc(nc, sizeof *g.counter_noted);
	if (!g.counter_ok || !g.counter_noted) {
		warn("out of memory; probes stay off");
		return -1;
	}
	if (out && *out) {
		g.out_fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (g.out_fd < 0) {
			warn("%s: %s; probes stay off", out, strerror(errno));
			return -1;
		}
		g.out_path = strdup(out);
	}
	g.trace = trace && g.out_fd >= 0;
	if (!g.key_made && pthread_key_create(&g.key, thread_end) == 0)
		g.key_made = true;
	static bool hooks;
	if (!hooks) {
		hooks = true;
		atexit(at_exit);
		pthread_atfork(NULL, NULL, after_fork_child);
	}
	g.gen++;
	g.configured = true;
	kbprof_probes_active = 1;
	return 0;
}

static void release_config(void)
{
	kbev_list_free(&g.events);
	free(g.counter_ok);
	free(g.counter_noted);
	g.counter_ok = g.counter_noted = NULL;
	if (g.out_fd >= 0)
		close(g.out_fd);
	g.out_fd = -1;
	free(g.out_path);
	g.out_path = NULL;
	while (g.orphans) {
		struct thread_state *t = g.orphans;
		g.orphans = t->next;
		tree_free(&t->root);
		free(t->base);
		free(t->trace);
		free(t);
	}
	g.configured = false;
	g.trace = false;
}

int kbprof_probes_enable(const char *mode, const char *events, const char *out)
{
	if (g.configured)
		kbprof_probes_disable();
	if (configure(mode, events, out)) {
		release_config();
		return -1;
	}
	return 0;
}

int kbprof_probes_flush(void)
{
	if (!g.configured)
		return 0;
	struct thread_state *ts = tls && tls->gen == g.gen ? tls : NULL;
	if (ts) {
		thread_flush_trace(ts);
		/* Fold what the calling thread finished, keeping its open regions. */
		pthread_mutex_lock(&g.lock);
		tree_fold(&g.root, &ts->root);
		g.unmatched += ts->unmatched;
		ts->unmatched = 0;
		pthread_mutex_unlock(&g.lock);
		/* Reset totals but keep nodes: open regions point into the tree. */
		tree_reset(&ts->root);
	}
	pthread_mutex_lock(&g.lock);
	int rc = write_totals();
	pthread_mutex_unlock(&g.lock);
	return rc;
}

void kbprof_probes_disable(void)
{
	if (!g.configured)
		return;
	kbprof_probes_active = 0;
	struct thread_state *ts = tls;
	if (ts && ts->gen == g.gen) {
		tls = NULL;
		if (g.key_made)
			pthread_setspecific(g.key, NULL);
		thread_retire(ts, true);
	}
	pthread_mutex_lock(&g.lock);
	size_t still = 0;
	for (struct thread_state *t = g.live; t; t = t->next)
		still++;
	write_totals();
	if (still) {
		char text[160];
		snprintf(text, sizeof text,
			 "probes: %zu threads were still running: their regions are not in the "
			 "totals",
			 still);
		note(text);
		/* Their states stay allocated (they may still run) and reachable. */
		while (g.live) {
			struct thread_state *t = g.live;
			g.live = t->next;
			t->next = g.abandoned;
			g.abandoned = t;
		}
	}
	pthread_mutex_unlock(&g.lock);
	if (!still)
		release_config();
	else
		g.configured = false;
}

__attribute__((constructor)) static void probes_from_environment(void)
{
	const char *mode = getenv("KBPROF_PROBES");
	if (!mode || !*mode || strcmp(mode, "0") == 0)
		return;
	configure(mode, getenv("KBPROF_PROBES_EVENTS"), getenv("KBPROF_PROBES_OUT"));
	if (!g.configured)
		release_config();
}
