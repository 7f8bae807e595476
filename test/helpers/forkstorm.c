// SPDX-License-Identifier: GPL-2.0
/*
 * forkstorm: many short-lived processes, each reaped as soon as it exits,
 * for memory_info's tests of processes that vanish under a RESET.
 *
 * usage: forkstorm SECONDS WIDTH
 *   For SECONDS, keeps WIDTH children alive at a time under the name
 *   "mi-forkstorm": each mprotect()s the 128 MiB it inherits, populated,
 *   and exits; the parent reaps it at once and forks the next. Prints
 *   "done <children>".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AREA	(128UL << 20)

static char *area;

/*
 * Holds its mmap lock for writing for most of its short life (mprotect()
 * of the pages fork() copied), then exits: a RESET that meets it may wait
 * for the lock, and the child be reaped while its address space is walked.
 */
static void child(void)
{
	mprotect(area, AREA, PROT_READ);
	_exit(0);
}

int main(int argc, char **argv)
{
	unsigned long forked = 0;
	int seconds, width, i;
	time_t end;
	pid_t pid;

	if (argc != 3) {
		fprintf(stderr, "usage: forkstorm SECONDS WIDTH\n");
		return 2;
	}
	seconds = atoi(argv[1]);
	width = atoi(argv[2]);
	if (seconds < 0 || width < 1) {
		fprintf(stderr, "forkstorm: bad arguments\n");
		return 2;
	}
	prctl(PR_SET_NAME, "mi-forkstorm");
	area = mmap(NULL, AREA, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (area == MAP_FAILED) {
		printf("error mmap %d\n", errno);
		return 1;
	}

	end = time(NULL) + seconds;
	for (i = 0; i < width; i++, forked++)
		if (!fork())
			child();
	while (time(NULL) < end) {
		if (wait(NULL) < 0) {
			printf("error wait %d\n", errno);
			return 1;
		}
		pid = fork();
		if (pid < 0) {
			printf("error fork %d\n", errno);
			return 1;
		}
		if (!pid)
			child();
		forked++;
	}
	while (wait(NULL) > 0)
		;
	printf("done %lu\n", forked);
	return 0;
}
