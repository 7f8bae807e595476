// SPDX-License-Identifier: GPL-2.0
/*
 * e1000 glue for fastnet's zero-copy receive (fastnet_zc.h), built into the
 * project's e1000.ko beside the driver's own files (e1000-zc.patch adds the
 * hooks). While adapter->zc is set, e1000_configure_rx() picks the two
 * functions below instead of the skb ones, so every path that refills the
 * ring (up, reset, ring resize) arms fastnet's buffers, and
 * e1000_clean_rx_ring(), which every path that empties the ring goes
 * through (down, reset, resize, self-test, suspend), hands them back with
 * e1000_zc_clean_rx_ring(): fastnet owns the buffers and their DMA
 * mappings, the driver only passes them to the hardware.
 *
 * Neither entering nor leaving resets the NIC: a reset renegotiates the
 * link, and the frames of the next second or so are lost (0.5 to 0.9 s of
 * host frames measured under QEMU). Nor do they stop RX (QEMU's e1000 takes
 * no frame for 1 s after any RCTL write). Entering: the descriptors the NIC
 * holds keep the driver's buffers until it fills them, and each such frame
 * is copied into a slot. Leaving, the other way round: refills get the
 * driver's buffers, and each frame the NIC puts in a slot it still holds
 * goes up the stack as a copy, until it holds none. Only when traffic is
 * too slow to fill them soon does leaving stop RX to take them back at once.
 */
#include <linux/netdevice.h>

#include "e1000.h"
#include "fastnet_zc.h"

/* The descriptors of the largest ring ethtool may set. */
#define E1000_ZC_MAX_RXD	E1000_MAX_82544_RXD
/* zc_buf[] of a descriptor that holds one of the driver's own buffers. */
#define E1000_ZC_DRIVER_BUF	U32_MAX
/*
 * How long leaving waits for the NIC to fill the slots it holds, RTNL held:
 * 256 descriptors (the default ring) take 51 ms at 5,000 frames a second.
 * It gives up sooner when no frame came for E1000_ZC_STALL_MS: traffic that
 * slow loses little to the stop, and an idle close need not wait.
 */
#define E1000_ZC_DRAIN_MS	200
#define E1000_ZC_STALL_MS	20

/* Unmaps and frees a driver buffer left in the ring from before zero-copy. */
static void e1000_zc_free_driver_buf(struct e1000_adapter *adapter,
				     struct e1000_rx_buffer *bi)
{
	if (!bi->rxbuf.data)
		return;
	dma_unmap_single(&adapter->pdev->dev, bi->dma, adapter->rx_buffer_len,
			 DMA_FROM_DEVICE);
	skb_free_frag(bi->rxbuf.data);
	bi->rxbuf.data = NULL;
	bi->dma = 0;
}

void e1000_zc_alloc_rx_buffers(struct e1000_adapter *adapter,
			       struct e1000_rx_ring *rx_ring, int cleaned_count)
{
	struct e1000_hw *hw = &adapter->hw;
	unsigned int i = rx_ring->next_to_use;
	struct e1000_rx_desc *rx_desc;
	unsigned int armed = 0;
	dma_addr_t dma;
	u32 buf;

	/* Leaving: the slots go, the driver's buffers come back. */
	if (adapter->zc_leaving) {
		e1000_alloc_rx_buffers(adapter, rx_ring, cleaned_count);
		return;
	}
	while (cleaned_count-- > 0) {
		if (!fastnet_zc_arm(adapter->zc, &buf, &dma))
			break;
		adapter->zc_buf[i] = buf;
		rx_desc = E1000_RX_DESC(*rx_ring, i);
		rx_desc->buffer_addr = cpu_to_le64(dma);
		armed++;
		if (++i == rx_ring->count)
			i = 0;
	}
	if (rx_ring->next_to_use == i)
		return;
	WRITE_ONCE(adapter->zc_armed, adapter->zc_armed + armed);
	rx_ring->next_to_use = i;
	/* The tail names the last descriptor given, as the driver does. */
	i = (i ? i : rx_ring->count) - 1;
	dma_wmb();
	writel(i, hw->hw_addr + rx_ring->rdt);
}

/* Hands the buffers of up to @budget completed descriptors to fastnet. */
static unsigned int e1000_zc_complete(struct e1000_adapter *adapter,
				      struct e1000_rx_ring *rx_ring,
				      unsigned int budget)
{
	unsigned int i = rx_ring->next_to_clean;
	struct e1000_rx_desc *rx_desc = E1000_RX_DESC(*rx_ring, i);
	struct net_device *netdev = adapter->netdev;
	unsigned int flags, len, cleaned = 0;
	u8 status;

	while (cleaned < budget && (rx_desc->status & E1000_RXD_STAT_DD)) {
		/* User space holds every slot: the frame waits in its buffer. */
		if (adapter->zc_buf[i] == E1000_ZC_DRIVER_BUF &&
		    !fastnet_zc_copy_room(adapter->zc))
			break;
		dma_rmb(); /* the descriptor after its DD bit */

		status = rx_desc->status;
		len = le16_to_cpu(rx_desc->length);
		flags = 0;
		/* A frame over several buffers is dropped whole, as the driver does. */
		if (!(status & E1000_RXD_STAT_EOP) || adapter->discarding) {
			flags |= FASTNET_ZC_RX_FRAGMENT;
			adapter->discarding = !(status & E1000_RXD_STAT_EOP);
		}
		if (rx_desc->errors & E1000_RXD_ERR_FRAME_ERR_MASK)
			flags |= FASTNET_ZC_RX_ERROR;
		if (!(netdev->features & NETIF_F_RXFCS) && len >= ETH_FCS_LEN)
			len -= ETH_FCS_LEN;
		if (adapter->zc_buf[i] == E1000_ZC_DRIVER_BUF) {
			struct e1000_rx_buffer *bi = &rx_ring->buffer_info[i];

			/* Filled before the switch: copied into a slot. */
			dma_sync_single_for_cpu(&adapter->pdev->dev, bi->dma,
						adapter->rx_buffer_len,
						DMA_FROM_DEVICE);
			if (len > adapter->rx_buffer_len)
				flags |= FASTNET_ZC_RX_ERROR;
			fastnet_zc_receive_copy(adapter->zc, bi->rxbuf.data,
						len, flags);
			e1000_zc_free_driver_buf(adapter, bi);
		} else {
			fastnet_zc_receive(adapter->zc, adapter->zc_buf[i],
					   len, flags);
			WRITE_ONCE(adapter->zc_armed, adapter->zc_armed - 1);
		}
		/* Until a refill arms it again; leaving, for good. */
		adapter->zc_buf[i] = E1000_ZC_DRIVER_BUF;

		rx_desc->status = 0;
		cleaned++;
		if (++i == rx_ring->count)
			i = 0;
		rx_desc = E1000_RX_DESC(*rx_ring, i);
	}
	rx_ring->next_to_clean = i;
	if (cleaned)
		fastnet_zc_receive_done(adapter->zc);
	return cleaned;
}

/* NAPI: hands each completed buffer to fastnet, then re-arms. */
bool e1000_zc_clean_rx_irq(struct e1000_adapter *adapter,
			   struct e1000_rx_ring *rx_ring,
			   int *work_done, int work_to_do)
{
	unsigned int cleaned = 0;

	if (*work_done < work_to_do)
		cleaned = e1000_zc_complete(adapter, rx_ring,
					    work_to_do - *work_done);
	*work_done += cleaned;
	/* Every poll re-arms what user space handed back meanwhile. */
	e1000_zc_alloc_rx_buffers(adapter, rx_ring, E1000_DESC_UNUSED(rx_ring));
	return cleaned > 0;
}

/*
 * From e1000_clean_rx_ring(), with RX stopped and NAPI disabled, before it
 * forgets the ring: what the NIC completed still goes to user space, and
 * every buffer it held unused goes back to fastnet, to be armed again.
 */
void e1000_zc_clean_rx_ring(struct e1000_adapter *adapter,
			    struct e1000_rx_ring *rx_ring)
{
	unsigned int i;

	e1000_zc_complete(adapter, rx_ring, rx_ring->count);
	for (i = rx_ring->next_to_clean; i != rx_ring->next_to_use;) {
		if (adapter->zc_buf[i] != E1000_ZC_DRIVER_BUF)
			fastnet_zc_release(adapter->zc, adapter->zc_buf[i]);
		if (++i == rx_ring->count)
			i = 0;
	}
	rx_ring->next_to_clean = i;
	WRITE_ONCE(adapter->zc_armed, 0);
	/* The driver's buffers still here, armed or kept for reuse. */
	for (i = 0; i < rx_ring->count; i++)
		e1000_zc_free_driver_buf(adapter, &rx_ring->buffer_info[i]);
	adapter->discarding = false;
}

/* Waits for the watchdog's, ethtool's and other resets to be done. */
static void e1000_zc_lock(struct e1000_adapter *adapter)
{
	while (test_and_set_bit(__E1000_RESETTING, &adapter->flags))
		usleep_range(1000, 2000);
}

static void e1000_zc_napi_restart(struct e1000_adapter *adapter)
{
	napi_enable(&adapter->napi);
	/* Interrupts that came while NAPI was off found it disabled. */
	local_bh_disable();
	napi_schedule(&adapter->napi);
	local_bh_enable();
}

/*
 * Into zero-copy with RX running (RTNL held): only the clean and refill
 * functions change, between two NAPI polls. The descriptors the NIC holds
 * keep the driver's buffers until it completes them; those not armed are
 * freed now. A device that is down only records @zc for its next up.
 */
static void e1000_zc_take_over(struct e1000_adapter *adapter,
			       struct fastnet_zc *zc)
{
	struct e1000_rx_ring *rx_ring = &adapter->rx_ring[0];
	unsigned int i;

	e1000_zc_lock(adapter);
	adapter->zc_armed = 0;
	adapter->zc_leaving = false;
	if (!netif_running(adapter->netdev) ||
	    test_bit(__E1000_DOWN, &adapter->flags)) {
		adapter->zc = zc;
		goto out;
	}
	napi_disable(&adapter->napi);
	for (i = 0; i < rx_ring->count; i++)
		adapter->zc_buf[i] = E1000_ZC_DRIVER_BUF;
	/* Kept for reuse (copybreak) but not armed: not needed any more. */
	for (i = rx_ring->next_to_use; i != rx_ring->next_to_clean;) {
		e1000_zc_free_driver_buf(adapter, &rx_ring->buffer_info[i]);
		if (++i == rx_ring->count)
			i = 0;
	}
	adapter->zc = zc;
	adapter->clean_rx = e1000_zc_clean_rx_irq;
	adapter->alloc_rx_buf = e1000_zc_alloc_rx_buffers;
	e1000_zc_napi_restart(adapter);
out:
	clear_bit(__E1000_RESETTING, &adapter->flags);
}

/*
 * Back to the driver's buffers with RX running: NAPI refills the ring with
 * them, and fastnet sends what lands in its slots up the stack, until the
 * NIC holds no slot. True then, with NAPI on the driver's own functions;
 * false, NAPI disabled, if some slot is still armed after E1000_ZC_DRAIN_MS
 * or after E1000_ZC_STALL_MS without a frame.
 */
static bool e1000_zc_drain(struct e1000_adapter *adapter)
{
	struct e1000_rx_ring *rx_ring = &adapter->rx_ring[0];
	unsigned long deadline, moved;
	unsigned int armed, now;

	napi_disable(&adapter->napi);
	adapter->zc_leaving = true;
	e1000_alloc_rx_buffers(adapter, rx_ring, E1000_DESC_UNUSED(rx_ring));
	e1000_zc_napi_restart(adapter);
	moved = jiffies;
	deadline = moved + msecs_to_jiffies(E1000_ZC_DRAIN_MS);
	armed = READ_ONCE(adapter->zc_armed);
	while (armed && time_before(jiffies, deadline) &&
	       time_before(jiffies, moved + msecs_to_jiffies(E1000_ZC_STALL_MS))) {
		usleep_range(1000, 2000);
		now = READ_ONCE(adapter->zc_armed);
		if (now != armed)
			moved = jiffies;
		armed = now;
	}
	napi_disable(&adapter->napi);
	if (adapter->zc_armed)
		return false;
	adapter->clean_rx = e1000_clean_rx_irq;
	adapter->alloc_rx_buf = e1000_alloc_rx_buffers;
	adapter->zc = NULL;
	adapter->zc_leaving = false;
	e1000_zc_napi_restart(adapter);
	return true;
}

/*
 * Back to the driver's buffers (RTNL held), by e1000_zc_drain(); when slots
 * stay armed, RX stops as in e1000_down() (RCTL.EN clear, then time for the
 * receive unit to finish its frame), without the reset: NAPI is off,
 * e1000_clean_rx_ring() hands the slots back, and the ring is set up and
 * refilled with the driver's own buffers.
 */
static void e1000_zc_hand_back(struct e1000_adapter *adapter)
{
	struct e1000_rx_ring *rx_ring = &adapter->rx_ring[0];
	struct e1000_hw *hw = &adapter->hw;

	e1000_zc_lock(adapter);
	if (!netif_running(adapter->netdev) ||
	    test_bit(__E1000_DOWN, &adapter->flags)) {
		/* e1000_down() gave every slot back already. */
		adapter->zc = NULL;
		goto out;
	}
	if (e1000_zc_drain(adapter))
		goto out;
	ew32(RCTL, er32(RCTL) & ~E1000_RCTL_EN);
	E1000_WRITE_FLUSH();
	usleep_range(10000, 11000);
	e1000_clean_rx_ring(adapter, rx_ring);
	adapter->zc = NULL;
	adapter->zc_leaving = false;
	/* Picks the driver's functions and enables RX again. */
	e1000_configure_rx(adapter);
	adapter->alloc_rx_buf(adapter, rx_ring, E1000_DESC_UNUSED(rx_ring));
	e1000_zc_napi_restart(adapter);
out:
	clear_bit(__E1000_RESETTING, &adapter->flags);
}

static int e1000_zc_enter(struct net_device *netdev, struct fastnet_zc *zc)
{
	struct e1000_adapter *adapter = netdev_priv(netdev);

	/* Jumbo receive chains pages; a slot takes one standard frame. */
	if (netdev->mtu > ETH_DATA_LEN ||
	    fastnet_zc_buf_size(zc) < E1000_RXBUFFER_2048)
		return -EOPNOTSUPP;
	adapter->zc_buf = kcalloc(E1000_ZC_MAX_RXD, sizeof(u32), GFP_KERNEL);
	if (!adapter->zc_buf)
		return -ENOMEM;
	e1000_zc_take_over(adapter, zc);
	return 0;
}

static void e1000_zc_leave(struct net_device *netdev)
{
	struct e1000_adapter *adapter = netdev_priv(netdev);

	/* Every armed slot goes back to fastnet (e1000_zc_clean_rx_ring). */
	e1000_zc_hand_back(adapter);
	kfree(adapter->zc_buf);
	adapter->zc_buf = NULL;
}

static void e1000_zc_kick(struct net_device *netdev)
{
	struct e1000_adapter *adapter = netdev_priv(netdev);

	/* A no-op while NAPI is disabled (device down or restarting). */
	local_bh_disable();
	napi_schedule(&adapter->napi);
	local_bh_enable();
}

static u64 e1000_zc_missed(struct net_device *netdev)
{
	struct e1000_adapter *adapter = netdev_priv(netdev);

	/* Folds the clear-on-read registers into adapter->stats first. */
	e1000_update_stats(adapter);
	return adapter->stats.mpc;
}

static const struct fastnet_zc_ops e1000_zc_ops = {
	.enter = e1000_zc_enter,
	.leave = e1000_zc_leave,
	.kick = e1000_zc_kick,
	.missed = e1000_zc_missed,
};

void e1000_zc_register(struct e1000_adapter *adapter)
{
	int ret;

	ret = fastnet_zc_register(adapter->netdev, &adapter->pdev->dev,
				  &e1000_zc_ops);
	if (ret)
		e_err(probe, "no fastnet zero-copy: %d\n", ret);
}

void e1000_zc_unregister(struct e1000_adapter *adapter)
{
	fastnet_zc_unregister(adapter->netdev);
}
