// Why lock calls fail and what follows: every failed lock call gets a finding
// that names the conflicting holders (EAGAIN/EWOULDBLOCK/EACCES), who held the
// lock through a timed-out wait (ETIMEDOUT), the signal and its sender (EINTR),
// or what the arguments say (EBADF, EINVAL, ENOLCK ...). Retries of the same
// refused lock fold into one finding; a failure followed by an exit is linked
// to it, and to the parent that reaps it. Futex owners that die holding a lock
// are named, and so are two exclusive holders of one path on different inodes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "findings.hpp"
#include "sink.hpp"

namespace locktrace::analysis {

class Analyzer;

class FailureExplainer {
 public:
  // Before the wait graph takes the event in: holders and waits as they were.
  void before(const Event& event, const Analyzer& graph, const TraceState& state,
              std::vector<Finding>& findings);
  // After: what the event changed (a new exclusive holder).
  void after(const Event& event, const Analyzer& graph, const TraceState& state,
             std::vector<Finding>& findings);
  // The stream ended: consequences still waiting for a reap are told as they are.
  void finish(std::vector<Finding>& findings);

 private:
  struct Streak {
    FailedCall first;
    FailedCall last;
    uint64_t attempts = 0;
  };
  struct LastSignal {
    int sig = 0;
    uint64_t ts_ns = 0;
    std::optional<TaskRef> sender;
    std::string sender_comm;
  };
  struct Failure {
    FailedCall call;
    std::optional<TaskRef> holder;
  };

  void on_failure(const LockCall& call, int err, const Analyzer& graph, const TraceState& state,
                  std::vector<Finding>& findings);
  void on_success(const LockCall& call, std::vector<Finding>& findings);
  void on_exit(const TaskExit& exit, const Analyzer& graph, const TraceState& state,
               std::vector<Finding>& findings);
  void on_signal(const Signal& signal, std::vector<Finding>& findings);
  void link_to_failure(const TaskExit& exit, const TraceState& state, std::vector<Finding>& findings);
  void report_orphans(const TaskExit& exit, const Analyzer& graph, std::vector<Finding>& findings);
  void emit_failure(FailureFinding finding, std::vector<Finding>& findings);
  void end_streak(uint32_t tid, RetryLoopFinding::Outcome outcome, std::vector<Finding>& findings);
  void check_split(const LockCall& call, const Analyzer& graph, const TraceState& state,
                   std::vector<Finding>& findings);
  void check_file_system(const LockCall& call, const TraceState& state, std::vector<Finding>& findings);
  void check_phantom(const LockRef& lock, uint32_t named_pid, TaskRef requester, uint64_t ts_ns,
                     const TraceState& state, std::vector<Finding>& findings);

  std::map<uint32_t, Streak> streaks_;           // by tid
  std::map<uint32_t, Failure> failures_;         // last unresolved failure, by tid
  std::map<uint32_t, LastSignal> delivered_;     // by receiving tid
  // Sent and not yet delivered, by (target, signal); a signal sent to a process
  // (kill) may be delivered in any of its threads, so by (tgid, signal) too.
  std::map<std::pair<uint32_t, int>, LastSignal> sent_to_thread_;
  std::map<std::pair<uint32_t, int>, LastSignal> sent_to_process_;
  std::set<uint32_t> exiting_groups_;            // pids whose exit_group was called
  // Consequences of exits whose traced parent has yet to reap them, by pid.
  std::map<uint32_t, ExitAfterFailureFinding> awaiting_reap_;
  // Calls the kernel ended with a restart code (ERESTARTSYS ...): whether user
  // space sees EINTR or a restart depends on the signal's handler, delivered next.
  std::map<uint32_t, FailureFinding> interrupted_;
  std::set<std::pair<uint32_t, uint64_t>> weak_fs_noted_;             // (dev, ino)
  std::set<std::tuple<uint32_t, uint64_t, uint32_t>> phantoms_noted_;  // (dev, ino, named pid)
};

// The name of a file system whose locks are not coherent across hosts or
// containers, and why; empty when locks on it are coherent.
std::pair<std::string_view, std::string_view> weak_file_system(uint32_t fs_magic);

// A sentence for an error the call's arguments explain, "" when there is none.
std::string_view failure_reason(uint16_t sys, uint64_t op, int err);

}  // namespace locktrace::analysis
