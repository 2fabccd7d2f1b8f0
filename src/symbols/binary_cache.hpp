// Every binary seen in any traced process, parsed once: keyed by build id, and
// by file identity (device, inode, mtime, size) so a file seen before is not
// even re-read for its build id. Files without a build id are known by identity
// only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>

#include "binary.hpp"
#include "unique_fd.hpp"

namespace locktrace::symbols {

class BinaryCache {
 public:
  // The binary in open file FD (named PATH); nullptr when it is not ELF.
  std::shared_ptr<Binary> get(UniqueFd fd, const std::string& path);
  // An ELF image read from process memory (the vdso).
  std::shared_ptr<Binary> get_image(const std::string& name, std::span<const std::byte> image);
  size_t size() const { return by_build_id_.size() + without_build_id_; }

 private:
  using FileKey = std::tuple<dev_t, ino_t, int64_t, int64_t>;  // dev, inode, mtime ns, size
  std::shared_ptr<Binary> remember(std::unique_ptr<ElfFile> elf);

  std::map<FileKey, std::shared_ptr<Binary>> by_file_;
  std::unordered_map<std::string, std::shared_ptr<Binary>> by_build_id_;
  size_t without_build_id_ = 0;
};

}  // namespace locktrace::symbols
