// SPDX-License-Identifier: GPL-2.0
/*
 * memory_info's page-table walk: the pages of every VMA of an address
 * space and those present in its page tables, or the present pages of
 * its readable, non-writable VMAs collected for the identical-page search;
 * and the address space of a process, from any of its threads.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/hugetlb_inline.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>

#include "memory_info.h"

/* State of one page-table walk over one mm. */
struct mi_walk {
	struct mm_struct *mm;
	unsigned long valid;
	struct mi_pages *pages;		/* collect into it, or NULL: count only */
};

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
int mi_walk_mm(struct mm_struct *mm, unsigned long *total,
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

/*
 * The address space of process @p, from any of its threads: a leader that
 * called pthread_exit() has none of its own but its process lives on.
 * NULL for kernel threads and exited processes.
 */
struct mm_struct *mi_process_mm(struct task_struct *p)
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
