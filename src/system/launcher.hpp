// A child process held at a gate until the tracer is attached to it, so tracing
// is active from its first instruction. It runs either a command (exec) or a
// function (the built-in demo workload).
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace locktrace {

class Launcher {
 public:
  explicit Launcher(std::function<int()> body) : Launcher(std::move(body), false) {}
  // `stdout_to_stderr`: the command writes its standard output to our standard
  // error, for when our standard output carries something else (a trace).
  static Launcher command(std::vector<std::string> argv, bool stdout_to_stderr = false);
  ~Launcher();  // a child never released, or still running, is killed and reaped
  Launcher(Launcher&& other) noexcept;
  Launcher& operator=(Launcher&&) = delete;
  Launcher(const Launcher&) = delete;

  pid_t pid() const { return pid_; }
  // Lets the child run. For a command, waits until exec succeeded and throws
  // Fatal(kExitNoTarget) when it failed.
  void release();
  // The child's status, shell-style (128 + signal when killed), once it ended.
  std::optional<int> try_wait();
  int wait();
  void terminate();  // SIGTERM, for a session that stops before its command

 private:
  // `execs`: the body calls exec and returns only when exec failed, with errno set.
  Launcher(std::function<int()> body, bool execs);

  pid_t pid_ = -1;
  int gate_fd_ = -1;    // write end: closing it releases the child
  int status_fd_ = -1;  // read end: exec's errno, or EOF on success
  std::string name_;
  std::optional<int> status_;
};

}  // namespace locktrace
