#include "process_image.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <ranges>
#include <set>
#include <utility>

namespace locktrace::symbols {

namespace {

constexpr uint64_t kMaxVdsoBytes = 1 << 20;

UniqueFd open_mapped_file(const std::string& proc_dir, const MapEntry& map) {
  char range[48];
  std::snprintf(range, sizeof range, "/map_files/%" PRIx64 "-%" PRIx64, map.start, map.end);
  // map_files is the mapped file itself, even deleted or in another mount
  // namespace, but needs CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE).
  UniqueFd fd(::open((proc_dir + range).c_str(), O_RDONLY | O_CLOEXEC));
  if (fd || map.deleted) return fd;  // a deleted file's path names another file, or none
  fd.reset(::open((proc_dir + "/root" + map.path).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) fd.reset(::open(map.path.c_str(), O_RDONLY | O_CLOEXEC));
  return fd;
}

std::vector<std::byte> read_memory(const std::string& proc_dir, uint64_t start, uint64_t size) {
  std::vector<std::byte> bytes(size);
  UniqueFd fd(::open((proc_dir + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  ssize_t n = ::pread(fd.get(), bytes.data(), size, static_cast<off_t>(start));
  if (n != static_cast<ssize_t>(size)) return {};
  return bytes;
}

}  // namespace

std::optional<ProcessImage> ProcessImage::load(const std::string& proc_root, uint32_t pid,
                                               BinaryCache& binaries) {
  auto maps = read_maps(proc_root, pid);
  if (!maps) return std::nullopt;
  std::string proc_dir = proc_root + "/" + std::to_string(pid);
  ProcessImage image;
  image.regions_.resize(maps->size());

  // A loaded binary is where its code is: each executable mapping places one
  // instance of a binary (its text segment is never ambiguous).
  using FileId = std::tuple<uint32_t, uint32_t, uint64_t>;
  std::map<FileId, std::shared_ptr<Binary>> opened;  // one open per file
  std::map<const Binary*, std::set<uint64_t>> loaded_at;
  for (size_t i = 0; i < maps->size(); ++i) {
    const MapEntry& map = (*maps)[i];
    MappedRegion& region = image.regions_[i];
    if (!map.executable) continue;
    if (map.file_backed()) {
      FileId file{map.dev_major, map.dev_minor, map.inode};
      auto it = opened.find(file);
      if (it == opened.end())
        it = opened.emplace(file, binaries.get(open_mapped_file(proc_dir, map), map.path)).first;
      region.binary = it->second;
    } else if (map.path == "[vdso]" && map.end - map.start <= kMaxVdsoBytes) {
      auto bytes = read_memory(proc_dir, map.start, map.end - map.start);
      if (!bytes.empty()) region.binary = binaries.get_image("[vdso]", bytes);
    }
    if (!region.binary) continue;
    auto bias = region.binary->elf().load_bias(map.start, map.file_backed() ? map.offset : 0, true);
    if (!bias) {
      region.binary.reset();
      continue;
    }
    region.bias = *bias;
    loaded_at[region.binary.get()].insert(*bias);
  }

  // The other mappings of a file belong to an instance when they fit its bias;
  // a file mapped only to be read (a debugger's mmap of a library or of a
  // .debug file, a locale archive) is no binary of this process.
  for (size_t i = 0; i < maps->size(); ++i) {
    const MapEntry& map = (*maps)[i];
    MappedRegion& region = image.regions_[i];
    if (map.executable) continue;
    if (map.file_backed()) {
      auto it = opened.find(FileId{map.dev_major, map.dev_minor, map.inode});
      if (it == opened.end() || !it->second) continue;
      for (uint64_t bias : loaded_at[it->second.get()]) {
        if (it->second->elf().load_bias(map.start, map.offset, false, bias) == bias) {
          region.binary = it->second;
          region.bias = bias;
          break;
        }
      }
    } else if (map.path.empty() && i > 0) {
      // The part of a .bss beyond the file's last page is anonymous memory right
      // after the binary's data mapping; its objects are the binary's.
      const MappedRegion& previous = image.regions_[i - 1];
      const MapEntry& previous_map = (*maps)[i - 1];
      if (previous.binary && previous_map.end == map.start && previous_map.writable &&
          map.writable && previous_map.file_backed()) {
        region.binary = previous.binary;
        region.bias = previous.bias;
      }
    }
  }
  for (size_t i = 0; i < maps->size(); ++i) image.regions_[i].map = std::move((*maps)[i]);
  return image;
}

const MappedRegion* ProcessImage::find(uint64_t address) const {
  auto next = std::upper_bound(regions_.begin(), regions_.end(), address,
                               [](uint64_t a, const MappedRegion& r) { return a < r.map.start; });
  if (next == regions_.begin()) return nullptr;
  const MappedRegion& region = *std::prev(next);
  return region.map.contains(address) ? &region : nullptr;
}

bool ProcessImage::same_code(const ProcessImage& other) const {
  auto executable = [](const MappedRegion& r) { return r.map.executable; };
  auto mine = regions_ | std::views::filter(executable);
  auto theirs = other.regions_ | std::views::filter(executable);
  return std::ranges::equal(mine, theirs, [](const MappedRegion& a, const MappedRegion& b) {
    return a.map.start == b.map.start && a.map.end == b.map.end && a.map.offset == b.map.offset &&
           a.binary == b.binary;
  });
}

}  // namespace locktrace::symbols
