// TraceState's stack table, the call stack of each lock call record, and what
// addresses and mappings are, per process, forgotten with the process.
#include <gtest/gtest.h>

#include "event_builders.hpp"
#include "stack_events.hpp"
#include "trace_state.hpp"

namespace locktrace {
namespace {

using namespace stack_test;

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kLock = 0x55d0c4a1c0c0;

LockCall futex_call(uint32_t pid, uint32_t tid, uint64_t ts) {
  return test::waiting(test::lock_call(LT_SYS_FUTEX, pid, tid, ts, ts, 0, {kLock, 128, 2}), ts);
}

TEST(StackTable, LooksUpEachStackById) {
  TraceState state;
  EXPECT_EQ(state.stack(1), nullptr);
  state.apply(stack_trace(1, pool_acquire_frames()));
  state.apply(stack_trace(2, pool_refill_frames()));
  ASSERT_NE(state.stack(1), nullptr);
  ASSERT_NE(state.stack(2), nullptr);
  EXPECT_EQ(state.stack(1)->size(), pool_acquire_frames().size());
  EXPECT_EQ(state.stack(2)->at(2).function, "db::Pool::refill");
  EXPECT_EQ(state.stack(3), nullptr);
  EXPECT_EQ(state.stack_count(), 2u);
}

TEST(StackTable, AnIdSentAgainIsOneEntry) {
  TraceState state;
  state.apply(stack_trace(7, pool_refill_frames()));
  state.apply(stack_trace(7, pool_refill_frames()));
  EXPECT_EQ(state.stack_count(), 1u);
  EXPECT_EQ(state.stack(7)->size(), pool_refill_frames().size());
}

TEST(StackTable, StacksOutliveTheirProcesses) {
  TraceState state;
  state.apply(test::process_info(100, "gone"));
  state.apply(stack_trace(1, pool_refill_frames()));
  state.apply(test::task_exit(1 * kSecond, 100, 100, 0, true, "gone"));
  state.apply(test::process_info(200, "later"));
  state.apply(test::task_exit(30 * kSecond, 200, 200, 0, true, "later"));
  EXPECT_EQ(state.process(100), nullptr);
  EXPECT_NE(state.stack(1), nullptr) << "an id is written once per trace: it must stay";
}

TEST(CallStacks, BelongToTheRecordWithTheSameThreadAndTime) {
  TraceState state;
  LockCall call = futex_call(100, 101, 5 * kSecond);
  EXPECT_FALSE(state.stack_of(call).has_value());
  state.apply(call_stack(call, 3));
  EXPECT_EQ(state.stack_of(call), 3u);

  LockCall later = futex_call(100, 101, 6 * kSecond);
  EXPECT_FALSE(state.stack_of(later).has_value()) << "another record of the thread";
  LockCall other_thread = futex_call(100, 102, 5 * kSecond);
  EXPECT_FALSE(state.stack_of(other_thread).has_value());

  state.apply(call_stack(later, 4));
  EXPECT_EQ(state.stack_of(later), 4u);
  EXPECT_FALSE(state.stack_of(call).has_value()) << "the older record's stack was its own";
}

TEST(CallStacks, ForgottenWithTheThread) {
  TraceState state;
  LockCall call = futex_call(100, 101, 1 * kSecond);
  state.apply(call_stack(call, 3));
  state.apply(test::task_exit(1 * kSecond, 100, 101, 0, false, "worker"));
  state.apply(test::thread_info(100, 102, "other"));
  state.apply(test::task_exit(20 * kSecond, 100, 102, 0, false, "other"));
  EXPECT_FALSE(state.stack_of(call).has_value());
}

TEST(AddressNames, PerProcessAndAddress) {
  TraceState state;
  state.apply(address_name(100, kLock, "g_pool_lock"));
  state.apply(address_name(100, kLock + 0x40, "g_pool+0x10"));
  EXPECT_EQ(state.address_name(100, kLock), "g_pool_lock");
  EXPECT_EQ(state.address_name(100, kLock + 0x40), "g_pool+0x10");
  EXPECT_EQ(state.address_name(100, kLock + 8), "");
  EXPECT_EQ(state.address_name(200, kLock), "") << "another address space";
  state.apply(address_name(100, kLock, "[heap]"));
  EXPECT_EQ(state.address_name(100, kLock), "[heap]") << "a later name replaces";
}

TEST(AddressNames, AForkedChildHasItsParentsNames) {
  TraceState state;
  state.apply(test::process_info(100, "server"));
  state.apply(address_name(100, kLock, "g_pool_lock"));
  state.apply(mapping(100, 0x400000, 0x500000, "/srv/app", "abcd"));
  state.apply(test::fork_event(1, 100, 100, 200, 200, "server"));
  EXPECT_EQ(state.address_name(200, kLock), "g_pool_lock");
  ASSERT_NE(state.mapping_at(200, 0x400010), nullptr);
  state.apply(address_name(200, kLock, "[heap]"));
  EXPECT_EQ(state.address_name(100, kLock), "g_pool_lock") << "a copy, not a share";
}

TEST(AddressNames, ForgottenWithTheProcess) {
  TraceState state;
  state.apply(test::process_info(100, "old"));
  state.apply(address_name(100, kLock, "g_pool_lock"));
  state.apply(mapping(100, 0x400000, 0x500000, "/srv/app"));
  state.apply(test::task_exit(1 * kSecond, 100, 100, 0, true, "old"));
  EXPECT_EQ(state.address_name(100, kLock), "g_pool_lock") << "kept a while, like the name";
  state.apply(test::process_info(300, "later"));
  state.apply(test::task_exit(12 * kSecond, 300, 300, 0, true, "later"));
  EXPECT_EQ(state.address_name(100, kLock), "");
  EXPECT_EQ(state.mapping_at(100, 0x400010), nullptr);
}

TEST(Mappings, LookupAndReplacement) {
  TraceState state;
  state.apply(mapping(100, 0x400000, 0x500000, "/srv/app", "aa"));
  state.apply(mapping(100, 0x7f0000000000, 0x7f0000200000, "/usr/lib/libc.so.6", "bb", 0x28000));
  ASSERT_NE(state.mapping_at(100, 0x7f0000000100), nullptr);
  EXPECT_EQ(state.mapping_at(100, 0x7f0000000100)->path, "/usr/lib/libc.so.6");
  EXPECT_EQ(state.mapping_at(100, 0x7f0000000100)->file_offset, 0x28000u);
  EXPECT_EQ(state.mapping_at(100, 0x4fffff)->build_id, "aa");
  EXPECT_EQ(state.mapping_at(100, 0x500000), nullptr) << "end is exclusive";
  EXPECT_EQ(state.mapping_at(100, 0x3fffff), nullptr);
  // An exec maps another program over the old one.
  state.apply(mapping(100, 0x480000, 0x580000, "/usr/bin/other", "cc"));
  EXPECT_EQ(state.mapping_at(100, 0x400010), nullptr);
  EXPECT_EQ(state.mapping_at(100, 0x480000)->path, "/usr/bin/other");
  EXPECT_EQ(state.mapping_at(100, 0x7f0000000100)->path, "/usr/lib/libc.so.6");
}

}  // namespace
}  // namespace locktrace
