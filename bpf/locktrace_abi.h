/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The event ABI shared by the BPF programs (bpf/locktrace.bpf.c) and the C++
 * consumer (src/core/decoder.cpp). Plain C, fixed-width fields, explicit padding:
 * the same bytes travel through the ring buffer and into trace files, so every
 * layout change bumps LT_ABI_VERSION and the static_asserts in the decoder pin
 * the sizes.
 */
#ifndef LOCKTRACE_ABI_H
#define LOCKTRACE_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define LT_ABI_VERSION 1
#define LT_COMM_LEN 16

/* lt_header.kind */
#define LT_EV_LOCK_CALL 1  /* a lock syscall: started waiting, or returned */
#define LT_EV_FILE_LOCK 2  /* a file-lock tracepoint outside any traced lock call (close) */
#define LT_EV_TASK_EXIT 3  /* sched_process_exit: a thread ended */
#define LT_EV_EXIT_CALL 4  /* exit / exit_group syscall with the requested status */
#define LT_EV_FORK 5       /* a traced task created a thread or process */
#define LT_EV_EXEC 6       /* a traced process exec'd */
#define LT_EV_RENAME 7     /* a traced thread changed its comm */
#define LT_EV_SIGNAL 8     /* a signal sent to, or delivered in, a traced thread */
#define LT_EV_REAP 9       /* a traced parent reaped a child (wait4 returned its pid) */
#define LT_EV_STACK 10     /* the call stack of the lock call record that follows */

/* Every record starts with this. ts_ns is CLOCK_MONOTONIC (bpf_ktime_get_ns). */
struct lt_header {
	__u16 kind;
	__u16 size; /* of the whole record, header included */
	__u32 cpu;
	__u64 ts_ns;
	__u32 pid; /* tgid */
	__u32 tid;
};

/* lt_lock_call.sys */
#define LT_SYS_FLOCK 1
#define LT_SYS_FCNTL 2
#define LT_SYS_FUTEX 3
#define LT_SYS_FUTEX_WAIT 4    /* futex2 */
#define LT_SYS_FUTEX_WAKE 5    /* futex2 */
#define LT_SYS_FUTEX_WAITV 6   /* futex2 */
#define LT_SYS_FUTEX_REQUEUE 7 /* futex2 */

/* lt_lock_call.phase */
#define LT_PHASE_WAIT 1 /* the thread went to sleep inside the call; no result yet */
#define LT_PHASE_DONE 2 /* the call returned: ret is valid */

/* lt_lock_call.flags */
#define LT_CALL_BLOCKED 0x1     /* the thread slept inside the call */
#define LT_CALL_HAS_FLOCK 0x2   /* user_flock holds the caller's struct flock */
#define LT_CALL_HAS_KLOCK 0x4   /* klock holds the kernel's view of the file lock */
#define LT_CALL_HAS_BLOCKER 0x8 /* klock.blocker_* describe the conflicting lock */
#define LT_CALL_HAS_WORD 0x10   /* futex_word holds *uaddr read at entry */
#define LT_CALL_MAY_BLOCK 0x20  /* a blocking form: F_SETLKW, flock without LOCK_NB, futex waits */
#define LT_CALL_HAS_OWNER_WORD 0x40 /* owner_word holds the u32 at uaddr + 8 (glibc __owner) */
#define LT_CALL_SNAPSHOT 0x80   /* made by user space from /proc at attach: entered before tracing */
#define LT_CALL_NO_ENTRY 0x100  /* returned from a call entered before tracing: args unknown */

/* struct flock as the caller passed it (and, for F_GETLK, as it came back). */
struct lt_user_flock {
	__s64 start;
	__s64 len;
	__s32 pid;
	__s16 type;
	__s16 whence;
};

/* lt_kernel_lock.flags: the kernel's FL_* bits, as the filelock tracepoints report them */
#define LT_FL_POSIX 0x1
#define LT_FL_FLOCK 0x2
#define LT_FL_SLEEP 0x80
#define LT_FL_OFDLCK 0x400

/* The kernel's view of a file lock request (filelock tracepoints). */
struct lt_kernel_lock {
	__u64 ino;
	__u64 owner;       /* fl_owner_t: files_struct for POSIX, struct file for flock/OFD */
	__s64 start;
	__s64 end;
	__u64 blocker_owner;
	__s64 blocker_start;
	__s64 blocker_end;
	__u32 dev;         /* kernel dev_t encoding: major << 20 | minor */
	__u32 fl_flags;
	__u32 blocker_pid; /* tgid of the conflicting lock's owner (0 for OFD locks) */
	__u32 blocker_flags;
	__s32 ret;         /* the tracepoint's ret: 0, -EAGAIN, FILE_LOCK_DEFERRED ... */
	__u8 type;         /* F_RDLCK 0, F_WRLCK 1, F_UNLCK 2 */
	__u8 blocker_type;
	__u8 tracepoint;   /* LT_TP_* */
	__u8 pad;
};

/* lt_kernel_lock.tracepoint */
#define LT_TP_POSIX_LOCK_INODE 1
#define LT_TP_FLOCK_LOCK_INODE 2
#define LT_TP_FCNTL_SETLK 3
#define LT_TP_LOCKS_REMOVE_POSIX 4

struct lt_lock_call {
	struct lt_header h;
	__u16 sys;
	__u16 phase;
	__u32 flags;
	__s64 ret;       /* valid when phase == LT_PHASE_DONE */
	__u64 enter_ts;  /* monotonic ns at syscall entry */
	__u64 args[6];   /* the raw syscall arguments */
	__u32 futex_word;
	/* For futex waits, the word where a glibc pthread_mutex_t keeps its owner's
	 * TID (__owner, 8 bytes after the lock word): a guess until validated. */
	__u32 owner_word;
	/* Futex calls' records end here (LT_LOCK_CALL_FUTEX_SIZE): what follows is
	 * for flock/fcntl only, and readers zero it when a record is shorter. */
	struct lt_user_flock user_flock;
	struct lt_kernel_lock klock;
};

#define LT_LOCK_CALL_FUTEX_SIZE 104 /* offsetof(struct lt_lock_call, user_flock) */

struct lt_file_lock {
	struct lt_header h;
	struct lt_kernel_lock klock;
};

struct lt_task_exit {
	struct lt_header h;
	__s32 exit_code;  /* wait(2) encoding: status << 8 | signal | 0x80 core */
	__u8 group_dead;  /* the last thread of the process */
	__u8 pad[3];
	char comm[LT_COMM_LEN];
};

struct lt_exit_call {
	struct lt_header h;
	__s32 status;
	__u8 group;       /* exit_group rather than exit */
	__u8 pad[3];
};

struct lt_fork {
	struct lt_header h; /* pid/tid: the parent */
	__u32 child_pid;    /* tgid of the new task */
	__u32 child_tid;
	char comm[LT_COMM_LEN];
};

struct lt_exec {
	struct lt_header h;
	__u32 old_tid;
	__u32 pad;
	char comm[LT_COMM_LEN];
	char filename[128];
};

struct lt_rename {
	struct lt_header h;
	char comm[LT_COMM_LEN];
};

/* lt_signal.phase */
#define LT_SIGNAL_GENERATE 1 /* sent: the header names the sender (any process) */
#define LT_SIGNAL_DELIVER 2  /* delivered: the header names the receiving thread */

struct lt_signal {
	struct lt_header h;
	__s32 sig;
	__s32 code;        /* si_code: SI_USER 0, SI_TKILL -6, SI_KERNEL 0x80 (a timer, a fault) */
	__u32 target_pid;  /* the receiving thread's tgid and tid */
	__u32 target_tid;
	__s32 result;      /* generate: TRACE_SIGNAL_DELIVERED 0, IGNORED 1, ...;
			    * deliver: the handler's sa_flags (SA_RESTART 0x10000000) */
	__u8 phase;
	__u8 handled;      /* deliver: a handler runs (not SIG_DFL/SIG_IGN) */
	__u8 pad[2];
	char comm[LT_COMM_LEN]; /* the header task's comm: a sender may be untraced */
};

struct lt_reap {
	struct lt_header h;
	__u32 child_pid;
	__u32 pad;
};

/*
 * Where a thread was when it made a lock call: sent just before the lock call
 * record it belongs to, with the same tid and ts_ns. Kernel stacks and
 * frame-pointer user stacks travel as ids into the stack_traces map (one id per
 * distinct stack); because most user code has no frame pointers, a copy of the
 * top of the user stack may follow, for user space to unwind with the
 * binaries' DWARF call-frame information.
 */
#define LT_STACK_MAX_BYTES 16384 /* largest user stack copy */
#define LT_STACK_MAX_FRAMES 127  /* frames per stack_traces entry (perf_event_max_stack) */

/* Which lock calls send their stack (the BPF object's stack_mode). */
#define LT_STACKS_NONE 0
#define LT_STACKS_WAITS 1 /* blocking waits, and file-lock acquisitions and refusals */
#define LT_STACKS_ALL 2   /* every lock call */

struct lt_stack {
	struct lt_header h;
	__s32 kernel_stack_id; /* stack_traces id; negative: none (-errno) */
	__s32 user_stack_id;   /* stack_traces id of the frame-pointer walk; negative: none */
	__u64 ip;              /* the thread's user registers at syscall entry */
	__u64 sp;
	__u64 bp;
	__u32 stack_bytes;     /* bytes of user stack copied from sp, right after the struct */
	__u32 pad;
};

/* Per-CPU counters in the .bss-like counters map, read by user space. */
#define LT_COUNTER_RB_DROPPED 0  /* ring-buffer reserve failures */
#define LT_COUNTER_INFLIGHT_FULL 1 /* calls not paired: inflight map full */
#define LT_COUNTER_MAX 2

#endif /* LOCKTRACE_ABI_H */
