#include "pipeline.hpp"

namespace locktrace {

bool is_metadata(const Event& event) {
  return std::holds_alternative<ProcessInfo>(event) || std::holds_alternative<ThreadInfo>(event) ||
         std::holds_alternative<FdPath>(event);
}

void Pipeline::start(const StreamInfo& info) {
  info_ = info;
  for (auto* sink : sinks_) sink->on_start(info);
}

void Pipeline::push(const Event& event) {
  bool metadata = is_metadata(event);
  if (metadata) state_.apply(event);
  for (auto* sink : sinks_) sink->on_event(event, state_);
  if (!metadata) state_.apply(event);
}

void Pipeline::flush() {
  for (auto* sink : sinks_) sink->flush();
}

}  // namespace locktrace
