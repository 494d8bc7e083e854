/* sysinfo: machine and build detection for benchmark reports (see sysinfo.h). */
#include "workloads/sysinfo.h"

#include "kbprof_version.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Copies src into dst (size bytes), truncating; dst is always terminated. */
static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Reads the first line of a small file into buf, without the newline.
 * Returns 0, or -1 if the file cannot be read. */
static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char *ok = fgets(buf, (int)size, f);
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	/* sysfs pads some strings (device models) with spaces */
	size_t n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	return 0;
}

static int read_int(const char *path, int *out)
{
	char line[64];
	if (read_line(path, line, sizeof line) != 0)
		return -1;
	char *end;
	long v = strtol(line, &end, 10);
	if (end == line)
		return -1;
	*out = (int)v;
	return 0;
}

static void detect_cpu(struct sysinfo *si)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	if (f) {
		while (fgets(line, sizeof line, f)) {
			char *colon = strchr(line, ':');
			if (!colon)
				continue;
			const char *val = colon + 1 + (colon[1] == ' ');
			if (!si->cpu_model[0] && strncmp(line, "model name", 10) == 0) {
				copy_str(si->cpu_model, sizeof si->cpu_model, val);
				si->cpu_model[strcspn(si->cpu_model, "\n")] = '\0';
			} else if (strncmp(line, "flags", 5) == 0 && strstr(val, " hypervisor")) {
				si->virtualized = 1;
			}
		}
		fclose(f);
	}
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	si->threads = online > 0 ? (int)online : -1;

	/* Physical cores: distinct (package, core) pairs over the online CPUs. */
	enum { MAXCPU = 4096 };
	static int pairs[MAXCPU][2];
	int npairs = 0;
	DIR *d = opendir("/sys/devices/system/cpu");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char *end;
		if (strncmp(e->d_name, "cpu", 3) != 0)
			continue;
		long cpu = strtol(e->d_name + 3, &end, 10);
		if (end == e->d_name + 3 || *end)
			continue;
		char path[PATH_MAX];
		int pkg, core, on = 1;
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/online", cpu);
		read_int(path, &on); /* cpu0 often has no "online" file */
		if (!on)
			continue;
		snprintf(path, sizeof path,
			 "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", cpu);
		if (read_int(path, &pkg) != 0)
			continue;
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/core_id", cpu);
		if (read_int(path, &core) != 0)
			continue;
		int seen = 0;
		for (int i = 0; i < npairs && !seen; i++)
			seen = pairs[i][0] == pkg && pairs[i][1] == core;
		if (!seen && npairs < MAXCPU) {
			pairs[npairs][0] = pkg;
			pairs[npairs][1] = core;
			npairs++;
		}
	}
	if (d)
		closedir(d);
	si->cores = npairs > 0 ? npairs : -1;
}

static int detect_ram(struct sysinfo *si)
{
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	char line[256];
	unsigned long long kb = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	fclose(f);
	si->ram_bytes = (uint64_t)kb * 1024u;
	return kb ? 0 : -1;
}

/* Undoes mountinfo's octal escapes ("\040" for a space) in place. */
static void unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

/* Finds the mount holding st_dev; the last match wins (later mounts hide earlier). */
static void detect_mount(struct sysinfo *si, dev_t dev)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	char want[32];
	snprintf(want, sizeof want, "%u:%u", major(dev), minor(dev));
	while (getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint options... - fstype source superopts */
		char *save = NULL, *tok[6] = {0};
		int n = 0;
		char *dash = strstr(line, " - ");
		if (!dash)
			continue;
		*dash = '\0';
		for (char *t = strtok_r(line, " ", &save); t && n < 6;
		     t = strtok_r(NULL, " ", &save))
			tok[n++] = t;
		if (n < 5 || strcmp(tok[2], want) != 0)
			continue;
		char *rest = dash + 3, *fstype = strtok_r(rest, " ", &save);
		char *source = strtok_r(NULL, " \n", &save);
		unescape(tok[4]);
		copy_str(si->storage_mount, sizeof si->storage_mount, tok[4]);
		copy_str(si->storage_fstype, sizeof si->storage_fstype, fstype ? fstype : "");
		if (source) {
			unescape(source);
			copy_str(si->storage_source, sizeof si->storage_source, source);
		}
	}
	free(line);
	fclose(f);
}

/* The block device behind dev: its disk's name, model and rotational flag. */
static void detect_block(struct sysinfo *si, dev_t dev)
{
	char link[PATH_MAX], real[PATH_MAX];
	snprintf(link, sizeof link, "/sys/dev/block/%u:%u", major(dev), minor(dev));
	if (!realpath(link, real))
		return;
	/* A partition's directory sits inside its disk's directory. */
	char probe[PATH_MAX + 16];
	snprintf(probe, sizeof probe, "%s/partition", real);
	if (access(probe, F_OK) == 0) {
		char *slash = strrchr(real, '/');
		if (slash)
			*slash = '\0';
	}
	const char *disk = strrchr(real, '/');
	disk = disk ? disk + 1 : real;
	copy_str(si->storage_device, sizeof si->storage_device, disk);

	char path[PATH_MAX];
	snprintf(path, sizeof path, "/sys/block/%.64s/queue/rotational", disk);
	read_int(path, &si->storage_rotational);
	snprintf(path, sizeof path, "/sys/block/%.64s/device/model", disk);
	if (read_line(path, si->storage_model, sizeof si->storage_model) == 0 &&
	    si->storage_model[0])
		return;
	/* No model (virtio and others): name the driver and the vendor id. */
	char drv[PATH_MAX], vendor[64] = "";
	snprintf(path, sizeof path, "/sys/block/%.64s/device/driver", disk);
	ssize_t n = readlink(path, drv, sizeof drv - 1);
	snprintf(path, sizeof path, "/sys/block/%.64s/device/vendor", disk);
	read_line(path, vendor, sizeof vendor);
	if (n > 0) {
		drv[n] = '\0';
		const char *name = strrchr(drv, '/');
		name = name ? name + 1 : drv;
		snprintf(si->storage_model, sizeof si->storage_model, "%.60s%s%.40s", name,
			 vendor[0] ? ", vendor " : "", vendor);
	} else if (vendor[0]) {
		snprintf(si->storage_model, sizeof si->storage_model, "vendor %.60s", vendor);
	}
}

static void detect_storage(struct sysinfo *si, const char *path)
{
	char real[PATH_MAX];
	copy_str(si->storage_path, sizeof si->storage_path, realpath(path, real) ? real : path);
	struct stat st;
	if (stat(path, &st) != 0)
		return;
	detect_mount(si, st.st_dev);
	detect_block(si, st.st_dev);
	/* btrfs and similar report an anonymous st_dev: try the mount source. */
	struct stat src;
	if (!si->storage_device[0] && strncmp(si->storage_source, "/dev/", 5) == 0 &&
	    stat(si->storage_source, &src) == 0 && S_ISBLK(src.st_mode))
		detect_block(si, src.st_rdev);
}

static void detect_os(struct sysinfo *si)
{
	FILE *f = fopen("/etc/os-release", "r");
	char line[256];
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "PRETTY_NAME=", 12) != 0)
			continue;
		char *v = line + 12;
		v[strcspn(v, "\n")] = '\0';
		size_t n = strlen(v);
		if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
			v[n - 1] = '\0';
			v++;
		}
		copy_str(si->distribution, sizeof si->distribution, v);
	}
	fclose(f);
}

int sysinfo_detect(struct sysinfo *si, const char *path, struct kb_error *err)
{
	memset(si, 0, sizeof *si);
	si->cores = si->threads = -1;
	si->storage_rotational = -1;
	si->perf_event_paranoid = -1;

	struct utsname u;
	if (uname(&u) != 0)
		return kb_error_set(err, "uname: %s", strerror(errno));
	snprintf(si->kernel, sizeof si->kernel, "%.32s %.64s %.100s %.32s", u.sysname, u.release,
		 u.version, u.machine);
	if (detect_ram(si) != 0)
		return kb_error_set(err, "/proc/meminfo: no MemTotal");
	detect_cpu(si);
	detect_storage(si, path ? path : ".");
	detect_os(si);
	read_int("/proc/sys/kernel/perf_event_paranoid", &si->perf_event_paranoid);
	si->page_size = sysconf(_SC_PAGESIZE);

	copy_str(si->version, sizeof si->version, KBPROF_VERSION);
	copy_str(si->commit, sizeof si->commit, KBPROF_GIT_COMMIT);
	copy_str(si->build_type, sizeof si->build_type, KBPROF_BUILD_TYPE);
	copy_str(si->compiler, sizeof si->compiler, KBPROF_COMPILER);
	copy_str(si->cflags, sizeof si->cflags, KBPROF_CFLAGS);
	/* CMake joins an empty CMAKE_C_FLAGS with a space: trim it. */
	char *c = si->cflags;
	while (*c == ' ')
		memmove(c, c + 1, strlen(c));
	return 0;
}
