#include "json_sink.hpp"

#include <cstring>

#include "call_args.hpp"
#include "clock.hpp"
#include "describe.hpp"
#include "json_writer.hpp"
#include "names.hpp"
#include "pipeline.hpp"
#include "stack_format.hpp"
#include "text_sink.hpp"

namespace locktrace {

namespace {

class JsonArgs : public ArgSink {
 public:
  explicit JsonArgs(JsonWriter& w) : w_(w) {}
  void fd(std::string_view name, int64_t fd, std::string_view path) override {
    w_.number(name, fd);
    if (path.empty())
      w_.null("path");
    else
      w_.string("path", path);
  }
  void symbol(std::string_view name, std::string_view value) override { w_.string(name, value); }
  void address(std::string_view name, uint64_t value) override {
    if (value == 0) {
      w_.null(name);
      return;
    }
    hex_.clear();
    append_hex(hex_, value);
    w_.string(name, hex_);
  }
  void number(std::string_view name, int64_t value) override { w_.number(name, value); }
  void flock(std::string_view name, const lt_user_flock& lock) override {
    w_.begin_object(name);
    symbolic("type", lock_type_name(lock.type), lock.type);
    symbolic("whence", whence_name(lock.whence), lock.whence);
    w_.number("start", lock.start);
    w_.number("len", lock.len);
    w_.number("pid", lock.pid);
    w_.end_object();
  }

 private:
  void symbolic(std::string_view key, std::string_view name, int64_t raw) {
    if (name.empty())
      w_.number(key, raw);
    else
      w_.string(key, name);
  }
  JsonWriter& w_;
  std::string hex_;
};

std::string_view tracepoint_name(uint8_t tp) {
  switch (tp) {
    case LT_TP_POSIX_LOCK_INODE: return "posix_lock_inode";
    case LT_TP_FLOCK_LOCK_INODE: return "flock_lock_inode";
    case LT_TP_FCNTL_SETLK: return "fcntl_setlk";
    case LT_TP_LOCKS_REMOVE_POSIX: return "locks_remove_posix";
    default: return "unknown";
  }
}

void write_end(JsonWriter& w, std::string_view key, int64_t end) {
  if (end == INT64_MAX)
    w.null(key);  // to end of file
  else
    w.number(key, end);
}

void write_kernel_lock(JsonWriter& w, const lt_kernel_lock& k, const TraceState& state,
                std::string& scratch) {
  w.begin_object("lock");
  w.string("kind", lock_kind_name(k.fl_flags));
  w.string("type", lock_type_name(k.type));
  scratch.clear();
  append_device(scratch, k.dev);
  w.string("dev", scratch);
  w.unsigned_number("ino", k.ino);
  std::string_view path = state.inode_path(k.dev, k.ino);
  if (path.empty())
    w.null("path");
  else
    w.string("path", path);
  w.number("start", k.start);
  write_end(w, "end", k.end);
  w.end_object();
}

void write_header(JsonWriter& w, const Event& event, const lt_header& h, const TraceState& state,
                  const StreamInfo& info, std::string& scratch) {
  const auto* exit = std::get_if<TaskExit>(&event);
  w.string("event", event_kind_name(event));
  w.unsigned_number("ts_ns", h.ts_ns);
  scratch.clear();
  append_iso_time(scratch, h.ts_ns, info);
  w.string("time", scratch);
  w.unsigned_number("cpu", h.cpu);
  w.unsigned_number("pid", h.pid);
  w.unsigned_number("tid", h.tid);
  w.string("comm", exit ? task_exit_comm(*exit, state) : state.comm(h.pid, h.tid));
}

void write_comm(JsonWriter& w, std::string_view key, const char (&comm)[LT_COMM_LEN]) {
  w.string(key, std::string_view(comm, strnlen(comm, LT_COMM_LEN)));
}

}  // namespace

void JsonSink::on_event(const Event& event, const TraceState& state) {
  if (const auto* stack = std::get_if<StackTrace>(&event)) {
    write_stack(*stack);
    return;
  }
  if (!filter_.matches(event, state, info_.start_ts_ns)) return;
  line_.clear();
  JsonWriter w(line_);
  w.begin_object();
  if (const auto* call = std::get_if<LockCall>(&event)) {
    write_header(w, event, call->h, state, info_, scratch_);
    w.string("syscall", syscall_name(call->sys));
    w.string("phase", call->phase == LT_PHASE_WAIT ? "wait" : "done");
    w.begin_object("args");  // empty for a return whose entry predates tracing
    JsonArgs args(w);
    if (!(call->flags & LT_CALL_NO_ENTRY)) describe_args(*call, call_path(*call, state), args, scratch_);
    w.end_object();
    bool before_trace = call->flags & (LT_CALL_SNAPSHOT | LT_CALL_NO_ENTRY);
    w.boolean("entered_before_trace", before_trace);
    if (before_trace)
      w.null("enter_ts_ns");
    else
      w.unsigned_number("enter_ts_ns", call->enter_ts);
    w.boolean("may_block", call->flags & LT_CALL_MAY_BLOCK);
    w.boolean("blocked", call->flags & LT_CALL_BLOCKED);
    if (call->phase == LT_PHASE_DONE) {
      w.number("ret", call->ret);
      if (before_trace)
        w.null("duration_ns");
      else
        w.unsigned_number("duration_ns", call_duration_ns(*call));
      if (int err = call_errno(*call)) {
        w.number("errno", err);
        w.string("errno_name", errno_name(err, spells_ewouldblock(*call)));
        w.string("error", errno_description(err));
      }
    }
    if (call->flags & LT_CALL_HAS_WORD) w.unsigned_number("futex_word", call->futex_word);
    if (call->flags & LT_CALL_HAS_KLOCK) write_kernel_lock(w, call->klock, state, scratch_);
    if (call->flags & LT_CALL_HAS_BLOCKER) {
      const auto& k = call->klock;
      w.begin_object("blocker");
      w.unsigned_number("pid", k.blocker_pid);
      std::string_view comm = state.comm(k.blocker_pid, k.blocker_pid);
      if (comm == "?")
        w.null("comm");
      else
        w.string("comm", comm);
      w.string("kind", lock_kind_name(k.blocker_flags));
      w.string("type", lock_type_name(k.blocker_type));
      w.number("start", k.blocker_start);
      write_end(w, "end", k.blocker_end);
      w.end_object();
    }
    if (std::string_view symbol = futex_symbol(*call, state); !symbol.empty()) w.string("symbol", symbol);
    if (auto stack_id = state.stack_of(*call)) w.unsigned_number("stack_id", *stack_id);
  } else if (const auto* lock = std::get_if<FileLock>(&event)) {
    write_header(w, event, lock->h, state, info_, scratch_);
    w.string("tracepoint", tracepoint_name(lock->klock.tracepoint));
    w.number("ret", lock->klock.ret);
    write_kernel_lock(w, lock->klock, state, scratch_);
  } else if (const auto* exit = std::get_if<TaskExit>(&event)) {
    write_header(w, event, exit->h, state, info_, scratch_);
    w.boolean("process_exited", exit->group_dead);
    w.number("exit_code", exit->exit_code);
    ExitStatus s = decode_exit_code(exit->exit_code);
    if (s.signal != 0) {
      w.null("status");
      w.string("signal", signal_name(s.signal));
      w.boolean("core_dumped", s.core_dumped);
    } else {
      w.number("status", s.status);
      w.null("signal");
    }
  } else if (const auto* call = std::get_if<ExitCall>(&event)) {
    write_header(w, event, call->h, state, info_, scratch_);
    w.string("syscall", call->group ? "exit_group" : "exit");
    w.number("status", call->status);
  } else if (const auto* fork = std::get_if<Fork>(&event)) {
    write_header(w, event, fork->h, state, info_, scratch_);
    w.boolean("thread", fork->child_pid == fork->h.pid);
    w.unsigned_number("child_pid", fork->child_pid);
    w.unsigned_number("child_tid", fork->child_tid);
    write_comm(w, "child_comm", fork->comm);
  } else if (const auto* exec = std::get_if<Exec>(&event)) {
    write_header(w, event, exec->h, state, info_, scratch_);
    w.string("filename", std::string_view(exec->filename, strnlen(exec->filename, sizeof exec->filename)));
    write_comm(w, "new_comm", exec->comm);
    w.unsigned_number("old_tid", exec->old_tid);
  } else if (const auto* rename = std::get_if<Rename>(&event)) {
    write_header(w, event, rename->h, state, info_, scratch_);
    write_comm(w, "new_comm", rename->comm);
  } else if (const auto* signal = std::get_if<Signal>(&event)) {
    write_header(w, event, signal->h, state, info_, scratch_);
    w.string("phase", signal->phase == LT_SIGNAL_GENERATE ? "sent" : "delivered");
    w.number("sig", signal->sig);
    w.string("signal", signal_name(signal->sig));
    w.number("code", signal->code);
    // Raised by the kernel (a timer, a fault): the task in the header was only interrupted.
    w.boolean("from_kernel", signal_from_kernel(signal->code));
    w.unsigned_number("target_pid", signal->target_pid);
    w.unsigned_number("target_tid", signal->target_tid);
    if (signal->phase == LT_SIGNAL_GENERATE && !signal_from_kernel(signal->code))
      write_comm(w, "sender_comm", signal->comm);
    if (signal->phase == LT_SIGNAL_DELIVER) w.boolean("handled", signal->handled);
  } else if (const auto* reap = std::get_if<Reap>(&event)) {
    write_header(w, event, reap->h, state, info_, scratch_);
    w.unsigned_number("child_pid", reap->child_pid);
  }
  w.end_object();
  line_ += '\n';
  std::fwrite(line_.data(), 1, line_.size(), out_);
}

// Whatever the filter: an event or a finding printed later may name the stack.
void JsonSink::write_stack(const StackTrace& stack) {
  line_.clear();
  JsonWriter w(line_);
  w.begin_object();
  w.string("event", "stack");
  write_stack_fields(w, stack.stack_id, stack.frames);
  w.end_object();
  line_ += '\n';
  std::fwrite(line_.data(), 1, line_.size(), out_);
}

void JsonSink::on_finding(const Finding& finding, const TraceState& state) {
  line_.clear();
  JsonWriter w(line_);
  w.begin_object();
  w.string("event", "finding");
  auto stamp = [&](uint64_t ts) {
    w.unsigned_number("ts_ns", ts);
    scratch_.clear();
    append_iso_time(scratch_, ts, info_);
    w.string("time", scratch_);
  };
  if (const auto* deadlock = std::get_if<DeadlockFinding>(&finding)) {
    w.string("kind", "deadlock");
    stamp(deadlock->ts_ns);
    w.boolean("kernel_edeadlk", deadlock->kernel_edeadlk);
    w.begin_array("cycle");
    for (const auto& edge : deadlock->cycle) {
      w.begin_object();
      write_edge_fields(w, edge, state);
      w.end_object();
    }
    w.end_array();
  } else if (const auto* wait = std::get_if<LongWaitFinding>(&finding)) {
    w.string("kind", "long_wait");
    stamp(wait->ts_ns);
    w.unsigned_number("waited_ns", wait->waited_ns);
    w.begin_object("wait");
    write_edge_fields(w, wait->wait, state);
    w.end_object();
  } else if (const auto* failure = std::get_if<FailureFinding>(&finding)) {
    w.string("kind", "failure");
    stamp(failure->call.ts_ns);
    write_failed_call(w, "call", failure->call, state);
    w.begin_array("holders");
    for (const auto& edge : failure->holders) {
      w.begin_object();
      write_edge_fields(w, edge, state);
      w.end_object();
    }
    w.end_array();
    if (failure->signal) {
      w.string("signal", signal_name(failure->signal));
      if (failure->signal_sender)
        write_task(w, "signal_sender", *failure->signal_sender, state);
      else
        w.null("signal_sender");
      if (!failure->sender_comm.empty()) w.string("sender_comm", failure->sender_comm);
    }
    if (failure->reason.empty())
      w.null("reason");
    else
      w.string("reason", failure->reason);
  } else if (const auto* loop = std::get_if<RetryLoopFinding>(&finding)) {
    w.string("kind", "retry_loop");
    stamp(loop->last.ts_ns);
    write_failed_call(w, "call", loop->last, state);
    w.unsigned_number("attempts", loop->attempts);
    w.unsigned_number("first_ts_ns", loop->first_ts_ns);
    w.string("outcome", loop->outcome == RetryLoopFinding::Outcome::succeeded ? "succeeded"
                        : loop->outcome == RetryLoopFinding::Outcome::exited ? "exited"
                                                                             : "gave_up");
  } else if (const auto* exit = std::get_if<ExitAfterFailureFinding>(&finding)) {
    w.string("kind", "exit_after_failure");
    stamp(exit->ts_ns);
    write_failed_call(w, "cause", exit->cause, state);
    if (exit->cause_holder)
      write_task(w, "cause_holder", *exit->cause_holder, state);
    else
      w.null("cause_holder");
    w.boolean("process_exited", exit->process_exited);
    w.number("exit_code", exit->exit_code);
    ExitStatus status = decode_exit_code(exit->exit_code);
    if (status.signal) {
      w.null("status");
      w.string("signal", signal_name(status.signal));
    } else {
      w.number("status", status.status);
      w.null("signal");
    }
    w.unsigned_number("after_ns", exit->ts_ns - std::min(exit->ts_ns, exit->cause.ts_ns));
    if (exit->reaped_by)
      write_task(w, "reaped_by", *exit->reaped_by, state);
    else
      w.null("reaped_by");
  } else if (const auto* died = std::get_if<OwnerDiedFinding>(&finding)) {
    w.string("kind", "owner_died");
    stamp(died->ts_ns);
    write_task(w, "owner", died->owner, state);
    w.number("exit_code", died->exit_code);
    write_lock(w, "lock", died->lock, state);
    w.string("attribution", attribution_name(died->how));
    w.begin_array("waiters");
    for (const auto& waiter : died->waiters) {
      w.begin_object();
      write_task(w, "task", waiter, state);
      w.end_object();
    }
    w.end_array();
  } else if (const auto* phantom = std::get_if<PhantomHolderFinding>(&finding)) {
    w.string("kind", "phantom_holder");
    stamp(phantom->ts_ns);
    write_lock(w, "lock", phantom->lock, state);
    write_task(w, "named", phantom->named, state);
    w.begin_array("holders");
    for (const auto& h : phantom->holders) {
      w.begin_object();
      write_task(w, "task", h.task, state);
      w.number("fd", h.fd);
      w.begin_array("inherited_via");
      for (uint32_t pid : h.inherited_via) {
        scratch_ = std::to_string(pid);
        w.raw_value(scratch_);
      }
      w.end_array();
      w.end_object();
    }
    w.end_array();
  } else if (const auto* weak = std::get_if<WeakFileSystemFinding>(&finding)) {
    w.string("kind", "weak_file_system");
    stamp(weak->ts_ns);
    write_lock(w, "lock", weak->lock, state);
    w.string("fs", weak->fs);
    w.string("why", weak->why);
  } else if (const auto* split = std::get_if<SplitLockFinding>(&finding)) {
    w.string("kind", "split_lock");
    stamp(split->ts_ns);
    w.string("path", split->path);
    write_task(w, "first", split->first, state);
    write_lock(w, "first_lock", split->first_lock, state);
    write_task(w, "second", split->second, state);
    write_lock(w, "second_lock", split->second_lock, state);
  }
  w.end_object();
  line_ += '\n';
  std::fwrite(line_.data(), 1, line_.size(), out_);
}

}  // namespace locktrace
