#include "run_helpers.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace locktrace::integration {

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

std::string join(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

// An unlinked file in the temp directory: it goes away with its last descriptor.
int anonymous_file() {
  std::string path = (std::filesystem::temp_directory_path() / "locktrace-it-XXXXXX").string();
  int fd = mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) throw_errno("mkostemp " + path);
  unlink(path.c_str());
  return fd;
}

std::string read_all(int fd) {
  std::string text;
  char buf[1 << 16];
  if (lseek(fd, 0, SEEK_SET) < 0) throw_errno("lseek");
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  if (n < 0) throw_errno("read");
  return text;
}

// Starts argv as the leader of a new process group with the given stdio.
// Returns the pid and a pidfd (to wait with a timeout without reaping).
std::pair<pid_t, int> spawn(const std::vector<std::string>& argv, int in, int out, int err) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    setpgid(0, 0);
    // Should the test binary die, take its processes along.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
      _exit(127);
    execvp(args[0], args.data());
    dprintf(STDERR_FILENO, "cannot run %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);  // as the child does: whichever runs first, the group exists after fork
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int saved = errno;
    kill(-pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    errno = saved;
    throw_errno("pidfd_open");
  }
  return {pid, pidfd};
}

int shell_status(int wait_status) {
  return WIFSIGNALED(wait_status) ? 128 + WTERMSIG(wait_status) : WEXITSTATUS(wait_status);
}

// Waits up to `timeout` for the leader to exit, then kills whatever is left of
// its group (all of it on timeout) and reaps the leader. The group is killed
// while the leader is not yet reaped, so its id cannot have been reused.
// Returns the shell-style status and whether the leader exited in time.
std::pair<int, bool> finish(pid_t pid, int pidfd, std::chrono::milliseconds timeout) {
  pollfd p{pidfd, POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int ready = 0;
  while (ready <= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) break;
  }
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  close(pidfd);
  return {shell_status(status), ready > 0};
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "locktrace-it-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw_errno("mkdtemp " + pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string RunResult::describe() const {
  constexpr size_t kMaxOut = 64 * 1024;
  std::ostringstream text;
  text << "command: " << command << "\nexit code: " << exit_code
       << (timed_out ? " (timed out, killed)" : "") << "\nstderr:\n"
       << err << "stdout (" << out.size() << " bytes):\n"
       << out.substr(0, kMaxOut) << (out.size() > kMaxOut ? "\n[...]\n" : "");
  return text.str();
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  RunResult result;
  result.command = join(argv);
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in < 0) throw_errno("open /dev/null");
  int out = anonymous_file(), err = anonymous_file();
  try {
    auto [pid, pidfd] = spawn(argv, in, out, err);
    auto [status, exited] = finish(pid, pidfd, timeout);
    result.exit_code = status;
    result.timed_out = !exited;
    result.out = read_all(out);
    result.err = read_all(err);
  } catch (...) {
    close(in);
    close(out);
    close(err);
    throw;
  }
  close(in);
  close(out);
  close(err);
  return result;
}

Background::Background(const std::vector<std::string>& argv) {
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in < 0) throw_errno("open /dev/null");
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    close(in);
    throw_errno("pipe2");
  }
  try {
    std::tie(pid_, pidfd_) = spawn(argv, in, pipe_fds[1], STDERR_FILENO);
  } catch (...) {
    close(in);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    throw;
  }
  close(in);
  close(pipe_fds[1]);
  out_fd_ = pipe_fds[0];
}

Background::~Background() {
  if (pid_ > 0) finish(pid_, pidfd_, 0ms);
  if (out_fd_ >= 0) close(out_fd_);
}

std::optional<std::string> Background::read_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (size_t newline = buffered_.find('\n'); newline != std::string::npos) {
      std::string line = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{out_fd_, POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    char buf[4096];
    ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buffered_.append(buf, static_cast<size_t>(n));
  }
}

std::optional<int> Background::stop(int sig, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  kill(pid_, sig);
  auto [status, exited] = finish(pid_, pidfd_, timeout);
  pid_ = -1;
  pidfd_ = -1;
  if (!exited) return std::nullopt;
  return status;
}

std::vector<nlohmann::json> parse_json_lines(const std::string& text) {
  std::vector<nlohmann::json> values;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); number++) {
    if (line.empty()) continue;
    try {
      values.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::parse_error& e) {
      throw std::runtime_error("output line " + std::to_string(number) + " is not JSON (" +
                               e.what() + "): " + line);
    }
  }
  return values;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string probe_bpf(const std::string& locktrace, const std::string& stamp_file) {
  if (geteuid() != 0) return "these tests must run as root (euid " + std::to_string(geteuid()) + ")";
  struct stat st {};
  stat(locktrace.c_str(), &st);
  std::string key = read_text("/proc/sys/kernel/random/boot_id") + locktrace + " " +
                    std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + " " +
                    std::to_string(st.st_size);
  if (read_text(stamp_file) == key) return {};
  Background target({"sleep", "120"});
  RunResult probe = run({locktrace, "live", "--duration", "0.2s", "-p", std::to_string(target.pid())});
  if (probe.exit_code != 0) return "locktrace cannot trace on this system:\n" + probe.describe();
  std::ofstream(stamp_file) << key;
  return {};
}

}  // namespace locktrace::integration
