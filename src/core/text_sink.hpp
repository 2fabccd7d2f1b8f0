// Human output: one aligned, strace-like line per event.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "event_filter.hpp"
#include "sink.hpp"

namespace locktrace {

class TextSink : public EventSink {
 public:
  // `full_stacks`: a lock call line with a stack is followed by its frames, one per line.
  TextSink(std::FILE* out, EventFilter filter, bool colour, bool full_stacks = false)
      : out_(out), filter_(std::move(filter)), colour_(colour), full_stacks_(full_stacks) {}

  void on_start(const StreamInfo& info) override { info_ = info; }
  void on_event(const Event& event, const TraceState& state) override;
  void on_finding(const Finding& finding, const TraceState& state) override;
  void flush() override { std::fflush(out_); }

 private:
  void format(const DeadlockFinding& deadlock, const TraceState& state);
  void format(const LongWaitFinding& wait, const TraceState& state);
  void format(const FailureFinding& failure, const TraceState& state);
  void format(const RetryLoopFinding& loop, const TraceState& state);
  void format(const ExitAfterFailureFinding& exit, const TraceState& state);
  void format(const OwnerDiedFinding& died, const TraceState& state);
  void format(const SplitLockFinding& split, const TraceState& state);
  void format(const PhantomHolderFinding& phantom, const TraceState& state);
  void format(const WeakFileSystemFinding& weak, const TraceState& state);
  void append_failed_call(const FailedCall& call, const TraceState& state);
  void append_holder(const WaitEdge& edge, const TraceState& state);
  // `lead` and the top frames of a known stack: " in db::Pool::acquire (pool.cc:88) <- main".
  void append_frames(std::string_view lead, std::optional<uint32_t> stack_id, const TraceState& state);
  void append_stack_lines(uint32_t stack_id, const TraceState& state);
  void format(const LockCall& call, const TraceState& state);
  void format(const FileLock& lock, const TraceState& state);
  void format(const TaskExit& exit, const TraceState& state);
  void format(const ExitCall& call, const TraceState& state);
  void format(const Fork& fork, const TraceState& state);
  void format(const Exec& exec, const TraceState& state);
  void format(const Rename& rename, const TraceState& state);
  void format(const Signal& signal, const TraceState& state);
  void format(const Reap& reap, const TraceState& state);
  void begin_line(const lt_header& h, std::string_view comm);
  void begin_line_of(uint64_t ts_ns, std::string_view who);
  void append_kernel_lock(const lt_kernel_lock& lock, const TraceState& state);
  void colour(const char* code);

  std::FILE* out_;
  EventFilter filter_;
  bool colour_;
  bool full_stacks_;
  StreamInfo info_;
  std::string line_;
  std::string scratch_;
  std::string who_;
};

// Text from traced programs (names, paths) with control bytes escaped the way
// strace does ("\n", "\x1b"), so it can neither break a line nor drive the terminal.
void append_printable(std::string& out, std::string_view text);

// "8:1" from the kernel's dev_t encoding.
void append_device(std::string& out, uint32_t dev);
// The byte range of a kernel lock, "0-EOF" or "100-199".
void append_range(std::string& out, int64_t start, int64_t end);

}  // namespace locktrace
