// FileLockTable: POSIX byte-range semantics (overlap, replace, split on unlock),
// flock's whole-file locks, and releases on close and exit.
#include "lock_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "analysis_stream.hpp"

namespace locktrace::analysis::test {
namespace {

constexpr InodeKey kFile{kDev, 77};

FileHolder posix(uint32_t pid, uint64_t owner, uint8_t type, int64_t start, int64_t end) {
  FileHolder h;
  h.task = {pid, pid};
  h.owner = owner;
  h.fl_flags = LT_FL_POSIX;
  h.type = type;
  h.start = start;
  h.end = end;
  return h;
}

FileHolder flock_holder(uint32_t pid, uint64_t owner, uint8_t type) {
  FileHolder h = posix(pid, owner, type, 0, kEof);
  h.fl_flags = LT_FL_FLOCK;
  return h;
}

// (owner, type, start, end) of everything held on the inode, sorted.
using Range = std::tuple<uint64_t, uint8_t, int64_t, int64_t>;
std::vector<Range> held(const FileLockTable& table, const InodeKey& inode = kFile) {
  std::vector<Range> out;
  table.for_each([&](const InodeKey& key, const FileHolder& h) {
    if (key == inode) out.emplace_back(h.owner, h.type, h.start, h.end);
  });
  std::sort(out.begin(), out.end());
  return out;
}

size_t conflicts(const FileLockTable& table, uint64_t owner, uint8_t type, int64_t start, int64_t end,
                 uint32_t fl_flags = LT_FL_POSIX) {
  return table.conflicts(kFile, owner, fl_flags, type, start, end).size();
}

TEST(FileLockTable, OverlappingRangesConflictDisjointOnesDoNot) {
  FileLockTable table;
  table.apply(kFile, posix(1, 0xa, kWrlck, 0, 99));
  EXPECT_EQ(conflicts(table, 0xb, kWrlck, 50, 150), 1u);
  EXPECT_EQ(conflicts(table, 0xb, kWrlck, 99, 99), 1u) << "ends are inclusive";
  EXPECT_EQ(conflicts(table, 0xb, kWrlck, 100, 200), 0u);
  EXPECT_EQ(conflicts(table, 0xb, kRdlck, 0, 0), 1u) << "a read conflicts with a write lock";
  EXPECT_EQ(conflicts(table, 0xb, kWrlck, 100, kEof), 0u);
  EXPECT_EQ(conflicts(table, 0xa, kWrlck, 0, 99), 0u) << "an owner never conflicts with itself";
  const auto found = table.conflicts(kFile, 0xb, LT_FL_POSIX, kWrlck, 10, 20);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]->task.pid, 1u);
  EXPECT_TRUE(table.conflicts({kDev, 78}, 0xb, LT_FL_POSIX, kWrlck, 0, kEof).empty()) << "other inode";
}

TEST(FileLockTable, ReadLocksShareWriteLocksDoNot) {
  FileLockTable table;
  table.apply(kFile, posix(1, 0xa, kRdlck, 0, kEof));
  table.apply(kFile, posix(2, 0xb, kRdlck, 0, kEof));
  EXPECT_EQ(conflicts(table, 0xc, kRdlck, 0, 10), 0u);
  EXPECT_EQ(conflicts(table, 0xc, kWrlck, 0, 10), 2u);
  EXPECT_EQ(conflicts(table, 0xa, kWrlck, 0, 10), 1u) << "upgrading: only the other reader blocks";
}

TEST(FileLockTable, UnlockInTheMiddleSplitsTheRange) {
  FileLockTable table;
  table.apply(kFile, posix(1, 0xa, kWrlck, 0, 99));
  table.apply(kFile, posix(1, 0xa, kUnlck, 40, 59));
  EXPECT_EQ(held(table), (std::vector<Range>{{0xa, kWrlck, 0, 39}, {0xa, kWrlck, 60, 99}}));
  EXPECT_EQ(conflicts(table, 0xb, kWrlck, 40, 59), 0u) << "the hole is free";
  EXPECT_EQ(conflicts(table, 0xb, kWrlck, 30, 45), 1u);
  EXPECT_EQ(conflicts(table, 0xb, kWrlck, 35, 65), 2u);
}

TEST(FileLockTable, UnlockAtTheEdgesTrims) {
  FileLockTable table;
  table.apply(kFile, posix(1, 0xa, kWrlck, 10, 19));
  table.apply(kFile, posix(1, 0xa, kUnlck, 0, 12));
  EXPECT_EQ(held(table), (std::vector<Range>{{0xa, kWrlck, 13, 19}}));
  table.apply(kFile, posix(1, 0xa, kUnlck, 18, kEof));
  EXPECT_EQ(held(table), (std::vector<Range>{{0xa, kWrlck, 13, 17}}));
  table.apply(kFile, posix(1, 0xa, kUnlck, 0, kEof));
  EXPECT_TRUE(held(table).empty());
}

TEST(FileLockTable, UnlockByAnotherOwnerChangesNothing) {
  FileLockTable table;
  table.apply(kFile, posix(1, 0xa, kWrlck, 0, 99));
  table.apply(kFile, posix(2, 0xb, kUnlck, 0, kEof));
  EXPECT_EQ(held(table), (std::vector<Range>{{0xa, kWrlck, 0, 99}}));
}

TEST(FileLockTable, NewLockReplacesTheOverlappedPartOfTheOwnersLocks) {
  FileLockTable table;
  table.apply(kFile, posix(1, 0xa, kRdlck, 0, 99));
  table.apply(kFile, posix(1, 0xa, kWrlck, 50, 149));  // upgrade part, extend
  EXPECT_EQ(held(table), (std::vector<Range>{{0xa, kRdlck, 0, 49}, {0xa, kWrlck, 50, 149}}));
  EXPECT_EQ(conflicts(table, 0xb, kRdlck, 0, 49), 0u);
  EXPECT_EQ(conflicts(table, 0xb, kRdlck, 60, 60), 1u);
}

TEST(FileLockTable, FlockIsWholeFileAndIndependentOfPosix) {
  FileLockTable table;
  table.apply(kFile, flock_holder(1, 0xf1, kWrlck));
  EXPECT_EQ(conflicts(table, 0xf2, kWrlck, 0, kEof, LT_FL_FLOCK), 1u);
  EXPECT_EQ(conflicts(table, 0xf2, kRdlck, 0, kEof, LT_FL_FLOCK), 1u);
  EXPECT_EQ(conflicts(table, 0xf2, kWrlck, 5, 5, LT_FL_POSIX), 0u) << "flock and POSIX locks do not conflict";
  // Converting in place (LOCK_SH on the same open file) replaces, not adds.
  table.apply(kFile, flock_holder(1, 0xf1, kRdlck));
  EXPECT_EQ(held(table), (std::vector<Range>{{0xf1, kRdlck, 0, kEof}}));
  EXPECT_EQ(conflicts(table, 0xf2, kRdlck, 0, kEof, LT_FL_FLOCK), 0u);
  table.apply(kFile, flock_holder(1, 0xf1, kUnlck));
  EXPECT_TRUE(held(table).empty());
}

TEST(FileLockTable, ReleaseOwnerAndProcess) {
  FileLockTable table;
  table.apply(kFile, posix(1, 0xa, kWrlck, 0, 9));
  table.apply(kFile, posix(1, 0xa, kWrlck, 20, 29));
  table.apply(kFile, posix(2, 0xb, kWrlck, 10, 19));
  table.apply(kFile, flock_holder(1, 0xf1, kWrlck));
  table.release_owner(kFile, 0xa);
  EXPECT_EQ(held(table), (std::vector<Range>{{0xb, kWrlck, 10, 19}, {0xf1, kWrlck, 0, kEof}}));
  // A process exit drops its POSIX locks; its flock lock belongs to the open file.
  table.release_process(2);
  table.release_process(1);
  EXPECT_EQ(held(table), (std::vector<Range>{{0xf1, kWrlck, 0, kEof}}));
}

TEST(FileLockTable, BlockerAdoptsALockSeenInProcLocks) {
  FileLockTable table;
  FileHolder from_proc = posix(5, 1, kWrlck, 0, kEof);  // owner: a snapshot serial
  from_proc.task.tid = 0;
  from_proc.how = Attribution::proc_locks;
  table.apply(kFile, from_proc);
  FileHolder named = posix(5, 0xffff888000001234, kWrlck, 0, kEof);
  named.task.tid = 0;
  const FileHolder& h = table.blocker(kFile, named);
  EXPECT_EQ(h.owner, 0xffff888000001234u) << "the kernel's owner replaces the serial";
  EXPECT_EQ(held(table).size(), 1u) << "not added twice";
  // A blocker the table never saw is added.
  FileHolder unseen = posix(6, 0xffff888000005678, kRdlck, 0, 9);
  table.blocker({kDev, 79}, unseen);
  EXPECT_EQ(held(table, {kDev, 79}).size(), 1u);
}

// The same semantics through the analyzer: a waiter for a range that another
// owner's unlock split off is not blocked by the remaining parts.
TEST(FileLockTable, AnalyzerAppliesSuccessfulCallsWithRanges) {
  Stream s;
  s.push(fcntl_ok(10, 1 * kSec, klock(77, 0xa, kWrlck, LT_FL_POSIX, 0, 99)));
  s.push(fcntl_ok(10, 1 * kSec + 1, klock(77, 0xa, kUnlck, LT_FL_POSIX, 40, 59)));
  s.push(fcntl_wait(11, 1 * kSec + 2, 3, kFSetlkw, klock(77, 0xb, kWrlck, LT_FL_POSIX, 45, 50)));
  auto edges = s.analyzer.waits_now();
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_FALSE(edges[0].holder.has_value()) << "bytes 45-50 are free";
  s.push(fcntl_wait(12, 1 * kSec + 3, 3, kFSetlkw, klock(77, 0xc, kWrlck, LT_FL_POSIX, 30, 70)));
  size_t blocked_by_10 = 0;
  for (const auto& edge : s.analyzer.waits_now())
    if (edge.waiter.pid == 12 && edge.holder && edge.holder->pid == 10) blocked_by_10++;
  EXPECT_EQ(blocked_by_10, 1u) << "both remaining pieces overlap 30-70: one edge per holder";
}

}  // namespace
}  // namespace locktrace::analysis::test
