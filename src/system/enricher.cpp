#include "enricher.hpp"

#include <cerrno>

#include "call_args.hpp"
#include "names.hpp"
#include "proc_reader.hpp"

namespace locktrace {


void Enricher::describe_process(uint32_t pid, uint64_t ts_ns) {
  if (auto info = proc::read_process(pid, ts_ns)) pipeline_.push(*info);
  for (auto& thread : proc::read_threads(pid, ts_ns))
    if (thread.tid != pid) pipeline_.push(thread);
}

void Enricher::describe_task(const lt_header& h) {
  const TraceState& state = pipeline_.state();
  if (!state.process(h.pid) && !unknown_pids_.contains(h.pid)) {
    if (auto info = proc::read_process(h.pid, h.ts_ns))
      pipeline_.push(*info);
    else
      unknown_pids_.insert(h.pid);
  }
  if (h.tid != h.pid && !state.knows_thread(h.tid) && !unknown_tids_.contains(h.tid)) {
    if (auto thread = proc::read_thread(h.pid, h.tid, h.ts_ns))
      pipeline_.push(*thread);
    else
      unknown_tids_.insert(h.tid);
  }
}

void Enricher::describe_fd(const LockCall& call) {
  int32_t fd = call_fd(call);
  if (fd < 0) return;
  const TraceState& state = pipeline_.state();
  uint64_t key = (uint64_t{call.h.pid} << 32) | static_cast<uint32_t>(fd);
  bool known = state.knows_fd(call.h.pid, fd);
  // The kernel's inode tells when the fd now names another file (closed, reopened).
  bool stale = known && (call.flags & LT_CALL_HAS_KLOCK) &&
               state.fd_inode(call.h.pid, fd) != call.klock.ino;
  if ((known && !stale) || (!stale && unknown_fds_.contains(key))) return;
  if (auto path = proc::read_fd(call.h.pid, fd, call.h.ts_ns)) {
    pipeline_.push(*path);
    unknown_fds_.erase(key);
  } else {
    unknown_fds_.insert(key);
  }
}

// A flock/OFD lock refused, or waited for, while the process the kernel names
// is gone (or unnamed): find the open files that really hold it, once per inode.
void Enricher::describe_lock_holders(const LockCall& call) {
  const auto& k = call.klock;
  if (!(call.flags & LT_CALL_HAS_KLOCK) || !(k.fl_flags & (LT_FL_FLOCK | LT_FL_OFDLCK))) return;
  uint64_t inode = k.ino * 31 + k.dev;
  if (holder_scans_.contains(inode)) return;  // looked up once per inode
  bool refused = call.phase == LT_PHASE_DONE && (call.ret == -EAGAIN || call.ret == -EACCES);
  bool named_gone = call.phase == LT_PHASE_WAIT && (call.flags & LT_CALL_HAS_BLOCKER) &&
                    !(traced_ && traced_->alive().contains(k.blocker_pid)) &&
                    !proc::process_exists(k.blocker_pid);
  if (!refused && !named_gone) return;
  holder_scans_.insert(inode);
  for (auto& holder : proc::lock_holding_fds(k.dev, k.ino, call.h.ts_ns)) {
    if (pipeline_.state().knows_fd(holder.pid, holder.fd)) continue;
    if (!pipeline_.state().process(holder.pid))
      if (auto info = proc::read_process(holder.pid, call.h.ts_ns)) pipeline_.push(*info);
    pipeline_.push(holder);
  }
}

void Enricher::push(const Event& event) {
  // A signal the kernel raised (a timer) names whatever task it interrupted.
  const auto* signal = std::get_if<Signal>(&event);
  bool from_kernel = signal && signal->phase == LT_SIGNAL_GENERATE && signal_from_kernel(signal->code);
  if (!from_kernel)
    std::visit(
        [&](const auto& e) {
          if constexpr (requires { e.h; }) describe_task(e.h);
        },
        event);
  if (const auto* call = std::get_if<LockCall>(&event)) {
    describe_fd(*call);
    describe_lock_holders(*call);
  } else if (const auto* exec = std::get_if<Exec>(&event)) {
    // The new program's command line; the exec record itself carries comm and path.
    if (auto info = proc::read_process(exec->h.pid, exec->h.ts_ns)) pipeline_.push(*info);
  }
  pipeline_.push(event);
}

}  // namespace locktrace
