// SPDX-License-Identifier: GPL-2.0
/*
 * memory_info: memory use of every process name (comm), and pages with
 * identical contents, driven through /proc/memory_info.
 *
 * At load and on RESET the module snapshots every process that has a user
 * address space into a table keyed by name: the pids, the pages of all
 * VMAs (total) and those present in the page tables (valid). Identical
 * pages are looked for the first time ALL or FILTER shows a name, and
 * kept until the next RESET.
 *
 * Writing a command sets what reading the file shows: the table's lines
 * for ALL and FILTER, "[SUCCESS]" for RESET and DEL, "[ERROR]: <message>"
 * after a command that failed with that negative errno.
 *
 * This file holds the module's init and exit, /proc/memory_info and its
 * command parser; the table is in memory_info_table.c, the page-table walk
 * in memory_info_walk.c and the identical-page search in memory_info_same.c.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/hashtable.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/proc_fs.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "memory_info.h"

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
