// Synthetic stack metadata for every suite: frames as the symbolizer resolves
// them, the stack table record, the call-stack record that precedes a lock call,
// and the names of addresses and mappings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "events.hpp"

namespace locktrace::stack_test {

inline StackFrame kernel_frame(std::string function, uint64_t offset = 0x10,
                               uint64_t address = 0xffffffff81000000) {
  StackFrame f;
  f.address = address + offset;
  f.kernel = true;
  f.function = std::move(function);
  f.offset = offset;
  f.module = "[kernel]";
  return f;
}

inline StackFrame user_frame(std::string function, std::string module, std::string file = {},
                             uint32_t line = 0, uint64_t offset = 0x12, uint64_t address = 0x55d0c4a00000) {
  StackFrame f;
  f.address = address + offset;
  f.function = std::move(function);
  f.offset = offset;
  f.module = std::move(module);
  f.file = std::move(file);
  f.line = line;
  return f;
}

inline StackTrace stack_trace(uint32_t stack_id, std::vector<StackFrame> frames, uint64_t ts_ns = 0) {
  return StackTrace{ts_ns, stack_id, std::move(frames)};
}

// The stack of the lock call record with this tid and ts that follows it.
inline CallStack call_stack(const LockCall& call, uint32_t stack_id) {
  return CallStack{call.h.ts_ns, call.h.pid, call.h.tid, stack_id};
}

inline AddressName address_name(uint32_t pid, uint64_t address, std::string name, uint64_t ts_ns = 0) {
  return AddressName{ts_ns, pid, address, std::move(name)};
}

inline Mapping mapping(uint32_t pid, uint64_t start, uint64_t end, std::string path,
                       std::string build_id = {}, uint64_t file_offset = 0, uint64_t ts_ns = 0) {
  return Mapping{ts_ns, pid, start, end, file_offset, std::move(path), std::move(build_id)};
}

// A thread waiting for a pool mutex: in the kernel, in glibc's lock, then in the program.
inline std::vector<StackFrame> pool_acquire_frames() {
  return {
      kernel_frame("futex_wait_queue", 0x5f),
      kernel_frame("futex_wait", 0xe2),
      kernel_frame("do_syscall_64", 0x3b),
      user_frame("__lll_lock_wait", "/usr/lib/x86_64-linux-gnu/libc.so.6", {}, 0, 0x30),
      user_frame("___pthread_mutex_lock", "/usr/lib/x86_64-linux-gnu/libc.so.6", {}, 0, 0xa0),
      user_frame("db::Pool::acquire", "/srv/app", "/src/db/pool.cc", 88, 0x12),
      user_frame("worker_main", "/srv/app", "/src/main.cc", 40, 0x2c),
      user_frame("start_thread", "/usr/lib/x86_64-linux-gnu/libc.so.6", {}, 0, 0x2f2),
      user_frame("clone3", "/usr/lib/x86_64-linux-gnu/libc.so.6", {}, 0, 0x2c),
  };
}

// Where the pool's owner took the mutex (its own earlier wait that returned 0).
inline std::vector<StackFrame> pool_refill_frames() {
  return {
      kernel_frame("futex_wait_queue", 0x5f),
      user_frame("__lll_lock_wait", "/usr/lib/x86_64-linux-gnu/libc.so.6", {}, 0, 0x30),
      user_frame("db::Pool::refill", "/srv/app", "/src/db/pool.cc", 120, 0x40),
      user_frame("main", "/srv/app", "/src/main.cc", 12, 0x9),
  };
}

}  // namespace locktrace::stack_test
