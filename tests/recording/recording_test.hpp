// The fixtures of the recording tests: they run the real locktrace binary
// against real workloads (flock(1), sh, python3, sleep). Tests that load BPF
// skip when it is not usable here, and fail instead when CI=true.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "trace_bytes.hpp"

namespace locktrace::recording {

using Json = nlohmann::json;

// The python3 the workloads run: the system one, not a version-manager shim
// that would add its own processes to every trace.
std::string python3();

class RecordingTest : public ::testing::Test {
 protected:
  // locktrace ARGS...
  static RunResult locktrace(const std::vector<std::string>& args, const RunOptions& options = {});
  // Writes a script into the test's directory; returns its path.
  std::string script(const std::string& name, const std::string& text) const;

  // sh -c SCRIPT of the contention scenario: flock held by one process while
  // another fails with LOCK_NB and a third waits for it; a python3
  // threading.Lock released by a Timer (futex contention); a child killed by
  // SIGKILL. Deterministic in what happens, not in how long.
  std::vector<std::string> contention_command() const;
  // python3: `iterations` rounds of fcntl F_SETLK lock + unlock on a file
  // (two lock calls each): many events, many blocks.
  std::vector<std::string> lock_loop_command(int iterations) const;
  // locktrace record -o FILE -- COMMAND
  static RunResult record(const std::string& file, const std::vector<std::string>& command);

  TempDir tmp_;
};

class BpfRecordingTest : public RecordingTest {
 protected:
  void SetUp() override;
};

// One JSON value per line.
std::vector<Json> json_lines(const std::string& text);
// The lines of --json output that are kernel events (lock_call, task_exit...,
// whatever kinds the ABI has): one per kernel record of a trace. The analyzer's findings and the end of
// stream summary are left out: they are printed whatever the filters and
// depend on the whole stream.
std::vector<std::string> event_lines(const std::string& text);
// Equal line lists; on failure, the sizes and the first difference only.
::testing::AssertionResult same_lines(const std::vector<std::string>& got,
                                      const std::vector<std::string>& expected);

}  // namespace locktrace::recording
