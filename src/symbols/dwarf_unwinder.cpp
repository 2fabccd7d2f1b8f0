#include "dwarf_unwinder.hpp"

#include <elfutils/libdwfl.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <set>
#include <utility>

namespace locktrace::symbols {

namespace {

// x86_64 DWARF register numbers.
constexpr int kDwarfRbp = 6;

pid_t only_thread(Dwfl*, void*, void**) { return 0; }

bool any_thread(Dwfl*, pid_t, void* arg, void** thread_arg) {
  *thread_arg = arg;
  return true;
}

}  // namespace

DwarfUnwinder::DwarfUnwinder(uint32_t pid, const ProcessImage& image)
    : pid_(pid), dwfl_(new_dwfl_session()) {
  if (!dwfl_) return;
  dwfl_report_begin(dwfl_.get());
  std::set<std::pair<Binary*, uint64_t>> reported;
  for (const MappedRegion& region : image.regions()) {
    if (!region.binary || !region.map.executable) continue;
    if (!reported.emplace(region.binary.get(), region.bias).second) continue;
    std::string name = region.map.display_name();
    report_elf(dwfl_.get(), region.binary->elf(), name.c_str(), region.bias);
  }
  dwfl_report_end(dwfl_.get(), nullptr, nullptr);

  static const Dwfl_Thread_Callbacks kThreadCallbacks = {
      .next_thread = only_thread,
      .get_thread = any_thread,
      .memory_read = read_word,
      .set_initial_registers = set_initial_registers,
      .detach = nullptr,
      .thread_detach = nullptr,
  };
  attached_ =
      dwfl_attach_state(dwfl_.get(), nullptr, static_cast<pid_t>(pid_), &kThreadCallbacks, this);
}

void DwarfUnwinder::unwind(const UserRegisters& regs, std::span<const std::byte> stack,
                           size_t max_frames, UnwindResult& out) {
  out.frames.clear();
  out.depends_on.clear();
  out.min_stack_bytes = 0;
  out.max_stack_bytes = SIZE_MAX;
  if (max_frames == 0) return;
  if (attached_) {
    regs_ = regs;
    stack_ = stack;
    max_frames_ = max_frames;
    out_ = &out;
    reads_.clear();
    reads_before_.clear();
    dwfl_getthread_frames(dwfl_.get(), static_cast<pid_t>(pid_), on_frame, this);
    out_ = nullptr;
    stack_ = {};
    collect_dependencies(out);
  }
  // libdw reports nothing when even the first frame fails (no module there).
  if (out.frames.empty()) out.frames.push_back({regs.ip, true});
}

void DwarfUnwinder::collect_dependencies(UnwindResult& out) const {
  // The reads after frame k was reported and before frame k + 1 are the step
  // from k to k + 1.
  const size_t n = out.frames.size();
  for (size_t k = 0; k < n; ++k) {
    auto begin = reads_.begin() + static_cast<ptrdiff_t>(reads_before_[k]);
    auto end =
        k + 1 < n ? reads_.begin() + static_cast<ptrdiff_t>(reads_before_[k + 1]) : reads_.end();
    if (k + 1 < n) {
      // The step's return address; saved registers read on the way do not matter.
      uint64_t next_pc = out.frames[k + 1].pc;
      auto slot = std::find_if(std::make_reverse_iterator(end), std::make_reverse_iterator(begin),
                               [&](const StackSlot& s) { return s.value == next_pc; });
      if (slot != std::make_reverse_iterator(begin))
        out.depends_on.push_back(*slot);
      else
        out.depends_on.insert(out.depends_on.end(), begin, end);  // not a plain return
    } else if (n < max_frames_) {
      // The step that failed: a zero or a code address there would have gone on.
      for (auto it = begin; it != end; ++it)
        if (it->value == 0 || dwfl_addrmodule(dwfl_.get(), it->value) != nullptr)
          out.depends_on.push_back(*it);
    }
  }
}

bool DwarfUnwinder::read_word(Dwfl*, uint64_t address, uint64_t* result, void* arg) {
  auto* self = static_cast<DwarfUnwinder*>(arg);
  UnwindResult& out = *self->out_;
  if (address < self->regs_.sp) return false;
  uint64_t offset = address - self->regs_.sp;
  if (offset + sizeof *result > self->stack_.size()) {
    // A copy reaching this word would unwind further.
    if (offset < SIZE_MAX - sizeof *result)
      out.max_stack_bytes = std::min<size_t>(out.max_stack_bytes, offset + sizeof *result - 1);
    return false;
  }
  std::memcpy(result, self->stack_.data() + offset, sizeof *result);
  self->reads_.push_back({static_cast<uint32_t>(offset), *result});
  out.min_stack_bytes = std::max<size_t>(out.min_stack_bytes, offset + sizeof *result);
  return true;
}

bool DwarfUnwinder::set_initial_registers(Dwfl_Thread* thread, void* arg) {
  const auto* self = static_cast<const DwarfUnwinder*>(arg);
  const Dwarf_Word rbp_rsp[2] = {self->regs_.bp, self->regs_.sp};
  if (!dwfl_thread_state_registers(thread, kDwarfRbp, 2, rbp_rsp)) return false;
  dwfl_thread_state_register_pc(thread, self->regs_.ip);
  return true;
}

int DwarfUnwinder::on_frame(Dwfl_Frame* frame, void* arg) {
  auto* self = static_cast<DwarfUnwinder*>(arg);
  // Asking whether a frame is an activation unwinds it (its caller might be a
  // signal frame): the step from this frame reads from here on.
  size_t reads_before = self->reads_.size();
  Dwarf_Addr pc = 0;
  bool activation = false;
  if (!dwfl_frame_pc(frame, &pc, &activation) || pc == 0) return DWARF_CB_ABORT;
  self->out_->frames.push_back({pc, activation});
  self->reads_before_.push_back(reads_before);
  return self->out_->frames.size() >= self->max_frames_ ? DWARF_CB_ABORT : DWARF_CB_OK;
}

}  // namespace locktrace::symbols
