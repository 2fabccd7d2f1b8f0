// A blocking lock call a signal interrupts: the kernel returns ERESTARTSYS at
// the syscall exit, and whether user space sees EINTR or a restart is decided
// when the signal is delivered (a handler without SA_RESTART: EINTR).
#include <gtest/gtest.h>

#include "explain_stream.hpp"

namespace locktrace::explain::test {
namespace {

constexpr uint32_t kWaiter = 200;
constexpr uint32_t kSender = 400;

LockCall blocked_flock(uint64_t enter_ts, uint64_t exit_ts, int64_t ret, uint32_t tid = kWaiter) {
  return flock_call(kWaiter, tid, enter_ts, exit_ts, 3, kLockEx, ret,
                    blocked_by(klock(10, 0xb200, kWrlck, LT_FL_FLOCK), 100, 0xb100, kWrlck));
}

class Interrupted : public ::testing::Test {
 protected:
  void SetUp() override {
    s.push({process_info(100, "holder"), process_info(kWaiter, "waiter"), process_info(kSender, "kill"),
            flock_call(100, 100, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(10, 0xb100, kWrlck, LT_FL_FLOCK)),
            sleeping(blocked_flock(2 * kSec, 0, 0))});
  }
  Stream s;
};

TEST_F(Interrupted, RestartCodeThenHandlerWithoutSaRestartIsEintrNamingTheSender) {
  auto before = s.push({signal_sent(3 * kSec, kSender, kSender, "kill", kWaiter, kWaiter, kSigusr1),
                        blocked_flock(2 * kSec, 3 * kSec + 1000, -kErestartsys)});
  EXPECT_TRUE(only<FailureFinding>(before).empty())
      << "ERESTARTSYS alone does not decide: " << kinds(before);

  auto found = s.push({signal_delivered(3 * kSec + 2000, kWaiter, kWaiter, kSigusr1, kSaSiginfo)});
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 1u) << kinds(found);
  const FailureFinding& f = failures[0];
  EXPECT_EQ(f.call.err, kEintr);
  EXPECT_EQ(f.call.task, (TaskRef{kWaiter, kWaiter}));
  EXPECT_EQ(f.call.sys, LT_SYS_FLOCK);
  EXPECT_EQ(f.call.op, kLockEx);
  EXPECT_EQ(f.call.ts_ns, 3 * kSec + 1000) << "the call's return, not the delivery";
  ASSERT_TRUE(f.call.lock);
  EXPECT_EQ(f.call.lock->ino, 10u);
  EXPECT_EQ(f.signal, kSigusr1);
  ASSERT_TRUE(f.signal_sender);
  EXPECT_EQ(f.signal_sender->pid, kSender);
  EXPECT_EQ(f.sender_comm, "kill");
}

TEST_F(Interrupted, HandlerWithSaRestartRestartsTheCall) {
  auto found = s.push({signal_sent(3 * kSec, kSender, kSender, "kill", kWaiter, kWaiter, kSigusr1),
                       blocked_flock(2 * kSec, 3 * kSec + 1000, -kErestartsys),
                       signal_delivered(3 * kSec + 2000, kWaiter, kWaiter, kSigusr1, kSaRestart | kSaSiginfo)});
  EXPECT_TRUE(only<FailureFinding>(found).empty()) << kinds(found);
  // The restarted call later gets the lock: nothing failed at all.
  found = s.push({sleeping(blocked_flock(3 * kSec + 3000, 0, 0)),
                  blocked_flock(3 * kSec + 3000, 4 * kSec, 0)});
  EXPECT_TRUE(found.empty()) << kinds(found);
}

TEST_F(Interrupted, KernelTimerSignalHasNoSender) {
  // flock -w: a POSIX timer raises SIGALRM; the header names whatever task it interrupted.
  auto found = s.push({signal_sent(3 * kSec, 7777, 7777, "cc1plus", kWaiter, kWaiter, kSigalrm, kSiTimer),
                       blocked_flock(2 * kSec, 3 * kSec + 1000, -kErestartsys),
                       signal_delivered(3 * kSec + 2000, kWaiter, kWaiter, kSigalrm, 0, kSiTimer)});
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 1u) << kinds(found);
  EXPECT_EQ(failures[0].call.err, kEintr);
  EXPECT_EQ(failures[0].signal, kSigalrm);
  EXPECT_FALSE(failures[0].signal_sender) << "pid " << failures[0].signal_sender->pid;
  EXPECT_EQ(failures[0].sender_comm, "kernel");
}

TEST_F(Interrupted, EintrReturnedDirectlyNamesTheSignalDeliveredDuringTheCall) {
  // Some paths return EINTR itself: the signal delivered since the call's entry explains it.
  auto found = s.push({signal_sent(3 * kSec, kSender, kSender, "kill", kWaiter, kWaiter, kSigusr1),
                       signal_delivered(3 * kSec + 500, kWaiter, kWaiter, kSigusr1, 0),
                       blocked_flock(2 * kSec, 3 * kSec + 1000, -kEintr)});
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 1u) << kinds(found);
  EXPECT_EQ(failures[0].signal, kSigusr1);
  ASSERT_TRUE(failures[0].signal_sender);
  EXPECT_EQ(failures[0].signal_sender->pid, kSender);
}

TEST_F(Interrupted, FcntlSetlkwInterruptedIsEintrToo) {
  Stream p;
  LockCall setlkw = fcntl_call(kWaiter, kWaiter, 2 * kSec, 3 * kSec, 5, kFSetlkw, -kErestartsys,
                               blocked_by(klock(20, 0xf200, kWrlck, LT_FL_POSIX), 100, 0xf100, kWrlck));
  p.push({fcntl_call(100, 100, 1 * kSec, 1 * kSec, 3, kFSetlk, 0, klock(20, 0xf100, kWrlck, LT_FL_POSIX)),
          sleeping(setlkw)});
  auto found = p.push({signal_sent(3 * kSec - 10, kSender, kSender, "kill", kWaiter, kWaiter, kSigusr1), setlkw,
                       signal_delivered(3 * kSec + 10, kWaiter, kWaiter, kSigusr1, 0)});
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 1u) << kinds(found);
  EXPECT_EQ(failures[0].call.sys, LT_SYS_FCNTL);
  EXPECT_EQ(failures[0].call.op, kFSetlkw);
  EXPECT_EQ(failures[0].call.err, kEintr);
  ASSERT_TRUE(failures[0].signal_sender);
  EXPECT_EQ(failures[0].signal_sender->pid, kSender);
}

// SIGSTOP has no handler: the stopped task's call restarts when it continues
// (the kernel restarts every ERESTART* code when no handler runs). Its
// delivery record carries sa_flags 0 like a handler without SA_RESTART.
TEST_F(Interrupted, StopSignalRestartsTheCallInsteadOfFailingIt) {
  auto found = s.push({signal_sent(3 * kSec, kSender, kSender, "kill", kWaiter, kWaiter, kSigstop),
                       blocked_flock(2 * kSec, 3 * kSec + 1000, -kErestartsys),
                       signal_delivered(3 * kSec + 2000, kWaiter, kWaiter, kSigstop, 0, kSiUser, "task", false)});
  EXPECT_TRUE(only<FailureFinding>(found).empty()) << "flock restarts after SIGCONT: " << kinds(found);
  found = s.push({sleeping(blocked_flock(5 * kSec, 0, 0)), blocked_flock(5 * kSec, 6 * kSec, 0)});
  EXPECT_TRUE(found.empty()) << kinds(found);
}

// SIGKILL has no handler either: the thread dies on its way out of the call,
// which never returns to user space. No EINTR was ever seen.
TEST_F(Interrupted, SigkillEndsTheCallWithoutEintr) {
  auto found = s.push({signal_sent(3 * kSec, kSender, kSender, "timeout", kWaiter, kWaiter, kSigkill),
                       blocked_flock(2 * kSec, 3 * kSec + 1000, -kErestartsys),
                       signal_delivered(3 * kSec + 2000, kWaiter, kWaiter, kSigkill, 0, kSiUser, "task", false),
                       task_exit(3 * kSec + 3000, kWaiter, kWaiter, kSigkill, true, "waiter")});
  for (const auto& f : only<FailureFinding>(found))
    EXPECT_NE(f.call.err, kEintr) << "killed in flock, not interrupted: " << kinds(found);
  for (const auto& e : only<ExitAfterFailureFinding>(found))
    EXPECT_NE(e.cause.err, kEintr) << "the kill is no consequence of an EINTR: " << kinds(found);
}

// kill(pid) makes a process-directed signal: signal_generate names the thread
// group leader as its target, and any thread that does not block it may take it.
TEST(InterruptedThreads, ProcessDirectedSignalTakenByAnotherThreadKeepsItsSender) {
  Stream s;
  constexpr uint32_t kWorker = kWaiter + 1;
  s.push({process_info(100, "holder"), process_info(kWaiter, "waiter"), thread_info(kWaiter, kWorker, "worker"),
          flock_call(100, 100, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(10, 0xb100, kWrlck, LT_FL_FLOCK)),
          sleeping(blocked_flock(2 * kSec, 0, 0, kWorker))});
  auto found = s.push({signal_sent(3 * kSec, kSender, kSender, "kill", kWaiter, kWaiter, kSigusr1),
                       blocked_flock(2 * kSec, 3 * kSec + 1000, -kErestartsys, kWorker),
                       signal_delivered(3 * kSec + 2000, kWaiter, kWorker, kSigusr1, 0)});
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 1u) << kinds(found);
  EXPECT_EQ(failures[0].call.task, (TaskRef{kWaiter, kWorker}));
  EXPECT_EQ(failures[0].signal, kSigusr1);
  ASSERT_TRUE(failures[0].signal_sender) << "kill(" << kWaiter << ", SIGUSR1) by pid " << kSender
                                         << " was delivered in thread " << kWorker;
  EXPECT_EQ(failures[0].signal_sender->pid, kSender);
}

// Two signals pending at once: each delivery is matched to its own sending.
TEST_F(Interrupted, SenderSurvivesAnotherSignalGeneratedBeforeDelivery) {
  auto found = s.push({signal_sent(3 * kSec, kSender, kSender, "kill", kWaiter, kWaiter, kSigusr1),
                       signal_sent(3 * kSec + 100, 300, 300, "child", kWaiter, kWaiter, kSigchld, kCldExited),
                       blocked_flock(2 * kSec, 3 * kSec + 1000, -kErestartsys),
                       // Lower numbers first: SIGUSR1 (10) before SIGCHLD (17).
                       signal_delivered(3 * kSec + 2000, kWaiter, kWaiter, kSigusr1, 0)});
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 1u) << kinds(found);
  EXPECT_EQ(failures[0].signal, kSigusr1);
  ASSERT_TRUE(failures[0].signal_sender) << "the SIGCHLD sent later replaced the SIGUSR1 sender";
  EXPECT_EQ(failures[0].signal_sender->pid, kSender);
}

}  // namespace
}  // namespace locktrace::explain::test
