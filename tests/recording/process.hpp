// Running real processes from a test. Every process starts in a process group
// of its own, and the test process is a child subreaper, so whatever a test
// starts (and whatever that starts, even after its parent died) can be killed
// by group id and reaped here.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace locktrace::recording {

using namespace std::chrono_literals;

// Only stops a hung command from hanging the suite; no command should come near it.
inline constexpr std::chrono::milliseconds kRunTimeout = 90s;

// A fresh directory (mkdtemp) removed with its contents at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct RunOptions {
  std::vector<std::string> env;      // "NAME=VALUE" added to the environment
  std::optional<mode_t> umask;
  std::string stdout_file;           // stdout goes to this file (created) instead of captured
  std::chrono::milliseconds timeout = kRunTimeout;
};

struct RunResult {
  std::string command;
  int exit_code = -1;  // like a shell's $?: the exit status, or 128 + the killing signal
  bool timed_out = false;
  std::string out;
  std::string err;
  // The command, how it ended and what it printed, for assertion messages.
  std::string describe() const;
};

// Runs argv (PATH searched) with stdin from /dev/null and stdout and stderr
// captured; its process group is killed and reaped when it ends or times out.
RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

// A process that runs while the test does other things (stdout and stderr to
// files). Its process group is killed and reaped at scope exit.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::string& stdout_file,
             const std::string& stderr_file);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `sig` to the process alone and reaps it: its exit code as run()
  // reports it. The rest of its group is left alone until kill_group().
  int signal_and_wait(int sig);
  // Kills the whole process group (and any orphan reparented to us from it) and reaps it.
  void kill_group();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& data);
// Polls `pred` every 20 ms until it holds or `timeout` passes.
template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout);

int exit_code_of(int wait_status);

}  // namespace locktrace::recording

#include <thread>

template <typename Pred>
bool locktrace::recording::wait_until(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}
