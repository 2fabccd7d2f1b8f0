/*
 * The reference tracer's record, shared by reference_tracer.bpf.c and
 * reference_tracer.c: 40 bytes per syscall entry or exit, nothing decoded.
 */
#ifndef REFERENCE_TRACER_H
#define REFERENCE_TRACER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define REF_SYS_FLOCK 1
#define REF_SYS_FCNTL 2
#define REF_SYS_FUTEX 3

#define REF_PHASE_ENTER 1
#define REF_PHASE_EXIT 2

struct ref_event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__u16 sys;
	__u16 phase;
	__u32 pad;
	__s64 arg1_or_ret; /* the command or op at entry, the result at exit */
	__u64 arg0;        /* fd or futex address at entry, 0 at exit */
};

#endif /* REFERENCE_TRACER_H */
