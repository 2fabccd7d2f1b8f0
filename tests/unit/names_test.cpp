#include "names.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <utility>
#include <vector>

#include "events.hpp"

namespace locktrace {
namespace {

constexpr uint64_t kPrivate = 128;
constexpr uint64_t kClockRealtime = 256;

std::string futex_op(uint64_t op) {
  std::string out;
  append_futex_op(out, op);
  return out;
}

std::string futex2_flags(uint64_t flags) {
  std::string out;
  append_futex2_flags(out, flags);
  return out;
}

std::string flock_op(uint64_t op) {
  std::string out;
  append_flock_op(out, op);
  return out;
}

const std::vector<std::pair<uint64_t, std::string>> kFutexCommands = {
    {0, "FUTEX_WAIT"},         {1, "FUTEX_WAKE"},
    {2, "FUTEX_FD"},           {3, "FUTEX_REQUEUE"},
    {4, "FUTEX_CMP_REQUEUE"},  {5, "FUTEX_WAKE_OP"},
    {6, "FUTEX_LOCK_PI"},      {7, "FUTEX_UNLOCK_PI"},
    {8, "FUTEX_TRYLOCK_PI"},   {9, "FUTEX_WAIT_BITSET"},
    {10, "FUTEX_WAKE_BITSET"}, {11, "FUTEX_WAIT_REQUEUE_PI"},
    {12, "FUTEX_CMP_REQUEUE_PI"}, {13, "FUTEX_LOCK_PI2"},
};

TEST(Names, FutexCommandsPlain) {
  for (const auto& [op, name] : kFutexCommands) {
    EXPECT_EQ(futex_op(op), name);
    EXPECT_EQ(futex_cmd_name(op), name);
    EXPECT_FALSE(futex_op_is_private(op));
    EXPECT_FALSE(futex_op_is_clock_realtime(op));
  }
}

TEST(Names, FutexCommandsPrivate) {
  for (const auto& [op, name] : kFutexCommands) {
    EXPECT_EQ(futex_op(op | kPrivate), name + "_PRIVATE");
    EXPECT_EQ(futex_cmd_name(op | kPrivate), name);
    EXPECT_TRUE(futex_op_is_private(op | kPrivate));
  }
}

TEST(Names, FutexCommandsClockRealtime) {
  for (const auto& [op, name] : kFutexCommands) {
    EXPECT_EQ(futex_op(op | kClockRealtime), name + "|FUTEX_CLOCK_REALTIME");
    EXPECT_EQ(futex_op(op | kPrivate | kClockRealtime), name + "_PRIVATE|FUTEX_CLOCK_REALTIME");
    EXPECT_EQ(futex_cmd_name(op | kPrivate | kClockRealtime), name);
    EXPECT_TRUE(futex_op_is_clock_realtime(op | kClockRealtime));
  }
}

TEST(Names, FutexUnknownCommand) {
  EXPECT_EQ(futex_cmd_name(14), "");
  EXPECT_EQ(futex_op(14), "FUTEX_14");
  EXPECT_EQ(futex_op(14 | kPrivate), "FUTEX_14_PRIVATE");
  EXPECT_EQ(futex_op(99 | kPrivate | kClockRealtime), "FUTEX_99_PRIVATE|FUTEX_CLOCK_REALTIME");
}

TEST(Names, Futex2Flags) {
  EXPECT_EQ(futex2_flags(0x00), "FUTEX2_SIZE_U8");
  EXPECT_EQ(futex2_flags(0x01), "FUTEX2_SIZE_U16");
  EXPECT_EQ(futex2_flags(0x02), "FUTEX2_SIZE_U32");
  EXPECT_EQ(futex2_flags(0x03), "FUTEX2_SIZE_U64");
  EXPECT_EQ(futex2_flags(0x82), "FUTEX2_SIZE_U32|FUTEX2_PRIVATE");
  EXPECT_EQ(futex2_flags(0x86), "FUTEX2_SIZE_U32|FUTEX2_NUMA|FUTEX2_PRIVATE");
  EXPECT_EQ(futex2_flags(0x0a), "FUTEX2_SIZE_U32|FUTEX2_MPOL");
  EXPECT_EQ(futex2_flags(0x102), "FUTEX2_SIZE_U32|0x100");
  EXPECT_EQ(futex2_flags(0x182), "FUTEX2_SIZE_U32|FUTEX2_PRIVATE|0x100");
}

TEST(Names, FcntlLockCommands) {
  EXPECT_EQ(fcntl_cmd_name(5), "F_GETLK");
  EXPECT_EQ(fcntl_cmd_name(6), "F_SETLK");
  EXPECT_EQ(fcntl_cmd_name(7), "F_SETLKW");
  EXPECT_EQ(fcntl_cmd_name(36), "F_OFD_GETLK");
  EXPECT_EQ(fcntl_cmd_name(37), "F_OFD_SETLK");
  EXPECT_EQ(fcntl_cmd_name(38), "F_OFD_SETLKW");
  for (uint64_t cmd : {5, 6, 7}) EXPECT_FALSE(fcntl_cmd_is_ofd(cmd)) << cmd;
  for (uint64_t cmd : {36, 37, 38}) EXPECT_TRUE(fcntl_cmd_is_ofd(cmd)) << cmd;
}

TEST(Names, FcntlNonLockCommand) {
  EXPECT_EQ(fcntl_cmd_name(1), "");   // F_GETFD
  EXPECT_EQ(fcntl_cmd_name(4), "");   // F_SETFL
  EXPECT_EQ(fcntl_cmd_name(39), "");
  EXPECT_FALSE(fcntl_cmd_is_ofd(1));
  EXPECT_FALSE(fcntl_cmd_is_ofd(39));
}

TEST(Names, FlockOperations) {
  EXPECT_EQ(flock_op(1), "LOCK_SH");
  EXPECT_EQ(flock_op(2), "LOCK_EX");
  EXPECT_EQ(flock_op(8), "LOCK_UN");
  EXPECT_EQ(flock_op(4), "LOCK_NB");
  EXPECT_EQ(flock_op(1 | 4), "LOCK_SH|LOCK_NB");
  EXPECT_EQ(flock_op(2 | 4), "LOCK_EX|LOCK_NB");
  EXPECT_EQ(flock_op(8 | 4), "LOCK_UN|LOCK_NB");
}

TEST(Names, FlockUnknownBitsInHex) {
  EXPECT_EQ(flock_op(0), "0");
  EXPECT_EQ(flock_op(0x10), "0x10");
  EXPECT_EQ(flock_op(2 | 0x10), "LOCK_EX|0x10");
  EXPECT_EQ(flock_op(2 | 4 | 0x1000), "LOCK_EX|LOCK_NB|0x1000");
  EXPECT_EQ(flock_op(32 | 64), "LOCK_MAND|LOCK_READ");
}

TEST(Names, LockTypes) {
  EXPECT_EQ(lock_type_name(0), "F_RDLCK");
  EXPECT_EQ(lock_type_name(1), "F_WRLCK");
  EXPECT_EQ(lock_type_name(2), "F_UNLCK");
  EXPECT_EQ(lock_type_name(3), "");
  EXPECT_EQ(lock_type_name(-1), "");
}

TEST(Names, Whence) {
  EXPECT_EQ(whence_name(0), "SEEK_SET");
  EXPECT_EQ(whence_name(1), "SEEK_CUR");
  EXPECT_EQ(whence_name(2), "SEEK_END");
  EXPECT_EQ(whence_name(3), "");
}

TEST(Names, Clocks) {
  EXPECT_EQ(clock_name(0), "CLOCK_REALTIME");
  EXPECT_EQ(clock_name(1), "CLOCK_MONOTONIC");
  EXPECT_EQ(clock_name(7), "CLOCK_BOOTTIME");
  EXPECT_EQ(clock_name(11), "CLOCK_TAI");
  EXPECT_EQ(clock_name(2), "");
}

TEST(Names, LockKinds) {
  EXPECT_EQ(lock_kind_name(LT_FL_FLOCK), "flock");
  EXPECT_EQ(lock_kind_name(LT_FL_FLOCK | LT_FL_SLEEP), "flock");
  EXPECT_EQ(lock_kind_name(LT_FL_OFDLCK | LT_FL_POSIX), "ofd");
  EXPECT_EQ(lock_kind_name(LT_FL_POSIX), "posix");
  EXPECT_EQ(lock_kind_name(LT_FL_POSIX | LT_FL_SLEEP), "posix");
}

TEST(Names, ErrnoEagainSpelling) {
  EXPECT_EQ(errno_name(EAGAIN), "EAGAIN");
  EXPECT_EQ(errno_name(EAGAIN, false), "EAGAIN");
  EXPECT_EQ(errno_name(EAGAIN, true), "EWOULDBLOCK");
  // The flock spelling changes nothing but EAGAIN.
  EXPECT_EQ(errno_name(EINTR, true), "EINTR");
}

TEST(Names, ErrnoLockErrors) {
  EXPECT_EQ(errno_name(EDEADLK), "EDEADLK");
  EXPECT_EQ(errno_name(EINTR), "EINTR");
  EXPECT_EQ(errno_name(ETIMEDOUT), "ETIMEDOUT");
  EXPECT_EQ(errno_name(EOWNERDEAD), "EOWNERDEAD");
  EXPECT_EQ(errno_name(ENOLCK), "ENOLCK");
  EXPECT_EQ(errno_name(EBADF), "EBADF");
  EXPECT_EQ(errno_name(EINVAL), "EINVAL");
  EXPECT_EQ(errno_name(ESRCH), "ESRCH");
}

TEST(Names, ErrnoRestartCodes) {
  EXPECT_EQ(errno_name(512), "ERESTARTSYS");
  EXPECT_EQ(errno_name(513), "ERESTARTNOINTR");
  EXPECT_EQ(errno_name(514), "ERESTARTNOHAND");
  EXPECT_EQ(errno_name(515), "ENOIOCTLCMD");
  EXPECT_EQ(errno_name(516), "ERESTART_RESTARTBLOCK");
  EXPECT_EQ(errno_description(512), "To be restarted if SA_RESTART is set");
  EXPECT_EQ(errno_description(513), "To be restarted");
  EXPECT_EQ(errno_description(514), "To be restarted if no handler");
  EXPECT_EQ(errno_description(515), "No ioctl command");
  EXPECT_EQ(errno_description(516), "Interrupted by signal");
}

TEST(Names, ErrnoDescriptions) {
  EXPECT_EQ(errno_description(EAGAIN), "Resource temporarily unavailable");
  EXPECT_EQ(errno_description(EDEADLK), "Resource deadlock avoided");
  EXPECT_EQ(errno_description(EINTR), "Interrupted system call");
  EXPECT_EQ(errno_description(ETIMEDOUT), "Connection timed out");
  EXPECT_EQ(errno_description(EOWNERDEAD), "Owner died");
  EXPECT_EQ(errno_description(ENOLCK), "No locks available");
  EXPECT_EQ(errno_description(EBADF), "Bad file descriptor");
  EXPECT_EQ(errno_description(EINVAL), "Invalid argument");
}

TEST(Names, ErrnoUnknown) {
  EXPECT_EQ(errno_name(4000), "");
  EXPECT_EQ(errno_description(4000), "");
  EXPECT_EQ(errno_name(517), "");
}

TEST(Names, SignalNames) {
  EXPECT_EQ(signal_name(SIGHUP), "SIGHUP");
  EXPECT_EQ(signal_name(SIGABRT), "SIGABRT");
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(signal_name(SIGSEGV), "SIGSEGV");
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGSYS), "SIGSYS");
}

TEST(Names, SignalOutOfRange) {
  EXPECT_EQ(signal_name(0), "");
  EXPECT_EQ(signal_name(-1), "");
  EXPECT_EQ(signal_name(65), "");
}

TEST(Names, SignalNamesRealtime) {
  // A task killed by a real-time signal (SIGRTMIN is 34 in the kernel's
  // numbering) should still be named: an empty name reads "killed by  +++".
  for (int sig = 34; sig <= 64; sig++) EXPECT_FALSE(signal_name(sig).empty()) << sig;
}

TEST(Names, ExitCodeStatus) {
  ExitStatus s = decode_exit_code(3 << 8);
  EXPECT_EQ(s.status, 3);
  EXPECT_EQ(s.signal, 0);
  EXPECT_FALSE(s.core_dumped);

  s = decode_exit_code(0);
  EXPECT_EQ(s.status, 0);
  EXPECT_EQ(s.signal, 0);

  s = decode_exit_code(255 << 8);
  EXPECT_EQ(s.status, 255);
  EXPECT_EQ(s.signal, 0);
}

TEST(Names, ExitCodeSignal) {
  ExitStatus s = decode_exit_code(SIGKILL);
  EXPECT_EQ(s.signal, SIGKILL);
  EXPECT_FALSE(s.core_dumped);
}

TEST(Names, ExitCodeCoreDump) {
  ExitStatus s = decode_exit_code(SIGSEGV | 0x80);
  EXPECT_EQ(s.signal, SIGSEGV);
  EXPECT_TRUE(s.core_dumped);
}

}  // namespace
}  // namespace locktrace
