// DWARF unwinding of this process's own stack, captured in a -O2 chain
// without frame pointers, and what the call-path cache saves.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "stack_expectations.hpp"
#include "symbolizer.hpp"
#include "unwind_chain.hpp"

namespace locktrace::symbols {
namespace {

using locktrace_test::describe;
using locktrace_test::frame_index;
using tools::ThreadSnapshot;

uint32_t self() { return static_cast<uint32_t>(getpid()); }

TEST(DwarfUnwind, OwnChainWithoutFramePointers) {
  ThreadSnapshot snapshot;
  locktrace_test::unwind_a(snapshot, 8192);
  ASSERT_GT(snapshot.stack.size(), 256u);
  Symbolizer symbolizer;
  auto frames = symbolizer.unwind_user(self(), snapshot.regs, snapshot.stack);
  ASSERT_GE(frames.size(), 4u) << describe(frames);
  EXPECT_EQ(frames[0].address, snapshot.regs.ip);
  EXPECT_EQ(frames[0].function,
            "locktrace_test::unwind_c(locktrace::tools::ThreadSnapshot&, unsigned long)");
  EXPECT_TRUE(frames[0].file.ends_with("unwind_chain.cpp")) << frames[0].file;
  EXPECT_GT(frames[0].line, 0u);
  EXPECT_NE(frames[1].function.find("locktrace_test::unwind_b("), std::string::npos)
      << describe(frames);
  EXPECT_NE(frames[2].function.find("locktrace_test::unwind_a("), std::string::npos)
      << describe(frames);
  EXPECT_NE(frames[3].function.find("DwarfUnwind_OwnChainWithoutFramePointers_Test::TestBody"),
            std::string::npos)
      << describe(frames);
  // Deeper: gtest's machinery, main, libc's start.
  EXPECT_GE(frame_index(frames, "main"), 4) << describe(frames);
}

TEST(DwarfUnwind, CopyBoundsTheDepth) {
  ThreadSnapshot snapshot;
  locktrace_test::unwind_a(snapshot, 8192);
  Symbolizer symbolizer;
  auto full = symbolizer.unwind_user(self(), snapshot.regs, snapshot.stack);
  auto shallow = symbolizer.unwind_user(self(), snapshot.regs, std::span(snapshot.stack).first(8));
  ASSERT_GE(shallow.size(), 1u);
  EXPECT_LT(shallow.size(), full.size());
  EXPECT_EQ(shallow[0].function, full[0].function);
  auto capped = symbolizer.unwind_user(self(), snapshot.regs, snapshot.stack, 2);
  ASSERT_EQ(capped.size(), 2u);
  EXPECT_EQ(capped[1].function, full[1].function);
}

__attribute__((noinline)) void capture_elsewhere(ThreadSnapshot& snapshot) {
  locktrace_test::unwind_a(snapshot, 8192);
  asm volatile("" ::: "memory");
}

TEST(DwarfUnwind, SameCallPathIsCached) {
  Symbolizer symbolizer;
  // Two captures from one call site: a loop the compiler cannot unroll.
  ThreadSnapshot snapshots[2], elsewhere;
  volatile int count = 2;
  for (int i = 0; i < count; ++i) locktrace_test::unwind_a(snapshots[i], 8192);
  const ThreadSnapshot& first = snapshots[0];
  const ThreadSnapshot& second = snapshots[1];
  capture_elsewhere(elsewhere);

  auto a = symbolizer.unwind_user(self(), first.regs, first.stack);
  EXPECT_EQ(symbolizer.stats().unwind_hits, 0u);
  auto b = symbolizer.unwind_user(self(), second.regs, second.stack);
  EXPECT_EQ(symbolizer.stats().unwind_hits, 1u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].address, b[i].address);
    EXPECT_EQ(a[i].function, b[i].function);
  }
  // The shared form hands out the cached object itself.
  auto shared_a = symbolizer.unwind_user_shared(self(), first.regs, first.stack);
  auto shared_b = symbolizer.unwind_user_shared(self(), second.regs, second.stack);
  EXPECT_EQ(shared_a.get(), shared_b.get());
  EXPECT_EQ(symbolizer.stats().unwind_hits, 3u);
  auto c = symbolizer.unwind_user(self(), elsewhere.regs, elsewhere.stack);
  EXPECT_EQ(symbolizer.stats().unwind_hits, 3u);
  EXPECT_NE(frame_index(c, "capture_elsewhere"), -1) << describe(c);
  EXPECT_EQ(symbolizer.stats().unwind_sessions, 1u);
}

TEST(DwarfUnwind, OtherThreadsOnTheSamePathShareTheCache) {
  Symbolizer symbolizer;
  ThreadSnapshot snapshots[2];
  // Both alive at once, so on different stacks; both start from the same place,
  // so the copies have the same size.
  std::thread first([&] { locktrace_test::unwind_a(snapshots[0], 8192); });
  std::thread second([&] { locktrace_test::unwind_a(snapshots[1], 8192); });
  first.join();
  second.join();
  ASSERT_NE(snapshots[0].regs.sp, snapshots[1].regs.sp);
  auto a = symbolizer.unwind_user(self(), snapshots[0].regs, snapshots[0].stack);
  auto b = symbolizer.unwind_user(self(), snapshots[1].regs, snapshots[1].stack);
  EXPECT_EQ(symbolizer.stats().unwind_hits, 1u);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_GE(frame_index(a, "start_thread"), 4) << describe(a);
  // A copy cut short of what the unwinding read is not the same path.
  auto cut =
      symbolizer.unwind_user(self(), snapshots[1].regs, std::span(snapshots[1].stack).first(256));
  EXPECT_EQ(symbolizer.stats().unwind_hits, 1u);
  EXPECT_LT(cut.size(), a.size());
}

size_t open_descriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    ++n;
  return n;
}

TEST(DwarfUnwind, CachedBinariesHoldNoDescriptors) {
  ThreadSnapshot snapshot;
  locktrace_test::unwind_a(snapshot, 8192);
  const size_t before = open_descriptors();
  Symbolizer symbolizer;
  auto frames = symbolizer.unwind_user(self(), snapshot.regs, snapshot.stack);
  ASSERT_GE(frames.size(), 4u);
  // Every mapped file was opened and parsed; only libdw's separate debug files
  // (libc's, for its line table) stay open.
  EXPECT_LE(open_descriptors(), before + 3);
}

// Not a pass/fail test: prints the costs docs/stacks.md quotes.
TEST(DwarfUnwind, CostPerCall) {
  using Clock = std::chrono::steady_clock;
  ThreadSnapshot snapshot;
  locktrace_test::unwind_a(snapshot, 8192);
  const size_t size = snapshot.stack.size();  // less than asked near the stack's top
  Symbolizer symbolizer;
  auto warm = symbolizer.unwind_user(self(), snapshot.regs, snapshot.stack);

  constexpr int kUncached = 2000;
  auto start = Clock::now();
  for (int i = 0; i < kUncached; ++i) {
    // A different frame limit is a different key (and more paths for one ip
    // than the cache keeps): a full libdw unwind each time, with the session
    // and the symbol caches warm.
    auto frames = symbolizer.unwind_user(self(), snapshot.regs, snapshot.stack,
                                         static_cast<size_t>(20 + i % 100));
    ASSERT_FALSE(frames.empty());
  }
  double uncached_ns =
      std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kUncached;

  constexpr int kCached = 200000;
  start = Clock::now();
  for (int i = 0; i < kCached; ++i) {
    auto frames = symbolizer.unwind_user(self(), snapshot.regs, snapshot.stack);
    ASSERT_EQ(frames.size(), warm.size());
  }
  double cached_ns =
      std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kCached;

  start = Clock::now();
  for (int i = 0; i < kCached; ++i) {
    auto frames = symbolizer.unwind_user_shared(self(), snapshot.regs, snapshot.stack);
    ASSERT_EQ(frames->size(), warm.size());
  }
  double shared_ns =
      std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kCached;

  std::vector<uint64_t> ips;
  for (const auto& frame : warm) ips.push_back(frame.address);
  constexpr int kSymbolize = 100000;
  start = Clock::now();
  for (int i = 0; i < kSymbolize; ++i)
    ASSERT_EQ(symbolizer.user_frames(self(), ips).size(), ips.size());
  double symbolize_ns =
      std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kSymbolize;

  static int g_named_lock;  // a static object, like most lock words
  constexpr int kNames = 100000;
  start = Clock::now();
  for (int i = 0; i < kNames; ++i)
    ASSERT_FALSE(
        symbolizer.name_address(self(), reinterpret_cast<uint64_t>(&g_named_lock)).empty());
  double name_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kNames;

  auto cold_start = Clock::now();
  Symbolizer cold;
  auto first = cold.unwind_user(self(), snapshot.regs, snapshot.stack);
  double cold_us = std::chrono::duration<double, std::micro>(Clock::now() - cold_start).count();

  std::printf(
      "unwind_user, %zu frames from a %zu-byte copy: cached %.0f ns (unwind_user_shared %.0f ns), "
      "uncached %.0f ns; first call (maps, ELF, libdw session) %.0f us\nuser_frames of the same "
      "%zu addresses: %.0f ns (%.0f ns per frame); name_address %.0f ns\n",
      warm.size(), size, cached_ns, shared_ns, uncached_ns, cold_us, ips.size(), symbolize_ns,
      symbolize_ns / static_cast<double>(ips.size()), name_ns);
  RecordProperty("unwind_cached_ns", static_cast<int>(cached_ns));
  RecordProperty("unwind_uncached_ns", static_cast<int>(uncached_ns));
  RecordProperty("unwind_shared_ns", static_cast<int>(shared_ns));
  // The first session saw this process's mmaps of libc's debug file; the cold one must too.
  EXPECT_EQ(first.size(), warm.size()) << describe(first) << "\n---" << describe(warm);
  EXPECT_LT(cached_ns, uncached_ns);
}

}  // namespace
}  // namespace locktrace::symbols
