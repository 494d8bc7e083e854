/* events: parsing with libpfm4, grouping and opening with perf_event_open.
 * See events.h for the ownership of lists and sets. */
#include "probes/events.h"

#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <perfmon/pfmlib_perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define READ_FORMAT                                                                                \
	(PERF_FORMAT_GROUP | PERF_FORMAT_ID | PERF_FORMAT_TOTAL_TIME_ENABLED |                     \
	 PERF_FORMAT_TOTAL_TIME_RUNNING)

static pthread_once_t pfm_once = PTHREAD_ONCE_INIT;
static int pfm_status = PFM_SUCCESS;

static void pfm_init_once(void)
{
	pfm_status = pfm_initialize();
}

int kbev_init(struct kb_error *err)
{
	pthread_once(&pfm_once, pfm_init_once);
	if (pfm_status != PFM_SUCCESS)
		return kb_error_set(err, "libpfm4: cannot initialise: %s",
				    pfm_strerror(pfm_status));
	return 0;
}

int kbev_pmu_key(const struct perf_event_attr *attr)
{
	switch (attr->type) {
	case PERF_TYPE_HARDWARE:
	case PERF_TYPE_HW_CACHE:
	case PERF_TYPE_RAW:
		return 0;
	case PERF_TYPE_SOFTWARE:
		/* The kernel keeps the two clocks in PMUs of their own, apart
		 * from the other software events; grouped across them, members
		 * read wrong (a task-clock leader's page-fault members count
		 * nothing, a page-fault leader's task-clock member lags). */
		if (attr->config == PERF_COUNT_SW_TASK_CLOCK)
			return -2;
		if (attr->config == PERF_COUNT_SW_CPU_CLOCK)
			return -3;
		return 1;
	default:
		return 2 + (int)attr->type;
	}
}

void kbev_list_free(struct kbev_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->ev[i].name);
		free(list->ev[i].fstr);
		free(list->ev[i].pmu);
	}
	free(list->ev);
	list->ev = NULL;
	list->n = 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int encode_one(struct kbev *ev, const char *name, struct kb_error *err)
{
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof attr);
	char *fstr = NULL;
	pfm_perf_encode_arg_t arg;
	memset(&arg, 0, sizeof arg);
	arg.attr = &attr;
	arg.fstr = &fstr;
	arg.size = sizeof arg;
	int rc = pfm_get_os_event_encoding(name, PFM_PLM0 | PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg);
	if (rc != PFM_SUCCESS) {
		free(fstr);
		if (rc == PFM_ERR_NOTFOUND)
			return kb_error_set(err, "%s: unknown event (libpfm: %s)", name,
					    pfm_strerror(rc));
		return kb_error_set(err, "%s: cannot encode the event (libpfm: %s)", name,
				    pfm_strerror(rc));
	}
	pfm_event_info_t info;
	memset(&info, 0, sizeof info);
	info.size = sizeof info;
	pfm_pmu_info_t pinfo;
	memset(&pinfo, 0, sizeof pinfo);
	pinfo.size = sizeof pinfo;
	const char *pmu = "unknown";
	if (pfm_get_event_info(arg.idx, PFM_OS_PERF_EVENT_EXT, &info) == PFM_SUCCESS &&
	    pfm_get_pmu_info(info.pmu, &pinfo) == PFM_SUCCESS && pinfo.name)
		pmu = pinfo.name;
	attr.size = sizeof attr;
	ev->attr = attr;
	ev->name = strdup(name);
	ev->fstr = fstr;
	ev->pmu = strdup(pmu);
	ev->pmu_key = kbev_pmu_key(&attr);
	if (!ev->name || !ev->pmu)
		return kb_error_set(err, "%s: out of memory", name);
	return 0;
}

int kbev_list_parse(struct kbev_list *list, const char *spec, struct kb_error *err)
{
	list->ev = NULL;
	list->n = 0;
	if (kbev_init(err))
		return -1;
	if (!spec)
		return kb_error_set(err, "empty event list");
	char *copy = strdup(spec);
	if (!copy)
		return kb_error_set(err, "out of memory");
	list->ev = calloc(KBEV_MAX_EVENTS, sizeof *list->ev);
	if (!list->ev) {
		free(copy);
		return kb_error_set(err, "out of memory");
	}
	int rc = 0;
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *name = trim(tok);
		if (!*name)
			continue;
		if (strpbrk(name, "{}")) {
			rc = kb_error_set(err,
					  "%s: event groups in braces are not supported; "
					  "kbprof groups events of one PMU itself",
					  name);
			break;
		}
		if (list->n == KBEV_MAX_EVENTS) {
			rc = kb_error_set(err, "more than %d events", KBEV_MAX_EVENTS);
			break;
		}
		if (encode_one(&list->ev[list->n], name, err)) {
			list->n++; /* so that its strings are freed */
			rc = -1;
			break;
		}
		list->n++;
	}
	free(copy);
	if (rc == 0 && list->n == 0)
		rc = kb_error_set(err, "empty event list");
	if (rc)
		kbev_list_free(list);
	return rc;
}

enum kbev_status kbev_explain(int errnum, const struct kbev_open_ctx *ctx, char *reason,
			      size_t size)
{
	switch (errnum) {
	case ENOENT:
	case EOPNOTSUPP:
	case ENODEV:
		if (ctx->hardware && !ctx->has_hw_pmu)
			snprintf(reason, size, "not supported (no hardware PMU on this machine)");
		else
			snprintf(reason, size, "not supported (%s)", strerror(errnum));
		return KBEV_NOT_SUPPORTED;
	case EACCES:
	case EPERM: {
		/* The paranoia levels: 2 allows user-space counting of one's own
		 * processes, 1 adds kernel counting, 0 adds CPU-wide events. */
		int need = ctx->cpu_wide ? 0 : ctx->counts_kernel ? 1 : 2;
		if (!ctx->privileged && ctx->paranoid > need)
			snprintf(reason, size,
				 "no permission: perf_event_paranoid is %d; needs <= %d or "
				 "CAP_PERFMON",
				 ctx->paranoid, need);
		else
			snprintf(reason, size,
				 "no permission (%s) although perf_event_paranoid is %d: denied by "
				 "a security policy (seccomp, LSM) or a container",
				 strerror(errnum), ctx->paranoid);
		return KBEV_NO_PERMISSION;
	}
	case EINVAL:
		snprintf(reason, size,
			 "invalid attributes for this kernel or PMU (EINVAL), or the group "
			 "does not fit the counters");
		return KBEV_FAILED;
	case EBUSY:
		snprintf(reason, size, "PMU busy (EBUSY): another tool holds it exclusively");
		return KBEV_FAILED;
	case EMFILE:
	case ENFILE:
		snprintf(reason, size, "too many open files (%s)", strerror(errnum));
		return KBEV_FAILED;
	case ENOSPC:
		snprintf(reason, size, "no counter left for it (ENOSPC)");
		return KBEV_FAILED;
	case ESRCH:
		snprintf(reason, size, "the process to count no longer exists (ESRCH)");
		return KBEV_FAILED;
	default:
		snprintf(reason, size, "cannot open: %s", strerror(errnum));
		return KBEV_FAILED;
	}
}

static bool has_cap_perfmon(void)
{
	if (geteuid() == 0)
		return true;
	/* CAP_PERFMON (38) or CAP_SYS_ADMIN (21) in the effective set. */
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return false;
	char line[256];
	unsigned long long eff = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (eff >> 38 & 1) || (eff >> 21 & 1);
}

void kbev_machine_ctx(struct kbev_open_ctx *ctx)
{
	ctx->paranoid = 2;
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	if (f) {
		int v;
		if (fscanf(f, "%d", &v) == 1)
			ctx->paranoid = v;
		fclose(f);
	}
	ctx->has_hw_pmu = access("/sys/bus/event_source/devices/cpu", F_OK) == 0 ||
			  access("/sys/bus/event_source/devices/cpu_core", F_OK) == 0 ||
			  access("/sys/bus/event_source/devices/armv8_pmuv3_0", F_OK) == 0;
	ctx->privileged = has_cap_perfmon();
}

double kbev_scale(uint64_t value, uint64_t enabled, uint64_t running, double *fraction)
{
	if (enabled == 0) {
		/* Never enabled: nothing was multiplexed, the count is exact. */
		if (fraction)
			*fraction = running ? 1.0 : (value ? 1.0 : 0.0);
		return (double)value;
	}
	if (running == 0) {
		if (fraction)
			*fraction = 0.0;
		return 0.0;
	}
	if (running > enabled)
		running = enabled;
	if (fraction)
		*fraction = (double)running / (double)enabled;
	return (double)value * ((double)enabled / (double)running);
}

const char *kbev_unit(const struct perf_event_attr *attr)
{
	if (attr->type == PERF_TYPE_SOFTWARE &&
	    (attr->config == PERF_COUNT_SW_TASK_CLOCK || attr->config == PERF_COUNT_SW_CPU_CLOCK))
		return "msec";
	return "";
}

static bool is_task_clock(const struct perf_event_attr *a)
{
	return a->type == PERF_TYPE_SOFTWARE && a->config == PERF_COUNT_SW_TASK_CLOCK;
}

static int sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd)
{
	return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, PERF_FLAG_FD_CLOEXEC);
}

void kbev_set_close(struct kbev_set *set)
{
	if (set->fd)
		for (size_t i = 0; i < set->n; i++)
			if (set->fd[i] >= 0)
				close(set->fd[i]);
	free(set->fd);
	free(set->id);
	free(set->leader);
	free(set->derived);
	free(set->result);
	free(set->buf);
	memset(set, 0, sizeof *set);
}

/* Opens event i with the given group leader fd (-1: as its own leader).
 * On EACCES for an event counting the kernel, retries counting user space
 * only, as perf does, and says so in the result. Returns fd or -1 (errno). */
static int open_event(struct kbev_set *set, size_t i, pid_t pid, int group_fd, unsigned flags,
		      const struct kbev_open_ctx *ctx)
{
	struct perf_event_attr attr = set->list->ev[i].attr;
	attr.size = sizeof attr;
	attr.read_format = READ_FORMAT;
	attr.inherit = (flags & KBEV_OPEN_INHERIT) ? 1 : 0;
	bool leader = group_fd < 0;
	attr.disabled = (leader && (flags & KBEV_OPEN_ENABLE_ON_EXEC)) ? 1 : 0;
	attr.enable_on_exec = attr.disabled;
	int fd = sys_perf_event_open(&attr, pid, -1, group_fd);
	if (fd < 0 && (errno == EACCES || errno == EPERM) && !attr.exclude_kernel &&
	    !ctx->privileged && ctx->paranoid >= 2) {
		attr.exclude_kernel = 1;
		attr.exclude_hv = 1;
		fd = sys_perf_event_open(&attr, pid, -1, group_fd);
		if (fd >= 0)
			snprintf(set->result[i].note, sizeof set->result[i].note,
				 "user space only: perf_event_paranoid is %d; kernel counting "
				 "needs <= 1 or CAP_PERFMON",
				 ctx->paranoid);
		else
			errno = EACCES;
	}
	return fd;
}

static void refuse(struct kbev_set *set, size_t i, int errnum, const struct kbev_open_ctx *base)
{
	struct kbev_open_ctx ctx = *base;
	const struct perf_event_attr *a = &set->list->ev[i].attr;
	ctx.counts_kernel = !a->exclude_kernel;
	ctx.hardware = kbev_pmu_key(a) == 0;
	set->result[i].status =
	    kbev_explain(errnum, &ctx, set->result[i].reason, sizeof set->result[i].reason);
}

int kbev_set_open(struct kbev_set *set, const struct kbev_list *list, pid_t pid, unsigned flags,
		  struct kb_error *err)
{
	memset(set, 0, sizeof *set);
	set->list = list;
	set->n = list->n;
	size_t n = list->n ? list->n : 1;
	set->fd = malloc(n * sizeof *set->fd);
	set->id = calloc(n, sizeof *set->id);
	set->leader = malloc(n * sizeof *set->leader);
	set->derived = calloc(n, sizeof *set->derived);
	set->result = calloc(n, sizeof *set->result);
	set->buf_words = 3 + 2 * n;
	set->buf = calloc(set->buf_words, sizeof *set->buf);
	if (!set->fd || !set->id || !set->leader || !set->derived || !set->result || !set->buf) {
		kbev_set_close(set);
		return kb_error_set(err, "out of memory");
	}
	for (size_t i = 0; i < set->n; i++) {
		set->fd[i] = -1;
		set->leader[i] = -1;
	}
	struct kbev_open_ctx ctx = {.cpu_wide = pid == -1};
	kbev_machine_ctx(&ctx);

	/* One group per PMU key, in the order the events were given. */
	bool *done = calloc(n, sizeof *done);
	if (!done) {
		kbev_set_close(set);
		return kb_error_set(err, "out of memory");
	}
	bool derive = (flags & KBEV_OPEN_DERIVE_TASK_CLOCK) && !(flags & KBEV_OPEN_INHERIT);
	size_t nclock = 0;
	if (derive)
		for (size_t i = 0; i < set->n; i++)
			if (is_task_clock(&list->ev[i].attr)) {
				done[i] = true; /* after the others */
				nclock++;
			}
	for (size_t first = 0; first < set->n; first++) {
		if (done[first])
			continue;
		int key = list->ev[first].pmu_key;
		int leader = -1;
		for (size_t i = first; i < set->n; i++) {
			if (done[i] || list->ev[i].pmu_key != key)
				continue;
			done[i] = true;
			int fd = open_event(set, i, pid, leader >= 0 ? set->fd[leader] : -1, flags,
					    &ctx);
			int e = errno;
			if (fd < 0 && leader >= 0) {
				/* Refused in the group (it may not fit the counters,
				 * or the event itself is refused): try it alone. */
				fd = open_event(set, i, pid, -1, flags, &ctx);
				e = errno;
				if (fd >= 0) {
					set->fd[i] = fd;
					set->leader[i] = (int)i;
					goto opened;
				}
			}
			if (fd < 0) {
				refuse(set, i, e, &ctx);
				continue;
			}
			set->fd[i] = fd;
			if (leader < 0)
				leader = (int)i;
			set->leader[i] = leader;
		opened:
			if (ioctl(set->fd[i], PERF_EVENT_IOC_ID, &set->id[i]) != 0)
				set->id[i] = 0;
			set->nopen++;
		}
	}
	for (size_t i = 0; nclock && i < set->n; i++) {
		if (!derive || !is_task_clock(&list->ev[i].attr))
			continue;
		int from = -1;
		for (size_t l = 0; l < set->n && from < 0; l++)
			if (set->fd[l] >= 0 && set->leader[l] == (int)l && !set->derived[l])
				from = (int)l;
		if (from >= 0) {
			set->derived[i] = true;
			set->leader[i] = from;
			set->nopen++;
			continue;
		}
		int fd = open_event(set, i, pid, -1, flags, &ctx);
		if (fd < 0) {
			refuse(set, i, errno, &ctx);
			continue;
		}
		set->fd[i] = fd;
		set->leader[i] = (int)i;
		if (ioctl(fd, PERF_EVENT_IOC_ID, &set->id[i]) != 0)
			set->id[i] = 0;
		set->nopen++;
	}
	free(done);
	return 0;
}

int kbev_set_read(struct kbev_set *set)
{
	int rc = 0;
	for (size_t l = 0; l < set->n; l++) {
		if (set->fd[l] < 0 || set->leader[l] != (int)l)
			continue;
		ssize_t got = read(set->fd[l], set->buf, set->buf_words * sizeof *set->buf);
		if (got < (ssize_t)(3 * sizeof *set->buf)) {
			rc = -1;
			continue;
		}
		uint64_t nr = set->buf[0], enabled = set->buf[1], running = set->buf[2];
		size_t words = (size_t)got / sizeof *set->buf;
		if (nr > (words - 3) / 2)
			nr = (words - 3) / 2;
		for (size_t i = 0; i < set->n; i++)
			if (set->derived[i] && set->leader[i] == (int)l) {
				set->result[i].value = enabled;
				set->result[i].enabled = enabled;
				set->result[i].running = enabled;
			}
		/* Values come in the order members joined; match them by id. */
		for (size_t k = 0; k < nr; k++) {
			uint64_t value = set->buf[3 + 2 * k], id = set->buf[4 + 2 * k];
			for (size_t i = 0; i < set->n; i++) {
				if (set->leader[i] != (int)l || set->derived[i] || set->id[i] != id)
					continue;
				struct kbev_result *r = &set->result[i];
				r->value = value;
				r->enabled = enabled;
				r->running = running;
				if (running == 0 && enabled > 0) {
					r->status = KBEV_NOT_COUNTED;
					snprintf(r->reason, sizeof r->reason,
						 "not counted (time running 0: never scheduled on "
						 "the PMU)");
				} else if (r->status == KBEV_NOT_COUNTED) {
					r->status = KBEV_OK;
					r->reason[0] = '\0';
				}
				break;
			}
		}
	}
	return rc;
}

void kbev_set_enable(struct kbev_set *set, bool on)
{
	for (size_t l = 0; l < set->n; l++)
		if (set->fd[l] >= 0 && set->leader[l] == (int)l)
			ioctl(set->fd[l], on ? PERF_EVENT_IOC_ENABLE : PERF_EVENT_IOC_DISABLE,
			      PERF_IOC_FLAG_GROUP);
}
