#include "symbolizer.hpp"

#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "dwarf_unwinder.hpp"
#include "process_image.hpp"
#include "unwind_cache.hpp"

namespace locktrace::symbols {

namespace {

using Clock = std::chrono::steady_clock;
// Processes map new libraries; an address outside every known mapping re-reads
// the maps, but not more often than this per process.
constexpr auto kMapsRereadInterval = std::chrono::milliseconds(100);

std::string basename_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A frame nothing is known about but its address.
StackFrame bare_frame(uint64_t address) {
  StackFrame frame;
  frame.address = address;
  return frame;
}

}  // namespace

struct Symbolizer::Process {
  Process(ProcessImage loaded, Clock::time_point now) : image(std::move(loaded)), loaded_at(now) {}

  ProcessImage image;
  Clock::time_point loaded_at;
  uint64_t code_generation = 0;             // bumped whenever the executable mappings change
  std::unique_ptr<DwarfUnwinder> unwinder;  // built on the first unwind
  UnwindCache unwinds;
  UnwindResult unwound;  // reused per unwind
};

Symbolizer::Symbolizer(std::string proc_root) : proc_root_(std::move(proc_root)) {}

Symbolizer::~Symbolizer() = default;

Symbolizer::Process* Symbolizer::process(uint32_t pid) {
  if (auto it = processes_.find(pid); it != processes_.end()) return it->second.get();
  auto image = ProcessImage::load(proc_root_, pid, binaries_);
  if (!image) return nullptr;
  ++stats_.maps_reads;
  auto& slot = processes_[pid];
  slot = std::make_unique<Process>(std::move(*image), Clock::now());
  return slot.get();
}

bool Symbolizer::refresh(Process& process, uint32_t pid) {
  auto now = Clock::now();
  if (now - process.loaded_at < kMapsRereadInterval) return false;
  process.loaded_at = now;
  auto image = ProcessImage::load(proc_root_, pid, binaries_);
  if (!image) return false;
  ++stats_.maps_reads;
  if (!image->same_code(process.image)) {
    // The unwinding session and the cached stacks describe the old code.
    process.unwinder.reset();
    process.unwinds.clear();
    ++process.code_generation;
  }
  process.image = std::move(*image);
  return true;
}

const MappedRegion* Symbolizer::region_at(Process& process, uint32_t pid, uint64_t address) {
  if (const MappedRegion* region = process.image.find(address)) return region;
  if (!refresh(process, pid)) return nullptr;
  return process.image.find(address);
}

StackFrame Symbolizer::user_frame(Process& process, uint32_t pid, uint64_t address, bool exact) {
  StackFrame frame = bare_frame(address);
  // A return address may lie just past a call that ends its function.
  uint64_t lookup = exact ? address : address - 1;
  const MappedRegion* region = region_at(process, pid, lookup);
  if (region == nullptr) return frame;
  frame.module = region->map.display_name();
  if (!region->binary) return frame;
  const CodeLocation& location = region->binary->code_at(lookup - region->bias);
  frame.function = location.function;
  if (!location.function.empty()) frame.offset = address - region->bias - location.function_address;
  frame.file = location.file;
  frame.line = location.line;
  return frame;
}

std::vector<StackFrame> Symbolizer::kernel_frames(std::span<const uint64_t> ips) {
  if (!kernel_) kernel_ = KernelSymbols::load(proc_root_ + "/kallsyms");
  std::vector<StackFrame> frames;
  frames.reserve(ips.size());
  for (size_t i = 0; i < ips.size() && ips[i] != 0; ++i) {
    StackFrame& frame = frames.emplace_back();
    frame.address = ips[i];
    frame.kernel = true;
    frame.module = "[kernel]";
    if (const auto* symbol = kernel_->find(i == 0 ? ips[i] : ips[i] - 1)) {
      frame.function = symbol->name;
      frame.offset = ips[i] - symbol->address;
    }
  }
  return frames;
}

std::vector<StackFrame> Symbolizer::user_frames(uint32_t pid, std::span<const uint64_t> ips) {
  std::vector<StackFrame> frames;
  frames.reserve(ips.size());
  Process* p = process(pid);
  for (size_t i = 0; i < ips.size() && ips[i] != 0; ++i) {
    if (p != nullptr)
      frames.push_back(user_frame(*p, pid, ips[i], i == 0));
    else
      frames.push_back(bare_frame(ips[i]));
  }
  return frames;
}

std::vector<StackFrame> Symbolizer::unwind_user(uint32_t pid, const UserRegisters& regs,
                                                std::span<const std::byte> stack,
                                                size_t max_frames) {
  return *unwind_user_shared(pid, regs, stack, max_frames);
}

std::shared_ptr<const std::vector<StackFrame>> Symbolizer::unwind_user_shared(
    uint32_t pid, const UserRegisters& regs, std::span<const std::byte> stack, size_t max_frames) {
  ++stats_.unwinds;
  Process* p = process(pid);
  if (p == nullptr || max_frames == 0) {
    auto frames = std::make_shared<std::vector<StackFrame>>();
    if (max_frames > 0) frames->push_back(bare_frame(regs.ip));
    return frames;
  }
  // Code the process mapped since its maps were read.
  if (p->image.find(regs.ip) == nullptr) refresh(*p, pid);
  if (auto cached = p->unwinds.find(regs, stack, max_frames)) {
    ++stats_.unwind_hits;
    return cached;
  }
  if (!p->unwinder) {
    p->unwinder = std::make_unique<DwarfUnwinder>(pid, p->image);
    ++stats_.unwind_sessions;
  }
  p->unwinder->unwind(regs, stack, max_frames, p->unwound);
  uint64_t generation = p->code_generation;
  auto frames = std::make_shared<std::vector<StackFrame>>();
  frames->reserve(p->unwound.frames.size());
  for (const UnwoundFrame& u : p->unwound.frames)
    frames->push_back(user_frame(*p, pid, u.pc, u.exact));
  // Symbolizing re-read the maps and found new code: the session that unwound
  // this is gone, and so is its cache.
  if (generation == p->code_generation)
    p->unwinds.insert(regs, stack, max_frames, p->unwound, frames);
  return frames;
}

std::string Symbolizer::name_address(uint32_t pid, uint64_t address) {
  Process* p = process(pid);
  if (p == nullptr) return {};
  const MappedRegion* region = region_at(*p, pid, address);
  if (region == nullptr) return {};
  if (region->binary) {
    std::string name = region->binary->object_name(address - region->bias);
    if (!name.empty()) return name;
  }
  if (!region->map.file_backed()) return region->map.display_name();
  char offset[24];
  std::snprintf(offset, sizeof offset, "+0x%" PRIx64,
                address - region->map.start + region->map.offset);
  return basename_of(region->map.path) + offset;
}

std::vector<Mapping> Symbolizer::executable_mappings(uint32_t pid) {
  std::vector<Mapping> mappings;
  Process* p = process(pid);
  if (p == nullptr) return mappings;
  refresh(*p, pid);
  for (const MappedRegion& region : p->image.regions()) {
    if (!region.map.executable || !region.map.file_backed()) continue;
    Mapping& mapping = mappings.emplace_back();
    mapping.pid = pid;
    mapping.start = region.map.start;
    mapping.end = region.map.end;
    mapping.file_offset = region.map.offset;
    mapping.path = region.map.display_name();
    if (region.binary) mapping.build_id = region.binary->elf().build_id();
  }
  return mappings;
}

void Symbolizer::forget(uint32_t pid) { processes_.erase(pid); }

}  // namespace locktrace::symbols
