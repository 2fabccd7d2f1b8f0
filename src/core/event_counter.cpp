#include "event_counter.hpp"

#include "pipeline.hpp"

namespace locktrace {

void EventCounter::on_event(const Event& event, const TraceState&) {
  counts_[event.index()]++;
  if (!is_metadata(event)) kernel_events_++;
}

}  // namespace locktrace
