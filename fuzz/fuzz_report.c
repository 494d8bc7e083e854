/* fuzz_report: arbitrary bytes as a recording through the whole analysis:
 * prof_load (side-band, images, regions, faults with chains), the hotspot
 * report with every view, the fault report, and every renderer. Whatever
 * the bytes, the answer is a report or an error: never a crash, an
 * out-of-bounds access or a leak. The input goes to a memfd, read back
 * through /proc/self/fd like a file. Modules it names are opened read-only
 * (non-regular files are refused without blocking). Seeds: scripts/fuzz
 * writes a real recording into the corpus. */
#include "analyze/faults.h"
#include "analyze/hotspots.h"
#include "analyze/profile.h"
#include "reports/report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void render_all(const struct hot_report *h, const struct flt_report *f)
{
	for (int fmt = REP_TEXT; fmt <= REP_FOLDED; fmt++) {
		struct kb_buf out = {0};
		struct kb_error err;
		if (h)
			rep_hotspots(h, (enum rep_format)fmt, &out, &err);
		if (f)
			rep_faults(f, (enum rep_format)fmt, &out, &err);
		kb_buf_free(&out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_report", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t done = 0;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	struct prof *p;
	struct kb_error err;
	struct prof_options po = {.keep_faults = 1, .keep_fault_chains = 1};
	if (prof_load(&p, path, &po, &err) == 0) {
		struct hot_options ho = {.limit = 5,
					 .lines = 1,
					 .folded = 1,
					 .addresses = 5,
					 .callers_of = "main",
					 .region = size % 2 ? "a" : NULL};
		struct hot_report *h = NULL;
		struct flt_report *f = NULL;
		if (hot_report_build(p, &ho, &h, &err) != 0)
			h = NULL;
		struct flt_options fo = {.folded = 1, .bins = 7};
		if (flt_report_build(p, &fo, &f, &err) != 0)
			f = NULL;
		render_all(h, f);
		flt_report_free(f);
		hot_report_free(h);
		prof_free(p);
	}
	close(fd);
	return 0;
}
