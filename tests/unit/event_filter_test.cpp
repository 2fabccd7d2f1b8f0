#include "event_filter.hpp"

#include <gtest/gtest.h>

#include "event_builders.hpp"

namespace locktrace {
namespace {

constexpr uint64_t kStart = 1'000'000'000;
constexpr uint64_t kMs = 1'000'000;

LockCall done(uint32_t pid, uint32_t tid, uint64_t enter_ts, uint64_t exit_ts, int64_t ret) {
  return test::lock_call(LT_SYS_FLOCK, pid, tid, enter_ts, exit_ts, ret, {3, 2});
}

bool matches(const EventFilter& filter, const Event& event, const TraceState& state = {}) {
  return filter.matches(event, state, kStart);
}

TEST(EventFilter, EmptyMatchesEveryKernelEvent) {
  EventFilter filter;
  EXPECT_TRUE(matches(filter, done(1, 1, kStart, kStart, 0)));
  EXPECT_TRUE(matches(filter, test::task_exit(kStart, 1, 1, 0, true, "x")));
  EXPECT_TRUE(matches(filter, test::exit_call(kStart, 1, 1, 0, true)));
  EXPECT_TRUE(matches(filter, test::fork_event(kStart, 1, 1, 2, 2, "x")));
  EXPECT_TRUE(matches(filter, test::exec_event(kStart, 1, 1, "x", "/x")));
  EXPECT_TRUE(matches(filter, test::rename_event(kStart, 1, 1, "x")));
  EXPECT_TRUE(matches(filter, test::file_lock(kStart, 1, 1, test::kernel_lock(1, 1, 2, LT_FL_POSIX),
                                              LT_TP_LOCKS_REMOVE_POSIX)));
}

TEST(EventFilter, MetadataNeverMatches) {
  EventFilter filter;
  EXPECT_FALSE(matches(filter, test::process_info(1, "x", 0, kStart)));
  EXPECT_FALSE(matches(filter, test::thread_info(1, 1, "x", kStart)));
  EXPECT_FALSE(matches(filter, test::fd_path(1, 3, "/x", 0, 0, kStart)));
}

TEST(EventFilter, Pids) {
  EventFilter filter;
  filter.pids = {10, 20};
  EXPECT_TRUE(matches(filter, done(10, 11, kStart, kStart, 0)));
  EXPECT_TRUE(matches(filter, done(20, 20, kStart, kStart, 0)));
  EXPECT_FALSE(matches(filter, done(30, 10, kStart, kStart, 0)));
}

TEST(EventFilter, Tids) {
  EventFilter filter;
  filter.tids = {11};
  EXPECT_TRUE(matches(filter, done(10, 11, kStart, kStart, 0)));
  EXPECT_FALSE(matches(filter, done(10, 10, kStart, kStart, 0)));
}

TEST(EventFilter, PidsAndTidsBothApply) {
  EventFilter filter;
  filter.pids = {10};
  filter.tids = {11};
  EXPECT_TRUE(matches(filter, done(10, 11, kStart, kStart, 0)));
  EXPECT_FALSE(matches(filter, done(20, 11, kStart, kStart, 0)));
  EXPECT_FALSE(matches(filter, done(10, 12, kStart, kStart, 0)));
}

TEST(EventFilter, CommsUseTheStreamsNames) {
  TraceState state;
  state.apply(test::process_info(10, "server"));
  state.apply(test::thread_info(10, 11, "worker"));
  EventFilter filter;
  filter.comms = {"worker", "client"};
  EXPECT_TRUE(matches(filter, done(10, 11, kStart, kStart, 0), state));
  EXPECT_FALSE(matches(filter, done(10, 10, kStart, kStart, 0), state));
  EXPECT_FALSE(matches(filter, done(99, 99, kStart, kStart, 0), state));  // "?"
  filter.comms = {"server"};
  EXPECT_TRUE(matches(filter, done(10, 10, kStart, kStart, 0), state));
  EXPECT_TRUE(matches(filter, done(10, 12, kStart, kStart, 0), state));  // unnamed thread
}

TEST(EventFilter, ErrorsOnly) {
  EventFilter filter;
  filter.errors_only = true;
  EXPECT_TRUE(matches(filter, done(1, 1, kStart, kStart, -11)));
  EXPECT_TRUE(matches(filter, done(1, 1, kStart, kStart, -512)));
  EXPECT_FALSE(matches(filter, done(1, 1, kStart, kStart, 0)));
  EXPECT_FALSE(matches(filter, done(1, 1, kStart, kStart, 1)));
  // Only finished lock calls can have failed.
  EXPECT_FALSE(matches(filter, test::waiting(done(1, 1, kStart, kStart, -11), kStart)));
  EXPECT_FALSE(matches(filter, test::task_exit(kStart, 1, 1, 9, true, "x")));
  EXPECT_FALSE(matches(filter, test::exit_call(kStart, 1, 1, 1, true)));
}

TEST(EventFilter, MinWait) {
  EventFilter filter;
  filter.min_wait_ns = 10 * kMs;
  EXPECT_TRUE(matches(filter, done(1, 1, kStart, kStart + 10 * kMs, 0)));
  EXPECT_TRUE(matches(filter, done(1, 1, kStart, kStart + 50 * kMs, -11)));
  EXPECT_FALSE(matches(filter, done(1, 1, kStart, kStart + 10 * kMs - 1, 0)));
  EXPECT_FALSE(matches(filter, test::waiting(done(1, 1, kStart, kStart, 0), kStart + 20 * kMs)));
  EXPECT_FALSE(matches(filter, test::fork_event(kStart, 1, 1, 2, 2, "x")));
}

TEST(EventFilter, ErrorsOnlyAndMinWaitCombine) {
  EventFilter filter;
  filter.errors_only = true;
  filter.min_wait_ns = 10 * kMs;
  EXPECT_TRUE(matches(filter, done(1, 1, kStart, kStart + 20 * kMs, -110)));
  EXPECT_FALSE(matches(filter, done(1, 1, kStart, kStart + 20 * kMs, 0)));
  EXPECT_FALSE(matches(filter, done(1, 1, kStart, kStart + 5 * kMs, -110)));
}

TEST(EventFilter, SinceAndUntilAreRelativeToTheStart) {
  EventFilter filter;
  filter.since_ns = 100 * kMs;
  filter.until_ns = 200 * kMs;
  EXPECT_FALSE(matches(filter, test::exit_call(kStart + 99 * kMs, 1, 1, 0, true)));
  EXPECT_TRUE(matches(filter, test::exit_call(kStart + 100 * kMs, 1, 1, 0, true)));
  EXPECT_TRUE(matches(filter, test::exit_call(kStart + 200 * kMs, 1, 1, 0, true)));
  EXPECT_FALSE(matches(filter, test::exit_call(kStart + 200 * kMs + 1, 1, 1, 0, true)));
  // An event from before the start counts as time zero.
  EXPECT_FALSE(matches(filter, test::exit_call(kStart - kMs, 1, 1, 0, true)));
  filter.since_ns = 0;
  EXPECT_TRUE(matches(filter, test::exit_call(kStart - kMs, 1, 1, 0, true)));
}

TEST(EventFilter, SinceUsesTheLockCallsEndTime) {
  EventFilter filter;
  filter.since_ns = 100 * kMs;
  EXPECT_TRUE(matches(filter, done(1, 1, kStart, kStart + 150 * kMs, 0)));
  EXPECT_FALSE(matches(filter, done(1, 1, kStart, kStart + 50 * kMs, 0)));
}

TEST(EventFilter, CallErrnoAndDuration) {
  EXPECT_EQ(call_errno(done(1, 1, 0, 1, -11)), 11);
  EXPECT_EQ(call_errno(done(1, 1, 0, 1, -4095)), 4095);
  EXPECT_EQ(call_errno(done(1, 1, 0, 1, -4096)), 0);  // not an errno
  EXPECT_EQ(call_errno(done(1, 1, 0, 1, 0)), 0);
  EXPECT_EQ(call_errno(done(1, 1, 0, 1, 5)), 0);
  EXPECT_EQ(call_errno(test::waiting(done(1, 1, 0, 1, -11), 1)), 0);
  EXPECT_EQ(call_duration_ns(done(1, 1, 100, 350, 0)), 250u);
  EXPECT_EQ(call_duration_ns(done(1, 1, 400, 350, 0)), 0u);  // clocks never run backwards
}

}  // namespace
}  // namespace locktrace
