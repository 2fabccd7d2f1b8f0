#include "commands.hpp"

#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "analyzer.hpp"
#include "demo_workload.hpp"
#include "report.hpp"
#include "errors.hpp"
#include "json_sink.hpp"
#include "session.hpp"
#include "text_sink.hpp"
#include "trace_writer.hpp"

namespace locktrace::cli {

namespace {

std::unique_ptr<EventSink> make_output_sink(const OutputOptions& options, EventFilter filter,
                                            bool full_stacks = false) {
  static char buffer[1 << 16];
  setvbuf(stdout, buffer, _IOFBF, sizeof buffer);  // the consumer flushes after each drain
  if (options.json) return std::make_unique<JsonSink>(stdout, std::move(filter));
  bool colour = isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
  return std::make_unique<TextSink>(stdout, std::move(filter), colour, full_stacks);
}

SessionOptions session_options(const TargetOptions& target, const SessionControl& control) {
  SessionOptions session;
  session.pids = target.pids;
  session.tids = target.tids;
  session.command = target.command;
  session.follow_children = !target.no_follow;
  if (!control.duration.empty()) session.duration_ns = parse_duration(control.duration);
  if (!control.buffer_size.empty())
    session.ring_buffer_bytes = static_cast<uint32_t>(parse_size(control.buffer_size));
  StackSettings stacks = stack_settings(control.capture);
  session.stack_mode = stacks.mode;
  session.user_stack_bytes = stacks.user_stack_bytes;
  return session;
}

std::string tally(const SessionResult& result, uint64_t writer_drops) {
  uint64_t lost = result.counters.ring_buffer_drops + result.counters.unpaired_calls + writer_drops;
  std::string text = std::to_string(result.kernel_events) + " events, " + std::to_string(lost) + " lost";
  if (result.counters.ring_buffer_drops)
    text += " (" + std::to_string(result.counters.ring_buffer_drops) +
            " dropped by a full ring buffer: try a larger --buffer-size)";
  if (result.counters.unpaired_calls)
    text += " (" + std::to_string(result.counters.unpaired_calls) +
            " calls not paired: too many threads inside lock calls at once)";
  if (writer_drops)
    text += " (" + std::to_string(writer_drops) + " not recorded: the disk fell behind)";
  if (result.undecodable) text += ", " + std::to_string(result.undecodable) + " undecodable";
  if (result.interrupted) text += ", interrupted";
  return text;
}

// Runs a session into `pipeline` (whose output sinks the caller added), with the
// analyzer and its end-of-run report, recording it when control.output_file is set.
int trace(SessionOptions session, const SessionControl& control, const std::string& command_line,
          Pipeline& pipeline, const OutputOptions* output, bool exit_on_deadlock = false) {
  analysis::AnalyzerOptions analyzer_options;
  if (output && !output->min_wait.empty()) analyzer_options.long_wait_ns = parse_duration(output->min_wait);
  // record prints no events, so no finding either: only the summary needs the analyzer.
  analyzer_options.explain_failures = output != nullptr;
  analysis::Analyzer analyzer(analyzer_options);
  pipeline.set_analyzer(analyzer);
  // live prints its summary after the events; record, which prints no events, on stderr.
  analysis::ReportSink report(output ? stdout : stderr, analyzer, output && output->json);
  pipeline.add_sink(report);

  std::unique_ptr<TraceWriter> writer;
  if (!control.output_file.empty()) {
    try {
      writer = std::make_unique<TraceWriter>(open_trace_output(control.output_file, control.force),
                                             command_line);
    } catch (const std::runtime_error& e) {
      throw Fatal(kExitFailure, e.what());
    }
    pipeline.add_sink(*writer);
    session.command_stdout_to_stderr = control.output_file == "-";
  }
  session.should_stop = [&] {
    return (writer && writer->failed()) || (exit_on_deadlock && !analyzer.deadlocks().empty());
  };
  SessionResult result = run_session(session, pipeline);
  uint64_t writer_drops = 0;
  if (writer) {
    tracefile::Trailer totals;
    totals.ring_buffer_drops = result.counters.ring_buffer_drops;
    totals.unpaired_calls = result.counters.unpaired_calls;
    bool ok = writer->finish(totals);
    writer_drops = writer->writer_drops();
    note(tally(result, writer_drops));
    if (!ok)
      throw Fatal(kExitFailure, "recording to " + control.output_file + " failed: " + writer->error() +
                                    " (what was written before remains readable)");
    if (control.output_file != "-")
      note("recorded to " + control.output_file + " (" + std::to_string(writer->bytes_written()) +
           " bytes)");
  } else {
    note(tally(result, writer_drops));
  }
  if (exit_on_deadlock && !analyzer.deadlocks().empty()) return kExitDeadlock;
  return result.command_status.value_or(kExitOk);
}

}  // namespace

int run_live(const LiveOptions& options, const std::string& command_line) {
  Pipeline pipeline;
  auto sink = make_output_sink(options.output, make_filter(options.output),
                               stack_settings(options.control.capture).print);
  pipeline.add_sink(*sink);
  return trace(session_options(options.target, options.control), options.control, command_line,
               pipeline, &options.output, options.exit_on_deadlock);
}

int run_record(const RecordOptions& options, const std::string& command_line) {
  Pipeline pipeline;
  return trace(session_options(options.target, options.control), options.control, command_line,
               pipeline, nullptr);
}

int run_demo(const DemoOptions& options) {
  Pipeline pipeline;
  auto sink = make_output_sink(options.output, make_filter(options.output));
  pipeline.add_sink(*sink);
  SessionOptions session;
  session.workload = run_demo_workload;
  return trace(std::move(session), SessionControl{}, "locktrace demo", pipeline, &options.output);
}

}  // namespace locktrace::cli
