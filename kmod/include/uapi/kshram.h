/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kshram: shared-memory slots, /dev/kshram0../dev/kshram7.
 * Shared by the kernel module and the Node addon: the one place the ioctl
 * numbers and limits are written down.
 */
#ifndef _UAPI_KSHRAM_H
#define _UAPI_KSHRAM_H

#include <linux/ioctl.h>

#define KSHRAM_SLOTS		8
#define KSHRAM_DEFAULT_SIZE	4096
/* Largest slot: one physically contiguous allocation (order MAX_ORDER - 1). */
#define KSHRAM_MAX_SIZE		(4 << 20)

#define KSHRAM_IOC_MAGIC	'K'
/* Returns the number of slots. */
#define KSHRAM_GETSLOTS		_IO(KSHRAM_IOC_MAGIC, 0)
/* Returns the slot's size in bytes. */
#define KSHRAM_GETSIZE		_IO(KSHRAM_IOC_MAGIC, 1)
/* Resizes the slot to the (unsigned long) argument, in bytes. */
#define KSHRAM_SETSIZE		_IO(KSHRAM_IOC_MAGIC, 2)

#endif /* _UAPI_KSHRAM_H */
