/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Local flavours of kernel types whose layout or names changed across releases.
 * libbpf matches "name___suffix" to the kernel's "name" and relocates each field
 * access, so one object reads both layouts; bpf_core_field_exists() picks the one
 * the running kernel has. They are declared here rather than taken from vmlinux.h
 * so the object also builds against a vmlinux.h of either generation.
 */
#ifndef LOCKTRACE_CORE_FIXES_BPF_H
#define LOCKTRACE_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/* Linux >= 6.9: the common part of every file lock lives in struct file_lock_core. */
struct file_lock_core___new {
	void *flc_owner;
	unsigned int flc_flags;
	unsigned char flc_type;
	int flc_pid;
} __attribute__((preserve_access_index));

struct file_lock___new {
	struct file_lock_core___new c;
	long long fl_start;
	long long fl_end;
} __attribute__((preserve_access_index));

/* Linux < 6.9: one struct file_lock with fl_-prefixed fields. */
struct file_lock___old {
	void *fl_owner;
	unsigned int fl_flags;
	unsigned char fl_type;
	int fl_pid;
	long long fl_start;
	long long fl_end;
} __attribute__((preserve_access_index));

/* The filelock tracepoints' record, after and before the 6.9 rename. */
struct trace_event_raw_filelock_lock___new {
	void *fl;
	unsigned long i_ino;
	unsigned int s_dev;
	void *blocker;
	void *owner;
	unsigned int pid;
	unsigned int flags;
	unsigned char type;
	long long fl_start;
	long long fl_end;
	int ret;
} __attribute__((preserve_access_index));

struct trace_event_raw_filelock_lock___old {
	void *fl;
	unsigned long i_ino;
	unsigned int s_dev;
	void *fl_blocker;
	void *fl_owner;
	unsigned int fl_pid;
	unsigned int fl_flags;
	unsigned char fl_type;
	long long fl_start;
	long long fl_end;
	int ret;
} __attribute__((preserve_access_index));

#endif /* LOCKTRACE_CORE_FIXES_BPF_H */
