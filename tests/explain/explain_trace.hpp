// The fixture of the explanation integration tests: runs the real locktrace
// binary, as root, on shell scripts and scenario programs whose lock calls
// fail for a known reason, and picks the findings out of its --json output.
// Skipped when BPF tracing is not usable here; failed instead when CI=true.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "run_helpers.hpp"

namespace nlohmann {
// Without this GoogleTest prints a json value as a container of json values, forever.
inline void PrintTo(const json& value, std::ostream* os) { *os << value.dump(); }
}  // namespace nlohmann

namespace locktrace::explain {

using integration::Background;
using integration::RunResult;
using integration::TempDir;
using Json = nlohmann::json;
using Lines = std::vector<Json>;

class ExplainTrace : public ::testing::Test {
 protected:
  void SetUp() override;

  // locktrace live --json -- ARGV..., which must exit with `expected_exit`: every output line.
  Lines trace(const std::vector<std::string>& argv, int expected_exit = 0);
  // The same for `sh -c SCRIPT`, run in the temp directory.
  Lines trace_script(const std::string& script, int expected_exit = 0);
  // The "name=value" lines a script or scenario wrote to the file.
  std::map<std::string, std::string> report(const std::string& name = "report") const;
  // A report value as a pid; fails the test when it is missing.
  int64_t report_pid(const std::map<std::string, std::string>& values, const std::string& name) const;

  TempDir tmp_;
};

// A locktrace run whose output the test reads while it runs, to act on the
// traced programs (through fifos) only once locktrace has shown an event.
class LiveTrace {
 public:
  explicit LiveTrace(const std::vector<std::string>& argv);
  // Reads lines until one satisfies `pred` (kept, like all the others); false at
  // the end of the output or when nothing matched for a long time.
  template <typename Pred>
  bool wait_for(Pred pred) {
    while (auto line = next()) {
      if (pred(*line)) return true;
    }
    return false;
  }
  // Reads the rest of the output and reaps locktrace: its exit code.
  std::optional<int> finish();
  const Lines& lines() const { return lines_; }

 private:
  std::optional<Json> next();
  Background process_;
  Lines lines_;
};

// Opens the fifo for writing (without blocking forever when no reader comes)
// and writes a line: what a script waiting in `read x < FIFO` needs to go on.
void release(const std::string& fifo);

// The findings of one kind, in order.
Lines findings(const Lines& lines, std::string_view kind);
// The events of one kind ("lock_call", "task_exit", "signal" ...), in order.
Lines events(const Lines& lines, std::string_view kind);
// The value at a JSON pointer, or null when absent.
const Json& at(const Json& value, const std::string& pointer);
// Every line, one per line, for assertion messages.
std::string dump(const Lines& lines);

}  // namespace locktrace::explain
