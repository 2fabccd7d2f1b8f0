#include "call_args.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "event_builders.hpp"
#include "trace_state.hpp"

namespace locktrace {
namespace {

// Records each argument as "name=value", with the kind of value visible.
class RecordingArgs : public ArgSink {
 public:
  void fd(std::string_view name, int64_t fd, std::string_view path) override {
    args.push_back(std::string(name) + "=fd:" + std::to_string(fd) + "<" + std::string(path) + ">");
  }
  void symbol(std::string_view name, std::string_view value) override {
    args.push_back(std::string(name) + "=" + std::string(value));
  }
  void address(std::string_view name, uint64_t value) override {
    char buf[32];
    snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(value));
    args.push_back(std::string(name) + "=@" + (value == 0 ? "NULL" : buf));
  }
  void number(std::string_view name, int64_t value) override {
    args.push_back(std::string(name) + "=" + std::to_string(value));
  }
  void flock(std::string_view name, const lt_user_flock& lock) override {
    args.push_back(std::string(name) + "={type=" + std::to_string(lock.type) +
                   ",whence=" + std::to_string(lock.whence) + ",start=" + std::to_string(lock.start) +
                   ",len=" + std::to_string(lock.len) + ",pid=" + std::to_string(lock.pid) + "}");
  }

  std::vector<std::string> args;
};

std::vector<std::string> describe(const LockCall& call, std::string_view path = {}) {
  RecordingArgs sink;
  std::string scratch;
  describe_args(call, path, sink, scratch);
  return sink.args;
}

std::vector<std::string> names_of(const std::vector<std::string>& args) {
  std::vector<std::string> names;
  for (const auto& a : args) names.push_back(a.substr(0, a.find('=')));
  return names;
}

using Names = std::vector<std::string>;

LockCall futex(uint64_t op) {
  return test::lock_call(LT_SYS_FUTEX, 1, 1, 0, 1, 0,
                         {0x7f0000001000, op, 1, 0x7ffc0000, 0x7f0000002000, 0xffffffff});
}

TEST(CallArgs, SyscallNames) {
  EXPECT_EQ(syscall_name(LT_SYS_FLOCK), "flock");
  EXPECT_EQ(syscall_name(LT_SYS_FCNTL), "fcntl");
  EXPECT_EQ(syscall_name(LT_SYS_FUTEX), "futex");
  EXPECT_EQ(syscall_name(LT_SYS_FUTEX_WAIT), "futex_wait");
  EXPECT_EQ(syscall_name(LT_SYS_FUTEX_WAKE), "futex_wake");
  EXPECT_EQ(syscall_name(LT_SYS_FUTEX_WAITV), "futex_waitv");
  EXPECT_EQ(syscall_name(LT_SYS_FUTEX_REQUEUE), "futex_requeue");
  EXPECT_EQ(syscall_name(99), "unknown");
}

TEST(CallArgs, Flock) {
  LockCall call = test::lock_call(LT_SYS_FLOCK, 1, 1, 0, 1, 0, {3, 2 | 4});
  EXPECT_EQ(describe(call, "/tmp/lockfile"),
            (Names{"fd=fd:3</tmp/lockfile>", "operation=LOCK_EX|LOCK_NB"}));
  EXPECT_EQ(describe(call), (Names{"fd=fd:3<>", "operation=LOCK_EX|LOCK_NB"}));
  EXPECT_TRUE(spells_ewouldblock(call));
}

TEST(CallArgs, FcntlWithUserFlock) {
  LockCall call = test::lock_call(LT_SYS_FCNTL, 1, 1, 0, 1, 0, {4, 7, 0x7ffd0000});
  call.flags = LT_CALL_HAS_FLOCK;
  call.user_flock = {.start = 100, .len = 50, .pid = 0, .type = 1, .whence = 0};
  EXPECT_EQ(describe(call, "/data/db"),
            (Names{"fd=fd:4</data/db>", "cmd=F_SETLKW",
                   "lock={type=1,whence=0,start=100,len=50,pid=0}"}));
  EXPECT_FALSE(spells_ewouldblock(call));
}

TEST(CallArgs, FcntlWithoutUserFlockShowsTheAddress) {
  LockCall call = test::lock_call(LT_SYS_FCNTL, 1, 1, 0, 1, 0, {4, 37, 0x7ffd0000});
  EXPECT_EQ(describe(call), (Names{"fd=fd:4<>", "cmd=F_OFD_SETLK", "lock=@0x7ffd0000"}));
  call.args[2] = 0;
  EXPECT_EQ(describe(call), (Names{"fd=fd:4<>", "cmd=F_OFD_SETLK", "lock=@NULL"}));
}

TEST(CallArgs, FcntlNonLockCommandIsANumber) {
  LockCall call = test::lock_call(LT_SYS_FCNTL, 1, 1, 0, 1, 0, {4, 1, 0});
  EXPECT_EQ(describe(call), (Names{"fd=fd:4<>", "cmd=1", "lock=@NULL"}));
}

TEST(CallArgs, FutexWaitValues) {
  LockCall call = futex(128);  // FUTEX_WAIT_PRIVATE
  call.args[2] = 0xffffffff00000002;  // the kernel reads val as u32
  call.args[3] = 0;
  EXPECT_EQ(describe(call), (Names{"uaddr=@0x7f0000001000", "op=FUTEX_WAIT_PRIVATE", "val=2",
                                   "timeout=@NULL"}));
}

TEST(CallArgs, FutexArgumentsPerCommand) {
  const std::vector<std::pair<uint64_t, Names>> expected = {
      {0, {"uaddr", "op", "val", "timeout"}},
      {1, {"uaddr", "op", "val"}},
      {2, {"uaddr", "op", "val", "arg3", "uaddr2", "val3"}},  // FUTEX_FD: long gone
      {3, {"uaddr", "op", "val", "val2", "uaddr2"}},
      {4, {"uaddr", "op", "val", "val2", "uaddr2", "val3"}},
      {5, {"uaddr", "op", "val", "val2", "uaddr2", "val3"}},
      {6, {"uaddr", "op", "timeout"}},
      {7, {"uaddr", "op"}},
      {8, {"uaddr", "op"}},
      {9, {"uaddr", "op", "val", "timeout", "val3"}},
      {10, {"uaddr", "op", "val", "val3"}},
      {11, {"uaddr", "op", "val", "timeout", "uaddr2"}},
      {12, {"uaddr", "op", "val", "val2", "uaddr2", "val3"}},
      {13, {"uaddr", "op", "timeout"}},
  };
  for (const auto& [op, names] : expected) {
    EXPECT_EQ(names_of(describe(futex(op))), names) << "op " << op;
    EXPECT_EQ(names_of(describe(futex(op | 128 | 256))), names) << "op " << op << " private";
  }
}

TEST(CallArgs, FutexCmpRequeueValues) {
  LockCall call = futex(4 | 128);
  call.args[2] = 1;
  call.args[3] = 0x7fffffff;  // val2: how many to requeue, in the timeout slot
  call.args[5] = 5;
  EXPECT_EQ(describe(call), (Names{"uaddr=@0x7f0000001000", "op=FUTEX_CMP_REQUEUE_PRIVATE", "val=1",
                                   "val2=2147483647", "uaddr2=@0x7f0000002000", "val3=5"}));
}

TEST(CallArgs, FutexWaitBitsetMaskIsHex) {
  LockCall call = futex(9 | 128 | 256);
  EXPECT_EQ(describe(call), (Names{"uaddr=@0x7f0000001000",
                                   "op=FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME", "val=1",
                                   "timeout=@0x7ffc0000", "val3=@0xffffffff"}));
}

TEST(CallArgs, FutexUnknownCommand) {
  EXPECT_EQ(describe(futex(20)),
            (Names{"uaddr=@0x7f0000001000", "op=FUTEX_20", "val=1", "arg3=@0x7ffc0000",
                   "uaddr2=@0x7f0000002000", "val3=4294967295"}));
}

TEST(CallArgs, Futex2Wait) {
  LockCall call =
      test::lock_call(LT_SYS_FUTEX_WAIT, 1, 1, 0, 1, 0, {0x1000, 7, 0xffffffff, 0x82, 0, 1});
  EXPECT_EQ(describe(call), (Names{"uaddr=@0x1000", "val=7", "mask=@0xffffffff",
                                   "flags=FUTEX2_SIZE_U32|FUTEX2_PRIVATE", "timeout=@NULL",
                                   "clockid=CLOCK_MONOTONIC"}));
  call.args[5] = 5;
  EXPECT_EQ(describe(call).back(), "clockid=5");
}

TEST(CallArgs, Futex2Wake) {
  LockCall call = test::lock_call(LT_SYS_FUTEX_WAKE, 1, 1, 0, 1, 0, {0x1000, 0xffffffff, 1, 2});
  EXPECT_EQ(describe(call),
            (Names{"uaddr=@0x1000", "mask=@0xffffffff", "nr=1", "flags=FUTEX2_SIZE_U32"}));
}

TEST(CallArgs, Futex2Waitv) {
  LockCall call = test::lock_call(LT_SYS_FUTEX_WAITV, 1, 1, 0, 1, 0, {0x2000, 3, 0, 0x3000, 0});
  EXPECT_EQ(describe(call), (Names{"waiters=@0x2000", "nr_futexes=3", "flags=@NULL",
                                   "timeout=@0x3000", "clockid=CLOCK_REALTIME"}));
}

TEST(CallArgs, Futex2Requeue) {
  LockCall call = test::lock_call(LT_SYS_FUTEX_REQUEUE, 1, 1, 0, 1, 0, {0x2000, 0, 1, 100});
  EXPECT_EQ(describe(call),
            (Names{"waiters=@0x2000", "flags=@NULL", "nr_wake=1", "nr_requeue=100"}));
}

TEST(CallArgs, CallFd) {
  EXPECT_EQ(call_fd(test::lock_call(LT_SYS_FLOCK, 1, 1, 0, 1, 0, {7, 2})), 7);
  EXPECT_EQ(call_fd(test::lock_call(LT_SYS_FCNTL, 1, 1, 0, 1, 0, {9, 6})), 9);
  EXPECT_EQ(call_fd(futex(0)), -1);
  EXPECT_EQ(call_fd(test::lock_call(LT_SYS_FUTEX_WAIT, 1, 1, 0, 1, 0, {3})), -1);
}

TEST(CallArgs, CallPathFromFd) {
  TraceState state;
  state.apply(test::fd_path(60, 3, "/run/app.lock", 0x800001, 555));
  LockCall call = test::lock_call(LT_SYS_FLOCK, 60, 60, 0, 1, 0, {3, 2});
  EXPECT_EQ(call_path(call, state), "/run/app.lock");
}

TEST(CallArgs, CallPathFallsBackToInode) {
  // The caller was gone before its fd could be looked up; another process had
  // the same file open.
  TraceState state;
  state.apply(test::fd_path(50, 9, "/var/lock/shared", 0x800001, 4242));
  LockCall call = test::lock_call(LT_SYS_FCNTL, 60, 60, 0, 1, 0, {3, 6, 0});
  EXPECT_EQ(call_path(call, state), "");  // no kernel lock to know the inode by
  call.flags = LT_CALL_HAS_KLOCK;
  call.klock = test::kernel_lock(0x800001, 4242, 1, LT_FL_POSIX);
  EXPECT_EQ(call_path(call, state), "/var/lock/shared");
  call.klock.dev = 0x800002;  // same inode number, another device
  EXPECT_EQ(call_path(call, state), "");
}

TEST(CallArgs, CallPathOfFutexIsEmpty) {
  TraceState state;
  state.apply(test::fd_path(1, 0, "/dev/null", 5, 6));
  EXPECT_EQ(call_path(futex(0), state), "");
}

}  // namespace
}  // namespace locktrace
