// Reading /proc: the only place the tracer learns names and paths from the host.
// Each answer becomes a metadata event in the stream, never a direct lookup by a
// sink, so replays show what the live run showed.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "events.hpp"

namespace locktrace::proc {

std::optional<ProcessInfo> read_process(uint32_t pid, uint64_t ts_ns);
std::optional<ThreadInfo> read_thread(uint32_t pid, uint32_t tid, uint64_t ts_ns);
std::vector<ThreadInfo> read_threads(uint32_t pid, uint64_t ts_ns);
std::optional<FdPath> read_fd(uint32_t pid, int32_t fd, uint64_t ts_ns);
// Every open file on the system whose /proc/PID/fdinfo lists a lock on the
// inode: who really holds a flock/OFD lock, whichever pid took it.
std::vector<FdPath> lock_holding_fds(uint32_t dev, uint64_t ino, uint64_t ts_ns);
// The thread group a thread belongs to, or nullopt when there is no such thread.
std::optional<uint32_t> thread_group_of(uint32_t tid);
bool process_exists(uint32_t pid);

}  // namespace locktrace::proc
