#include "text_sink.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "event_builders.hpp"
#include "pipeline.hpp"

namespace locktrace {
namespace {

constexpr uint32_t kDev = (8u << 20) | 1;
constexpr uint64_t kTs = 1'234'567'891;  // 23:13:21.234567 in the fixed stream's zone

class TextRun {
 public:
  explicit TextRun(bool colour = false, EventFilter filter = {})
      : sink_(out_.file(), std::move(filter), colour) {
    pipeline_.add_sink(sink_);
    pipeline_.start(test::fixed_stream_info());
  }
  void push(const Event& event) { pipeline_.push(event); }
  std::vector<std::string> lines() {
    pipeline_.flush();
    return out_.lines();
  }

 private:
  test::MemoryStream out_;
  TextSink sink_;
  Pipeline pipeline_;
};

using Lines = std::vector<std::string>;

TEST(TextSink, FlockWouldBlock) {
  TextRun run;
  run.push(test::process_info(100, "flocker"));
  run.push(test::fd_path(100, 3, "/tmp/x.lock", kDev, 77));
  run.push(test::lock_call(LT_SYS_FLOCK, 100, 100, kTs - 12'000, kTs, -11, {3, 2 | 4}));
  EXPECT_EQ(run.lines(),
            (Lines{"23:13:21.234567 flocker[100]            flock(3</tmp/x.lock>, LOCK_EX|LOCK_NB) "
                   "= -1 EWOULDBLOCK (Resource temporarily unavailable) <0.000012>"}));
}

TEST(TextSink, WaitWithBlocker) {
  TextRun run;
  run.push(test::process_info(100, "app"));
  run.push(test::thread_info(100, 101, "writer"));
  run.push(test::process_info(200, "holder"));
  run.push(test::fd_path(100, 4, "/data/db", kDev, 4242));
  LockCall call = test::lock_call(LT_SYS_FCNTL, 100, 101, kTs, kTs, 0, {4, 7, 0x7ffd0000});
  call.flags = LT_CALL_HAS_FLOCK | LT_CALL_HAS_KLOCK | LT_CALL_HAS_BLOCKER;
  call.user_flock = {.start = 100, .len = 100, .pid = 0, .type = 1, .whence = 0};
  call.klock = test::with_blocker(test::kernel_lock(kDev, 4242, 1, LT_FL_POSIX, 100, 199), 200, 0,
                                  LT_FL_POSIX);
  run.push(test::waiting(call, kTs));
  EXPECT_EQ(run.lines(),
            (Lines{"23:13:21.234567 writer[100/101]         fcntl(4</data/db>, F_SETLKW, "
                   "{l_type=F_WRLCK, l_whence=SEEK_SET, l_start=100, l_len=100}) ... waiting, "
                   "blocked by F_RDLCK posix lock of pid 200 (holder)"}));
}

TEST(TextSink, WaitWithUnknownBlockerOmitsItsName) {
  TextRun run;
  LockCall call = test::lock_call(LT_SYS_FLOCK, 100, 100, kTs, kTs, 0, {3, 2});
  call.flags = LT_CALL_HAS_KLOCK | LT_CALL_HAS_BLOCKER;
  call.klock = test::with_blocker(test::kernel_lock(kDev, 9, 1, LT_FL_FLOCK), 300, 1, LT_FL_FLOCK);
  run.push(test::waiting(call, kTs));
  EXPECT_EQ(run.lines(), (Lines{"23:13:21.234567 ?[100]                  flock(3, LOCK_EX) ... "
                                "waiting, blocked by F_WRLCK flock lock of pid 300"}));
}

TEST(TextSink, FutexWait) {
  TextRun run;
  run.push(test::process_info(100, "app"));
  run.push(test::lock_call(LT_SYS_FUTEX, 100, 100, kTs - 2'000'000, kTs, 0,
                           {0x7f0000001000, 128, 2, 0}));
  EXPECT_EQ(run.lines(), (Lines{"23:13:21.234567 app[100]                futex(0x7f0000001000, "
                                "FUTEX_WAIT_PRIVATE, 2, NULL) = 0 <0.002000>"}));
}

TEST(TextSink, TaskKilledBySigkill) {
  TextRun run;
  run.push(test::process_info(100, "victim"));
  run.push(test::thread_info(100, 101, "victim-t"));
  run.push(test::task_exit(kTs, 100, 101, 9, false, "victim-t"));
  run.push(test::task_exit(kTs, 100, 100, 9, true, "victim"));
  EXPECT_EQ(run.lines(),
            (Lines{"23:13:21.234567 victim-t[100/101]       +++ thread killed by SIGKILL +++",
                   "23:13:21.234567 victim[100]             +++ killed by SIGKILL +++"}));
}

TEST(TextSink, TaskExitStatusAndCoreDump) {
  TextRun run;
  run.push(test::task_exit(kTs, 100, 100, 3 << 8, true, "x"));
  run.push(test::task_exit(kTs, 200, 200, 11 | 0x80, true, "y"));
  EXPECT_EQ(run.lines(),
            (Lines{"23:13:21.234567 x[100]                  +++ exited with 3 +++",
                   "23:13:21.234567 y[200]                  +++ killed by SIGSEGV (core dumped) +++"}));
}

TEST(TextSink, LifecycleEvents) {
  TextRun run;
  run.push(test::process_info(100, "sh"));
  run.push(test::exit_call(kTs, 100, 100, 3, true));
  run.push(test::exit_call(kTs, 100, 100, 0, false));
  run.push(test::fork_event(kTs, 100, 100, 200, 200, "sh"));
  run.push(test::fork_event(kTs, 100, 100, 100, 105, "sh"));
  run.push(test::exec_event(kTs, 100, 100, "sleep", "/usr/bin/sleep"));
  run.push(test::rename_event(kTs, 100, 100, "renamed"));
  EXPECT_EQ(run.lines(), (Lines{
                             "23:13:21.234567 sh[100]                 exit_group(3) = ?",
                             "23:13:21.234567 sh[100]                 exit(0) = ?",
                             "23:13:21.234567 sh[100]                 --- new process 200 ---",
                             "23:13:21.234567 sh[100]                 --- new thread 105 ---",
                             "23:13:21.234567 sh[100]                 --- exec /usr/bin/sleep ---",
                             "23:13:21.234567 sleep[100]              --- renamed to renamed ---",
                         }));
}

TEST(TextSink, FileLockReleaseAndRemovePosixHidden) {
  TextRun run;
  run.push(test::fd_path(100, 5, "/tmp/held", kDev, 31));
  run.push(test::file_lock(kTs, 100, 100, test::kernel_lock(kDev, 31, 2, LT_FL_POSIX),
                           LT_TP_LOCKS_REMOVE_POSIX));
  run.push(test::file_lock(kTs, 100, 100, test::kernel_lock(kDev, 31, 2, LT_FL_FLOCK),
                           LT_TP_FLOCK_LOCK_INODE));
  FileLock failed = test::file_lock(kTs, 100, 100, test::kernel_lock(kDev, 32, 1, LT_FL_POSIX, 0, 9),
                                    LT_TP_POSIX_LOCK_INODE);
  failed.klock.ret = -11;
  run.push(failed);
  EXPECT_EQ(run.lines(),
            (Lines{"23:13:21.234567 ?[100]                  --- released at close: F_UNLCK flock "
                   "/tmp/held ---",
                   "23:13:21.234567 ?[100]                  --- lock F_WRLCK posix dev 8:1 ino 32 "
                   "0-9 = -11 ---"}));
}

TEST(TextSink, LongNameKeepsOneSpace) {
  TextRun run;
  run.push(test::process_info(1234567, "a-fifteen-chars"));
  run.push(test::exit_call(kTs, 1234567, 1234568, 0, false));
  EXPECT_EQ(run.lines(), (Lines{"23:13:21.234567 a-fifteen-chars[1234567/1234568] exit(0) = ?"}));
}

TEST(TextSink, MetadataWritesNothing) {
  TextRun run;
  run.push(test::process_info(100, "p"));
  run.push(test::fd_path(100, 3, "/tmp/x"));
  EXPECT_TRUE(run.lines().empty());
}

TEST(TextSink, ColourAddsAnsiCodes) {
  TextRun run(true);
  run.push(test::process_info(100, "flocker"));
  run.push(test::lock_call(LT_SYS_FLOCK, 100, 100, kTs - 12'000, kTs, -11, {3, 2 | 4}));
  LockCall call = test::lock_call(LT_SYS_FLOCK, 100, 100, kTs, kTs, 0, {3, 2});
  run.push(test::waiting(call, kTs));
  run.push(test::task_exit(kTs, 100, 100, 9, true, "flocker"));
  EXPECT_EQ(run.lines(),
            (Lines{"\x1b[2m23:13:21.234567\x1b[0m flocker[100]            flock(3, LOCK_EX|LOCK_NB) "
                   "= \x1b[31m-1 EWOULDBLOCK (Resource temporarily unavailable)\x1b[0m <0.000012>",
                   "\x1b[2m23:13:21.234567\x1b[0m flocker[100]            flock(3, LOCK_EX)"
                   "\x1b[33m ... waiting\x1b[0m",
                   "\x1b[2m23:13:21.234567\x1b[0m flocker[100]            +++ \x1b[31mkilled by "
                   "SIGKILL\x1b[0m +++"}));
}

TEST(TextSink, ControlCharactersFromTheTraceAreNotWrittenRaw) {
  // comm (prctl PR_SET_NAME), exec file names and fd paths are chosen by the traced
  // program: written raw, a newline splits the event and ESC drives the terminal.
  TextRun run;
  run.push(test::process_info(100, "evil\n\x1b[2J"));
  run.push(test::fd_path(100, 3, "/tmp/a\rb", kDev, 1));
  run.push(test::lock_call(LT_SYS_FLOCK, 100, 100, kTs, kTs, 0, {3, 2}));
  run.push(test::rename_event(kTs, 100, 100, "x\x1b]0;pwn\x07"));
  auto lines = run.lines();
  bool clean = lines.size() == 2;
  for (const auto& line : lines)
    for (unsigned char c : line) clean = clean && c >= 0x20 && c != 0x7f;
  EXPECT_TRUE(clean);
}

TEST(TextSink, ColourOffHasNoEscapes) {
  TextRun run(false);
  run.push(test::lock_call(LT_SYS_FLOCK, 100, 100, kTs - 12'000, kTs, -11, {3, 2 | 4}));
  run.push(test::task_exit(kTs, 100, 100, 9, true, "flocker"));
  for (const auto& line : run.lines()) EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
}

}  // namespace
}  // namespace locktrace
