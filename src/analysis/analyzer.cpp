#include "analyzer.hpp"

#include <linux/futex.h>

#include <algorithm>
#include <cerrno>

#include "event_filter.hpp"
#include "names.hpp"

namespace locktrace::analysis {

namespace {

constexpr uint8_t kUnlock = 2;
constexpr uint64_t kFutexPrivate = 128;
constexpr uint32_t kFutexTidMask = 0x3fffffff;
constexpr uint64_t kFutexWaiters = 0x80000000;
constexpr uint32_t kGlibcContended = 2;  // lll_lock's "locked, with waiters"

bool is_lock_request(const LockCall& call) {
  if (call.sys == LT_SYS_FLOCK) return (call.args[1] & 8) == 0;  // not LOCK_UN
  return false;
}

// The futex(2) command without its flags; kNotFutex for the other calls.
constexpr uint64_t kNotFutex = ~uint64_t{0};
uint64_t futex_cmd(const LockCall& call) {
  return call.sys == LT_SYS_FUTEX ? call.args[1] & ~uint64_t{FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME}
                                  : kNotFutex;
}

bool is_futex_wait(const LockCall& call) {
  auto cmd = futex_cmd(call);
  return cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET || call.sys == LT_SYS_FUTEX_WAIT;
}

bool is_pi_lock(const LockCall& call) {
  auto cmd = futex_cmd(call);
  return cmd == FUTEX_LOCK_PI || cmd == FUTEX_LOCK_PI2;
}

// The value a futex wait expects in the word: glibc mutexes wait on 2.
uint64_t futex_expected(const LockCall& call) {
  return call.sys == LT_SYS_FUTEX_WAIT ? call.args[1] : static_cast<uint32_t>(call.args[2]);
}

}  // namespace

std::optional<LockRef> lock_of(const LockCall& call) {
  LockRef lock;
  if (call.sys == LT_SYS_FLOCK || call.sys == LT_SYS_FCNTL) {
    if (!(call.flags & LT_CALL_HAS_KLOCK)) return std::nullopt;
    lock.kind = LockRef::Kind::file;
    lock.dev = call.klock.dev;
    lock.ino = call.klock.ino;
    lock.fl_flags = call.klock.fl_flags & (LT_FL_FLOCK | LT_FL_POSIX | LT_FL_OFDLCK);
    lock.start = call.klock.start;
    lock.end = call.klock.end;
    return lock;
  }
  if (call.sys == LT_SYS_FUTEX || call.sys == LT_SYS_FUTEX_WAIT || call.sys == LT_SYS_FUTEX_WAKE) {
    lock.kind = LockRef::Kind::futex;
    lock.uaddr = call.args[0];
    bool is_private = call.sys == LT_SYS_FUTEX ? (call.args[1] & kFutexPrivate)
                      : call.sys == LT_SYS_FUTEX_WAIT ? (call.args[3] & 0x80)
                                                      : (call.args[3] & 0x80);
    lock.shared = !is_private;
    lock.pid = call.h.pid;  // shared futexes too: their key across processes is the kernel's
    return lock;
  }
  return std::nullopt;  // futex_waitv / futex_requeue: several words, no single lock
}

WaitEdge edge_of(const Wait& wait, const FileHolder* holder) {
  WaitEdge edge;
  edge.waiter = wait.waiter;
  edge.lock = wait.lock;
  edge.waiting_since_ns = wait.since_ns;
  edge.waiter_stack = wait.stack;
  if (holder) {
    edge.holder = holder->task;
    edge.how = holder->how;
    edge.holding_since_ns = holder->since_ns;
    edge.holder_stack = holder->stack;
  }
  return edge;
}

std::optional<TaskRef> Analyzer::live_thread(uint32_t tid) const {
  auto it = thread_pid_.find(tid);
  if (it == thread_pid_.end()) return std::nullopt;
  return TaskRef{it->second, tid};
}

void Analyzer::analyze(const Event& event, const TraceState& state, std::vector<Finding>& findings) {
  now_ns_ = std::max(now_ns_, timestamp_of(event));
  if (options_.explain_failures) explainer_.before(event, *this, state, findings);
  if (const auto* call = std::get_if<LockCall>(&event)) {
    note_task(call->h.pid, call->h.tid);
    on_lock_call(*call, state, findings);
  } else if (const auto* lock = std::get_if<FileLock>(&event)) {
    // A release outside any lock call: the last close of a file, or an exit.
    if (lock->klock.type == kUnlock || lock->klock.tracepoint == LT_TP_LOCKS_REMOVE_POSIX) {
      files_.release_owner({lock->klock.dev, lock->klock.ino}, lock->klock.owner);
      drop_released_file_holders();
    }
  } else if (const auto* fork = std::get_if<Fork>(&event)) {
    note_task(fork->child_pid, fork->child_tid);
  } else if (const auto* thread = std::get_if<ThreadInfo>(&event)) {
    note_task(thread->pid, thread->tid);
  } else if (const auto* process = std::get_if<ProcessInfo>(&event)) {
    note_task(process->pid, process->pid);
  } else if (const auto* held = std::get_if<HeldLock>(&event)) {
    FileHolder holder;
    holder.task = {held->pid, 0};
    holder.owner = ++snapshot_holders_;  // the kernel's owner is not in /proc/locks
    holder.fl_flags = held->fl_flags;
    holder.type = held->type;
    holder.start = held->start;
    holder.end = held->end;
    holder.how = Attribution::proc_locks;
    files_.apply({held->dev, held->ino}, holder);
  } else if (const auto* exit = std::get_if<TaskExit>(&event)) {
    end_wait(exit->h.tid, exit->h.ts_ns, std::nullopt);
    thread_pid_.erase(exit->h.tid);
    futex_taken_.erase(exit->h.tid);
    if (exit->group_dead) {
      files_.release_process(exit->h.pid);
      drop_released_file_holders();
    }
  }
  if (options_.explain_failures) explainer_.after(event, *this, state, findings);
  if (options_.long_wait_ns) check_long_waits(now_ns_, findings);
}

void Analyzer::on_lock_call(const LockCall& call, const TraceState& state, std::vector<Finding>& findings) {
  if (call.flags & LT_CALL_NO_ENTRY) {  // the return of a wait seen in the attach snapshot
    end_wait(call.h.tid, call.h.ts_ns, std::nullopt);
    return;
  }
  std::optional<LockRef> lock = lock_of(call);
  if (!lock) return;
  std::optional<uint32_t> stack = state.stack_of(call);
  if (call.phase == LT_PHASE_WAIT) {
    bool futex = lock->kind == LockRef::Kind::futex;
    if (futex && !is_futex_wait(call) && !is_pi_lock(call)) return;
    Waits::node_type node = wait_node();
    Wait& wait = node.mapped();
    if (futex)
      futex_wait(call, *lock, wait);
    else
      file_wait(call, *lock, wait);
    wait.stack = stack;
    if (stack) wait.comm = state.comm(call.h.pid, call.h.tid);
    begin_wait(std::move(node), findings);
    return;
  }
  if (lock->kind == LockRef::Kind::file)
    on_file_call_done(call, *lock, stack, findings);
  else
    on_futex_done(call, *lock, stack);
}

void Analyzer::file_wait(const LockCall& call, const LockRef& lock, Wait& wait) {
  wait.waiter = {call.h.pid, call.h.tid};
  wait.lock = lock;
  wait.since_ns = call.h.ts_ns;
  wait.type = call.klock.type;
  wait.owner = call.klock.owner;
  InodeKey inode{lock.dev, lock.ino};
  if (call.flags & LT_CALL_HAS_BLOCKER) {
    FileHolder named;
    named.task = {call.klock.blocker_pid, 0};
    named.owner = call.klock.blocker_owner;
    named.fl_flags = call.klock.blocker_flags;
    named.type = call.klock.blocker_type;
    named.start = call.klock.blocker_start;
    named.end = call.klock.blocker_end;
    named.how = Attribution::kernel_blocker;
    FileHolder holder = files_.blocker(inode, named);
    holder.how = Attribution::kernel_blocker;
    wait.holders.push_back(holder);
  }
  // Every other conflicting holder blocks it too (a writer waits for all readers).
  files_.conflicts(inode, wait.owner, lock.fl_flags, wait.type, lock.start, lock.end, conflicts_);
  for (const FileHolder* h : conflicts_)
    if (std::none_of(wait.holders.begin(), wait.holders.end(),
                     [h](const FileHolder& w) { return w.owner == h->owner; }))
      wait.holders.push_back(*h);
}

void Analyzer::futex_wait(const LockCall& call, const LockRef& lock, Wait& wait) {
  wait.waiter = {call.h.pid, call.h.tid};
  wait.lock = lock;
  wait.since_ns = call.h.ts_ns;
  FileHolder holder;
  if (is_pi_lock(call) && (call.flags & LT_CALL_HAS_WORD)) {
    uint32_t owner = call.futex_word & kFutexTidMask;
    if (owner != 0 && owner != call.h.tid) {
      auto task = live_thread(owner);
      holder.task = task ? *task : TaskRef{lock.shared ? 0 : call.h.pid, owner};
      holder.how = Attribution::pi_owner;
      holder.stack = futex_taken_stack(lock, owner);
      wait.holders.push_back(holder);
    }
  } else if (uint64_t expected = futex_expected(call);
             (expected & kFutexWaiters) && expected != kGlibcContended &&
             live_thread(static_cast<uint32_t>(expected) & kFutexTidMask)) {
    // A robust (or PI-style) mutex keeps its owner's TID in the word itself; the
    // waiter sets FUTEX_WAITERS before sleeping on it.
    holder.task = *live_thread(static_cast<uint32_t>(expected) & kFutexTidMask);
    holder.how = Attribution::robust_owner;
    holder.stack = futex_taken_stack(lock, holder.task.tid);
    wait.holders.push_back(holder);
  } else if ((call.flags & LT_CALL_HAS_OWNER_WORD) && futex_expected(call) == kGlibcContended) {
    // Only a live thread of the waiter's own process counts: anything else in
    // that word means it is not a glibc mutex.
    auto task = live_thread(call.owner_word);
    if (task && task->pid == call.h.pid) {  // its own tid: it re-locks what it holds
      holder.task = *task;
      holder.how = Attribution::glibc_owner;
      holder.stack = futex_taken_stack(lock, task->tid);
      wait.holders.push_back(holder);
    }
  }
}

Analyzer::Waits::node_type Analyzer::wait_node() {
  if (spare_waits_.empty()) {
    Waits one;
    one.try_emplace(0);
    return one.extract(one.begin());
  }
  Waits::node_type node = std::move(spare_waits_.back());
  spare_waits_.pop_back();
  return node;
}

void Analyzer::recycle(Waits::node_type node) {
  constexpr size_t kSpareWaits = 64;
  if (spare_waits_.size() >= kSpareWaits) return;
  Wait& wait = node.mapped();
  std::vector<FileHolder> holders = std::move(wait.holders), released = std::move(wait.released);
  holders.clear();
  released.clear();
  wait = Wait{};
  wait.holders = std::move(holders);
  wait.released = std::move(released);
  spare_waits_.push_back(std::move(node));
}

void Analyzer::begin_wait(Waits::node_type node, std::vector<Finding>& findings) {
  node.key() = node.mapped().waiter.tid;
  if (auto it = waits_.find(node.key()); it != waits_.end()) recycle(waits_.extract(it));
  const Wait& stored = waits_.insert(std::move(node)).position->second;
  if (auto cycle = find_cycle(stored, stored.since_ns)) {
    deadlocks_.push_back(*cycle);
    findings.emplace_back(std::move(*cycle));
  }
}

void Analyzer::end_wait(uint32_t tid, uint64_t ts_ns, std::optional<TaskRef> woken_by) {
  auto it = waits_.find(tid);
  if (it == waits_.end()) return;
  const Wait& wait = it->second;
  uint64_t waited = ts_ns > wait.since_ns ? ts_ns - wait.since_ns : 0;
  const FileHolder* holder = !wait.holders.empty()    ? &wait.holders.front()
                             : !wait.released.empty() ? &wait.released.front()
                                                      : nullptr;
  WaitEdge edge = edge_of(wait, holder);
  if (!edge.holder && woken_by) {
    edge.holder = woken_by;
    edge.how = Attribution::waker;
  }
  contention_.record_wait(edge, waited, ts_ns);
  if (wait.stack) contention_.record_stack(wait.comm, *wait.stack, waited);
  recycle(waits_.extract(it));
}

void Analyzer::on_file_call_done(const LockCall& call, const LockRef& lock, std::optional<uint32_t> stack,
                                 std::vector<Finding>& findings) {
  // The return of a wait: the call's stack is the wait's, when its own record had none.
  if (auto wait = waits_.find(call.h.tid); wait != waits_.end() && !stack) stack = wait->second.stack;
  end_wait(call.h.tid, call.h.ts_ns, std::nullopt);
  int err = call_errno(call);
  bool is_set = call.sys == LT_SYS_FLOCK ||
                (call.args[1] != 5 && call.args[1] != 36);  // not F_GETLK / F_OFD_GETLK
  if (!is_set) return;
  LockContention& stats = contention_.of(lock);
  InodeKey inode{lock.dev, lock.ino};
  if (err == EDEADLK) {
    // The kernel refused a wait that would close a cycle: show that cycle.
    Wait would_be;
    file_wait(call, lock, would_be);
    would_be.since_ns = call.enter_ts;
    would_be.stack = stack;
    DeadlockFinding finding;
    if (auto cycle = find_cycle(would_be, call.h.ts_ns)) finding = *cycle;
    else finding.cycle.push_back(edge_of(would_be, would_be.holders.empty() ? nullptr : &would_be.holders[0]));
    finding.ts_ns = call.h.ts_ns;
    finding.kernel_edeadlk = true;
    deadlocks_.push_back(finding);
    findings.emplace_back(std::move(finding));
    return;
  }
  if (err == EAGAIN || err == EACCES) {
    stats.failures++;
    return;
  }
  if (err != 0) return;
  FileHolder holder;
  holder.task = {call.h.pid, call.h.tid};
  holder.owner = call.klock.owner;
  holder.fl_flags = lock.fl_flags;
  holder.type = call.klock.type;
  holder.start = lock.start;
  holder.end = lock.end;
  holder.since_ns = call.h.ts_ns;
  holder.stack = stack;
  files_.apply(inode, holder);
  if (holder.type == kUnlock) drop_released_file_holders();
  if (holder.type != kUnlock && (call.sys == LT_SYS_FCNTL || is_lock_request(call)))
    stats.acquisitions++;
}

void Analyzer::on_futex_done(const LockCall& call, const LockRef& lock, std::optional<uint32_t> stack) {
  std::pair<uint32_t, uint64_t> key{lock.pid, lock.uaddr};
  auto cmd = futex_cmd(call);
  if ((cmd == FUTEX_WAKE || cmd == FUTEX_WAKE_BITSET || cmd == FUTEX_UNLOCK_PI || call.sys == LT_SYS_FUTEX_WAKE) &&
      call.ret > 0) {
    last_wake_[key] = {{call.h.pid, call.h.tid}, call.h.ts_ns};
    drop_futex_holder(lock, call.h.tid);  // waking waiters is how an owner lets go
    return;
  }
  auto waited = waits_.find(call.h.tid);
  if (!stack && waited != waits_.end()) stack = waited->second.stack;
  if ((is_futex_wait(call) || is_pi_lock(call)) && call.ret == 0 && stack)
    futex_taken_[call.h.tid][key] = *stack;  // it went on to take the lock
  if (waited == waits_.end()) {
    if ((is_futex_wait(call) || is_pi_lock(call)) && call.ret == 0) contention_.of(lock).acquisitions++;
    return;
  }
  std::optional<TaskRef> woken_by;
  auto wake = last_wake_.find(key);
  if (wake != last_wake_.end() && wake->second.ts_ns >= waited->second.since_ns)
    woken_by = wake->second.by;
  end_wait(call.h.tid, call.h.ts_ns, woken_by);
  if (call.ret == 0) contention_.of(lock).acquisitions++;
}

std::optional<uint32_t> Analyzer::futex_taken_stack(const LockRef& lock, uint32_t tid) const {
  auto by_thread = futex_taken_.find(tid);
  if (by_thread == futex_taken_.end()) return std::nullopt;
  auto it = by_thread->second.find({lock.pid, lock.uaddr});
  if (it == by_thread->second.end()) return std::nullopt;
  return it->second;
}

void Analyzer::drop_released_file_holders() {
  for (auto& [tid, wait] : waits_) {
    if (wait.lock.kind != LockRef::Kind::file) continue;
    InodeKey inode{wait.lock.dev, wait.lock.ino};
    release_holders(wait, [&](const FileHolder& h) {
      return !files_.holds(inode, h.owner, wait.lock.start, wait.lock.end);
    });
  }
}

// Moves the holders that let go to `released`, both lists keeping their order
// (a stable partition, without its temporary buffer).
template <typename LetGo>
void Analyzer::release_holders(Wait& wait, LetGo let_go) {
  auto kept = wait.holders.begin();
  for (auto& holder : wait.holders) {
    if (let_go(holder))
      wait.released.push_back(holder);
    else
      *kept++ = holder;
  }
  wait.holders.erase(kept, wait.holders.end());
}

void Analyzer::drop_futex_holder(const LockRef& lock, uint32_t tid) {
  for (auto& [waiter, wait] : waits_)
    if (wait.lock.kind == LockRef::Kind::futex && wait.lock.pid == lock.pid && wait.lock.uaddr == lock.uaddr)
      release_holders(wait, [tid](const FileHolder& h) { return h.task.tid == tid; });
}

// Depth-first over wait-for edges; a holder known only by pid stands for each
// of that process's waiting threads.
bool Analyzer::visit_cycle(const Wait& start, const Wait& wait, std::vector<WaitEdge>& path,
                           std::vector<uint32_t>& visited) const {
  for (const auto& holder : wait.holders) {
    path.push_back(edge_of(wait, &holder));
    // Back at the start: for a refused wait (EDEADLK) or a thread re-locking a
    // mutex it holds, the start is in no wait list.
    bool is_start = holder.task.tid ? holder.task.tid == start.waiter.tid : holder.task.pid == start.waiter.pid;
    if (is_start) return true;
    for (const auto& [tid, w] : waits_) {
      bool is_holder = holder.task.tid ? tid == holder.task.tid
                                       : holder.task.pid != 0 && w.waiter.pid == holder.task.pid;
      if (!is_holder) continue;
      if (w.waiter.tid == start.waiter.tid) return true;
      auto at = std::lower_bound(visited.begin(), visited.end(), w.waiter.tid);  // a sorted set
      if (at != visited.end() && *at == w.waiter.tid) continue;
      visited.insert(at, w.waiter.tid);
      if (visit_cycle(start, w, path, visited)) return true;
    }
    path.pop_back();
  }
  return false;
}

std::optional<DeadlockFinding> Analyzer::find_cycle(const Wait& start, uint64_t ts_ns) const {
  if (start.holders.empty()) return std::nullopt;  // waits on nobody known: no edge leaves it
  cycle_path_.clear();
  cycle_visited_.assign(1, start.waiter.tid);
  if (!visit_cycle(start, start, cycle_path_, cycle_visited_)) return std::nullopt;
  DeadlockFinding finding;
  finding.ts_ns = ts_ns;
  finding.cycle = cycle_path_;
  // Name each holder by the thread that waits in the cycle.
  for (size_t i = 0; i < finding.cycle.size(); i++)
    finding.cycle[i].holder = finding.cycle[(i + 1) % finding.cycle.size()].waiter;
  return finding;
}

void Analyzer::check_long_waits(uint64_t ts_ns, std::vector<Finding>& findings) {
  for (auto& [tid, wait] : waits_) {
    if (wait.long_reported || ts_ns < wait.since_ns + options_.long_wait_ns) continue;
    wait.long_reported = true;
    LongWaitFinding finding;
    finding.ts_ns = ts_ns;
    finding.wait = edge_of(wait, wait.holders.empty() ? nullptr : &wait.holders.front());
    finding.waited_ns = ts_ns - wait.since_ns;
    findings.emplace_back(std::move(finding));
  }
}

std::vector<WaitEdge> Analyzer::waits_now() const {
  std::vector<WaitEdge> edges;
  for (const auto& [tid, wait] : waits_) {
    if (wait.holders.empty()) edges.push_back(edge_of(wait, nullptr));
    for (const auto& holder : wait.holders) edges.push_back(edge_of(wait, &holder));
  }
  return edges;
}

}  // namespace locktrace::analysis
