// Kernel function symbols from /proc/kallsyms, for kernel stack frames.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace locktrace::symbols {

class KernelSymbols {
 public:
  struct Symbol {
    uint64_t address = 0;
    std::string name;
    std::string module;  // "" for vmlinux, else the module's name ("ext4")
  };

  // Text symbols (t, T, w, W) only. A kallsyms read without the privilege to see
  // addresses (every address 0) yields no symbols.
  static KernelSymbols parse(std::string_view kallsyms);
  static KernelSymbols load(const std::string& path);

  // The function containing ADDRESS: the last symbol at or below it. kallsyms has
  // no sizes, so a symbol reaches up to the next one; past the last symbol nothing
  // is found.
  const Symbol* find(uint64_t address) const;
  size_t size() const { return symbols_.size(); }

 private:
  std::vector<Symbol> symbols_;  // ascending by address
};

}  // namespace locktrace::symbols
