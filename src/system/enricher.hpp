// Live runs only: before a kernel event enters the pipeline, make sure the stream
// already holds the names it needs (process, thread, fd path), reading /proc once
// per unknown item and pushing what it finds as metadata events.
#pragma once

#include <cstdint>
#include <unordered_set>

#include "pipeline.hpp"
#include "target_tracker.hpp"

namespace locktrace {

class Enricher {
 public:
  // `traced`: the traced processes, alive until the stream says they exited;
  // for them no system call asks the kernel whether they still exist.
  explicit Enricher(Pipeline& pipeline, const TargetTracker* traced = nullptr)
      : pipeline_(pipeline), traced_(traced) {}

  // Pushes the metadata `event` needs, then `event` itself.
  void push(const Event& event);
  // The attach-time snapshot of one target process and its threads.
  void describe_process(uint32_t pid, uint64_t ts_ns);

 private:
  void describe_task(const lt_header& h);
  void describe_fd(const LockCall& call);
  void describe_lock_holders(const LockCall& call);

  Pipeline& pipeline_;
  const TargetTracker* traced_;
  // What /proc could not tell (the task or fd was gone): not asked again.
  std::unordered_set<uint32_t> unknown_pids_;
  std::unordered_set<uint32_t> unknown_tids_;
  std::unordered_set<uint64_t> unknown_fds_;
  std::unordered_set<uint64_t> holder_scans_;  // inodes whose fdinfo holders were looked up
};

}  // namespace locktrace
