/* Tests of `kbprof record` and `kbprof stat` on probe_target: samples land
 * in the hot function (by address, through the module map and the ELF
 * symbols), fault samples carry addresses in the mapping touched, threads
 * and children are followed, regions share the samples' clock, software
 * counts match known work, and commands keep their exit status, signals
 * and errors. */
#include "analyze/recording.h"
#include "tests/testutil.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <jansson.h>
#include <libelf.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TARGET KBPROF_BINARY_DIR "/tests/probe_target"

/* Page faults two runs of the same program may differ by, beside the pages
 * it touches: a few; under AddressSanitizer, whose runtime faults in shadow
 * memory and exit-time leak checking, some tens. */
#if defined(__SANITIZE_ADDRESS__)
#define SLACK 40
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLACK 40
#endif
#endif
#ifndef SLACK
#define SLACK 6
#endif

extern char **environ;

/* ---- a recording, loaded ---- */

struct sample {
	uint32_t event, pid, tid;
	uint64_t time, ip, addr;
	uint32_t nk, nu;
	uint64_t ips[8];
};

struct map {
	uint32_t pid, prot, flags;
	uint64_t start, len, pgoff;
	char file[512];
};

struct region {
	uint32_t pid, tid, type;
	uint64_t time;
	char path[64];
};

struct rec {
	struct kbrec_session session;
	char *argv0;
	struct sample *s;
	size_t ns;
	struct map m[512];
	size_t nm;
	struct region rg[256];
	size_t nrg;
	char module_notes[4096];
	size_t forks, exits, comms, comm_exec;
	bool finished;
	struct kbrec_finish finish;
	char event_name[2][64];
	uint32_t event_flags[2];
	char event_note[512];
	char truncation[512];
};

static void load(const char *path, struct rec *r)
{
	memset(r, 0, sizeof *r);
	struct kbrec_reader *rd;
	struct kb_error err;
	cr_assert_eq(kbrec_reader_open(&rd, path, &err), 0, "%s", err.msg);
	struct kbrec_record x;
	int rc;
	size_t cap = 0;
	while ((rc = kbrec_reader_next(rd, &x, &err)) == 1) {
		switch (x.type) {
		case KBREC_SESSION:
			r->session = x.session;
			break;
		case KBREC_EVENT:
			if (x.event.id < 2) {
				snprintf(r->event_name[x.event.id], 64, "%s", x.event.name);
				r->event_flags[x.event.id] = x.event.flags;
				if (x.event.id == 0)
					snprintf(r->event_note, sizeof r->event_note, "%s",
						 x.event.note);
			}
			break;
		case KBREC_SAMPLE: {
			if (r->ns == cap) {
				cap = cap ? 2 * cap : 1024;
				r->s = realloc(r->s, cap * sizeof *r->s);
			}
			struct sample *s = &r->s[r->ns++];
			memset(s, 0, sizeof *s);
			s->event = x.sample.event_id;
			s->pid = x.sample.pid;
			s->tid = x.sample.tid;
			s->time = x.sample.time;
			s->ip = x.sample.ip;
			s->addr = x.sample.addr;
			s->nk = x.sample.nr_kernel;
			s->nu = x.sample.nr_user;
			for (uint32_t i = 0; i < 8 && i < s->nk + s->nu; i++)
				s->ips[i] = x.sample.ips[i];
			break;
		}
		case KBREC_MMAP:
			if (r->nm < 512) {
				struct map *m = &r->m[r->nm++];
				m->pid = x.mmap.pid;
				m->prot = x.mmap.prot;
				m->flags = x.mmap.flags;
				m->start = x.mmap.start;
				m->len = x.mmap.len;
				m->pgoff = x.mmap.pgoff;
				snprintf(m->file, sizeof m->file, "%s", x.mmap.filename);
			}
			break;
		case KBREC_MODULE:
			if (*x.module.note) {
				strncat(r->module_notes, x.module.path,
					sizeof r->module_notes - strlen(r->module_notes) - 1);
				strncat(r->module_notes, ": ",
					sizeof r->module_notes - strlen(r->module_notes) - 1);
				strncat(r->module_notes, x.module.note,
					sizeof r->module_notes - strlen(r->module_notes) - 1);
				strncat(r->module_notes, "\n",
					sizeof r->module_notes - strlen(r->module_notes) - 1);
			}
			break;
		case KBREC_REGION_BEGIN:
		case KBREC_REGION_END:
			if (r->nrg < 256) {
				struct region *g = &r->rg[r->nrg++];
				g->pid = x.region.pid;
				g->tid = x.region.tid;
				g->type = x.type;
				g->time = x.region.time;
				snprintf(g->path, sizeof g->path, "%s", x.region.path);
			}
			break;
		case KBREC_FORK:
			r->forks++;
			break;
		case KBREC_EXIT:
			r->exits++;
			break;
		case KBREC_COMM:
			r->comms++;
			if (x.comm.flags & KBREC_COMM_EXEC)
				r->comm_exec++;
			break;
		case KBREC_FINISH:
			r->finished = true;
			r->finish = x.finish;
			break;
		default:
			break;
		}
	}
	cr_expect_eq(rc, 0, "%s", err.msg);
	if (kbrec_reader_truncation(rd))
		snprintf(r->truncation, sizeof r->truncation, "%s", kbrec_reader_truncation(rd));
	/* Strings of the session die with the reader. */
	r->session.argv = NULL;
	r->session.hostname = r->session.kernel = r->session.kbprof_version = "";
	kbrec_reader_close(rd);
}

static void unload(struct rec *r)
{
	free(r->s);
	free(r->argv0);
}

/* ---- symbols of probe_target ---- */

struct sym {
	uint64_t lo, hi; /* link-time addresses */
};

struct elfinfo {
	struct sym hot, cold, run_hot;
	GElf_Phdr load[8];
	int nload;
};

static void elf_symbols(const char *path, struct elfinfo *info)
{
	memset(info, 0, sizeof *info);
	cr_assert_neq(elf_version(EV_CURRENT), EV_NONE);
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	cr_assert_not_null(e);
	size_t nph;
	elf_getphdrnum(e, &nph);
	for (size_t i = 0; i < nph && info->nload < 8; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD)
			info->load[info->nload++] = ph;
	}
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		if (sh.sh_type != SHT_SYMTAB)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym s;
			gelf_getsym(d, (int)i, &s);
			const char *name = elf_strptr(e, sh.sh_link, s.st_name);
			struct sym *to = NULL;
			if (!name)
				continue;
			if (strcmp(name, "hot_fn") == 0)
				to = &info->hot;
			else if (strcmp(name, "cold_fn") == 0)
				to = &info->cold;
			else if (strcmp(name, "run_hot") == 0)
				to = &info->run_hot;
			if (to) {
				to->lo = s.st_value;
				to->hi = s.st_value + s.st_size;
			}
		}
	}
	elf_end(e);
	close(fd);
	cr_assert(info->hot.hi > info->hot.lo && info->cold.hi > info->cold.lo &&
		      info->run_hot.hi > info->run_hot.lo,
		  "probe_target lacks its symbols");
}

/* The link-time address of a run-time address of pid in `file`, through the
 * recorded mappings (offset in the file) and the ELF load segments. */
static bool to_link_addr(const struct rec *r, const struct elfinfo *info, const char *file,
			 uint32_t pid, uint64_t ip, uint64_t *out)
{
	for (size_t i = 0; i < r->nm; i++) {
		const struct map *m = &r->m[i];
		if (m->pid != pid || strcmp(m->file, file) != 0 || ip < m->start ||
		    ip >= m->start + m->len)
			continue;
		uint64_t off = ip - m->start + m->pgoff;
		for (int k = 0; k < info->nload; k++) {
			const GElf_Phdr *ph = &info->load[k];
			if (off >= ph->p_offset && off < ph->p_offset + ph->p_filesz) {
				*out = off - ph->p_offset + ph->p_vaddr;
				return true;
			}
		}
	}
	return false;
}

static bool in(const struct sym *s, uint64_t a)
{
	return a >= s->lo && a < s->hi;
}

/* ---- running ---- */

static char *tmp_path(const char *dir, const char *name)
{
	char *p = malloc(4096);
	snprintf(p, 4096, "%s/%s", dir, name);
	return p;
}

static char *target_path(void)
{
	char *p = realpath(TARGET, NULL);
	cr_assert_not_null(p);
	return p;
}

/* Starts kbprof in the background with output to files in dir. */
static pid_t spawn_kbprof(const char *dir, char *const args[])
{
	char *argv[32];
	int n = 0;
	argv[n++] = (char *)kbprof_bin();
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	char out[4096], err[4096];
	snprintf(out, sizeof out, "%s/stdout", dir);
	snprintf(err, sizeof err, "%s/stderr", dir);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	pid_t pid;
	cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static void nap(void)
{
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, NULL);
}

/* Waits (by polling, up to a generous bound) until the recording shows the
 * command has been exec'd; returns its pid. */
static uint32_t wait_for_exec(const char *file)
{
	for (int i = 0; i < 1500; i++) {
		struct kbrec_reader *rd;
		struct kb_error err;
		if (kbrec_reader_open(&rd, file, &err) == 0) {
			struct kbrec_record x;
			uint32_t pid = 0;
			bool exec = false;
			while (kbrec_reader_next(rd, &x, &err) == 1) {
				if (x.type == KBREC_SESSION)
					pid = x.session.pid;
				if (x.type == KBREC_COMM && (x.comm.flags & KBREC_COMM_EXEC))
					exec = true;
			}
			kbrec_reader_close(rd);
			if (exec)
				return pid;
		}
		nap();
	}
	cr_assert_fail("the command never started");
	return 0;
}

/* The pid of a child of `parent` (from /proc), waiting for it to exist. */
static pid_t wait_for_child(pid_t parent)
{
	char path[128];
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)parent, (int)parent);
	for (int i = 0; i < 1500; i++) {
		char *text = read_file(path, NULL);
		int child = text ? atoi(text) : 0;
		free(text);
		if (child > 0) {
			char comm[128];
			snprintf(comm, sizeof comm, "/proc/%d/comm", child);
			char *name = read_file(comm, NULL);
			bool exec = name && strncmp(name, "probe_target", 12) == 0;
			free(name);
			if (exec)
				return child;
		}
		nap();
	}
	cr_assert_fail("no child appeared");
	return 0;
}

static int wait_status(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			cr_assert_fail("waitpid(%d): %s", (int)pid, strerror(errno));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static double json_event_value(const char *file, const char *name)
{
	json_error_t je;
	json_t *root = json_load_file(file, 0, &je);
	cr_assert_not_null(root, "%s: %s", file, je.text);
	double v = -1;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(root, "events"), i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
			v = json_real_value(json_object_get(e, "value"));
	}
	json_decref(root);
	return v;
}

static bool no_pmu(void)
{
	return access("/sys/bus/event_source/devices/cpu", F_OK) != 0;
}

/* ---- record ---- */

/* A hang (a lost signal, a wait that never returns) fails the one test,
 * named, instead of the whole executable at ctest's limit: each test here
 * takes seconds, and its `sleep 60` commands are killed long before. */
TestSuite(record, .timeout = 240);
TestSuite(stat, .timeout = 240);

Test(record, samples_of_the_test_program_land_in_its_hot_function)
{
	char *dir = make_temp_dir();
	char *out = tmp_path(dir, "hot.data");
	struct run_result res;
	cr_assert_eq(run_kbprof(&res, NULL, "record", "-F", "2000", "-g", "-o", out, "--", TARGET,
				"hot", "400", NULL),
		     0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect(strstr(res.err, "[ kbprof record: "), "%s", res.err);
	struct rec r;
	load(out, &r);
	cr_assert(r.finished);
	char *target = target_path();
	struct elfinfo info;
	elf_symbols(target, &info);
	size_t hot = 0, cold = 0, hot_called_from_run_hot = 0, in_region = 0;
	for (size_t i = 0; i < r.ns; i++) {
		const struct sample *s = &r.s[i];
		uint64_t a;
		if (s->event != 0 || s->pid != r.session.pid ||
		    !to_link_addr(&r, &info, target, s->pid, s->ip, &a))
			continue;
		if (in(&info.cold, a))
			cold++;
		if (!in(&info.hot, a))
			continue;
		hot++;
		/* The caller, from the frame-pointer chain: run_hot. */
		uint64_t caller;
		if (s->nu >= 2 &&
		    to_link_addr(&r, &info, target, s->pid, s->ips[s->nk + 1] - 1, &caller) &&
		    in(&info.run_hot, caller))
			hot_called_from_run_hot++;
		/* On the samples' clock, the sample is inside region "hot". */
		uint64_t begin = 0, end = 0;
		for (size_t k = 0; k < r.nrg; k++)
			if (r.rg[k].tid == s->tid && strcmp(r.rg[k].path, "hot") == 0) {
				if (r.rg[k].type == KBREC_REGION_BEGIN)
					begin = r.rg[k].time;
				else
					end = r.rg[k].time;
			}
		if (begin && begin <= s->time && s->time <= end)
			in_region++;
	}
	/* hot_fn does 9 times cold_fn's work. */
	cr_expect_gt(hot + cold, 50, "only %zu samples in hot_fn/cold_fn of %zu", hot + cold, r.ns);
	cr_expect_gt(hot, 4 * cold, "hot_fn %zu samples, cold_fn %zu", hot, cold);
	cr_expect_geq(hot_called_from_run_hot, hot * 9 / 10, "%zu of %zu chains reach run_hot",
		      hot_called_from_run_hot, hot);
	cr_expect_eq(in_region, hot, "%zu of %zu hot samples inside region 'hot'", in_region, hot);
	/* Every sample lies between the session's start and its end. */
	for (size_t i = 0; i < r.ns; i++)
		cr_assert(r.s[i].time >= r.session.start_ns && r.s[i].time <= r.finish.end_ns);
	/* The module map names the program with its build-id. */
	cr_expect_null(strstr(r.module_notes, target), "%s", r.module_notes);
	free(target);
	unload(&r);
	run_result_free(&res);
	free(out);
	rm_rf(dir);
	free(dir);
}

Test(record, cycles_falls_back_to_cpu_clock_and_says_so)
{
	if (!no_pmu())
		cr_skip_test("this machine has a hardware PMU: cycles is sampled");
	char *dir = make_temp_dir();
	char *out = tmp_path(dir, "fb.data");
	struct run_result res;
	cr_assert_eq(run_kbprof(&res, NULL, "record", "-o", out, "--", TARGET, "exit", "0", NULL),
		     0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect(strstr(res.err, "kbprof record: cycles: not supported (no hardware PMU on this "
				  "machine); sampling cpu-clock instead"),
		  "%s", res.err);
	struct rec r;
	load(out, &r);
	cr_expect_str_eq(r.event_name[0], "cpu-clock");
	cr_expect(r.event_flags[0] & KBREC_EVENT_FALLBACK);
	cr_expect(strstr(r.event_note, "cycles: not supported"), "%s", r.event_note);
	unload(&r);
	run_result_free(&res);
	free(out);
	rm_rf(dir);
	free(dir);
}

Test(record, fault_samples_carry_addresses_inside_the_mapping_touched)
{
	char *dir = make_temp_dir();
	char *out = tmp_path(dir, "faults.data");
	char *data = tmp_path(dir, "image.bin");
	long psz = sysconf(_SC_PAGESIZE);
	const int pages = 64;
	char *zeros = calloc((size_t)pages, (size_t)psz);
	cr_assert_eq(write_file(data, zeros, (size_t)pages * (size_t)psz), 0);
	free(zeros);
	char *real = realpath(data, NULL);
	char npages[16];
	snprintf(npages, sizeof npages, "%d", pages);
	struct run_result res;
	cr_assert_eq(run_kbprof(&res, NULL, "record", "--faults", "-o", out, "--", TARGET,
				"filemap", real, npages, NULL),
		     0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	struct rec r;
	load(out, &r);
	cr_expect_str_eq(r.event_name[1], "page-faults");
	const struct map *m = NULL;
	for (size_t i = 0; i < r.nm; i++)
		if (strcmp(r.m[i].file, real) == 0)
			m = &r.m[i];
	cr_assert_not_null(m, "no mapping of %s", real);
	cr_expect(m->flags & KBREC_MMAP_DATA);
	cr_expect_eq(m->len, (uint64_t)pages * (uint64_t)psz);
	bool seen[64] = {0};
	int inside = 0;
	for (size_t i = 0; i < r.ns; i++) {
		const struct sample *s = &r.s[i];
		if (s->event != 1 || s->addr < m->start || s->addr >= m->start + m->len)
			continue;
		inside++;
		seen[(s->addr - m->start) / (uint64_t)psz] = true;
	}
	int distinct = 0;
	for (int i = 0; i < pages; i++)
		distinct += seen[i];
	cr_expect_eq(distinct, pages, "faults on %d of %d pages (%d samples inside)", distinct,
		     pages, inside);
	/* The data file is in the module map, without a build-id and saying why. */
	cr_expect(strstr(r.module_notes, "image.bin: not an ELF file"), "%s", r.module_notes);
	free(real);
	unload(&r);
	run_result_free(&res);
	free(out);
	free(data);
	rm_rf(dir);
	free(dir);
}

Test(record, threads_and_child_processes_are_followed)
{
	char *dir = make_temp_dir();
	char *out = tmp_path(dir, "kids.data");
	struct run_result res;
	cr_assert_eq(run_kbprof(&res, NULL, "record", "-F", "1000", "-o", out, "--", TARGET,
				"children", NULL),
		     0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	struct rec r;
	load(out, &r);
	size_t main_thread = 0, other_thread = 0, child = 0;
	for (size_t i = 0; i < r.ns; i++) {
		if (r.s[i].pid == r.session.pid && r.s[i].tid == r.s[i].pid)
			main_thread++;
		else if (r.s[i].pid == r.session.pid)
			other_thread++;
		else
			child++; /* the child (and, under ASan, LeakSanitizer's helper) */
	}
	cr_expect_gt(main_thread, 10);
	cr_expect_gt(other_thread, 10);
	cr_expect_gt(child, 10);
	cr_expect_geq(r.forks, 2, "a thread and a process");
	cr_expect_geq(r.exits, 2);
	cr_expect_eq(r.comm_exec, 1);
	/* Each process's regions are recorded with its own pid. */
	bool child_region = false, worker_region = false;
	for (size_t k = 0; k < r.nrg; k++) {
		if (r.rg[k].pid != r.session.pid && strcmp(r.rg[k].path, "child") == 0)
			child_region = true;
		if (r.rg[k].pid == r.session.pid && r.rg[k].tid != r.session.pid &&
		    strcmp(r.rg[k].path, "worker") == 0)
			worker_region = true;
	}
	cr_expect(child_region);
	cr_expect(worker_region);
	unload(&r);
	run_result_free(&res);
	free(out);
	rm_rf(dir);
	free(dir);
}

Test(record, the_commands_exit_status_and_signal_are_kept)
{
	char *dir = make_temp_dir();
	char *out = tmp_path(dir, "x.data");
	struct run_result res;
	cr_assert_eq(run_kbprof(&res, NULL, "record", "-o", out, "--", TARGET, "exit", "7", NULL),
		     0);
	cr_expect_eq(res.status, 7);
	struct rec r;
	load(out, &r);
	cr_expect(r.finished);
	cr_expect_eq(r.finish.status, 7);
	cr_expect_eq(r.finish.flags & KBREC_FINISH_SIGNALED, 0);
	unload(&r);
	run_result_free(&res);

	cr_assert_eq(run_kbprof(&res, NULL, "record", "-o", out, "--", TARGET, "kill", "15", NULL),
		     0);
	cr_expect_eq(res.status, 128 + 15);
	load(out, &r);
	cr_expect_eq(r.finish.status, 15);
	cr_expect(r.finish.flags & KBREC_FINISH_SIGNALED);
	unload(&r);
	run_result_free(&res);
	free(out);
	rm_rf(dir);
	free(dir);
}

Test(record, a_missing_command_is_an_error_and_leaves_no_file)
{
	char *dir = make_temp_dir();
	char *out = tmp_path(dir, "none.data");
	struct run_result res;
	cr_assert_eq(run_kbprof(&res, NULL, "record", "-o", out, "--", "nosuchcmd", NULL), 0);
	cr_expect_eq(res.status, 127);
	cr_expect(strstr(res.err, "kbprof record: nosuchcmd: command not found"), "%s", res.err);
	cr_expect_neq(access(out, F_OK), 0);
	run_result_free(&res);
	cr_assert_eq(
	    run_kbprof(&res, NULL, "record", "-e", "nosuchevent", "-o", out, "--", "true", NULL),
	    0);
	cr_expect_eq(res.status, 1);
	cr_expect(strstr(res.err, "nosuchevent: unknown event"), "%s", res.err);
	run_result_free(&res);
	cr_assert_eq(run_kbprof(&res, NULL, "record", "-F", "10", "-c", "5", "--", "true", NULL),
		     0);
	cr_expect_eq(res.status, 2);
	run_result_free(&res);
	free(out);
	rm_rf(dir);
	free(dir);
}

Test(record, sigterm_to_kbprof_reaches_the_command_and_the_file_is_finished)
{
	char *dir = make_temp_dir();
	char *out = tmp_path(dir, "term.data");
	char *args[] = {"record", "-o", out, "--", TARGET, "sleep", "60", NULL};
	pid_t kb = spawn_kbprof(dir, args);
	wait_for_exec(out);
	kill(kb, SIGTERM);
	cr_expect_eq(wait_status(kb), 128 + SIGTERM);
	struct rec r;
	load(out, &r);
	cr_expect(r.finished);
	cr_expect(r.finish.flags & KBREC_FINISH_INTERRUPTED);
	cr_expect(r.finish.flags & KBREC_FINISH_SIGNALED);
	cr_expect_eq(r.finish.status, SIGTERM);
	bool begun = false;
	for (size_t k = 0; k < r.nrg; k++)
		begun |= r.rg[k].type == KBREC_REGION_BEGIN && strcmp(r.rg[k].path, "sleep") == 0;
	cr_expect(begun, "the region begun before the signal is in the recording");
	unload(&r);
	free(out);
	rm_rf(dir);
	free(dir);
}

Test(record, a_recording_cut_by_killing_kbprof_reads_up_to_the_cut)
{
	char *dir = make_temp_dir();
	char *out = tmp_path(dir, "killed.data");
	char *args[] = {"record", "-o", out, "--", TARGET, "sleep", "60", NULL};
	pid_t kb = spawn_kbprof(dir, args);
	uint32_t child = wait_for_exec(out);
	kill(kb, SIGKILL);
	wait_status(kb);
	kill((pid_t)child, SIGKILL);
	struct rec r;
	load(out, &r);
	cr_expect_not(r.finished);
	cr_expect_gt(r.comms, 0);
	cr_expect_eq(r.truncation[0], '\0', "whole records only: %s", r.truncation);
	unload(&r);
	free(out);
	rm_rf(dir);
	free(dir);
}

/* ---- stat ---- */

Test(stat, page_faults_count_the_pages_the_command_touches)
{
	char *dir = make_temp_dir();
	char *j0 = tmp_path(dir, "0.json"), *j1 = tmp_path(dir, "1.json");
	struct run_result res;
	cr_assert_eq(run_kbprof(&res, NULL, "stat", "-e", "page-faults,minor-faults", "--json",
				"-o", j0, "--", TARGET, "pages", "0", NULL),
		     0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	run_result_free(&res);
	cr_assert_eq(run_kbprof(&res, NULL, "stat", "-e", "page-faults,minor-faults", "--json",
				"-o", j1, "--", TARGET, "pages", "500", NULL),
		     0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	run_result_free(&res);
	double base = json_event_value(j0, "page-faults"),
	       more = json_event_value(j1, "page-faults");
	cr_expect(more - base >= 500 - SLACK && more - base <= 500 + SLACK,
		  "%.0f - %.0f faults for 500 pages", more, base);
	cr_expect_float_eq(json_event_value(j1, "minor-faults"), more, 2.0);
	free(j0);
	free(j1);
	rm_rf(dir);
	free(dir);
}

Test(stat, task_clock_agrees_with_the_commands_cpu_time)
{
	char *dir = make_temp_dir();
	char *j = tmp_path(dir, "spin.json"), *o = tmp_path(dir, "spin.out");
	struct run_result res;
	cr_assert_eq(run_kbprof(&res, o, "stat", "-e", "task-clock", "--json", "-o", j, "--",
				TARGET, "spin", "200", NULL),
		     0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	char *text = read_file(o, NULL);
	cr_assert_not_null(text);
	double cpu = 0;
	cr_assert_eq(sscanf(text, "cpu_ns %lf", &cpu), 1, "%s", text);
	double tc = json_event_value(j, "task-clock");
	/* The program's own CPU clock, read just before it exits, against
	 * task-clock of the whole run (plus exec and exit, and steal time). */
	cr_expect(tc >= 0.95 * cpu && tc <= 1.3 * cpu + 5e6, "task-clock %.0f, cpu %.0f", tc, cpu);
	free(text);
	run_result_free(&res);
	free(j);
	free(o);
	rm_rf(dir);
	free(dir);
}

Test(stat, the_commands_exit_status_signal_and_absence_are_reported)
{
	struct run_result res;
	cr_assert_eq(
	    run_kbprof(&res, NULL, "stat", "-e", "task-clock", "--", TARGET, "exit", "7", NULL), 0);
	cr_expect_eq(res.status, 7);
	cr_expect(strstr(res.err, "Performance counter stats"), "%s", res.err);
	run_result_free(&res);
	cr_assert_eq(run_kbprof(&res, NULL, "stat", "--", TARGET, "kill", "9", NULL), 0);
	cr_expect_eq(res.status, 128 + 9);
	run_result_free(&res);
	cr_assert_eq(run_kbprof(&res, NULL, "stat", "--", "nosuchcmd", NULL), 0);
	cr_expect_eq(res.status, 127);
	cr_expect_str_eq(res.err, "kbprof stat: nosuchcmd: command not found\n");
	run_result_free(&res);
	cr_assert_eq(run_kbprof(&res, NULL, "stat", "--", "/etc/passwd", NULL), 0);
	cr_expect_eq(res.status, 126);
	cr_expect(strstr(res.err, "/etc/passwd: Permission denied"), "%s", res.err);
	run_result_free(&res);
	cr_assert_eq(run_kbprof(&res, NULL, "stat", "-r", "0", "--", "true", NULL), 0);
	cr_expect_eq(res.status, 2);
	run_result_free(&res);
}

Test(stat, events_the_machine_cannot_count_are_listed_with_the_reason)
{
	if (!no_pmu())
		cr_skip_test("this machine has a hardware PMU: cycles counts");
	struct run_result res;
	cr_assert_eq(run_kbprof(&res, NULL, "stat", "--", "true", NULL), 0);
	cr_expect_eq(res.status, 0);
	cr_expect(strstr(res.err, "<not supported>      cycles"), "%s", res.err);
	cr_expect(strstr(res.err, "cycles: not supported (no hardware PMU on this machine)"), "%s",
		  res.err);
	cr_expect(strstr(res.err, " page-faults"), "%s", res.err);
	cr_expect(strstr(res.err, "msec task-clock"), "%s", res.err);
	run_result_free(&res);
}

Test(stat, sigterm_stops_the_command_and_kbprof_still_reports)
{
	char *dir = make_temp_dir();
	char *args[] = {"stat", "-e", "task-clock", "--", TARGET, "sleep", "60", NULL};
	pid_t kb = spawn_kbprof(dir, args);
	wait_for_child(kb);
	kill(kb, SIGTERM);
	cr_expect_eq(wait_status(kb), 128 + SIGTERM);
	char *err = tmp_path(dir, "stderr");
	char *text = read_file(err, NULL);
	cr_assert_not_null(text);
	cr_expect(strstr(text, "Performance counter stats for"), "%s", text);
	cr_expect(strstr(text, "msec task-clock"), "%s", text);
	free(text);
	free(err);
	rm_rf(dir);
	free(dir);
}
