// Symbolic names for the constants lock calls carry: futex ops, fcntl commands,
// flock operations, lock types and errno values. Each appends to `out` so the
// formatters can reuse one buffer per event.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace locktrace {

// "0x7f3a2c001000" (strace's %#x: "0" for zero).
void append_hex(std::string& out, uint64_t value);

// "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME", the way strace spells it.
void append_futex_op(std::string& out, uint64_t op);
// The command alone, without PRIVATE/CLOCK_REALTIME: "FUTEX_WAIT_BITSET".
std::string_view futex_cmd_name(uint64_t op);  // "" when unknown
bool futex_op_is_private(uint64_t op);
bool futex_op_is_clock_realtime(uint64_t op);
// futex2 flags: "FUTEX2_SIZE_U32|FUTEX2_PRIVATE".
void append_futex2_flags(std::string& out, uint64_t flags);

std::string_view fcntl_cmd_name(uint64_t cmd);  // "" when not a lock command
bool fcntl_cmd_is_ofd(uint64_t cmd);
void append_flock_op(std::string& out, uint64_t op);  // "LOCK_EX|LOCK_NB"
std::string_view lock_type_name(int64_t type);        // F_RDLCK, F_WRLCK, F_UNLCK
std::string_view whence_name(int64_t whence);         // SEEK_SET, ...
std::string_view clock_name(int64_t clockid);         // CLOCK_MONOTONIC, ...

// The errno's symbolic name. flock(2) documents EWOULDBLOCK where others say EAGAIN
// for the same value, so the caller says which spelling its call uses. Includes the
// kernel-internal restart codes a syscall exit can show (ERESTARTSYS ...).
std::string_view errno_name(int err, bool would_block_spelling = false);
std::string_view errno_description(int err);


// "flock", "ofd" or "posix" from the kernel's FL_* flags.
std::string_view lock_kind_name(uint32_t fl_flags);
// "SIGKILL"; "" when unknown.
std::string_view signal_name(int sig);

// True when si_code says the kernel raised the signal (a timer, a fault, I/O)
// rather than a task with kill/tgkill/sigqueue: the task current at that
// moment is then not its sender.
bool signal_from_kernel(int32_t si_code);

// A wait(2)-encoded exit code: either a status or the signal that ended the task.
struct ExitStatus {
  int status = 0;      // valid when signal == 0
  int signal = 0;
  bool core_dumped = false;
};
ExitStatus decode_exit_code(int32_t code);

}  // namespace locktrace
