// SPDX-License-Identifier: GPL-2.0
/*
 * netsend: traffic for fastnet's tests, run inside a network namespace
 * (ip netns exec NS out/bin/netsend ...), where node would take seconds
 * to start.
 *
 *   netsend udp ADDR PORT COUNT SIZE
 *	COUNT datagrams of SIZE bytes (>= 4): a big-endian sequence number
 *	from 0, then bytes (seq + i) & 0xff.
 *   netsend tcp ADDR PORT FILE
 *	FILE's bytes over one connection; waits for the receiver to close.
 *   netsend raw DEV FILE
 *	each line of FILE, a frame in hex from its Ethernet header, sent
 *	as it is on DEV (AF_PACKET, SOCK_RAW), in order: a veth peer then
 *	receives exactly those bytes. Frames of 14 bytes at least.
 *   netsend raw-rounds DEV FILE
 *	the same, once for every line read on standard input (a test's
 *	rounds, without a process each), printing "sent N" after each.
 *
 * Prints "sent N" (datagrams or bytes); any failure exits 1 with a message.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "netsend: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in parse_address(const char *addr, const char *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	sin.sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "netsend: bad IPv4 address %s\n", addr);
		exit(2);
	}
	return sin;
}

static int send_udp(struct sockaddr_in sin, long count, long size)
{
	unsigned char *buf;
	int fd;
	long seq, i;

	if (count < 0 || size < 4 || size > 65507) {
		fprintf(stderr, "netsend: bad COUNT or SIZE\n");
		return 2;
	}
	buf = malloc(size);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (!buf || fd < 0)
		die("socket");
	/* Unconnected: an ICMP error never fails a later send. */
	for (seq = 0; seq < count; seq++) {
		uint32_t be = htonl((uint32_t)seq);

		memcpy(buf, &be, 4);
		for (i = 4; i < size; i++)
			buf[i] = (unsigned char)(seq + i);
		while (sendto(fd, buf, size, 0, (struct sockaddr *)&sin,
			      sizeof(sin)) != size) {
			if (errno != ENOBUFS && errno != EINTR)
				die("sendto");
			usleep(100);
		}
	}
	printf("sent %ld\n", count);
	return 0;
}

static int send_tcp(struct sockaddr_in sin, const char *path)
{
	struct stat st;
	off_t off = 0;
	char sink[256];
	int fd, file;

	file = open(path, O_RDONLY);
	if (file < 0 || fstat(file, &st) < 0)
		die(path);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect");
	while (off < st.st_size) {
		if (sendfile(fd, file, &off, st.st_size - off) < 0 &&
		    errno != EINTR)
			die("sendfile");
	}
	if (shutdown(fd, SHUT_WR) < 0)
		die("shutdown");
	/* The receiver closes once it has it all. */
	while (read(fd, sink, sizeof(sink)) > 0)
		;
	printf("sent %lld\n", (long long)off);
	return 0;
}

static int hex_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

struct frames {
	unsigned char **data;
	size_t *len;
	size_t count;
};

/* Every line of @path, a frame in hex. */
static struct frames read_frames(const char *path)
{
	static char line[2 * 65536 + 2];
	struct frames fr = { 0 };
	FILE *f = fopen(path, "r");

	if (!f)
		die(path);
	while (fgets(line, sizeof(line), f)) {
		size_t n = 0, i;
		unsigned char *frame = malloc(sizeof(line) / 2);

		for (i = 0; line[i] && line[i] != '\n'; i += 2) {
			int hi = hex_nibble(line[i]), lo = hex_nibble(line[i + 1]);

			if (!frame || hi < 0 || lo < 0) {
				fprintf(stderr, "netsend: bad frame on line %zu\n", fr.count + 1);
				exit(2);
			}
			frame[n++] = (unsigned char)(hi << 4 | lo);
		}
		fr.data = realloc(fr.data, (fr.count + 1) * sizeof(*fr.data));
		fr.len = realloc(fr.len, (fr.count + 1) * sizeof(*fr.len));
		if (!fr.data || !fr.len)
			die("realloc");
		fr.data[fr.count] = frame;
		fr.len[fr.count++] = n;
	}
	fclose(f);
	return fr;
}

static int send_raw(const char *dev, const char *path, int rounds)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct frames fr = read_frames(path);
	char request[64];
	cpu_set_t cpus;
	size_t i;
	int fd;

	sll.sll_ifindex = (int)if_nametoindex(dev);
	if (!sll.sll_ifindex)
		die(dev);
	/*
	 * One CPU: a veth peer's frames wait in the sending CPU's backlog, so
	 * a sender that moved could see them received out of order.
	 */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu(), &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus) < 0)
		die("sched_setaffinity");
	/* Protocol 0: this socket receives nothing, it only sends. */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		die("socket");
	do {
		if (rounds && !fgets(request, sizeof(request), stdin))
			break;
		for (i = 0; i < fr.count; i++) {
			while (sendto(fd, fr.data[i], fr.len[i], 0,
				      (struct sockaddr *)&sll, sizeof(sll)) != (ssize_t)fr.len[i]) {
				if (errno != ENOBUFS && errno != EINTR)
					die("sendto");
				usleep(100);
			}
		}
		printf("sent %zu\n", fr.count);
		fflush(stdout);
	} while (rounds);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "udp"))
		return send_udp(parse_address(argv[2], argv[3]), atol(argv[4]),
				atol(argv[5]));
	if (argc == 5 && !strcmp(argv[1], "tcp"))
		return send_tcp(parse_address(argv[2], argv[3]), argv[4]);
	if (argc == 4 && !strcmp(argv[1], "raw"))
		return send_raw(argv[2], argv[3], 0);
	if (argc == 4 && !strcmp(argv[1], "raw-rounds"))
		return send_raw(argv[2], argv[3], 1);
	fprintf(stderr,
		"usage: netsend udp ADDR PORT COUNT SIZE\n"
		"       netsend tcp ADDR PORT FILE\n"
		"       netsend raw DEV FILE\n"
		"       netsend raw-rounds DEV FILE\n");
	return 2;
}
