// The symbolizer on another process: symbols_target in each of its builds,
// named from its printed addresses and unwound while it blocks in read().
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "elf_file.hpp"
#include "stack_expectations.hpp"
#include "symbolizer.hpp"
#include "symbols_targets.h"
#include "target_process.hpp"
#include "thread_snapshot.hpp"

namespace locktrace::symbols {
namespace {

using locktrace_test::describe;
using locktrace_test::frame_index;
using locktrace_test::kTargetVariants;
using locktrace_test::TargetProcess;
using locktrace_test::TargetVariant;

class TargetProgram : public testing::TestWithParam<TargetVariant> {};

TEST_P(TargetProgram, NamesFunctionsAndObjects) {
  TargetProcess target(GetParam().path);
  ASSERT_GT(target.pid(), 0);
  ASSERT_NE(target.address("function"), 0u);
  const auto pid = static_cast<uint32_t>(target.pid());
  Symbolizer symbolizer;

  const uint64_t ips[] = {target.address("function")};
  auto frames = symbolizer.user_frames(pid, ips);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].function, "locktrace_target::namespaced_function(int)");
  EXPECT_EQ(frames[0].offset, 0u);
  EXPECT_EQ(frames[0].module, std::filesystem::canonical(GetParam().path).string());
  EXPECT_TRUE(frames[0].file.ends_with("symbols_target.cpp")) << frames[0].file;
  EXPECT_GT(frames[0].line, 0u);

  EXPECT_EQ(symbolizer.name_address(pid, target.address("g_test_lock")), "g_test_lock");
  EXPECT_EQ(symbolizer.name_address(pid, target.address("static")), "s_static_counters+0x10");

  auto elf =
      ElfFile::open(UniqueFd(::open(GetParam().path, O_RDONLY | O_CLOEXEC)), GetParam().path);
  ASSERT_NE(elf, nullptr);
  bool found = false;
  for (const Mapping& mapping : symbolizer.executable_mappings(pid)) {
    if (mapping.path != frames[0].module) continue;
    found = true;
    EXPECT_EQ(mapping.build_id, elf->build_id());
    EXPECT_EQ(mapping.pid, pid);
  }
  EXPECT_TRUE(found);
}

TEST_P(TargetProgram, UnwindsWhileBlockedInRead) {
  TargetProcess target(GetParam().path);
  ASSERT_GT(target.pid(), 0);
  ASSERT_TRUE(target.wait_blocked_in_read());
  std::string error;
  auto snapshot = tools::snapshot_thread(target.pid(), target.pid(), 8192, &error);
  ASSERT_TRUE(snapshot.has_value()) << error;
  Symbolizer symbolizer;
  const auto pid = static_cast<uint32_t>(target.pid());

  auto frames = symbolizer.unwind_user(pid, snapshot->regs, snapshot->stack);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames[0].address, snapshot->regs.ip);
  EXPECT_TRUE(frames[0].module.ends_with("/libc.so.6")) << describe(frames);
  int inner = frame_index(frames, "locktrace_target::inner(int)");
  ASSERT_GE(inner, 1) << describe(frames);
  EXPECT_EQ(frame_index(frames, "locktrace_target::middle(int)"), inner + 1) << describe(frames);
  EXPECT_EQ(frame_index(frames, "locktrace_target::outer(int)"), inner + 2) << describe(frames);
  EXPECT_EQ(frame_index(frames, "main"), inner + 3) << describe(frames);

  if (GetParam().frame_pointers) {
    // The frame-pointer walk loses the caller of the frameless read() wrapper,
    // inner, but finds the rest.
    auto fp = symbolizer.user_frames(pid, tools::frame_pointer_walk(*snapshot));
    int middle = frame_index(fp, "locktrace_target::middle(int)");
    ASSERT_GE(middle, 1) << describe(fp);
    EXPECT_EQ(frame_index(fp, "locktrace_target::outer(int)"), middle + 1) << describe(fp);
    EXPECT_EQ(frame_index(fp, "main"), middle + 2) << describe(fp);
  }
}

TEST(DeletedProgram, NamedThroughMapFilesWhenAllowed) {
  // A program whose file is gone while it runs (an upgrade replaced it).
  const auto copy = std::filesystem::temp_directory_path() /
                    ("locktrace-deleted-target-" + std::to_string(getpid()));
  std::filesystem::copy_file(kTargetVariants[0].path, copy,
                             std::filesystem::copy_options::overwrite_existing);
  TargetProcess target(copy.string());
  ASSERT_GT(target.pid(), 0);
  std::filesystem::remove(copy);
  Symbolizer symbolizer;
  const uint64_t ips[] = {target.address("function")};
  auto frames = symbolizer.user_frames(static_cast<uint32_t>(target.pid()), ips);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].module, copy.string() + " (deleted)");
  // /proc/PID/map_files opens the file itself, but only with CAP_SYS_ADMIN;
  // without it the path is no longer this file and no symbols are read.
  if (geteuid() == 0)
    EXPECT_EQ(frames[0].function, "locktrace_target::namespaced_function(int)");
  else
    EXPECT_EQ(frames[0].function, "");
}

INSTANTIATE_TEST_SUITE_P(Builds, TargetProgram, testing::ValuesIn(kTargetVariants),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace locktrace::symbols
