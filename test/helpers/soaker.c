// SPDX-License-Identifier: GPL-2.0
/*
 * soaker FILE: the benchmark's CPU meter, as netperf measures CPU. One
 * child per online CPU, pinned there at SCHED_IDLE, counts loop iterations
 * as fast as it can; whatever else runs on that CPU takes iterations away.
 * Each child stores its count, every few thousand iterations, into its own
 * 64-byte line of FILE (a shared mapping, created here: 64 bytes a CPU), so
 * the reader samples all counters with one read(). Runs until killed;
 * the children die with their parent (PR_SET_PDEATHSIG).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define LINE 64
#define PUBLISH_EVERY 4096

static void soak(volatile uint64_t *counter)
{
	uint64_t n = 0;

	for (;;) {
		unsigned int i;

		/* The body the iteration rate is calibrated on. */
		for (i = 0; i < PUBLISH_EVERY; i++)
			__asm__ __volatile__("" : : "r"(i) : "memory");
		n += PUBLISH_EVERY;
		__atomic_store_n(counter, n, __ATOMIC_RELAXED);
	}
}

int main(int argc, char **argv)
{
	struct sched_param idle = { .sched_priority = 0 };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint8_t *lines;
	long cpu;
	int fd;

	if (argc != 2 || cpus < 1) {
		fprintf(stderr, "usage: soaker FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, cpus * LINE) < 0) {
		perror(argv[1]);
		return 1;
	}
	lines = mmap(NULL, cpus * LINE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (lines == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (sched_setscheduler(0, SCHED_IDLE, &idle) < 0) {
		perror("sched_setscheduler(SCHED_IDLE)");
		return 1;
	}
	for (cpu = 0; cpu < cpus; cpu++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			cpu_set_t set;

			/* A child outliving its parent would soak forever. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			if (sched_setaffinity(0, sizeof(set), &set) < 0) {
				perror("sched_setaffinity");
				_exit(1);
			}
			soak((volatile uint64_t *)(lines + cpu * LINE));
		}
	}
	/* One child gone means the meter is broken: all go. */
	wait(NULL);
	return 1;
}
