// SPDX-License-Identifier: GPL-2.0
/*
 * read-len: one read(2) of LENGTH bytes from an inherited descriptor, which
 * Node will not make for a length of 0 (fs.readSync returns 0 itself).
 *
 * usage: read-len FD LENGTH
 * Prints what read() returned, or the errno's name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[65536];
	size_t len;
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: read-len FD LENGTH\n");
		return 2;
	}
	len = strtoul(argv[2], NULL, 0);
	if (len > sizeof(buf))
		len = sizeof(buf);
	n = read(atoi(argv[1]), buf, len);
	if (n < 0)
		printf("%s\n", strerrorname_np(errno));
	else
		printf("%zd\n", n);
	return 0;
}
