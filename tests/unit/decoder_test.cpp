#include "decoder.hpp"

#include <gtest/gtest.h>

#include "event_builders.hpp"

namespace locktrace {
namespace {

using test::bytes_of;

std::span<const std::byte> from(const std::vector<std::byte>& bytes, size_t offset = 0) {
  return std::span<const std::byte>(bytes).subspan(offset);
}

// Decodes `record` placed at an odd offset, so a cast instead of a copy would be
// an unaligned access.
template <typename Record>
Record round_trip(const Record& record, size_t offset = 3) {
  auto bytes = bytes_of(record, offset);
  Event event;
  EXPECT_EQ(decode_record(from(bytes, offset), event), DecodeStatus::ok);
  EXPECT_TRUE(std::holds_alternative<Record>(event));
  return std::get<Record>(event);
}

TEST(Decoder, LockCallFromUnalignedBytes) {
  LockCall call = test::lock_call(LT_SYS_FCNTL, 100, 101, 5'000, 9'000, -11, {3, 7, 0x7ffd1000});
  call.h.cpu = 2;
  call.flags = LT_CALL_HAS_FLOCK | LT_CALL_HAS_KLOCK | LT_CALL_HAS_BLOCKER;
  call.user_flock = {.start = 10, .len = 20, .pid = 0, .type = 1, .whence = 0};
  call.klock = test::with_blocker(test::kernel_lock((8u << 20) | 1, 4242, 1, LT_FL_POSIX, 10, 29),
                                  200, 0, LT_FL_POSIX, 0, 99);
  call.futex_word = 0xdeadbeef;

  LockCall got = round_trip(call);
  EXPECT_EQ(got.h.kind, LT_EV_LOCK_CALL);
  EXPECT_EQ(got.h.size, sizeof(LockCall));
  EXPECT_EQ(got.h.cpu, 2u);
  EXPECT_EQ(got.h.ts_ns, 9'000u);
  EXPECT_EQ(got.h.pid, 100u);
  EXPECT_EQ(got.h.tid, 101u);
  EXPECT_EQ(got.sys, LT_SYS_FCNTL);
  EXPECT_EQ(got.phase, LT_PHASE_DONE);
  EXPECT_EQ(got.flags, call.flags);
  EXPECT_EQ(got.ret, -11);
  EXPECT_EQ(got.enter_ts, 5'000u);
  EXPECT_EQ(got.args[0], 3u);
  EXPECT_EQ(got.args[1], 7u);
  EXPECT_EQ(got.args[2], 0x7ffd1000u);
  EXPECT_EQ(got.user_flock.start, 10);
  EXPECT_EQ(got.user_flock.len, 20);
  EXPECT_EQ(got.user_flock.type, 1);
  EXPECT_EQ(got.klock.dev, (8u << 20) | 1);
  EXPECT_EQ(got.klock.ino, 4242u);
  EXPECT_EQ(got.klock.end, 29);
  EXPECT_EQ(got.klock.blocker_pid, 200u);
  EXPECT_EQ(got.klock.blocker_end, 99);
  EXPECT_EQ(got.futex_word, 0xdeadbeefu);
}

TEST(Decoder, FileLock) {
  FileLock lock = test::file_lock(7'000, 10, 11, test::kernel_lock(5, 77, 2, LT_FL_FLOCK),
                                  LT_TP_FLOCK_LOCK_INODE);
  lock.klock.ret = -11;
  FileLock got = round_trip(lock);
  EXPECT_EQ(got.h.kind, LT_EV_FILE_LOCK);
  EXPECT_EQ(got.h.ts_ns, 7'000u);
  EXPECT_EQ(got.klock.ino, 77u);
  EXPECT_EQ(got.klock.type, 2);
  EXPECT_EQ(got.klock.fl_flags, LT_FL_FLOCK);
  EXPECT_EQ(got.klock.tracepoint, LT_TP_FLOCK_LOCK_INODE);
  EXPECT_EQ(got.klock.ret, -11);
}

TEST(Decoder, TaskExit) {
  TaskExit got = round_trip(test::task_exit(1'000, 10, 12, 0x8b, true, "worker"));
  EXPECT_EQ(got.h.kind, LT_EV_TASK_EXIT);
  EXPECT_EQ(got.h.tid, 12u);
  EXPECT_EQ(got.exit_code, 0x8b);
  EXPECT_EQ(got.group_dead, 1);
  EXPECT_STREQ(got.comm, "worker");
}

TEST(Decoder, ExitCall) {
  ExitCall got = round_trip(test::exit_call(1'000, 10, 10, 3, true));
  EXPECT_EQ(got.h.kind, LT_EV_EXIT_CALL);
  EXPECT_EQ(got.status, 3);
  EXPECT_EQ(got.group, 1);
}

TEST(Decoder, Fork) {
  Fork got = round_trip(test::fork_event(1'000, 10, 11, 20, 20, "child"));
  EXPECT_EQ(got.h.kind, LT_EV_FORK);
  EXPECT_EQ(got.h.pid, 10u);
  EXPECT_EQ(got.child_pid, 20u);
  EXPECT_EQ(got.child_tid, 20u);
  EXPECT_STREQ(got.comm, "child");
}

TEST(Decoder, Exec) {
  Exec got = round_trip(test::exec_event(1'000, 10, 13, "sleep", "/usr/bin/sleep"));
  EXPECT_EQ(got.h.kind, LT_EV_EXEC);
  EXPECT_EQ(got.old_tid, 13u);
  EXPECT_STREQ(got.comm, "sleep");
  EXPECT_STREQ(got.filename, "/usr/bin/sleep");
}

TEST(Decoder, Rename) {
  Rename got = round_trip(test::rename_event(1'000, 10, 11, "io-worker"));
  EXPECT_EQ(got.h.kind, LT_EV_RENAME);
  EXPECT_EQ(got.h.tid, 11u);
  EXPECT_STREQ(got.comm, "io-worker");
}

TEST(Decoder, ShorterThanHeaderIsTruncated) {
  auto bytes = bytes_of(test::exit_call(1, 1, 1, 0, false));
  Event event;
  EXPECT_EQ(decode_record({}, event), DecodeStatus::truncated);
  EXPECT_EQ(decode_record(from(bytes).first(sizeof(lt_header) - 1), event), DecodeStatus::truncated);
}

TEST(Decoder, HeaderSizeLargerThanBytesIsTruncated) {
  // A record cut off at the end of a file: the header promises more than is there.
  auto bytes = bytes_of(test::task_exit(1, 1, 1, 0, true, "x"));
  Event event;
  EXPECT_EQ(decode_record(from(bytes).first(sizeof(TaskExit) - 1), event), DecodeStatus::truncated);
}

TEST(Decoder, HeaderSizeSmallerThanHeaderIsBadSize) {
  ExitCall call = test::exit_call(1, 1, 1, 0, false);
  call.h.size = sizeof(lt_header) - 1;
  auto bytes = bytes_of(call);
  Event event;
  EXPECT_EQ(decode_record(from(bytes), event), DecodeStatus::bad_size);
  call.h.size = 0;
  bytes = bytes_of(call);
  EXPECT_EQ(decode_record(from(bytes), event), DecodeStatus::bad_size);
}

TEST(Decoder, HeaderSizeSmallerThanKindNeedsIsTruncated) {
  // An older or broken writer: enough bytes in the buffer, but the record claims
  // fewer than a lock call has. Its tail would be whatever follows it.
  LockCall call = test::lock_call(LT_SYS_FLOCK, 1, 1, 0, 1, 0, {3, 2});
  call.h.size = sizeof(LockCall) - 8;
  auto bytes = bytes_of(call);
  Event event;
  EXPECT_EQ(decode_record(from(bytes), event), DecodeStatus::truncated);

  Rename rename = test::rename_event(1, 1, 1, "x");
  rename.h.size = sizeof(lt_header);
  bytes = bytes_of(rename);
  EXPECT_EQ(decode_record(from(bytes), event), DecodeStatus::truncated);
}

TEST(Decoder, LongerRecordFromNewerMinorAbiDecodesItsPrefix) {
  Fork fork = test::fork_event(42, 10, 10, 20, 21, "child");
  fork.h.size = sizeof(Fork) + 16;
  auto bytes = bytes_of(fork, 1, 16);
  Event event;
  ASSERT_EQ(decode_record(from(bytes, 1), event), DecodeStatus::ok);
  const auto& got = std::get<Fork>(event);
  EXPECT_EQ(got.child_pid, 20u);
  EXPECT_EQ(got.child_tid, 21u);
  EXPECT_STREQ(got.comm, "child");
  EXPECT_EQ(got.h.size, sizeof(Fork) + 16);
}

TEST(Decoder, UnknownKind) {
  Rename rename = test::rename_event(1, 1, 1, "x");
  Event event;
  for (uint16_t kind : {uint16_t{0}, uint16_t{200}, uint16_t{0xffff}}) {
    rename.h.kind = kind;
    auto bytes = bytes_of(rename);
    EXPECT_EQ(decode_record(from(bytes), event), DecodeStatus::unknown_kind) << kind;
  }
}

TEST(Decoder, StatusesHaveNames) {
  EXPECT_EQ(to_string(DecodeStatus::ok), "ok");
  EXPECT_EQ(to_string(DecodeStatus::truncated), "truncated record");
  EXPECT_EQ(to_string(DecodeStatus::bad_size), "record size does not match its header");
  EXPECT_EQ(to_string(DecodeStatus::unknown_kind), "unknown record kind");
}

TEST(Decoder, TimestampOfKernelEvents) {
  EXPECT_EQ(timestamp_of(Event{test::lock_call(LT_SYS_FLOCK, 1, 1, 10, 20, 0, {})}), 20u);
  EXPECT_EQ(timestamp_of(Event{test::task_exit(30, 1, 1, 0, true, "x")}), 30u);
  EXPECT_EQ(timestamp_of(Event{test::rename_event(40, 1, 1, "x")}), 40u);
}

TEST(Decoder, TimestampOfMetadataEvents) {
  EXPECT_EQ(timestamp_of(Event{test::process_info(1, "init", 0, 50)}), 50u);
  EXPECT_EQ(timestamp_of(Event{test::thread_info(1, 2, "t", 60)}), 60u);
  EXPECT_EQ(timestamp_of(Event{test::fd_path(1, 3, "/tmp/x", 0, 0, 70)}), 70u);
}

TEST(Decoder, TruncatedLockCallLeavesTheOutputAlone) {
  // A record too short for any lock call must be refused without touching `out`,
  // whatever it held before (found by the reader fuzzer).
  LockCall call = test::lock_call(LT_SYS_FUTEX, 1, 1, 0, 1, 0, {0x1000, 0});
  call.h.size = LT_LOCK_CALL_FUTEX_SIZE - 8;
  auto bytes = bytes_of(call);
  Event event = test::rename_event(1, 1, 1, "x");
  EXPECT_EQ(decode_record(from(bytes), event), DecodeStatus::truncated);
  EXPECT_TRUE(std::holds_alternative<Rename>(event));
}

}  // namespace
}  // namespace locktrace
