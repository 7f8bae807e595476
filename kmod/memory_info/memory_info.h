/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memory_info's private structures and functions, shared by its files:
 * memory_info_main.c (module init/exit, /proc/memory_info and its command
 * parser), memory_info_table.c (the per-name table), memory_info_walk.c
 * (the page-table walk) and memory_info_same.c (identical pages).
 */
#ifndef _MEMORY_INFO_H
#define _MEMORY_INFO_H

#include <linux/hashtable.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/types.h>

#include "uapi/memory_info.h"

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

/* The pages met while collecting, one reference held on each. */
struct mi_pages {
	struct page **v;
	size_t nr;
	size_t max;
};

/* Called with the page-table lock held: the mapping keeps @page alive. */
static inline void mi_pages_add(struct mi_pages *p, struct page *page)
{
	get_page(page);
	p->v[p->nr++] = page;
}

/* memory_info_table.c */
struct mi_name *mi_table_find(struct mi_table *table, const char *name);
void mi_name_free(struct mi_name *e);
void mi_table_free(struct mi_table *table);
struct mi_table *mi_table_build(void);

/* memory_info_walk.c */
int mi_walk_mm(struct mm_struct *mm, unsigned long *total,
	       unsigned long *valid, struct mi_pages *pages);
struct mm_struct *mi_process_mm(struct task_struct *p);

/* memory_info_same.c */
extern u64 mi_hash_seed;
int mi_pages_reserve(struct mi_pages *p, size_t more);
int mi_name_group(struct mi_name *e);

#endif /* _MEMORY_INFO_H */
