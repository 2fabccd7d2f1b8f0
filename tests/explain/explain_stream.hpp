// Synthetic event streams for the failure explainer's unit tests: the ABI
// records as the BPF side fills them, metadata as the enricher adds it, and a
// pipeline with the Analyzer that keeps every finding it reports.
#pragma once

#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "analyzer.hpp"
#include "events.hpp"
#include "pipeline.hpp"

namespace locktrace::explain::test {

inline constexpr uint64_t kMs = 1'000'000;
inline constexpr uint64_t kSec = 1'000'000'000;
inline constexpr uint32_t kDev = (254u << 20) | 1;  // 254:1

// errno values as the kernel returns them (negated in LockCall.ret).
inline constexpr int kEperm = 1;
inline constexpr int kEintr = 4;
inline constexpr int kEbadf = 9;
inline constexpr int kEagain = 11;
inline constexpr int kEinval = 22;
inline constexpr int kEnolck = 37;
inline constexpr int kEtimedout = 110;
inline constexpr int kErestartsys = 512;

// flock(2), fcntl(2) and futex(2) constants, spelled out so no libc header decides them.
inline constexpr uint64_t kLockSh = 1;
inline constexpr uint64_t kLockEx = 2;
inline constexpr uint64_t kLockNb = 4;
inline constexpr uint64_t kLockUn = 8;
inline constexpr uint64_t kFSetlk = 6;
inline constexpr uint64_t kFSetlkw = 7;
inline constexpr uint8_t kRdlck = 0;
inline constexpr uint8_t kWrlck = 1;
inline constexpr uint8_t kUnlck = 2;
inline constexpr int64_t kEof = INT64_MAX;
inline constexpr uint64_t kFutexPrivate = 128;
inline constexpr uint64_t kFutexClockRealtime = 256;
inline constexpr uint64_t kFutexWait = 0;
inline constexpr uint64_t kFutexLockPi = 6;
inline constexpr uint64_t kFutexWaitBitset = 9;

// Signals and their delivery flags.
inline constexpr int kSigkill = 9;
inline constexpr int kSigusr1 = 10;
inline constexpr int kSigalrm = 14;
inline constexpr int kSigchld = 17;
inline constexpr int kSigstop = 19;
inline constexpr int32_t kSiUser = 0;
inline constexpr int32_t kSiTimer = -2;
inline constexpr int32_t kCldExited = 1;
inline constexpr int32_t kSaRestart = 0x10000000;
inline constexpr int32_t kSaSiginfo = 0x4;

template <size_t N>
void set_chars(char (&dst)[N], std::string_view text) {
  std::memset(dst, 0, N);
  std::memcpy(dst, text.data(), text.size() < N ? text.size() : N);
}

template <typename Record>
void set_header(Record& record, uint16_t kind, uint64_t ts_ns, uint32_t pid, uint32_t tid) {
  record.h.kind = kind;
  record.h.size = sizeof(Record);
  record.h.ts_ns = ts_ns;
  record.h.pid = pid;
  record.h.tid = tid;
}

// The kernel's view of a file lock: owner is the struct file (flock, OFD) or
// the files_struct (POSIX) pointer that tells lock owners apart.
inline lt_kernel_lock klock(uint64_t ino, uint64_t owner, uint8_t type, uint32_t fl_flags,
                            int64_t start = 0, int64_t end = kEof) {
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

// The conflicting lock the kernel names when a blocking request has to wait.
inline lt_kernel_lock blocked_by(lt_kernel_lock k, uint32_t pid, uint64_t owner, uint8_t type) {
  k.blocker_pid = pid;
  k.blocker_owner = owner;
  k.blocker_type = type;
  k.blocker_flags = k.fl_flags;
  k.blocker_start = 0;
  k.blocker_end = kEof;
  return k;
}

// A lock syscall that returned at `exit_ts` with `ret` (a negative errno on failure).
inline LockCall call_done(uint16_t sys, uint32_t pid, uint32_t tid, uint64_t enter_ts, uint64_t exit_ts,
                          int64_t ret, std::vector<uint64_t> args) {
  LockCall call{};
  set_header(call, LT_EV_LOCK_CALL, exit_ts, pid, tid);
  call.sys = sys;
  call.phase = LT_PHASE_DONE;
  call.ret = ret;
  call.enter_ts = enter_ts;
  for (size_t i = 0; i < args.size() && i < 6; i++) call.args[i] = args[i];
  if (exit_ts > enter_ts) call.flags |= LT_CALL_BLOCKED;
  return call;
}

// The record a blocking call makes when it goes to sleep (no result yet).
inline LockCall sleeping(LockCall call) {
  call.phase = LT_PHASE_WAIT;
  call.ret = 0;
  call.h.ts_ns = call.enter_ts;
  call.flags |= LT_CALL_BLOCKED | LT_CALL_MAY_BLOCK;
  return call;
}

inline LockCall with_klock(LockCall call, const lt_kernel_lock& k) {
  call.klock = k;
  call.flags |= LT_CALL_HAS_KLOCK;
  if (k.blocker_pid || k.blocker_owner) call.flags |= LT_CALL_HAS_BLOCKER;
  return call;
}

// flock(fd, op) by thread `tid` of `pid`, entered at `enter_ts`, returned at `exit_ts`.
inline LockCall flock_call(uint32_t pid, uint32_t tid, uint64_t enter_ts, uint64_t exit_ts, int fd,
                           uint64_t op, int64_t ret, const lt_kernel_lock& k) {
  LockCall call = with_klock(
      call_done(LT_SYS_FLOCK, pid, tid, enter_ts, exit_ts, ret, {static_cast<uint64_t>(fd), op}), k);
  if (!(op & kLockNb)) call.flags |= LT_CALL_MAY_BLOCK;
  return call;
}

// fcntl(fd, cmd, &flock) on the range the kernel lock `k` describes.
inline LockCall fcntl_call(uint32_t pid, uint32_t tid, uint64_t enter_ts, uint64_t exit_ts, int fd,
                           uint64_t cmd, int64_t ret, const lt_kernel_lock& k) {
  LockCall call = with_klock(call_done(LT_SYS_FCNTL, pid, tid, enter_ts, exit_ts, ret,
                                       {static_cast<uint64_t>(fd), cmd, 0x7ffd1000}),
                             k);
  call.flags |= LT_CALL_HAS_FLOCK;
  call.user_flock.type = k.type;
  call.user_flock.start = k.start;
  call.user_flock.len = k.end == kEof ? 0 : k.end - k.start + 1;
  if (cmd == kFSetlkw) call.flags |= LT_CALL_MAY_BLOCK;
  return call;
}

// A futex(2) call on `uaddr` as glibc's lll_lock issues it: the word and glibc's
// __owner (8 bytes further) read at entry.
inline LockCall futex_call(uint32_t pid, uint32_t tid, uint64_t enter_ts, uint64_t exit_ts, int64_t ret,
                           uint64_t uaddr, uint64_t op, uint32_t val, uint32_t word, uint32_t owner_word) {
  LockCall call = call_done(LT_SYS_FUTEX, pid, tid, enter_ts, exit_ts, ret, {uaddr, op, val, 0, 0, 0});
  call.flags |= LT_CALL_HAS_WORD | LT_CALL_HAS_OWNER_WORD | LT_CALL_MAY_BLOCK;
  call.futex_word = word;
  call.owner_word = owner_word;
  return call;
}

// A file-lock tracepoint outside any lock call: a release at the last close or exit.
inline FileLock lock_released(uint64_t ts_ns, uint32_t pid, const lt_kernel_lock& k, uint8_t tracepoint) {
  FileLock lock{};
  set_header(lock, LT_EV_FILE_LOCK, ts_ns, pid, pid);
  lock.klock = k;
  lock.klock.type = kUnlck;
  lock.klock.tracepoint = tracepoint;
  return lock;
}

inline TaskExit task_exit(uint64_t ts_ns, uint32_t pid, uint32_t tid, int32_t exit_code, bool group_dead,
                          std::string_view comm = "task") {
  TaskExit exit{};
  set_header(exit, LT_EV_TASK_EXIT, ts_ns, pid, tid);
  exit.exit_code = exit_code;
  exit.group_dead = group_dead;
  set_chars(exit.comm, comm);
  return exit;
}

// exit(2) or exit_group(2) as the thread called it.
inline ExitCall exit_call(uint64_t ts_ns, uint32_t pid, uint32_t tid, int32_t status, bool group) {
  ExitCall call{};
  set_header(call, LT_EV_EXIT_CALL, ts_ns, pid, tid);
  call.status = status;
  call.group = group;
  return call;
}

inline Fork fork_event(uint64_t ts_ns, uint32_t parent, uint32_t child, std::string_view comm) {
  Fork fork{};
  set_header(fork, LT_EV_FORK, ts_ns, parent, parent);
  fork.child_pid = child;
  fork.child_tid = child;
  set_chars(fork.comm, comm);
  return fork;
}

inline Reap reap(uint64_t ts_ns, uint32_t parent, uint32_t child) {
  Reap record{};
  set_header(record, LT_EV_REAP, ts_ns, parent, parent);
  record.child_pid = child;
  return record;
}

// A signal sent by the header task (sender_pid/sender_tid) to target_tid of target_pid.
inline Signal signal_sent(uint64_t ts_ns, uint32_t sender_pid, uint32_t sender_tid, std::string_view sender_comm,
                          uint32_t target_pid, uint32_t target_tid, int sig, int32_t code = kSiUser) {
  Signal s{};
  set_header(s, LT_EV_SIGNAL, ts_ns, sender_pid, sender_tid);
  s.sig = sig;
  s.code = code;
  s.target_pid = target_pid;
  s.target_tid = target_tid;
  s.result = 0;  // TRACE_SIGNAL_DELIVERED
  s.phase = LT_SIGNAL_GENERATE;
  set_chars(s.comm, sender_comm);
  return s;
}

// A signal delivered in thread `tid`: `sa_flags` are those of its handler;
// `handled` false for the default action or SIG_IGN.
inline Signal signal_delivered(uint64_t ts_ns, uint32_t pid, uint32_t tid, int sig, int32_t sa_flags,
                               int32_t code = kSiUser, std::string_view comm = "task",
                               bool handled = true) {
  Signal s{};
  set_header(s, LT_EV_SIGNAL, ts_ns, pid, tid);
  s.sig = sig;
  s.code = code;
  s.target_pid = pid;
  s.target_tid = tid;
  s.result = sa_flags;
  s.phase = LT_SIGNAL_DELIVER;
  s.handled = handled;
  set_chars(s.comm, comm);
  return s;
}

inline ProcessInfo process_info(uint32_t pid, std::string comm, uint32_t ppid = 1) {
  ProcessInfo info;
  info.pid = pid;
  info.ppid = ppid;
  info.comm = std::move(comm);
  return info;
}

inline ThreadInfo thread_info(uint32_t pid, uint32_t tid, std::string comm) {
  ThreadInfo info;
  info.pid = pid;
  info.tid = tid;
  info.comm = std::move(comm);
  return info;
}

inline FdPath fd_path(uint32_t pid, int32_t fd, std::string path, uint64_t ino, uint32_t fs_magic = 0,
                      uint32_t dev = kDev) {
  FdPath info;
  info.pid = pid;
  info.fd = fd;
  info.dev = dev;
  info.ino = ino;
  info.path = std::move(path);
  info.fs_magic = fs_magic;
  return info;
}

// Keeps every finding, in order, and how many events had been delivered before each.
class FindingSink : public EventSink {
 public:
  void on_event(const Event&, const TraceState&) override { events_++; }
  void on_finding(const Finding& finding, const TraceState&) override {
    findings.push_back(finding);
    after_event.push_back(events_);
  }

  template <typename T>
  std::vector<T> all() const {
    std::vector<T> out;
    for (const auto& f : findings)
      if (const auto* t = std::get_if<T>(&f)) out.push_back(*t);
    return out;
  }

  std::vector<Finding> findings;
  std::vector<size_t> after_event;

 private:
  size_t events_ = 0;
};

// A pipeline with the Analyzer and a finding-keeping sink, as live and replay build it.
class Stream {
 public:
  Stream() {
    pipeline.set_analyzer(analyzer);
    pipeline.add_sink(sink);
    StreamInfo info;
    info.start_ts_ns = 1 * kSec;
    info.hostname = "testhost";
    pipeline.start(info);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Pushes events; returns the findings they produced.
  std::vector<Finding> push(const std::vector<Event>& events) {
    size_t before = sink.findings.size();
    for (const auto& e : events) pipeline.push(e);
    return {sink.findings.begin() + static_cast<std::ptrdiff_t>(before), sink.findings.end()};
  }
  std::vector<Finding> finish() {
    size_t before = sink.findings.size();
    pipeline.finish();
    return {sink.findings.begin() + static_cast<std::ptrdiff_t>(before), sink.findings.end()};
  }

  template <typename T>
  std::vector<T> all() const {
    return sink.all<T>();
  }

  analysis::Analyzer analyzer;
  FindingSink sink;
  Pipeline pipeline;
};

template <typename T>
std::vector<T> only(const std::vector<Finding>& findings) {
  std::vector<T> out;
  for (const auto& f : findings)
    if (const auto* t = std::get_if<T>(&f)) out.push_back(*t);
  return out;
}

// "failure", "retry_loop" ...: the kind names --json uses, for assertion messages.
inline std::string kinds(const std::vector<Finding>& findings) {
  static constexpr std::string_view kNames[] = {"deadlock",         "long_wait",          "failure",
                                                "retry_loop",       "exit_after_failure", "owner_died",
                                                "split_lock",       "phantom_holder",     "weak_file_system"};
  static_assert(std::size(kNames) == std::variant_size_v<Finding>);
  std::string text = "[";
  for (const auto& f : findings) text += (text.size() > 1 ? ", " : "") + std::string(kNames[f.index()]);
  return text + "]";
}

}  // namespace locktrace::explain::test
