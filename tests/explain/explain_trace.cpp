#include "explain_trace.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace locktrace::explain {

using namespace std::chrono_literals;

namespace {

Lines parse(const std::string& text) { return integration::parse_json_lines(text); }

}  // namespace

void ExplainTrace::SetUp() {
  static const std::string reason = integration::probe_bpf(LOCKTRACE_BIN, EXPLAIN_PROBE_STAMP);
  if (reason.empty()) return;
  const char* ci = std::getenv("CI");
  if (ci && std::string_view(ci) == "true") GTEST_FAIL() << reason;
  GTEST_SKIP() << reason;
}

Lines ExplainTrace::trace(const std::vector<std::string>& argv, int expected_exit) {
  std::vector<std::string> command{LOCKTRACE_BIN, "live", "--json", "--"};
  command.insert(command.end(), argv.begin(), argv.end());
  RunResult result = integration::run(command);
  EXPECT_EQ(result.exit_code, expected_exit) << result.describe();
  EXPECT_FALSE(result.timed_out) << result.describe();
  return parse(result.out);
}

Lines ExplainTrace::trace_script(const std::string& script, int expected_exit) {
  return trace({"sh", "-c", "cd '" + tmp_.path().string() + "' || exit 99\n" + script}, expected_exit);
}

std::map<std::string, std::string> ExplainTrace::report(const std::string& name) const {
  std::map<std::string, std::string> values;
  std::ifstream in(tmp_.file(name));
  std::string line;
  while (std::getline(in, line))
    if (auto eq = line.find('='); eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 1);
  return values;
}

int64_t ExplainTrace::report_pid(const std::map<std::string, std::string>& values, const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) {
    ADD_FAILURE() << "the report has no " << name << "=; it has:\n" << integration::read_text(tmp_.file("report"));
    return -1;
  }
  return std::stoll(it->second);
}

LiveTrace::LiveTrace(const std::vector<std::string>& argv) : process_([&] {
    std::vector<std::string> command{LOCKTRACE_BIN, "live", "--json", "--"};
    command.insert(command.end(), argv.begin(), argv.end());
    return command;
  }()) {}

std::optional<Json> LiveTrace::next() {
  auto line = process_.read_line(integration::kRunTimeout);
  if (!line) return std::nullopt;
  if (line->empty()) return next();
  lines_.push_back(Json::parse(*line));
  return lines_.back();
}

std::optional<int> LiveTrace::finish() {
  while (next()) {
  }
  return process_.stop(0);
}

void release(const std::string& fifo) {
  // O_NONBLOCK: ENXIO while no reader has the fifo open yet.
  auto deadline = std::chrono::steady_clock::now() + integration::kRunTimeout;
  int fd;
  while ((fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
    if (errno != ENXIO || std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "cannot open " << fifo << " for writing: " << std::strerror(errno);
      return;
    }
    std::this_thread::sleep_for(5ms);
  }
  if (write(fd, "\n", 1) != 1) ADD_FAILURE() << "write " << fifo << ": " << std::strerror(errno);
  close(fd);
}

Lines findings(const Lines& lines, std::string_view kind) {
  Lines found;
  for (const auto& line : lines)
    if (line.value("event", "") == "finding" && line.value("kind", "") == kind) found.push_back(line);
  return found;
}

Lines events(const Lines& lines, std::string_view kind) {
  Lines found;
  for (const auto& line : lines)
    if (line.value("event", "") == kind) found.push_back(line);
  return found;
}

const Json& at(const Json& value, const std::string& pointer) {
  static const Json kNull;
  Json::json_pointer p(pointer);
  return value.contains(p) ? value.at(p) : kNull;
}

std::string dump(const Lines& lines) {
  std::string text;
  for (const auto& line : lines) {
    // Futex traffic of the shells and the dynamic loader is noise here.
    if (line.value("event", "") == "lock_call" && line.value("syscall", "") == "futex") continue;
    text += line.dump() + "\n";
  }
  return text;
}

}  // namespace locktrace::explain
