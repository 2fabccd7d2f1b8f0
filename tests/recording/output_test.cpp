// Where a recording goes: never over an existing file without --force, never
// through a symlink, mode 0600, "-" for standard output; a full disk fails the
// recording loudly and leaves what was written readable.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "recording_test.hpp"

namespace locktrace::recording {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

mode_t mode_of(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Refused before any BPF is loaded: no BPF needed.
class OutputRefused : public RecordingTest {};

TEST_F(OutputRefused, AnExistingFileIsRefusedAndUntouched) {
  std::string path = tmp_.file("precious");
  write_file(path, "precious data\n");
  chmod(path.c_str(), 0644);
  for (const char* command : {"record", "live"}) {
    SCOPED_TRACE(command);
    RunResult r = locktrace({command, "-o", path, "--", "true"});
    EXPECT_NE(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(contains(r.err, "--force")) << r.describe();
    EXPECT_EQ(read_file(path), "precious data\n");
    EXPECT_EQ(mode_of(path), 0644u);
  }
}

TEST_F(OutputRefused, ASymlinkIsRefusedEvenWithForce) {
  std::string target = tmp_.file("target"), link = tmp_.file("link");
  write_file(target, "precious data\n");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  for (bool force : {false, true}) {
    SCOPED_TRACE(force ? "--force" : "without --force");
    std::vector<std::string> args{"record", "-o", link};
    if (force) args.push_back("--force");
    args.insert(args.end(), {"--", "true"});
    RunResult r = locktrace(args);
    EXPECT_NE(r.exit_code, 0) << r.describe();
    if (force) {
      EXPECT_TRUE(contains(r.err, "symbolic link")) << r.describe();
    }
    EXPECT_EQ(read_file(target), "precious data\n");
    EXPECT_TRUE(std::filesystem::is_symlink(link));
  }
  // A dangling link: nothing is created where it points.
  std::string dangling = tmp_.file("dangling"), nowhere = tmp_.file("nowhere");
  ASSERT_EQ(symlink(nowhere.c_str(), dangling.c_str()), 0);
  RunResult r = locktrace({"record", "-o", dangling, "--force", "--", "true"});
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.err, "symbolic link")) << r.describe();
  EXPECT_FALSE(std::filesystem::exists(nowhere));
}

class OutputFile : public BpfRecordingTest {};

TEST_F(OutputFile, ANewFileHasMode0600) {
  std::string path = tmp_.file("t.lt");
  RunOptions options;
  options.umask = 022;
  RunResult r = locktrace({"record", "-o", path, "--", "true"}, options);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_NO_THROW(parse_layout(read_file(path)));
}

TEST_F(OutputFile, ForceOverwritesAndNarrowsTheMode) {
  std::string path = tmp_.file("t.lt");
  write_file(path, std::string(100'000, 'x'));
  chmod(path.c_str(), 0644);
  RunOptions options;
  options.umask = 022;
  RunResult r = locktrace({"record", "-o", path, "--force", "--", "flock", tmp_.file("a.lock"), "true"}, options);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(mode_of(path), 0600u);
  std::string bytes = read_file(path);
  EXPECT_NO_THROW(parse_layout(bytes));  // truncated first: no 'x' left behind the trailer
  EXPECT_LT(bytes.size(), 100'000u);
}

TEST_F(OutputFile, DashWritesAValidTraceToStandardOutput) {
  std::string captured = tmp_.file("stdout.lt");
  RunOptions options;
  options.stdout_file = captured;
  RunResult r = locktrace({"record", "-o", "-", "--", "flock", "-n", tmp_.file("a.lock"), "true"}, options);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NO_THROW(parse_layout(read_file(captured)));
  RunResult replay = locktrace({"replay", "--json", captured});
  ASSERT_EQ(replay.exit_code, 0) << replay.describe();
  EXPECT_EQ(replay.err, "");
  auto events = json_lines(replay.out);
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [&](const Json& e) {
    return e["event"] == "lock_call" && e["syscall"] == "flock" && e["phase"] == "done" &&
           e["args"]["operation"] == "LOCK_EX|LOCK_NB" && e["ret"] == 0;
  })) << replay.out;
}

// With -o -, standard output is the trace: what the traced command prints
// must not land in it.
TEST_F(OutputFile, DashKeepsTheCommandsOutputOutOfTheTrace) {
  std::string captured = tmp_.file("stdout.lt");
  RunOptions options;
  options.stdout_file = captured;
  // The output ("hellohello") differs from the command line, which the header records.
  RunResult r = locktrace({"record", "-o", "-", "--", "sh", "-c", "echo $0$0", "hello"}, options);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  std::string bytes = read_file(captured);
  EXPECT_EQ(bytes.find("hellohello"), std::string::npos) << "the command wrote into the trace";
  EXPECT_NO_THROW(parse_layout(bytes));
  RunResult replay = locktrace({"replay", "--json", captured});
  EXPECT_EQ(replay.exit_code, 0) << replay.describe();
  EXPECT_EQ(replay.err, "") << replay.describe();
}

// The traced command gets no descriptor of the trace output (-o FILE or -o -).
TEST_F(OutputFile, TheTracedCommandInheritsNoTraceDescriptor) {
  std::string lister = script("fds.py", R"(import os, sys
links = []
for fd in os.listdir("/proc/self/fd"):
    try:
        if int(fd) > 2:
            links.append(fd + " -> " + os.readlink("/proc/self/fd/" + fd))
    except OSError:
        pass
open(sys.argv[1], "w").write("\n".join(links) + "\n")
)");
  for (std::string output : {tmp_.file("t.lt"), std::string("-")}) {
    SCOPED_TRACE("-o " + output);
    std::string listing = tmp_.file("fds.txt"), captured = tmp_.file("stdout.lt");
    RunOptions options;
    options.stdout_file = captured;
    RunResult r = locktrace({"record", "-o", output, "--force", "--", python3(), lister, listing}, options);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    std::string fds = read_file(listing);
    EXPECT_EQ(fds.find(output == "-" ? captured : output), std::string::npos)
        << "descriptors of the traced command beyond 0-2:\n" << fds;
  }
}

TEST_F(OutputFile, DevFullFailsTheRecording) {
  RunResult r = locktrace({"record", "-o", "/dev/full", "--force", "--", "sleep", "0.2"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "recording to /dev/full failed")) << r.describe();
  EXPECT_TRUE(contains(r.err, "No space left on device")) << r.describe();
}

// A 64 KiB tmpfs: the recording fills it.
class DiskFull : public BpfRecordingTest {
 protected:
  void SetUp() override {
    BpfRecordingTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    dir_ = tmp_.file("small");
    ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
    if (mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=64k") != 0)
      GTEST_SKIP() << "cannot mount a tmpfs: " << strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) {
      EXPECT_EQ(umount2(dir_.c_str(), MNT_DETACH), 0) << strerror(errno);
    }
  }
  std::string dir_;
  bool mounted_ = false;
};

TEST_F(DiskFull, TheRecordingFailsAndWhatWasWrittenStaysReadable) {
  std::string trace = dir_ + "/t.lt";
  RunResult r = record(trace, lock_loop_command(20000));
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "recording to " + trace + " failed")) << r.describe();
  EXPECT_TRUE(contains(r.err, "No space left on device")) << r.describe();

  std::string bytes = read_file(trace);
  Layout layout = parse_layout(bytes, /*allow_cut=*/true);
  EXPECT_FALSE(layout.trailer_offset.has_value());
  ASSERT_GE(layout.blocks.size(), 1u) << "64 KiB should hold a block";
  size_t expected = 0;
  for (const auto& block : layout.blocks) expected += kernel_records(block);

  RunResult replay = locktrace({"replay", "--json", trace});
  ASSERT_EQ(replay.exit_code, 0) << replay.describe();
  EXPECT_EQ(event_lines(replay.out).size(), expected);
  EXPECT_TRUE(contains(replay.err, "no trailer") || contains(replay.err, "cut short")) << replay.err;
  RunResult info = locktrace({"info", trace});
  ASSERT_EQ(info.exit_code, 0) << info.describe();
  EXPECT_TRUE(contains(info.out, "incomplete (no trailer)")) << info.out;
}

}  // namespace
}  // namespace locktrace::recording
