#include "binary_cache.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "symbols_targets.h"

namespace locktrace::symbols {
namespace {

UniqueFd open_file(const std::string& path) {
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
}

TEST(BinaryCache, SameFileOrSameBuildIdIsOneBinary) {
  const std::string path = locktrace_test::kTargetVariants[0].path;
  const auto copy = std::filesystem::temp_directory_path() /
                    ("locktrace-binary-copy-" + std::to_string(getpid()));
  std::filesystem::copy_file(path, copy, std::filesystem::copy_options::overwrite_existing);

  BinaryCache cache;
  auto first = cache.get(open_file(path), path);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(cache.get(open_file(path), path), first);                    // same file
  EXPECT_EQ(cache.get(open_file(copy.string()), copy.string()), first);  // same build id
  EXPECT_EQ(cache.size(), 1u);
  std::filesystem::remove(copy);
}

TEST(BinaryCache, NotElfIsNoBinary) {
  BinaryCache cache;
  const std::string maps = std::string(SYMBOLS_FIXTURES) + "/maps";
  EXPECT_EQ(cache.get(open_file(maps), maps), nullptr);
  EXPECT_EQ(cache.get(UniqueFd(), "/nonexistent"), nullptr);
}

TEST(BinaryCache, DebugFileDoesNotStandInForItsBinary) {
  const std::string libc = "/lib/x86_64-linux-gnu/libc.so.6";
  BinaryCache cache;
  auto binary = cache.get(open_file(libc), libc);
  ASSERT_NE(binary, nullptr);
  const std::string debug = binary->elf().debug_file();
  if (debug.empty()) GTEST_SKIP() << "no debug file for libc (libc6-dbg)";

  // A process may map a debug file (a debugger does), before its binary.
  BinaryCache fresh;
  auto debug_binary = fresh.get(open_file(debug), debug);
  ASSERT_NE(debug_binary, nullptr);
  EXPECT_FALSE(debug_binary->elf().has_code());
  auto real = fresh.get(open_file(libc), libc);
  ASSERT_NE(real, nullptr);
  EXPECT_NE(real, debug_binary);
  EXPECT_TRUE(real->elf().has_code());
  EXPECT_EQ(real->elf().build_id(), debug_binary->elf().build_id());
}

}  // namespace
}  // namespace locktrace::symbols
