// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net glue for fastnet's zero-copy receive (fastnet_zc.h), built into
 * the project's virtio_net.ko: virtio-zc.patch adds the hooks and includes
 * this file at the end of virtio_net.c, whose struct virtnet_info and
 * receive helpers are the driver's own. While vi->zc is set, try_fill_recv()
 * gives receive queue 0 fastnet's slots instead of page fragments; each is
 * one buffer of two pieces of the slot, the virtio-net header into its last
 * bytes and the frame from its start, so the frame lands where user space
 * reads it and nothing else is allocated. The vring maps each buffer as it
 * is added (through the IOMMU with iommu_platform), so fastnet maps nothing.
 *
 * Entering and leaving reset receive queue 0 alone, so the link, the
 * transmit queue and the device stay up: every buffer the queue holds goes
 * back to its owner (virtnet_rq_free_unused_buf()), and it is refilled for
 * the new one. Linux 6.1 has no virtqueue_reset(); virtqueue_resize() (with
 * VIRTIO_F_RING_RESET) resets a queue, but only to change its size, so the
 * switch resizes it to half and back.
 */
#include "fastnet_zc.h"

/* Tokens of fastnet's buffers are odd; the driver's are addresses. */
static void *virtnet_zc_token(u32 buf)
{
	return (void *)(((unsigned long)buf << 1) | 1);
}

static bool virtnet_zc_is_token(const void *token)
{
	return (unsigned long)token & 1;
}

static u32 virtnet_zc_buf(const void *token)
{
	return (unsigned long)token >> 1;
}

/* @len bytes of buffer @buf from @offset into it, as one scatterlist entry. */
static void virtnet_zc_sg(struct virtnet_info *vi, struct scatterlist *sg,
			  u32 buf, unsigned int offset, unsigned int len)
{
	unsigned int off;
	struct page *page = fastnet_zc_buf_page(vi->zc, buf, &off);

	off += offset;
	sg_set_page(sg, page + (off >> PAGE_SHIFT), len, off & ~PAGE_MASK);
}

static int virtnet_zc_add_recvbuf(struct virtnet_info *vi,
				  struct receive_queue *rq, gfp_t gfp)
{
	unsigned int size = fastnet_zc_buf_size(vi->zc);
	dma_addr_t dma;
	u32 buf;
	int err;

	/* All the others are user space's: the poll refills when they come back. */
	if (!fastnet_zc_arm(vi->zc, &buf, &dma))
		return -ENOSPC;
	sg_init_table(rq->sg, 2);
	virtnet_zc_sg(vi, &rq->sg[0], buf, size - vi->hdr_len, vi->hdr_len);
	virtnet_zc_sg(vi, &rq->sg[1], buf, 0, size - vi->hdr_len);
	err = virtqueue_add_inbuf(rq->vq, rq->sg, 2, virtnet_zc_token(buf), gfp);
	if (err < 0)
		fastnet_zc_release(vi->zc, buf);
	return err;
}

/* A buffer queue 0 completed: false if it is not one of fastnet's. */
static bool virtnet_zc_receive(struct virtnet_info *vi, void *token,
			       unsigned int len)
{
	unsigned int size, off, frame = 0, flags = 0;
	struct virtio_net_hdr_mrg_rxbuf *hdr;
	struct page *page;
	u16 buffers = 1;
	u32 buf;

	if (!virtnet_zc_is_token(token))
		return false;
	buf = virtnet_zc_buf(token);
	size = fastnet_zc_buf_size(vi->zc);
	if (len >= vi->hdr_len)
		frame = len - vi->hdr_len;
	if (vi->zc_skip) {
		/* The rest of a frame too long for a slot: no header here. */
		vi->zc_skip--;
		flags = FASTNET_ZC_RX_FRAGMENT;
	} else {
		page = fastnet_zc_buf_page(vi->zc, buf, &off);
		hdr = page_address(page) + off + size - vi->hdr_len;
		if (vi->mergeable_rx_bufs)
			buffers = virtio16_to_cpu(vi->vdev, hdr->num_buffers);
		if (buffers > 1) {
			vi->zc_skip = buffers - 1;
			flags = FASTNET_ZC_RX_FRAGMENT;
		} else if (frame < ETH_HLEN) {
			flags = FASTNET_ZC_RX_ERROR;
		}
	}
	fastnet_zc_receive(vi->zc, buf, frame, flags);
	return true;
}

static void virtnet_zc_receive_done(struct virtnet_info *vi)
{
	if (vi->zc)
		fastnet_zc_receive_done(vi->zc);
}

/* A buffer the queue gave back unused (reset, resize, removal). */
static bool virtnet_zc_free_unused_buf(struct virtnet_info *vi, void *token)
{
	if (!virtnet_zc_is_token(token))
		return false;
	fastnet_zc_release(vi->zc, virtnet_zc_buf(token));
	return true;
}

/*
 * Leaving, NAPI disabled: the frames the device put in fastnet's buffers
 * and NAPI has not taken yet are not lost with the reset: the session is
 * closing, so fastnet sends them up the stack as copies.
 */
static void virtnet_zc_drain(struct virtnet_info *vi, struct receive_queue *rq)
{
	unsigned int len;
	void *token;

	if (!vi->zc)
		return;
	while ((token = virtqueue_get_buf(rq->vq, &len)))
		virtnet_zc_receive(vi, token, len);
	fastnet_zc_receive_done(vi->zc);
}

/*
 * Gives receive queue 0 to @zc, or back to the driver for NULL (RTNL
 * held): resets it, which hands every buffer it holds back to its owner,
 * and refills it for the new one. If the queue could not be reset, it
 * keeps its buffers and owner.
 */
static int virtnet_zc_switch(struct virtnet_info *vi, struct fastnet_zc *zc)
{
	struct receive_queue *rq = &vi->rq[0];
	bool running = netif_running(vi->dev);
	u32 num = virtqueue_get_vring_size(rq->vq);
	int err;

	if (running)
		napi_disable(&rq->napi);
	/* Frames the device completed before the reset are not lost with it. */
	virtnet_zc_drain(vi, rq);
	err = virtqueue_resize(rq->vq, num / 2, virtnet_rq_free_unused_buf);
	if (!err)
		err = virtqueue_resize(rq->vq, num, virtnet_rq_free_unused_buf);
	/* Empty: it was reset, whatever the second size's allocation did. */
	if (rq->vq->num_free == virtqueue_get_vring_size(rq->vq) &&
	    (!err || !zc)) {
		vi->zc = zc;
		vi->zc_skip = 0;
	}
	if (err)
		netdev_err(vi->dev, "[ERROR] fastnet zero-copy: resetting the receive queue: %d\n",
			   err);
	if (!try_fill_recv(vi, rq, GFP_KERNEL))
		schedule_delayed_work(&vi->refill, 0);
	if (running)
		virtnet_napi_enable(rq->vq, &rq->napi);
	return err;
}

static int virtnet_zc_refuse(struct virtnet_info *vi, const char *why)
{
	netdev_info(vi->dev, "[ERROR] fastnet zero-copy: %s\n", why);
	return -EOPNOTSUPP;
}

static int virtnet_zc_enter(struct net_device *dev, struct fastnet_zc *zc)
{
	struct virtnet_info *vi = netdev_priv(dev);

	if (!virtio_has_feature(vi->vdev, VIRTIO_F_RING_RESET))
		return virtnet_zc_refuse(vi, "the device cannot reset a queue (no VIRTIO_F_RING_RESET)");
	if (!vi->mergeable_rx_bufs && vi->big_packets)
		return virtnet_zc_refuse(vi, "big-packet mode (guest GSO without mergeable buffers)");
	if (vi->guest_offloads & GUEST_OFFLOAD_GRO_HW_MASK)
		return virtnet_zc_refuse(vi, "the host coalesces frames (rx-gro-hw): turn it off with ethtool -K");
	if (vi->xdp_enabled)
		return virtnet_zc_refuse(vi, "an XDP program is attached");
	if (vi->curr_queue_pairs > 1)
		return virtnet_zc_refuse(vi, "more than one queue pair: ethtool -L combined 1");
	/* A slot (2048 bytes at least) takes a standard frame and the header. */
	if (dev->mtu > ETH_DATA_LEN)
		return virtnet_zc_refuse(vi, "an MTU above 1500");
	return virtnet_zc_switch(vi, zc);
}

static void virtnet_zc_leave(struct net_device *dev)
{
	struct virtnet_info *vi = netdev_priv(dev);

	virtnet_zc_switch(vi, NULL);
	/* Entering checked VIRTIO_F_RING_RESET: the reset cannot fail. */
	WARN_ON(vi->zc);
}

static void virtnet_zc_kick(struct net_device *dev)
{
	struct virtnet_info *vi = netdev_priv(dev);

	/* A no-op while NAPI is disabled (device down or switching). */
	local_bh_disable();
	virtqueue_napi_schedule(&vi->rq[0].napi, vi->rq[0].vq);
	local_bh_enable();
}

/* virtio-net counts no frame it had no buffer for: the host keeps it. */
static u64 virtnet_zc_missed(struct net_device *dev)
{
	return 0;
}

static const struct fastnet_zc_ops virtnet_zc_ops = {
	.enter = virtnet_zc_enter,
	.leave = virtnet_zc_leave,
	.kick = virtnet_zc_kick,
	.missed = virtnet_zc_missed,
};

static void virtnet_zc_register(struct virtnet_info *vi)
{
	/* No DMA device: the vring maps what it is given. */
	int ret = fastnet_zc_register(vi->dev, NULL, &virtnet_zc_ops);

	if (ret)
		netdev_warn(vi->dev, "fastnet zero-copy unavailable: %d\n", ret);
}

static void virtnet_zc_unregister(struct virtnet_info *vi)
{
	fastnet_zc_unregister(vi->dev);
}
