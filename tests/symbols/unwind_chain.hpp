// A three-deep call chain, built -O2 without frame pointers, whose innermost
// function captures its own registers and a copy of its stack: what the BPF
// side would capture at a syscall in unwind_c.
#pragma once

#include <cstddef>

#include "thread_snapshot.hpp"

namespace locktrace_test {

// unwind_a -> unwind_b -> unwind_c; unwind_c fills OUT with up to BYTES of stack.
int unwind_a(locktrace::tools::ThreadSnapshot& out, size_t bytes);

}  // namespace locktrace_test
