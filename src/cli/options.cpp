#include "options.hpp"

#include <cctype>
#include <cmath>

extern "C" {
#include "locktrace_abi.h"
}

namespace locktrace::cli {

namespace {

void add_output_options(CLI::App& app, OutputOptions& out) {
  app.add_flag("--json", out.json, "One JSON object per line per event (docs/json-schema.md)");
  app.add_flag("--errors-only", out.errors_only, "Show only lock calls that failed");
  app.add_option("--min-wait", out.min_wait,
                 "Show only lock calls that took at least this long (e.g. 10ms, 1.5s)");
}

void add_target_options(CLI::App& app, TargetOptions& target) {
  app.add_option("-p,--pid", target.pids, "Trace these processes, all their threads (PID[,PID...])")
      ->delimiter(',');
  app.add_option("-t,--tid", target.tids, "Trace only these threads (TID[,TID...])")->delimiter(',');
  app.add_flag("--no-follow", target.no_follow, "Do not trace children the targets create");
  app.add_option("command", target.command, "Command to launch and trace (after --)");
}

void add_stack_options(CLI::App& app, StackCapture& capture) {
  // A flag with an optional =VALUE: a plain option with an optional argument
  // would swallow the "--" that starts the command.
  app.add_flag("--stacks{waits}", capture.stacks,
               "Print full stacks on event lines; --stacks=all captures the stack of every lock "
               "call, not only of waits, file-lock acquisitions and refusals")
      ->check(CLI::IsMember({"waits", "all"}));
  app.add_flag("--no-stacks", capture.no_stacks, "Capture no stacks at all");
  app.add_option("--unwind", capture.unwind,
                 "User stacks: dwarf (copy the stack top, unwind with the binaries' CFI; default) "
                 "or fp (frame pointers, cheaper, shallow without them)")
      ->check(CLI::IsMember({"dwarf", "fp"}));
  app.add_option("--stack-size", capture.stack_size,
                 "Bytes of user stack copied per stack for dwarf unwinding (default 4K, at most 16K)");
}

void add_session_options(CLI::App& app, SessionControl& control, bool output_required) {
  add_stack_options(app, control.capture);
  app.add_option("--duration", control.duration, "Stop after this long (e.g. 30s, 5m)");
  app.add_option("--buffer-size", control.buffer_size,
                 "Ring buffer size, a power of two (default 64M)");
  auto* output = app.add_option("-o,--output", control.output_file,
                                "Record the trace to FILE (mode 0600; - for standard output)");
  if (output_required) output->required();
  app.add_flag("--force", control.force, "Overwrite FILE if it exists (symlinks are never followed)");
}

}  // namespace

std::unique_ptr<CLI::App> make_app(ParsedCommandLine& parsed) {
  auto app = std::make_unique<CLI::App>(
      "locktrace: who waits on whom, for which lock, since when, and why a lock call failed",
      "locktrace");
  app->set_version_flag("--version", LOCKTRACE_VERSION_STRING);
  app->require_subcommand(1);

  auto* live = app->add_subcommand(
      "live", "Stream the lock calls of running processes (-p/-t) or of a command (-- CMD ARGS)");
  add_target_options(*live, parsed.live.target);
  add_output_options(*live, parsed.live.output);
  add_session_options(*live, parsed.live.control, false);
  live->add_flag("--exit-on-deadlock", parsed.live.exit_on_deadlock,
                 "Stop and exit with status 6 as soon as a deadlock is found");
  live->callback([&parsed] { parsed.command = Command::live; });

  auto* record = app->add_subcommand(
      "record", "Record the lock calls of processes or of a command to a trace file");
  add_target_options(*record, parsed.record.target);
  add_session_options(*record, parsed.record.control, true);
  record->callback([&parsed] { parsed.command = Command::record; });

  auto* replay = app->add_subcommand(
      "replay", "Print a recorded trace exactly as live printed it, optionally filtered");
  replay->add_option("file", parsed.replay.file, "Trace file (- for standard input)")->required();
  add_output_options(*replay, parsed.replay.output);
  replay->add_option("--pid", parsed.replay.pids, "Only these processes")->delimiter(',');
  replay->add_option("--tid", parsed.replay.tids, "Only these threads")->delimiter(',');
  replay->add_option("--comm", parsed.replay.comms, "Only threads with this name")->delimiter(',');
  replay->add_option("--since", parsed.replay.since, "Skip the first DURATION of the trace");
  replay->add_option("--until", parsed.replay.until, "Stop DURATION after the start of the trace");
  replay->add_flag("--stacks", parsed.replay.stacks,
                   "Print the call stack recorded for a lock call under its line (JSON always has them)");
  replay->callback([&parsed] { parsed.command = Command::replay; });

  auto* info = app->add_subcommand("info", "Describe a trace file: host, times, counts, processes");
  info->add_option("file", parsed.info.file, "Trace file")->required();
  info->add_flag("--json", parsed.info.json, "One JSON object");
  info->callback([&parsed] { parsed.command = Command::info; });

  auto* report = app->add_subcommand(
      "report", "Summarise a trace: deadlocks, contended locks, longest waits, threads left blocked");
  report->add_option("file", parsed.report.file, "Trace file (- for standard input)")->required();
  auto* report_json = report->add_flag("--json", parsed.report.json, "One JSON object");
  report->add_flag("--folded", parsed.report.folded,
                   "Where threads waited, as folded stacks for flame-graph tools (total wait in us)")
      ->excludes(report_json);
  report->callback([&parsed] { parsed.command = Command::report; });

  auto* graph = app->add_subcommand("graph", "Write the wait-for graph of a trace as Graphviz DOT");
  graph->add_option("file", parsed.graph.file, "Trace file (- for standard input)")->required();
  graph->add_option("--at", parsed.graph.at,
                    "The graph at this time from the start of the trace (default: the end)");
  graph->add_flag("--json", parsed.graph.json, "JSON instead of DOT");
  graph->callback([&parsed] { parsed.command = Command::graph; });

  auto* demo = app->add_subcommand(
      "demo", "Run a small built-in workload (file locks, a mutex, a failed lock) and trace it");
  add_output_options(*demo, parsed.demo.output);
  demo->callback([&parsed] { parsed.command = Command::demo; });
  return app;
}

uint64_t parse_duration(const std::string& text) {
  static const std::pair<std::string_view, double> kUnits[] = {
      {"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  const auto invalid = CLI::ValidationError("duration", "'" + text + "' is not a duration (e.g. 250ms, 2s)");
  size_t idx = 0;
  double value = 0;
  try {
    value = std::stod(text, &idx);
  } catch (const std::exception&) {
    throw invalid;
  }
  std::string_view unit = std::string_view(text).substr(idx);
  double scale = unit.empty() ? 1e9 : 0;
  for (const auto& [name, factor] : kUnits)
    if (unit == name) scale = factor;
  double ns = std::round(value * scale);  // "2.01s" is 2010000000 ns, not one less
  if (scale == 0 || !std::isfinite(ns) || ns < 0 || ns > 1e18) throw invalid;
  return static_cast<uint64_t>(ns);
}

uint64_t parse_size(const std::string& text) {
  const auto invalid = CLI::ValidationError("size", "'" + text + "' is not a size (e.g. 16M)");
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) throw invalid;
  size_t idx = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &idx);
  } catch (const std::exception&) {
    throw invalid;
  }
  std::string_view unit = std::string_view(text).substr(idx);
  int shift = unit.empty() ? 0 : unit == "K" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : -1;
  if (shift < 0 || value > (~0ull >> shift)) throw invalid;
  return value << shift;
}

StackSettings stack_settings(const StackCapture& capture) {
  StackSettings settings;
  if (capture.no_stacks) return settings;
  settings.mode = capture.stacks == "all" ? LT_STACKS_ALL : LT_STACKS_WAITS;
  settings.print = !capture.stacks.empty();
  if (capture.unwind == "dwarf") {
    uint64_t bytes = parse_size(capture.stack_size);
    if (bytes < 64 || bytes > LT_STACK_MAX_BYTES)
      throw CLI::ValidationError("--stack-size", "must be between 64 and 16K");
    settings.user_stack_bytes = static_cast<uint32_t>(bytes);
  }
  return settings;
}

void validate(const TargetOptions& t, const SessionControl& control) {
  int kinds = !t.pids.empty() + !t.tids.empty() + !t.command.empty();
  if (kinds == 0)
    throw CLI::ValidationError("target", "say what to trace: -p PID, -t TID or -- COMMAND ARGS");
  if (kinds > 1)
    throw CLI::ValidationError("target", "-p, -t and a command exclude each other: choose one");
  if (!control.duration.empty()) parse_duration(control.duration);
  if (!control.buffer_size.empty()) {
    uint64_t size = parse_size(control.buffer_size);
    if (size < 4096 || size > (1ull << 30) || (size & (size - 1)) != 0)
      throw CLI::ValidationError("--buffer-size", "must be a power of two between 4K and 1G");
  }
  if (control.capture.no_stacks && !control.capture.stacks.empty())
    throw CLI::ValidationError("--no-stacks", "--stacks and --no-stacks exclude each other");
  stack_settings(control.capture);
}

void validate(const ParsedCommandLine& parsed) {
  switch (parsed.command) {
    case Command::live:
      validate(parsed.live.target, parsed.live.control);
      if (!parsed.live.output.min_wait.empty()) parse_duration(parsed.live.output.min_wait);
      if (parsed.live.control.output_file == "-")
        throw CLI::ValidationError("-o", "live prints to standard output: record there with "
                                         "'locktrace record -o -' instead");
      break;
    case Command::record:
      validate(parsed.record.target, parsed.record.control);
      break;
    case Command::replay:
      make_filter(parsed.replay);  // parses every duration
      break;
    case Command::graph:
      if (!parsed.graph.at.empty()) parse_duration(parsed.graph.at);
      break;
    default:
      break;
  }
}

EventFilter make_filter(const OutputOptions& options) {
  EventFilter filter;
  filter.errors_only = options.errors_only;
  if (!options.min_wait.empty()) filter.min_wait_ns = parse_duration(options.min_wait);
  return filter;
}

EventFilter make_filter(const ReplayOptions& options) {
  EventFilter filter = make_filter(options.output);
  filter.pids = options.pids;
  filter.tids = options.tids;
  filter.comms = options.comms;
  if (!options.since.empty()) filter.since_ns = parse_duration(options.since);
  if (!options.until.empty()) filter.until_ns = parse_duration(options.until);
  return filter;
}

}  // namespace locktrace::cli
