/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Call stacks for lock calls (struct lt_stack). Kernel stacks and frame-pointer
 * user stacks are deduplicated by the kernel's stack map, so a record carries
 * ids. Most distribution binaries have no frame pointers, so with
 * user_stack_bytes set the top of the user stack is copied instead and user
 * space unwinds it with the binaries' call-frame information, as `perf record
 * --call-graph dwarf` does.
 */
#ifndef LOCKTRACE_STACK_CAPTURE_BPF_H
#define LOCKTRACE_STACK_CAPTURE_BPF_H

const volatile __u8 stack_mode = LT_STACKS_NONE;
const volatile __u32 user_stack_bytes = 0; /* 0: walk frame pointers instead */

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 8192); /* resized by user space before load */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, LT_STACK_MAX_FRAMES * sizeof(__u64));
} stack_traces SEC(".maps");

/* An lt_stack and its stack copy, as one ring-buffer record. */
struct lt_stack_buffer {
	struct lt_stack s;
	__u8 bytes[LT_STACK_MAX_BYTES];
};

/* Too big for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lt_stack_buffer);
} stack_scratch SEC(".maps");

/* Copies up to user_stack_bytes from sp; returns how many bytes were copied. */
static __always_inline __u32 copy_user_stack(__u8 *to, __u64 sp)
{
	__u32 n = user_stack_bytes;

	/*
	 * Near the top of the main thread's stack the copy would run into the
	 * unmapped page above it and fail as a whole: retry with less.
	 */
	for (int i = 0; i < 4; i++) {
		if (n > LT_STACK_MAX_BYTES)
			n = LT_STACK_MAX_BYTES;
		if (n == 0)
			return 0;
		if (!bpf_probe_read_user(to, n, (void *)sp))
			return n;
		n >>= 2;
	}
	return 0;
}

/*
 * Sends the current thread's stack ahead of the lock call record stamped `ts`.
 * The kernel stack is worth having only where the thread sleeps.
 */
static __always_inline void emit_stack(void *ctx, __u64 pid_tgid, __u64 ts, bool with_kernel)
{
	__u32 zero = 0;
	struct lt_stack_buffer *rec = bpf_map_lookup_elem(&stack_scratch, &zero);
	struct pt_regs *regs;
	__u32 copied = 0;
	__u64 size;

	if (!rec)
		return;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	rec->s.ip = BPF_CORE_READ(regs, ip);
	rec->s.sp = BPF_CORE_READ(regs, sp);
	rec->s.bp = BPF_CORE_READ(regs, bp);
	rec->s.kernel_stack_id = with_kernel ? bpf_get_stackid(ctx, &stack_traces, 0) : -1;
	if (user_stack_bytes) {
		copied = copy_user_stack(rec->bytes, rec->s.sp);
		rec->s.user_stack_id = -1;
	} else {
		rec->s.user_stack_id = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	}
	if (copied > LT_STACK_MAX_BYTES)
		copied = LT_STACK_MAX_BYTES;
	size = sizeof(rec->s) + copied;
	rec->s.stack_bytes = copied;
	rec->s.pad = 0;
	fill_header(&rec->s.h, LT_EV_STACK, size, pid_tgid, ts);
	if (bpf_ringbuf_output(&events, rec, size, wakeup_flags(size)))
		count(LT_COUNTER_RB_DROPPED);
}

#endif /* LOCKTRACE_STACK_CAPTURE_BPF_H */
