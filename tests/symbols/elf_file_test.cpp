#include "elf_file.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "binary.hpp"
#include "symbols_targets.h"

namespace locktrace::symbols {
namespace {

using locktrace_test::kTargetVariants;
using locktrace_test::TargetVariant;

constexpr const char* kNamespacedFunction = "_ZN16locktrace_target19namespaced_functionEi";

std::unique_ptr<ElfFile> open_elf(const std::string& path) {
  return ElfFile::open(UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), path);
}

class ElfFileTest : public testing::TestWithParam<TargetVariant> {};

TEST_P(ElfFileTest, FunctionsAndObjectsByAddress) {
  auto elf = open_elf(GetParam().path);
  ASSERT_NE(elf, nullptr);
  EXPECT_EQ(elf->build_id().size(), 40u);

  const ElfSymbol* function = elf->find(kNamespacedFunction);
  ASSERT_NE(function, nullptr);
  EXPECT_GT(function->size, 0u);
  EXPECT_EQ(elf->function_at(function->address), function);
  EXPECT_EQ(elf->function_at(function->address + function->size - 1), function);
  EXPECT_NE(elf->function_at(function->address + function->size), function);

  const ElfSymbol* lock = elf->find("g_test_lock");
  ASSERT_NE(lock, nullptr);
  EXPECT_EQ(lock->size, sizeof(int));
  EXPECT_EQ(elf->object_at(lock->address), lock);
  EXPECT_EQ(elf->function_at(lock->address), nullptr);

  Binary binary(open_elf(GetParam().path));
  EXPECT_EQ(binary.object_name(lock->address), "g_test_lock");
  // A static is a local symbol, mangled by g++ (_ZL17s_static_counters).
  const ElfSymbol* counters = binary.elf().object_at(lock->address) == nullptr
                                  ? nullptr
                                  : binary.elf().find("_ZL17s_static_counters");
  ASSERT_NE(counters, nullptr);
  EXPECT_EQ(binary.object_name(counters->address + 16), "s_static_counters+0x10");
  EXPECT_EQ(binary.object_name(counters->address + 32), "");  // just past its 4 longs, in .bss

  const CodeLocation& location = binary.code_at(function->address + 1);
  EXPECT_EQ(location.function, "locktrace_target::namespaced_function(int)");
  EXPECT_EQ(location.function_address, function->address);
  EXPECT_TRUE(location.file.ends_with("symbols_target.cpp")) << location.file;
  EXPECT_GT(location.line, 0u);
}

TEST_P(ElfFileTest, LoadBiasOfEverySegment) {
  auto elf = open_elf(GetParam().path);
  ASSERT_NE(elf, nullptr);
  // Where the kernel would map the file: a PIE anywhere, a non-PIE at its vaddrs.
  const uint64_t load = GetParam().pie ? 0x555555554000 : 0;
  ASSERT_FALSE(elf->segments().empty());
  // The first mapping, at offset 0, is unambiguous; the others follow it.
  const LoadSegment& first = elf->segments().front();
  auto first_bias = elf->load_bias(load + (first.vaddr & ~uint64_t{0xfff}), 0, first.executable);
  ASSERT_TRUE(first_bias.has_value());
  EXPECT_EQ(*first_bias, load);
  for (const LoadSegment& seg : elf->segments()) {
    uint64_t start = load + (seg.vaddr & ~uint64_t{0xfff});
    uint64_t offset = seg.offset & ~uint64_t{0xfff};
    auto bias = elf->load_bias(start, offset, seg.executable, first_bias);
    ASSERT_TRUE(bias.has_value()) << std::hex << seg.vaddr;
    EXPECT_EQ(*bias, load) << std::hex << "segment at vaddr 0x" << seg.vaddr;
  }
  // Without the hint, the RELRO page of the data segment, mapped r--p like the
  // read-only segment that shares its file page, is told apart by permissions
  // only when they differ; the text is never ambiguous.
  for (const LoadSegment& seg : elf->segments()) {
    if (!seg.executable) continue;
    EXPECT_EQ(
        elf->load_bias(load + (seg.vaddr & ~uint64_t{0xfff}), seg.offset & ~uint64_t{0xfff}, true),
        load);
  }
  EXPECT_FALSE(elf->load_bias(0x1000, 0x7fffffff000, true).has_value());  // past the file
}

INSTANTIATE_TEST_SUITE_P(Builds, ElfFileTest, testing::ValuesIn(kTargetVariants),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ElfFile, NotElfIsRefused) {
  EXPECT_EQ(open_elf(std::string(SYMBOLS_FIXTURES) + "/maps"), nullptr);
  EXPECT_EQ(open_elf("/nonexistent"), nullptr);
}

TEST(ElfFile, ImageInMemoryReadsLikeTheFile) {
  const char* path = kTargetVariants[0].path;
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto image = ElfFile::from_image(
      "image", std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
  auto file = open_elf(path);
  ASSERT_NE(image, nullptr);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(image->build_id(), file->build_id());
  ASSERT_NE(image->find("g_test_lock"), nullptr);
  EXPECT_EQ(image->find("g_test_lock")->address, file->find("g_test_lock")->address);
}

TEST(ElfFile, StrippedLibraryUsesItsDebugFile) {
  // libc6-dbg puts libc's full symbol table under /usr/lib/debug/.build-id.
  auto libc = open_elf("/lib/x86_64-linux-gnu/libc.so.6");
  ASSERT_NE(libc, nullptr);
  if (libc->debug_file().empty()) GTEST_SKIP() << "no debug file for libc (libc6-dbg)";
  EXPECT_NE(libc->debug_file().find(libc->build_id().substr(2)), std::string::npos);
  // A local function only the full symbol table names.
  EXPECT_NE(libc->find("__pthread_mutex_lock_full"), nullptr);
  Binary binary(open_elf("/lib/x86_64-linux-gnu/libc.so.6"));
  const ElfSymbol* lock = binary.elf().find("pthread_mutex_lock");
  ASSERT_NE(lock, nullptr);
  const CodeLocation& location = binary.code_at(lock->address + 4);
  EXPECT_EQ(location.function, "pthread_mutex_lock");
  EXPECT_TRUE(location.file.ends_with("pthread_mutex_lock.c")) << location.file;
}

}  // namespace
}  // namespace locktrace::symbols
