#include "describe.hpp"

#include <cstdio>

#include "call_args.hpp"
#include "names.hpp"
#include "text_sink.hpp"

namespace locktrace {

void append_task(std::string& out, const TaskRef& task, const TraceState& state) {
  if (task.tid == 0) {
    out += "pid ";
    out += std::to_string(task.pid);
    std::string_view comm = state.comm(task.pid, task.pid);
    if (comm != "?") {
      out += " (";
      append_printable(out, comm);
      out += ')';
    }
    return;
  }
  append_printable(out, state.comm(task.pid, task.tid));
  out += '[';
  out += std::to_string(task.pid);
  if (task.tid != task.pid) {
    out += '/';
    out += std::to_string(task.tid);
  }
  out += ']';
}

void append_lock(std::string& out, const LockRef& lock, const TraceState& state) {
  if (lock.kind == LockRef::Kind::futex) {
    out += lock.shared ? "shared futex " : "futex ";
    append_hex(out, lock.uaddr);
    if (std::string_view name = state.address_name(lock.pid, lock.uaddr); !name.empty()) {
      out += '<';
      append_printable(out, name);
      out += '>';
    }
    out += " in pid ";
    out += std::to_string(lock.pid);
    return;
  }
  out += lock_kind_name(lock.fl_flags);
  out += " lock on ";
  std::string_view path = state.inode_path(lock.dev, lock.ino);
  if (path.empty()) {
    out += "dev ";
    append_device(out, lock.dev);
    out += " ino ";
    out += std::to_string(lock.ino);
  } else {
    append_printable(out, path);
  }
  if (!(lock.fl_flags & LT_FL_FLOCK) && !(lock.start == 0 && lock.end == INT64_MAX)) {
    out += " bytes ";
    append_range(out, lock.start, lock.end);
  }
}

void append_call(std::string& out, uint16_t sys, uint64_t op) {
  out += syscall_name(sys);
  out += '(';
  if (sys == LT_SYS_FLOCK) {
    append_flock_op(out, op);
  } else if (sys == LT_SYS_FCNTL) {
    std::string_view cmd = fcntl_cmd_name(op);
    out += cmd.empty() ? std::to_string(op) : std::string(cmd);
  } else if (sys == LT_SYS_FUTEX) {
    append_futex_op(out, op);
  } else {
    out += "...";
  }
  out += ')';
}

void append_exit(std::string& out, int32_t exit_code, bool process) {
  ExitStatus s = decode_exit_code(exit_code);
  if (!process) out += "thread ";
  if (s.signal) {
    out += "killed by ";
    out += signal_name(s.signal);
  } else {
    out += "exit(" + std::to_string(s.status) + ")";
  }
}

void write_failed_call(JsonWriter& w, std::string_view key, const FailedCall& call, const TraceState& state) {
  w.begin_object(key);
  w.unsigned_number("ts_ns", call.ts_ns);
  write_task(w, "task", call.task, state);
  std::string text;
  append_call(text, call.sys, call.op);
  w.string("call", text);
  w.string("syscall", syscall_name(call.sys));
  w.number("errno", call.err);
  w.string("errno_name", errno_name(call.err, call.sys == LT_SYS_FLOCK));
  if (call.lock)
    write_lock(w, "lock", *call.lock, state);
  else
    w.null("lock");
  if (call.stack) w.unsigned_number("stack_id", *call.stack);
  w.end_object();
}

void write_task(JsonWriter& w, std::string_view key, const TaskRef& task, const TraceState& state) {
  w.begin_object(key);
  w.unsigned_number("pid", task.pid);
  if (task.tid)
    w.unsigned_number("tid", task.tid);
  else
    w.null("tid");
  std::string_view comm = state.comm(task.pid, task.tid ? task.tid : task.pid);
  if (comm == "?")
    w.null("comm");
  else
    w.string("comm", comm);
  w.end_object();
}

void write_lock(JsonWriter& w, std::string_view key, const LockRef& lock, const TraceState& state) {
  w.begin_object(key);
  if (lock.kind == LockRef::Kind::futex) {
    w.string("kind", "futex");
    std::string hex;
    append_hex(hex, lock.uaddr);
    w.string("uaddr", hex);
    w.unsigned_number("pid", lock.pid);
    w.boolean("shared", lock.shared);
    if (std::string_view name = state.address_name(lock.pid, lock.uaddr); !name.empty())
      w.string("symbol", name);
  } else {
    w.string("kind", lock_kind_name(lock.fl_flags));
    std::string dev;
    append_device(dev, lock.dev);
    w.string("dev", dev);
    w.unsigned_number("ino", lock.ino);
    std::string_view path = state.inode_path(lock.dev, lock.ino);
    if (path.empty())
      w.null("path");
    else
      w.string("path", path);
    w.number("start", lock.start);
    if (lock.end == INT64_MAX)
      w.null("end");
    else
      w.number("end", lock.end);
  }
  w.end_object();
}

void write_edge_fields(JsonWriter& w, const WaitEdge& edge, const TraceState& state) {
  write_task(w, "waiter", edge.waiter, state);
  write_lock(w, "lock", edge.lock, state);
  w.unsigned_number("waiting_since_ns", edge.waiting_since_ns);
  if (edge.holder) {
    write_task(w, "holder", *edge.holder, state);
    w.string("attribution", attribution_name(*edge.how));
    if (edge.holding_since_ns)
      w.unsigned_number("holding_since_ns", edge.holding_since_ns);
    else
      w.null("holding_since_ns");
  } else {
    w.null("holder");
    w.string("attribution", "owner_unknown");
  }
  if (edge.waiter_stack) w.unsigned_number("waiter_stack", *edge.waiter_stack);
  if (edge.holder && edge.holder_stack) w.unsigned_number("holder_stack", *edge.holder_stack);
}

}  // namespace locktrace
