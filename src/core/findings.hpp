// What the analyzer concludes, as data: rendered by the text and JSON sinks
// between the events that led to it, and by the report.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

namespace locktrace {

// How a holder was known, most certain first. Every wait-for edge says which.
enum class Attribution : uint8_t {
  kernel_blocker,  // the filelock tracepoint named the conflicting lock
  pi_owner,        // the owner TID in a PI futex word
  lock_table,      // our record of who took the lock (a successful lock call)
  proc_locks,      // /proc/locks at attach time
  glibc_owner,     // glibc's __owner next to the futex word: a validated guess
  waker,           // the thread whose wake released the waiter (after the fact)
};

std::string_view attribution_name(Attribution how);
// Words for a reader: "named by the kernel", "a guess from glibc's __owner field"...
std::string_view attribution_text(Attribution how);

// A lock: a file (device + inode, with a byte range for POSIX/OFD locks) or a
// futex (its user address; private futexes are scoped to their process).
struct LockRef {
  enum class Kind : uint8_t { file, futex };
  Kind kind = Kind::file;
  // file
  uint32_t dev = 0;
  uint64_t ino = 0;
  uint32_t fl_flags = 0;  // LT_FL_*: flock, POSIX or OFD
  int64_t start = 0;
  int64_t end = 0;
  // futex
  uint32_t pid = 0;       // the process whose address space uaddr is in
  uint64_t uaddr = 0;
  bool shared = false;    // not FUTEX_PRIVATE: may be shared between processes

  bool operator==(const LockRef&) const = default;
};

struct TaskRef {
  uint32_t pid = 0;
  uint32_t tid = 0;  // 0: only the process is known (a file lock taken before tracing)
  bool operator==(const TaskRef&) const = default;
};

// One thread waiting on a lock, and who holds it.
struct WaitEdge {
  TaskRef waiter;
  LockRef lock;
  uint64_t waiting_since_ns = 0;
  std::optional<TaskRef> holder;
  std::optional<Attribution> how;  // set with holder
  uint64_t holding_since_ns = 0;   // 0 when unknown (taken before tracing)
};

struct DeadlockFinding {
  uint64_t ts_ns = 0;
  bool kernel_edeadlk = false;  // the kernel refused an F_SETLKW with EDEADLK
  std::vector<WaitEdge> cycle;  // each waiter's holder is the next edge's waiter
};

struct LongWaitFinding {
  uint64_t ts_ns = 0;
  WaitEdge wait;
  uint64_t waited_ns = 0;
};

using Finding = std::variant<DeadlockFinding, LongWaitFinding>;

}  // namespace locktrace
