// The end of the pipeline: anything that consumes the event stream.
#pragma once

#include "events.hpp"
#include "trace_state.hpp"

namespace locktrace {

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void on_start(const StreamInfo& info) { (void)info; }
  // `state` is what the stream said before this event (metadata already applied).
  virtual void on_event(const Event& event, const TraceState& state) = 0;
  // A batch ended: make what was written visible (live output) without closing.
  virtual void flush() {}
};

}  // namespace locktrace
