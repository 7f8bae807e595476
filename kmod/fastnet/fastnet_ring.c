// SPDX-License-Identifier: GPL-2.0
/*
 * fastnet's mmap ring: the zone's memory, its mapping into user space, and
 * the producer side of the slot protocol described in uapi/fastnet.h.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>

#include "fastnet.h"

static void fastnet_ring_free_data(struct fastnet_ring *ring)
{
	unsigned int i;

	for (i = 0; i < ring->data_npages; i++)
		if (ring->data_pages[i])
			__free_page(ring->data_pages[i]);
	kvfree(ring->data_pages);
}

/* Blocks of 2^block_order contiguous pages, split into order-0 pages. */
static int fastnet_ring_alloc_data(struct fastnet_ring *ring, size_t size)
{
	unsigned int block_pages = 1U << ring->block_order;
	unsigned int i, j;
	struct page *page;

	ring->data_npages = size >> PAGE_SHIFT;
	ring->data_pages = kvcalloc(ring->data_npages, sizeof(*ring->data_pages),
				    GFP_KERNEL_ACCOUNT);
	if (!ring->data_pages)
		return -ENOMEM;

	for (i = 0; i < ring->data_npages; i += block_pages) {
		/* A ring too big for the memory left is -ENOMEM, no warning. */
		page = alloc_pages(GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN,
				   ring->block_order);
		if (!page) {
			fastnet_ring_free_data(ring);
			return -ENOMEM;
		}
		if (ring->block_order)
			split_page(page, ring->block_order);
		for (j = 0; j < block_pages; j++)
			ring->data_pages[i + j] = page + j;
	}
	return 0;
}

/*
 * How long pollers may wait to hear of a published slot without
 * FASTNET_BIND_BATCH: one wakeup then covers every frame of that time,
 * instead of a wakeup (and, for a consumer quick enough to empty the ring
 * each time, a sleep) per frame. poll() itself still reports every
 * published slot at once. With it, the bind's batch_usecs.
 */
#define FASTNET_WAKE_DELAY_NS	(1 * NSEC_PER_MSEC)

static enum hrtimer_restart fastnet_ring_wake_timer(struct hrtimer *timer)
{
	struct fastnet_ring *ring = container_of(timer, struct fastnet_ring,
						 wake_timer);

	/* Before looking for sleepers: a frame published after this re-arms. */
	clear_bit(0, &ring->wake_armed);
	/* Every frame published before that test_and_set_bit() is announced. */
	smp_mb__after_atomic();
	WRITE_ONCE(ring->announced, READ_ONCE(ring->prod));
	/* Full barrier inside: pairs with the one after poll_wait(). */
	if (wq_has_sleeper(ring->wq))
		wake_up_interruptible_poll(ring->wq, EPOLLIN | EPOLLRDNORM);
	return HRTIMER_NORESTART;
}

/*
 * After a publish: makes sure the pollers are woken within
 * ring->batch_delay, or at once when the ring is half full. The
 * test-and-set is a full barrier, so either it arms the timer or the timer
 * it found armed clears the bit, and then looks for sleepers, after this
 * publish: no slot is left unannounced.
 *
 * With FASTNET_BIND_BATCH the half-full path arms the timer too: two
 * CPUs (or a CPU and the timer) storing `announced` may leave the older
 * value last, and the timer's later store then announces the newer frames.
 */
void fastnet_ring_notify(struct fastnet_ring *ring)
{
	u32 pending = READ_ONCE(ring->prod) - READ_ONCE(ring->hdr->consumer);

	if (pending >= ring->slots / 2) {
		WRITE_ONCE(ring->announced, READ_ONCE(ring->prod));
		if (wq_has_sleeper(ring->wq))
			wake_up_interruptible_poll(ring->wq,
						   EPOLLIN | EPOLLRDNORM);
		if (!ring->batch)
			return;
	}
	if (!test_and_set_bit(0, &ring->wake_armed))
		hrtimer_start(&ring->wake_timer, ring->batch_delay,
			      HRTIMER_MODE_REL);
}

struct fastnet_ring *fastnet_ring_create(u32 slots, u32 slot_size, u32 mode,
					 u32 flags, u32 batch_usecs,
					 wait_queue_head_t *wq)
{
	size_t block = max_t(size_t, slot_size, PAGE_SIZE);
	size_t data_size = ALIGN((size_t)slots * slot_size, block);
	struct fastnet_ring_header *hdr;
	struct fastnet_ring *ring;
	int ret;

	ring = kzalloc(sizeof(*ring), GFP_KERNEL_ACCOUNT);
	if (!ring)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&ring->lock);
	ring->wq = wq;
	hrtimer_init(&ring->wake_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	ring->wake_timer.function = fastnet_ring_wake_timer;
	ring->slots = slots;
	ring->slot_size = slot_size;
	ring->batch = flags & FASTNET_BIND_BATCH;
	ring->batch_delay = ns_to_ktime(ring->batch ?
					(u64)batch_usecs * NSEC_PER_USEC :
					FASTNET_WAKE_DELAY_NS);
	ring->block_order = get_order(block);
	ring->ctrl_size = PAGE_SIZE +
		PAGE_ALIGN((size_t)slots * sizeof(struct fastnet_slot));

	ret = fastnet_ring_alloc_data(ring, data_size);
	if (ret)
		goto err_ring;

	/* Zeroed, so nothing stale is ever mapped. */
	ring->hdr = vmalloc_user(ring->ctrl_size);
	if (!ring->hdr) {
		ret = -ENOMEM;
		goto err_data;
	}
	ring->desc = (void *)ring->hdr + PAGE_SIZE;
	ring->zone_size = ring->ctrl_size + data_size;

	hdr = ring->hdr;
	hdr->magic = FASTNET_RING_MAGIC;
	hdr->version = FASTNET_RING_VERSION;
	hdr->slots = slots;
	hdr->slot_size = slot_size;
	hdr->desc_offset = PAGE_SIZE;
	hdr->data_offset = ring->ctrl_size;
	hdr->zone_size = ring->zone_size;
	hdr->mode = mode;
	hdr->flags = flags;
	return ring;

err_data:
	fastnet_ring_free_data(ring);
err_ring:
	kfree(ring);
	return ERR_PTR(ret);
}

/* No producer is left (the handler is unregistered): only the timer. */
void fastnet_ring_destroy(struct fastnet_ring *ring)
{
	hrtimer_cancel(&ring->wake_timer);
	vfree(ring->hdr);
	fastnet_ring_free_data(ring);
	kfree(ring);
}

void fastnet_ring_info(struct fastnet_ring *ring, struct fastnet_ring_info *info)
{
	memset(info, 0, sizeof(*info));
	info->zone_size = ring->zone_size;
	info->desc_offset = PAGE_SIZE;
	info->data_offset = ring->ctrl_size;
	info->slots = ring->slots;
	info->slot_size = ring->slot_size;
}

/* The first page of a slot and the slot's offset in it. */
struct page *fastnet_ring_slot_page(struct fastnet_ring *ring, u32 slot,
				    unsigned int *offset)
{
	size_t pos = (size_t)slot * ring->slot_size;

	*offset = offset_in_page(pos);
	return ring->data_pages[pos >> PAGE_SHIFT];
}

/*
 * The whole zone or nothing, shared. The pages are mapped now, once, so the
 * consumer never faults on the hot path.
 */
int fastnet_ring_mmap(struct fastnet_ring *ring, struct vm_area_struct *vma)
{
	unsigned long addr = vma->vm_start;
	unsigned long num;
	size_t off;
	int ret;

	/* A private copy of the ring would never see a new frame. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != ring->zone_size)
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	vma->vm_flags &= ~VM_MAYEXEC;
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;

	for (off = 0; off < ring->ctrl_size; off += PAGE_SIZE) {
		ret = vm_insert_page(vma, addr,
				     vmalloc_to_page((void *)ring->hdr + off));
		if (ret)
			return ret;
		addr += PAGE_SIZE;
	}
	num = ring->data_npages;
	return vm_insert_pages(vma, addr, ring->data_pages, &num);
}

/*
 * Copies one frame of @len bytes (offset: where it starts relative to
 * skb->data, <= 0 to include the MAC header) into the next free slot, at
 * most @snap bytes of it (the filter's snap length) and at most a slot,
 * and publishes it. Returns -ENOBUFS when user space has not handed back a
 * free slot.
 */
int fastnet_ring_produce(struct fastnet_ring *ring, const struct sk_buff *skb,
			 int offset, unsigned int len, unsigned int snap,
			 unsigned int *copied)
{
	struct fastnet_slot *desc;
	unsigned int n, page_off;
	struct page *page;
	u32 prod, cons, slot;
	int ret;

	spin_lock(&ring->lock);
	prod = ring->prod;
	/* Pairs with user space's store-release: it is done with the slot. */
	cons = smp_load_acquire(&ring->hdr->consumer);
	/* Also true of any consumer value user space could make up. */
	if (prod - cons >= ring->slots) {
		ret = -ENOBUFS;
		goto out;
	}

	slot = prod & (ring->slots - 1);
	n = min3(len, snap, ring->slot_size);
	page = fastnet_ring_slot_page(ring, slot, &page_off);
	ret = skb_copy_bits(skb, offset, page_address(page) + page_off, n);
	if (ret)
		goto out;

	desc = &ring->desc[slot];
	desc->timestamp_ns = fastnet_rx_time(skb);
	desc->data_offset = ring->ctrl_size + (size_t)slot * ring->slot_size;
	desc->len = n;
	desc->orig_len = len;
	desc->status = FASTNET_SLOT_READY;
	desc->flags = n < len ? FASTNET_PKT_TRUNC : 0;
	desc->reserved = 0;

	WRITE_ONCE(ring->prod, prod + 1);
	/* Slot and descriptor are written before the index says so. */
	smp_store_release(&ring->hdr->producer, prod + 1);
	*copied = n;
out:
	spin_unlock(&ring->lock);
	return ret;
}

bool fastnet_ring_pending(struct fastnet_ring *ring)
{
	return READ_ONCE(ring->prod) != READ_ONCE(ring->hdr->consumer);
}

/* poll(): any pending frame, or with FASTNET_BIND_BATCH an announced one. */
bool fastnet_ring_readable(struct fastnet_ring *ring)
{
	if (!ring->batch)
		return fastnet_ring_pending(ring);
	return (s32)(READ_ONCE(ring->announced) -
		     READ_ONCE(ring->hdr->consumer)) > 0;
}
