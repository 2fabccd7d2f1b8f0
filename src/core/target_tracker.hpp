// Which traced processes are still alive, from the stream: a session ends when
// the last one exits.
#pragma once

#include <cstdint>
#include <unordered_set>

#include "sink.hpp"

namespace locktrace {

class TargetTracker : public EventSink {
 public:
  explicit TargetTracker(bool follow_children) : follow_children_(follow_children) {}

  void add(uint32_t pid) { alive_.insert(pid); }
  void remove(uint32_t pid) { alive_.erase(pid); }
  void on_event(const Event& event, const TraceState& state) override;
  bool all_exited() const { return alive_.empty(); }
  const std::unordered_set<uint32_t>& alive() const { return alive_; }

 private:
  bool follow_children_;
  std::unordered_set<uint32_t> alive_;
};

}  // namespace locktrace
