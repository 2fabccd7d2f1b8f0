#include "call_args.hpp"

#include "names.hpp"

namespace locktrace {

std::string_view syscall_name(uint16_t sys) {
  switch (sys) {
    case LT_SYS_FLOCK: return "flock";
    case LT_SYS_FCNTL: return "fcntl";
    case LT_SYS_FUTEX: return "futex";
    case LT_SYS_FUTEX_WAIT: return "futex_wait";
    case LT_SYS_FUTEX_WAKE: return "futex_wake";
    case LT_SYS_FUTEX_WAITV: return "futex_waitv";
    case LT_SYS_FUTEX_REQUEUE: return "futex_requeue";
    default: return "unknown";
  }
}

int32_t call_fd(const LockCall& call) {
  if (call.sys == LT_SYS_FLOCK || call.sys == LT_SYS_FCNTL) return static_cast<int32_t>(call.args[0]);
  return -1;
}

namespace {

void symbolic(ArgSink& sink, std::string_view name, std::string_view known, int64_t raw,
              std::string& scratch) {
  if (!known.empty()) {
    sink.symbol(name, known);
  } else {
    scratch = std::to_string(raw);
    sink.symbol(name, scratch);
  }
}

void describe_futex(const LockCall& call, ArgSink& sink, std::string& scratch) {
  const auto* a = call.args;
  uint64_t op = a[1];
  sink.address("uaddr", a[0]);
  scratch.clear();
  append_futex_op(scratch, op);
  sink.symbol("op", scratch);
  // The meaning of the remaining slots depends on the command (futex(2)).
  std::string_view cmd = futex_cmd_name(op);
  auto val = static_cast<int64_t>(static_cast<uint32_t>(a[2]));
  auto val2 = static_cast<int64_t>(static_cast<uint32_t>(a[3]));  // timeout slot reused as a count
  auto val3 = static_cast<int64_t>(static_cast<uint32_t>(a[5]));
  if (cmd == "FUTEX_WAIT") {
    sink.number("val", val);
    sink.address("timeout", a[3]);
  } else if (cmd == "FUTEX_WAKE") {
    sink.number("val", val);
  } else if (cmd == "FUTEX_REQUEUE") {
    sink.number("val", val);
    sink.number("val2", val2);
    sink.address("uaddr2", a[4]);
  } else if (cmd == "FUTEX_CMP_REQUEUE" || cmd == "FUTEX_CMP_REQUEUE_PI") {
    sink.number("val", val);
    sink.number("val2", val2);
    sink.address("uaddr2", a[4]);
    sink.number("val3", val3);
  } else if (cmd == "FUTEX_WAKE_OP") {
    sink.number("val", val);
    sink.number("val2", val2);
    sink.address("uaddr2", a[4]);
    sink.address("val3", static_cast<uint32_t>(a[5]));
  } else if (cmd == "FUTEX_LOCK_PI" || cmd == "FUTEX_LOCK_PI2") {
    sink.address("timeout", a[3]);
  } else if (cmd == "FUTEX_UNLOCK_PI" || cmd == "FUTEX_TRYLOCK_PI") {
    // uaddr and op only
  } else if (cmd == "FUTEX_WAIT_BITSET") {
    sink.number("val", val);
    sink.address("timeout", a[3]);
    sink.address("val3", static_cast<uint32_t>(a[5]));
  } else if (cmd == "FUTEX_WAKE_BITSET") {
    sink.number("val", val);
    sink.address("val3", static_cast<uint32_t>(a[5]));
  } else if (cmd == "FUTEX_WAIT_REQUEUE_PI") {
    sink.number("val", val);
    sink.address("timeout", a[3]);
    sink.address("uaddr2", a[4]);
  } else {
    sink.number("val", val);
    sink.address("arg3", a[3]);
    sink.address("uaddr2", a[4]);
    sink.number("val3", val3);
  }
}

void describe_futex2(const LockCall& call, ArgSink& sink, std::string& scratch) {
  const auto* a = call.args;
  auto flags = [&](uint64_t value) {
    scratch.clear();
    append_futex2_flags(scratch, value);
    sink.symbol("flags", scratch);
  };
  auto clock = [&](uint64_t value) {
    symbolic(sink, "clockid", clock_name(static_cast<int64_t>(value)), static_cast<int64_t>(value),
             scratch);
  };
  switch (call.sys) {
    case LT_SYS_FUTEX_WAIT:  // (uaddr, val, mask, flags, timeout, clockid)
      sink.address("uaddr", a[0]);
      sink.number("val", static_cast<int64_t>(a[1]));
      sink.address("mask", a[2]);
      flags(a[3]);
      sink.address("timeout", a[4]);
      clock(a[5]);
      break;
    case LT_SYS_FUTEX_WAKE:  // (uaddr, mask, nr, flags)
      sink.address("uaddr", a[0]);
      sink.address("mask", a[1]);
      sink.number("nr", static_cast<int32_t>(a[2]));
      flags(a[3]);
      break;
    case LT_SYS_FUTEX_WAITV:  // (waiters, nr_futexes, flags, timeout, clockid)
      sink.address("waiters", a[0]);
      sink.number("nr_futexes", static_cast<int64_t>(static_cast<uint32_t>(a[1])));
      sink.address("flags", a[2]);
      sink.address("timeout", a[3]);
      clock(a[4]);
      break;
    case LT_SYS_FUTEX_REQUEUE:  // (waiters, flags, nr_wake, nr_requeue)
      sink.address("waiters", a[0]);
      sink.address("flags", a[1]);
      sink.number("nr_wake", static_cast<int32_t>(a[2]));
      sink.number("nr_requeue", static_cast<int32_t>(a[3]));
      break;
    default:
      break;
  }
}

}  // namespace

void describe_args(const LockCall& call, std::string_view path, ArgSink& sink,
                   std::string& scratch) {
  const auto* a = call.args;
  switch (call.sys) {
    case LT_SYS_FLOCK:
      sink.fd("fd", static_cast<int32_t>(a[0]), path);
      scratch.clear();
      append_flock_op(scratch, a[1]);
      sink.symbol("operation", scratch);
      break;
    case LT_SYS_FCNTL:
      sink.fd("fd", static_cast<int32_t>(a[0]), path);
      symbolic(sink, "cmd", fcntl_cmd_name(a[1]), static_cast<int64_t>(a[1]), scratch);
      if (call.flags & LT_CALL_HAS_FLOCK)
        sink.flock("lock", call.user_flock);
      else
        sink.address("lock", a[2]);
      break;
    case LT_SYS_FUTEX:
      describe_futex(call, sink, scratch);
      break;
    default:
      describe_futex2(call, sink, scratch);
      break;
  }
}


std::string_view call_path(const LockCall& call, const TraceState& state) {
  int32_t fd = call_fd(call);
  if (fd < 0) return {};
  std::string_view path = state.fd_path(call.h.pid, fd);
  if (path.empty() && (call.flags & LT_CALL_HAS_KLOCK))
    path = state.inode_path(call.klock.dev, call.klock.ino);
  return path;
}

std::string_view futex_symbol(const LockCall& call, const TraceState& state) {
  bool on_one_word = call.sys == LT_SYS_FUTEX || call.sys == LT_SYS_FUTEX_WAIT || call.sys == LT_SYS_FUTEX_WAKE;
  if (!on_one_word || (call.flags & LT_CALL_NO_ENTRY)) return {};
  return state.address_name(call.h.pid, call.args[0]);
}

}  // namespace locktrace
