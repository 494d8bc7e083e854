/* record: perf sampling of a command into a recording. See record.h.
 *
 * Owns, for one run: the per-CPU sampling and fault event descriptors and
 * their ring buffer mappings, the recording file writer, the table of files
 * already in the module map, and the side file the command's probes write.
 *
 * Ring buffers are read as perf_event_open(2) describes: data_head loaded
 * with acquire ordering, records copied out (they may wrap), data_tail
 * stored with release ordering once they are consumed. */
#include "probes/record.h"
#include "probes/events.h"
#include "probes/recording_write.h"
#include "probes/run.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 1024
#define MAX_FRAMES 512
#define EV_CPU 0
#define EV_FAULTS 1
#define SIDE_TYPES                                                                                 \
	((1u << RECW_REGION_BEGIN) | (1u << RECW_REGION_END) | (1u << RECW_REGION_STATS) |         \
	 (1u << RECW_NOTE))

/* Fields every record carries at its end (sample_id_all). */
#define SAMPLE_TYPE_BASE                                                                           \
	(PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |            \
	 PERF_SAMPLE_ADDR | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD)
#define SAMPLE_ID_SIZE 32 /* tid, time, cpu, identifier */

struct ring {
	int fd;       /* the CPU's sampling event: owns the buffer */
	int fault_fd; /* its fault event (output redirected here), or -1 */
	int cpu;
	void *base;
	size_t map_len;
	uint8_t *data;
	uint64_t size; /* data area, a power of 2 */
	bool hup;
};

struct recorder {
	const struct kbrecord_opts *o;
	struct kbrecord_summary *sum;
	struct recw_file *out;
	struct ring *rings;
	size_t nrings;
	uint64_t ids[2][MAX_CPUS]; /* kernel ids of each kind's events */
	size_t nids[2];
	uint8_t *tmp; /* a record copied out of the ring when it wraps */
	size_t tmp_cap;
	char **modules; /* paths already in the module map; owned */
	size_t nmodules, modules_cap;
	int side_fd;
	char side_path[4200];
	uint8_t *side_buf;
	size_t side_len, side_cap;
	bool side_bad;
	uint64_t side_off;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd)
{
	return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, PERF_FLAG_FD_CLOEXEC);
}

void kbrecord_split_callchain(const uint64_t *ips, uint64_t nr, uint64_t *out, uint32_t cap,
			      uint32_t *nr_kernel, uint32_t *nr_user)
{
	/* Kernel frames come first in perf's chain; keep that order and drop
	 * the markers, and frames of guest or hypervisor contexts. */
	uint32_t nk = 0, nu = 0;
	uint64_t ctx = PERF_CONTEXT_USER; /* perf always marks; assume user if not */
	uint32_t n = 0;
	for (uint64_t i = 0; i < nr && n < cap; i++) {
		uint64_t ip = ips[i];
		if (ip >= (uint64_t)PERF_CONTEXT_MAX) {
			ctx = ip;
			continue;
		}
		if (ctx == PERF_CONTEXT_KERNEL && nu == 0) {
			out[n++] = ip;
			nk++;
		} else if (ctx == PERF_CONTEXT_USER) {
			out[n++] = ip;
			nu++;
		}
	}
	*nr_kernel = nk;
	*nr_user = nu;
}

/* ---- CPUs ---- */

static size_t online_cpus(int *cpus, size_t max)
{
	size_t n = 0;
	FILE *f = fopen("/sys/devices/system/cpu/online", "r");
	if (f) {
		char line[4096];
		if (fgets(line, sizeof line, f)) {
			char *save = NULL;
			for (char *t = strtok_r(line, ",\n", &save); t;
			     t = strtok_r(NULL, ",\n", &save)) {
				int a, b;
				if (sscanf(t, "%d-%d", &a, &b) == 2) {
				} else if (sscanf(t, "%d", &a) == 1) {
					b = a;
				} else
					continue;
				for (int c = a; c <= b && n < max; c++)
					cpus[n++] = c;
			}
		}
		fclose(f);
	}
	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		for (long i = 0; i < c && n < max; i++)
			cpus[n++] = (int)i;
	}
	return n;
}

/* ---- module map ---- */

static bool module_seen(struct recorder *r, const char *path)
{
	for (size_t i = 0; i < r->nmodules; i++)
		if (strcmp(r->modules[i], path) == 0)
			return true;
	if (r->nmodules == r->modules_cap) {
		size_t cap = r->modules_cap ? 2 * r->modules_cap : 64;
		char **p = realloc(r->modules, cap * sizeof *p);
		if (!p)
			return true; /* no memory: skip the module rather than fail */
		r->modules = p;
		r->modules_cap = cap;
	}
	if ((r->modules[r->nmodules] = strdup(path)))
		r->nmodules++;
	return false;
}

/* Writes the MODULE record of a file at its first mapping. */
static void write_module(struct recorder *r, const char *path, const uint8_t *kernel_bid,
			 uint32_t kernel_bid_len)
{
	/* Only files: not "//anon", "[heap]", "[vdso]", SysV shm or deleted files. */
	if (path[0] != '/' || path[1] == '/' || strncmp(path, "/SYSV", 5) == 0 ||
	    strstr(path, " (deleted)") || module_seen(r, path))
		return;
	struct recw_module m = {.path = path, .note = ""};
	if (kernel_bid_len) {
		m.build_id_len = kernel_bid_len;
		memcpy(m.build_id, kernel_bid, kernel_bid_len);
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		char note[300];
		snprintf(note, sizeof note, "cannot open: %s", strerror(errno));
		m.note = note;
		recw_module(&r->out->enc, &m);
		return;
	}
	if (fstat(fd, &st) == 0) {
		m.size = (uint64_t)st.st_size;
		m.mtime_ns =
		    (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
	}
	Elf *elf = S_ISREG(st.st_mode) ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		m.note = "not an ELF file";
	} else {
		GElf_Ehdr eh;
		if (gelf_getehdr(elf, &eh))
			m.elf_type = eh.e_type;
		if (!kernel_bid_len) {
			const void *bid = NULL;
			ssize_t n = dwelf_elf_gnu_build_id(elf, &bid);
			if (n > 0 && n <= RECW_BUILD_ID_MAX) {
				m.build_id_len = (uint32_t)n;
				memcpy(m.build_id, bid, (size_t)n);
			} else {
				m.note = n == 0 ? "no build-id note" : "unreadable build-id note";
			}
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	recw_module(&r->out->enc, &m);
}

/* ---- the probes' side file ---- */

static void tail_side_file(struct recorder *r)
{
	if (r->side_fd < 0 || r->side_bad)
		return;
	for (;;) {
		if (r->side_cap - r->side_len < 65536) {
			size_t cap = r->side_cap ? 2 * r->side_cap : 1u << 17;
			if (cap > 2 * RECW_RECORD_MAX + (1u << 17))
				cap = r->side_cap; /* a full record fits already */
			if (cap != r->side_cap) {
				uint8_t *p = realloc(r->side_buf, cap);
				if (!p)
					return;
				r->side_buf = p;
				r->side_cap = cap;
			}
		}
		ssize_t got = pread(r->side_fd, r->side_buf + r->side_len,
				    r->side_cap - r->side_len, (off_t)(r->side_off + r->side_len));
		if (got <= 0)
			break;
		r->side_len += (size_t)got;
		size_t pos = 0;
		while (pos < r->side_len) {
			long size =
			    recw_frame_check(r->side_buf + pos, r->side_len - pos, SIDE_TYPES);
			if (size == 0)
				break;
			if (size < 0) {
				char text[200];
				snprintf(text, sizeof text,
					 "probes side file malformed at offset %llu: later region "
					 "records dropped",
					 (unsigned long long)(r->side_off + pos));
				recw_note(&r->out->enc, 0, mono_ns(), text);
				r->side_bad = true;
				return;
			}
			recw_raw(&r->out->enc, r->side_buf + pos, (size_t)size);
			r->sum->region_records++;
			pos += (size_t)size;
		}
		memmove(r->side_buf, r->side_buf + pos, r->side_len - pos);
		r->side_len -= pos;
		r->side_off += pos;
		if (r->side_cap - r->side_len >= 65536 && (size_t)got < 65536)
			break;
	}
}

/* ---- decoding perf records ---- */

struct rd {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
};

static uint64_t rd_u64(struct rd *d)
{
	if (d->len - d->pos < 8) {
		d->bad = true;
		return 0;
	}
	uint64_t v;
	memcpy(&v, d->p + d->pos, 8);
	d->pos += 8;
	return v;
}

static uint32_t rd_u32(struct rd *d)
{
	if (d->len - d->pos < 4) {
		d->bad = true;
		return 0;
	}
	uint32_t v;
	memcpy(&v, d->p + d->pos, 4);
	d->pos += 4;
	return v;
}

struct sample_id {
	uint32_t pid, tid, cpu;
	uint64_t time, id;
};

static bool read_sample_id(const uint8_t *rec, size_t size, struct sample_id *s)
{
	if (size < sizeof(struct perf_event_header) + SAMPLE_ID_SIZE)
		return false;
	struct rd d = {.p = rec + size - SAMPLE_ID_SIZE, .len = SAMPLE_ID_SIZE};
	s->pid = rd_u32(&d);
	s->tid = rd_u32(&d);
	s->time = rd_u64(&d);
	s->cpu = rd_u32(&d);
	(void)rd_u32(&d);
	s->id = rd_u64(&d);
	return !d.bad;
}

static int kind_of(const struct recorder *r, uint64_t id)
{
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < r->nids[k]; i++)
			if (r->ids[k][i] == id)
				return k;
	return -1;
}

static const char *bounded_str(const uint8_t *p, size_t max, char *buf, size_t bufsize)
{
	size_t n = strnlen((const char *)p, max);
	if (n >= bufsize)
		n = bufsize - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

static void on_sample(struct recorder *r, const uint8_t *rec, size_t size, uint16_t misc)
{
	struct rd d = {.p = rec + 8, .len = size - 8};
	uint64_t id = rd_u64(&d);
	struct recw_sample s = {0};
	s.ip = rd_u64(&d);
	s.pid = rd_u32(&d);
	s.tid = rd_u32(&d);
	s.time = rd_u64(&d);
	s.addr = rd_u64(&d);
	s.cpu = rd_u32(&d);
	(void)rd_u32(&d);
	s.period = rd_u64(&d);
	s.cpumode = misc & PERF_RECORD_MISC_CPUMODE_MASK;
	uint64_t frames[MAX_FRAMES];
	if (r->o->callchain) {
		uint64_t nr = rd_u64(&d);
		if (d.bad || nr > (d.len - d.pos) / 8)
			return;
		const uint8_t *ipsp = d.p + d.pos;
		uint64_t ips[MAX_FRAMES];
		uint64_t n = nr < MAX_FRAMES ? nr : MAX_FRAMES;
		memcpy(ips, ipsp, n * 8);
		kbrecord_split_callchain(ips, n, frames, MAX_FRAMES, &s.nr_kernel, &s.nr_user);
		s.ips = frames;
	}
	if (d.bad)
		return;
	int kind = kind_of(r, id);
	if (kind < 0)
		return;
	s.event_id = (uint32_t)kind;
	if (kind == EV_FAULTS)
		r->sum->fault_samples++;
	else {
		r->sum->samples++;
		s.addr = 0; /* not meaningful for time or cycle samples */
	}
	recw_sample(&r->out->enc, &s);
}

static void on_mmap2(struct recorder *r, const uint8_t *rec, size_t size, uint16_t misc)
{
	struct sample_id sid;
	if (!read_sample_id(rec, size, &sid))
		return;
	struct rd d = {.p = rec + 8, .len = size - 8 - SAMPLE_ID_SIZE};
	struct recw_mmap m = {0};
	m.pid = rd_u32(&d);
	m.tid = rd_u32(&d);
	m.start = rd_u64(&d);
	m.len = rd_u64(&d);
	m.pgoff = rd_u64(&d);
	if (d.len - d.pos < 24 + 8) {
		return;
	}
	const uint8_t *u = d.p + d.pos;
	if (misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
		uint32_t n = u[0];
		if (n > RECW_BUILD_ID_MAX)
			n = RECW_BUILD_ID_MAX;
		m.build_id_len = n;
		memcpy(m.build_id, u + 4, n);
		m.flags |= 1u; /* build-id valid */
	} else {
		memcpy(&m.maj, u, 4);
		memcpy(&m.min, u + 4, 4);
		memcpy(&m.ino, u + 8, 8);
		m.flags |= 2u; /* device/inode valid */
	}
	d.pos += 24;
	m.prot = rd_u32(&d);
	m.map_flags = rd_u32(&d);
	if (d.bad)
		return;
	char name[4096];
	m.filename = bounded_str(d.p + d.pos, d.len - d.pos, name, sizeof name);
	if (misc & PERF_RECORD_MISC_MMAP_DATA)
		m.flags |= 4u;
	m.time = sid.time;
	recw_mmap(&r->out->enc, &m);
	write_module(r, m.filename, (m.flags & 1u) ? m.build_id : NULL,
		     (m.flags & 1u) ? m.build_id_len : 0);
}

static void on_record(struct recorder *r, struct ring *ring, const uint8_t *rec, size_t size)
{
	struct perf_event_header h;
	memcpy(&h, rec, sizeof h);
	struct sample_id sid = {0};
	switch (h.type) {
	case PERF_RECORD_SAMPLE:
		on_sample(r, rec, size, h.misc);
		break;
	case PERF_RECORD_MMAP2:
		on_mmap2(r, rec, size, h.misc);
		break;
	case PERF_RECORD_COMM: {
		if (!read_sample_id(rec, size, &sid) || size < 16 + SAMPLE_ID_SIZE)
			break;
		struct rd d = {.p = rec + 8, .len = size - 8 - SAMPLE_ID_SIZE};
		uint32_t pid = rd_u32(&d), tid = rd_u32(&d);
		char comm[64];
		bounded_str(d.p + d.pos, d.len - d.pos, comm, sizeof comm);
		recw_comm(&r->out->enc, pid, tid, sid.time,
			  (h.misc & PERF_RECORD_MISC_COMM_EXEC) ? 1u : 0u, comm);
		break;
	}
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT: {
		struct rd d = {.p = rec + 8, .len = size - 8};
		uint32_t pid = rd_u32(&d), ppid = rd_u32(&d), tid = rd_u32(&d), ptid = rd_u32(&d);
		uint64_t time = rd_u64(&d);
		if (!d.bad)
			recw_task(&r->out->enc, h.type == PERF_RECORD_FORK ? RECW_FORK : RECW_EXIT,
				  pid, ppid, tid, ptid, time);
		break;
	}
	case PERF_RECORD_LOST: {
		struct rd d = {.p = rec + 8, .len = size - 8};
		uint64_t id = rd_u64(&d), lost = rd_u64(&d);
		read_sample_id(rec, size, &sid);
		if (d.bad)
			break;
		int kind = kind_of(r, id);
		r->sum->lost += lost;
		recw_lost(&r->out->enc, kind < 0 ? UINT32_MAX : (uint32_t)kind, (uint32_t)ring->cpu,
			  sid.time, lost);
		break;
	}
	case PERF_RECORD_LOST_SAMPLES: {
		struct rd d = {.p = rec + 8, .len = size - 8};
		uint64_t lost = rd_u64(&d);
		if (d.bad || !read_sample_id(rec, size, &sid))
			break;
		int kind = kind_of(r, sid.id);
		r->sum->lost += lost;
		recw_lost(&r->out->enc, kind < 0 ? UINT32_MAX : (uint32_t)kind, (uint32_t)ring->cpu,
			  sid.time, lost);
		break;
	}
	case PERF_RECORD_THROTTLE:
	case PERF_RECORD_UNTHROTTLE: {
		struct rd d = {.p = rec + 8, .len = size - 8};
		uint64_t time = rd_u64(&d), id = rd_u64(&d);
		if (d.bad)
			break;
		int kind = kind_of(r, id);
		if (h.type == PERF_RECORD_THROTTLE)
			r->sum->throttled++;
		recw_throttle(&r->out->enc, kind < 0 ? UINT32_MAX : (uint32_t)kind,
			      h.type == PERF_RECORD_THROTTLE, time);
		break;
	}
	default:
		break;
	}
}

static void drain(struct recorder *r, struct ring *ring)
{
	struct perf_event_mmap_page *mp = ring->base;
	uint64_t head = __atomic_load_n(&mp->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = mp->data_tail;
	while (tail < head) {
		uint64_t off = tail & (ring->size - 1);
		struct perf_event_header h;
		if (ring->size - off >= sizeof h) {
			memcpy(&h, ring->data + off, sizeof h);
		} else {
			size_t first = ring->size - off;
			memcpy(&h, ring->data + off, first);
			memcpy((uint8_t *)&h + first, ring->data, sizeof h - first);
		}
		if (h.size < sizeof h || h.size > head - tail) {
			tail = head; /* cannot happen with a sane kernel: skip all */
			break;
		}
		const uint8_t *rec;
		if (ring->size - off >= h.size) {
			rec = ring->data + off;
		} else {
			if (h.size > r->tmp_cap) {
				uint8_t *p = realloc(r->tmp, h.size);
				if (!p) {
					tail += h.size;
					continue;
				}
				r->tmp = p;
				r->tmp_cap = h.size;
			}
			size_t first = ring->size - off;
			memcpy(r->tmp, ring->data + off, first);
			memcpy(r->tmp + first, ring->data, h.size - first);
			rec = r->tmp;
		}
		on_record(r, ring, rec, h.size);
		tail += h.size;
	}
	__atomic_store_n(&mp->data_tail, tail, __ATOMIC_RELEASE);
}

/* ---- opening ---- */

static void base_attr(struct perf_event_attr *a, const struct kbrecord_opts *o)
{
	a->size = sizeof *a;
	a->sample_type = SAMPLE_TYPE_BASE | (o->callchain ? PERF_SAMPLE_CALLCHAIN : 0);
	a->sample_id_all = 1;
	a->disabled = 1;
	a->enable_on_exec = 1;
	a->inherit = 1;
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
	a->watermark = 1;
}

/* Opens attr for the command on every CPU (group leaders, one per CPU). On
 * EACCES for kernel sampling, retries sampling user space only. */
static int open_on_cpus(struct recorder *r, struct perf_event_attr *attr, pid_t pid, int *fds,
			char *note, size_t note_size)
{
	struct kbev_open_ctx ctx = {0};
	kbev_machine_ctx(&ctx);
	for (size_t i = 0; i < r->nrings; i++) {
		int fd = sys_perf_event_open(attr, pid, r->rings[i].cpu, -1);
		if (fd < 0 && errno == EINVAL && attr->build_id) {
			attr->build_id = 0; /* an older kernel: read build-ids from files */
			fd = sys_perf_event_open(attr, pid, r->rings[i].cpu, -1);
		}
		if (fd < 0 && (errno == EACCES || errno == EPERM) && !attr->exclude_kernel &&
		    !ctx.privileged) {
			attr->exclude_kernel = 1;
			attr->exclude_hv = 1;
			attr->exclude_callchain_kernel = 1;
			fd = sys_perf_event_open(attr, pid, r->rings[i].cpu, -1);
			if (fd >= 0 && note)
				snprintf(note, note_size,
					 "user space only: perf_event_paranoid is %d; kernel "
					 "sampling needs <= 1 or CAP_PERFMON",
					 ctx.paranoid);
		}
		if (fd < 0) {
			int e = errno;
			for (size_t j = 0; j < i; j++)
				close(fds[j]);
			errno = e;
			return -1;
		}
		fds[i] = fd;
	}
	return 0;
}

static void explain(int e, const struct perf_event_attr *a, char *buf, size_t size)
{
	struct kbev_open_ctx ctx = {0};
	kbev_machine_ctx(&ctx);
	ctx.counts_kernel = !a->exclude_kernel;
	ctx.hardware = kbev_pmu_key(a) == 0;
	kbev_explain(e, &ctx, buf, size);
}

static void close_rings(struct recorder *r)
{
	for (size_t i = 0; r->rings && i < r->nrings; i++) {
		struct ring *g = &r->rings[i];
		if (g->base)
			munmap(g->base, g->map_len);
		if (g->fault_fd >= 0)
			close(g->fault_fd);
		if (g->fd >= 0)
			close(g->fd);
	}
	free(r->rings);
	r->rings = NULL;
}

static int open_events(struct recorder *r, pid_t pid, struct kb_error *err)
{
	const struct kbrecord_opts *o = r->o;
	const char *want = o->event ? o->event : "cycles";
	struct kbev_list list;
	if (kbev_list_parse(&list, want, err))
		return -1;
	if (list.n != 1) {
		kbev_list_free(&list);
		return kb_error_set(err, "%s: record samples one event, not %zu", want, list.n);
	}
	struct perf_event_attr attr = list.ev[0].attr;
	kbev_list_free(&list);
	base_attr(&attr, o);
	if (o->period) {
		attr.sample_period = o->period;
		attr.freq = 0;
	} else {
		attr.sample_freq = o->freq ? o->freq : KBRECORD_DEFAULT_FREQ;
		attr.freq = 1;
	}
	/* Side-band rides on the CPU sampling events. */
	attr.mmap = 1;
	attr.mmap2 = 1;
	attr.mmap_data = 1;
	attr.comm = 1;
	attr.comm_exec = 1;
	attr.task = 1;
	attr.build_id = 1;
	size_t pages = o->mmap_pages ? o->mmap_pages : 256;
	long psz = sysconf(_SC_PAGESIZE);
	attr.wakeup_watermark = (uint32_t)(pages * (size_t)psz / 4);

	int *fds = calloc(r->nrings, sizeof *fds);
	if (!fds)
		return kb_error_set(err, "out of memory");
	char note[KBEV_REASON_MAX * 2] = "";
	char access_note[KBEV_REASON_MAX] = "";
	snprintf(r->sum->event, sizeof r->sum->event, "%s", want);
	if (open_on_cpus(r, &attr, pid, fds, access_note, sizeof access_note)) {
		int e = errno;
		char why[KBEV_REASON_MAX];
		explain(e, &attr, why, sizeof why);
		if (kbev_pmu_key(&attr) != 0) {
			free(fds);
			return kb_error_set(err, "%s: %s", want, why);
		}
		/* A hardware event the machine cannot sample: time instead. */
		attr.type = PERF_TYPE_SOFTWARE;
		attr.config = PERF_COUNT_SW_CPU_CLOCK;
		attr.exclude_kernel = 0;
		attr.exclude_hv = 0;
		attr.exclude_callchain_kernel = 0;
		if (open_on_cpus(r, &attr, pid, fds, access_note, sizeof access_note)) {
			e = errno;
			char why2[KBEV_REASON_MAX];
			explain(e, &attr, why2, sizeof why2);
			free(fds);
			return kb_error_set(err, "%s: %s; cpu-clock: %s", want, why, why2);
		}
		snprintf(note, sizeof note, "%s: %s; sampling cpu-clock instead", want, why);
		snprintf(r->sum->event, sizeof r->sum->event, "cpu-clock");
		r->sum->fallback = true;
		if (o->msgs)
			fprintf(o->msgs, "kbprof record: %s\n", note);
	}
	if (access_note[0]) {
		if (o->msgs)
			fprintf(o->msgs, "kbprof record: %s: %s\n", r->sum->event, access_note);
		size_t len = strlen(note);
		snprintf(note + len, sizeof note - len, "%s%s", len ? "; " : "", access_note);
	}
	for (size_t i = 0; i < r->nrings; i++)
		r->rings[i].fd = fds[i];
	free(fds);

	for (size_t i = 0; i < r->nrings; i++) {
		struct ring *g = &r->rings[i];
		g->map_len = (pages + 1) * (size_t)psz;
		g->base = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
		if (g->base == MAP_FAILED) {
			g->base = NULL;
			return kb_error_set(err, "cannot map the ring buffer of cpu %d: %s", g->cpu,
					    strerror(errno));
		}
		struct perf_event_mmap_page *mp = g->base;
		g->data = (uint8_t *)g->base + (mp->data_offset ? mp->data_offset : (size_t)psz);
		g->size = mp->data_size ? mp->data_size : pages * (size_t)psz;
		if (ioctl(g->fd, PERF_EVENT_IOC_ID, &r->ids[EV_CPU][r->nids[EV_CPU]]) == 0)
			r->nids[EV_CPU]++;
	}
	uint32_t flags =
	    (o->period ? 0 : 1u) | (o->callchain ? 2u : 0) | (r->sum->fallback ? 4u : 0);
	recw_event(&r->out->enc, EV_CPU, 1, attr.type, flags, attr.config,
		   o->period ? o->period : attr.sample_freq, r->sum->event, note);
	if (note[0])
		recw_note(&r->out->enc, 0, mono_ns(), note);

	if (o->faults) {
		struct perf_event_attr fa = {0};
		fa.type = PERF_TYPE_SOFTWARE;
		fa.config = PERF_COUNT_SW_PAGE_FAULTS;
		base_attr(&fa, o);
		fa.sample_period = 1;
		fa.watermark = 0;
		fa.wakeup_events = 0;
		int *ffds = calloc(r->nrings, sizeof *ffds);
		if (!ffds)
			return kb_error_set(err, "out of memory");
		if (open_on_cpus(r, &fa, pid, ffds, NULL, 0)) {
			char why[KBEV_REASON_MAX];
			explain(errno, &fa, why, sizeof why);
			free(ffds);
			return kb_error_set(err, "page-faults: %s", why);
		}
		for (size_t i = 0; i < r->nrings; i++) {
			r->rings[i].fault_fd = ffds[i];
			if (ioctl(ffds[i], PERF_EVENT_IOC_SET_OUTPUT, r->rings[i].fd) != 0) {
				int e = errno;
				free(ffds);
				return kb_error_set(err,
						    "page-faults: cannot share cpu %d's buffer: %s",
						    r->rings[i].cpu, strerror(e));
			}
			if (ioctl(ffds[i], PERF_EVENT_IOC_ID,
				  &r->ids[EV_FAULTS][r->nids[EV_FAULTS]]) == 0)
				r->nids[EV_FAULTS]++;
		}
		free(ffds);
		recw_event(&r->out->enc, EV_FAULTS, 2, PERF_TYPE_SOFTWARE, o->callchain ? 2u : 0,
			   PERF_COUNT_SW_PAGE_FAULTS, 1, "page-faults", "");
	}
	return 0;
}

/* ---- the run ---- */

static int write_session(struct recorder *r, pid_t pid)
{
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	struct utsname u;
	if (uname(&u) != 0)
		memset(&u, 0, sizeof u);
	uint32_t argc = 0;
	while (r->o->argv[argc])
		argc++;
	struct recw_session s = {
	    .start_ns = mono_ns(),
	    .start_realtime_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec,
	    .clockid = CLOCK_MONOTONIC,
	    .pid = (uint32_t)pid,
	    .kbprof_version = r->o->kbprof_version ? r->o->kbprof_version : "",
	    .hostname = u.nodename,
	    .kernel = u.release,
	    .argc = argc,
	    .argv = r->o->argv,
	};
	return recw_session(&r->out->enc, &s);
}

static uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

static void loop(struct recorder *r, struct kbrun *run)
{
	struct pollfd *pfd = calloc(r->nrings + 1, sizeof *pfd);
	for (;;) {
		size_t n = 0;
		if (pfd) {
			for (size_t i = 0; i < r->nrings; i++)
				if (!r->rings[i].hup)
					pfd[n++] =
					    (struct pollfd){.fd = r->rings[i].fd, .events = POLLIN};
			pfd[n++] = (struct pollfd){.fd = run->wake_fd, .events = POLLIN};
			poll(pfd, n, 100);
			for (size_t i = 0, k = 0; i < r->nrings; i++)
				if (!r->rings[i].hup && (pfd[k++].revents & (POLLHUP | POLLERR)))
					r->rings[i].hup = true;
			char junk[64];
			while (read(run->wake_fd, junk, sizeof junk) > 0)
				;
		} else {
			usleep(100000);
		}
		bool done = kbrun_poll(run);
		for (size_t i = 0; i < r->nrings; i++)
			drain(r, &r->rings[i]);
		tail_side_file(r);
		recw_flush(&r->out->enc);
		if (done)
			break;
	}
	free(pfd);
}

int kbrecord_run(const struct kbrecord_opts *o, struct kbrecord_summary *sum, bool *exec_failed,
		 struct kb_error *err)
{
	memset(sum, 0, sizeof *sum);
	*exec_failed = false;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return kb_error_set(err, "libelf: %s", elf_errmsg(-1));
	struct recorder r = {.o = o, .sum = sum, .side_fd = -1};
	int cpus[MAX_CPUS];
	r.nrings = online_cpus(cpus, MAX_CPUS);
	r.rings = calloc(r.nrings, sizeof *r.rings);
	if (!r.rings)
		return kb_error_set(err, "out of memory");
	for (size_t i = 0; i < r.nrings; i++) {
		r.rings[i].cpu = cpus[i];
		r.rings[i].fd = r.rings[i].fault_fd = -1;
	}
	const char *output = o->output ? o->output : KBRECORD_DEFAULT_OUTPUT;
	int rc = -1;
	struct kbrun run;
	bool started = false;
	if (recw_file_create(&r.out, output, err))
		goto out;

	/* The side file the command's probes append region records to. */
	snprintf(r.side_path, sizeof r.side_path, "%s.probes-XXXXXX", output);
	r.side_fd = mkstemp(r.side_path);
	if (r.side_fd < 0) {
		kb_error_set(err, "%s: %s", r.side_path, strerror(errno));
		r.side_path[0] = '\0';
		goto out;
	}
	char env_mode[] = "KBPROF_PROBES=trace";
	char env_out[4300];
	snprintf(env_out, sizeof env_out, "KBPROF_PROBES_OUT=%s", r.side_path);
	char *env[] = {env_mode, env_out, NULL};
	if (o->no_regions)
		env[0] = NULL;
	if (kbrun_start(&run, o->argv, env, err))
		goto out;
	started = true;
	write_session(&r, run.pid);
	if (open_events(&r, run.pid, err)) {
		kbrun_abort(&run);
		started = false;
		goto out;
	}
	recw_flush(&r.out->enc);
	if (kbrun_go(&run, o->argv, err)) {
		*exec_failed = true;
		kbrun_finish(&run);
		started = false;
		goto out;
	}
	loop(&r, &run);
	for (size_t i = 0; i < r.nrings; i++)
		drain(&r, &r.rings[i]);
	tail_side_file(&r);
	sum->exit_code = kbrun_exit_code(&run);
	sum->interrupted = kbrun_interrupted();
	struct recw_finish f = {
	    .end_ns = mono_ns(),
	    .samples = sum->samples + sum->fault_samples,
	    .lost = sum->lost,
	    .throttled = sum->throttled,
	    .ru_minflt = (uint64_t)run.rusage.ru_minflt,
	    .ru_majflt = (uint64_t)run.rusage.ru_majflt,
	    .ru_utime_ns = tv_ns(run.rusage.ru_utime),
	    .ru_stime_ns = tv_ns(run.rusage.ru_stime),
	    .ru_maxrss_kb = (uint64_t)run.rusage.ru_maxrss,
	};
	if (WIFSIGNALED(run.wait_status)) {
		f.status = WTERMSIG(run.wait_status);
		f.flags |= 2u;
	} else {
		f.status = WEXITSTATUS(run.wait_status);
	}
	if (sum->interrupted)
		f.flags |= 1u;
	recw_finish(&r.out->enc, &f);
	kbrun_finish(&run);
	started = false;
	rc = 0;
out:
	if (started)
		kbrun_abort(&run);
	close_rings(&r);
	if (r.out) {
		struct kb_error werr;
		if (recw_file_close(r.out, &werr) && rc == 0) {
			kb_error_set(err, "%s", werr.msg);
			rc = -1;
		}
		struct stat st;
		if (stat(output, &st) == 0)
			sum->bytes = (uint64_t)st.st_size;
		if (*exec_failed)
			unlink(output);
	}
	if (r.side_fd >= 0)
		close(r.side_fd);
	if (r.side_path[0])
		unlink(r.side_path);
	for (size_t i = 0; i < r.nmodules; i++)
		free(r.modules[i]);
	free(r.modules);
	free(r.side_buf);
	free(r.tmp);
	return rc;
}
