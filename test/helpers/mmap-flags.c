// SPDX-License-Identifier: GPL-2.0
/*
 * mmap-flags: maps an inherited descriptor with protections and flags no
 * Node API asks for (PROT_EXEC, MAP_PRIVATE), and prints how each fared.
 *
 * usage: mmap-flags FD LENGTH
 * Prints one line per case, "<case> ok" or "<case> <ERRNO>": shared-r,
 * shared-rx, private-r, private-rw. Exits 0 if every case was tried.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static const struct {
	const char *name;
	int prot;
	int flags;
} cases[] = {
	{ "shared-r", PROT_READ, MAP_SHARED },
	{ "shared-rx", PROT_READ | PROT_EXEC, MAP_SHARED },
	{ "private-r", PROT_READ, MAP_PRIVATE },
	{ "private-rw", PROT_READ | PROT_WRITE, MAP_PRIVATE },
};

int main(int argc, char **argv)
{
	size_t len, i;
	void *addr;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: mmap-flags FD LENGTH\n");
		return 2;
	}
	fd = atoi(argv[1]);
	len = strtoul(argv[2], NULL, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		addr = mmap(NULL, len, cases[i].prot, cases[i].flags, fd, 0);
		if (addr == MAP_FAILED) {
			printf("%s %s\n", cases[i].name, strerrorname_np(errno));
			continue;
		}
		printf("%s ok\n", cases[i].name);
		munmap(addr, len);
	}
	return 0;
}
