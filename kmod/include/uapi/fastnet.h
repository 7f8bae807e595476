/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * fastnet: raw packet capture from one net device per session, /dev/fastnet.
 * Shared by the kernel module and the Node addon: the one place the ioctl
 * numbers, the structures and the mmap ring layout are written down.
 *
 * Each open() of /dev/fastnet is a session. FASTNET_BIND attaches it to one
 * Ethernet device (by name, in the caller's network namespace) in one mode;
 * closing the session puts the device back to normal.
 */
#ifndef _UAPI_FASTNET_H
#define _UAPI_FASTNET_H

#include <linux/filter.h>	/* struct sock_fprog, for FASTNET_SET_FILTER */
#include <linux/ioctl.h>
#include <linux/types.h>

#define FASTNET_IFNAMSIZ	16	/* IFNAMSIZ, NUL included */

/* Modes (struct fastnet_bind.mode). */
#define FASTNET_MODE_NORMAL	0	/* detached: the stack sees every frame */
#define FASTNET_MODE_DROP	1	/* count and consume every frame */
#define FASTNET_MODE_READ	2	/* bounded queue, one frame per read() */
#define FASTNET_MODE_RING	3	/* frames copied into an mmap-ed ring */
/*
 * Zero-copy: the NIC DMAs frames straight into the ring's slots, same
 * layout as FASTNET_MODE_RING (a descriptor's data_offset names the slot
 * its frame is in, not always slot i). EOPNOTSUPP unless the device's
 * driver registered zero-copy operations (the project's patched e1000).
 */
#define FASTNET_MODE_ZEROCOPY	4

/* Bind flags (struct fastnet_bind.flags). */
/*
 * Modes READ and RING: copy the frame and let it go on up the stack.
 * Mode ZEROCOPY: the frames the session's filter rejects go on up the stack,
 * copied into an skb (the NIC's buffer goes straight back to it), so that a
 * capture filtered to its traffic leaves the device's ARP and ping working;
 * the frames it takes stay user space's alone. Without a filter every frame
 * is taken, and the flag changes nothing.
 */
#define FASTNET_BIND_PASS	(1U << 0)
/*
 * Modes RING and ZEROCOPY: poll() reports the ring readable per batch, not
 * per frame: once half the slots are pending, or once the oldest frame not
 * yet announced is batch_usecs old (1 ms unless the bind says). A consumer
 * that polls before each batch then takes frames many at a time (as
 * TPACKET_V3's block timeout, tp_retire_blk_tov, does), for up to
 * batch_usecs of latency. The shared indices are exact at all times.
 */
#define FASTNET_BIND_BATCH	(1U << 1)
/*
 * Mode READ: each read() returns the frame's descriptor, a struct
 * fastnet_slot, then the frame from its Ethernet header (data_offset
 * sizeof(struct fastnet_slot), len the bytes that follow it): one call and
 * one frame, whoever shares the descriptor. A buffer shorter than the
 * descriptor gets EINVAL and the frame stays queued.
 */
#define FASTNET_BIND_HEADER	(1U << 2)
#define FASTNET_BIND_FLAGS	(FASTNET_BIND_PASS | FASTNET_BIND_BATCH | \
				 FASTNET_BIND_HEADER)

/* Ring geometry: powers of two. 0 in fastnet_bind means the default. */
#define FASTNET_RING_SLOTS_MIN		2
#define FASTNET_RING_SLOTS_MAX		65536
#define FASTNET_RING_SLOTS_DEFAULT	1024
/* A slot can take a standard frame and the NIC can DMA into it. */
#define FASTNET_SLOT_SIZE_MIN		2048
#define FASTNET_SLOT_SIZE_MAX		65536
#define FASTNET_SLOT_SIZE_DEFAULT	2048
/* slots * slot_size at most. */
#define FASTNET_RING_DATA_MAX		(128U << 20)

/* FASTNET_BIND_BATCH's announcement delay, microseconds. */
#define FASTNET_BATCH_USECS_DEFAULT	1000
#define FASTNET_BATCH_USECS_MAX		60000000	/* a minute */

/* Read queue: frames, and the memory they may hold, at most. */
#define FASTNET_QUEUE_LEN_MAX		65536
#define FASTNET_QUEUE_LEN_DEFAULT	1024
#define FASTNET_QUEUE_BYTES_MAX		(64U << 20)

struct fastnet_bind {
	char ifname[FASTNET_IFNAMSIZ];	/* NUL-terminated device name */
	__u32 mode;			/* FASTNET_MODE_* */
	__u32 flags;			/* FASTNET_BIND_* */
	__u32 slots;			/* RING only, else 0 */
	__u32 slot_size;		/* RING only, else 0; bytes */
	__u32 queue_len;		/* READ only, else 0; frames */
	/*
	 * With FASTNET_BIND_BATCH only, else 0: how long a published frame
	 * may wait to be announced, microseconds; 0 means the default. A
	 * longer delay means fewer wakeups at low rates (libpcap's to_ms).
	 */
	__u32 batch_usecs;
	__u32 reserved[2];		/* must be 0 */
};

/*
 * Per-session counters. Every frame the handler sees is received, unless
 * the session's filter rejects it: then it is filtered, and nothing else
 * (as a packet socket's tp_packets counts only what passed its filter). In
 * modes READ and RING a received frame is then either delivered (queued, or
 * published to the ring) or dropped (queue or ring full, or no memory for
 * the copy). In mode DROP frames are only received. truncated counts frames
 * delivered shorter than they were (the filter's snap length, a ring slot or
 * a read() buffer too small). In mode ZEROCOPY received counts the buffers
 * the NIC completed that passed the filter; dropped, those with its error
 * bits, spanning several buffers, or oversized (never filtered); missed, the
 * frames the NIC itself dropped while it had no armed slot (its own counter).
 */
struct fastnet_stats {
	__u64 received;
	__u64 received_bytes;
	__u64 delivered;
	__u64 delivered_bytes;	/* bytes copied, after truncation */
	__u64 dropped;
	__u64 truncated;
	__u64 missed;		/* ZEROCOPY: dropped by the NIC, no slot armed */
	__u64 filtered;		/* rejected by the filter (FASTNET_SET_FILTER) */
};

/*
 * One frame's descriptor: a ring slot's (in the zone's descriptor array),
 * the one before each frame read() returns with FASTNET_BIND_HEADER, or the
 * last frame read() returned (FASTNET_READ_INFO, data_offset 0).
 */
struct fastnet_slot {
	__u64 timestamp_ns;	/* CLOCK_REALTIME when the handler saw it */
	__u64 data_offset;	/* from the zone's start to the frame's first byte */
	__u32 len;		/* bytes stored (or returned by read()) */
	__u32 orig_len;		/* the frame's length, Ethernet header included */
	__u16 status;		/* FASTNET_SLOT_* */
	__u16 flags;		/* FASTNET_PKT_* */
	__u32 reserved;
};

#define FASTNET_SLOT_READY	1	/* filled and published */
#define FASTNET_PKT_TRUNC	(1U << 0)	/* len < orig_len */

/*
 * The ring zone, mmap-ed whole (offset 0, length zone_size, MAP_SHARED):
 *
 *   0            struct fastnet_ring_header (one page)
 *   desc_offset  struct fastnet_slot[slots]  (page aligned)
 *   data_offset  slots * slot_size bytes     (page aligned; slot i at
 *                data_offset + i * slot_size, physically contiguous)
 *
 * producer and consumer are free-running 32-bit indices; index i names
 * slot i & (slots - 1). User space owns the slots from consumer up to
 * producer, the kernel the rest. The kernel fills slot producer,
 * then publishes it with a store-release of producer + 1. User space loads
 * producer with acquire, reads descriptors and data of its slots, then hands
 * them back with a store-release of consumer. The kernel loads consumer with
 * acquire before reusing a slot and never trusts either shared index for
 * anything but that: it keeps its own producer.
 */
struct fastnet_ring_header {
	__u32 magic;		/* FASTNET_RING_MAGIC */
	__u32 version;		/* FASTNET_RING_VERSION */
	__u32 slots;
	__u32 slot_size;
	__u64 desc_offset;
	__u64 data_offset;
	__u64 zone_size;
	__u32 mode;		/* FASTNET_MODE_RING (or _ZEROCOPY) */
	__u32 flags;		/* the bind flags */
	__u32 pad0[4];
	/* Written by the kernel only; its own cache line. */
	__u32 producer;
	__u32 pad1[15];
	/* Written by user space only; its own cache line. */
	__u32 consumer;
	__u32 pad2[15];
};

#define FASTNET_RING_MAGIC	0x46524e47	/* "FRNG" */
#define FASTNET_RING_VERSION	1

/* What FASTNET_RING_INFO returns: the zone's geometry, to mmap it. */
struct fastnet_ring_info {
	__u64 zone_size;
	__u64 desc_offset;
	__u64 data_offset;
	__u32 slots;
	__u32 slot_size;
};

#define FASTNET_IOC_MAGIC	0xFA
/*
 * Binds the session. EBUSY: the session is already bound, or the device
 * already has a fastnet session or another rx_handler (bridge, bond...);
 * ENODEV: no such device; EINVAL: bad mode, flags, sizes, batch_usecs or
 * reserved bits;
 * EOPNOTSUPP: not an Ethernet device, or mode ZEROCOPY on a device whose
 * driver has no zero-copy support; EPERM: no
 * CAP_NET_RAW.
 */
#define FASTNET_BIND		_IOW(FASTNET_IOC_MAGIC, 1, struct fastnet_bind)
#define FASTNET_STATS		_IOR(FASTNET_IOC_MAGIC, 2, struct fastnet_stats)
#define FASTNET_RING_INFO	_IOR(FASTNET_IOC_MAGIC, 3, struct fastnet_ring_info)
/*
 * The descriptor of the last frame read() returned (mode READ). Two calls
 * a frame, and a reader sharing the descriptor may come between them:
 * FASTNET_BIND_HEADER returns each frame with its descriptor instead.
 */
#define FASTNET_READ_INFO	_IOR(FASTNET_IOC_MAGIC, 4, struct fastnet_slot)
/*
 * Attaches a classic BPF program to the session, as SO_ATTACH_FILTER does to
 * a socket (the format pcap_compile() and `tcpdump -dd` emit for Ethernet),
 * replacing the one it had; a program of length 0 detaches it. Before or
 * after FASTNET_BIND, in every mode; a frame in flight meanwhile sees the
 * old program or the new one. It runs on each frame from its Ethernet
 * header, and its return value is the snap length: 0 rejects the frame
 * (counted in filtered, never delivered), a value below the frame's length
 * delivers only that many bytes (the descriptor's orig_len keeps the
 * frame's length, with FASTNET_PKT_TRUNC). In modes DROP, READ and RING the
 * program is the kernel's own classic BPF, run on the skb. In mode ZEROCOPY
 * fastnet runs it on the bytes in the slot, without an skb, so loads of skb
 * data (SKF_AD_OFF ancillary data, SKF_NET_OFF- or SKF_LL_OFF-relative
 * loads) are refused there: by this call on a session in zero-copy, and by
 * FASTNET_BIND into zero-copy of a session that has such a program. What
 * becomes of a frame after the filter is its mode's: with FASTNET_BIND_PASS
 * it goes on up the stack, rejected or not; without, it is consumed.
 *
 * EINVAL: a bad program (the kernel's rules, as for SO_ATTACH_FILTER: known
 * opcodes, jumps forward and inside, scratch memory written before read, a
 * return last), more than BPF_MAXINSNS instructions, or a load of skb data
 * in zero-copy; the kernel log names the instruction and the rule, in a line
 * with "[ERROR]", and the session keeps the program it had. ENODEV once the
 * bound device is gone; EFAULT; ENOMEM.
 */
#define FASTNET_SET_FILTER	_IOW(FASTNET_IOC_MAGIC, 5, struct sock_fprog)

#endif /* _UAPI_FASTNET_H */
