#include "pipeline.hpp"

#include <iterator>

namespace locktrace {

bool is_metadata(const Event& event) {
  // Kernel records carry an lt_header; everything user space adds does not.
  return std::visit([](const auto& e) { return !requires { e.h; }; }, event);
}

std::string_view event_kind_name(size_t variant_index) {
  // In the order of the Event variant.
  static constexpr std::string_view kNames[] = {
      "lock_call", "file_lock",    "task_exit",   "exit_call", "fork",      "exec",  "rename",
      "signal",    "reap",         "process_info", "thread_info", "fd_path", "held_lock", "tick",
      "stack",     "call_stack",   "address_name", "mapping"};
  static_assert(std::size(kNames) == std::variant_size_v<Event>);
  return variant_index < std::size(kNames) ? kNames[variant_index] : "unknown";
}

void Pipeline::start(const StreamInfo& info) {
  info_ = info;
  for (auto* sink : sinks_) sink->on_start(info);
}

void Pipeline::push(const Event& event) {
  bool metadata = is_metadata(event);
  if (metadata) state_.apply(event);
  findings_.clear();
  if (analyzer_) analyzer_->analyze(event, state_, findings_);
  for (auto* sink : sinks_) sink->on_event(event, state_);
  for (const auto& finding : findings_)
    for (auto* sink : sinks_) sink->on_finding(finding, state_);
  if (!metadata) state_.apply(event);
}

void Pipeline::finish() {
  findings_.clear();
  if (analyzer_) analyzer_->finish(findings_);
  for (const auto& finding : findings_)
    for (auto* sink : sinks_) sink->on_finding(finding, state_);
  for (auto* sink : sinks_) sink->on_finish(state_);
  flush();
}

void Pipeline::flush() {
  for (auto* sink : sinks_) sink->flush();
}

}  // namespace locktrace
