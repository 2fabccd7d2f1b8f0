// Per-lock contention statistics for the report: acquisitions, waits, wait-time
// distribution, and who waited and who made them wait.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "findings.hpp"

namespace locktrace::analysis {

struct TaskTotals {
  uint64_t count = 0;
  uint64_t total_ns = 0;
};

struct LockContention {
  LockRef lock;  // ranges dropped: a file is one entry
  uint64_t acquisitions = 0;
  uint64_t failures = 0;  // non-blocking attempts refused (EAGAIN, EWOULDBLOCK)
  std::vector<uint64_t> waits_ns;
  std::map<std::pair<uint32_t, uint32_t>, TaskTotals> waiters;  // (pid, tid)
  std::map<std::pair<uint32_t, uint32_t>, TaskTotals> holders;  // who the waits were on

  uint64_t total_wait_ns() const;
  // The q-quantile (0..1) of the wait times, nearest rank.
  uint64_t quantile(double q) const;
  uint64_t max_wait_ns() const;
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
  // The locks with the most total wait time, then the most waits.
  std::vector<const LockContention*> most_contended(size_t limit) const;
  const std::vector<CompletedWait>& longest_waits() const { return longest_; }

  static constexpr size_t kLongestKept = 10;

 private:
  std::vector<LockContention> locks_;
  std::map<std::vector<uint64_t>, size_t> index_;
  std::vector<CompletedWait> longest_;  // sorted, longest first
};

// The lock as contention is counted: a file without its range.
LockRef contention_key(const LockRef& lock);

}  // namespace locktrace::analysis
