// The user registers a stack unwind starts from.
#pragma once

#include <cstdint>

namespace locktrace::symbols {

// x86_64: rip, rsp, rbp at syscall entry.
struct UserRegisters {
  uint64_t ip = 0, sp = 0, bp = 0;
};

}  // namespace locktrace::symbols
