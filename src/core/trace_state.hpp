// What the stream has said so far about processes, threads and open files. Built
// only from events, never from /proc, so a replay rebuilds exactly what the live
// run knew at each point.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "events.hpp"

namespace locktrace {

struct ProcessRecord {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint64_t start_time_ticks = 0;
  std::string comm;
  std::string cmdline;
  std::string exe;
  uint64_t exited_ts_ns = 0;  // 0 while alive
};

class TraceState {
 public:
  // Updates the tables from one event. Kernel events are applied after the sinks
  // saw them (an exit line still names the exiting thread); metadata before.
  void apply(const Event& event);

  const ProcessRecord* process(uint32_t pid) const;
  bool knows_thread(uint32_t tid) const { return threads_.contains(tid); }
  // The thread's name, else its process's, else "?".
  std::string_view comm(uint32_t pid, uint32_t tid) const;
  // "" when the stream never said which file the fd is.
  std::string_view fd_path(uint32_t pid, int32_t fd) const;
  bool knows_fd(uint32_t pid, int32_t fd) const;
  // The path of a file known by device and inode ("" when none is known).
  std::string_view inode_path(uint32_t dev, uint64_t ino) const;
  uint64_t fd_inode(uint32_t pid, int32_t fd) const;
  // The statfs magic of the file system a device holds (0: unknown).
  uint32_t fs_magic(uint32_t dev) const;
  // Live processes with an fd open on the inode, as (pid, fd), in pid order.
  std::vector<std::pair<uint32_t, int32_t>> openers(uint32_t dev, uint64_t ino) const;

  size_t process_count() const { return processes_.size(); }

  // Call stacks, kept for the whole trace: a stack is written once, before its first use.
  const std::vector<StackFrame>* stack(uint32_t stack_id) const;
  size_t stack_count() const { return stacks_.size(); }
  // The stack the stream gave for this lock call record (a CallStack with the
  // same tid and ts_ns right before it), nullopt when none.
  std::optional<uint32_t> stack_of(const LockCall& call) const;
  // What the address is in the process ("g_pool_lock", "[heap]"), "" when unnamed.
  std::string_view address_name(uint32_t pid, uint64_t address) const;
  // The executable mapping that holds the address, nullptr when none is known.
  const Mapping* mapping_at(uint32_t pid, uint64_t address) const;

 private:
  struct OpenFile {
    std::string path;
    uint32_t dev = 0;
    uint64_t ino = 0;
  };

  static uint64_t fd_key(uint32_t pid, int32_t fd) {
    return (uint64_t{pid} << 32) | static_cast<uint32_t>(fd);
  }
  struct InodeKey {
    uint32_t dev;
    uint64_t ino;
    bool operator==(const InodeKey&) const = default;
  };
  struct InodeKeyHash {
    size_t operator()(const InodeKey& k) const { return std::hash<uint64_t>{}(k.ino * 31 + k.dev); }
  };
  // What a process's addresses are: a fork's child starts with a copy.
  struct AddressSpace {
    std::unordered_map<uint64_t, std::string> names;  // address -> name
    std::vector<Mapping> mappings;                    // by start address, none overlapping
  };
  void apply_mapping(const Mapping& mapping);
  void process_exited(uint32_t pid, uint64_t ts_ns);
  // Forgets an exited thread's or process's names once they are old enough.
  void retire(uint32_t id, bool process, uint64_t ts_ns);

  // An exited process keeps its name this long (stream time), for the lock
  // releases and reaping that follow its exit record.
  static constexpr uint64_t kExitedRetentionNs = 10'000'000'000;

  std::unordered_map<uint32_t, ProcessRecord> processes_;
  std::unordered_map<uint32_t, std::string> threads_;  // tid -> comm
  std::unordered_map<uint64_t, OpenFile> fds_;
  std::unordered_map<InodeKey, std::string, InodeKeyHash> inodes_;
  std::unordered_map<uint32_t, uint32_t> fs_magics_;  // dev -> statfs magic
  std::unordered_map<uint32_t, std::vector<StackFrame>> stacks_;
  std::unordered_map<uint32_t, CallStack> call_stacks_;  // tid -> the latest, until its call
  std::unordered_map<uint32_t, AddressSpace> spaces_;    // by pid
  struct Retired {
    uint64_t ts_ns;
    uint32_t id;
    bool process;
  };
  std::deque<Retired> exited_;  // oldest first
};

// The exiting thread's name: the stream's, else the one the exit record carries.
std::string_view task_exit_comm(const TaskExit& exit, const TraceState& state);

// Kernel dev_t encoding (major << 20 | minor) of a user-space st_dev.
uint32_t kernel_dev(uint64_t st_dev);

}  // namespace locktrace
