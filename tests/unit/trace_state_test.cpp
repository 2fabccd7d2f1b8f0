#include "trace_state.hpp"

#include <gtest/gtest.h>

#include <sys/sysmacros.h>

#include "event_builders.hpp"

namespace locktrace {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

TEST(TraceState, UnknownIsQuestionMark) {
  TraceState state;
  EXPECT_EQ(state.comm(1, 1), "?");
  EXPECT_EQ(state.process(1), nullptr);
  EXPECT_FALSE(state.knows_thread(1));
  EXPECT_EQ(state.process_count(), 0u);
}

TEST(TraceState, ProcessInfo) {
  TraceState state;
  ProcessInfo info = test::process_info(100, "server", 1);
  info.start_time_ticks = 12345;
  info.cmdline = "server --port 80";
  info.exe = "/usr/sbin/server";
  state.apply(info);
  const ProcessRecord* p = state.process(100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->pid, 100u);
  EXPECT_EQ(p->ppid, 1u);
  EXPECT_EQ(p->start_time_ticks, 12345u);
  EXPECT_EQ(p->comm, "server");
  EXPECT_EQ(p->cmdline, "server --port 80");
  EXPECT_EQ(p->exe, "/usr/sbin/server");
  EXPECT_EQ(p->exited_ts_ns, 0u);
  EXPECT_TRUE(state.knows_thread(100));
  EXPECT_EQ(state.comm(100, 100), "server");
  // A thread nobody named yet takes its process's name.
  EXPECT_EQ(state.comm(100, 101), "server");
}

TEST(TraceState, ThreadInfoNamesTheThreadOnly) {
  TraceState state;
  state.apply(test::process_info(100, "server"));
  state.apply(test::thread_info(100, 101, "worker-1"));
  EXPECT_EQ(state.comm(100, 101), "worker-1");
  EXPECT_EQ(state.comm(100, 100), "server");
  EXPECT_EQ(state.process(100)->comm, "server");
}

TEST(TraceState, ForkThread) {
  TraceState state;
  state.apply(test::process_info(100, "server"));
  state.apply(test::fd_path(100, 3, "/tmp/a", 5, 10));
  state.apply(test::fork_event(1, 100, 100, 100, 105, "server"));
  EXPECT_TRUE(state.knows_thread(105));
  EXPECT_EQ(state.comm(100, 105), "server");
  EXPECT_EQ(state.process_count(), 1u);
  EXPECT_EQ(state.process(105), nullptr);
  EXPECT_FALSE(state.knows_fd(105, 3));  // threads share the process's table, keyed by pid
  EXPECT_EQ(state.fd_path(100, 3), "/tmp/a");
}

TEST(TraceState, ForkProcessCopiesIdentityAndFds) {
  TraceState state;
  ProcessInfo info = test::process_info(100, "server", 1);
  info.start_time_ticks = 777;
  info.cmdline = "server -d";
  info.exe = "/usr/sbin/server";
  state.apply(info);
  state.apply(test::fd_path(100, 3, "/tmp/a", 5, 10));
  state.apply(test::fd_path(100, 4, "/tmp/b", 5, 11));
  state.apply(test::fd_path(300, 3, "/tmp/other", 5, 12));
  state.apply(test::fork_event(1, 100, 101, 200, 200, "server"));

  const ProcessRecord* child = state.process(200);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->pid, 200u);
  EXPECT_EQ(child->ppid, 100u);
  EXPECT_EQ(child->comm, "server");
  EXPECT_EQ(child->cmdline, "server -d");
  EXPECT_EQ(child->exe, "/usr/sbin/server");
  EXPECT_EQ(child->start_time_ticks, 0u);
  EXPECT_EQ(state.comm(200, 200), "server");
  EXPECT_EQ(state.fd_path(200, 3), "/tmp/a");
  EXPECT_EQ(state.fd_path(200, 4), "/tmp/b");
  EXPECT_EQ(state.fd_inode(200, 4), 11u);
  EXPECT_EQ(state.fd_path(100, 3), "/tmp/a");  // the parent keeps its own
  EXPECT_EQ(state.process(100)->comm, "server");
}

TEST(TraceState, ForkFromUnknownParent) {
  TraceState state;
  state.apply(test::fork_event(1, 100, 100, 200, 201, "kid"));
  const ProcessRecord* child = state.process(200);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->ppid, 100u);
  EXPECT_EQ(child->comm, "kid");
  EXPECT_EQ(state.comm(200, 201), "kid");
}

TEST(TraceState, ExecRenamesTheProcessAndDropsTheOldThreadId) {
  TraceState state;
  state.apply(test::process_info(100, "bash"));
  state.apply(test::thread_info(100, 103, "bash"));
  // A non-leader thread exec'd: it takes the pid, its old tid disappears.
  state.apply(test::exec_event(1, 100, 103, "sleep", "/usr/bin/sleep"));
  EXPECT_EQ(state.process(100)->comm, "sleep");
  EXPECT_EQ(state.process(100)->exe, "/usr/bin/sleep");
  EXPECT_EQ(state.comm(100, 100), "sleep");
  EXPECT_FALSE(state.knows_thread(103));
}

TEST(TraceState, ExecOfUnknownProcess) {
  TraceState state;
  state.apply(test::exec_event(1, 100, 100, "ls", "/bin/ls"));
  ASSERT_NE(state.process(100), nullptr);
  EXPECT_EQ(state.process(100)->pid, 100u);
  EXPECT_EQ(state.comm(100, 100), "ls");
}

TEST(TraceState, RenameChangesTheThreadOnly) {
  TraceState state;
  state.apply(test::process_info(100, "server"));
  state.apply(test::rename_event(1, 100, 101, "io-worker"));
  EXPECT_EQ(state.comm(100, 101), "io-worker");
  EXPECT_EQ(state.comm(100, 100), "server");
  state.apply(test::rename_event(2, 100, 100, "main"));
  EXPECT_EQ(state.comm(100, 100), "main");
}

TEST(TraceState, ThreadExitKeepsTheNameForAWhile) {
  TraceState state;
  state.apply(test::process_info(100, "server"));
  state.apply(test::thread_info(100, 101, "worker"));
  state.apply(test::fd_path(100, 3, "/tmp/a"));
  state.apply(test::task_exit(kSecond, 100, 101, 0, false, "worker"));
  // Reports written after the thread ended still name it.
  EXPECT_EQ(state.comm(100, 101), "worker");
  EXPECT_EQ(state.fd_path(100, 3), "/tmp/a");  // the process lives on
  EXPECT_EQ(state.process(100)->exited_ts_ns, 0u);
  // Later exits retire names older than the retention period.
  state.apply(test::thread_info(100, 102, "other"));
  state.apply(test::task_exit(kSecond + 11'000'000'000, 100, 102, 0, false, "other"));
  EXPECT_FALSE(state.knows_thread(101));
  EXPECT_EQ(state.comm(100, 101), "server");
}

TEST(TraceState, ProcessExitKeepsTheNameAndDropsFds) {
  TraceState state;
  state.apply(test::process_info(100, "server"));
  state.apply(test::fd_path(100, 3, "/tmp/a", 5, 10));
  state.apply(test::task_exit(2 * kSecond, 100, 100, 0, true, "server"));
  // Later events (lock releases at close, reaping) still name the process.
  ASSERT_NE(state.process(100), nullptr);
  EXPECT_EQ(state.process(100)->exited_ts_ns, 2 * kSecond);
  EXPECT_EQ(state.comm(100, 100), "server");
  EXPECT_FALSE(state.knows_fd(100, 3));
  EXPECT_EQ(state.fd_path(100, 3), "");
  EXPECT_EQ(state.fd_inode(100, 3), 0u);
  // The inode keeps its last known path for other processes' locks on it.
  EXPECT_EQ(state.inode_path(5, 10), "/tmp/a");
}

TEST(TraceState, ExitedProcessesExpireAfterRetention) {
  TraceState state;
  state.apply(test::process_info(100, "old"));
  state.apply(test::process_info(200, "young"));
  state.apply(test::task_exit(1 * kSecond, 100, 100, 0, true, "old"));
  state.apply(test::task_exit(5 * kSecond, 200, 200, 0, true, "young"));
  EXPECT_EQ(state.comm(100, 100), "old");  // 4 s after its exit
  state.apply(test::process_info(300, "later"));
  state.apply(test::task_exit(12 * kSecond, 300, 300, 0, true, "later"));
  EXPECT_EQ(state.process(100), nullptr);  // 11 s: gone
  EXPECT_EQ(state.comm(100, 100), "?");
  EXPECT_EQ(state.comm(200, 200), "young");  // 7 s: kept
}

TEST(TraceState, RecycledPidSurvivesTheOldExpiry) {
  TraceState state;
  state.apply(test::process_info(100, "first"));
  state.apply(test::task_exit(1 * kSecond, 100, 100, 0, true, "first"));
  state.apply(test::process_info(100, "second"));  // the pid came back
  state.apply(test::process_info(300, "other"));
  state.apply(test::task_exit(20 * kSecond, 300, 300, 0, true, "other"));
  ASSERT_NE(state.process(100), nullptr);
  EXPECT_EQ(state.process(100)->comm, "second");
}

TEST(TraceState, RecycledPidTakesTheNewName) {
  // The old process's exit keeps its main thread's name for later events; when
  // /proc then reports a new process under the same pid, the new name wins.
  TraceState state;
  state.apply(test::process_info(100, "first"));
  state.apply(test::task_exit(1 * kSecond, 100, 100, 0, true, "first"));
  state.apply(test::process_info(100, "second", 1, 2 * kSecond));
  ASSERT_NE(state.process(100), nullptr);
  EXPECT_EQ(state.process(100)->comm, "second");
  EXPECT_EQ(state.comm(100, 100), "second");
}

TEST(TraceState, FdPathAndInode) {
  TraceState state;
  state.apply(test::fd_path(100, 3, "/var/lock/a", 0x800001, 4242));
  EXPECT_TRUE(state.knows_fd(100, 3));
  EXPECT_EQ(state.fd_path(100, 3), "/var/lock/a");
  EXPECT_EQ(state.fd_inode(100, 3), 4242u);
  EXPECT_EQ(state.inode_path(0x800001, 4242), "/var/lock/a");
  EXPECT_EQ(state.inode_path(0x800002, 4242), "");
  EXPECT_FALSE(state.knows_fd(100, 4));
  EXPECT_FALSE(state.knows_fd(101, 3));
  EXPECT_EQ(state.fd_inode(100, 4), 0u);
}

TEST(TraceState, FdWithoutInodeIsNotIndexed) {
  TraceState state;
  state.apply(test::fd_path(100, 3, "socket:[1]", 0, 0));
  EXPECT_EQ(state.fd_path(100, 3), "socket:[1]");
  EXPECT_EQ(state.inode_path(0, 0), "");
}

TEST(TraceState, FdReusedForAnotherFile) {
  TraceState state;
  state.apply(test::fd_path(100, 3, "/tmp/a", 5, 10));
  state.apply(test::fd_path(100, 3, "/tmp/b", 5, 11));
  EXPECT_EQ(state.fd_path(100, 3), "/tmp/b");
  EXPECT_EQ(state.fd_inode(100, 3), 11u);
  EXPECT_EQ(state.inode_path(5, 10), "/tmp/a");
}

TEST(TraceState, NegativeFdDoesNotCollide) {
  TraceState state;
  state.apply(test::fd_path(100, -1, "/weird"));
  EXPECT_EQ(state.fd_path(101, -1), "");
  EXPECT_EQ(state.fd_path(100, -1), "/weird");
}

TEST(TraceState, KernelDevEncoding) {
  EXPECT_EQ(kernel_dev(makedev(8, 1)), (8u << 20) | 1);
  EXPECT_EQ(kernel_dev(makedev(259, 3)), (259u << 20) | 3);
  EXPECT_EQ(kernel_dev(makedev(0, 0x12345)), 0x12345u);
}

}  // namespace
}  // namespace locktrace
