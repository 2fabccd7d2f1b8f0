// One ELF file: its build id, load segments, function and object symbols, and
// where its separate debug information lives. Symbols are read on first use.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "unique_fd.hpp"

typedef struct Elf Elf;

namespace locktrace::symbols {

struct ElfSymbol {
  uint64_t address = 0;  // st_value: link-time virtual address
  uint64_t size = 0;
  std::string name;  // as in the symbol table (mangled)
};

struct LoadSegment {
  uint64_t vaddr = 0;
  uint64_t memsz = 0;
  uint64_t offset = 0;
  uint64_t filesz = 0;
  uint64_t align = 0;
  bool executable = false;
};

class ElfFile {
 public:
  // nullptr when FD does not hold an ELF file. PATH names the file in messages
  // and is where its debuglink is searched from.
  // The file is mapped into memory and FD closed: a cached binary holds no
  // descriptor, however many there are.
  static std::unique_ptr<ElfFile> open(UniqueFd fd, std::string path,
                                       std::string debug_root = "/usr/lib/debug");
  // An image copied from memory (the vdso).
  static std::unique_ptr<ElfFile> from_image(std::string name, std::span<const std::byte> image);
  ~ElfFile();
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& build_id() const { return build_id_; }  // lowercase hex, "" if none
  // The whole file, for libdw to open its own handle on.
  std::span<const std::byte> image() const;
  std::span<const LoadSegment> segments() const { return segments_; }
  // [lowest PT_LOAD vaddr rounded down to its alignment, highest segment end):
  // the link-time address range the loader maps.
  std::pair<uint64_t, uint64_t> address_range() const;
  // False for a separate debug file, whose segments hold no bytes.
  bool has_code() const;

  // The load bias (runtime address - link-time address) implied by a mapping of
  // this file at MAP_START from file offset MAP_OFFSET: 0 for a non-PIE
  // executable, the load address for PIE executables and shared libraries.
  // Two segments may share a file page (the read-only data and the RELRO part
  // of the data segment, both r--p after relocation): EXPECTED, the bias of the
  // file's other mappings, wins when it fits; then the segment whose
  // executability matches.
  std::optional<uint64_t> load_bias(uint64_t map_start, uint64_t map_offset, bool executable,
                                    std::optional<uint64_t> expected = std::nullopt) const;

  // The function or object whose [address, address + size) holds VADDR. A
  // function of size 0 reaches up to the next function.
  const ElfSymbol* function_at(uint64_t vaddr);
  const ElfSymbol* object_at(uint64_t vaddr);
  // First symbol, function or object, with this exact (mangled) name.
  const ElfSymbol* find(std::string_view name);

  // The separate debug file (by build id under the debug root, else by
  // .gnu_debuglink), "" when there is none. Searched once.
  const std::string& debug_file();

 private:
  ElfFile(Elf* elf, std::string path, std::string debug_root);
  void read_headers();
  void load_symbols();
  std::string find_debug_file() const;

  std::vector<std::byte> copied_image_;  // from_image only: what elf_ reads
  Elf* elf_ = nullptr;
  std::string path_;
  std::string debug_root_;
  std::string build_id_;
  std::string debuglink_;
  std::vector<LoadSegment> segments_;
  bool symbols_loaded_ = false;
  std::vector<ElfSymbol> functions_;  // ascending by address, one per address
  std::vector<ElfSymbol> objects_;
  std::optional<std::string> debug_file_;
};

// Reads the build id of an open ELF handle; "" when it has none.
std::string read_build_id(Elf* elf);

}  // namespace locktrace::symbols
