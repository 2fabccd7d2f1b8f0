// Live runs only: turns the kernel's stack records (lt_stack) into numbered,
// resolved stacks and names futex words after the objects that hold them. What
// it resolves enters the stream as metadata (StackTrace once per distinct stack,
// then a CallStack per lock call; AddressName; Mapping), so a replay on another
// machine shows the same names without the binaries.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
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

  // Loads what the first stacks would otherwise wait for (the kernel's symbols,
  // the targets' binaries) before events flow: a consumer stalled for a tenth
  // of a second at the start loses records to a full ring buffer.
  void prepare(const std::vector<uint32_t>& pids);
  // One lt_stack record with its stack copy, straight from the ring buffer.
  void on_stack(std::span<const std::byte> record);
  // A stack user space captured itself (the attach snapshot): an lt_stack record
  // with its copy, and kernel frames already named (from /proc/PID/task/TID/stack).
  void on_snapshot_stack(std::span<const std::byte> record, const std::vector<StackFrame>& kernel);
  // Names the lock of a futex call, once per (process, address).
  void name_lock(const LockCall& call);
  // The process exec'd or exited: its mappings are no longer what they were.
  void forget(uint32_t pid);

  uint64_t malformed() const { return malformed_; }

 private:
  const std::vector<StackFrame>& kernel_frames(int32_t id);
  std::vector<uint64_t> stack_map_ips(int32_t id) const;
  // The id of a stack from its two halves; a new one is sent as a StackTrace.
  uint32_t intern(uint32_t pid, const std::vector<StackFrame>& kernel, const std::vector<StackFrame>& user,
                  uint64_t ts_ns);
  // The fixed part of a well-formed record; nullopt (and counted) otherwise.
  std::optional<lt_stack> parse(std::span<const std::byte> record);
  uint32_t unwound_stack(const lt_stack& s, std::span<const std::byte> copy);
  uint32_t walked_stack(const lt_stack& s);
  void describe_mappings(uint32_t pid, uint64_t ts_ns);

  struct PairHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& k) const {
      return std::hash<uint64_t>{}(k.first * 0x9e3779b97f4a7c15ull ^ k.second);
    }
  };
  struct Known {
    uint32_t pid;
    uint32_t stack_id;
    std::shared_ptr<const std::vector<StackFrame>> user;  // keeps the key's address unique
  };

  Pipeline& pipeline_;
  int stack_map_fd_;
  symbols::Symbolizer symbolizer_;
  // Stack map ids are never reused while the map lives (no BPF_F_REUSE_STACKID).
  std::unordered_map<int32_t, std::vector<StackFrame>> kernel_stacks_;
  // The cheap paths for a stack seen before, without comparing frames:
  // (the symbolizer's cached unwind, kernel id), and ((pid, user id), kernel id).
  std::unordered_map<std::pair<uint64_t, uint64_t>, Known, PairHash> by_unwind_;
  std::unordered_map<std::pair<uint64_t, uint64_t>, Known, PairHash> by_walk_;
  // The frames' names -> stack id: the same code path in two processes is one stack.
  std::unordered_map<std::string, uint32_t> by_names_;
  std::unordered_set<std::string> named_addresses_;  // (pid, address)
  std::unordered_set<uint32_t> described_pids_;       // mappings sent
  uint64_t malformed_ = 0;
};

}  // namespace locktrace
