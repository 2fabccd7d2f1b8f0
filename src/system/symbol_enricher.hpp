// Live runs only: turns the kernel's stack records (lt_stack) into numbered,
// resolved stacks and names futex words after the objects that hold them. What
// it resolves enters the stream as metadata (StackTrace once per distinct stack,
// then a CallStack per lock call; AddressName; Mapping), so a replay on another
// machine shows the same names without the binaries.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pipeline.hpp"
#include "symbolizer.hpp"

namespace locktrace {

class SymbolEnricher {
 public:
  SymbolEnricher(Pipeline& pipeline, int stack_map_fd);

  // One lt_stack record with its stack copy, straight from the ring buffer.
  void on_stack(std::span<const std::byte> record);
  // Names the lock of a futex call, once per (process, address).
  void name_lock(const LockCall& call);
  // The process exec'd or exited: its mappings are no longer what they were.
  void forget(uint32_t pid);

  uint64_t malformed() const { return malformed_; }

 private:
  const std::vector<StackFrame>& kernel_frames(int32_t id);
  std::vector<uint64_t> stack_map_ips(int32_t id) const;
  uint32_t stack_id(uint32_t pid, int32_t kernel_id, const std::vector<uint64_t>& user_ips, uint64_t ts_ns);
  void describe_mappings(uint32_t pid, uint64_t ts_ns);

  Pipeline& pipeline_;
  int stack_map_fd_;
  symbols::Symbolizer symbolizer_;
  // Stack map ids are never reused while the map lives (no BPF_F_REUSE_STACKID).
  std::unordered_map<int32_t, std::vector<StackFrame>> kernel_stacks_;
  // (pid, kernel id, user addresses) -> stack id: the cheap path for a stack seen before.
  std::unordered_map<std::string, uint32_t> by_addresses_;
  // The frames' names -> stack id: the same code path in two processes is one stack.
  std::unordered_map<std::string, uint32_t> by_names_;
  std::unordered_set<std::string> named_addresses_;  // (pid, address)
  std::unordered_set<uint32_t> described_pids_;       // mappings sent
  uint64_t malformed_ = 0;
};

}  // namespace locktrace
