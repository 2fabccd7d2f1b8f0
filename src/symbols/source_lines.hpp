// File and line of an address in one binary, from its DWARF line table (in
// the file itself or its separate debug file), through libdw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "libdw_modules.hpp"

namespace locktrace::symbols {

struct SourceLine {
  std::string file;
  uint32_t line = 0;
};

class SourceLines {
 public:
  explicit SourceLines(ElfFile& elf);
  // VADDR is a link-time address of the binary; nullopt without line information.
  std::optional<SourceLine> at(uint64_t vaddr);

 private:
  DwflPtr dwfl_;
  Dwfl_Module* module_ = nullptr;
};

}  // namespace locktrace::symbols
