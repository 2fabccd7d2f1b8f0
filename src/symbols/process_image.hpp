// One process's address space as the symbolizer sees it: its mappings, each
// bound to the binary mapped there and that binary's load bias.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "binary_cache.hpp"
#include "process_maps.hpp"

namespace locktrace::symbols {

struct MappedRegion {
  MapEntry map;
  std::shared_ptr<Binary> binary;  // null: anonymous memory, not ELF, unreadable
  uint64_t bias = 0;               // runtime address - link-time address in BINARY
};

class ProcessImage {
 public:
  // Reads PROC_ROOT/PID/maps and opens every mapped file (through map_files when
  // allowed, so deleted files and other mount namespaces work). nullopt when the
  // process is gone.
  static std::optional<ProcessImage> load(const std::string& proc_root, uint32_t pid,
                                          BinaryCache& binaries);

  const MappedRegion* find(uint64_t address) const;
  std::span<const MappedRegion> regions() const { return regions_; }
  // The same executable mappings of the same binaries: all that unwinding
  // depends on (heap and stack mappings come and go all the time).
  bool same_code(const ProcessImage& other) const;

 private:
  std::vector<MappedRegion> regions_;  // ascending, non-overlapping
};

}  // namespace locktrace::symbols
