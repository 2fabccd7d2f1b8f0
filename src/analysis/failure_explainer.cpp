#include "failure_explainer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "analyzer.hpp"
#include "event_filter.hpp"
#include "names.hpp"

namespace locktrace::analysis {

namespace {

constexpr uint8_t kWrite = 1;
constexpr int kErestartsys = 512;
constexpr int kErestartnointr = 513;
constexpr int kErestartnohand = 514;
constexpr int kErestartRestartblock = 516;
constexpr int32_t kSaRestart = 0x10000000;

bool is_restart(int err) {
  return err == kErestartsys || err == kErestartnointr || err == kErestartnohand ||
         err == kErestartRestartblock;
}

bool is_file_call(const LockCall& call) { return call.sys == LT_SYS_FLOCK || call.sys == LT_SYS_FCNTL; }

// Futex calls fail all the time by design (a wait whose word changed returns
// EAGAIN, a condvar's timed wait ETIMEDOUT): only the lock operations' errors
// are failures a user means.
bool is_lock_failure(const LockCall& call, int err) {
  if (is_file_call(call)) return true;
  if (call.sys != LT_SYS_FUTEX) return false;
  std::string_view cmd = futex_cmd_name(call.args[1]);
  bool pi = cmd == "FUTEX_LOCK_PI" || cmd == "FUTEX_LOCK_PI2" || cmd == "FUTEX_TRYLOCK_PI" ||
            cmd == "FUTEX_UNLOCK_PI";
  bool mutex_wait = (cmd == "FUTEX_WAIT" || cmd == "FUTEX_WAIT_BITSET") &&
                    static_cast<uint32_t>(call.args[2]) == 2;  // glibc's contended lock word
  bool wait = cmd == "FUTEX_WAIT" || cmd == "FUTEX_WAIT_BITSET" || cmd == "FUTEX_WAIT_REQUEUE_PI";
  // A signal ending a wait is told whatever the futex guards (it becomes EINTR
  // only when a handler runs; see on_signal).
  return pi || (mutex_wait && (err == ETIMEDOUT || err == EDEADLK)) ||
         (wait && (err == EINTR || is_restart(err)));
}

bool same_attempt(const FailedCall& a, const FailedCall& b) {
  return a.sys == b.sys && a.op == b.op && a.err == b.err && a.lock.has_value() == b.lock.has_value() &&
         (!a.lock || *a.lock == *b.lock);
}

FailedCall failed_call(const LockCall& call, int err, const TraceState& state) {
  FailedCall failed;
  failed.ts_ns = call.h.ts_ns;
  failed.task = {call.h.pid, call.h.tid};
  failed.sys = call.sys;
  failed.op = call.args[1];
  failed.err = err;
  failed.lock = lock_of(call);
  failed.stack = state.stack_of(call);
  return failed;
}

}  // namespace

std::pair<std::string_view, std::string_view> weak_file_system(uint32_t fs_magic) {
  constexpr std::string_view kRemote =
      "locks live on the server: processes on other hosts may not see them, and a lost lease drops them";
  switch (fs_magic) {
    case 0x6969: return {"nfs", kRemote};
    case 0xff534d42: return {"cifs", kRemote};
    case 0xfe534d42: return {"smb2", kRemote};
    case 0x517b: return {"smb", kRemote};
    case 0x00c36400: return {"ceph", kRemote};
    case 0x01021997: return {"9p", kRemote};
    case 0x65735546: return {"fuse", "the FUSE daemon decides what a lock means, and may not enforce it"};
    case 0x794c7630:
      return {"overlay", "containers sharing a lower layer each lock their own copy-up of the file"};
    default: return {};
  }
}

std::string_view failure_reason(uint16_t sys, uint64_t op, int err) {
  bool file = sys == LT_SYS_FLOCK || sys == LT_SYS_FCNTL;
  switch (err) {
    case 9: return file ? "the fd is not open, or not open for writing (a write lock) or reading (a read lock)"
                        : "bad file descriptor";
    case 22:
      if (sys == LT_SYS_FLOCK) return "the operation is not LOCK_SH, LOCK_EX or LOCK_UN";
      if (sys == LT_SYS_FCNTL) return "l_type, l_whence or the range is invalid for this file";
      return "the futex operation or its arguments are invalid (unaligned address, bad flags)";
    case 37: return "the kernel could not allocate a lock record (too many locks)";
    case 75: return "the lock range does not fit in off_t";
    case 14: return "the struct flock or futex word is at an invalid address";
    case 1: return "not the owner of this PI futex";
    case 3: return "the PI futex's owner thread no longer exists";
    case 95: return "this file system does not support this kind of lock";
    case 38: return "the kernel does not implement this call";
    case 130: return "the previous owner died holding the lock (robust mutex): state may be inconsistent";
    case 131: return "the lock's owner died and it was marked unrecoverable";
    case EDEADLK:
      return sys == LT_SYS_FCNTL ? "waiting would deadlock: the kernel found a cycle of POSIX lock waits"
                                 : "the PI futex is already held by this thread, or waiting would deadlock";
    default: (void)op; return {};
  }
}

void FailureExplainer::before(const Event& event, const Analyzer& graph, const TraceState& state,
                              std::vector<Finding>& findings) {
  if (const auto* call = std::get_if<LockCall>(&event)) {
    if (is_file_call(*call) && (call->flags & LT_CALL_HAS_KLOCK)) {
      check_file_system(*call, state, findings);
      // A done record keeps the blocker of its finished wait: only a wait names a live one.
      if (call->phase == LT_PHASE_WAIT && (call->flags & LT_CALL_HAS_BLOCKER) &&
          (call->klock.blocker_flags & (LT_FL_FLOCK | LT_FL_OFDLCK)))
        check_phantom(*lock_of(*call), call->klock.blocker_pid, {call->h.pid, call->h.tid}, call->h.ts_ns,
                      state, findings);
    }
    if (call->phase != LT_PHASE_DONE || (call->flags & LT_CALL_NO_ENTRY)) return;
    int err = call_errno(*call);
    if (err && is_lock_failure(*call, err))
      on_failure(*call, err, graph, state, findings);
    else if (!err && is_file_call(*call))
      on_success(*call, findings);
  } else if (const auto* signal = std::get_if<Signal>(&event)) {
    on_signal(*signal, findings);
  } else if (const auto* exit = std::get_if<TaskExit>(&event)) {
    on_exit(*exit, graph, state, findings);
  } else if (const auto* call = std::get_if<ExitCall>(&event)) {
    if (call->group) exiting_groups_.insert(call->h.pid);
  } else if (const auto* reap = std::get_if<Reap>(&event)) {
    auto it = awaiting_reap_.find(reap->child_pid);
    if (it == awaiting_reap_.end()) return;
    it->second.reaped_by = TaskRef{reap->h.pid, reap->h.tid};
    findings.emplace_back(std::move(it->second));
    awaiting_reap_.erase(it);
  }
}

void FailureExplainer::on_signal(const Signal& signal, std::vector<Finding>& findings) {
  LastSignal last{signal.sig, signal.h.ts_ns, std::nullopt, {}};
  if (signal.phase == LT_SIGNAL_GENERATE) {
    if (signal_from_kernel(signal.code)) {
      last.sender_comm = "kernel";  // a timer or a fault: no task sent it
    } else {
      last.sender = TaskRef{signal.h.pid, signal.h.tid};
      last.sender_comm.assign(signal.comm, strnlen(signal.comm, sizeof signal.comm));
    }
    sent_to_thread_[{signal.target_tid, signal.sig}] = last;
    sent_to_process_[{signal.target_pid, signal.sig}] = last;
    return;
  }
  uint32_t tid = signal.h.tid;
  const LastSignal* sent = nullptr;
  if (auto it = sent_to_thread_.find({tid, signal.sig}); it != sent_to_thread_.end())
    sent = &it->second;
  else if (auto it = sent_to_process_.find({signal.h.pid, signal.sig}); it != sent_to_process_.end())
    sent = &it->second;
  if (sent) {
    last.sender = sent->sender;
    last.sender_comm = sent->sender_comm;
  }
  sent_to_thread_.erase({tid, signal.sig});
  sent_to_process_.erase({signal.h.pid, signal.sig});
  delivered_[tid] = last;
  auto interrupted = interrupted_.find(tid);
  if (interrupted == interrupted_.end()) return;
  FailureFinding finding = std::move(interrupted->second);
  interrupted_.erase(interrupted);
  // Without a handler the call restarts (a stop) or never returns (a kill);
  // ERESTARTNOINTR always restarts, ERESTARTSYS too under SA_RESTART.
  int err = finding.call.err;
  if (!signal.handled || err == kErestartnointr || (err == kErestartsys && (signal.result & kSaRestart)))
    return;
  finding.call.err = EINTR;
  finding.signal = signal.sig;
  finding.signal_sender = last.sender;
  finding.sender_comm = last.sender_comm;
  emit_failure(std::move(finding), findings);
}

void FailureExplainer::on_failure(const LockCall& call, int err, const Analyzer& graph,
                                  const TraceState& state, std::vector<Finding>& findings) {
  FailedCall failed = failed_call(call, err, state);
  uint32_t tid = call.h.tid;
  if (is_restart(err)) {
    // Decided by the signal delivered next; the holders are those of the wait.
    FailureFinding interrupted;
    interrupted.call = failed;
    if (const Wait* wait = graph.wait_of(tid))
      for (const auto& holder : wait->holders) interrupted.holders.push_back(edge_of(*wait, &holder));
    interrupted_[tid] = std::move(interrupted);
    return;
  }
  auto streak = streaks_.find(tid);
  if (streak != streaks_.end() && same_attempt(streak->second.last, failed)) {
    streak->second.attempts++;
    streak->second.last = failed;
    failures_[tid].call = failed;
    return;  // folded: one finding for the loop when it ends
  }
  end_streak(tid, RetryLoopFinding::Outcome::gave_up, findings);
  streaks_[tid] = Streak{failed, failed, 1};

  FailureFinding finding;
  finding.call = failed;
  finding.reason = failure_reason(call.sys, call.args[1], err);
  if ((err == EAGAIN || err == EACCES) && failed.lock && failed.lock->kind == LockRef::Kind::file) {
    InodeKey inode{failed.lock->dev, failed.lock->ino};
    for (const FileHolder* h : graph.file_locks().conflicts(inode, call.klock.owner, failed.lock->fl_flags,
                                                            call.klock.type, failed.lock->start,
                                                            failed.lock->end)) {
      WaitEdge edge;
      edge.waiter = failed.task;
      edge.lock = *failed.lock;
      edge.lock.start = h->start;
      edge.lock.end = h->end;
      edge.holder = h->task;
      edge.how = h->how;
      edge.holding_since_ns = h->since_ns;
      edge.waiter_stack = failed.stack;
      edge.holder_stack = h->stack;
      finding.holders.push_back(edge);
      if (h->fl_flags & (LT_FL_FLOCK | LT_FL_OFDLCK))
        check_phantom(edge.lock, h->task.pid, failed.task, call.h.ts_ns, state, findings);
    }
    if (finding.holders.empty())
      finding.reason = "another open file or process holds a conflicting lock that this trace did not see taken";
  } else if (err == ETIMEDOUT) {
    if (const Wait* wait = graph.wait_of(tid))
      for (const auto& holder : wait->holders) finding.holders.push_back(edge_of(*wait, &holder));
  } else if (err == EINTR) {
    auto signal = delivered_.find(tid);
    if (signal != delivered_.end() && signal->second.ts_ns >= call.enter_ts) {
      finding.signal = signal->second.sig;
      finding.signal_sender = signal->second.sender;
      finding.sender_comm = signal->second.sender_comm;
    }
  }
  emit_failure(std::move(finding), findings);
}

void FailureExplainer::emit_failure(FailureFinding finding, std::vector<Finding>& findings) {
  uint32_t tid = finding.call.task.tid;
  failures_[tid] = Failure{finding.call, finding.holders.empty() ? std::nullopt : finding.holders[0].holder};
  findings.emplace_back(std::move(finding));
}

void FailureExplainer::on_success(const LockCall& call, std::vector<Finding>& findings) {
  uint32_t tid = call.h.tid;
  auto streak = streaks_.find(tid);
  bool same_lock = false;
  if (streak != streaks_.end()) {
    auto lock = lock_of(call);
    const auto& failed_lock = streak->second.last.lock;
    same_lock = lock && failed_lock && lock->dev == failed_lock->dev && lock->ino == failed_lock->ino;
  }
  end_streak(tid, same_lock ? RetryLoopFinding::Outcome::succeeded : RetryLoopFinding::Outcome::gave_up,
             findings);
  // A later lock success means the failure did not decide what followed.
  failures_.erase(tid);
}

void FailureExplainer::end_streak(uint32_t tid, RetryLoopFinding::Outcome outcome,
                                  std::vector<Finding>& findings) {
  auto it = streaks_.find(tid);
  if (it == streaks_.end()) return;
  if (it->second.attempts >= 2) {
    RetryLoopFinding loop;
    loop.last = it->second.last;
    loop.attempts = it->second.attempts;
    loop.first_ts_ns = it->second.first.ts_ns;
    loop.outcome = outcome;
    findings.emplace_back(std::move(loop));
  }
  streaks_.erase(it);
}

void FailureExplainer::on_exit(const TaskExit& exit, const Analyzer& graph, const TraceState& state,
                               std::vector<Finding>& findings) {
  uint32_t tid = exit.h.tid;
  end_streak(tid, RetryLoopFinding::Outcome::exited, findings);
  interrupted_.erase(tid);
  delivered_.erase(tid);
  // A thread that called exit_group ends the process: its failure belongs to the
  // process's exit, whichever thread happens to be the last to go.
  if (exit.group_dead || !exiting_groups_.contains(exit.h.pid)) link_to_failure(exit, state, findings);
  if (exit.group_dead) exiting_groups_.erase(exit.h.pid);
  report_orphans(exit, graph, findings);
}

// The consequence: this thread (or, for the process, any of its threads) failed last.
void FailureExplainer::link_to_failure(const TaskExit& exit, const TraceState& state,
                                       std::vector<Finding>& findings) {
  uint32_t tid = exit.h.tid;
  auto failure = failures_.find(tid);
  if (failure == failures_.end() && exit.group_dead)
    failure = std::find_if(failures_.begin(), failures_.end(),
                           [&](const auto& f) { return f.second.call.task.pid == exit.h.pid; });
  // A process exiting with status 0 after a failure coped with it.
  if (failure != failures_.end() && exit.group_dead && exit.exit_code == 0) {
    failures_.erase(failure);
    failure = failures_.end();
  }
  if (failure != failures_.end()) {
    ExitAfterFailureFinding finding;
    finding.ts_ns = exit.h.ts_ns;
    finding.cause = failure->second.call;
    finding.cause_holder = failure->second.holder;
    finding.process_exited = exit.group_dead;
    finding.exit_code = exit.exit_code;
    // A traced parent will reap it: tell the whole chain then.
    const ProcessRecord* self = state.process(exit.h.pid);
    const ProcessRecord* parent = self ? state.process(self->ppid) : nullptr;
    if (exit.group_dead && parent && parent->exited_ts_ns == 0)
      awaiting_reap_[exit.h.pid] = finding;
    else
      findings.emplace_back(std::move(finding));
    failures_.erase(failure);
  }
  if (exit.group_dead) {
    // Its children's consequences will not be reaped by it any more.
    for (auto it = awaiting_reap_.begin(); it != awaiting_reap_.end();) {
      const ProcessRecord* child = state.process(it->first);
      if (child && child->ppid == exit.h.pid) {
        findings.emplace_back(std::move(it->second));
        it = awaiting_reap_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (exit.group_dead)
    std::erase_if(failures_, [&](const auto& f) { return f.second.call.task.pid == exit.h.pid; });
}

// A futex owner that dies holding the lock leaves its waiters to nobody.
void FailureExplainer::report_orphans(const TaskExit& exit, const Analyzer& graph,
                                      std::vector<Finding>& findings) {
  uint32_t tid = exit.h.tid;
  std::map<uint64_t, OwnerDiedFinding> orphaned;  // by futex address
  for (const auto& edge : graph.waits_now()) {
    if (!edge.holder || edge.holder->tid != tid || edge.lock.kind != LockRef::Kind::futex) continue;
    auto& finding = orphaned[edge.lock.uaddr];
    finding.ts_ns = exit.h.ts_ns;
    finding.owner = *edge.holder;
    finding.exit_code = exit.exit_code;
    finding.lock = edge.lock;
    finding.how = *edge.how;
    finding.waiters.push_back(edge.waiter);
  }
  for (auto& [uaddr, finding] : orphaned) findings.emplace_back(std::move(finding));
}

void FailureExplainer::finish(std::vector<Finding>& findings) {
  for (auto& [pid, finding] : awaiting_reap_) findings.emplace_back(std::move(finding));
  awaiting_reap_.clear();
}

void FailureExplainer::after(const Event& event, const Analyzer& graph, const TraceState& state,
                             std::vector<Finding>& findings) {
  const auto* call = std::get_if<LockCall>(&event);
  if (!call || call->phase != LT_PHASE_DONE || call_errno(*call) || !is_file_call(*call) ||
      !(call->flags & LT_CALL_HAS_KLOCK) || call->klock.type != kWrite)
    return;
  check_split(*call, graph, state, findings);
}

namespace {

std::string_view without_deleted(std::string_view path) {
  constexpr std::string_view kDeleted = " (deleted)";
  return path.ends_with(kDeleted) ? path.substr(0, path.size() - kDeleted.size()) : path;
}

}  // namespace

void FailureExplainer::check_split(const LockCall& call, const Analyzer& graph, const TraceState& state,
                                   std::vector<Finding>& findings) {
  std::string_view path = without_deleted(state.inode_path(call.klock.dev, call.klock.ino));
  if (path.empty()) return;
  std::optional<SplitLockFinding> split;
  graph.file_locks().for_each([&](const InodeKey& inode, const FileHolder& holder) {
    if (split || holder.type != kWrite || (inode.dev == call.klock.dev && inode.ino == call.klock.ino))
      return;
    if (without_deleted(state.inode_path(inode.dev, inode.ino)) != path) return;
    SplitLockFinding finding;
    finding.ts_ns = call.h.ts_ns;
    finding.path = std::string(path);
    finding.first = holder.task;
    finding.first_lock = LockRef{LockRef::Kind::file, inode.dev, inode.ino, holder.fl_flags,
                                 holder.start, holder.end};
    finding.second = {call.h.pid, call.h.tid};
    finding.second_lock = *lock_of(call);
    split = finding;
  });
  if (split) findings.emplace_back(std::move(*split));
}

void FailureExplainer::check_file_system(const LockCall& call, const TraceState& state,
                                         std::vector<Finding>& findings) {
  auto [fs, why] = weak_file_system(state.fs_magic(call.klock.dev));
  if (fs.empty() || !weak_fs_noted_.insert({call.klock.dev, call.klock.ino}).second) return;
  findings.emplace_back(WeakFileSystemFinding{call.h.ts_ns, *lock_of(call), fs, why});
}

// The kernel names the pid that took a flock/OFD lock; when that process is gone,
// the processes that inherited its open file hold the lock now.
void FailureExplainer::check_phantom(const LockRef& lock, uint32_t named_pid, TaskRef requester,
                                     uint64_t ts_ns, const TraceState& state,
                                     std::vector<Finding>& findings) {
  const ProcessRecord* named = state.process(named_pid);
  if (named_pid == 0 || !named || named->exited_ts_ns == 0) return;  // alive, or never seen
  if (!phantoms_noted_.insert({lock.dev, lock.ino, named_pid}).second) return;
  PhantomHolderFinding finding;
  finding.ts_ns = ts_ns;
  finding.lock = lock;
  finding.named = {named_pid, 0};
  for (const auto& [pid, fd] : state.openers(lock.dev, lock.ino)) {
    if (pid == requester.pid) continue;
    PhantomHolderFinding::Holder holder{{pid, 0}, fd, {}};
    // Climb the parents until the named process: the path the open file took.
    std::vector<uint32_t> chain{pid};
    for (uint32_t at = pid; chain.size() < 32;) {
      const ProcessRecord* p = state.process(at);
      if (!p || p->ppid == 0 || p->ppid == at) break;
      at = p->ppid;
      chain.push_back(at);
      if (at == named_pid) {
        holder.inherited_via.assign(chain.rbegin(), chain.rend());
        break;
      }
    }
    finding.holders.push_back(std::move(holder));
  }
  std::stable_partition(finding.holders.begin(), finding.holders.end(),
                        [](const auto& h) { return !h.inherited_via.empty(); });
  findings.emplace_back(std::move(finding));
}

}  // namespace locktrace::analysis
