#include "unwind_chain.hpp"

#include <unistd.h>

#include <cstdint>

namespace locktrace_test {

__attribute__((noinline, noclone)) int unwind_c(locktrace::tools::ThreadSnapshot& out,
                                                size_t bytes) {
  uint64_t ip, sp, bp;
  // One asm statement: the three registers belong to the same instruction.
  asm volatile(
      "lea 0(%%rip), %0\n\t"
      "mov %%rsp, %1\n\t"
      "mov %%rbp, %2"
      : "=r"(ip), "=r"(sp), "=r"(bp));
  out.regs = {ip, sp, bp};
  out.stack.resize(bytes);
  out.stack.resize(locktrace::tools::copy_memory(getpid(), sp, out.stack));
  asm volatile("" ::: "memory");
  return static_cast<int>(out.stack.size() % 7);
}

__attribute__((noinline, noclone)) int unwind_b(locktrace::tools::ThreadSnapshot& out,
                                                size_t bytes) {
  int r = unwind_c(out, bytes);
  asm volatile("" ::: "memory");
  return r + 1;
}

__attribute__((noinline, noclone)) int unwind_a(locktrace::tools::ThreadSnapshot& out,
                                                size_t bytes) {
  int r = unwind_b(out, bytes);
  asm volatile("" ::: "memory");
  return r * 3;
}

}  // namespace locktrace_test
