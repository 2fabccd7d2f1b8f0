#include "launcher.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "errors.hpp"

namespace locktrace {

namespace {

int shell_status(int wait_status) {
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return WEXITSTATUS(wait_status);
}

}  // namespace

Launcher::Launcher(std::function<int()> body, bool execs) {
  int gate[2], status[2];
  if (pipe2(gate, O_CLOEXEC) != 0 || pipe2(status, O_CLOEXEC) != 0)
    throw Fatal(kExitFailure, std::string("pipe: ") + strerror(errno));
  pid_ = fork();
  if (pid_ < 0) throw Fatal(kExitFailure, std::string("fork: ") + strerror(errno));
  if (pid_ == 0) {
    close(gate[1]);
    close(status[0]);
    // The tracer blocks these to take them synchronously; the target must not inherit that.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    char byte;
    while (read(gate[0], &byte, 1) < 0 && errno == EINTR) {
    }
    close(gate[0]);
    // A successful exec closes the status pipe (O_CLOEXEC); a function body
    // closes it now, so release() does not wait for the body to finish.
    if (!execs) close(status[1]);
    int rc = body();
    if (execs) {
      int err = errno;
      (void)!write(status[1], &err, sizeof err);
    }
    _exit(rc);
  }
  close(gate[0]);
  close(status[1]);
  gate_fd_ = gate[1];
  status_fd_ = status[0];
}

Launcher Launcher::command(std::vector<std::string> argv, bool stdout_to_stderr) {
  Launcher launcher(
      [argv, stdout_to_stderr] {
        if (stdout_to_stderr) dup2(STDERR_FILENO, STDOUT_FILENO);
        std::vector<char*> args;
        for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        return 127;
      },
      true);
  launcher.name_ = argv.front();
  return launcher;
}

Launcher::Launcher(Launcher&& other) noexcept
    : pid_(other.pid_), gate_fd_(other.gate_fd_), status_fd_(other.status_fd_),
      name_(std::move(other.name_)), status_(other.status_) {
  other.pid_ = -1;
  other.gate_fd_ = -1;
  other.status_fd_ = -1;
}

Launcher::~Launcher() {
  if (gate_fd_ >= 0) close(gate_fd_);
  if (status_fd_ >= 0) close(status_fd_);
  if (pid_ > 0 && !status_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Launcher::release() {
  close(gate_fd_);
  gate_fd_ = -1;
  int err = 0;
  ssize_t n;
  while ((n = read(status_fd_, &err, sizeof err)) < 0 && errno == EINTR) {
  }
  close(status_fd_);
  status_fd_ = -1;
  if (n == sizeof err)
    throw Fatal(kExitNoTarget, "cannot run " + name_ + ": " + strerror(err));
}

std::optional<int> Launcher::try_wait() {
  if (status_ || pid_ <= 0) return status_;
  int ws;
  if (waitpid(pid_, &ws, WNOHANG) == pid_) status_ = shell_status(ws);
  return status_;
}

int Launcher::wait() {
  if (status_) return *status_;
  int ws;
  while (waitpid(pid_, &ws, 0) < 0 && errno == EINTR) {
  }
  status_ = shell_status(ws);
  return *status_;
}

void Launcher::terminate() {
  if (pid_ > 0 && !try_wait()) kill(pid_, SIGTERM);
}

}  // namespace locktrace
