// Addresses of traced processes and of the kernel turned into names: stack
// frames (by frame-pointer walk from the kernel, or unwound here with DWARF CFI
// from a copy of the stack), and lock addresses. Everything is cached: per
// process its mappings and unwinding session, per binary its symbols and line
// tables, per call path its unwound frames. One consumer thread; no global state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "binary_cache.hpp"
#include "events.hpp"
#include "kernel_symbols.hpp"
#include "registers.hpp"

namespace locktrace::symbols {

struct MappedRegion;

class Symbolizer {
 public:
  explicit Symbolizer(std::string proc_root = "/proc");  // tests may point it elsewhere
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Kernel frames (kallsyms), module "[kernel]", kernel = true.
  std::vector<StackFrame> kernel_frames(std::span<const uint64_t> ips);
  // User frames of a frame-pointer walk as bpf_get_stackid(BPF_F_USER_STACK)
  // gives them: ips[0] is the exact ip, the rest are return addresses (looked up
  // at address - 1, reported as given). A 0 ends the stack.
  std::vector<StackFrame> user_frames(uint32_t pid, std::span<const uint64_t> ips);
  // User frames by DWARF CFI unwinding of a copy of the top of the thread's
  // stack taken at regs.sp (stack[0] is the byte at regs.sp), the registers
  // being the thread's user registers at syscall entry (x86_64). Memory outside
  // the copy is unreadable: unwinding stops there.
  std::vector<StackFrame> unwind_user(uint32_t pid, const UserRegisters& regs,
                                      std::span<const std::byte> stack, size_t max_frames = 127);
  // unwind_user for the hot path: the frames shared with the cache instead of
  // copied (a copy costs an allocation per name), the same object for every
  // hit on one cached call path.
  std::shared_ptr<const std::vector<StackFrame>> unwind_user_shared(
      uint32_t pid, const UserRegisters& regs, std::span<const std::byte> stack,
      size_t max_frames = 127);
  // A data address named: the global/static object symbol covering it
  // ("g_lock", "g_pool+0x10"), else the mapping: "libfoo.so.1+0x1234" (file
  // basename + file offset), "[heap]", "[stack]", "[anon]"; "" when no mapping
  // covers it.
  std::string name_address(uint32_t pid, uint64_t address);
  // The process's executable file-backed mappings with build ids (for recordings).
  std::vector<Mapping> executable_mappings(uint32_t pid);
  // exec or exit: the process's mappings changed or are gone.
  void forget(uint32_t pid);

  struct Stats {
    uint64_t unwinds = 0;          // unwind_user calls
    uint64_t unwind_hits = 0;      // answered from the call-path cache
    uint64_t maps_reads = 0;       // /proc/PID/maps parsed
    uint64_t unwind_sessions = 0;  // libdw sessions built
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Process;
  Process* process(uint32_t pid);
  bool refresh(Process& process, uint32_t pid);
  const MappedRegion* region_at(Process& process, uint32_t pid, uint64_t address);
  StackFrame user_frame(Process& process, uint32_t pid, uint64_t address, bool exact);

  std::string proc_root_;
  BinaryCache binaries_;
  std::optional<KernelSymbols> kernel_;
  std::unordered_map<uint32_t, std::unique_ptr<Process>> processes_;
  Stats stats_;
};

}  // namespace locktrace::symbols
