// One tracing session on this host: check the system, load the probes, attach to
// the targets (or launch one), drain the ring buffer into a pipeline until the
// targets exit, a signal arrives or the duration ends.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pipeline.hpp"
#include "probes.hpp"

namespace locktrace {

struct SessionOptions {
  std::vector<uint32_t> pids;          // -p: whole processes
  std::vector<uint32_t> tids;          // -t: single threads
  std::vector<std::string> command;    // -- CMD ARGS...
  std::function<int()> workload;       // a built-in workload to launch (demo)
  bool command_stdout_to_stderr = false;  // standard output carries the trace (-o -)
  std::optional<uint64_t> duration_ns;
  // Polled after every drain: a sink that can no longer work (a recording whose
  // disk filled) ends the session early.
  std::function<bool()> should_stop;
  bool follow_children = true;
  uint32_t ring_buffer_bytes = 64u << 20;
  uint8_t stack_mode = 1;            // LT_STACKS_*: waits, file-lock acquisitions and refusals
  uint32_t user_stack_bytes = 4096;  // user stack copied per stack for DWARF unwinding; 0: frame pointers
};

struct SessionResult {
  uint64_t kernel_events = 0;
  ProbeCounters counters;
  uint64_t undecodable = 0;            // records the decoder rejected
  std::optional<int> command_status;   // shell-style status of a launched target
  bool interrupted = false;            // stopped by SIGINT/SIGTERM
};

// Throws Fatal for what README lists under exit codes.
SessionResult run_session(const SessionOptions& options, Pipeline& pipeline);

}  // namespace locktrace
