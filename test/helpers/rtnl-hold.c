// SPDX-License-Identifier: GPL-2.0
/*
 * rtnl-hold: holds the kernel's RTNL for a test, for as long as the test
 * wants. SIOCGIFCONF runs under RTNL and copies its result to user space
 * while holding it; here that copy faults on a page registered with
 * userfaultfd, and the fault is left unresolved. Prints "holding" once the
 * fault is reported (the ioctl is then blocked with RTNL held), resolves it
 * when standard input closes or after 20 s, and exits 0 once the ioctl has
 * returned. On failure it prints "error WHAT ERRNO" and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HOLD_MAX_MS	20000

static void fail(const char *what, int err)
{
	printf("error %s %d\n", what, err);
	exit(1);
}

static void *page;
static long page_size;

static void *ifconf_thread(void *arg)
{
	struct ifconf ifc = { .ifc_len = (int)page_size, .ifc_buf = page };
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	(void)arg;
	if (sock < 0 || ioctl(sock, SIOCGIFCONF, &ifc) < 0)
		fail("SIOCGIFCONF", errno);
	close(sock);
	return NULL;
}

int main(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	struct uffdio_zeropage zero = { 0 };
	struct uffd_msg msg;
	struct pollfd pfd;
	pthread_t thread;
	char c;
	int uffd;

	page_size = sysconf(_SC_PAGESIZE);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0)
		fail("userfaultfd", errno);
	page = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		fail("mmap", errno);
	reg.range.start = (uintptr_t)page;
	reg.range.len = page_size;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		fail("UFFDIO_REGISTER", errno);
	if (pthread_create(&thread, NULL, ifconf_thread, NULL))
		fail("pthread_create", 0);

	/* The fault's report: the copy, and so RTNL, is waiting on us. */
	if (read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		fail("userfaultfd read", errno);
	printf("holding\n");
	fflush(stdout);

	pfd.fd = 0;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, HOLD_MAX_MS) > 0 && read(0, &c, 1) > 0)
		;
	zero.range.start = (uintptr_t)page;
	zero.range.len = page_size;
	if (ioctl(uffd, UFFDIO_ZEROPAGE, &zero) < 0)
		fail("UFFDIO_ZEROPAGE", errno);
	pthread_join(thread, NULL);
	return 0;
}
