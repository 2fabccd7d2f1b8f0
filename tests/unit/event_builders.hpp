// Synthetic events for the unit tests: the ABI records as the BPF side fills them,
// and their raw bytes as a ring buffer or trace file would hand them over.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "events.hpp"

namespace locktrace::test {

template <size_t N>
void set_chars(char (&dst)[N], std::string_view text) {
  std::memset(dst, 0, N);
  std::memcpy(dst, text.data(), text.size() < N ? text.size() : N);
}

template <typename Record>
void set_header(Record& record, uint16_t kind, uint64_t ts_ns, uint32_t pid, uint32_t tid,
                uint32_t cpu = 0) {
  record.h.kind = kind;
  record.h.size = sizeof(Record);
  record.h.cpu = cpu;
  record.h.ts_ns = ts_ns;
  record.h.pid = pid;
  record.h.tid = tid;
}

// A finished call (phase done) of `sys` with the given arguments.
inline LockCall lock_call(uint16_t sys, uint32_t pid, uint32_t tid, uint64_t enter_ts,
                          uint64_t exit_ts, int64_t ret, std::vector<uint64_t> args) {
  LockCall call{};
  set_header(call, LT_EV_LOCK_CALL, exit_ts, pid, tid);
  call.sys = sys;
  call.phase = LT_PHASE_DONE;
  call.ret = ret;
  call.enter_ts = enter_ts;
  for (size_t i = 0; i < args.size() && i < 6; i++) call.args[i] = args[i];
  return call;
}

// The same call still sleeping: its record carries the entry time as ts.
inline LockCall waiting(LockCall call, uint64_t ts_ns) {
  call.phase = LT_PHASE_WAIT;
  call.ret = 0;
  call.h.ts_ns = ts_ns;
  call.flags |= LT_CALL_BLOCKED | LT_CALL_MAY_BLOCK;
  return call;
}

inline lt_kernel_lock kernel_lock(uint32_t dev, uint64_t ino, uint8_t type, uint32_t fl_flags,
                                  int64_t start = 0, int64_t end = INT64_MAX) {
  lt_kernel_lock k{};
  k.dev = dev;
  k.ino = ino;
  k.type = type;
  k.fl_flags = fl_flags;
  k.start = start;
  k.end = end;
  return k;
}

inline lt_kernel_lock with_blocker(lt_kernel_lock k, uint32_t pid, uint8_t type, uint32_t flags,
                                   int64_t start = 0, int64_t end = INT64_MAX) {
  k.blocker_pid = pid;
  k.blocker_type = type;
  k.blocker_flags = flags;
  k.blocker_start = start;
  k.blocker_end = end;
  return k;
}

inline FileLock file_lock(uint64_t ts_ns, uint32_t pid, uint32_t tid, lt_kernel_lock k,
                          uint8_t tracepoint) {
  FileLock lock{};
  set_header(lock, LT_EV_FILE_LOCK, ts_ns, pid, tid);
  lock.klock = k;
  lock.klock.tracepoint = tracepoint;
  return lock;
}

inline TaskExit task_exit(uint64_t ts_ns, uint32_t pid, uint32_t tid, int32_t exit_code,
                          bool group_dead, std::string_view comm) {
  TaskExit exit{};
  set_header(exit, LT_EV_TASK_EXIT, ts_ns, pid, tid);
  exit.exit_code = exit_code;
  exit.group_dead = group_dead;
  set_chars(exit.comm, comm);
  return exit;
}

inline ExitCall exit_call(uint64_t ts_ns, uint32_t pid, uint32_t tid, int32_t status, bool group) {
  ExitCall call{};
  set_header(call, LT_EV_EXIT_CALL, ts_ns, pid, tid);
  call.status = status;
  call.group = group;
  return call;
}

inline Fork fork_event(uint64_t ts_ns, uint32_t pid, uint32_t tid, uint32_t child_pid,
                       uint32_t child_tid, std::string_view comm) {
  Fork fork{};
  set_header(fork, LT_EV_FORK, ts_ns, pid, tid);
  fork.child_pid = child_pid;
  fork.child_tid = child_tid;
  set_chars(fork.comm, comm);
  return fork;
}

inline Exec exec_event(uint64_t ts_ns, uint32_t pid, uint32_t old_tid, std::string_view comm,
                       std::string_view filename) {
  Exec exec{};
  set_header(exec, LT_EV_EXEC, ts_ns, pid, pid);
  exec.old_tid = old_tid;
  set_chars(exec.comm, comm);
  set_chars(exec.filename, filename);
  return exec;
}

inline Rename rename_event(uint64_t ts_ns, uint32_t pid, uint32_t tid, std::string_view comm) {
  Rename rename{};
  set_header(rename, LT_EV_RENAME, ts_ns, pid, tid);
  set_chars(rename.comm, comm);
  return rename;
}

inline ProcessInfo process_info(uint32_t pid, std::string comm, uint32_t ppid = 1,
                                uint64_t ts_ns = 0) {
  ProcessInfo info;
  info.ts_ns = ts_ns;
  info.pid = pid;
  info.ppid = ppid;
  info.comm = std::move(comm);
  return info;
}

inline ThreadInfo thread_info(uint32_t pid, uint32_t tid, std::string comm, uint64_t ts_ns = 0) {
  ThreadInfo info;
  info.ts_ns = ts_ns;
  info.pid = pid;
  info.tid = tid;
  info.comm = std::move(comm);
  return info;
}

inline FdPath fd_path(uint32_t pid, int32_t fd, std::string path, uint32_t dev = 0,
                      uint64_t ino = 0, uint64_t ts_ns = 0) {
  FdPath info;
  info.ts_ns = ts_ns;
  info.pid = pid;
  info.fd = fd;
  info.dev = dev;
  info.ino = ino;
  info.path = std::move(path);
  return info;
}

// The record's bytes at `offset` into the buffer (to test unaligned copies),
// followed by `extra` bytes a newer minor ABI appended.
template <typename Record>
std::vector<std::byte> bytes_of(const Record& record, size_t offset = 0, size_t extra = 0) {
  std::vector<std::byte> bytes(offset + sizeof(Record) + extra, std::byte{0xa5});
  std::memcpy(bytes.data() + offset, &record, sizeof(Record));
  return bytes;
}

// Everything a sink wrote to a memory stream, closed on destruction.
class MemoryStream {
 public:
  MemoryStream() : file_(open_memstream(&data_, &size_)) {}
  ~MemoryStream() {
    if (file_) std::fclose(file_);
    std::free(data_);
  }
  MemoryStream(const MemoryStream&) = delete;
  MemoryStream& operator=(const MemoryStream&) = delete;

  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }
  std::vector<std::string> lines() {
    std::vector<std::string> out;
    std::string all = text();
    size_t start = 0;
    for (size_t nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1)
      out.push_back(all.substr(start, nl - start));
    if (start < all.size()) out.push_back(all.substr(start));
    return out;
  }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  std::FILE* file_;
};

// 2023-11-14T22:13:20Z as the monotonic clock's zero; the host one hour east.
inline StreamInfo fixed_stream_info() {
  StreamInfo info;
  info.monotonic_to_realtime_ns = 1'700'000'000'000'000'000;
  info.utc_offset_s = 3600;
  info.start_ts_ns = 1'000'000'000;
  info.hostname = "testhost";
  info.kernel_release = "6.1.0";
  info.tool_version = "0.1.0";
  return info;
}

}  // namespace locktrace::test
