// SPDX-License-Identifier: GPL-2.0
/*
 * Classic BPF on frames that have no skb. In zero-copy mode the NIC writes
 * each frame straight into a ring slot, so the kernel's socket filter
 * machinery (which runs on skbs) has nothing to run on: fastnet checks the
 * program once with the kernel's own rules and then interprets it over the
 * slot's bytes, from the MAC header.
 *
 * The semantics are those of the kernel's classic programs (as
 * bpf_convert_filter() turns them into eBPF) and of libpcap's
 * pcap_offline_filter() where the two agree; docs/fastnet.md lists where
 * they do not and which one this follows.
 */

#include "fastnet_bpf.h"

/*
 * Negative constant offsets name data relative to the skb (ancillary data,
 * the network or link-layer header): a frame in a slot has none of it, so
 * such loads are refused when the program is checked rather than failing
 * on every frame. Offsets below SKF_LL_OFF are merely out of range: the
 * kernel accepts them too, and the load fails at run time.
 */
static const char *fastnet_bpf_check_offset(u32 k)
{
	s32 off = k;

	if (off >= 0 || off < SKF_LL_OFF)
		return NULL;
	if (off >= SKF_NET_OFF)
		return "SKF_NET_OFF-relative load needs an skb";
	return "SKF_LL_OFF-relative load needs an skb";
}

/* The extensions bpf_anc_helper() knows: SKF_AD_OFF + SKF_AD_*. */
static bool fastnet_bpf_known_ancillary(u32 k)
{
	s32 ad = (s32)k - SKF_AD_OFF;

	return ad >= 0 && ad < SKF_AD_MAX && !(ad & 3);
}

/*
 * One instruction against bpf_check_classic()'s rules: NULL if it passes.
 * @skb: the program runs on skbs (the kernel's classic BPF), so loads
 * relative to the skb's data pass, as the kernel lets them; else it runs
 * in fastnet_bpf_run() over bare bytes, and they are refused.
 */
static const char *fastnet_bpf_check_insn(const struct sock_filter *ins,
					  unsigned int pc, unsigned int len,
					  bool skb)
{
	u32 k = ins->k;

	switch (ins->code) {
	case BPF_ALU | BPF_ADD | BPF_K:
	case BPF_ALU | BPF_ADD | BPF_X:
	case BPF_ALU | BPF_SUB | BPF_K:
	case BPF_ALU | BPF_SUB | BPF_X:
	case BPF_ALU | BPF_MUL | BPF_K:
	case BPF_ALU | BPF_MUL | BPF_X:
	case BPF_ALU | BPF_DIV | BPF_X:
	case BPF_ALU | BPF_MOD | BPF_X:
	case BPF_ALU | BPF_AND | BPF_K:
	case BPF_ALU | BPF_AND | BPF_X:
	case BPF_ALU | BPF_OR | BPF_K:
	case BPF_ALU | BPF_OR | BPF_X:
	case BPF_ALU | BPF_XOR | BPF_K:
	case BPF_ALU | BPF_XOR | BPF_X:
	case BPF_ALU | BPF_LSH | BPF_X:
	case BPF_ALU | BPF_RSH | BPF_X:
	case BPF_ALU | BPF_NEG:
	case BPF_LD | BPF_W | BPF_LEN:
	case BPF_LD | BPF_IMM:
	case BPF_LDX | BPF_W | BPF_LEN:
	case BPF_LDX | BPF_IMM:
	case BPF_MISC | BPF_TAX:
	case BPF_MISC | BPF_TXA:
	case BPF_RET | BPF_K:
	case BPF_RET | BPF_A:
		return NULL;
	/* The constant cases are refused here so that run time need not test. */
	case BPF_ALU | BPF_DIV | BPF_K:
		return k ? NULL : "division by constant 0";
	case BPF_ALU | BPF_MOD | BPF_K:
		return k ? NULL : "modulo by constant 0";
	case BPF_ALU | BPF_LSH | BPF_K:
	case BPF_ALU | BPF_RSH | BPF_K:
		return k < 32 ? NULL : "shift by constant 32 or more";
	case BPF_LD | BPF_MEM:
	case BPF_LDX | BPF_MEM:
	case BPF_ST:
	case BPF_STX:
		return k < BPF_MEMWORDS ? NULL :
		       "scratch memory index >= BPF_MEMWORDS";
	/* Offsets are unsigned: every jump goes forward, so every run ends. */
	case BPF_JMP | BPF_JA:
		return k < len - pc - 1 ? NULL : "ja past the end";
	case BPF_JMP | BPF_JEQ | BPF_K:
	case BPF_JMP | BPF_JEQ | BPF_X:
	case BPF_JMP | BPF_JGE | BPF_K:
	case BPF_JMP | BPF_JGE | BPF_X:
	case BPF_JMP | BPF_JGT | BPF_K:
	case BPF_JMP | BPF_JGT | BPF_X:
	case BPF_JMP | BPF_JSET | BPF_K:
	case BPF_JMP | BPF_JSET | BPF_X:
		if (pc + ins->jt + 1 >= len || pc + ins->jf + 1 >= len)
			return "conditional jump past the end";
		return NULL;
	case BPF_LD | BPF_W | BPF_ABS:
	case BPF_LD | BPF_H | BPF_ABS:
	case BPF_LD | BPF_B | BPF_ABS:
		if ((s32)k >= SKF_AD_OFF && (s32)k < 0) {
			/* Known or not, the kernel's extensions all read the skb. */
			if (!skb)
				return "ancillary load (SKF_AD_OFF) needs an skb";
			return fastnet_bpf_known_ancillary(k) ? NULL :
			       "unknown ancillary load (SKF_AD_OFF + n)";
		}
		return skb ? NULL : fastnet_bpf_check_offset(k);
	case BPF_LD | BPF_W | BPF_IND:
	case BPF_LD | BPF_H | BPF_IND:
	case BPF_LD | BPF_B | BPF_IND:
	case BPF_LDX | BPF_B | BPF_MSH:
		return skb ? NULL : fastnet_bpf_check_offset(k);
	default:
		return "unknown opcode";
	}
}

/*
 * The kernel's check_load_and_stores(): one pass in program order (jumps
 * only go forward) keeping the scratch cells written on every path so far,
 * a bit per cell; a jump hands its set to its targets, which keep what all
 * their incoming paths share. Like the kernel, a RET does not reset the
 * set for the instruction after it: a few valid programs are refused, but
 * exactly those the kernel refuses. Run time then never reads a cell that
 * was not written, so mem[] needs no clearing per frame.
 */
static int fastnet_bpf_check_mem(const struct sock_filter *prog,
				 unsigned int len, unsigned int *bad)
{
	u16 *valid_at, valid = 0;
	unsigned int pc;
	int ret = 0;

	BUILD_BUG_ON(BPF_MEMWORDS > 16);
	valid_at = kmalloc_array(len, sizeof(*valid_at), GFP_KERNEL);
	if (!valid_at)
		return -ENOMEM;
	memset(valid_at, 0xff, len * sizeof(*valid_at));

	for (pc = 0; pc < len; pc++) {
		const struct sock_filter *ins = &prog[pc];

		valid &= valid_at[pc];
		switch (ins->code) {
		case BPF_ST:
		case BPF_STX:
			valid |= 1 << ins->k;
			break;
		case BPF_LD | BPF_MEM:
		case BPF_LDX | BPF_MEM:
			if (!(valid & (1 << ins->k))) {
				*bad = pc;
				ret = -EINVAL;
				goto out;
			}
			break;
		case BPF_JMP | BPF_JA:
			valid_at[pc + 1 + ins->k] &= valid;
			valid = 0xffff;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JEQ | BPF_X:
		case BPF_JMP | BPF_JGE | BPF_K:
		case BPF_JMP | BPF_JGE | BPF_X:
		case BPF_JMP | BPF_JGT | BPF_K:
		case BPF_JMP | BPF_JGT | BPF_X:
		case BPF_JMP | BPF_JSET | BPF_K:
		case BPF_JMP | BPF_JSET | BPF_X:
			valid_at[pc + 1 + ins->jt] &= valid;
			valid_at[pc + 1 + ins->jf] &= valid;
			valid = 0xffff;
			break;
		}
	}
out:
	kfree(valid_at);
	return ret;
}

static int fastnet_bpf_check_rules(const struct sock_filter *prog,
				   unsigned int len, bool skb,
				   const char **why, unsigned int *at)
{
	const char *rule = NULL;
	unsigned int pc = 0;
	int ret;

	if (!prog || !len) {
		rule = "empty program";
		goto bad;
	}
	if (len > BPF_MAXINSNS) {
		rule = "longer than BPF_MAXINSNS instructions";
		goto bad;
	}
	/* In the kernel's order, so both name the same first fault. */
	for (pc = 0; pc < len; pc++) {
		rule = fastnet_bpf_check_insn(&prog[pc], pc, len, skb);
		if (rule)
			goto bad;
	}
	pc = len - 1;
	if (prog[pc].code != (BPF_RET | BPF_K) &&
	    prog[pc].code != (BPF_RET | BPF_A)) {
		rule = "last instruction is not a return";
		goto bad;
	}
	ret = fastnet_bpf_check_mem(prog, len, &pc);
	if (!ret)
		return 0;
	rule = ret == -ENOMEM ? "out of memory" :
	       "scratch memory read before written on some path";
	goto out;
bad:
	ret = -EINVAL;
out:
	if (why)
		*why = rule;
	if (at)
		*at = pc;
	return ret;
}

int fastnet_bpf_check(const struct sock_filter *prog, unsigned int len,
		      const char **why, unsigned int *at)
{
	return fastnet_bpf_check_rules(prog, len, false, why, at);
}

int fastnet_bpf_check_skb(const struct sock_filter *prog, unsigned int len,
			  const char **why, unsigned int *at)
{
	return fastnet_bpf_check_rules(prog, len, true, why, at);
}

/* @size bytes at @off lie inside the frame; @off is any u32. */
static inline bool fastnet_bpf_fits(u32 off, u32 size, unsigned int len)
{
	return off <= len && len - off >= size;
}

/* Byte by byte: slots give no alignment past the frame's start. */
static inline u32 fastnet_bpf_be16(const u8 *p)
{
	return (u32)p[0] << 8 | p[1];
}

static inline u32 fastnet_bpf_be32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

unsigned int fastnet_bpf_run(const struct sock_filter *prog, const u8 *frame,
			     unsigned int len)
{
	const struct sock_filter *pc = prog;
	u32 mem[BPF_MEMWORDS];	/* written before read: fastnet_bpf_check() */
	u32 a = 0, x = 0, k, off;

	for (;; pc++) {
		k = pc->k;
		switch (pc->code) {
		/*
		 * Packet loads: out of the frame, the program ends and returns
		 * 0, as the kernel's do. X + K is not taken modulo 2^32: an
		 * offset past 4 GiB fails, as in libpcap.
		 */
		case BPF_LD | BPF_W | BPF_ABS:
			if (!fastnet_bpf_fits(k, 4, len))
				return 0;
			a = fastnet_bpf_be32(frame + k);
			break;
		case BPF_LD | BPF_H | BPF_ABS:
			if (!fastnet_bpf_fits(k, 2, len))
				return 0;
			a = fastnet_bpf_be16(frame + k);
			break;
		case BPF_LD | BPF_B | BPF_ABS:
			if (!fastnet_bpf_fits(k, 1, len))
				return 0;
			a = frame[k];
			break;
		case BPF_LD | BPF_W | BPF_IND:
			off = x + k;
			if (off < x || !fastnet_bpf_fits(off, 4, len))
				return 0;
			a = fastnet_bpf_be32(frame + off);
			break;
		case BPF_LD | BPF_H | BPF_IND:
			off = x + k;
			if (off < x || !fastnet_bpf_fits(off, 2, len))
				return 0;
			a = fastnet_bpf_be16(frame + off);
			break;
		case BPF_LD | BPF_B | BPF_IND:
			off = x + k;
			if (off < x || !fastnet_bpf_fits(off, 1, len))
				return 0;
			a = frame[off];
			break;
		case BPF_LDX | BPF_B | BPF_MSH:
			/* The IPv4 header length: 4 * (P[k] & 0xf). */
			if (!fastnet_bpf_fits(k, 1, len))
				return 0;
			x = (frame[k] & 0xf) << 2;
			break;
		case BPF_LD | BPF_W | BPF_LEN:
			a = len;
			break;
		case BPF_LDX | BPF_W | BPF_LEN:
			x = len;
			break;
		case BPF_LD | BPF_IMM:
			a = k;
			break;
		case BPF_LDX | BPF_IMM:
			x = k;
			break;
		case BPF_LD | BPF_MEM:
			a = mem[k];
			break;
		case BPF_LDX | BPF_MEM:
			x = mem[k];
			break;
		case BPF_ST:
			mem[k] = a;
			break;
		case BPF_STX:
			mem[k] = x;
			break;
		case BPF_MISC | BPF_TAX:
			x = a;
			break;
		case BPF_MISC | BPF_TXA:
			a = x;
			break;
		case BPF_RET | BPF_K:
			return k;
		case BPF_RET | BPF_A:
			return a;

		/* 32-bit unsigned arithmetic, wrapping. */
		case BPF_ALU | BPF_ADD | BPF_K:
			a += k;
			break;
		case BPF_ALU | BPF_ADD | BPF_X:
			a += x;
			break;
		case BPF_ALU | BPF_SUB | BPF_K:
			a -= k;
			break;
		case BPF_ALU | BPF_SUB | BPF_X:
			a -= x;
			break;
		case BPF_ALU | BPF_MUL | BPF_K:
			a *= k;
			break;
		case BPF_ALU | BPF_MUL | BPF_X:
			a *= x;
			break;
		case BPF_ALU | BPF_DIV | BPF_K:
			a /= k;
			break;
		case BPF_ALU | BPF_DIV | BPF_X:
			/* The kernel's cBPF rule: the program returns 0. */
			if (!x)
				return 0;
			a /= x;
			break;
		case BPF_ALU | BPF_MOD | BPF_K:
			a %= k;
			break;
		case BPF_ALU | BPF_MOD | BPF_X:
			if (!x)
				return 0;
			a %= x;
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			a &= k;
			break;
		case BPF_ALU | BPF_AND | BPF_X:
			a &= x;
			break;
		case BPF_ALU | BPF_OR | BPF_K:
			a |= k;
			break;
		case BPF_ALU | BPF_OR | BPF_X:
			a |= x;
			break;
		case BPF_ALU | BPF_XOR | BPF_K:
			a ^= k;
			break;
		case BPF_ALU | BPF_XOR | BPF_X:
			a ^= x;
			break;
		/* Constant amounts are below 32 (checked). */
		case BPF_ALU | BPF_LSH | BPF_K:
			a <<= k;
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			a >>= k;
			break;
		/*
		 * X modulo 32, as the kernel: its interpreter masks the amount
		 * of a 32-bit shift with 31 and the JITs' shift instructions
		 * do the same (libpcap gives 0 for X >= 32 instead).
		 */
		case BPF_ALU | BPF_LSH | BPF_X:
			a <<= x & 31;
			break;
		case BPF_ALU | BPF_RSH | BPF_X:
			a >>= x & 31;
			break;
		case BPF_ALU | BPF_NEG:
			a = -a;
			break;

		case BPF_JMP | BPF_JA:
			pc += k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == k ? pc->jt : pc->jf;
			break;
		case BPF_JMP | BPF_JEQ | BPF_X:
			pc += a == x ? pc->jt : pc->jf;
			break;
		case BPF_JMP | BPF_JGT | BPF_K:
			pc += a > k ? pc->jt : pc->jf;
			break;
		case BPF_JMP | BPF_JGT | BPF_X:
			pc += a > x ? pc->jt : pc->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= k ? pc->jt : pc->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_X:
			pc += a >= x ? pc->jt : pc->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (a & k) ? pc->jt : pc->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_X:
			pc += (a & x) ? pc->jt : pc->jf;
			break;
		default:
			/* Not reached after fastnet_bpf_check(). */
			return 0;
		}
	}
}
