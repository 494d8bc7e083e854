/* symbolize: libdwfl-backed address lookup with per-space caches (see
 * symbolize.h). The session's arena owns every string, module, function
 * and result; the function table and hash tables are malloc'd arrays the
 * session frees; each space owns its Dwfl. */
#include "analyze/symbolize.h"

#include "analyze/arena.h"
#include "analyze/strtab.h"
#include "util/kb_buf.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KERNEL_START 0xffff800000000000ULL
#define BUCKET_START UINT64_MAX
#define MAX_BUILD_ID 64

/* A kernel text symbol from kallsyms. */
struct ksym {
	uint64_t addr;
	const char *name, *module; /* interned; module "[kernel]" or "[kvm]" */
	int global;
};

/* What the session learnt about one file, read once per path. */
struct sym_file {
	const char *path;
	enum sym_module_state state; /* OK, MISSING or UNUSABLE */
	const char *problem;         /* why, when not OK */
	int e_type;
	size_t n_load;
	GElf_Phdr *load; /* PT_LOAD headers, arena */
	unsigned char build_id[MAX_BUILD_ID];
	size_t build_id_len;
	uint64_t size, mtime_ns; /* now, on this machine */
	int warned;
	struct sym_file *next;
};

struct module_priv {
	struct sym_module pub;
	struct sym_file *file;
	Dwfl_Module *dw;
	const struct sym_function *bucket; /* "[name]" */
};

struct mapping {
	uint64_t start, end;
	struct module_priv *mod;
};

/* Open-addressing table from a 64-bit address to a result. */
struct addr_cache {
	uint64_t *keys;
	const struct sym_info **vals; /* NULL: empty slot */
	size_t cap, len;
};

struct sym_space {
	struct sym_session *s;
	const char *label;
	Dwfl *dwfl;
	int report_open; /* dwfl_report_begin* called, _end not yet */
	struct mapping *maps;
	size_t n_maps, cap_maps;
	int maps_sorted;
	struct module_priv **mods;
	size_t n_mods, cap_mods;
	struct addr_cache cache;
	struct sym_space *next;
};

struct sym_session {
	struct arena arena;
	struct strtab strs;
	/* functions: dense table plus a hash index of (module, start, name) */
	struct sym_function **funcs;
	size_t n_funcs, cap_funcs;
	uint32_t *func_index; /* id + 1, 0 empty */
	size_t func_index_cap;
	struct sym_file *files;
	struct sym_space *spaces;
	struct kb_buf warnings;
	size_t n_warnings;
	size_t level_counts[4];
	char *debuginfo_path;
	Dwfl_Callbacks callbacks;
	const struct sym_function *unknown, *kernel;
	struct sym_module kernel_module;
	/* kernel symbols: a kallsyms file, loaded at the first kernel address */
	const char *kallsyms;
	int kernel_state; /* 0 not asked, 1 to load, 2 loaded, -1 failed */
	struct ksym *ksyms;
	size_t n_ksyms;
	size_t kernel_addresses; /* distinct kernel addresses looked up */
};

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static const char *intern(struct sym_session *s, const char *str)
{
	return strtab_intern(&s->strs, str);
}

/* ---- functions ---- */

static uint64_t func_hash(const char *module, uint64_t start, const char *name)
{
	return hash64((uint64_t)(uintptr_t)module ^ hash64(start) ^
		      ((uint64_t)(uintptr_t)name * 0x9e3779b97f4a7c15ULL));
}

/* module and name must be interned. */
static const struct sym_function *function_get(struct sym_session *s, const char *module,
					       uint64_t start, const char *name)
{
	if (!name)
		return NULL;
	if ((s->n_funcs + 1) * 2 >= s->func_index_cap) {
		size_t cap = s->func_index_cap ? s->func_index_cap * 2 : 256;
		uint32_t *t = calloc(cap, sizeof *t);
		if (!t)
			return NULL;
		for (size_t i = 0; i < s->n_funcs; i++) {
			const struct sym_function *f = s->funcs[i];
			size_t j = func_hash(f->module, f->start, f->name) & (cap - 1);
			while (t[j])
				j = (j + 1) & (cap - 1);
			t[j] = (uint32_t)i + 1;
		}
		free(s->func_index);
		s->func_index = t;
		s->func_index_cap = cap;
	}
	size_t j = func_hash(module, start, name) & (s->func_index_cap - 1);
	while (s->func_index[j]) {
		struct sym_function *f = s->funcs[s->func_index[j] - 1];
		if (f->module == module && f->start == start && f->name == name)
			return f;
		j = (j + 1) & (s->func_index_cap - 1);
	}
	if (s->n_funcs == s->cap_funcs) {
		size_t cap = s->cap_funcs ? s->cap_funcs * 2 : 256;
		struct sym_function **t = realloc(s->funcs, cap * sizeof *t);
		if (!t)
			return NULL;
		s->funcs = t;
		s->cap_funcs = cap;
	}
	struct sym_function *f = arena_alloc(&s->arena, sizeof *f);
	if (!f)
		return NULL;
	f->id = (uint32_t)s->n_funcs;
	f->name = name;
	f->module = module;
	f->start = start;
	s->funcs[s->n_funcs++] = f;
	s->func_index[j] = f->id + 1;
	return f;
}

size_t sym_function_count(const struct sym_session *s)
{
	return s->n_funcs;
}

const struct sym_function *sym_function_get(const struct sym_session *s, uint32_t id)
{
	return id < s->n_funcs ? s->funcs[id] : NULL;
}

/* ---- warnings ---- */

__attribute__((format(printf, 2, 3))) static void warn(struct sym_session *s, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	kb_buf_puts(&s->warnings, msg);
	kb_buf_putc(&s->warnings, '\n');
	s->n_warnings++;
}

const char *sym_session_warnings(const struct sym_session *s)
{
	return s->warnings.len ? s->warnings.data : "";
}

size_t sym_session_warning_count(const struct sym_session *s)
{
	return s->n_warnings;
}

void sym_session_address_counts(const struct sym_session *s, size_t counts[4])
{
	memcpy(counts, s->level_counts, sizeof s->level_counts);
}

/* ---- session ---- */

struct sym_session *sym_session_new(struct kb_error *err)
{
	struct sym_session *s = calloc(1, sizeof *s);
	if (!s) {
		kb_error_set(err, "symbolizer: out of memory");
		return NULL;
	}
	strtab_init(&s->strs, &s->arena);
	elf_version(EV_CURRENT);
	s->callbacks.find_elf = dwfl_build_id_find_elf;
	s->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	s->callbacks.section_address = dwfl_offline_section_address;
	s->callbacks.debuginfo_path = &s->debuginfo_path; /* NULL: the default path */
	s->unknown = function_get(s, NULL, BUCKET_START, intern(s, "[unknown]"));
	s->kernel_module.path = s->kernel_module.name = intern(s, "[kernel]");
	s->kernel_module.state = SYM_MODULE_MISSING;
	s->kernel = function_get(s, s->kernel_module.path, BUCKET_START, s->kernel_module.name);
	if (!s->unknown || !s->kernel) {
		sym_session_free(s);
		kb_error_set(err, "symbolizer: out of memory");
		return NULL;
	}
	return s;
}

void sym_session_free(struct sym_session *s)
{
	if (!s)
		return;
	for (struct sym_space *sp = s->spaces, *next; sp; sp = next) {
		next = sp->next;
		if (sp->dwfl)
			dwfl_end(sp->dwfl);
		free(sp->maps);
		free(sp->mods);
		free(sp->cache.keys);
		free(sp->cache.vals);
		free(sp);
	}
	strtab_free(&s->strs);
	free(s->funcs);
	free(s->func_index);
	free(s->ksyms);
	kb_buf_free(&s->warnings);
	arena_free(&s->arena);
	free(s);
}

struct sym_space *sym_space_new(struct sym_session *s, const char *label)
{
	struct sym_space *sp = calloc(1, sizeof *sp);
	if (!sp)
		return NULL;
	sp->s = s;
	sp->label = intern(s, label ? label : "process");
	sp->maps_sorted = 1;
	sp->next = s->spaces;
	s->spaces = sp;
	return sp;
}

/* ---- reading a file's program headers and build-id ---- */

static void read_build_id(Elf *elf, struct sym_file *f)
{
	size_t nph;
	if (elf_getphdrnum(elf, &nph) != 0)
		return;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		Elf_Data *d =
		    elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
		if (!d)
			continue;
		size_t off = 0, name_off, desc_off;
		GElf_Nhdr nh;
		while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    memcmp((char *)d->d_buf + name_off, "GNU", 4) == 0 &&
			    nh.n_descsz <= MAX_BUILD_ID) {
				memcpy(f->build_id, (char *)d->d_buf + desc_off, nh.n_descsz);
				f->build_id_len = nh.n_descsz;
				return;
			}
		}
	}
}

static struct sym_file *file_get(struct sym_session *s, const char *path)
{
	for (struct sym_file *f = s->files; f; f = f->next)
		if (f->path == path)
			return f;
	struct sym_file *f = arena_alloc(&s->arena, sizeof *f);
	if (!f)
		return NULL;
	f->path = path;
	f->next = s->files;
	s->files = f;
	if (path[0] != '/') {
		f->state = SYM_MODULE_NOFILE;
		return f;
	}
	char why[512];
	/* O_NONBLOCK: a recording may name a FIFO or a device; opening one
	 * must not hang the report (only regular files are read) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(why, sizeof why,
			 "cannot open it (%s): moved or deleted since the recording",
			 strerror(errno));
		f->state = SYM_MODULE_MISSING;
		f->problem = intern(s, why);
		return f;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		f->state = SYM_MODULE_UNUSABLE;
		f->problem = "not a regular file";
		close(fd);
		return f;
	}
	f->size = (uint64_t)st.st_size;
	f->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	GElf_Ehdr eh;
	size_t nph = 0;
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    elf_getphdrnum(elf, &nph) != 0) {
		snprintf(why, sizeof why, "not a readable ELF file (%s)", elf_errmsg(-1));
		f->state = SYM_MODULE_UNUSABLE;
		f->problem = intern(s, why);
		goto out;
	}
	f->e_type = eh.e_type;
	f->load = arena_alloc(&s->arena, (nph ? nph : 1) * sizeof *f->load);
	if (!f->load) {
		f->state = SYM_MODULE_UNUSABLE;
		f->problem = "out of memory";
		goto out;
	}
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD)
			f->load[f->n_load++] = ph;
	}
	if (f->n_load == 0) {
		f->state = SYM_MODULE_UNUSABLE;
		f->problem = "the file has no loadable segment";
		goto out;
	}
	read_build_id(elf, f);
	f->state = SYM_MODULE_OK;
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return f;
}

/* Load bias of a mapping of file offset pgoff at start: the PT_LOAD that
 * holds pgoff (file offsets and virtual addresses of a segment differ by a
 * constant) gives the virtual address of pgoff. Prefers executable
 * segments. Returns -1 when no segment holds pgoff. */
static int mapping_bias(const struct sym_file *f, uint64_t start, uint64_t pgoff, uint64_t *bias)
{
	const GElf_Phdr *best = NULL;
	for (size_t i = 0; i < f->n_load; i++) {
		const GElf_Phdr *ph = &f->load[i];
		/* mappings are page-granular whatever p_align says */
		uint64_t seg_lo = ph->p_offset & ~(uint64_t)0xfff;
		if (pgoff < seg_lo || pgoff >= ph->p_offset + (ph->p_filesz ? ph->p_filesz : 1))
			continue;
		if (!best || ((ph->p_flags & PF_X) && !(best->p_flags & PF_X)))
			best = ph;
	}
	if (!best)
		return -1;
	*bias = start - (best->p_vaddr - best->p_offset + pgoff);
	return 0;
}

static void hex(char *dst, size_t size, const unsigned char *bits, size_t len)
{
	size_t o = 0;
	dst[0] = '\0';
	for (size_t i = 0; i < len && o + 3 <= size; i++)
		o += (size_t)snprintf(dst + o, size - o, "%02x", bits[i]);
}

static int space_open_report(struct sym_space *sp)
{
	if (!sp->dwfl) {
		sp->dwfl = dwfl_begin(&sp->s->callbacks);
		if (!sp->dwfl)
			return -1;
		dwfl_report_begin(sp->dwfl);
		sp->report_open = 1;
	} else if (!sp->report_open) {
		dwfl_report_begin_add(sp->dwfl);
		sp->report_open = 1;
	}
	return 0;
}

static void space_close_report(struct sym_space *sp)
{
	if (sp->dwfl && sp->report_open) {
		dwfl_report_end(sp->dwfl, NULL, NULL);
		sp->report_open = 0;
	}
}

static struct module_priv *module_new(struct sym_space *sp, struct sym_file *f, uint64_t bias,
				      int bias_ok, const struct sym_module_desc *d)
{
	struct sym_session *s = sp->s;
	struct module_priv *m = arena_alloc(&s->arena, sizeof *m);
	if (!m)
		return NULL;
	const char *slash = strrchr(f->path, '/');
	m->pub.path = f->path;
	m->pub.name = intern(s, slash ? slash + 1 : f->path);
	m->pub.bias = bias;
	m->file = f;
	char bucket[600];
	if (m->pub.name && m->pub.name[0] == '[')
		snprintf(bucket, sizeof bucket, "%s", m->pub.name); /* "[vdso]" */
	else
		snprintf(bucket, sizeof bucket, "[%s]", m->pub.name ? m->pub.name : "?");
	m->bucket = function_get(s, f->path, BUCKET_START, intern(s, bucket));
	if (!m->pub.name || !m->bucket)
		return NULL;

	m->pub.state = f->state;
	if (f->state == SYM_MODULE_NOFILE)
		return m;
	if (f->state != SYM_MODULE_OK) {
		if (!f->warned++)
			warn(s, "%s: %s; its addresses are shown as module+offset", f->path,
			     f->problem);
		return m;
	}
	if (!bias_ok) {
		m->pub.state = SYM_MODULE_UNUSABLE;
		if (!f->warned++)
			warn(s,
			     "%s: mapped file offset 0x%" PRIx64
			     " lies in none of its loadable segments: the file does not match the "
			     "recording; its addresses are shown as module+offset",
			     f->path, d->pgoff);
		return m;
	}
	if (d->build_id_len) {
		if (f->build_id_len != d->build_id_len ||
		    memcmp(f->build_id, d->build_id, d->build_id_len) != 0) {
			char rec[2 * MAX_BUILD_ID + 1], now[2 * MAX_BUILD_ID + 1];
			hex(rec, sizeof rec, d->build_id, d->build_id_len);
			hex(now, sizeof now, f->build_id, f->build_id_len);
			m->pub.state = SYM_MODULE_MISMATCH;
			if (!f->warned++)
				warn(s,
				     "%s: build-id %s differs from the recorded %s (rebuilt since "
				     "the recording?); its addresses are shown as module+offset",
				     f->path, f->build_id_len ? now : "(none)", rec);
			return m;
		}
		m->pub.build_id_checked = 1;
	} else if ((d->size && d->size != f->size) || (d->mtime_ns && d->mtime_ns != f->mtime_ns)) {
		/* No build-id to settle it: a different size or a later
		 * modification means the file is not the one that ran. */
		m->pub.state = SYM_MODULE_MISMATCH;
		if (!f->warned++)
			warn(s,
			     "%s: changed since the recording (size %" PRIu64 " then, %" PRIu64
			     " now%s) and no build-id to tell; its addresses are shown as "
			     "module+offset",
			     f->path, d->size, f->size,
			     d->mtime_ns != f->mtime_ns ? ", modified since" : "");
		return m;
	}
	if (f->e_type == ET_EXEC && bias != 0) {
		m->pub.state = SYM_MODULE_UNUSABLE;
		if (!f->warned++)
			warn(s,
			     "%s: a fixed-address executable mapped 0x%" PRIx64
			     " away from its link address: the file does not match the recording; "
			     "its addresses are shown as module+offset",
			     f->path, bias);
		return m;
	}
	if (space_open_report(sp) != 0) {
		m->pub.state = SYM_MODULE_UNUSABLE;
		warn(s, "%s: libdwfl: %s", f->path, dwfl_errmsg(-1));
		return m;
	}
	m->dw = dwfl_report_elf(sp->dwfl, m->pub.name, f->path, -1, bias, true);
	if (!m->dw) {
		m->pub.state = SYM_MODULE_UNUSABLE;
		warn(s, "%s (%s): libdwfl cannot report it at bias 0x%" PRIx64 ": %s", f->path,
		     sp->label, bias, dwfl_errmsg(-1));
	}
	return m;
}

int sym_space_add_module(struct sym_space *sp, const struct sym_module_desc *d,
			 struct kb_error *err)
{
	struct sym_session *s = sp->s;
	const char *path = d->path ? d->path : "";
	if (d->end <= d->start)
		return kb_error_set(
		    err, "module %s: mapping end 0x%" PRIx64 " is not above its start 0x%" PRIx64,
		    path, d->end, d->start);
	if (d->build_id_len > MAX_BUILD_ID)
		return kb_error_set(err, "module %s: build-id of %zu bytes (at most %d)", path,
				    d->build_id_len, MAX_BUILD_ID);
	const char *ipath = intern(s, path);
	struct sym_file *f = ipath ? file_get(s, ipath) : NULL;
	if (!f)
		return kb_error_set(err, "module %s: out of memory", path);
	uint64_t bias = d->start - d->pgoff;
	int bias_ok = f->state != SYM_MODULE_OK || mapping_bias(f, d->start, d->pgoff, &bias) == 0;

	struct module_priv *m = NULL;
	for (size_t i = 0; i < sp->n_mods; i++)
		if (sp->mods[i]->file == f && sp->mods[i]->pub.bias == bias)
			m = sp->mods[i];
	if (!m) {
		m = module_new(sp, f, bias, bias_ok, d);
		if (!m)
			return kb_error_set(err, "module %s: out of memory", path);
		if (sp->n_mods == sp->cap_mods) {
			size_t cap = sp->cap_mods ? sp->cap_mods * 2 : 16;
			struct module_priv **t = realloc(sp->mods, cap * sizeof *t);
			if (!t)
				return kb_error_set(err, "module %s: out of memory", path);
			sp->mods = t;
			sp->cap_mods = cap;
		}
		sp->mods[sp->n_mods++] = m;
	}
	if (sp->n_maps == sp->cap_maps) {
		size_t cap = sp->cap_maps ? sp->cap_maps * 2 : 16;
		struct mapping *t = realloc(sp->maps, cap * sizeof *t);
		if (!t)
			return kb_error_set(err, "module %s: out of memory", path);
		sp->maps = t;
		sp->cap_maps = cap;
	}
	sp->maps[sp->n_maps++] = (struct mapping){d->start, d->end, m};
	sp->maps_sorted = 0;
	return 0;
}

static int cmp_mapping(const void *a, const void *b)
{
	const struct mapping *x = a, *y = b;
	return (x->start > y->start) - (x->start < y->start);
}

/* The mapping holding addr: of those covering it, the one starting
 * nearest below (mappings of one process image do not overlap; the
 * caller starts a new space when the image is replaced). */
static const struct mapping *find_mapping(struct sym_space *sp, uint64_t addr)
{
	if (!sp->maps_sorted) {
		qsort(sp->maps, sp->n_maps, sizeof *sp->maps, cmp_mapping);
		sp->maps_sorted = 1;
	}
	size_t lo = 0, hi = sp->n_maps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sp->maps[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* maps[0..lo) start at or below addr; the nearest one that still
	 * covers addr wins. */
	for (size_t i = lo; i-- > 0;) {
		if (addr < sp->maps[i].end)
			return &sp->maps[i];
	}
	return NULL;
}

/* ---- address cache ---- */

static const struct sym_info *cache_find(const struct addr_cache *c, uint64_t addr)
{
	if (!c->cap)
		return NULL;
	size_t j = hash64(addr) & (c->cap - 1);
	while (c->vals[j]) {
		if (c->keys[j] == addr)
			return c->vals[j];
		j = (j + 1) & (c->cap - 1);
	}
	return NULL;
}

static int cache_put(struct addr_cache *c, uint64_t addr, const struct sym_info *info)
{
	if ((c->len + 1) * 2 >= c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		uint64_t *k = calloc(cap, sizeof *k);
		const struct sym_info **v = calloc(cap, sizeof *v);
		if (!k || !v) {
			free(k);
			free(v);
			return -1;
		}
		for (size_t i = 0; i < c->cap; i++) {
			if (!c->vals[i])
				continue;
			size_t j = hash64(c->keys[i]) & (cap - 1);
			while (v[j])
				j = (j + 1) & (cap - 1);
			k[j] = c->keys[i];
			v[j] = c->vals[i];
		}
		free(c->keys);
		free(c->vals);
		c->keys = k;
		c->vals = v;
		c->cap = cap;
	}
	size_t j = hash64(addr) & (c->cap - 1);
	while (c->vals[j])
		j = (j + 1) & (c->cap - 1);
	c->keys[j] = addr;
	c->vals[j] = info;
	c->len++;
	return 0;
}

/* ---- DWARF ---- */

static int is_function_scope(int tag)
{
	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	       tag == DW_TAG_entry_point;
}

static const char *die_name(Dwarf_Die *die)
{
	/* dwarf_diename follows DW_AT_abstract_origin/specification */
	return dwarf_diename(die);
}

/* Fills info->frames from the concrete scope chain at the address. Returns
 * the DIE of the out-of-line subprogram in *sub (when found). */
static void dwarf_chain(struct sym_session *s, Dwfl_Module *dw, uint64_t addr,
			struct sym_info *info, Dwarf_Die *sub, int *have_sub)
{
	Dwarf_Addr dbias = 0;
	*have_sub = 0;
	Dwarf_Die *cudie = dwfl_module_addrdie(dw, addr, &dbias);
	if (!cudie)
		return;
	Dwarf_Die *scopes = NULL;
	int n = dwarf_getscopes(cudie, addr - dbias, &scopes);
	if (n <= 0) {
		free(scopes);
		return;
	}
	/* dwarf_getscopes continues into the abstract origin after the first
	 * inlined instance; the concrete nesting (who inlined whom) comes from
	 * the scopes containing the innermost DIE. */
	Dwarf_Die inner = scopes[0];
	free(scopes);
	scopes = NULL;
	n = dwarf_getscopes_die(&inner, &scopes);
	if (n <= 0) {
		free(scopes);
		return;
	}
	int nf = 0;
	for (int i = 0; i < n; i++)
		if (is_function_scope(dwarf_tag(&scopes[i])))
			nf++;
	struct sym_frame *fr = nf ? arena_alloc(&s->arena, (size_t)nf * sizeof *fr) : NULL;
	if (!fr) {
		free(scopes);
		return;
	}
	Dwarf_Files *files = NULL;
	if (dwarf_getsrcfiles(cudie, &files, NULL) != 0)
		files = NULL;
	int k = 0;
	for (int i = 0; i < n && k < nf; i++) {
		Dwarf_Die *d = &scopes[i];
		int tag = dwarf_tag(d);
		if (!is_function_scope(tag))
			continue;
		fr[k].function = intern(s, die_name(d));
		if (k == 0) {
			fr[k].file = info->file;
			fr[k].line = info->line;
		}
		if (tag == DW_TAG_inlined_subroutine && k + 1 < nf) {
			Dwarf_Attribute attr;
			Dwarf_Word val;
			if (files &&
			    dwarf_formudata(dwarf_attr(d, DW_AT_call_file, &attr), &val) == 0)
				fr[k + 1].file = intern(s, dwarf_filesrc(files, val, NULL, NULL));
			if (dwarf_formudata(dwarf_attr(d, DW_AT_call_line, &attr), &val) == 0)
				fr[k + 1].line = (unsigned)val;
		}
		k++;
		if (tag != DW_TAG_inlined_subroutine) {
			*sub = *d;
			*have_sub = 1;
			break;
		}
	}
	info->frames = fr;
	info->n_frames = (unsigned)k;
	free(scopes);
}

static void lookup_in_module(struct sym_space *sp, struct module_priv *m, uint64_t a,
			     struct sym_info *info)
{
	struct sym_session *s = sp->s;
	Dwfl_Module *dw = m->dw;
	info->level = SYM_LEVEL_MODULE;
	info->function = m->bucket;

	Dwfl_Line *line = dwfl_module_getsrc(dw, a);
	if (line) {
		int lineno = 0, col = 0;
		const char *src = dwfl_lineinfo(line, NULL, &lineno, &col, NULL, NULL);
		if (src && lineno > 0) {
			info->file = intern(s, src);
			info->line = (unsigned)lineno;
			info->column = col > 0 ? (unsigned)col : 0;
		}
	}
	Dwarf_Die sub;
	int have_sub = 0;
	dwarf_chain(s, dw, a, info, &sub, &have_sub);

	GElf_Off off = 0;
	GElf_Sym sym;
	const char *name = dwfl_module_addrinfo(dw, a, &off, &sym, NULL, NULL, NULL);
	const struct sym_function *f = NULL;
	if (name && *name) {
		f = function_get(s, m->pub.path, a - off - m->pub.bias, intern(s, name));
		info->function_offset = off;
	} else if (have_sub && die_name(&sub)) {
		Dwarf_Addr low = 0;
		if (dwarf_lowpc(&sub, &low) != 0)
			low = a - m->pub.bias;
		f = function_get(s, m->pub.path, low, intern(s, die_name(&sub)));
		info->function_offset = a - m->pub.bias - low;
	}
	if (f) {
		info->function = f;
		info->level = info->file ? SYM_LEVEL_LINE : SYM_LEVEL_FUNCTION;
		if (have_sub && !f->decl_file) {
			struct sym_function *wf = s->funcs[f->id];
			int dl = 0;
			wf->decl_file = intern(s, dwarf_decl_file(&sub));
			if (dwarf_decl_line(&sub, &dl) == 0 && dl > 0)
				wf->decl_line = (unsigned)dl;
		}
	} else {
		/* A line without a function is not worth a function level. */
		info->file = NULL;
		info->line = 0;
		info->column = 0;
		info->n_frames = 0;
		info->frames = NULL;
	}
}

void sym_session_kernel_symbols(struct sym_session *s, const char *kallsyms_path)
{
	s->kallsyms = intern(s, kallsyms_path);
	s->kernel_state = s->kallsyms ? 1 : 0;
}

size_t sym_session_kernel_addresses(const struct sym_session *s)
{
	return s->kernel_addresses;
}

static int cmp_ksym(const void *x, const void *y)
{
	const struct ksym *a = x, *b = y;
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	if (a->global != b->global)
		return b->global - a->global; /* a global name before a local alias */
	return strcmp(a->name, b->name);
}

static void load_kallsyms(struct sym_session *s)
{
	s->kernel_state = -1;
	FILE *f = fopen(s->kallsyms, "r");
	if (!f) {
		warn(s, "%s: %s; kernel addresses are shown as [kernel]", s->kallsyms,
		     strerror(errno));
		return;
	}
	char line[1024];
	size_t cap = 0, zero = 0;
	while (fgets(line, sizeof line, f)) {
		/* "ffffffff81000000 T name\t[module]" */
		char *end;
		unsigned long long addr = strtoull(line, &end, 16);
		if (end == line || end[0] != ' ' || !end[1] || end[2] != ' ')
			continue;
		char type = end[1];
		if (!strchr("tTwW", type))
			continue;
		char *name = end + 3;
		size_t nlen = strcspn(name, " \t\n");
		if (!nlen)
			continue;
		char *mod = name + nlen;
		mod += strspn(mod, " \t");
		size_t mlen = 0;
		if (*mod == '[') {
			mod++;
			mlen = strcspn(mod, "]\n");
		}
		if (addr == 0) {
			zero++;
			continue;
		}
		if (s->n_ksyms == cap) {
			cap = cap ? cap * 2 : 65536;
			struct ksym *t = realloc(s->ksyms, cap * sizeof *t);
			if (!t) {
				fclose(f);
				warn(s, "%s: out of memory; kernel addresses are shown as [kernel]",
				     s->kallsyms);
				return;
			}
			s->ksyms = t;
		}
		char modname[300];
		if (mlen)
			snprintf(modname, sizeof modname, "[%.*s]", (int)(mlen < 256 ? mlen : 256),
				 mod);
		else
			snprintf(modname, sizeof modname, "[kernel]");
		struct ksym *k = &s->ksyms[s->n_ksyms];
		k->addr = addr;
		k->name = strtab_intern_n(&s->strs, name, nlen);
		k->module = intern(s, modname);
		k->global = type == 'T' || type == 'W';
		if (!k->name || !k->module)
			break;
		s->n_ksyms++;
	}
	fclose(f);
	if (s->n_ksyms == 0) {
		warn(s, "%s: no kernel symbol addresses%s; kernel addresses are shown as [kernel]",
		     s->kallsyms, zero ? " (hidden: kernel.kptr_restrict)" : "");
		return;
	}
	qsort(s->ksyms, s->n_ksyms, sizeof *s->ksyms, cmp_ksym);
	s->kernel_state = 2;
}

/* A kernel address to the kernel function holding it (the nearest
 * symbol at or below: kallsyms gives no sizes). */
static void lookup_kernel(struct sym_session *s, uint64_t a, struct sym_info *info)
{
	if (s->kernel_state == 1)
		load_kallsyms(s);
	if (s->kernel_state != 2 || a < s->ksyms[0].addr)
		return;
	size_t lo = 0, hi = s->n_ksyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->ksyms[mid].addr <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the first (global) name of that address */
	size_t i = lo - 1;
	while (i > 0 && s->ksyms[i - 1].addr == s->ksyms[i].addr)
		i--;
	const struct ksym *k = &s->ksyms[i];
	const struct sym_function *f = function_get(s, k->module, k->addr, k->name);
	if (!f)
		return;
	info->function = f;
	info->function_offset = a - k->addr;
	info->level = SYM_LEVEL_FUNCTION;
}

const struct sym_info *sym_lookup(struct sym_space *sp, uint64_t addr, int is_return_address)
{
	struct sym_session *s = sp->s;
	uint64_t a = is_return_address && addr > 0 ? addr - 1 : addr;
	const struct sym_info *hit = cache_find(&sp->cache, a);
	if (hit)
		return hit;
	space_close_report(sp);
	struct sym_info *info = arena_alloc(&s->arena, sizeof *info);
	if (!info)
		return NULL;
	info->addr = a;
	const struct mapping *map = find_mapping(sp, a);
	if (!map) {
		info->level = SYM_LEVEL_NONE;
		if (a >= KERNEL_START) {
			s->kernel_addresses++;
			info->function = s->kernel;
			info->module = &s->kernel_module;
			lookup_kernel(s, a, info);
		} else {
			info->function = s->unknown;
		}
		info->offset = a;
	} else {
		struct module_priv *m = map->mod;
		info->module = &m->pub;
		info->offset = a - m->pub.bias;
		if (m->pub.state == SYM_MODULE_OK && m->dw) {
			lookup_in_module(sp, m, a, info);
		} else {
			info->level = SYM_LEVEL_MODULE;
			info->function = m->bucket;
		}
	}
	if (!info->function || cache_put(&sp->cache, a, info) != 0)
		return NULL;
	s->level_counts[info->level]++;
	return info;
}

char *sym_describe(const struct sym_info *info, char *buf, size_t size)
{
	switch (info->level) {
	case SYM_LEVEL_LINE:
		snprintf(buf, size, "%s+0x%" PRIx64 " (%s:%u)", info->function->name,
			 info->function_offset, info->file, info->line);
		break;
	case SYM_LEVEL_FUNCTION:
		snprintf(buf, size, "%s+0x%" PRIx64, info->function->name, info->function_offset);
		break;
	case SYM_LEVEL_MODULE:
		snprintf(buf, size, "%s+0x%" PRIx64, info->module->name, info->offset);
		break;
	default:
		snprintf(buf, size, "0x%" PRIx64, info->addr);
	}
	return buf;
}
