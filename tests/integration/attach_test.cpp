// Attaching to processes and threads that already run (-p, -t).
#include <signal.h>

#include <sstream>

#include "locktrace_test.hpp"

namespace locktrace::integration {
namespace {

// wait_for_signal, started by the test: it reports "PID TID..." once all its
// threads run, then takes a flock and makes a futex call in each thread every
// 100 ms until SIGTERM.
class AttachTest : public LocktraceTest {
 protected:
  void start_target(int threads) {
    target_.emplace(std::vector<std::string>{SCENARIO_WAIT_FOR_SIGNAL, tmp_.file("beat.lock"),
                                             std::to_string(threads)});
    auto line = target_->read_line();
    ASSERT_TRUE(line) << "wait_for_signal did not report its threads";
    std::istringstream ids(*line);
    ids >> pid_;
    for (int64_t tid; ids >> tid;) tids_.push_back(tid);
    ASSERT_EQ(pid_, target_->pid());
    ASSERT_EQ(tids_.size(), static_cast<size_t>(threads)) << *line;
  }
  // The target must still be running when the trace ends, and end cleanly on SIGTERM.
  void stop_target() {
    ASSERT_EQ(target_->stop(SIGTERM), 0) << "wait_for_signal did not exit 0 on SIGTERM";
  }

  std::optional<Background> target_;
  int64_t pid_ = 0;
  std::vector<int64_t> tids_;
};

TEST_F(AttachTest, PidAttachesToARunningProcess) {
  ASSERT_NO_FATAL_FAILURE(start_target(1));
  Events events = trace_json({"live", "--json", "--duration", "1s", "-p", std::to_string(pid_)});
  ASSERT_NO_FATAL_FAILURE(stop_target());

  size_t flocks = count_events(events, [&](const Json& e) {
    return is_lock_call(e, "flock", "done") && field(e, "/pid") == pid_ && field(e, "/ret") == 0 &&
           field(e, "/args/path") == tmp_.file("beat.lock");
  });
  size_t futexes = count_events(events, [&](const Json& e) {
    return is_lock_call(e, "futex", "done") && field(e, "/pid") == pid_;
  });
  EXPECT_GE(flocks, 2u) << dump(events);  // LOCK_EX and LOCK_UN at least once
  EXPECT_GE(futexes, 1u) << dump(events);
  for (const auto& e : events) EXPECT_EQ(field(e, "/pid"), pid_) << e.dump();
}

TEST_F(AttachTest, TidTracesOnlyThatThread) {
  ASSERT_NO_FATAL_FAILURE(start_target(2));
  int64_t traced = tids_[1];
  Events events = trace_json({"live", "--json", "--duration", "1s", "-t", std::to_string(traced)});
  ASSERT_NO_FATAL_FAILURE(stop_target());

  size_t calls = count_events(events, [&](const Json& e) {
    return field(e, "/event") == "lock_call" && field(e, "/tid") == traced;
  });
  EXPECT_GE(calls, 2u) << dump(events);
  for (const auto& e : events) {
    EXPECT_EQ(field(e, "/pid"), pid_) << e.dump();
    EXPECT_EQ(field(e, "/tid"), traced) << "only the thread given with -t\n" << e.dump();
  }
}

}  // namespace
}  // namespace locktrace::integration
