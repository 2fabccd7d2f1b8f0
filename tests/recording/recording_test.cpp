#include "recording_test.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>

#ifndef LOCKTRACE_BIN
#error "LOCKTRACE_BIN must name the locktrace binary"
#endif
#ifndef RECORDING_STATE_DIR
#error "RECORDING_STATE_DIR must name a directory for the BPF check's cache"
#endif

namespace locktrace::recording {

namespace {

std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

// What identifies a positive answer: this boot, this binary.
std::string check_key() {
  struct stat st{};
  stat(LOCKTRACE_BIN, &st);
  return boot_id() + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_size);
}

// Why BPF tracing does not work here, or nullopt when it does. A tracing
// session costs about a second and a half of BPF loading, and ctest runs each
// test in a process of its own: a success is remembered for this boot and
// this binary, a failure is checked again every time.
std::optional<std::string> bpf_problem() {
  if (geteuid() != 0) return "not root: the recording tests load BPF programs";
  const std::string cache = std::string(RECORDING_STATE_DIR) + "/bpf-usable";
  std::string key = check_key();
  {
    std::ifstream in(cache);
    std::string cached;
    if (std::getline(in, cached) && cached == key) return std::nullopt;
  }
  RunResult check = run({LOCKTRACE_BIN, "live", "--duration", "0.2s", "--", "true"});
  if (check.exit_code != 0) return "locktrace cannot trace here:\n" + check.describe();
  std::ofstream(cache) << key << "\n";
  return std::nullopt;
}

}  // namespace

std::string python3() { return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"; }

RunResult RecordingTest::locktrace(const std::vector<std::string>& args, const RunOptions& options) {
  std::vector<std::string> argv{LOCKTRACE_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, options);
}

RunResult RecordingTest::record(const std::string& file, const std::vector<std::string>& command) {
  std::vector<std::string> args{"record", "-o", file, "--"};
  args.insert(args.end(), command.begin(), command.end());
  return locktrace(args);
}

std::string RecordingTest::script(const std::string& name, const std::string& text) const {
  std::string path = tmp_.file(name);
  write_file(path, text);
  return path;
}

std::vector<std::string> RecordingTest::contention_command() const {
  std::string futex = script("futex.py", R"(import threading
lock = threading.Lock()
lock.acquire()
timer = threading.Timer(0.2, lock.release)
timer.start()
lock.acquire()  # sleeps on a futex until the timer's thread releases it
timer.join()
)");
  std::string sh = script("contention.sh", R"(dir=$1
flock "$dir/a.lock" sh -c 'touch "$0"; sleep 0.5' "$dir/held" &
while [ ! -e "$dir/held" ]; do sleep 0.01; done
flock -n "$dir/a.lock" true
flock "$dir/a.lock" true
)" + python3() + R"( ")" + futex + R"("
sleep 5 & kill -9 $!
wait
)");
  return {"sh", sh, tmp_.path().string()};
}

std::vector<std::string> RecordingTest::lock_loop_command(int iterations) const {
  std::string py = script("lock_loop.py", R"(import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
n = int(sys.argv[2])  # 0: until killed (at most a minute)
deadline = time.monotonic() + 60
i = 0
while i < n or (n == 0 and time.monotonic() < deadline):
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.lockf(fd, fcntl.LOCK_UN)
    i += 1
)");
  return {python3(), py, tmp_.file("loop.lock"), std::to_string(iterations)};
}

void BpfRecordingTest::SetUp() {
  static const std::optional<std::string> problem = bpf_problem();
  if (!problem) return;
  const char* ci = std::getenv("CI");
  if (ci && std::string(ci) == "true") FAIL() << "CI=true and BPF tracing is unusable: " << *problem;
  GTEST_SKIP() << *problem;
}

std::vector<Json> json_lines(const std::string& text) {
  std::vector<Json> events;
  for (const auto& line : lines_of(text)) {
    if (line.empty()) continue;
    try {
      events.push_back(Json::parse(line));
    } catch (const Json::exception& e) {
      throw std::runtime_error("not a JSON line: " + line + " (" + e.what() + ")");
    }
  }
  return events;
}

std::vector<std::string> event_lines(const std::string& text) {
  // Every kernel record's line starts with the common header (docs/json-schema.md);
  // findings and the summary do not carry a cpu.
  static const std::regex kHeader(R"(^\{"event":"[a-z_]+","ts_ns":\d+,"time":"[^"]*","cpu":\d+,)");
  std::vector<std::string> events;
  for (auto& line : lines_of(text))
    if (std::regex_search(line, kHeader)) events.push_back(std::move(line));
  return events;
}

::testing::AssertionResult same_lines(const std::vector<std::string>& got,
                                      const std::vector<std::string>& expected) {
  size_t i = 0;
  while (i < got.size() && i < expected.size() && got[i] == expected[i]) i++;
  if (i == got.size() && i == expected.size()) return ::testing::AssertionSuccess();
  auto at = [i](const std::vector<std::string>& lines) {
    return i < lines.size() ? lines[i] : std::string("(none: the list ends here)");
  };
  return ::testing::AssertionFailure() << got.size() << " lines where " << expected.size()
                                       << " were expected; the first difference, line " << i
                                       << ":\n  got:      " << at(got) << "\n  expected: " << at(expected);
}

}  // namespace locktrace::recording
