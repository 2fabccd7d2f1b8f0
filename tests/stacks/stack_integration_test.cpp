// Stacks and symbols end to end: the real locktrace binary, as root, against
// real programs. The pthread ABBA deadlock names its two mutexes and the
// functions that wait for them, whether the program has frame pointers or not;
// python3 and sqlite3 waits reach into their own libraries; a recording replays
// with the same names after the binaries are gone; a deadlock found at attach
// time has its stacks too. Skipped when BPF tracing is not usable here, failed
// instead when CI=true.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "run_helpers.hpp"

namespace nlohmann {
// GoogleTest would otherwise print a json value as a container of json values, forever.
inline void PrintTo(const json& value, std::ostream* os) { *os << value.dump(); }
}  // namespace nlohmann

namespace locktrace::stacks::integration {
namespace {

using namespace locktrace::integration;
using Json = nlohmann::json;
using Lines = std::vector<Json>;

class StackIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    static const std::string reason = probe_bpf(LOCKTRACE_BIN, STACKS_PROBE_STAMP);
    if (reason.empty()) return;
    const char* ci = std::getenv("CI");
    if (ci && std::string_view(ci) == "true") GTEST_FAIL() << reason;
    GTEST_SKIP() << reason;
  }

  // locktrace ARGS... that must exit 0: its output lines as JSON.
  static Lines locktrace_json(std::vector<std::string> args) {
    args.insert(args.begin(), LOCKTRACE_BIN);
    RunResult result = run(args);
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    return parse_json_lines(result.out);
  }

  TempDir tmp_;
};

std::string dump(const Lines& lines) {
  std::string text = "lines (" + std::to_string(lines.size()) + "):\n";
  for (const auto& line : lines) text += line.dump() + "\n";
  return text;
}

const Json& field(const Json& line, const std::string& pointer) {
  static const Json null;
  Json::json_pointer ptr(pointer);
  return line.contains(ptr) ? line.at(ptr) : null;
}

// id -> frames, from the stack lines.
std::map<int64_t, Json> stack_table(const Lines& lines) {
  std::map<int64_t, Json> stacks;
  for (const auto& line : lines)
    if (field(line, "/event") == "stack") stacks[line["id"].get<int64_t>()] = line["frames"];
  return stacks;
}

std::vector<std::string> functions(const Json& frames) {
  std::vector<std::string> names;
  for (const auto& frame : frames)
    if (frame["function"].is_string()) names.push_back(frame["function"]);
  return names;
}

bool has_function(const Json& frames, const std::string& name) {
  auto names = functions(frames);
  return std::ranges::find(names, name) != names.end();
}

bool has_module_containing(const Json& frames, const std::string& part) {
  return std::ranges::any_of(frames, [&](const Json& frame) {
    return frame["module"].is_string() && frame["module"].get<std::string>().find(part) != std::string::npos;
  });
}

const Json* first_deadlock(const Lines& lines) {
  for (const auto& line : lines)
    if (field(line, "/event") == "finding" && field(line, "/kind") == "deadlock") return &line;
  return nullptr;
}

// The ABBA finding: each waiter's stack passes through its thread function and
// each lock is named after its static mutex.
void expect_named_abba(const Lines& lines, const Json& finding) {
  auto stacks = stack_table(lines);
  std::map<std::string, std::string> thread_function{{"abba-a", "thread_a"}, {"abba-b", "thread_b"}};
  std::set<std::string> symbols;
  ASSERT_EQ(finding["cycle"].size(), 2u) << finding.dump();
  for (const auto& edge : finding["cycle"]) {
    symbols.insert(field(edge, "/lock/symbol").is_string() ? edge["lock"]["symbol"].get<std::string>() : "?");
    ASSERT_TRUE(edge["waiter_stack"].is_number()) << edge.dump();
    const Json& frames = stacks[edge["waiter_stack"].get<int64_t>()];
    std::string comm = edge["waiter"]["comm"];
    EXPECT_TRUE(has_function(frames, thread_function[comm])) << comm << ": " << frames.dump();
    EXPECT_TRUE(has_module_containing(frames, "libc.so")) << frames.dump();
    EXPECT_TRUE(std::ranges::any_of(frames, [](const Json& f) { return f.value("kernel", false); }))
        << "the kernel side of the wait: " << frames.dump();
  }
  EXPECT_EQ(symbols, (std::set<std::string>{"mutex1", "mutex2"})) << finding.dump();
}

struct AbbaBinary {
  const char* name;
  const char* path;
};

void PrintTo(const AbbaBinary& binary, std::ostream* os) { *os << binary.name; }

class AbbaStacks : public StackIntegration, public ::testing::WithParamInterface<AbbaBinary> {};

TEST_P(AbbaStacks, DeadlockNamesTheMutexesAndTheFunctionsWaitingForThem) {
  Lines lines = locktrace_json({"live", "--json", "--", GetParam().path, "-x", "300"});
  const Json* finding = first_deadlock(lines);
  ASSERT_NE(finding, nullptr) << dump(lines);
  expect_named_abba(lines, *finding);
}

TEST_P(AbbaStacks, HumanFindingShowsWhereEachThreadWaits) {
  RunResult result = run({LOCKTRACE_BIN, "live", "--", GetParam().path, "-x", "300"});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const std::string& out = result.out;
  size_t deadlock = out.find("DEADLOCK");
  ASSERT_NE(deadlock, std::string::npos) << out;
  std::string block = out.substr(deadlock, 2000);
  for (const char* name : {"thread_a", "thread_b", "mutex1", "mutex2"})
    EXPECT_NE(block.find(name), std::string::npos) << name << " in:\n" << block;
}

INSTANTIATE_TEST_SUITE_P(Builds, AbbaStacks,
                         ::testing::Values(AbbaBinary{"FramePointers", ABBA_MUTEX_FP},
                                           AbbaBinary{"NoFramePointers", ABBA_MUTEX_NOFP}),
                         [](const auto& info) { return std::string(info.param.name); });

// Frame pointers alone: Debian's libc has none, so the walk stops in it, and
// still every wait has a stack (at least the syscall's caller).
TEST_F(StackIntegration, FramePointerUnwindingStillGivesEveryWaitAStack) {
  Lines lines = locktrace_json({"live", "--json", "--unwind", "fp", "--", ABBA_MUTEX_FP, "-x", "300"});
  auto stacks = stack_table(lines);
  int waits = 0;
  for (const auto& line : lines) {
    if (field(line, "/event") != "lock_call" || field(line, "/phase") != "wait") continue;
    waits++;
    ASSERT_TRUE(line["stack_id"].is_number()) << line.dump();
    EXPECT_TRUE(has_module_containing(stacks[line["stack_id"].get<int64_t>()], "libc.so")) << line.dump();
  }
  EXPECT_GE(waits, 2) << dump(lines);
}

TEST_F(StackIntegration, NoStacksCapturesNone) {
  Lines lines = locktrace_json({"live", "--json", "--no-stacks", "--", ABBA_MUTEX_NOFP, "-x", "300"});
  ASSERT_NE(first_deadlock(lines), nullptr) << dump(lines);
  for (const auto& line : lines) {
    EXPECT_NE(field(line, "/event"), "stack") << line.dump();
    EXPECT_FALSE(line.contains("stack_id")) << line.dump();
  }
}

TEST_F(StackIntegration, PythonLockWaitReachesIntoLibcAndTheInterpreter) {
  // The main thread holds a threading.Lock while a second thread blocks on it.
  Lines lines = locktrace_json({"live", "--json", "--", "python3", "-c", R"(
import threading, time
lock = threading.Lock()
lock.acquire()
t = threading.Thread(target=lambda: lock.acquire())
t.start()
time.sleep(0.3)
lock.release()
t.join()
)"});
  auto stacks = stack_table(lines);
  bool found = false;
  for (const auto& line : lines) {
    if (field(line, "/event") != "lock_call" || field(line, "/phase") != "wait" || !line.contains("stack_id"))
      continue;
    const Json& frames = stacks[line["stack_id"].get<int64_t>()];
    if (has_module_containing(frames, "libc.so") && has_module_containing(frames, "python3")) found = true;
  }
  EXPECT_TRUE(found) << "no wait with libc and python3 frames: " << dump(lines);
}

// The refused sqlite3 retries for 200 ms (a busy timeout, as applications set
// one): a process that exits within the ~20 ms before its mappings are read
// would keep its addresses unnamed (docs/stacks.md).
TEST_F(StackIntegration, SqliteRefusedLockShowsTheSqliteLibrary) {
  std::string db = tmp_.file("app.db");
  ASSERT_EQ(run({"sqlite3", db, "CREATE TABLE t(x);"}).exit_code, 0);
  std::string script = "cd " + tmp_.path().string() + R"( && mkfifo in ready
sqlite3 app.db < in > holder.out 2>&1 &
exec 3> in
printf 'BEGIN EXCLUSIVE;\nINSERT INTO t VALUES(1);\n.shell echo > ready\n' >&3
read x < ready
sqlite3 -cmd '.timeout 200' app.db 'INSERT INTO t VALUES(2);' > second.out 2>&1
echo 'COMMIT;' >&3
exec 3>&-
wait
)";
  Lines lines = locktrace_json({"live", "--json", "--", "sh", "-c", script});
  auto stacks = stack_table(lines);
  int refused = 0;
  for (const auto& line : lines) {
    if (field(line, "/event") != "finding" || field(line, "/kind") != "failure") continue;
    if (field(line, "/call/errno_name") != "EAGAIN") continue;
    refused++;
    ASSERT_TRUE(field(line, "/call/stack_id").is_number()) << line.dump();
    const Json& frames = stacks[line["call"]["stack_id"].get<int64_t>()];
    EXPECT_TRUE(has_module_containing(frames, "libsqlite3")) << frames.dump();
    EXPECT_TRUE(has_module_containing(frames, "libc.so")) << frames.dump();
  }
  EXPECT_GE(refused, 1) << dump(lines);
}

// The recording carries the resolved names: replayed after the program is
// deleted, the stacks still name its functions, and report --folded too.
TEST_F(StackIntegration, ReplayNamesFunctionsAfterTheBinaryIsGone) {
  std::string program = tmp_.file("abba");
  std::filesystem::copy_file(ABBA_MUTEX_NOFP, program);
  std::filesystem::permissions(program, std::filesystem::perms::owner_all);
  std::string trace = tmp_.file("abba.lt");
  RunResult recorded = run({LOCKTRACE_BIN, "record", "-o", trace, "--", program, "-x", "300"});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.describe();
  std::filesystem::remove(program);

  Lines lines = locktrace_json({"replay", "--json", trace});
  const Json* finding = first_deadlock(lines);
  ASSERT_NE(finding, nullptr) << dump(lines);
  expect_named_abba(lines, *finding);

  RunResult folded = run({LOCKTRACE_BIN, "report", "--folded", trace});
  ASSERT_EQ(folded.exit_code, 0) << folded.describe();
  EXPECT_NE(folded.out.find("thread_a"), std::string::npos) << folded.out;
  EXPECT_NE(folded.out.find("thread_b"), std::string::npos) << folded.out;
}

// A deadlock that began before tracing: the snapshot copies each blocked
// thread's stack from its memory, so the first finding already says where.
TEST_F(StackIntegration, DeadlockFoundAtAttachHasStacks) {
  Background abba({ABBA_MUTEX_NOFP, "-a"});
  auto announced = abba.read_line();
  ASSERT_TRUE(announced && announced->starts_with("deadlocked")) << announced.value_or("(nothing)");
  Lines lines = locktrace_json({"live", "--json", "-p", std::to_string(abba.pid()), "--duration", "500ms"});
  const Json* finding = first_deadlock(lines);
  ASSERT_NE(finding, nullptr) << dump(lines);
  expect_named_abba(lines, *finding);
}

}  // namespace
}  // namespace locktrace::stacks::integration
