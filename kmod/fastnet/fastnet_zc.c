// SPDX-License-Identifier: GPL-2.0
/*
 * fastnet's zero-copy mode (FASTNET_MODE_ZEROCOPY): the NIC DMAs frames
 * straight into the ring's slots. Drivers register struct fastnet_zc_ops
 * (fastnet_zc.h); everything about the ring is decided here.
 *
 * A slot's buffer and a ring index are not tied: a dropped frame's buffer
 * goes straight back to the NIC, so the descriptor at index i names its
 * buffer in data_offset. Buffers are in one of three places: free (here),
 * armed (in the NIC's ring) or published (user space owns ring indices
 * [consumer, producer) and their buffers). Buffers come back from user
 * space when its consumer index moves; only then are they armed again.
 *
 * Every slot is DMA-mapped once at entry and unmapped when leaving, after
 * the driver's leave() has taken every buffer back from the NIC; the ring
 * itself is freed only later, with the session. A driver whose queue maps
 * each buffer it is given (virtio's vring) registers no DMA device: it gets
 * the slot's page from fastnet_zc_buf_page() instead. The data path
 * (fastnet_zc_arm/receive/release) runs only in the driver's NAPI poll, or
 * with RX stopped and NAPI disabled: one context at a time, so no lock.
 * Whenever the driver empties its hardware ring (down, reset, resize), each
 * armed buffer comes back through fastnet_zc_receive() or
 * fastnet_zc_release(); fastnet_zc_detach() checks that none went missing.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/etherdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "fastnet.h"
#include "fastnet_bpf.h"
#include "fastnet_zc.h"

/* A driver's registration for one device. */
struct fastnet_zc_reg {
	struct list_head node;		/* in fastnet_zc_regs; RTNL */
	struct net_device *dev;
	struct device *dma_dev;
	const struct fastnet_zc_ops *ops;
	struct fastnet_zc *zc;		/* the session in zero-copy; RTNL */
};

struct fastnet_zc {
	struct fastnet_dev *fdev;
	struct fastnet_ring *ring;
	struct fastnet_zc_reg *reg;
	struct net_device *dev;
	bool active;			/* between enter() and leave() */
	bool hand_up;			/* detaching: frames go up the stack */
	bool published;			/* since the last wake-up */
	dma_addr_t *dma;		/* per buffer */
	u32 *owner;			/* the buffer at each ring index */
	u32 *free;			/* a FIFO of buffer numbers */
	u32 free_head, free_tail;	/* free-running */
	u32 reclaimed;			/* ring index of the next buffer back */
	u64 missed_base;		/* the driver's count at entry */
	u64 missed;			/* since entry, frozen at detach */
};

static LIST_HEAD(fastnet_zc_regs);

static struct fastnet_zc_reg *fastnet_zc_find(struct net_device *dev)
{
	struct fastnet_zc_reg *reg;

	ASSERT_RTNL();
	list_for_each_entry(reg, &fastnet_zc_regs, node)
		if (reg->dev == dev)
			return reg;
	return NULL;
}

int fastnet_zc_register(struct net_device *dev, struct device *dma_dev,
			const struct fastnet_zc_ops *ops)
{
	struct fastnet_zc_reg *reg;
	int ret = 0;

	if (!ops->enter || !ops->leave || !ops->kick || !ops->missed)
		return -EINVAL;
	reg = kzalloc(sizeof(*reg), GFP_KERNEL);
	if (!reg)
		return -ENOMEM;
	reg->dev = dev;
	reg->dma_dev = dma_dev;
	reg->ops = ops;

	rtnl_lock();
	if (fastnet_zc_find(dev))
		ret = -EBUSY;
	else
		list_add(&reg->node, &fastnet_zc_regs);
	rtnl_unlock();
	if (ret)
		kfree(reg);
	return ret;
}
EXPORT_SYMBOL_GPL(fastnet_zc_register);

void fastnet_zc_unregister(struct net_device *dev)
{
	struct fastnet_zc_reg *reg;

	rtnl_lock();
	reg = fastnet_zc_find(dev);
	if (reg) {
		/* unregister_netdev() came first and detached the session. */
		WARN_ON(reg->zc);
		list_del(&reg->node);
	}
	rtnl_unlock();
	kfree(reg);
}
EXPORT_SYMBOL_GPL(fastnet_zc_unregister);

unsigned int fastnet_zc_buf_size(const struct fastnet_zc *zc)
{
	return zc->ring->slot_size;
}
EXPORT_SYMBOL_GPL(fastnet_zc_buf_size);

/* Buffers of ring indices published and not yet taken back. */
static u32 fastnet_zc_published(const struct fastnet_zc *zc)
{
	return zc->ring->prod - zc->reclaimed;
}

/* Takes back the buffers of the ring indices user space handed back. */
static void fastnet_zc_reclaim(struct fastnet_zc *zc)
{
	struct fastnet_ring *ring = zc->ring;
	u32 mask = ring->slots - 1;
	u32 cons;

	/* Pairs with user space's store-release: it is done with them. */
	cons = smp_load_acquire(&ring->hdr->consumer);
	/* Only [reclaimed, producer] is believable; anything else waits. */
	if (cons - zc->reclaimed > ring->prod - zc->reclaimed)
		return;
	while (zc->reclaimed != cons)
		zc->free[zc->free_tail++ & mask] = zc->owner[zc->reclaimed++ & mask];
}

bool fastnet_zc_arm(struct fastnet_zc *zc, u32 *buf, dma_addr_t *dma)
{
	u32 b;

	fastnet_zc_reclaim(zc);
	if (zc->free_head == zc->free_tail)
		return false;
	b = zc->free[zc->free_head++ & (zc->ring->slots - 1)];
	/* The CPU may have read it: the device's turn now. */
	if (zc->reg->dma_dev)
		dma_sync_single_for_device(zc->reg->dma_dev, zc->dma[b],
					   zc->ring->slot_size,
					   DMA_FROM_DEVICE);
	*buf = b;
	*dma = zc->dma[b];
	return true;
}
EXPORT_SYMBOL_GPL(fastnet_zc_arm);

/*
 * The session's filter on a frame in a slot (or still in the driver's
 * buffer), from its Ethernet header: its snap length, at most @len; 0
 * rejects it. fastnet_bpf_run(), as there is no skb: FASTNET_SET_FILTER and
 * FASTNET_BIND let no program that needs one reach a zero-copy session.
 */
static unsigned int fastnet_zc_filter(struct fastnet_zc *zc, const u8 *frame,
				      unsigned int len)
{
	struct fastnet_filter *filter;
	unsigned int snap = len;

	rcu_read_lock();
	filter = rcu_dereference(zc->fdev->filter);
	if (filter)
		snap = min(fastnet_bpf_run(filter->insns, frame, len), len);
	rcu_read_unlock();
	return snap;
}

/*
 * A frame up the stack as a copy in an skb of its own, from the driver's
 * NAPI poll (or, when the driver empties its ring with NAPI disabled, from
 * process context, where netif_rx() takes it); with no memory the frame is
 * dropped, as a driver with no skb drops it.
 */
static void fastnet_zc_up(struct fastnet_zc *zc, const void *data,
			  unsigned int len)
{
	struct net_device *dev = zc->dev;
	struct sk_buff *skb;

	if (len < ETH_HLEN)
		return;
	skb = netdev_alloc_skb_ip_align(dev, len);
	if (!skb) {
		dev_core_stats_rx_dropped_inc(dev);
		return;
	}
	skb_put_data(skb, data, len);
	skb->protocol = eth_type_trans(skb, dev);
	if (in_serving_softirq())
		netif_receive_skb(skb);
	else
		netif_rx(skb);
}

/*
 * FASTNET_BIND_PASS: a frame the filter rejected goes on up the stack. Meant
 * for the little control traffic (ARP, ICMP) a device must keep answering.
 */
static void fastnet_zc_pass(struct fastnet_zc *zc, const void *data,
			    unsigned int len)
{
	if (zc->fdev->flags & FASTNET_BIND_PASS)
		fastnet_zc_up(zc, data, len);
}

struct page *fastnet_zc_buf_page(struct fastnet_zc *zc, u32 buf,
				 unsigned int *offset)
{
	return fastnet_ring_slot_page(zc->ring, buf, offset);
}
EXPORT_SYMBOL_GPL(fastnet_zc_buf_page);

/* The kernel address of buffer @buf: a slot, physically contiguous. */
static u8 *fastnet_zc_buf_addr(struct fastnet_zc *zc, u32 buf)
{
	unsigned int off;
	struct page *page = fastnet_ring_slot_page(zc->ring, buf, &off);

	return page_address(page) + off;
}

/*
 * Publishes buffer @buf, holding a frame of @len bytes of which user space
 * gets @snap (the filter's snap length), at the producer.
 */
static void fastnet_zc_publish(struct fastnet_zc *zc, u32 buf, unsigned int len,
			       unsigned int snap)
{
	struct fastnet_ring *ring = zc->ring;
	u32 mask = ring->slots - 1;
	struct fastnet_slot *desc;
	u32 prod = ring->prod;

	/*
	 * Room at prod: indices [reclaimed, prod) hold distinct buffers and
	 * buf is none of them, so fewer than slots are taken.
	 */
	desc = &ring->desc[prod & mask];
	desc->timestamp_ns = ktime_get_real_ns();
	desc->data_offset = ring->ctrl_size + (size_t)buf * ring->slot_size;
	desc->len = snap;
	desc->orig_len = len;
	desc->status = FASTNET_SLOT_READY;
	desc->flags = snap < len ? FASTNET_PKT_TRUNC : 0;
	desc->reserved = 0;
	zc->owner[prod & mask] = buf;

	WRITE_ONCE(ring->prod, prod + 1);
	/* Frame and descriptor are written before the index says so. */
	smp_store_release(&ring->hdr->producer, prod + 1);
	zc->published = true;
	fastnet_count(zc->fdev, len, FASTNET_DELIVERED, snap);
}

void fastnet_zc_receive(struct fastnet_zc *zc, u32 buf, unsigned int len,
			unsigned int flags)
{
	struct fastnet_ring *ring = zc->ring;
	unsigned int snap;

	if (WARN_ON_ONCE(buf >= ring->slots))
		return;
	if (unlikely(READ_ONCE(zc->hand_up))) {
		if (!flags && len <= ring->slot_size) {
			if (zc->reg->dma_dev)
				dma_sync_single_for_cpu(zc->reg->dma_dev,
							zc->dma[buf], len,
							DMA_FROM_DEVICE);
			fastnet_zc_up(zc, fastnet_zc_buf_addr(zc, buf), len);
		}
		zc->free[zc->free_tail++ & (ring->slots - 1)] = buf;
		return;
	}
	if (unlikely(flags || !len || len > ring->slot_size)) {
		zc->free[zc->free_tail++ & (ring->slots - 1)] = buf;
		fastnet_count(zc->fdev, len, FASTNET_DROPPED, 0);
		return;
	}
	if (zc->reg->dma_dev)
		dma_sync_single_for_cpu(zc->reg->dma_dev, zc->dma[buf], len,
					DMA_FROM_DEVICE);
	snap = fastnet_zc_filter(zc, fastnet_zc_buf_addr(zc, buf), len);
	if (!snap) {
		/* Never published: copied if asked, then back to the NIC. */
		fastnet_zc_pass(zc, fastnet_zc_buf_addr(zc, buf), len);
		zc->free[zc->free_tail++ & (ring->slots - 1)] = buf;
		fastnet_count(zc->fdev, len, FASTNET_FILTERED, 0);
		return;
	}
	fastnet_zc_publish(zc, buf, len, snap);
}
EXPORT_SYMBOL_GPL(fastnet_zc_receive);

bool fastnet_zc_copy_room(struct fastnet_zc *zc)
{
	if (READ_ONCE(zc->hand_up))
		return true;
	fastnet_zc_reclaim(zc);
	return zc->free_head != zc->free_tail;
}
EXPORT_SYMBOL_GPL(fastnet_zc_copy_room);

void fastnet_zc_receive_copy(struct fastnet_zc *zc, const void *data,
			     unsigned int len, unsigned int flags)
{
	struct fastnet_ring *ring = zc->ring;
	unsigned int snap;
	u32 b;

	if (unlikely(READ_ONCE(zc->hand_up))) {
		if (!flags && len <= ring->slot_size)
			fastnet_zc_up(zc, data, len);
		return;
	}
	if (unlikely(flags || !len || len > ring->slot_size)) {
		fastnet_count(zc->fdev, len, FASTNET_DROPPED, 0);
		return;
	}
	/* Filtered in the driver's buffer: a rejected frame takes no slot. */
	snap = fastnet_zc_filter(zc, data, len);
	if (!snap) {
		fastnet_zc_pass(zc, data, len);
		fastnet_count(zc->fdev, len, FASTNET_FILTERED, 0);
		return;
	}
	if (unlikely(!fastnet_zc_copy_room(zc))) {
		fastnet_count(zc->fdev, len, FASTNET_DROPPED, 0);
		return;
	}
	b = zc->free[zc->free_head++ & (ring->slots - 1)];
	/* A free slot: neither the NIC nor user space has it. */
	memcpy(fastnet_zc_buf_addr(zc, b), data, len);
	fastnet_zc_publish(zc, b, len, snap);
}
EXPORT_SYMBOL_GPL(fastnet_zc_receive_copy);

void fastnet_zc_release(struct fastnet_zc *zc, u32 buf)
{
	struct fastnet_ring *ring = zc->ring;

	/* More free buffers than slots: the driver released one twice. */
	if (WARN_ON_ONCE(buf >= ring->slots ||
			 zc->free_tail - zc->free_head >= ring->slots))
		return;
	zc->free[zc->free_tail++ & (ring->slots - 1)] = buf;
}
EXPORT_SYMBOL_GPL(fastnet_zc_release);

void fastnet_zc_receive_done(struct fastnet_zc *zc)
{
	wait_queue_head_t *wq = zc->fdev->wq;

	if (!zc->published)
		return;
	zc->published = false;
	/* FASTNET_BIND_BATCH: announced as the copy ring's, by the ms or half full. */
	if (zc->ring->batch) {
		fastnet_ring_notify(zc->ring);
		return;
	}
	/* Full barrier inside: pairs with the one after poll_wait(). */
	if (wq_has_sleeper(wq))
		wake_up_interruptible_poll(wq, EPOLLIN | EPOLLRDNORM);
}
EXPORT_SYMBOL_GPL(fastnet_zc_receive_done);

static void fastnet_zc_unmap(struct fastnet_zc *zc, u32 count)
{
	u32 b;

	if (!zc->reg->dma_dev)
		return;
	for (b = 0; b < count; b++)
		dma_unmap_page(zc->reg->dma_dev, zc->dma[b],
			       zc->ring->slot_size, DMA_FROM_DEVICE);
}

static int fastnet_zc_map(struct fastnet_zc *zc)
{
	struct fastnet_ring *ring = zc->ring;
	unsigned int off;
	struct page *page;
	u32 b;

	if (!zc->reg->dma_dev)
		return 0;
	for (b = 0; b < ring->slots; b++) {
		page = fastnet_ring_slot_page(ring, b, &off);
		zc->dma[b] = dma_map_page(zc->reg->dma_dev, page, off,
					  ring->slot_size, DMA_FROM_DEVICE);
		if (dma_mapping_error(zc->reg->dma_dev, zc->dma[b])) {
			fastnet_zc_unmap(zc, b);
			return -ENOMEM;
		}
	}
	return 0;
}

void fastnet_zc_free(struct fastnet_zc *zc)
{
	if (!zc)
		return;
	kvfree(zc->free);
	kvfree(zc->owner);
	kvfree(zc->dma);
	kfree(zc);
}

/*
 * Mode ZEROCOPY on @dev: maps every slot and lets the driver restart RX on
 * them. -EOPNOTSUPP when its driver registered no operations.
 */
int fastnet_zc_attach(struct fastnet_dev *fdev, struct net_device *dev)
{
	struct fastnet_ring *ring = fdev->ring;
	struct fastnet_zc_reg *reg;
	struct fastnet_zc *zc;
	u32 b;
	int ret;

	ASSERT_RTNL();
	reg = fastnet_zc_find(dev);
	if (!reg)
		return -EOPNOTSUPP;
	if (reg->zc)
		return -EBUSY;

	zc = kzalloc(sizeof(*zc), GFP_KERNEL_ACCOUNT);
	if (!zc)
		return -ENOMEM;
	zc->fdev = fdev;
	zc->ring = ring;
	zc->reg = reg;
	zc->dev = dev;
	zc->dma = kvcalloc(ring->slots, sizeof(*zc->dma), GFP_KERNEL_ACCOUNT);
	zc->owner = kvcalloc(ring->slots, sizeof(u32), GFP_KERNEL_ACCOUNT);
	zc->free = kvcalloc(ring->slots, sizeof(u32), GFP_KERNEL_ACCOUNT);
	ret = -ENOMEM;
	if (!zc->dma || !zc->owner || !zc->free)
		goto err_free;
	for (b = 0; b < ring->slots; b++)
		zc->free[b] = b;
	zc->free_tail = ring->slots;
	zc->reclaimed = ring->prod;

	ret = fastnet_zc_map(zc);
	if (ret)
		goto err_free;
	zc->missed_base = reg->ops->missed(dev);
	fdev->zc = zc;
	reg->zc = zc;
	WRITE_ONCE(zc->active, true);
	ret = reg->ops->enter(dev, zc);
	if (ret)
		goto err_active;
	return 0;

err_active:
	WRITE_ONCE(zc->active, false);
	synchronize_net();
	reg->zc = NULL;
	fdev->zc = NULL;
	fastnet_zc_unmap(zc, ring->slots);
err_free:
	fastnet_zc_free(zc);
	return ret;
}

/*
 * Back to the driver's own buffers (close, device removal): after leave()
 * the NIC holds none of ours, so the mappings can go. The zone stays
 * mapped in user space with what it received.
 */
void fastnet_zc_detach(struct fastnet_dev *fdev)
{
	struct fastnet_zc *zc = fdev->zc;
	u32 held;

	ASSERT_RTNL();
	if (!zc || !zc->active)
		return;
	zc->missed = zc->reg->ops->missed(zc->dev) - zc->missed_base;
	/*
	 * Nobody reads the ring any more: from the next frame on, what the
	 * NIC completes goes up the stack as a copy and its buffer is free
	 * again, to be armed until leave() (the NIC keeps receiving).
	 */
	WRITE_ONCE(zc->hand_up, true);
	/* Readers that see active false read the frozen count. */
	smp_store_release(&zc->active, false);
	/* No fastnet_zc_kick() or _missed() is still calling the driver. */
	synchronize_net();
	zc->reg->ops->leave(zc->dev);
	/* Every buffer is free or user space's: the driver lost none. */
	held = zc->free_tail - zc->free_head + fastnet_zc_published(zc);
	WARN_ONCE(held != zc->ring->slots, "%s: %u of %u zero-copy buffers lost\n",
		  zc->dev->name, zc->ring->slots - held, zc->ring->slots);
	fastnet_zc_unmap(zc, zc->ring->slots);
	zc->reg->zc = NULL;
}

/* poll(): buffers user space handed back go back to the NIC. */
void fastnet_zc_kick(struct fastnet_zc *zc)
{
	rcu_read_lock();
	if (READ_ONCE(zc->active) &&
	    READ_ONCE(zc->ring->hdr->consumer) != READ_ONCE(zc->reclaimed))
		zc->reg->ops->kick(zc->dev);
	rcu_read_unlock();
}

/*
 * Frames the NIC missed for lack of a buffer since entry. No RTNL: a
 * statistics loop must not contend with every `ip` command; detach waits
 * for this reader (synchronize_net()) before leave().
 */
u64 fastnet_zc_missed(struct fastnet_zc *zc)
{
	u64 missed;

	rcu_read_lock();
	/* Pairs with detach's store-release: inactive means missed is final. */
	if (smp_load_acquire(&zc->active))
		missed = zc->reg->ops->missed(zc->dev) - zc->missed_base;
	else
		missed = zc->missed;
	rcu_read_unlock();
	return missed;
}
