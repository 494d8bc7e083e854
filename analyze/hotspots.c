/* hotspots: one streaming pass over the CPU samples (see hotspots.h).
 * Per-function counters are arrays indexed by function id; per-address
 * self weights feed the source-line view; folded stacks are a hash of
 * function-id sequences. The builder's tables are malloc'd and freed at
 * the end; the report's contents live in its arena. */
#include "analyze/hotspots.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct fn_acc {
	uint64_t self_samples, self_period, total_samples, total_period;
	uint64_t stamp;        /* last sample counted in total */
	uint64_t stamp_caller; /* last sample this fn was counted as a caller */
	uint64_t stamp_callee;
	uint64_t caller_samples, caller_period; /* as caller of the target */
	uint64_t callee_samples, callee_period; /* as callee of the target */
	signed char is_target;                  /* -1 not yet known */
};

struct addr_acc {
	const struct sym_info *info; /* NULL: empty slot */
	uint64_t samples, period;
};

struct stack_acc {
	uint32_t *fns; /* root first */
	uint32_t n;
	uint64_t hash, samples;
};

struct region_acc {
	const char *path;
	uint64_t samples, period;
	int used;
};

struct builder {
	struct prof *p;
	const struct hot_options *o;
	struct hot_report *r;
	const struct prof_event *ev;
	const char *callers_name;
	struct sym_space *orphan; /* for pids the side-band never named */

	struct fn_acc *fns;
	size_t n_fns;
	struct addr_acc *addrs;
	size_t addr_cap, addr_len;
	struct stack_acc *stacks;
	size_t stack_cap, stack_len;
	struct region_acc *regions;
	size_t region_cap, region_len;

	const struct sym_info **frames;
	size_t frame_cap;
	uint32_t *ids;
	uint64_t sample_no;
	uint64_t target_samples, target_period, self_of_target_samples, self_of_target_period;
	uint64_t root_of_target_samples, root_of_target_period;
	int oom;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static struct fn_acc *fn_acc(struct builder *b, uint32_t id)
{
	if (id >= b->n_fns) {
		size_t n = b->n_fns ? b->n_fns : 256;
		while (n <= id)
			n *= 2;
		struct fn_acc *t = realloc(b->fns, n * sizeof *t);
		if (!t) {
			b->oom = 1;
			return NULL;
		}
		memset(t + b->n_fns, 0, (n - b->n_fns) * sizeof *t);
		for (size_t i = b->n_fns; i < n; i++)
			t[i].is_target = -1;
		b->fns = t;
		b->n_fns = n;
	}
	return &b->fns[id];
}

static void addr_add(struct builder *b, const struct sym_info *info, uint64_t period)
{
	if ((b->addr_len + 1) * 2 > b->addr_cap) {
		size_t cap = b->addr_cap ? b->addr_cap * 2 : 1024;
		struct addr_acc *t = calloc(cap, sizeof *t);
		if (!t) {
			b->oom = 1;
			return;
		}
		for (size_t i = 0; i < b->addr_cap; i++) {
			if (!b->addrs[i].info)
				continue;
			size_t j = mix((uintptr_t)b->addrs[i].info) & (cap - 1);
			while (t[j].info)
				j = (j + 1) & (cap - 1);
			t[j] = b->addrs[i];
		}
		free(b->addrs);
		b->addrs = t;
		b->addr_cap = cap;
	}
	size_t j = mix((uintptr_t)info) & (b->addr_cap - 1);
	while (b->addrs[j].info && b->addrs[j].info != info)
		j = (j + 1) & (b->addr_cap - 1);
	if (!b->addrs[j].info) {
		b->addrs[j].info = info;
		b->addr_len++;
	}
	b->addrs[j].samples++;
	b->addrs[j].period += period;
}

static void stack_add(struct builder *b, const uint32_t *leaf_first, uint32_t n)
{
	uint64_t h = 0x12345;
	for (uint32_t i = 0; i < n; i++)
		h = mix(h ^ leaf_first[i]) + i;
	if ((b->stack_len + 1) * 2 > b->stack_cap) {
		size_t cap = b->stack_cap ? b->stack_cap * 2 : 1024;
		struct stack_acc *t = calloc(cap, sizeof *t);
		if (!t) {
			b->oom = 1;
			return;
		}
		for (size_t i = 0; i < b->stack_cap; i++) {
			if (!b->stacks[i].fns)
				continue;
			size_t j = b->stacks[i].hash & (cap - 1);
			while (t[j].fns)
				j = (j + 1) & (cap - 1);
			t[j] = b->stacks[i];
		}
		free(b->stacks);
		b->stacks = t;
		b->stack_cap = cap;
	}
	size_t j = h & (b->stack_cap - 1);
	for (; b->stacks[j].fns; j = (j + 1) & (b->stack_cap - 1)) {
		struct stack_acc *s = &b->stacks[j];
		if (s->hash != h || s->n != n)
			continue;
		uint32_t k = 0;
		while (k < n && s->fns[k] == leaf_first[n - 1 - k])
			k++;
		if (k == n) {
			s->samples++;
			return;
		}
	}
	uint32_t *copy = arena_alloc(&b->r->arena, (n ? n : 1) * sizeof *copy);
	if (!copy) {
		b->oom = 1;
		return;
	}
	for (uint32_t k = 0; k < n; k++)
		copy[k] = leaf_first[n - 1 - k];
	b->stacks[j] = (struct stack_acc){copy, n, h, 1};
	b->stack_len++;
}

static void region_add(struct builder *b, const char *path, uint64_t period)
{
	/* region paths are interned by the profile: compare pointers */
	if ((b->region_len + 1) * 2 > b->region_cap) {
		size_t cap = b->region_cap ? b->region_cap * 2 : 64;
		struct region_acc *t = calloc(cap, sizeof *t);
		if (!t) {
			b->oom = 1;
			return;
		}
		for (size_t i = 0; i < b->region_cap; i++) {
			if (!b->regions[i].used)
				continue;
			size_t j = mix((uintptr_t)b->regions[i].path) & (cap - 1);
			while (t[j].used)
				j = (j + 1) & (cap - 1);
			t[j] = b->regions[i];
		}
		free(b->regions);
		b->regions = t;
		b->region_cap = cap;
	}
	size_t j = mix((uintptr_t)path) & (b->region_cap - 1);
	while (b->regions[j].used && b->regions[j].path != path)
		j = (j + 1) & (b->region_cap - 1);
	if (!b->regions[j].used) {
		b->regions[j].used = 1;
		b->regions[j].path = path;
		b->region_len++;
	}
	b->regions[j].samples++;
	b->regions[j].period += period;
}

static int is_target(struct builder *b, const struct sym_function *fn)
{
	struct fn_acc *a = fn_acc(b, fn->id);
	if (!a)
		return 0;
	if (a->is_target < 0)
		a->is_target = strcmp(fn->name, b->callers_name) == 0;
	return a->is_target;
}

static int on_sample(void *ctx, const struct kbrec_sample *s)
{
	struct builder *b = ctx;
	if (s->event_id != b->ev->id || (b->o->pid && s->pid != b->o->pid))
		return 0;
	if (b->o->comm) {
		const char *comm = prof_comm_at(b->p, s->pid, s->time);
		if (!comm || strcmp(comm, b->o->comm) != 0)
			return 0;
	}
	const char *region = prof_region_at(b->p, s->pid, s->tid, s->time);
	if (b->o->region && !prof_region_match(region, b->o->region))
		return 0;
	struct hot_report *r = b->r;
	uint64_t period = s->period;
	r->samples++;
	r->period += period;
	region_add(b, region, period);

	struct sym_space *sp = prof_space_at(b->p, s->pid, s->time);
	if (!sp) {
		sp = b->orphan;
		r->unknown_process++;
	}
	size_t nchain = (size_t)s->nr_kernel + s->nr_user;
	size_t need = nchain ? nchain : 1;
	if (need > b->frame_cap) {
		size_t cap = b->frame_cap ? b->frame_cap : 64;
		while (cap < need)
			cap *= 2;
		const struct sym_info **f = realloc(b->frames, cap * sizeof *f);
		uint32_t *ids = realloc(b->ids, cap * sizeof *ids);
		if (f)
			b->frames = f;
		if (ids)
			b->ids = ids;
		if (!f || !ids)
			return b->oom = 1, -1;
		b->frame_cap = cap;
	}
	size_t n = 0;
	if (!nchain) {
		b->frames[n++] = sym_lookup(sp, s->ip, 0);
	} else {
		for (size_t i = 0; i < nchain; i++) {
			int first_of_part = i == 0 || i == s->nr_kernel;
			if (!first_of_part && s->ips[i] == 0)
				continue; /* the frame-pointer walk's terminator */
			const struct sym_info *info = sym_lookup(sp, s->ips[i], !first_of_part);
			if (!info)
				return b->oom = 1, -1;
			/* kernel frames collapse into one [kernel] frame */
			if (i < s->nr_kernel && n > 0 &&
			    b->frames[n - 1]->function == info->function)
				continue;
			b->frames[n++] = info;
		}
	}
	if (!b->frames[0])
		return b->oom = 1, -1;
	b->sample_no++;
	const struct sym_info *leaf = b->frames[0];
	if (leaf->level >= SYM_LEVEL_FUNCTION)
		r->with_function++;
	if (leaf->level == SYM_LEVEL_LINE)
		r->with_line++;
	struct fn_acc *a = fn_acc(b, leaf->function->id);
	if (!a)
		return -1;
	a->self_samples++;
	a->self_period += period;
	if (b->o->lines || b->o->addresses)
		addr_add(b, leaf, period);

	int has_target = 0;
	for (size_t i = 0; i < n; i++) {
		const struct sym_function *fn = b->frames[i]->function;
		b->ids[i] = fn->id;
		struct fn_acc *f = fn_acc(b, fn->id);
		if (!f)
			return -1;
		if (f->stamp != b->sample_no) {
			f->stamp = b->sample_no;
			f->total_samples++;
			f->total_period += period;
		}
		if (!b->callers_name || !is_target(b, fn))
			continue;
		has_target = 1;
		if (i == 0) {
			b->self_of_target_samples++;
			b->self_of_target_period += period;
		} else {
			/* re-fetch: is_target may have grown the table */
			struct fn_acc *c = fn_acc(b, b->frames[i - 1]->function->id);
			if (c && c->stamp_callee != b->sample_no) {
				c->stamp_callee = b->sample_no;
				c->callee_samples++;
				c->callee_period += period;
			}
		}
		if (i + 1 < n) {
			struct fn_acc *c = fn_acc(b, b->frames[i + 1]->function->id);
			if (c && c->stamp_caller != b->sample_no) {
				c->stamp_caller = b->sample_no;
				c->caller_samples++;
				c->caller_period += period;
			}
		} else {
			b->root_of_target_samples++;
			b->root_of_target_period += period;
		}
	}
	if (has_target) {
		b->target_samples++;
		b->target_period += period;
	}
	if (b->o->folded)
		stack_add(b, b->ids, (uint32_t)n);
	return b->oom ? -1 : 0;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Percentages are of the weight; with no weight (all periods 0) of the
 * sample counts. */
static struct hot_count count(uint64_t samples, uint64_t period, uint64_t all_samples,
			      uint64_t all_period)
{
	struct hot_count c = {samples, period, 0};
	c.pct = all_period ? pct(period, all_period) : pct(samples, all_samples);
	return c;
}

static const struct sym_session *sess(const struct builder *b)
{
	return b->p->sym;
}

static int cmp_row_self(const void *x, const void *y)
{
	const struct hot_row *a = x, *b = y;
	if (a->self.period != b->self.period)
		return a->self.period < b->self.period ? 1 : -1;
	if (a->self.samples != b->self.samples)
		return a->self.samples < b->self.samples ? 1 : -1;
	if (a->total.period != b->total.period)
		return a->total.period < b->total.period ? 1 : -1;
	return strcmp(a->fn->name, b->fn->name);
}

static int cmp_row_total(const void *x, const void *y)
{
	const struct hot_row *a = x, *b = y;
	if (a->total.period != b->total.period)
		return a->total.period < b->total.period ? 1 : -1;
	if (a->total.samples != b->total.samples)
		return a->total.samples < b->total.samples ? 1 : -1;
	if (a->self.period != b->self.period)
		return a->self.period < b->self.period ? 1 : -1;
	return strcmp(a->fn->name, b->fn->name);
}

static int cmp_edge(const void *x, const void *y)
{
	const struct hot_edge *a = x, *b = y;
	if (a->count.period != b->count.period)
		return a->count.period < b->count.period ? 1 : -1;
	if (a->count.samples != b->count.samples)
		return a->count.samples < b->count.samples ? 1 : -1;
	const char *an = a->fn ? a->fn->name : "", *bn = b->fn ? b->fn->name : "";
	return strcmp(an, bn);
}

static int cmp_line(const void *x, const void *y)
{
	const struct hot_line *a = x, *b = y;
	if (a->self.period != b->self.period)
		return a->self.period < b->self.period ? 1 : -1;
	if (a->self.samples != b->self.samples)
		return a->self.samples < b->self.samples ? 1 : -1;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return strcmp(a->file ? a->file : "", b->file ? b->file : "");
}

static int cmp_folded(const void *x, const void *y)
{
	const struct hot_folded *a = x, *b = y;
	return strcmp(a->stack, b->stack);
}

static int cmp_region(const void *x, const void *y)
{
	const struct hot_region_row *a = x, *b = y;
	if (!a->path || !b->path)
		return a->path ? -1 : b->path ? 1 : 0; /* "no region" last */
	return strcmp(a->path, b->path);
}

static int build_rows(struct builder *b)
{
	struct hot_report *r = b->r;
	size_t nf = sym_function_count(sess(b));
	size_t used = 0;
	for (size_t i = 0; i < nf && i < b->n_fns; i++)
		if (b->fns[i].total_samples)
			used++;
	r->n_functions = used;
	struct hot_row *rows = arena_alloc(&r->arena, (used ? used : 1) * sizeof *rows);
	if (!rows)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < nf && i < b->n_fns; i++) {
		const struct fn_acc *a = &b->fns[i];
		if (!a->total_samples)
			continue;
		rows[k].fn = sym_function_get(sess(b), (uint32_t)i);
		rows[k].self = count(a->self_samples, a->self_period, r->samples, r->period);
		rows[k].total = count(a->total_samples, a->total_period, r->samples, r->period);
		k++;
	}
	qsort(rows, k, sizeof *rows, b->o->sort == HOT_SORT_TOTAL ? cmp_row_total : cmp_row_self);
	r->rows = rows;
	r->n_rows = b->o->limit && b->o->limit < k ? b->o->limit : k;
	return 0;
}

struct line_entry {
	size_t row;
	const char *file;
	unsigned line;
	uint64_t samples, period;
};

static int cmp_line_entry(const void *x, const void *y)
{
	const struct line_entry *a = x, *b = y;
	if (a->row != b->row)
		return a->row < b->row ? -1 : 1;
	if (a->file != b->file)
		return (uintptr_t)a->file < (uintptr_t)b->file ? -1 : 1;
	return (a->line > b->line) - (a->line < b->line);
}

/* One pass over the leaf addresses, bucketed by top-function row, then
 * equal (file, line) pairs merged. */
static int build_lines(struct builder *b)
{
	struct hot_report *r = b->r;
	size_t limit = b->o->lines_limit ? b->o->lines_limit : 10;
	r->lines = arena_alloc(&r->arena, (r->n_rows ? r->n_rows : 1) * sizeof *r->lines);
	size_t *row_of = malloc((b->n_fns ? b->n_fns : 1) * sizeof *row_of);
	struct line_entry *e = malloc((b->addr_len ? b->addr_len : 1) * sizeof *e);
	int rc = -1;
	if (!r->lines || !row_of || !e)
		goto out;
	for (size_t i = 0; i < b->n_fns; i++)
		row_of[i] = SIZE_MAX;
	for (size_t i = 0; i < r->n_rows; i++)
		if (r->rows[i].fn->id < b->n_fns && r->rows[i].fn->start != UINT64_MAX)
			row_of[r->rows[i].fn->id] =
			    i; /* buckets ([kernel], [lib.so]) have no lines */
	size_t n = 0;
	for (size_t j = 0; j < b->addr_cap; j++) {
		const struct addr_acc *aa = &b->addrs[j];
		if (!aa->info || aa->info->function->id >= b->n_fns ||
		    row_of[aa->info->function->id] == SIZE_MAX)
			continue;
		e[n++] = (struct line_entry){row_of[aa->info->function->id], aa->info->file,
					     aa->info->line, aa->samples, aa->period};
	}
	qsort(e, n, sizeof *e, cmp_line_entry);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && e[m - 1].row == e[i].row && e[m - 1].file == e[i].file &&
		    e[m - 1].line == e[i].line) {
			e[m - 1].samples += e[i].samples;
			e[m - 1].period += e[i].period;
		} else {
			e[m++] = e[i];
		}
	}
	size_t i = 0;
	for (size_t row = 0; row < r->n_rows; row++) {
		size_t from = i;
		while (i < m && e[i].row == row)
			i++;
		size_t cnt = i - from;
		struct hot_lines *hl = &r->lines[r->n_lines++];
		hl->fn = r->rows[row].fn;
		hl->lines = arena_alloc(&r->arena, (cnt ? cnt : 1) * sizeof *hl->lines);
		if (!hl->lines)
			goto out;
		const struct hot_row *rw = &r->rows[row];
		for (size_t k = 0; k < cnt; k++)
			hl->lines[k] =
			    (struct hot_line){e[from + k].file, e[from + k].line,
					      count(e[from + k].samples, e[from + k].period,
						    rw->self.samples, rw->self.period)};
		qsort(hl->lines, cnt, sizeof *hl->lines, cmp_line);
		hl->n = cnt < limit ? cnt : limit;
	}
	rc = 0;
out:
	free(row_of);
	free(e);
	return rc;
}

static int cmp_addr(const void *x, const void *y)
{
	const struct hot_addr *a = x, *b = y;
	if (a->self.period != b->self.period)
		return a->self.period < b->self.period ? 1 : -1;
	if (a->self.samples != b->self.samples)
		return a->self.samples < b->self.samples ? 1 : -1;
	return (a->info->addr > b->info->addr) - (a->info->addr < b->info->addr);
}

static int build_addrs(struct builder *b)
{
	struct hot_report *r = b->r;
	struct hot_addr *all = malloc((b->addr_len ? b->addr_len : 1) * sizeof *all);
	if (!all)
		return -1;
	size_t n = 0;
	for (size_t j = 0; j < b->addr_cap; j++)
		if (b->addrs[j].info)
			all[n++] = (struct hot_addr){
			    b->addrs[j].info,
			    count(b->addrs[j].samples, b->addrs[j].period, r->samples, r->period)};
	qsort(all, n, sizeof *all, cmp_addr);
	r->n_addrs = n < b->o->addresses ? n : b->o->addresses;
	r->addrs = arena_alloc(&r->arena, (r->n_addrs ? r->n_addrs : 1) * sizeof *r->addrs);
	if (r->addrs)
		memcpy(r->addrs, all, r->n_addrs * sizeof *all);
	free(all);
	return r->addrs ? 0 : -1;
}

static int build_callgraph(struct builder *b)
{
	struct hot_report *r = b->r;
	struct hot_callgraph *cg = arena_alloc(&r->arena, sizeof *cg);
	if (!cg)
		return -1;
	r->callgraph = cg;
	cg->name = b->callers_name;
	cg->total = count(b->target_samples, b->target_period, r->samples, r->period);
	size_t ncallers = 1, ncallees = 1;
	for (size_t i = 0; i < b->n_fns; i++) {
		if (b->fns[i].is_target == 1 && b->fns[i].total_samples)
			cg->n_matches++;
		ncallers += b->fns[i].caller_samples != 0;
		ncallees += b->fns[i].callee_samples != 0;
	}
	cg->callers = arena_alloc(&r->arena, ncallers * sizeof *cg->callers);
	cg->callees = arena_alloc(&r->arena, ncallees * sizeof *cg->callees);
	if (!cg->callers || !cg->callees)
		return -1;
	uint64_t ts = b->target_samples, tp = b->target_period;
	for (size_t i = 0; i < b->n_fns; i++) {
		const struct fn_acc *a = &b->fns[i];
		if (a->caller_samples)
			cg->callers[cg->n_callers++] =
			    (struct hot_edge){sym_function_get(sess(b), (uint32_t)i),
					      count(a->caller_samples, a->caller_period, ts, tp)};
		if (a->callee_samples)
			cg->callees[cg->n_callees++] =
			    (struct hot_edge){sym_function_get(sess(b), (uint32_t)i),
					      count(a->callee_samples, a->callee_period, ts, tp)};
	}
	if (b->root_of_target_samples)
		cg->callers[cg->n_callers++] = (struct hot_edge){
		    NULL, count(b->root_of_target_samples, b->root_of_target_period, ts, tp)};
	if (b->self_of_target_samples)
		cg->callees[cg->n_callees++] = (struct hot_edge){
		    NULL, count(b->self_of_target_samples, b->self_of_target_period, ts, tp)};
	qsort(cg->callers, cg->n_callers, sizeof *cg->callers, cmp_edge);
	qsort(cg->callees, cg->n_callees, sizeof *cg->callees, cmp_edge);
	return 0;
}

static int build_folded(struct builder *b)
{
	struct hot_report *r = b->r;
	r->folded = arena_alloc(&r->arena, (b->stack_len ? b->stack_len : 1) * sizeof *r->folded);
	if (!r->folded)
		return -1;
	struct kb_buf buf = {0};
	for (size_t i = 0; i < b->stack_cap; i++) {
		const struct stack_acc *s = &b->stacks[i];
		if (!s->fns)
			continue;
		kb_buf_reset(&buf);
		for (uint32_t k = 0; k < s->n; k++) {
			if (k)
				kb_buf_putc(&buf, ';');
			/* ';' and ' ' would break the format: names from
			 * symbols do not hold them, but be safe */
			for (const char *c = sym_function_get(sess(b), s->fns[k])->name; *c; c++)
				kb_buf_putc(&buf, *c == ';' || *c == ' ' ? '_' : *c);
		}
		if (buf.oom) {
			kb_buf_free(&buf);
			return -1;
		}
		const char *stack = arena_strdup(&r->arena, buf.len ? buf.data : "");
		if (!stack) {
			kb_buf_free(&buf);
			return -1;
		}
		r->folded[r->n_folded++] = (struct hot_folded){stack, s->samples};
	}
	kb_buf_free(&buf);
	qsort(r->folded, r->n_folded, sizeof *r->folded, cmp_folded);
	/* identical strings from distinct id sequences (same names in two
	 * modules) merge */
	size_t k = 0;
	for (size_t i = 0; i < r->n_folded; i++) {
		if (k && strcmp(r->folded[k - 1].stack, r->folded[i].stack) == 0)
			r->folded[k - 1].samples += r->folded[i].samples;
		else
			r->folded[k++] = r->folded[i];
	}
	r->n_folded = k;
	return 0;
}

static int build_regions(struct builder *b)
{
	struct hot_report *r = b->r;
	const struct prof *p = b->p;
	/* every region the recording names, plus the innermost paths seen */
	size_t cap = p->n_regions + b->region_len + 1;
	struct hot_region_row *rows = arena_alloc(&r->arena, cap * sizeof *rows);
	if (!rows)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < p->n_regions; i++) {
		rows[n].path = p->regions[i].path;
		rows[n].entries = p->regions[i].entries;
		rows[n].wall_ns = p->regions[i].wall_ns;
		n++;
	}
	for (size_t i = 0; i < b->region_cap; i++) {
		const struct region_acc *ra = &b->regions[i];
		if (!ra->used)
			continue;
		size_t k = 0;
		while (k < n && rows[k].path != ra->path)
			k++;
		if (k == n) {
			memset(&rows[n], 0, sizeof rows[n]);
			rows[n++].path = ra->path;
		}
		rows[k].self = count(ra->samples, ra->period, r->samples, r->period);
	}
	for (size_t k = 0; k < n; k++) {
		uint64_t s = 0, pd = 0;
		if (rows[k].path) {
			size_t len = strlen(rows[k].path);
			for (size_t i = 0; i < b->region_cap; i++) {
				const struct region_acc *ra = &b->regions[i];
				if (ra->used && ra->path &&
				    strncmp(ra->path, rows[k].path, len) == 0 &&
				    (ra->path[len] == '\0' || ra->path[len] == '/')) {
					s += ra->samples;
					pd += ra->period;
				}
			}
		} else {
			s = rows[k].self.samples;
			pd = rows[k].self.period;
		}
		rows[k].incl = count(s, pd, r->samples, r->period);
	}
	qsort(rows, n, sizeof *rows, cmp_region);
	r->regions = rows;
	r->n_regions = n;
	return 0;
}

int hot_report_build(struct prof *p, const struct hot_options *o, struct hot_report **out,
		     struct kb_error *err)
{
	*out = NULL;
	struct hot_options defaults = {0};
	if (!o)
		o = &defaults;
	const struct prof_event *ev =
	    o->event ? prof_event_find(p, 0, o->event) : prof_event_find(p, KBREC_EVENT_CPU, NULL);
	if (!ev) {
		if (o->event)
			return kb_error_set(err, "%s: no event named '%s' in the recording",
					    p->path, o->event);
		return kb_error_set(err,
				    "%s: the recording has no CPU-sample event (recorded with "
				    "--faults only? try `kbprof report --faults`)",
				    p->path);
	}
	struct hot_report *r = calloc(1, sizeof *r);
	if (!r)
		return kb_error_set(err, "out of memory");
	r->prof = p;
	r->event = ev;
	r->region = o->region;
	r->comm = o->comm;
	r->pid = o->pid;
	r->sort = o->sort;
	r->event_samples = ev->samples;
	struct builder b = {.p = p, .o = o, .r = r, .ev = ev, .callers_name = o->callers_of};
	b.orphan = sym_space_new(p->sym, "unknown process");
	int rc = -1;
	if (!b.orphan)
		goto oom;
	struct kb_error rerr = {{0}};
	int n = prof_each_sample(p, on_sample, &b, &rerr);
	if (b.oom)
		goto oom;
	if (n < 0) {
		kb_error_set(err, "%s", rerr.msg);
		goto out;
	}
	if (build_rows(&b) || (o->lines && build_lines(&b)) || (o->addresses && build_addrs(&b)) ||
	    (o->callers_of && build_callgraph(&b)) || (o->folded && build_folded(&b)) ||
	    build_regions(&b))
		goto oom;
	sym_session_address_counts(p->sym, r->addresses);
	if (prof_warnings(p, ev, &r->warnings, &r->n_warnings) != 0)
		goto oom;
	rc = 0;
	goto out;
oom:
	kb_error_set(err, "%s: out of memory while aggregating samples", p->path);
out:
	free(b.fns);
	free(b.addrs);
	free(b.stacks);
	free(b.regions);
	free(b.frames);
	free(b.ids);
	if (rc) {
		hot_report_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

void hot_report_free(struct hot_report *r)
{
	if (!r)
		return;
	arena_free(&r->arena);
	free(r);
}
