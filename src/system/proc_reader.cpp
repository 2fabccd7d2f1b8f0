#include "proc_reader.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

#include "trace_state.hpp"

namespace locktrace::proc {

namespace {

std::string proc_path(uint32_t pid) { return "/proc/" + std::to_string(pid); }

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string read_comm(const std::string& dir) {
  auto comm = read_file(dir + "/comm");
  if (!comm) return {};
  if (!comm->empty() && comm->back() == '\n') comm->pop_back();
  return *comm;
}

std::string read_link(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string{};
}

// Fields after the parenthesised comm of /proc/PID/stat, which may contain spaces.
std::vector<std::string> stat_fields_after_comm(const std::string& stat) {
  std::vector<std::string> fields;
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  while (rest >> field) fields.push_back(field);
  return fields;
}

template <typename T>
T parse_number(const std::string& text) {
  T value{};
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

std::optional<ProcessInfo> read_process(uint32_t pid, uint64_t ts_ns) {
  std::string dir = proc_path(pid);
  auto stat = read_file(dir + "/stat");
  if (!stat) return std::nullopt;
  ProcessInfo info;
  info.ts_ns = ts_ns;
  info.pid = pid;
  info.comm = read_comm(dir);
  // After "pid (comm)": state ppid pgrp ... starttime is field 22, 20th after comm.
  auto fields = stat_fields_after_comm(*stat);
  if (fields.size() > 19) {
    info.ppid = parse_number<uint32_t>(fields[1]);
    info.start_time_ticks = parse_number<uint64_t>(fields[19]);
  }
  if (auto cmdline = read_file(dir + "/cmdline")) {
    while (!cmdline->empty() && cmdline->back() == '\0') cmdline->pop_back();
    for (char& c : *cmdline)
      if (c == '\0') c = ' ';
    info.cmdline = std::move(*cmdline);
  }
  info.exe = read_link(dir + "/exe");
  return info;
}

std::optional<ThreadInfo> read_thread(uint32_t pid, uint32_t tid, uint64_t ts_ns) {
  std::string dir = proc_path(pid) + "/task/" + std::to_string(tid);
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return std::nullopt;
  return ThreadInfo{ts_ns, pid, tid, read_comm(dir)};
}

std::vector<ThreadInfo> read_threads(uint32_t pid, uint64_t ts_ns) {
  std::vector<ThreadInfo> threads;
  std::string dir = proc_path(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return threads;
  while (dirent* entry = readdir(d)) {
    if (entry->d_name[0] == '.') continue;
    auto tid = parse_number<uint32_t>(entry->d_name);
    if (auto thread = read_thread(pid, tid, ts_ns)) threads.push_back(std::move(*thread));
  }
  closedir(d);
  return threads;
}

std::optional<FdPath> read_fd(uint32_t pid, int32_t fd, uint64_t ts_ns) {
  std::string link = proc_path(pid) + "/fd/" + std::to_string(fd);
  std::string path = read_link(link);
  if (path.empty()) return std::nullopt;
  FdPath result{ts_ns, pid, fd, 0, 0, std::move(path)};
  struct stat st;
  if (stat(link.c_str(), &st) == 0) {
    result.dev = kernel_dev(st.st_dev);
    result.ino = st.st_ino;
  }
  struct statfs fs;
  if (statfs(link.c_str(), &fs) == 0) result.fs_magic = static_cast<uint32_t>(fs.f_type);
  return result;
}

std::vector<FdPath> lock_holding_fds(uint32_t dev, uint64_t ino, uint64_t ts_ns) {
  // fdinfo prints the lock's device as major:minor in hex, then the inode.
  char wanted[64];
  snprintf(wanted, sizeof wanted, " %02x:%02x:%llu ", dev >> 20, dev & 0xfffff,
           static_cast<unsigned long long>(ino));
  std::vector<FdPath> found;
  DIR* proc = opendir("/proc");
  if (!proc) return found;
  while (dirent* p = readdir(proc)) {
    if (p->d_name[0] < '1' || p->d_name[0] > '9') continue;
    auto pid = parse_number<uint32_t>(p->d_name);
    std::string dir = proc_path(pid) + "/fdinfo";
    DIR* fds = opendir(dir.c_str());
    if (!fds) continue;
    while (dirent* f = readdir(fds)) {
      if (f->d_name[0] == '.') continue;
      auto info = read_file(dir + "/" + f->d_name);
      if (!info || info->find("lock:") == std::string::npos || info->find(wanted) == std::string::npos)
        continue;
      if (auto path = read_fd(pid, parse_number<int32_t>(f->d_name), ts_ns)) found.push_back(*path);
    }
    closedir(fds);
  }
  closedir(proc);
  return found;
}

std::optional<uint32_t> thread_group_of(uint32_t tid) {
  auto status = read_file("/proc/" + std::to_string(tid) + "/status");
  if (!status) return std::nullopt;
  size_t at = status->find("\nTgid:");
  if (at == std::string::npos) return std::nullopt;
  std::istringstream value(status->substr(at + 6));
  uint32_t tgid = 0;
  value >> tgid;
  return tgid;
}

bool process_exists(uint32_t pid) { return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

}  // namespace locktrace::proc
