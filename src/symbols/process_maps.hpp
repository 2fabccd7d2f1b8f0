// /proc/PID/maps parsed: what lies at every address of a process, a file or a
// kind of anonymous memory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace locktrace::symbols {

struct MapEntry {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t offset = 0;  // file offset of start
  uint32_t dev_major = 0;
  uint32_t dev_minor = 0;
  uint64_t inode = 0;
  bool readable = false;
  bool writable = false;
  bool executable = false;
  bool shared = false;
  // As the kernel prints it, without the " (deleted)" suffix: "/usr/lib/x.so",
  // "[heap]", "[stack]", "[vdso]", "[anon:name]", or "" for anonymous memory.
  std::string path;
  bool deleted = false;  // the file was unlinked or replaced after it was mapped

  bool file_backed() const { return inode != 0 && path.starts_with('/'); }
  bool contains(uint64_t address) const { return address >= start && address < end; }
  // The file's path with " (deleted)" when it is gone, the bracketed name of a
  // special mapping, or "[anon]".
  std::string display_name() const;
};

// Lines that do not parse are skipped. Entries keep the file's order (ascending).
std::vector<MapEntry> parse_maps(std::string_view text);

// PROC_ROOT/PID/maps; nullopt when the process is gone or unreadable.
std::optional<std::vector<MapEntry>> read_maps(const std::string& proc_root, uint32_t pid);

}  // namespace locktrace::symbols
