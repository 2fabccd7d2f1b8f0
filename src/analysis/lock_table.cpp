#include "lock_table.hpp"

#include <algorithm>

extern "C" {
#include "locktrace_abi.h"
}

namespace locktrace::analysis {

namespace {

constexpr uint8_t kUnlock = 2;
constexpr uint8_t kRead = 0;

bool overlaps(const FileHolder& h, int64_t start, int64_t end) {
  return h.start <= end && start <= h.end;
}

// Both locks of one family: flock locks never conflict with POSIX/OFD ones.
bool same_family(uint32_t a, uint32_t b) { return is_flock(a) == is_flock(b); }

}  // namespace

bool is_flock(uint32_t fl_flags) { return fl_flags & LT_FL_FLOCK; }

FileLockTable::Holders::iterator FileLockTable::list_of(const InodeKey& inode) {
  auto it = holders_.lower_bound(inode);
  if (it != holders_.end() && it->first == inode) return it;
  if (spare_.empty()) return holders_.emplace_hint(it, inode, std::vector<FileHolder>{});
  Holders::node_type node = std::move(spare_.back());
  spare_.pop_back();
  node.key() = inode;
  return holders_.insert(it, std::move(node));
}

void FileLockTable::drop_if_empty(Holders::iterator it) {
  constexpr size_t kSpareLists = 16;
  constexpr size_t kEmptyListsKept = 64;  // inodes: a sweep would find at most this many
  if (!it->second.empty() || holders_.size() <= kEmptyListsKept) return;
  Holders::node_type node = holders_.extract(it);
  if (spare_.size() < kSpareLists) spare_.push_back(std::move(node));
}

void FileLockTable::apply(const InodeKey& inode, const FileHolder& request) {
  if (request.type == kUnlock && !holders_.contains(inode)) return;  // nothing to unlock
  auto it = list_of(inode);
  auto& list = it->second;
  if (is_flock(request.fl_flags)) {
    // flock: one lock per open file description, converted in place or removed.
    std::erase_if(list, [&](const FileHolder& h) { return h.owner == request.owner && is_flock(h.fl_flags); });
    if (request.type != kUnlock) list.push_back(request);
  } else {
    // POSIX/OFD: cut the request's range out of the owner's locks, then add it.
    auto cut = [&](const FileHolder& h) {
      return h.owner == request.owner && !is_flock(h.fl_flags) && overlaps(h, request.start, request.end);
    };
    if (std::any_of(list.begin(), list.end(), cut)) {
      scratch_.clear();
      for (const auto& h : list) {
        if (!cut(h)) {
          scratch_.push_back(h);
          continue;
        }
        if (h.start < request.start) {
          FileHolder left = h;
          left.end = request.start - 1;
          scratch_.push_back(left);
        }
        if (h.end > request.end) {
          FileHolder right = h;
          right.start = request.end + 1;
          scratch_.push_back(right);
        }
      }
      list.swap(scratch_);
    }
    if (request.type != kUnlock) list.push_back(request);
  }
  drop_if_empty(it);
}

void FileLockTable::release_owner(const InodeKey& inode, uint64_t owner) {
  auto it = holders_.find(inode);
  if (it == holders_.end()) return;
  std::erase_if(it->second, [owner](const FileHolder& h) { return h.owner == owner; });
  if (it->second.empty()) holders_.erase(it);
}

void FileLockTable::release_process(uint32_t pid) {
  for (auto it = holders_.begin(); it != holders_.end();) {
    std::erase_if(it->second, [pid](const FileHolder& h) {
      return h.task.pid == pid && !is_flock(h.fl_flags) && !(h.fl_flags & LT_FL_OFDLCK);
    });
    it = it->second.empty() ? holders_.erase(it) : std::next(it);
  }
}

std::vector<const FileHolder*> FileLockTable::conflicts(const InodeKey& inode, uint64_t owner,
                                                        uint32_t fl_flags, uint8_t type, int64_t start,
                                                        int64_t end) const {
  std::vector<const FileHolder*> found;
  conflicts(inode, owner, fl_flags, type, start, end, found);
  return found;
}

void FileLockTable::conflicts(const InodeKey& inode, uint64_t owner, uint32_t fl_flags, uint8_t type,
                              int64_t start, int64_t end, std::vector<const FileHolder*>& found) const {
  found.clear();
  auto it = holders_.find(inode);
  if (it == holders_.end()) return;
  for (const auto& h : it->second) {
    if (h.owner == owner || !same_family(h.fl_flags, fl_flags)) continue;
    if (!is_flock(fl_flags) && !overlaps(h, start, end)) continue;
    if (h.type == kRead && type == kRead) continue;
    found.push_back(&h);
  }
}

bool FileLockTable::holds(const InodeKey& inode, uint64_t owner, int64_t start, int64_t end) const {
  auto it = holders_.find(inode);
  if (it == holders_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(), [&](const FileHolder& h) {
    return h.owner == owner && (is_flock(h.fl_flags) || overlaps(h, start, end));
  });
}

const FileHolder& FileLockTable::blocker(const InodeKey& inode, const FileHolder& named) {
  auto& list = holders_[inode];
  for (auto& h : list) {
    bool range = is_flock(h.fl_flags) || overlaps(h, named.start, named.end);
    if (h.owner == named.owner && range) return h;
    // A lock /proc/locks showed at attach: now the kernel tells its real owner.
    if (h.how == Attribution::proc_locks && h.task.pid == named.task.pid &&
        same_family(h.fl_flags, named.fl_flags) && range) {
      h.owner = named.owner;
      return h;
    }
  }
  list.push_back(named);
  return list.back();
}

}  // namespace locktrace::analysis
