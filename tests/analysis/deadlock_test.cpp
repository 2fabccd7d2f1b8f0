// Deadlock detection over synthetic streams: which waits close a cycle, when the
// finding is reported, and what it says about waiters, locks and holders.
#include <gtest/gtest.h>

#include <algorithm>

#include "analysis_stream.hpp"

namespace locktrace::analysis::test {
namespace {

const WaitEdge* edge_of_waiter(const DeadlockFinding& finding, uint32_t tid) {
  for (const auto& edge : finding.cycle)
    if (edge.waiter.tid == tid) return &edge;
  return nullptr;
}

// Each waiter's holder is the next edge's waiter, as findings.hpp promises.
void expect_closed_cycle(const DeadlockFinding& finding) {
  for (size_t i = 0; i < finding.cycle.size(); i++) {
    const auto& edge = finding.cycle[i];
    ASSERT_TRUE(edge.holder.has_value()) << "edge " << i << " has no holder";
    ASSERT_TRUE(edge.how.has_value()) << "edge " << i << " has no attribution";
    EXPECT_EQ(*edge.holder, finding.cycle[(i + 1) % finding.cycle.size()].waiter) << "edge " << i;
  }
}

std::vector<WaitEdge> waits_of(const Analyzer& analyzer, uint32_t tid) {
  std::vector<WaitEdge> out;
  for (const auto& edge : analyzer.waits_now())
    if (edge.waiter.tid == tid) out.push_back(edge);
  return out;
}

constexpr uint32_t kPid = 100, kTidA = 101, kTidB = 102;
constexpr uint64_t kMutex1 = 0x55d0c4a1c0c0, kMutex2 = 0x55d0c4a1c100;

TEST(GlibcMutexDeadlock, AbbaIsReportedWhenTheSecondWaitStarts) {
  Stream s;
  s.push(thread_info(kPid, kPid, "abba"));
  s.push(thread_info(kPid, kTidA, "worker-a"));
  s.push(thread_info(kPid, kTidB, "worker-b"));
  // A holds mutex 1 and waits for mutex 2, whose __owner is B.
  EXPECT_TRUE(s.push(futex_wait(kPid, kTidA, 1 * kSec + 10 * kMs, kMutex2, 2, kTidB)).empty());
  ASSERT_EQ(waits_of(s.analyzer, kTidA).size(), 1u);
  ASSERT_TRUE(waits_of(s.analyzer, kTidA)[0].holder.has_value());
  EXPECT_EQ(*waits_of(s.analyzer, kTidA)[0].holder, (TaskRef{kPid, kTidB}));

  // B holds mutex 2 and waits for mutex 1, held by A: the cycle closes now.
  uint64_t second_wait = 1 * kSec + 20 * kMs;
  auto found = s.push(futex_wait(kPid, kTidB, second_wait, kMutex1, 2, kTidA));
  ASSERT_EQ(found.size(), 1u);
  ASSERT_EQ(s.sink.after_event.back(), 5u) << "the finding must follow the wait that closed the cycle";
  const auto* deadlock = std::get_if<DeadlockFinding>(&found[0]);
  ASSERT_NE(deadlock, nullptr);
  EXPECT_EQ(deadlock->ts_ns, second_wait);
  EXPECT_FALSE(deadlock->kernel_edeadlk);
  ASSERT_EQ(deadlock->cycle.size(), 2u);
  expect_closed_cycle(*deadlock);

  const WaitEdge* a = edge_of_waiter(*deadlock, kTidA);
  const WaitEdge* b = edge_of_waiter(*deadlock, kTidB);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->waiter, (TaskRef{kPid, kTidA}));
  EXPECT_EQ(a->lock.kind, LockRef::Kind::futex);
  EXPECT_EQ(a->lock.uaddr, kMutex2);
  EXPECT_EQ(a->lock.pid, kPid);
  EXPECT_FALSE(a->lock.shared);
  EXPECT_EQ(a->holder, (TaskRef{kPid, kTidB}));
  EXPECT_EQ(a->how, Attribution::glibc_owner);
  EXPECT_EQ(a->waiting_since_ns, 1 * kSec + 10 * kMs);
  EXPECT_EQ(b->lock.uaddr, kMutex1);
  EXPECT_EQ(b->holder, (TaskRef{kPid, kTidA}));
  EXPECT_EQ(b->how, Attribution::glibc_owner);
  EXPECT_EQ(b->waiting_since_ns, second_wait);

  // Reported once: time passing or more events do not repeat it.
  EXPECT_TRUE(s.push(tick(3 * kSec)).empty());
  EXPECT_EQ(s.analyzer.deadlocks().size(), 1u);
  EXPECT_EQ(s.sink.deadlocks().size(), 1u);
}

TEST(GlibcMutexDeadlock, ThreadsMadeLiveByForkAndTheirOwnCalls) {
  // No ThreadInfo: the fork record and the threads' own calls name them.
  Stream s;
  Fork fork{};
  fork.h.kind = LT_EV_FORK;
  fork.h.size = sizeof fork;
  fork.h.ts_ns = 1 * kSec;
  fork.h.pid = fork.h.tid = kPid;
  fork.child_pid = kPid;
  fork.child_tid = kTidB;
  s.push(fork);
  EXPECT_TRUE(s.push(futex_wait(kPid, kTidA, 1 * kSec + 1 * kMs, kMutex2, 2, kTidB)).empty());
  auto found = s.push(futex_wait(kPid, kTidB, 1 * kSec + 2 * kMs, kMutex1, 2, kTidA));
  ASSERT_EQ(found.size(), 1u);
  ASSERT_EQ(std::get<DeadlockFinding>(found[0]).cycle.size(), 2u);
}

TEST(GlibcMutexDeadlock, WaitThatEndsBeforeTheOtherStartsIsNoCycle) {
  Stream s;
  s.push(thread_info(kPid, kTidA, "worker-a"));
  s.push(thread_info(kPid, kTidB, "worker-b"));
  LockCall a_waits = futex_wait(kPid, kTidA, 1 * kSec, kMutex2, 2, kTidB);
  s.push(a_waits);
  s.push(futex_wake(kPid, kTidB, 1 * kSec + 4 * kMs, kMutex2, 1));
  s.push(done(a_waits, 1 * kSec + 5 * kMs, 0));  // A got mutex 2
  // B now waits for mutex 1, still held by A, but A waits for nothing.
  EXPECT_TRUE(s.push(futex_wait(kPid, kTidB, 1 * kSec + 6 * kMs, kMutex1, 2, kTidA)).empty());
  EXPECT_TRUE(s.sink.findings.empty());
  EXPECT_TRUE(s.analyzer.deadlocks().empty());
  auto b = waits_of(s.analyzer, kTidB);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].holder, (TaskRef{kPid, kTidA}));
}

TEST(GlibcMutexDeadlock, OwnerThatExitedIsNotAHolder) {
  Stream s;
  s.push(thread_info(kPid, kTidA, "worker-a"));
  s.push(thread_info(kPid, kTidB, "worker-b"));
  s.push(futex_wait(kPid, kTidA, 1 * kSec, kMutex2, 2, kTidB));
  TaskExit exit{};
  exit.h.kind = LT_EV_TASK_EXIT;
  exit.h.size = sizeof exit;
  exit.h.ts_ns = 1 * kSec + 1 * kMs;
  exit.h.pid = kPid;
  exit.h.tid = kTidB;
  s.push(exit);
  // A stale __owner naming the dead B: no edge, so no cycle through B.
  EXPECT_TRUE(s.push(futex_wait(kPid, 103, 1 * kSec + 2 * kMs, kMutex1, 2, kTidB)).empty());
  auto c = waits_of(s.analyzer, 103);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(c[0].holder.has_value());
}

TEST(UnknownHolder, OwnerWordThatIsNoLiveThreadGivesNoEdge) {
  Stream s;
  s.push(thread_info(400, 401, "t1"));
  s.push(thread_info(400, 402, "t2"));
  s.push(thread_info(410, 411, "elsewhere"));
  // 99999 is no thread the stream named.
  EXPECT_TRUE(s.push(futex_wait(400, 401, 1 * kSec, 0x5000, 2, 99999)).empty());
  auto t1 = waits_of(s.analyzer, 401);
  ASSERT_EQ(t1.size(), 1u);
  EXPECT_FALSE(t1[0].holder.has_value());
  EXPECT_FALSE(t1[0].how.has_value());
  // A live thread, but of another process: not this mutex's owner.
  s.push(futex_wait(400, 402, 1 * kSec + 1 * kMs, 0x6000, 2, 411));
  auto t2 = waits_of(s.analyzer, 402);
  ASSERT_EQ(t2.size(), 1u);
  EXPECT_FALSE(t2[0].holder.has_value());
  EXPECT_TRUE(s.sink.findings.empty());
}

TEST(UnknownHolder, CondvarWaitIsNoEdgeEvenWhenTheWordAfterItLooksLikeATid) {
  Stream s;
  s.push(thread_info(400, 401, "t1"));
  s.push(thread_info(400, 402, "t2"));
  // t1 in pthread_cond_wait: FUTEX_WAIT_BITSET on a sequence value (not 2); the
  // u32 at uaddr + 8 happens to equal t2's TID.
  EXPECT_TRUE(s.push(futex_wait(400, 401, 1 * kSec, 0x7000, 7, 402, kFutexWaitBitset)).empty());
  EXPECT_FALSE(waits_of(s.analyzer, 401).at(0).holder.has_value());
  // A plain FUTEX_WAIT on a value other than 2 (a semaphore, a join): no edge either.
  s.push(futex_wait(400, 402, 1 * kSec + 1 * kMs, 0x7100, 1, 401));
  EXPECT_FALSE(waits_of(s.analyzer, 402).at(0).holder.has_value());
  // And no false cycle: each waits on something no one is known to hold.
  EXPECT_TRUE(s.sink.findings.empty());
  EXPECT_EQ(s.analyzer.waits_now().size(), 2u);
}

TEST(UnknownHolder, HolderlessWaitBreaksAChain) {
  Stream s;
  s.push(thread_info(400, 401, "t1"));
  s.push(thread_info(400, 402, "t2"));
  s.push(futex_wait(400, 401, 1 * kSec, 0x7000, 7, 402, kFutexWaitBitset));  // condvar
  EXPECT_TRUE(s.push(futex_wait(400, 402, 1 * kSec + 1 * kMs, 0x7100, 2, 401)).empty());
  EXPECT_TRUE(s.sink.findings.empty());
}

TEST(FutexRequeue, CondvarRequeueIsNotMistakenForADeadlock) {
  constexpr uint32_t kP = 500, kW1 = 501, kW2 = 502, kSignaller = 503;
  constexpr uint64_t kCond = 0x7f00, kMutex = 0x7f40, kOtherCond = 0x7f80;
  Stream s;
  for (uint32_t tid : {kW1, kW2, kSignaller}) s.push(thread_info(kP, tid, "t" + std::to_string(tid)));
  // Both waiters sleep on the condvar word; the u32 after it is noise.
  s.push(futex_wait(kP, kW1, 1 * kSec, kCond, 4, kSignaller, kFutexWaitBitset));
  s.push(futex_wait(kP, kW2, 1 * kSec + 1 * kMs, kCond, 4, kW1, kFutexWaitBitset));
  // The signaller holds the mutex and moves one waiter to it (FUTEX_CMP_REQUEUE,
  // nr_wake 1, nr_requeue 1): the requeued thread stays inside its FUTEX_WAIT.
  LockCall requeue =
      lock_call(LT_SYS_FUTEX, kP, kSignaller, 1 * kSec + 2 * kMs, {kCond, kFutexCmpRequeue, 1, 1, kMutex, 4});
  requeue.flags = 0;
  s.push(done(requeue, 1 * kSec + 2 * kMs, 2));
  // futex2's requeue names several words: no single lock.
  LockCall requeue2 =
      lock_call(LT_SYS_FUTEX_REQUEUE, kP, kSignaller, 1 * kSec + 3 * kMs, {0x7ffd1000, 0, 1, 1});
  requeue2.flags = 0;
  s.push(done(requeue2, 1 * kSec + 3 * kMs, 1));
  // The first waiter wakes from the condvar and then queues on the mutex, whose
  // __owner is the second waiter (it took the mutex in the meantime).
  s.push(done(futex_wait(kP, kW1, 1 * kSec, kCond, 4, kSignaller, kFutexWaitBitset), 1 * kSec + 4 * kMs, 0));
  s.push(futex_wait(kP, kW1, 1 * kSec + 5 * kMs, kMutex, 2, kW2));
  // The signaller waits on another condvar whose next word names the first waiter.
  s.push(futex_wait(kP, kSignaller, 1 * kSec + 6 * kMs, kOtherCond, 9, kW1, kFutexWaitBitset));
  s.push(tick(2 * kSec));

  EXPECT_TRUE(s.sink.findings.empty());
  EXPECT_TRUE(s.analyzer.deadlocks().empty());
  auto w1 = waits_of(s.analyzer, kW1);
  ASSERT_EQ(w1.size(), 1u);
  EXPECT_EQ(w1[0].lock.uaddr, kMutex);
  EXPECT_EQ(w1[0].holder, (TaskRef{kP, kW2}));
  auto w2 = waits_of(s.analyzer, kW2);
  ASSERT_EQ(w2.size(), 1u);
  EXPECT_EQ(w2[0].lock.uaddr, kCond);
  EXPECT_FALSE(w2[0].holder.has_value());
  auto sig = waits_of(s.analyzer, kSignaller);
  ASSERT_EQ(sig.size(), 1u);
  EXPECT_FALSE(sig[0].holder.has_value());
}

TEST(PiFutex, OwnerComesFromTheFutexWord) {
  constexpr uint32_t kP = 600, kT1 = 601, kT2 = 602;
  constexpr uint64_t kPi1 = 0x8000, kPi2 = 0x8100;
  Stream s;
  s.push(thread_info(kP, kT1, "pi-a"));
  s.push(thread_info(kP, kT2, "pi-b"));
  // The kernel's PI word: owner TID with FUTEX_WAITERS set.
  EXPECT_TRUE(s.push(futex_lock_pi(kP, kT1, 1 * kSec, kPi2, kT2 | kFutexWaiters)).empty());
  auto t1 = waits_of(s.analyzer, kT1);
  ASSERT_EQ(t1.size(), 1u);
  EXPECT_EQ(t1[0].holder, (TaskRef{kP, kT2}));
  EXPECT_EQ(t1[0].how, Attribution::pi_owner);

  auto found = s.push(futex_lock_pi(kP, kT2, 1 * kSec + 1 * kMs, kPi1, kT1));
  ASSERT_EQ(found.size(), 1u);
  const auto& deadlock = std::get<DeadlockFinding>(found[0]);
  ASSERT_EQ(deadlock.cycle.size(), 2u);
  expect_closed_cycle(deadlock);
  for (const auto& edge : deadlock.cycle) EXPECT_EQ(edge.how, Attribution::pi_owner);
  EXPECT_EQ(edge_of_waiter(deadlock, kT2)->lock.uaddr, kPi1);
}

TEST(PiFutex, OwnerNotSeenInTheStreamIsStillNamedByTid) {
  Stream s;
  s.push(futex_lock_pi(600, 601, 1 * kSec, 0x8000, 777 | kFutexWaiters));
  auto t1 = waits_of(s.analyzer, 601);
  ASSERT_EQ(t1.size(), 1u);
  ASSERT_TRUE(t1[0].holder.has_value());
  EXPECT_EQ(t1[0].holder->tid, 777u);
  EXPECT_EQ(t1[0].holder->pid, 600u);  // a private futex: the waiter's process
  EXPECT_EQ(t1[0].how, Attribution::pi_owner);
}

// Three processes, each holding one file with flock and waiting for the next
// one's: only the kernel's blocker names the holders (the locks were taken
// before tracing).
TEST(FlockDeadlock, ThreeProcessCycleFromKernelBlockers) {
  constexpr uint32_t kP[3] = {201, 202, 203};
  constexpr uint64_t kIno[3] = {11, 12, 13};
  constexpr uint64_t kFile[3] = {0xffff8880a1000000, 0xffff8880a2000000, 0xffff8880a3000000};
  Stream s;
  for (int i = 0; i < 3; i++) s.push(process_info(kP[i], "flocker" + std::to_string(i)));
  // P[i] waits for file i+1, held (per the kernel) by P[i+1] through its own open file.
  std::vector<Finding> last;
  for (int i = 0; i < 3; i++) {
    int next = (i + 1) % 3;
    auto k = blocked_by(klock(kIno[next], 0xffff8880b0000000 + i, kWrlck, LT_FL_FLOCK), kP[next], kFile[next],
                        kWrlck);
    last = s.push(flock_wait(kP[i], 1 * kSec + static_cast<uint64_t>(i) * kMs, 4, kLockEx, k));
    if (i < 2) {
      EXPECT_TRUE(last.empty()) << "no cycle before the third wait";
    }
  }
  ASSERT_EQ(last.size(), 1u);
  const auto& deadlock = std::get<DeadlockFinding>(last[0]);
  EXPECT_EQ(deadlock.ts_ns, 1 * kSec + 2 * kMs);
  EXPECT_FALSE(deadlock.kernel_edeadlk);
  ASSERT_EQ(deadlock.cycle.size(), 3u);
  expect_closed_cycle(deadlock);
  for (int i = 0; i < 3; i++) {
    const WaitEdge* edge = edge_of_waiter(deadlock, kP[i]);
    ASSERT_NE(edge, nullptr) << kP[i];
    EXPECT_EQ(edge->waiter, (TaskRef{kP[i], kP[i]}));
    EXPECT_EQ(edge->lock.kind, LockRef::Kind::file);
    EXPECT_EQ(edge->lock.ino, kIno[(i + 1) % 3]);
    EXPECT_EQ(edge->lock.dev, kDev);
    EXPECT_TRUE(edge->lock.fl_flags & LT_FL_FLOCK);
    EXPECT_EQ(edge->holder->pid, kP[(i + 1) % 3]);
    EXPECT_EQ(edge->how, Attribution::kernel_blocker);
  }
}

TEST(FlockDeadlock, HoldersFromSuccessfulCallsWithoutBlockerInfo) {
  Stream s;
  s.push(flock_ok(211, 1 * kSec, kLockEx, klock(21, 0xa1, kWrlck, LT_FL_FLOCK)));
  s.push(flock_ok(212, 1 * kSec + 1, kLockEx, klock(22, 0xa2, kWrlck, LT_FL_FLOCK)));
  EXPECT_TRUE(
      s.push(flock_wait(211, 1 * kSec + 2, 4, kLockEx, klock(22, 0xa3, kWrlck, LT_FL_FLOCK))).empty());
  auto found = s.push(flock_wait(212, 1 * kSec + 3, 4, kLockEx, klock(21, 0xa4, kWrlck, LT_FL_FLOCK)));
  ASSERT_EQ(found.size(), 1u);
  const auto& deadlock = std::get<DeadlockFinding>(found[0]);
  ASSERT_EQ(deadlock.cycle.size(), 2u);
  expect_closed_cycle(deadlock);
  for (const auto& edge : deadlock.cycle) {
    EXPECT_EQ(edge.how, Attribution::lock_table);
    EXPECT_NE(edge.holding_since_ns, 0u);
  }
}

// One process, one file opened twice: flock on the second open file waits for
// the lock the first one holds, which only this same thread could release.
TEST(FlockDeadlock, SelfDeadlockThroughTwoOpenFiles) {
  Stream s;
  s.push(flock_ok(221, 1 * kSec, kLockEx, klock(23, 0xa1, kWrlck, LT_FL_FLOCK)));
  auto found = s.push(flock_wait(221, 1 * kSec + 1, 4, kLockEx,
                                 blocked_by(klock(23, 0xa2, kWrlck, LT_FL_FLOCK), 221, 0xa1, kWrlck)));
  ASSERT_EQ(found.size(), 1u);
  const auto& deadlock = std::get<DeadlockFinding>(found[0]);
  ASSERT_EQ(deadlock.cycle.size(), 1u);
  EXPECT_EQ(deadlock.cycle[0].waiter, (TaskRef{221, 221}));
  EXPECT_EQ(deadlock.cycle[0].holder, (TaskRef{221, 221}));
}

TEST(FlockDeadlock, UnlockBeforeTheSecondWaitIsNoCycle) {
  Stream s;
  s.push(flock_ok(211, 1 * kSec, kLockEx, klock(21, 0xa1, kWrlck, LT_FL_FLOCK)));
  s.push(flock_ok(212, 1 * kSec + 1, kLockEx, klock(22, 0xa2, kWrlck, LT_FL_FLOCK)));
  s.push(flock_ok(211, 1 * kSec + 2, kLockUn, klock(21, 0xa1, kUnlck, LT_FL_FLOCK)));
  s.push(flock_wait(211, 1 * kSec + 3, 4, kLockEx, klock(22, 0xa3, kWrlck, LT_FL_FLOCK)));
  EXPECT_TRUE(
      s.push(flock_wait(212, 1 * kSec + 4, 4, kLockEx, klock(21, 0xa4, kWrlck, LT_FL_FLOCK))).empty());
  EXPECT_TRUE(s.sink.findings.empty());
}

TEST(FileHolders, TableNamesTheHoldingThreadSoNoFalseCycleThroughItsProcess) {
  // Process 1000: thread 1001 took flock-1 while traced and runs on; thread
  // 1002 waits for flock-2, held by process 1100, which waits for flock-1. The
  // kernel names only the pid 1000 as flock-1's blocker; the table knows it is
  // 1001, which waits for nothing: no deadlock.
  Stream s;
  s.push(thread_info(1000, 1001, "holder"));
  s.push(thread_info(1000, 1002, "waiter"));
  LockCall take = flock_ok(1000, 1 * kSec, kLockEx, klock(81, 0xf1, kWrlck, LT_FL_FLOCK));
  take.h.tid = 1001;
  s.push(take);
  s.push(flock_ok(1100, 1 * kSec + 1, kLockEx, klock(82, 0xf2, kWrlck, LT_FL_FLOCK)));
  LockCall wait = flock_wait(1000, 1 * kSec + 2, 5, kLockEx,
                             blocked_by(klock(82, 0xf3, kWrlck, LT_FL_FLOCK), 1100, 0xf2, kWrlck));
  wait.h.tid = 1002;
  EXPECT_TRUE(s.push(wait).empty());
  EXPECT_TRUE(s.push(flock_wait(1100, 1 * kSec + 3, 4, kLockEx,
                                blocked_by(klock(81, 0xf4, kWrlck, LT_FL_FLOCK), 1000, 0xf1, kWrlck)))
                  .empty());
  auto q = waits_of(s.analyzer, 1100);
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].holder, (TaskRef{1000, 1001}));
  EXPECT_EQ(q[0].how, Attribution::kernel_blocker);
  EXPECT_TRUE(s.analyzer.deadlocks().empty());
}

TEST(FileHolders, ReleasedLocksAreNoLongerHeld) {
  Stream s;
  // A POSIX lock released by its process's exit, a flock lock by the last close.
  s.push(fcntl_ok(1201, 1 * kSec, klock(91, 0xc1, kWrlck, LT_FL_POSIX)));
  s.push(flock_ok(1202, 1 * kSec + 1, kLockEx, klock(92, 0xf1, kWrlck, LT_FL_FLOCK)));
  TaskExit exit{};
  exit.h.kind = LT_EV_TASK_EXIT;
  exit.h.size = sizeof exit;
  exit.h.ts_ns = 1 * kSec + 2;
  exit.h.pid = exit.h.tid = 1201;
  exit.group_dead = 1;
  s.push(exit);
  FileLock close{};
  close.h.kind = LT_EV_FILE_LOCK;
  close.h.size = sizeof close;
  close.h.ts_ns = 1 * kSec + 3;
  close.h.pid = close.h.tid = 1202;
  close.klock = klock(92, 0xf1, kUnlck, LT_FL_FLOCK);
  close.klock.tracepoint = LT_TP_FLOCK_LOCK_INODE;
  s.push(close);
  s.push(fcntl_wait(1203, 2 * kSec, 3, kFSetlkw, klock(91, 0xc3, kWrlck, LT_FL_POSIX)));
  s.push(flock_wait(1203, 2 * kSec + 1, 4, kLockEx, klock(92, 0xf3, kWrlck, LT_FL_FLOCK)));
  size_t held = 0;
  s.analyzer.file_locks().for_each([&](const InodeKey&, const FileHolder&) { held++; });
  EXPECT_EQ(held, 0u);
  for (const auto& edge : s.analyzer.waits_now()) EXPECT_FALSE(edge.holder.has_value());
}

// fcntl ABBA between two processes: A holds byte 0, B byte 1; A sleeps in F_SETLKW
// for byte 1; B's F_SETLKW for byte 0 would close the cycle and the kernel refuses it.
class FcntlEdeadlk : public ::testing::Test {
 protected:
  static constexpr uint32_t kA = 301, kB = 302;
  static constexpr uint64_t kIno = 31, kOwnerA = 0xffff8880c1000000, kOwnerB = 0xffff8880c2000000;

  void SetUp() override {
    s.push(process_info(kA, "posix-a"));
    s.push(process_info(kB, "posix-b"));
    s.push(fcntl_ok(kA, 1 * kSec, klock(kIno, kOwnerA, kWrlck, LT_FL_POSIX, 0, 0)));
    s.push(fcntl_ok(kB, 1 * kSec + 1 * kMs, klock(kIno, kOwnerB, kWrlck, LT_FL_POSIX, 1, 1)));
    auto k = blocked_by(klock(kIno, kOwnerA, kWrlck, LT_FL_POSIX, 1, 1), kB, kOwnerB, kWrlck, 1, 1);
    ASSERT_TRUE(s.push(fcntl_wait(kA, 1 * kSec + 2 * kMs, 3, kFSetlkw, k)).empty());
  }

  void expect_cycle(const std::vector<Finding>& found, uint64_t ts) {
    ASSERT_EQ(found.size(), 1u);
    const auto& deadlock = std::get<DeadlockFinding>(found[0]);
    EXPECT_TRUE(deadlock.kernel_edeadlk);
    EXPECT_EQ(deadlock.ts_ns, ts);
    ASSERT_FALSE(deadlock.cycle.empty());
    // B, refused, waited for byte 0, held by A.
    const WaitEdge* b = edge_of_waiter(deadlock, kB);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->lock.start, 0);
    EXPECT_EQ(b->lock.end, 0);
    ASSERT_TRUE(b->holder.has_value());
    EXPECT_EQ(b->holder->pid, kA);
    // The whole cycle, from the lock table: A waits for byte 1, held by B.
    ASSERT_EQ(deadlock.cycle.size(), 2u) << "the EDEADLK finding should show the cycle the kernel saw";
    expect_closed_cycle(deadlock);
    const WaitEdge* a = edge_of_waiter(deadlock, kA);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->lock.start, 1);
    EXPECT_EQ(a->holder->pid, kB);
    EXPECT_EQ(s.analyzer.deadlocks().size(), 1u);
  }

  Stream s;
};

TEST_F(FcntlEdeadlk, RefusedWaitWithKernelBlocker) {
  auto k = blocked_by(klock(kIno, kOwnerB, kWrlck, LT_FL_POSIX, 0, 0), kA, kOwnerA, kWrlck, 0, 0);
  uint64_t ts = 1 * kSec + 3 * kMs;
  auto found = s.push(immediate(fcntl_wait(kB, ts, 3, kFSetlkw, k), -35));
  expect_cycle(found, ts);
}

TEST_F(FcntlEdeadlk, RefusedWaitWithoutBlockerUsesTheLockTable) {
  uint64_t ts = 1 * kSec + 3 * kMs;
  auto found = s.push(
      immediate(fcntl_wait(kB, ts, 3, kFSetlkw, klock(kIno, kOwnerB, kWrlck, LT_FL_POSIX, 0, 0)), -35));
  ASSERT_EQ(found.size(), 1u);
  const WaitEdge* b = edge_of_waiter(std::get<DeadlockFinding>(found[0]), kB);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->how, Attribution::lock_table);
  expect_cycle(found, ts);
}

TEST_F(FcntlEdeadlk, RefusalIsNoWaitAndNoHold) {
  s.push(immediate(
      fcntl_wait(kB, 1 * kSec + 3 * kMs, 3, kFSetlkw, klock(kIno, kOwnerB, kWrlck, LT_FL_POSIX, 0, 0)), -35));
  // B is not left waiting, and did not get byte 0.
  EXPECT_TRUE(waits_of(s.analyzer, kB).empty());
  size_t b_holds_byte0 = 0;
  s.analyzer.file_locks().for_each([&](const InodeKey&, const FileHolder& h) {
    if (h.task.pid == kB && h.start == 0) b_holds_byte0++;
  });
  EXPECT_EQ(b_holds_byte0, 0u);
}

TEST(ReadLocks, WriterWaitsForEveryReader) {
  constexpr uint64_t kIno = 41;
  Stream s;
  for (uint32_t pid : {311u, 312u, 313u})
    s.push(fcntl_ok(pid, 1 * kSec + pid, klock(kIno, 0xd000 + pid, kRdlck, LT_FL_POSIX)));
  // The kernel names one reader as the blocker; the others block the writer too.
  auto k = blocked_by(klock(kIno, 0xd000 + 314, kWrlck, LT_FL_POSIX, 0, 99), 311, 0xd000 + 311, kRdlck);
  EXPECT_TRUE(s.push(fcntl_wait(314, 2 * kSec, 3, kFSetlkw, k)).empty());
  auto edges = s.analyzer.waits_now();
  ASSERT_EQ(edges.size(), 3u);
  std::vector<uint32_t> holders;
  for (const auto& edge : edges) {
    EXPECT_EQ(edge.waiter, (TaskRef{314, 314}));
    ASSERT_TRUE(edge.holder.has_value());
    holders.push_back(edge.holder->pid);
    EXPECT_EQ(edge.how, edge.holder->pid == 311 ? Attribution::kernel_blocker : Attribution::lock_table);
  }
  std::sort(holders.begin(), holders.end());
  EXPECT_EQ(holders, (std::vector<uint32_t>{311, 312, 313}));

  // Another reader does not wait for the readers (it would not conflict).
  s.push(fcntl_wait(315, 2 * kSec + 1, 3, kFSetlkw, klock(kIno, 0xd000 + 315, kRdlck, LT_FL_POSIX)));
  std::vector<WaitEdge> reader;
  for (const auto& edge : s.analyzer.waits_now())
    if (edge.waiter.pid == 315) reader.push_back(edge);
  ASSERT_EQ(reader.size(), 1u);
  EXPECT_FALSE(reader[0].holder.has_value());
}

TEST(ReadLocks, FlockSharedHoldersAllBlockAnExclusiveWaiter) {
  Stream s;
  s.push(flock_ok(321, 1 * kSec, kLockSh, klock(42, 0xe1, kRdlck, LT_FL_FLOCK)));
  s.push(flock_ok(322, 1 * kSec + 1, kLockSh, klock(42, 0xe2, kRdlck, LT_FL_FLOCK)));
  s.push(flock_wait(323, 1 * kSec + 2, 3, kLockEx, klock(42, 0xe3, kWrlck, LT_FL_FLOCK)));
  auto edges = s.analyzer.waits_now();
  ASSERT_EQ(edges.size(), 2u);
  std::vector<uint32_t> holders;
  for (const auto& edge : edges) holders.push_back(edge.holder.value().pid);
  std::sort(holders.begin(), holders.end());
  EXPECT_EQ(holders, (std::vector<uint32_t>{321, 322}));
}

// Attach: /proc/locks named the holders, /proc/PID/syscall the waiters. The
// deadlock already exists and is reported from the snapshot alone.
TEST(Snapshot, FlockDeadlockFromHeldLocksAndSnapshotWaits) {
  Stream s;
  s.push(process_info(901, "holder-a", 5 * kSec));
  s.push(process_info(902, "holder-b", 5 * kSec));
  s.push(held_lock(901, LT_FL_FLOCK, kWrlck, 51, 0, kEof, 5 * kSec));
  s.push(held_lock(902, LT_FL_FLOCK, kWrlck, 52, 0, kEof, 5 * kSec));
  // As the snapshot writes them: no owner, the blocker's pid from the "->" line.
  auto wait_a = snapshot_wait(
      flock_wait(901, 5 * kSec, 4, kLockEx, blocked_by(klock(52, 0, kWrlck, LT_FL_FLOCK), 902, 0, kWrlck)));
  auto wait_b = snapshot_wait(
      flock_wait(902, 5 * kSec, 4, kLockEx, blocked_by(klock(51, 0, kWrlck, LT_FL_FLOCK), 901, 0, kWrlck)));
  EXPECT_TRUE(s.push(wait_a).empty());
  auto found = s.push(wait_b);
  ASSERT_EQ(found.size(), 1u);
  const auto& deadlock = std::get<DeadlockFinding>(found[0]);
  EXPECT_EQ(deadlock.ts_ns, 5 * kSec);
  ASSERT_EQ(deadlock.cycle.size(), 2u);
  expect_closed_cycle(deadlock);
  EXPECT_EQ(edge_of_waiter(deadlock, 901)->lock.ino, 52u);
  EXPECT_EQ(edge_of_waiter(deadlock, 902)->lock.ino, 51u);
  for (const auto& edge : deadlock.cycle) EXPECT_EQ(edge.holding_since_ns, 0u) << "held before tracing";
}

TEST(Snapshot, FlockDeadlockFromHeldLocksWithoutBlockerLines) {
  Stream s;
  s.push(held_lock(901, LT_FL_FLOCK, kWrlck, 51));
  s.push(held_lock(902, LT_FL_FLOCK, kWrlck, 52));
  s.push(snapshot_wait(flock_wait(901, 5 * kSec, 4, kLockEx, klock(52, 0, kWrlck, LT_FL_FLOCK))));
  auto found =
      s.push(snapshot_wait(flock_wait(902, 5 * kSec, 4, kLockEx, klock(51, 0, kWrlck, LT_FL_FLOCK))));
  ASSERT_EQ(found.size(), 1u);
  const auto& deadlock = std::get<DeadlockFinding>(found[0]);
  ASSERT_EQ(deadlock.cycle.size(), 2u);
  for (const auto& edge : deadlock.cycle) EXPECT_EQ(edge.how, Attribution::proc_locks);
}

TEST(Snapshot, GlibcDeadlockFromSnapshotWaits) {
  Stream s;
  s.push(process_info(kPid, "abba", 5 * kSec));
  s.push(thread_info(kPid, kTidA, "worker-a", 5 * kSec));
  s.push(thread_info(kPid, kTidB, "worker-b", 5 * kSec));
  EXPECT_TRUE(s.push(snapshot_wait(futex_wait(kPid, kTidA, 5 * kSec, kMutex2, 2, kTidB))).empty());
  auto found = s.push(snapshot_wait(futex_wait(kPid, kTidB, 5 * kSec, kMutex1, 2, kTidA)));
  ASSERT_EQ(found.size(), 1u);
  ASSERT_EQ(std::get<DeadlockFinding>(found[0]).cycle.size(), 2u);
}

TEST(Snapshot, NoEntryReturnEndsTheSnapshotWait) {
  Stream s;
  s.push(thread_info(kPid, kTidA, "worker-a", 5 * kSec));
  s.push(thread_info(kPid, kTidB, "worker-b", 5 * kSec));
  s.push(snapshot_wait(futex_wait(kPid, kTidA, 5 * kSec, kMutex2, 2, kTidB)));
  ASSERT_EQ(s.analyzer.waits_now().size(), 1u);
  s.push(no_entry_done(LT_SYS_FUTEX, kPid, kTidA, 5 * kSec + 30 * kMs, 0));
  EXPECT_TRUE(s.analyzer.waits_now().empty());
  // So B's wait for mutex 1 later closes no cycle through A.
  EXPECT_TRUE(s.push(futex_wait(kPid, kTidB, 6 * kSec, kMutex1, 2, kTidA)).empty());
  EXPECT_TRUE(s.analyzer.deadlocks().empty());
  // The snapshot wait counts as a completed wait on its lock.
  const auto& longest = s.analyzer.contention().longest_waits();
  ASSERT_EQ(longest.size(), 1u);
  EXPECT_EQ(longest[0].edge.waiter.tid, kTidA);
  EXPECT_EQ(longest[0].waited_ns, 30 * kMs);
}

TEST(Snapshot, NoEntryReturnForAFileWaitEndsIt) {
  Stream s;
  s.push(held_lock(902, LT_FL_FLOCK, kWrlck, 52));
  s.push(snapshot_wait(flock_wait(901, 5 * kSec, 4, kLockEx, klock(52, 0, kWrlck, LT_FL_FLOCK))));
  ASSERT_EQ(s.analyzer.waits_now().size(), 1u);
  s.push(no_entry_done(LT_SYS_FLOCK, 901, 901, 5 * kSec + 1 * kMs, 0));
  EXPECT_TRUE(s.analyzer.waits_now().empty());
}

TEST(LongWait, FiresOnceWhenATickCrossesTheThreshold) {
  Stream s(AnalyzerOptions{.long_wait_ns = 100 * kMs});
  s.push(thread_info(700, 701, "slow"));
  s.push(thread_info(700, 702, "holder"));
  LockCall wait = futex_wait(700, 701, 1 * kSec, 0x9000, 2, 702);
  EXPECT_TRUE(s.push(wait).empty());
  EXPECT_TRUE(s.push(tick(1 * kSec + 50 * kMs)).empty());
  EXPECT_TRUE(s.push(tick(1 * kSec + 99 * kMs)).empty());
  auto found = s.push(tick(1 * kSec + 200 * kMs));
  ASSERT_EQ(found.size(), 1u);
  const auto* long_wait = std::get_if<LongWaitFinding>(&found[0]);
  ASSERT_NE(long_wait, nullptr);
  EXPECT_EQ(long_wait->ts_ns, 1 * kSec + 200 * kMs);
  EXPECT_EQ(long_wait->waited_ns, 200 * kMs);
  EXPECT_EQ(long_wait->wait.waiter, (TaskRef{700, 701}));
  EXPECT_EQ(long_wait->wait.lock.uaddr, 0x9000u);
  EXPECT_EQ(long_wait->wait.holder, (TaskRef{700, 702}));
  EXPECT_EQ(long_wait->wait.how, Attribution::glibc_owner);
  EXPECT_TRUE(s.push(tick(1 * kSec + 500 * kMs)).empty());
  EXPECT_TRUE(s.push(done(wait, 1 * kSec + 600 * kMs, 0)).empty());
  EXPECT_TRUE(s.push(tick(3 * kSec)).empty());
  EXPECT_EQ(s.sink.long_waits().size(), 1u);
  EXPECT_TRUE(s.analyzer.deadlocks().empty());

  // A new wait by the same thread is a new wait: it may be reported again.
  s.push(futex_wait(700, 701, 4 * kSec, 0x9000, 2, 702));
  EXPECT_TRUE(s.push(tick(4 * kSec + 10 * kMs)).empty());
  EXPECT_EQ(s.push(tick(4 * kSec + 100 * kMs)).size(), 1u);
}

TEST(LongWait, OffByDefault) {
  Stream s;
  s.push(futex_wait(700, 701, 1 * kSec, 0x9000, 2, 702));
  EXPECT_TRUE(s.push(tick(100 * kSec)).empty());
}

}  // namespace
}  // namespace locktrace::analysis::test
