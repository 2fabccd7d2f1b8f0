// Typed events: what every stage after the decoder sees, whether the records came
// from the ring buffer or from a trace file.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

extern "C" {
#include "locktrace_abi.h"
}

namespace locktrace {

// Records the kernel produced, copied out of the ring buffer byte for byte.
using LockCall = lt_lock_call;
using FileLock = lt_file_lock;
using TaskExit = lt_task_exit;
using ExitCall = lt_exit_call;
using Fork = lt_fork;
using Exec = lt_exec;
using Rename = lt_rename;
using Signal = lt_signal;
using Reap = lt_reap;

// Records user space adds to the stream: what /proc said when the tracer first
// needed it. They travel with the kernel's records, so a replay shows the same
// names the live run showed without the original host.
struct ProcessInfo {
  uint64_t ts_ns = 0;  // monotonic time the information was read
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint64_t start_time_ticks = 0;  // /proc/PID/stat field 22
  std::string comm;
  std::string cmdline;  // arguments joined by single spaces
  std::string exe;
};

struct ThreadInfo {
  uint64_t ts_ns = 0;
  uint32_t pid = 0;
  uint32_t tid = 0;
  std::string comm;
};

struct FdPath {
  uint64_t ts_ns = 0;
  uint32_t pid = 0;
  int32_t fd = -1;
  uint32_t dev = 0;  // kernel encoding, as the filelock tracepoints report it
  uint64_t ino = 0;  // 0 when the file could not be stat'ed
  std::string path;
  uint32_t fs_magic = 0;  // statfs f_type of the file's file system, 0 when unknown
};

// A file lock already held when tracing started, from /proc/locks.
struct HeldLock {
  uint64_t ts_ns = 0;
  uint32_t pid = 0;       // as /proc/locks names it (for flock/OFD: who took it)
  uint32_t fl_flags = 0;  // LT_FL_FLOCK, LT_FL_POSIX or LT_FL_OFDLCK
  uint8_t type = 0;       // F_RDLCK / F_WRLCK
  uint32_t dev = 0;       // kernel encoding
  uint64_t ino = 0;
  int64_t start = 0;
  int64_t end = 0;        // INT64_MAX: to the end of the file
};

// The passage of time on a quiet stream: lets time-based findings (a wait that
// crosses --min-wait) fire at the same point live and on replay.
struct Tick {
  uint64_t ts_ns = 0;
};

// One frame of a resolved call stack.
struct StackFrame {
  uint64_t address = 0;  // instruction pointer; for callers, the return address
  bool kernel = false;
  std::string function;  // demangled; empty when no symbol covers the address
  uint64_t offset = 0;   // address - start of function
  std::string module;    // the mapped file ("[kernel]", "[vdso]", "[anon]" ...)
  std::string file;      // source file, from debug information when installed
  uint32_t line = 0;
};

// A distinct call stack, numbered within one trace. Written once, before the
// first CallStack that names it, with names resolved on the recording host so a
// replay elsewhere shows the same functions.
struct StackTrace {
  uint64_t ts_ns = 0;
  uint32_t stack_id = 0;
  std::vector<StackFrame> frames;  // innermost first: kernel frames, then user frames
};

// The stack of the lock call that follows with the same tid and ts_ns.
struct CallStack {
  uint64_t ts_ns = 0;
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint32_t stack_id = 0;
};

// What an address in a traced process is: a lock's futex word named after the
// global or static object that holds it, or the mapping it lies in.
struct AddressName {
  uint64_t ts_ns = 0;
  uint32_t pid = 0;
  uint64_t address = 0;
  std::string name;  // "g_pool_lock", "g_pool+0x10", "libfoo.so+0x1234", "[heap]", "[stack]"
};

// An executable mapping of a traced process, with the build id that identifies
// the binary on any machine.
struct Mapping {
  uint64_t ts_ns = 0;
  uint32_t pid = 0;
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t file_offset = 0;
  std::string path;
  std::string build_id;  // lowercase hex; empty when the file has none
};

using Event = std::variant<LockCall, FileLock, TaskExit, ExitCall, Fork, Exec, Rename, Signal, Reap,
                           ProcessInfo, ThreadInfo, FdPath, HeldLock, Tick, StackTrace, CallStack,
                           AddressName, Mapping>;

// The monotonic timestamp every event carries, for ordering and time filters.
uint64_t timestamp_of(const Event& event);

// The facts about a trace that do not change while it runs. Live runs take them
// from the host; replays from the file, so both print the same clock times.
struct StreamInfo {
  int64_t monotonic_to_realtime_ns = 0;  // add to a monotonic ts to get Unix time
  int32_t utc_offset_s = 0;              // the recording host's local time zone
  uint64_t start_ts_ns = 0;              // monotonic time tracing started
  std::string hostname;
  std::string kernel_release;
  std::string tool_version;
};

}  // namespace locktrace
