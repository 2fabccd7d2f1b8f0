#include "binary.hpp"

#include <cstdio>

#include "demangle.hpp"

namespace locktrace::symbols {

namespace {

std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

const CodeLocation& Binary::code_at(uint64_t vaddr) {
  auto [it, inserted] = code_.try_emplace(vaddr);
  if (!inserted) return it->second;
  CodeLocation& location = it->second;
  if (const ElfSymbol* symbol = elf_->function_at(vaddr)) {
    location.function = demangle(symbol->name);
    location.function_address = symbol->address;
  }
  if (!lines_) lines_ = std::make_unique<SourceLines>(*elf_);
  if (auto line = lines_->at(vaddr)) {
    location.file = std::move(line->file);
    location.line = line->line;
  }
  return location;
}

std::string Binary::object_name(uint64_t vaddr) {
  const ElfSymbol* symbol = elf_->object_at(vaddr);
  if (symbol == nullptr) return {};
  auto [it, inserted] = object_names_.try_emplace(symbol->address);
  if (inserted) it->second = demangle(symbol->name);
  if (vaddr == symbol->address) return it->second;
  return it->second + "+" + hex(vaddr - symbol->address);
}

}  // namespace locktrace::symbols
