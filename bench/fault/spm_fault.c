// SPDX-License-Identifier: GPL-2.0
/*
 * spm_fault: the anonymous page-fault path's cost, for `make bench`.
 *
 * Maps MIB MiB of anonymous memory, writes one byte to every page (one
 * fault each), unmaps it, and does so REPS times after one untimed warm-up
 * pass. Transparent huge pages are turned off for the range, so every fault
 * is an order-0 allocation. Under QEMU -icount shift=0 the nanoseconds are
 * guest instruction counts.
 *
 * Output: one line per repetition,
 *   spm_fault: rep=R pages=P total_ns=T
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int pass(size_t len, size_t page, unsigned long long *ns)
{
	unsigned long long start = now_ns();
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "spm_fault: mmap: %s\n", strerror(errno));
		return -1;
	}
	if (madvise(p, len, MADV_NOHUGEPAGE) && errno != EINVAL) {
		fprintf(stderr, "spm_fault: madvise: %s\n", strerror(errno));
		return -1;
	}
	for (size_t off = 0; off < len; off += page)
		p[off] = 1;
	munmap(p, len);
	*ns = now_ns() - start;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long mib, reps;
	unsigned long long ns;
	size_t page = sysconf(_SC_PAGESIZE);
	char *end;

	if (argc != 3) {
		fprintf(stderr, "usage: spm_fault MIB REPS\n");
		return 2;
	}
	errno = 0;
	mib = strtoul(argv[1], &end, 10);
	if (errno || *end || mib == 0 || mib > 4096) {
		fprintf(stderr, "spm_fault: MIB must be 1..4096, not '%s'\n", argv[1]);
		return 2;
	}
	reps = strtoul(argv[2], &end, 10);
	if (errno || *end || reps == 0 || reps > 100) {
		fprintf(stderr, "spm_fault: REPS must be 1..100, not '%s'\n", argv[2]);
		return 2;
	}
	if (pass(mib << 20, page, &ns))
		return 1;
	for (unsigned long r = 0; r < reps; r++) {
		if (pass(mib << 20, page, &ns))
			return 1;
		printf("spm_fault: rep=%lu pages=%zu total_ns=%llu\n",
		       r, (size_t)(mib << 20) / page, ns);
	}
	return 0;
}
