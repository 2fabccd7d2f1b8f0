// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel side of locktrace: lock syscalls (flock, fcntl lock commands, futex and
 * futex2), the filelock tracepoints, and the task lifecycle (fork, exec, rename,
 * exit) of the traced processes only.
 *
 * A lock call is paired per thread: its entry is kept in `inflight` and a record
 * leaves through the ring buffer when the call returns. A call that may block
 * also emits a record at the moment the thread actually goes to sleep inside it
 * (sched_switch with a sleeping prev_state), so a thread that never returns, as in
 * a deadlock, is still seen.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
#include "locktrace_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space between open and load. */
const volatile bool follow_children = true;
const volatile bool filter_tids = false;    /* -t: match target_tids, not target_tgids */
const volatile __u64 wakeup_bytes = 1 << 20; /* backlog that wakes the consumer */

/* Inside struct flock as the x86_64/arm64 ABI lays it out (off_t is 64-bit). */
struct user_flock64 {
	short l_type;
	short l_whence;
	long long l_start;
	long long l_len;
	int l_pid;
};

#define FUTEX_CMD_MASK 0x7f /* ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME) */
#define FUTEX_WAIT 0
#define FUTEX_LOCK_PI 6
#define FUTEX_UNLOCK_PI 7
#define FUTEX_TRYLOCK_PI 8
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAIT_REQUEUE_PI 11
#define FUTEX_LOCK_PI2 13

#define F_UNLCK 2
#define F_GETLK 5
#define F_SETLK 6
#define F_SETLKW 7
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38

#define LOCK_SH 1
#define LOCK_EX 2
#define LOCK_NB 4

#define TASK_SLEEPING_MASK 0x3 /* TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} target_tgids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} target_tids SEC(".maps");

/* tid -> the lock call it is inside of, filled in as the call progresses. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct lt_lock_call);
} inflight SEC(".maps");

/*
 * Threads user space found blocked in a lock call when it attached (tid -> sys):
 * their return has no inflight entry but must still be reported, or the wait
 * would never end for the analysis.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u16);
} preexisting_waits SEC(".maps");

/* Builds a call record off the 512-byte BPF stack before it goes into inflight. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lt_lock_call);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LT_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by user space before load */
} events SEC(".maps");

static __always_inline void count(__u32 counter)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &counter);

	if (value)
		(*value)++;
}

static __always_inline bool is_traced(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;
	__u32 tid = (__u32)pid_tgid;

	if (filter_tids)
		return bpf_map_lookup_elem(&target_tids, &tid) != NULL;
	return bpf_map_lookup_elem(&target_tgids, &tgid) != NULL;
}

static __always_inline void fill_header(struct lt_header *h, __u16 kind, __u16 size,
					__u64 pid_tgid, __u64 ts)
{
	h->kind = kind;
	h->size = size;
	h->cpu = bpf_get_smp_processor_id();
	h->ts_ns = ts;
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
}

/*
 * Records are submitted without waking the consumer, which polls on a timer; only
 * the record that makes the backlog cross wakeup_bytes wakes it (edge-triggered),
 * so a busy producer pays for one wake-up per drain instead of one per record.
 */
static __always_inline __u64 wakeup_flags(__u64 size)
{
	__u64 backlog = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	if (backlog >= wakeup_bytes && backlog < wakeup_bytes + size + 8)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void submit(void *record, __u64 size)
{
	bpf_ringbuf_submit(record, wakeup_flags(size));
}

static __always_inline void *reserve(__u64 size)
{
	void *record = bpf_ringbuf_reserve(&events, size, 0);

	if (!record)
		count(LT_COUNTER_RB_DROPPED);
	return record;
}

#include "stack_capture.bpf.h"

/* Returns the per-CPU scratch record, zeroed and stamped for a call entry. */
static __always_inline struct lt_lock_call *begin_call(__u16 sys, int nargs,
						       struct trace_event_raw_sys_enter *ctx)
{
	__u32 zero = 0;
	struct lt_lock_call *call = bpf_map_lookup_elem(&scratch, &zero);

	if (!call)
		return NULL;
	__builtin_memset(call, 0, sizeof(*call));
	call->sys = sys;
	call->enter_ts = bpf_ktime_get_ns();
	/*
	 * Constant offsets (the verifier refuses loads through a moved ctx pointer),
	 * and no further than the syscall's own arguments: attaching fails with
	 * EACCES when a program reads past the tracepoint's record.
	 */
	call->args[0] = ctx->args[0];
	call->args[1] = ctx->args[1];
	if (nargs > 2)
		call->args[2] = ctx->args[2];
	if (nargs > 3)
		call->args[3] = ctx->args[3];
	if (nargs > 4)
		call->args[4] = ctx->args[4];
	if (nargs > 5)
		call->args[5] = ctx->args[5];
	return call;
}

static __always_inline void commit_call(struct lt_lock_call *call, __u32 tid)
{
	if (bpf_map_update_elem(&inflight, &tid, call, BPF_ANY))
		count(LT_COUNTER_INFLIGHT_FULL);
}

static __always_inline void read_futex_word(struct lt_lock_call *call, __u64 uaddr)
{
	if (!bpf_probe_read_user(&call->futex_word, sizeof(call->futex_word), (void *)uaddr))
		call->flags |= LT_CALL_HAS_WORD;
}

/* glibc's pthread_mutex_t: int __lock; unsigned __count; int __owner; ... */
static __always_inline void read_owner_word(struct lt_lock_call *call, __u64 uaddr)
{
	if (!bpf_probe_read_user(&call->owner_word, sizeof(call->owner_word), (void *)(uaddr + 8)))
		call->flags |= LT_CALL_HAS_OWNER_WORD;
}

static __always_inline void read_user_flock(struct lt_lock_call *call, __u64 uptr)
{
	struct user_flock64 fl;

	if (bpf_probe_read_user(&fl, sizeof(fl), (void *)uptr))
		return;
	call->user_flock.type = fl.l_type;
	call->user_flock.whence = fl.l_whence;
	call->user_flock.start = fl.l_start;
	call->user_flock.len = fl.l_len;
	call->user_flock.pid = fl.l_pid;
	call->flags |= LT_CALL_HAS_FLOCK;
}

SEC("tracepoint/syscalls/sys_enter_flock")
int flock_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct lt_lock_call *call;
	__u64 op = ctx->args[1];

	if (!is_traced(pid_tgid))
		return 0;
	call = begin_call(LT_SYS_FLOCK, 2, ctx);
	if (!call)
		return 0;
	if ((op & (LOCK_SH | LOCK_EX)) && !(op & LOCK_NB))
		call->flags |= LT_CALL_MAY_BLOCK;
	commit_call(call, (__u32)pid_tgid);
	return 0;
}

static __always_inline bool is_lock_cmd(__u64 cmd)
{
	return cmd == F_GETLK || cmd == F_SETLK || cmd == F_SETLKW ||
	       cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
}

SEC("tracepoint/syscalls/sys_enter_fcntl")
int fcntl_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct lt_lock_call *call;
	__u64 cmd = ctx->args[1];

	if (!is_lock_cmd(cmd) || !is_traced(pid_tgid))
		return 0;
	call = begin_call(LT_SYS_FCNTL, 3, ctx);
	if (!call)
		return 0;
	read_user_flock(call, ctx->args[2]);
	if (cmd == F_SETLKW || cmd == F_OFD_SETLKW)
		call->flags |= LT_CALL_MAY_BLOCK;
	commit_call(call, (__u32)pid_tgid);
	return 0;
}

static __always_inline bool futex_op_may_block(__u32 cmd)
{
	return cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET || cmd == FUTEX_LOCK_PI ||
	       cmd == FUTEX_LOCK_PI2 || cmd == FUTEX_WAIT_REQUEUE_PI;
}

/* Ops whose futex word says something: the expected value, or a PI owner's TID. */
static __always_inline bool futex_op_reads_word(__u32 cmd)
{
	return futex_op_may_block(cmd) || cmd == FUTEX_UNLOCK_PI || cmd == FUTEX_TRYLOCK_PI;
}

SEC("tracepoint/syscalls/sys_enter_futex")
int futex_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct lt_lock_call *call;
	__u32 cmd = ctx->args[1] & FUTEX_CMD_MASK;

	if (!is_traced(pid_tgid))
		return 0;
	call = begin_call(LT_SYS_FUTEX, 6, ctx);
	if (!call)
		return 0;
	if (futex_op_may_block(cmd))
		call->flags |= LT_CALL_MAY_BLOCK;
	if (futex_op_reads_word(cmd))
		read_futex_word(call, ctx->args[0]);
	if (cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET)
		read_owner_word(call, ctx->args[0]);
	commit_call(call, (__u32)pid_tgid);
	return 0;
}

static __always_inline int futex2_enter(struct trace_event_raw_sys_enter *ctx, __u16 sys,
					int nargs)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct lt_lock_call *call;

	if (!is_traced(pid_tgid))
		return 0;
	call = begin_call(sys, nargs, ctx);
	if (!call)
		return 0;
	if (sys == LT_SYS_FUTEX_WAIT) {
		call->flags |= LT_CALL_MAY_BLOCK;
		read_futex_word(call, ctx->args[0]);
		read_owner_word(call, ctx->args[0]);
	} else if (sys == LT_SYS_FUTEX_WAITV) {
		call->flags |= LT_CALL_MAY_BLOCK;
	}
	commit_call(call, (__u32)pid_tgid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_futex_wait")
int futex_wait_enter(struct trace_event_raw_sys_enter *ctx)
{
	return futex2_enter(ctx, LT_SYS_FUTEX_WAIT, 6);
}

SEC("tracepoint/syscalls/sys_enter_futex_wake")
int futex_wake_enter(struct trace_event_raw_sys_enter *ctx)
{
	return futex2_enter(ctx, LT_SYS_FUTEX_WAKE, 4);
}

SEC("tracepoint/syscalls/sys_enter_futex_waitv")
int futex_waitv_enter(struct trace_event_raw_sys_enter *ctx)
{
	return futex2_enter(ctx, LT_SYS_FUTEX_WAITV, 5);
}

SEC("tracepoint/syscalls/sys_enter_futex_requeue")
int futex_requeue_enter(struct trace_event_raw_sys_enter *ctx)
{
	return futex2_enter(ctx, LT_SYS_FUTEX_REQUEUE, 4);
}

/*
 * Copies an inflight call into the ring buffer. Futex calls carry no file-lock
 * fields, so their records stop before them: half the bytes to move and store.
 */
static __always_inline struct lt_lock_call *emit_call(const struct lt_lock_call *call, __u16 phase,
						       __u64 ts)
{
	struct lt_lock_call *record;
	bool file = call->sys == LT_SYS_FLOCK || call->sys == LT_SYS_FCNTL;

	if (file) {
		record = reserve(sizeof(*record));
		if (record)
			__builtin_memcpy(record, call, sizeof(*record));
	} else {
		record = reserve(LT_LOCK_CALL_FUTEX_SIZE);
		if (record)
			__builtin_memcpy(record, call, LT_LOCK_CALL_FUTEX_SIZE);
	}
	if (!record)
		return NULL;
	fill_header(&record->h, LT_EV_LOCK_CALL, file ? sizeof(*record) : LT_LOCK_CALL_FUTEX_SIZE,
		    bpf_get_current_pid_tgid(), ts);
	record->phase = phase;
	return record;
}

static __always_inline void submit_call(struct lt_lock_call *record)
{
	submit(record, record->h.size);
}

/* A return whose entry predates tracing (see preexisting_waits): result only. */
static __always_inline void finish_preexisting(struct trace_event_raw_sys_exit *ctx, __u64 pid_tgid)
{
	__u32 tid = (__u32)pid_tgid;
	__u16 *sys = bpf_map_lookup_elem(&preexisting_waits, &tid);
	struct lt_lock_call *record;

	if (!sys)
		return;
	record = reserve(sizeof(*record));
	if (record) {
		__builtin_memset(record, 0, sizeof(*record));
		fill_header(&record->h, LT_EV_LOCK_CALL, sizeof(*record), pid_tgid, bpf_ktime_get_ns());
		record->sys = *sys;
		record->phase = LT_PHASE_DONE;
		record->flags = LT_CALL_NO_ENTRY;
		record->ret = ctx->ret;
		submit(record, sizeof(*record));
	}
	bpf_map_delete_elem(&preexisting_waits, &tid);
}

/*
 * A request for a file lock (not a release, not a test): its caller becomes the
 * holder, or is refused and wants to know by whom. Either way its stack says
 * where in the program that happened.
 */
static __always_inline bool is_file_lock_attempt(const struct lt_lock_call *call)
{
	__u64 cmd = call->args[1];

	if (call->sys == LT_SYS_FLOCK)
		return cmd & (LOCK_SH | LOCK_EX);
	if (call->sys != LT_SYS_FCNTL || cmd == F_GETLK || cmd == F_OFD_GETLK)
		return false;
	return (call->flags & LT_CALL_HAS_FLOCK) && call->user_flock.type != F_UNLCK;
}

/* Every lock syscall's exit: emit the paired record with its result. */
static __always_inline int finish_call(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct lt_lock_call *call, *record;
	__u64 ts;

	call = bpf_map_lookup_elem(&inflight, &tid);
	if (!call) {
		finish_preexisting(ctx, pid_tgid);
		return 0;
	}
	/* F_GETLK writes the conflicting lock back into the caller's struct. */
	if (call->sys == LT_SYS_FCNTL && (call->args[1] == F_GETLK || call->args[1] == F_OFD_GETLK) &&
	    ctx->ret == 0)
		read_user_flock(call, call->args[2]);
	ts = bpf_ktime_get_ns();
	/* A call that slept sent its stack with its wait record: one per call. */
	if (!(call->flags & LT_CALL_BLOCKED) &&
	    (stack_mode == LT_STACKS_ALL || (stack_mode == LT_STACKS_WAITS && is_file_lock_attempt(call))))
		emit_stack(ctx, pid_tgid, ts, false);
	record = emit_call(call, LT_PHASE_DONE, ts);
	if (record) {
		record->ret = ctx->ret;
		submit_call(record);
	}
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_flock")
int flock_exit(struct trace_event_raw_sys_exit *ctx) { return finish_call(ctx); }

SEC("tracepoint/syscalls/sys_exit_fcntl")
int fcntl_exit(struct trace_event_raw_sys_exit *ctx) { return finish_call(ctx); }

SEC("tracepoint/syscalls/sys_exit_futex")
int futex_exit(struct trace_event_raw_sys_exit *ctx) { return finish_call(ctx); }

SEC("tracepoint/syscalls/sys_exit_futex_wait")
int futex_wait_exit(struct trace_event_raw_sys_exit *ctx) { return finish_call(ctx); }

SEC("tracepoint/syscalls/sys_exit_futex_wake")
int futex_wake_exit(struct trace_event_raw_sys_exit *ctx) { return finish_call(ctx); }

SEC("tracepoint/syscalls/sys_exit_futex_waitv")
int futex_waitv_exit(struct trace_event_raw_sys_exit *ctx) { return finish_call(ctx); }

SEC("tracepoint/syscalls/sys_exit_futex_requeue")
int futex_requeue_exit(struct trace_event_raw_sys_exit *ctx) { return finish_call(ctx); }

/*
 * The moment a thread inside a blocking-capable call really sleeps. Only threads
 * with an inflight call have an entry, so untraced tasks cost one failed lookup.
 */
SEC("tracepoint/sched/sched_switch")
int on_switch(struct trace_event_raw_sched_switch *ctx)
{
	__u32 tid = ctx->prev_pid;
	struct lt_lock_call *call, *record;
	__u64 pid_tgid, ts;

	if (!(ctx->prev_state & TASK_SLEEPING_MASK))
		return 0;
	call = bpf_map_lookup_elem(&inflight, &tid);
	if (!call || !(call->flags & LT_CALL_MAY_BLOCK) || (call->flags & LT_CALL_BLOCKED))
		return 0;
	/*
	 * A file-lock call can sleep before it reaches the lock (file_rwsem while
	 * someone reads /proc/locks): its lock wait is the sleep after the kernel
	 * queued it behind a blocker.
	 */
	if ((call->sys == LT_SYS_FLOCK || call->sys == LT_SYS_FCNTL) &&
	    !(call->flags & LT_CALL_HAS_BLOCKER))
		return 0;
	call->flags |= LT_CALL_BLOCKED;
	pid_tgid = bpf_get_current_pid_tgid();
	ts = bpf_ktime_get_ns();
	if (stack_mode != LT_STACKS_NONE)
		emit_stack(ctx, pid_tgid, ts, true);
	record = emit_call(call, LT_PHASE_WAIT, ts);
	if (record)
		submit_call(record);
	return 0;
}

/* The blocker's owner, pid, type and range, from either file-lock layout. */
static __always_inline void read_blocker(struct lt_kernel_lock *k, void *blocker)
{
	if (bpf_core_type_exists(struct file_lock_core___new)) {
		struct file_lock___new *b = blocker;

		k->blocker_owner = (__u64)BPF_CORE_READ(b, c.flc_owner);
		k->blocker_pid = BPF_CORE_READ(b, c.flc_pid);
		k->blocker_flags = BPF_CORE_READ(b, c.flc_flags);
		k->blocker_type = BPF_CORE_READ(b, c.flc_type);
		k->blocker_start = BPF_CORE_READ(b, fl_start);
		k->blocker_end = BPF_CORE_READ(b, fl_end);
	} else {
		struct file_lock___old *b = blocker;

		k->blocker_owner = (__u64)BPF_CORE_READ(b, fl_owner);
		k->blocker_pid = BPF_CORE_READ(b, fl_pid);
		k->blocker_flags = BPF_CORE_READ(b, fl_flags);
		k->blocker_type = BPF_CORE_READ(b, fl_type);
		k->blocker_start = BPF_CORE_READ(b, fl_start);
		k->blocker_end = BPF_CORE_READ(b, fl_end);
	}
}

/* Reads the filelock tracepoint record; returns the blocker pointer (or NULL). */
static __always_inline void *read_kernel_lock(struct lt_kernel_lock *k, void *ctx, __u8 tp)
{
	struct trace_event_raw_filelock_lock___new *n = ctx;
	struct trace_event_raw_filelock_lock___old *o = ctx;
	void *blocker;

	k->tracepoint = tp;
	k->ino = BPF_CORE_READ(n, i_ino);
	k->dev = BPF_CORE_READ(n, s_dev);
	k->start = BPF_CORE_READ(n, fl_start);
	k->end = BPF_CORE_READ(n, fl_end);
	k->ret = BPF_CORE_READ(n, ret);
	if (bpf_core_field_exists(n->blocker)) {
		blocker = BPF_CORE_READ(n, blocker);
		k->owner = (__u64)BPF_CORE_READ(n, owner);
		k->fl_flags = BPF_CORE_READ(n, flags);
		k->type = BPF_CORE_READ(n, type);
	} else {
		blocker = BPF_CORE_READ(o, fl_blocker);
		k->owner = (__u64)BPF_CORE_READ(o, fl_owner);
		k->fl_flags = BPF_CORE_READ(o, fl_flags);
		k->type = BPF_CORE_READ(o, fl_type);
	}
	return blocker;
}

/*
 * Inside a traced lock call the kernel's view is merged into that call's record
 * (one record per call, and the wait record already names the blocker). Outside
 * one, as when close() releases a lock, it becomes a record of its own.
 */
static __always_inline int on_file_lock(void *ctx, __u8 tp)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct lt_lock_call *call = bpf_map_lookup_elem(&inflight, &tid);
	struct lt_kernel_lock k = {};
	struct lt_file_lock *record;
	void *blocker;

	if (!call && !is_traced(pid_tgid))
		return 0;
	blocker = read_kernel_lock(&k, ctx, tp);
	if (blocker)
		read_blocker(&k, blocker);
	if (call) {
		/* Retries after a wake-up report no blocker: keep the one that made us wait. */
		if (!blocker && (call->flags & LT_CALL_HAS_BLOCKER)) {
			k.blocker_owner = call->klock.blocker_owner;
			k.blocker_pid = call->klock.blocker_pid;
			k.blocker_flags = call->klock.blocker_flags;
			k.blocker_type = call->klock.blocker_type;
			k.blocker_start = call->klock.blocker_start;
			k.blocker_end = call->klock.blocker_end;
		} else if (blocker) {
			call->flags |= LT_CALL_HAS_BLOCKER;
		}
		call->klock = k;
		call->flags |= LT_CALL_HAS_KLOCK;
		return 0;
	}
	record = reserve(sizeof(*record));
	if (!record)
		return 0;
	fill_header(&record->h, LT_EV_FILE_LOCK, sizeof(*record), pid_tgid, bpf_ktime_get_ns());
	record->klock = k;
	submit(record, sizeof(*record));
	return 0;
}

SEC("tracepoint/filelock/posix_lock_inode")
int posix_lock_inode(void *ctx) { return on_file_lock(ctx, LT_TP_POSIX_LOCK_INODE); }

SEC("tracepoint/filelock/flock_lock_inode")
int flock_lock_inode(void *ctx) { return on_file_lock(ctx, LT_TP_FLOCK_LOCK_INODE); }

SEC("tracepoint/filelock/fcntl_setlk")
int fcntl_setlk(void *ctx) { return on_file_lock(ctx, LT_TP_FCNTL_SETLK); }

SEC("tracepoint/filelock/locks_remove_posix")
int locks_remove_posix(void *ctx) { return on_file_lock(ctx, LT_TP_LOCKS_REMOVE_POSIX); }

static __always_inline int on_exit_call(struct trace_event_raw_sys_enter *ctx, __u8 group)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct lt_exit_call *record;

	if (!is_traced(pid_tgid))
		return 0;
	record = reserve(sizeof(*record));
	if (!record)
		return 0;
	fill_header(&record->h, LT_EV_EXIT_CALL, sizeof(*record), pid_tgid, bpf_ktime_get_ns());
	record->status = (__s32)ctx->args[0];
	record->group = group;
	submit(record, sizeof(*record));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_exit")
int exit_enter(struct trace_event_raw_sys_enter *ctx) { return on_exit_call(ctx, 0); }

SEC("tracepoint/syscalls/sys_enter_exit_group")
int exit_group_enter(struct trace_event_raw_sys_enter *ctx) { return on_exit_call(ctx, 1); }

SEC("tracepoint/sched/sched_process_exit")
int on_task_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct lt_task_exit *record;
	bool group_dead;

	if (!is_traced(pid_tgid))
		return 0;
	/* A thread killed inside a call never reaches sys_exit. */
	bpf_map_delete_elem(&inflight, &tid);
	bpf_map_delete_elem(&preexisting_waits, &tid);
	group_dead = BPF_CORE_READ(task, signal, live.counter) == 0;
	/*
	 * The target stays in target_tgids: the files, and the locks on them, are
	 * released after this tracepoint, and those releases are part of the story.
	 * User space removes it once it has seen this record.
	 */
	record = reserve(sizeof(*record));
	if (!record)
		return 0;
	fill_header(&record->h, LT_EV_TASK_EXIT, sizeof(*record), pid_tgid, bpf_ktime_get_ns());
	record->exit_code = BPF_CORE_READ(task, exit_code);
	record->group_dead = group_dead;
	bpf_get_current_comm(record->comm, sizeof(record->comm));
	submit(record, sizeof(*record));
	return 0;
}

/* raw_tp, not tp: the classic tracepoint does not say whether the child is a thread. */
SEC("raw_tp/sched_process_fork")
int on_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct lt_fork *record;
	__u32 child_pid, child_tid;
	__u8 one = 1;

	if (!is_traced(pid_tgid))
		return 0;
	child_pid = BPF_CORE_READ(child, tgid);
	child_tid = BPF_CORE_READ(child, pid);
	if (follow_children) {
		if (filter_tids)
			bpf_map_update_elem(&target_tids, &child_tid, &one, BPF_ANY);
		else if (child_pid != (__u32)(pid_tgid >> 32))
			bpf_map_update_elem(&target_tgids, &child_pid, &one, BPF_ANY);
	} else if (child_pid != (__u32)(pid_tgid >> 32)) {
		return 0; /* a new process we do not follow: nothing to report */
	}
	record = reserve(sizeof(*record));
	if (!record)
		return 0;
	fill_header(&record->h, LT_EV_FORK, sizeof(*record), pid_tgid, bpf_ktime_get_ns());
	record->child_pid = child_pid;
	record->child_tid = child_tid;
	BPF_CORE_READ_STR_INTO(&record->comm, child, comm);
	submit(record, sizeof(*record));
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	unsigned int filename_offset = ctx->__data_loc_filename & 0xFFFF;
	struct lt_exec *record;

	if (!is_traced(pid_tgid))
		return 0;
	record = reserve(sizeof(*record));
	if (!record)
		return 0;
	fill_header(&record->h, LT_EV_EXEC, sizeof(*record), pid_tgid, bpf_ktime_get_ns());
	record->old_tid = ctx->old_pid;
	record->pad = 0;
	bpf_get_current_comm(record->comm, sizeof(record->comm));
	bpf_probe_read_kernel_str(record->filename, sizeof(record->filename),
				  (void *)ctx + filename_offset);
	submit(record, sizeof(*record));
	return 0;
}

/*
 * exec renames the task too; the exec record already says so. exec is the only
 * renamer that holds the task's cred_guard_mutex, so its owner tells them apart
 * (mutex owner words keep flag bits in the low three bits).
 */
static __always_inline bool in_exec(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	long owner;

	if (!bpf_core_field_exists(task->signal->cred_guard_mutex.owner))
		return false;
	owner = BPF_CORE_READ(task, signal, cred_guard_mutex.owner.counter);
	return (owner & ~7L) == (long)task;
}

SEC("tracepoint/task/task_rename")
int on_rename(struct trace_event_raw_task_rename *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct lt_rename *record;

	/* Renames through /proc/PID/comm by another task are not attributed. */
	if (ctx->pid != (__s32)(__u32)pid_tgid || !is_traced(pid_tgid) || in_exec())
		return 0;
	record = reserve(sizeof(*record));
	if (!record)
		return 0;
	fill_header(&record->h, LT_EV_RENAME, sizeof(*record), pid_tgid, bpf_ktime_get_ns());
	bpf_probe_read_kernel_str(record->comm, sizeof(record->comm), ctx->newcomm);
	submit(record, sizeof(*record));
	return 0;
}

/*
 * Signals: who sent one to a traced thread (the sender may be untraced, so this
 * is a raw tracepoint that sees the target task), and its delivery, which is
 * what turns a blocked lock call into EINTR.
 */
SEC("raw_tp/signal_generate")
int on_signal_generate(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *target = (struct task_struct *)ctx->args[2];
	struct kernel_siginfo *info = (struct kernel_siginfo *)ctx->args[1];
	__u32 target_tgid = BPF_CORE_READ(target, tgid);
	__u32 target_tid = BPF_CORE_READ(target, pid);
	struct lt_signal *record;

	if (filter_tids ? !bpf_map_lookup_elem(&target_tids, &target_tid)
			: !bpf_map_lookup_elem(&target_tgids, &target_tgid))
		return 0;
	record = reserve(sizeof(*record));
	if (!record)
		return 0;
	fill_header(&record->h, LT_EV_SIGNAL, sizeof(*record), bpf_get_current_pid_tgid(),
		    bpf_ktime_get_ns());
	record->sig = (__s32)ctx->args[0];
	/* SEND_SIG_NOINFO (0, from user space) and SEND_SIG_PRIV (1, from the kernel,
	 * e.g. an alarm() timer) are markers, not pointers. */
	if ((__u64)info > 4096)
		record->code = BPF_CORE_READ(info, si_code);
	else
		record->code = (__u64)info == 1 ? 0x80 /* SI_KERNEL */ : 0 /* SI_USER */;
	record->target_pid = target_tgid;
	record->target_tid = target_tid;
	record->result = (__s32)ctx->args[4];
	record->phase = LT_SIGNAL_GENERATE;
	record->handled = 0;
	__builtin_memset(record->pad, 0, sizeof(record->pad));
	bpf_get_current_comm(record->comm, sizeof(record->comm));
	submit(record, sizeof(*record));
	return 0;
}

SEC("tracepoint/signal/signal_deliver")
int on_signal_deliver(struct trace_event_raw_signal_deliver *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct lt_signal *record;

	if (!is_traced(pid_tgid))
		return 0;
	record = reserve(sizeof(*record));
	if (!record)
		return 0;
	fill_header(&record->h, LT_EV_SIGNAL, sizeof(*record), pid_tgid, bpf_ktime_get_ns());
	record->sig = ctx->sig;
	record->code = ctx->code;
	record->target_pid = pid_tgid >> 32;
	record->target_tid = (__u32)pid_tgid;
	record->result = (__s32)ctx->sa_flags;
	record->phase = LT_SIGNAL_DELIVER;
	record->handled = ctx->sa_handler > 1; /* SIG_DFL 0, SIG_IGN 1 */
	__builtin_memset(record->pad, 0, sizeof(record->pad));
	bpf_get_current_comm(record->comm, sizeof(record->comm));
	submit(record, sizeof(*record));
	return 0;
}

/* A traced parent collecting a child's exit status: the end of a failure's chain. */
SEC("tracepoint/syscalls/sys_exit_wait4")
int wait4_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct lt_reap *record;

	if (ctx->ret <= 0 || !is_traced(pid_tgid))
		return 0;
	record = reserve(sizeof(*record));
	if (!record)
		return 0;
	fill_header(&record->h, LT_EV_REAP, sizeof(*record), pid_tgid, bpf_ktime_get_ns());
	record->child_pid = (__u32)ctx->ret;
	record->pad = 0;
	submit(record, sizeof(*record));
	return 0;
}
