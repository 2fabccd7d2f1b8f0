#include "symbolizer.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "elf_file.hpp"
#include "kernel_symbols.hpp"
#include "symbols_targets.h"

int g_symbols_test_lock = 0;
static long s_symbols_test_pool[4];

namespace locktrace::symbols {
namespace {

using locktrace_test::kTargetVariants;

uint32_t self() { return static_cast<uint32_t>(getpid()); }
uint64_t address_of(const void* p) { return reinterpret_cast<uint64_t>(p); }

__attribute__((noinline)) int symbolized_function(int x) { return x * 7 + g_symbols_test_lock; }

TEST(Symbolizer, NamesGlobalAndStaticObjects) {
  Symbolizer symbolizer;
  EXPECT_EQ(symbolizer.name_address(self(), address_of(&g_symbols_test_lock)),
            "g_symbols_test_lock");
  EXPECT_EQ(symbolizer.name_address(self(), address_of(&s_symbols_test_pool[2])),
            "s_symbols_test_pool+0x10");
  // In libc, or copied into this executable by a copy relocation: either way, stdout.
  EXPECT_EQ(symbolizer.name_address(self(), address_of(&stdout)), "stdout");
}

TEST(Symbolizer, NamesHeapStackAndNothing) {
  Symbolizer symbolizer;
  auto heap = std::make_unique<int[]>(16);
  int on_stack = 0;
  EXPECT_EQ(symbolizer.name_address(self(), address_of(heap.get())), "[heap]");
  EXPECT_EQ(symbolizer.name_address(self(), address_of(&on_stack)), "[stack]");
  EXPECT_EQ(symbolizer.name_address(self(), 0x10), "");
  EXPECT_EQ(symbolizer.name_address(0x7ffffff0, address_of(&on_stack)), "");  // no such process
}

TEST(Symbolizer, UserFramesOfThisProcess) {
  Symbolizer symbolizer;
  const uint64_t function = address_of(reinterpret_cast<void*>(&symbolized_function));
  const uint64_t lock = address_of(reinterpret_cast<void*>(&pthread_mutex_lock));
  const uint64_t ips[] = {function + 2, function + 5, lock + 4, 0, function};
  auto frames = symbolizer.user_frames(self(), ips);
  ASSERT_EQ(frames.size(), 3u);  // the 0 ends the stack

  EXPECT_EQ(frames[0].address, function + 2);
  EXPECT_FALSE(frames[0].kernel);
  EXPECT_EQ(frames[0].function,
            "locktrace::symbols::(anonymous namespace)::symbolized_function(int)");
  EXPECT_EQ(frames[0].offset, 2u);
  EXPECT_TRUE(frames[0].file.ends_with("symbolizer_test.cpp")) << frames[0].file;
  EXPECT_GT(frames[0].line, 0u);
  char exe[4096] = {};
  ASSERT_GT(readlink("/proc/self/exe", exe, sizeof exe - 1), 0);
  EXPECT_EQ(frames[0].module, exe);

  // A return address: looked up one byte before, reported as given.
  EXPECT_EQ(frames[1].address, function + 5);
  EXPECT_EQ(frames[1].offset, 5u);
  EXPECT_EQ(frames[1].function, frames[0].function);

  EXPECT_EQ(frames[2].function, "pthread_mutex_lock");
  EXPECT_TRUE(frames[2].module.ends_with("/libc.so.6")) << frames[2].module;
}

TEST(Symbolizer, FrameWithoutSymbolStays) {
  Symbolizer symbolizer;
  auto heap = std::make_unique<int[]>(16);
  const uint64_t ips[] = {address_of(heap.get()), 0x10};
  auto frames = symbolizer.user_frames(self(), ips);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].function, "");
  EXPECT_EQ(frames[0].module, "[heap]");
  EXPECT_EQ(frames[1].function, "");
  EXPECT_EQ(frames[1].module, "");
  EXPECT_EQ(frames[1].address, 0x10u);
}

// The file a function of this process was loaded from.
std::string frames_module_of(const void* function) {
  Symbolizer symbolizer;
  const uint64_t ips[] = {address_of(function)};
  return symbolizer.user_frames(self(), ips).at(0).module;
}

TEST(Symbolizer, DataMappingOfAnElfFileIsNoBinary) {
  // Mapped to be read, like a debugger maps debug files: no code of this
  // process lies there, and its symbols would name the wrong things.
  const std::string path = locktrace_test::kTargetVariants[0].path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  void* data = mmap(nullptr, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  ASSERT_NE(data, MAP_FAILED);
  Symbolizer symbolizer;
  const uint64_t address = address_of(data) + 0x1010;
  EXPECT_EQ(symbolizer.name_address(self(), address),
            std::filesystem::path(path).filename().string() + "+0x1010");
  const uint64_t ips[] = {address};
  auto frames = symbolizer.user_frames(self(), ips);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].module, path);
  EXPECT_EQ(frames[0].function, "");
  munmap(data, 8192);

  // The same for a library this process runs: only its loaded mappings count.
  const std::string libc = frames_module_of(reinterpret_cast<const void*>(&pthread_mutex_lock));
  fd = ::open(libc.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  data = mmap(nullptr, 1 << 20, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  ASSERT_NE(data, MAP_FAILED);
  Symbolizer again;
  EXPECT_EQ(again.name_address(self(), address_of(data) + 0x1010),
            std::filesystem::path(libc).filename().string() + "+0x1010");
  EXPECT_EQ(again.name_address(self(), address_of(&stdout)), "stdout");  // the real one still
  munmap(data, 1 << 20);
}

TEST(Symbolizer, VdsoFunctionsFromProcessMemory) {
  auto base = getauxval(AT_SYSINFO_EHDR);
  if (base == 0) GTEST_SKIP() << "no vdso";
  // The vdso's own symbol table, read the way the symbolizer reads it.
  std::vector<std::byte> image(2 * 4096 * 4);
  int mem = ::open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(mem, 0);
  ssize_t n = pread(mem, image.data(), image.size(), static_cast<off_t>(base));
  ::close(mem);
  ASSERT_GT(n, 0);
  image.resize(static_cast<size_t>(n));
  auto vdso = ElfFile::from_image("vdso", image);
  ASSERT_NE(vdso, nullptr);
  const ElfSymbol* gettime = vdso->find("__vdso_clock_gettime");
  ASSERT_NE(gettime, nullptr);

  Symbolizer symbolizer;
  const uint64_t ips[] = {base + gettime->address + 1};
  auto frames = symbolizer.user_frames(self(), ips);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].module, "[vdso]");
  EXPECT_EQ(frames[0].function, "__vdso_clock_gettime");
  EXPECT_EQ(frames[0].offset, 1u);
}

TEST(Symbolizer, LibraryLoadedLaterIsFoundAfterTheMapsAreReadAgain) {
  Symbolizer symbolizer;
  ASSERT_EQ(symbolizer.name_address(self(), address_of(&g_symbols_test_lock)),
            "g_symbols_test_lock");
  const uint64_t reads = symbolizer.stats().maps_reads;
  void* plugin = dlopen(SYMBOLS_PLUGIN, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(plugin, nullptr) << dlerror();
  auto function_of = reinterpret_cast<void* (*)()>(dlsym(plugin, "locktrace_plugin_function"));
  ASSERT_NE(function_of, nullptr);
  const uint64_t function = address_of(function_of());
  const uint64_t lock = address_of(dlsym(plugin, "g_plugin_lock"));

  // Unknown addresses re-read the maps at most every 100 ms.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  const uint64_t ips[] = {function + 1};
  auto frames = symbolizer.user_frames(self(), ips);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].function, "locktrace_plugin::plugin_function(int)");
  EXPECT_EQ(frames[0].module, std::filesystem::canonical(SYMBOLS_PLUGIN).string());
  EXPECT_TRUE(frames[0].file.ends_with("symbols_plugin.cpp")) << frames[0].file;
  EXPECT_EQ(symbolizer.name_address(self(), lock), "g_plugin_lock");
  EXPECT_EQ(symbolizer.stats().maps_reads, reads + 1);
  for (int i = 0; i < 100; ++i) symbolizer.name_address(self(), 0x10);  // unmapped
  EXPECT_LE(symbolizer.stats().maps_reads, reads + 2);
  dlclose(plugin);
}

TEST(Symbolizer, KernelFramesOfThisKernel) {
  auto kallsyms = KernelSymbols::load("/proc/kallsyms");
  if (kallsyms.size() == 0) GTEST_SKIP() << "kernel addresses hidden (not root?)";
  std::ifstream in("/proc/kallsyms");
  std::string address, type, name;
  uint64_t schedule = 0;
  while (in >> address >> type >> name)
    if (name == "schedule") schedule = std::stoull(address, nullptr, 16);
  ASSERT_NE(schedule, 0u);
  Symbolizer symbolizer;
  const uint64_t ips[] = {schedule + 4, schedule + 8};
  auto frames = symbolizer.kernel_frames(ips);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].function, "schedule");
  EXPECT_EQ(frames[0].offset, 4u);
  EXPECT_EQ(frames[1].function, "schedule");
}

TEST(Symbolizer, KernelFramesFromKallsyms) {
  Symbolizer symbolizer(SYMBOLS_FIXTURES);  // its kallsyms is the fixture
  const uint64_t ips[] = {0xffffffff81001234, 0xffffffff81004000, 0xffffffff80000000, 0};
  auto frames = symbolizer.kernel_frames(ips);
  ASSERT_EQ(frames.size(), 3u);
  for (const auto& frame : frames) {
    EXPECT_TRUE(frame.kernel);
    EXPECT_EQ(frame.module, "[kernel]");
  }
  EXPECT_EQ(frames[0].function, "do_one_initcall");
  EXPECT_EQ(frames[0].offset, 0x234u);
  // A return address right after the end of a function belongs to that function.
  EXPECT_EQ(frames[1].function, "helper_local");
  EXPECT_EQ(frames[1].offset, 0x2000u);
  EXPECT_EQ(frames[2].function, "");
  EXPECT_EQ(frames[2].address, 0xffffffff80000000u);
}

// A process that exists only as PROC_ROOT/4242/maps: the target programs placed
// where the kernel would place them, plus anonymous and deleted mappings.
class FixtureProcess : public testing::Test {
 protected:
  static constexpr uint32_t kPid = 4242;
  static constexpr uint64_t kPieLoad = 0x555555554000;

  void SetUp() override {
    root_ =
        std::filesystem::temp_directory_path() / ("locktrace-symbols-" + std::to_string(getpid()));
    std::filesystem::create_directories(root_ / std::to_string(kPid));
    std::ofstream maps(root_ / std::to_string(kPid) / "maps");
    for (const auto& variant : kTargetVariants) {
      if (std::string(variant.name) == "O2_nofp_pie") pie_ = variant.path;
      if (std::string(variant.name) == "O2_nofp_nopie") nopie_ = variant.path;
    }
    write_mappings(maps, nopie_, 0);
    maps << "1000000-1021000 rw-p 00000000 00:00 0                          [heap]\n";
    write_mappings(maps, pie_, kPieLoad);
    maps << "7f0000000000-7f0000001000 r-xp 00001000 fd:01 99 " << pie_ << " (deleted)\n";
    maps << "7f0000010000-7f0000020000 rw-p 00000000 00:00 0 \n";
    maps << "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  static void write_mappings(std::ofstream& maps, const std::string& path, uint64_t load) {
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    auto elf = ElfFile::open(UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), path);
    ASSERT_NE(elf, nullptr);
    for (const LoadSegment& seg : elf->segments()) {
      uint64_t start = load + (seg.vaddr & ~uint64_t{0xfff});
      uint64_t end = (load + seg.vaddr + seg.memsz + 0xfff) & ~uint64_t{0xfff};
      // Executable segments r-x, the others rw- (good enough for a fixture).
      char line[512];
      std::snprintf(line, sizeof line, "%lx-%lx %s %08lx fd:01 %lu %s\n", start, end,
                    seg.executable ? "r-xp" : "rw-p", seg.offset & ~uint64_t{0xfff},
                    static_cast<unsigned long>(st.st_ino), path.c_str());
      maps << line;
    }
  }

  static uint64_t symbol(const std::string& path, const char* name) {
    auto elf = ElfFile::open(UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), path);
    const ElfSymbol* sym = elf ? elf->find(name) : nullptr;
    return sym ? sym->address : 0;
  }

  std::filesystem::path root_;
  std::string pie_, nopie_;
};

TEST_F(FixtureProcess, PieAndNonPieAtTheirLoadAddresses) {
  Symbolizer symbolizer(root_.string());
  const char* mangled = "_ZN16locktrace_target19namespaced_functionEi";
  const uint64_t ips[] = {symbol(nopie_, mangled) + 3, kPieLoad + symbol(pie_, mangled) + 3};
  auto frames = symbolizer.user_frames(kPid, ips);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].function, "locktrace_target::namespaced_function(int)");
  EXPECT_EQ(frames[0].module, nopie_);
  EXPECT_EQ(frames[0].offset, 3u);
  EXPECT_EQ(frames[1].function, "locktrace_target::namespaced_function(int)");
  EXPECT_EQ(frames[1].module, pie_);
  EXPECT_EQ(frames[1].offset, 3u);

  EXPECT_EQ(symbolizer.name_address(kPid, symbol(nopie_, "g_test_lock")), "g_test_lock");
  EXPECT_EQ(symbolizer.name_address(kPid, kPieLoad + symbol(pie_, "g_test_lock")), "g_test_lock");
  EXPECT_EQ(symbolizer.name_address(kPid, kPieLoad + symbol(pie_, "_ZL17s_static_counters") + 8),
            "s_static_counters+0x8");
}

TEST_F(FixtureProcess, AnonymousDeletedAndUnmapped) {
  Symbolizer symbolizer(root_.string());
  EXPECT_EQ(symbolizer.name_address(kPid, 0x1000010), "[heap]");
  EXPECT_EQ(symbolizer.name_address(kPid, 0x7ffffffdf000), "[stack]");
  EXPECT_EQ(symbolizer.name_address(kPid, 0x7f0000010008), "[anon]");
  EXPECT_EQ(symbolizer.name_address(kPid, 0x10), "");
  // A deleted file's path names another file now, or none: no symbols from it,
  // but the mapping is named, with its file offset.
  EXPECT_EQ(symbolizer.name_address(kPid, 0x7f0000000010),
            std::filesystem::path(pie_).filename().string() + "+0x1010");
  const uint64_t ips[] = {0x7f0000000010};
  auto frames = symbolizer.user_frames(kPid, ips);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].module, pie_ + " (deleted)");
  EXPECT_EQ(frames[0].function, "");
}

TEST_F(FixtureProcess, ExecutableMappingsCarryBuildIds) {
  Symbolizer symbolizer(root_.string());
  auto mappings = symbolizer.executable_mappings(kPid);
  auto build_id = [](const std::string& path) {
    return ElfFile::open(UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), path)->build_id();
  };
  ASSERT_EQ(mappings.size(), 3u);  // the text of each program and the deleted one
  EXPECT_EQ(mappings[0].path, nopie_);
  EXPECT_EQ(mappings[0].build_id, build_id(nopie_));
  EXPECT_EQ(mappings[0].pid, kPid);
  EXPECT_EQ(mappings[1].path, pie_);
  EXPECT_EQ(mappings[1].build_id, build_id(pie_));
  EXPECT_GE(mappings[1].start, kPieLoad);
  EXPECT_EQ(mappings[2].path, pie_ + " (deleted)");
  EXPECT_EQ(mappings[2].build_id, "");
  EXPECT_EQ(mappings[2].file_offset, 0x1000u);
}

TEST_F(FixtureProcess, ForgetRereadsTheMaps) {
  Symbolizer symbolizer(root_.string());
  EXPECT_EQ(symbolizer.name_address(kPid, 0x1000010), "[heap]");
  std::filesystem::remove_all(root_ / std::to_string(kPid));
  EXPECT_EQ(symbolizer.name_address(kPid, 0x1000010), "[heap]");  // cached
  symbolizer.forget(kPid);
  EXPECT_EQ(symbolizer.name_address(kPid, 0x1000010), "");  // gone
}

}  // namespace
}  // namespace locktrace::symbols
