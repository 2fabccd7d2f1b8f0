// What follows a failure: the same refusal again and again folds into one
// retry loop, and an exit after a failure is linked to it (and to the parent
// that reaps the process).
#include <gtest/gtest.h>

#include "explain_stream.hpp"

namespace locktrace::explain::test {
namespace {

constexpr uint64_t kHolderFile = 0xc100;
constexpr uint64_t kRetrierFile = 0xc200;

LockCall try_lock(uint32_t pid, uint32_t tid, uint64_t ts, int64_t ret, uint64_t ino = 10) {
  return flock_call(pid, tid, ts, ts, 3, kLockEx | kLockNb, ret, klock(ino, kRetrierFile, kWrlck, LT_FL_FLOCK));
}

class Consequence : public ::testing::Test {
 protected:
  void SetUp() override {
    s.push({process_info(100, "holder"), process_info(200, "retrier", 150), process_info(150, "sh"),
            flock_call(100, 100, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(10, kHolderFile, kWrlck, LT_FL_FLOCK))});
  }
  Stream s;
};

TEST_F(Consequence, FiveRefusalsThenSuccessAreOneFailureAndOneRetryLoop) {
  std::vector<Event> attempts;
  for (int i = 0; i < 5; i++) attempts.push_back(try_lock(200, 200, 2 * kSec + i * 100 * kMs, -kEagain));
  auto found = s.push(attempts);
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 1u) << kinds(found);
  EXPECT_EQ(failures[0].call.ts_ns, 2 * kSec) << "the first refusal is explained";
  ASSERT_EQ(failures[0].holders.size(), 1u);
  EXPECT_EQ(failures[0].holders[0].holder->pid, 100u);
  EXPECT_TRUE(only<RetryLoopFinding>(found).empty()) << "the loop is told when it ends";

  // The holder lets go (its last close), and the next attempt succeeds.
  found = s.push({flock_call(100, 100, 3 * kSec, 3 * kSec, 3, kLockUn, 0, klock(10, kHolderFile, kUnlck, LT_FL_FLOCK)),
                  try_lock(200, 200, 3 * kSec + 100 * kMs, 0)});
  EXPECT_TRUE(only<FailureFinding>(found).empty()) << kinds(found);
  auto loops = only<RetryLoopFinding>(found);
  ASSERT_EQ(loops.size(), 1u) << kinds(found);
  EXPECT_EQ(loops[0].attempts, 5u);
  EXPECT_EQ(loops[0].outcome, RetryLoopFinding::Outcome::succeeded);
  EXPECT_EQ(loops[0].first_ts_ns, 2 * kSec);
  EXPECT_EQ(loops[0].last.ts_ns, 2 * kSec + 400 * kMs);
  EXPECT_EQ(loops[0].last.err, kEagain);
  EXPECT_EQ(loops[0].last.task, (TaskRef{200, 200}));
  EXPECT_EQ(loops[0].last.op, kLockEx | kLockNb);

  EXPECT_EQ(s.all<FailureFinding>().size(), 1u);
  EXPECT_EQ(s.all<RetryLoopFinding>().size(), 1u);
}

TEST_F(Consequence, OneRefusalThenSuccessIsNoLoop) {
  auto found = s.push({try_lock(200, 200, 2 * kSec, -kEagain),
                       flock_call(100, 100, 3 * kSec, 3 * kSec, 3, kLockUn, 0, klock(10, kHolderFile, kUnlck, LT_FL_FLOCK)),
                       try_lock(200, 200, 4 * kSec, 0)});
  EXPECT_EQ(only<FailureFinding>(found).size(), 1u) << kinds(found);
  EXPECT_TRUE(only<RetryLoopFinding>(found).empty()) << kinds(found);
}

TEST_F(Consequence, LoopEndedByAnotherLockIsGaveUpAndByExitIsExited) {
  auto found = s.push({try_lock(200, 200, 2 * kSec, -kEagain), try_lock(200, 200, 2 * kSec + kMs, -kEagain),
                       try_lock(200, 200, 2 * kSec + 2 * kMs, -kEagain),
                       // Another file, free: it gave up on the first.
                       try_lock(200, 200, 3 * kSec, 0, 11)});
  auto loops = only<RetryLoopFinding>(found);
  ASSERT_EQ(loops.size(), 1u) << kinds(found);
  EXPECT_EQ(loops[0].attempts, 3u);
  EXPECT_EQ(loops[0].outcome, RetryLoopFinding::Outcome::gave_up);

  found = s.push({try_lock(200, 201, 4 * kSec, -kEagain), try_lock(200, 201, 4 * kSec + kMs, -kEagain),
                  task_exit(5 * kSec, 200, 201, 0, false)});
  loops = only<RetryLoopFinding>(found);
  ASSERT_EQ(loops.size(), 1u) << kinds(found);
  EXPECT_EQ(loops[0].attempts, 2u);
  EXPECT_EQ(loops[0].outcome, RetryLoopFinding::Outcome::exited);
  EXPECT_EQ(loops[0].last.task, (TaskRef{200, 201}));
}

TEST_F(Consequence, ExitAfterFailureWithoutATracedParentIsToldAtTheExit) {
  Stream u;
  u.push({process_info(100, "holder"), process_info(300, "flock", 1),
          flock_call(100, 100, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(10, kHolderFile, kWrlck, LT_FL_FLOCK))});
  auto found = u.push({try_lock(300, 300, 2 * kSec, -kEagain), task_exit(2 * kSec + 5 * kMs, 300, 300, 1 << 8, true)});
  auto exits = only<ExitAfterFailureFinding>(found);
  ASSERT_EQ(exits.size(), 1u) << kinds(found);
  const ExitAfterFailureFinding& e = exits[0];
  EXPECT_EQ(e.ts_ns, 2 * kSec + 5 * kMs);
  EXPECT_EQ(e.cause.task, (TaskRef{300, 300}));
  EXPECT_EQ(e.cause.err, kEagain);
  EXPECT_EQ(e.cause.ts_ns, 2 * kSec);
  ASSERT_TRUE(e.cause_holder);
  EXPECT_EQ(e.cause_holder->pid, 100u);
  EXPECT_TRUE(e.process_exited);
  EXPECT_EQ(e.exit_code, 1 << 8);
  EXPECT_FALSE(e.reaped_by);
}

TEST_F(Consequence, ExitWithATracedParentWaitsForTheReap) {
  auto found = s.push({try_lock(200, 200, 2 * kSec, -kEagain), task_exit(2 * kSec + 5 * kMs, 200, 200, 1 << 8, true)});
  EXPECT_TRUE(only<ExitAfterFailureFinding>(found).empty()) << "told when sh reaps it: " << kinds(found);

  found = s.push({reap(2 * kSec + 6 * kMs, 150, 200)});
  auto exits = only<ExitAfterFailureFinding>(found);
  ASSERT_EQ(exits.size(), 1u) << kinds(found);
  EXPECT_EQ(exits[0].ts_ns, 2 * kSec + 5 * kMs) << "the exit's time, not the reap's";
  EXPECT_EQ(exits[0].cause.err, kEagain);
  ASSERT_TRUE(exits[0].cause_holder);
  EXPECT_EQ(exits[0].cause_holder->pid, 100u);
  EXPECT_EQ(exits[0].exit_code, 1 << 8);
  ASSERT_TRUE(exits[0].reaped_by);
  EXPECT_EQ(exits[0].reaped_by->pid, 150u);

  // Told once.
  found = s.push({reap(2 * kSec + 7 * kMs, 150, 200)});
  EXPECT_TRUE(found.empty()) << kinds(found);
  EXPECT_TRUE(s.finish().empty());
}

TEST_F(Consequence, UnreapedConsequenceIsToldWhenTheParentExitsOrTheStreamEnds) {
  s.push({try_lock(200, 200, 2 * kSec, -kEagain), task_exit(2 * kSec + 5 * kMs, 200, 200, 1 << 8, true)});
  auto found = s.push({task_exit(3 * kSec, 150, 150, 0, true)});
  auto exits = only<ExitAfterFailureFinding>(found);
  ASSERT_EQ(exits.size(), 1u) << kinds(found);
  EXPECT_FALSE(exits[0].reaped_by);

  Stream t;
  t.push({process_info(150, "sh"), process_info(200, "retrier", 150), try_lock(200, 200, 2 * kSec, -kEagain),
          task_exit(2 * kSec + 5 * kMs, 200, 200, 1 << 8, true)});
  exits = only<ExitAfterFailureFinding>(t.finish());
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_FALSE(exits[0].reaped_by);
}

TEST_F(Consequence, ThreadExitAfterItsFailureIsNotTheProcess) {
  auto found = s.push({try_lock(200, 201, 2 * kSec, -kEagain), task_exit(3 * kSec, 200, 201, 0, false)});
  auto exits = only<ExitAfterFailureFinding>(found);
  ASSERT_EQ(exits.size(), 1u) << kinds(found);
  EXPECT_FALSE(exits[0].process_exited);
  EXPECT_EQ(exits[0].cause.task, (TaskRef{200, 201}));
}

// exit(3) in a worker thread is exit_group: the caller's task ends first (not
// the last thread), then the main thread's, which ends the process, and sh reaps it.
TEST_F(Consequence, ExitGroupFromTheFailedThreadIsTheProcessExit) {
  auto found = s.push({try_lock(200, 201, 2 * kSec, -kEagain), exit_call(2 * kSec + 1, 200, 201, 3, true),
                       task_exit(2 * kSec + 2, 200, 201, 3 << 8, false),
                       task_exit(2 * kSec + 3, 200, 200, 3 << 8, true), reap(2 * kSec + 4, 150, 200)});
  auto exits = only<ExitAfterFailureFinding>(found);
  ASSERT_EQ(exits.size(), 1u) << kinds(found);
  EXPECT_TRUE(exits[0].process_exited) << "exit_group ended the process";
  EXPECT_EQ(exits[0].exit_code, 3 << 8);
  EXPECT_EQ(exits[0].cause.task, (TaskRef{200, 201}));
  ASSERT_TRUE(exits[0].reaped_by);
  EXPECT_EQ(exits[0].reaped_by->pid, 150u);
}

TEST_F(Consequence, ExitAfterTheLockWasTakenAfterAllIsNoConsequence) {
  auto found = s.push({try_lock(200, 200, 2 * kSec, -kEagain),
                       flock_call(100, 100, 3 * kSec, 3 * kSec, 3, kLockUn, 0, klock(10, kHolderFile, kUnlck, LT_FL_FLOCK)),
                       try_lock(200, 200, 4 * kSec, 0), task_exit(5 * kSec, 200, 200, 0, true), reap(5 * kSec + 1, 150, 200)});
  EXPECT_TRUE(only<ExitAfterFailureFinding>(found).empty()) << kinds(found);
  EXPECT_TRUE(only<ExitAfterFailureFinding>(s.finish()).empty());
}

TEST_F(Consequence, EintrFailureThenExitIsLinkedToo) {
  auto found = s.push({
      sleeping(flock_call(200, 200, 2 * kSec, 0, 3, kLockEx, 0, klock(10, kRetrierFile, kWrlck, LT_FL_FLOCK))),
      signal_sent(3 * kSec, 0, 0, "", 200, 200, kSigalrm, kSiTimer),
      flock_call(200, 200, 2 * kSec, 3 * kSec, 3, kLockEx, -kErestartsys, klock(10, kRetrierFile, kWrlck, LT_FL_FLOCK)),
      signal_delivered(3 * kSec + 1, 200, 200, kSigalrm, 0, kSiTimer),
      task_exit(3 * kSec + 2, 200, 200, 1 << 8, true),
      reap(3 * kSec + 3, 150, 200),
  });
  auto exits = only<ExitAfterFailureFinding>(found);
  ASSERT_EQ(exits.size(), 1u) << kinds(found);
  EXPECT_EQ(exits[0].cause.err, kEintr);
  ASSERT_TRUE(exits[0].reaped_by);
  EXPECT_EQ(exits[0].reaped_by->pid, 150u);
}

}  // namespace
}  // namespace locktrace::explain::test
