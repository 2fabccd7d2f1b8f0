// The command line: clear errors with documented exit codes, output filters, demo.
#include <algorithm>
#include <fstream>
#include <regex>

#include "locktrace_test.hpp"

namespace locktrace::integration {
namespace {

class CliTest : public LocktraceTest {};

size_t line_count(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

bool is_finished_call(const Json& e) {
  return field(e, "/event") == "lock_call" && field(e, "/phase") == "done";
}

// A PID no process can have: PIDs stay below pid_max.
std::string impossible_pid() {
  std::ifstream in("/proc/sys/kernel/pid_max");
  long pid_max = 0;
  in >> pid_max;
  return std::to_string(pid_max);
}

TEST_F(CliTest, MissingPidIsNoTarget) {
  std::string pid = impossible_pid();
  RunResult result = locktrace({"live", "--json", "-p", pid});
  EXPECT_EQ(result.exit_code, 5) << result.describe();
  EXPECT_EQ(line_count(result.err), 1u) << "one line on stderr\n" << result.describe();
  EXPECT_NE(result.err.find("no such process"), std::string::npos) << result.describe();
  EXPECT_NE(result.err.find(pid), std::string::npos) << result.describe();
  EXPECT_EQ(result.out, "") << result.describe();
}

TEST_F(CliTest, MissingTidIsNoTarget) {
  std::string tid = impossible_pid();
  RunResult result = locktrace({"live", "-t", tid});
  EXPECT_EQ(result.exit_code, 5) << result.describe();
  EXPECT_EQ(line_count(result.err), 1u) << "one line on stderr\n" << result.describe();
  EXPECT_NE(result.err.find(tid), std::string::npos) << result.describe();
  EXPECT_EQ(result.out, "") << result.describe();
}

TEST_F(CliTest, UnknownOptionIsAUsageError) {
  RunResult result = locktrace({"live", "--no-such-option", "--", "true"});
  EXPECT_EQ(result.exit_code, 2) << result.describe();
  EXPECT_EQ(line_count(result.err), 1u) << "one line on stderr\n" << result.describe();
  EXPECT_NE(result.err.find("--no-such-option"), std::string::npos) << result.describe();
  EXPECT_EQ(result.out, "") << result.describe();
}

TEST_F(CliTest, UnprivilegedRunIsRefused) {
  RunResult result = run({"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                          LOCKTRACE_BIN, "live", "--", "true"});
  EXPECT_EQ(result.exit_code, 3) << result.describe();
  EXPECT_EQ(line_count(result.err), 1u) << "one line on stderr\n" << result.describe();
  EXPECT_NE(result.err.find("root"), std::string::npos) << result.describe();
  EXPECT_NE(result.err.find("CAP_BPF"), std::string::npos) << result.describe();
  EXPECT_EQ(result.out, "") << result.describe();
}

TEST_F(CliTest, ErrorsOnlyShowsOnlyFailedCalls) {
  std::string file = tmp_.file("app.db");
  Events events =
      trace_json({"live", "--json", "--errors-only", "--", SCENARIO_FCNTL_LOCKS, file, "posix"});
  ASSERT_FALSE(events.empty()) << "the F_SETLK that fails with EAGAIN is missing";
  for (const auto& e : events) {
    EXPECT_TRUE(is_finished_call(e)) << e.dump();
    EXPECT_TRUE(field(e, "/errno").is_number()) << e.dump();
    EXPECT_TRUE(field(e, "/ret").is_number() && field(e, "/ret").get<int64_t>() < 0) << e.dump();
  }
  EXPECT_TRUE(find_event(events, [](const Json& e) {
    return is_lock_call(e, "fcntl", "done") && field(e, "/args/cmd") == "F_SETLK" &&
           field(e, "/errno_name") == "EAGAIN";
  })) << dump(events);
}

TEST_F(CliTest, MinWaitShowsOnlyCallsThatTookThatLong) {
  constexpr int64_t kMinWaitNs = 100'000'000;
  std::string file = tmp_.file("queue.lock");
  // The holder keeps the lock 300 ms after the waiter queues.
  Events events = trace_json(
      {"live", "--json", "--min-wait", "100ms", "--", SCENARIO_FLOCK_CONTENTION, file, "300"});
  ASSERT_FALSE(events.empty()) << "the waiter's flock is missing";
  for (const auto& e : events) {
    EXPECT_TRUE(is_finished_call(e)) << e.dump();
    EXPECT_TRUE(field(e, "/duration_ns").is_number() &&
                field(e, "/duration_ns").get<int64_t>() >= kMinWaitNs)
        << e.dump();
  }
  EXPECT_TRUE(find_event(events, [&](const Json& e) {
    return is_lock_call(e, "flock", "done") && field(e, "/args/operation") == "LOCK_EX" &&
           field(e, "/args/path") == file && field(e, "/ret") == 0;
  })) << dump(events);
}

TEST_F(CliTest, DemoRunsAndEmitsLockCalls) {
  RunResult result = locktrace({"demo", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  Events events = event_lines(result.out);
  for (const char* syscall : {"flock", "fcntl", "futex"})
    EXPECT_TRUE(find_event(events, [&](const Json& e) { return is_lock_call(e, syscall, "done"); }))
        << "no " << syscall << " call\n"
        << dump(events);
  EXPECT_TRUE(find_event(events, [](const Json& e) { return field(e, "/errno").is_number(); }))
      << "the demo includes a failed lock call\n"
      << dump(events);

  // Every record says what it is, when, and who made it; every finished call how it ended.
  for (const auto& e : events) {
    for (const char* key : {"/event", "/ts_ns", "/time", "/pid", "/tid", "/comm"})
      EXPECT_FALSE(field(e, key).is_null()) << key << " missing: " << e.dump();
    if (is_finished_call(e)) {
      EXPECT_TRUE(field(e, "/ret").is_number()) << e.dump();
      EXPECT_TRUE(field(e, "/duration_ns").is_number()) << e.dump();
      EXPECT_TRUE(field(e, "/args").is_object()) << e.dump();
    }
  }

  // The tally goes to stderr.
  EXPECT_TRUE(std::regex_search(result.err, std::regex(R"(\d+ events, \d+ lost)")))
      << result.describe();
}

}  // namespace
}  // namespace locktrace::integration
