// Unwound stacks remembered by what determines them, so that a call path seen
// before costs a few word comparisons instead of a DWARF unwind: per ip, the
// stacks unwound from it, each with the words its unwinding depended on (the
// return-address slots). A new copy with the same ip, frame pointer position
// and those words, and a size that serves the same reads, is the same call
// path, whichever thread it comes from; stale return addresses elsewhere in
// the copy do not matter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "dwarf_unwinder.hpp"
#include "events.hpp"
#include "registers.hpp"

namespace locktrace::symbols {

class UnwindCache {
 public:
  explicit UnwindCache(size_t capacity = 16384) : capacity_(capacity) {}

  using Frames = std::shared_ptr<const std::vector<StackFrame>>;

  // nullptr when this path was not seen.
  Frames find(const UserRegisters& regs, std::span<const std::byte> stack, size_t max_frames) const;
  // When full, the cache starts over; an ip keeps its most recent paths.
  void insert(const UserRegisters& regs, std::span<const std::byte> stack, size_t max_frames,
              const UnwindResult& unwound, Frames frames);
  void clear() {
    by_ip_.clear();
    size_ = 0;
  }
  size_t size() const { return size_; }

 private:
  struct Entry {
    size_t min_stack_bytes = 0;
    size_t max_stack_bytes = 0;
    size_t max_frames = 0;
    int64_t bp_offset = -1;  // bp - sp when bp points into the copy, else -1
    std::vector<StackSlot> depends_on;
    Frames frames;
  };
  static constexpr size_t kPathsPerIp = 32;

  size_t capacity_;
  size_t size_ = 0;
  std::unordered_map<uint64_t, std::vector<Entry>> by_ip_;
};

}  // namespace locktrace::symbols
