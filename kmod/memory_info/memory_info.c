// SPDX-License-Identifier: GPL-2.0
/*
 * memory_info: memory use of every process name (comm), and pages with
 * identical contents, driven through /proc/memory_info.
 *
 * At load and on RESET the module snapshots every process that has a user
 * address space into a table keyed by name: the pids, the pages of all
 * VMAs (total) and those present in the page tables (valid). Identical
 * pages are looked for the first time ALL or FILTER shows a name, and
 * kept until the next RESET: the valid pages of that name's processes in
 * readable, non-writable VMAs are collected (one reference each), a
 * physical page mapped several times is counted once, the distinct pages
 * are hashed (xxh64), sorted by hash, and pages of one hash are confirmed
 * equal with memcmp() before they form a group. Both sorts are counting
 * sorts on the top bits of well-spread keys: the whole search is linear in
 * the number of pages, with about 44 bytes of memory a page.
 *
 * Writing a command sets what reading the file shows: the table's lines
 * for ALL and FILTER, "[SUCCESS]" for RESET and DEL, "[ERROR]: <message>"
 * after a command that failed with that negative errno.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/hash.h>
#include <linux/hashtable.h>
#include <linux/highmem.h>
#include <linux/hugetlb_inline.h>
#include <linux/jhash.h>
#include <linux/list.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/proc_fs.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/xxhash.h>

#include "uapi/memory_info.h"

static unsigned int group_mem_max_kib = 256 * 1024;
module_param(group_mem_max_kib, uint, 0644);
MODULE_PARM_DESC(group_mem_max_kib,
		 "Most memory (KiB) one identical-page search may use, about 44 bytes a page; beyond it ALL/FILTER fail with ENOMEM (default 262144)");

/* One process name and what its processes use. */
struct mi_name {
	struct list_head node;		/* mi_table.names, process-list order */
	struct hlist_node hnode;	/* mi_table.by_name */
	char name[TASK_COMM_LEN];
	unsigned long total;		/* pages of every VMA */
	unsigned long valid;		/* of those, present in the page tables */
	unsigned long may_be_shared;	/* pages in groups of 2+ identical pages */
	unsigned long nb_group;		/* groups of 2+ identical pages */
	bool grouped;			/* the two counts above are computed */
	unsigned int nr_pids;
	unsigned int max_pids;
	struct pid **pids;		/* thread-group leaders, one reference each */
};

struct mi_table {
	struct list_head names;
	DECLARE_HASHTABLE(by_name, 7);
};

/* What reading the file shows: the result of the last command. */
enum mi_result {
	MI_RESULT_SUCCESS,
	MI_RESULT_ALL,
	MI_RESULT_ONE,
	MI_RESULT_ERROR,
};

/* Serialises every command and every read of the result. */
static DEFINE_MUTEX(mi_lock);
static struct mi_table *mi_table;
static enum mi_result mi_result;
static struct mi_name *mi_result_name;	/* MI_RESULT_ONE */
static int mi_result_err;		/* MI_RESULT_ERROR */
static struct proc_dir_entry *mi_proc;
/* Random per load, so that colliding pages cannot be prepared in advance. */
static u64 mi_hash_seed;

/* The pages met while collecting, one reference held on each. */
struct mi_pages {
	struct page **v;
	size_t nr;
	size_t max;
};

/* A sort key and the index of the page it stands for. */
struct mi_key {
	u64 key;
	size_t idx;
};

/* State of one page-table walk over one mm. */
struct mi_walk {
	struct mm_struct *mm;
	unsigned long valid;
	struct mi_pages *pages;		/* collect into it, or NULL: count only */
};

static const char *mi_strerror(int err)
{
	switch (err) {
	case -ENOENT:
		return "No such file or directory";
	case -EFAULT:
		return "Bad address";
	case -ESRCH:
		return "No such process";
	case -EINVAL:
		return "Invalid argument";
	case -ENOMEM:
		return "Memory allocation error";
	case -EINTR:
		return "Interrupted system call";
	default:
		return "Unknown error";
	}
}

/* --- collected pages ---------------------------------------------------- */

/* Room for @more entries, within group_mem_max_kib; may sleep. */
static int mi_pages_reserve(struct mi_pages *p, size_t more)
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

/* Called with the page-table lock held: the mapping keeps @page alive. */
static void mi_pages_add(struct mi_pages *p, struct page *page)
{
	get_page(page);
	p->v[p->nr++] = page;
}

/* --- page-table walk ---------------------------------------------------- */

/*
 * Pages whose contents are compared: those of readable, non-writable VMAs
 * backed by ordinary memory. Device and PFN maps may have no struct page
 * or side effects on read; hugetlb pages are not split into base pages;
 * secretmem pages are not even in the kernel's direct map.
 */
static bool mi_vma_compared(struct vm_area_struct *vma)
{
	if ((vma->vm_flags & (VM_READ | VM_WRITE)) != VM_READ)
		return false;
	if (vma->vm_flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP | VM_HUGETLB))
		return false;
	if (vma->vm_file && file_inode(vma->vm_file)->i_sb->s_magic == SECRETMEM_MAGIC)
		return false;
	return true;
}

/* The page behind a present PTE of a compared VMA, or NULL to skip it. */
static struct page *mi_pte_page(pte_t pte)
{
	unsigned long pfn = pte_pfn(pte);
	struct page *page;

	if (pte_devmap(pte) || (pte_special(pte) && !is_zero_pfn(pfn)))
		return NULL;
	if (!pfn_valid(pfn))
		return NULL;
	page = pfn_to_page(pfn);
	if (is_zone_device_page(page) || PageHWPoison(page))
		return NULL;
	return page;
}

static void mi_walk_ptes(struct mi_walk *w, pmd_t *pmd, unsigned long addr,
			 unsigned long end)
{
	spinlock_t *ptl;
	pte_t *start, *pte;
	struct page *page;

	start = pte_offset_map_lock(w->mm, pmd, addr, &ptl);
	for (pte = start; addr != end; pte++, addr += PAGE_SIZE) {
		pte_t entry = ptep_get(pte);

		if (!pte_present(entry))
			continue;
		w->valid++;
		if (w->pages) {
			page = mi_pte_page(entry);
			if (page)
				mi_pages_add(w->pages, page);
		}
	}
	pte_unmap_unlock(start, ptl);
}

/*
 * A PMD that maps a huge page (THP, hugetlb or DAX). It is checked again
 * under its lock, which keeps it from being split or zapped meanwhile.
 * Returns false if it no longer maps a huge page: walk it again.
 */
static bool mi_walk_huge_pmd(struct mi_walk *w, pmd_t *pmd, unsigned long addr,
			     unsigned long end)
{
	spinlock_t *ptl = pmd_lock(w->mm, pmd);
	pmd_t entry = *pmd;
	struct page *page;

	if (!pmd_large(entry) || !pmd_present(entry)) {
		spin_unlock(ptl);
		return pmd_none(entry) || !pmd_present(entry);
	}
	w->valid += (end - addr) >> PAGE_SHIFT;
	/* Collecting only walks compared VMAs (see mi_walk_mm): no hugetlb here. */
	if (w->pages && pmd_trans_huge(entry)) {
		page = pmd_page(entry) + ((addr & ~PMD_MASK) >> PAGE_SHIFT);
		for (; addr != end; addr += PAGE_SIZE, page++)
			mi_pages_add(w->pages, page);
	}
	spin_unlock(ptl);
	return true;
}

static int mi_walk_pmds(struct mi_walk *w, pud_t *pud, unsigned long addr,
			unsigned long end)
{
	pmd_t *pmd = pmd_offset(pud, addr);
	unsigned long next;
	pmd_t entry;
	int ret;

	do {
		next = pmd_addr_end(addr, end);
again:
		entry = READ_ONCE(*pmd);
		/* Not present: a hole, or a THP being migrated. */
		if (pmd_none(entry) || !pmd_present(entry))
			continue;
		/* A page table's worth of pages, at most, is collected below. */
		if (w->pages) {
			ret = mi_pages_reserve(w->pages, PTRS_PER_PTE);
			if (ret)
				return ret;
		}
		if (pmd_large(entry)) {
			if (!mi_walk_huge_pmd(w, pmd, addr, next))
				goto again;
		} else if (!pmd_bad(entry)) {
			/* mmap_lock keeps this page table from being freed. */
			mi_walk_ptes(w, pmd, addr, next);
		}
		cond_resched();
	} while (pmd++, addr = next, addr != end);
	return 0;
}

static int mi_walk_puds(struct mi_walk *w, p4d_t *p4d, unsigned long addr,
			unsigned long end)
{
	pud_t *pud = pud_offset(p4d, addr);
	unsigned long next;
	pud_t entry;
	int ret;

	do {
		next = pud_addr_end(addr, end);
		entry = READ_ONCE(*pud);
		if (pud_none(entry) || !pud_present(entry))
			continue;
		/* 1 GiB pages: hugetlb or DAX only, never compared. */
		if (pud_large(entry)) {
			w->valid += (next - addr) >> PAGE_SHIFT;
			continue;
		}
		if (pud_bad(entry))
			continue;
		ret = mi_walk_pmds(w, pud, addr, next);
		if (ret)
			return ret;
	} while (pud++, addr = next, addr != end);
	return 0;
}

static int mi_walk_p4ds(struct mi_walk *w, pgd_t *pgd, unsigned long addr,
			unsigned long end)
{
	p4d_t *p4d = p4d_offset(pgd, addr);
	unsigned long next;
	int ret;

	do {
		next = p4d_addr_end(addr, end);
		if (p4d_none(*p4d) || p4d_bad(*p4d))
			continue;
		ret = mi_walk_puds(w, p4d, addr, next);
		if (ret)
			return ret;
	} while (p4d++, addr = next, addr != end);
	return 0;
}

/* Counts the present pages of @vma; collects them too if w->pages is set. */
static int mi_walk_vma(struct mi_walk *w, struct vm_area_struct *vma)
{
	unsigned long addr = vma->vm_start, end = vma->vm_end, next;
	pgd_t *pgd = pgd_offset(w->mm, addr);
	int ret;

	do {
		next = pgd_addr_end(addr, end);
		if (pgd_none(*pgd) || pgd_bad(*pgd))
			continue;
		ret = mi_walk_p4ds(w, pgd, addr, next);
		if (ret)
			return ret;
	} while (pgd++, addr = next, addr != end);
	return 0;
}

/*
 * A hugetlb VMA's page tables: a PMD table shared between processes (PMD
 * sharing) can be unshared and freed under the mmap lock of another
 * process, but never without the file's i_mmap_rwsem held for writing
 * (huge_pmd_unshare()). Holding it for reading keeps the tables walked
 * here; hugetlb_vma_lock_read() would do too, but modules cannot call it.
 * Lock order: mmap_lock, i_mmap_rwsem, then the page-table lock.
 */
static int mi_walk_hugetlb_vma(struct mi_walk *w, struct vm_area_struct *vma)
{
	struct address_space *mapping = vma->vm_file->f_mapping;
	int ret;

	i_mmap_lock_read(mapping);
	ret = mi_walk_vma(w, vma);
	i_mmap_unlock_read(mapping);
	return ret;
}

/*
 * Walks every VMA of @mm. With @pages NULL, adds up total and valid pages;
 * otherwise collects the valid pages of the compared VMAs into @pages.
 */
static int mi_walk_mm(struct mm_struct *mm, unsigned long *total,
		      unsigned long *valid, struct mi_pages *pages)
{
	struct mi_walk w = { .mm = mm, .pages = pages };
	struct vm_area_struct *vma;
	struct vma_iterator vmi;
	int ret = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma_iter_init(&vmi, mm, 0);
	for_each_vma(vmi, vma) {
		if (pages) {
			if (!mi_vma_compared(vma))
				continue;
		} else {
			*total += vma_pages(vma);
		}
		if (is_vm_hugetlb_page(vma))
			ret = mi_walk_hugetlb_vma(&w, vma);
		else
			ret = mi_walk_vma(&w, vma);
		if (ret)
			break;
	}
	mmap_read_unlock(mm);
	if (valid)
		*valid += w.valid;
	return ret;
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

/*
 * The address space of process @p, from any of its threads: a leader that
 * called pthread_exit() has none of its own but its process lives on.
 * NULL for kernel threads and exited processes.
 */
static struct mm_struct *mi_process_mm(struct task_struct *p)
{
	struct mm_struct *mm = NULL;
	struct task_struct *t;

	rcu_read_lock();
	for_each_thread(p, t) {
		mm = get_task_mm(t);
		if (mm)
			break;
	}
	rcu_read_unlock();
	return mm;
}

/* Computes may_be_shared and nb_group of @e from its live processes. */
static int mi_name_group(struct mi_name *e)
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

/* --- the table ---------------------------------------------------------- */

static u32 mi_name_hash(const char *name)
{
	return jhash(name, strlen(name), 0);
}

static struct mi_name *mi_table_find(struct mi_table *table, const char *name)
{
	struct mi_name *e;

	hash_for_each_possible(table->by_name, e, hnode, mi_name_hash(name))
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}

static void mi_name_free(struct mi_name *e)
{
	unsigned int i;

	for (i = 0; i < e->nr_pids; i++)
		put_pid(e->pids[i]);
	kfree(e->pids);
	kfree(e);
}

static void mi_table_free(struct mi_table *table)
{
	struct mi_name *e, *tmp;

	if (!table)
		return;
	list_for_each_entry_safe(e, tmp, &table->names, node)
		mi_name_free(e);
	kfree(table);
}

static int mi_name_add_pid(struct mi_name *e, struct pid *pid)
{
	struct pid **pids;
	unsigned int max;

	if (e->nr_pids == e->max_pids) {
		max = e->max_pids ? e->max_pids * 2 : 4;
		pids = krealloc_array(e->pids, max, sizeof(*pids), GFP_KERNEL);
		if (!pids)
			return -ENOMEM;
		e->pids = pids;
		e->max_pids = max;
	}
	e->pids[e->nr_pids++] = pid;
	return 0;
}

/* Adds @task to its name's entry; tasks without a user mm are skipped. */
static int mi_table_add(struct mi_table *table, struct task_struct *task)
{
	unsigned long total = 0, valid = 0;
	char comm[TASK_COMM_LEN];
	struct mm_struct *mm;
	struct mi_name *e;
	struct pid *pid;
	int ret;

	/*
	 * The pid first: once the task is reaped it has none (and would be
	 * listed as pid 0), while a reference taken before keeps its number.
	 */
	pid = get_task_pid(task, PIDTYPE_PID);
	if (!pid)
		return 0;	/* reaped */
	mm = mi_process_mm(task);
	if (!mm) {
		put_pid(pid);
		return 0;	/* a kernel thread, or exited */
	}
	ret = mi_walk_mm(mm, &total, &valid, NULL);
	mmput(mm);
	if (ret)
		goto err_pid;

	get_task_comm(comm, task);
	e = mi_table_find(table, comm);
	if (!e) {
		e = kzalloc(sizeof(*e), GFP_KERNEL);
		if (!e) {
			ret = -ENOMEM;
			goto err_pid;
		}
		strscpy(e->name, comm, sizeof(e->name));
		list_add_tail(&e->node, &table->names);
		hash_add(table->by_name, &e->hnode, mi_name_hash(e->name));
	}
	ret = mi_name_add_pid(e, pid);
	if (ret)
		goto err_pid;
	e->total += total;
	e->valid += valid;
	return 0;

err_pid:
	put_pid(pid);
	return ret;
}

/*
 * References to every user process: taken under RCU, which cannot sleep,
 * into an array sized beforehand; sized again if processes were forked
 * meanwhile.
 */
static int mi_get_processes(struct task_struct ***tasksp, unsigned int *nrp)
{
	struct task_struct **tasks, *p;
	unsigned int nr, max = 0;
	bool full;

	rcu_read_lock();
	for_each_process(p)
		max++;
	rcu_read_unlock();

	for (;;) {
		max += max / 4 + 16;
		tasks = kvmalloc_array(max, sizeof(*tasks), GFP_KERNEL | __GFP_NOWARN);
		if (!tasks)
			return -ENOMEM;
		nr = 0;
		full = false;
		rcu_read_lock();
		for_each_process(p) {
			if (p->flags & PF_KTHREAD)
				continue;
			if (nr == max) {
				full = true;
				break;
			}
			get_task_struct(p);
			tasks[nr++] = p;
		}
		rcu_read_unlock();
		if (!full)
			break;
		while (nr)
			put_task_struct(tasks[--nr]);
		kvfree(tasks);
	}
	*tasksp = tasks;
	*nrp = nr;
	return 0;
}

/* A new table of every process with a user address space. */
static struct mi_table *mi_table_build(void)
{
	struct task_struct **tasks;
	struct mi_table *table;
	unsigned int nr, i;
	int ret;

	table = kzalloc(sizeof(*table), GFP_KERNEL);
	if (!table)
		return ERR_PTR(-ENOMEM);
	INIT_LIST_HEAD(&table->names);
	hash_init(table->by_name);

	ret = mi_get_processes(&tasks, &nr);
	if (ret) {
		kfree(table);
		return ERR_PTR(ret);
	}
	for (i = 0; i < nr; i++) {
		if (!ret)
			ret = mi_table_add(table, tasks[i]);
		put_task_struct(tasks[i]);
	}
	kvfree(tasks);
	if (ret) {
		mi_table_free(table);
		return ERR_PTR(ret);
	}
	return table;
}

/* --- commands ----------------------------------------------------------- */

static int mi_reset(void)
{
	struct mi_table *table = mi_table_build();

	if (IS_ERR(table))
		return PTR_ERR(table);	/* the old table stays */
	mi_table_free(mi_table);
	mi_table = table;
	mi_result = MI_RESULT_SUCCESS;
	return 0;
}

static int mi_all(void)
{
	struct mi_name *e;
	int ret;

	if (list_empty(&mi_table->names))
		return -ENOENT;
	list_for_each_entry(e, &mi_table->names, node) {
		if (e->grouped)
			continue;
		ret = mi_name_group(e);
		if (ret)
			return ret;
	}
	mi_result = MI_RESULT_ALL;
	return 0;
}

static int mi_filter(const char *name)
{
	struct mi_name *e = mi_table_find(mi_table, name);
	int ret;

	if (!e)
		return -ESRCH;
	if (!e->grouped) {
		ret = mi_name_group(e);
		if (ret)
			return ret;
	}
	mi_result = MI_RESULT_ONE;
	mi_result_name = e;
	return 0;
}

static int mi_del(const char *name)
{
	struct mi_name *e = mi_table_find(mi_table, name);

	if (!e)
		return -ESRCH;
	hash_del(&e->hnode);
	list_del(&e->node);
	mi_name_free(e);
	mi_result = MI_RESULT_SUCCESS;
	return 0;
}

/*
 * The name after "FILTER|" or "DEL|": 1 to MEMORY_INFO_NAME_MAX bytes,
 * none of them NUL (a comm cannot hold one).
 */
static const char *mi_parse_name(const char *arg, size_t len)
{
	if (!len || len > MEMORY_INFO_NAME_MAX || memchr(arg, '\0', len))
		return NULL;
	return arg;
}

/* Runs the command in @cmd (@len bytes, NUL-terminated at @len). */
static int mi_run(char *cmd, size_t len, const char **what)
{
	const char *name;

	/* One trailing newline, as echo writes it. */
	if (len && cmd[len - 1] == '\n')
		cmd[--len] = '\0';

	*what = "command";
	if (len == 5 && !memcmp(cmd, "RESET", 5)) {
		*what = "RESET";
		return mi_reset();
	}
	if (len == 3 && !memcmp(cmd, "ALL", 3)) {
		*what = "ALL";
		return mi_all();
	}
	if (len > 7 && !memcmp(cmd, "FILTER|", 7)) {
		*what = "FILTER";
		name = mi_parse_name(cmd + 7, len - 7);
		return name ? mi_filter(name) : -EINVAL;
	}
	if (len > 4 && !memcmp(cmd, "DEL|", 4)) {
		*what = "DEL";
		name = mi_parse_name(cmd + 4, len - 4);
		return name ? mi_del(name) : -EINVAL;
	}
	return -EINVAL;
}

/* --- /proc/memory_info -------------------------------------------------- */

static ssize_t mi_proc_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	char cmd[MEMORY_INFO_CMD_MAX + 1];
	const char *what = "command";
	int ret = 0;

	/* Longer than any command: refused before anything is copied. */
	if (!count || count > MEMORY_INFO_CMD_MAX)
		ret = -EINVAL;
	else if (copy_from_user(cmd, ubuf, count))
		ret = -EFAULT;
	else
		cmd[count] = '\0';

	if (mutex_lock_killable(&mi_lock))
		return -EINTR;
	if (!ret)
		ret = mi_run(cmd, count, &what);
	if (ret) {
		mi_result = MI_RESULT_ERROR;
		mi_result_err = ret;
		/* Any user of the file can fail commands: never flood the log. */
		pr_err_ratelimited("%s: [ERROR]: %s\n", what, mi_strerror(ret));
	}
	mutex_unlock(&mi_lock);
	return ret ? ret : count;
}

static void mi_show_name(struct seq_file *m, const struct mi_name *e)
{
	unsigned int i;

	/* Names are free text: a newline or backslash is shown escaped. */
	seq_escape(m, e->name, "\n\\");
	seq_printf(m, ", total: %lu, valid: %lu, invalid: %lu, may_be_shared: %lu, nb_group: %lu, pid(%u): ",
		   e->total, e->valid, e->total - e->valid, e->may_be_shared,
		   e->nb_group, e->nr_pids);
	for (i = 0; i < e->nr_pids; i++) {
		if (i)
			seq_puts(m, "; ");
		seq_printf(m, "%d", pid_nr(e->pids[i]));
	}
	seq_putc(m, '\n');
}

static int mi_proc_show(struct seq_file *m, void *v)
{
	struct mi_name *e;

	if (mutex_lock_killable(&mi_lock))
		return -EINTR;
	switch (mi_result) {
	case MI_RESULT_SUCCESS:
		seq_puts(m, "[SUCCESS]\n");
		break;
	case MI_RESULT_ALL:
		list_for_each_entry(e, &mi_table->names, node)
			mi_show_name(m, e);
		break;
	case MI_RESULT_ONE:
		mi_show_name(m, mi_result_name);
		break;
	case MI_RESULT_ERROR:
		seq_printf(m, "[ERROR]: %s\n", mi_strerror(mi_result_err));
		break;
	}
	mutex_unlock(&mi_lock);
	return 0;
}

static int mi_proc_open(struct inode *inode, struct file *file)
{
	return single_open(file, mi_proc_show, NULL);
}

static const struct proc_ops mi_proc_ops = {
	.proc_open = mi_proc_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
	.proc_write = mi_proc_write,
};

static int __init memory_info_init(void)
{
	struct mi_table *table;

	/* The UAPI limit is the kernel's comm size, written once for users. */
	BUILD_BUG_ON(sizeof(((struct task_struct *)0)->comm) != MEMORY_INFO_NAME_MAX + 1);
	mi_hash_seed = get_random_u64();

	table = mi_table_build();
	if (IS_ERR(table))
		return PTR_ERR(table);
	mi_table = table;
	/* Loading built the table, as RESET does. */
	mi_result = MI_RESULT_SUCCESS;

	/* Root only: identical-page counts would let users probe others' memory. */
	mi_proc = proc_create(MEMORY_INFO_PROC_NAME, 0600, NULL, &mi_proc_ops);
	if (!mi_proc)
		goto err_table;
	return 0;

err_table:
	mi_table_free(mi_table);
	mi_table = NULL;
	return -ENOMEM;
}

static void __exit memory_info_exit(void)
{
	/* Waits for readers and writers in progress. */
	proc_remove(mi_proc);
	mi_table_free(mi_table);
	mi_table = NULL;
}

module_init(memory_info_init);
module_exit(memory_info_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Per process-name memory accounting and identical-page detection, /proc/memory_info");
