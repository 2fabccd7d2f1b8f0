// The analyzer end to end: the real locktrace binary, as root, against programs
// that deadlock (pthread mutexes, flock, fcntl) or only contend. Checks the
// finding lines, the exit status of --exit-on-deadlock, attaching to a deadlock
// that already exists, the summary, and that a recording reports and replays
// the same conclusions. Skipped when BPF tracing is not usable here, failed
// instead when CI=true.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "run_helpers.hpp"

namespace nlohmann {
// GoogleTest would otherwise print a json value as a container of json values, forever.
inline void PrintTo(const json& value, std::ostream* os) { *os << value.dump(); }
}  // namespace nlohmann

namespace locktrace::analysis::integration {
namespace {

using namespace locktrace::integration;
using Json = nlohmann::json;
using Lines = std::vector<Json>;

// Microseconds since the epoch of "2023-11-14T23:13:21.234567+01:00".
int64_t iso_time_us(const std::string& text) {
  tm fields{};
  int micros = 0, off_h = 0, off_m = 0;
  char sign = '+';
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%6d%c%d:%d", &fields.tm_year, &fields.tm_mon,
                  &fields.tm_mday, &fields.tm_hour, &fields.tm_min, &fields.tm_sec, &micros, &sign, &off_h,
                  &off_m) != 10)
    throw std::runtime_error("not an ISO time: " + text);
  fields.tm_year -= 1900;
  fields.tm_mon -= 1;
  int64_t offset_s = (sign == '-' ? -1 : 1) * (off_h * 3600 + off_m * 60);
  return (static_cast<int64_t>(timegm(&fields)) - offset_s) * 1'000'000 + micros;
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

class AnalysisIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    static const std::string reason = probe_bpf(LOCKTRACE_BIN, ANALYSIS_PROBE_STAMP);
    if (reason.empty()) return;
    const char* ci = std::getenv("CI");
    if (ci && std::string_view(ci) == "true") GTEST_FAIL() << reason;
    GTEST_SKIP() << reason;
  }

  static RunResult locktrace(std::vector<std::string> args) {
    args.insert(args.begin(), LOCKTRACE_BIN);
    return run(args);
  }

  TempDir tmp_;
};

const Json& field(const Json& line, const std::string& pointer) {
  static const Json null;
  Json::json_pointer ptr(pointer);
  return line.contains(ptr) ? line.at(ptr) : null;
}

bool is_deadlock(const Json& line) {
  return field(line, "/event") == "finding" && field(line, "/kind") == "deadlock";
}

std::vector<size_t> deadlock_indexes(const Lines& lines) {
  std::vector<size_t> out;
  for (size_t i = 0; i < lines.size(); i++)
    if (is_deadlock(lines[i])) out.push_back(i);
  return out;
}

const Json* summary_of(const Lines& lines) {
  for (const auto& line : lines)
    if (field(line, "/event") == "summary") return &line;
  return nullptr;
}

// tid -> the name the thread gave itself (rename lines).
std::map<int64_t, std::string> renamed_threads(const Lines& lines) {
  std::map<int64_t, std::string> names;
  for (const auto& line : lines)
    if (field(line, "/event") == "rename") names[line["tid"].get<int64_t>()] = line["new_comm"];
  return names;
}

int64_t tid_named(const Lines& lines, const std::string& comm) {
  for (const auto& [tid, name] : renamed_threads(lines))
    if (name == comm) return tid;
  return -1;
}

// The pids of the processes (not threads) that `parent` forked.
std::vector<int64_t> forked_processes(const Lines& lines, int64_t parent) {
  std::vector<int64_t> out;
  for (const auto& line : lines)
    if (field(line, "/event") == "fork" && field(line, "/pid") == parent && field(line, "/thread") == false)
      out.push_back(line["child_pid"].get<int64_t>());
  return out;
}

std::optional<int64_t> exec_pid(const Lines& lines, const std::string& filename) {
  for (const auto& line : lines)
    if (field(line, "/event") == "exec" && field(line, "/filename") == filename)
      return line["pid"].get<int64_t>();
  return std::nullopt;
}

std::set<int64_t> cycle_waiters(const Json& finding, const char* key = "tid") {
  std::set<int64_t> out;
  for (const auto& edge : finding["cycle"]) out.insert(edge["waiter"][key].get<int64_t>());
  return out;
}

std::string dump(const Lines& lines) {
  std::string text = "lines (" + std::to_string(lines.size()) + "):\n";
  for (const auto& line : lines) text += line.dump() + "\n";
  return text;
}

// Each waiter's holder is the next edge's waiter.
void expect_closed_cycle(const Json& finding) {
  const Json& cycle = finding["cycle"];
  for (size_t i = 0; i < cycle.size(); i++) {
    const Json& holder = cycle[i]["holder"];
    ASSERT_TRUE(holder.is_object()) << finding.dump();
    EXPECT_EQ(holder["pid"], cycle[(i + 1) % cycle.size()]["waiter"]["pid"]) << finding.dump();
    if (!holder["tid"].is_null()) {
      EXPECT_EQ(holder["tid"], cycle[(i + 1) % cycle.size()]["waiter"]["tid"]) << finding.dump();
    }
  }
}

// Checks the pthread ABBA finding: two threads of the program, named, each
// waiting on a futex the other holds; the finding right after the wait that
// closed the cycle. Returns that wait's index.
size_t check_abba_finding(const Lines& lines, size_t at) {
  const Json& finding = lines[at];
  EXPECT_EQ(finding["kernel_edeadlk"], false);
  EXPECT_EQ(finding["cycle"].size(), 2u) << finding.dump();
  int64_t a = tid_named(lines, "abba-a"), b = tid_named(lines, "abba-b");
  EXPECT_GT(a, 0) << dump(lines);
  EXPECT_GT(b, 0) << dump(lines);
  EXPECT_EQ(cycle_waiters(finding), (std::set<int64_t>{a, b})) << finding.dump();
  std::set<std::string> comms;
  for (const auto& edge : finding["cycle"]) {
    comms.insert(edge["waiter"]["comm"].get<std::string>());
    EXPECT_EQ(edge["lock"]["kind"], "futex") << finding.dump();
    EXPECT_EQ(edge["attribution"], "glibc_owner_guess") << finding.dump();
  }
  EXPECT_EQ(comms, (std::set<std::string>{"abba-a", "abba-b"}));
  expect_closed_cycle(finding);
  // Printed right after the event that closed the cycle: b's futex wait, which
  // went to sleep after a's.
  EXPECT_GT(at, 0u);
  const Json& wait = lines[at - 1];
  EXPECT_EQ(wait["event"], "lock_call") << wait.dump();
  EXPECT_EQ(wait["syscall"], "futex") << wait.dump();
  EXPECT_EQ(wait["phase"], "wait") << wait.dump();
  EXPECT_EQ(wait["tid"], b) << wait.dump();
  return at - 1;
}

struct AbbaBinary {
  const char* name;
  const char* path;
};

void PrintTo(const AbbaBinary& binary, std::ostream* os) { *os << binary.name; }

class LiveAbba : public AnalysisIntegration, public ::testing::WithParamInterface<AbbaBinary> {};

// live --exit-on-deadlock on a program that deadlocks: exits 6 right after the
// finding, which names both threads. Reads the output as it comes to see when
// the finding line arrives.
TEST_P(LiveAbba, ExitsSixWithAFindingNamingBothThreads) {
  uint64_t started = monotonic_ns();
  Background live({LOCKTRACE_BIN, "live", "--json", "--exit-on-deadlock", "--", GetParam().path});
  Lines lines;
  uint64_t finding_read_ns = 0;
  while (auto line = live.read_line(60s)) {
    if (line->empty()) continue;
    lines.push_back(Json::parse(*line));
    if (!finding_read_ns && is_deadlock(lines.back())) finding_read_ns = monotonic_ns();
  }
  std::optional<int> status = live.stop(0, 60s);
  uint64_t exited = monotonic_ns();
  ASSERT_TRUE(status.has_value()) << "locktrace did not exit\n" << dump(lines);
  EXPECT_EQ(*status, 6) << dump(lines);

  auto found = deadlock_indexes(lines);
  ASSERT_EQ(found.size(), 1u) << dump(lines);
  size_t wait = check_abba_finding(lines, found[0]);
  const Json& finding = lines[found[0]];
  uint64_t finding_ts = finding["ts_ns"].get<uint64_t>();
  uint64_t wait_ts = lines[wait]["ts_ns"].get<uint64_t>();
  EXPECT_GE(finding_ts, wait_ts);
  ASSERT_TRUE(summary_of(lines)) << "the summary ends the output\n" << dump(lines);
  EXPECT_EQ((*summary_of(lines))["deadlocks"].size(), 1u);

  // Measured, not asserted: how quickly the deadlock was reported.
  std::printf(
      "[ latency ] %s: finding ts - closing wait ts = %.3f us; closing wait -> finding line read = %.3f ms; "
      "locktrace start -> exit = %.1f ms\n",
      GetParam().name, static_cast<double>(finding_ts - wait_ts) / 1e3,
      static_cast<double>(finding_read_ns - wait_ts) / 1e6, static_cast<double>(exited - started) / 1e6);
  RecordProperty("wait_to_finding_read_us", std::to_string((finding_read_ns - wait_ts) / 1000));
  RecordProperty("start_to_exit_ms", std::to_string((exited - started) / 1'000'000));
}

INSTANTIATE_TEST_SUITE_P(Builds, LiveAbba,
                         ::testing::Values(AbbaBinary{"frame_pointers", ABBA_MUTEX_FP},
                                           AbbaBinary{"no_frame_pointers", ABBA_MUTEX_NOFP}),
                         [](const auto& info) { return std::string(info.param.name); });

// The kernel detects no flock cycles; locktrace does, from the kernel's blockers.
TEST_F(AnalysisIntegration, FlockAbbaBetweenTwoProcesses) {
  RunResult result =
      locktrace({"live", "--json", "--exit-on-deadlock", "--", FLOCK_ABBA, tmp_.path().string()});
  ASSERT_EQ(result.exit_code, 6) << result.describe();
  Lines lines = parse_json_lines(result.out);
  auto found = deadlock_indexes(lines);
  ASSERT_EQ(found.size(), 1u) << dump(lines);
  const Json& finding = lines[found[0]];
  EXPECT_EQ(finding["kernel_edeadlk"], false);
  ASSERT_EQ(finding["cycle"].size(), 2u) << finding.dump();
  auto parent = exec_pid(lines, FLOCK_ABBA);
  ASSERT_TRUE(parent) << dump(lines);
  auto children = forked_processes(lines, *parent);
  ASSERT_EQ(children.size(), 2u) << dump(lines);
  EXPECT_EQ(cycle_waiters(finding, "pid"), (std::set<int64_t>(children.begin(), children.end())));
  std::set<std::string> paths;
  for (const auto& edge : finding["cycle"]) {
    EXPECT_EQ(edge["lock"]["kind"], "flock") << finding.dump();
    EXPECT_EQ(edge["attribution"], "kernel_blocker") << finding.dump();
    if (edge["lock"]["path"].is_string()) paths.insert(edge["lock"]["path"].get<std::string>());
  }
  EXPECT_EQ(paths, (std::set<std::string>{tmp_.file("flock-1"), tmp_.file("flock-2")})) << finding.dump();
  expect_closed_cycle(finding);
  // The line before the finding is the second flock going to sleep.
  const Json& wait = lines[found[0] - 1];
  EXPECT_EQ(wait["syscall"], "flock") << wait.dump();
  EXPECT_EQ(wait["phase"], "wait") << wait.dump();
  // No flock call failed: the kernel saw nothing wrong.
  for (const auto& line : lines)
    if (field(line, "/syscall") == "flock") {
      EXPECT_TRUE(field(line, "/errno").is_null()) << line.dump();
    }
}

// The same deadlock, 40 times over with new processes, while a third process
// reads /proc/locks in a loop (as lslocks or a monitoring agent does). Each
// read takes the kernel's file_rwsem for writing, so a flock(2) caller may
// first sleep on that semaphore, before the kernel looks at the lock: every
// deadlock must still be found.
TEST_F(AnalysisIntegration, FlockAbbaFoundWhileProcLocksIsRead) {
  constexpr int kRounds = 40;
  RunResult result = locktrace({"live", "--json", "--", FLOCK_ABBA, "-r", "-n", std::to_string(kRounds), "-x",
                                "20", tmp_.path().string()});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  Lines lines = parse_json_lines(result.out);
  size_t waits = 0, waits_without_lock = 0;
  for (const auto& line : lines)
    if (field(line, "/syscall") == "flock" && field(line, "/phase") == "wait") {
      waits++;
      waits_without_lock += !line.contains("lock");
    }
  EXPECT_EQ(deadlock_indexes(lines).size(), static_cast<size_t>(kRounds))
      << waits_without_lock << " of " << waits
      << " flock wait records name no lock (the thread first slept before the kernel's "
         "flock_lock_inode tracepoint; the one wait record per call was spent on that sleep)";
}

// POSIX locks: the kernel refuses the wait that would close the cycle.
TEST_F(AnalysisIntegration, FcntlAbbaIsRefusedWithEdeadlk) {
  RunResult result = locktrace({"live", "--json", "--", FCNTL_ABBA, tmp_.path().string()});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  Lines lines = parse_json_lines(result.out);
  auto found = deadlock_indexes(lines);
  ASSERT_EQ(found.size(), 1u) << dump(lines);
  const Json& finding = lines[found[0]];
  EXPECT_EQ(finding["kernel_edeadlk"], true) << finding.dump();

  // The refused call: B's F_SETLKW for byte 0, ending with EDEADLK.
  std::optional<size_t> refused;
  for (size_t i = 0; i < lines.size(); i++)
    if (field(lines[i], "/syscall") == "fcntl" && field(lines[i], "/errno") == 35) refused = i;
  ASSERT_TRUE(refused) << dump(lines);
  EXPECT_EQ(lines[*refused]["errno_name"], "EDEADLK");
  EXPECT_LT(*refused, found[0]);
  int64_t b = lines[*refused]["pid"].get<int64_t>();
  auto parent = exec_pid(lines, FCNTL_ABBA);
  ASSERT_TRUE(parent) << dump(lines);
  auto children = forked_processes(lines, *parent);
  ASSERT_EQ(children.size(), 2u) << dump(lines);
  int64_t a = children[0] == b ? children[1] : children[0];

  ASSERT_FALSE(finding["cycle"].empty()) << finding.dump();
  const Json* b_edge = nullptr;
  for (const auto& edge : finding["cycle"])
    if (edge["waiter"]["pid"] == b) b_edge = &edge;
  ASSERT_NE(b_edge, nullptr) << finding.dump();
  EXPECT_EQ((*b_edge)["lock"]["kind"], "posix");
  EXPECT_EQ((*b_edge)["lock"]["start"], 0);
  EXPECT_EQ((*b_edge)["lock"]["end"], 0);
  EXPECT_EQ((*b_edge)["holder"]["pid"], a) << finding.dump();
  // The cycle the kernel saw: A waits for byte 1, held by B.
  EXPECT_EQ(cycle_waiters(finding, "pid"), (std::set<int64_t>{a, b})) << finding.dump();
  expect_closed_cycle(finding);
}

// Attach to a program whose threads already deadlocked: the snapshot finds
// both waits and the finding follows at once.
TEST_F(AnalysisIntegration, AttachToAnExistingDeadlock) {
  Background program({ABBA_MUTEX_FP, "-a"});
  auto announced = program.read_line(30s);
  ASSERT_TRUE(announced) << "the program never deadlocked";
  int pid = 0, tid_a = 0, tid_b = 0;
  ASSERT_EQ(std::sscanf(announced->c_str(), "deadlocked %d %d %d", &pid, &tid_a, &tid_b), 3) << *announced;
  ASSERT_EQ(pid, program.pid());

  RunResult result = locktrace({"live", "--json", "-p", std::to_string(pid), "--duration", "2s"});
  program.stop(SIGKILL);
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  Lines lines = parse_json_lines(result.out);
  auto found = deadlock_indexes(lines);
  ASSERT_EQ(found.size(), 1u) << dump(lines);
  const Json& finding = lines[found[0]];
  EXPECT_EQ(cycle_waiters(finding), (std::set<int64_t>{tid_a, tid_b})) << finding.dump();
  expect_closed_cycle(finding);
  for (const auto& edge : finding["cycle"])
    EXPECT_EQ(edge["attribution"], "glibc_owner_guess") << finding.dump();
  // Before it, the snapshot's waits for both threads, entered before tracing.
  std::set<int64_t> snapshot_waiters;
  for (size_t i = 0; i < found[0]; i++)
    if (field(lines[i], "/event") == "lock_call" && field(lines[i], "/phase") == "wait" &&
        field(lines[i], "/entered_before_trace") == true)
      snapshot_waiters.insert(lines[i]["tid"].get<int64_t>());
  EXPECT_EQ(snapshot_waiters, (std::set<int64_t>{tid_a, tid_b})) << dump(lines);
  // Nothing the threads did after attaching was needed: they never returned.
  for (size_t i = 0; i < found[0]; i++)
    if (field(lines[i], "/event") == "lock_call") {
      EXPECT_EQ(lines[i]["entered_before_trace"], true) << lines[i].dump();
    }
  const Json* summary = summary_of(lines);
  ASSERT_NE(summary, nullptr) << dump(lines);
  EXPECT_EQ((*summary)["deadlocks"].size(), 1u);
  EXPECT_EQ((*summary)["still_blocked"].size(), 2u) << summary->dump();
}

// The address contention_loop printed for its mutex ("mutex 0x..." on stderr).
std::string mutex_address(const std::string& err) {
  size_t at = err.find("mutex 0x");
  if (at == std::string::npos) return {};
  size_t end = err.find('\n', at);
  return err.substr(at + 6, end == std::string::npos ? std::string::npos : end - at - 6);
}

// The summary's contended locks for the contention program: its mutex, waited
// on, with both workers among the waiters and the holders.
void expect_contended_mutex(const Json& summary, const Lines& events, const std::string& address,
                            const std::string& context) {
  EXPECT_TRUE(summary["deadlocks"].empty()) << context;
  int64_t a = tid_named(events, "cont-a"), b = tid_named(events, "cont-b");
  ASSERT_GT(a, 0) << context;
  ASSERT_GT(b, 0) << context;
  ASSERT_FALSE(address.empty()) << context;
  const Json* mutex = nullptr;
  for (const auto& c : summary["contended_locks"])
    if (c["lock"]["kind"] == "futex" && c["lock"]["uaddr"] == address) mutex = &c;
  ASSERT_NE(mutex, nullptr) << "no mutex " << address << " in " << summary.dump() << "\n" << context;
  EXPECT_GT((*mutex)["waits"].get<uint64_t>(), 0u) << mutex->dump();
  std::set<int64_t> waiters, holders;
  for (const auto& w : (*mutex)["top_waiters"]) waiters.insert(w["task"]["tid"].get<int64_t>());
  for (const auto& h : (*mutex)["top_holders"]) holders.insert(h["task"]["tid"].get<int64_t>());
  EXPECT_EQ(waiters, (std::set<int64_t>{a, b})) << mutex->dump();
  EXPECT_FALSE(holders.empty()) << mutex->dump();
  for (int64_t holder : holders) EXPECT_TRUE(holder == a || holder == b) << mutex->dump();
  for (const auto& w : (*mutex)["top_waiters"]) {
    std::string comm = w["task"]["comm"];
    EXPECT_TRUE(comm == "cont-a" || comm == "cont-b") << mutex->dump();
  }
  EXPECT_GT((*mutex)["acquisitions"].get<uint64_t>(), 0u);
  EXPECT_GE((*mutex)["max_wait_ns"].get<uint64_t>(), (*mutex)["p50_wait_ns"].get<uint64_t>());
  EXPECT_GT((*mutex)["total_wait_ns"].get<uint64_t>(), 0u);
}

TEST_F(AnalysisIntegration, ContentionWithoutDeadlockLiveAndRecorded) {
  RunResult live = locktrace({"live", "--json", "--", CONTENTION_LOOP});
  ASSERT_EQ(live.exit_code, 0) << live.describe();
  Lines lines = parse_json_lines(live.out);
  EXPECT_TRUE(deadlock_indexes(lines).empty()) << dump(lines);
  const Json* summary = summary_of(lines);
  ASSERT_NE(summary, nullptr) << dump(lines);
  expect_contended_mutex(*summary, lines, mutex_address(live.err), live.describe());

  std::string trace = tmp_.file("contention.lt");
  RunResult record = locktrace({"record", "-o", trace, "--", CONTENTION_LOOP});
  ASSERT_EQ(record.exit_code, 0) << record.describe();
  RunResult report = locktrace({"report", trace, "--json"});
  ASSERT_EQ(report.exit_code, 0) << report.describe();
  Lines report_lines = parse_json_lines(report.out);
  ASSERT_EQ(report_lines.size(), 1u) << report.describe();
  // The thread names are in the trace, not in the report: take them from a replay.
  RunResult replay = locktrace({"replay", "--json", trace});
  ASSERT_EQ(replay.exit_code, 0) << replay.describe();
  Lines replayed = parse_json_lines(replay.out);
  EXPECT_TRUE(deadlock_indexes(replayed).empty());
  expect_contended_mutex(report_lines[0], replayed, mutex_address(record.err), record.describe());
  ASSERT_NE(summary_of(replayed), nullptr);
  EXPECT_EQ(*summary_of(replayed), report_lines[0]) << "replay and report summarise alike";
}

// A live run that also records: the replay prints the same finding lines, and
// report counts the deadlock.
TEST_F(AnalysisIntegration, RecordedDeadlockReplaysTheSameFindings) {
  std::string trace = tmp_.file("abba.lt");
  RunResult live = locktrace({"live", "--json", "--exit-on-deadlock", "-o", trace, "--", ABBA_MUTEX_FP});
  ASSERT_EQ(live.exit_code, 6) << live.describe();
  Lines live_lines = parse_json_lines(live.out);
  auto live_found = deadlock_indexes(live_lines);
  ASSERT_EQ(live_found.size(), 1u) << dump(live_lines);

  RunResult replay = locktrace({"replay", "--json", trace});
  ASSERT_EQ(replay.exit_code, 0) << replay.describe();
  Lines replayed = parse_json_lines(replay.out);
  auto replay_found = deadlock_indexes(replayed);
  ASSERT_EQ(replay_found.size(), 1u) << dump(replayed);
  EXPECT_EQ(replayed[replay_found[0]], live_lines[live_found[0]]);
  // After the same event.
  EXPECT_EQ(replayed[replay_found[0] - 1], live_lines[live_found[0] - 1]);
  check_abba_finding(replayed, replay_found[0]);

  RunResult report = locktrace({"report", trace, "--json"});
  ASSERT_EQ(report.exit_code, 0) << report.describe();
  Json summary = Json::parse(report.out);
  ASSERT_EQ(summary["deadlocks"].size(), 1u) << report.out;
  EXPECT_EQ(summary["deadlocks"][0]["cycle"], live_lines[live_found[0]]["cycle"]);
  EXPECT_EQ(summary["deadlocks"][0]["ts_ns"], live_lines[live_found[0]]["ts_ns"]);
}

// record alone (no --exit-on-deadlock): the program exits by itself a little
// after deadlocking; report still counts the deadlock and the graph at the end
// of the trace no longer shows it (the threads died).
TEST_F(AnalysisIntegration, RecordReportAndGraphOfADeadlock) {
  std::string trace = tmp_.file("abba-x.lt");
  RunResult record = locktrace({"record", "-o", trace, "--", ABBA_MUTEX_NOFP, "-x", "300"});
  ASSERT_EQ(record.exit_code, 0) << record.describe();
  RunResult report = locktrace({"report", trace, "--json"});
  ASSERT_EQ(report.exit_code, 0) << report.describe();
  Json summary = Json::parse(report.out);
  ASSERT_EQ(summary["deadlocks"].size(), 1u) << report.out;
  const Json& deadlock = summary["deadlocks"][0];
  EXPECT_EQ(deadlock["kernel_edeadlk"], false);
  ASSERT_EQ(deadlock["cycle"].size(), 2u);
  std::set<std::string> comms;
  for (const auto& edge : deadlock["cycle"]) comms.insert(edge["waiter"]["comm"].get<std::string>());
  EXPECT_EQ(comms, (std::set<std::string>{"abba-a", "abba-b"}));

  // The graph while the deadlock lasted (the program exits 300 ms after it):
  // both threads wait, each for the lock the other holds.
  RunResult info = locktrace({"info", "--json", trace});
  ASSERT_EQ(info.exit_code, 0) << info.describe();
  int64_t start_us = iso_time_us(Json::parse(info.out)["start"].get<std::string>());
  // The summary gives monotonic ns; the finding line of a replay also its clock time.
  RunResult replay = locktrace({"replay", "--json", trace});
  ASSERT_EQ(replay.exit_code, 0) << replay.describe();
  Lines replayed = parse_json_lines(replay.out);
  auto found = deadlock_indexes(replayed);
  ASSERT_EQ(found.size(), 1u) << dump(replayed);
  EXPECT_EQ(replayed[found[0]]["ts_ns"], deadlock["ts_ns"]);
  int64_t deadlock_us = iso_time_us(replayed[found[0]]["time"].get<std::string>());
  ASSERT_GE(deadlock_us, start_us) << info.out << "\n" << deadlock.dump();
  std::string at = std::to_string(deadlock_us - start_us + 100'000) + "us";
  RunResult graph_at = locktrace({"graph", trace, "--at", at, "--json"});
  ASSERT_EQ(graph_at.exit_code, 0) << graph_at.describe();
  Json during = Json::parse(graph_at.out);
  std::map<std::string, std::string> labels;
  for (const auto& node : during["nodes"]) labels[node["id"].get<std::string>()] = node["label"];
  size_t waits = 0, held = 0;
  for (const auto& edge : during["edges"]) {
    if (edge["type"] == "waits_for") {
      waits++;
      EXPECT_NE(labels[edge["from"].get<std::string>()].find("abba-"), std::string::npos) << graph_at.out;
    }
    if (edge["type"] == "held_by") {
      held++;
      EXPECT_NE(edge["label"].get<std::string>().find("glibc_owner_guess"), std::string::npos)
          << graph_at.out;
    }
  }
  EXPECT_EQ(waits, 2u) << graph_at.out;
  EXPECT_EQ(held, 2u) << graph_at.out;

  // At the end of the trace the threads are gone: no one waits.
  RunResult graph_end = locktrace({"graph", trace, "--json"});
  ASSERT_EQ(graph_end.exit_code, 0) << graph_end.describe();
  size_t waits_at_end = 0;
  for (const auto& edge : Json::parse(graph_end.out)["edges"]) waits_at_end += edge["type"] == "waits_for";
  EXPECT_EQ(waits_at_end, 0u) << graph_end.out;

  RunResult dot = locktrace({"graph", trace, "--at", at});
  ASSERT_EQ(dot.exit_code, 0) << dot.describe();
  EXPECT_EQ(dot.out.rfind("digraph", 0), 0u) << dot.out;
  for (const char* name : {"abba-a", "abba-b", "glibc_owner_guess", "color=red"})
    EXPECT_NE(dot.out.find(name), std::string::npos) << name << " in\n" << dot.out;
}

}  // namespace
}  // namespace locktrace::analysis::integration
