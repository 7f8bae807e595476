// SPDX-License-Identifier: GPL-2.0
/*
 * hugetlb-share: shared hugetlb page tables (PMD sharing) made and
 * unshared over and over, for memory_info's tests.
 *
 * usage: hugetlb-share SECONDS CHILDREN PAGES
 *   Maps 1 GiB of MAP_SHARED anonymous hugetlb memory (2 MiB pages,
 *   MAP_NORESERVE) at a 1 GiB-aligned address, so that its PMD table can be
 *   shared, touches PAGES of its huge pages, prints "ready <pid>" and then,
 *   for SECONDS, forks CHILDREN children at a time: fork shares the PMD
 *   table, and each child touches the pages and unshares it again, in turn
 *   by munmap() of one huge page, by mprotect() of one, or by just exiting.
 *   Prints "done <rounds>" and waits for its standard input to close, so
 *   that its own counts can be read. Needs PAGES free huge pages in
 *   /proc/sys/vm/nr_hugepages. On failure: "error WHAT ERRNO", exit 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HUGE_SIZE	(2UL << 20)
#define PUD_SIZE	(1UL << 30)

static void fail(const char *what, int err)
{
	printf("error %s %d\n", what, err);
	fflush(stdout);
	exit(1);
}

static void touch(char *area, unsigned long pages)
{
	unsigned long i;

	/* Spread over the range: one PMD table maps all of it. */
	for (i = 0; i < pages; i++)
		area[(i * (PUD_SIZE / pages)) & ~(HUGE_SIZE - 1)] = (char)i;
}

static void child(char *area, unsigned long pages, int how)
{
	char *victim = area + PUD_SIZE / 2;

	touch(area, pages);
	switch (how) {
	case 0:
		/* Splits the VMA: every PMD table in the range is unshared. */
		if (munmap(victim, HUGE_SIZE))
			fail("munmap", errno);
		break;
	case 1:
		if (mprotect(victim, HUGE_SIZE, PROT_READ))
			fail("mprotect", errno);
		break;
	default:
		break;		/* exit_mmap() unshares it */
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	unsigned long pages, rounds = 0;
	int seconds, children, i, status;
	char *reserve, *area, c;
	time_t end;
	pid_t pid;

	if (argc != 4) {
		fprintf(stderr, "usage: hugetlb-share SECONDS CHILDREN PAGES\n");
		return 2;
	}
	seconds = atoi(argv[1]);
	children = atoi(argv[2]);
	pages = strtoul(argv[3], NULL, 0);
	if (seconds < 0 || children < 1 || pages < 1 || pages > PUD_SIZE / HUGE_SIZE) {
		fprintf(stderr, "hugetlb-share: bad arguments\n");
		return 2;
	}
	prctl(PR_SET_NAME, "mi-hugeshare");

	/* Room for a 1 GiB-aligned gigabyte: address space only. */
	reserve = mmap(NULL, 2 * PUD_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (reserve == MAP_FAILED)
		fail("mmap reserve", errno);
	area = (char *)(((unsigned long)reserve + PUD_SIZE - 1) & ~(PUD_SIZE - 1));
	if (mmap(area, PUD_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE | MAP_FIXED,
		 -1, 0) == MAP_FAILED)
		fail("mmap hugetlb", errno);
	touch(area, pages);
	printf("ready %d\n", getpid());
	fflush(stdout);

	end = time(NULL) + seconds;
	while (time(NULL) < end) {
		for (i = 0; i < children; i++) {
			pid = fork();
			if (pid < 0)
				fail("fork", errno);
			if (!pid)
				child(area, pages, (int)((rounds + i) % 3));
		}
		for (i = 0; i < children; i++) {
			if (wait(&status) < 0)
				fail("wait", errno);
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				fail("child", status);
		}
		rounds++;
	}
	printf("done %lu\n", rounds);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
