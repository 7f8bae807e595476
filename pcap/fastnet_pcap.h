/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libpcap-fastnet: fastnet devices for unchanged libpcap programs, loaded
 * with LD_PRELOAD (docs/pcap-preload.md).
 *
 * A program holds a pcap_t for a device named fastnet:IFNAME (mode ring) or
 * fastnet-zc:IFNAME (mode zerocopy). That pcap_t is a real one, made by
 * libpcap's pcap_open_dead(): every libpcap call this library does not
 * answer itself finds a valid handle, and the capture's state lives beside
 * it, in a table keyed by the handle's address. The handle's errbuf is the
 * capture's, so pcap_geterr() and pcap_perror() work through libpcap.
 * The dead handle's snap length and time stamp precision are fixed when it
 * is made, before the program sets them: pcap_activate() makes a second dead
 * handle with the activated values, and the calls that read them (filter
 * compiling, savefiles) are handed that one.
 */
#ifndef FASTNET_PCAP_H
#define FASTNET_PCAP_H

#include <pcap/pcap.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uapi/fastnet.h"

#define FNP_PREFIX_RING		"fastnet:"
#define FNP_PREFIX_ZC		"fastnet-zc:"
/* libpcap's MAXIMUM_SNAPLEN, its default and largest snap length. */
#define FNP_MAX_SNAPLEN		262144
/* libpcap's default buffer on Linux: the ring's bytes unless -B says. */
#define FNP_DEFAULT_BUFFER	(2 << 20)

struct fnp {
	pcap_t *handle;		/* what the program holds (pcap_open_dead) */
	pcap_t *active;		/* dead handle with the activated settings */
	char *errbuf;		/* handle's errbuf: PCAP_ERRBUF_SIZE bytes */
	char device[64];	/* the name the program gave */
	char ifname[FASTNET_IFNAMSIZ + 1];	/* may be too long: checked at activate */
	bool name_too_long;
	bool zerocopy;
	bool activated;

	/* Settings (pcap_set_*), read by pcap_activate(). */
	int snaplen;
	int timeout_ms;
	int buffer_size;
	int promisc;
	int rfmon;
	int immediate;
	int precision;		/* PCAP_TSTAMP_PRECISION_* */
	int nonblock;
	pcap_direction_t direction;

	/* The capture, from pcap_activate() on. */
	int fd;			/* /dev/fastnet session */
	int wake_fd;		/* eventfd: pcap_breakloop() wakes poll() */
	int promisc_fd;		/* AF_PACKET socket holding PACKET_MR_PROMISC */
	uint8_t *zone;
	size_t zone_size;
	struct fastnet_ring_header *hdr;
	const struct fastnet_slot *desc;
	uint32_t slots;
	uint32_t slot_size;
	uint32_t consumer;	/* ours; stored to hdr->consumer */
	int break_loop;		/* pcap_breakloop(), maybe from a signal handler: atomic */

	/*
	 * The program of the last pcap_setfilter(), run here on the frames
	 * the kernel took before it had the program (consumer up to
	 * user_filter_until), or on every frame if the kernel refused it.
	 */
	struct bpf_program program;
	bool filter_in_user_space;
	bool filter_pending;
	uint32_t user_filter_until;

	/* pcap_next()/pcap_next_ex(): the frame, copied out of its slot. */
	uint8_t *copy;
	struct pcap_pkthdr copy_hdr;
};

/* handle.c */
void *fnp_real(const char *name, void **cache);
#define REAL(fn) ({						\
	static void *fnp_cache_;				\
	(__typeof__(&fn))fnp_real(#fn, &fnp_cache_);		\
})
bool fnp_is_name(const char *device);
struct fnp *fnp_lookup(pcap_t *p);
struct fnp *fnp_new(const char *device, char *errbuf);
void fnp_free(struct fnp *f);
void fnp_err(struct fnp *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int fnp_not_activated(struct fnp *f);
int fnp_activated_error(struct fnp *f);

/* capture.c */
int fnp_activate(struct fnp *f);
void fnp_teardown(struct fnp *f);
int fnp_read(struct fnp *f, int max, pcap_handler callback, u_char *user);
int fnp_setfilter(struct fnp *f, struct bpf_program *fp);
int fnp_stats(struct fnp *f, struct pcap_stat *ps);
void fnp_breakloop(struct fnp *f);

#endif /* FASTNET_PCAP_H */
