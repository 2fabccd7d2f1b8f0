// The end of the pipeline: anything that consumes the event stream.
#pragma once

#include <vector>

#include "events.hpp"
#include "findings.hpp"
#include "trace_state.hpp"

namespace locktrace {

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void on_start(const StreamInfo& info) { (void)info; }
  // `state` is what the stream said before this event (metadata already applied).
  virtual void on_event(const Event& event, const TraceState& state) = 0;
  // A conclusion the analyzer drew from the event just delivered.
  virtual void on_finding(const Finding& finding, const TraceState& state) {
    (void)finding;
    (void)state;
  }
  // A batch ended: make what was written visible (live output) without closing.
  virtual void flush() {}
  // The stream ended.
  virtual void on_finish(const TraceState& state) { (void)state; }
};

// Draws conclusions from the stream (src/analysis implements it).
class EventAnalyzer {
 public:
  virtual ~EventAnalyzer() = default;
  virtual void analyze(const Event& event, const TraceState& state, std::vector<Finding>& findings) = 0;
  // The stream ended: conclusions that were waiting for more.
  virtual void finish(std::vector<Finding>& findings) { (void)findings; }
};

}  // namespace locktrace
