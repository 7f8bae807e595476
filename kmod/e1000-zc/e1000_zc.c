// SPDX-License-Identifier: GPL-2.0
/*
 * e1000 glue for fastnet's zero-copy receive (fastnet_zc.h), built into the
 * project's e1000.ko beside the driver's own files (e1000-zc.patch adds the
 * hooks). While adapter->zc is set, e1000_configure_rx() picks the two
 * functions below instead of the skb ones, so every path that refills the
 * ring (up, reset, ring resize) arms fastnet's buffers, and
 * e1000_clean_rx_ring() frees nothing of ours: fastnet owns the buffers and
 * their DMA mappings, the driver only passes them to the hardware.
 */

#include <linux/netdevice.h>

#include "e1000.h"
#include "fastnet_zc.h"

/* The descriptors of the largest ring ethtool may set. */
#define E1000_ZC_MAX_RXD	E1000_MAX_82544_RXD

void e1000_zc_alloc_rx_buffers(struct e1000_adapter *adapter,
			       struct e1000_rx_ring *rx_ring, int cleaned_count)
{
	struct e1000_hw *hw = &adapter->hw;
	unsigned int i = rx_ring->next_to_use;
	struct e1000_rx_desc *rx_desc;
	dma_addr_t dma;
	u32 buf;

	while (cleaned_count-- > 0) {
		if (!fastnet_zc_arm(adapter->zc, &buf, &dma))
			break;
		adapter->zc_buf[i] = buf;
		rx_desc = E1000_RX_DESC(*rx_ring, i);
		rx_desc->buffer_addr = cpu_to_le64(dma);
		if (++i == rx_ring->count)
			i = 0;
	}
	if (rx_ring->next_to_use == i)
		return;
	rx_ring->next_to_use = i;
	/* The tail names the last descriptor given, as the driver does. */
	i = (i ? i : rx_ring->count) - 1;
	dma_wmb();
	writel(i, hw->hw_addr + rx_ring->rdt);
}

/* NAPI: hands each completed buffer to fastnet, then re-arms. */
bool e1000_zc_clean_rx_irq(struct e1000_adapter *adapter,
			   struct e1000_rx_ring *rx_ring,
			   int *work_done, int work_to_do)
{
	unsigned int i = rx_ring->next_to_clean;
	struct e1000_rx_desc *rx_desc = E1000_RX_DESC(*rx_ring, i);
	struct net_device *netdev = adapter->netdev;
	unsigned int flags, len, cleaned = 0;
	u8 status;

	while (rx_desc->status & E1000_RXD_STAT_DD) {
		if (*work_done >= work_to_do)
			break;
		(*work_done)++;
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
		fastnet_zc_receive(adapter->zc, adapter->zc_buf[i], len, flags);

		rx_desc->status = 0;
		cleaned++;
		if (++i == rx_ring->count)
			i = 0;
		rx_desc = E1000_RX_DESC(*rx_ring, i);
	}
	rx_ring->next_to_clean = i;
	if (cleaned)
		fastnet_zc_receive_done(adapter->zc);
	/* Every poll re-arms what user space handed back meanwhile. */
	e1000_zc_alloc_rx_buffers(adapter, rx_ring, E1000_DESC_UNUSED(rx_ring));
	return cleaned > 0;
}

/* Restarts RX with adapter->zc set to @zc (RTNL held). */
static void e1000_zc_switch(struct e1000_adapter *adapter,
			    struct fastnet_zc *zc)
{
	while (test_and_set_bit(__E1000_RESETTING, &adapter->flags))
		usleep_range(1000, 2000);
	if (netif_running(adapter->netdev)) {
		e1000_down(adapter);
		adapter->zc = zc;
		e1000_up(adapter);
	} else {
		adapter->zc = zc;
	}
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
	e1000_zc_switch(adapter, zc);
	return 0;
}

static void e1000_zc_leave(struct net_device *netdev)
{
	struct e1000_adapter *adapter = netdev_priv(netdev);

	/* e1000_down() stops the NIC and forgets our buffers: none stays armed. */
	e1000_zc_switch(adapter, NULL);
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
