// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor for locktrace's overhead: the same syscall tracepoints, a pid filter
 * and a fixed 40-byte record per entry and exit, with none of locktrace's pairing,
 * argument reading, blocking detection or file-lock details.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "reference_tracer.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Like locktrace: no wake-up per record, one when the backlog crosses this. */
const volatile __u64 wakeup_bytes = 1 << 20;


__u64 dropped = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

static __always_inline int emit(__u16 sys, __u16 phase, __s64 value, __u64 arg0)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	struct ref_event *e;
	__u64 backlog;

	if (!bpf_map_lookup_elem(&pids, &pid))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = pid;
	e->tid = (__u32)pid_tgid;
	e->sys = sys;
	e->phase = phase;
	e->pad = 0;
	e->arg1_or_ret = value;
	e->arg0 = arg0;
	/* Only the record that makes the backlog cross the mark wakes the consumer. */
	backlog = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(e, backlog >= wakeup_bytes && backlog < wakeup_bytes + 2 * sizeof(*e) ?
				      BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_flock")
int flock_enter(struct trace_event_raw_sys_enter *ctx)
{
	return emit(REF_SYS_FLOCK, REF_PHASE_ENTER, ctx->args[1], ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_exit_flock")
int flock_exit(struct trace_event_raw_sys_exit *ctx)
{
	return emit(REF_SYS_FLOCK, REF_PHASE_EXIT, ctx->ret, 0);
}

/* Every fcntl, not just the lock commands: the floor does no filtering. */
SEC("tracepoint/syscalls/sys_enter_fcntl")
int fcntl_enter(struct trace_event_raw_sys_enter *ctx)
{
	return emit(REF_SYS_FCNTL, REF_PHASE_ENTER, ctx->args[1], ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_exit_fcntl")
int fcntl_exit(struct trace_event_raw_sys_exit *ctx)
{
	return emit(REF_SYS_FCNTL, REF_PHASE_EXIT, ctx->ret, 0);
}

SEC("tracepoint/syscalls/sys_enter_futex")
int futex_enter(struct trace_event_raw_sys_enter *ctx)
{
	return emit(REF_SYS_FUTEX, REF_PHASE_ENTER, ctx->args[1], ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_exit_futex")
int futex_exit(struct trace_event_raw_sys_exit *ctx)
{
	return emit(REF_SYS_FUTEX, REF_PHASE_EXIT, ctx->ret, 0);
}

/*
 * Children of a traced process are traced. The classic tracepoint does not tell a
 * thread from a process, so a thread's tid lands in the map too: no process can
 * have that number as its pid while the thread lives.
 */
SEC("tracepoint/sched/sched_process_fork")
int on_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	__u32 parent = bpf_get_current_pid_tgid() >> 32;
	__u32 child = ctx->child_pid;
	__u8 one = 1;

	if (bpf_map_lookup_elem(&pids, &parent))
		bpf_map_update_elem(&pids, &child, &one, BPF_ANY);
	return 0;
}
