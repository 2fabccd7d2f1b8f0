// Who holds which lock, as the stream has shown it: file locks by inode with
// their owners and byte ranges (POSIX semantics: an owner's new lock replaces
// the part of its old ones it overlaps; unlocking splits ranges), and futex
// owners where a PI word or glibc's __owner names them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "findings.hpp"

namespace locktrace::analysis {

struct FileHolder {
  TaskRef task;
  uint64_t owner = 0;     // fl_owner: files_struct (POSIX) or struct file (flock, OFD)
  uint32_t fl_flags = 0;  // LT_FL_*
  uint8_t type = 0;       // F_RDLCK / F_WRLCK
  int64_t start = 0;
  int64_t end = 0;
  uint64_t since_ns = 0;  // 0: held before tracing started
  Attribution how = Attribution::lock_table;
  std::optional<uint32_t> stack;  // where it was taken (TraceState::stack), when the stream said
};

struct InodeKey {
  uint32_t dev = 0;
  uint64_t ino = 0;
  auto operator<=>(const InodeKey&) const = default;
};

class FileLockTable {
 public:
  // A successful lock (or unlock, type F_UNLCK) by `holder.owner` on the range.
  void apply(const InodeKey& inode, const FileHolder& holder);
  // Everything `owner` holds on the inode goes (close, exit).
  void release_owner(const InodeKey& inode, uint64_t owner);
  // POSIX locks of a process that exited (its files_struct is gone).
  void release_process(uint32_t pid);
  // Holders whose lock conflicts with a request of `type` on [start, end] by
  // another owner (flock locks conflict on the whole file).
  std::vector<const FileHolder*> conflicts(const InodeKey& inode, uint64_t owner, uint32_t fl_flags,
                                           uint8_t type, int64_t start, int64_t end) const;
  // The same into `found` (replaced), which keeps its allocation between calls.
  void conflicts(const InodeKey& inode, uint64_t owner, uint32_t fl_flags, uint8_t type, int64_t start,
                 int64_t end, std::vector<const FileHolder*>& found) const;
  // Whether `owner` still holds a lock on the inode overlapping [start, end].
  bool holds(const InodeKey& inode, uint64_t owner, int64_t start, int64_t end) const;
  // The holder the kernel named, adding it when taken before tracing started.
  const FileHolder& blocker(const InodeKey& inode, const FileHolder& named);
  template <typename Visit>  // void(const InodeKey&, const FileHolder&)
  void for_each(Visit visit) const {
    for (const auto& [inode, list] : holders_)
      for (const auto& h : list) visit(inode, h);
  }

 private:
  using Holders = std::map<InodeKey, std::vector<FileHolder>>;
  Holders::iterator list_of(const InodeKey& inode);
  void drop_if_empty(Holders::iterator it);

  Holders holders_;
  // A lock ping-pong empties and refills the same few lists: while there are
  // few, an empty list stays in place (it holds nothing) instead of being
  // freed and allocated again; past that, emptied lists go and their nodes are
  // kept for reuse.
  std::vector<Holders::node_type> spare_;
  std::vector<FileHolder> scratch_;
};

bool is_flock(uint32_t fl_flags);

}  // namespace locktrace::analysis
