// SPDX-License-Identifier: GPL-2.0
/*
 * unmapped-write: writes a command to a file from memory that is not
 * mapped, which no Node API can do, and prints how each write failed.
 *
 * usage: unmapped-write FILE COMMAND
 * Prints "unmapped <ERRNO>" (the whole buffer unmapped) and "straddling
 * <ERRNO>" (the command's last byte on an unmapped page), or "<case> ok N"
 * if a write succeeded. Exits 0 if both writes were made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void report(const char *what, ssize_t ret)
{
	if (ret < 0)
		printf("%s %s\n", what, strerrorname_np(errno));
	else
		printf("%s ok %zd\n", what, ret);
}

int main(int argc, char **argv)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len;
	char *pages;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: unmapped-write FILE COMMAND\n");
		return 2;
	}
	len = strlen(argv[2]);
	if (!len || len > page) {
		fprintf(stderr, "unmapped-write: COMMAND must be 1 to %zu bytes\n", page);
		return 2;
	}
	fd = open(argv[1], O_WRONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	/* Two pages, the second unmapped again: a hole the kernel must refuse. */
	pages = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED || munmap(pages + page, page)) {
		perror("mmap");
		return 1;
	}
	report("unmapped", write(fd, pages + page, len));
	memcpy(pages + page - (len - 1), argv[2], len - 1);
	report("straddling", write(fd, pages + page - (len - 1), len));
	close(fd);
	return 0;
}
