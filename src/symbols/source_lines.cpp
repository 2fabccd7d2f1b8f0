#include "source_lines.hpp"

#include <elfutils/libdwfl.h>

#include "elf_file.hpp"

namespace locktrace::symbols {

SourceLines::SourceLines(ElfFile& elf) : dwfl_(new_dwfl_session()) {
  if (!dwfl_) return;
  dwfl_report_begin(dwfl_.get());
  // At bias 0 the module's addresses are the binary's own link-time addresses.
  module_ = report_elf(dwfl_.get(), elf, elf.path().c_str(), 0);
  dwfl_report_end(dwfl_.get(), nullptr, nullptr);
}

std::optional<SourceLine> SourceLines::at(uint64_t vaddr) {
  if (module_ == nullptr) return std::nullopt;
  Dwfl_Line* line = dwfl_module_getsrc(module_, vaddr);
  if (line == nullptr) return std::nullopt;
  int lineno = 0;
  const char* file = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr);
  if (file == nullptr || lineno <= 0) return std::nullopt;
  return SourceLine{file, static_cast<uint32_t>(lineno)};
}

}  // namespace locktrace::symbols
