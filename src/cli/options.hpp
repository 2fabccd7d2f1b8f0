// The command line: one options struct per subcommand, shared option groups
// defined once, and nothing here touches the system, so tests parse freely.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "event_filter.hpp"

namespace locktrace::cli {

struct TargetOptions {
  std::vector<uint32_t> pids;
  std::vector<uint32_t> tids;
  std::vector<std::string> command;
  bool no_follow = false;
};

struct OutputOptions {
  bool json = false;
  bool errors_only = false;
  std::string min_wait;  // a duration: "10ms", "1.5s"
};

// Which lock calls' stacks are captured, and how user stacks are unwound.
struct StackCapture {
  std::string stacks;        // --stacks[=waits|all]: "" when not given
  bool no_stacks = false;
  std::string unwind = "dwarf";  // "dwarf": copy the stack top and unwind with CFI; "fp": frame pointers
  std::string stack_size = "4K";  // bytes of user stack copied for dwarf
};

// How a tracing session runs, shared by live and record.
struct SessionControl {
  StackCapture capture;
  std::string duration;     // empty: until the targets exit or a signal
  std::string buffer_size;  // ring buffer: "16M"
  std::string output_file;  // -o: record to this file ("-": standard output)
  bool force = false;       // overwrite an existing output file
};

struct LiveOptions {
  TargetOptions target;
  OutputOptions output;
  SessionControl control;
  bool exit_on_deadlock = false;
};

struct RecordOptions {
  TargetOptions target;
  SessionControl control;
};

struct ReplayOptions {
  std::string file;
  OutputOptions output;
  std::vector<uint32_t> pids;
  std::vector<uint32_t> tids;
  std::vector<std::string> comms;
  std::string since;  // durations from the start of the trace
  std::string until;
  bool stacks = false;  // text: each lock call's stack under its line
};

struct InfoOptions {
  std::string file;
  bool json = false;
};

struct ReportOptions {
  std::string file;
  bool json = false;
  bool folded = false;  // folded stacks for flame graphs instead of the summary
  std::string min_wait;  // long-wait threshold for the findings counted
};

struct GraphOptions {
  std::string file;
  std::string at;  // a duration from the start of the trace; empty: the end
  bool json = false;
};

struct DemoOptions {
  OutputOptions output;
};

enum class Command { none, live, record, replay, info, report, graph, demo };

struct ParsedCommandLine {
  Command command = Command::none;
  std::string command_line;  // as typed, stored in recordings
  LiveOptions live;
  RecordOptions record;
  ReplayOptions replay;
  InfoOptions info;
  ReportOptions report;
  GraphOptions graph;
  DemoOptions demo;
};

// Builds the CLI11 application bound to `parsed`.
std::unique_ptr<CLI::App> make_app(ParsedCommandLine& parsed);

// "250ms", "2s", "1.5", "100us", "3m" -> nanoseconds. Throws CLI::ValidationError.
uint64_t parse_duration(const std::string& text);
// "16M", "4096K", "1G", "65536" -> bytes. Throws CLI::ValidationError.
uint64_t parse_size(const std::string& text);

// LT_STACKS_* for the kernel, and the bytes of user stack to copy (0: frame pointers).
struct StackSettings {
  uint8_t mode = 0;
  uint32_t user_stack_bytes = 0;
  bool print = false;  // --stacks: full stacks on event lines
};
StackSettings stack_settings(const StackCapture& capture);

// Checks that combine options (exactly one kind of target...). Throws CLI::ValidationError.
void validate(const TargetOptions& target, const SessionControl& control);
void validate(const ParsedCommandLine& parsed);
EventFilter make_filter(const OutputOptions& options);
EventFilter make_filter(const ReplayOptions& options);

}  // namespace locktrace::cli
