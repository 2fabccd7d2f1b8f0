#include "thread_snapshot.hpp"

#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace locktrace::tools {

namespace {

constexpr uint64_t kPage = 4096;

std::string failed(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

size_t copy_memory(pid_t pid, uint64_t address, std::span<std::byte> out) {
  // process_vm_readv never splits one iovec: one per page lets it stop at the
  // first unmapped page instead of failing as a whole.
  std::vector<iovec> pages;
  for (uint64_t at = address; at < address + out.size();) {
    uint64_t end = std::min<uint64_t>((at & ~(kPage - 1)) + kPage, address + out.size());
    pages.push_back({reinterpret_cast<void*>(at), end - at});
    at = end;
  }
  size_t copied = 0;
  for (size_t first = 0; first < pages.size();) {
    size_t count = std::min<size_t>(pages.size() - first, IOV_MAX);
    size_t wanted = 0;
    for (size_t i = first; i < first + count; ++i) wanted += pages[i].iov_len;
    iovec local{out.data() + copied, wanted};
    ssize_t n = process_vm_readv(pid, &local, 1, &pages[first], count, 0);
    if (n <= 0) break;
    copied += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < wanted) break;
    first += count;
  }
  return copied;
}

std::optional<ThreadSnapshot> snapshot_thread(pid_t pid, pid_t tid, size_t max_stack_bytes,
                                              std::string* error) {
  if (ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
    *error = failed("PTRACE_SEIZE");
    return std::nullopt;
  }
  std::optional<ThreadSnapshot> snapshot;
  int status = 0;
  if (ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0) {
    *error = failed("PTRACE_INTERRUPT");
  } else if (waitpid(tid, &status, __WALL) != tid || !WIFSTOPPED(status)) {
    *error = failed("waitpid");
  } else {
    user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, tid, nullptr, &regs) != 0) {
      *error = failed("PTRACE_GETREGS");
    } else {
      snapshot.emplace();
      snapshot->regs = {regs.rip, regs.rsp, regs.rbp};
      snapshot->stack.resize(max_stack_bytes);
      snapshot->stack.resize(copy_memory(pid, regs.rsp, snapshot->stack));
    }
  }
  ptrace(PTRACE_DETACH, tid, nullptr, nullptr);
  return snapshot;
}

std::vector<uint64_t> frame_pointer_walk(const ThreadSnapshot& snapshot, size_t max_frames) {
  std::vector<uint64_t> ips{snapshot.regs.ip};
  const uint64_t sp = snapshot.regs.sp;
  const uint64_t top = sp + snapshot.stack.size();
  uint64_t fp = snapshot.regs.bp;
  while (ips.size() < max_frames && fp >= sp && fp + 16 <= top && fp % 8 == 0) {
    uint64_t frame[2];  // saved rbp, return address
    std::memcpy(frame, snapshot.stack.data() + (fp - sp), sizeof frame);
    if (frame[1] == 0) break;
    ips.push_back(frame[1]);
    if (frame[0] <= fp) break;  // frames grow upwards; anything else is not a chain
    fp = frame[0];
  }
  return ips;
}

}  // namespace locktrace::tools
