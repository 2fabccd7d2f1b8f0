#include "process_maps.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace locktrace::symbols {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(SYMBOLS_FIXTURES) + "/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ProcessMaps, ParsesEveryKindOfMapping) {
  auto maps = parse_maps(fixture("maps"));
  ASSERT_EQ(maps.size(), 15u);  // the line that is not a mapping is skipped

  const MapEntry& text = maps[1];
  EXPECT_EQ(text.start, 0x555555555000u);
  EXPECT_EQ(text.end, 0x555555556000u);
  EXPECT_EQ(text.offset, 0x1000u);
  EXPECT_EQ(text.dev_major, 0xfdu);
  EXPECT_EQ(text.dev_minor, 1u);
  EXPECT_EQ(text.inode, 131090u);
  EXPECT_TRUE(text.readable);
  EXPECT_FALSE(text.writable);
  EXPECT_TRUE(text.executable);
  EXPECT_FALSE(text.shared);
  EXPECT_EQ(text.path, "/usr/bin/app");
  EXPECT_TRUE(text.file_backed());
  EXPECT_EQ(text.display_name(), "/usr/bin/app");

  const MapEntry& bss = maps[4];
  EXPECT_EQ(bss.path, "");
  EXPECT_FALSE(bss.file_backed());
  EXPECT_EQ(bss.display_name(), "[anon]");

  EXPECT_EQ(maps[5].display_name(), "[heap]");
  EXPECT_FALSE(maps[5].file_backed());

  const MapEntry& deleted = maps[8];
  EXPECT_TRUE(deleted.deleted);
  EXPECT_EQ(deleted.path, "/opt/old/libplugin.so.1");
  EXPECT_EQ(deleted.display_name(), "/opt/old/libplugin.so.1 (deleted)");
  EXPECT_TRUE(deleted.file_backed());

  const MapEntry& spaced = maps[9];
  EXPECT_EQ(spaced.path, "/dev/shm/my region");
  EXPECT_TRUE(spaced.shared);

  EXPECT_EQ(maps[10].display_name(), "[anon:glibc: malloc arena]");
  EXPECT_EQ(maps[12].path, "[vdso]");
  EXPECT_TRUE(maps[12].executable);
  EXPECT_EQ(maps[13].display_name(), "[stack]");
  EXPECT_TRUE(maps[13].contains(0x7ffffffde000));
  EXPECT_FALSE(maps[13].contains(0x7ffffffff000));
  EXPECT_EQ(maps[14].start, 0xffffffffff600000u);
}

TEST(ProcessMaps, EmptyAndTruncatedInput) {
  EXPECT_TRUE(parse_maps("").empty());
  EXPECT_TRUE(parse_maps("55555-").empty());
  EXPECT_TRUE(parse_maps("2000-1000 r--p 00000000 00:00 0\n").empty());  // end before start
  EXPECT_EQ(parse_maps("1000-2000 r--p 00000000 00:00 0").size(), 1u);   // no newline, no path
}

TEST(ProcessMaps, ReadsALiveProcess) {
  auto maps = read_maps("/proc", static_cast<uint32_t>(getpid()));
  ASSERT_TRUE(maps.has_value());
  auto here = reinterpret_cast<uint64_t>(&fixture);
  bool found = false;
  for (const MapEntry& entry : *maps)
    if (entry.contains(here)) found = entry.executable && entry.file_backed();
  EXPECT_TRUE(found);
  EXPECT_FALSE(read_maps("/proc", 0x7ffffff0).has_value());
}

}  // namespace
}  // namespace locktrace::symbols
