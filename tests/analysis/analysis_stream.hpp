// Synthetic lock-call streams for the analyzer's unit tests: the ABI records as
// the BPF side (or the attach snapshot) fills them, and a pipeline that runs them
// through the Analyzer into a sink that keeps every finding.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#include "analyzer.hpp"
#include "events.hpp"
#include "pipeline.hpp"

namespace locktrace::analysis::test {

inline constexpr uint64_t kMs = 1'000'000;
inline constexpr uint64_t kSec = 1'000'000'000;

// futex(2) operations as glibc issues them (FUTEX_PRIVATE_FLAG set).
inline constexpr uint64_t kFutexPrivate = 128;
inline constexpr uint64_t kFutexWait = 0 | kFutexPrivate;
inline constexpr uint64_t kFutexWake = 1 | kFutexPrivate;
inline constexpr uint64_t kFutexCmpRequeue = 4 | kFutexPrivate;
inline constexpr uint64_t kFutexLockPi = 6 | kFutexPrivate;
inline constexpr uint64_t kFutexUnlockPi = 7 | kFutexPrivate;
inline constexpr uint64_t kFutexWaitBitset = 9 | kFutexPrivate;
inline constexpr uint32_t kFutexWaiters = 0x80000000;

// fcntl(2) and flock(2) constants, spelled out so the tests need no libc headers.
inline constexpr uint64_t kFSetlk = 6;
inline constexpr uint64_t kFSetlkw = 7;
inline constexpr uint64_t kLockSh = 1;
inline constexpr uint64_t kLockEx = 2;
inline constexpr uint64_t kLockNb = 4;
inline constexpr uint64_t kLockUn = 8;
inline constexpr uint8_t kRdlck = 0;
inline constexpr uint8_t kWrlck = 1;
inline constexpr uint8_t kUnlck = 2;
inline constexpr int64_t kEof = INT64_MAX;
inline constexpr uint32_t kDev = (8u << 20) | 1;  // 8:1

// A lock syscall record; phase WAIT unless finished with done().
inline LockCall lock_call(uint16_t sys, uint32_t pid, uint32_t tid, uint64_t ts_ns,
                          std::vector<uint64_t> args) {
  LockCall call{};
  call.h.kind = LT_EV_LOCK_CALL;
  call.h.size = sizeof call;
  call.h.ts_ns = ts_ns;
  call.h.pid = pid;
  call.h.tid = tid;
  call.sys = sys;
  call.phase = LT_PHASE_WAIT;
  call.flags = LT_CALL_BLOCKED | LT_CALL_MAY_BLOCK;
  call.enter_ts = ts_ns;
  for (size_t i = 0; i < args.size() && i < 6; i++) call.args[i] = args[i];
  return call;
}

// The return of `call` at `ts_ns` with `ret` (negative errno on failure).
inline LockCall done(LockCall call, uint64_t ts_ns, int64_t ret) {
  call.phase = LT_PHASE_DONE;
  call.h.ts_ns = ts_ns;
  call.ret = ret;
  return call;
}

// A call that returned without sleeping (entered and left at `ts_ns`).
inline LockCall immediate(LockCall call, int64_t ret) {
  call.flags &= ~static_cast<uint32_t>(LT_CALL_BLOCKED);
  return done(call, call.h.ts_ns, ret);
}

// FUTEX_WAIT(uaddr, val) as glibc's lll_lock issues it, with the word at uaddr
// and the __owner word at uaddr + 8 read at entry.
inline LockCall futex_wait(uint32_t pid, uint32_t tid, uint64_t ts_ns, uint64_t uaddr, uint32_t val,
                           uint32_t owner_word, uint64_t op = kFutexWait) {
  LockCall call = lock_call(LT_SYS_FUTEX, pid, tid, ts_ns, {uaddr, op, val, 0, 0, 0});
  call.flags |= LT_CALL_HAS_WORD | LT_CALL_HAS_OWNER_WORD;
  call.futex_word = val;
  call.owner_word = owner_word;
  return call;
}

inline LockCall futex_wake(uint32_t pid, uint32_t tid, uint64_t ts_ns, uint64_t uaddr, int64_t woken) {
  LockCall call = lock_call(LT_SYS_FUTEX, pid, tid, ts_ns, {uaddr, kFutexWake, 1, 0, 0, 0});
  call.flags = 0;
  return done(call, ts_ns, woken);
}

// FUTEX_LOCK_PI on a word whose owner TID the kernel would read.
inline LockCall futex_lock_pi(uint32_t pid, uint32_t tid, uint64_t ts_ns, uint64_t uaddr, uint32_t word) {
  LockCall call = lock_call(LT_SYS_FUTEX, pid, tid, ts_ns, {uaddr, kFutexLockPi, 0, 0, 0, 0});
  call.flags |= LT_CALL_HAS_WORD;
  call.futex_word = word;
  return call;
}

inline lt_kernel_lock klock(uint64_t ino, uint64_t owner, uint8_t type, uint32_t fl_flags, int64_t start = 0,
                            int64_t end = kEof) {
  lt_kernel_lock k{};
  k.dev = kDev;
  k.ino = ino;
  k.owner = owner;
  k.type = type;
  k.fl_flags = fl_flags;
  k.start = start;
  k.end = end;
  return k;
}

inline lt_kernel_lock blocked_by(lt_kernel_lock k, uint32_t pid, uint64_t owner, uint8_t type,
                                 int64_t start = 0, int64_t end = kEof) {
  k.blocker_pid = pid;
  k.blocker_owner = owner;
  k.blocker_type = type;
  k.blocker_flags = k.fl_flags;
  k.blocker_start = start;
  k.blocker_end = end;
  return k;
}

inline LockCall with_klock(LockCall call, const lt_kernel_lock& k) {
  call.klock = k;
  call.flags |= LT_CALL_HAS_KLOCK;
  if (k.blocker_pid || k.blocker_owner) call.flags |= LT_CALL_HAS_BLOCKER;
  return call;
}

// flock(fd, op) waiting on the kernel's lock `k` (flock locks: owner = struct file).
inline LockCall flock_wait(uint32_t pid, uint64_t ts_ns, int fd, uint64_t op, const lt_kernel_lock& k) {
  return with_klock(lock_call(LT_SYS_FLOCK, pid, pid, ts_ns, {static_cast<uint64_t>(fd), op}), k);
}

// fcntl(fd, cmd, &flock) on the kernel's lock `k` (POSIX locks: owner = files_struct).
inline LockCall fcntl_wait(uint32_t pid, uint64_t ts_ns, int fd, uint64_t cmd, const lt_kernel_lock& k) {
  LockCall call =
      with_klock(lock_call(LT_SYS_FCNTL, pid, pid, ts_ns, {static_cast<uint64_t>(fd), cmd, 0x7ffd0000}), k);
  call.flags |= LT_CALL_HAS_FLOCK;
  call.user_flock.type = k.type;
  call.user_flock.start = k.start;
  call.user_flock.len = k.end == kEof ? 0 : k.end - k.start + 1;
  if (cmd == kFSetlk) call.flags &= ~static_cast<uint32_t>(LT_CALL_MAY_BLOCK);
  return call;
}

// A successful fcntl/flock that took (or released) `k` without waiting.
inline LockCall fcntl_ok(uint32_t pid, uint64_t ts_ns, const lt_kernel_lock& k) {
  return immediate(fcntl_wait(pid, ts_ns, 3, kFSetlk, k), 0);
}
inline LockCall flock_ok(uint32_t pid, uint64_t ts_ns, uint64_t op, const lt_kernel_lock& k) {
  return immediate(flock_wait(pid, ts_ns, 3, op, k), 0);
}

inline ThreadInfo thread_info(uint32_t pid, uint32_t tid, std::string comm, uint64_t ts_ns = 0) {
  ThreadInfo info;
  info.ts_ns = ts_ns;
  info.pid = pid;
  info.tid = tid;
  info.comm = std::move(comm);
  return info;
}

inline ProcessInfo process_info(uint32_t pid, std::string comm, uint64_t ts_ns = 0) {
  ProcessInfo info;
  info.ts_ns = ts_ns;
  info.pid = pid;
  info.ppid = 1;
  info.comm = std::move(comm);
  return info;
}

inline HeldLock held_lock(uint32_t pid, uint32_t fl_flags, uint8_t type, uint64_t ino, int64_t start = 0,
                          int64_t end = kEof, uint64_t ts_ns = 0) {
  return HeldLock{ts_ns, pid, fl_flags, type, kDev, ino, start, end};
}

// A wait the attach snapshot found in /proc: entered before tracing.
inline LockCall snapshot_wait(LockCall call) {
  call.flags |= LT_CALL_SNAPSHOT;
  call.enter_ts = 0;
  return call;
}

// The return of a wait entered before tracing: result only.
inline LockCall no_entry_done(uint16_t sys, uint32_t pid, uint32_t tid, uint64_t ts_ns, int64_t ret) {
  LockCall call{};
  call.h.kind = LT_EV_LOCK_CALL;
  call.h.size = sizeof call;
  call.h.ts_ns = ts_ns;
  call.h.pid = pid;
  call.h.tid = tid;
  call.sys = sys;
  call.phase = LT_PHASE_DONE;
  call.flags = LT_CALL_NO_ENTRY;
  call.ret = ret;
  return call;
}

inline Tick tick(uint64_t ts_ns) { return Tick{ts_ns}; }

// Keeps the lock-graph findings (deadlocks, long waits) the analyzer reports,
// and after which event each came. Other kinds of findings (explanations of
// failed calls) are kept apart: these tests are about the wait-for graph.
class FindingSink : public EventSink {
 public:
  void on_event(const Event&, const TraceState&) override { events_++; }
  void on_finding(const Finding& finding, const TraceState&) override {
    all_findings.push_back(finding);
    if (!std::holds_alternative<DeadlockFinding>(finding) &&
        !std::holds_alternative<LongWaitFinding>(finding))
      return;
    findings.push_back(finding);
    after_event.push_back(events_);
  }

  std::vector<DeadlockFinding> deadlocks() const {
    std::vector<DeadlockFinding> out;
    for (const auto& f : findings)
      if (const auto* d = std::get_if<DeadlockFinding>(&f)) out.push_back(*d);
    return out;
  }
  std::vector<LongWaitFinding> long_waits() const {
    std::vector<LongWaitFinding> out;
    for (const auto& f : findings)
      if (const auto* w = std::get_if<LongWaitFinding>(&f)) out.push_back(*w);
    return out;
  }

  std::vector<Finding> findings;      // deadlocks and long waits
  std::vector<Finding> all_findings;  // every kind
  std::vector<size_t> after_event;    // how many events the sink had seen at each finding

 private:
  size_t events_ = 0;
};

inline StreamInfo test_stream_info() {
  StreamInfo info;
  info.monotonic_to_realtime_ns = 1'700'000'000'000'000'000;
  info.start_ts_ns = 1 * kSec;
  info.hostname = "testhost";
  info.kernel_release = "6.1.0";
  info.tool_version = "test";
  return info;
}

// A pipeline with the analyzer and a finding-keeping sink, as live and replay build it.
class Stream {
 public:
  explicit Stream(AnalyzerOptions options = {}) : analyzer(options) {
    pipeline.set_analyzer(analyzer);
    pipeline.add_sink(sink);
    pipeline.start(test_stream_info());
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Pushes one event; returns the deadlock and long-wait findings it produced.
  std::vector<Finding> push(const Event& event) {
    size_t before = sink.findings.size();
    pipeline.push(event);
    return {sink.findings.begin() + static_cast<std::ptrdiff_t>(before), sink.findings.end()};
  }
  void push_all(const std::vector<Event>& events) {
    for (const auto& e : events) pipeline.push(e);
  }

  Analyzer analyzer;
  FindingSink sink;
  Pipeline pipeline;
};

// Everything written to a memory FILE*, for the sinks that print.
class MemoryFile {
 public:
  MemoryFile() : file_(open_memstream(&data_, &size_)) {}
  ~MemoryFile() {
    if (file_) std::fclose(file_);
    std::free(data_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  std::FILE* get() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  std::FILE* file_;
};

}  // namespace locktrace::analysis::test
