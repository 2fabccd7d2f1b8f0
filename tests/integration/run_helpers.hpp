// Running real processes from a test: a command to completion with its output
// captured, or a process kept in the background while the test works. Every
// process is started in a process group of its own, so the helpers can always
// kill (by that group's id) and reap everything they started, whatever the test did.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace locktrace::integration {

using namespace std::chrono_literals;

// No single command in these tests should come anywhere near this; it only
// stops a hung command from hanging the suite.
inline constexpr std::chrono::milliseconds kRunTimeout = 60s;

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
// captured in files; past `timeout` its process group is killed.
RunResult run(const std::vector<std::string>& argv,
              std::chrono::milliseconds timeout = kRunTimeout);

// A process that runs while the test does other things. Its stdout is a pipe
// the test reads lines from; its stderr is the test's. Killed with its process
// group and reaped at scope exit unless stop() already reaped it.
class Background {
 public:
  explicit Background(const std::vector<std::string>& argv);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  pid_t pid() const { return pid_; }
  // The next line of its stdout without the newline; nullopt at end of file or timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 30s);
  // Sends `sig` to the process and reaps it: its exit code as run() reports
  // it, or nullopt when it outlived `timeout` (then it is killed).
  std::optional<int> stop(int sig, std::chrono::milliseconds timeout = 30s);

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int out_fd_ = -1;
  std::string buffered_;
};

// One JSON value per non-empty line; throws std::runtime_error naming the
// first line that is not JSON.
std::vector<nlohmann::json> parse_json_lines(const std::string& text);

// A whole file's contents ("" when it cannot be read).
std::string read_text(const std::string& path);

// Empty when `locktrace` can trace on this machine, otherwise why not. Loading
// the BPF programs takes a second or more and ctest runs each test in its own
// process, so a success is remembered in `stamp_file`, per boot and per build
// of locktrace; a failure is always probed again.
std::string probe_bpf(const std::string& locktrace, const std::string& stamp_file);

}  // namespace locktrace::integration
