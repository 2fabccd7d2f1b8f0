// What the analyzer hands to the report, the graph export and the printing
// sinks: contention statistics, the JSON summary, DOT/JSON graphs, and the
// deadlock finding as the text and JSON outputs print it.
#include "report.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "analysis_stream.hpp"
#include "event_filter.hpp"
#include "graph_export.hpp"
#include "json_sink.hpp"
#include "text_sink.hpp"

namespace nlohmann {
// GoogleTest would otherwise print a json value as a container of json values, forever.
inline void PrintTo(const json& value, std::ostream* os) { *os << value.dump(); }
}  // namespace nlohmann

namespace locktrace::analysis::test {
namespace {

using nlohmann::json;

constexpr uint32_t kPid = 800, kT1 = 801, kT2 = 802;
constexpr uint64_t kMutex = 0x9000;

// Four contended acquisitions of one mutex: 1, 2, 3 and 100 ms of waiting.
void contend(Stream& s) {
  s.push(process_info(kPid, "contender", 1 * kSec));
  s.push(thread_info(kPid, kT1, "cont-a", 1 * kSec));
  s.push(thread_info(kPid, kT2, "cont-b", 1 * kSec));
  struct {
    uint32_t waiter, holder;
    uint64_t ms;
  } waits[] = {{kT2, kT1, 1}, {kT1, kT2, 2}, {kT2, kT1, 3}, {kT1, kT2, 100}};
  uint64_t t = 2 * kSec;
  for (const auto& w : waits) {
    LockCall wait = futex_wait(kPid, w.waiter, t, kMutex, 2, w.holder);
    s.push(wait);
    s.push(futex_wake(kPid, w.holder, t + w.ms * kMs - 1000, kMutex, 1));
    s.push(done(wait, t + w.ms * kMs, 0));
    t += 200 * kMs;
  }
  // The word changed before the kernel looked: EAGAIN without sleeping is no wait.
  s.push(immediate(futex_wait(kPid, kT1, t, kMutex, 2, kT2), -11));
}

const LockContention* futex_stats(const Analyzer& analyzer, uint64_t uaddr) {
  for (const auto* c : analyzer.contention().most_contended(100))
    if (c->lock.kind == LockRef::Kind::futex && c->lock.uaddr == uaddr) return c;
  return nullptr;
}

TEST(Contention, WaitsAcquisitionsAndQuantiles) {
  Stream s;
  contend(s);
  const LockContention* c = futex_stats(s.analyzer, kMutex);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->acquisitions, 4u);
  EXPECT_EQ(c->waits.count(), 4u);
  EXPECT_EQ(c->failures, 0u);
  EXPECT_EQ(c->waits.total(), 106 * kMs);
  EXPECT_EQ(c->waits.quantile(0.5), 2 * kMs);
  EXPECT_EQ(c->waits.quantile(0.99), 100 * kMs);
  EXPECT_EQ(c->waits.max(), 100 * kMs);
  // Who waited, and on whom (the glibc __owner attribution).
  ASSERT_EQ(c->waiters.size(), 2u);
  EXPECT_EQ(c->waiters.at({kPid, kT1}).count, 2u);
  EXPECT_EQ(c->waiters.at({kPid, kT1}).total_ns, 102 * kMs);
  EXPECT_EQ(c->waiters.at({kPid, kT2}).total_ns, 4 * kMs);
  ASSERT_EQ(c->holders.size(), 2u);
  EXPECT_EQ(c->holders.at({kPid, kT2}).total_ns, 102 * kMs);
  EXPECT_EQ(c->holders.at({kPid, kT1}).count, 2u);
  // Longest first.
  const auto& longest = s.analyzer.contention().longest_waits();
  ASSERT_EQ(longest.size(), 4u);
  EXPECT_EQ(longest[0].waited_ns, 100 * kMs);
  EXPECT_EQ(longest[0].edge.waiter.tid, kT1);
  EXPECT_EQ(longest[3].waited_ns, 1 * kMs);
  EXPECT_TRUE(s.analyzer.waits_now().empty());
  EXPECT_TRUE(s.sink.findings.empty());
}

// The holder unlocks before the waiter's call returns: the wait still counts
// against it, in the statistics and the longest waits.
TEST(Contention, HolderThatLetGoIsStillWhomTheWaiterWaitedFor) {
  Stream s;
  s.push(flock_ok(811, 1 * kSec, kLockEx, klock(61, 0xf1, kWrlck, LT_FL_FLOCK)));
  LockCall wait = flock_wait(812, 2 * kSec, 3, kLockEx,
                             blocked_by(klock(61, 0xf2, kWrlck, LT_FL_FLOCK), 811, 0xf1, kWrlck));
  s.push(wait);
  s.push(flock_ok(811, 3 * kSec, kLockUn, klock(61, 0xf1, kUnlck, LT_FL_FLOCK)));
  s.push(done(wait, 3 * kSec + 1000, 0));
  const auto& longest = s.analyzer.contention().longest_waits();
  ASSERT_EQ(longest.size(), 1u);
  ASSERT_TRUE(longest[0].edge.holder);
  EXPECT_EQ(longest[0].edge.holder->pid, 811u);
  EXPECT_EQ(*longest[0].edge.how, Attribution::kernel_blocker);
}

TEST(Contention, QuantilesNearestRank) {
  LockContention c;
  EXPECT_EQ(c.waits.quantile(0.5), 0u);
  EXPECT_EQ(c.waits.max(), 0u);
  for (uint64_t i = 1; i <= 100; i++) c.waits.add(i);
  EXPECT_EQ(c.waits.quantile(0.5), 50u);
  EXPECT_EQ(c.waits.quantile(0.99), 99u);
  EXPECT_EQ(c.waits.quantile(1.0), 100u);
  EXPECT_EQ(c.waits.quantile(0.0), 1u);
  EXPECT_EQ(c.waits.total(), 5050u);
}

// Past the exact limit the waits go into a histogram: memory stays flat, and
// quantiles stay within a bucket (under 7%) of the exact answer.
TEST(Contention, ManyWaitsKeepQuantilesClose) {
  WaitDistribution waits;
  const uint64_t n = 100'000;
  for (uint64_t i = 1; i <= n; i++) waits.add(i * 1000);  // 1 us .. 100 ms
  EXPECT_EQ(waits.count(), n);
  EXPECT_EQ(waits.max(), n * 1000);
  EXPECT_EQ(waits.total(), n * (n + 1) / 2 * 1000);
  for (double q : {0.5, 0.9, 0.99}) {
    double exact = q * n * 1000;
    double got = static_cast<double>(waits.quantile(q));
    EXPECT_GE(got, exact * 0.999) << q;
    EXPECT_LE(got, exact * 1.07) << q;
  }
  EXPECT_EQ(waits.quantile(1.0), n * 1000);
}

TEST(Contention, NonBlockingRefusalsAreFailures) {
  Stream s;
  s.push(flock_ok(811, 1 * kSec, kLockEx, klock(61, 0xf1, kWrlck, LT_FL_FLOCK)));
  for (uint64_t i = 1; i <= 2; i++)
    s.push(immediate(
        flock_wait(812, 1 * kSec + i, 3, kLockEx | kLockNb, klock(61, 0xf2, kWrlck, LT_FL_FLOCK)), -11));
  s.push(flock_ok(811, 1 * kSec + 10, kLockUn, klock(61, 0xf1, kUnlck, LT_FL_FLOCK)));
  s.push(flock_ok(812, 1 * kSec + 11, kLockEx | kLockNb, klock(61, 0xf2, kWrlck, LT_FL_FLOCK)));
  // fcntl F_SETLK refused with EACCES counts too.
  // Different byte ranges of one file count as one lock.
  s.push(fcntl_ok(813, 1 * kSec + 12, klock(62, 0xc1, kWrlck, LT_FL_POSIX, 0, 9)));
  s.push(
      immediate(fcntl_wait(814, 1 * kSec + 13, 3, kFSetlk, klock(62, 0xc2, kRdlck, LT_FL_POSIX, 5, 5)), -13));

  auto locks = s.analyzer.contention().most_contended(10);
  ASSERT_EQ(locks.size(), 2u) << "locks with refusals are contended even without waits";
  for (const auto* c : locks) {
    EXPECT_EQ(c->waits.count(), 0u);
    if (c->lock.ino == 61) {
      EXPECT_EQ(c->failures, 2u);
      EXPECT_EQ(c->acquisitions, 2u) << "an unlock is no acquisition";
    } else {
      EXPECT_EQ(c->lock.ino, 62u);
      EXPECT_EQ(c->failures, 1u);
      EXPECT_EQ(c->acquisitions, 1u);
      EXPECT_EQ(c->lock.start, 0) << "counted per file, not per range";
    }
  }
  EXPECT_TRUE(s.analyzer.deadlocks().empty());
}

// A trace with one of everything the summary lists.
void everything(Stream& s) {
  contend(s);
  s.push(flock_ok(811, 4 * kSec, kLockEx, klock(61, 0xf1, kWrlck, LT_FL_FLOCK)));
  s.push(thread_info(100, 101, "worker-a", 1 * kSec));
  s.push(thread_info(100, 102, "worker-b", 1 * kSec));
  s.push(futex_wait(100, 101, 5 * kSec, 0x2000, 2, 102));
  s.push(futex_wait(100, 102, 5 * kSec + 1 * kMs, 0x1000, 2, 101));
  s.push(immediate(flock_wait(812, 5 * kSec + 2 * kMs, 3, kLockEx | kLockNb,
                              blocked_by(klock(61, 0xf2, kWrlck, LT_FL_FLOCK), 811, 0xf1, kWrlck)),
                   -11));
  s.push(tick(6 * kSec));
}

TEST(ReportJson, SummaryHasTheDocumentedKeys) {
  Stream s;
  everything(s);
  std::string out;
  append_report_json(out, s.analyzer, s.pipeline.state(), test_stream_info());
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  json summary = json::parse(out);
  EXPECT_EQ(summary["event"], "summary");
  EXPECT_EQ(summary["duration_ns"], 5 * kSec);
  for (const char* key : {"deadlocks", "contended_locks", "longest_waits", "still_blocked"})
    ASSERT_TRUE(summary[key].is_array()) << key << " in " << out;

  ASSERT_EQ(summary["deadlocks"].size(), 1u);
  const json& deadlock = summary["deadlocks"][0];
  EXPECT_EQ(deadlock["ts_ns"], 5 * kSec + 1 * kMs);
  EXPECT_EQ(deadlock["kernel_edeadlk"], false);
  ASSERT_EQ(deadlock["cycle"].size(), 2u);
  for (const json& edge : deadlock["cycle"]) {
    for (const char* key : {"waiter", "lock", "waiting_since_ns", "holder", "attribution"})
      EXPECT_TRUE(edge.contains(key)) << key << " in " << edge.dump();
    EXPECT_EQ(edge["attribution"], "glibc_owner_guess");
    EXPECT_EQ(edge["lock"]["kind"], "futex");
    EXPECT_EQ(edge["waiter"]["pid"], 100);
    EXPECT_TRUE(edge["holding_since_ns"].is_null()) << "the mutex was taken without a syscall";
  }

  const json& locks = summary["contended_locks"];
  ASSERT_GE(locks.size(), 2u);
  const json* mutex = nullptr;
  for (const json& c : locks)
    if (c["lock"]["kind"] == "futex" && c["lock"]["uaddr"] == "0x9000") mutex = &c;
  ASSERT_NE(mutex, nullptr) << locks.dump();
  EXPECT_EQ((*mutex)["acquisitions"], 4);
  EXPECT_EQ((*mutex)["waits"], 4);
  EXPECT_EQ((*mutex)["failures"], 0);
  EXPECT_EQ((*mutex)["total_wait_ns"], 106 * kMs);
  EXPECT_EQ((*mutex)["mean_wait_ns"], 106 * kMs / 4);
  EXPECT_EQ((*mutex)["p50_wait_ns"], 2 * kMs);
  EXPECT_EQ((*mutex)["p99_wait_ns"], 100 * kMs);
  EXPECT_EQ((*mutex)["max_wait_ns"], 100 * kMs);
  EXPECT_EQ((*mutex)["lock"]["pid"], kPid);
  EXPECT_EQ((*mutex)["lock"]["shared"], false);
  ASSERT_EQ((*mutex)["top_waiters"].size(), 2u);
  EXPECT_EQ((*mutex)["top_waiters"][0]["task"]["tid"], kT1) << "most total wait first";
  EXPECT_EQ((*mutex)["top_waiters"][0]["task"]["comm"], "cont-a");
  EXPECT_EQ((*mutex)["top_waiters"][0]["waits"], 2);
  EXPECT_EQ((*mutex)["top_waiters"][0]["total_wait_ns"], 102 * kMs);
  ASSERT_EQ((*mutex)["top_holders"].size(), 2u);
  EXPECT_EQ((*mutex)["top_holders"][0]["task"]["tid"], kT2);
  EXPECT_EQ((*mutex)["top_holders"][0]["task"]["comm"], "cont-b");

  const json* file = nullptr;
  for (const json& c : locks)
    if (c["lock"]["kind"] == "flock") file = &c;
  ASSERT_NE(file, nullptr) << locks.dump();
  EXPECT_EQ((*file)["failures"], 1);
  EXPECT_EQ((*file)["waits"], 0);
  EXPECT_EQ((*file)["lock"]["ino"], 61);
  EXPECT_EQ((*file)["lock"]["dev"], "8:1");

  ASSERT_EQ(summary["longest_waits"].size(), 4u);
  EXPECT_EQ(summary["longest_waits"][0]["waited_ns"], 100 * kMs);
  EXPECT_TRUE(summary["longest_waits"][0].contains("ended_ns"));
  // The holder unlocked with a FUTEX_WAKE: known from glibc's __owner, or as the waker.
  const json& longest = summary["longest_waits"][0];
  EXPECT_TRUE(longest["attribution"] == "glibc_owner_guess" || longest["attribution"] == "waker") << out;
  EXPECT_EQ(longest["holder"]["tid"], kT2) << out;
  EXPECT_EQ(longest["waiter"]["tid"], kT1) << out;

  const json& blocked = summary["still_blocked"];
  ASSERT_EQ(blocked.size(), 2u);
  for (const json& edge : blocked) {
    EXPECT_TRUE(edge.contains("waited_ns"));
    EXPECT_TRUE(edge["holder"].is_object());
  }
  EXPECT_EQ(blocked[0]["waiter"]["tid"], 101);
  EXPECT_EQ(blocked[0]["waited_ns"], 1 * kSec);
}

TEST(ReportJson, EmptyTrace) {
  Stream s;
  std::string out;
  append_report_json(out, s.analyzer, s.pipeline.state(), test_stream_info());
  json summary = json::parse(out);
  EXPECT_EQ(summary["event"], "summary");
  EXPECT_EQ(summary["duration_ns"], 0);
  EXPECT_TRUE(summary["deadlocks"].empty());
  EXPECT_TRUE(summary["contended_locks"].empty());
  EXPECT_TRUE(summary["longest_waits"].empty());
  EXPECT_TRUE(summary["still_blocked"].empty());
}

TEST(ReportSink, PrintsTheSummaryWhenTheStreamEnds) {
  Stream s;
  MemoryFile json_out, text_out;
  ReportSink json_report(json_out.get(), s.analyzer, true);
  ReportSink text_report(text_out.get(), s.analyzer, false);
  s.pipeline.add_sink(json_report);
  s.pipeline.add_sink(text_report);
  json_report.on_start(test_stream_info());
  text_report.on_start(test_stream_info());
  everything(s);
  EXPECT_TRUE(json_out.text().empty()) << "nothing before the end";
  s.pipeline.finish();
  json summary = json::parse(json_out.text());
  EXPECT_EQ(summary["deadlocks"].size(), 1u);
  std::string text = text_out.text();
  EXPECT_NE(text.find("Deadlocks: 1"), std::string::npos) << text;
  EXPECT_NE(text.find("Contended locks: "), std::string::npos) << text;
  EXPECT_NE(text.find("Still blocked at the end: 2"), std::string::npos) << text;
  EXPECT_NE(text.find("worker-a"), std::string::npos) << text;
}

TEST(GraphExport, DotNamesWaitersLocksAndHolders) {
  Stream s;
  everything(s);
  std::string dot;
  append_graph_dot(dot, s.analyzer, s.pipeline.state(), test_stream_info());
  EXPECT_EQ(dot.rfind("digraph locktrace {", 0), 0u) << dot;
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
  for (const char* node :
       {"t101 [shape=box", "t102 [shape=box", "f100_4096 [shape=ellipse", "f100_8192 [shape=ellipse"})
    EXPECT_NE(dot.find(node), std::string::npos) << node << " in\n" << dot;
  EXPECT_NE(dot.find("t101 -> f100_8192"), std::string::npos) << dot;  // A waits for 0x2000
  EXPECT_NE(dot.find("f100_8192 -> t102"), std::string::npos) << dot;  // held by B
  EXPECT_NE(dot.find("t102 -> f100_4096"), std::string::npos) << dot;
  EXPECT_NE(dot.find("f100_4096 -> t101"), std::string::npos) << dot;
  EXPECT_NE(dot.find("glibc_owner_guess"), std::string::npos) << dot;
  EXPECT_NE(dot.find("worker-a"), std::string::npos) << dot;
  // The file lock the table knows (held by 811) appears with its holder.
  EXPECT_NE(dot.find("-> t811"), std::string::npos) << dot;
}

TEST(GraphExport, JsonParsesWithNodesAndEdges) {
  Stream s;
  everything(s);
  std::string out;
  append_graph_json(out, s.analyzer, s.pipeline.state(), test_stream_info());
  json graph = json::parse(out);
  EXPECT_EQ(graph["ts_ns"], 6 * kSec);
  EXPECT_TRUE(graph["time"].is_string());
  std::map<std::string, std::string> types;
  for (const json& node : graph["nodes"])
    types[node["id"].get<std::string>()] = node["type"].get<std::string>();
  EXPECT_EQ(types["t101"], "task");
  EXPECT_EQ(types["t102"], "task");
  EXPECT_EQ(types["f100_8192"], "lock");
  EXPECT_EQ(types["f100_4096"], "lock");
  size_t waits = 0, held = 0;
  for (const json& edge : graph["edges"]) {
    EXPECT_TRUE(types.contains(edge["from"].get<std::string>())) << edge.dump();
    EXPECT_TRUE(types.contains(edge["to"].get<std::string>())) << edge.dump();
    if (edge["type"] == "waits_for") waits++;
    if (edge["type"] == "held_by") held++;
  }
  EXPECT_EQ(waits, 2u);
  EXPECT_GE(held, 2u);
}

TEST(GraphExport, EmptyGraph) {
  Stream s;
  std::string dot, out;
  append_graph_dot(dot, s.analyzer, s.pipeline.state(), test_stream_info());
  append_graph_json(out, s.analyzer, s.pipeline.state(), test_stream_info());
  EXPECT_NE(dot.find("digraph"), std::string::npos);
  json graph = json::parse(out);
  EXPECT_TRUE(graph["nodes"].empty());
  EXPECT_TRUE(graph["edges"].empty());
}

// The finding as the sinks print it, right after the wait that closed the cycle.
TEST(FindingOutput, JsonAndTextSinksPrintTheDeadlock) {
  Stream s;
  MemoryFile json_out, text_out;
  JsonSink json_sink(json_out.get(), EventFilter{});
  TextSink text_sink(text_out.get(), EventFilter{}, false);
  s.pipeline.add_sink(json_sink);
  s.pipeline.add_sink(text_sink);
  json_sink.on_start(test_stream_info());
  text_sink.on_start(test_stream_info());
  s.push(process_info(100, "abba"));
  s.push(thread_info(100, 101, "worker-a"));
  s.push(thread_info(100, 102, "worker-b"));
  s.push(futex_wait(100, 101, 2 * kSec, 0x2000, 2, 102));
  s.push(futex_wait(100, 102, 2 * kSec + 5 * kMs, 0x1000, 2, 101));
  s.pipeline.flush();

  std::vector<json> lines;
  std::string all = json_out.text();
  for (size_t start = 0, nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(json::parse(all.substr(start, nl - start)));
  size_t at = 0;
  while (at < lines.size() && !(lines[at]["event"] == "finding" && lines[at]["kind"] == "deadlock")) at++;
  ASSERT_LT(at, lines.size()) << all;
  ASSERT_GE(at, 1u) << all;
  const json& finding = lines[at];
  const json& second_wait = lines[at - 1];
  EXPECT_EQ(second_wait["event"], "lock_call");
  EXPECT_EQ(second_wait["tid"], 102);
  EXPECT_EQ(finding["event"], "finding");
  EXPECT_EQ(finding["kind"], "deadlock");
  EXPECT_EQ(finding["ts_ns"], second_wait["ts_ns"]);
  EXPECT_EQ(finding["kernel_edeadlk"], false);
  ASSERT_EQ(finding["cycle"].size(), 2u);
  std::set<std::string> waiters;
  for (const json& edge : finding["cycle"]) {
    waiters.insert(edge["waiter"]["comm"].get<std::string>());
    EXPECT_EQ(edge["attribution"], "glibc_owner_guess");
    EXPECT_TRUE(edge["holder"].is_object());
    EXPECT_EQ(edge["lock"]["kind"], "futex");
  }
  EXPECT_EQ(waiters, (std::set<std::string>{"worker-a", "worker-b"}));

  std::string text = text_out.text();
  size_t block = text.find("!!! DEADLOCK");
  ASSERT_NE(block, std::string::npos) << text;
  EXPECT_NE(text.find("2 threads", block), std::string::npos) << text;
  EXPECT_NE(text.find("worker-a", block), std::string::npos) << text;
  EXPECT_NE(text.find("worker-b", block), std::string::npos) << text;
}

}  // namespace
}  // namespace locktrace::analysis::test
