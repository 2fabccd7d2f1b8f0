// The lock-wait graph: who holds what, who waits on whom and since when, drawn
// from the event stream alone. Reports a deadlock the moment a wait closes a
// cycle, a wait that crosses the long-wait threshold, and keeps the contention
// statistics the report prints.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "contention.hpp"
#include "failure_explainer.hpp"
#include "lock_table.hpp"
#include "sink.hpp"

namespace locktrace::analysis {

struct AnalyzerOptions {
  uint64_t long_wait_ns = 0;  // 0: no long-wait findings
  // Why lock calls failed and what followed (FailureExplainer): findings only a
  // printing sink shows, so a run that prints no events can leave them out.
  bool explain_failures = true;
};

// A thread inside a blocking lock call.
struct Wait {
  TaskRef waiter;
  LockRef lock;
  uint64_t since_ns = 0;
  uint8_t type = 0;    // requested file-lock type
  uint64_t owner = 0;  // the requester's fl_owner (file locks)
  std::vector<FileHolder> holders;  // empty: owner unknown
  // Holders that let go while it waited: who it waited for, for the statistics.
  std::vector<FileHolder> released;
  bool long_reported = false;
  std::optional<uint32_t> stack;  // where it went to sleep
  std::string comm;               // the waiter's name then, for stacks folded by task name
};

class Analyzer : public EventAnalyzer {
 public:
  explicit Analyzer(AnalyzerOptions options = {}) : options_(options) {}

  void analyze(const Event& event, const TraceState& state, std::vector<Finding>& findings) override;
  void finish(std::vector<Finding>& findings) override {
    if (options_.explain_failures) explainer_.finish(findings);
  }

  const std::vector<DeadlockFinding>& deadlocks() const { return deadlocks_; }
  const ContentionStats& contention() const { return contention_; }
  // Threads waiting now, one edge per (waiter, holder); holderless waits once.
  std::vector<WaitEdge> waits_now() const;
  const FileLockTable& file_locks() const { return files_; }
  const Wait* wait_of(uint32_t tid) const {
    auto it = waits_.find(tid);
    return it == waits_.end() ? nullptr : &it->second;
  }
  uint64_t now_ns() const { return now_ns_; }

 private:
  void on_lock_call(const LockCall& call, const TraceState& state, std::vector<Finding>& findings);
  void on_file_call_done(const LockCall& call, const LockRef& lock, std::optional<uint32_t> stack,
                         std::vector<Finding>& findings);
  void on_futex_done(const LockCall& call, const LockRef& lock, std::optional<uint32_t> stack);
  // Where `tid` last took the futex (a wait on it that returned 0), when seen.
  std::optional<uint32_t> futex_taken_stack(const LockRef& lock, uint32_t tid) const;
  using Waits = std::map<uint32_t, Wait>;  // by waiting tid
  // A node for a new wait: an ended wait's, its lists emptied but still allocated.
  Waits::node_type wait_node();
  void recycle(Waits::node_type node);
  void begin_wait(Waits::node_type node, std::vector<Finding>& findings);
  void end_wait(uint32_t tid, uint64_t ts_ns, std::optional<TaskRef> woken_by);
  // Fill `wait`, which is empty.
  void file_wait(const LockCall& call, const LockRef& lock, Wait& wait);
  void futex_wait(const LockCall& call, const LockRef& lock, Wait& wait);
  std::optional<DeadlockFinding> find_cycle(const Wait& start, uint64_t ts_ns) const;
  // A wait's holders are who held the lock when it began: drop those that have
  // released it since, or a later wait of theirs would close a false cycle.
  void drop_released_file_holders();
  void drop_futex_holder(const LockRef& lock, uint32_t tid);
  template <typename LetGo>
  static void release_holders(Wait& wait, LetGo let_go);
  bool visit_cycle(const Wait& start, const Wait& wait, std::vector<WaitEdge>& path,
                   std::vector<uint32_t>& visited) const;
  void check_long_waits(uint64_t ts_ns, std::vector<Finding>& findings);
  void note_task(uint32_t pid, uint32_t tid) { thread_pid_[tid] = pid; }
  std::optional<TaskRef> live_thread(uint32_t tid) const;

  // Locks from /proc/locks get small serials as owners: no kernel pointer is that low.
  uint64_t snapshot_holders_ = 0;

  AnalyzerOptions options_;
  uint64_t now_ns_ = 0;
  FileLockTable files_;
  Waits waits_;
  std::vector<Waits::node_type> spare_waits_;
  // find_cycle's working space, kept between calls.
  mutable std::vector<WaitEdge> cycle_path_;
  mutable std::vector<uint32_t> cycle_visited_;
  std::vector<const FileHolder*> conflicts_;
  std::unordered_map<uint32_t, uint32_t> thread_pid_;  // live threads
  struct Wake {
    TaskRef by;
    uint64_t ts_ns;
  };
  std::map<std::pair<uint32_t, uint64_t>, Wake> last_wake_;  // (pid scope, uaddr)
  // By tid, then (pid scope, uaddr): the stack of its last wait that got the futex.
  std::unordered_map<uint32_t, std::map<std::pair<uint32_t, uint64_t>, uint32_t>> futex_taken_;
  std::vector<DeadlockFinding> deadlocks_;
  ContentionStats contention_;
  FailureExplainer explainer_;
};

// The lock a call works on: the file the kernel reported, or the futex word.
std::optional<LockRef> lock_of(const LockCall& call);
WaitEdge edge_of(const Wait& wait, const FileHolder* holder);

}  // namespace locktrace::analysis
