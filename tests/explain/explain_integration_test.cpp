// Real lock failures, explained: flock(1) and sqlite3 refused by a holder, a
// robust mutex whose owner is killed, a lock kept by an inherited descriptor,
// a re-created lock file, and blocking lock calls interrupted by signals.
#include <sys/stat.h>
#include <sys/syscall.h>

#include <algorithm>
#include <fstream>

#include "explain_trace.hpp"

namespace locktrace::explain {
namespace {

// Waits (without a time limit of its own: the test's command timeout is one)
// until pid $1 sleeps in syscall $2, as /proc/PID/syscall and /proc/PID/stat show it.
const std::string kSleepingIn = R"(
sleeping_in() {
  while :; do
    nr=; st=
    read nr rest < /proc/$1/syscall || return 1
    read p c st rest < /proc/$1/stat || return 1
    [ "$nr" = "$2" ] && [ "$st" = S ] && return 0
    sleep 0.01
  done
}
)";

uint64_t inode_of(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

bool has_pid(const Json& list, const std::string& key, int64_t pid) {
  return std::any_of(list.begin(), list.end(), [&](const Json& item) { return at(item, key) == pid; });
}

class ExplainIntegration : public ExplainTrace {};

TEST_F(ExplainIntegration, FlockNonBlockingRefusalNamesTheHolderAndEndsTheProcess) {
  Lines lines = trace_script(R"(
mkfifo ready release
flock F sh -c 'echo > ready; read x < release' &
echo "holder=$!" >> report
read x < ready
flock -n F true
echo "rc=$?" >> report
echo > release
wait
echo "sh=$$" >> report
)");
  auto values = report();
  int64_t holder = report_pid(values, "holder");
  int64_t sh = report_pid(values, "sh");
  EXPECT_EQ(values["rc"], "1");

  Lines failures = findings(lines, "failure");
  ASSERT_EQ(failures.size(), 1u) << dump(lines);
  const Json& f = failures[0];
  EXPECT_EQ(at(f, "/call/task/comm"), "flock") << f;
  EXPECT_EQ(at(f, "/call/syscall"), "flock") << f;
  EXPECT_EQ(at(f, "/call/call"), "flock(LOCK_EX|LOCK_NB)") << f;
  EXPECT_EQ(at(f, "/call/errno_name"), "EWOULDBLOCK") << f;
  EXPECT_EQ(at(f, "/call/lock/kind"), "flock") << f;
  EXPECT_EQ(at(f, "/call/lock/ino"), inode_of(tmp_.file("F"))) << f;
  ASSERT_EQ(at(f, "/holders").size(), 1u) << f;
  EXPECT_EQ(at(f, "/holders/0/holder/pid"), holder) << f;
  EXPECT_EQ(at(f, "/holders/0/holder/comm"), "flock") << f;
  int64_t requester = at(f, "/call/task/pid").get<int64_t>();
  EXPECT_NE(requester, holder);

  Lines exits = findings(lines, "exit_after_failure");
  ASSERT_EQ(exits.size(), 1u) << dump(lines);
  const Json& e = exits[0];
  EXPECT_EQ(at(e, "/cause/task/pid"), requester) << e;
  EXPECT_EQ(at(e, "/cause/errno_name"), "EWOULDBLOCK") << e;
  EXPECT_EQ(at(e, "/cause_holder/pid"), holder) << e;
  EXPECT_EQ(at(e, "/process_exited"), true) << e;
  EXPECT_EQ(at(e, "/status"), 1) << e;
  EXPECT_EQ(at(e, "/reaped_by/pid"), sh) << e;
  EXPECT_TRUE(findings(lines, "phantom_holder").empty()) << dump(lines);
}

TEST_F(ExplainIntegration, SqliteDatabaseIsLockedIsExplainedByTheOtherSqlite) {
  std::string db = tmp_.file("app.db");
  integration::RunResult created = integration::run({"sqlite3", db, "CREATE TABLE t(x);"});
  ASSERT_EQ(created.exit_code, 0) << created.describe();

  // The holder keeps a write transaction open while its input (a fifo) stays open.
  Lines lines = trace_script(R"(
mkfifo in ready
sqlite3 app.db < in > holder.out 2>&1 &
echo "holder=$!" >> report
exec 3> in
printf 'BEGIN EXCLUSIVE;\nINSERT INTO t VALUES(1);\n.shell echo > ready\n' >&3
read x < ready
sqlite3 app.db 'INSERT INTO t VALUES(2);' > second.out 2>&1
echo "second_rc=$?" >> report
echo 'COMMIT;' >&3
exec 3>&-
wait
)");
  auto values = report();
  int64_t holder = report_pid(values, "holder");
  EXPECT_EQ(values["second_rc"], "5") << "SQLITE_BUSY";
  std::ifstream second_out(tmp_.file("second.out"));
  std::string said((std::istreambuf_iterator<char>(second_out)), std::istreambuf_iterator<char>());
  EXPECT_NE(said.find("database is locked"), std::string::npos) << said;

  Lines refused;
  for (const auto& f : findings(lines, "failure"))
    if (at(f, "/call/syscall") == "fcntl" && at(f, "/call/errno_name") == "EAGAIN") refused.push_back(f);
  ASSERT_FALSE(refused.empty()) << dump(lines);
  for (const auto& f : refused) {
    EXPECT_NE(at(f, "/call/task/pid"), holder) << f;
    EXPECT_EQ(at(f, "/call/task/comm"), "sqlite3") << f;
    EXPECT_EQ(at(f, "/call/call"), "fcntl(F_SETLK)") << f;
    EXPECT_EQ(at(f, "/call/lock/kind"), "posix") << f;
    EXPECT_EQ(at(f, "/call/lock/ino"), inode_of(db)) << f;
    ASSERT_GE(at(f, "/holders").size(), 1u) << f;
    for (const auto& h : at(f, "/holders")) {
      EXPECT_EQ(at(h, "/holder/pid"), holder) << f;
      EXPECT_EQ(at(h, "/holder/comm"), "sqlite3") << f;
      // The holder's range overlaps the refused one.
      EXPECT_LE(at(h, "/lock/start").get<int64_t>(), at(f, "/call/lock/end").get<int64_t>()) << f;
      EXPECT_GE(at(h, "/lock/end").get<int64_t>(), at(f, "/call/lock/start").get<int64_t>()) << f;
    }
  }

  // sqlite3 gave up at once (no busy timeout) and exited with SQLITE_BUSY.
  Lines exits = findings(lines, "exit_after_failure");
  ASSERT_EQ(exits.size(), 1u) << dump(lines);
  EXPECT_EQ(at(exits[0], "/cause/errno_name"), "EAGAIN") << exits[0];
  EXPECT_EQ(at(exits[0], "/cause_holder/pid"), holder) << exits[0];
  EXPECT_EQ(at(exits[0], "/status"), 5) << exits[0];
}

TEST_F(ExplainIntegration, TimedOutMutexLockNamesTheOwnerThread) {
  Lines lines = trace({MUTEX_TIMEDLOCK, tmp_.file("report")});
  auto values = report();
  int64_t owner = report_pid(values, "owner_tid");
  int64_t waiter = report_pid(values, "waiter_tid");
  ASSERT_EQ(values["waiter_result"], "ETIMEDOUT");

  Lines failures = findings(lines, "failure");
  ASSERT_EQ(failures.size(), 1u) << dump(lines);
  const Json& f = failures[0];
  EXPECT_EQ(at(f, "/call/task/tid"), waiter) << f;
  EXPECT_EQ(at(f, "/call/syscall"), "futex") << f;
  EXPECT_EQ(at(f, "/call/errno_name"), "ETIMEDOUT") << f;
  EXPECT_EQ(at(f, "/call/lock/kind"), "futex") << f;
  ASSERT_EQ(at(f, "/holders").size(), 1u) << f;
  EXPECT_EQ(at(f, "/holders/0/holder/tid"), owner) << f;
  EXPECT_EQ(at(f, "/holders/0/attribution"), "glibc_owner_guess") << f;
}

TEST_F(ExplainIntegration, RobustMutexOwnerKilledWhileAnotherProcessWaitsIsReported) {
  std::string report_file = tmp_.file("report");
  Lines lines = trace({ROBUST_OWNER_DIED, report_file});
  auto values = report();
  int64_t owner = report_pid(values, "owner");
  int64_t waiter = report_pid(values, "waiter");
  ASSERT_EQ(values["waiter_result"], "EOWNERDEAD") << "the program itself saw no EOWNERDEAD";
  EXPECT_EQ(values["owner_killed"], "1");

  // The owner's death, as locktrace saw it.
  Lines exits = events(lines, "task_exit");
  auto death = std::find_if(exits.begin(), exits.end(), [&](const Json& e) { return at(e, "/pid") == owner; });
  ASSERT_NE(death, exits.end()) << dump(lines);
  EXPECT_EQ(at(*death, "/signal"), "SIGKILL") << *death;
  EXPECT_EQ(at(*death, "/process_exited"), true) << *death;

  // The waiter slept in futex(2) on the mutex word, which named the owner
  // (a robust mutex's word is the owner's TID, with FUTEX_WAITERS).
  std::optional<Json> wait;
  for (const auto& call : events(lines, "lock_call"))
    if (at(call, "/pid") == waiter && at(call, "/syscall") == "futex" && at(call, "/phase") == "wait") wait = call;
  ASSERT_TRUE(wait) << dump(lines);
  ASSERT_TRUE(at(*wait, "/futex_word").is_number()) << *wait;
  uint32_t word = at(*wait, "/futex_word").get<uint32_t>();
  EXPECT_EQ(word & 0x3fffffffu, static_cast<uint32_t>(owner)) << "word " << std::hex << word;
  EXPECT_TRUE(word & 0x80000000u) << "FUTEX_WAITERS, word " << std::hex << word;

  // What locktrace should conclude: the owner died holding the mutex the waiter
  // waited on (the kernel then sets FUTEX_OWNER_DIED and pthread_mutex_lock
  // returns EOWNERDEAD in the waiter).
  Lines died = findings(lines, "owner_died");
  std::string futex_lines;
  for (const auto& line : lines)
    if (at(line, "/syscall") == "futex" && (at(line, "/pid") == waiter || at(line, "/pid") == owner))
      futex_lines += line.dump() + "\n";
  ASSERT_EQ(died.size(), 1u) << "no owner_died finding links the SIGKILLed owner " << owner << " to waiter "
                             << waiter << "; the futex calls were:\n"
                             << futex_lines << "all findings:\n"
                             << [&] {
                                  std::string text;
                                  for (const auto& l : lines)
                                    if (at(l, "/event") == "finding") text += l.dump() + "\n";
                                  return text;
                                }();
  EXPECT_EQ(at(died[0], "/owner/pid"), owner) << died[0];
  EXPECT_EQ(at(died[0], "/exit_code"), 9) << died[0];
  EXPECT_EQ(at(died[0], "/lock/kind"), "futex") << died[0];
  EXPECT_EQ(at(died[0], "/lock/shared"), true) << died[0];
  EXPECT_TRUE(has_pid(at(died[0], "/waiters"), "/task/pid", waiter)) << died[0];
}

TEST_F(ExplainIntegration, LockKeptByAnInheritedDescriptorNamesTheLiveInheritor) {
  // sh opens F as fd 9, flock(1) locks that open file and exits, a subshell
  // inherits fd 9 and stays, sh closes its fd 9: the subshell alone holds the lock.
  LiveTrace live({"sh", "-c", "cd '" + tmp_.path().string() + "' || exit 99\n" + R"(
mkfifo hold
exec 9> F
flock 9
(read x < hold) &
echo "inheritor=$!" >> report
exec 9>&-
flock -n F true
echo "rc=$?" >> report
wait
)"});
  // The inheritor stays until locktrace has told the refusal, as it would in
  // real life (it is what keeps the lock).
  bool refused = live.wait_for([](const Json& line) {
    return at(line, "/event") == "finding" && at(line, "/kind") == "failure";
  });
  release(tmp_.file("hold"));
  EXPECT_EQ(live.finish(), 0);
  const Lines& lines = live.lines();
  ASSERT_TRUE(refused) << dump(lines);

  auto values = report();
  int64_t inheritor = report_pid(values, "inheritor");
  EXPECT_EQ(values["rc"], "1");

  // flock(1) locked fd 9, which it shares with sh, and exited.
  std::optional<int64_t> locker;
  for (const auto& call : events(lines, "lock_call"))
    if (at(call, "/syscall") == "flock" && at(call, "/phase") == "done" && at(call, "/ret") == 0 &&
        at(call, "/args/fd") == 9 && at(call, "/args/operation") == "LOCK_EX")
      locker = at(call, "/pid").get<int64_t>();
  ASSERT_TRUE(locker) << dump(lines);

  Lines phantoms = findings(lines, "phantom_holder");
  ASSERT_EQ(phantoms.size(), 1u) << dump(lines);
  const Json& p = phantoms[0];
  EXPECT_EQ(at(p, "/named/pid"), *locker) << p;
  EXPECT_EQ(at(p, "/lock/ino"), inode_of(tmp_.file("F"))) << p;
  ASSERT_TRUE(has_pid(at(p, "/holders"), "/task/pid", inheritor)) << p;
  for (const auto& h : at(p, "/holders")) {
    if (at(h, "/task/pid") == inheritor) {
      EXPECT_EQ(at(h, "/fd"), 9) << p;
    }
  }

  Lines failures = findings(lines, "failure");
  ASSERT_EQ(failures.size(), 1u) << dump(lines);
  EXPECT_EQ(at(failures[0], "/call/errno_name"), "EWOULDBLOCK");
}

TEST_F(ExplainIntegration, RecreatedLockFileIsASplitLock) {
  std::string file = tmp_.file("F");
  LiveTrace live({"sh", "-c", "cd '" + tmp_.path().string() + "' || exit 99\n" + R"(
mkfifo a_ready a_release b_release
flock F sh -c 'echo > a_ready; read x < a_release' &
echo "first=$!" >> report
read x < a_ready
rm F
flock F sh -c 'read x < b_release' &
echo "second=$!" >> report
wait
)"});
  // Both hold their lock until locktrace has shown the second one taken, so
  // it could read which file each has open.
  int taken = 0;
  bool both = live.wait_for([&](const Json& line) {
    taken += at(line, "/event") == "lock_call" && at(line, "/syscall") == "flock" && at(line, "/phase") == "done" &&
             at(line, "/ret") == 0 && at(line, "/args/operation") == "LOCK_EX";
    return taken == 2;
  });
  release(tmp_.file("a_release"));
  release(tmp_.file("b_release"));
  EXPECT_EQ(live.finish(), 0);
  ASSERT_TRUE(both) << dump(live.lines());

  auto values = report();
  int64_t first = report_pid(values, "first");
  int64_t second = report_pid(values, "second");
  Lines splits = findings(live.lines(), "split_lock");
  ASSERT_EQ(splits.size(), 1u) << dump(live.lines());
  const Json& s = splits[0];
  EXPECT_EQ(at(s, "/path"), file) << s;
  EXPECT_EQ(at(s, "/first/pid"), first) << s;
  EXPECT_EQ(at(s, "/second/pid"), second) << s;
  EXPECT_EQ(at(s, "/second_lock/ino"), inode_of(file)) << s;
  EXPECT_NE(at(s, "/first_lock/ino"), at(s, "/second_lock/ino")) << s;
  EXPECT_EQ(at(s, "/first_lock/kind"), "flock") << s;
}

TEST_F(ExplainIntegration, FlockTimeoutIsEintrFromTheKernelsSigalrm) {
  Lines lines = trace_script(R"(
mkfifo ready release
flock F sh -c 'echo > ready; read x < release' &
echo "holder=$!" >> report
read x < ready
flock -w 0.3 F true
echo "rc=$?" >> report
echo > release
wait
echo "sh=$$" >> report
)");
  auto values = report();
  int64_t sh = report_pid(values, "sh");
  EXPECT_EQ(values["rc"], "1");

  Lines failures = findings(lines, "failure");
  ASSERT_EQ(failures.size(), 1u) << dump(lines);
  const Json& f = failures[0];
  EXPECT_EQ(at(f, "/call/call"), "flock(LOCK_EX)") << f;
  EXPECT_EQ(at(f, "/call/errno"), 4) << f;
  EXPECT_EQ(at(f, "/call/errno_name"), "EINTR") << f;
  EXPECT_EQ(at(f, "/call/lock/ino"), inode_of(tmp_.file("F"))) << f;
  EXPECT_EQ(at(f, "/signal"), "SIGALRM") << f;
  EXPECT_TRUE(at(f, "/signal_sender").is_null()) << "a timer sent it: " << f;
  EXPECT_EQ(at(f, "/sender_comm"), "kernel") << f;

  Lines exits = findings(lines, "exit_after_failure");
  ASSERT_EQ(exits.size(), 1u) << dump(lines);
  EXPECT_EQ(at(exits[0], "/cause/errno_name"), "EINTR") << exits[0];
  EXPECT_EQ(at(exits[0], "/status"), 1) << exits[0];
  EXPECT_EQ(at(exits[0], "/reaped_by/pid"), sh) << exits[0];
}

TEST_F(ExplainIntegration, SetlkwInterruptedByKillNamesTheKillProcess) {
  Lines lines = trace({SETLKW_SIGNAL, tmp_.file("F"), tmp_.file("report")});
  auto values = report();
  int64_t holder = report_pid(values, "holder");
  int64_t waiter = report_pid(values, "waiter");
  int64_t killer = report_pid(values, "killer");
  ASSERT_EQ(values["waiter_result"], "EINTR");

  Lines failures = findings(lines, "failure");
  ASSERT_EQ(failures.size(), 1u) << dump(lines);
  const Json& f = failures[0];
  EXPECT_EQ(at(f, "/call/task/pid"), waiter) << f;
  EXPECT_EQ(at(f, "/call/call"), "fcntl(F_SETLKW)") << f;
  EXPECT_EQ(at(f, "/call/errno_name"), "EINTR") << f;
  EXPECT_EQ(at(f, "/call/lock/kind"), "posix") << f;
  EXPECT_EQ(at(f, "/signal"), "SIGUSR1") << f;
  EXPECT_EQ(at(f, "/signal_sender/pid"), killer) << f;
  EXPECT_EQ(at(f, "/signal_sender/comm"), "kill") << f;
  EXPECT_EQ(at(f, "/sender_comm"), "kill") << f;
  EXPECT_NE(at(f, "/signal_sender/pid"), holder) << f;
}

// A raw futex wait with a handler that does not restart: the kernel's restart
// code becomes EINTR when the handler runs, and the sender is named.
TEST_F(ExplainIntegration, FutexWaitInterruptedBySignalIsEintrWithTheSignal) {
  Lines lines = trace({FUTEX_SIGNAL, tmp_.file("report")});
  auto values = report();
  int64_t waiter = report_pid(values, "waiter");
  int64_t sender = report_pid(values, "sender");
  ASSERT_EQ(values["waiter_result"], "EINTR");

  Lines failures = findings(lines, "failure");
  ASSERT_EQ(failures.size(), 1u) << dump(lines);
  const Json& f = failures[0];
  EXPECT_EQ(at(f, "/call/task/pid"), waiter) << f;
  EXPECT_EQ(at(f, "/call/call"), "futex(FUTEX_WAIT_PRIVATE)") << f;
  EXPECT_EQ(at(f, "/call/errno_name"), "EINTR") << f;
  EXPECT_EQ(at(f, "/signal"), "SIGUSR1") << f;
  EXPECT_EQ(at(f, "/signal_sender/pid"), sender) << f;
}

// kill(1) sends a process-directed signal: the kernel's signal_generate names
// the main thread, which blocks SIGUSR1, and the waiting thread takes it.
TEST_F(ExplainIntegration, SetlkwInAThreadInterruptedByKillNamesTheKillProcess) {
  Lines lines = trace({SETLKW_SIGNAL, "-t", tmp_.file("F"), tmp_.file("report")});
  auto values = report();
  int64_t waiter = report_pid(values, "waiter");
  int64_t waiter_tid = report_pid(values, "waiter_tid");
  int64_t killer = report_pid(values, "killer");
  ASSERT_EQ(values["waiter_result"], "EINTR");
  ASSERT_NE(waiter_tid, waiter) << "the waiting thread is not the main thread";

  Lines failures = findings(lines, "failure");
  ASSERT_EQ(failures.size(), 1u) << dump(lines);
  const Json& f = failures[0];
  EXPECT_EQ(at(f, "/call/task/pid"), waiter) << f;
  EXPECT_EQ(at(f, "/call/task/tid"), waiter_tid) << f;
  EXPECT_EQ(at(f, "/call/errno_name"), "EINTR") << f;
  EXPECT_EQ(at(f, "/signal"), "SIGUSR1") << f;
  EXPECT_EQ(at(f, "/signal_sender/pid"), killer) << "kill -USR1 " << waiter << " by pid " << killer << ": " << f;
  EXPECT_EQ(at(f, "/sender_comm"), "kill") << f;
}

// A worker thread's refusal ends the whole process: exit(3) from that thread
// is exit_group, the other threads die with it, and sh reaps the process.
TEST_F(ExplainIntegration, RefusalInAThreadThenExitGroupIsTheProcessExit) {
  Lines lines = trace_script(std::string(R"(
mkfifo ready release
flock F sh -c 'echo > ready; read x < release' &
echo "holder=$!" >> report
read x < ready
)") + THREAD_FAILS_THEN_EXITS + R"( F
echo "rc=$?" >> report
echo > release
wait
echo "sh=$$" >> report
)");
  auto values = report();
  int64_t holder = report_pid(values, "holder");
  int64_t sh = report_pid(values, "sh");
  ASSERT_EQ(values["rc"], "3");

  Lines failures = findings(lines, "failure");
  ASSERT_EQ(failures.size(), 1u) << dump(lines);
  int64_t pid = at(failures[0], "/call/task/pid").get<int64_t>();
  EXPECT_NE(at(failures[0], "/call/task/tid"), pid) << "the worker thread failed: " << failures[0];
  EXPECT_EQ(at(failures[0], "/holders/0/holder/pid"), holder) << failures[0];

  Lines exits = findings(lines, "exit_after_failure");
  ASSERT_EQ(exits.size(), 1u) << dump(lines);
  const Json& e = exits[0];
  EXPECT_EQ(at(e, "/cause/task/pid"), pid) << e;
  EXPECT_EQ(at(e, "/process_exited"), true) << "exit(3) ended the process, not only the thread: " << e;
  EXPECT_EQ(at(e, "/status"), 3) << e;
  EXPECT_EQ(at(e, "/reaped_by/pid"), sh) << e;
}

// No handler runs for SIGSTOP: after SIGCONT the kernel restarts the flock,
// which then gets the lock. Nothing failed.
TEST_F(ExplainIntegration, StoppedAndContinuedWaiterIsNotInterrupted) {
  Lines lines = trace_script(kSleepingIn + R"(
mkfifo ready release
flock F sh -c 'echo > ready; read x < release' &
read x < ready
flock F true &
w=$!
echo "waiter=$w" >> report
sleeping_in $w )" + std::to_string(SYS_flock) + R"(
kill -STOP $w
while :; do read p c st rest < /proc/$w/stat; [ "$st" = T ] && break; sleep 0.01; done
kill -CONT $w
echo > release
wait $w
echo "waiter_rc=$?" >> report
wait
)");
  auto values = report();
  int64_t waiter = report_pid(values, "waiter");
  ASSERT_EQ(values["waiter_rc"], "0") << "flock(1) got the lock after all";
  for (const auto& f : findings(lines, "failure"))
    EXPECT_NE(at(f, "/call/task/pid"), waiter) << "the waiter's flock never failed: " << f;
  EXPECT_TRUE(findings(lines, "exit_after_failure").empty()) << dump(lines);
}

// SIGKILL ends the waiter inside flock(2): the call never returns, so no EINTR.
TEST_F(ExplainIntegration, KilledWaiterIsNotInterrupted) {
  Lines lines = trace_script(kSleepingIn + R"(
mkfifo ready release
flock F sh -c 'echo > ready; read x < release' &
read x < ready
flock F true &
w=$!
echo "waiter=$w" >> report
sleeping_in $w )" + std::to_string(SYS_flock) + R"(
kill -KILL $w
wait $w
echo "waiter_rc=$?" >> report
echo > release
wait
)");
  auto values = report();
  int64_t waiter = report_pid(values, "waiter");
  ASSERT_EQ(values["waiter_rc"], "137") << "flock(1) was killed by SIGKILL";
  Lines exits = events(lines, "task_exit");
  EXPECT_TRUE(std::any_of(exits.begin(), exits.end(), [&](const Json& e) {
    return at(e, "/pid") == waiter && at(e, "/signal") == "SIGKILL";
  })) << dump(lines);
  for (const auto& f : findings(lines, "failure"))
    EXPECT_NE(at(f, "/call/task/pid"), waiter) << "flock never returned to the waiter: " << f;
  for (const auto& e : findings(lines, "exit_after_failure"))
    EXPECT_NE(at(e, "/cause/task/pid"), waiter) << "no failure led to the kill: " << e;
}

// The everyday case: a waiter gets the lock when its holder exits. The
// holder the kernel named is gone, but so is its lock: nobody is a phantom.
TEST_F(ExplainIntegration, WaiterGrantedAfterItsHolderExitedSeesNoPhantom) {
  Lines lines = trace_script(kSleepingIn + R"(
mkfifo ready release
flock F sh -c 'echo > ready; read x < release' &
read x < ready
flock F true &
w=$!
sleeping_in $w )" + std::to_string(SYS_flock) + R"(
echo > release
wait $w
echo "waiter_rc=$?" >> report
wait
)");
  auto values = report();
  ASSERT_EQ(values["waiter_rc"], "0");
  EXPECT_TRUE(findings(lines, "phantom_holder").empty()) << dump(lines);
  EXPECT_TRUE(findings(lines, "failure").empty()) << dump(lines);
}

}  // namespace
}  // namespace locktrace::explain
