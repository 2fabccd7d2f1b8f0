#include "target_tracker.hpp"

namespace locktrace {

void TargetTracker::on_event(const Event& event, const TraceState&) {
  if (const auto* fork = std::get_if<Fork>(&event)) {
    if (follow_children_ && fork->child_pid != fork->h.pid && alive_.contains(fork->h.pid))
      alive_.insert(fork->child_pid);
  } else if (const auto* exit = std::get_if<TaskExit>(&event)) {
    if (exit->group_dead) alive_.erase(exit->h.pid);
  }
}

}  // namespace locktrace
