// The explanations as --json and the text output print them: each finding
// right after the event that produced it.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "explain_stream.hpp"
#include "stack_events.hpp"
#include "json_sink.hpp"
#include "text_sink.hpp"

namespace locktrace::explain::test {
namespace {

using Json = nlohmann::json;

class MemoryFile {
 public:
  MemoryFile() : file_(open_memstream(&data_, &size_)) {}
  ~MemoryFile() {
    if (file_) std::fclose(file_);
    std::free(data_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  std::FILE* get() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  std::FILE* file_;
};

// The flock -n story: a holder, a refused request, the requester's exit, sh reaping it.
std::vector<Event> refused_then_exit() {
  return {
      process_info(150, "sh"), process_info(100, "flock", 150), process_info(200, "flock", 150),
      fd_path(100, 3, "/tmp/b.lock", 10), fd_path(200, 3, "/tmp/b.lock", 10),
      flock_call(100, 100, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(10, 0xa1, kWrlck, LT_FL_FLOCK)),
      flock_call(200, 200, 2 * kSec, 2 * kSec, 3, kLockEx | kLockNb, -kEagain, klock(10, 0xa2, kWrlck, LT_FL_FLOCK)),
      task_exit(2 * kSec + 10, 200, 200, 1 << 8, true, "flock"),
      reap(2 * kSec + 20, 150, 200),
  };
}

std::vector<Json> lines_of(const std::string& text) {
  std::vector<Json> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    out.push_back(Json::parse(text.substr(start, nl - start)));
  return out;
}

TEST(FindingOutput, JsonFailureAndConsequence) {
  MemoryFile out;
  JsonSink json(out.get(), EventFilter{});
  Stream s;
  s.pipeline.add_sink(json);
  s.push(refused_then_exit());
  s.pipeline.flush();

  std::vector<Json> findings;
  std::vector<std::string> order;
  for (auto& line : lines_of(out.text())) {
    order.push_back(line.value("event", "") == "finding" ? "finding:" + line.value("kind", "")
                                                         : line.value("event", ""));
    if (line.value("event", "") == "finding") findings.push_back(line);
  }
  ASSERT_EQ(findings.size(), 2u) << out.text();
  const Json& why = findings[0];
  EXPECT_EQ(why["kind"], "failure");
  EXPECT_EQ(why["call"]["task"]["pid"], 200);
  EXPECT_EQ(why["call"]["syscall"], "flock");
  EXPECT_EQ(why["call"]["errno"], 11);
  EXPECT_EQ(why["call"]["errno_name"], "EWOULDBLOCK");
  EXPECT_EQ(why["call"]["lock"]["path"], "/tmp/b.lock");
  ASSERT_EQ(why["holders"].size(), 1u) << why.dump();
  EXPECT_EQ(why["holders"][0]["holder"]["pid"], 100);
  EXPECT_EQ(why["holders"][0]["attribution"], "lock_table");
  EXPECT_TRUE(why["reason"].is_null());

  const Json& then = findings[1];
  EXPECT_EQ(then["kind"], "exit_after_failure");
  EXPECT_EQ(then["cause"]["errno_name"], "EWOULDBLOCK");
  EXPECT_EQ(then["cause_holder"]["pid"], 100);
  EXPECT_EQ(then["process_exited"], true);
  EXPECT_EQ(then["status"], 1);
  EXPECT_EQ(then["reaped_by"]["pid"], 150);
  EXPECT_EQ(then["reaped_by"]["comm"], "sh");

  // Each finding follows its event: the failure the call, the consequence the reap.
  std::vector<std::string> expected{"lock_call", "lock_call", "finding:failure", "task_exit", "reap",
                                    "finding:exit_after_failure"};
  EXPECT_EQ(order, expected);
}

TEST(FindingOutput, JsonEintrCarriesTheSignalAndItsSender) {
  MemoryFile out;
  JsonSink json(out.get(), EventFilter{});
  Stream s;
  s.pipeline.add_sink(json);
  s.push({process_info(200, "waiter"),
          sleeping(flock_call(200, 200, 1 * kSec, 0, 3, kLockEx, 0, klock(10, 0xa2, kWrlck, LT_FL_FLOCK))),
          signal_sent(2 * kSec, 4000, 4000, "kill", 200, 200, kSigusr1),
          flock_call(200, 200, 1 * kSec, 2 * kSec + 1, 3, kLockEx, -kErestartsys, klock(10, 0xa2, kWrlck, LT_FL_FLOCK)),
          signal_delivered(2 * kSec + 2, 200, 200, kSigusr1, 0)});
  s.pipeline.flush();
  std::vector<Json> findings;
  for (auto& line : lines_of(out.text()))
    if (line.value("event", "") == "finding") findings.push_back(line);
  ASSERT_EQ(findings.size(), 1u) << out.text();
  EXPECT_EQ(findings[0]["kind"], "failure");
  EXPECT_EQ(findings[0]["call"]["errno"], 4);
  EXPECT_EQ(findings[0]["call"]["errno_name"], "EINTR");
  EXPECT_EQ(findings[0]["signal"], "SIGUSR1");
  EXPECT_EQ(findings[0]["signal_sender"]["pid"], 4000);
  EXPECT_EQ(findings[0]["sender_comm"], "kill");
}

TEST(FindingOutput, TextMarksEveryExplanation) {
  MemoryFile out;
  TextSink text(out.get(), EventFilter{}, false);
  Stream s;
  s.pipeline.add_sink(text);
  s.pipeline.start(StreamInfo{});
  std::vector<Event> events = refused_then_exit();
  // A second refusal loop by another requester, ended by success.
  events.push_back(process_info(300, "poller", 1));
  for (int i = 0; i < 3; i++)
    events.push_back(flock_call(300, 300, 3 * kSec + i, 3 * kSec + i, 3, kLockEx | kLockNb, -kEagain,
                                klock(10, 0xa3, kWrlck, LT_FL_FLOCK)));
  events.push_back(flock_call(100, 100, 4 * kSec, 4 * kSec, 3, kLockUn, 0, klock(10, 0xa1, kUnlck, LT_FL_FLOCK)));
  events.push_back(flock_call(300, 300, 5 * kSec, 5 * kSec, 3, kLockEx | kLockNb, 0, klock(10, 0xa3, kWrlck, LT_FL_FLOCK)));
  s.push(events);
  s.pipeline.flush();
  std::string printed = out.text();
  EXPECT_NE(printed.find(">>> WHY: flock[200]"), std::string::npos) << printed;
  EXPECT_NE(printed.find("EWOULDBLOCK"), std::string::npos) << printed;
  EXPECT_NE(printed.find(">>> CONSEQUENCE: flock[200]"), std::string::npos) << printed;
  EXPECT_NE(printed.find("reaped by sh[150]"), std::string::npos) << printed;
  EXPECT_NE(printed.find(">>> RETRY LOOP: poller[300]"), std::string::npos) << printed;
  EXPECT_NE(printed.find("3 times"), std::string::npos) << printed;
  EXPECT_NE(printed.find("succeeded"), std::string::npos) << printed;
}

// A refused flock with stacks: where it was called and where the holder took it.
std::vector<Event> refused_with_stacks() {
  using namespace stack_test;
  LockCall taken = flock_call(100, 100, 1 * kSec, 1 * kSec, 3, kLockEx, 0, klock(10, 0xa1, kWrlck, LT_FL_FLOCK));
  LockCall refused =
      flock_call(200, 200, 2 * kSec, 2 * kSec, 3, kLockEx | kLockNb, -kEagain, klock(10, 0xa2, kWrlck, LT_FL_FLOCK));
  return {process_info(100, "holder"), process_info(200, "requester"), fd_path(100, 3, "/tmp/b.lock", 10),
          stack_trace(1, pool_refill_frames()), stack_trace(2, pool_acquire_frames()),
          call_stack(taken, 1), taken, call_stack(refused, 2), refused};
}

TEST(FindingOutput, JsonFailureCarriesStackIds) {
  MemoryFile out;
  JsonSink json(out.get(), EventFilter{});
  Stream s;
  s.pipeline.add_sink(json);
  s.push(refused_with_stacks());
  s.pipeline.flush();
  std::vector<Json> findings, stacks;
  for (auto& line : lines_of(out.text())) {
    if (line.value("event", "") == "finding") findings.push_back(line);
    if (line.value("event", "") == "stack") stacks.push_back(line);
  }
  ASSERT_EQ(stacks.size(), 2u) << out.text();
  ASSERT_EQ(findings.size(), 1u) << out.text();
  EXPECT_EQ(findings[0]["call"]["stack_id"], 2);
  ASSERT_EQ(findings[0]["holders"].size(), 1u);
  EXPECT_EQ(findings[0]["holders"][0]["waiter_stack"], 2);
  EXPECT_EQ(findings[0]["holders"][0]["holder_stack"], 1);
}

TEST(FindingOutput, TextFailureSaysWhereBothSidesWere) {
  MemoryFile out;
  TextSink text(out.get(), EventFilter{}, false);
  Stream s;
  s.pipeline.add_sink(text);
  s.push(refused_with_stacks());
  s.pipeline.flush();
  std::string printed = out.text();
  EXPECT_NE(printed.find(">>> WHY: requester[200] flock(LOCK_EX|LOCK_NB) in db::Pool::acquire (pool.cc:88) <- "
                         "worker_main (main.cc:40) on flock lock on /tmp/b.lock -> EWOULDBLOCK: held by "
                         "holder[100] since "),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find("(took it in this trace), taken in db::Pool::refill (pool.cc:120) <- main (main.cc:12)\n"),
            std::string::npos)
      << printed;
}

}  // namespace
}  // namespace locktrace::explain::test
