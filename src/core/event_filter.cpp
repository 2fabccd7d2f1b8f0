#include "event_filter.hpp"

#include <algorithm>

#include "pipeline.hpp"

namespace locktrace {

int call_errno(const LockCall& call) {
  if (call.phase != LT_PHASE_DONE) return 0;
  return call.ret < 0 && call.ret >= -4095 ? static_cast<int>(-call.ret) : 0;
}

uint64_t call_duration_ns(const LockCall& call) {
  return call.h.ts_ns > call.enter_ts ? call.h.ts_ns - call.enter_ts : 0;
}

namespace {

template <typename T>
bool listed(const std::vector<T>& list, const T& value) {
  return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

bool EventFilter::matches(const Event& event, const TraceState& state, uint64_t start_ts_ns) const {
  if (is_metadata(event)) return false;
  uint64_t ts = timestamp_of(event);
  uint64_t rel = ts > start_ts_ns ? ts - start_ts_ns : 0;
  if (since_ns && rel < *since_ns) return false;
  if (until_ns && rel > *until_ns) return false;
  const auto& header = std::visit(
      [](const auto& e) -> const lt_header& {
        if constexpr (requires { e.h; }) {
          return e.h;
        } else {
          static const lt_header none{};
          return none;
        }
      },
      event);
  if (!listed(pids, header.pid) || !listed(tids, header.tid)) return false;
  if (!comms.empty()) {
    std::string_view comm = state.comm(header.pid, header.tid);
    if (std::none_of(comms.begin(), comms.end(), [comm](const auto& c) { return c == comm; }))
      return false;
  }
  if (errors_only || min_wait_ns > 0) {
    const auto* call = std::get_if<LockCall>(&event);
    if (!call || call->phase != LT_PHASE_DONE) return false;
    if (errors_only && call_errno(*call) == 0) return false;
    if (min_wait_ns > 0 && call_duration_ns(*call) < min_wait_ns) return false;
  }
  return true;
}

}  // namespace locktrace
