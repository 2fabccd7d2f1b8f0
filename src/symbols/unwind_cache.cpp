#include "unwind_cache.hpp"

#include <cstring>

namespace locktrace::symbols {

namespace {

int64_t bp_offset(const UserRegisters& regs, std::span<const std::byte> stack) {
  // Code with frame pointers finds its frame through rbp, so where rbp points
  // is part of the path; anywhere outside the copy it is unusable anyway.
  if (regs.bp < regs.sp || regs.bp - regs.sp >= stack.size()) return -1;
  return static_cast<int64_t>(regs.bp - regs.sp);
}

bool holds(std::span<const std::byte> stack, const StackSlot& slot) {
  if (slot.offset + sizeof slot.value > stack.size()) return false;
  uint64_t value;
  std::memcpy(&value, stack.data() + slot.offset, sizeof value);
  return value == slot.value;
}

}  // namespace

UnwindCache::Frames UnwindCache::find(const UserRegisters& regs, std::span<const std::byte> stack,
                                      size_t max_frames) const {
  auto it = by_ip_.find(regs.ip);
  if (it == by_ip_.end()) return nullptr;
  const int64_t bp = bp_offset(regs, stack);
  // Most recent first: a hot path was usually seen last.
  for (auto entry = it->second.rbegin(); entry != it->second.rend(); ++entry) {
    if (stack.size() < entry->min_stack_bytes || stack.size() > entry->max_stack_bytes ||
        entry->max_frames != max_frames || entry->bp_offset != bp)
      continue;
    bool same = true;
    for (const StackSlot& slot : entry->depends_on) {
      if (!holds(stack, slot)) {
        same = false;
        break;
      }
    }
    if (same) return entry->frames;
  }
  return nullptr;
}

void UnwindCache::insert(const UserRegisters& regs, std::span<const std::byte> stack,
                         size_t max_frames, const UnwindResult& unwound, Frames frames) {
  if (size_ >= capacity_) clear();
  auto& entries = by_ip_[regs.ip];
  if (entries.size() >= kPathsPerIp) {
    entries.erase(entries.begin());
    --size_;
  }
  ++size_;
  entries.push_back(Entry{unwound.min_stack_bytes, unwound.max_stack_bytes, max_frames,
                          bp_offset(regs, stack), unwound.depends_on, std::move(frames)});
}

}  // namespace locktrace::symbols
