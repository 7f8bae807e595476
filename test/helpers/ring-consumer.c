// SPDX-License-Identifier: GPL-2.0
/*
 * ring-consumer IFNAME MODE SLOTS SLOT_SIZE: a consumer of fastnet's mmap
 * ring written to uapi/fastnet.h alone, the way a user's C program would:
 * bind (mode 3, ring, or 4, zero-copy), FASTNET_RING_INFO, mmap, then
 * poll() with a 100 ms timeout, take [consumer, producer) through each
 * descriptor's data_offset, store-release the consumer once per batch.
 *
 * It prints "bound", then counts framegen's frames (qemu/framegen.c: UDP
 * payload "KMZC", run id, 64-bit sequence number) of the latest run id it
 * sees (QEMU may still hold an earlier run's), until its standard input
 * closes. Then it prints one line of JSON:
 * distinct sequence numbers seen, the first and last, duplicates, frames
 * out of order or damaged, other frames, and the session's counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uapi/fastnet.h"

#define PAYLOAD_OFFSET	42	/* Ethernet, IPv4, UDP */
#define SEQ_MAX		(1u << 24)

static uint8_t seen[SEQ_MAX / 8];

struct tally {
	uint32_t id;
	int have_id;
	uint64_t distinct, duplicates, disorder, damaged, other;
	uint64_t first, last, batches;
};

static void take(struct tally *t, const uint8_t *f, uint32_t len)
{
	uint32_t id;
	uint64_t seq;
	uint32_t k;

	if (len < PAYLOAD_OFFSET + 16 || memcmp(f + PAYLOAD_OFFSET, "KMZC", 4)) {
		t->other++;
		return;
	}
	memcpy(&id, f + PAYLOAD_OFFSET + 4, 4);
	memcpy(&seq, f + PAYLOAD_OFFSET + 8, 8);
	if (t->have_id && id != t->id) {
		/* Runs are sent one after the other: an older one's frame is other. */
		if ((int32_t)(id - t->id) < 0) {
			t->other++;
			return;
		}
		t->other += t->distinct + t->duplicates + t->disorder + t->damaged;
		t->distinct = t->duplicates = t->disorder = t->damaged = 0;
		memset(seen, 0, sizeof(seen));
		t->have_id = 0;
	}
	if (!t->have_id) {
		t->have_id = 1;
		t->id = id;
		t->first = seq;
		t->last = seq;
	}
	for (k = PAYLOAD_OFFSET + 16; k < len; k++) {
		if (f[k] != (uint8_t)(seq + k)) {
			t->damaged++;
			return;
		}
	}
	if (seq >= SEQ_MAX) {
		t->damaged++;
		return;
	}
	if (seen[seq / 8] & (1u << (seq % 8))) {
		t->duplicates++;
		return;
	}
	seen[seq / 8] |= 1u << (seq % 8);
	t->distinct++;
	if (seq < t->last)
		t->disorder++;
	if (seq < t->first)
		t->first = seq;
	if (seq > t->last)
		t->last = seq;
}

/* The first few runs of missing sequence numbers, to stderr: where frames went. */
static void gaps(const struct tally *t)
{
	uint64_t seq, start = 0;
	int in_gap = 0, shown = 0;

	for (seq = t->first; t->have_id && seq <= t->last && shown < 8; seq++) {
		int have = seen[seq / 8] & (1u << (seq % 8));

		if (!have && !in_gap) {
			in_gap = 1;
			start = seq;
		} else if (have && in_gap) {
			in_gap = 0;
			shown++;
			fprintf(stderr, "ring-consumer: missing %llu-%llu\n",
				(unsigned long long)start,
				(unsigned long long)seq - 1);
		}
	}
}

int main(int argc, char **argv)
{
	struct fastnet_ring_info info;
	struct fastnet_ring_header *hdr;
	struct fastnet_stats stats;
	struct fastnet_bind req;
	struct tally t = { 0 };
	struct pollfd pfd[2];
	uint8_t *zone;
	int fd;

	if (argc != 5) {
		fprintf(stderr, "usage: ring-consumer IFNAME MODE SLOTS SLOT_SIZE\n");
		return 2;
	}
	memset(&req, 0, sizeof(req));
	strncpy(req.ifname, argv[1], sizeof(req.ifname) - 1);
	req.mode = (__u32)atoi(argv[2]);
	req.slots = (__u32)strtoul(argv[3], NULL, 0);
	req.slot_size = (__u32)strtoul(argv[4], NULL, 0);

	fd = open("/dev/fastnet", O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, FASTNET_BIND, &req) < 0 ||
	    ioctl(fd, FASTNET_RING_INFO, &info) < 0) {
		printf("error %d\n", errno);
		return 1;
	}
	zone = mmap(NULL, info.zone_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (zone == MAP_FAILED) {
		printf("error %d\n", errno);
		return 1;
	}
	hdr = (struct fastnet_ring_header *)zone;
	printf("bound\n");
	fflush(stdout);

	pfd[0].fd = fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = 0;
	pfd[1].events = POLLIN;
	for (;;) {
		const struct fastnet_slot *desc;
		uint32_t cons, prod;

		if (poll(pfd, 2, 100) < 0 && errno != EINTR)
			return 1;
		cons = hdr->consumer;
		prod = __atomic_load_n(&hdr->producer, __ATOMIC_ACQUIRE);
		if (prod != cons)
			t.batches++;
		for (; cons != prod; cons++) {
			desc = (const struct fastnet_slot *)(zone + info.desc_offset) +
			       (cons & (info.slots - 1));
			if (desc->data_offset > info.zone_size ||
			    desc->len > info.zone_size - desc->data_offset) {
				t.damaged++;
				continue;
			}
			take(&t, zone + desc->data_offset, desc->len);
		}
		__atomic_store_n(&hdr->consumer, cons, __ATOMIC_RELEASE);
		/* Standard input closed: the test is done sending. */
		if (pfd[1].revents) {
			char buf[64];

			if (read(0, buf, sizeof(buf)) <= 0)
				break;
		}
	}
	gaps(&t);
	if (ioctl(fd, FASTNET_STATS, &stats) < 0) {
		printf("error %d\n", errno);
		return 1;
	}
	printf("{\"id\":%u,\"distinct\":%llu,\"first\":%llu,\"last\":%llu,"
	       "\"duplicates\":%llu,\"disorder\":%llu,\"damaged\":%llu,"
	       "\"other\":%llu,\"batches\":%llu,\"received\":%llu,"
	       "\"delivered\":%llu,\"dropped\":%llu,\"missed\":%llu}\n",
	       t.id, (unsigned long long)t.distinct,
	       (unsigned long long)t.first, (unsigned long long)t.last,
	       (unsigned long long)t.duplicates,
	       (unsigned long long)t.disorder, (unsigned long long)t.damaged,
	       (unsigned long long)t.other, (unsigned long long)t.batches,
	       (unsigned long long)stats.received,
	       (unsigned long long)stats.delivered,
	       (unsigned long long)stats.dropped,
	       (unsigned long long)stats.missed);
	return 0;
}
