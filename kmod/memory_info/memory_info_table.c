// SPDX-License-Identifier: GPL-2.0
/*
 * memory_info's table: one entry per process name (comm), found by name in
 * a hash table and listed in process-list order, with the pids of the
 * name's processes and their total and valid pages. Built from every live
 * process with a user address space at load and on RESET.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/hashtable.h>
#include <linux/jhash.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "memory_info.h"

static u32 mi_name_hash(const char *name)
{
	return jhash(name, strlen(name), 0);
}

struct mi_name *mi_table_find(struct mi_table *table, const char *name)
{
	struct mi_name *e;

	hash_for_each_possible(table->by_name, e, hnode, mi_name_hash(name))
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}

void mi_name_free(struct mi_name *e)
{
	unsigned int i;

	for (i = 0; i < e->nr_pids; i++)
		put_pid(e->pids[i]);
	kfree(e->pids);
	kfree(e);
}

void mi_table_free(struct mi_table *table)
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
struct mi_table *mi_table_build(void)
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
