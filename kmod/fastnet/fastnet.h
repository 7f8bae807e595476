/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fastnet's private structures, shared by its files: fastnet_main.c
 * (device, sessions, binding), fastnet_rx.c (the rx_handler and its modes),
 * fastnet_ring.c (the mmap ring), fastnet_zc.c (zero-copy with a driver),
 * fastnet_filter.c (FASTNET_SET_FILTER) and fastnet_bpf.c (classic BPF
 * without an skb, for zero-copy).
 */
#ifndef _FASTNET_H
#define _FASTNET_H

#include <linux/filter.h>
#include <linux/hrtimer.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/u64_stats_sync.h>
#include <linux/wait.h>

#include "uapi/fastnet.h"

struct fastnet_pcpu_stats {
	u64_stats_t received;
	u64_stats_t received_bytes;
	u64_stats_t delivered;
	u64_stats_t delivered_bytes;
	u64_stats_t dropped;
	u64_stats_t truncated;
	u64_stats_t filtered;
	struct u64_stats_sync syncp;
};

/*
 * A session's filter (FASTNET_SET_FILTER): immutable once made. The data
 * path reads it under RCU (rcu_dereference() of fastnet_dev.filter); a
 * replaced one is freed after a grace period (fastnet_filter_release()), so
 * a frame sees the old program or the new one, never a freed one.
 */
struct fastnet_filter {
	struct rcu_head rcu;
	/* The kernel's classic BPF, for skbs (modes DROP, READ, RING). */
	struct bpf_prog *prog;
	/*
	 * Why fastnet_bpf_run() cannot run insns (a load of skb data), at
	 * which instruction; NULL if it can (mode ZEROCOPY needs that).
	 */
	const char *zc_why;
	unsigned int zc_at;
	unsigned int len;
	struct sock_filter insns[];	/* for fastnet_bpf_run() */
};

/*
 * The zone user space maps: a control area (header page and descriptors,
 * from vmalloc_user(): only the CPU touches it) and slot data in blocks of
 * physically contiguous pages from the page allocator, one slot never
 * straddling two blocks, so that a NIC can DMA a frame into any slot
 * (dma_map_page() of fastnet_ring_slot_page()). Every page is an ordinary
 * order-0 page (blocks are split) so that vm_insert_page() can map it.
 *
 * The zone lives as long as its session: a mapping holds the session's
 * file, so it outlives close() until munmap(), and device removal leaves
 * it in place.
 */
struct fastnet_ring {
	spinlock_t lock;		/* producers on every CPU */
	u32 prod;			/* the kernel's own producer index */
	u32 slots;			/* a power of two */
	u32 slot_size;			/* a power of two */
	struct fastnet_ring_header *hdr;	/* start of the control area */
	struct fastnet_slot *desc;
	size_t ctrl_size;		/* header and descriptors, page aligned */
	struct page **data_pages;
	unsigned int data_npages;
	unsigned int block_order;	/* of each contiguous block */
	size_t zone_size;

	/* One wakeup of the pollers for many frames (fastnet_ring_notify()). */
	wait_queue_head_t *wq;
	struct hrtimer wake_timer;
	unsigned long wake_armed;	/* bit 0: the timer is set to wake */
	bool batch;			/* FASTNET_BIND_BATCH */
	ktime_t batch_delay;		/* its batch_usecs */
	u32 announced;			/* prod at the last wakeup (batch) */
};

struct fastnet_session;

/* Per bound device; the rx_handler's data. */
struct fastnet_dev {
	struct net_device *dev;		/* NULL once detached; RTNL */
	netdevice_tracker tracker;
	struct list_head node;		/* in the bound devices; RTNL */
	wait_queue_head_t *wq;		/* the session's */
	u32 mode;
	u32 flags;
	bool dead;			/* the device went away */
	struct fastnet_pcpu_stats __percpu *stats;
	atomic64_t read_truncated;	/* by short read() buffers */
	/* Written under the session's bind_lock; read under RCU. */
	struct fastnet_filter __rcu *filter;

	/* FASTNET_MODE_READ */
	struct sk_buff_head queue;
	u32 queue_len;			/* limit, frames */
	u32 queue_bytes;		/* truesize queued; queue.lock */

	/* FASTNET_MODE_RING and FASTNET_MODE_ZEROCOPY */
	struct fastnet_ring *ring;
	/* FASTNET_MODE_ZEROCOPY (fastnet_zc.c) */
	struct fastnet_zc *zc;
};

enum fastnet_outcome {
	FASTNET_CONSUMED,	/* mode DROP: counted only */
	FASTNET_DELIVERED,
	FASTNET_DROPPED,
	FASTNET_FILTERED,	/* rejected by the filter: not received */
};

/* fastnet_rx.c */
rx_handler_result_t fastnet_rx_handler(struct sk_buff **pskb);
struct sk_buff *fastnet_queue_pop(struct fastnet_dev *fdev);
void fastnet_queue_push_back(struct fastnet_dev *fdev, struct sk_buff *skb);
void fastnet_queue_purge(struct fastnet_dev *fdev);
void fastnet_stats_fold(struct fastnet_dev *fdev, struct fastnet_stats *out);
u64 fastnet_skb_tstamp(const struct sk_buff *skb);
unsigned int fastnet_skb_snaplen(const struct sk_buff *skb);
u64 fastnet_rx_time(const struct sk_buff *skb);
void fastnet_count(struct fastnet_dev *fdev, unsigned int len,
		   enum fastnet_outcome outcome, unsigned int copied);

/* fastnet_ring.c */
struct fastnet_ring *fastnet_ring_create(u32 slots, u32 slot_size, u32 mode,
					 u32 flags, u32 batch_usecs,
					 wait_queue_head_t *wq);
void fastnet_ring_destroy(struct fastnet_ring *ring);
int fastnet_ring_mmap(struct fastnet_ring *ring, struct vm_area_struct *vma);
int fastnet_ring_produce(struct fastnet_ring *ring, const struct sk_buff *skb,
			 int offset, unsigned int len, unsigned int snap,
			 unsigned int *copied);
void fastnet_ring_notify(struct fastnet_ring *ring);
bool fastnet_ring_pending(struct fastnet_ring *ring);
bool fastnet_ring_readable(struct fastnet_ring *ring);
struct page *fastnet_ring_slot_page(struct fastnet_ring *ring, u32 slot,
				    unsigned int *offset);
void fastnet_ring_info(struct fastnet_ring *ring,
		       struct fastnet_ring_info *info);

/* fastnet_filter.c */
struct fastnet_filter *fastnet_filter_create(const struct sock_filter *insns,
					     unsigned int len, bool zerocopy);
void fastnet_filter_free(struct fastnet_filter *filter);
void fastnet_filter_release(struct fastnet_filter *filter);
unsigned int fastnet_filter_skb(const struct fastnet_filter *filter,
				struct sk_buff *skb, int mac_off);

/* fastnet_zc.c */
int fastnet_zc_attach(struct fastnet_dev *fdev, struct net_device *dev);
void fastnet_zc_detach(struct fastnet_dev *fdev);
void fastnet_zc_free(struct fastnet_zc *zc);
void fastnet_zc_kick(struct fastnet_zc *zc);
u64 fastnet_zc_missed(struct fastnet_zc *zc);

#endif /* _FASTNET_H */
