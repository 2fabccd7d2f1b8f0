#include "json_sink.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "event_builders.hpp"
#include "pipeline.hpp"

namespace locktrace {
namespace {

using nlohmann::json;
using Keys = std::vector<std::string>;

constexpr uint32_t kDev = (8u << 20) | 1;  // 8:1
// 1'234'567'891 ns after the fixed stream's monotonic zero, one hour east of UTC.
constexpr uint64_t kTs = 1'234'567'891;
constexpr const char* kTime = "2023-11-14T23:13:21.234567+01:00";

// A pipeline writing JSON lines to memory, with the fixed stream info.
class JsonRun {
 public:
  explicit JsonRun(EventFilter filter = {}, StreamInfo info = test::fixed_stream_info())
      : sink_(out_.file(), std::move(filter)) {
    pipeline_.add_sink(sink_);
    pipeline_.start(info);
  }

  void push(const Event& event) { pipeline_.push(event); }

  std::vector<std::string> raw_lines() {
    pipeline_.flush();
    return out_.lines();
  }

  std::vector<json> lines() {
    std::vector<json> parsed;
    for (const auto& line : raw_lines()) parsed.push_back(json::parse(line));
    return parsed;
  }

  // The one line the events so far produced.
  json only_line() {
    auto all = lines();
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? json{} : all.back();
  }

 private:
  test::MemoryStream out_;
  JsonSink sink_;
  Pipeline pipeline_;
};

Keys keys_of(const json& object) {
  Keys keys;
  for (const auto& item : object.items()) keys.push_back(item.key());
  std::sort(keys.begin(), keys.end());
  return keys;
}

Keys with_header(Keys keys) {
  for (const char* k : {"event", "ts_ns", "time", "cpu", "pid", "tid", "comm"}) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

void expect_header(const json& line, std::string_view event, uint32_t pid, uint32_t tid,
                   std::string_view comm) {
  EXPECT_EQ(line["event"], std::string(event));
  EXPECT_EQ(line["ts_ns"], kTs);
  EXPECT_EQ(line["time"], kTime);
  EXPECT_EQ(line["cpu"], 3);
  EXPECT_EQ(line["pid"], pid);
  EXPECT_EQ(line["tid"], tid);
  EXPECT_EQ(line["comm"], std::string(comm));
}

LockCall flock_nb_failure() {
  LockCall call = test::lock_call(LT_SYS_FLOCK, 100, 100, kTs - 12'000, kTs, -11, {3, 2 | 4});
  call.h.cpu = 3;
  return call;
}

TEST(JsonSink, LockCallFailure) {
  JsonRun run;
  run.push(test::process_info(100, "flocker"));
  run.push(test::fd_path(100, 3, "/tmp/x.lock", kDev, 77));
  run.push(flock_nb_failure());
  json line = run.only_line();
  EXPECT_EQ(keys_of(line), with_header({"syscall", "phase", "args", "enter_ts_ns", "entered_before_trace", "may_block",
                                        "blocked", "ret", "duration_ns", "errno", "errno_name",
                                        "error"}));
  expect_header(line, "lock_call", 100, 100, "flocker");
  EXPECT_EQ(line["syscall"], "flock");
  EXPECT_EQ(line["phase"], "done");
  EXPECT_EQ(line["args"], json::parse(R"({"fd":3,"path":"/tmp/x.lock","operation":"LOCK_EX|LOCK_NB"})"));
  EXPECT_EQ(line["enter_ts_ns"], kTs - 12'000);
  EXPECT_EQ(line["may_block"], false);
  EXPECT_EQ(line["blocked"], false);
  EXPECT_EQ(line["ret"], -11);
  EXPECT_EQ(line["duration_ns"], 12'000);
  EXPECT_EQ(line["errno"], 11);
  EXPECT_EQ(line["errno_name"], "EWOULDBLOCK");
  EXPECT_EQ(line["error"], "Resource temporarily unavailable");
}

TEST(JsonSink, LockCallSuccessHasNoErrorFields) {
  JsonRun run;
  LockCall call = test::lock_call(LT_SYS_FCNTL, 100, 101, kTs - 500, kTs, 0, {4, 6, 0x7ffd0000});
  call.h.cpu = 3;
  call.flags = LT_CALL_HAS_FLOCK;
  call.user_flock = {.start = 0, .len = 0, .pid = 0, .type = 1, .whence = 0};
  run.push(call);
  json line = run.only_line();
  EXPECT_EQ(keys_of(line), with_header({"syscall", "phase", "args", "enter_ts_ns", "entered_before_trace", "may_block",
                                        "blocked", "ret", "duration_ns"}));
  expect_header(line, "lock_call", 100, 101, "?");
  EXPECT_EQ(line["syscall"], "fcntl");
  EXPECT_EQ(line["ret"], 0);
  EXPECT_EQ(line["duration_ns"], 500);
  EXPECT_EQ(line["args"], json::parse(R"({"fd":4,"path":null,"cmd":"F_SETLK",
      "lock":{"type":"F_WRLCK","whence":"SEEK_SET","start":0,"len":0,"pid":0}})"));
}

TEST(JsonSink, LockCallFcntlAddressAndUnknownSymbols) {
  JsonRun run;
  LockCall call = test::lock_call(LT_SYS_FCNTL, 100, 100, kTs, kTs, -14, {4, 7, 0x7ffd0000});
  call.flags = LT_CALL_MAY_BLOCK;
  run.push(call);
  call.flags = LT_CALL_HAS_FLOCK;
  call.user_flock = {.start = 5, .len = -1, .pid = 42, .type = 9, .whence = 7};
  run.push(call);
  auto lines = run.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["args"]["lock"], "0x7ffd0000");
  EXPECT_EQ(lines[0]["may_block"], true);
  EXPECT_EQ(lines[0]["errno_name"], "EFAULT");  // fcntl spells nothing differently
  EXPECT_EQ(lines[1]["args"]["lock"],
            json::parse(R"({"type":9,"whence":7,"start":5,"len":-1,"pid":42})"));
}

TEST(JsonSink, LockCallWaitWithBlocker) {
  JsonRun run;
  run.push(test::process_info(100, "writer"));
  run.push(test::process_info(200, "holder"));
  run.push(test::fd_path(100, 4, "/data/db", kDev, 4242));
  LockCall call = test::lock_call(LT_SYS_FCNTL, 100, 100, kTs, kTs, 0, {4, 7, 0x7ffd0000});
  call.h.cpu = 3;
  call.flags = LT_CALL_HAS_FLOCK | LT_CALL_HAS_KLOCK | LT_CALL_HAS_BLOCKER;
  call.user_flock = {.start = 100, .len = 100, .pid = 0, .type = 1, .whence = 0};
  call.klock = test::with_blocker(test::kernel_lock(kDev, 4242, 1, LT_FL_POSIX | LT_FL_SLEEP, 100, 199),
                                  200, 0, LT_FL_POSIX, 0, INT64_MAX);
  run.push(test::waiting(call, kTs));
  json line = run.only_line();
  EXPECT_EQ(keys_of(line), with_header({"syscall", "phase", "args", "enter_ts_ns", "entered_before_trace", "may_block",
                                        "blocked", "lock", "blocker"}));
  expect_header(line, "lock_call", 100, 100, "writer");
  EXPECT_EQ(line["phase"], "wait");
  EXPECT_EQ(line["may_block"], true);
  EXPECT_EQ(line["blocked"], true);
  EXPECT_EQ(line["lock"], json::parse(R"({"kind":"posix","type":"F_WRLCK","dev":"8:1","ino":4242,
      "path":"/data/db","start":100,"end":199})"));
  EXPECT_EQ(line["blocker"], json::parse(R"({"pid":200,"comm":"holder","kind":"posix",
      "type":"F_RDLCK","start":0,"end":null})"));
}

TEST(JsonSink, BlockerUnknownProcessHasNullComm) {
  JsonRun run;
  LockCall call = test::lock_call(LT_SYS_FLOCK, 100, 100, kTs, kTs, 0, {3, 2});
  call.flags = LT_CALL_HAS_KLOCK | LT_CALL_HAS_BLOCKER | LT_CALL_MAY_BLOCK;
  call.klock = test::with_blocker(test::kernel_lock(kDev, 9, 1, LT_FL_FLOCK), 300, 1, LT_FL_FLOCK);
  run.push(test::waiting(call, kTs));
  json line = run.only_line();
  EXPECT_EQ(line["lock"]["kind"], "flock");
  EXPECT_EQ(line["lock"]["path"], nullptr);
  EXPECT_EQ(line["lock"]["end"], nullptr);
  EXPECT_EQ(line["blocker"]["pid"], 300);
  EXPECT_EQ(line["blocker"]["comm"], nullptr);
  EXPECT_EQ(line["blocker"]["kind"], "flock");
  EXPECT_EQ(line["blocker"]["type"], "F_WRLCK");
}

TEST(JsonSink, FutexWordAndArgs) {
  JsonRun run;
  LockCall call = test::lock_call(LT_SYS_FUTEX, 100, 102, kTs - 2'000'000, kTs, -110,
                                  {0x7f0000001000, 9 | 128, 2, 0x7ffc0000, 0, 0xffffffff});
  call.flags = LT_CALL_HAS_WORD | LT_CALL_MAY_BLOCK | LT_CALL_BLOCKED;
  call.futex_word = 2;
  run.push(call);
  json line = run.only_line();
  EXPECT_EQ(keys_of(line), with_header({"syscall", "phase", "args", "enter_ts_ns", "entered_before_trace", "may_block",
                                        "blocked", "ret", "duration_ns", "errno", "errno_name",
                                        "error", "futex_word"}));
  EXPECT_EQ(line["futex_word"], 2);
  EXPECT_EQ(line["errno_name"], "ETIMEDOUT");
  EXPECT_EQ(line["duration_ns"], 2'000'000);
  EXPECT_EQ(line["args"], json::parse(R"({"uaddr":"0x7f0000001000","op":"FUTEX_WAIT_BITSET_PRIVATE",
      "val":2,"timeout":"0x7ffc0000","val3":"0xffffffff"})"));
}

TEST(JsonSink, EagainOutsideFlockKeepsItsName) {
  JsonRun run;
  run.push(test::lock_call(LT_SYS_FUTEX, 1, 1, kTs, kTs, -11, {0x1000, 128, 1, 0}));
  EXPECT_EQ(run.only_line()["errno_name"], "EAGAIN");
}

TEST(JsonSink, RestartCodeIsAnError) {
  JsonRun run;
  run.push(test::lock_call(LT_SYS_FLOCK, 1, 1, kTs, kTs, -512, {3, 2}));
  json line = run.only_line();
  EXPECT_EQ(line["errno"], 512);
  EXPECT_EQ(line["errno_name"], "ERESTARTSYS");
  EXPECT_EQ(line["error"], "To be restarted if SA_RESTART is set");
}

TEST(JsonSink, FileLock) {
  JsonRun run;
  run.push(test::process_info(100, "closer"));
  run.push(test::fd_path(100, 5, "/tmp/held", kDev, 31));
  FileLock lock = test::file_lock(kTs, 100, 100, test::kernel_lock(kDev, 31, 2, LT_FL_POSIX, 0, INT64_MAX),
                                  LT_TP_LOCKS_REMOVE_POSIX);
  lock.h.cpu = 3;
  run.push(lock);
  json line = run.only_line();
  EXPECT_EQ(keys_of(line), with_header({"tracepoint", "ret", "lock"}));
  expect_header(line, "file_lock", 100, 100, "closer");
  EXPECT_EQ(line["tracepoint"], "locks_remove_posix");
  EXPECT_EQ(line["ret"], 0);
  EXPECT_EQ(line["lock"], json::parse(R"({"kind":"posix","type":"F_UNLCK","dev":"8:1","ino":31,
      "path":"/tmp/held","start":0,"end":null})"));
}

TEST(JsonSink, FileLockTracepointNames) {
  JsonRun run;
  for (uint8_t tp : {LT_TP_POSIX_LOCK_INODE, LT_TP_FLOCK_LOCK_INODE, LT_TP_FCNTL_SETLK, 0})
    run.push(test::file_lock(kTs, 1, 1, test::kernel_lock(kDev, 1, 1, LT_FL_OFDLCK), tp));
  auto lines = run.lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0]["tracepoint"], "posix_lock_inode");
  EXPECT_EQ(lines[1]["tracepoint"], "flock_lock_inode");
  EXPECT_EQ(lines[2]["tracepoint"], "fcntl_setlk");
  EXPECT_EQ(lines[3]["tracepoint"], "unknown");
  EXPECT_EQ(lines[0]["lock"]["kind"], "ofd");
}

TEST(JsonSink, TaskExitWithStatus) {
  JsonRun run;
  run.push(test::process_info(100, "worker"));
  TaskExit exit = test::task_exit(kTs, 100, 100, 3 << 8, true, "worker");
  exit.h.cpu = 3;
  run.push(exit);
  json line = run.only_line();
  EXPECT_EQ(keys_of(line), with_header({"process_exited", "exit_code", "status", "signal"}));
  expect_header(line, "task_exit", 100, 100, "worker");
  EXPECT_EQ(line["process_exited"], true);
  EXPECT_EQ(line["exit_code"], 768);
  EXPECT_EQ(line["status"], 3);
  EXPECT_EQ(line["signal"], nullptr);
}

TEST(JsonSink, TaskExitKilledBySignal) {
  JsonRun run;
  run.push(test::task_exit(kTs, 100, 101, 9, false, "worker"));
  run.push(test::task_exit(kTs, 100, 100, 11 | 0x80, true, "worker"));
  auto lines = run.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(keys_of(lines[0]),
            with_header({"process_exited", "exit_code", "status", "signal", "core_dumped"}));
  EXPECT_EQ(lines[0]["process_exited"], false);
  EXPECT_EQ(lines[0]["exit_code"], 9);
  EXPECT_EQ(lines[0]["status"], nullptr);
  EXPECT_EQ(lines[0]["signal"], "SIGKILL");
  EXPECT_EQ(lines[0]["core_dumped"], false);
  EXPECT_EQ(lines[1]["signal"], "SIGSEGV");
  EXPECT_EQ(lines[1]["core_dumped"], true);
}

TEST(JsonSink, ExitCall) {
  JsonRun run;
  ExitCall call = test::exit_call(kTs, 100, 100, 3, true);
  call.h.cpu = 3;
  run.push(call);
  run.push(test::exit_call(kTs, 100, 101, 0, false));
  auto lines = run.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(keys_of(lines[0]), with_header({"syscall", "status"}));
  expect_header(lines[0], "exit_call", 100, 100, "?");
  EXPECT_EQ(lines[0]["syscall"], "exit_group");
  EXPECT_EQ(lines[0]["status"], 3);
  EXPECT_EQ(lines[1]["syscall"], "exit");
  EXPECT_EQ(lines[1]["status"], 0);
}

TEST(JsonSink, ForkProcessAndThread) {
  JsonRun run;
  run.push(test::process_info(100, "parent"));
  Fork fork = test::fork_event(kTs, 100, 100, 200, 200, "parent");
  fork.h.cpu = 3;
  run.push(fork);
  run.push(test::fork_event(kTs, 100, 100, 100, 105, "parent"));
  auto lines = run.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(keys_of(lines[0]), with_header({"thread", "child_pid", "child_tid", "child_comm"}));
  expect_header(lines[0], "fork", 100, 100, "parent");
  EXPECT_EQ(lines[0]["thread"], false);
  EXPECT_EQ(lines[0]["child_pid"], 200);
  EXPECT_EQ(lines[0]["child_tid"], 200);
  EXPECT_EQ(lines[0]["child_comm"], "parent");
  EXPECT_EQ(lines[1]["thread"], true);
  EXPECT_EQ(lines[1]["child_pid"], 100);
  EXPECT_EQ(lines[1]["child_tid"], 105);
}

TEST(JsonSink, Exec) {
  JsonRun run;
  run.push(test::process_info(100, "bash"));
  Exec exec = test::exec_event(kTs, 100, 103, "sleep", "/usr/bin/sleep");
  exec.h.cpu = 3;
  run.push(exec);
  json line = run.only_line();
  EXPECT_EQ(keys_of(line), with_header({"filename", "new_comm", "old_tid"}));
  expect_header(line, "exec", 100, 100, "bash");  // the name before the exec
  EXPECT_EQ(line["filename"], "/usr/bin/sleep");
  EXPECT_EQ(line["new_comm"], "sleep");
  EXPECT_EQ(line["old_tid"], 103);
}

TEST(JsonSink, Rename) {
  JsonRun run;
  run.push(test::thread_info(100, 101, "worker"));
  Rename rename = test::rename_event(kTs, 100, 101, "io-0123456789ab");  // 15 chars, the maximum
  rename.h.cpu = 3;
  run.push(rename);
  json line = run.only_line();
  EXPECT_EQ(keys_of(line), with_header({"new_comm"}));
  expect_header(line, "rename", 100, 101, "worker");
  EXPECT_EQ(line["new_comm"], "io-0123456789ab");
}

TEST(JsonSink, FullLengthCommIsNotOverread) {
  JsonRun run;
  Rename rename = test::rename_event(kTs, 1, 1, "");
  std::memset(rename.comm, 'x', sizeof rename.comm);  // no terminating NUL
  run.push(rename);
  EXPECT_EQ(run.only_line()["new_comm"], std::string(LT_COMM_LEN, 'x'));
}

TEST(JsonSink, MetadataWritesNothing) {
  JsonRun run;
  run.push(test::process_info(100, "p"));
  run.push(test::thread_info(100, 101, "t"));
  run.push(test::fd_path(100, 3, "/tmp/x", kDev, 1));
  EXPECT_TRUE(run.raw_lines().empty());
}

TEST(JsonSink, OneObjectPerLine) {
  JsonRun run;
  run.push(flock_nb_failure());
  run.push(test::exit_call(kTs, 100, 100, 0, true));
  run.push(test::task_exit(kTs, 100, 100, 0, true, "x"));
  auto raw = run.raw_lines();
  ASSERT_EQ(raw.size(), 3u);
  for (const auto& line : raw) {
    EXPECT_EQ(line.front(), '{');
    EXPECT_EQ(line.back(), '}');
    EXPECT_EQ(line.find('\n'), std::string::npos);
  }
}

TEST(JsonSink, EscapesQuotesAndControlCharacters) {
  JsonRun run;
  const std::string comm = "a\"b\\c\nd\te\rf\x01g\x1f";
  run.push(test::process_info(100, comm));
  run.push(test::fd_path(100, 3, "/tmp/we\"ird\\na\x7fme", kDev, 1));
  run.push(test::lock_call(LT_SYS_FLOCK, 100, 100, kTs, kTs, 0, {3, 8}));
  auto raw = run.raw_lines();
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_NE(raw[0].find(R"("comm":"a\"b\\c\nd\te\rf\u0001g\u001f")"), std::string::npos) << raw[0];
  json line = json::parse(raw[0]);
  EXPECT_EQ(line["comm"], std::string(comm));
  EXPECT_EQ(line["args"]["path"], "/tmp/we\"ird\\na\x7fme");
  EXPECT_EQ(line["args"]["operation"], "LOCK_UN");
}

TEST(JsonSink, InvalidUtf8StillParses) {
  // The kernel cuts comm at 15 bytes, which can split a multi-byte character, and
  // file names are arbitrary bytes: every line must still be valid JSON.
  JsonRun run;
  run.push(test::rename_event(kTs, 1, 1, "caf\xc3"));
  run.push(test::exec_event(kTs, 1, 1, "x", "/tmp/\xff\xfe"));
  auto raw = run.raw_lines();
  ASSERT_EQ(raw.size(), 2u);
  bool valid = json::accept(raw[0]) && json::accept(raw[1]);
  EXPECT_TRUE(valid);
}

TEST(JsonSink, TimeUsesTheStoredOffset) {
  StreamInfo info = test::fixed_stream_info();
  info.utc_offset_s = -(5 * 3600 + 30 * 60);
  JsonRun run({}, info);
  run.push(test::exit_call(kTs, 1, 1, 0, true));
  EXPECT_EQ(run.only_line()["time"], "2023-11-14T16:43:21.234567-05:30");

  StreamInfo utc = test::fixed_stream_info();
  utc.utc_offset_s = 0;
  JsonRun run_utc({}, utc);
  run_utc.push(test::exit_call(0, 1, 1, 0, true));
  EXPECT_EQ(run_utc.only_line()["time"], "2023-11-14T22:13:20.000000+00:00");
}

TEST(JsonSink, EventKindNames) {
  EXPECT_EQ(event_kind_name(Event{LockCall{}}), "lock_call");
  EXPECT_EQ(event_kind_name(Event{FileLock{}}), "file_lock");
  EXPECT_EQ(event_kind_name(Event{TaskExit{}}), "task_exit");
  EXPECT_EQ(event_kind_name(Event{ExitCall{}}), "exit_call");
  EXPECT_EQ(event_kind_name(Event{Fork{}}), "fork");
  EXPECT_EQ(event_kind_name(Event{Exec{}}), "exec");
  EXPECT_EQ(event_kind_name(Event{Rename{}}), "rename");
  EXPECT_EQ(event_kind_name(Event{ProcessInfo{}}), "process_info");
  EXPECT_EQ(event_kind_name(Event{ThreadInfo{}}), "thread_info");
  EXPECT_EQ(event_kind_name(Event{FdPath{}}), "fd_path");
  EXPECT_EQ(event_kind_name(99), "unknown");
}

TEST(JsonSink, AppliesItsFilter) {
  EventFilter filter;
  filter.errors_only = true;
  JsonRun run(filter);
  run.push(test::lock_call(LT_SYS_FLOCK, 1, 1, kTs, kTs, 0, {3, 2}));
  run.push(flock_nb_failure());
  run.push(test::exit_call(kTs, 1, 1, 0, true));
  json line = run.only_line();
  EXPECT_EQ(line["errno_name"], "EWOULDBLOCK");
}

}  // namespace
}  // namespace locktrace
