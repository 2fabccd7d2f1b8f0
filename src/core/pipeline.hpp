// source -> (decoder) -> pipeline -> sinks. Live tracing and replay differ only in
// what pushes events into it.
#pragma once

#include <vector>

#include "sink.hpp"

namespace locktrace {

class Pipeline {
 public:
  void add_sink(EventSink& sink) { sinks_.push_back(&sink); }
  void remove_sink(EventSink& sink) { std::erase(sinks_, &sink); }
  // The analyzer sees each event before the sinks, so its findings print right
  // after the event that produced them.
  void set_analyzer(EventAnalyzer& analyzer) { analyzer_ = &analyzer; }
  void start(const StreamInfo& info);
  void push(const Event& event);
  void flush();
  // The stream ended: sinks print their summaries.
  void finish();
  const TraceState& state() const { return state_; }
  const StreamInfo& info() const { return info_; }

 private:
  StreamInfo info_;
  TraceState state_;
  std::vector<EventSink*> sinks_;
  EventAnalyzer* analyzer_ = nullptr;
  std::vector<Finding> findings_;
};

bool is_metadata(const Event& event);
// "lock_call", "file_lock", ..., "fd_path": the name --json and info use for a kind.
std::string_view event_kind_name(size_t variant_index);
inline std::string_view event_kind_name(const Event& event) { return event_kind_name(event.index()); }

}  // namespace locktrace
