// A stopped moment of another thread, taken with ptrace the way the BPF side
// takes it at syscall entry: the user registers and a copy of the top of the
// stack. For tests and the stack-depth tool, not for the tracer.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "registers.hpp"

namespace locktrace::tools {

struct ThreadSnapshot {
  symbols::UserRegisters regs;
  std::vector<std::byte> stack;  // stack[0] is the byte at regs.sp
};

// Copies up to OUT.size() bytes of PID's memory from ADDRESS, page by page, so
// that a copy running into the end of the stack stops there. Returns the bytes
// copied.
size_t copy_memory(pid_t pid, uint64_t address, std::span<std::byte> out);

// Seizes thread TID, interrupts it (a thread blocked in a system call stops with
// the registers of that call), reads rip/rsp/rbp and up to MAX_STACK_BYTES of
// stack, and detaches. On failure, nullopt and a reason in *ERROR.
std::optional<ThreadSnapshot> snapshot_thread(pid_t pid, pid_t tid, size_t max_stack_bytes,
                                              std::string* error);

// The frame-pointer walk of a snapshot (what bpf_get_stackid gives, limited to
// the copy): regs.ip, then the return address above each saved rbp.
std::vector<uint64_t> frame_pointer_walk(const ThreadSnapshot& snapshot, size_t max_frames = 127);

}  // namespace locktrace::tools
