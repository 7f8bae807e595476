// SPDX-License-Identifier: GPL-2.0
/*
 * fastnet's rx_handler: what each mode does with a frame, in softirq
 * context on whichever CPU received it, and the per-CPU counters.
 *
 * The handler runs after eth_type_trans(), so skb->data is past the
 * Ethernet header: every copy starts at the MAC header instead, so that
 * user space gets whole frames (bytes 12 and 13 are the EtherType).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/etherdevice.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/timekeeping.h>
#include <net/dst.h>

#include "fastnet.h"

/* Where a queued frame's metadata lives: the skb is ours, so is its cb. */
struct fastnet_skb_cb {
	u64 tstamp_ns;
	u32 snaplen;	/* bytes read() may return: the filter's snap length */
};

#define FASTNET_SKB_CB(skb) ((struct fastnet_skb_cb *)(skb)->cb)

void fastnet_count(struct fastnet_dev *fdev, unsigned int len,
		   enum fastnet_outcome outcome, unsigned int copied)
{
	/* Softirq: this CPU's counters are ours until we return. */
	struct fastnet_pcpu_stats *s = this_cpu_ptr(fdev->stats);

	u64_stats_update_begin(&s->syncp);
	if (outcome == FASTNET_FILTERED) {
		u64_stats_inc(&s->filtered);
		u64_stats_update_end(&s->syncp);
		return;
	}
	u64_stats_inc(&s->received);
	u64_stats_add(&s->received_bytes, len);
	if (outcome == FASTNET_DELIVERED) {
		u64_stats_inc(&s->delivered);
		u64_stats_add(&s->delivered_bytes, copied);
		if (copied < len)
			u64_stats_inc(&s->truncated);
	} else if (outcome == FASTNET_DROPPED) {
		u64_stats_inc(&s->dropped);
	}
	u64_stats_update_end(&s->syncp);
}

void fastnet_stats_fold(struct fastnet_dev *fdev, struct fastnet_stats *out)
{
	u64 received, received_bytes, delivered, delivered_bytes, dropped;
	u64 truncated, filtered;
	unsigned int start;
	int cpu;

	memset(out, 0, sizeof(*out));
	for_each_possible_cpu(cpu) {
		struct fastnet_pcpu_stats *s = per_cpu_ptr(fdev->stats, cpu);

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			received = u64_stats_read(&s->received);
			received_bytes = u64_stats_read(&s->received_bytes);
			delivered = u64_stats_read(&s->delivered);
			delivered_bytes = u64_stats_read(&s->delivered_bytes);
			dropped = u64_stats_read(&s->dropped);
			truncated = u64_stats_read(&s->truncated);
			filtered = u64_stats_read(&s->filtered);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		out->received += received;
		out->received_bytes += received_bytes;
		out->delivered += delivered;
		out->delivered_bytes += delivered_bytes;
		out->dropped += dropped;
		out->truncated += truncated;
		out->filtered += filtered;
	}
	out->truncated += atomic64_read(&fdev->read_truncated);
}

static void fastnet_wake(struct fastnet_dev *fdev)
{
	/* Full barrier inside: pairs with the one after poll_wait(). */
	if (wq_has_sleeper(fdev->wq))
		wake_up_interruptible_poll(fdev->wq, EPOLLIN | EPOLLRDNORM);
}

/* The MAC header's offset from skb->data: zero or negative. */
static int fastnet_mac_offset(const struct sk_buff *skb)
{
	if (!skb_mac_header_was_set(skb))
		return 0;
	return min(skb_mac_offset(skb), 0);
}

/*
 * Mode READ: queue the frame itself when we may keep it, a clone when the
 * stack keeps it (pass-through) or someone else holds it too (a tap, or
 * pktgen, which feeds the same skb again and again). read() returns at most
 * @snap of its @len bytes.
 */
static rx_handler_result_t fastnet_rx_queue(struct fastnet_dev *fdev,
					    struct sk_buff *skb, int mac_off,
					    unsigned int len, unsigned int snap)
{
	bool pass = fdev->flags & FASTNET_BIND_PASS;
	rx_handler_result_t result = pass ? RX_HANDLER_PASS : RX_HANDLER_CONSUMED;
	struct sk_buff_head *queue = &fdev->queue;
	struct sk_buff *own;

	own = pass ? skb_clone(skb, GFP_ATOMIC) : skb_share_check(skb, GFP_ATOMIC);
	if (!own) {
		fastnet_count(fdev, len, FASTNET_DROPPED, 0);
		return result;
	}
	skb_push(own, -mac_off);
	skb_orphan(own);
	skb_dst_drop(own);
	FASTNET_SKB_CB(own)->tstamp_ns = fastnet_rx_time(skb);
	FASTNET_SKB_CB(own)->snaplen = snap;

	spin_lock(&queue->lock);
	if (skb_queue_len(queue) >= fdev->queue_len ||
	    fdev->queue_bytes + own->truesize > FASTNET_QUEUE_BYTES_MAX) {
		spin_unlock(&queue->lock);
		kfree_skb(own);
		fastnet_count(fdev, len, FASTNET_DROPPED, 0);
		return result;
	}
	__skb_queue_tail(queue, own);
	fdev->queue_bytes += own->truesize;
	spin_unlock(&queue->lock);

	fastnet_count(fdev, len, FASTNET_DELIVERED, snap);
	fastnet_wake(fdev);
	return result;
}

/*
 * Mode RING: copy @snap of the frame's @len bytes into the next slot; the
 * skb itself is never kept.
 */
static rx_handler_result_t fastnet_rx_ring(struct fastnet_dev *fdev,
					   struct sk_buff *skb, int mac_off,
					   unsigned int len, unsigned int snap)
{
	unsigned int copied;
	int ret;

	ret = fastnet_ring_produce(fdev->ring, skb, mac_off, len, snap, &copied);
	if (ret) {
		fastnet_count(fdev, len, FASTNET_DROPPED, 0);
	} else {
		fastnet_count(fdev, len, FASTNET_DELIVERED, copied);
		fastnet_ring_notify(fdev->ring);
	}

	if (fdev->flags & FASTNET_BIND_PASS)
		return RX_HANDLER_PASS;
	if (ret)
		kfree_skb(skb);
	else
		consume_skb(skb);
	return RX_HANDLER_CONSUMED;
}

/*
 * The filter rejected the frame: counted as filtered only, and then what
 * the mode does with every frame, delivery aside: on up the stack with
 * pass-through, else consumed (not a drop: nothing went wrong).
 */
static rx_handler_result_t fastnet_rx_filtered(struct fastnet_dev *fdev,
					       struct sk_buff *skb)
{
	fastnet_count(fdev, 0, FASTNET_FILTERED, 0);
	if (fdev->flags & FASTNET_BIND_PASS)
		return RX_HANDLER_PASS;
	consume_skb(skb);
	return RX_HANDLER_CONSUMED;
}

rx_handler_result_t fastnet_rx_handler(struct sk_buff **pskb)
{
	struct sk_buff *skb = *pskb;
	struct fastnet_filter *filter;
	struct fastnet_dev *fdev;
	unsigned int len, snap;
	int mac_off;

	/* Our own multicast looped back is not something the device received. */
	if (unlikely(skb->pkt_type == PACKET_LOOPBACK))
		return RX_HANDLER_PASS;

	fdev = rcu_dereference(skb->dev->rx_handler_data);
	/* ZEROCOPY: the NIC's frames never become skbs; others go on. */
	if (unlikely(fdev->mode == FASTNET_MODE_ZEROCOPY))
		return RX_HANDLER_PASS;
	mac_off = fastnet_mac_offset(skb);
	len = skb->len - mac_off;

	/* Under the rcu_read_lock() of the receive path. */
	filter = rcu_dereference(fdev->filter);
	snap = len;
	if (filter) {
		snap = min(fastnet_filter_skb(filter, skb, mac_off), len);
		if (!snap)
			return fastnet_rx_filtered(fdev, skb);
	}

	switch (fdev->mode) {
	case FASTNET_MODE_DROP:
		fastnet_count(fdev, len, FASTNET_CONSUMED, 0);
		consume_skb(skb);
		return RX_HANDLER_CONSUMED;
	case FASTNET_MODE_READ:
		return fastnet_rx_queue(fdev, skb, mac_off, len, snap);
	default:
		return fastnet_rx_ring(fdev, skb, mac_off, len, snap);
	}
}

/*
 * When the frame arrived: the stack's own receive timestamp when something
 * (a packet socket, SO_TIMESTAMP) turned those on, so the clock is read once
 * a frame, not twice; a fresh CLOCK_REALTIME reading otherwise. A delivery
 * time (mono_delivery_time, from a local sender) is not an arrival time.
 */
u64 fastnet_rx_time(const struct sk_buff *skb)
{
	if (skb->tstamp && !skb->mono_delivery_time)
		return ktime_to_ns(skb->tstamp);
	return ktime_get_real_ns();
}

u64 fastnet_skb_tstamp(const struct sk_buff *skb)
{
	return FASTNET_SKB_CB(skb)->tstamp_ns;
}

unsigned int fastnet_skb_snaplen(const struct sk_buff *skb)
{
	return FASTNET_SKB_CB(skb)->snaplen;
}

/* Process context, against the handler on any CPU: BH off. */
struct sk_buff *fastnet_queue_pop(struct fastnet_dev *fdev)
{
	struct sk_buff *skb;

	spin_lock_bh(&fdev->queue.lock);
	skb = __skb_dequeue(&fdev->queue);
	if (skb)
		fdev->queue_bytes -= skb->truesize;
	spin_unlock_bh(&fdev->queue.lock);
	return skb;
}

/* A frame read() could not copy out goes back first in line. */
void fastnet_queue_push_back(struct fastnet_dev *fdev, struct sk_buff *skb)
{
	spin_lock_bh(&fdev->queue.lock);
	__skb_queue_head(&fdev->queue, skb);
	fdev->queue_bytes += skb->truesize;
	spin_unlock_bh(&fdev->queue.lock);
}

void fastnet_queue_purge(struct fastnet_dev *fdev)
{
	struct sk_buff_head list;

	__skb_queue_head_init(&list);
	spin_lock_bh(&fdev->queue.lock);
	skb_queue_splice_init(&fdev->queue, &list);
	fdev->queue_bytes = 0;
	spin_unlock_bh(&fdev->queue.lock);
	__skb_queue_purge(&list);
}
