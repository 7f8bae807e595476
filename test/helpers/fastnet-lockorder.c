// SPDX-License-Identifier: GPL-2.0
/*
 * fastnet-lockorder: drives the three calls whose locks once formed a
 * cycle in fastnet (mmap_lock -> session lock -> RTNL -> mmap_lock):
 * FASTNET_BIND with a large ring (allocation, then RTNL), mmap() of the
 * same session (under the caller's mmap_lock) and SIOCGIFCONF (RTNL held
 * across a copy_to_user() that faults on a never-touched buffer).
 *
 * usage: fastnet-lockorder race IFNAME ROUNDS
 *   ROUNDS rounds of three threads that meet: one binds a fresh session
 *   to IFNAME with a 128 MiB ring, one calls mmap() on it until it maps
 *   the ring, one calls SIOCGIFCONF into untouched pages until the bind
 *   returns. Prints "round N ifconf C" per round (C: SIOCGIFCONF calls made
 *   while the bind ran) and "ok ROUNDS" at the end. A deadlock hangs it:
 *   its parent's time limit tells.
 * usage: fastnet-lockorder sequence IFNAME
 *   The same three calls once each, in one thread, in that order (bind
 *   with a ring, mmap, SIOCGIFCONF into an untouched buffer): each lock
 *   edge of the cycle is taken for lockdep to see, without threads having
 *   to meet. Prints "ok".
 * On failure it prints "error WHAT ERRNO" and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uapi/fastnet.h"

#define RING_SLOTS	65536
#define RING_SLOT_SIZE	2048	/* 128 MiB: FASTNET_RING_DATA_MAX */
#define IFCONF_LEN	4096	/* one untouched page per SIOCGIFCONF */
#define IFCONF_AREA	(64UL << 20)

static const char *ifname;
static size_t zone_size;
static int sock;

/* One round's shared state. */
static int round_fd;
static atomic_bool bind_done;
static atomic_int ifconf_calls;
static char *ifconf_area;

static void fail(const char *what, int err)
{
	printf("error %s %d\n", what, err);
	fflush(stdout);
	exit(1);
}

static int bind_ring(int fd)
{
	struct fastnet_bind req;

	memset(&req, 0, sizeof(req));
	strncpy(req.ifname, ifname, sizeof(req.ifname) - 1);
	req.mode = FASTNET_MODE_RING;
	req.slots = RING_SLOTS;
	req.slot_size = RING_SLOT_SIZE;
	return ioctl(fd, FASTNET_BIND, &req);
}

/* SIOCGIFCONF into @buf, whose first page has never been touched. */
static void ifconf(char *buf)
{
	struct ifconf ifc = { .ifc_len = IFCONF_LEN, .ifc_buf = buf };

	if (ioctl(sock, SIOCGIFCONF, &ifc) < 0)
		fail("SIOCGIFCONF", errno);
	if (ifc.ifc_len <= 0)
		fail("SIOCGIFCONF returned no interface", 0);
}

static void check_ring(void *map)
{
	const struct fastnet_ring_header *hdr = map;

	if (hdr->magic != FASTNET_RING_MAGIC || hdr->zone_size != zone_size)
		fail("ring header", 0);
}

/* Maps the session's ring as soon as mmap() lets it. */
static void *mapper(void *arg)
{
	void *map;

	(void)arg;
	for (;;) {
		map = mmap(NULL, zone_size, PROT_READ, MAP_SHARED, round_fd, 0);
		if (map != MAP_FAILED)
			break;
		/* Not bound yet: the bind is still running (or failed). */
		if (errno != ENOTCONN)
			fail("mmap", errno);
		if (atomic_load(&bind_done)) {
			map = mmap(NULL, zone_size, PROT_READ, MAP_SHARED, round_fd, 0);
			if (map == MAP_FAILED)
				fail("mmap after bind", errno);
			break;
		}
	}
	check_ring(map);
	munmap(map, zone_size);
	return NULL;
}

/* SIOCGIFCONF, each time into a fresh page, while the bind runs. */
static void *lister(void *arg)
{
	size_t off = 0;

	(void)arg;
	while (!atomic_load(&bind_done) && off + IFCONF_LEN <= IFCONF_AREA) {
		ifconf(ifconf_area + off);
		off += IFCONF_LEN;
		atomic_fetch_add(&ifconf_calls, 1);
	}
	return NULL;
}

static size_t ring_zone_size(int fd)
{
	struct fastnet_ring_info info;

	if (ioctl(fd, FASTNET_RING_INFO, &info) < 0)
		fail("FASTNET_RING_INFO", errno);
	return info.zone_size;
}

/* The zone's size, for mmap() calls made before their bind returns. */
static void probe_zone_size(void)
{
	int fd = open("/dev/fastnet", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fail("open", errno);
	if (bind_ring(fd) < 0)
		fail("bind", errno);
	zone_size = ring_zone_size(fd);
	close(fd);
}

static void race(int rounds)
{
	pthread_t map_thread, list_thread;
	int i;

	probe_zone_size();
	for (i = 0; i < rounds; i++) {
		/* Untouched again: every SIOCGIFCONF of the round faults. */
		ifconf_area = mmap(NULL, IFCONF_AREA, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ifconf_area == MAP_FAILED)
			fail("mmap scratch", errno);
		round_fd = open("/dev/fastnet", O_RDWR | O_CLOEXEC);
		if (round_fd < 0)
			fail("open", errno);
		atomic_store(&bind_done, false);
		atomic_store(&ifconf_calls, 0);
		if (pthread_create(&list_thread, NULL, lister, NULL) ||
		    pthread_create(&map_thread, NULL, mapper, NULL))
			fail("pthread_create", errno);
		if (bind_ring(round_fd) < 0)
			fail("bind", errno);
		atomic_store(&bind_done, true);
		pthread_join(list_thread, NULL);
		pthread_join(map_thread, NULL);
		close(round_fd);
		munmap(ifconf_area, IFCONF_AREA);
		printf("round %d ifconf %d\n", i + 1, atomic_load(&ifconf_calls));
		fflush(stdout);
	}
	printf("ok %d\n", rounds);
}

static void sequence(void)
{
	int fd = open("/dev/fastnet", O_RDWR | O_CLOEXEC);
	char *buf;
	void *map;

	if (fd < 0)
		fail("open", errno);
	if (bind_ring(fd) < 0)
		fail("bind", errno);
	zone_size = ring_zone_size(fd);
	map = mmap(NULL, zone_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		fail("mmap", errno);
	check_ring(map);
	buf = mmap(NULL, IFCONF_LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		fail("mmap scratch", errno);
	ifconf(buf);
	munmap(buf, IFCONF_LEN);
	munmap(map, zone_size);
	close(fd);
	printf("ok\n");
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "race") && strcmp(argv[1], "sequence")) ||
	    (!strcmp(argv[1], "race") && argc != 4)) {
		fprintf(stderr, "usage: fastnet-lockorder race IFNAME ROUNDS | sequence IFNAME\n");
		return 2;
	}
	ifname = argv[2];
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		fail("socket", errno);
	if (!strcmp(argv[1], "race"))
		race(atoi(argv[3]));
	else
		sequence();
	return 0;
}
