#include "target_process.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

namespace locktrace_test {

TargetProcess::TargetProcess(const std::string& path) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return;
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return;
  }
  pid_ = fork();
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    execl(path.c_str(), path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  stdin_fd_ = in[1];
  FILE* lines = fdopen(out[0], "r");
  char line[256];
  while (lines != nullptr && fgets(line, sizeof line, lines) != nullptr) {
    std::istringstream words(line);
    std::string name, value;
    words >> name >> value;
    if (name == "ready") break;
    addresses_[name] = std::stoull(value, nullptr, 16);
  }
  if (lines != nullptr) fclose(lines);
}

TargetProcess::~TargetProcess() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  if (pid_ > 0) waitpid(pid_, nullptr, 0);
}

uint64_t TargetProcess::address(const std::string& name) const {
  auto it = addresses_.find(name);
  return it == addresses_.end() ? 0 : it->second;
}

bool TargetProcess::wait_blocked_in_read() const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string path = "/proc/" + std::to_string(pid_) + "/syscall";
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream syscall(path);
    std::string number;
    // "0 0x0 ..." once it sits in read(0, ...); "running" while it runs.
    if (syscall >> number && number == "0") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

}  // namespace locktrace_test
