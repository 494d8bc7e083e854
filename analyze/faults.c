/* faults: attribution of page-fault samples (see faults.h). One sweep in
 * time order over mappings, forks, execs and faults keeps each process's
 * address space as an interval map, so a fault is attributed to the
 * mapping that held its address when it happened. Builder tables are
 * malloc'd and freed before returning; the report's rows live in its
 * arena. */
#include "analyze/faults.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE_SHIFT 12

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* ---- per-process interval maps ---- */

struct span {
	uint64_t start, end;
	uint32_t map; /* index in prof->maps */
};

struct space {
	uint32_t pid;
	struct span *s;
	size_t n, cap;
};

struct spaces {
	struct space *v;
	size_t n, cap;
};

static struct space *space_find(struct spaces *ss, uint32_t pid)
{
	for (size_t i = 0; i < ss->n; i++)
		if (ss->v[i].pid == pid)
			return &ss->v[i];
	return NULL;
}

static struct space *space_get(struct spaces *ss, uint32_t pid)
{
	struct space *sp = space_find(ss, pid);
	if (sp)
		return sp;
	if (ss->n == ss->cap) {
		size_t cap = ss->cap ? ss->cap * 2 : 8;
		struct space *v = realloc(ss->v, cap * sizeof *v);
		if (!v)
			return NULL;
		ss->v = v;
		ss->cap = cap;
	}
	sp = &ss->v[ss->n++];
	memset(sp, 0, sizeof *sp);
	sp->pid = pid;
	return sp;
}

static int span_reserve(struct space *sp, size_t more)
{
	if (sp->n + more <= sp->cap)
		return 0;
	size_t cap = sp->cap ? sp->cap * 2 : 32;
	while (cap < sp->n + more)
		cap *= 2;
	struct span *s = realloc(sp->s, cap * sizeof *s);
	if (!s)
		return -1;
	sp->s = s;
	sp->cap = cap;
	return 0;
}

/* Inserts [start, end) -> map, cutting away what it overlaps (the new
 * mapping replaced it). */
static int space_insert(struct space *sp, uint64_t start, uint64_t end, uint32_t map)
{
	if (end <= start || span_reserve(sp, 2) != 0)
		return end <= start ? 0 : -1;
	/* first span that ends after start */
	size_t lo = 0, hi = sp->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sp->s[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t i = lo;
	/* a span that straddles start keeps its left part, and its right
	 * part too if it also straddles end */
	if (i < sp->n && sp->s[i].start < start) {
		struct span left = sp->s[i];
		if (left.end > end) {
			struct span right = {end, left.end, left.map};
			memmove(&sp->s[i + 2], &sp->s[i + 1], (sp->n - i - 1) * sizeof *sp->s);
			sp->s[i].end = start;
			sp->s[i + 1] = right;
			sp->n++;
			i++;
		} else {
			sp->s[i].end = start;
			i++;
		}
	}
	/* spans wholly inside [start, end) go; one straddling end is cut */
	size_t j = i;
	while (j < sp->n && sp->s[j].end <= end)
		j++;
	if (j < sp->n && sp->s[j].start < end)
		sp->s[j].start = end;
	/* replace s[i..j) with the new span */
	if (j == i) {
		memmove(&sp->s[i + 1], &sp->s[i], (sp->n - i) * sizeof *sp->s);
		sp->n++;
	} else if (j > i + 1) {
		memmove(&sp->s[i + 1], &sp->s[j], (sp->n - j) * sizeof *sp->s);
		sp->n -= j - i - 1;
	}
	sp->s[i] = (struct span){start, end, map};
	return 0;
}

static const struct span *space_lookup(const struct space *sp, uint64_t addr)
{
	size_t lo = 0, hi = sp->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sp->s[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < sp->n && sp->s[lo].start <= addr)
		return &sp->s[lo];
	return NULL;
}

static int space_copy(struct space *dst, const struct space *src)
{
	dst->n = 0;
	if (span_reserve(dst, src->n) != 0)
		return -1;
	if (src->n)
		memcpy(dst->s, src->s, src->n * sizeof *src->s);
	dst->n = src->n;
	return 0;
}

/* ---- accumulation ---- */

struct page_acc {
	uint64_t key; /* page number << 20 ^ pid, 0: empty (pages at 0 never fault usefully) */
	uint32_t pid;
	uint64_t page;
	uint64_t faults, first_time;
	int32_t mapping; /* row index, -1 none */
	uint32_t map;    /* prof->maps index (for the file offset), UINT32_MAX none */
	const struct sym_function *first_fn;
};

/* A (group, process, page) triple, for distinct pages per region and per
 * mapping row: the group is a region path pointer, or a mapping row with
 * the top bit set (no user-space pointer has it). */
struct region_page {
	uint64_t page;
	uint32_t pid;
	uint64_t group;
	int used;
};

#define ROW_GROUP(row) ((1ULL << 63) | (uint64_t)(row))

struct mrow {
	struct flt_mapping_row row;
};

struct builder {
	struct prof *p;
	const struct flt_options *o;
	struct flt_report *r;
	int use_classified;
	const struct prof_event *minor_ev, *major_ev;

	struct page_acc *pages;
	size_t page_cap, page_len;
	struct region_page *rpages;
	size_t rpage_cap, rpage_len;

	struct flt_mapping_row *maps;
	size_t n_maps, cap_maps;
	struct flt_region_row *regions;
	size_t n_regions, cap_regions;
	uint64_t *fn_faults;
	size_t n_fn;
	uint64_t first_t, last_t;
	struct sym_space *orphan;
	int *row_of_map; /* mapping row of each prof->maps entry */
};

enum { CLS_ALL, CLS_MINOR, CLS_MAJOR, CLS_SKIP };

static int classify(const struct builder *b, uint32_t event_id)
{
	const struct prof_event *e = prof_event_by_id(b->p, event_id);
	if (!e || e->kind != KBREC_EVENT_FAULTS)
		return CLS_SKIP;
	int minor = e->perf_type == 1 && e->config == 5;
	int major = e->perf_type == 1 && e->config == 6;
	if (b->use_classified)
		return minor ? CLS_MINOR : major ? CLS_MAJOR : CLS_SKIP;
	return CLS_ALL;
}

/* The --region, --comm and --pid filters. */
static int selected(struct builder *b, const struct prof_fault *f)
{
	if (b->o->pid && f->pid != b->o->pid)
		return 0;
	if (b->o->comm) {
		const char *comm = prof_comm_at(b->p, f->pid, f->time);
		if (!comm || strcmp(comm, b->o->comm) != 0)
			return 0;
	}
	return !b->o->region ||
	       prof_region_match(prof_region_at(b->p, f->pid, f->tid, f->time), b->o->region);
}

static void count_add(struct flt_count *c, int cls)
{
	c->faults++;
	if (cls == CLS_MINOR)
		c->minor++;
	else if (cls == CLS_MAJOR)
		c->major++;
}

static enum flt_kind kind_of(const char *name)
{
	if (strcmp(name, "//anon") == 0 || name[0] == '\0' || strncmp(name, "[anon", 5) == 0 ||
	    strncmp(name, "/dev/zero", 9) == 0 || strncmp(name, "/SYSV", 5) == 0)
		return FLT_ANON;
	if (name[0] == '/')
		return FLT_FILE;
	if (strcmp(name, "[heap]") == 0)
		return FLT_HEAP;
	if (strncmp(name, "[stack", 6) == 0)
		return FLT_STACK;
	return FLT_OTHER;
}

const char *flt_kind_name(enum flt_kind k)
{
	switch (k) {
	case FLT_FILE:
		return "file";
	case FLT_HEAP:
		return "heap";
	case FLT_STACK:
		return "stack";
	case FLT_ANON:
		return "anonymous";
	case FLT_OTHER:
		return "other";
	default:
		return "none";
	}
}

/* The row of a mapping. Code files (any executable mapping of that name)
 * and anonymous memory are one row each, whatever their segments; a data
 * file is one row per mmap (per process and start), so two mappings of
 * one KB image, lazy and populated, stay apart. */
static int map_row(struct builder *b, const struct prof_mapping *m, int code_file)
{
	enum flt_kind k = m ? kind_of(m->name) : FLT_NONE;
	const char *name = !m ? "(no mapping recorded)" : k == FLT_ANON ? "anonymous" : m->name;
	int instance = k == FLT_FILE && !code_file;
	uint64_t start = instance ? m->start : 0;
	uint32_t pid = instance ? m->pid : 0;
	for (size_t i = 0; i < b->n_maps; i++) {
		const struct flt_mapping_row *r = &b->maps[i];
		if (r->kind == k && r->start == start && r->pid == pid &&
		    strcmp(r->name, name) == 0)
			return (int)i;
	}
	if (b->n_maps == b->cap_maps) {
		size_t cap = b->cap_maps ? b->cap_maps * 2 : 16;
		struct flt_mapping_row *t = realloc(b->maps, cap * sizeof *t);
		if (!t)
			return -1;
		b->maps = t;
		b->cap_maps = cap;
	}
	struct flt_mapping_row *row = &b->maps[b->n_maps];
	memset(row, 0, sizeof *row);
	row->name = name;
	row->kind = k;
	row->instance = instance;
	row->start = start;
	row->pid = pid;
	row->populated = -1;
	return (int)b->n_maps++;
}

/* Flags of the mappings of each row (sizes: row_sizes). */
static void note_mapping(struct builder *b, int row, const struct prof_mapping *m)
{
	struct flt_mapping_row *r = &b->maps[row];
	r->maps++;
	if (m->map_flags & MAP_SHARED)
		r->shared = 1;
	if (m->map_flags & MAP_POPULATE)
		r->populated = 1;
	if (m->prot & PROT_EXEC)
		r->code = 1;
}

struct extent {
	int row;
	uint64_t start, len;
};

static int cmp_extent(const void *x, const void *y)
{
	const struct extent *a = x, *b = y;
	if (a->row != b->row)
		return a->row < b->row ? -1 : 1;
	return (a->start > b->start) - (a->start < b->start);
}

/* A row's size: the records of one start (a heap that grew, re-reported
 * whole at each brk) count once, at their largest; distinct starts add up. */
static int row_sizes(struct builder *b)
{
	const struct prof *p = b->p;
	struct extent *e = malloc((p->n_maps ? p->n_maps : 1) * sizeof *e);
	if (!e)
		return -1;
	for (size_t i = 0; i < p->n_maps; i++)
		e[i] = (struct extent){b->row_of_map[i], p->maps[i].start,
				       p->maps[i].end - p->maps[i].start};
	if (p->n_maps)
		qsort(e, p->n_maps, sizeof *e, cmp_extent);
	for (size_t i = 0; i < p->n_maps;) {
		size_t j = i;
		uint64_t len = 0;
		while (j < p->n_maps && e[j].row == e[i].row && e[j].start == e[i].start) {
			if (e[j].len > len)
				len = e[j].len;
			j++;
		}
		struct flt_mapping_row *r = &b->maps[e[i].row];
		r->size += len;
		r->mapped_pages = (r->size + FLT_PAGE_SIZE - 1) / FLT_PAGE_SIZE;
		i = j;
	}
	free(e);
	return 0;
}

static int region_row(struct builder *b, const char *path)
{
	for (size_t i = 0; i < b->n_regions; i++)
		if (b->regions[i].path == path)
			return (int)i;
	if (b->n_regions == b->cap_regions) {
		size_t cap = b->cap_regions ? b->cap_regions * 2 : 16;
		struct flt_region_row *t = realloc(b->regions, cap * sizeof *t);
		if (!t)
			return -1;
		b->regions = t;
		b->cap_regions = cap;
	}
	struct flt_region_row *row = &b->regions[b->n_regions];
	memset(row, 0, sizeof *row);
	row->path = path;
	for (size_t i = 0; i < b->p->n_regions; i++)
		if (b->p->regions[i].path == path) {
			row->entries = b->p->regions[i].entries;
			row->wall_ns = b->p->regions[i].wall_ns;
		}
	return (int)b->n_regions++;
}

/* Returns the page's accumulator, creating it (new = 1) on first sight. */
static struct page_acc *page_get(struct builder *b, uint32_t pid, uint64_t page, int *isnew)
{
	if ((b->page_len + 1) * 2 > b->page_cap) {
		size_t cap = b->page_cap ? b->page_cap * 2 : 4096;
		struct page_acc *t = calloc(cap, sizeof *t);
		if (!t)
			return NULL;
		for (size_t i = 0; i < b->page_cap; i++) {
			if (!b->pages[i].faults)
				continue;
			size_t j = b->pages[i].key & (cap - 1);
			while (t[j].faults)
				j = (j + 1) & (cap - 1);
			t[j] = b->pages[i];
		}
		free(b->pages);
		b->pages = t;
		b->page_cap = cap;
	}
	uint64_t key = mix(page ^ ((uint64_t)pid << 44) ^ pid);
	size_t j = key & (b->page_cap - 1);
	while (b->pages[j].faults) {
		if (b->pages[j].page == page && b->pages[j].pid == pid) {
			*isnew = 0;
			return &b->pages[j];
		}
		j = (j + 1) & (b->page_cap - 1);
	}
	*isnew = 1;
	b->page_len++;
	struct page_acc *a = &b->pages[j];
	a->key = key;
	a->pid = pid;
	a->page = page;
	return a;
}

/* Is (pid, page) new within `group`? */
static int group_page_new(struct builder *b, uint32_t pid, uint64_t page, uint64_t group)
{
	if ((b->rpage_len + 1) * 2 > b->rpage_cap) {
		size_t cap = b->rpage_cap ? b->rpage_cap * 2 : 4096;
		struct region_page *t = calloc(cap, sizeof *t);
		if (!t)
			return -1;
		for (size_t i = 0; i < b->rpage_cap; i++) {
			struct region_page *x = &b->rpages[i];
			if (!x->used)
				continue;
			size_t j = mix(x->page ^ ((uint64_t)x->pid << 44) ^ x->group) & (cap - 1);
			while (t[j].used)
				j = (j + 1) & (cap - 1);
			t[j] = *x;
		}
		free(b->rpages);
		b->rpages = t;
		b->rpage_cap = cap;
	}
	size_t j = mix(page ^ ((uint64_t)pid << 44) ^ group) & (b->rpage_cap - 1);
	while (b->rpages[j].used) {
		struct region_page *x = &b->rpages[j];
		if (x->page == page && x->pid == pid && x->group == group)
			return 0;
		j = (j + 1) & (b->rpage_cap - 1);
	}
	b->rpages[j] = (struct region_page){page, pid, group, 1};
	b->rpage_len++;
	return 1;
}

static void finish_count(struct flt_count *c, uint64_t all)
{
	c->pct = all ? 100.0 * (double)c->faults / (double)all : 0;
	c->mb_touched = (double)c->pages * FLT_PAGE_SIZE / (1024.0 * 1024.0);
	c->density = c->mb_touched > 0 ? (double)c->faults / c->mb_touched : 0;
}

struct ev {
	uint64_t time, seq;
	int kind; /* 0 task, 1 mmap, 2 fault: the order at equal times */
	size_t idx;
};

static int cmp_ev(const void *x, const void *y)
{
	const struct ev *a = x, *b = y;
	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind - b->kind;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

static int cmp_map_row(const void *x, const void *y)
{
	const struct flt_mapping_row *a = x, *b = y;
	if (a->c.faults != b->c.faults)
		return a->c.faults < b->c.faults ? 1 : -1;
	int c = strcmp(a->name, b->name);
	if (c)
		return c;
	return (a->start > b->start) - (a->start < b->start);
}

static int cmp_region_row(const void *x, const void *y)
{
	const struct flt_region_row *a = x, *b = y;
	if (!a->path || !b->path)
		return a->path ? -1 : b->path ? 1 : 0;
	return strcmp(a->path, b->path);
}

static int cmp_fn_row(const void *x, const void *y)
{
	const struct flt_function_row *a = x, *b = y;
	if (a->faults != b->faults)
		return a->faults < b->faults ? 1 : -1;
	return strcmp(a->fn->name, b->fn->name);
}

static int cmp_page_row(const void *x, const void *y)
{
	const struct flt_page_row *a = x, *b = y;
	if (a->faults != b->faults)
		return a->faults < b->faults ? 1 : -1;
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return (a->addr > b->addr) - (a->addr < b->addr);
}

static int sweep(struct builder *b)
{
	struct prof *p = b->p;
	struct flt_report *r = b->r;
	size_t n = p->n_tasks + p->n_maps + p->n_faults;
	struct ev *evs = malloc((n ? n : 1) * sizeof *evs);
	struct spaces ss = {0};
	int rc = -1;
	if (!evs)
		goto out;
	size_t k = 0;
	for (size_t i = 0; i < p->n_tasks; i++)
		evs[k++] = (struct ev){p->tasks[i].time, p->tasks[i].seq, 0, i};
	for (size_t i = 0; i < p->n_maps; i++)
		evs[k++] = (struct ev){p->maps[i].time, p->maps[i].seq, 1, i};
	for (size_t i = 0; i < p->n_faults; i++)
		evs[k++] = (struct ev){p->faults[i].time, i, 2, i};
	qsort(evs, k, sizeof *evs, cmp_ev);

	b->row_of_map = malloc((p->n_maps ? p->n_maps : 1) * sizeof *b->row_of_map);
	if (!b->row_of_map)
		goto out;
	/* which names have code: those are grouped by name */
	const char **code_names = malloc((p->n_maps ? p->n_maps : 1) * sizeof *code_names);
	if (!code_names)
		goto out;
	size_t n_code = 0;
	for (size_t i = 0; i < p->n_maps; i++) {
		if (!(p->maps[i].prot & PROT_EXEC))
			continue;
		size_t j = 0;
		while (j < n_code && code_names[j] != p->maps[i].name)
			j++;
		if (j == n_code)
			code_names[n_code++] = p->maps[i].name;
	}
	for (size_t i = 0; i < p->n_maps; i++) {
		int code = 0;
		for (size_t j = 0; j < n_code && !code; j++)
			code = code_names[j] == p->maps[i].name; /* interned */
		int row = map_row(b, &p->maps[i], code);
		if (row < 0) {
			free(code_names);
			goto out;
		}
		if (row < 0)
			goto out;
		note_mapping(b, row, &p->maps[i]);
		b->row_of_map[i] = row;
	}
	free(code_names);
	if (row_sizes(b) != 0)
		goto out;
	uint64_t t0 = p->session.start_ns ? p->session.start_ns : p->first_time;
	for (size_t e = 0; e < k; e++) {
		const struct ev *ev = &evs[e];
		if (ev->kind == 0) {
			const struct prof_task *t = &p->tasks[ev->idx];
			struct space *sp = space_get(&ss, t->pid);
			if (!sp)
				goto out;
			if (t->exec) {
				sp->n = 0;
			} else {
				struct space *parent = space_find(&ss, t->ppid);
				if (parent && space_copy(sp, parent) != 0)
					goto out;
			}
			continue;
		}
		if (ev->kind == 1) {
			const struct prof_mapping *m = &p->maps[ev->idx];
			struct space *sp = space_get(&ss, m->pid);
			if (!sp || space_insert(sp, m->start, m->end, (uint32_t)ev->idx) != 0)
				goto out;
			continue;
		}
		const struct prof_fault *f = &p->faults[ev->idx];
		r->samples++;
		int cls = classify(b, f->event_id);
		if (cls == CLS_SKIP)
			continue;
		r->perf_faults++;
		if (!selected(b, f))
			continue;
		const char *region = prof_region_at(p, f->pid, f->tid, f->time);
		count_add(&r->total, cls);
		if (!b->first_t || f->time < b->first_t)
			b->first_t = f->time;
		if (f->time > b->last_t)
			b->last_t = f->time;

		struct space *sp = space_find(&ss, f->pid);
		const struct span *span = sp ? space_lookup(sp, f->addr) : NULL;
		int mrow = span ? b->row_of_map[span->map] : map_row(b, NULL, 0);
		int rrow = region_row(b, region);
		if (mrow < 0 || rrow < 0)
			goto out;
		count_add(&b->maps[mrow].c, cls);
		count_add(&b->regions[rrow].c, cls);

		struct sym_space *ssp = prof_space_at(p, f->pid, f->time);
		const struct sym_info *info = sym_lookup(ssp ? ssp : b->orphan, f->ip, 0);
		if (!info)
			goto out;
		if (f->ip >= 0xffff800000000000ULL)
			r->kernel_ip++;
		uint32_t fid = info->function->id;
		if (fid >= b->n_fn) {
			size_t nn = b->n_fn ? b->n_fn : 256;
			while (nn <= fid)
				nn *= 2;
			uint64_t *t = realloc(b->fn_faults, nn * sizeof *t);
			if (!t)
				goto out;
			memset(t + b->n_fn, 0, (nn - b->n_fn) * sizeof *t);
			b->fn_faults = t;
			b->n_fn = nn;
		}
		b->fn_faults[fid]++;

		uint64_t page = f->addr >> PAGE_SHIFT;
		int isnew;
		struct page_acc *pa = page_get(b, f->pid, page, &isnew);
		if (!pa)
			goto out;
		if (isnew) {
			pa->first_time = f->time - (f->time >= t0 ? t0 : 0);
			pa->first_fn = info->function;
			pa->mapping = mrow;
			pa->map = span ? span->map : UINT32_MAX;
			r->total.pages++;
		}
		pa->faults++;
		int rn = group_page_new(b, f->pid, page, (uint64_t)(uintptr_t)region);
		int mn = rn < 0 ? -1 : group_page_new(b, f->pid, page, ROW_GROUP(mrow));
		if (rn < 0 || mn < 0)
			goto out;
		b->regions[rrow].c.pages += (uint64_t)rn;
		b->maps[mrow].c.pages += (uint64_t)mn;
	}
	rc = 0;
out:
	for (size_t i = 0; i < ss.n; i++)
		free(ss.v[i].s);
	free(ss.v);
	free(evs);
	return rc;
}

static int build_tables(struct builder *b)
{
	struct flt_report *r = b->r;
	struct prof *p = b->p;
	size_t limit = b->o->limit ? b->o->limit : 20;
	uint64_t all = r->total.faults;
	finish_count(&r->total, all);

	/* regions: every region the recording names, plus those that faulted */
	for (size_t i = 0; i < p->n_regions; i++)
		if (region_row(b, p->regions[i].path) < 0)
			return -1;
	r->regions = arena_alloc(&r->arena, (b->n_regions ? b->n_regions : 1) * sizeof *r->regions);
	if (!r->regions)
		return -1;
	for (size_t i = 0; i < b->n_regions; i++) {
		r->regions[i] = b->regions[i];
		finish_count(&r->regions[i].c, all);
	}
	r->n_regions = b->n_regions;
	for (size_t i = 0; i < r->n_regions; i++) {
		struct flt_region_row *g = &r->regions[i];
		if (!g->path) {
			g->incl = g->c;
			g->incl.pages = 0;
			continue;
		}
		size_t len = strlen(g->path);
		for (size_t j = 0; j < r->n_regions; j++) {
			const struct flt_region_row *h = &r->regions[j];
			if (h->path && strncmp(h->path, g->path, len) == 0 &&
			    (h->path[len] == '\0' || h->path[len] == '/')) {
				g->incl.faults += h->c.faults;
				g->incl.minor += h->c.minor;
				g->incl.major += h->c.major;
			}
		}
		g->incl.pct = all ? 100.0 * (double)g->incl.faults / (double)all : 0;
	}
	qsort(r->regions, r->n_regions, sizeof *r->regions, cmp_region_row);

	/* mappings: those that faulted, largest first, then up to the limit
	 * of the rest (a populated KB image shows with 0 faults) */
	r->mappings = arena_alloc(&r->arena, (b->n_maps ? b->n_maps : 1) * sizeof *r->mappings);
	if (!r->mappings)
		return -1;
	for (size_t i = 0; i < b->n_maps; i++) {
		struct flt_mapping_row *m = &r->mappings[i];
		*m = b->maps[i];
		finish_count(&m->c, all);
		m->touched_pct =
		    m->mapped_pages ? 100.0 * (double)m->c.pages / (double)m->mapped_pages : 0;
	}
	qsort(r->mappings, b->n_maps, sizeof *r->mappings, cmp_map_row);
	r->n_mappings = b->n_maps;

	/* functions */
	size_t nf = 0;
	for (size_t i = 0; i < b->n_fn; i++)
		nf += b->fn_faults[i] != 0;
	r->functions = arena_alloc(&r->arena, (nf ? nf : 1) * sizeof *r->functions);
	if (!r->functions)
		return -1;
	for (size_t i = 0; i < b->n_fn; i++)
		if (b->fn_faults[i])
			r->functions[r->n_functions++] = (struct flt_function_row){
			    sym_function_get(p->sym, (uint32_t)i), b->fn_faults[i],
			    all ? 100.0 * (double)b->fn_faults[i] / (double)all : 0};
	qsort(r->functions, r->n_functions, sizeof *r->functions, cmp_fn_row);
	r->n_functions_all = r->n_functions;
	if (r->n_functions > limit)
		r->n_functions = limit;

	/* hottest pages */
	size_t np = b->page_len;
	struct flt_page_row *pr = malloc((np ? np : 1) * sizeof *pr);
	if (!pr)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < b->page_cap; i++) {
		const struct page_acc *a = &b->pages[i];
		if (!a->faults)
			continue;
		struct flt_page_row row = {.addr = a->page << PAGE_SHIFT,
					   .pid = a->pid,
					   .mapping =
					       a->mapping >= 0 ? b->maps[a->mapping].name : "",
					   .faults = a->faults,
					   .first_ns = a->first_time,
					   .first_fn = a->first_fn};
		if (a->map != UINT32_MAX && kind_of(p->maps[a->map].name) == FLT_FILE) {
			const struct prof_mapping *m = &p->maps[a->map];
			row.has_offset = 1;
			row.file_offset = m->pgoff + (row.addr - m->start);
		}
		pr[k++] = row;
	}
	qsort(pr, k, sizeof *pr, cmp_page_row);
	r->n_pages = k < limit ? k : limit;
	r->pages = arena_alloc(&r->arena, (r->n_pages ? r->n_pages : 1) * sizeof *r->pages);
	if (!r->pages) {
		free(pr);
		return -1;
	}
	memcpy(r->pages, pr, r->n_pages * sizeof *pr);
	free(pr);
	return 0;
}

static int build_bins(struct builder *b)
{
	struct flt_report *r = b->r;
	struct prof *p = b->p;
	size_t nb = b->o->bins ? b->o->bins : 20;
	uint64_t t0 = p->session.start_ns ? p->session.start_ns : p->first_time;
	uint64_t dur = prof_duration_ns(p);
	if (!dur)
		dur = 1;
	r->bins = arena_alloc(&r->arena, nb * sizeof *r->bins);
	if (!r->bins)
		return -1;
	r->n_bins = nb;
	for (size_t i = 0; i < nb; i++) {
		r->bins[i].from_ns = (uint64_t)((double)dur * (double)i / (double)nb);
		r->bins[i].to_ns = (uint64_t)((double)dur * (double)(i + 1) / (double)nb);
	}
	/* a second pass over the kept faults: cheap, and keeps the sweep simple */
	for (size_t i = 0; i < p->n_faults; i++) {
		const struct prof_fault *f = &p->faults[i];
		if (classify(b, f->event_id) == CLS_SKIP)
			continue;
		if (!selected(b, f))
			continue;
		uint64_t rel = f->time > t0 ? f->time - t0 : 0;
		size_t bin = (size_t)((double)rel / (double)dur * (double)nb);
		if (bin >= nb)
			bin = nb - 1;
		r->bins[bin].faults++;
	}
	return 0;
}

static int cmp_folded(const void *x, const void *y)
{
	const struct flt_folded *a = x, *b = y;
	return strcmp(a->stack, b->stack);
}

/* Folded stacks of the selected faults: each chain symbolized root first,
 * then equal strings merged (sorting them is what merges them). */
static int build_folded(struct builder *b)
{
	struct flt_report *r = b->r;
	struct prof *p = b->p;
	r->folded = arena_alloc(&r->arena, (p->n_faults ? p->n_faults : 1) * sizeof *r->folded);
	if (!r->folded)
		return -1;
	struct kb_buf buf = {0};
	size_t n = 0;
	for (size_t i = 0; i < p->n_faults; i++) {
		const struct prof_fault *f = &p->faults[i];
		if (classify(b, f->event_id) == CLS_SKIP)
			continue;
		if (!selected(b, f))
			continue;
		struct sym_space *sp = prof_space_at(p, f->pid, f->time);
		if (!sp)
			sp = b->orphan;
		kb_buf_reset(&buf);
		uint64_t one = f->ip;
		const uint64_t *chain = f->n_chain ? f->chain : &one;
		uint32_t nc = f->n_chain ? f->n_chain : 1;
		int first = 1;
		for (uint32_t k = nc; k-- > 0;) {
			if (k > 0 && chain[k] == 0)
				continue;
			const struct sym_info *info = sym_lookup(sp, chain[k], k > 0);
			if (!info) {
				kb_buf_free(&buf);
				return -1;
			}
			if (!first)
				kb_buf_putc(&buf, ';');
			first = 0;
			for (const char *c = info->function->name; *c; c++)
				kb_buf_putc(&buf, *c == ';' || *c == ' ' ? '_' : *c);
		}
		const char *stack =
		    buf.oom ? NULL : arena_strdup(&r->arena, buf.len ? buf.data : "");
		if (!stack) {
			kb_buf_free(&buf);
			return -1;
		}
		r->folded[n++] = (struct flt_folded){stack, 1};
	}
	kb_buf_free(&buf);
	if (n)
		qsort(r->folded, n, sizeof *r->folded, cmp_folded);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && strcmp(r->folded[k - 1].stack, r->folded[i].stack) == 0)
			r->folded[k - 1].faults++;
		else
			r->folded[k++] = r->folded[i];
	}
	r->n_folded = k;
	return 0;
}

static void build_rusage(struct builder *b)
{
	struct flt_report *r = b->r;
	struct prof *p = b->p;
	if (!p->finished)
		return;
	r->have_rusage = 1;
	r->ru_minflt = p->finish.ru_minflt;
	r->ru_majflt = p->finish.ru_majflt;
	uint64_t ru = r->ru_minflt + r->ru_majflt;
	r->difference = (int64_t)(ru - r->perf_faults);
	if (ru > r->perf_faults)
		r->explanation =
		    "getrusage counts more: faults the kernel takes on the process's behalf "
		    "(MAP_POPULATE, madvise(MADV_WILLNEED/MADV_POPULATE_*), mlock, reads "
		    "through get_user_pages) raise ru_minflt/ru_majflt but no page-fault "
		    "event, and faults before the events were enabled at exec (the kernel "
		    "loading the program) count in rusage only";
	else if (ru < r->perf_faults)
		r->explanation =
		    "the perf events count more: getrusage(RUSAGE_CHILDREN) only sums "
		    "processes that were waited for, and lost samples are not in either";
	else
		r->explanation = "they agree";
}

int flt_report_build(struct prof *p, const struct flt_options *o, struct flt_report **out,
		     struct kb_error *err)
{
	*out = NULL;
	struct flt_options defaults = {0};
	if (!o)
		o = &defaults;
	const struct prof_event *any = prof_event_find(p, KBREC_EVENT_FAULTS, NULL);
	for (size_t i = 0; i < p->n_events; i++)
		if (p->events[i].kind == KBREC_EVENT_FAULTS && p->events[i].samples) {
			any = &p->events[i]; /* prefer one that was sampled */
			break;
		}
	if (!any)
		return kb_error_set(err,
				    "%s: the recording has no page-fault samples (record with "
				    "`kbprof record --faults`)",
				    p->path);
	if (!p->faults_kept)
		return kb_error_set(err, "%s: loaded without its fault samples (keep_faults)",
				    p->path);
	struct flt_report *r = calloc(1, sizeof *r);
	if (!r)
		return kb_error_set(err, "out of memory");
	r->prof = p;
	r->region = o->region;
	r->comm = o->comm;
	r->pid = o->pid;
	struct builder b = {.p = p, .o = o, .r = r};
	for (size_t i = 0; i < p->n_events; i++) {
		const struct prof_event *e = &p->events[i];
		/* declared but never sampled does not count */
		if (e->kind != KBREC_EVENT_FAULTS || e->perf_type != 1 || !e->samples)
			continue;
		if (e->config == 5)
			b.minor_ev = e;
		if (e->config == 6)
			b.major_ev = e;
	}
	b.use_classified = b.minor_ev || b.major_ev;
	r->classified = b.minor_ev && b.major_ev;
	struct kb_buf names = {0};
	for (size_t i = 0; i < p->n_events; i++) {
		const struct prof_event *e = &p->events[i];
		if (e->kind != KBREC_EVENT_FAULTS)
			continue;
		int used = !b.use_classified || e == b.minor_ev || e == b.major_ev;
		if (!used || (!e->samples && any->samples))
			continue;
		kb_buf_printf(&names, "%s%s", names.len ? ", " : "", e->name);
	}
	r->events = arena_strdup(&r->arena, names.len ? names.data : "");
	kb_buf_free(&names);
	b.orphan = sym_space_new(p->sym, "unknown process");
	int rc = -1;
	if (!r->events || !b.orphan)
		goto out;
	if (sweep(&b) != 0 || build_tables(&b) != 0 || build_bins(&b) != 0 ||
	    (o->folded && build_folded(&b) != 0))
		goto out;
	build_rusage(&b);
	if (prof_warnings(p, any, &r->warnings, &r->n_warnings) != 0)
		goto out;
	rc = 0;
out:
	free(b.pages);
	free(b.rpages);
	free(b.maps);
	free(b.regions);
	free(b.fn_faults);
	free(b.row_of_map);
	if (rc) {
		flt_report_free(r);
		return kb_error_set(err, "%s: out of memory while attributing faults", p->path);
	}
	*out = r;
	return 0;
}

void flt_report_free(struct flt_report *r)
{
	if (!r)
		return;
	arena_free(&r->arena);
	free(r);
}
