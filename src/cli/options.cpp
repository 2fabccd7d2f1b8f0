#include "options.hpp"

#include <cmath>

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
  live->add_option("--duration", parsed.live.duration, "Stop after this long (e.g. 30s, 5m)");
  live->add_option("--buffer-size", parsed.live.buffer_size,
                   "Ring buffer size, a power of two (default 16M)");
  live->callback([&parsed] { parsed.command = Command::live; });

  auto* demo = app->add_subcommand(
      "demo", "Run a small built-in workload (file locks, a mutex, a failed lock) and trace it");
  add_output_options(*demo, parsed.demo.output);
  demo->callback([&parsed] { parsed.command = Command::demo; });
  return app;
}

uint64_t parse_duration(const std::string& text) {
  static const std::pair<std::string_view, double> kUnits[] = {
      {"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  size_t idx = 0;
  double value = 0;
  try {
    value = std::stod(text, &idx);
  } catch (const std::exception&) {
    throw CLI::ValidationError("duration", "'" + text + "' is not a duration (e.g. 250ms, 2s)");
  }
  std::string_view unit = std::string_view(text).substr(idx);
  double scale = unit.empty() ? 1e9 : 0;
  for (const auto& [name, factor] : kUnits)
    if (unit == name) scale = factor;
  if (scale == 0 || value < 0 || !std::isfinite(value))
    throw CLI::ValidationError("duration", "'" + text + "' is not a duration (e.g. 250ms, 2s)");
  return static_cast<uint64_t>(value * scale);
}

uint64_t parse_size(const std::string& text) {
  size_t idx = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &idx);
  } catch (const std::exception&) {
    throw CLI::ValidationError("size", "'" + text + "' is not a size (e.g. 16M)");
  }
  std::string_view unit = std::string_view(text).substr(idx);
  int shift = unit.empty() ? 0 : unit == "K" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : -1;
  if (shift < 0) throw CLI::ValidationError("size", "'" + text + "' is not a size (e.g. 16M)");
  return value << shift;
}

void validate(const LiveOptions& options) {
  const auto& t = options.target;
  int kinds = !t.pids.empty() + !t.tids.empty() + !t.command.empty();
  if (kinds == 0)
    throw CLI::ValidationError("target", "say what to trace: -p PID, -t TID or -- COMMAND ARGS");
  if (kinds > 1)
    throw CLI::ValidationError("target", "-p, -t and a command exclude each other: choose one");
  if (!options.duration.empty()) parse_duration(options.duration);
  if (!options.output.min_wait.empty()) parse_duration(options.output.min_wait);
  if (!options.buffer_size.empty()) {
    uint64_t size = parse_size(options.buffer_size);
    if (size < 4096 || size > (1ull << 30) || (size & (size - 1)) != 0)
      throw CLI::ValidationError("--buffer-size", "must be a power of two between 4K and 1G");
  }
}

EventFilter make_filter(const OutputOptions& options) {
  EventFilter filter;
  filter.errors_only = options.errors_only;
  if (!options.min_wait.empty()) filter.min_wait_ns = parse_duration(options.min_wait);
  return filter;
}

}  // namespace locktrace::cli
