#include "snapshot.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "trace_state.hpp"

// Newer than some libc headers; the numbers are the kernel's for x86_64.
#if defined(__x86_64__)
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef SYS_futex_wait
#define SYS_futex_wait 455
#endif
#endif

namespace locktrace {

namespace {

constexpr int64_t kToEof = INT64_MAX;

struct ProcLock {
  bool waiting = false;  // a "->" line: queued behind the lock above it
  uint32_t pid = 0;
  uint32_t fl_flags = 0;
  uint8_t type = 0;
  uint32_t dev = 0;
  uint64_t ino = 0;
  int64_t start = 0;
  int64_t end = 0;
  size_t blocker = SIZE_MAX;  // index of the lock it waits for
};

// "1: -> POSIX  ADVISORY  WRITE 1234 fd:00:1836612 0 EOF"
std::optional<ProcLock> parse_proc_lock(const std::string& line) {
  std::istringstream in(line);
  std::string id, kind, mode, type, pid, device, start, end;
  in >> id >> kind;
  ProcLock lock;
  if (kind == "->") {
    lock.waiting = true;
    in >> kind;
  }
  in >> mode >> type >> pid >> device >> start >> end;
  if (!in) return std::nullopt;
  if (kind == "FLOCK") lock.fl_flags = LT_FL_FLOCK;
  else if (kind == "POSIX") lock.fl_flags = LT_FL_POSIX;
  else if (kind == "OFDLCK") lock.fl_flags = LT_FL_POSIX | LT_FL_OFDLCK;
  else return std::nullopt;  // leases and delegations are not locks a call waits on
  if (type == "READ") lock.type = 0;
  else if (type == "WRITE") lock.type = 1;
  else return std::nullopt;
  long long p = std::atoll(pid.c_str());
  lock.pid = p > 0 ? static_cast<uint32_t>(p) : 0;
  unsigned major = 0, minor = 0;
  unsigned long long ino = 0;
  if (sscanf(device.c_str(), "%x:%x:%llu", &major, &minor, &ino) != 3) return std::nullopt;
  lock.dev = (major << 20) | minor;
  lock.ino = ino;
  lock.start = std::atoll(start.c_str());
  lock.end = end == "EOF" ? kToEof : std::atoll(end.c_str());
  return lock;
}

std::vector<ProcLock> read_proc_locks() {
  std::vector<ProcLock> locks;
  std::ifstream in("/proc/locks");
  std::string line;
  size_t holder = SIZE_MAX;
  while (std::getline(in, line)) {
    auto lock = parse_proc_lock(line);
    if (!lock) continue;
    if (lock->waiting)
      lock->blocker = holder;
    else
      holder = locks.size();
    locks.push_back(*lock);
  }
  return locks;
}

template <typename T>
bool read_memory(uint32_t pid, uint64_t address, T& value) {
  iovec local{&value, sizeof value};
  iovec remote{reinterpret_cast<void*>(address), sizeof value};
  return process_vm_readv(static_cast<pid_t>(pid), &local, 1, &remote, 1, 0) ==
         static_cast<ssize_t>(sizeof value);
}

struct BlockedSyscall {
  long nr = 0;
  std::array<uint64_t, 6> args{};
  uint64_t sp = 0;  // the thread's user stack pointer and instruction pointer
  uint64_t pc = 0;
};

// "202 0x55d0c4a1c0c0 0x80 0x2 0x0 0x0 0x0 0x7ffc... 0x7f..."; nullopt when running.
std::optional<BlockedSyscall> read_syscall(uint32_t pid, uint32_t tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/syscall");
  BlockedSyscall call;
  if (!(in >> call.nr) || call.nr < 0) return std::nullopt;
  std::array<uint64_t, 8> words{};
  for (auto& word : words) {
    std::string hex;
    if (!(in >> hex)) return std::nullopt;
    word = std::stoull(hex, nullptr, 16);
  }
  std::copy_n(words.begin(), call.args.size(), call.args.begin());
  call.sp = words[6];
  call.pc = words[7];
  return call;
}

// "[<0>] futex_wait_queue+0x5f/0xa0" per line; the addresses read as zero
// unless kptr_restrict allows them, the names are always there.
std::vector<StackFrame> kernel_stack(uint32_t pid, uint32_t tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stack");
  std::vector<StackFrame> frames;
  std::string line;
  while (std::getline(in, line)) {
    size_t name = line.find("] ");
    if (name == std::string::npos) continue;
    std::string symbol = line.substr(name + 2);
    StackFrame& frame = frames.emplace_back();
    frame.kernel = true;
    frame.module = "[kernel]";
    size_t plus = symbol.find('+');
    frame.function = symbol.substr(0, plus);
    if (plus != std::string::npos) frame.offset = std::strtoull(symbol.c_str() + plus + 1, nullptr, 16);
  }
  return frames;
}

// What the kernel side sends for a thread that starts waiting, built from the
// blocked thread's registers and memory.
std::vector<std::byte> stack_record(uint32_t pid, uint32_t tid, uint64_t ts_ns, const BlockedSyscall& call,
                                    uint32_t stack_bytes) {
  std::vector<std::byte> record(sizeof(lt_stack) + stack_bytes);
  iovec local{record.data() + sizeof(lt_stack), stack_bytes};
  iovec remote{reinterpret_cast<void*>(call.sp), stack_bytes};
  // A short read is fine: it stops where the stack's mapping ends.
  ssize_t copied = process_vm_readv(static_cast<pid_t>(pid), &local, 1, &remote, 1, 0);
  record.resize(sizeof(lt_stack) + static_cast<size_t>(std::max<ssize_t>(copied, 0)));
  lt_stack s{};
  s.h.kind = LT_EV_STACK;
  s.h.size = static_cast<uint16_t>(record.size());
  s.h.ts_ns = ts_ns;
  s.h.pid = pid;
  s.h.tid = tid;
  s.kernel_stack_id = -1;
  s.user_stack_id = -1;
  s.ip = call.pc;
  s.sp = call.sp;
  s.stack_bytes = static_cast<uint32_t>(record.size() - sizeof s);
  std::memcpy(record.data(), &s, sizeof s);
  return record;
}

std::optional<uint16_t> lock_sys(long nr) {
  switch (nr) {
    case SYS_flock: return LT_SYS_FLOCK;
    case SYS_fcntl: return LT_SYS_FCNTL;
    case SYS_futex: return LT_SYS_FUTEX;
#ifdef SYS_futex_wait
    case SYS_futex_wait: return LT_SYS_FUTEX_WAIT;
#endif
#ifdef SYS_futex_waitv
    case SYS_futex_waitv: return LT_SYS_FUTEX_WAITV;
#endif
    default: return std::nullopt;
  }
}

bool blocks(uint16_t sys, const std::array<uint64_t, 6>& a) {
  switch (sys) {
    case LT_SYS_FLOCK: return (a[1] & 3) && !(a[1] & 4);
    case LT_SYS_FCNTL: return a[1] == 7 || a[1] == 38;  // F_SETLKW, F_OFD_SETLKW
    case LT_SYS_FUTEX: {
      uint64_t cmd = a[1] & 0x7f;
      return cmd == 0 || cmd == 9 || cmd == 6 || cmd == 13 || cmd == 11;
    }
    default: return true;
  }
}

void describe_file(LockCall& call, const std::vector<ProcLock>& locks) {
  std::string fd_link = "/proc/" + std::to_string(call.h.pid) + "/fd/" + std::to_string(call.args[0]);
  struct stat st;
  if (stat(fd_link.c_str(), &st) != 0) return;
  auto& k = call.klock;
  k.dev = kernel_dev(st.st_dev);
  k.ino = st.st_ino;
  if (call.sys == LT_SYS_FLOCK) {
    k.fl_flags = LT_FL_FLOCK;
    k.type = (call.args[1] & 2) ? 1 : 0;
    k.end = kToEof;
  } else {
    k.fl_flags = call.args[1] == 38 ? (LT_FL_POSIX | LT_FL_OFDLCK) : LT_FL_POSIX;
    lt_user_flock fl{};
    struct {
      short type, whence;
      long long start, len;
      int pid;
    } user{};
    if (read_memory(call.h.pid, call.args[2], user)) {
      fl.type = user.type;
      fl.whence = user.whence;
      fl.start = user.start;
      fl.len = user.len;
      fl.pid = user.pid;
      call.user_flock = fl;
      call.flags |= LT_CALL_HAS_FLOCK;
      k.type = static_cast<uint8_t>(user.type);
      // SEEK_SET ranges only: the others need the file offset or size.
      if (user.whence == 0) {
        k.start = user.start;
        k.end = user.len > 0 ? user.start + user.len - 1 : kToEof;
      } else {
        k.end = kToEof;
      }
    }
  }
  call.flags |= LT_CALL_HAS_KLOCK;
  // /proc/locks lists the waiter under the lock it queues behind.
  for (const auto& lock : locks) {
    if (!lock.waiting || lock.pid != call.h.pid || lock.dev != k.dev || lock.ino != k.ino ||
        lock.blocker == SIZE_MAX)
      continue;
    const ProcLock& blocker = locks[lock.blocker];
    k.blocker_pid = blocker.pid;
    k.blocker_flags = blocker.fl_flags;
    k.blocker_type = blocker.type;
    k.blocker_start = blocker.start;
    k.blocker_end = blocker.end;
    call.flags |= LT_CALL_HAS_BLOCKER;
    break;
  }
}

std::vector<uint32_t> thread_ids(uint32_t pid) {
  std::vector<uint32_t> tids;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* entry = readdir(d))
      if (entry->d_name[0] != '.') tids.push_back(static_cast<uint32_t>(std::atoi(entry->d_name)));
    closedir(d);
  }
  return tids;
}

}  // namespace

Snapshot take_snapshot(const std::vector<uint32_t>& pids, uint64_t ts_ns, uint32_t stack_bytes) {
  Snapshot snapshot;
  std::vector<ProcLock> locks = read_proc_locks();
  for (const auto& lock : locks) {
    if (lock.waiting) continue;
    snapshot.events.emplace_back(HeldLock{ts_ns, lock.pid, lock.fl_flags, lock.type, lock.dev,
                                          lock.ino, lock.start, lock.end});
  }
  for (uint32_t pid : pids) {
    for (uint32_t tid : thread_ids(pid)) {
      auto syscall = read_syscall(pid, tid);
      if (!syscall) continue;
      auto sys = lock_sys(syscall->nr);
      if (!sys || !blocks(*sys, syscall->args)) continue;
      LockCall call{};
      call.h.kind = LT_EV_LOCK_CALL;
      call.h.size = sizeof call;
      call.h.ts_ns = ts_ns;
      call.h.pid = pid;
      call.h.tid = tid;
      call.sys = *sys;
      call.phase = LT_PHASE_WAIT;
      call.flags = LT_CALL_MAY_BLOCK | LT_CALL_BLOCKED | LT_CALL_SNAPSHOT;
      std::memcpy(call.args, syscall->args.data(), sizeof call.args);
      if (*sys == LT_SYS_FLOCK || *sys == LT_SYS_FCNTL) {
        describe_file(call, locks);
      } else if (*sys == LT_SYS_FUTEX || *sys == LT_SYS_FUTEX_WAIT) {
        if (read_memory(pid, call.args[0], call.futex_word)) call.flags |= LT_CALL_HAS_WORD;
        if (read_memory(pid, call.args[0] + 8, call.owner_word)) call.flags |= LT_CALL_HAS_OWNER_WORD;
      }
      snapshot.events.emplace_back(call);
      snapshot.blocked.emplace_back(tid, *sys);
      if (stack_bytes)
        snapshot.stacks.emplace(tid, Snapshot::BlockedStack{stack_record(pid, tid, ts_ns, *syscall, stack_bytes),
                                                            kernel_stack(pid, tid)});
    }
  }
  return snapshot;
}

}  // namespace locktrace
