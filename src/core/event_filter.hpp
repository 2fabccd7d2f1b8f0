// Which events a printing sink shows: --pid/--tid/--comm, --errors-only,
// --min-wait, --since/--until. Recording ignores it: a file keeps everything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "events.hpp"
#include "trace_state.hpp"

namespace locktrace {

struct EventFilter {
  std::vector<uint32_t> pids;
  std::vector<uint32_t> tids;
  std::vector<std::string> comms;
  bool errors_only = false;
  uint64_t min_wait_ns = 0;                // 0: no threshold
  std::optional<uint64_t> since_ns;        // relative to the stream's start
  std::optional<uint64_t> until_ns;

  bool matches(const Event& event, const TraceState& state, uint64_t start_ts_ns) const;
};

// The kernel's negative errno of a finished call, or 0 when it succeeded.
int call_errno(const LockCall& call);
uint64_t call_duration_ns(const LockCall& call);

}  // namespace locktrace
