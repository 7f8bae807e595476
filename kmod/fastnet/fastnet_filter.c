// SPDX-License-Identifier: GPL-2.0
/*
 * fastnet's filters (FASTNET_SET_FILTER): a classic BPF program per
 * session, checked once when it is set and run on every frame.
 *
 * Modes DROP, READ and RING run the kernel's own classic BPF on the skb,
 * exactly as a packet socket runs its SO_ATTACH_FILTER program: checked,
 * converted to eBPF and JITed by bpf_prog_create(), run by the rx_handler
 * with skb->data at the MAC header (fastnet_filter_skb()). Mode ZEROCOPY has
 * no skb: fastnet_zc.c runs the same instructions with fastnet_bpf_run() on
 * the bytes in the slot. Both are checked here with the kernel's rules
 * (fastnet_bpf_check_skb(), which names the instruction and the rule the
 * kernel only refuses), and a program that loads skb data is marked as one
 * zero-copy cannot run: refused on a session in zero-copy, and by a later
 * FASTNET_BIND into zero-copy.
 *
 * A filter is immutable once made; the session's bind_lock serializes its
 * writers and the data path reads it under RCU, so it is freed only after a
 * grace period (call_rcu(); the module's exit waits for those with
 * rcu_barrier()).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/filter.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include "fastnet.h"
#include "fastnet_bpf.h"

/*
 * Any user of /dev/fastnet can make these, so they are rate limited; the
 * library explains a refusal itself (the same check, in user space).
 */
#define fastnet_filter_err(fmt, ...) \
	pr_err_ratelimited("FASTNET_SET_FILTER: [ERROR]: " fmt, ##__VA_ARGS__)

void fastnet_filter_free(struct fastnet_filter *filter)
{
	if (!filter)
		return;
	if (filter->prog)
		bpf_prog_destroy(filter->prog);
	kvfree(filter);
}

static void fastnet_filter_free_rcu(struct rcu_head *head)
{
	fastnet_filter_free(container_of(head, struct fastnet_filter, rcu));
}

/* Once no frame can be running it any more. */
void fastnet_filter_release(struct fastnet_filter *filter)
{
	if (filter)
		call_rcu(&filter->rcu, fastnet_filter_free_rcu);
}

/*
 * Checks @len instructions (copied in from user space) and makes a filter of
 * them, or an ERR_PTR: -EINVAL, with the reason in the kernel log, or
 * -ENOMEM. @zerocopy: the session is in zero-copy, where only
 * fastnet_bpf_run() runs it; otherwise the kernel's program is made too (an
 * unbound session's filter may be bound in any mode later).
 */
struct fastnet_filter *fastnet_filter_create(const struct sock_filter *insns,
					     unsigned int len, bool zerocopy)
{
	struct sock_fprog_kern fprog;
	struct fastnet_filter *filter;
	const char *why;
	unsigned int at;
	int ret;

	/* The kernel's rules (bpf_check_classic()), naming what it breaks. */
	ret = fastnet_bpf_check_skb(insns, len, &why, &at);
	if (ret == -EINVAL) {
		if (len > BPF_MAXINSNS)
			fastnet_filter_err("%u instructions: more than BPF_MAXINSNS (%u)\n",
					   len, BPF_MAXINSNS);
		else
			fastnet_filter_err("instruction %u of %u: %s\n", at, len, why);
	}
	if (ret)
		return ERR_PTR(ret);

	filter = kvzalloc(struct_size(filter, insns, len), GFP_KERNEL_ACCOUNT);
	if (!filter)
		return ERR_PTR(-ENOMEM);
	memcpy(filter->insns, insns, array_size(len, sizeof(*insns)));
	filter->len = len;

	/* Passes the kernel's rules: only a load of skb data can fail this. */
	ret = fastnet_bpf_check(insns, len, &filter->zc_why, &filter->zc_at);
	if (ret == -ENOMEM)
		goto err;
	ret = 0;
	if (zerocopy) {
		if (filter->zc_why) {
			fastnet_filter_err("instruction %u of %u: %s, and the session is in zero-copy mode, whose frames have none\n",
					   filter->zc_at, len, filter->zc_why);
			ret = -EINVAL;
			goto err;
		}
		return filter;
	}

	fprog.len = len;
	fprog.filter = filter->insns;
	ret = bpf_prog_create(&filter->prog, &fprog);
	if (ret) {
		filter->prog = NULL;
		if (ret == -EINVAL)
			fastnet_filter_err("the kernel's classic BPF refused the program (%u instructions)\n",
					   len);
		goto err;
	}
	return filter;
err:
	fastnet_filter_free(filter);
	return ERR_PTR(ret);
}

/*
 * Runs a copy mode's filter on a frame in the rx_handler, from its MAC
 * header (@mac_off from skb->data, <= 0), as packet_rcv() runs a packet
 * socket's: skb->data moves to the MAC header for the program and back
 * after. Returns the program's value, the snap length; 0 rejects.
 */
unsigned int fastnet_filter_skb(const struct fastnet_filter *filter,
				struct sk_buff *skb, int mac_off)
{
	unsigned char *data = skb->data;
	unsigned int len = skb->len;
	unsigned int res;

	__skb_push(skb, -mac_off);
	res = bpf_prog_run_save_cb(filter->prog, skb);
	skb->data = data;
	skb->len = len;
	return res;
}
