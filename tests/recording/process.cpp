#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace locktrace::recording {

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Orphans of anything we start are reparented to us, so they can be reaped.
void become_subreaper() {
  static const bool done = [] {
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) throw_errno("PR_SET_CHILD_SUBREAPER");
    return true;
  }();
  (void)done;
}

std::string read_fd(int fd) {
  std::string text;
  char buf[65536];
  if (lseek(fd, 0, SEEK_SET) < 0) return text;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

std::string join(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    bool plain = !arg.empty() && arg.find_first_of(" \t'\"$&;|<>()*?\\") == std::string::npos;
    text += plain ? arg : "'" + arg + "'";
  }
  return text;
}

// In the child: a group of its own, the given umask and environment, then exec.
[[noreturn]] void exec_child(const std::vector<std::string>& argv, const RunOptions& options,
                             int out_fd, int err_fd) {
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (options.umask) umask(*options.umask);
  for (const auto& assignment : options.env) putenv(const_cast<char*>(assignment.c_str()));
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
      dup2(err_fd, STDERR_FILENO) < 0)
    _exit(126);
  // Nothing else of ours (or of whoever ran the tests) leaks into the workload.
  close_range(3, ~0U, 0);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  dprintf(STDERR_FILENO, "exec %s: %s\n", args[0], strerror(errno));
  _exit(127);
}

pid_t spawn(const std::vector<std::string>& argv, const RunOptions& options, int out_fd,
            int err_fd) {
  become_subreaper();
  pid_t pid = fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) exec_child(argv, options, out_fd, err_fd);
  setpgid(pid, pid);  // also here: no race with a kill before the child ran
  return pid;
}

// Kills every process of group `pgid` and reaps those that are (or become) our
// children, until the group is gone.
void kill_and_reap_group(pid_t pgid) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (kill(-pgid, SIGKILL) == 0 || errno == EPERM) {
    int status;
    while (waitpid(-pgid, &status, WNOHANG) > 0) {
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(5ms);
  }
  int status;
  while (waitpid(-pgid, &status, WNOHANG) > 0) {
  }
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "locktrace-rec-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw_errno("mkdtemp");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string RunResult::describe() const {
  std::ostringstream text;
  text << "$ " << command << "\n";
  if (timed_out)
    text << "-> timed out and killed\n";
  else
    text << "-> exit " << exit_code << "\n";
  auto excerpt = [](const std::string& s) {
    return s.size() <= 6000 ? s : s.substr(0, 3000) + "\n[...]\n" + s.substr(s.size() - 3000);
  };
  text << "--- stdout (" << out.size() << " bytes) ---\n" << excerpt(out);
  text << "--- stderr ---\n" << err;
  return text.str();
}

RunResult run(const std::vector<std::string>& argv, const RunOptions& options) {
  RunResult result;
  result.command = join(argv);
  int out_fd = options.stdout_file.empty()
                   ? memfd_create("stdout", MFD_CLOEXEC)
                   : open(options.stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out_fd < 0) throw_errno("stdout for " + result.command);
  int err_fd = memfd_create("stderr", MFD_CLOEXEC);
  if (err_fd < 0) throw_errno("memfd_create");
  pid_t pid = spawn(argv, options, out_fd, err_fd);

  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  int status = 0;
  for (;;) {
    pid_t got = waitpid(pid, &status, WNOHANG);
    if (got == pid) break;
    if (got < 0 && errno != EINTR) throw_errno("waitpid");
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(2ms);
  }
  kill_and_reap_group(pid);  // what it left running in its group
  result.exit_code = exit_code_of(status);
  if (options.stdout_file.empty()) result.out = read_fd(out_fd);
  result.err = read_fd(err_fd);
  close(out_fd);
  close(err_fd);
  return result;
}

Background::Background(const std::vector<std::string>& argv, const std::string& stdout_file,
                       const std::string& stderr_file) {
  int out_fd = open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err_fd = open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out_fd < 0 || err_fd < 0) throw_errno("opening the output files of " + join(argv));
  pid_ = spawn(argv, {}, out_fd, err_fd);
  close(out_fd);
  close(err_fd);
}

Background::~Background() { kill_group(); }

int Background::signal_and_wait(int sig) {
  int status = 0;
  kill(pid_, sig);
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  return exit_code_of(status);
}

void Background::kill_group() {
  if (pid_ <= 0) return;
  if (!reaped_) {
    kill(-pid_, SIGKILL);
    int status;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  kill_and_reap_group(pid_);
  pid_ = -1;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace locktrace::recording
