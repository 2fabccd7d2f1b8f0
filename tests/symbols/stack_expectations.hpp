// Checks on unwound stacks shared by the unwinding tests.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "events.hpp"

namespace locktrace_test {

// The index of the first frame from FROM on whose function contains NAME; -1 if none.
inline int frame_index(const std::vector<locktrace::StackFrame>& frames, std::string_view name,
                       size_t from = 0) {
  for (size_t i = from; i < frames.size(); ++i)
    if (frames[i].function.find(name) != std::string::npos) return static_cast<int>(i);
  return -1;
}

inline std::string describe(const std::vector<locktrace::StackFrame>& frames) {
  std::string text;
  for (const auto& frame : frames) {
    char address[24];
    std::snprintf(address, sizeof address, "%#llx", static_cast<unsigned long long>(frame.address));
    text += "\n  " + std::string(address) + " " +
            (frame.function.empty() ? std::string("?") : frame.function) + " (" + frame.module +
            ")";
  }
  return text;
}

}  // namespace locktrace_test
