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

void WaitDistribution::add(uint64_t ns) {
  count_++;
  total_ += ns;
  max_ = std::max(max_, ns);
  if (buckets_.empty() && exact_.size() < kExactLimit) {
    exact_.push_back(ns);
    return;
  }
  for (uint64_t sample : exact_) add_to_histogram(sample);
  exact_.clear();
  exact_.shrink_to_fit();
  add_to_histogram(ns);
}

size_t WaitDistribution::bucket_of(uint64_t ns) {
  if (ns < 16) return ns;
  int msb = 63 - __builtin_clzll(ns);
  return static_cast<size_t>(msb - 3) * 16 + ((ns >> (msb - 4)) & 15);
}

uint64_t WaitDistribution::bucket_upper(size_t bucket) {
  if (bucket < 16) return bucket;
  int msb = static_cast<int>(bucket / 16) + 3;
  uint64_t sub = bucket % 16;
  return ((16 + sub + 1) << (msb - 4)) - 1;
}

void WaitDistribution::add_to_histogram(uint64_t ns) {
  size_t bucket = bucket_of(ns);
  if (bucket >= buckets_.size()) buckets_.resize(bucket + 1);
  buckets_[bucket]++;
}

uint64_t WaitDistribution::quantile(double q) const {
  if (count_ == 0) return 0;
  auto rank = std::clamp<uint64_t>(static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))), 1, count_);
  if (buckets_.empty()) {
    std::vector<uint64_t> sorted = exact_;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(rank - 1), sorted.end());
    return sorted[rank - 1];
  }
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets_.size(); b++) {
    seen += buckets_[b];
    if (seen >= rank) return std::min(bucket_upper(b), max_);
  }
  return max_;
}

LockContention& ContentionStats::of(const LockRef& lock) {
  LockRef key = contention_key(lock);
  Key id = {static_cast<uint64_t>(key.kind), key.dev, key.ino, key.fl_flags, key.pid, key.uaddr};
  for (const Recent& recent : recent_)  // the address or inode first: they tell most locks apart
    if (recent.index != SIZE_MAX && recent.key[5] == id[5] && recent.key[2] == id[2] && recent.key == id)
      return locks_[recent.index];
  auto [it, inserted] = index_.try_emplace(id, locks_.size());
  if (inserted) {
    locks_.emplace_back();
    locks_.back().lock = key;
  }
  recent_[next_recent_++ % recent_.size()] = {id, it->second};
  return locks_[it->second];
}

void StackTotals::add(uint64_t ns) {
  count++;
  total_ns += ns;
  max_ns = std::max(max_ns, ns);
}

void ContentionStats::record_wait(const WaitEdge& edge, uint64_t waited_ns, uint64_t ended_ns) {
  LockContention& c = of(edge.lock);
  c.waits.add(waited_ns);
  if (edge.waiter_stack) c.stacks[*edge.waiter_stack].add(waited_ns);
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

void ContentionStats::record_stack(std::string_view comm, uint32_t stack_id, uint64_t waited_ns) {
  by_stack_[{std::string(comm), stack_id}] += waited_ns;
}

std::vector<std::pair<uint32_t, StackTotals>> top_stacks(const LockContention& lock, size_t limit) {
  std::vector<std::pair<uint32_t, StackTotals>> sorted(lock.stacks.begin(), lock.stacks.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second.total_ns > b.second.total_ns; });
  if (sorted.size() > limit) sorted.resize(limit);
  return sorted;
}

std::vector<const LockContention*> ContentionStats::most_contended(size_t limit) const {
  std::vector<const LockContention*> sorted;
  for (const auto& c : locks_)
    if (c.waits.count() > 0 || c.failures > 0) sorted.push_back(&c);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    if (a->waits.total() != b->waits.total()) return a->waits.total() > b->waits.total();
    return a->waits.count() + a->failures > b->waits.count() + b->failures;
  });
  if (sorted.size() > limit) sorted.resize(limit);
  return sorted;
}

}  // namespace locktrace::analysis
