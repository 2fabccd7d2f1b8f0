// Stacks and lock symbols as the outputs print them: a frame perf-style, the
// top frames a finding names, folded stacks, the JSON stack record, the
// stack id and symbol on lock calls, and --stacks under a text line.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "event_builders.hpp"
#include "json_sink.hpp"
#include "pipeline.hpp"
#include "stack_events.hpp"
#include "stack_format.hpp"
#include "text_sink.hpp"

namespace locktrace {
namespace {

using namespace stack_test;
using nlohmann::json;
using Lines = std::vector<std::string>;

constexpr uint64_t kTs = 1'234'567'891;  // 23:13:21.234567 in the fixed stream's zone
constexpr uint64_t kLock = 0x55d0c4a1c0c0;

// pthread_mutex_lock's contended wait on kLock, returned after 2 ms.
LockCall mutex_wait_done() {
  return test::lock_call(LT_SYS_FUTEX, 100, 101, kTs - 2'000'000, kTs, 0, {kLock, 128, 2, 0});
}

TEST(StackFormat, FramesPerfStyle) {
  std::string out;
  append_frame(out, kernel_frame("futex_wait_queue", 0x5f));
  EXPECT_EQ(out, "futex_wait_queue+0x5f [kernel]");
  out.clear();
  append_frame(out, user_frame("__lll_lock_wait", "libc.so.6", {}, 0, 0x30));
  EXPECT_EQ(out, "__lll_lock_wait+0x30 (libc.so.6)");
  out.clear();
  append_frame(out, user_frame("db::Pool::acquire", "/srv/app", "pool.cc", 88, 0x12));
  EXPECT_EQ(out, "db::Pool::acquire+0x12 (/srv/app) pool.cc:88");
  out.clear();
  append_frame(out, user_frame("", "/srv/app", {}, 0, 0, 0x401234));
  EXPECT_EQ(out, "0x401234 (/srv/app)") << "no symbol: the address";
  out.clear();
  StackFrame module_frame = kernel_frame("ext4_lock", 0x8);
  module_frame.module = "[ext4]";
  append_frame(out, module_frame);
  EXPECT_EQ(out, "ext4_lock+0x8 [ext4]");
}

TEST(StackFormat, ShortFunctionNames) {
  EXPECT_EQ(short_function_name("worker"), "worker");
  EXPECT_EQ(short_function_name("db::Pool::acquire(int, std::vector<int, std::allocator<int> > const&)"),
            "db::Pool::acquire()");
  EXPECT_EQ(short_function_name("std::function<void (int)>::operator()(int) const"), "std::function<>::operator()()");
  EXPECT_EQ(short_function_name("ns::(anonymous namespace)::spawn(char const*)"), "ns::spawn()");
  EXPECT_EQ(short_function_name("f(std::string const&)::{lambda(int)#2}::operator()(int) const"),
            "f()::{lambda(int)#2}::operator()()");
  EXPECT_EQ(short_function_name("bool operator<(A const&, A const&)"), "bool operator<()");
  EXPECT_EQ(short_function_name("std::_Function_handler<void (int), f()::{lambda(int)#1}>::_M_invoke(std::_Any_data const&, int&&)"),
            "std::_Function_handler<>::_M_invoke()");
}

TEST(StackFormat, TopFramesSkipTheKernelAndTheLockInternals) {
  std::string out;
  EXPECT_TRUE(append_top_frames(out, "", pool_acquire_frames()));
  // Stops at the thread's entry in libc (start_thread).
  EXPECT_EQ(out, "db::Pool::acquire (pool.cc:88) <- worker_main (main.cc:40)");

  auto frames = pool_acquire_frames();
  auto top = top_frames(frames, 1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0]->function, "db::Pool::acquire");
}

TEST(StackFormat, TopFramesOfAStaticBinaryByName) {
  // Everything in one executable: the internals are known by their names.
  std::vector<StackFrame> frames = {
      kernel_frame("futex_wait_queue"),
      user_frame("__lll_lock_wait", "/srv/static-app"),
      user_frame("pthread_mutex_lock", "/srv/static-app"),
      user_frame("flush_log", "/srv/static-app"),
      user_frame("run", "/srv/static-app"),
      user_frame("main", "/srv/static-app"),
      user_frame("__libc_start_call_main", "/srv/static-app"),
  };
  std::string out = "waits";
  EXPECT_TRUE(append_top_frames(out, " in ", frames));
  EXPECT_EQ(out, "waits in flush_log <- run <- main");
}

TEST(StackFormat, TopFramesWhenUnwindingStoppedInLibc) {
  std::vector<StackFrame> frames = {
      kernel_frame("futex_wait_queue"),
      user_frame("__lll_lock_wait", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
      user_frame("___pthread_mutex_lock", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
  };
  std::string out;
  EXPECT_TRUE(append_top_frames(out, "", frames));
  EXPECT_EQ(out, "___pthread_mutex_lock");

  std::string none;
  EXPECT_FALSE(append_top_frames(none, " in ", {kernel_frame("futex_wait_queue")})) << "kernel only";
  EXPECT_EQ(none, "");
}

TEST(StackFormat, FoldedOutermostFirstKernelLast) {
  std::string out;
  append_folded(out, "worker", pool_refill_frames());
  EXPECT_EQ(out, "worker;main;db::Pool::refill;__lll_lock_wait;futex_wait_queue_[k]");
  out.clear();
  append_folded(out, "a;b", {user_frame("", "/usr/lib/libfoo.so"), user_frame("", "")});
  EXPECT_EQ(out, "a_b;[unknown];[libfoo.so]") << "separators escaped, unnamed frames by module";
}

// Text output with --stacks (full_stacks) or without.
class TextRun {
 public:
  explicit TextRun(bool full_stacks) : sink_(out_.file(), EventFilter{}, false, full_stacks) {
    pipeline_.add_sink(sink_);
    pipeline_.start(test::fixed_stream_info());
  }
  void push(const Event& event) { pipeline_.push(event); }
  Lines lines() {
    pipeline_.flush();
    return out_.lines();
  }

 private:
  test::MemoryStream out_;
  TextSink sink_;
  Pipeline pipeline_;
};

TEST(TextSinkStacks, FutexAddressNamedLikeAnFdPath) {
  TextRun run(false);
  run.push(test::process_info(100, "app"));
  run.push(test::thread_info(100, 101, "worker"));
  run.push(address_name(100, kLock, "g_pool_lock"));
  LockCall call = mutex_wait_done();
  run.push(stack_trace(1, pool_acquire_frames()));
  run.push(call_stack(call, 1));
  run.push(call);
  EXPECT_EQ(run.lines(), (Lines{"23:13:21.234567 worker[100/101]         futex(0x55d0c4a1c0c0<g_pool_lock>, "
                                "FUTEX_WAIT_PRIVATE, 2, NULL) = 0 <0.002000>"}))
      << "without --stacks, no frames";
}

TEST(TextSinkStacks, FullStacksUnderTheLine) {
  TextRun run(true);
  run.push(test::process_info(100, "app"));
  LockCall wait = test::waiting(mutex_wait_done(), kTs - 2'000'000);
  run.push(stack_trace(1, pool_refill_frames()));
  run.push(call_stack(wait, 1));
  run.push(wait);
  run.push(mutex_wait_done());  // no stack of its own: no frames
  Lines lines = run.lines();
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "23:13:21.232567 app[100/101]            futex(0x55d0c4a1c0c0, FUTEX_WAIT_PRIVATE, 2, "
                      "NULL) ... waiting");
  EXPECT_EQ(lines[1], "        futex_wait_queue+0x5f [kernel]");
  EXPECT_EQ(lines[2], "        __lll_lock_wait+0x30 (/usr/lib/x86_64-linux-gnu/libc.so.6)");
  EXPECT_EQ(lines[3], "        db::Pool::refill+0x40 (/srv/app) /src/db/pool.cc:120");
  EXPECT_EQ(lines[4], "        main+0x9 (/srv/app) /src/main.cc:12");
  EXPECT_EQ(lines[5].find("futex(0x55d0c4a1c0c0, FUTEX_WAIT_PRIVATE, 2, NULL) = 0"), 40u) << lines[5];
}

TEST(TextSinkStacks, NothingChangesWithoutStackEvents) {
  TextRun with(true), without(false);
  for (TextRun* run : {&with, &without}) {
    run->push(test::process_info(100, "app"));
    run->push(mutex_wait_done());
  }
  EXPECT_EQ(with.lines(), without.lines());
}

class JsonRun {
 public:
  explicit JsonRun(EventFilter filter = {}) : sink_(out_.file(), std::move(filter)) {
    pipeline_.add_sink(sink_);
    pipeline_.start(test::fixed_stream_info());
  }
  void push(const Event& event) { pipeline_.push(event); }
  std::vector<json> lines() {
    pipeline_.flush();
    std::vector<json> parsed;
    for (const auto& line : out_.lines()) parsed.push_back(json::parse(line));
    return parsed;
  }

 private:
  test::MemoryStream out_;
  JsonSink sink_;
  Pipeline pipeline_;
};

TEST(JsonSinkStacks, StackRecordWhenItArrivesThenIdsOnCalls) {
  JsonRun run;
  run.push(test::process_info(100, "app"));
  run.push(address_name(100, kLock, "g_pool_lock"));
  LockCall call = mutex_wait_done();
  run.push(stack_trace(4, pool_refill_frames()));
  run.push(call_stack(call, 4));
  run.push(call);
  auto lines = run.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], json::parse(R"({"event":"stack","id":4,"frames":[
      {"address":"0xffffffff8100005f","function":"futex_wait_queue","offset":95,"module":"[kernel]",
       "file":null,"line":null,"kernel":true},
      {"address":"0x55d0c4a00030","function":"__lll_lock_wait","offset":48,
       "module":"/usr/lib/x86_64-linux-gnu/libc.so.6","file":null,"line":null},
      {"address":"0x55d0c4a00040","function":"db::Pool::refill","offset":64,"module":"/srv/app",
       "file":"/src/db/pool.cc","line":120},
      {"address":"0x55d0c4a00009","function":"main","offset":9,"module":"/srv/app",
       "file":"/src/main.cc","line":12}]})"));
  EXPECT_EQ(lines[1]["event"], "lock_call");
  EXPECT_EQ(lines[1]["stack_id"], 4);
  EXPECT_EQ(lines[1]["symbol"], "g_pool_lock");
}

TEST(JsonSinkStacks, AFrameWithoutSymbolOrSource) {
  JsonRun run;
  run.push(stack_trace(1, {user_frame("", "", {}, 0, 0, 0x401000)}));
  auto lines = run.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["frames"][0], json::parse(R"({"address":"0x401000","function":null,"offset":null,
      "module":null,"file":null,"line":null})"));
}

TEST(JsonSinkStacks, StacksPassEveryFilterAndCallsWithoutThemHaveNoKeys) {
  EventFilter only_errors;
  only_errors.errors_only = true;
  only_errors.pids = {999};
  JsonRun run(only_errors);
  run.push(stack_trace(1, pool_refill_frames()));
  LockCall call = mutex_wait_done();
  call.ret = -110;  // ETIMEDOUT, in another process than the filter's
  run.push(call);
  auto lines = run.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["event"], "stack");

  JsonRun plain;
  plain.push(mutex_wait_done());
  auto call_line = plain.lines().at(0);
  EXPECT_FALSE(call_line.contains("stack_id"));
  EXPECT_FALSE(call_line.contains("symbol"));
}

}  // namespace
}  // namespace locktrace
