// SPDX-License-Identifier: GPL-2.0
/*
 * A fastnet capture behind a pcap_t: the session bound and its ring mapped
 * in pcap_activate() (programs such as tcpdump drop their privileges right
 * after), frames handed to the program's callback straight from the ring's
 * slots, filters given to the kernel (FASTNET_SET_FILTER), counters from
 * FASTNET_STATS. The ring protocol is uapi/fastnet.h's: load producer with
 * acquire, read the slots up to it, store consumer with release.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fastnet_pcap.h"

#define FASTNET_PATH	"/dev/fastnet"
/* Ethernet header, one VLAN tag: a frame of the MTU fits a slot of this. */
#define FNP_FRAME_OVERHEAD	18

static uint32_t rounddown_pow2(uint64_t n)
{
	uint32_t p = 1;

	while ((uint64_t)p * 2 <= n && p < (1U << 31))
		p *= 2;
	return p;
}

static uint32_t roundup_pow2(uint32_t n)
{
	uint32_t p = 1;

	while (p < n && p < (1U << 31))
		p *= 2;
	return p;
}

/* Names are checked shorter than IFNAMSIZ at activate. */
static void ifr_set_name(struct ifreq *ifr, const char *ifname)
{
	size_t len = strnlen(ifname, sizeof(ifr->ifr_name) - 1);

	memcpy(ifr->ifr_name, ifname, len);
	ifr->ifr_name[len] = '\0';
}

/* The device's driver, as ethtool names it ("veth", "e1000"), or "". */
static void driver_name(int sock, const char *ifname, char *name, size_t size)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = {};

	snprintf(name, size, "%s", "");
	ifr_set_name(&ifr, ifname);
	ifr.ifr_data = (void *)&info;
	if (sock >= 0 && ioctl(sock, SIOCETHTOOL, &ifr) == 0)
		snprintf(name, size, "%s", info.driver);
}

/* Slot size: a whole frame of the device's MTU, 2048 bytes at least. */
static uint32_t slot_size_for(int sock, const char *ifname)
{
	struct ifreq ifr = {};
	uint32_t size;

	ifr_set_name(&ifr, ifname);
	if (sock < 0 || ioctl(sock, SIOCGIFMTU, &ifr) < 0 || ifr.ifr_mtu <= 0)
		return FASTNET_SLOT_SIZE_DEFAULT;
	size = roundup_pow2((uint32_t)ifr.ifr_mtu + FNP_FRAME_OVERHEAD);
	if (size < FASTNET_SLOT_SIZE_MIN)
		size = FASTNET_SLOT_SIZE_MIN;
	if (size > FASTNET_SLOT_SIZE_MAX)
		size = FASTNET_SLOT_SIZE_MAX;
	return size;
}

/* Slots: the buffer size (-B) over the slot size, a power of two in range. */
static uint32_t slots_for(int buffer_size, uint32_t slot_size)
{
	uint64_t bytes = buffer_size > 0 ? (uint64_t)buffer_size : FNP_DEFAULT_BUFFER;
	uint32_t slots = rounddown_pow2(bytes / slot_size);

	if (slots < FASTNET_RING_SLOTS_MIN)
		slots = FASTNET_RING_SLOTS_MIN;
	if (slots > FASTNET_RING_SLOTS_MAX)
		slots = FASTNET_RING_SLOTS_MAX;
	while ((uint64_t)slots * slot_size > FASTNET_RING_DATA_MAX)
		slots /= 2;
	return slots;
}

/* What a refused FASTNET_BIND means, as a pcap status and a message. */
static int bind_error(struct fnp *f, int err, int sock, const struct fastnet_bind *req)
{
	char driver[64];

	switch (err) {
	case ENODEV:
		fnp_err(f, "fastnet: no device named %s in this network namespace",
			f->ifname);
		return PCAP_ERROR_NO_SUCH_DEVICE;
	case EPERM:
	case EACCES:
		fnp_err(f, "fastnet: binding a session needs CAP_NET_RAW (run it as root)");
		return PCAP_ERROR_PERM_DENIED;
	case EBUSY:
		fnp_err(f, "%s: %s is busy: it already has a fastnet capture (one per device), or another rx_handler (a bridge, bond or macvlan port)",
			f->device, f->ifname);
		return PCAP_ERROR;
	case EOPNOTSUPP:
		driver_name(sock, f->ifname, driver, sizeof(driver));
		if (f->zerocopy)
			fnp_err(f, "%s: %s's driver (%s) has no fastnet zero-copy support (only the project's patched e1000 and virtio_net have): capture it with fastnet:%s",
				f->device, f->ifname, driver[0] ? driver : "unknown",
				f->ifname);
		else
			fnp_err(f, "%s: %s is not an Ethernet device: fastnet captures Ethernet devices only",
				f->device, f->ifname);
		return PCAP_ERROR;
	case ENOMEM:
		fnp_err(f, "%s: no memory for a ring of %u slots of %u bytes: ask for a smaller buffer (tcpdump -B)",
			f->device, req->slots, req->slot_size);
		return PCAP_ERROR;
	default:
		fnp_err(f, "%s: binding a fastnet session to %s: %s", f->device,
			f->ifname, strerror(err));
		return PCAP_ERROR;
	}
}

static int open_session(struct fnp *f)
{
	f->fd = open(FASTNET_PATH, O_RDWR | O_CLOEXEC);
	if (f->fd >= 0)
		return 0;
	switch (errno) {
	case ENOENT:
	case ENXIO:
	case ENODEV:
		fnp_err(f, "%s: %s does not exist: load the fastnet module (modprobe fastnet)",
			f->device, FASTNET_PATH);
		return PCAP_ERROR;
	case EACCES:
	case EPERM:
		fnp_err(f, "fastnet: cannot open %s: %s (fastnet captures need root: access to %s and CAP_NET_RAW)",
			FASTNET_PATH, strerror(errno), FASTNET_PATH);
		return PCAP_ERROR_PERM_DENIED;
	default:
		fnp_err(f, "%s: cannot open %s: %s", f->device, FASTNET_PATH,
			strerror(errno));
		return PCAP_ERROR;
	}
}

static int map_ring(struct fnp *f)
{
	struct fastnet_ring_info info;
	const struct fastnet_ring_header *h;
	void *zone;

	if (ioctl(f->fd, FASTNET_RING_INFO, &info) < 0) {
		fnp_err(f, "%s: FASTNET_RING_INFO: %s", f->device, strerror(errno));
		return PCAP_ERROR;
	}
	zone = mmap(NULL, info.zone_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    f->fd, 0);
	if (zone == MAP_FAILED) {
		fnp_err(f, "%s: mapping the ring (%llu bytes): %s", f->device,
			(unsigned long long)info.zone_size, strerror(errno));
		return PCAP_ERROR;
	}
	f->zone = zone;
	f->zone_size = info.zone_size;
	h = zone;
	if (h->magic != FASTNET_RING_MAGIC || h->version != FASTNET_RING_VERSION ||
	    h->slots != info.slots || h->zone_size != info.zone_size ||
	    info.desc_offset + (uint64_t)info.slots * sizeof(struct fastnet_slot) > info.zone_size) {
		fnp_err(f, "%s: the ring's header is not what this library knows (magic %#x, version %u): rebuild it with the module",
			f->device, h->magic, h->version);
		return PCAP_ERROR;
	}
	f->hdr = zone;
	f->desc = (const struct fastnet_slot *)(f->zone + info.desc_offset);
	f->slots = info.slots;
	f->slot_size = info.slot_size;
	f->consumer = __atomic_load_n(&f->hdr->consumer, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Promiscuous mode as libpcap sets it: a membership of an AF_PACKET socket,
 * which the kernel drops with the socket. Protocol 0: the socket receives
 * nothing.
 */
static int set_promisc(struct fnp *f)
{
	struct packet_mreq mreq = { .mr_type = PACKET_MR_PROMISC };

	mreq.mr_ifindex = (int)if_nametoindex(f->ifname);
	f->promisc_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (f->promisc_fd < 0 ||
	    setsockopt(f->promisc_fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq,
		       sizeof(mreq)) < 0) {
		fnp_err(f, "fastnet: promiscuous mode on %s: %s", f->ifname,
			strerror(errno));
		return errno == EPERM || errno == EACCES ?
		       PCAP_ERROR_PROMISC_PERM_DENIED : PCAP_ERROR;
	}
	return 0;
}

int fnp_activate(struct fnp *f)
{
	const char *consume = getenv("FASTNET_PCAP_CONSUME");
	struct fastnet_bind req = {};
	int sock, ret;

	if (f->activated)
		return fnp_activated_error(f);
	if (f->rfmon) {
		fnp_err(f, "fastnet: monitor mode is for Wi-Fi devices: fastnet captures Ethernet devices");
		return PCAP_ERROR_RFMON_NOTSUP;
	}
	if (!f->ifname[0]) {
		fnp_err(f, "fastnet: no device name after \"%s\": name one, as in %seth0",
			f->device, f->device);
		return PCAP_ERROR_NO_SUCH_DEVICE;
	}
	if (f->name_too_long) {
		fnp_err(f, "fastnet: device names have at most %d characters",
			FASTNET_IFNAMSIZ - 1);
		return PCAP_ERROR_NO_SUCH_DEVICE;
	}
	if (!if_nametoindex(f->ifname)) {
		fnp_err(f, "fastnet: no device named %s in this network namespace",
			f->ifname);
		return PCAP_ERROR_NO_SUCH_DEVICE;
	}
	if (f->snaplen <= 0 || f->snaplen > FNP_MAX_SNAPLEN)
		f->snaplen = FNP_MAX_SNAPLEN;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ret = open_session(f);
	if (ret)
		goto fail;
	memcpy(req.ifname, f->ifname, strlen(f->ifname) + 1);
	/*
	 * Woken per batch unless immediate, as TPACKET_V3 hands over blocks:
	 * a batch waits at most the timeout, as a block does (to_ms 0, "wait
	 * for a full block", keeps fastnet's default instead: a slow link
	 * might never fill half the ring).
	 */
	if (!f->immediate) {
		req.flags = FASTNET_BIND_BATCH;
		if (f->timeout_ms > 0)
			req.batch_usecs = f->timeout_ms >= FASTNET_BATCH_USECS_MAX / 1000 ?
					  FASTNET_BATCH_USECS_MAX :
					  f->timeout_ms * 1000;
	}
	if (f->zerocopy) {
		req.mode = FASTNET_MODE_ZEROCOPY;
	} else {
		req.mode = FASTNET_MODE_RING;
		/*
		 * The stack keeps its frames, as with any capture, unless
		 * FASTNET_PCAP_CONSUME=1 says the capture takes them (a box
		 * that only captures, as netmap: takes a NIC from the stack).
		 */
		if (!consume || strcmp(consume, "1"))
			req.flags |= FASTNET_BIND_PASS;
	}
	req.slot_size = slot_size_for(sock, f->ifname);
	req.slots = slots_for(f->buffer_size, req.slot_size);
	if (ioctl(f->fd, FASTNET_BIND, &req) < 0) {
		ret = bind_error(f, errno, sock, &req);
		goto fail;
	}
	ret = map_ring(f);
	if (ret)
		goto fail;
	f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->wake_fd < 0) {
		fnp_err(f, "%s: eventfd: %s", f->device, strerror(errno));
		ret = PCAP_ERROR;
		goto fail;
	}
	if (f->promisc) {
		ret = set_promisc(f);
		if (ret)
			goto fail;
	}
	f->copy = malloc(f->slot_size);
	f->active = REAL(pcap_open_dead_with_tstamp_precision)(DLT_EN10MB, f->snaplen,
							     (u_int)f->precision);
	if (!f->copy || !f->active) {
		fnp_err(f, "%s: out of memory", f->device);
		ret = PCAP_ERROR;
		goto fail;
	}
	if (sock >= 0)
		close(sock);
	f->activated = true;
	return 0;

fail:
	if (sock >= 0)
		close(sock);
	fnp_teardown(f);
	return ret;
}

void fnp_teardown(struct fnp *f)
{
	if (f->zone)
		munmap(f->zone, f->zone_size);
	f->zone = NULL;
	f->hdr = NULL;
	f->desc = NULL;
	/* Closing the session puts the device back to normal. */
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->wake_fd >= 0)
		close(f->wake_fd);
	f->wake_fd = -1;
	if (f->promisc_fd >= 0)
		close(f->promisc_fd);
	f->promisc_fd = -1;
	if (f->active)
		REAL(pcap_close)(f->active);
	f->active = NULL;
	free(f->copy);
	f->copy = NULL;
	free(f->program.bf_insns);
	f->program.bf_insns = NULL;
	f->program.bf_len = 0;
}

/* Takes a pcap_breakloop() request: PCAP_ERROR_BREAK, or 0 if none. */
static int take_break(struct fnp *f)
{
	if (!__atomic_exchange_n(&f->break_loop, 0, __ATOMIC_ACQ_REL))
		return 0;
	return PCAP_ERROR_BREAK;
}

/* The session's error once poll() reports one: the device is gone. */
static int session_error(struct fnp *f)
{
	struct fastnet_stats st;

	if (ioctl(f->fd, FASTNET_STATS, &st) < 0 && errno == ENODEV)
		fnp_err(f, "%s: the device went away (%s was removed or moved to another namespace)",
			f->device, f->ifname);
	else
		fnp_err(f, "%s: poll() reports an error on the fastnet session",
			f->device);
	return PCAP_ERROR;
}

/* Waits for frames: 1 when some may be ready, 0 on timeout, or an error. */
static int wait_frames(struct fnp *f)
{
	struct pollfd fds[2] = {
		{ .fd = f->fd, .events = POLLIN },
		{ .fd = f->wake_fd, .events = POLLIN },
	};
	uint64_t value;
	int n;

	n = poll(fds, 2, f->timeout_ms > 0 ? f->timeout_ms : -1);
	if (n < 0) {
		if (errno == EINTR)
			return take_break(f);
		fnp_err(f, "%s: poll: %s", f->device, strerror(errno));
		return PCAP_ERROR;
	}
	if (fds[1].revents & POLLIN) {
		if (read(f->wake_fd, &value, sizeof(value)) < 0 && errno != EAGAIN) {
			fnp_err(f, "%s: eventfd: %s", f->device, strerror(errno));
			return PCAP_ERROR;
		}
	}
	if (__atomic_load_n(&f->break_loop, __ATOMIC_ACQUIRE))
		return take_break(f);
	if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL))
		return session_error(f);
	return n > 0;
}

/* Frames published and not yet taken, waiting for some unless non-blocking. */
static int ready_frames(struct fnp *f, uint32_t *ready)
{
	uint32_t producer;
	int ret;

	for (;;) {
		ret = take_break(f);
		if (ret)
			return ret;
		producer = __atomic_load_n(&f->hdr->producer, __ATOMIC_ACQUIRE);
		*ready = producer - f->consumer;
		if (*ready > f->slots) {
			fnp_err(f, "%s: the ring's indices are inconsistent (producer %u, consumer %u)",
				f->device, producer, f->consumer);
			return PCAP_ERROR;
		}
		if (*ready || f->nonblock)
			return 0;
		ret = wait_frames(f);
		if (ret <= 0)
			return ret < 0 ? ret : 1;
	}
}

int fnp_read(struct fnp *f, int max, pcap_handler callback, u_char *user)
{
	uint32_t ready, i;
	int delivered = 0, ret;

	if (!f->activated)
		return fnp_not_activated(f);
	ret = ready_frames(f, &ready);
	if (ret)
		return ret < 0 ? ret : 0;
	for (i = 0; i < ready; i++) {
		const struct fastnet_slot *shared = &f->desc[f->consumer & (f->slots - 1)];
		uint64_t ts = __atomic_load_n(&shared->timestamp_ns, __ATOMIC_RELAXED);
		uint64_t off = __atomic_load_n(&shared->data_offset, __ATOMIC_RELAXED);
		uint32_t len = __atomic_load_n(&shared->len, __ATOMIC_RELAXED);
		uint32_t orig = __atomic_load_n(&shared->orig_len, __ATOMIC_RELAXED);
		struct pcap_pkthdr h;
		const u_char *data;

		if (off > f->zone_size || len > f->zone_size - off || len > orig ||
		    len > f->slot_size) {
			fnp_err(f, "%s: a ring descriptor points outside the ring",
				f->device);
			ret = PCAP_ERROR;
			break;
		}
		data = f->zone + off;
		h.ts.tv_sec = (time_t)(ts / 1000000000u);
		h.ts.tv_usec = (suseconds_t)(ts % 1000000000u);
		if (f->precision == PCAP_TSTAMP_PRECISION_MICRO)
			h.ts.tv_usec /= 1000;
		h.caplen = len < (uint32_t)f->snaplen ? len : (uint32_t)f->snaplen;
		h.len = orig;
		if (f->filter_pending &&
		    (int32_t)(f->consumer - f->user_filter_until) >= 0)
			f->filter_pending = false;
		f->consumer++;
		if (f->filter_in_user_space || f->filter_pending) {
			u_int keep = REAL(bpf_filter)(f->program.bf_insns, data,
						      h.len, h.caplen);

			if (keep == 0)
				continue;
			if (keep < h.caplen)
				h.caplen = keep;
		}
		callback(user, &h, data);
		delivered++;
		if (__atomic_load_n(&f->break_loop, __ATOMIC_ACQUIRE) ||
		    (max > 0 && delivered >= max))
			break;
	}
	/* Every slot taken goes back to the kernel at once. */
	__atomic_store_n(&f->hdr->consumer, f->consumer, __ATOMIC_RELEASE);
	if (ret < 0)
		return ret;
	ret = take_break(f);
	return ret ? ret : delivered;
}

int fnp_setfilter(struct fnp *f, struct bpf_program *fp)
{
	struct sock_fprog prog = { .len = 0, .filter = NULL };
	struct bpf_insn *copy = NULL;

	if (!f->activated)
		return fnp_not_activated(f);
	if (!fp) {
		fnp_err(f, "%s: pcap_setfilter: no program", f->device);
		return PCAP_ERROR;
	}
	if (fp->bf_len) {
		copy = malloc(fp->bf_len * sizeof(*copy));
		if (!copy) {
			fnp_err(f, "%s: out of memory", f->device);
			return PCAP_ERROR;
		}
		memcpy(copy, fp->bf_insns, fp->bf_len * sizeof(*copy));
	}
	/* struct bpf_insn and struct sock_filter are the same four fields. */
	prog.len = (unsigned short)fp->bf_len;
	prog.filter = (struct sock_filter *)copy;
	if (fp->bf_len <= BPF_MAXINSNS && ioctl(f->fd, FASTNET_SET_FILTER, &prog) == 0) {
		f->filter_in_user_space = false;
		/*
		 * Frames the kernel took before it had the program are still
		 * in the ring: this program runs on them here.
		 */
		f->user_filter_until = __atomic_load_n(&f->hdr->producer, __ATOMIC_ACQUIRE);
		f->filter_pending = f->user_filter_until != f->consumer && fp->bf_len;
	} else if (fp->bf_len > BPF_MAXINSNS || errno == EINVAL) {
		/*
		 * A program the kernel refuses (libpcap's protochain, or an
		 * skb load in zero-copy) runs here, on every frame, as libpcap
		 * falls back to; the kernel keeps none.
		 */
		prog.len = 0;
		if (ioctl(f->fd, FASTNET_SET_FILTER, &prog) < 0) {
			fnp_err(f, "%s: FASTNET_SET_FILTER: %s", f->device,
				strerror(errno));
			free(copy);
			return PCAP_ERROR;
		}
		f->filter_in_user_space = true;
		f->filter_pending = false;
	} else {
		fnp_err(f, "%s: FASTNET_SET_FILTER: %s", f->device, strerror(errno));
		free(copy);
		return PCAP_ERROR;
	}
	free(f->program.bf_insns);
	f->program.bf_insns = copy;
	f->program.bf_len = fp->bf_len;
	return 0;
}

int fnp_stats(struct fnp *f, struct pcap_stat *ps)
{
	struct fastnet_stats st;

	if (!f->activated)
		return fnp_not_activated(f);
	if (ioctl(f->fd, FASTNET_STATS, &st) < 0) {
		fnp_err(f, "%s: FASTNET_STATS: %s", f->device, strerror(errno));
		return PCAP_ERROR;
	}
	/* As a packet socket's: frames that passed the filter, and those lost. */
	ps->ps_recv = (u_int)st.received;
	ps->ps_drop = (u_int)st.dropped;
	ps->ps_ifdrop = (u_int)st.missed;
	return 0;
}

/* Async-signal-safe: a flag, and a write to the eventfd poll() watches. */
void fnp_breakloop(struct fnp *f)
{
	uint64_t one = 1;

	__atomic_store_n(&f->break_loop, 1, __ATOMIC_RELEASE);
	if (f->wake_fd >= 0 && write(f->wake_fd, &one, sizeof(one)) < 0)
		return;
}
