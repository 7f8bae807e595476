// SPDX-License-Identifier: GPL-2.0
/*
 * framegen DIR: the host end of the guest e1000's QEMU backend
 * `-netdev socket,udp=127.0.0.1:A,localaddr=127.0.0.1:B`. Loopback only.
 *
 * It binds 127.0.0.1:A (an ephemeral port), picks a free port B for QEMU and
 * writes "A B" to DIR/ports. Then it serves:
 * - traffic on request: the guest (over the 9p share) renames a file
 *   "ID SIZE COUNT RATE [OPTION...]" to DIR/request; framegen deletes it,
 *   sends COUNT frames of SIZE bytes (Ethernet header to payload, no FCS)
 *   at RATE frames a second (0: unpaced), paced on CLOCK_MONOTONIC, and
 *   renames "ID SENT HOST_DROPS NS SKIPPED" to DIR/response ("ID error CODE
 *   SYSCALL MESSAGE" if the request cannot be served). HOST_DROPS counts
 *   what the host's kernel dropped at QEMU's socket meanwhile
 *   (/proc/net/udp), i.e. frames QEMU could not take because the NIC had
 *   no free buffer. DIR/stop ends a run early: framegen looks for it before
 *   every STOP_BATCH frames and at least every CHECK_MS, so at most
 *   STOP_BATCH frames go out after it appears. It stays until the run
 *   ends, so a stop written before framegen took the request still counts.
 *   Options: ports=N (destination ports 9..9+N-1), addrs=N (source
 *   addresses 192.168.77.1, .3, .4, ...), protos=udp,tcp,icmp: flows that
 *   cycle frame by frame, ports first (frame i goes to port 9 + i % N).
 *   Or a replay: pcap=PATH (the rest of the line; pcap or pcapng, Ethernet)
 *   sends the file's frames, unicast ones readdressed to the guest's MAC,
 *   LOOPS times (loops=N), COUNT at most (0: all), at RATE frames a second,
 *   else at the file's own times divided by mult=X, else unpaced; frames
 *   past FRAME_MAX are skipped (SKIPPED).
 * - a heartbeat: DIR/alive's mtime moves every BEAT_MS while framegen runs
 *   (sending or not), so the guest tells a dead framegen from a slow one.
 * - ARP and ICMP echo for 192.168.77.1 (MAC 52:54:00:00:00:01), so the
 *   guest (192.168.77.2) can ping through the e1000; during a run too,
 *   between batches, each reply waiting (REPLY_WAIT_MS at most, the run
 *   held) for room at QEMU's socket rather than being dropped there.
 *
 * Frames: IPv4 from 192.168.77.1 (or the addrs spread), port 9, to
 * 192.168.77.2 port 9 (or the ports spread) and the guest's MAC: UDP, TCP
 * (PSH ACK, 20-byte header) or ICMP echo request. The payload, after the
 * UDP, TCP or ICMP header, is "KMZC", the 32-bit run ID, the 64-bit
 * sequence number (little-endian, from 0), then byte k of the frame =
 * (seq + k) & 0xff.
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
#define PAYLOAD_HDR	16		/* magic, run id, sequence */
#define STOP_BATCH	64		/* lib/host-traffic.ts STOP_BATCH_FRAMES */
#define CHECK_MS	5
#define BEAT_MS		100
#define REPLY_WAIT_MS	50		/* at most, for room at QEMU's socket */
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

/* One generated run: its flows (the request's options) and its frames. */
struct flows {
	unsigned int ports;	/* destination ports 9..9+ports-1 */
	unsigned int addrs;	/* source addresses: host_ip, then .3, .4, ... */
	unsigned int nprotos;
	uint8_t protos[3];	/* IPPROTO_UDP, _TCP, _ICMP, in the order given */
};

/* Where a frame's payload ("KMZC", run, sequence, pattern) starts. */
static size_t payload_offset(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 14 + 20 + 20 : 14 + 20 + 8;
}

/* The transport checksum over the pseudo header and @len bytes at @l4. */
static uint16_t l4_csum(const uint8_t *ip, const uint8_t *l4, size_t len)
{
	uint32_t sum = 0;
	size_t k;

	for (k = 12; k < 20; k += 2)
		sum += (uint32_t)ip[k] << 8 | ip[k + 1];
	sum += ip[9] + (uint32_t)len;
	for (k = 0; k + 1 < len; k += 2)
		sum += (uint32_t)l4[k] << 8 | l4[k + 1];
	if (len & 1)
		sum += (uint32_t)l4[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * Frame @seq of run @run: flow @seq cycles through ports first, then source
 * addresses, then protocols, so every combination comes and 1 frame in
 * `ports` goes to port 9. Byte k of the payload after its header is
 * (seq + k) & 0xff, k counted from the frame's start.
 */
static void build_frame(uint8_t *f, size_t size, uint32_t run, uint64_t seq,
			const struct flows *fl)
{
	uint64_t n = seq;
	unsigned int port = 9 + n % fl->ports;
	unsigned int addr = (n / fl->ports) % fl->addrs;
	uint8_t proto = fl->protos[(n / fl->ports / fl->addrs) % fl->nprotos];
	uint8_t *ip = f + 14, *l4 = ip + 20;
	size_t off = payload_offset(proto), k;

	memset(f, 0, off);
	memcpy(f, guest_mac, 6);
	memcpy(f + 6, host_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, size - 14);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, host_ip, 4);
	if (addr)
		ip[15] = 2 + addr;
	memcpy(ip + 16, guest_ip, 4);
	put16(ip + 10, csum(ip, 20));
	memcpy(f + off, "KMZC", 4);
	memcpy(f + off + 4, &run, 4);
	memcpy(f + off + 8, &seq, 8);
	for (k = off + PAYLOAD_HDR; k < size; k++)
		f[k] = (uint8_t)(seq + k);
	switch (proto) {
	case IPPROTO_UDP:	/* no checksum, as IPv4 allows */
		put16(l4, 9);
		put16(l4 + 2, port);
		put16(l4 + 4, size - 34);
		break;
	case IPPROTO_TCP:	/* a data segment of an established connection */
		put16(l4, 9);
		put16(l4 + 2, port);
		put16(l4 + 4, (uint16_t)(seq >> 16));
		put16(l4 + 6, (uint16_t)seq);
		l4[12] = 5 << 4;
		l4[13] = 0x18;	/* PSH, ACK */
		put16(l4 + 14, 65535);
		put16(l4 + 16, l4_csum(ip, l4, size - 34));
		break;
	default:		/* ICMP echo request */
		l4[0] = 8;
		put16(l4 + 4, (uint16_t)run);
		put16(l4 + 6, (uint16_t)seq);
		put16(l4 + 2, csum(l4, size - 34));
		break;
	}
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

/*
 * The reply to an ARP request or ping for host_ip in @f (rewritten in place):
 * its length, or 0 for anything else the guest sends (ignored).
 */
static size_t answer(uint8_t *f, ssize_t len)
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
		return 42;
	} else if (len >= 42 && f[12] == 0x08 && f[13] == 0x00 && ip[9] == 1 &&
		   !memcmp(ip + 16, host_ip, 4) && (ip[0] & 0xf) == 5 &&
		   ip[20] == 8) {
		size_t iplen = (size_t)ip[2] << 8 | ip[3];

		if (iplen < 28 || 14 + iplen > (size_t)len)
			return 0;
		memcpy(f, f + 6, 6);
		memcpy(f + 6, host_mac, 6);
		memcpy(ip + 16, ip + 12, 4);
		memcpy(ip + 12, host_ip, 4);
		ip[10] = ip[11] = 0;
		put16(ip + 10, csum(ip, 20));
		ip[20] = 0;
		ip[22] = ip[23] = 0;
		put16(ip + 22, csum(ip + 20, iplen - 20));
		return 14 + iplen;
	}
	return 0;
}

/*
 * The bytes waiting in, and the drops of, the socket bound to 127.0.0.1:@port
 * (QEMU's), from /proc/net/udp; -1 and 0 if it is not there.
 */
static long long udp_socket(unsigned int port, unsigned long long *drops)
{
	unsigned long long d;
	unsigned int lport, rxq;
	char line[512], local[64];
	long long queued = -1;
	FILE *f = fopen("/proc/net/udp", "r");

	*drops = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* sl local rem st tx:rx tr:tm retr uid timeout inode ref ptr drops */
		if (sscanf(line, " %*s %63s %*s %*s %*x:%x %*s %*s %*s %*s %*s %*s %*s %llu",
			   local, &rxq, &d) != 3)
			continue;
		if (sscanf(strchr(local, ':') ? strchr(local, ':') + 1 : "", "%x", &lport) == 1 &&
		    lport == port) {
			*drops += d;
			queued = rxq;
		}
	}
	fclose(f);
	return queued;
}

/* Drops the kernel counted at QEMU's socket (the one bound to @port). */
static unsigned long long udp_drops(unsigned int port)
{
	unsigned long long drops;

	udp_socket(port, &drops);
	return drops;
}

static unsigned int qemu_port;
static long long qemu_rcvbuf;

/*
 * Answers the guest's ARP requests and pings waiting on the socket. While a
 * run sends, QEMU's socket may be full of its frames (the guest is behind):
 * a reply sent then would be dropped, and the guest would ask again a second
 * later. So the reply waits, up to REPLY_WAIT_MS and with no frames of the
 * run going out meanwhile, for room in that socket: the guest gets it after
 * the frames already queued, within milliseconds.
 */
static void serve_incoming(void)
{
	uint8_t buf[2048];
	unsigned long long drops;
	uint64_t until;
	size_t len;
	ssize_t n;

	while ((n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		len = answer(buf, n);
		if (!len)
			continue;
		until = now_ns() + REPLY_WAIT_MS * MS;
		while (udp_socket(qemu_port, &drops) > qemu_rcvbuf / 2 && now_ns() < until)
			usleep(200);
		sendto(sock, buf, len, 0, (void *)&qemu_addr, sizeof(qemu_addr));
	}
}

/* A capture file's frames, in memory (replay). */
struct replay {
	uint8_t *file;
	size_t nframes, cap;
	struct rframe {
		const uint8_t *data;
		uint32_t len;
		uint64_t ts;	/* ns */
	} *frames;
};

static void replay_free(struct replay *r)
{
	free(r->file);
	free(r->frames);
	memset(r, 0, sizeof(*r));
}

static int replay_add(struct replay *r, const uint8_t *data, uint32_t len,
		      uint64_t ts)
{
	if (r->nframes == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 1024;
		struct rframe *f = realloc(r->frames, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		r->frames = f;
		r->cap = cap;
	}
	r->frames[r->nframes++] = (struct rframe){ data, len, ts };
	return 0;
}

static uint32_t get32(const uint8_t *p, int swap)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

static uint16_t get16(const uint8_t *p, int swap)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return swap ? __builtin_bswap16(v) : v;
}

/* Classic pcap: either byte order, micro- or nanoseconds. */
static const char *parse_pcap(struct replay *r, size_t size)
{
	const uint8_t *f = r->file;
	uint32_t magic = get32(f, 0);
	int swap = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
	int ns = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
	size_t off;

	if (size < 24)
		return "truncated file header";
	if (get32(f + 20, swap) != 1)
		return "link type is not Ethernet (1)";
	for (off = 24; off < size;) {
		uint32_t caplen;
		uint64_t ts;

		if (off + 16 > size)
			return "truncated record header";
		caplen = get32(f + off + 8, swap);
		if (caplen > size - off - 16)
			return "truncated record";
		ts = (uint64_t)get32(f + off, swap) * 1000000000ull +
		     (uint64_t)get32(f + off + 4, swap) * (ns ? 1 : 1000);
		if (replay_add(r, f + off + 16, caplen, ts))
			return "out of memory";
		off += 16 + caplen;
	}
	return NULL;
}

#define NG_MAX_IF 64

/* pcapng: sections, interfaces (if_tsresol), enhanced and simple packets. */
static const char *parse_pcapng(struct replay *r, size_t size)
{
	const uint8_t *f = r->file;
	uint64_t tps[NG_MAX_IF], last_ts = 0;	/* timestamp ticks a second */
	uint32_t snap[NG_MAX_IF];
	unsigned int nif = 0;
	int swap = 0;
	size_t off;

	for (off = 0; off < size;) {
		uint32_t type, len;
		const uint8_t *b = f + off;

		if (off + 12 > size)
			return "truncated block";
		type = get32(b, swap);
		if (type == 0x0a0d0d0a) {
			uint32_t bom;

			memcpy(&bom, b + 8, 4);
			if (bom != 0x1a2b3c4d && bom != 0x4d3c2b1a)
				return "bad section byte-order magic";
			swap = bom == 0x4d3c2b1a;
			nif = 0;
		}
		len = get32(b + 4, swap);
		if (len < 12 || len % 4 || len > size - off)
			return "bad block length";
		if (type == 1) {	/* interface description */
			const uint8_t *o = b + 16, *end = b + len - 4;

			if (len < 20 || nif == NG_MAX_IF)
				return "bad or too many interfaces";
			tps[nif] = 1000000;	/* microseconds by default */
			snap[nif] = get32(b + 12, swap);
			if (get16(b + 8, swap) != 1)
				return "an interface's link type is not Ethernet (1)";
			while (o + 4 <= end) {
				uint16_t code = get16(o, swap), olen = get16(o + 2, swap);

				if (code == 0 || o + 4 + olen > end)
					break;
				if (code == 9 && olen >= 1) {	/* if_tsresol */
					uint8_t v = o[4];
					unsigned int i;

					if ((v & 0x7f) > 60 || (!(v & 0x80) && (v & 0x7f) > 18))
						return "if_tsresol out of range";
					for (tps[nif] = 1, i = 0; i < (v & 0x7f); i++)
						tps[nif] *= v & 0x80 ? 2 : 10;
				}
				o += 4 + ((olen + 3u) & ~3u);
			}
			nif++;
		} else if (type == 6) {	/* enhanced packet */
			uint32_t id, caplen;
			uint64_t ticks;

			if (len < 32)
				return "truncated enhanced packet block";
			id = get32(b + 8, swap);
			if (id >= nif)
				return "a packet names an undeclared interface";
			ticks = (uint64_t)get32(b + 12, swap) << 32 | get32(b + 16, swap);
			caplen = get32(b + 20, swap);
			if (caplen > len - 32)
				return "truncated packet";
			last_ts = (uint64_t)((unsigned __int128)ticks * 1000000000u / tps[id]);
			if (replay_add(r, b + 28, caplen, last_ts))
				return "out of memory";
		} else if (type == 3) {	/* simple packet: no timestamp */
			uint32_t caplen;

			if (len < 16 || nif == 0)
				return "bad simple packet block";
			caplen = get32(b + 8, swap);
			if (snap[0] && caplen > snap[0])
				caplen = snap[0];
			if (caplen > len - 16)
				caplen = len - 16;
			if (replay_add(r, b + 12, caplen, last_ts))
				return "out of memory";
		}
		off += len;
	}
	return NULL;
}

/* Loads @path; on failure fills @err ("CODE SYSCALL message") and returns -1. */
static int replay_load(struct replay *r, const char *path, char *err, size_t n)
{
	const char *why = NULL;
	struct stat st;
	size_t got = 0;
	uint32_t magic;
	ssize_t k;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, n, "%s open %s", strerrorname_np(errno), strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (1ll << 30)) {
		close(fd);
		snprintf(err, n, "EINVAL open not a regular file of at most 1 GiB");
		return -1;
	}
	r->file = malloc(st.st_size + 1);
	if (!r->file) {
		close(fd);
		snprintf(err, n, "ENOMEM read %s", strerror(ENOMEM));
		return -1;
	}
	while (got < (size_t)st.st_size &&
	       (k = read(fd, r->file + got, st.st_size - got)) > 0)
		got += k;
	close(fd);
	if (got < 4) {
		why = "too short";
	} else {
		magic = get32(r->file, 0);
		if (magic == 0x0a0d0d0a)
			why = parse_pcapng(r, got);
		else if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d ||
			 magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
			why = parse_pcap(r, got);
		else
			why = "neither pcap nor pcapng (magic)";
	}
	if (!why && !r->nframes)
		why = "no frames";
	if (why) {
		snprintf(err, n, "ERR_PCAP_FORMAT read not a pcap or pcapng file: %s", why);
		replay_free(r);
		return -1;
	}
	return 0;
}

/*
 * Frame @i of a replay into @f (padded to FRAME_MIN, unicast addressed to the
 * guest); its length, or 0 if it is longer than FRAME_MAX (skipped).
 */
static size_t replay_frame(const struct replay *r, size_t i, uint8_t *f)
{
	const struct rframe *rf = &r->frames[i];
	size_t len = rf->len;

	if (len > FRAME_MAX)
		return 0;
	memcpy(f, rf->data, len);
	if (len < FRAME_MIN) {
		memset(f + len, 0, FRAME_MIN - len);
		len = FRAME_MIN;
	}
	if (len >= 6 && !(f[0] & 1))
		memcpy(f, guest_mac, 6);
	return len;
}

/*
 * A request: "ID SIZE COUNT RATE [ports=N] [addrs=N] [protos=udp,tcp,icmp]
 * [mult=X loops=N pcap=PATH]". pcap= takes the rest of the line.
 */
struct request {
	unsigned int id, size;
	unsigned long long count, rate, loops;
	double mult;
	struct flows fl;
	const char *pcap;
};

static int parse_request(char *req, struct request *rq)
{
	char *p, *save = NULL, *word;
	int n = 0;

	memset(rq, 0, sizeof(*rq));
	rq->fl = (struct flows){ 1, 1, 1, { IPPROTO_UDP } };
	rq->loops = 1;
	req[strcspn(req, "\n")] = 0;
	p = strstr(req, " pcap=");
	if (p) {
		*p = 0;
		rq->pcap = p + 6;
	}
	if (sscanf(req, "%u %u %llu %llu %n", &rq->id, &rq->size, &rq->count,
		   &rq->rate, &n) != 4)
		return -1;
	for (word = strtok_r(req + n, " ", &save); word;
	     word = strtok_r(NULL, " ", &save)) {
		if (sscanf(word, "ports=%u", &rq->fl.ports) == 1 ||
		    sscanf(word, "addrs=%u", &rq->fl.addrs) == 1 ||
		    sscanf(word, "loops=%llu", &rq->loops) == 1 ||
		    sscanf(word, "mult=%lf", &rq->mult) == 1)
			continue;
		if (strncmp(word, "protos=", 7))
			return -1;
		rq->fl.nprotos = 0;
		for (p = word + 7; *p && rq->fl.nprotos < 3; p += strcspn(p, ","), p += !!*p) {
			uint8_t proto = !strncmp(p, "udp", 3) ? IPPROTO_UDP :
					!strncmp(p, "tcp", 3) ? IPPROTO_TCP :
					!strncmp(p, "icmp", 4) ? IPPROTO_ICMP : 0;

			if (!proto)
				return -1;
			rq->fl.protos[rq->fl.nprotos++] = proto;
		}
	}
	if (!rq->fl.ports || rq->fl.ports > 65527 || !rq->fl.addrs ||
	    rq->fl.addrs > 250 || !rq->fl.nprotos || rq->mult < 0)
		return -1;
	if (rq->pcap)
		return 0;
	if (rq->size < FRAME_MIN || rq->size > FRAME_MAX)
		return -1;
	for (n = 0; n < (int)rq->fl.nprotos; n++)
		if (rq->size < payload_offset(rq->fl.protos[n]) + PAYLOAD_HDR)
			return -1;
	return 0;
}

static void respond(const char *line)
{
	char path[4096], tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/response.tmp", dir);
	snprintf(path, sizeof(path), "%s/response", dir);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fputs(line, f);
	fclose(f);
	rename(tmp, path);
}

/*
 * When frame @i is due, ns after the start: at RATE a second, else at the
 * file's own times divided by mult (loops back to back, one mean gap
 * apart), else now.
 */
static uint64_t due(const struct request *rq, const struct replay *r,
		    unsigned long long i)
{
	uint64_t span, n, t0;

	if (rq->rate)
		return (uint64_t)((unsigned __int128)i * 1000000000u / rq->rate);
	if (!r->nframes || rq->mult <= 0)
		return 0;
	n = r->nframes;
	t0 = r->frames[0].ts;
	span = n > 1 && r->frames[n - 1].ts > t0 ?
	       (r->frames[n - 1].ts - t0) / (n - 1) * n : 0;
	return (uint64_t)(((double)(i / n) * span +
			   (double)(r->frames[i % n].ts > t0 ? r->frames[i % n].ts - t0 : 0)) /
			  rq->mult);
}

static void run_request(char *req)
{
	static uint8_t frame[FRAME_MAX];
	unsigned long long sent = 0, skipped = 0, drops0, total;
	struct replay r = { 0 };
	struct request rq;
	char stop[4096], line[512], err[256];
	uint64_t start, last_check;
	struct stat st;

	if (parse_request(req, &rq)) {
		fprintf(stderr, "framegen: bad request '%s'\n", req);
		snprintf(line, sizeof(line), "%u error EINVAL read bad request\n", rq.id);
		respond(line);
		return;
	}
	if (rq.pcap && replay_load(&r, rq.pcap, err, sizeof(err))) {
		snprintf(line, sizeof(line), "%u error %s\n", rq.id, err);
		respond(line);
		return;
	}
	total = rq.pcap ? r.nframes * rq.loops : rq.count;
	if (rq.pcap && rq.count && rq.count < total)
		total = rq.count;
	snprintf(stop, sizeof(stop), "%s/stop", dir);
	drops0 = udp_drops(qemu_port);
	start = now_ns();
	last_check = start;
	while (sent + skipped < total) {
		unsigned long long i = sent + skipped;
		uint64_t t = now_ns(), next;
		size_t len;

		/*
		 * Every STOP_BATCH frames (the first one included) and every
		 * CHECK_MS: answer ARP and ping, beat, and end on a stop request
		 * or a folder that is gone (the run is over).
		 */
		if (i % STOP_BATCH == 0 || t - last_check >= CHECK_MS * MS) {
			last_check = t;
			serve_incoming();
			heartbeat(t);
			if (access(stop, F_OK) == 0 || stat(dir, &st))
				break;
		}
		next = start + due(&rq, &r, i);
		/* Sleeps in slices, so a slow rate still checks every CHECK_MS. */
		if (t < next) {
			sleep_until(next - t > CHECK_MS * MS ? t + CHECK_MS * MS : next);
			continue;
		}
		if (rq.pcap) {
			len = replay_frame(&r, i % r.nframes, frame);
			if (!len) {
				skipped++;
				continue;
			}
		} else {
			len = rq.size;
			build_frame(frame, len, rq.id, i, &rq.fl);
		}
		if (sendto(sock, frame, len, 0, (void *)&qemu_addr, sizeof(qemu_addr)) < 0) {
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
	replay_free(&r);
	snprintf(line, sizeof(line), "%u %llu %llu %llu %llu\n", rq.id, sent,
		 udp_drops(qemu_port) - drops0,
		 (unsigned long long)(now_ns() - start), skipped);
	respond(line);
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
	char path[4096], req[4352];
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
	/* QEMU leaves its socket's receive buffer at the default. */
	f = fopen("/proc/sys/net/core/rmem_default", "r");
	if (!f || fscanf(f, "%lld", &qemu_rcvbuf) != 1)
		qemu_rcvbuf = 212992;
	if (f)
		fclose(f);
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
		run_request(req);
	}
}
