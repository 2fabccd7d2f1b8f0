// A running symbols_target child: the addresses it printed, and a way to know
// it is blocked in its read() three calls deep.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

namespace locktrace_test {

class TargetProcess {
 public:
  // Starts PATH and reads the addresses it prints; pid() is -1 on failure.
  explicit TargetProcess(const std::string& path);
  ~TargetProcess();  // closes the child's stdin, which ends it, and reaps it
  TargetProcess(const TargetProcess&) = delete;
  TargetProcess& operator=(const TargetProcess&) = delete;

  pid_t pid() const { return pid_; }
  // "function", "g_test_lock", "static"; 0 if not printed.
  uint64_t address(const std::string& name) const;
  // Waits (up to 20 s) until the child sleeps in read(2).
  bool wait_blocked_in_read() const;

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::map<std::string, uint64_t> addresses_;
};

}  // namespace locktrace_test
