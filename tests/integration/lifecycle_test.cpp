// How traced tasks end, and what `live -- CMD` returns.
#include "locktrace_test.hpp"

namespace locktrace::integration {
namespace {

class LifecycleTest : public LocktraceTest {};

bool is_task_exit(const Json& e, int64_t tid) {
  return field(e, "/event") == "task_exit" && field(e, "/tid") == tid;
}

TEST_F(LifecycleTest, ThreadExitDoesNotEndTheProcess) {
  Events events = trace_json({"live", "--json", "--", SCENARIO_THREAD_EXIT});
  auto pid = exec_pid(events, SCENARIO_THREAD_EXIT);
  ASSERT_TRUE(pid) << dump(events);

  auto spawned = find_event(events, [&](const Json& e) {
    return field(e, "/event") == "fork" && field(e, "/pid") == *pid && field(e, "/thread") == true;
  });
  ASSERT_TRUE(spawned) << dump(events);
  int64_t tid = field(events[*spawned], "/child_tid").get<int64_t>();
  EXPECT_EQ(field(events[*spawned], "/child_pid"), *pid);
  EXPECT_NE(tid, *pid);

  auto thread_exit = find_event(events, [&](const Json& e) { return is_task_exit(e, tid); });
  ASSERT_TRUE(thread_exit) << dump(events);
  const Json& t = events[*thread_exit];
  EXPECT_EQ(field(t, "/pid"), *pid);
  EXPECT_EQ(field(t, "/process_exited"), false) << t.dump();
  EXPECT_EQ(field(t, "/status"), 0) << t.dump();
  EXPECT_TRUE(field(t, "/signal").is_null()) << t.dump();

  auto exit_call = find_event(events, [&](const Json& e) {
    return field(e, "/event") == "exit_call" && field(e, "/tid") == tid;
  });
  ASSERT_TRUE(exit_call) << dump(events);
  EXPECT_EQ(field(events[*exit_call], "/syscall"), "exit") << "pthread_exit ends one thread";
  EXPECT_LT(*exit_call, *thread_exit);

  auto process_exit = find_event(events, [&](const Json& e) { return is_task_exit(e, *pid); });
  ASSERT_TRUE(process_exit) << dump(events);
  EXPECT_EQ(field(events[*process_exit], "/process_exited"), true) << events[*process_exit].dump();
  EXPECT_EQ(field(events[*process_exit], "/status"), 0) << events[*process_exit].dump();
}

TEST_F(LifecycleTest, ProcessKilledBySignalIsReportedWithItsSignal) {
  // A shell reports death by SIGKILL as 128 + 9.
  Events events = trace_json({"live", "--json", "--", SCENARIO_KILLED_BY_SIGNAL}, 137);
  auto pid = exec_pid(events, SCENARIO_KILLED_BY_SIGNAL);
  ASSERT_TRUE(pid) << dump(events);

  auto exit = find_event(events, [&](const Json& e) { return is_task_exit(e, *pid); });
  ASSERT_TRUE(exit) << dump(events);
  const Json& x = events[*exit];
  EXPECT_EQ(field(x, "/process_exited"), true) << x.dump();
  EXPECT_EQ(field(x, "/signal"), "SIGKILL") << x.dump();
  EXPECT_TRUE(field(x, "/status").is_null()) << x.dump();
  EXPECT_EQ(field(x, "/core_dumped"), false) << x.dump();
  EXPECT_FALSE(find_event(events, [](const Json& e) { return field(e, "/event") == "exit_call"; }))
      << "a killed process makes no exit call\n"
      << dump(events);
}

TEST_F(LifecycleTest, CommandExitStatusBecomesLocktracesExitStatus) {
  Events events = trace_json({"live", "--json", "--", SCENARIO_EXIT_STATUS, "7"}, 7);
  auto pid = exec_pid(events, SCENARIO_EXIT_STATUS);
  ASSERT_TRUE(pid) << dump(events);

  auto exit_call = find_event(events, [&](const Json& e) {
    return field(e, "/event") == "exit_call" && field(e, "/tid") == *pid;
  });
  ASSERT_TRUE(exit_call) << dump(events);
  EXPECT_EQ(field(events[*exit_call], "/syscall"), "exit_group");
  EXPECT_EQ(field(events[*exit_call], "/status"), 7);

  auto exit = find_event(events, [&](const Json& e) { return is_task_exit(e, *pid); });
  ASSERT_TRUE(exit) << dump(events);
  EXPECT_EQ(field(events[*exit], "/process_exited"), true);
  EXPECT_EQ(field(events[*exit], "/status"), 7) << events[*exit].dump();
  EXPECT_TRUE(field(events[*exit], "/signal").is_null()) << events[*exit].dump();
}

TEST_F(LifecycleTest, CommandThatCannotStartIsNoTarget) {
  std::string missing = tmp_.file("no-such-command");
  RunResult result = locktrace({"live", "--json", "--", missing});
  EXPECT_EQ(result.exit_code, 5) << result.describe();
  EXPECT_NE(result.err.find(missing), std::string::npos) << result.describe();
}

}  // namespace
}  // namespace locktrace::integration
