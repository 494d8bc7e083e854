/* measure: memory, faults and page-cache state from the kernel (see measure.h). */
#include "workloads/measure.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* "VmRSS:	  123456 kB" -> bytes. */
static int status_field(const char *line, const char *key, uint64_t *out)
{
	size_t k = strlen(key);
	if (strncmp(line, key, k) != 0 || line[k] != ':')
		return 0;
	char *end;
	unsigned long long kb = strtoull(line + k + 1, &end, 10);
	*out = (uint64_t)kb * 1024u;
	return 1;
}

int meas_mem_read(struct meas_mem *m, struct kb_error *err)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return kb_error_set(err, "/proc/self/status: %s", strerror(errno));
	char line[256];
	int found = 0;
	memset(m, 0, sizeof *m);
	while (fgets(line, sizeof line, f)) {
		found |= status_field(line, "VmRSS", &m->rss) ? 1 : 0;
		found |= status_field(line, "VmHWM", &m->hwm) ? 2 : 0;
		status_field(line, "RssAnon", &m->rss_anon);
		status_field(line, "RssFile", &m->rss_file);
	}
	fclose(f);
	if (found != 3)
		return kb_error_set(err, "/proc/self/status: no VmRSS or VmHWM line");
	return 0;
}

int meas_hwm_reset(struct kb_error *err)
{
	malloc_trim(0);
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return kb_error_set(err, "/proc/self/clear_refs: %s", strerror(errno));
	ssize_t n = write(fd, "5", 1);
	int saved = errno;
	close(fd);
	if (n != 1)
		return kb_error_set(err, "/proc/self/clear_refs: resetting the peak: %s",
				    strerror(saved));
	return 0;
}

void meas_faults_read(struct meas_faults *f)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	f->minor = (uint64_t)ru.ru_minflt;
	f->major = (uint64_t)ru.ru_majflt;
}

static uint64_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? (uint64_t)p : 4096u;
}

static int residency_fd(int fd, const char *path, uint64_t *resident, uint64_t *pages,
			struct kb_error *err)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return kb_error_set(err, "%s: %s", path, strerror(errno));
	uint64_t ps = page_size();
	uint64_t np = ((uint64_t)st.st_size + ps - 1) / ps;
	*pages = np;
	*resident = 0;
	if (np == 0)
		return 0;
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return kb_error_set(err, "%s: mmap for mincore: %s", path, strerror(errno));
	unsigned char *vec = malloc(np);
	if (!vec) {
		munmap(map, (size_t)st.st_size);
		return kb_error_set(err, "%s: out of memory for mincore", path);
	}
	int rc = mincore(map, (size_t)st.st_size, vec);
	int saved = errno;
	if (rc == 0)
		for (uint64_t i = 0; i < np; i++)
			*resident += vec[i] & 1;
	free(vec);
	munmap(map, (size_t)st.st_size);
	if (rc != 0)
		return kb_error_set(err, "%s: mincore: %s", path, strerror(saved));
	return 0;
}

int meas_file_residency(const char *path, uint64_t *resident, uint64_t *pages, struct kb_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kb_error_set(err, "%s: %s", path, strerror(errno));
	int rc = residency_fd(fd, path, resident, pages, err);
	close(fd);
	return rc;
}

int meas_evict_file(const char *path, uint64_t *resident_after, uint64_t *pages,
		    struct kb_error *err)
{
	/* fsync needs a descriptor open for writing on some file systems;
	 * O_RDWR also works for read-only images owned by us. */
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kb_error_set(err, "%s: %s", path, strerror(errno));
	int rc = 0;
	if (fsync(fd) != 0) {
		rc = kb_error_set(err, "%s: fsync: %s", path, strerror(errno));
		goto out;
	}
	int e = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (e != 0) {
		rc = kb_error_set(err, "%s: posix_fadvise(DONTNEED): %s", path, strerror(e));
		goto out;
	}
	uint64_t res = 0, np = 0;
	rc = residency_fd(fd, path, &res, &np, err);
	if (resident_after)
		*resident_after = res;
	if (pages)
		*pages = np;
out:
	close(fd);
	return rc;
}

uint64_t meas_touch_pages(const void *base, size_t len)
{
	const volatile unsigned char *p = base;
	uint64_t ps = page_size(), sum = 0;
	for (size_t off = 0; off < len; off += ps)
		sum += p[off];
	if (len)
		sum += p[len - 1];
	return sum;
}

int64_t meas_file_size(const char *path, struct kb_error *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return kb_error_set(err, "%s: %s", path, strerror(errno));
	return (int64_t)st.st_size;
}

int meas_in_child(void (*fn)(void *arg, void *out), void *arg, void *out, size_t len,
		  struct kb_error *err)
{
	int fd[2];
	if (pipe(fd))
		return kb_error_set(err, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fd[0]);
		close(fd[1]);
		return kb_error_set(err, "fork: %s", strerror(e));
	}
	if (pid == 0) {
		close(fd[0]);
		fn(arg, out);
		const char *p = out;
		size_t done = 0;
		while (done < len) {
			ssize_t w = write(fd[1], p + done, len - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				_exit(1);
			done += (size_t)w;
		}
		_exit(0);
	}
	close(fd[1]);
	size_t got = 0;
	while (got < len) {
		ssize_t k = read(fd[0], (char *)out + got, len - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return kb_error_set(err, "waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		return kb_error_set(err, "the measuring process died: %s",
				    strsignal(WTERMSIG(status)));
	if (got != len || !WIFEXITED(status) || WEXITSTATUS(status))
		return kb_error_set(err, "the measuring process gave no result");
	return 0;
}
