// A refused or timed-out lock call is explained by who held the lock, and a
// call the arguments alone doom by a sentence.
#include <gtest/gtest.h>

#include "explain_stream.hpp"
#include "stack_events.hpp"

namespace locktrace::explain::test {
namespace {

constexpr uint64_t kHolderFile = 0xffff888101aa0000;     // the holder's struct file
constexpr uint64_t kRequesterFile = 0xffff888101bb0000;  // another open of the same file

TEST(FailureHolders, FlockWouldBlockNamesTheEarlierExclusiveHolder) {
  Stream s;
  s.push({process_info(100, "holder"), process_info(200, "requester"),
          flock_call(100, 100, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(10, kHolderFile, kWrlck, LT_FL_FLOCK))});
  auto found = s.push({flock_call(200, 200, 2 * kSec, 2 * kSec, 4, kLockEx | kLockNb, -kEagain,
                                  klock(10, kRequesterFile, kWrlck, LT_FL_FLOCK))});

  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 1u) << kinds(found);
  const FailureFinding& f = failures[0];
  EXPECT_EQ(f.call.task, (TaskRef{200, 200}));
  EXPECT_EQ(f.call.sys, LT_SYS_FLOCK);
  EXPECT_EQ(f.call.op, kLockEx | kLockNb);
  EXPECT_EQ(f.call.err, kEagain);
  EXPECT_EQ(f.call.ts_ns, 2 * kSec);
  ASSERT_TRUE(f.call.lock);
  EXPECT_EQ(f.call.lock->ino, 10u);
  ASSERT_EQ(f.holders.size(), 1u);
  EXPECT_EQ(f.holders[0].holder, (TaskRef{100, 100}));
  EXPECT_EQ(f.holders[0].how, Attribution::lock_table);
  EXPECT_EQ(f.holders[0].holding_since_ns, 1 * kSec);
  EXPECT_EQ(f.holders[0].waiter, (TaskRef{200, 200}));
  EXPECT_EQ(f.signal, 0);
  EXPECT_TRUE(f.reason.empty()) << f.reason;
}

TEST(FailureHolders, FlockConflictBetweenTwoOpensInOneProcessNamesThatProcess) {
  // flock locks belong to open files: a second open() in the same process conflicts.
  Stream s;
  s.push({flock_call(100, 100, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(10, kHolderFile, kWrlck, LT_FL_FLOCK))});
  auto found = s.push({flock_call(100, 101, 2 * kSec, 2 * kSec, 4, kLockSh | kLockNb, -kEagain,
                                  klock(10, kRequesterFile, kRdlck, LT_FL_FLOCK))});
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 1u) << kinds(found);
  ASSERT_EQ(failures[0].holders.size(), 1u);
  EXPECT_EQ(failures[0].holders[0].holder, (TaskRef{100, 100}));
}

TEST(FailureHolders, FlockWouldBlockDoesNotNameReleasedOrSharedCompatibleHolders) {
  Stream s;
  s.push({
      // 100 took and released the lock; 300 holds it shared; 400 exclusive.
      flock_call(100, 100, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(10, 0xa1, kWrlck, LT_FL_FLOCK)),
      flock_call(100, 100, 2 * kSec, 2 * kSec, 3, kLockUn, 0, klock(10, 0xa1, kUnlck, LT_FL_FLOCK)),
      flock_call(300, 300, 3 * kSec, 3 * kSec, 3, kLockSh, 0, klock(10, 0xa3, kRdlck, LT_FL_FLOCK)),
  });
  // A shared request conflicts with nobody yet: the kernel refused it all the same.
  auto shared = only<FailureFinding>(s.push({flock_call(200, 200, 4 * kSec, 4 * kSec, 4, kLockSh | kLockNb,
                                                        -kEagain, klock(10, 0xa2, kRdlck, LT_FL_FLOCK))}));
  ASSERT_EQ(shared.size(), 1u);
  EXPECT_TRUE(shared[0].holders.empty());
  EXPECT_FALSE(shared[0].reason.empty()) << "a refusal nobody explains says so";

  auto exclusive = only<FailureFinding>(s.push({flock_call(200, 200, 5 * kSec, 5 * kSec, 4, kLockEx | kLockNb,
                                                           -kEagain, klock(10, 0xa2, kWrlck, LT_FL_FLOCK))}));
  ASSERT_EQ(exclusive.size(), 1u);
  ASSERT_EQ(exclusive[0].holders.size(), 1u);
  EXPECT_EQ(exclusive[0].holders[0].holder->pid, 300u) << "the shared holder blocks an exclusive request";
}

TEST(FailureHolders, FcntlSetlkAgainNamesTheOverlappingPosixHolderOnly) {
  Stream s;
  s.push({
      process_info(100, "low"), process_info(300, "high"),
      fcntl_call(100, 100, 1 * kSec, 1 * kSec, 3, kFSetlk, 0, klock(20, 0xf100, kWrlck, LT_FL_POSIX, 0, 99)),
      fcntl_call(300, 300, 2 * kSec, 2 * kSec, 3, kFSetlk, 0, klock(20, 0xf300, kWrlck, LT_FL_POSIX, 200, 299)),
  });
  auto found = s.push({fcntl_call(200, 200, 3 * kSec, 3 * kSec, 5, kFSetlk, -kEagain,
                                  klock(20, 0xf200, kWrlck, LT_FL_POSIX, 50, 60))});
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 1u) << kinds(found);
  const FailureFinding& f = failures[0];
  EXPECT_EQ(f.call.sys, LT_SYS_FCNTL);
  EXPECT_EQ(f.call.op, kFSetlk);
  EXPECT_EQ(f.call.err, kEagain);
  ASSERT_EQ(f.holders.size(), 1u) << "the lock on 200-299 does not overlap 50-60";
  EXPECT_EQ(f.holders[0].holder, (TaskRef{100, 100}));
  EXPECT_EQ(f.holders[0].lock.start, 0);
  EXPECT_EQ(f.holders[0].lock.end, 99);
  EXPECT_EQ(f.holders[0].lock.kind, LockRef::Kind::file);
  EXPECT_EQ(f.holders[0].lock.fl_flags, static_cast<uint32_t>(LT_FL_POSIX));
}

TEST(FailureHolders, FcntlSetlkAgainNamesEveryOverlappingHolder) {
  Stream s;
  s.push({
      fcntl_call(100, 100, 1 * kSec, 1 * kSec, 3, kFSetlk, 0, klock(20, 0xf100, kRdlck, LT_FL_POSIX, 0, 99)),
      fcntl_call(300, 300, 2 * kSec, 2 * kSec, 3, kFSetlk, 0, klock(20, 0xf300, kRdlck, LT_FL_POSIX, 90, 199)),
  });
  // A write lock over both read locks.
  auto failures = only<FailureFinding>(s.push({fcntl_call(200, 200, 3 * kSec, 3 * kSec, 5, kFSetlk, -kEagain,
                                                          klock(20, 0xf200, kWrlck, LT_FL_POSIX, 95, 95))}));
  ASSERT_EQ(failures.size(), 1u);
  ASSERT_EQ(failures[0].holders.size(), 2u);
  EXPECT_EQ(failures[0].holders[0].holder->pid + failures[0].holders[1].holder->pid, 400u);
  // A read lock on the same byte (another thread) is compatible with both: refused, nobody named.
  auto read = only<FailureFinding>(s.push({fcntl_call(200, 201, 4 * kSec, 4 * kSec, 5, kFSetlk, -kEagain,
                                                      klock(20, 0xf200, kRdlck, LT_FL_POSIX, 95, 95))}));
  ASSERT_EQ(read.size(), 1u);
  EXPECT_TRUE(read[0].holders.empty());
}

TEST(FailureHolders, FcntlHolderThatUnlockedTheOverlapIsNotNamed) {
  Stream s;
  s.push({
      fcntl_call(100, 100, 1 * kSec, 1 * kSec, 3, kFSetlk, 0, klock(20, 0xf100, kWrlck, LT_FL_POSIX, 0, 99)),
      // Unlocking the middle leaves 0-39 and 71-99.
      fcntl_call(100, 100, 2 * kSec, 2 * kSec, 3, kFSetlk, 0, klock(20, 0xf100, kUnlck, LT_FL_POSIX, 40, 70)),
  });
  auto failures = only<FailureFinding>(s.push({fcntl_call(200, 200, 3 * kSec, 3 * kSec, 5, kFSetlk, -kEagain,
                                                          klock(20, 0xf200, kWrlck, LT_FL_POSIX, 50, 60))}));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(failures[0].holders.empty());
  auto edge = only<FailureFinding>(s.push({fcntl_call(200, 201, 4 * kSec, 4 * kSec, 5, kFSetlk, -kEagain,
                                                      klock(20, 0xf200, kWrlck, LT_FL_POSIX, 60, 71))}));
  ASSERT_EQ(edge.size(), 1u);
  ASSERT_EQ(edge[0].holders.size(), 1u);
  EXPECT_EQ(edge[0].holders[0].lock.start, 71);
  EXPECT_EQ(edge[0].holders[0].lock.end, 99);
}

// A POSIX lock is a byte range: refusals of two different records are two
// failures with their own holders, not one lock attempted again.
TEST(FailureHolders, FcntlRefusalsOfDifferentRecordsAreExplainedEach) {
  Stream s;
  s.push({
      fcntl_call(100, 100, 1 * kSec, 1 * kSec, 3, kFSetlk, 0, klock(20, 0xf100, kWrlck, LT_FL_POSIX, 0, 9)),
      fcntl_call(300, 300, 2 * kSec, 2 * kSec, 3, kFSetlk, 0, klock(20, 0xf300, kWrlck, LT_FL_POSIX, 100, 109)),
  });
  auto found = s.push({
      fcntl_call(200, 200, 3 * kSec, 3 * kSec, 5, kFSetlk, -kEagain, klock(20, 0xf200, kWrlck, LT_FL_POSIX, 0, 9)),
      fcntl_call(200, 200, 4 * kSec, 4 * kSec, 5, kFSetlk, -kEagain,
                 klock(20, 0xf200, kWrlck, LT_FL_POSIX, 100, 109)),
  });
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 2u) << "record 100-109 is not a retry of record 0-9: " << kinds(found);
  ASSERT_EQ(failures[1].holders.size(), 1u);
  EXPECT_EQ(failures[1].holders[0].holder->pid, 300u);
  EXPECT_TRUE(only<RetryLoopFinding>(found).empty()) << kinds(found);
}

// glibc's lll_lock: the word is 2 (locked, contended), __owner the holder's TID.
TEST(FailureHolders, TimedOutMutexWaitNamesTheGlibcOwner) {
  constexpr uint64_t kMutex = 0x55550000a040;
  Stream s;
  s.push({process_info(500, "app"), thread_info(500, 501, "worker-1"), thread_info(500, 502, "worker-2")});
  LockCall wait = futex_call(500, 502, 1 * kSec, 3 * kSec, -kEtimedout, kMutex,
                             kFutexWaitBitset | kFutexPrivate | kFutexClockRealtime, 2, 2, 501);
  s.push({sleeping(wait)});
  auto found = s.push({wait});
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 1u) << kinds(found);
  const FailureFinding& f = failures[0];
  EXPECT_EQ(f.call.err, kEtimedout);
  EXPECT_EQ(f.call.sys, LT_SYS_FUTEX);
  ASSERT_TRUE(f.call.lock);
  EXPECT_EQ(f.call.lock->kind, LockRef::Kind::futex);
  EXPECT_EQ(f.call.lock->uaddr, kMutex);
  ASSERT_EQ(f.holders.size(), 1u);
  EXPECT_EQ(f.holders[0].holder, (TaskRef{500, 501}));
  EXPECT_EQ(f.holders[0].how, Attribution::glibc_owner);
  EXPECT_EQ(f.holders[0].waiter, (TaskRef{500, 502}));
  EXPECT_EQ(f.holders[0].waiting_since_ns, 1 * kSec);
}

TEST(FailureHolders, TimedOutPlainFutexWaitIsTheSameForFutexWait) {
  constexpr uint64_t kMutex = 0x55550000a080;
  Stream s;
  s.push({thread_info(500, 501, "worker-1"), thread_info(500, 502, "worker-2")});
  LockCall wait = futex_call(500, 502, 1 * kSec, 2 * kSec, -kEtimedout, kMutex, kFutexWait | kFutexPrivate, 2, 2, 501);
  s.push({sleeping(wait)});
  auto failures = only<FailureFinding>(s.push({wait}));
  ASSERT_EQ(failures.size(), 1u);
  ASSERT_EQ(failures[0].holders.size(), 1u);
  EXPECT_EQ(failures[0].holders[0].holder, (TaskRef{500, 501}));
}

TEST(FailureHolders, OwnerWordOfAThreadNotSeenAliveIsNotTrusted) {
  constexpr uint64_t kMutex = 0x55550000a0c0;
  Stream s;
  s.push({thread_info(500, 502, "worker-2")});
  LockCall wait = futex_call(500, 502, 1 * kSec, 2 * kSec, -kEtimedout, kMutex, kFutexWait | kFutexPrivate, 2, 2, 4242);
  s.push({sleeping(wait)});
  auto failures = only<FailureFinding>(s.push({wait}));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_TRUE(failures[0].holders.empty()) << "4242 is no thread of the process";
}

TEST(FailureHolders, CondvarTimeoutAndChangedWordAreNotLockFailures) {
  Stream s;
  s.push({thread_info(500, 501, "worker-1"), thread_info(500, 502, "worker-2")});
  // pthread_cond_timedwait: FUTEX_WAIT_BITSET on the condvar's sequence, not 2.
  LockCall cond = futex_call(500, 502, 1 * kSec, 2 * kSec, -kEtimedout, 0x5555000b000,
                             kFutexWaitBitset | kFutexPrivate, 8, 8, 0);
  // A mutex wait whose word changed before it slept: EAGAIN by design.
  LockCall changed = futex_call(500, 502, 3 * kSec, 3 * kSec, -kEagain, 0x5555000a000,
                                kFutexWait | kFutexPrivate, 2, 0, 501);
  auto found = s.push({sleeping(cond), cond, changed});
  EXPECT_TRUE(only<FailureFinding>(found).empty()) << kinds(found);
}

TEST(FailureReasons, BadFileDescriptorInvalidOperationAndNoLocksAreDecoded) {
  Stream s;
  LockCall ebadf = call_done(LT_SYS_FLOCK, 100, 100, 1 * kSec, 1 * kSec, -kEbadf, {99, kLockEx});
  LockCall flock_einval = with_klock(call_done(LT_SYS_FLOCK, 100, 100, 2 * kSec, 2 * kSec, -kEinval, {3, 0x40}),
                                     klock(10, 0xa1, kWrlck, LT_FL_FLOCK));
  LockCall fcntl_einval = fcntl_call(100, 100, 3 * kSec, 3 * kSec, 3, kFSetlk, -kEinval,
                                     klock(20, 0xf100, kWrlck, LT_FL_POSIX, 0, kEof));
  LockCall enolck = fcntl_call(100, 100, 4 * kSec, 4 * kSec, 3, kFSetlkw, -kEnolck,
                               klock(20, 0xf100, kWrlck, LT_FL_POSIX, 7, 7));
  auto found = s.push({ebadf, flock_einval, fcntl_einval, enolck});
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 4u) << kinds(found);

  EXPECT_EQ(failures[0].call.err, kEbadf);
  EXPECT_FALSE(failures[0].call.lock) << "a bad fd names no file";
  EXPECT_NE(failures[0].reason.find("not open"), std::string_view::npos) << failures[0].reason;

  EXPECT_EQ(failures[1].call.err, kEinval);
  EXPECT_NE(failures[1].reason.find("LOCK_SH, LOCK_EX or LOCK_UN"), std::string_view::npos) << failures[1].reason;

  EXPECT_EQ(failures[2].call.err, kEinval);
  EXPECT_NE(failures[2].reason.find("invalid"), std::string_view::npos) << failures[2].reason;

  EXPECT_EQ(failures[3].call.err, kEnolck);
  EXPECT_NE(failures[3].reason.find("lock record"), std::string_view::npos) << failures[3].reason;

  for (const auto& f : failures) EXPECT_TRUE(f.holders.empty());
}

TEST(FailureReasons, FcntlEdeadlkIsAFailureAndTheKernelsDeadlock) {
  Stream s;
  // 100 holds record 0, 200 holds record 1; 100 waits for record 1; 200 asks for record 0.
  s.push({fcntl_call(100, 100, 1 * kSec, 1 * kSec, 3, kFSetlk, 0, klock(20, 0xf100, kWrlck, LT_FL_POSIX, 0, 0)),
          fcntl_call(200, 200, 1 * kSec, 1 * kSec, 3, kFSetlk, 0, klock(20, 0xf200, kWrlck, LT_FL_POSIX, 1, 1)),
          sleeping(fcntl_call(100, 100, 2 * kSec, 0, 3, kFSetlkw, 0,
                              blocked_by(klock(20, 0xf100, kWrlck, LT_FL_POSIX, 1, 1), 200, 0xf200, kWrlck)))});
  auto found = s.push({fcntl_call(200, 200, 3 * kSec, 3 * kSec, 3, kFSetlkw, -35,
                                  blocked_by(klock(20, 0xf200, kWrlck, LT_FL_POSIX, 0, 0), 100, 0xf100, kWrlck))});
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 1u) << kinds(found);
  EXPECT_EQ(failures[0].call.err, 35);
  EXPECT_NE(failures[0].reason.find("deadlock"), std::string_view::npos) << failures[0].reason;
  auto deadlocks = only<DeadlockFinding>(found);
  ASSERT_EQ(deadlocks.size(), 1u) << kinds(found);
  EXPECT_TRUE(deadlocks[0].kernel_edeadlk);
}

TEST(FailureReasons, PiFutexPermissionErrorIsAFailureWithAReason) {
  Stream s;
  LockCall unlock = futex_call(500, 502, 1 * kSec, 1 * kSec, -kEperm, 0x5555000c000, 7 | kFutexPrivate, 0, 501, 0);
  auto failures = only<FailureFinding>(s.push({unlock}));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].reason.find("not the owner"), std::string_view::npos) << failures[0].reason;
}

TEST(FailureHolders, StacksOfTheRefusedCallerAndOfTheHolder) {
  using namespace stack_test;
  constexpr uint32_t kTakenIn = 1, kRefusedIn = 2;
  Stream s;
  LockCall taken = flock_call(100, 100, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(10, kHolderFile, kWrlck, LT_FL_FLOCK));
  LockCall refused = flock_call(200, 200, 2 * kSec, 2 * kSec, 4, kLockEx | kLockNb, -kEagain,
                                klock(10, kRequesterFile, kWrlck, LT_FL_FLOCK));
  s.push({process_info(100, "holder"), process_info(200, "requester"),
          stack_trace(kTakenIn, pool_refill_frames()), stack_trace(kRefusedIn, pool_acquire_frames()),
          call_stack(taken, kTakenIn), taken, call_stack(refused, kRefusedIn)});
  auto failures = only<FailureFinding>(s.push({refused}));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].call.stack, kRefusedIn);
  ASSERT_EQ(failures[0].holders.size(), 1u);
  EXPECT_EQ(failures[0].holders[0].waiter_stack, kRefusedIn);
  EXPECT_EQ(failures[0].holders[0].holder_stack, kTakenIn);

  // Without stack records, none.
  Stream plain;
  plain.push({taken});
  auto bare = only<FailureFinding>(plain.push({refused}));
  ASSERT_EQ(bare.size(), 1u);
  EXPECT_FALSE(bare[0].call.stack.has_value());
  ASSERT_EQ(bare[0].holders.size(), 1u);
  EXPECT_FALSE(bare[0].holders[0].holder_stack.has_value());
}

TEST(FailureHolders, ATimedOutMutexWaitCarriesTheWaitsStacks) {
  using namespace stack_test;
  Stream s;
  LockCall owner_wait = futex_call(100, 101, 1 * kSec, 1 * kSec + kMs, 0, 0x7000, kFutexWait | kFutexPrivate, 2, 2, 0);
  s.push({process_info(100, "app"), thread_info(100, 101, "owner"), thread_info(100, 102, "waiter"),
          stack_trace(1, pool_refill_frames()), stack_trace(2, pool_acquire_frames())});
  LockCall owner_sleep = sleeping(owner_wait);
  s.push({call_stack(owner_sleep, 1), owner_sleep, owner_wait});
  LockCall timed = futex_call(100, 102, 2 * kSec, 3 * kSec, -kEtimedout, 0x7000, kFutexWait | kFutexPrivate, 2, 2, 101);
  LockCall timed_sleep = sleeping(timed);
  s.push({call_stack(timed_sleep, 2), timed_sleep});
  auto failures = only<FailureFinding>(s.push({timed}));
  ASSERT_EQ(failures.size(), 1u);
  ASSERT_EQ(failures[0].holders.size(), 1u);
  EXPECT_EQ(failures[0].holders[0].holder, (TaskRef{100, 101}));
  EXPECT_EQ(failures[0].holders[0].waiter_stack, 2u);
  EXPECT_EQ(failures[0].holders[0].holder_stack, 1u);
}

}  // namespace
}  // namespace locktrace::explain::test
