// Per-lock contention statistics for the report: acquisitions, waits, wait-time
// distribution, and who waited and who made them wait.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "findings.hpp"

namespace locktrace::analysis {

struct TaskTotals {
  uint64_t count = 0;
  uint64_t total_ns = 0;
};

// Wait times of one lock: exact while there are few, then a log-linear
// histogram (16 buckets per power of two, under 7% error), so a long trace's
// memory does not grow with its number of waits.
class WaitDistribution {
 public:
  void add(uint64_t ns);
  uint64_t count() const { return count_; }
  uint64_t total() const { return total_; }
  uint64_t max() const { return max_; }
  uint64_t mean() const { return count_ ? total_ / count_ : 0; }
  // The q-quantile (0..1), nearest rank: exact, or its bucket's upper bound.
  uint64_t quantile(double q) const;

  static constexpr size_t kExactLimit = 4096;

 private:
  static size_t bucket_of(uint64_t ns);
  static uint64_t bucket_upper(size_t bucket);
  void add_to_histogram(uint64_t ns);

  uint64_t count_ = 0;
  uint64_t total_ = 0;
  uint64_t max_ = 0;
  std::vector<uint64_t> exact_;    // while count_ <= kExactLimit
  std::vector<uint64_t> buckets_;  // after: counts, grown to the largest bucket used
};

// The waits of one stack: how many, how long in all and at most.
struct StackTotals {
  uint64_t count = 0;
  uint64_t total_ns = 0;
  uint64_t max_ns = 0;
  void add(uint64_t ns);
};

struct LockContention {
  LockRef lock;  // ranges dropped: a file is one entry
  uint64_t acquisitions = 0;
  uint64_t failures = 0;  // non-blocking attempts refused (EAGAIN, EWOULDBLOCK)
  WaitDistribution waits;
  std::map<std::pair<uint32_t, uint32_t>, TaskTotals> waiters;  // (pid, tid)
  std::map<std::pair<uint32_t, uint32_t>, TaskTotals> holders;  // who the waits were on
  std::map<uint32_t, StackTotals> stacks;  // where the waiters waited, by stack id
};

struct CompletedWait {
  WaitEdge edge;
  uint64_t waited_ns = 0;
  uint64_t ended_ns = 0;
};

class ContentionStats {
 public:
  LockContention& of(const LockRef& lock);
  void record_wait(const WaitEdge& edge, uint64_t waited_ns, uint64_t ended_ns);
  // A wait of a task named `comm` in a stack, for stacks folded across locks.
  void record_stack(std::string_view comm, uint32_t stack_id, uint64_t waited_ns);
  // Total wait by (task name, stack id).
  const std::map<std::pair<std::string, uint32_t>, uint64_t>& waits_by_stack() const { return by_stack_; }
  // The locks with the most total wait time, then the most waits.
  std::vector<const LockContention*> most_contended(size_t limit) const;
  const std::vector<CompletedWait>& longest_waits() const { return longest_; }

  static constexpr size_t kLongestKept = 10;

 private:
  using Key = std::array<uint64_t, 6>;  // kind, dev, ino, fl_flags, pid, uaddr
  std::vector<LockContention> locks_;
  std::map<Key, size_t> index_;
  // The locks looked up last: a few hot locks take most of the calls.
  struct Recent {
    Key key{};
    size_t index = SIZE_MAX;
  };
  std::array<Recent, 4> recent_;
  size_t next_recent_ = 0;
  std::vector<CompletedWait> longest_;  // sorted, longest first
  std::map<std::pair<std::string, uint32_t>, uint64_t> by_stack_;
};

// A lock's waiting stacks, the most total wait first, at most `limit`.
std::vector<std::pair<uint32_t, StackTotals>> top_stacks(const LockContention& lock, size_t limit);

// The lock as contention is counted: a file without its range.
LockRef contention_key(const LockRef& lock);

}  // namespace locktrace::analysis
