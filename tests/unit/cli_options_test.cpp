#include "options.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" {
#include "locktrace_abi.h"
}

namespace locktrace::cli {
namespace {

// Parses `args` (without the program name) the way main does.
ParsedCommandLine parse(std::vector<std::string> args) {
  ParsedCommandLine parsed;
  auto app = make_app(parsed);
  args.insert(args.begin(), "locktrace");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  app->parse(static_cast<int>(argv.size()), argv.data());
  return parsed;
}

void expect_parse_error(std::vector<std::string> args) {
  EXPECT_THROW(parse(std::move(args)), CLI::ParseError);
}

void expect_invalid(std::vector<std::string> args) {
  ParsedCommandLine parsed = parse(std::move(args));
  EXPECT_THROW(validate(parsed), CLI::ValidationError);
}

TEST(CliOptions, LivePids) {
  ParsedCommandLine parsed = parse({"live", "-p", "1,2"});
  EXPECT_EQ(parsed.command, Command::live);
  EXPECT_EQ(parsed.live.target.pids, (std::vector<uint32_t>{1, 2}));
  EXPECT_TRUE(parsed.live.target.tids.empty());
  EXPECT_TRUE(parsed.live.target.command.empty());
  EXPECT_FALSE(parsed.live.target.no_follow);
  EXPECT_FALSE(parsed.live.output.json);
  EXPECT_NO_THROW(validate(parsed));
}

TEST(CliOptions, LivePidsRepeated) {
  ParsedCommandLine parsed = parse({"live", "--pid", "3", "-p", "4,5", "--no-follow"});
  EXPECT_EQ(parsed.live.target.pids, (std::vector<uint32_t>{3, 4, 5}));
  EXPECT_TRUE(parsed.live.target.no_follow);
}

TEST(CliOptions, LiveTid) {
  ParsedCommandLine parsed = parse({"live", "-t", "5"});
  EXPECT_EQ(parsed.command, Command::live);
  EXPECT_EQ(parsed.live.target.tids, (std::vector<uint32_t>{5}));
  EXPECT_TRUE(parsed.live.target.pids.empty());
  EXPECT_NO_THROW(validate(parsed));
}

TEST(CliOptions, LiveCommandKeepsItsOwnOptions) {
  ParsedCommandLine parsed = parse({"live", "--", "cmd", "arg", "--flag"});
  EXPECT_EQ(parsed.command, Command::live);
  EXPECT_EQ(parsed.live.target.command, (std::vector<std::string>{"cmd", "arg", "--flag"}));
  EXPECT_NO_THROW(validate(parsed));
}

TEST(CliOptions, LiveCommandAfterOptions) {
  ParsedCommandLine parsed = parse({"live", "--json", "--", "sleep", "-p", "1"});
  EXPECT_TRUE(parsed.live.output.json);
  EXPECT_TRUE(parsed.live.target.pids.empty());
  EXPECT_EQ(parsed.live.target.command, (std::vector<std::string>{"sleep", "-p", "1"}));
}

TEST(CliOptions, LiveOutputOptions) {
  ParsedCommandLine parsed =
      parse({"live", "--json", "--errors-only", "--min-wait", "10ms", "--duration", "2s", "-p", "1"});
  EXPECT_EQ(parsed.command, Command::live);
  EXPECT_TRUE(parsed.live.output.json);
  EXPECT_TRUE(parsed.live.output.errors_only);
  EXPECT_EQ(parsed.live.output.min_wait, "10ms");
  EXPECT_EQ(parsed.live.control.duration, "2s");
  EXPECT_EQ(parsed.live.target.pids, (std::vector<uint32_t>{1}));
  EXPECT_NO_THROW(validate(parsed));
  EXPECT_EQ(parse_duration(parsed.live.control.duration), 2'000'000'000u);

  EventFilter filter = make_filter(parsed.live.output);
  EXPECT_TRUE(filter.errors_only);
  EXPECT_EQ(filter.min_wait_ns, 10'000'000u);
  EXPECT_TRUE(filter.pids.empty());  // the kernel side selects the targets
}

TEST(CliOptions, MakeFilterDefaults) {
  EventFilter filter = make_filter(OutputOptions{});
  EXPECT_FALSE(filter.errors_only);
  EXPECT_EQ(filter.min_wait_ns, 0u);
  EXPECT_FALSE(filter.since_ns.has_value());
  EXPECT_FALSE(filter.until_ns.has_value());
}

TEST(CliOptions, LiveBufferSize) {
  ParsedCommandLine parsed = parse({"live", "-p", "1", "--buffer-size", "16M"});
  EXPECT_EQ(parsed.live.control.buffer_size, "16M");
  EXPECT_NO_THROW(validate(parsed));
}

TEST(CliOptions, DemoJson) {
  ParsedCommandLine parsed = parse({"demo", "--json"});
  EXPECT_EQ(parsed.command, Command::demo);
  EXPECT_TRUE(parsed.demo.output.json);
  EXPECT_FALSE(parsed.live.output.json);
}

TEST(CliOptions, DemoDefaults) {
  ParsedCommandLine parsed = parse({"demo"});
  EXPECT_EQ(parsed.command, Command::demo);
  EXPECT_FALSE(parsed.demo.output.json);
  EXPECT_FALSE(parsed.demo.output.errors_only);
  EXPECT_TRUE(parsed.demo.output.min_wait.empty());
}

TEST(CliOptions, NoTarget) { expect_invalid({"live"}); }

TEST(CliOptions, TwoKindsOfTarget) {
  expect_invalid({"live", "-p", "1", "-t", "2"});
  expect_invalid({"live", "-p", "1", "--", "sleep", "1"});
  expect_invalid({"live", "-t", "2", "--", "sleep", "1"});
}

TEST(CliOptions, BadDuration) {
  expect_invalid({"live", "-p", "1", "--duration", "2x"});
  expect_invalid({"live", "-p", "1", "--duration", "soon"});
  expect_invalid({"live", "-p", "1", "--min-wait", "-5ms"});
}

TEST(CliOptions, BadBufferSize) {
  expect_invalid({"live", "-p", "1", "--buffer-size", "16Q"});
  expect_invalid({"live", "-p", "1", "--buffer-size", "lots"});
  expect_invalid({"live", "-p", "1", "--buffer-size", "3M"});     // not a power of two
  expect_invalid({"live", "-p", "1", "--buffer-size", "12288"});  // 3 * 4K
  expect_invalid({"live", "-p", "1", "--buffer-size", "2K"});     // below 4K
  expect_invalid({"live", "-p", "1", "--buffer-size", "2G"});     // above 1G
  EXPECT_NO_THROW(validate(parse({"live", "-p", "1", "--buffer-size", "4K"})));
  EXPECT_NO_THROW(validate(parse({"live", "-p", "1", "--buffer-size", "1G"})));
}

TEST(CliOptions, BufferSizeOverflowIsRejected) {
  // (2^34 + 1) G is 2^64 + 2^30 bytes: shifted in 64 bits it wraps to exactly 1G.
  ParsedCommandLine parsed = parse({"live", "-p", "1", "--buffer-size", "17179869185G"});
  bool rejected = false;
  try {
    validate(parsed);
  } catch (const CLI::ValidationError&) {
    rejected = true;
  }
  EXPECT_TRUE(rejected);
}

TEST(CliOptions, UnknownOption) {
  expect_parse_error({"live", "--bogus"});
  expect_parse_error({"live", "-x", "-p", "1"});
  expect_parse_error({"demo", "-p", "1"});  // demo has no targets
  expect_parse_error({"--json"});
}

TEST(CliOptions, MissingOrUnknownSubcommand) {
  expect_parse_error({});
  expect_parse_error({"trace"});
}

TEST(CliOptions, LiveOutputFile) {
  ParsedCommandLine parsed = parse({"live", "-p", "1", "-o", "out.lt", "--force"});
  EXPECT_EQ(parsed.live.control.output_file, "out.lt");
  EXPECT_TRUE(parsed.live.control.force);
  EXPECT_NO_THROW(validate(parsed));
  expect_invalid({"live", "-p", "1", "-o", "-"});  // live already prints to stdout
}

TEST(CliOptions, RecordNeedsAnOutputAndATarget) {
  ParsedCommandLine parsed = parse({"record", "-t", "7", "-o", "-"});
  EXPECT_EQ(parsed.command, Command::record);
  EXPECT_EQ(parsed.record.target.tids, (std::vector<uint32_t>{7}));
  EXPECT_EQ(parsed.record.control.output_file, "-");
  EXPECT_NO_THROW(validate(parsed));
  expect_parse_error({"record", "-p", "1"});
  expect_invalid({"record", "-o", "x.lt"});
  expect_invalid({"record", "-o", "x.lt", "-p", "1", "--buffer-size", "3M"});
}

TEST(CliOptions, ReplayFilter) {
  ParsedCommandLine parsed = parse({"replay", "t.lt", "--json", "--pid", "1,2", "--tid", "3",
                                    "--comm", "a,b", "--since", "1s", "--until", "2.5s",
                                    "--errors-only", "--min-wait", "1ms"});
  EXPECT_EQ(parsed.command, Command::replay);
  EXPECT_EQ(parsed.replay.file, "t.lt");
  EXPECT_NO_THROW(validate(parsed));
  EventFilter filter = make_filter(parsed.replay);
  EXPECT_EQ(filter.pids, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(filter.tids, (std::vector<uint32_t>{3}));
  EXPECT_EQ(filter.comms, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(filter.since_ns, 1'000'000'000u);
  EXPECT_EQ(filter.until_ns, 2'500'000'000u);
  EXPECT_TRUE(filter.errors_only);
  EXPECT_EQ(filter.min_wait_ns, 1'000'000u);
  expect_invalid({"replay", "t.lt", "--since", "later"});
  expect_parse_error({"replay"});
}

TEST(CliOptions, Info) {
  ParsedCommandLine parsed = parse({"info", "t.lt", "--json"});
  EXPECT_EQ(parsed.command, Command::info);
  EXPECT_EQ(parsed.info.file, "t.lt");
  EXPECT_TRUE(parsed.info.json);
  expect_parse_error({"info"});
}

TEST(CliOptions, BadOptionValues) {
  expect_parse_error({"live", "-p", "abc"});
  expect_parse_error({"live", "-p"});
  expect_parse_error({"live", "--duration"});
}

TEST(CliOptions, VersionFlag) { EXPECT_THROW(parse({"--version"}), CLI::CallForVersion); }

TEST(CliOptions, HelpFlag) {
  EXPECT_THROW(parse({"--help"}), CLI::CallForHelp);
  EXPECT_THROW(parse({"live", "--help"}), CLI::CallForHelp);
}

TEST(CliOptions, ParseDurationUnits) {
  EXPECT_EQ(parse_duration("5ns"), 5u);
  EXPECT_EQ(parse_duration("100us"), 100'000u);
  EXPECT_EQ(parse_duration("250ms"), 250'000'000u);
  EXPECT_EQ(parse_duration("2s"), 2'000'000'000u);
  EXPECT_EQ(parse_duration("3m"), 180'000'000'000u);
  EXPECT_EQ(parse_duration("1h"), 3'600'000'000'000u);
  EXPECT_EQ(parse_duration("1.5"), 1'500'000'000u);  // bare numbers are seconds
  EXPECT_EQ(parse_duration("0.5ms"), 500'000u);
  EXPECT_EQ(parse_duration("0"), 0u);
}

TEST(CliOptions, ParseDurationRejects) {
  for (const char* text : {"", "abc", "10x", "ms", "-1s", "-0.5", "10 ms", "10MS", "inf", "nan"})
    EXPECT_THROW(parse_duration(text), CLI::ValidationError) << "'" << text << "'";
}

TEST(CliOptions, ParseDurationDecimalsAreExact) {
  // 2.01 is 2.00999999999999978... in binary: truncating the product loses a ns.
  EXPECT_EQ(parse_duration("2.01s"), 2'010'000'000u);
  EXPECT_EQ(parse_duration("2.03ms"), 2'030'000u);
}

TEST(CliOptions, ParseDurationOverflowIsRejected) {
  // 1e30 s does not fit in 64 bits of nanoseconds; converting it is undefined.
  bool rejected = false;
  try {
    parse_duration("1e30s");
  } catch (const CLI::ValidationError&) {
    rejected = true;
  }
  EXPECT_TRUE(rejected);
}

TEST(CliOptions, ParseSizeUnits) {
  EXPECT_EQ(parse_size("65536"), 65536u);
  EXPECT_EQ(parse_size("4096K"), 4096u << 10);
  EXPECT_EQ(parse_size("16M"), 16u << 20);
  EXPECT_EQ(parse_size("1G"), 1u << 30);
}

TEST(CliOptions, ParseSizeRejects) {
  for (const char* text : {"", "abc", "16Q", "16MB", "16m", "M"})
    EXPECT_THROW(parse_size(text), CLI::ValidationError) << "'" << text << "'";
}

TEST(CliOptions, ParseSizeRejectsNegative) {
  bool rejected = false;
  try {
    parse_size("-1");
  } catch (const CLI::ValidationError&) {
    rejected = true;
  }
  EXPECT_TRUE(rejected);
}

TEST(CliOptions, ReplayStacks) {
  EXPECT_FALSE(parse({"replay", "t.lt"}).replay.stacks);
  ParsedCommandLine parsed = parse({"replay", "t.lt", "--stacks"});
  EXPECT_TRUE(parsed.replay.stacks);
  EXPECT_NO_THROW(validate(parsed));
}

TEST(CliOptions, ReportFolded) {
  EXPECT_FALSE(parse({"report", "t.lt"}).report.folded);
  ParsedCommandLine parsed = parse({"report", "t.lt", "--folded"});
  EXPECT_EQ(parsed.command, Command::report);
  EXPECT_TRUE(parsed.report.folded);
  EXPECT_FALSE(parsed.report.json);
  expect_parse_error({"report", "t.lt", "--folded", "--json"});
}

TEST(CliOptions, StacksByDefaultForWaitsUnwoundWithDwarf) {
  StackSettings settings = stack_settings(parse({"live", "--", "prog"}).live.control.capture);
  EXPECT_EQ(settings.mode, LT_STACKS_WAITS);
  EXPECT_EQ(settings.user_stack_bytes, 4096u);
  EXPECT_FALSE(settings.print);
}

TEST(CliOptions, StacksFlagLeavesTheCommandAlone) {
  ParsedCommandLine parsed = parse({"live", "--stacks", "--", "prog", "-x", "300"});
  EXPECT_EQ(parsed.live.target.command, (std::vector<std::string>{"prog", "-x", "300"}));
  StackSettings settings = stack_settings(parsed.live.control.capture);
  EXPECT_EQ(settings.mode, LT_STACKS_WAITS);
  EXPECT_TRUE(settings.print);
}

TEST(CliOptions, StacksAllCapturesEveryCall) {
  ParsedCommandLine parsed = parse({"record", "-o", "t.lt", "--stacks=all", "--", "prog"});
  EXPECT_EQ(stack_settings(parsed.record.control.capture).mode, LT_STACKS_ALL);
  expect_parse_error({"live", "--stacks=some", "--", "prog"});
}

TEST(CliOptions, NoStacksAndFramePointers) {
  ParsedCommandLine none = parse({"live", "--no-stacks", "--", "prog"});
  EXPECT_EQ(stack_settings(none.live.control.capture).mode, LT_STACKS_NONE);
  expect_invalid({"live", "--no-stacks", "--stacks", "--", "prog"});
  ParsedCommandLine fp = parse({"live", "--unwind", "fp", "--", "prog"});
  EXPECT_EQ(stack_settings(fp.live.control.capture).user_stack_bytes, 0u);
  expect_parse_error({"live", "--unwind", "lbr", "--", "prog"});
}

TEST(CliOptions, StackSizeBounds) {
  EXPECT_EQ(stack_settings(parse({"live", "--stack-size", "16K", "--", "prog"}).live.control.capture)
                .user_stack_bytes,
            16384u);
  expect_invalid({"live", "--stack-size", "32K", "--", "prog"});
  expect_invalid({"live", "--stack-size", "8", "--", "prog"});
}

}  // namespace
}  // namespace locktrace::cli
