// DWARF CFI unwinding (.eh_frame, else .debug_frame) of a copy of the top of a
// thread's stack, with libdw: one session per process, its modules reported
// from the process's mappings, the stack served from the copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "libdw_modules.hpp"
#include "process_image.hpp"
#include "registers.hpp"

typedef struct Dwfl_Thread Dwfl_Thread;
typedef struct Dwfl_Frame Dwfl_Frame;

namespace locktrace::symbols {

struct UnwoundFrame {
  uint64_t pc = 0;
  bool exact = false;  // the pc itself (innermost or signal frame), not a return address
};

// A word of the stack copy: its offset from sp and its value.
struct StackSlot {
  uint32_t offset = 0;
  uint64_t value = 0;
  bool operator==(const StackSlot&) const = default;
};

struct UnwindResult {
  std::vector<UnwoundFrame> frames;  // innermost first, frames[0].pc == regs.ip
  // The words the frames follow from: where each return address was read and,
  // when unwinding stopped before the frame limit, the zero or code address the
  // failed last step read. Another copy with the same ip, size and these words
  // unwinds to the same frames; saved registers and stale slots do not matter.
  std::vector<StackSlot> depends_on;
  // The copy sizes that unwind the same: every read within, every refused read
  // still outside.
  size_t min_stack_bytes = 0;
  size_t max_stack_bytes = SIZE_MAX;
};

class DwarfUnwinder {
 public:
  // IMAGE's binaries must outlive the unwinder.
  DwarfUnwinder(uint32_t pid, const ProcessImage& image);
  // libdw holds a pointer to the unwinder.
  DwarfUnwinder(const DwarfUnwinder&) = delete;
  DwarfUnwinder& operator=(const DwarfUnwinder&) = delete;

  // Stops at MAX_FRAMES, at a read outside STACK (STACK[0] is the byte at
  // REGS.sp), or where neither CFI nor the frame-pointer fallback finds a caller.
  void unwind(const UserRegisters& regs, std::span<const std::byte> stack, size_t max_frames,
              UnwindResult& out);

 private:
  static bool read_word(Dwfl* dwfl, uint64_t address, uint64_t* result, void* arg);
  static bool set_initial_registers(Dwfl_Thread* thread, void* arg);
  static int on_frame(Dwfl_Frame* frame, void* arg);
  void collect_dependencies(UnwindResult& out) const;

  uint32_t pid_;
  DwflPtr dwfl_;
  bool attached_ = false;
  // Per call: what the callbacks serve and fill.
  UserRegisters regs_;
  std::span<const std::byte> stack_;
  size_t max_frames_ = 0;
  UnwindResult* out_ = nullptr;
  std::vector<StackSlot> reads_;      // every word libdw read, in order
  std::vector<size_t> reads_before_;  // per frame: reads_.size() when it was reported
};

}  // namespace locktrace::symbols
