#include "locktrace_test.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace locktrace::integration {


void LocktraceTest::SetUp() {
  static const std::string reason = probe_bpf(LOCKTRACE_BIN, LOCKTRACE_PROBE_STAMP);
  if (reason.empty()) return;
  const char* ci = std::getenv("CI");
  if (ci && std::string_view(ci) == "true") GTEST_FAIL() << reason;
  GTEST_SKIP() << reason;
}

RunResult LocktraceTest::locktrace(const std::vector<std::string>& args) {
  std::vector<std::string> argv{LOCKTRACE_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

Events LocktraceTest::trace_json(const std::vector<std::string>& args, int expected_exit) {
  RunResult result = locktrace(args);
  EXPECT_EQ(result.exit_code, expected_exit) << result.describe();
  EXPECT_FALSE(result.timed_out) << result.describe();
  return event_lines(result.out);
}

Events event_lines(const std::string& json_lines) {
  static const std::set<std::string> kEventKinds{"lock_call", "file_lock", "task_exit", "exit_call",
                                                 "fork",      "exec",      "rename"};
  Events events;
  for (auto& line : parse_json_lines(json_lines)) {
    const Json& kind = field(line, "/event");
    if (kind.is_string() && kEventKinds.contains(kind.get<std::string>()))
      events.push_back(std::move(line));
  }
  return events;
}

const Json& field(const Json& event, const std::string& pointer) {
  static const Json null;
  Json::json_pointer ptr(pointer);
  return event.contains(ptr) ? event.at(ptr) : null;
}

bool field_contains(const Json& event, const std::string& pointer, std::string_view part) {
  const Json& value = field(event, pointer);
  return value.is_string() && value.get_ref<const std::string&>().find(part) != std::string::npos;
}

bool is_lock_call(const Json& event, std::string_view syscall, std::string_view phase) {
  return field(event, "/event") == "lock_call" && field(event, "/syscall") == syscall &&
         field(event, "/phase") == phase;
}

std::optional<int64_t> exec_pid(const Events& events, std::string_view filename) {
  auto index = find_event(events, [&](const Json& e) {
    return field(e, "/event") == "exec" && field(e, "/filename") == filename;
  });
  if (!index) return std::nullopt;
  return events[*index]["pid"].get<int64_t>();
}

std::vector<int64_t> forked_processes(const Events& events, int64_t parent) {
  std::vector<int64_t> children;
  for (const auto& e : events)
    if (field(e, "/event") == "fork" && field(e, "/pid") == parent && field(e, "/thread") == false)
      children.push_back(e["child_pid"].get<int64_t>());
  return children;
}

std::string dump(const Events& events) {
  std::string text = "events (" + std::to_string(events.size()) + "):\n";
  for (const auto& e : events) text += e.dump() + "\n";
  return text;
}

}  // namespace locktrace::integration
