#include "trace_state.hpp"

#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace locktrace {

uint32_t kernel_dev(uint64_t st_dev) {
  return (static_cast<uint32_t>(major(st_dev)) << 20) | static_cast<uint32_t>(minor(st_dev));
}

std::string_view task_exit_comm(const TaskExit& exit, const TraceState& state) {
  std::string_view comm = state.comm(exit.h.pid, exit.h.tid);
  return comm != "?" ? comm : std::string_view(exit.comm, strnlen(exit.comm, LT_COMM_LEN));
}

namespace {

std::string comm_of(const char (&comm)[LT_COMM_LEN]) {
  return std::string(comm, strnlen(comm, LT_COMM_LEN));
}

}  // namespace

void TraceState::apply(const Event& event) {
  if (const auto* p = std::get_if<ProcessInfo>(&event)) {
    auto& record = processes_[p->pid];
    record = ProcessRecord{p->pid, p->ppid, p->start_time_ticks, p->comm, p->cmdline, p->exe};
    threads_[p->pid] = p->comm;  // a recycled pid takes the new name
  } else if (const auto* t = std::get_if<ThreadInfo>(&event)) {
    threads_[t->tid] = t->comm;
  } else if (const auto* f = std::get_if<FdPath>(&event)) {
    fds_[fd_key(f->pid, f->fd)] = OpenFile{f->path, f->dev, f->ino};
    if (f->ino != 0) inodes_[InodeKey{f->dev, f->ino}] = f->path;
    if (f->fs_magic != 0) fs_magics_[f->dev] = f->fs_magic;
  } else if (const auto* stack = std::get_if<StackTrace>(&event)) {
    stacks_[stack->stack_id] = stack->frames;
  } else if (const auto* call_stack = std::get_if<CallStack>(&event)) {
    call_stacks_[call_stack->tid] = *call_stack;
  } else if (const auto* name = std::get_if<AddressName>(&event)) {
    spaces_[name->pid].names[name->address] = name->name;
  } else if (const auto* mapping = std::get_if<Mapping>(&event)) {
    apply_mapping(*mapping);
  } else if (const auto* fork = std::get_if<Fork>(&event)) {
    std::string comm = comm_of(fork->comm);
    threads_[fork->child_tid] = comm;
    if (fork->child_pid != fork->h.pid) {
      // A new process starts with a copy of its parent's identity and fd table.
      ProcessRecord child;
      if (const auto* parent = process(fork->h.pid)) child = *parent;
      child.pid = fork->child_pid;
      child.ppid = fork->h.pid;
      child.start_time_ticks = 0;
      child.exited_ts_ns = 0;
      child.comm = comm;
      processes_[child.pid] = std::move(child);
      std::vector<std::pair<uint64_t, OpenFile>> inherited;
      for (const auto& [key, file] : fds_)
        if (key >> 32 == fork->h.pid)
          inherited.emplace_back(fd_key(fork->child_pid, static_cast<int32_t>(key & 0xffffffffu)), file);
      for (auto& [key, file] : inherited) fds_[key] = std::move(file);
      if (auto parent = spaces_.find(fork->h.pid); parent != spaces_.end())
        spaces_[fork->child_pid] = parent->second;
    }
  } else if (const auto* exec = std::get_if<Exec>(&event)) {
    std::string comm = comm_of(exec->comm);
    auto& record = processes_[exec->h.pid];
    record.pid = exec->h.pid;
    record.comm = comm;
    record.exe = std::string(exec->filename, strnlen(exec->filename, sizeof exec->filename));
    // exec leaves one thread, which takes the process's id.
    if (exec->old_tid != exec->h.pid) threads_.erase(exec->old_tid);
    threads_[exec->h.pid] = comm;
  } else if (const auto* rename = std::get_if<Rename>(&event)) {
    threads_[rename->h.tid] = comm_of(rename->comm);
    if (rename->h.tid == rename->h.pid)
      if (auto it = processes_.find(rename->h.pid); it != processes_.end()) it->second.comm = comm_of(rename->comm);
  } else if (const auto* exit = std::get_if<TaskExit>(&event)) {
    // Names outlive their tasks a while: reports and late records still use them.
    if (exit->h.tid != exit->h.pid) retire(exit->h.tid, false, exit->h.ts_ns);
    if (exit->group_dead) process_exited(exit->h.pid, exit->h.ts_ns);
  }
}

void TraceState::apply_mapping(const Mapping& mapping) {
  auto& list = spaces_[mapping.pid].mappings;
  // What was mapped there before (an exec, an mmap over it) is gone.
  std::erase_if(list, [&](const Mapping& m) { return m.start < mapping.end && mapping.start < m.end; });
  auto at = std::lower_bound(list.begin(), list.end(), mapping.start,
                             [](const Mapping& m, uint64_t start) { return m.start < start; });
  list.insert(at, mapping);
}

void TraceState::process_exited(uint32_t pid, uint64_t ts_ns) {
  std::erase_if(fds_, [pid](const auto& entry) { return entry.first >> 32 == pid; });
  if (auto it = processes_.find(pid); it != processes_.end()) it->second.exited_ts_ns = ts_ns;
  retire(pid, true, ts_ns);
}

void TraceState::retire(uint32_t id, bool process, uint64_t ts_ns) {
  while (!exited_.empty() && exited_.front().ts_ns + kExitedRetentionNs < ts_ns) {
    Retired old = exited_.front();
    exited_.pop_front();
    if (!old.process) {
      threads_.erase(old.id);
      call_stacks_.erase(old.id);
      continue;
    }
    // A recycled pid has a new record (exited later, or not at all): keep it.
    auto it = processes_.find(old.id);
    if (it != processes_.end() && it->second.exited_ts_ns == old.ts_ns) {
      processes_.erase(it);
      threads_.erase(old.id);
      call_stacks_.erase(old.id);
      spaces_.erase(old.id);
    }
  }
  exited_.push_back({ts_ns, id, process});
}

const ProcessRecord* TraceState::process(uint32_t pid) const {
  auto it = processes_.find(pid);
  return it == processes_.end() ? nullptr : &it->second;
}

std::string_view TraceState::comm(uint32_t pid, uint32_t tid) const {
  if (auto it = threads_.find(tid); it != threads_.end()) return it->second;
  if (const auto* p = process(pid)) return p->comm;
  return "?";
}

std::string_view TraceState::fd_path(uint32_t pid, int32_t fd) const {
  auto it = fds_.find(fd_key(pid, fd));
  return it == fds_.end() ? std::string_view{} : std::string_view{it->second.path};
}

bool TraceState::knows_fd(uint32_t pid, int32_t fd) const { return fds_.contains(fd_key(pid, fd)); }

uint64_t TraceState::fd_inode(uint32_t pid, int32_t fd) const {
  auto it = fds_.find(fd_key(pid, fd));
  return it == fds_.end() ? 0 : it->second.ino;
}

uint32_t TraceState::fs_magic(uint32_t dev) const {
  auto it = fs_magics_.find(dev);
  return it == fs_magics_.end() ? 0 : it->second;
}

std::vector<std::pair<uint32_t, int32_t>> TraceState::openers(uint32_t dev, uint64_t ino) const {
  std::vector<std::pair<uint32_t, int32_t>> found;
  for (const auto& [key, file] : fds_) {
    auto pid = static_cast<uint32_t>(key >> 32);
    const ProcessRecord* p = process(pid);
    if (file.dev == dev && file.ino == ino && (!p || p->exited_ts_ns == 0))
      found.emplace_back(pid, static_cast<int32_t>(key & 0xffffffffu));
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::string_view TraceState::inode_path(uint32_t dev, uint64_t ino) const {
  auto it = inodes_.find(InodeKey{dev, ino});
  return it == inodes_.end() ? std::string_view{} : std::string_view{it->second};
}

const std::vector<StackFrame>* TraceState::stack(uint32_t stack_id) const {
  auto it = stacks_.find(stack_id);
  return it == stacks_.end() ? nullptr : &it->second;
}

std::optional<uint32_t> TraceState::stack_of(const LockCall& call) const {
  auto it = call_stacks_.find(call.h.tid);
  if (it == call_stacks_.end() || it->second.ts_ns != call.h.ts_ns || it->second.pid != call.h.pid)
    return std::nullopt;
  return it->second.stack_id;
}

std::string_view TraceState::address_name(uint32_t pid, uint64_t address) const {
  auto space = spaces_.find(pid);
  if (space == spaces_.end()) return {};
  auto it = space->second.names.find(address);
  return it == space->second.names.end() ? std::string_view{} : std::string_view{it->second};
}

const Mapping* TraceState::mapping_at(uint32_t pid, uint64_t address) const {
  auto space = spaces_.find(pid);
  if (space == spaces_.end()) return nullptr;
  const auto& list = space->second.mappings;
  auto after = std::upper_bound(list.begin(), list.end(), address,
                                [](uint64_t a, const Mapping& m) { return a < m.start; });
  if (after == list.begin()) return nullptr;
  const Mapping& m = *std::prev(after);
  return address < m.end ? &m : nullptr;
}

}  // namespace locktrace
