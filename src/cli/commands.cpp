#include "commands.hpp"

#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "demo_workload.hpp"
#include "errors.hpp"
#include "json_sink.hpp"
#include "session.hpp"
#include "text_sink.hpp"

namespace locktrace::cli {

namespace {

std::unique_ptr<EventSink> make_output_sink(const OutputOptions& options) {
  static char buffer[1 << 16];
  setvbuf(stdout, buffer, _IOFBF, sizeof buffer);  // the consumer flushes after each drain
  EventFilter filter = make_filter(options);
  if (options.json) return std::make_unique<JsonSink>(stdout, std::move(filter));
  bool colour = isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
  return std::make_unique<TextSink>(stdout, std::move(filter), colour);
}

int trace(SessionOptions session, const OutputOptions& output) {
  Pipeline pipeline;
  auto sink = make_output_sink(output);
  pipeline.add_sink(*sink);
  SessionResult result = run_session(session, pipeline);
  uint64_t lost = result.counters.ring_buffer_drops + result.counters.unpaired_calls;
  std::string tally = std::to_string(result.kernel_events) + " events, " + std::to_string(lost) +
                      " lost";
  if (result.counters.ring_buffer_drops)
    tally += " (" + std::to_string(result.counters.ring_buffer_drops) +
             " dropped by a full ring buffer: try a larger --buffer-size)";
  if (result.counters.unpaired_calls)
    tally += " (" + std::to_string(result.counters.unpaired_calls) +
             " calls not paired: too many threads inside lock calls at once)";
  if (result.undecodable) tally += ", " + std::to_string(result.undecodable) + " undecodable";
  if (result.interrupted) tally += ", interrupted";
  note(tally);
  return result.command_status.value_or(kExitOk);
}

}  // namespace

int run_live(const LiveOptions& options) {
  SessionOptions session;
  session.pids = options.target.pids;
  session.tids = options.target.tids;
  session.command = options.target.command;
  session.follow_children = !options.target.no_follow;
  if (!options.duration.empty()) session.duration_ns = parse_duration(options.duration);
  if (!options.buffer_size.empty())
    session.ring_buffer_bytes = static_cast<uint32_t>(parse_size(options.buffer_size));
  return trace(std::move(session), options.output);
}

int run_demo(const DemoOptions& options) {
  SessionOptions session;
  session.workload = run_demo_workload;
  return trace(std::move(session), options.output);
}

}  // namespace locktrace::cli
