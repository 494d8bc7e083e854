/* sysinfo: the machine a benchmark ran on (module prefix sysinfo_): CPU,
 * memory, the storage under a directory, kernel and distribution, and the
 * kbprof build itself. Read from /proc, /sys, uname and the generated
 * kbprof_version.h. The struct holds fixed-size strings only: nothing to free.
 * A field the machine does not expose is left empty (strings) or -1
 * (numbers), never guessed. */
#ifndef SYSINFO_H
#define SYSINFO_H

#include <stdint.h>

#include "util/kb_error.h"

struct sysinfo {
	char cpu_model[128];
	int cores;   /* physical cores, -1 if unknown */
	int threads; /* online logical CPUs */
	int virtualized;
	uint64_t ram_bytes;

	char storage_path[512];
	char storage_mount[256];
	char storage_fstype[32];
	char storage_source[256];
	char storage_device[64]; /* "" when not a block device */
	char storage_model[128]; /* "" when unknown */
	int storage_rotational;  /* -1 unknown */

	char kernel[256];
	char distribution[128];
	int perf_event_paranoid; /* -1 unknown */
	long page_size;

	char version[32], commit[64], build_type[32], compiler[64];
	char cflags[512];
};

/* Fills *si; `path` is the directory whose storage is described. Returns 0,
 * or -1 with err set when even the basics (uname, /proc/meminfo) fail. */
int sysinfo_detect(struct sysinfo *si, const char *path, struct kb_error *err);

#endif
