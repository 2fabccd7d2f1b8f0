#include "binary_cache.hpp"

#include <sys/stat.h>

namespace locktrace::symbols {

std::shared_ptr<Binary> BinaryCache::get(UniqueFd fd, const std::string& path) {
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
  FileKey key{st.st_dev, st.st_ino,
              static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
              static_cast<int64_t>(st.st_size)};
  if (auto it = by_file_.find(key); it != by_file_.end()) return it->second;
  auto binary = remember(ElfFile::open(std::move(fd), path));
  // Not-ELF files are remembered too, so that a mapped data file is opened once.
  by_file_.emplace(key, binary);
  return binary;
}

std::shared_ptr<Binary> BinaryCache::get_image(const std::string& name,
                                               std::span<const std::byte> image) {
  return remember(ElfFile::from_image(name, image));
}

std::shared_ptr<Binary> BinaryCache::remember(std::unique_ptr<ElfFile> elf) {
  if (!elf) return nullptr;
  // A separate debug file shares its binary's build id but has no code to map.
  if (elf->build_id().empty() || !elf->has_code()) {
    ++without_build_id_;
    return std::make_shared<Binary>(std::move(elf));
  }
  auto [it, inserted] = by_build_id_.try_emplace(elf->build_id());
  if (inserted) it->second = std::make_shared<Binary>(std::move(elf));
  return it->second;
}

}  // namespace locktrace::symbols
