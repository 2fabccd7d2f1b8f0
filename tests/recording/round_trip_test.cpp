// live -o FILE and record -o FILE, then replay FILE: the same output, byte for
// byte, and the filters of replay select what filtering the full stream selects.
#include <sys/utsname.h>

#include <algorithm>
#include <functional>
#include <regex>

#include "recording_test.hpp"

namespace locktrace::recording {
namespace {

class RoundTrip : public BpfRecordingTest {};

std::vector<std::string> with_command(std::vector<std::string> args, const std::vector<std::string>& command) {
  args.push_back("--");
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

bool has(const Json& event, const char* key) { return event.contains(key) && !event[key].is_null(); }

TEST_F(RoundTrip, JsonReplayEqualsJsonLive) {
  std::string trace = tmp_.file("t.lt");
  RunResult live = locktrace(with_command({"live", "--json", "-o", trace}, contention_command()));
  ASSERT_EQ(live.exit_code, 0) << live.describe();
  RunResult replay = locktrace({"replay", "--json", trace});
  ASSERT_EQ(replay.exit_code, 0) << replay.describe();
  EXPECT_TRUE(same_lines(lines_of(replay.out), lines_of(live.out)));
  EXPECT_TRUE(replay.out == live.out) << "not byte for byte";
  EXPECT_EQ(replay.err, "") << replay.describe();

  // The scenario is in it: a flock that failed, a futex wait, a SIGKILL.
  auto events = json_lines(live.out);
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const Json& e) {
    return e["event"] == "lock_call" && e["syscall"] == "flock" && e.value("errno_name", "") == "EWOULDBLOCK";
  })) << live.out;
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const Json& e) {
    return e["event"] == "lock_call" && e["syscall"] == "futex" && e["phase"] == "done" && e["blocked"] == true;
  })) << live.out;
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const Json& e) {
    return e["event"] == "task_exit" && e["signal"] == "SIGKILL";
  })) << live.out;
}

TEST_F(RoundTrip, HumanReplayEqualsHumanLive) {
  std::string trace = tmp_.file("t.lt");
  std::string live_out = tmp_.file("live.txt"), replay_out = tmp_.file("replay.txt");
  RunOptions options;
  options.env = {"NO_COLOR=1"};
  options.stdout_file = live_out;
  RunResult live = locktrace(with_command({"live", "-o", trace}, contention_command()), options);
  ASSERT_EQ(live.exit_code, 0) << live.describe();
  options.stdout_file = replay_out;
  RunResult replay = locktrace({"replay", trace}, options);
  ASSERT_EQ(replay.exit_code, 0) << replay.describe();
  std::string expected = read_file(live_out);
  std::string replayed = read_file(replay_out);
  EXPECT_TRUE(same_lines(lines_of(replayed), lines_of(expected)));
  EXPECT_TRUE(replayed == expected) << "not byte for byte";
  EXPECT_NE(expected.find("EWOULDBLOCK"), std::string::npos) << expected;
  EXPECT_NE(expected.find("SIGKILL"), std::string::npos) << expected;
  EXPECT_EQ(expected.find('\x1b'), std::string::npos) << "colour with NO_COLOR:\n" << expected;
}

TEST_F(RoundTrip, RecordThenReplayShowsTheEvents) {
  std::string trace = tmp_.file("t.lt");
  RunResult recorded = record(trace, contention_command());
  ASSERT_EQ(recorded.exit_code, 0) << recorded.describe();
  EXPECT_EQ(recorded.out, "") << "record printed events";
  EXPECT_NE(recorded.err.find("recorded to " + trace), std::string::npos) << recorded.describe();

  RunResult replay = locktrace({"replay", "--json", trace});
  ASSERT_EQ(replay.exit_code, 0) << replay.describe();
  auto events = json_lines(replay.out);
  auto failed = std::find_if(events.begin(), events.end(), [](const Json& e) {
    return e["event"] == "lock_call" && e["syscall"] == "flock" && e["phase"] == "done" &&
           e.value("errno_name", "") == "EWOULDBLOCK";
  });
  ASSERT_NE(failed, events.end()) << replay.out;
  EXPECT_EQ((*failed)["comm"], "flock");
  EXPECT_EQ((*failed)["ret"], -11);
  EXPECT_EQ((*failed)["args"]["path"], tmp_.file("a.lock"));
  // The waiting flock: blocked until the holder's sleep ended.
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const Json& e) {
    return e["event"] == "lock_call" && e["syscall"] == "flock" && e["phase"] == "done" && !has(e, "errno") &&
           e["may_block"] == true;
  })) << replay.out;
  // The python3 main thread slept on the lock until the Timer released it.
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const Json& e) {
    return e["event"] == "lock_call" && e["syscall"] == "futex" && e["phase"] == "done" &&
           e["comm"] == "python3" && e["duration_ns"].get<uint64_t>() >= 150'000'000;
  })) << replay.out;
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const Json& e) {
    return e["event"] == "task_exit" && e["signal"] == "SIGKILL" && e["process_exited"] == true;
  })) << replay.out;
}

// What replay reads, the reader written from docs/trace-format.md reads too:
// packed blocks (encoding 2) of the same kernel records, in the same order.
TEST_F(RoundTrip, TheSpecificationsReaderReadsWhatReplayReads) {
  std::string trace = tmp_.file("t.lt");
  RunResult recorded = record(trace, contention_command());
  ASSERT_EQ(recorded.exit_code, 0) << recorded.describe();
  RunResult replay = locktrace({"replay", "--json", trace});
  ASSERT_EQ(replay.exit_code, 0) << replay.describe();
  auto events = json_lines(replay.out);
  std::vector<uint64_t> replayed;
  for (const auto& e : events)
    if (e.contains("ts_ns") && e.contains("tid")) replayed.push_back(e["ts_ns"]);

  Layout layout = parse_layout(read_file(trace));
  std::vector<uint64_t> read;
  for (const auto& block : layout.blocks) {
    EXPECT_EQ(block.encoding, 2) << "at offset " << block.offset;
    for (const auto& record : split_records(block.raw))
      if (record.type == 1) read.push_back(get<uint64_t>(record.body, 8));  // lt_header.ts_ns
  }
  ASSERT_EQ(layout.trailer.size(), 7u);
  EXPECT_EQ(read.size(), layout.trailer[2]);  // kernel_events
  EXPECT_EQ(read, replayed);
}

// One recording of the contention scenario per test process, with its full
// --json replay: the filter tests compare against it.
class ReplayFilters : public BpfRecordingTest {
 protected:
  void SetUp() override {
    BpfRecordingTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    trace_ = tmp_.file("t.lt");
    RunResult recorded = record(trace_, contention_command());
    ASSERT_EQ(recorded.exit_code, 0) << recorded.describe();
    RunResult full = locktrace({"replay", "--json", trace_});
    ASSERT_EQ(full.exit_code, 0) << full.describe();
    full_ = event_lines(full.out);
    ASSERT_GT(full_.size(), 20u);
    start_ts_ = parse_layout(read_file(trace_)).start_ts_ns;
  }

  // replay --json ARGS... gives the lines of the full replay that `keep` keeps.
  void expect_subset(const std::vector<std::string>& args, const std::function<bool(const Json&)>& keep) {
    std::vector<std::string> argv{"replay", "--json", trace_};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult filtered = locktrace(argv);
    ASSERT_EQ(filtered.exit_code, 0) << filtered.describe();
    std::vector<std::string> expected;
    for (const auto& line : full_)
      if (keep(Json::parse(line))) expected.push_back(line);
    EXPECT_FALSE(expected.empty()) << "a filter that keeps nothing tests nothing";
    EXPECT_LT(expected.size(), full_.size()) << "a filter that keeps everything tests nothing";
    EXPECT_TRUE(same_lines(event_lines(filtered.out), expected)) << filtered.command;
  }

  std::string trace_;
  std::vector<std::string> full_;
  uint64_t start_ts_ = 0;
};

TEST_F(ReplayFilters, PidAndComm) {
  // The process that failed with EWOULDBLOCK.
  uint64_t pid = 0;
  for (const auto& line : full_) {
    Json e = Json::parse(line);
    if (e.value("errno_name", "") == "EWOULDBLOCK") pid = e["pid"];
  }
  ASSERT_NE(pid, 0u);
  expect_subset({"--pid", std::to_string(pid)}, [pid](const Json& e) { return e["pid"] == pid; });
  expect_subset({"--comm", "flock"}, [](const Json& e) { return e["comm"] == "flock"; });
  expect_subset({"--comm", "python3,sleep"},
                [](const Json& e) { return e["comm"] == "python3" || e["comm"] == "sleep"; });
}

TEST_F(ReplayFilters, ErrorsOnlyAndMinWait) {
  auto done = [](const Json& e) { return e["event"] == "lock_call" && e["phase"] == "done"; };
  expect_subset({"--errors-only"}, [&](const Json& e) { return done(e) && has(e, "errno"); });
  expect_subset({"--min-wait", "100ms"},
                [&](const Json& e) { return done(e) && e["duration_ns"].get<uint64_t>() >= 100'000'000; });
  expect_subset({"--errors-only", "--comm", "flock"},
                [&](const Json& e) { return done(e) && has(e, "errno") && e["comm"] == "flock"; });
}

TEST_F(ReplayFilters, SinceAndUntil) {
  auto rel = [this](const Json& e) { return e["ts_ns"].get<uint64_t>() - start_ts_; };
  uint64_t since = rel(Json::parse(full_[full_.size() / 3]));
  uint64_t until = rel(Json::parse(full_[2 * full_.size() / 3]));
  std::string since_arg = std::to_string(since) + "ns", until_arg = std::to_string(until) + "ns";
  expect_subset({"--since", since_arg}, [&](const Json& e) { return rel(e) >= since; });
  expect_subset({"--until", until_arg}, [&](const Json& e) { return rel(e) <= until; });
  expect_subset({"--since", since_arg, "--until", until_arg},
                [&](const Json& e) { return rel(e) >= since && rel(e) <= until; });
}

class Info : public BpfRecordingTest {};

TEST_F(Info, DescribesTheRecording) {
  std::string trace = tmp_.file("t.lt");
  RunResult recorded = record(trace, contention_command());
  ASSERT_EQ(recorded.exit_code, 0) << recorded.describe();
  RunResult info = locktrace({"info", trace});
  ASSERT_EQ(info.exit_code, 0) << info.describe();
  utsname uts{};
  uname(&uts);
  const std::string& out = info.out;
  EXPECT_NE(out.find("\nhost:         " + std::string(uts.nodename) + "\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nkernel:       " + std::string(uts.release) + "\n"), std::string::npos) << out;
  std::string iso = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d)";
  EXPECT_TRUE(std::regex_search(out, std::regex("\nstart: +" + iso + "\n"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("\nend: +" + iso + "\n"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nduration: +\d+\.\d+ s\n)"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\nevents: +[1-9]\d* \(lock_call [1-9]\d*, .*task_exit [1-9]\d*)")))
      << out;
  EXPECT_NE(out.find("\nlost:         0 ("), std::string::npos) << out;
  EXPECT_NE(out.find(", complete\n"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n +\d+ +\d+  sh +sh )" + tmp_.file("contention.sh"))))
      << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n +\d+ +\d+  flock +flock .*a\.lock)"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n +\d+ +\d+  python3 )"))) << out;
}

TEST_F(Info, JsonCountsWhatReplayPrints) {
  std::string trace = tmp_.file("t.lt");
  RunResult recorded = record(trace, contention_command());
  ASSERT_EQ(recorded.exit_code, 0) << recorded.describe();
  RunResult info = locktrace({"info", "--json", trace});
  ASSERT_EQ(info.exit_code, 0) << info.describe();
  RunResult replay = locktrace({"replay", "--json", trace});
  ASSERT_EQ(replay.exit_code, 0) << replay.describe();

  Json summary = Json::parse(info.out);
  auto lines = event_lines(replay.out);
  EXPECT_EQ(summary["events"].get<uint64_t>(), lines.size()) << info.out;
  uint64_t lock_calls = std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
    return starts_with(l, R"({"event":"lock_call")");
  });
  EXPECT_EQ(summary["events_by_type"]["lock_call"].get<uint64_t>(), lock_calls);
  EXPECT_EQ(summary["format_version"], "1.1");
  EXPECT_EQ(summary["complete"], true);
  EXPECT_EQ(summary["lost"]["ring_buffer"], 0);
  EXPECT_EQ(summary["lost"]["writer"], 0);
  EXPECT_GE(summary["blocks"].get<uint64_t>(), 1u);
  EXPECT_EQ(summary["corrupt_blocks"], 0);
  EXPECT_GT(summary["duration_ns"].get<uint64_t>(), 0u);
  EXPECT_NE(summary["recorded_with"].get<std::string>().find("record -o " + trace), std::string::npos);
  bool flock_listed = false;
  for (const auto& p : summary["processes"])
    flock_listed |= p["comm"] == "flock" && p["cmdline"].get<std::string>().find("a.lock") != std::string::npos;
  EXPECT_TRUE(flock_listed) << info.out;
}

}  // namespace
}  // namespace locktrace::recording
