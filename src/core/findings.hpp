// What the analyzer concludes, as data: rendered by the text and JSON sinks
// between the events that led to it, and by the report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace locktrace {

// How a holder was known, most certain first. Every wait-for edge says which.
enum class Attribution : uint8_t {
  kernel_blocker,  // the filelock tracepoint named the conflicting lock
  pi_owner,        // the owner TID in a PI futex word
  robust_owner,    // the owner TID in a robust mutex's lock word (glibc)
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
  // Stack ids (TraceState::stack): where the waiter went to sleep, and where the
  // holder took the lock (a file lock's acquisition, a futex owner's last wait
  // on it that returned 0); unset when the stream had none.
  std::optional<uint32_t> waiter_stack;
  std::optional<uint32_t> holder_stack;
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

// What failed, identified for the reader: the call's time and thread, the call
// and its error, and the lock it was about.
struct FailedCall {
  uint64_t ts_ns = 0;  // of the call's return
  TaskRef task;
  uint16_t sys = 0;    // LT_SYS_*
  uint64_t op = 0;     // flock operation, fcntl command or futex op
  int err = 0;
  std::optional<LockRef> lock;
  std::optional<uint32_t> stack;  // where the call was made, when the stream says
};

// Why a lock call failed.
struct FailureFinding {
  FailedCall call;
  std::vector<WaitEdge> holders;  // the conflicting holders (EAGAIN, EWOULDBLOCK, EACCES,
                                  // ETIMEDOUT: who held it during the wait)
  int signal = 0;                 // EINTR: the signal delivered during the call
  std::optional<TaskRef> signal_sender;
  std::string sender_comm;        // the sender's name, even when it is not traced
  std::string_view reason;        // a sentence for errors explained by the arguments alone
};

// The same non-blocking lock attempted again and again with the same error, folded.
struct RetryLoopFinding {
  FailedCall last;
  uint64_t attempts = 0;
  uint64_t first_ts_ns = 0;
  enum class Outcome : uint8_t { succeeded, gave_up, exited } outcome = Outcome::gave_up;
};

// A failure followed by the thread's or process's end: the consequence.
struct ExitAfterFailureFinding {
  uint64_t ts_ns = 0;
  FailedCall cause;
  std::optional<TaskRef> cause_holder;  // who held the lock, when one was named
  bool process_exited = false;          // the whole process, or only the thread
  int32_t exit_code = 0;                // wait(2) encoding
  std::optional<TaskRef> reaped_by;     // set on the finding made when a traced parent reaps it
};

// A futex owner exited while holding the lock: its waiters will not be woken by it.
struct OwnerDiedFinding {
  uint64_t ts_ns = 0;
  TaskRef owner;
  int32_t exit_code = 0;
  LockRef lock;
  std::vector<TaskRef> waiters;
  Attribution how = Attribution::glibc_owner;
};

// Two exclusive holders at once of one path on different inodes: the lock file
// was removed or renamed and re-created, and mutual exclusion is broken.
struct SplitLockFinding {
  uint64_t ts_ns = 0;
  std::string path;
  TaskRef first;
  LockRef first_lock;
  TaskRef second;
  LockRef second_lock;
};

// A flock/OFD lock belongs to an open file description, which fork and exec hand
// down: the process that took it (the one /proc/locks and the kernel name) may be
// gone while an inheritor keeps the lock held.
struct PhantomHolderFinding {
  uint64_t ts_ns = 0;
  LockRef lock;
  TaskRef named;  // the pid the kernel reports, no longer alive
  struct Holder {
    TaskRef task;
    int32_t fd = -1;
    std::vector<uint32_t> inherited_via;  // pids from the named process down to this one
  };
  std::vector<Holder> holders;  // live processes with the file open, inheritors first
};

// A lock on a file system where locks are not coherent across hosts or containers.
struct WeakFileSystemFinding {
  uint64_t ts_ns = 0;
  LockRef lock;
  std::string_view fs;   // "nfs", "cifs", "fuse", "overlay" ...
  std::string_view why;
};

using Finding = std::variant<DeadlockFinding, LongWaitFinding, FailureFinding, RetryLoopFinding,
                             ExitAfterFailureFinding, OwnerDiedFinding, SplitLockFinding,
                             PhantomHolderFinding, WeakFileSystemFinding>;

}  // namespace locktrace
