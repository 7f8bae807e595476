// SPDX-License-Identifier: GPL-2.0
/*
 * fastnet: raw packet capture from a net device, faster than the stack.
 *
 * /dev/fastnet is a misc device; each open() is a session that FASTNET_BIND
 * attaches to one Ethernet device in one mode (uapi/fastnet.h). Modes other
 * than NORMAL register an rx_handler whose data is the binding, struct
 * fastnet_dev. A device has at most one session, a session at most one
 * device, for its whole life.
 *
 * Locking: session->bind_lock serializes binds of one session; RTNL
 * protects the list of bound devices and each binding's device pointer, so
 * that bind, close and the netdevice notifier (which runs under RTNL) agree
 * on who detaches. A binding is freed only at release(); the notifier only
 * detaches it and marks it dead.
 *
 * A filter (FASTNET_SET_FILTER) is the session's until bind and the
 * binding's after: session->filter, then fastnet_dev.filter, both written
 * under bind_lock; the data path reads the binding's under RCU.
 *
 * Lock order: bind_lock, then RTNL. mmap() runs under the caller's
 * mmap_lock and takes neither: the binding it maps is published once,
 * complete, by a store-release, and lives until release(). Any lock that
 * mmap() took and bind held across RTNL would close a cycle, because
 * SIOCGIFCONF holds RTNL across a copy_to_user() that faults, which takes
 * the mmap_lock: mmap_lock -> bind_lock -> RTNL -> mmap_lock.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/compat.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/if_arp.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/nsproxy.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <net/net_namespace.h>

#include "fastnet.h"

struct fastnet_session {
	struct mutex bind_lock;		/* one bind at a time; never in mmap */
	struct mutex read_lock;		/* read() and the last frame's info */
	wait_queue_head_t wq;		/* readers and pollers */
	struct fastnet_dev *fdev;	/* set once, by bind; see fastnet_get */
	struct fastnet_slot last;	/* the frame read() returned last */
	struct fastnet_filter *filter;	/* set before bind; bind_lock */
};

/* Every binding whose device is still attached. */
static LIST_HEAD(fastnet_devs);

/* The session's binding, if bound. */
static struct fastnet_dev *fastnet_get(struct fastnet_session *s)
{
	/* Pairs with the store-release in fastnet_bind(). */
	return smp_load_acquire(&s->fdev);
}

/* The binding if bound and its device still there, or an ERR_PTR. */
static struct fastnet_dev *fastnet_get_live(struct fastnet_session *s)
{
	struct fastnet_dev *fdev = fastnet_get(s);

	if (!fdev)
		return ERR_PTR(-ENOTCONN);
	if (READ_ONCE(fdev->dead))
		return ERR_PTR(-ENODEV);
	return fdev;
}

static struct fastnet_dev *fastnet_find(struct net_device *dev)
{
	struct fastnet_dev *fdev;

	ASSERT_RTNL();
	list_for_each_entry(fdev, &fastnet_devs, node)
		if (fdev->dev == dev)
			return fdev;
	return NULL;
}

/*
 * Puts the device back to normal and lets go of it. After
 * netdev_rx_handler_unregister(), which waits for a grace period
 * (synchronize_net()), no handler is running with this binding any more.
 */
static void fastnet_detach(struct fastnet_dev *fdev)
{
	ASSERT_RTNL();
	if (!fdev->dev)
		return;
	if (fdev->mode == FASTNET_MODE_ZEROCOPY)
		fastnet_zc_detach(fdev);
	if (fdev->mode != FASTNET_MODE_NORMAL)
		netdev_rx_handler_unregister(fdev->dev);
	list_del(&fdev->node);
	netdev_put(fdev->dev, &fdev->tracker);
	fdev->dev = NULL;
}

/* No frame is running the filter any more: detached, or never attached. */
static void fastnet_dev_free(struct fastnet_dev *fdev)
{
	fastnet_filter_free(rcu_dereference_protected(fdev->filter, true));
	fastnet_queue_purge(fdev);
	fastnet_zc_free(fdev->zc);
	if (fdev->ring)
		fastnet_ring_destroy(fdev->ring);
	free_percpu(fdev->stats);
	kfree(fdev);
}

static struct fastnet_dev *fastnet_dev_alloc(struct fastnet_session *s,
					     const struct fastnet_bind *req)
{
	struct fastnet_dev *fdev;
	int cpu;

	fdev = kzalloc(sizeof(*fdev), GFP_KERNEL_ACCOUNT);
	if (!fdev)
		return ERR_PTR(-ENOMEM);
	INIT_LIST_HEAD(&fdev->node);
	fdev->wq = &s->wq;
	fdev->mode = req->mode;
	fdev->flags = req->flags;
	fdev->queue_len = req->queue_len;
	skb_queue_head_init(&fdev->queue);
	atomic64_set(&fdev->read_truncated, 0);

	fdev->stats = alloc_percpu_gfp(struct fastnet_pcpu_stats,
				       GFP_KERNEL_ACCOUNT);
	if (!fdev->stats)
		goto err;
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(fdev->stats, cpu)->syncp);

	if (req->mode == FASTNET_MODE_RING ||
	    req->mode == FASTNET_MODE_ZEROCOPY) {
		fdev->ring = fastnet_ring_create(req->slots, req->slot_size,
						 req->mode, req->flags,
						 req->batch_usecs, fdev->wq);
		if (IS_ERR(fdev->ring)) {
			int ret = PTR_ERR(fdev->ring);

			fdev->ring = NULL;
			fastnet_dev_free(fdev);
			return ERR_PTR(ret);
		}
	}
	return fdev;
err:
	fastnet_dev_free(fdev);
	return ERR_PTR(-ENOMEM);
}

static bool fastnet_valid_geometry(u32 slots, u32 slot_size)
{
	return is_power_of_2(slots) && slots >= FASTNET_RING_SLOTS_MIN &&
	       slots <= FASTNET_RING_SLOTS_MAX && is_power_of_2(slot_size) &&
	       slot_size >= FASTNET_SLOT_SIZE_MIN &&
	       slot_size <= FASTNET_SLOT_SIZE_MAX &&
	       (u64)slots * slot_size <= FASTNET_RING_DATA_MAX;
}

/* Checks a request and fills in the defaults its zeros stand for. */
static int fastnet_check_bind(struct fastnet_bind *req)
{
	size_t len = strnlen(req->ifname, sizeof(req->ifname));
	unsigned int i;

	if (!len || len == sizeof(req->ifname))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(req->reserved); i++)
		if (req->reserved[i])
			return -EINVAL;
	if (req->flags & ~FASTNET_BIND_FLAGS)
		return -EINVAL;
	if (req->flags & FASTNET_BIND_BATCH) {
		if (!req->batch_usecs)
			req->batch_usecs = FASTNET_BATCH_USECS_DEFAULT;
		if (req->batch_usecs > FASTNET_BATCH_USECS_MAX)
			return -EINVAL;
	} else if (req->batch_usecs) {
		return -EINVAL;
	}

	switch (req->mode) {
	case FASTNET_MODE_NORMAL:
	case FASTNET_MODE_DROP:
		if (req->flags || req->slots || req->slot_size || req->queue_len)
			return -EINVAL;
		return 0;
	case FASTNET_MODE_READ:
		if (req->slots || req->slot_size || (req->flags & FASTNET_BIND_BATCH))
			return -EINVAL;
		if (!req->queue_len)
			req->queue_len = FASTNET_QUEUE_LEN_DEFAULT;
		if (req->queue_len > FASTNET_QUEUE_LEN_MAX)
			return -EINVAL;
		return 0;
	case FASTNET_MODE_ZEROCOPY:
		/*
		 * The NIC's frames reach the stack only as copies, of those
		 * the filter rejects, with FASTNET_BIND_PASS (fastnet_zc.c).
		 */
		if (req->flags & ~(FASTNET_BIND_PASS | FASTNET_BIND_BATCH))
			return -EINVAL;
		fallthrough;
	case FASTNET_MODE_RING:
		if (req->queue_len || (req->flags & FASTNET_BIND_HEADER))
			return -EINVAL;
		if (!req->slots)
			req->slots = FASTNET_RING_SLOTS_DEFAULT;
		if (!req->slot_size)
			req->slot_size = FASTNET_SLOT_SIZE_DEFAULT;
		if (!fastnet_valid_geometry(req->slots, req->slot_size))
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

static int fastnet_attach(struct fastnet_dev *fdev, struct net *net,
			  const char *ifname)
{
	struct net_device *dev;
	int ret;

	rtnl_lock();
	dev = __dev_get_by_name(net, ifname);
	if (!dev) {
		ret = -ENODEV;
		goto out;
	}
	/* Frames start with a 14-byte Ethernet header; nothing else fits. */
	if (dev->type != ARPHRD_ETHER) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	if (fastnet_find(dev)) {
		ret = -EBUSY;
		goto out;
	}
	if (fdev->mode != FASTNET_MODE_NORMAL) {
		/*
		 * EBUSY if the device has any rx_handler: bridge, bond...
		 * Zero-copy holds one too, though its frames bypass the stack,
		 * so that no bridge or bond can take the device meanwhile.
		 */
		ret = netdev_rx_handler_register(dev, fastnet_rx_handler, fdev);
		if (ret)
			goto out;
	}
	if (fdev->mode == FASTNET_MODE_ZEROCOPY) {
		/* EOPNOTSUPP if its driver registered no zero-copy operations. */
		ret = fastnet_zc_attach(fdev, dev);
		if (ret) {
			netdev_rx_handler_unregister(dev);
			goto out;
		}
	}
	netdev_hold(dev, &fdev->tracker, GFP_KERNEL);
	fdev->dev = dev;
	list_add(&fdev->node, &fastnet_devs);
	ret = 0;
out:
	rtnl_unlock();
	return ret;
}

static long fastnet_bind(struct fastnet_session *s,
			 struct fastnet_bind __user *ureq)
{
	struct net *net = current->nsproxy->net_ns;
	struct fastnet_dev *fdev;
	struct fastnet_bind req;
	long ret;

	if (copy_from_user(&req, ureq, sizeof(req)))
		return -EFAULT;
	ret = fastnet_check_bind(&req);
	if (ret)
		return ret;
	/*
	 * Seeing every frame of a device is what CAP_NET_RAW guards; checked
	 * before a ring of up to FASTNET_RING_DATA_MAX bytes is allocated.
	 */
	if (!ns_capable(net->user_ns, CAP_NET_RAW))
		return -EPERM;

	mutex_lock(&s->bind_lock);
	fdev = s->fdev;
	if (fdev) {
		ret = READ_ONCE(fdev->dead) ? -ENODEV : -EBUSY;
		goto out;
	}
	if (req.mode == FASTNET_MODE_ZEROCOPY && s->filter &&
	    s->filter->zc_why) {
		pr_err_ratelimited("FASTNET_BIND: [ERROR]: %s in zero-copy mode: the session's filter cannot run there, its frames have no skb: instruction %u of %u: %s\n",
				   req.ifname, s->filter->zc_at, s->filter->len,
				   s->filter->zc_why);
		ret = -EINVAL;
		goto out;
	}
	fdev = fastnet_dev_alloc(s, &req);
	if (IS_ERR(fdev)) {
		ret = PTR_ERR(fdev);
		goto out;
	}
	/* From the first frame: the handler is registered by attach. */
	RCU_INIT_POINTER(fdev->filter, s->filter);
	ret = fastnet_attach(fdev, net, req.ifname);
	if (ret) {
		/* Not attached, or detached again: no frame runs it. */
		RCU_INIT_POINTER(fdev->filter, NULL);
		fastnet_dev_free(fdev);
		goto out;
	}
	s->filter = NULL;
	/* Everything about the binding is set before readers can see it. */
	smp_store_release(&s->fdev, fdev);
out:
	mutex_unlock(&s->bind_lock);
	return ret;
}

/*
 * The device is going away (or moving to another namespace): let go of it
 * so that its unregistration can finish. The session stays, dead: ENODEV
 * from now on, EPOLLERR | EPOLLHUP to poll().
 */
static int fastnet_netdev_event(struct notifier_block *nb,
				unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);
	struct fastnet_dev *fdev;

	if (event != NETDEV_UNREGISTER)
		return NOTIFY_DONE;
	fdev = fastnet_find(dev);
	if (!fdev)
		return NOTIFY_DONE;

	pr_info("%s is going away: its session is detached\n", dev->name);
	fastnet_detach(fdev);
	WRITE_ONCE(fdev->dead, true);
	fastnet_queue_purge(fdev);
	wake_up_interruptible_poll(fdev->wq, EPOLLIN | EPOLLERR | EPOLLHUP);
	return NOTIFY_OK;
}

static struct notifier_block fastnet_notifier = {
	.notifier_call = fastnet_netdev_event,
};

static long fastnet_stats(struct fastnet_session *s, void __user *arg)
{
	struct fastnet_dev *fdev = fastnet_get_live(s);
	struct fastnet_stats stats;

	if (IS_ERR(fdev))
		return PTR_ERR(fdev);
	fastnet_stats_fold(fdev, &stats);
	if (fdev->zc)
		stats.missed = fastnet_zc_missed(fdev->zc);
	return copy_to_user(arg, &stats, sizeof(stats)) ? -EFAULT : 0;
}

static long fastnet_ring_info_ioctl(struct fastnet_session *s,
				    void __user *arg)
{
	struct fastnet_dev *fdev = fastnet_get_live(s);
	struct fastnet_ring_info info;

	if (IS_ERR(fdev))
		return PTR_ERR(fdev);
	if (!fdev->ring)
		return -EINVAL;
	fastnet_ring_info(fdev->ring, &info);
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long fastnet_read_info(struct fastnet_session *s, void __user *arg)
{
	struct fastnet_dev *fdev = fastnet_get_live(s);
	struct fastnet_slot last;

	if (IS_ERR(fdev))
		return PTR_ERR(fdev);
	if (fdev->mode != FASTNET_MODE_READ)
		return -EINVAL;
	mutex_lock(&s->read_lock);
	last = s->last;
	mutex_unlock(&s->read_lock);
	return copy_to_user(arg, &last, sizeof(last)) ? -EFAULT : 0;
}

/*
 * FASTNET_SET_FILTER: attaches @fprog's program, or detaches with length 0.
 * A refused program leaves the session's as it was.
 */
static long fastnet_set_filter(struct fastnet_session *s,
			       const struct sock_fprog *fprog)
{
	struct fastnet_filter *filter = NULL, *old;
	struct sock_filter *insns = NULL;
	struct fastnet_dev *fdev;
	size_t size;
	long ret = 0;

	if (fprog->len > BPF_MAXINSNS) {
		pr_err_ratelimited("FASTNET_SET_FILTER: [ERROR]: %u instructions: more than BPF_MAXINSNS (%u)\n",
				   fprog->len, BPF_MAXINSNS);
		return -EINVAL;
	}
	/* Copied before bind_lock, as bind copies its request: no fault under it. */
	if (fprog->len) {
		size = array_size(fprog->len, sizeof(*insns));
		insns = memdup_user(fprog->filter, size);
		if (IS_ERR(insns))
			return PTR_ERR(insns);
	}

	mutex_lock(&s->bind_lock);
	fdev = s->fdev;
	if (fdev && READ_ONCE(fdev->dead)) {
		ret = -ENODEV;
		goto out;
	}
	if (insns) {
		filter = fastnet_filter_create(insns, fprog->len,
					       fdev && fdev->mode == FASTNET_MODE_ZEROCOPY);
		if (IS_ERR(filter)) {
			ret = PTR_ERR(filter);
			goto out;
		}
	}
	if (fdev) {
		old = rcu_replace_pointer(fdev->filter, filter,
					  lockdep_is_held(&s->bind_lock));
		/* Frames may be running it: freed after a grace period. */
		fastnet_filter_release(old);
	} else {
		/* Unbound: no frame can see it. */
		fastnet_filter_free(s->filter);
		s->filter = filter;
	}
out:
	mutex_unlock(&s->bind_lock);
	kfree(insns);
	return ret;
}

static long fastnet_set_filter_ioctl(struct fastnet_session *s,
				     void __user *arg)
{
	struct sock_fprog fprog;

	if (copy_from_user(&fprog, arg, sizeof(fprog)))
		return -EFAULT;
	return fastnet_set_filter(s, &fprog);
}

static long fastnet_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct fastnet_session *s = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case FASTNET_BIND:
		return fastnet_bind(s, argp);
	case FASTNET_STATS:
		return fastnet_stats(s, argp);
	case FASTNET_RING_INFO:
		return fastnet_ring_info_ioctl(s, argp);
	case FASTNET_READ_INFO:
		return fastnet_read_info(s, argp);
	case FASTNET_SET_FILTER:
		return fastnet_set_filter_ioctl(s, argp);
	default:
		return -ENOTTY;
	}
}

#ifdef CONFIG_COMPAT
/*
 * struct sock_fprog holds a pointer: 32-bit callers pass a struct
 * compat_sock_fprog, and the request's size (in its number) differs. Every
 * other structure is fixed-width.
 */
#define FASTNET_SET_FILTER32	_IOW(FASTNET_IOC_MAGIC, 5, struct compat_sock_fprog)

static long fastnet_compat_ioctl(struct file *file, unsigned int cmd,
				 unsigned long arg)
{
	struct compat_sock_fprog fprog32;
	struct sock_fprog fprog;

	if (cmd != FASTNET_SET_FILTER32)
		return compat_ptr_ioctl(file, cmd, arg);
	if (copy_from_user(&fprog32, compat_ptr(arg), sizeof(fprog32)))
		return -EFAULT;
	fprog.len = fprog32.len;
	fprog.filter = compat_ptr(fprog32.filter);
	return fastnet_set_filter(file->private_data, &fprog);
}
#else
#define fastnet_compat_ioctl NULL
#endif

/*
 * Copies one frame out, after its descriptor with FASTNET_BIND_HEADER, and
 * remembers the descriptor; read_lock held. A frame that cannot be copied
 * goes back first in line.
 */
static ssize_t fastnet_read_frame(struct fastnet_session *s,
				  struct fastnet_dev *fdev, struct sk_buff *skb,
				  struct iov_iter *to)
{
	bool header = fdev->flags & FASTNET_BIND_HEADER;
	size_t hlen = header ? sizeof(struct fastnet_slot) : 0;
	struct fastnet_slot slot = {};
	unsigned int snap;
	size_t n;

	if (iov_iter_count(to) < hlen) {
		fastnet_queue_push_back(fdev, skb);
		return -EINVAL;
	}
	/* The filter's snap length, if it cut the frame, was counted then. */
	snap = fastnet_skb_snaplen(skb);
	n = min_t(size_t, iov_iter_count(to) - hlen, snap);
	slot.timestamp_ns = fastnet_skb_tstamp(skb);
	slot.data_offset = hlen;
	slot.len = n;
	slot.orig_len = skb->len;
	slot.status = FASTNET_SLOT_READY;
	slot.flags = n < skb->len ? FASTNET_PKT_TRUNC : 0;
	if ((header && copy_to_iter(&slot, hlen, to) != hlen) ||
	    skb_copy_datagram_iter(skb, 0, to, n)) {
		fastnet_queue_push_back(fdev, skb);
		return -EFAULT;
	}
	slot.data_offset = 0;
	s->last = slot;
	if (n < snap && snap == skb->len)
		atomic64_inc(&fdev->read_truncated);
	consume_skb(skb);
	return hlen + n;
}

/*
 * Mode READ: one frame per call, from its Ethernet header (after its
 * descriptor with FASTNET_BIND_HEADER). A buffer shorter than the frame
 * gets its first bytes; the frame is gone all the same, and the descriptor
 * (or FASTNET_READ_INFO) tells its full length and FASTNET_PKT_TRUNC. read_lock
 * is never held while waiting, so FASTNET_READ_INFO never waits for frames.
 */
static ssize_t fastnet_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct fastnet_session *s = iocb->ki_filp->private_data;
	struct fastnet_dev *fdev = fastnet_get(s);
	struct sk_buff *skb;
	ssize_t ret;
	bool nowait;

	if (!fdev)
		return -ENOTCONN;
	if (fdev->mode != FASTNET_MODE_READ)
		return -EINVAL;
	if (!iov_iter_count(to))
		return 0;
	nowait = (iocb->ki_filp->f_flags & O_NONBLOCK) ||
		 (iocb->ki_flags & IOCB_NOWAIT);

	for (;;) {
		if (nowait) {
			if (!mutex_trylock(&s->read_lock))
				return -EAGAIN;
		} else if (mutex_lock_interruptible(&s->read_lock)) {
			return -ERESTARTSYS;
		}
		if (READ_ONCE(fdev->dead)) {
			ret = -ENODEV;
		} else {
			skb = fastnet_queue_pop(fdev);
			ret = skb ? fastnet_read_frame(s, fdev, skb, to) : -EAGAIN;
		}
		mutex_unlock(&s->read_lock);
		if (ret != -EAGAIN || nowait)
			return ret;

		ret = wait_event_interruptible(s->wq,
					       !skb_queue_empty_lockless(&fdev->queue) ||
					       READ_ONCE(fdev->dead));
		if (ret)
			return ret;
	}
}

static __poll_t fastnet_poll(struct file *file, poll_table *wait)
{
	struct fastnet_session *s = file->private_data;
	struct fastnet_dev *fdev;

	poll_wait(file, &s->wq, wait);
	/* Pairs with wq_has_sleeper() in the handler. */
	smp_mb();
	fdev = fastnet_get(s);
	if (!fdev)
		return 0;
	if (READ_ONCE(fdev->dead))
		return EPOLLERR | EPOLLHUP;
	switch (fdev->mode) {
	case FASTNET_MODE_READ:
		if (!skb_queue_empty_lockless(&fdev->queue))
			return EPOLLIN | EPOLLRDNORM;
		return 0;
	case FASTNET_MODE_ZEROCOPY:
		/* Waiting means done with the slots: re-arm them now. */
		fastnet_zc_kick(fdev->zc);
		fallthrough;
	case FASTNET_MODE_RING:
		if (fastnet_ring_readable(fdev->ring))
			return EPOLLIN | EPOLLRDNORM;
		return 0;
	default:
		/* Nothing to read in modes NORMAL and DROP, ever. */
		return 0;
	}
}

/*
 * Lock-free (see the lock order at the top): a bind still in progress is
 * not bound yet (ENOTCONN), and the ring, once published, stays until
 * release(), which cannot run while mmap() holds the file.
 */
static int fastnet_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct fastnet_session *s = file->private_data;
	struct fastnet_dev *fdev = fastnet_get_live(s);

	if (IS_ERR(fdev))
		return PTR_ERR(fdev);
	if (!fdev->ring)	/* modes ring and zerocopy have one */
		return -EINVAL;
	return fastnet_ring_mmap(fdev->ring, vma);
}

static int fastnet_open(struct inode *inode, struct file *file)
{
	struct fastnet_session *s;

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	mutex_init(&s->bind_lock);
	mutex_init(&s->read_lock);
	init_waitqueue_head(&s->wq);
	file->private_data = s;
	/* preadv2(RWF_NOWAIT): the addon's batches never block after the first. */
	file->f_mode |= FMODE_NOWAIT;
	return stream_open(inode, file);
}

/* Close, or the process dying: the device goes back to normal. */
static int fastnet_release(struct inode *inode, struct file *file)
{
	struct fastnet_session *s = file->private_data;
	struct fastnet_dev *fdev = s->fdev;

	if (fdev) {
		rtnl_lock();
		fastnet_detach(fdev);
		rtnl_unlock();
		fastnet_dev_free(fdev);
	}
	fastnet_filter_free(s->filter);
	mutex_destroy(&s->read_lock);
	mutex_destroy(&s->bind_lock);
	kfree(s);
	return 0;
}

static const struct file_operations fastnet_fops = {
	.owner = THIS_MODULE,
	.open = fastnet_open,
	.release = fastnet_release,
	.read_iter = fastnet_read_iter,
	.poll = fastnet_poll,
	.mmap = fastnet_mmap,
	.unlocked_ioctl = fastnet_ioctl,
	/* Fixed-width structures but FASTNET_SET_FILTER's sock_fprog. */
	.compat_ioctl = fastnet_compat_ioctl,
	.llseek = no_llseek,
};

static struct miscdevice fastnet_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = KBUILD_MODNAME,
	.fops = &fastnet_fops,
	.mode = 0600,
};

static int __init fastnet_init(void)
{
	int ret;

	ret = register_netdevice_notifier(&fastnet_notifier);
	if (ret)
		goto err;
	ret = misc_register(&fastnet_misc);
	if (ret)
		goto err_notifier;
	return 0;

err_notifier:
	unregister_netdevice_notifier(&fastnet_notifier);
err:
	pr_err("init failed: %d\n", ret);
	return ret;
}

static void __exit fastnet_exit(void)
{
	misc_deregister(&fastnet_misc);
	unregister_netdevice_notifier(&fastnet_notifier);
	/* Filters replaced while frames flowed are freed by RCU callbacks. */
	rcu_barrier();
}

module_init(fastnet_init);
module_exit(fastnet_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Raw packet capture at /dev/fastnet: drop, read, mmap-ring and zero-copy modes");
