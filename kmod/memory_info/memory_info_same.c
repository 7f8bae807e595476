// SPDX-License-Identifier: GPL-2.0
/*
 * memory_info's identical pages, looked for the first time ALL or FILTER
 * shows a name and kept until the next RESET: the valid pages of that
 * name's processes in readable, non-writable VMAs are collected (one
 * reference each), a physical page mapped several times is counted once,
 * the distinct pages are hashed (xxh64), sorted by hash, and pages of one
 * hash are confirmed equal with memcmp() before they form a group. Both
 * sorts are counting sorts on the top bits of well-spread keys: the whole
 * search is linear in the number of pages, with about 44 bytes of memory a
 * page.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hash.h>
#include <linux/highmem.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xxhash.h>

#include "memory_info.h"

static unsigned int group_mem_max_kib = 256 * 1024;
module_param(group_mem_max_kib, uint, 0644);
MODULE_PARM_DESC(group_mem_max_kib,
		 "Most memory (KiB) one identical-page search may use, about 44 bytes a page; beyond it ALL/FILTER fail with ENOMEM (default 262144)");

/* Random per load, so that colliding pages cannot be prepared in advance. */
u64 mi_hash_seed;

/* A sort key and the index of the page it stands for. */
struct mi_key {
	u64 key;
	size_t idx;
};

/* --- collected pages ---------------------------------------------------- */

/* Room for @more entries, within group_mem_max_kib; may sleep. */
int mi_pages_reserve(struct mi_pages *p, size_t more)
{
	size_t limit = (size_t)READ_ONCE(group_mem_max_kib) * 1024 / sizeof(*p->v);
	size_t want = p->nr + more, max;
	struct page **v;

	if (want <= p->max)
		return 0;
	if (want > limit)
		return -ENOMEM;
	max = clamp_t(size_t, p->max * 2, want, limit);
	v = kvrealloc(p->v, p->max * sizeof(*v), max * sizeof(*v),
		      GFP_KERNEL | __GFP_NOWARN);
	if (!v)
		return -ENOMEM;
	p->v = v;
	p->max = max;
	return 0;
}

static void mi_pages_release(struct mi_pages *p)
{
	size_t i;

	for (i = 0; i < p->nr; i++) {
		if (p->v[i])
			put_page(p->v[i]);
		if (!(i % 1024))
			cond_resched();
	}
	kvfree(p->v);
	p->v = NULL;
	p->nr = 0;
	p->max = 0;
}

/* --- identical pages ---------------------------------------------------- */

static u64 mi_page_hash(struct page *page)
{
	void *addr = kmap_local_page(page);
	u64 hash = xxh64(addr, PAGE_SIZE, mi_hash_seed);

	kunmap_local(addr);
	return hash;
}

static bool mi_same_contents(struct page *a, struct page *b)
{
	void *x, *y;
	bool same;

	x = kmap_local_page(a);
	y = kmap_local_page(b);
	same = !memcmp(x, y, PAGE_SIZE);
	kunmap_local(y);
	kunmap_local(x);
	return same;
}

/*
 * Pages of one hash (@n keys into @p): nearly always one contents, so one
 * memcmp() a page. Each pass moves the pages equal to the first remaining
 * one in front.
 */
static void mi_group_run(struct mi_pages *p, struct mi_key *s, size_t n,
			 unsigned long *may_be_shared, unsigned long *nb_group)
{
	size_t first, size, i;

	for (first = 0; first < n; first += size) {
		size = 1;
		for (i = first + 1; i < n; i++) {
			if (!(i % 256))
				cond_resched();
			if (!mi_same_contents(p->v[s[first].idx], p->v[s[i].idx]))
				continue;
			swap(s[first + size], s[i]);
			size++;
		}
		if (size > 1) {
			*may_be_shared += size;
			(*nb_group)++;
		}
		cond_resched();
	}
}

/*
 * Sorts @s by key in expected linear time, through @tmp (as many entries)
 * and @count (1 << @bits counters): keys are uniformly spread, so a counting
 * sort on their top @bits leaves buckets of about one entry, which an
 * insertion sort finishes. Stable: equal keys, however many, end up
 * adjacent and in their first order.
 */
static void mi_sort_keys(struct mi_key *s, size_t n, struct mi_key *tmp,
			 u32 *count, unsigned int bits)
{
	unsigned int shift = 64 - bits;
	size_t nb = 1UL << bits, i, j, k, start, end;
	struct mi_key x;
	u32 c, sum = 0;

	memset(count, 0, nb * sizeof(*count));
	for (i = 0; i < n; i++)
		count[s[i].key >> shift]++;
	for (i = 0; i < nb; i++) {
		c = count[i];
		count[i] = sum;
		sum += c;
	}
	/* After this, count[b] is where bucket b ends. */
	for (i = 0; i < n; i++)
		tmp[count[s[i].key >> shift]++] = s[i];
	cond_resched();

	for (start = 0, i = 0; i < nb; i++, start = end) {
		end = count[i];
		for (j = start + 1; j < end; j++) {
			x = tmp[j];
			for (k = j; k > start && tmp[k - 1].key > x.key; k--)
				tmp[k] = tmp[k - 1];
			tmp[k] = x;
		}
	}
	memcpy(s, tmp, n * sizeof(*s));
	cond_resched();
}

/*
 * Groups the collected pages by contents; drops duplicate references.
 * Needs two keys a page and up to a counter a page besides the pages.
 */
static int mi_group_pages(struct mi_pages *p, unsigned long *may_be_shared,
			  unsigned long *nb_group)
{
	size_t limit = (size_t)READ_ONCE(group_mem_max_kib) * 1024;
	unsigned int bits = max_t(unsigned int, ilog2(p->nr | 1), 1);
	size_t i, j, nr = 0;
	struct mi_key *s, *tmp;
	int ret = -ENOMEM;
	u32 *count;

	*may_be_shared = 0;
	*nb_group = 0;
	if (p->nr < 2)
		return 0;
	if (p->nr > U32_MAX ||
	    p->max * sizeof(*p->v) + 2 * p->nr * sizeof(*s) + (sizeof(*count) << bits) > limit)
		return -ENOMEM;
	s = kvmalloc_array(p->nr, sizeof(*s), GFP_KERNEL | __GFP_NOWARN);
	tmp = kvmalloc_array(p->nr, sizeof(*tmp), GFP_KERNEL | __GFP_NOWARN);
	count = kvmalloc_array(1UL << bits, sizeof(*count), GFP_KERNEL | __GFP_NOWARN);
	if (!s || !tmp || !count)
		goto out;

	/*
	 * A physical page mapped several times counts once. Multiplying by an
	 * odd constant mixes the pointer's bits into the top ones, one to one.
	 */
	for (i = 0; i < p->nr; i++) {
		s[i].key = (u64)(unsigned long)p->v[i] * GOLDEN_RATIO_64;
		s[i].idx = i;
	}
	mi_sort_keys(s, p->nr, tmp, count, bits);
	for (i = 1; i < p->nr; i++) {
		if (s[i].key != s[i - 1].key)
			continue;
		put_page(p->v[s[i].idx]);
		p->v[s[i].idx] = NULL;
	}
	/* In the order collected, so that neighbours in memory are read together. */
	for (i = 0; i < p->nr; i++)
		if (p->v[i])
			p->v[nr++] = p->v[i];
	p->nr = nr;

	for (i = 0; i < p->nr; i++) {
		s[i].key = mi_page_hash(p->v[i]);
		s[i].idx = i;
		if (!(i % 256))
			cond_resched();
	}
	mi_sort_keys(s, p->nr, tmp, count, bits);
	for (i = 0; i < p->nr; i = j) {
		for (j = i + 1; j < p->nr && s[j].key == s[i].key; j++)
			;
		if (j - i > 1)
			mi_group_run(p, s + i, j - i, may_be_shared, nb_group);
	}
	ret = 0;
out:
	kvfree(count);
	kvfree(tmp);
	kvfree(s);
	return ret;
}

/* Computes may_be_shared and nb_group of @e from its live processes. */
int mi_name_group(struct mi_name *e)
{
	struct mi_pages pages = {};
	struct task_struct *task;
	struct mm_struct *mm;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < e->nr_pids && !ret; i++) {
		task = get_pid_task(e->pids[i], PIDTYPE_PID);
		if (!task)
			continue;	/* exited since the table was built */
		mm = mi_process_mm(task);
		put_task_struct(task);
		if (!mm)
			continue;
		ret = mi_walk_mm(mm, NULL, NULL, &pages);
		mmput(mm);
	}
	if (!ret)
		ret = mi_group_pages(&pages, &e->may_be_shared, &e->nb_group);
	if (!ret)
		e->grouped = true;
	mi_pages_release(&pages);
	return ret;
}
