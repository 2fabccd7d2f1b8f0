// Locks that no longer protect what their users think: a futex owner that died
// holding it, one path locked on two inodes, a lock on a file system that does
// not keep locks coherent, and a flock lock held by an inheritor of a dead process.
#include <gtest/gtest.h>

#include <algorithm>

#include "explain_stream.hpp"

namespace locktrace::explain::test {
namespace {

constexpr uint64_t kMutex = 0x7f0000001000;

TEST(OwnerDied, ExitOfTheValidatedGlibcOwnerNamesItsWaiters) {
  Stream s;
  s.push({process_info(500, "app"), thread_info(500, 501, "owner"), thread_info(500, 502, "waiter-a"),
          thread_info(500, 503, "waiter-b")});
  auto found = s.push({
      sleeping(futex_call(500, 502, 1 * kSec, 0, 0, kMutex, kFutexWait | kFutexPrivate, 2, 2, 501)),
      sleeping(futex_call(500, 503, 1 * kSec + kMs, 0, 0, kMutex, kFutexWait | kFutexPrivate, 2, 2, 501)),
  });
  EXPECT_TRUE(found.empty()) << kinds(found);

  found = s.push({task_exit(2 * kSec, 500, 501, 0, false, "owner")});
  auto died = only<OwnerDiedFinding>(found);
  ASSERT_EQ(died.size(), 1u) << kinds(found);
  EXPECT_EQ(died[0].ts_ns, 2 * kSec);
  EXPECT_EQ(died[0].owner, (TaskRef{500, 501}));
  EXPECT_EQ(died[0].how, Attribution::glibc_owner);
  EXPECT_EQ(died[0].lock.kind, LockRef::Kind::futex);
  EXPECT_EQ(died[0].lock.uaddr, kMutex);
  EXPECT_EQ(died[0].exit_code, 0);
  ASSERT_EQ(died[0].waiters.size(), 2u);
  EXPECT_EQ(died[0].waiters[0], (TaskRef{500, 502}));
  EXPECT_EQ(died[0].waiters[1], (TaskRef{500, 503}));

  // Exits of threads that held nothing say nothing.
  found = s.push({task_exit(3 * kSec, 500, 503, 0, false)});
  EXPECT_TRUE(only<OwnerDiedFinding>(found).empty()) << kinds(found);
}

TEST(OwnerDied, ExitOfThePiOwnerNamesItsWaiter) {
  Stream s;
  s.push({process_info(600, "app"), thread_info(600, 601, "owner"), thread_info(600, 602, "waiter")});
  LockCall lock_pi = futex_call(600, 602, 1 * kSec, 0, 0, kMutex, kFutexLockPi | kFutexPrivate, 0, 601, 0);
  s.push({sleeping(lock_pi)});
  auto found = s.push({task_exit(2 * kSec, 600, 601, 9, false, "owner")});
  auto died = only<OwnerDiedFinding>(found);
  ASSERT_EQ(died.size(), 1u) << kinds(found);
  EXPECT_EQ(died[0].owner, (TaskRef{600, 601}));
  EXPECT_EQ(died[0].how, Attribution::pi_owner);
  EXPECT_EQ(died[0].exit_code, 9);
  ASSERT_EQ(died[0].waiters.size(), 1u);
  EXPECT_EQ(died[0].waiters[0], (TaskRef{600, 602}));
}

TEST(OwnerDied, WaiterThatTimedOutBeforeTheExitIsNotNamed) {
  Stream s;
  s.push({thread_info(500, 501, "owner"), thread_info(500, 502, "waiter")});
  LockCall wait = futex_call(500, 502, 1 * kSec, 2 * kSec, -kEtimedout, kMutex, kFutexWait | kFutexPrivate, 2, 2, 501);
  s.push({sleeping(wait), wait});
  auto found = s.push({task_exit(3 * kSec, 500, 501, 0, false)});
  EXPECT_TRUE(only<OwnerDiedFinding>(found).empty()) << kinds(found);
}

constexpr std::string_view kLockPath = "/var/lock/app.lock";

TEST(SplitLock, TwoExclusiveHoldersOfOnePathOnTwoInodes) {
  Stream s;
  s.push({process_info(700, "first"), process_info(800, "second"),
          fd_path(700, 3, std::string(kLockPath), 30),
          flock_call(700, 700, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(30, 0xd700, kWrlck, LT_FL_FLOCK))});
  // The file was removed and re-created: the second opener has a new inode.
  auto found = s.push({fd_path(800, 4, std::string(kLockPath), 31),
                       flock_call(800, 800, 2 * kSec, 2 * kSec, 4, kLockEx, 0, klock(31, 0xd800, kWrlck, LT_FL_FLOCK))});
  auto splits = only<SplitLockFinding>(found);
  ASSERT_EQ(splits.size(), 1u) << kinds(found);
  const SplitLockFinding& f = splits[0];
  EXPECT_EQ(f.ts_ns, 2 * kSec);
  EXPECT_EQ(f.path, kLockPath);
  EXPECT_EQ(f.first.pid, 700u);
  EXPECT_EQ(f.first_lock.ino, 30u);
  EXPECT_EQ(f.second, (TaskRef{800, 800}));
  EXPECT_EQ(f.second_lock.ino, 31u);
  EXPECT_EQ(f.first_lock.dev, kDev);
  EXPECT_EQ(f.second_lock.dev, kDev);
}

TEST(SplitLock, OldInodeSeenAsDeletedStillCounts) {
  Stream s;
  s.push({fd_path(700, 3, std::string(kLockPath) + " (deleted)", 30),
          flock_call(700, 700, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(30, 0xd700, kWrlck, LT_FL_FLOCK)),
          fd_path(800, 4, std::string(kLockPath), 31)});
  auto found = s.push({flock_call(800, 800, 2 * kSec, 2 * kSec, 4, kLockEx, 0, klock(31, 0xd800, kWrlck, LT_FL_FLOCK))});
  auto splits = only<SplitLockFinding>(found);
  ASSERT_EQ(splits.size(), 1u) << kinds(found);
  EXPECT_EQ(splits[0].path, kLockPath);
}

TEST(SplitLock, PosixWriteLocksOnTwoInodesOfOnePathSplitToo) {
  Stream s;
  s.push({fd_path(700, 3, std::string(kLockPath), 30),
          fcntl_call(700, 700, 1 * kSec, 1 * kSec, 3, kFSetlk, 0, klock(30, 0xe700, kWrlck, LT_FL_POSIX)),
          fd_path(800, 3, std::string(kLockPath), 31)});
  auto found = s.push({fcntl_call(800, 800, 2 * kSec, 2 * kSec, 3, kFSetlk, 0, klock(31, 0xe800, kWrlck, LT_FL_POSIX))});
  EXPECT_EQ(only<SplitLockFinding>(found).size(), 1u) << kinds(found);
}

TEST(SplitLock, NoSplitWhenTheOldLockWasReleasedSharedOrOnAnotherPath) {
  Stream s;
  s.push({fd_path(700, 3, std::string(kLockPath), 30), fd_path(800, 4, std::string(kLockPath), 31),
          fd_path(900, 5, "/var/lock/other.lock", 32),
          flock_call(700, 700, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(30, 0xd700, kWrlck, LT_FL_FLOCK)),
          flock_call(700, 700, 2 * kSec, 2 * kSec, 3, kLockUn, 0, klock(30, 0xd700, kUnlck, LT_FL_FLOCK))});
  auto found = s.push({flock_call(800, 800, 3 * kSec, 3 * kSec, 4, kLockEx, 0, klock(31, 0xd800, kWrlck, LT_FL_FLOCK)),
                       flock_call(900, 900, 4 * kSec, 4 * kSec, 5, kLockEx, 0, klock(32, 0xd900, kWrlck, LT_FL_FLOCK))});
  EXPECT_TRUE(only<SplitLockFinding>(found).empty()) << kinds(found);

  // Shared holders of the old inode do not exclude anyone: not a split.
  Stream t;
  t.push({fd_path(700, 3, std::string(kLockPath), 30), fd_path(800, 4, std::string(kLockPath), 31),
          flock_call(700, 700, 1 * kSec, 1 * kSec, 3, kLockSh, 0, klock(30, 0xd700, kRdlck, LT_FL_FLOCK))});
  found = t.push({flock_call(800, 800, 3 * kSec, 3 * kSec, 4, kLockEx, 0, klock(31, 0xd800, kWrlck, LT_FL_FLOCK))});
  EXPECT_TRUE(only<SplitLockFinding>(found).empty()) << kinds(found);
}

constexpr uint32_t kNfsMagic = 0x6969;
constexpr uint32_t kExt4Magic = 0xef53;
constexpr uint32_t kNfsDev = (0u << 20) | 52;

TEST(WeakFileSystem, NfsLockIsNotedOncePerInode) {
  Stream s;
  auto nfs = [](uint64_t ino, uint64_t owner, uint8_t type) {
    lt_kernel_lock k = klock(ino, owner, type, LT_FL_FLOCK);
    k.dev = kNfsDev;
    return k;
  };
  s.push({fd_path(100, 3, "/mnt/nfs/a.lock", 40, kNfsMagic, kNfsDev),
          fd_path(100, 4, "/mnt/nfs/b.lock", 41, kNfsMagic, kNfsDev),
          fd_path(100, 5, "/home/c.lock", 42, kExt4Magic, kDev)});
  auto found = s.push({
      flock_call(100, 100, 1 * kSec, 1 * kSec, 3, kLockEx, 0, nfs(40, 0xa, kWrlck)),
      flock_call(100, 100, 2 * kSec, 2 * kSec, 3, kLockUn, 0, nfs(40, 0xa, kUnlck)),
      flock_call(100, 100, 3 * kSec, 3 * kSec, 3, kLockEx, 0, nfs(40, 0xa, kWrlck)),
      flock_call(100, 100, 4 * kSec, 4 * kSec, 4, kLockSh, 0, nfs(41, 0xb, kRdlck)),
      flock_call(100, 100, 5 * kSec, 5 * kSec, 5, kLockEx, 0, klock(42, 0xc, kWrlck, LT_FL_FLOCK)),
  });
  auto weak = only<WeakFileSystemFinding>(found);
  ASSERT_EQ(weak.size(), 2u) << kinds(found);
  EXPECT_EQ(weak[0].lock.ino, 40u);
  EXPECT_EQ(weak[0].lock.dev, kNfsDev);
  EXPECT_EQ(weak[0].ts_ns, 1 * kSec);
  EXPECT_EQ(weak[0].fs, "nfs");
  EXPECT_FALSE(weak[0].why.empty());
  EXPECT_EQ(weak[1].lock.ino, 41u);
  EXPECT_EQ(weak[1].fs, "nfs");
}

TEST(WeakFileSystem, FailedCallOnNfsIsNotedBeforeItsFailure) {
  Stream s;
  lt_kernel_lock k = klock(40, 0xb, kWrlck, LT_FL_POSIX);
  k.dev = kNfsDev;
  s.push({fd_path(100, 3, "/mnt/nfs/a.lock", 40, kNfsMagic, kNfsDev)});
  auto found = s.push({fcntl_call(100, 100, 1 * kSec, 1 * kSec, 3, kFSetlk, -kEagain, k)});
  ASSERT_EQ(found.size(), 2u) << kinds(found);
  EXPECT_TRUE(std::holds_alternative<WeakFileSystemFinding>(found[0])) << kinds(found);
  EXPECT_TRUE(std::holds_alternative<FailureFinding>(found[1])) << kinds(found);
}

// sh opens the lock file, a child of it takes the flock lock and forks a
// grandchild that inherits the open file, then exits: /proc/locks and the
// kernel still name the dead child.
class Phantom : public ::testing::Test {
 protected:
  static constexpr uint32_t kLocker = 810;
  static constexpr uint32_t kInheritor = 811;
  static constexpr uint32_t kRequester = 900;
  static constexpr uint64_t kFile = 0xffff888100810000;

  void SetUp() override {
    s.push({process_info(kLocker, "locker", 1), fd_path(kLocker, 9, "/run/app.lock", 50),
            flock_call(kLocker, kLocker, 1 * kSec, 1 * kSec, 9, kLockEx, 0, klock(50, kFile, kWrlck, LT_FL_FLOCK)),
            fork_event(2 * kSec, kLocker, kInheritor, "locker"), fd_path(kInheritor, 9, "/run/app.lock", 50),
            task_exit(3 * kSec, kLocker, kLocker, 0, true, "locker"), process_info(kRequester, "flock", 1),
            fd_path(kRequester, 3, "/run/app.lock", 50)});
  }
  Stream s;
};

TEST_F(Phantom, RefusalNamesTheLiveInheritorOfTheDeadLocker) {
  auto found = s.push({flock_call(kRequester, kRequester, 4 * kSec, 4 * kSec, 3, kLockEx | kLockNb, -kEagain,
                                  klock(50, 0xffff888100900000, kWrlck, LT_FL_FLOCK))});
  auto phantoms = only<PhantomHolderFinding>(found);
  ASSERT_EQ(phantoms.size(), 1u) << kinds(found);
  const PhantomHolderFinding& f = phantoms[0];
  EXPECT_EQ(f.ts_ns, 4 * kSec);
  EXPECT_EQ(f.named.pid, kLocker);
  EXPECT_EQ(f.lock.ino, 50u);
  ASSERT_EQ(f.holders.size(), 1u) << "the requester's own open is not a holder";
  EXPECT_EQ(f.holders[0].task.pid, kInheritor);
  EXPECT_EQ(f.holders[0].fd, 9);
  EXPECT_EQ(f.holders[0].inherited_via, (std::vector<uint32_t>{kLocker, kInheritor}));

  // The failure itself still says who the kernel and the lock table know.
  auto failures = only<FailureFinding>(found);
  ASSERT_EQ(failures.size(), 1u);
  ASSERT_EQ(failures[0].holders.size(), 1u);
  EXPECT_EQ(failures[0].holders[0].holder->pid, kLocker);

  // Once per inode and named process.
  found = s.push({flock_call(kRequester, kRequester, 5 * kSec, 5 * kSec, 3, kLockSh | kLockNb, -kEagain,
                             klock(50, 0xffff888100900000, kRdlck, LT_FL_FLOCK))});
  EXPECT_TRUE(only<PhantomHolderFinding>(found).empty()) << kinds(found);
}

TEST_F(Phantom, BlockedWaiterWhoseKernelBlockerIsDeadGetsThePhantomToo) {
  LockCall wait = flock_call(kRequester, kRequester, 4 * kSec, 0, 3, kLockEx, 0,
                             blocked_by(klock(50, 0xffff888100900000, kWrlck, LT_FL_FLOCK), kLocker, kFile, kWrlck));
  auto found = s.push({sleeping(wait)});
  auto phantoms = only<PhantomHolderFinding>(found);
  ASSERT_EQ(phantoms.size(), 1u) << kinds(found);
  EXPECT_EQ(phantoms[0].named.pid, kLocker);
  ASSERT_EQ(phantoms[0].holders.size(), 1u);
  EXPECT_EQ(phantoms[0].holders[0].task.pid, kInheritor);
  EXPECT_EQ(phantoms[0].holders[0].inherited_via, (std::vector<uint32_t>{kLocker, kInheritor}));
}

TEST_F(Phantom, LiveLockerIsNoPhantom) {
  Stream t;
  t.push({process_info(kLocker, "locker", 1), fd_path(kLocker, 9, "/run/app.lock", 50),
          flock_call(kLocker, kLocker, 1 * kSec, 1 * kSec, 9, kLockEx, 0, klock(50, kFile, kWrlck, LT_FL_FLOCK)),
          fork_event(2 * kSec, kLocker, kInheritor, "locker")});
  auto found = t.push({flock_call(kRequester, kRequester, 4 * kSec, 4 * kSec, 3, kLockEx | kLockNb, -kEagain,
                                  klock(50, 0xffff888100900000, kWrlck, LT_FL_FLOCK))});
  EXPECT_TRUE(only<PhantomHolderFinding>(found).empty()) << kinds(found);
}

// The everyday end of a wait: the holder exits, its lock goes with its last
// close, and the waiter is granted the lock. The done record still carries the
// blocker the kernel named while it waited; that process being gone makes no
// phantom, since nobody holds the lock any more but the waiter.
TEST(PhantomNot, WaiterGrantedAfterItsHolderExitedIsNoPhantom) {
  constexpr uint64_t kHolderFile = 0xffff888100100000;
  constexpr uint64_t kWaiterFile = 0xffff888100200000;
  Stream s;
  s.push({process_info(100, "flock", 1), process_info(200, "flock", 1), fd_path(100, 3, "/tmp/G", 60),
          fd_path(200, 3, "/tmp/G", 60),
          flock_call(100, 100, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(60, kHolderFile, kWrlck, LT_FL_FLOCK))});
  lt_kernel_lock waiting = blocked_by(klock(60, kWaiterFile, kWrlck, LT_FL_FLOCK), 100, kHolderFile, kWrlck);
  auto found = s.push({sleeping(flock_call(200, 200, 2 * kSec, 0, 3, kLockEx, 0, waiting)),
                       task_exit(3 * kSec, 100, 100, 0, true, "flock"),
                       lock_released(3 * kSec + 10, 100, klock(60, kHolderFile, kWrlck, LT_FL_FLOCK),
                                     LT_TP_FLOCK_LOCK_INODE),
                       flock_call(200, 200, 2 * kSec, 3 * kSec + 20, 3, kLockEx, 0, waiting)});
  EXPECT_TRUE(only<PhantomHolderFinding>(found).empty()) << kinds(found);
  EXPECT_TRUE(found.empty()) << kinds(found);
}

}  // namespace
}  // namespace locktrace::explain::test
