// SPDX-License-Identifier: GPL-2.0
/*
 * kshram: KSHRAM_SLOTS shared-memory slots exposed as /dev/kshram0..N-1.
 *
 * Each slot is a page-granular, physically contiguous buffer that can be
 * read, written, seeked like a fixed-size file, resized with an ioctl while
 * it is not mapped, and mapped MAP_SHARED into any number of processes.
 * Current sizes are listed in /proc/kshram.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "uapi/kshram.h"

/* read()/write() move data through a bounce buffer of this size. */
#define KSHRAM_CHUNK	PAGE_SIZE

struct kshram_slot {
	struct mutex lock;	/* protects every field below */
	void *buf;		/* PAGE_ALIGN(size) bytes, pages reserved */
	size_t size;		/* bytes visible through read/write/ioctl */
	unsigned int maps;	/* live VMAs mapping buf */
};

static struct kshram_slot kshram_slots[KSHRAM_SLOTS];
static dev_t kshram_devt;
static struct cdev kshram_cdev;
static struct class *kshram_class;
static struct proc_dir_entry *kshram_proc;

/*
 * Whole zeroed pages, so that mapping the last partial page can never expose
 * unrelated kernel memory. Reserved while they back a slot, as is customary
 * for pages handed to remap_pfn_range().
 */
static void *kshram_alloc(size_t len)
{
	void *buf;
	size_t off;

	/* A failed resize is reported as -ENOMEM; no need to warn. */
	buf = alloc_pages_exact(len, GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN);
	if (!buf)
		return NULL;
	for (off = 0; off < len; off += PAGE_SIZE)
		SetPageReserved(virt_to_page(buf + off));
	return buf;
}

static void kshram_free(void *buf, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += PAGE_SIZE)
		ClearPageReserved(virt_to_page(buf + off));
	free_pages_exact(buf, len);
}

static int kshram_slot_init(struct kshram_slot *slot)
{
	mutex_init(&slot->lock);
	slot->buf = kshram_alloc(PAGE_ALIGN(KSHRAM_DEFAULT_SIZE));
	if (!slot->buf) {
		mutex_destroy(&slot->lock);
		return -ENOMEM;
	}
	slot->size = KSHRAM_DEFAULT_SIZE;
	slot->maps = 0;
	return 0;
}

static void kshram_slot_destroy(struct kshram_slot *slot)
{
	kshram_free(slot->buf, PAGE_ALIGN(slot->size));
	slot->buf = NULL;
	slot->size = 0;
	mutex_destroy(&slot->lock);
}

static int kshram_setsize(struct kshram_slot *slot, unsigned long size)
{
	size_t old_len, new_len, keep;
	void *buf;
	int ret = 0;

	if (!size || size > KSHRAM_MAX_SIZE)
		return -EINVAL;

	mutex_lock(&slot->lock);
	/* Mapped pages must stay where they are and keep their length. */
	if (slot->maps) {
		ret = -EBUSY;
		goto out;
	}

	keep = min_t(size_t, slot->size, size);
	old_len = PAGE_ALIGN(slot->size);
	new_len = PAGE_ALIGN(size);
	if (new_len == old_len) {
		/*
		 * Same pages. The tail may hold old data, or bytes written
		 * past size through a mapping of the last page: zero it.
		 */
		memset(slot->buf + keep, 0, new_len - keep);
	} else {
		buf = kshram_alloc(new_len);
		if (!buf) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(buf, slot->buf, keep);
		kshram_free(slot->buf, old_len);
		slot->buf = buf;
	}
	slot->size = size;
out:
	mutex_unlock(&slot->lock);
	return ret;
}

static int kshram_open(struct inode *inode, struct file *file)
{
	unsigned int idx = iminor(inode) - MINOR(kshram_devt);

	if (idx >= KSHRAM_SLOTS)
		return -ENODEV;
	file->private_data = &kshram_slots[idx];
	return 0;
}

/*
 * The slot lock is taken under mmap_lock by ->mmap and the vm_ops, so it
 * must never be held across a user copy, which may fault and take mmap_lock.
 * read() and write() therefore copy one chunk at a time through a bounce
 * buffer and only hold the lock for the memcpy().
 */
static ssize_t kshram_read(struct file *file, char __user *ubuf, size_t count,
			   loff_t *ppos)
{
	struct kshram_slot *slot = file->private_data;
	loff_t pos = *ppos;
	size_t done = 0;
	ssize_t ret = 0;
	void *bounce;

	if (pos < 0)
		return -EINVAL;
	if (!count)
		return 0;
	bounce = kmalloc(KSHRAM_CHUNK, GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;

	while (done < count) {
		size_t n = min_t(size_t, count - done, KSHRAM_CHUNK);
		size_t left;

		mutex_lock(&slot->lock);
		if (pos >= slot->size) {
			mutex_unlock(&slot->lock);
			break;
		}
		n = min_t(size_t, n, slot->size - pos);
		memcpy(bounce, slot->buf + pos, n);
		mutex_unlock(&slot->lock);

		left = copy_to_user(ubuf + done, bounce, n);
		done += n - left;
		pos += n - left;
		if (left) {
			ret = -EFAULT;
			break;
		}
	}

	kfree(bounce);
	if (!done)
		return ret;
	*ppos = pos;
	return done;
}

static ssize_t kshram_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	struct kshram_slot *slot = file->private_data;
	loff_t pos = *ppos;
	size_t done = 0;
	ssize_t ret = 0;
	void *bounce;

	if (pos < 0)
		return -EINVAL;
	if (!count)
		return 0;
	bounce = kmalloc(KSHRAM_CHUNK, GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;

	while (done < count) {
		size_t n = min_t(size_t, count - done, KSHRAM_CHUNK);
		size_t left;

		left = copy_from_user(bounce, ubuf + done, n);
		if (left == n) {
			ret = -EFAULT;
			break;
		}
		n -= left;

		mutex_lock(&slot->lock);
		/* A fixed-size file: no room past the end. */
		if (pos >= slot->size) {
			mutex_unlock(&slot->lock);
			ret = -ENOSPC;
			break;
		}
		n = min_t(size_t, n, slot->size - pos);
		memcpy(slot->buf + pos, bounce, n);
		mutex_unlock(&slot->lock);

		done += n;
		pos += n;
		if (left) {
			ret = -EFAULT;
			break;
		}
	}

	kfree(bounce);
	if (!done)
		return ret;
	*ppos = pos;
	return done;
}

static loff_t kshram_llseek(struct file *file, loff_t offset, int whence)
{
	struct kshram_slot *slot = file->private_data;
	loff_t ret;

	/* Hold the lock so that the size checked against is current. */
	mutex_lock(&slot->lock);
	ret = fixed_size_llseek(file, offset, whence, slot->size);
	mutex_unlock(&slot->lock);
	return ret;
}

/* Called for fork, VMA splits and mremap moves: count every copy. */
static void kshram_vm_open(struct vm_area_struct *vma)
{
	struct kshram_slot *slot = vma->vm_private_data;

	mutex_lock(&slot->lock);
	slot->maps++;
	mutex_unlock(&slot->lock);
}

static void kshram_vm_close(struct vm_area_struct *vma)
{
	struct kshram_slot *slot = vma->vm_private_data;

	mutex_lock(&slot->lock);
	slot->maps--;
	mutex_unlock(&slot->lock);
}

static const struct vm_operations_struct kshram_vm_ops = {
	.open = kshram_vm_open,
	.close = kshram_vm_close,
};

static int kshram_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kshram_slot *slot = file->private_data;
	unsigned long pages, pfn;
	int ret;

	/*
	 * A private mapping of a PFN map would be a copy-on-write snapshot,
	 * never the shared memory the caller wants. Test VM_MAYSHARE rather
	 * than VM_SHARED: do_mmap() clears VM_SHARED for a MAP_SHARED mapping
	 * of a read-only descriptor, which is still a sound (read-only) view.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;

	mutex_lock(&slot->lock);
	pages = PAGE_ALIGN(slot->size) >> PAGE_SHIFT;
	if (vma->vm_pgoff >= pages || vma_pages(vma) > pages - vma->vm_pgoff) {
		ret = -EINVAL;
		goto out;
	}

	/* Never grown by mremap(), never in core dumps. */
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
	pfn = page_to_pfn(virt_to_page(slot->buf)) + vma->vm_pgoff;
	ret = remap_pfn_range(vma, vma->vm_start, pfn,
			      vma->vm_end - vma->vm_start, vma->vm_page_prot);
	if (ret)
		goto out;

	/* ->open is not called for the first VMA: count it here. */
	vma->vm_ops = &kshram_vm_ops;
	vma->vm_private_data = slot;
	slot->maps++;
out:
	mutex_unlock(&slot->lock);
	return ret;
}

static long kshram_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kshram_slot *slot = file->private_data;
	long ret;

	switch (cmd) {
	case KSHRAM_GETSLOTS:
		return KSHRAM_SLOTS;
	case KSHRAM_GETSIZE:
		mutex_lock(&slot->lock);
		ret = slot->size;
		mutex_unlock(&slot->lock);
		return ret;
	case KSHRAM_SETSIZE:
		/* Resizing zeroes data: as write() does, it needs FMODE_WRITE. */
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		return kshram_setsize(slot, arg);
	default:
		return -ENOTTY;
	}
}

static int kshram_proc_show(struct seq_file *m, void *v)
{
	unsigned int i;
	size_t size;

	for (i = 0; i < KSHRAM_SLOTS; i++) {
		mutex_lock(&kshram_slots[i].lock);
		size = kshram_slots[i].size;
		mutex_unlock(&kshram_slots[i].lock);
		seq_printf(m, "%02u: %zu\n", i, size);
	}
	return 0;
}

static char *kshram_devnode(struct device *dev, umode_t *mode)
{
	/* Shared memory for every user, like /dev/shm. */
	if (mode)
		*mode = 0666;
	return NULL;
}

static const struct file_operations kshram_fops = {
	.owner = THIS_MODULE,
	.open = kshram_open,
	.read = kshram_read,
	.write = kshram_write,
	.llseek = kshram_llseek,
	.mmap = kshram_mmap,
	.unlocked_ioctl = kshram_ioctl,
	/* Every argument is a plain integer: no translation needed. */
	.compat_ioctl = kshram_ioctl,
};

static int __init kshram_init(void)
{
	struct device *dev;
	int i, n, ret;

	/* Slots first: they are reachable as soon as cdev_add() returns. */
	for (i = 0; i < KSHRAM_SLOTS; i++) {
		ret = kshram_slot_init(&kshram_slots[i]);
		if (ret)
			goto err_slots;
	}

	ret = alloc_chrdev_region(&kshram_devt, 0, KSHRAM_SLOTS, KBUILD_MODNAME);
	if (ret)
		goto err_slots;

	cdev_init(&kshram_cdev, &kshram_fops);
	kshram_cdev.owner = THIS_MODULE;
	ret = cdev_add(&kshram_cdev, kshram_devt, KSHRAM_SLOTS);
	if (ret)
		goto err_region;

	kshram_class = class_create(THIS_MODULE, KBUILD_MODNAME);
	if (IS_ERR(kshram_class)) {
		ret = PTR_ERR(kshram_class);
		goto err_cdev;
	}
	kshram_class->devnode = kshram_devnode;

	for (n = 0; n < KSHRAM_SLOTS; n++) {
		dev = device_create(kshram_class, NULL, kshram_devt + n, NULL,
				    KBUILD_MODNAME "%d", n);
		if (IS_ERR(dev)) {
			ret = PTR_ERR(dev);
			goto err_devices;
		}
	}

	kshram_proc = proc_create_single(KBUILD_MODNAME, 0444, NULL,
					 kshram_proc_show);
	if (!kshram_proc) {
		ret = -ENOMEM;
		goto err_devices;
	}

	return 0;

err_devices:
	while (n--)
		device_destroy(kshram_class, kshram_devt + n);
	class_destroy(kshram_class);
err_cdev:
	cdev_del(&kshram_cdev);
err_region:
	unregister_chrdev_region(kshram_devt, KSHRAM_SLOTS);
err_slots:
	while (i--)
		kshram_slot_destroy(&kshram_slots[i]);
	pr_err("init failed: %d\n", ret);
	return ret;
}

static void __exit kshram_exit(void)
{
	int i;

	proc_remove(kshram_proc);
	for (i = KSHRAM_SLOTS; i--; )
		device_destroy(kshram_class, kshram_devt + i);
	class_destroy(kshram_class);
	cdev_del(&kshram_cdev);
	unregister_chrdev_region(kshram_devt, KSHRAM_SLOTS);
	for (i = KSHRAM_SLOTS; i--; )
		kshram_slot_destroy(&kshram_slots[i]);
}

module_init(kshram_init);
module_exit(kshram_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Resizable shared-memory slots at /dev/kshram0..7");
