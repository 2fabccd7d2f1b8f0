// stack_depth: how deep a user stack unwinds, by DWARF CFI from copies of 1 to
// 16 KiB of the stack and by the frame-pointer walk, for a live thread stopped
// in a system call (as the BPF side sees a thread at a lock wait).
//
//   stack_depth [--frames] [--syscall NR] [--repeat N] PID[/TID] [LABEL]
//
// Without TID, a thread of PID that sleeps in a system call (NR if given), not
// PID itself when another one does. --repeat captures N more times, each time
// a thread that sleeps then (TID if given), and counts distinct stacks, hits of
// the symbolizer's call-path cache, and the distinct keys a cache keyed on
// every code address in the copy would have had.
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "symbolizer.hpp"
#include "thread_snapshot.hpp"

namespace {

using locktrace::StackFrame;
using locktrace::symbols::Symbolizer;
using locktrace::tools::ThreadSnapshot;

constexpr size_t kMaxCopy = 64 * 1024;
constexpr size_t kSizes[] = {1024, 2048, 4096, 8192, 16384};

std::string g_syscall;  // --syscall: only threads sleeping in this one

// "202" while a thread sleeps in futex(2), "" while it runs (or, with
// --syscall, sleeps in another call).
std::string syscall_of(pid_t pid, pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/syscall");
  std::string first;
  in >> first;
  if (first == "running" || first == "-1") return {};
  if (!g_syscall.empty() && first != g_syscall) return {};
  return first;
}

pid_t sleeping_thread(pid_t pid) {
  // Worker threads block only now and then: look for a while before settling
  // for the main thread.
  pid_t fallback = 0;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return 0;
    pid_t found = 0;
    while (dirent* entry = readdir(d)) {
      pid_t tid = std::atoi(entry->d_name);
      if (tid <= 0 || syscall_of(pid, tid).empty()) continue;
      if (tid == pid)
        fallback = tid;
      else if (found == 0)
        found = tid;
    }
    closedir(d);
    if (found != 0) return found;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return fallback;
}

struct Capture {
  pid_t tid = 0;
  std::string syscall;
  ThreadSnapshot snapshot;
};

// A snapshot of TID sleeping in a system call, or of any thread of PID that
// does when TID is 0.
std::optional<Capture> capture_sleeping(pid_t pid, pid_t tid) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t target = tid != 0 ? tid : sleeping_thread(pid);
    std::string syscall = target != 0 ? syscall_of(pid, target) : std::string();
    if (!syscall.empty()) {
      std::string error;
      auto snapshot = locktrace::tools::snapshot_thread(pid, target, kMaxCopy, &error);
      if (!snapshot)
        std::fprintf(stderr, "stack_depth: %s\n", error.c_str());
      else if (!syscall_of(pid, target).empty())  // else interrupted on its way out
        return Capture{target, syscall, std::move(*snapshot)};
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return std::nullopt;
}

bool reaches_entry(const std::vector<StackFrame>& frames) {
  // Where a process's or a thread's first frame is (the executable's own _start
  // may have no symbol when it is stripped).
  static const std::set<std::string> kEntries = {
      "_start", "__libc_start_main", "clone3", "__clone3", "clone", "__clone", "start_thread"};
  for (const auto& frame : frames)
    if (kEntries.contains(frame.function)) return true;
  return false;
}

void print_frames(const char* title, const std::vector<StackFrame>& frames) {
  std::printf("  %s:\n", title);
  for (const auto& f : frames) {
    std::string where = f.file.empty() ? "" : " " + f.file + ":" + std::to_string(f.line);
    std::printf("    %#014llx %s (%s)%s\n", static_cast<unsigned long long>(f.address),
                f.function.empty() ? "?" : f.function.c_str(), f.module.c_str(), where.c_str());
  }
}

// The key of a cache on every word of the copy that points into an executable
// mapping, with its offset: the scheme the call-path cache improves on.
std::vector<uint64_t> code_word_key(const ThreadSnapshot& snapshot,
                                    const std::vector<locktrace::Mapping>& code) {
  std::vector<uint64_t> key{snapshot.regs.ip};
  for (size_t offset = 0; offset + 8 <= snapshot.stack.size(); offset += 8) {
    uint64_t value;
    std::memcpy(&value, snapshot.stack.data() + offset, 8);
    for (const auto& m : code) {
      if (value >= m.start && value < m.end) {
        key.push_back(offset);
        key.push_back(value);
        break;
      }
    }
  }
  return key;
}

}  // namespace

int main(int argc, char** argv) {
  bool show_frames = false;
  int repeat = 0;
  int arg = 1;
  for (; arg < argc && argv[arg][0] == '-'; ++arg) {
    std::string option = argv[arg];
    if (option == "--frames") {
      show_frames = true;
    } else if (option == "--syscall" && arg + 1 < argc) {
      g_syscall = argv[++arg];
    } else if (option == "--repeat" && arg + 1 < argc) {
      repeat = std::atoi(argv[++arg]);
    } else {
      std::fprintf(stderr,
                   "usage: stack_depth [--frames] [--syscall NR] [--repeat N] PID[/TID] [LABEL]\n");
      return 2;
    }
  }
  if (arg >= argc) {
    std::fprintf(stderr,
                 "usage: stack_depth [--frames] [--syscall NR] [--repeat N] PID[/TID] [LABEL]\n");
    return 2;
  }
  std::string target = argv[arg];
  std::string label = arg + 1 < argc ? argv[arg + 1] : target;
  pid_t pid = std::atoi(target.c_str());
  size_t slash = target.find('/');
  pid_t tid = slash == std::string::npos ? 0 : std::atoi(target.c_str() + slash + 1);
  auto capture = pid > 0 ? capture_sleeping(pid, tid) : std::nullopt;
  if (!capture) {
    std::fprintf(stderr, "stack_depth: no thread of %s sleeps in a system call\n", target.c_str());
    return 1;
  }
  const ThreadSnapshot* snapshot = &capture->snapshot;
  Symbolizer symbolizer;
  const auto upid = static_cast<uint32_t>(pid);
  std::printf("%-26s syscall %-3s copy %5zu B  DWARF", label.c_str(), capture->syscall.c_str(),
              snapshot->stack.size());
  for (size_t size : kSizes) {
    size_t n = std::min(size, snapshot->stack.size());
    auto frames = symbolizer.unwind_user(upid, snapshot->regs, std::span(snapshot->stack).first(n));
    std::printf(" %2zu", frames.size());
  }
  auto all = symbolizer.unwind_user(upid, snapshot->regs, snapshot->stack);
  auto fp = symbolizer.user_frames(upid, locktrace::tools::frame_pointer_walk(*snapshot));
  // The smallest copy, to 64 bytes, that unwinds as deep as the whole one.
  size_t low = 0, high = snapshot->stack.size();
  while (high - low > 64) {
    size_t mid = (low + high) / 2;
    auto frames =
        symbolizer.unwind_user(upid, snapshot->regs, std::span(snapshot->stack).first(mid));
    (frames.size() >= all.size() ? high : low) = mid;
  }
  std::printf(" (all %2zu in %5zu B, %s)  FP walk %2zu (%s)\n", all.size(), high,
              reaches_entry(all) ? "to thread entry" : "cut short", fp.size(),
              reaches_entry(fp) ? "to thread entry" : "cut short");
  if (show_frames) {
    print_frames("DWARF, whole copy", all);
    print_frames("frame pointers", fp);
  }

  if (repeat > 0) {
    auto code = symbolizer.executable_mappings(upid);
    std::set<std::vector<uint64_t>> stacks, code_word_keys;
    auto before = symbolizer.stats();
    int taken = 0;
    for (int i = 0; i < repeat; ++i) {
      auto again = capture_sleeping(pid, tid);
      if (!again) break;
      ++taken;
      const ThreadSnapshot& s = again->snapshot;
      auto window = std::span(s.stack).first(std::min<size_t>(8192, s.stack.size()));
      auto frames = symbolizer.unwind_user(upid, s.regs, window);
      std::vector<uint64_t> pcs;
      for (const auto& f : frames) pcs.push_back(f.address);
      stacks.insert(pcs);
      code_word_keys.insert(
          code_word_key(ThreadSnapshot{s.regs, {window.begin(), window.end()}}, code));
    }
    auto after = symbolizer.stats();
    std::printf(
        "  %d more captures (8 KiB, any waiting thread): %zu distinct stacks, %llu "
        "call-path cache hits; %zu distinct code-word keys\n",
        taken, stacks.size(),
        static_cast<unsigned long long>(after.unwind_hits - before.unwind_hits),
        code_word_keys.size());
  }
  return 0;
}
