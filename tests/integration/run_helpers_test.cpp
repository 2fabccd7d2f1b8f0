// The helpers themselves: a test that cannot trust them cannot trust itself.
// No BPF, no root needed.
#include <signal.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "run_helpers.hpp"

namespace locktrace::integration {
namespace {

// Whether `pid` is gone, or a zombie waiting for init to reap it.
bool dead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  return text.empty() || (paren != std::string::npos && text.compare(paren, 3, ") Z") == 0);
}

bool dies_soon(pid_t pid) {
  for (int i = 0; i < 1000 && !dead(pid); i++) std::this_thread::sleep_for(5ms);
  return dead(pid);
}

TEST(RunHelpers, RunCapturesOutputAndExitStatus) {
  RunResult result = run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.out, "out\n");
  EXPECT_EQ(result.err, "err\n");
  EXPECT_EQ(run({"sh", "-c", "kill -KILL $$"}).exit_code, 128 + SIGKILL);
}

TEST(RunHelpers, TimeoutKillsTheWholeProcessGroup) {
  TempDir tmp;
  std::string pid_file = tmp.file("grandchild.pid");
  RunResult result = run({"sh", "-c", "sleep 60 & echo $! > " + pid_file + "; wait"}, 300ms);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.exit_code, 128 + SIGKILL);
  pid_t grandchild = 0;
  std::ifstream(pid_file) >> grandchild;
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(dies_soon(grandchild)) << "sleep " << grandchild << " outlived the timeout";
}

TEST(RunHelpers, BackgroundReadsLinesAndIsKilledAtScopeExit) {
  pid_t pid;
  {
    Background sleeper({"sh", "-c", "echo ready; exec sleep 60"});
    pid = sleeper.pid();
    EXPECT_EQ(sleeper.read_line(), "ready");
    EXPECT_EQ(sleeper.read_line(100ms), std::nullopt);
  }
  EXPECT_TRUE(dead(pid)) << "reaped at scope exit";
  Background stopped({"sleep", "60"});
  EXPECT_EQ(stopped.stop(SIGTERM), 128 + SIGTERM);
}

TEST(RunHelpers, NonJsonLineIsNamed) {
  EXPECT_EQ(parse_json_lines("{\"a\":1}\n\n[2]\n").size(), 2u);
  try {
    parse_json_lines("{\"a\":1}\nnot json\n");
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace locktrace::integration
