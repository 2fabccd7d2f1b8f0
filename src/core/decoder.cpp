#include "decoder.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace locktrace {

// The layout is ABI: these pin it, so a change that moves a field fails to build.
static_assert(sizeof(lt_header) == 24);
static_assert(sizeof(lt_user_flock) == 24);
static_assert(sizeof(lt_kernel_lock) == 80);
static_assert(sizeof(lt_lock_call) == 208);
static_assert(offsetof(lt_lock_call, args) == 48);
static_assert(offsetof(lt_lock_call, user_flock) == LT_LOCK_CALL_FUTEX_SIZE);
static_assert(offsetof(lt_lock_call, klock) == 128);
static_assert(sizeof(lt_file_lock) == 104);
static_assert(sizeof(lt_task_exit) == 48);
static_assert(sizeof(lt_exit_call) == 32);
static_assert(sizeof(lt_fork) == 48);
static_assert(sizeof(lt_exec) == 176);
static_assert(sizeof(lt_rename) == 40);
static_assert(sizeof(lt_signal) == 64);
static_assert(sizeof(lt_reap) == 32);

std::string_view to_string(DecodeStatus status) {
  switch (status) {
    case DecodeStatus::ok: return "ok";
    case DecodeStatus::truncated: return "truncated record";
    case DecodeStatus::bad_size: return "record size does not match its header";
    case DecodeStatus::unknown_kind: return "unknown record kind";
  }
  return "?";
}

namespace {

// `kMinSize`: records may stop before their optional tail (futex lock calls);
// what is missing reads as zero. Copied straight into `out`, with sizes known at
// compile time in the common cases: a copy of variable length costs more than
// the record itself (rep movs start-up).
template <typename Record, size_t kMinSize = sizeof(Record)>
DecodeStatus copy_record(std::span<const std::byte> bytes, const lt_header& header, Event& out) {
  static_assert(std::is_trivially_copyable_v<Record> && kMinSize <= sizeof(Record));
  if (header.size < kMinSize) return DecodeStatus::truncated;
  auto* record = std::get_if<Record>(&out);
  if (!record) record = &out.emplace<Record>();
  auto* to = reinterpret_cast<std::byte*>(record);
  if (header.size >= sizeof(Record)) {
    std::memcpy(to, bytes.data(), sizeof(Record));
  } else if (header.size == kMinSize) {
    std::memcpy(to, bytes.data(), kMinSize);
    std::memset(to + kMinSize, 0, sizeof(Record) - kMinSize);
  } else {
    std::memcpy(to, bytes.data(), header.size);
    std::memset(to + header.size, 0, sizeof(Record) - header.size);
  }
  return DecodeStatus::ok;
}

}  // namespace

DecodeStatus decode_record(std::span<const std::byte> bytes, Event& out) {
  lt_header header;
  if (bytes.size() < sizeof(header)) return DecodeStatus::truncated;
  std::memcpy(&header, bytes.data(), sizeof(header));
  if (header.size > bytes.size()) return DecodeStatus::truncated;
  if (header.size < sizeof(header)) return DecodeStatus::bad_size;
  switch (header.kind) {
    case LT_EV_LOCK_CALL: {
      DecodeStatus status = copy_record<LockCall, LT_LOCK_CALL_FUTEX_SIZE>(bytes, header, out);
      if (status != DecodeStatus::ok) return status;
      // Only futex calls may stop before the file-lock fields.
      const auto& call = std::get<LockCall>(out);
      if ((call.sys == LT_SYS_FLOCK || call.sys == LT_SYS_FCNTL) && header.size < sizeof(LockCall))
        return DecodeStatus::truncated;
      return status;
    }
    case LT_EV_FILE_LOCK: return copy_record<FileLock>(bytes, header, out);
    case LT_EV_TASK_EXIT: return copy_record<TaskExit>(bytes, header, out);
    case LT_EV_EXIT_CALL: return copy_record<ExitCall>(bytes, header, out);
    case LT_EV_FORK: return copy_record<Fork>(bytes, header, out);
    case LT_EV_EXEC: return copy_record<Exec>(bytes, header, out);
    case LT_EV_RENAME: return copy_record<Rename>(bytes, header, out);
    case LT_EV_SIGNAL: return copy_record<Signal>(bytes, header, out);
    case LT_EV_REAP: return copy_record<Reap>(bytes, header, out);
    default: return DecodeStatus::unknown_kind;
  }
}

uint64_t timestamp_of(const Event& event) {
  return std::visit(
      [](const auto& e) -> uint64_t {
        if constexpr (requires { e.h.ts_ns; }) {
          return e.h.ts_ns;
        } else {
          return e.ts_ns;
        }
      },
      event);
}

}  // namespace locktrace
