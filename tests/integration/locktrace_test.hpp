// The fixture every integration test uses: runs the real locktrace binary as
// root against real processes. Tests are skipped when BPF tracing is not
// usable here, and fail instead when CI=true, where it must be.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "run_helpers.hpp"

namespace nlohmann {
// Without this GoogleTest prints a json value as a container of json values,
// each of them again a container: forever.
inline void PrintTo(const json& value, std::ostream* os) { *os << value.dump(); }
}  // namespace nlohmann

namespace locktrace::integration {

using Json = nlohmann::json;
using Events = std::vector<Json>;

class LocktraceTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // locktrace ARGS...
  static RunResult locktrace(const std::vector<std::string>& args);
  // locktrace ARGS..., which must exit with `expected_exit`; its event lines.
  static Events trace_json(const std::vector<std::string>& args, int expected_exit = 0);

  TempDir tmp_;
};

// The lines that describe a traced task's event (lock_call, file_lock,
// task_exit, exit_call, fork, exec, rename), in order. Other lines (the
// analyzer's finding and summary lines) are skipped, as docs/json-schema.md
// asks of consumers that do not know them.
Events event_lines(const std::string& json_lines);

// The value at a JSON pointer ("/args/op"), or null when it is absent, so
// predicates can read optional fields of any event without throwing.
const Json& field(const Json& event, const std::string& pointer);
// Whether the field is a string containing `part`.
bool field_contains(const Json& event, const std::string& pointer, std::string_view part);

bool is_lock_call(const Json& event, std::string_view syscall, std::string_view phase);

// Index of the first event at or after `from` that satisfies `pred`.
template <typename Pred>
std::optional<size_t> find_event(const Events& events, size_t from, Pred pred) {
  for (size_t i = from; i < events.size(); i++)
    if (pred(events[i])) return i;
  return std::nullopt;
}

template <typename Pred>
std::optional<size_t> find_event(const Events& events, Pred pred) {
  return find_event(events, 0, pred);
}

template <typename Pred>
size_t count_events(const Events& events, Pred pred) {
  size_t n = 0;
  for (const auto& event : events) n += pred(event) ? 1 : 0;
  return n;
}

// The pid of the process that exec'd `filename` (the command locktrace launched).
std::optional<int64_t> exec_pid(const Events& events, std::string_view filename);
// The pids of the processes (not threads) `parent` forked, in order.
std::vector<int64_t> forked_processes(const Events& events, int64_t parent);

// The whole stream, one event per line, for assertion messages.
std::string dump(const Events& events);

}  // namespace locktrace::integration
