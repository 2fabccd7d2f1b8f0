#include "names.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <utility>

extern "C" {
#include "locktrace_abi.h"
}

namespace locktrace {

namespace {

constexpr uint64_t kFutexPrivate = 128;
constexpr uint64_t kFutexClockRealtime = 256;
constexpr uint64_t kFutexCmdMask = ~(kFutexPrivate | kFutexClockRealtime);

constexpr std::array<std::string_view, 14> kFutexCmds = {
    "FUTEX_WAIT",        "FUTEX_WAKE",         "FUTEX_FD",           "FUTEX_REQUEUE",
    "FUTEX_CMP_REQUEUE", "FUTEX_WAKE_OP",      "FUTEX_LOCK_PI",      "FUTEX_UNLOCK_PI",
    "FUTEX_TRYLOCK_PI",  "FUTEX_WAIT_BITSET",  "FUTEX_WAKE_BITSET",  "FUTEX_WAIT_REQUEUE_PI",
    "FUTEX_CMP_REQUEUE_PI", "FUTEX_LOCK_PI2",
};

void append_unsigned(std::string& out, uint64_t value) { out += std::to_string(value); }

// Appends the names of the set bits in `value`, then any unnamed remainder in hex.
template <size_t N>
void append_flags(std::string& out, uint64_t value,
                  const std::array<std::pair<uint64_t, std::string_view>, N>& names) {
  size_t start = out.size();
  for (const auto& [bit, name] : names) {
    if ((value & bit) == bit && bit != 0) {
      if (out.size() != start) out += '|';
      out += name;
      value &= ~bit;
    }
  }
  if (value != 0 || out.size() == start) {
    if (out.size() != start) out += '|';
    append_hex(out, value);
  }
}

}  // namespace

void append_hex(std::string& out, uint64_t value) {
  if (value == 0) {
    out += '0';
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[16];
  int n = 0;
  for (; value; value >>= 4) buf[n++] = kHex[value & 15];
  out += "0x";
  while (n) out += buf[--n];
}

std::string_view futex_cmd_name(uint64_t op) {
  uint64_t cmd = op & kFutexCmdMask;
  return cmd < kFutexCmds.size() ? kFutexCmds[cmd] : std::string_view{};
}

bool futex_op_is_private(uint64_t op) { return op & kFutexPrivate; }
bool futex_op_is_clock_realtime(uint64_t op) { return op & kFutexClockRealtime; }

void append_futex_op(std::string& out, uint64_t op) {
  std::string_view cmd = futex_cmd_name(op);
  if (cmd.empty()) {
    out += "FUTEX_";
    append_unsigned(out, op & kFutexCmdMask);
  } else {
    out += cmd;
  }
  if (futex_op_is_private(op)) out += "_PRIVATE";
  if (futex_op_is_clock_realtime(op)) out += "|FUTEX_CLOCK_REALTIME";
}

void append_futex2_flags(std::string& out, uint64_t flags) {
  static constexpr std::array<std::string_view, 4> kSizes = {
      "FUTEX2_SIZE_U8", "FUTEX2_SIZE_U16", "FUTEX2_SIZE_U32", "FUTEX2_SIZE_U64"};
  static constexpr std::array<std::pair<uint64_t, std::string_view>, 3> kBits = {{
      {0x04, "FUTEX2_NUMA"}, {0x08, "FUTEX2_MPOL"}, {0x80, "FUTEX2_PRIVATE"}}};
  out += kSizes[flags & 3];
  uint64_t rest = flags & ~uint64_t{3};
  if (rest != 0) {
    out += '|';
    append_flags(out, rest, kBits);
  }
}

std::string_view fcntl_cmd_name(uint64_t cmd) {
  switch (cmd) {
    case 5: return "F_GETLK";
    case 6: return "F_SETLK";
    case 7: return "F_SETLKW";
    case 36: return "F_OFD_GETLK";
    case 37: return "F_OFD_SETLK";
    case 38: return "F_OFD_SETLKW";
    default: return {};
  }
}

bool fcntl_cmd_is_ofd(uint64_t cmd) { return cmd >= 36 && cmd <= 38; }

void append_flock_op(std::string& out, uint64_t op) {
  static constexpr std::array<std::pair<uint64_t, std::string_view>, 7> kBits = {{
      {1, "LOCK_SH"}, {2, "LOCK_EX"}, {8, "LOCK_UN"}, {4, "LOCK_NB"},
      {32, "LOCK_MAND"}, {64, "LOCK_READ"}, {128, "LOCK_WRITE"}}};
  append_flags(out, op, kBits);
}

std::string_view lock_type_name(int64_t type) {
  switch (type) {
    case 0: return "F_RDLCK";
    case 1: return "F_WRLCK";
    case 2: return "F_UNLCK";
    default: return {};
  }
}

std::string_view whence_name(int64_t whence) {
  switch (whence) {
    case 0: return "SEEK_SET";
    case 1: return "SEEK_CUR";
    case 2: return "SEEK_END";
    default: return {};
  }
}

std::string_view clock_name(int64_t clockid) {
  switch (clockid) {
    case 0: return "CLOCK_REALTIME";
    case 1: return "CLOCK_MONOTONIC";
    case 7: return "CLOCK_BOOTTIME";
    case 11: return "CLOCK_TAI";
    default: return {};
  }
}

namespace {

// Kernel-internal codes that leak to the syscall exit tracepoint when a signal
// interrupts a call; user space never sees them (glibc restarts or gets EINTR).
struct RestartCode {
  int value;
  std::string_view name;
  std::string_view description;
};
constexpr std::array<RestartCode, 5> kRestartCodes = {{
    {512, "ERESTARTSYS", "To be restarted if SA_RESTART is set"},
    {513, "ERESTARTNOINTR", "To be restarted"},
    {514, "ERESTARTNOHAND", "To be restarted if no handler"},
    {515, "ENOIOCTLCMD", "No ioctl command"},
    {516, "ERESTART_RESTARTBLOCK", "Interrupted by signal"},
}};

}  // namespace

std::string_view errno_name(int err, bool would_block_spelling) {
  if (err == EAGAIN && would_block_spelling) return "EWOULDBLOCK";
  for (const auto& code : kRestartCodes)
    if (code.value == err) return code.name;
  const char* name = strerrorname_np(err);
  return name ? std::string_view{name} : std::string_view{};
}

std::string_view errno_description(int err) {
  for (const auto& code : kRestartCodes)
    if (code.value == err) return code.description;
  const char* text = strerrordesc_np(err);
  return text ? std::string_view{text} : std::string_view{};
}


std::string_view lock_kind_name(uint32_t fl_flags) {
  if (fl_flags & LT_FL_FLOCK) return "flock";
  if (fl_flags & LT_FL_OFDLCK) return "ofd";
  return "posix";
}

std::string_view signal_name(int sig) {
  // sigabbrev_np omits the "SIG" prefix and knows no real-time signals: build
  // the full names once, SIGRTMIN+N as strace spells them.
  static const auto kNames = [] {
    std::array<std::string, 65> names;
    for (int i = 1; i < 65; i++) {
      if (const char* abbrev = sigabbrev_np(i))
        names[i] = std::string("SIG") + abbrev;
      else if (i >= SIGRTMIN && i <= SIGRTMAX)
        names[i] = i == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(i - SIGRTMIN);
    }
    return names;
  }();
  return sig > 0 && sig < 65 ? std::string_view{kNames[sig]} : std::string_view{};
}

bool signal_from_kernel(int32_t si_code) {
  // SI_USER 0, SI_QUEUE -1, SI_TKILL -6 come from tasks; SI_TIMER -2, SI_MESGQ -3,
  // SI_ASYNCIO -4, SI_SIGIO -5 and every positive code (SI_KERNEL, faults) do not.
  return si_code > 0 || (si_code <= -2 && si_code >= -5);
}

ExitStatus decode_exit_code(int32_t code) {
  ExitStatus s;
  s.signal = code & 0x7f;
  s.core_dumped = code & 0x80;
  s.status = (code >> 8) & 0xff;
  return s;
}

}  // namespace locktrace
