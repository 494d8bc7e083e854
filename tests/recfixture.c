/* recfixture: recordings for tests, written with the probes' writer. */
#include "tests/recfixture.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

static struct recw_file *create(const char *path)
{
	struct recw_file *f;
	struct kb_error err = {{0}};
	cr_assert_eq(recw_file_create(&f, path, &err), 0, "%s", err.msg);
	char *argv[] = {"fixture", "--run", NULL};
	struct recw_session s = {.start_ns = 1000,
				 .start_realtime_ns = 1700000000000000000ULL,
				 .clockid = 1,
				 .pid = FX_PID,
				 .kbprof_version = "test",
				 .hostname = "testhost",
				 .kernel = "6.1.0-test",
				 .argc = 2,
				 .argv = argv};
	cr_assert_eq(recw_session(&f->enc, &s), 0);
	cr_assert_eq(recw_event(&f->enc, FX_CPU_EVENT, 1, 1, 1u | 2u | 4u, 0, 1000, "cpu-clock",
				"cycles: not supported on this machine (no hardware PMU)"),
		     0);
	cr_assert_eq(recw_event(&f->enc, FX_FAULT_EVENT, 2, 1, 2u, 2, 1, "page-faults", ""), 0);
	cr_assert_eq(recw_event(&f->enc, FX_MINOR_EVENT, 2, 1, 2u, 5, 1, "minor-faults", ""), 0);
	cr_assert_eq(recw_event(&f->enc, FX_MAJOR_EVENT, 2, 1, 2u, 6, 1, "major-faults", ""), 0);
	return f;
}

struct recw_file *fx_create_bare(const char *path)
{
	return create(path);
}

struct recw_file *fx_create(const char *path)
{
	struct recw_file *f = create(path);
	cr_assert_eq(recw_comm(&f->enc, FX_PID, FX_PID, 1000, 1, "fixture"), 0);
	fx_self_maps(f, FX_PID, 1001);
	return f;
}

void fx_self_maps(struct recw_file *f, uint32_t pid, uint64_t t)
{
	FILE *m = fopen("/proc/self/maps", "r");
	cr_assert_not_null(m);
	char line[PATH_MAX + 128];
	char seen[64][PATH_MAX];
	size_t n_seen = 0;
	while (fgets(line, sizeof line, m)) {
		uint64_t start, end, pgoff, ino;
		unsigned maj, min;
		char perms[8], path[PATH_MAX] = "";
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %4095s",
			   &start, &end, perms, &pgoff, &maj, &min, &ino, path) < 7)
			continue;
		struct recw_mmap mm = {0};
		mm.pid = mm.tid = pid;
		mm.time = t;
		mm.start = start;
		mm.len = end - start;
		mm.pgoff = pgoff;
		mm.prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
			  (perms[2] == 'x' ? PROT_EXEC : 0);
		mm.map_flags = perms[3] == 's' ? MAP_SHARED : MAP_PRIVATE;
		mm.maj = maj;
		mm.min = min;
		mm.ino = ino;
		mm.flags = 2u | (perms[2] == 'x' ? 0 : 4u);
		mm.filename = path[0] ? path : "//anon";
		cr_assert_eq(recw_mmap(&f->enc, &mm), 0);
		if (path[0] != '/')
			continue;
		size_t k = 0;
		while (k < n_seen && strcmp(seen[k], path) != 0)
			k++;
		if (k < n_seen || n_seen == 64)
			continue;
		snprintf(seen[n_seen++], PATH_MAX, "%s", path);
		struct stat st;
		struct recw_module mod = {.path = path, .note = "no build-id in this fixture"};
		if (stat(path, &st) == 0) {
			mod.size = (uint64_t)st.st_size;
			mod.mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u +
				       (uint64_t)st.st_mtim.tv_nsec;
		}
		mod.elf_type = 3;
		cr_assert_eq(recw_module(&f->enc, &mod), 0);
	}
	fclose(m);
}

void fx_sample_k(struct recw_file *f, uint32_t event, uint32_t pid, uint64_t t, uint64_t period,
		 uint64_t addr, size_t nk, const uint64_t *kips, size_t n, const uint64_t *ips)
{
	uint64_t chain[256];
	cr_assert_leq(nk + n, 256);
	for (size_t i = 0; i < nk; i++)
		chain[i] = kips[i];
	for (size_t i = 0; i < n; i++)
		chain[nk + i] = ips[i];
	struct recw_sample s = {.event_id = event,
				.pid = pid,
				.tid = pid,
				.cpu = 0,
				.time = t,
				.ip = nk ? kips[0] : (n ? ips[0] : 0),
				.period = period,
				.addr = addr,
				.cpumode = nk ? 1 : 2,
				.nr_kernel = (uint32_t)nk,
				.nr_user = (uint32_t)n,
				.ips = chain};
	cr_assert_eq(recw_sample(&f->enc, &s), 0);
}

void fx_sample(struct recw_file *f, uint32_t event, uint32_t pid, uint64_t t, uint64_t period,
	       uint64_t addr, size_t n, const uint64_t *ips)
{
	fx_sample_k(f, event, pid, t, period, addr, 0, NULL, n, ips);
}

void fx_region(struct recw_file *f, int begin, uint32_t pid, uint64_t t, uint32_t depth,
	       const char *path)
{
	cr_assert_eq(recw_region(&f->enc, begin ? RECW_REGION_BEGIN : RECW_REGION_END, pid, pid, t,
				 depth, path),
		     0);
}

void fx_finish(struct recw_file *f, uint64_t t, uint64_t minflt, uint64_t majflt)
{
	struct recw_finish fin = {.end_ns = t, .ru_minflt = minflt, .ru_majflt = majflt};
	cr_assert_eq(recw_finish(&f->enc, &fin), 0);
	fx_close(f);
}

void fx_close(struct recw_file *f)
{
	struct kb_error err = {{0}};
	cr_assert_eq(recw_file_close(f, &err), 0, "%s", err.msg);
}

uint64_t fx_mapping_start(const char *needle, int exec, uint64_t *end)
{
	FILE *m = fopen("/proc/self/maps", "r");
	cr_assert_not_null(m);
	char line[PATH_MAX + 128];
	uint64_t found = 0;
	while (!found && fgets(line, sizeof line, m)) {
		uint64_t start, e;
		char perms[8], path[PATH_MAX] = "";
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %4095s", &start, &e,
			   perms, path) < 3)
			continue;
		if ((perms[2] == 'x') == !!exec && strstr(path, needle)) {
			found = start;
			if (end)
				*end = e;
		}
	}
	fclose(m);
	cr_assert_neq(found, 0, "no mapping with '%s'", needle);
	return found;
}
