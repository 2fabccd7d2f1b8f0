// Stacks on the wait-for graph: a waiter's stack is where its wait record was
// made; a holder's is where it took the lock (a file lock's acquisition, a
// futex owner's last wait on the word that returned 0). Findings and the
// report carry them and name futexes by their symbols.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analysis_stream.hpp"
#include "folded_stacks.hpp"
#include "graph_export.hpp"
#include "report.hpp"
#include "stack_events.hpp"
#include "text_sink.hpp"

namespace locktrace::analysis::test {
namespace {

using namespace stack_test;
using nlohmann::json;

constexpr uint32_t kAcquire = 1, kRefill = 2;
constexpr uint32_t kPid = 800, kMain = 800, kWorker = 812;
constexpr uint64_t kPool = 0x55d0c4a1c0c0, kOther = 0x55d0c4a1c100;
constexpr uint64_t kFileA = 0xffff888100aa0000, kFileB = 0xffff888100bb0000;

void name_tasks(Stream& s) {
  s.push(process_info(kPid, "main"));
  s.push(thread_info(kPid, kWorker, "worker"));
  s.push(stack_trace(kAcquire, pool_acquire_frames()));
  s.push(stack_trace(kRefill, pool_refill_frames()));
}

// Pushes the record after the CallStack that says where it was made.
void push_with_stack(Stream& s, const LockCall& call, uint32_t stack_id) {
  s.push(call_stack(call, stack_id));
  s.push(call);
}

std::vector<WaitEdge> waits_of(const Analyzer& analyzer, uint32_t tid) {
  std::vector<WaitEdge> out;
  for (const auto& edge : analyzer.waits_now())
    if (edge.waiter.tid == tid) out.push_back(edge);
  return out;
}

TEST(StackAttribution, FlockHolderStackIsItsAcquisition) {
  Stream s;
  name_tasks(s);
  s.push(process_info(900, "other"));
  push_with_stack(s, flock_ok(900, 1 * kSec, kLockEx, klock(10, kFileA, kWrlck, LT_FL_FLOCK)), kRefill);
  push_with_stack(s, flock_wait(kPid, 2 * kSec, 4, kLockEx, blocked_by(klock(10, kFileB, kWrlck, LT_FL_FLOCK), 900, kFileA, kWrlck)),
                  kAcquire);
  auto edges = waits_of(s.analyzer, kPid);
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_EQ(edges[0].waiter_stack, kAcquire);
  EXPECT_EQ(edges[0].holder, (TaskRef{900, 900}));
  EXPECT_EQ(edges[0].how, Attribution::kernel_blocker);
  EXPECT_EQ(edges[0].holder_stack, kRefill);
}

TEST(StackAttribution, PosixDeadlockCycleCarriesBothStacks) {
  Stream s;
  name_tasks(s);
  s.push(process_info(900, "other"));
  // 800 holds bytes 0-9, 900 holds 10-19 (each acquisition with its stack).
  push_with_stack(s, fcntl_ok(kPid, 1 * kSec, klock(20, kFileA, kWrlck, LT_FL_POSIX, 0, 9)), kRefill);
  push_with_stack(s, fcntl_ok(900, 1 * kSec + kMs, klock(20, kFileB, kWrlck, LT_FL_POSIX, 10, 19)), kAcquire);
  push_with_stack(s, fcntl_wait(kPid, 2 * kSec, 3, kFSetlkw, klock(20, kFileA, kWrlck, LT_FL_POSIX, 10, 19)), kAcquire);
  LockCall closing = fcntl_wait(900, 3 * kSec, 3, kFSetlkw, klock(20, kFileB, kWrlck, LT_FL_POSIX, 0, 9));
  s.push(call_stack(closing, kRefill));
  auto found = s.push(closing);
  ASSERT_EQ(found.size(), 1u);
  const auto& deadlock = std::get<DeadlockFinding>(found[0]);
  ASSERT_EQ(deadlock.cycle.size(), 2u);
  for (const auto& edge : deadlock.cycle) {
    if (edge.waiter.pid == kPid) {
      EXPECT_EQ(edge.waiter_stack, kAcquire);
      EXPECT_EQ(edge.holder_stack, kAcquire) << "900 took 10-19 in the acquire stack";
    } else {
      EXPECT_EQ(edge.waiter_stack, kRefill);
      EXPECT_EQ(edge.holder_stack, kRefill) << "800 took 0-9 in the refill stack";
    }
  }
}

TEST(StackAttribution, AWaitThatReturnsLendsItsStackToTheAcquisition) {
  // F_SETLKW that waited and then got the lock: its done record has no stack of its own.
  Stream s;
  name_tasks(s);
  s.push(process_info(900, "other"));
  LockCall wait = fcntl_wait(kPid, 1 * kSec, 3, kFSetlkw, klock(30, kFileA, kWrlck, LT_FL_POSIX));
  push_with_stack(s, wait, kRefill);
  s.push(done(wait, 2 * kSec, 0));
  push_with_stack(s, fcntl_wait(900, 3 * kSec, 3, kFSetlkw, klock(30, kFileB, kWrlck, LT_FL_POSIX)), kAcquire);
  auto edges = waits_of(s.analyzer, 900);
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_EQ(edges[0].holder, (TaskRef{kPid, kPid}));
  EXPECT_EQ(edges[0].holder_stack, kRefill);
}

TEST(StackAttribution, FutexHolderStackIsItsLastSuccessfulWaitOnThatWord) {
  Stream s;
  name_tasks(s);
  // main waited for the pool mutex and got it, in refill.
  LockCall main_wait = futex_wait(kPid, kMain, 1 * kSec, kPool, 2, 0);
  push_with_stack(s, main_wait, kRefill);
  s.push(done(main_wait, 1 * kSec + kMs, 0));
  // The worker waits on it; glibc's __owner says main.
  push_with_stack(s, futex_wait(kPid, kWorker, 2 * kSec, kPool, 2, kMain), kAcquire);
  auto edges = waits_of(s.analyzer, kWorker);
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_EQ(edges[0].holder, (TaskRef{kPid, kMain}));
  EXPECT_EQ(edges[0].how, Attribution::glibc_owner);
  EXPECT_EQ(edges[0].waiter_stack, kAcquire);
  EXPECT_EQ(edges[0].holder_stack, kRefill);
}

TEST(StackAttribution, NoFutexHolderStackFromAFailedWaitOrAnotherWord) {
  Stream s;
  name_tasks(s);
  LockCall refused = futex_wait(kPid, kMain, 1 * kSec, kPool, 2, 0);
  push_with_stack(s, refused, kRefill);
  s.push(done(refused, 1 * kSec + kMs, -11));  // the word changed: it did not take the lock here
  LockCall other = futex_wait(kPid, kMain, 1 * kSec + 2 * kMs, kOther, 2, 0);
  push_with_stack(s, other, kRefill);
  s.push(done(other, 1 * kSec + 3 * kMs, 0));
  push_with_stack(s, futex_wait(kPid, kWorker, 2 * kSec, kPool, 2, kMain), kAcquire);
  auto edges = waits_of(s.analyzer, kWorker);
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_EQ(edges[0].holder, (TaskRef{kPid, kMain}));
  EXPECT_FALSE(edges[0].holder_stack.has_value());
}

TEST(StackAttribution, WithoutStackEventsNothingIsSet) {
  Stream s;
  s.push(thread_info(kPid, kMain, "main"));
  s.push(futex_wait(kPid, kWorker, 2 * kSec, kPool, 2, kMain));
  auto edges = waits_of(s.analyzer, kWorker);
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_FALSE(edges[0].waiter_stack.has_value());
  EXPECT_FALSE(edges[0].holder_stack.has_value());
}

// main takes the pool in refill; the worker waits 3 s for it in acquire.
void long_pool_wait(Stream& s) {
  name_tasks(s);
  s.push(address_name(kPid, kPool, "g_pool_lock"));
  LockCall main_wait = futex_wait(kPid, kMain, 1 * kSec, kPool, 2, 0);
  push_with_stack(s, main_wait, kRefill);
  s.push(done(main_wait, 1 * kSec + kMs, 0));
  push_with_stack(s, futex_wait(kPid, kWorker, 2 * kSec, kPool, 2, kMain), kAcquire);
  s.push(tick(5 * kSec + kMs));
}

TEST(StackAttribution, LongWaitFindingInWords) {
  MemoryFile out;
  TextSink text(out.get(), EventFilter{}, false);
  Stream s(AnalyzerOptions{3 * kSec});
  s.pipeline.add_sink(text);
  long_pool_wait(s);
  std::string printed = out.text();
  EXPECT_NE(printed.find(">>> LONG WAIT at "), std::string::npos) << printed;
  EXPECT_NE(printed.find("worker[800/812] has waited 3.001000 s in db::Pool::acquire (pool.cc:88) <- "
                         "worker_main (main.cc:40) for futex 0x55d0c4a1c0c0<g_pool_lock> in pid 800, "
                         "held by main[800] (a guess from glibc's __owner field), taken in "
                         "db::Pool::refill (pool.cc:120) <- main (main.cc:12)\n"),
            std::string::npos)
      << printed;
}

TEST(StackAttribution, DeadlockBlockNamesWhereEachWaits) {
  MemoryFile out;
  TextSink text(out.get(), EventFilter{}, false);
  Stream s;
  s.pipeline.add_sink(text);
  name_tasks(s);
  s.push(address_name(kPid, kPool, "g_pool_lock"));
  s.push(address_name(kPid, kOther, "g_log_lock"));
  push_with_stack(s, futex_wait(kPid, kWorker, 2 * kSec, kOther, 2, kMain), kAcquire);
  push_with_stack(s, futex_wait(kPid, kMain, 3 * kSec, kPool, 2, kWorker), kRefill);
  std::string printed = out.text();
  EXPECT_NE(printed.find("!!!   worker[800/812] holds futex 0x55d0c4a1c0c0<g_pool_lock> in pid 800,\n"
                         "!!!       waits since "),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find(" in db::Pool::acquire (pool.cc:88) <- worker_main (main.cc:40) for futex "
                         "0x55d0c4a1c100<g_log_lock> in pid 800, held by main[800]"),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find(" in db::Pool::refill (pool.cc:120) <- main (main.cc:12) for futex "
                         "0x55d0c4a1c0c0<g_pool_lock> in pid 800"),
            std::string::npos)
      << printed;
}

TEST(StackAttribution, TheGraphNamesFutexesBySymbol) {
  Stream s(AnalyzerOptions{3 * kSec});
  long_pool_wait(s);
  std::string dot, graph_json;
  append_graph_dot(dot, s.analyzer, s.pipeline.state(), test_stream_info());
  append_graph_json(graph_json, s.analyzer, s.pipeline.state(), test_stream_info());
  EXPECT_NE(dot.find("label=\"futex 0x55d0c4a1c0c0<g_pool_lock> in pid 800\""), std::string::npos) << dot;
  EXPECT_NE(graph_json.find("\"label\":\"futex 0x55d0c4a1c0c0<g_pool_lock> in pid 800\""), std::string::npos)
      << graph_json;
}

// Two stacks wait on the pool: acquire 3 times (1, 2, 100 ms), refill once (4 ms).
void contend_in_two_places(Stream& s) {
  name_tasks(s);
  s.push(address_name(kPid, kPool, "g_pool_lock"));
  struct {
    uint32_t tid, stack;
    uint64_t ms;
  } waits[] = {{kWorker, kAcquire, 1}, {kMain, kRefill, 4}, {kWorker, kAcquire, 2}, {kWorker, kAcquire, 100}};
  uint64_t t = 2 * kSec;
  for (const auto& w : waits) {
    LockCall wait = futex_wait(kPid, w.tid, t, kPool, 2, w.tid == kMain ? kWorker : kMain);
    push_with_stack(s, wait, w.stack);
    s.push(done(wait, t + w.ms * kMs, 0));
    t += 200 * kMs;
  }
}

TEST(StackReport, ContentionGroupedByWaitingStack) {
  Stream s;
  contend_in_two_places(s);
  const LockContention* pool = nullptr;
  for (const auto* c : s.analyzer.contention().most_contended(10))
    if (c->lock.uaddr == kPool) pool = c;
  ASSERT_NE(pool, nullptr);
  ASSERT_EQ(pool->stacks.size(), 2u);
  EXPECT_EQ(pool->stacks.at(kAcquire).count, 3u);
  EXPECT_EQ(pool->stacks.at(kAcquire).total_ns, 103 * kMs);
  EXPECT_EQ(pool->stacks.at(kAcquire).max_ns, 100 * kMs);
  EXPECT_EQ(pool->stacks.at(kRefill).count, 1u);
  EXPECT_EQ(pool->stacks.at(kRefill).total_ns, 4 * kMs);

  std::string text;
  append_report_text(text, s.analyzer, s.pipeline.state(), test_stream_info());
  EXPECT_NE(text.find("  futex 0x55d0c4a1c0c0<g_pool_lock> in pid 800\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    waiting stacks:\n"
                      "      3x 103.0 ms (max 100.0 ms) in db::Pool::acquire (pool.cc:88) <- worker_main (main.cc:40)\n"
                      "      1x 4.0 ms (max 4.0 ms) in db::Pool::refill (pool.cc:120) <- main (main.cc:12)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("100.0 ms  worker[800/812] in db::Pool::acquire (pool.cc:88) <- worker_main (main.cc:40) on futex"),
            std::string::npos)
      << text;
}

TEST(StackReport, JsonSummaryStandsAlone) {
  Stream s;
  contend_in_two_places(s);
  std::string out;
  append_report_json(out, s.analyzer, s.pipeline.state(), test_stream_info());
  json summary = json::parse(out);
  const json& lock = summary["contended_locks"][0];
  EXPECT_EQ(lock["lock"]["symbol"], "g_pool_lock");
  ASSERT_EQ(lock["waiting_stacks"].size(), 2u);
  EXPECT_EQ(lock["waiting_stacks"][0], json::parse(R"({"stack_id":1,"waits":3,"total_wait_ns":103000000,
                                                      "max_wait_ns":100000000})"));
  EXPECT_EQ(summary["longest_waits"][0]["waiter_stack"], kAcquire);
  ASSERT_EQ(summary["stacks"].size(), 2u);
  EXPECT_EQ(summary["stacks"][0]["id"], kAcquire);
  EXPECT_EQ(summary["stacks"][1]["frames"][2]["function"], "db::Pool::refill");
}

TEST(StackReport, NoStacksNoStackKeys) {
  Stream s;
  LockCall wait = futex_wait(kPid, kWorker, 2 * kSec, kPool, 2, kMain);
  s.push(wait);
  s.push(done(wait, 3 * kSec, 0));
  std::string out;
  append_report_json(out, s.analyzer, s.pipeline.state(), test_stream_info());
  json summary = json::parse(out);
  EXPECT_FALSE(summary.contains("stacks"));
  EXPECT_FALSE(summary["contended_locks"][0].contains("waiting_stacks"));
  std::string text;
  append_report_text(text, s.analyzer, s.pipeline.state(), test_stream_info());
  EXPECT_EQ(text.find("waiting stacks"), std::string::npos) << text;
}

TEST(StackReport, FoldedStacksPerTaskNameAndStack) {
  Stream s;
  contend_in_two_places(s);
  // Still waiting at the end: counted up to the last event.
  push_with_stack(s, futex_wait(kPid, kWorker, 4 * kSec, kPool, 2, kMain), kAcquire);
  s.push(tick(4 * kSec + 7 * kMs));
  std::string out;
  append_folded_stacks(out, s.analyzer, s.pipeline.state());
  EXPECT_EQ(out,
            "main;main;db::Pool::refill;__lll_lock_wait;futex_wait_queue_[k] 4000\n"
            "worker;clone3;start_thread;worker_main;db::Pool::acquire;___pthread_mutex_lock;__lll_lock_wait;"
            "do_syscall_64_[k];futex_wait_[k];futex_wait_queue_[k] 110000\n");
}

}  // namespace
}  // namespace locktrace::analysis::test
