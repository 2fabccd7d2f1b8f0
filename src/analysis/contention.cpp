#include "contention.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace locktrace::analysis {

LockRef contention_key(const LockRef& lock) {
  LockRef key = lock;
  if (key.kind == LockRef::Kind::file) {
    key.start = 0;
    key.end = INT64_MAX;  // the whole file
  }
  return key;
}

uint64_t LockContention::total_wait_ns() const {
  uint64_t total = 0;
  for (uint64_t w : waits_ns) total += w;
  return total;
}

uint64_t LockContention::quantile(double q) const {
  if (waits_ns.empty()) return 0;
  std::vector<uint64_t> sorted = waits_ns;
  std::sort(sorted.begin(), sorted.end());
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

uint64_t LockContention::max_wait_ns() const {
  return waits_ns.empty() ? 0 : *std::max_element(waits_ns.begin(), waits_ns.end());
}

LockContention& ContentionStats::of(const LockRef& lock) {
  LockRef key = contention_key(lock);
  std::vector<uint64_t> id = {static_cast<uint64_t>(key.kind), key.dev, key.ino, key.fl_flags,
                              key.pid, key.uaddr};
  auto [it, inserted] = index_.try_emplace(id, locks_.size());
  if (inserted) {
    locks_.emplace_back();
    locks_.back().lock = key;
  }
  return locks_[it->second];
}

void ContentionStats::record_wait(const WaitEdge& edge, uint64_t waited_ns, uint64_t ended_ns) {
  LockContention& c = of(edge.lock);
  c.waits_ns.push_back(waited_ns);
  auto& waiter = c.waiters[{edge.waiter.pid, edge.waiter.tid}];
  waiter.count++;
  waiter.total_ns += waited_ns;
  if (edge.holder) {
    auto& holder = c.holders[{edge.holder->pid, edge.holder->tid}];
    holder.count++;
    holder.total_ns += waited_ns;
  }
  if (longest_.size() < kLongestKept || waited_ns > longest_.back().waited_ns) {
    CompletedWait done{edge, waited_ns, ended_ns};
    auto at = std::upper_bound(longest_.begin(), longest_.end(), done,
                               [](const CompletedWait& a, const CompletedWait& b) {
                                 return a.waited_ns > b.waited_ns;
                               });
    longest_.insert(at, done);
    if (longest_.size() > kLongestKept) longest_.pop_back();
  }
}

std::vector<const LockContention*> ContentionStats::most_contended(size_t limit) const {
  std::vector<const LockContention*> sorted;
  for (const auto& c : locks_)
    if (!c.waits_ns.empty() || c.failures > 0) sorted.push_back(&c);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    if (a->total_wait_ns() != b->total_wait_ns()) return a->total_wait_ns() > b->total_wait_ns();
    return a->waits_ns.size() + a->failures > b->waits_ns.size() + b->failures;
  });
  if (sorted.size() > limit) sorted.resize(limit);
  return sorted;
}

}  // namespace locktrace::analysis
