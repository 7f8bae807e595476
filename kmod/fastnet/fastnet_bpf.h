/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Classic BPF without an skb (fastnet_bpf.c): the validator and the
 * interpreter fastnet runs on frames that are only bytes in a ring slot.
 *
 * The same two files build in the module and, for the unit test that
 * compares them with libpcap, in user space: outside the kernel the shim
 * below maps the few kernel names they use onto libc and the UAPI headers.
 */
#ifndef _FASTNET_BPF_H
#define _FASTNET_BPF_H

#ifdef __KERNEL__
#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/filter.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/types.h>
#else
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>	/* the UAPI one: struct sock_filter, BPF_* */

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __s32 s32;

#define BUILD_BUG_ON(cond) _Static_assert(!(cond), #cond)
#define GFP_KERNEL 0
#define kmalloc_array(n, size, flags) malloc((size_t)(n) * (size))
#define kfree(p) free(p)
#endif

/*
 * 0 if @prog (@len instructions) may run in fastnet_bpf_run(), else
 * -EINVAL with *@why a short static string naming the rule it breaks and
 * *@at the index of the instruction (0 for a bad length), or -ENOMEM.
 * @why and @at may be NULL. Sleeps (GFP_KERNEL).
 */
int fastnet_bpf_check(const struct sock_filter *prog, unsigned int len,
		      const char **why, unsigned int *at);

/*
 * The same with the kernel's rules alone (bpf_check_classic()), for a
 * program that runs on skbs, as the kernel's own classic BPF: loads
 * relative to the skb's data (SKF_AD_OFF, SKF_NET_OFF, SKF_LL_OFF) pass,
 * except an ancillary load the kernel does not know. fastnet_bpf_check()
 * accepts exactly the programs this accepts that have none of those loads.
 */
int fastnet_bpf_check_skb(const struct sock_filter *prog, unsigned int len,
			  const char **why, unsigned int *at);

/*
 * Runs a program fastnet_bpf_check() accepted on the @len bytes of @frame,
 * from its MAC header; returns the program's return value: the number of
 * bytes to keep, 0 to reject the frame.
 */
unsigned int fastnet_bpf_run(const struct sock_filter *prog, const u8 *frame,
			     unsigned int len);

#endif /* _FASTNET_BPF_H */
