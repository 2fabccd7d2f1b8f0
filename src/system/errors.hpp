// The documented exit codes (README "Exit codes") and the one exception type
// that carries a fatal condition up to main, where it becomes a single line on
// stderr and its exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace locktrace {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // runtime error: I/O, an unexpected kernel answer
  kExitUsage = 2,        // bad command line
  kExitPrivileges = 3,   // not root, or without CAP_BPF + CAP_PERFMON
  kExitUnsupported = 4,  // kernel or system lacks BTF, tracefs, BPF features
  kExitNoTarget = 5,     // a PID/TID that does not exist, a command that cannot start
  kExitDeadlock = 6,     // --exit-on-deadlock fired
};

class Fatal : public std::runtime_error {
 public:
  Fatal(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

}  // namespace locktrace

#include <cstdio>
#include <string_view>

namespace locktrace {

// One line on stderr, prefixed with the tool's name: notes, warnings, tallies.
inline void note(std::string_view text) {
  std::fprintf(stderr, "locktrace: %.*s\n", static_cast<int>(text.size()), text.data());
}

}  // namespace locktrace
