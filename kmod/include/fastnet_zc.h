/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Zero-copy receive between fastnet and a NIC driver (kernel only).
 *
 * A driver that can receive straight into fastnet's ring fills in a
 * struct fastnet_zc_ops and registers it for its net_device after
 * register_netdev() (fastnet_zc_register), unregistering it after
 * unregister_netdev(). fastnet owns every decision about the ring: which
 * buffer the NIC gets next, the DMA mappings, descriptors and counters. The
 * driver only puts the buffers fastnet_zc_arm() hands it into its hardware
 * ring and reports each completed one with fastnet_zc_receive().
 *
 * A buffer is a ring slot, named by its number; the NIC never holds one that
 * user space owns.
 */
#ifndef _FASTNET_ZC_H
#define _FASTNET_ZC_H

#include <linux/device.h>
#include <linux/netdevice.h>
#include <linux/types.h>

/* A session's zero-copy ring; opaque to drivers. */
struct fastnet_zc;

struct fastnet_zc_ops {
	/*
	 * RTNL held. Quiesce RX, give the hardware ring buffers from
	 * fastnet_zc_arm() (now and at every refill, also after the device
	 * goes down and up) and restart. 0 or a negative errno.
	 */
	int (*enter)(struct net_device *dev, struct fastnet_zc *zc);
	/*
	 * RTNL held. Back to the driver's own buffers: on return the NIC
	 * holds no zero-copy buffer and no fastnet_zc_* call is running or
	 * will be made for @dev. It may keep RX running meanwhile: the
	 * session is gone, so the frames the NIC completes in fastnet's
	 * buffers (and in the driver's, through fastnet_zc_receive_copy())
	 * now go up the stack as copies. A driver that can refill its ring
	 * with its own buffers while RX runs gets every one of fastnet's
	 * back as the NIC fills it, without stopping RX (which costs some
	 * hardware, and QEMU's e1000, a link-length gap).
	 */
	void (*leave)(struct net_device *dev);
	/* Process context: re-arm handed-back buffers soon (schedule NAPI). */
	void (*kick)(struct net_device *dev);
	/*
	 * Frames the NIC dropped for lack of a buffer, since probe. Called
	 * without RTNL, under rcu_read_lock() (so it must not sleep), and
	 * only between enter() and leave().
	 */
	u64 (*missed)(struct net_device *dev);
};

/* fastnet_zc_receive() flags: the frame is dropped and counted. */
#define FASTNET_ZC_RX_ERROR	(1U << 0)	/* the NIC's error bits */
#define FASTNET_ZC_RX_FRAGMENT	(1U << 1)	/* spans several buffers */

/*
 * @dma_dev: the device fastnet maps the slots for, once at entry, handing
 * the driver DMA addresses; NULL for a driver whose queue maps each buffer
 * it is given (virtio's vring), which then takes fastnet_zc_buf_page().
 */
int fastnet_zc_register(struct net_device *dev, struct device *dma_dev,
			const struct fastnet_zc_ops *ops);
void fastnet_zc_unregister(struct net_device *dev);

/*
 * The data path, from the driver's NAPI poll (one poller per device), or
 * while RX is stopped and NAPI disabled (enter(), leave(), a reset).
 */
/* Bytes the NIC may write into a buffer. */
unsigned int fastnet_zc_buf_size(const struct fastnet_zc *zc);
/*
 * The next buffer to arm, or false when user space holds all the others;
 * *dma is 0 for a driver registered without a DMA device.
 */
bool fastnet_zc_arm(struct fastnet_zc *zc, u32 *buf, dma_addr_t *dma);
/* Where buffer @buf is: its page, and the offset in it (contiguous). */
struct page *fastnet_zc_buf_page(struct fastnet_zc *zc, u32 buf,
				 unsigned int *offset);
/*
 * A buffer the NIC completed: published to the ring, or, dropped or
 * rejected by the session's filter, back to the free buffers.
 */
void fastnet_zc_receive(struct fastnet_zc *zc, u32 buf, unsigned int len,
			unsigned int flags);
/*
 * A frame the NIC put in one of the driver's own buffers (before zero-copy
 * began): copied into a free slot and published. Dropped if none is free:
 * a driver asks fastnet_zc_copy_room() first and leaves the frame in its
 * buffer until there is room, as the NIC waits for an armed slot.
 */
bool fastnet_zc_copy_room(struct fastnet_zc *zc);
void fastnet_zc_receive_copy(struct fastnet_zc *zc, const void *data,
			     unsigned int len, unsigned int flags);
/*
 * An armed buffer the NIC will not complete, because the driver empties
 * its ring (down, reset, ring resize, leave()): back to the free buffers,
 * to be armed again. Every path that forgets the hardware ring's contents
 * must hand each armed buffer to fastnet_zc_receive() or here.
 */
void fastnet_zc_release(struct fastnet_zc *zc, u32 buf);
/* After a batch of fastnet_zc_receive(): wakes the ring's readers. */
void fastnet_zc_receive_done(struct fastnet_zc *zc);

#endif /* _FASTNET_ZC_H */
