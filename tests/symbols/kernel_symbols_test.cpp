#include "kernel_symbols.hpp"

#include <gtest/gtest.h>

namespace locktrace::symbols {
namespace {

const std::string kFixture = std::string(SYMBOLS_FIXTURES) + "/kallsyms";

TEST(KernelSymbols, TextSymbolsOnly) {
  auto symbols = KernelSymbols::load(kFixture);
  EXPECT_EQ(symbols.size(), 9u);  // not the absolute and the data symbol

  const auto* initcall = symbols.find(0xffffffff81001234);
  ASSERT_NE(initcall, nullptr);
  EXPECT_EQ(initcall->name, "do_one_initcall");
  EXPECT_EQ(initcall->module, "");

  // A data symbol does not end the function before it.
  const auto* local = symbols.find(0xffffffff81003100);
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->name, "helper_local");

  EXPECT_EQ(symbols.find(0xffffffff81004800)->name, "weak_function");
  EXPECT_EQ(symbols.find(0xffffffff81004000)->name, "futex_wait");

  const auto* module = symbols.find(0xffffffffc0001010);
  ASSERT_NE(module, nullptr);
  EXPECT_EQ(module->name, "ext4_thing");
  EXPECT_EQ(module->module, "ext4");
}

TEST(KernelSymbols, NothingOutsideTheSymbols) {
  auto symbols = KernelSymbols::load(kFixture);
  EXPECT_EQ(symbols.find(0xffffffff80000000), nullptr);  // below the first
  EXPECT_EQ(symbols.find(0xffffffffc0003010), nullptr);  // past the last
  EXPECT_EQ(symbols.find(0), nullptr);
}

TEST(KernelSymbols, HiddenAddressesGiveNoSymbols) {
  // What an unprivileged reader sees with kptr_restrict.
  auto symbols =
      KernelSymbols::parse("0000000000000000 T _stext\n0000000000000000 T do_one_initcall\n");
  EXPECT_EQ(symbols.size(), 0u);
  EXPECT_EQ(KernelSymbols::load("/nonexistent/kallsyms").size(), 0u);
}

}  // namespace
}  // namespace locktrace::symbols
