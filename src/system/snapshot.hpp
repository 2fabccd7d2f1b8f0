// The state at attach time, so the first output already explains a hang that
// began before tracing: threads of the targets blocked in a lock call (from
// /proc/PID/task/TID/syscall, with the futex words and struct flock read from
// their memory) and every file lock held on the system (/proc/locks), with the
// lock each blocked file-lock waiter queues behind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "events.hpp"

namespace locktrace {

struct Snapshot {
  std::vector<Event> events;  // HeldLock records, then LT_CALL_SNAPSHOT wait records
  std::vector<std::pair<uint32_t, uint16_t>> blocked;  // (tid, LT_SYS_*) still inside a call
  // Where each blocked thread waits: an lt_stack record (user registers and a
  // copy of the stack top) as the kernel side would have sent it, and the kernel
  // frames /proc/PID/task/TID/stack names.
  struct BlockedStack {
    std::vector<std::byte> record;
    std::vector<StackFrame> kernel;
  };
  std::unordered_map<uint32_t, BlockedStack> stacks;  // by tid
};

// stack_bytes: how much of each blocked thread's stack to copy (0: none).
Snapshot take_snapshot(const std::vector<uint32_t>& pids, uint64_t ts_ns, uint32_t stack_bytes);

}  // namespace locktrace
