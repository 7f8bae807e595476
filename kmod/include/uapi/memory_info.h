/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * memory_info: per process-name memory accounting, /proc/memory_info.
 * Shared by the kernel module and the test helpers: the one place the
 * command syntax and its limits are written down.
 *
 * Commands, one per write(), optionally ending in one '\n':
 *   RESET  ALL  FILTER|<name>  DEL|<name>
 */
#ifndef _UAPI_MEMORY_INFO_H
#define _UAPI_MEMORY_INFO_H

#define MEMORY_INFO_PROC_NAME	"memory_info"

/* A process name (comm) has at most TASK_COMM_LEN - 1 bytes. */
#define MEMORY_INFO_NAME_MAX	15

/* The longest command: "FILTER|" + a longest name + '\n'. */
#define MEMORY_INFO_CMD_MAX	(7 + MEMORY_INFO_NAME_MAX + 1)

#endif /* _UAPI_MEMORY_INFO_H */
