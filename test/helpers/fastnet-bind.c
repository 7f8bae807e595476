// SPDX-License-Identifier: GPL-2.0
/*
 * fastnet-bind IFNAME MODE [SLOTS SLOT_SIZE]: opens /dev/fastnet, binds it
 * to IFNAME in MODE (a number; ring geometry for mode ring, else the
 * defaults) straight through the UAPI header, prints "bound" and holds the
 * session until killed or until its standard input closes. On failure it
 * prints "error ERRNO" and exits 1. For tests of what happens to a session
 * whose process dies, or that lacks a capability.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "uapi/fastnet.h"

int main(int argc, char **argv)
{
	struct fastnet_bind req;
	char c;
	int fd;

	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: fastnet-bind IFNAME MODE [SLOTS SLOT_SIZE]\n");
		return 2;
	}
	memset(&req, 0, sizeof(req));
	strncpy(req.ifname, argv[1], sizeof(req.ifname) - 1);
	req.mode = (__u32)atoi(argv[2]);
	if (argc == 5) {
		req.slots = (__u32)strtoul(argv[3], NULL, 0);
		req.slot_size = (__u32)strtoul(argv[4], NULL, 0);
	}

	fd = open("/dev/fastnet", O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, FASTNET_BIND, &req) < 0) {
		printf("error %d\n", errno);
		return 1;
	}
	printf("bound\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
