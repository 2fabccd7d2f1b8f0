#include "symbol_enricher.hpp"

#include <bpf/bpf.h>

#include <cstring>


namespace locktrace {

namespace {

template <typename T>
void append_raw(std::string& key, const T& value) {
  key.append(reinterpret_cast<const char*>(&value), sizeof value);
}

// What makes two stacks the same code path: kernel addresses (one kernel), and
// user frames by module, function and offset, which do not move with ASLR.
std::string name_key(const std::vector<StackFrame>& frames) {
  std::string key;
  for (const auto& f : frames) {
    if (f.kernel || f.function.empty()) {
      append_raw(key, f.address);
      key += f.kernel ? 'k' : 'u';
      key += f.module;
    } else {
      key += f.module;
      key += '\0';
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
  auto it = kernel_stacks_.find(id);
  if (it == kernel_stacks_.end())
    it = kernel_stacks_.emplace(id, symbolizer_.kernel_frames(stack_map_ips(id))).first;
  return it->second;
}

uint32_t SymbolEnricher::stack_id(uint32_t pid, int32_t kernel_id, const std::vector<uint64_t>& user_ips,
                                  uint64_t ts_ns) {
  std::string address_key;
  append_raw(address_key, pid);
  append_raw(address_key, kernel_id);
  for (uint64_t ip : user_ips) append_raw(address_key, ip);
  if (auto it = by_addresses_.find(address_key); it != by_addresses_.end()) return it->second;

  StackTrace trace;
  trace.ts_ns = ts_ns;
  if (kernel_id >= 0) trace.frames = kernel_frames(kernel_id);
  auto user = symbolizer_.user_frames(pid, user_ips);
  trace.frames.insert(trace.frames.end(), std::make_move_iterator(user.begin()),
                      std::make_move_iterator(user.end()));
  auto [named, added] = by_names_.emplace(name_key(trace.frames), static_cast<uint32_t>(by_names_.size() + 1));
  if (added) {
    trace.stack_id = named->second;
    describe_mappings(pid, ts_ns);
    pipeline_.push(trace);
  }
  by_addresses_.emplace(std::move(address_key), named->second);
  return named->second;
}

void SymbolEnricher::on_stack(std::span<const std::byte> record) {
  lt_stack s;
  if (record.size() < sizeof s) {
    malformed_++;
    return;
  }
  std::memcpy(&s, record.data(), sizeof s);
  if (s.h.size > record.size() || s.stack_bytes > s.h.size - sizeof s) {
    malformed_++;
    return;
  }
  std::vector<uint64_t> user_ips;
  if (s.stack_bytes > 0) {
    symbols::UserRegisters regs{s.ip, s.sp, s.bp};
    user_ips = symbolizer_.unwind_user_ips(s.h.pid, regs, record.subspan(sizeof s, s.stack_bytes));
  } else {
    user_ips = stack_map_ips(s.user_stack_id);
  }
  if (user_ips.empty() && s.ip) user_ips.push_back(s.ip);
  pipeline_.push(CallStack{s.h.ts_ns, s.h.pid, s.h.tid, stack_id(s.h.pid, s.kernel_stack_id, user_ips, s.h.ts_ns)});
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
  std::erase_if(by_addresses_, [&](const auto& entry) {
    uint32_t key_pid;
    std::memcpy(&key_pid, entry.first.data(), sizeof key_pid);
    return key_pid == pid;
  });
  std::erase_if(named_addresses_, [&](const std::string& key) {
    uint32_t key_pid;
    std::memcpy(&key_pid, key.data(), sizeof key_pid);
    return key_pid == pid;
  });
}

}  // namespace locktrace
