/* profile: the side-band pass over a recording (see profile.h). Builds the
 * process images (symbolizer spaces), mappings, module map, region
 * timelines and totals that hotspots and faults read. */
#include "analyze/profile.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>

/* A side-band record that shapes process images, in time order. */
struct item {
	uint64_t time, seq;
	enum kbrec_type type;
	uint32_t pid, ppid, tid, flags;
	const char *name; /* COMM */
	size_t map;       /* MMAP: index in p->maps */
};

struct loader {
	struct prof *p;
	struct item *items;
	size_t n_items, cap_items;
	size_t cap_events, cap_maps, cap_modules, cap_faults, cap_notes, cap_regions, cap_tasks;
	/* region path -> index in p->regions */
	uint32_t *region_index;
	size_t region_index_cap;
	int keep_faults, keep_chains;
	uint64_t seq;
};

#define GROW(arr, n, cap, init)                                                                    \
	((n) < (cap) ? 0                                                                           \
		     : ((cap) = (cap) ? (cap)*2 : (init),                                          \
			((arr) = reallocarray_or_free((arr), (cap), sizeof *(arr))) ? 0 : -1))

static void *reallocarray_or_free(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n, size);
	if (!q)
		free(p);
	return q;
}

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* ---- processes and threads ---- */

static struct prof_proc *proc_find(struct prof *p, uint32_t pid)
{
	if (p->last_proc && p->last_proc->pid == pid)
		return p->last_proc;
	if (!p->proc_hash_cap)
		return NULL;
	for (struct prof_proc *pr = p->proc_hash[hash64(pid) & (p->proc_hash_cap - 1)]; pr;
	     pr = pr->hnext)
		if (pr->pid == pid)
			return p->last_proc = pr;
	return NULL;
}

static int rehash_procs(struct prof *p)
{
	size_t cap = p->proc_hash_cap ? p->proc_hash_cap * 2 : 64;
	struct prof_proc **t = calloc(cap, sizeof *t);
	if (!t)
		return -1;
	for (size_t i = 0; i < p->proc_hash_cap; i++) {
		for (struct prof_proc *pr = p->proc_hash[i], *next; pr; pr = next) {
			next = pr->hnext;
			size_t j = hash64(pr->pid) & (cap - 1);
			pr->hnext = t[j];
			t[j] = pr;
		}
	}
	free(p->proc_hash);
	p->proc_hash = t;
	p->proc_hash_cap = cap;
	return 0;
}

static int proc_push_image(struct prof_proc *pr, uint64_t time, struct sym_space *space,
			   const char *comm)
{
	if (GROW(pr->images, pr->n_images, pr->cap_images, 2))
		return -1;
	pr->images[pr->n_images++] = (struct prof_image){time, space, comm};
	return 0;
}

static struct sym_space *new_space(struct prof *p, uint32_t pid, uint64_t time)
{
	char label[64];
	snprintf(label, sizeof label, "pid %" PRIu32 " at %" PRIu64 " ns", pid,
		 time >= p->session.start_ns ? time - p->session.start_ns : 0);
	return sym_space_new(p->sym, label);
}

/* The process pid, created with one empty image at `time` if unknown. */
static struct prof_proc *proc_get(struct prof *p, uint32_t pid, uint64_t time)
{
	struct prof_proc *pr = proc_find(p, pid);
	if (pr)
		return pr;
	if ((p->n_procs + 1) * 2 > p->proc_hash_cap && rehash_procs(p) != 0)
		return NULL;
	pr = arena_alloc(&p->arena, sizeof *pr);
	if (!pr)
		return NULL;
	pr->pid = pid;
	size_t j = hash64(pid) & (p->proc_hash_cap - 1);
	pr->hnext = p->proc_hash[j];
	p->proc_hash[j] = pr;
	p->n_procs++;
	p->last_proc = pr;
	struct sym_space *sp = new_space(p, pid, time);
	if (!sp || proc_push_image(pr, time, sp, NULL) != 0)
		return NULL;
	return pr;
}

const struct prof_proc *prof_proc_get(struct prof *p, uint32_t pid)
{
	return proc_find(p, pid);
}

static const struct prof_image *image_at(struct prof *p, uint32_t pid, uint64_t t)
{
	struct prof_proc *pr = proc_find(p, pid);
	if (!pr || !pr->n_images)
		return NULL;
	size_t lo = 0, hi = pr->n_images;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (pr->images[mid].time <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return &pr->images[lo ? lo - 1 : 0];
}

struct sym_space *prof_space_at(struct prof *p, uint32_t pid, uint64_t t)
{
	const struct prof_image *im = image_at(p, pid, t);
	return im ? im->space : NULL;
}

const char *prof_comm_at(struct prof *p, uint32_t pid, uint64_t t)
{
	const struct prof_image *im = image_at(p, pid, t);
	return im ? im->comm : NULL;
}

static uint64_t thread_key(uint32_t pid, uint32_t tid)
{
	return ((uint64_t)pid << 32) | tid;
}

static struct prof_thread *thread_find(struct prof *p, uint32_t pid, uint32_t tid)
{
	struct prof_thread *th = p->last_thread;
	if (th && th->pid == pid && th->tid == tid)
		return th;
	if (!p->thread_hash_cap)
		return NULL;
	for (th = p->thread_hash[hash64(thread_key(pid, tid)) & (p->thread_hash_cap - 1)]; th;
	     th = th->hnext)
		if (th->pid == pid && th->tid == tid)
			return p->last_thread = th;
	return NULL;
}

static struct prof_thread *thread_get(struct prof *p, uint32_t pid, uint32_t tid)
{
	struct prof_thread *th = thread_find(p, pid, tid);
	if (th)
		return th;
	if ((p->n_threads + 1) * 2 > p->thread_hash_cap) {
		size_t cap = p->thread_hash_cap ? p->thread_hash_cap * 2 : 64;
		struct prof_thread **t = calloc(cap, sizeof *t);
		if (!t)
			return NULL;
		for (size_t i = 0; i < p->thread_hash_cap; i++) {
			for (struct prof_thread *x = p->thread_hash[i], *next; x; x = next) {
				next = x->hnext;
				size_t j = hash64(thread_key(x->pid, x->tid)) & (cap - 1);
				x->hnext = t[j];
				t[j] = x;
			}
		}
		free(p->thread_hash);
		p->thread_hash = t;
		p->thread_hash_cap = cap;
	}
	th = arena_alloc(&p->arena, sizeof *th);
	if (!th)
		return NULL;
	th->pid = pid;
	th->tid = tid;
	size_t j = hash64(thread_key(pid, tid)) & (p->thread_hash_cap - 1);
	th->hnext = p->thread_hash[j];
	p->thread_hash[j] = th;
	p->n_threads++;
	p->last_thread = th;
	return th;
}

const char *prof_region_at(struct prof *p, uint32_t pid, uint32_t tid, uint64_t t)
{
	struct prof_thread *th = thread_find(p, pid, tid);
	if (!th || !th->n)
		return NULL;
	size_t lo = 0, hi = th->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (th->tr[mid].time <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? th->tr[lo - 1].path : NULL;
}

int prof_region_match(const char *path, const char *want)
{
	if (!path || !want || !*want)
		return 0;
	size_t wl = strlen(want);
	if (strchr(want, '/'))
		return strncmp(path, want, wl) == 0 && (path[wl] == '\0' || path[wl] == '/');
	for (const char *c = path; *c;) {
		const char *slash = strchr(c, '/');
		size_t len = slash ? (size_t)(slash - c) : strlen(c);
		if (len == wl && memcmp(c, want, wl) == 0)
			return 1;
		if (!slash)
			break;
		c = slash + 1;
	}
	return 0;
}

/* ---- regions ---- */

static struct prof_region *region_get(struct loader *l, const char *path)
{
	struct prof *p = l->p;
	if ((p->n_regions + 1) * 2 > l->region_index_cap) {
		size_t cap = l->region_index_cap ? l->region_index_cap * 2 : 64;
		uint32_t *t = calloc(cap, sizeof *t);
		if (!t)
			return NULL;
		for (size_t i = 0; i < p->n_regions; i++) {
			size_t j = hash64((uintptr_t)p->regions[i].path) & (cap - 1);
			while (t[j])
				j = (j + 1) & (cap - 1);
			t[j] = (uint32_t)i + 1;
		}
		free(l->region_index);
		l->region_index = t;
		l->region_index_cap = cap;
	}
	size_t j = hash64((uintptr_t)path) & (l->region_index_cap - 1);
	while (l->region_index[j]) {
		struct prof_region *r = &p->regions[l->region_index[j] - 1];
		if (r->path == path)
			return r;
		j = (j + 1) & (l->region_index_cap - 1);
	}
	if (GROW(p->regions, p->n_regions, l->cap_regions, 16))
		return NULL;
	struct prof_region *r = &p->regions[p->n_regions++];
	memset(r, 0, sizeof *r);
	r->path = path;
	l->region_index[j] = (uint32_t)p->n_regions;
	return r;
}

static int on_region(struct loader *l, const struct kbrec_record *rec)
{
	struct prof *p = l->p;
	const struct kbrec_region_event *ev = &rec->region;
	const char *path = strtab_intern(&p->strs, ev->path);
	struct prof_thread *th = thread_get(p, ev->pid, ev->tid);
	if (!path || !th)
		return -1;
	struct prof_region *r = region_get(l, path);
	if (!r)
		return -1;
	const char *now = path;
	if (rec->type == KBREC_REGION_END) {
		const char *slash = strrchr(path, '/');
		now = slash && ev->depth > 1
			  ? strtab_intern_n(&p->strs, path, (size_t)(slash - path))
			  : NULL;
	} else {
		r->entries++;
	}
	if (GROW(th->tr, th->n, th->cap, 16))
		return -1;
	th->tr[th->n++] = (struct prof_transition){ev->time, now, l->seq};

	/* Wall time of matched pairs: the begin time of the open region at
	 * each depth of this thread. */
	if (ev->depth == 0 || ev->depth > 4096)
		return 0; /* nonsense depth: keep the transition, skip the timing */
	if (ev->depth >= th->open_cap) {
		size_t cap = th->open_cap ? th->open_cap : 16;
		while (cap <= ev->depth)
			cap *= 2;
		uint64_t *t = realloc(th->open, cap * sizeof *t);
		if (!t)
			return -1;
		memset(t + th->open_cap, 0, (cap - th->open_cap) * sizeof *t);
		th->open = t;
		th->open_cap = cap;
	}
	if (rec->type == KBREC_REGION_BEGIN) {
		th->open[ev->depth] = ev->time + 1; /* +1: 0 means "not open" */
	} else if (th->open[ev->depth] && ev->time + 1 >= th->open[ev->depth]) {
		r->wall_ns += ev->time + 1 - th->open[ev->depth];
		th->open[ev->depth] = 0;
	}
	return 0;
}

/* ---- the pass ---- */

static int add_item(struct loader *l, struct item it)
{
	if (GROW(l->items, l->n_items, l->cap_items, 256))
		return -1;
	it.seq = l->seq;
	l->items[l->n_items++] = it;
	return 0;
}

static void seen_time(struct prof *p, uint64_t t)
{
	if (!t)
		return;
	if (!p->first_time || t < p->first_time)
		p->first_time = t;
	if (t > p->last_time)
		p->last_time = t;
}

static struct prof_event *event_lookup(struct prof *p, uint32_t id)
{
	for (size_t i = 0; i < p->n_events; i++)
		if (p->events[i].id == id)
			return &p->events[i];
	return NULL;
}

const struct prof_event *prof_event_by_id(const struct prof *p, uint32_t id)
{
	return event_lookup((struct prof *)p, id);
}

const struct prof_event *prof_event_find(const struct prof *p, uint32_t kind, const char *name)
{
	for (size_t i = 0; i < p->n_events; i++) {
		const struct prof_event *e = &p->events[i];
		if (name ? strcmp(e->name, name) == 0 : e->kind == kind)
			return e;
	}
	return NULL;
}

static int on_record(struct loader *l, const struct kbrec_record *rec)
{
	struct prof *p = l->p;
	switch (rec->type) {
	case KBREC_SESSION: {
		const struct kbrec_session *s = &rec->session;
		p->have_session = 1;
		p->session.start_ns = s->start_ns;
		p->session.start_realtime_ns = s->start_realtime_ns;
		p->session.pid = s->pid;
		p->session.kbprof_version = strtab_intern(&p->strs, s->kbprof_version);
		p->session.hostname = strtab_intern(&p->strs, s->hostname);
		p->session.kernel = strtab_intern(&p->strs, s->kernel);
		struct kb_buf cmd = {0};
		for (uint32_t i = 0; i < s->argc; i++) {
			if (i)
				kb_buf_putc(&cmd, ' ');
			kb_buf_puts(&cmd, s->argv[i]);
		}
		p->session.command = strtab_intern(&p->strs, cmd.len ? cmd.data : "");
		kb_buf_free(&cmd);
		break;
	}
	case KBREC_EVENT: {
		const struct kbrec_event *e = &rec->event;
		struct prof_event *pe = event_lookup(p, e->id);
		if (!pe) {
			if (GROW(p->events, p->n_events, l->cap_events, 4))
				return -1;
			pe = &p->events[p->n_events++];
			memset(pe, 0, sizeof *pe);
		}
		pe->id = e->id;
		pe->kind = e->kind;
		pe->perf_type = e->perf_type;
		pe->flags = e->flags;
		pe->config = e->perf_config;
		pe->period_or_freq = e->period_or_freq;
		pe->name = strtab_intern(&p->strs, e->name);
		pe->note = strtab_intern(&p->strs, e->note);
		break;
	}
	case KBREC_COMM:
		seen_time(p, rec->comm.time);
		return add_item(l, (struct item){.time = rec->comm.time,
						 .type = KBREC_COMM,
						 .pid = rec->comm.pid,
						 .tid = rec->comm.tid,
						 .flags = rec->comm.flags,
						 .name = strtab_intern(&p->strs, rec->comm.comm)});
	case KBREC_FORK:
		seen_time(p, rec->task.time);
		return add_item(l, (struct item){.time = rec->task.time,
						 .type = KBREC_FORK,
						 .pid = rec->task.pid,
						 .ppid = rec->task.ppid,
						 .tid = rec->task.tid});
	case KBREC_MMAP: {
		const struct kbrec_mmap *m = &rec->mmap;
		seen_time(p, m->time);
		if (GROW(p->maps, p->n_maps, l->cap_maps, 64))
			return -1;
		struct prof_mapping *pm = &p->maps[p->n_maps];
		pm->pid = m->pid;
		pm->time = m->time;
		pm->start = m->start;
		pm->end = m->start + m->len < m->start ? UINT64_MAX : m->start + m->len;
		pm->pgoff = m->pgoff;
		pm->prot = m->prot;
		pm->map_flags = m->map_flags;
		pm->flags = m->flags;
		pm->name = strtab_intern(&p->strs, m->filename);
		pm->seq = l->seq;
		if (!pm->name)
			return -1;
		p->n_maps++;
		return add_item(l, (struct item){.time = m->time,
						 .type = KBREC_MMAP,
						 .pid = m->pid,
						 .map = p->n_maps - 1});
	}
	case KBREC_MODULE: {
		const struct kbrec_module *m = &rec->module;
		if (GROW(p->modules, p->n_modules, l->cap_modules, 16))
			return -1;
		struct prof_module *pm = &p->modules[p->n_modules++];
		pm->path = strtab_intern(&p->strs, m->path);
		pm->build_id_len = m->build_id_len <= KBREC_BUILD_ID_MAX ? m->build_id_len : 0;
		memcpy(pm->build_id, m->build_id, sizeof pm->build_id);
		pm->elf_type = m->elf_type;
		pm->size = m->size;
		pm->mtime_ns = m->mtime_ns;
		pm->note = strtab_intern(&p->strs, m->note);
		break;
	}
	case KBREC_SAMPLE: {
		const struct kbrec_sample *s = &rec->sample;
		seen_time(p, s->time);
		p->samples++;
		struct prof_event *e = event_lookup(p, s->event_id);
		if (!e)
			break;
		e->samples++;
		e->period += s->period;
		if (e->kind == KBREC_EVENT_FAULTS && l->keep_faults) {
			if (GROW(p->faults, p->n_faults, l->cap_faults, 1024))
				return -1;
			struct prof_fault *f = &p->faults[p->n_faults++];
			f->pid = s->pid;
			f->tid = s->tid;
			f->event_id = s->event_id;
			f->time = s->time;
			f->addr = s->addr;
			f->ip = s->ip;
			f->caller = 0;
			f->chain = NULL;
			f->n_chain = 0;
			if (s->nr_user > 0) {
				f->ip = s->ips[s->nr_kernel];
				if (s->nr_user > 1)
					f->caller = s->ips[s->nr_kernel + 1];
			}
			if (l->keep_chains) {
				uint32_t n = s->nr_user ? s->nr_user : 1;
				uint64_t *c = arena_alloc(&p->arena, n * sizeof *c);
				if (!c)
					return -1;
				if (s->nr_user)
					memcpy(c, s->ips + s->nr_kernel, n * sizeof *c);
				else
					c[0] = f->ip;
				f->chain = c;
				f->n_chain = n;
			}
		}
		break;
	}
	case KBREC_REGION_BEGIN:
	case KBREC_REGION_END:
		seen_time(p, rec->region.time);
		return on_region(l, rec);
	case KBREC_REGION_STATS: {
		const char *path = strtab_intern(&p->strs, rec->region_stats.path);
		struct prof_region *r = path ? region_get(l, path) : NULL;
		if (!r)
			return -1;
		r->stats_calls += rec->region_stats.calls;
		r->stats_wall_incl_ns += rec->region_stats.wall_incl_ns;
		r->stats_wall_excl_ns += rec->region_stats.wall_excl_ns;
		break;
	}
	case KBREC_LOST: {
		seen_time(p, rec->lost.time);
		p->lost += rec->lost.count;
		struct prof_event *e = event_lookup(p, rec->lost.event_id);
		if (e)
			e->lost += rec->lost.count;
		else
			p->lost_unknown_event += rec->lost.count;
		break;
	}
	case KBREC_THROTTLE: {
		seen_time(p, rec->throttle.time);
		if (rec->throttle.throttled) {
			p->throttles++;
			struct prof_event *e = event_lookup(p, rec->throttle.event_id);
			if (e)
				e->throttles++;
		}
		break;
	}
	case KBREC_NOTE: {
		const char *t = strtab_intern(&p->strs, rec->note.text);
		if (!t || GROW(p->notes, p->n_notes, l->cap_notes, 8))
			return -1;
		p->notes[p->n_notes++] = t;
		break;
	}
	case KBREC_FINISH:
		p->finished = 1;
		p->finish = rec->finish;
		seen_time(p, rec->finish.end_ns);
		break;
	default:
		break;
	}
	return 0;
}

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_transition(const void *a, const void *b)
{
	const struct prof_transition *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static const struct prof_module *module_by_path(const struct prof *p, const char *path)
{
	for (size_t i = 0; i < p->n_modules; i++)
		if (p->modules[i].path == path)
			return &p->modules[i];
	return NULL;
}

static int is_code(const struct prof_mapping *m)
{
	if (m->flags & KBREC_MMAP_DATA)
		return 0;
	return (m->prot & PROT_EXEC) || m->prot == 0;
}

/* Replays forks, execs and code mappings in time order into images. */
static int build_images(struct loader *l, struct kb_error *err)
{
	struct prof *p = l->p;
	if (l->n_items)
		qsort(l->items, l->n_items, sizeof *l->items, cmp_item);
	for (size_t i = 0; i < l->n_items; i++) {
		const struct item *it = &l->items[i];
		int is_task = (it->type == KBREC_FORK && it->pid != it->ppid) ||
			      (it->type == KBREC_COMM && (it->flags & KBREC_COMM_EXEC));
		if (is_task) {
			if (GROW(p->tasks, p->n_tasks, l->cap_tasks, 16))
				goto oom;
			p->tasks[p->n_tasks++] = (struct prof_task){
			    it->time, it->seq, it->pid, it->ppid, it->type == KBREC_COMM};
		}
		switch (it->type) {
		case KBREC_FORK: {
			if (it->pid == it->ppid || proc_find(p, it->pid))
				break; /* a thread, or a pid seen before */
			struct prof_proc *parent = proc_find(p, it->ppid);
			if (!parent) {
				if (!proc_get(p, it->pid, it->time))
					goto oom;
				p->last_proc->ppid = it->ppid;
				break;
			}
			struct sym_space *shared = parent->images[parent->n_images - 1].space;
			const char *comm = parent->images[parent->n_images - 1].comm;
			if ((p->n_procs + 1) * 2 > p->proc_hash_cap && rehash_procs(p) != 0)
				goto oom;
			struct prof_proc *pr = arena_alloc(&p->arena, sizeof *pr);
			if (!pr)
				goto oom;
			pr->pid = it->pid;
			pr->ppid = it->ppid;
			pr->comm = comm;
			size_t j = hash64(pr->pid) & (p->proc_hash_cap - 1);
			pr->hnext = p->proc_hash[j];
			p->proc_hash[j] = pr;
			p->n_procs++;
			if (proc_push_image(pr, it->time, shared, comm) != 0)
				goto oom;
			break;
		}
		case KBREC_COMM: {
			struct prof_proc *pr = proc_find(p, it->pid);
			if (it->flags & KBREC_COMM_EXEC) {
				if (!pr) {
					if (!(pr = proc_get(p, it->pid, it->time)))
						goto oom;
				} else {
					struct sym_space *sp = new_space(p, it->pid, it->time);
					if (!sp || proc_push_image(pr, it->time, sp, it->name) != 0)
						goto oom;
				}
				pr->comm = it->name;
				pr->images[pr->n_images - 1].comm = it->name;
			} else if (it->pid == it->tid) {
				if (!pr && !(pr = proc_get(p, it->pid, it->time)))
					goto oom;
				pr->comm = it->name;
				pr->images[pr->n_images - 1].comm = it->name;
			}
			break;
		}
		case KBREC_MMAP: {
			const struct prof_mapping *m = &p->maps[it->map];
			if (!is_code(m))
				break;
			struct prof_proc *pr = proc_get(p, it->pid, 0);
			if (!pr)
				goto oom;
			struct sym_space *sp = pr->images[pr->n_images - 1].space;
			const struct prof_module *mod = module_by_path(p, m->name);
			struct sym_module_desc d = {
			    .path = m->name, .start = m->start, .end = m->end, .pgoff = m->pgoff};
			if (mod) {
				d.build_id = mod->build_id;
				d.build_id_len = mod->build_id_len;
				d.size = mod->size;
				d.mtime_ns = mod->mtime_ns;
			}
			if (d.end > d.start && sym_space_add_module(sp, &d, err) != 0)
				return -1;
			break;
		}
		default:
			break;
		}
	}
	return 0;
oom:
	return kb_error_set(err, "%s: out of memory while building process images", p->path);
}

static int finish_threads(struct prof *p)
{
	for (size_t i = 0; i < p->thread_hash_cap; i++)
		for (struct prof_thread *th = p->thread_hash[i]; th; th = th->hnext)
			if (th->n)
				qsort(th->tr, th->n, sizeof *th->tr, cmp_transition);
	return 0;
}

/* Kernel symbols from this machine only describe a recording made under
 * the same kernel release in the same boot: the boot time (realtime minus
 * monotonic) then and now must match. */
static void choose_kernel_symbols(struct prof *p, const struct prof_options *opts)
{
	if (opts && opts->kallsyms) {
		sym_session_kernel_symbols(p->sym, opts->kallsyms);
		return;
	}
	struct utsname u;
	if (!p->have_session || uname(&u) != 0 || !p->session.kernel ||
	    strcmp(u.release, p->session.kernel) != 0) {
		p->kernel_symbols_why = "it was recorded under another kernel";
		return;
	}
	struct timespec rt, mono;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	double boot_now =
	    (double)(rt.tv_sec - mono.tv_sec) + (double)(rt.tv_nsec - mono.tv_nsec) / 1e9;
	double boot_then =
	    ((double)p->session.start_realtime_ns - (double)p->session.start_ns) / 1e9;
	if (boot_now - boot_then > 2 || boot_then - boot_now > 2) {
		p->kernel_symbols_why =
		    "it was recorded in another boot (the kernel moves at each boot)";
		return;
	}
	sym_session_kernel_symbols(p->sym, "/proc/kallsyms");
}

int prof_load(struct prof **out, const char *path, const struct prof_options *opts,
	      struct kb_error *err)
{
	*out = NULL;
	struct prof *p = calloc(1, sizeof *p);
	if (!p)
		return kb_error_set(err, "%s: out of memory", path);
	strtab_init(&p->strs, &p->arena);
	p->path = strtab_intern(&p->strs, path);
	struct loader l = {.p = p,
			   .keep_faults = opts && opts->keep_faults,
			   .keep_chains = opts && opts->keep_faults && opts->keep_fault_chains};
	p->faults_kept = l.keep_faults;
	struct kbrec_reader *r = NULL;
	int rc = -1;
	if (!p->path)
		goto oom;
	p->sym = sym_session_new(err);
	if (!p->sym)
		goto out;
	if (kbrec_reader_open(&r, path, err) != 0)
		goto out;
	struct kbrec_record rec;
	struct kb_error rerr = {{0}};
	int n;
	while ((n = kbrec_reader_next(r, &rec, &rerr)) == 1) {
		l.seq++;
		p->records++;
		if (on_record(&l, &rec) != 0)
			goto oom;
	}
	p->sample_end_offset = kbrec_reader_offset(r);
	if (n < 0) {
		kb_buf_printf(&p->problems,
			      "%s; the report shows the %" PRIu64 " records before it\n", rerr.msg,
			      p->records);
	} else if (kbrec_reader_truncation(r)) {
		kb_buf_printf(&p->problems,
			      "%s; the report shows the %" PRIu64 " records before it\n",
			      kbrec_reader_truncation(r), p->records);
	} else if (!p->finished) {
		kb_buf_printf(&p->problems,
			      "%s: no finish record: the recorder did not end normally (killed?); "
			      "totals from the finish record (exit status, rusage) are missing\n",
			      path);
	}
	if (!p->have_session && p->records == 0) {
		kb_error_set(err, "%s: the recording holds no complete record", path);
		goto out;
	}
	choose_kernel_symbols(p, opts);
	if (build_images(&l, err) != 0 || finish_threads(p) != 0)
		goto out;
	if (p->problems.oom)
		goto oom;
	rc = 0;
	goto out;
oom:
	kb_error_set(err, "%s: out of memory", path);
out:
	kbrec_reader_close(r);
	free(l.items);
	free(l.region_index);
	if (rc != 0) {
		prof_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

void prof_free(struct prof *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->proc_hash_cap; i++)
		for (struct prof_proc *pr = p->proc_hash[i]; pr; pr = pr->hnext)
			free(pr->images);
	for (size_t i = 0; i < p->thread_hash_cap; i++)
		for (struct prof_thread *th = p->thread_hash[i]; th; th = th->hnext) {
			free(th->tr);
			free(th->open);
		}
	free(p->proc_hash);
	free(p->thread_hash);
	free(p->events);
	free(p->maps);
	free(p->modules);
	free(p->regions);
	free(p->faults);
	free(p->notes);
	free(p->tasks);
	kb_buf_free(&p->problems);
	sym_session_free(p->sym);
	strtab_free(&p->strs);
	arena_free(&p->arena);
	free(p);
}

int prof_each_sample(struct prof *p, int (*fn)(void *ctx, const struct kbrec_sample *s), void *ctx,
		     struct kb_error *err)
{
	struct kbrec_reader *r;
	if (kbrec_reader_open(&r, p->path, err) != 0)
		return -1;
	struct kbrec_record rec;
	struct kb_error rerr;
	int n, rc = 0;
	while ((n = kbrec_reader_next(r, &rec, &rerr)) == 1) {
		if (rec.type != KBREC_SAMPLE)
			continue;
		if ((rc = fn(ctx, &rec.sample)) != 0)
			break;
	}
	kbrec_reader_close(r);
	return rc;
}

uint64_t prof_duration_ns(const struct prof *p)
{
	uint64_t start =
	    p->have_session && p->session.start_ns ? p->session.start_ns : p->first_time;
	uint64_t end = p->finished && p->finish.end_ns ? p->finish.end_ns : p->last_time;
	return end > start ? end - start : 0;
}

int prof_warnings(struct prof *p, const struct prof_event *ev, const char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cap = 9 + p->n_notes;
	const char **w = arena_alloc(&p->arena, cap * sizeof *w);
	if (!w)
		return -1;
	size_t k = 0;
	char msg[1200];
	/* the problems buffer: one message per line */
	if (p->problems.len) {
		const char *c = p->problems.data;
		while (*c && k < cap) {
			const char *nl = strchr(c, '\n');
			size_t len = nl ? (size_t)(nl - c) : strlen(c);
			if (len)
				w[k++] = strtab_intern_n(&p->strs, c, len);
			c += len + (nl ? 1 : 0);
		}
	}
	if (ev && (ev->flags & KBREC_EVENT_FALLBACK) && k < cap) {
		snprintf(msg, sizeof msg, "sampled on %s as a fallback%s%s", ev->name,
			 *ev->note ? ": " : "", ev->note);
		w[k++] = strtab_intern(&p->strs, msg);
	}
	uint64_t lost = ev ? ev->lost + p->lost_unknown_event : p->lost;
	if (lost && k < cap) {
		uint64_t got = ev ? ev->samples : p->samples;
		snprintf(msg, sizeof msg,
			 "%" PRIu64 " samples lost (%.2f%% of %" PRIu64
			 " taken): the kernel's ring buffer overflowed",
			 lost, 100.0 * (double)lost / (double)(lost + got), lost + got);
		w[k++] = strtab_intern(&p->strs, msg);
	}
	uint64_t thr = ev ? ev->throttles : p->throttles;
	if (thr && k < cap) {
		snprintf(msg, sizeof msg,
			 "sampling was throttled %" PRIu64
			 " times (kernel.perf_event_max_sample_rate): fewer samples than asked",
			 thr);
		w[k++] = strtab_intern(&p->strs, msg);
	}
	for (size_t i = 0; i < p->n_notes && k < cap; i++) {
		/* a note the recorder also put in an event's fallback note is
		 * said once */
		int dup = 0;
		for (size_t j = 0; j < k && !dup; j++)
			dup = w[j] && strstr(w[j], p->notes[i]) != NULL;
		if (!dup)
			w[k++] = p->notes[i];
	}
	size_t kaddr = sym_session_kernel_addresses(p->sym);
	if (p->kernel_symbols_why && kaddr && k < cap) {
		snprintf(msg, sizeof msg,
			 "%zu kernel addresses are shown as [kernel]: %s, so this machine's "
			 "/proc/kallsyms does not describe it",
			 kaddr, p->kernel_symbols_why);
		w[k++] = strtab_intern(&p->strs, msg);
	}
	const char *sw = sym_session_warnings(p->sym);
	size_t nsw = sym_session_warning_count(p->sym);
	if (nsw) {
		const char **w2 = arena_alloc(&p->arena, (k + nsw) * sizeof *w2);
		if (!w2)
			return -1;
		memcpy(w2, w, k * sizeof *w);
		w = w2;
		size_t cap2 = k + nsw;
		for (const char *c = sw; *c && k < cap2;) {
			const char *nl = strchr(c, '\n');
			size_t len = nl ? (size_t)(nl - c) : strlen(c);
			if (len)
				w[k++] = strtab_intern_n(&p->strs, c, len);
			c += len + (nl ? 1 : 0);
		}
	}
	for (size_t i = 0; i < k; i++)
		if (!w[i])
			return -1;
	*out = w;
	*n = k;
	return 0;
}
