#include "findings.hpp"

namespace locktrace {

std::string_view attribution_name(Attribution how) {
  switch (how) {
    case Attribution::kernel_blocker: return "kernel_blocker";
    case Attribution::pi_owner: return "pi_owner";
    case Attribution::robust_owner: return "robust_owner";
    case Attribution::lock_table: return "lock_table";
    case Attribution::proc_locks: return "proc_locks";
    case Attribution::glibc_owner: return "glibc_owner_guess";
    case Attribution::waker: return "waker";
  }
  return "unknown";
}

std::string_view attribution_text(Attribution how) {
  switch (how) {
    case Attribution::kernel_blocker: return "named by the kernel";
    case Attribution::pi_owner: return "owner TID in the PI futex word";
    case Attribution::robust_owner: return "owner TID in the robust mutex's word";
    case Attribution::lock_table: return "took it in this trace";
    case Attribution::proc_locks: return "per /proc/locks at attach";
    case Attribution::glibc_owner: return "a guess from glibc's __owner field";
    case Attribution::waker: return "woke the waiter";
  }
  return "unknown";
}

}  // namespace locktrace
