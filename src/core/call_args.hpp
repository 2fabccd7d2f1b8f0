// One description of a lock call's arguments, rendered by both the text and the
// JSON formatter, so the two can never disagree on what a call meant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "events.hpp"
#include "trace_state.hpp"

namespace locktrace {

class ArgSink {
 public:
  virtual ~ArgSink() = default;
  virtual void fd(std::string_view name, int64_t fd, std::string_view path) = 0;
  virtual void symbol(std::string_view name, std::string_view value) = 0;
  virtual void address(std::string_view name, uint64_t value) = 0;  // 0 is NULL
  virtual void number(std::string_view name, int64_t value) = 0;
  virtual void flock(std::string_view name, const lt_user_flock& lock) = 0;
};

std::string_view syscall_name(uint16_t sys);

// True for flock(2), whose EAGAIN is documented as EWOULDBLOCK.
inline bool spells_ewouldblock(const LockCall& call) { return call.sys == LT_SYS_FLOCK; }

// The fd a flock/fcntl call operates on, or -1 for futex calls.
int32_t call_fd(const LockCall& call);

// Walks the call's arguments in order. `path` names the fd when known; `scratch`
// is reused for symbolic flag strings.
void describe_args(const LockCall& call, std::string_view path, ArgSink& sink,
                   std::string& scratch);


// The file a flock/fcntl call works on: its fd's path, else the path last seen
// for the inode the kernel reported (a short-lived caller may be gone before its
// fd could be looked up). "" when neither is known.
std::string_view call_path(const LockCall& call, const TraceState& state);

// What the futex word a futex call works on is ("g_pool_lock"), as the stream
// named it; "" for other calls and unnamed words.
std::string_view futex_symbol(const LockCall& call, const TraceState& state);

}  // namespace locktrace
