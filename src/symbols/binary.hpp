// One binary as the symbolizer uses it: its ELF file, its line table on first
// need, and every code address already resolved in it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "elf_file.hpp"
#include "source_lines.hpp"

namespace locktrace::symbols {

struct CodeLocation {
  std::string function;  // demangled; "" when no symbol covers the address
  uint64_t function_address = 0;
  std::string file;
  uint32_t line = 0;
};

class Binary {
 public:
  explicit Binary(std::unique_ptr<ElfFile> elf) : elf_(std::move(elf)) {}

  ElfFile& elf() { return *elf_; }
  // The function and source line at link-time address VADDR, cached.
  const CodeLocation& code_at(uint64_t vaddr);
  // "g_pool_lock", "g_pool+0x10": the object symbol holding VADDR, or "".
  std::string object_name(uint64_t vaddr);

 private:
  std::unique_ptr<ElfFile> elf_;
  std::unique_ptr<SourceLines> lines_;
  std::unordered_map<uint64_t, CodeLocation> code_;
  std::unordered_map<uint64_t, std::string> object_names_;  // by symbol address, demangled
};

}  // namespace locktrace::symbols
