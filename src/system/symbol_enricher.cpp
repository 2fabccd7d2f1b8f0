#include "symbol_enricher.hpp"

#include <bpf/bpf.h>
#include <unistd.h>

#include <array>

#include <cstring>

namespace locktrace {

namespace {

template <typename T>
void append_raw(std::string& key, const T& value) {
  key.append(reinterpret_cast<const char*>(&value), sizeof value);
}

// What makes two stacks the same code path: frames by module, function and
// offset, which do not move with ASLR; an unnamed frame by its address.
std::string name_key(const std::vector<StackFrame>& frames) {
  std::string key;
  for (const auto& f : frames) {
    key += f.kernel ? 'k' : 'u';
    key += f.module;
    key += '\0';
    if (f.function.empty()) {
      append_raw(key, f.address);
    } else {
      key += f.function;
      append_raw(key, f.offset);
    }
    key += '\n';
  }
  return key;
}

}  // namespace

SymbolEnricher::SymbolEnricher(Pipeline& pipeline, int stack_map_fd)
    : pipeline_(pipeline), stack_map_fd_(stack_map_fd) {}

std::vector<uint64_t> SymbolEnricher::stack_map_ips(int32_t id) const {
  std::vector<uint64_t> ips(LT_STACK_MAX_FRAMES);
  if (id < 0 || bpf_map_lookup_elem(stack_map_fd_, &id, ips.data()) != 0) return {};
  size_t depth = 0;
  while (depth < ips.size() && ips[depth]) depth++;
  ips.resize(depth);
  return ips;
}

const std::vector<StackFrame>& SymbolEnricher::kernel_frames(int32_t id) {
  static const std::vector<StackFrame> none;
  if (id < 0) return none;
  auto it = kernel_stacks_.find(id);
  if (it == kernel_stacks_.end())
    it = kernel_stacks_.emplace(id, symbolizer_.kernel_frames(stack_map_ips(id))).first;
  return it->second;
}

uint32_t SymbolEnricher::intern(uint32_t pid, const std::vector<StackFrame>& kernel,
                                const std::vector<StackFrame>& user, uint64_t ts_ns) {
  StackTrace trace;
  trace.ts_ns = ts_ns;
  trace.frames = kernel;
  trace.frames.insert(trace.frames.end(), user.begin(), user.end());
  auto [named, added] = by_names_.emplace(name_key(trace.frames), static_cast<uint32_t>(by_names_.size() + 1));
  if (added) {
    trace.stack_id = named->second;
    describe_mappings(pid, ts_ns);
    pipeline_.push(std::move(trace));
  }
  return named->second;
}

uint32_t SymbolEnricher::unwound_stack(const lt_stack& s, std::span<const std::byte> copy) {
  auto user = symbolizer_.unwind_user_shared(s.h.pid, symbols::UserRegisters{s.ip, s.sp, s.bp}, copy);
  std::pair<uint64_t, uint64_t> key{reinterpret_cast<uintptr_t>(user.get()), static_cast<uint32_t>(s.kernel_stack_id)};
  if (auto it = by_unwind_.find(key); it != by_unwind_.end()) return it->second.stack_id;
  uint32_t id = intern(s.h.pid, kernel_frames(s.kernel_stack_id), *user, s.h.ts_ns);
  // Only an unwind the symbolizer keeps comes back as the same object.
  if (user.use_count() > 1) by_unwind_.emplace(key, Known{s.h.pid, id, std::move(user)});
  return id;
}

uint32_t SymbolEnricher::walked_stack(const lt_stack& s) {
  std::pair<uint64_t, uint64_t> key{(uint64_t{s.h.pid} << 32) | static_cast<uint32_t>(s.user_stack_id),
                                    static_cast<uint32_t>(s.kernel_stack_id)};
  if (auto it = by_walk_.find(key); it != by_walk_.end()) return it->second.stack_id;
  std::vector<uint64_t> ips = stack_map_ips(s.user_stack_id);
  if (ips.empty() && s.ip) ips.push_back(s.ip);
  uint32_t id = intern(s.h.pid, kernel_frames(s.kernel_stack_id), symbolizer_.user_frames(s.h.pid, ips), s.h.ts_ns);
  by_walk_.emplace(key, Known{s.h.pid, id, nullptr});
  return id;
}

void SymbolEnricher::prepare(const std::vector<uint32_t>& pids) {
  symbolizer_.kernel_frames({});
  // Binaries are cached by build id, whichever process maps them, and this
  // process's libraries (libc above all) are most likely the targets' too: a
  // command launched after this point finds most of its symbols loaded.
  auto self = static_cast<uint32_t>(getpid());
  std::vector<uint32_t> warm = pids;
  warm.push_back(self);
  for (uint32_t pid : warm)
    for (const auto& mapping : symbolizer_.executable_mappings(pid))
      symbolizer_.user_frames(pid, std::array{mapping.start});
  symbolizer_.forget(self);
}

std::optional<lt_stack> SymbolEnricher::parse(std::span<const std::byte> record) {
  lt_stack s;
  if (record.size() < sizeof s) {
    malformed_++;
    return std::nullopt;
  }
  std::memcpy(&s, record.data(), sizeof s);
  if (s.h.size > record.size() || s.stack_bytes > s.h.size - sizeof s) {
    malformed_++;
    return std::nullopt;
  }
  return s;
}

void SymbolEnricher::on_stack(std::span<const std::byte> record) {
  auto s = parse(record);
  if (!s) return;
  uint32_t id = s->stack_bytes > 0 ? unwound_stack(*s, record.subspan(sizeof *s, s->stack_bytes)) : walked_stack(*s);
  pipeline_.push(CallStack{s->h.ts_ns, s->h.pid, s->h.tid, id});
}

void SymbolEnricher::on_snapshot_stack(std::span<const std::byte> record, const std::vector<StackFrame>& kernel) {
  auto s = parse(record);
  if (!s) return;
  auto user = symbolizer_.unwind_user_shared(s->h.pid, symbols::UserRegisters{s->ip, s->sp, s->bp},
                                             record.subspan(sizeof *s, s->stack_bytes));
  pipeline_.push(CallStack{s->h.ts_ns, s->h.pid, s->h.tid, intern(s->h.pid, kernel, *user, s->h.ts_ns)});
}

void SymbolEnricher::name_lock(const LockCall& call) {
  // futex_waitv and futex_requeue take an array of waiters, not a futex word.
  bool names_word = call.sys == LT_SYS_FUTEX || call.sys == LT_SYS_FUTEX_WAIT || call.sys == LT_SYS_FUTEX_WAKE;
  if (!names_word || (call.flags & LT_CALL_NO_ENTRY)) return;
  uint64_t address = call.args[0];
  std::string key;
  append_raw(key, call.h.pid);
  append_raw(key, address);
  if (!named_addresses_.insert(std::move(key)).second) return;
  std::string name = symbolizer_.name_address(call.h.pid, address);
  if (!name.empty()) pipeline_.push(AddressName{call.h.ts_ns, call.h.pid, address, std::move(name)});
}

void SymbolEnricher::describe_mappings(uint32_t pid, uint64_t ts_ns) {
  if (!described_pids_.insert(pid).second) return;
  for (auto& mapping : symbolizer_.executable_mappings(pid)) {
    mapping.ts_ns = ts_ns;
    mapping.pid = pid;
    pipeline_.push(std::move(mapping));
  }
}

void SymbolEnricher::forget(uint32_t pid) {
  symbolizer_.forget(pid);
  described_pids_.erase(pid);
  auto of_pid = [&](const auto& entry) { return entry.second.pid == pid; };
  std::erase_if(by_unwind_, of_pid);
  std::erase_if(by_walk_, of_pid);
  std::erase_if(named_addresses_, [&](const std::string& key) {
    uint32_t key_pid;
    std::memcpy(&key_pid, key.data(), sizeof key_pid);
    return key_pid == pid;
  });
}

}  // namespace locktrace
