#include "text_sink.hpp"

#include <cstring>

#include "call_args.hpp"
#include "clock.hpp"
#include "describe.hpp"
#include "names.hpp"
#include "stack_format.hpp"

namespace locktrace {

namespace {

constexpr const char* kRed = "\x1b[31m";
constexpr const char* kYellow = "\x1b[33m";
constexpr const char* kDim = "\x1b[2m";
constexpr const char* kReset = "\x1b[0m";
constexpr size_t kWhoWidth = 24;
constexpr int64_t kOffsetMax = INT64_MAX;

// Renders arguments the way strace does: "3</tmp/x>, LOCK_EX", and names the
// futex word the way it names an fd's file: "0x55d0c4a1c0c0<g_pool_lock>".
class TextArgs : public ArgSink {
 public:
  TextArgs(std::string& out, std::string_view uaddr_name) : out_(out), uaddr_name_(uaddr_name) {}
  void fd(std::string_view, int64_t fd, std::string_view path) override {
    sep();
    out_ += std::to_string(fd);
    if (!path.empty()) {
      out_ += '<';
      append_printable(out_, path);
      out_ += '>';
    }
  }
  void symbol(std::string_view, std::string_view value) override {
    sep();
    out_ += value;
  }
  void address(std::string_view name, uint64_t value) override {
    sep();
    if (value == 0) {
      out_ += "NULL";
      return;
    }
    append_hex(out_, value);
    if (name == "uaddr" && !uaddr_name_.empty()) {
      out_ += '<';
      append_printable(out_, uaddr_name_);
      out_ += '>';
    }
  }
  void number(std::string_view, int64_t value) override {
    sep();
    out_ += std::to_string(value);
  }
  void flock(std::string_view, const lt_user_flock& lock) override {
    sep();
    out_ += "{l_type=";
    append_symbol(lock_type_name(lock.type), lock.type);
    out_ += ", l_whence=";
    append_symbol(whence_name(lock.whence), lock.whence);
    out_ += ", l_start=" + std::to_string(lock.start);
    out_ += ", l_len=" + std::to_string(lock.len);
    if (lock.pid != 0) out_ += ", l_pid=" + std::to_string(lock.pid);
    out_ += '}';
  }

 private:
  void sep() {
    if (!first_) out_ += ", ";
    first_ = false;
  }
  void append_symbol(std::string_view name, int64_t raw) {
    if (name.empty())
      out_ += std::to_string(raw);
    else
      out_ += name;
  }
  std::string& out_;
  std::string_view uaddr_name_;
  bool first_ = true;
};

}  // namespace

void append_printable(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
}

void append_device(std::string& out, uint32_t dev) {
  out += std::to_string(dev >> 20);
  out += ':';
  out += std::to_string(dev & 0xfffff);
}

void append_range(std::string& out, int64_t start, int64_t end) {
  out += std::to_string(start);
  out += '-';
  if (end == kOffsetMax)
    out += "EOF";
  else
    out += std::to_string(end);
}

void TextSink::colour(const char* code) {
  if (colour_) line_ += code;
}

void TextSink::on_event(const Event& event, const TraceState& state) {
  if (!filter_.matches(event, state, info_.start_ts_ns)) return;
  // Every close of a file with POSIX locks on its inode unlocks, held or not:
  // noise for a reader (JSON keeps them). flock locks go once, at the last close.
  if (const auto* lock = std::get_if<FileLock>(&event);
      lock && (lock->klock.tracepoint == LT_TP_LOCKS_REMOVE_POSIX ||
               (lock->klock.tracepoint == LT_TP_POSIX_LOCK_INODE && lock->klock.type == 2)))
    return;
  line_.clear();
  std::visit(
      [&](const auto& e) {
        if constexpr (requires { e.h; }) format(e, state);
      },
      event);
  if (const auto* call = std::get_if<LockCall>(&event); call && full_stacks_)
    if (auto stack_id = state.stack_of(*call)) append_stack_lines(*stack_id, state);
  line_ += '\n';
  std::fwrite(line_.data(), 1, line_.size(), out_);
}

// Under the call, perf and bpftrace style: innermost first, indented.
void TextSink::append_stack_lines(uint32_t stack_id, const TraceState& state) {
  const auto* frames = state.stack(stack_id);
  if (!frames) return;
  for (const StackFrame& frame : *frames) {
    line_ += "\n        ";
    append_frame(line_, frame);
  }
}

void TextSink::begin_line(const lt_header& h, std::string_view comm) {
  who_.clear();
  append_printable(who_, comm);
  who_ += '[';
  who_ += std::to_string(h.pid);
  if (h.tid != h.pid) {
    who_ += '/';
    who_ += std::to_string(h.tid);
  }
  who_ += ']';
  begin_line_of(h.ts_ns, who_);
}

void TextSink::begin_line_of(uint64_t ts_ns, std::string_view who) {
  colour(kDim);
  append_clock_time(line_, ts_ns, info_);
  colour(kReset);
  line_ += ' ';
  line_ += who;
  line_.append(who.size() < kWhoWidth ? kWhoWidth - who.size() : 1, ' ');
}

void TextSink::append_kernel_lock(const lt_kernel_lock& lock, const TraceState& state) {
  line_ += lock_type_name(lock.type);
  line_ += ' ';
  line_ += lock_kind_name(lock.fl_flags);
  line_ += ' ';
  std::string_view path = state.inode_path(lock.dev, lock.ino);
  if (!path.empty()) {
    append_printable(line_, path);
  } else {
    line_ += "dev ";
    append_device(line_, lock.dev);
    line_ += " ino ";
    line_ += std::to_string(lock.ino);
  }
  if (!(lock.fl_flags & LT_FL_FLOCK)) {
    line_ += ' ';
    append_range(line_, lock.start, lock.end);
  }
}

void TextSink::format(const LockCall& call, const TraceState& state) {
  begin_line(call.h, state.comm(call.h.pid, call.h.tid));
  line_ += syscall_name(call.sys);
  line_ += '(';
  if (call.flags & LT_CALL_NO_ENTRY) {
    line_ += "<entered before tracing>";
  } else {
    TextArgs args(line_, futex_symbol(call, state));
    describe_args(call, call_path(call, state), args, scratch_);
  }
  line_ += ')';
  if (call.phase == LT_PHASE_WAIT) {
    colour(kYellow);
    line_ += (call.flags & LT_CALL_SNAPSHOT) ? " ... waiting since before tracing started"
                                             : " ... waiting";
    colour(kReset);
    if (call.flags & LT_CALL_HAS_BLOCKER) {
      const auto& k = call.klock;
      line_ += ", blocked by ";
      line_ += lock_type_name(k.blocker_type);
      line_ += ' ';
      line_ += lock_kind_name(k.blocker_flags);
      line_ += " lock of ";
      append_task(line_, TaskRef{k.blocker_pid, 0}, state);
    }
    return;
  }
  line_ += " = ";
  if (int err = call_errno(call)) {
    colour(kRed);
    line_ += "-1 ";
    line_ += errno_name(err, spells_ewouldblock(call));
    line_ += " (";
    line_ += errno_description(err);
    line_ += ')';
    colour(kReset);
  } else {
    line_ += std::to_string(call.ret);
  }
  if (call.flags & LT_CALL_NO_ENTRY) return;  // how long it took is not known
  line_ += " <";
  append_seconds(line_, call_duration_ns(call));
  line_ += '>';
}

void TextSink::format(const FileLock& event, const TraceState& state) {
  begin_line(event.h, state.comm(event.h.pid, event.h.tid));
  line_ += "--- ";
  // Outside a lock call, the kernel unlocks when the last fd of a file closes.
  bool release = event.klock.type == 2;
  line_ += release ? "released at close: " : "lock ";
  append_kernel_lock(event.klock, state);
  if (event.klock.ret != 0) {
    line_ += " = ";
    line_ += std::to_string(event.klock.ret);
  }
  line_ += " ---";
}

void TextSink::format(const TaskExit& exit, const TraceState& state) {
  begin_line(exit.h, task_exit_comm(exit, state));
  ExitStatus s = decode_exit_code(exit.exit_code);
  line_ += "+++ ";
  if (!exit.group_dead) line_ += "thread ";
  if (s.signal != 0) {
    colour(kRed);
    line_ += "killed by ";
    line_ += signal_name(s.signal);
    if (s.core_dumped) line_ += " (core dumped)";
    colour(kReset);
  } else {
    line_ += "exited with ";
    line_ += std::to_string(s.status);
  }
  line_ += " +++";
}

void TextSink::format(const ExitCall& call, const TraceState& state) {
  begin_line(call.h, state.comm(call.h.pid, call.h.tid));
  line_ += call.group ? "exit_group(" : "exit(";
  line_ += std::to_string(call.status);
  line_ += ") = ?";
}

void TextSink::format(const Fork& fork, const TraceState& state) {
  begin_line(fork.h, state.comm(fork.h.pid, fork.h.tid));
  if (fork.child_pid == fork.h.pid) {
    line_ += "--- new thread ";
    line_ += std::to_string(fork.child_tid);
  } else {
    line_ += "--- new process ";
    line_ += std::to_string(fork.child_pid);
  }
  line_ += " ---";
}

void TextSink::format(const Exec& exec, const TraceState& state) {
  begin_line(exec.h, state.comm(exec.h.pid, exec.h.tid));
  line_ += "--- exec ";
  append_printable(line_, std::string_view(exec.filename, strnlen(exec.filename, sizeof exec.filename)));
  line_ += " ---";
}

void TextSink::format(const Rename& rename, const TraceState& state) {
  begin_line(rename.h, state.comm(rename.h.pid, rename.h.tid));
  line_ += "--- renamed to ";
  append_printable(line_, std::string_view(rename.comm, strnlen(rename.comm, sizeof rename.comm)));
  line_ += " ---";
}

void TextSink::format(const Signal& signal, const TraceState& state) {
  if (signal.phase == LT_SIGNAL_GENERATE) {
    // The sender may be untraced and unnamed in the stream: its record has its name.
    // A signal the kernel raised (a timer) is nobody's: the task it interrupted is chance.
    std::string_view comm = state.comm(signal.h.pid, signal.h.tid);
    if (comm == "?") comm = std::string_view(signal.comm, strnlen(signal.comm, sizeof signal.comm));
    if (signal_from_kernel(signal.code)) {
      begin_line_of(signal.h.ts_ns, "kernel");
    } else {
      begin_line(signal.h, comm);
    }
    line_ += "--- sends ";
    line_ += signal_name(signal.sig);
    line_ += " to ";
    append_task(line_, TaskRef{signal.target_pid, signal.target_tid}, state);
    line_ += " ---";
    return;
  }
  begin_line(signal.h, state.comm(signal.h.pid, signal.h.tid));
  line_ += "--- ";
  line_ += signal_name(signal.sig);
  line_ += " delivered ---";
}

void TextSink::format(const Reap& reap, const TraceState& state) {
  begin_line(reap.h, state.comm(reap.h.pid, reap.h.tid));
  line_ += "--- reaped ";
  append_task(line_, TaskRef{reap.child_pid, 0}, state);
  line_ += " ---";
}


// Findings are printed whatever the filter: they are why the user is looking.
void TextSink::on_finding(const Finding& finding, const TraceState& state) {
  line_.clear();
  std::visit([&](const auto& f) { format(f, state); }, finding);
  std::fwrite(line_.data(), 1, line_.size(), out_);
}

void TextSink::append_holder(const WaitEdge& edge, const TraceState& state) {
  if (!edge.holder) {
    line_ += "owner unknown";
    return;
  }
  line_ += "held by ";
  append_task(line_, *edge.holder, state);
  if (edge.holding_since_ns) {
    line_ += " since ";
    append_clock_time(line_, edge.holding_since_ns, info_);
  }
  line_ += " (";
  line_ += attribution_text(*edge.how);
  line_ += ')';
  append_frames(", taken in ", edge.holder_stack, state);
}

void TextSink::append_frames(std::string_view lead, std::optional<uint32_t> stack_id, const TraceState& state) {
  if (const auto* frames = stack_id ? state.stack(*stack_id) : nullptr) append_top_frames(line_, lead, *frames);
}

void TextSink::format(const DeadlockFinding& deadlock, const TraceState& state) {
  colour(kRed);
  line_ += "!!! DEADLOCK at ";
  append_clock_time(line_, deadlock.ts_ns, info_);
  line_ += ": ";
  line_ += std::to_string(deadlock.cycle.size());
  line_ += deadlock.cycle.size() == 1 ? " thread" : " threads";
  line_ += deadlock.kernel_edeadlk ? " (the kernel refused the last wait with EDEADLK)"
                                   : " wait on each other, none can proceed";
  colour(kReset);
  line_ += '\n';
  for (size_t i = 0; i < deadlock.cycle.size(); i++) {
    const WaitEdge& edge = deadlock.cycle[i];
    line_ += "!!!   ";
    append_task(line_, edge.waiter, state);
    if (deadlock.cycle.size() > 1) {
      const WaitEdge& before = deadlock.cycle[(i + deadlock.cycle.size() - 1) % deadlock.cycle.size()];
      line_ += " holds ";
      append_lock(line_, before.lock, state);
      line_ += ',';
    }
    line_ += "\n!!!       waits since ";
    append_clock_time(line_, edge.waiting_since_ns, info_);
    append_frames(" in ", edge.waiter_stack, state);
    line_ += " for ";
    append_lock(line_, edge.lock, state);
    line_ += ", ";
    append_holder(edge, state);
    line_ += '\n';
  }
}

void TextSink::format(const LongWaitFinding& wait, const TraceState& state) {
  colour(kYellow);
  line_ += ">>> LONG WAIT at ";
  append_clock_time(line_, wait.ts_ns, info_);
  line_ += ": ";
  colour(kReset);
  append_task(line_, wait.wait.waiter, state);
  line_ += " has waited ";
  append_seconds(line_, wait.waited_ns);
  line_ += " s";
  append_frames(" in ", wait.wait.waiter_stack, state);
  line_ += " for ";
  append_lock(line_, wait.wait.lock, state);
  line_ += ", ";
  append_holder(wait.wait, state);
  line_ += '\n';
}

void TextSink::append_failed_call(const FailedCall& call, const TraceState& state) {
  append_task(line_, call.task, state);
  line_ += ' ';
  append_call(line_, call.sys, call.op);
  append_frames(" in ", call.stack, state);
  if (call.lock) {
    line_ += " on ";
    append_lock(line_, *call.lock, state);
  }
  line_ += " -> ";
  colour(kRed);
  line_ += errno_name(call.err, call.sys == LT_SYS_FLOCK);
  colour(kReset);
}

void TextSink::format(const FailureFinding& failure, const TraceState& state) {
  line_ += ">>> WHY: ";
  append_failed_call(failure.call, state);
  if (!failure.holders.empty()) {
    line_ += ": ";
    for (size_t i = 0; i < failure.holders.size(); i++) {
      if (i) line_ += "; ";
      append_holder(failure.holders[i], state);
    }
  } else if (failure.signal) {
    line_ += ": interrupted by ";
    line_ += signal_name(failure.signal);
    if (failure.signal_sender) {
      line_ += " from ";
      std::string_view comm = state.comm(failure.signal_sender->pid, failure.signal_sender->tid);
      if (comm == "?" && !failure.sender_comm.empty()) {
        append_printable(line_, failure.sender_comm);
        line_ += "[" + std::to_string(failure.signal_sender->pid) + "]";
      } else {
        append_task(line_, *failure.signal_sender, state);
      }
    }
  } else if (!failure.reason.empty()) {
    line_ += ": ";
    line_ += failure.reason;
  }
  line_ += '\n';
}

void TextSink::format(const RetryLoopFinding& loop, const TraceState& state) {
  line_ += ">>> RETRY LOOP: ";
  append_failed_call(loop.last, state);
  line_ += " " + std::to_string(loop.attempts) + " times in ";
  append_seconds(line_, loop.last.ts_ns - std::min(loop.last.ts_ns, loop.first_ts_ns));
  line_ += " s, then ";
  switch (loop.outcome) {
    case RetryLoopFinding::Outcome::succeeded: line_ += "succeeded"; break;
    case RetryLoopFinding::Outcome::gave_up: line_ += "gave up"; break;
    case RetryLoopFinding::Outcome::exited: line_ += "exited"; break;
  }
  line_ += '\n';
}

void TextSink::format(const ExitAfterFailureFinding& exit, const TraceState& state) {
  line_ += ">>> CONSEQUENCE: ";
  append_failed_call(exit.cause, state);
  if (exit.cause_holder) {
    line_ += " (held by ";
    append_task(line_, *exit.cause_holder, state);
    line_ += ')';
  }
  line_ += " -> ";
  colour(kRed);
  append_exit(line_, exit.exit_code, exit.process_exited);
  colour(kReset);
  line_ += ' ';
  append_seconds(line_, exit.ts_ns - std::min(exit.ts_ns, exit.cause.ts_ns));
  line_ += " s later";
  if (exit.reaped_by) {
    line_ += " -> reaped by ";
    append_task(line_, *exit.reaped_by, state);
  }
  line_ += '\n';
}

void TextSink::format(const OwnerDiedFinding& died, const TraceState& state) {
  colour(kRed);
  line_ += "!!! OWNER DIED: ";
  colour(kReset);
  append_task(line_, died.owner, state);
  line_ += ' ';
  append_exit(line_, died.exit_code, false);
  line_ += " holding ";
  append_lock(line_, died.lock, state);
  line_ += " (";
  line_ += attribution_text(died.how);
  line_ += "); nobody will wake ";
  for (size_t i = 0; i < died.waiters.size(); i++) {
    if (i) line_ += ", ";
    append_task(line_, died.waiters[i], state);
  }
  line_ += " (a robust mutex hands the next locker EOWNERDEAD)\n";
}

void TextSink::format(const SplitLockFinding& split, const TraceState& state) {
  colour(kRed);
  line_ += "!!! SPLIT LOCK: ";
  colour(kReset);
  append_printable(line_, split.path);
  line_ += " is held exclusively by ";
  append_task(line_, split.first, state);
  line_ += " (inode " + std::to_string(split.first_lock.ino) + ") and by ";
  append_task(line_, split.second, state);
  line_ += " (inode " + std::to_string(split.second_lock.ino) +
           ") at once: the lock file was removed or replaced, mutual exclusion is broken\n";
}

void TextSink::format(const PhantomHolderFinding& phantom, const TraceState& state) {
  line_ += ">>> PHANTOM HOLDER: ";
  append_lock(line_, phantom.lock, state);
  line_ += " is reported as held by ";
  append_task(line_, phantom.named, state);
  line_ += ", which has exited; ";
  if (phantom.holders.empty()) {
    line_ += "no traced process has the file open (look for it in /proc/*/fdinfo)\n";
    return;
  }
  line_ += "the open file lives on in ";
  for (size_t i = 0; i < phantom.holders.size(); i++) {
    const auto& h = phantom.holders[i];
    if (i) line_ += ", ";
    append_task(line_, h.task, state);
    line_ += " fd " + std::to_string(h.fd);
    if (!h.inherited_via.empty()) {
      line_ += " (inherited via";
      for (uint32_t pid : h.inherited_via) line_ += " " + std::to_string(pid);
      line_ += ')';
    }
  }
  line_ += '\n';
}

void TextSink::format(const WeakFileSystemFinding& weak, const TraceState& state) {
  line_ += ">>> NOTE: ";
  append_lock(line_, weak.lock, state);
  line_ += " is on ";
  line_ += weak.fs;
  line_ += ": ";
  line_ += weak.why;
  line_ += '\n';
}

}  // namespace locktrace
