// SPDX-License-Identifier: GPL-2.0
/*
 * framegen DIR: the host end of the guest e1000's QEMU backend
 * `-netdev socket,udp=127.0.0.1:A,localaddr=127.0.0.1:B`. Loopback only.
 *
 * It binds 127.0.0.1:A (an ephemeral port), picks a free port B for QEMU and
 * writes "A B" to DIR/ports. Then it serves:
 * - traffic on request: the guest (over the 9p share) renames a file
 *   "ID SIZE COUNT RATE" to DIR/request; framegen deletes it, sends COUNT
 *   pre-built frames of SIZE bytes (Ethernet header to payload, no FCS) at
 *   RATE frames a second (0: unpaced), paced on CLOCK_MONOTONIC, and
 *   renames "ID SENT HOST_DROPS NS" to DIR/response. HOST_DROPS counts what
 *   the host's kernel dropped at QEMU's socket meanwhile (/proc/net/udp),
 *   i.e. frames QEMU could not take because the NIC had no free buffer.
 *   DIR/stop ends a run early: framegen looks for it before every
 *   STOP_BATCH frames and at least every CHECK_MS, so at most STOP_BATCH
 *   frames go out after it appears. It stays until the run ends, so a stop
 *   written before framegen took the request still counts.
 * - a heartbeat: DIR/alive's mtime moves every BEAT_MS while framegen runs
 *   (sending or not), so the guest tells a dead framegen from a slow one.
 * - ARP and ICMP echo for 192.168.77.1 (MAC 52:54:00:00:00:01), so the
 *   guest (192.168.77.2) can ping through the e1000.
 *
 * Frames: IPv4/UDP 192.168.77.1:9 -> 192.168.77.2:9 to the guest's MAC;
 * the UDP payload is "KMZC", the 32-bit run ID, the 64-bit sequence number
 * (little-endian, from 0), then byte k of the frame = (seq + k) & 0xff.
 * It runs until DIR disappears or it is killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MIN	60
#define FRAME_MAX	9018	/* past 1514 only with rx-all or a jumbo MTU */
#define HDR_LEN		(14 + 20 + 8)	/* Ethernet, IPv4, UDP */
#define PAYLOAD_HDR	16		/* magic, run id, sequence */
#define STOP_BATCH	64		/* lib/host-traffic.ts STOP_BATCH_FRAMES */
#define CHECK_MS	5
#define BEAT_MS		100
#define MS		1000000ull

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t host_mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t host_ip[4] = { 192, 168, 77, 1 };
static const uint8_t guest_ip[4] = { 192, 168, 77, 2 };

static int sock;
static struct sockaddr_in qemu_addr;
static const char *dir;
static char alive_path[4096];
static uint64_t last_beat;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint16_t csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* Headers and pattern of a SIZE-byte frame; the sequence is set per send. */
static void build_frame(uint8_t *f, size_t size, uint32_t run)
{
	uint8_t *ip = f + 14, *udp = ip + 20;

	memset(f, 0, size);
	memcpy(f, guest_mac, 6);
	memcpy(f + 6, host_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, size - 14);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, host_ip, 4);
	memcpy(ip + 16, guest_ip, 4);
	put16(ip + 10, csum(ip, 20));
	put16(udp, 9);
	put16(udp + 2, 9);
	put16(udp + 4, size - 34);
	memcpy(udp + 8, "KMZC", 4);
	memcpy(udp + 12, &run, 4);
}

static void set_seq(uint8_t *f, size_t size, uint64_t seq)
{
	size_t k;

	memcpy(f + HDR_LEN + 8, &seq, 8);
	for (k = HDR_LEN + PAYLOAD_HDR; k < size; k++)
		f[k] = (uint8_t)(seq + k);
}

/* Moves DIR/alive's mtime, at most every BEAT_MS. */
static void heartbeat(uint64_t now)
{
	int fd;

	if (now - last_beat < BEAT_MS * MS)
		return;
	last_beat = now;
	if (utimensat(AT_FDCWD, alive_path, NULL, 0) == 0 || errno != ENOENT)
		return;
	fd = open(alive_path, O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {
		.tv_sec = t / 1000000000ull,
		.tv_nsec = t % 1000000000ull,
	};

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* ARP and ping for host_ip; anything else the guest sends is ignored. */
static void answer(uint8_t *f, ssize_t len)
{
	uint8_t *ip = f + 14;

	if (len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 1 &&
	    !memcmp(f + 38, host_ip, 4)) {
		memcpy(f, f + 6, 6);
		memcpy(f + 6, host_mac, 6);
		f[21] = 2;
		memcpy(f + 32, f + 22, 10);	/* target = the asker */
		memcpy(f + 22, host_mac, 6);
		memcpy(f + 28, host_ip, 4);
		sendto(sock, f, 42, 0, (void *)&qemu_addr, sizeof(qemu_addr));
	} else if (len >= 42 && f[12] == 0x08 && f[13] == 0x00 && ip[9] == 1 &&
		   !memcmp(ip + 16, host_ip, 4) && (ip[0] & 0xf) == 5 &&
		   ip[20] == 8) {
		size_t iplen = (size_t)ip[2] << 8 | ip[3];

		if (iplen < 28 || 14 + iplen > (size_t)len)
			return;
		memcpy(f, f + 6, 6);
		memcpy(f + 6, host_mac, 6);
		memcpy(ip + 16, ip + 12, 4);
		memcpy(ip + 12, host_ip, 4);
		ip[10] = ip[11] = 0;
		put16(ip + 10, csum(ip, 20));
		ip[20] = 0;
		ip[22] = ip[23] = 0;
		put16(ip + 22, csum(ip + 20, iplen - 20));
		sendto(sock, f, 14 + iplen, 0, (void *)&qemu_addr, sizeof(qemu_addr));
	}
}

static void serve_incoming(void)
{
	uint8_t buf[2048];
	ssize_t n;

	while ((n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		answer(buf, n);
}

/* Drops the kernel counted at QEMU's socket (the one bound to @port). */
static unsigned long long udp_drops(unsigned int port)
{
	unsigned long long drops = 0, d;
	char line[512], local[64];
	unsigned int lport;
	FILE *f = fopen("/proc/net/udp", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		/* sl local rem st tx:rx tr:tm retr uid timeout inode ref ptr drops */
		if (sscanf(line, " %*s %63s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
			   local, &d) != 2)
			continue;
		if (sscanf(strchr(local, ':') ? strchr(local, ':') + 1 : "", "%x", &lport) == 1 &&
		    lport == port)
			drops += d;
	}
	fclose(f);
	return drops;
}

static void run_request(const char *req, unsigned int qemu_port)
{
	static uint8_t frame[FRAME_MAX];
	unsigned long long count = 0, rate = 0, sent = 0, drops0;
	unsigned int id = 0, size = 0;
	char stop[4096], path[4096], tmp[4096];
	uint64_t start, next = 0, last_check;
	struct stat st;
	FILE *f;

	if (sscanf(req, "%u %u %llu %llu", &id, &size, &count, &rate) != 4 ||
	    size < FRAME_MIN || size > FRAME_MAX) {
		fprintf(stderr, "framegen: bad request '%s'\n", req);
		count = 0;
		size = FRAME_MIN;
	}
	build_frame(frame, size, id);
	snprintf(stop, sizeof(stop), "%s/stop", dir);
	drops0 = udp_drops(qemu_port);
	start = now_ns();
	last_check = start;
	while (sent < count) {
		uint64_t t = now_ns();

		/*
		 * Every STOP_BATCH frames (the first one included) and every
		 * CHECK_MS: answer ARP and ping, beat, and end on a stop request
		 * or a folder that is gone (the run is over).
		 */
		if (sent % STOP_BATCH == 0 || t - last_check >= CHECK_MS * MS) {
			last_check = t;
			serve_incoming();
			heartbeat(t);
			if (access(stop, F_OK) == 0 || stat(dir, &st))
				break;
		}
		if (rate) {
			next = start + (uint64_t)((unsigned __int128)sent * 1000000000u / rate);
			/* Sleeps in slices, so a slow rate still checks every CHECK_MS. */
			if (t < next) {
				sleep_until(next - t > CHECK_MS * MS ? t + CHECK_MS * MS : next);
				continue;
			}
		}
		set_seq(frame, size, sent);
		if (sendto(sock, frame, size, 0, (void *)&qemu_addr, sizeof(qemu_addr)) < 0) {
			if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR)
				continue;
			perror("framegen: sendto");
			break;
		}
		sent++;
	}
	/* Drops are counted as QEMU falls behind: let it catch up first. */
	usleep(200000);
	unlink(stop);
	snprintf(tmp, sizeof(tmp), "%s/response.tmp", dir);
	snprintf(path, sizeof(path), "%s/response", dir);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%u %llu %llu %llu\n", id, sent, udp_drops(qemu_port) - drops0,
		(unsigned long long)(now_ns() - start));
	fclose(f);
	rename(tmp, path);
}

static unsigned int bound_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	getsockname(fd, (void *)&a, &len);
	return ntohs(a.sin_port);
}

int main(int argc, char **argv)
{
	struct sockaddr_in me = { .sin_family = AF_INET };
	char path[4096], req[256];
	unsigned int qemu_port;
	int probe, sndbuf = 4 << 20;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: framegen DIR\n");
		return 2;
	}
	dir = argv[1];
	prctl(PR_SET_TIMERSLACK, 1UL);
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	probe = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0 || probe < 0 || bind(sock, (void *)&me, sizeof(me)) ||
	    bind(probe, (void *)&me, sizeof(me))) {
		perror("framegen: socket");
		return 1;
	}
	setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	qemu_port = bound_port(probe);
	close(probe);
	qemu_addr.sin_family = AF_INET;
	qemu_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	qemu_addr.sin_port = htons(qemu_port);

	snprintf(alive_path, sizeof(alive_path), "%s/alive", dir);
	heartbeat(now_ns());
	snprintf(path, sizeof(path), "%s/ports.tmp", dir);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		return 1;
	}
	fprintf(f, "%u %u\n", bound_port(sock), qemu_port);
	fclose(f);
	snprintf(req, sizeof(req), "%s/ports", dir);
	rename(path, req);

	snprintf(path, sizeof(path), "%s/request", dir);
	for (;;) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		struct stat st;

		poll(&pfd, 1, 20);
		serve_incoming();
		heartbeat(now_ns());
		if (stat(dir, &st))
			return 0;
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(req, sizeof(req), f))
			req[0] = 0;
		fclose(f);
		unlink(path);
		run_request(req, qemu_port);
	}
}
