// Counts what passed through the pipeline, by kind, for the closing tally.
#pragma once

#include <array>
#include <cstdint>

#include "sink.hpp"

namespace locktrace {

class EventCounter : public EventSink {
 public:
  void on_event(const Event& event, const TraceState& state) override;
  uint64_t count_of(size_t variant_index) const { return counts_[variant_index]; }
  // Records the kernel produced; metadata records are the tracer's own.
  uint64_t kernel_events() const { return kernel_events_; }

 private:
  std::array<uint64_t, std::variant_size_v<Event>> counts_{};
  uint64_t kernel_events_ = 0;
};

}  // namespace locktrace
