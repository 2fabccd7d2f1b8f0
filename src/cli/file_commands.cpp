// replay and info: the commands that read a trace file instead of the kernel.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "analyzer.hpp"
#include "clock.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "event_counter.hpp"
#include "folded_stacks.hpp"
#include "json_sink.hpp"
#include "json_writer.hpp"
#include "graph_export.hpp"
#include "pipeline.hpp"
#include "report.hpp"
#include "text_sink.hpp"
#include "trace_reader.hpp"

#include <unistd.h>

namespace locktrace::cli {

namespace {

struct OpenFile {
  std::FILE* file = nullptr;
  ~OpenFile() {
    if (file && file != stdin) std::fclose(file);
  }
};

std::unique_ptr<TraceReader> open_reader(const std::string& path, OpenFile& holder) {
  holder.file = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (!holder.file) throw Fatal(kExitFailure, "cannot open " + path + ": " + strerror(errno));
  try {
    return std::make_unique<TraceReader>(holder.file, [&path](const std::string& warning) {
      note(path + ": " + warning);
    });
  } catch (const TraceFormatError& e) {
    throw Fatal(kExitFailure, path + ": " + e.what());
  }
}

// What a recording lost, said once on stderr after it was read.
void report_losses(const TraceReader& reader) {
  uint64_t kernel = 0;
  if (const auto& trailer = reader.trailer())
    kernel = trailer->ring_buffer_drops + trailer->unpaired_calls;
  if (kernel) note(std::to_string(kernel) + " events were lost in the kernel while recording");
  if (reader.stats().writer_lost)
    note(std::to_string(reader.stats().writer_lost) +
         " events were not recorded: the disk fell behind the recorder");
}

// The whole file through the pipeline, then what the recording lost.
void play(TraceReader& reader, Pipeline& pipeline) {
  pipeline.start(reader.stream_info());
  Event event;
  while (reader.next(event)) pipeline.push(event);
  pipeline.finish();
  report_losses(reader);
}

}  // namespace

int run_replay(const ReplayOptions& options) {
  OpenFile holder;
  auto reader = open_reader(options.file, holder);
  static char buffer[1 << 16];
  setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
  std::unique_ptr<EventSink> sink;
  EventFilter filter = make_filter(options);
  if (options.output.json)
    sink = std::make_unique<JsonSink>(stdout, std::move(filter));
  else
    sink = std::make_unique<TextSink>(stdout, std::move(filter),
                                      isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR"), options.stacks);
  // The same analyzer and report live ran, so the output is the same.
  analysis::AnalyzerOptions analyzer_options;
  if (!options.output.min_wait.empty())
    analyzer_options.long_wait_ns = parse_duration(options.output.min_wait);
  analysis::Analyzer analyzer(analyzer_options);
  analysis::ReportSink report(stdout, analyzer, options.output.json);
  Pipeline pipeline;
  pipeline.set_analyzer(analyzer);
  pipeline.add_sink(*sink);
  pipeline.add_sink(report);
  play(*reader, pipeline);
  return kExitOk;
}

int run_report(const ReportOptions& options) {
  OpenFile holder;
  auto reader = open_reader(options.file, holder);
  analysis::Analyzer analyzer;
  analysis::ReportSink report(stdout, analyzer, options.json);
  Pipeline pipeline;
  pipeline.set_analyzer(analyzer);
  if (!options.folded) pipeline.add_sink(report);
  play(*reader, pipeline);
  if (options.folded) {
    std::string out;
    analysis::append_folded_stacks(out, analyzer, pipeline.state());
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return kExitOk;
}

int run_graph(const GraphOptions& options) {
  OpenFile holder;
  auto reader = open_reader(options.file, holder);
  analysis::Analyzer analyzer;
  Pipeline pipeline;
  pipeline.set_analyzer(analyzer);
  StreamInfo info = reader->stream_info();
  pipeline.start(info);
  std::optional<uint64_t> until;
  if (!options.at.empty()) until = info.start_ts_ns + parse_duration(options.at);
  Event event;
  while (reader->next(event)) {
    if (until && timestamp_of(event) > *until && !is_metadata(event)) break;
    pipeline.push(event);
  }
  std::string out;
  if (options.json)
    analysis::append_graph_json(out, analyzer, pipeline.state(), info);
  else
    analysis::append_graph_dot(out, analyzer, pipeline.state(), info);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

namespace {

struct ProcessSeen {
  uint32_t ppid = 0;
  std::string comm;
  std::string cmdline;
  uint64_t described_ts_ns = 0;  // of the ProcessInfo the command line came from
};

// Collects the processes a trace mentions, in pid order.
class ProcessCatalog : public EventSink {
 public:
  void on_event(const Event& event, const TraceState& state) override {
    if (const auto* p = std::get_if<ProcessInfo>(&event)) {
      processes_[p->pid] = {p->ppid, p->comm, p->cmdline, p->ts_ns};
    } else if (const auto* fork = std::get_if<Fork>(&event); fork && fork->child_pid != fork->h.pid) {
      auto& child = processes_[fork->child_pid];
      child.ppid = fork->h.pid;
      child.comm = std::string(fork->comm, strnlen(fork->comm, sizeof fork->comm));
      if (const auto* parent = state.process(fork->h.pid)) child.cmdline = parent->cmdline;
    } else if (const auto* exec = std::get_if<Exec>(&event)) {
      auto& process = processes_[exec->h.pid];
      process.comm = std::string(exec->comm, strnlen(exec->comm, sizeof exec->comm));
      // Gone before /proc could say its new command line: the program is what we know.
      if (process.described_ts_ns < exec->h.ts_ns)
        process.cmdline = std::string(exec->filename, strnlen(exec->filename, sizeof exec->filename));
    }
  }
  const std::map<uint32_t, ProcessSeen>& processes() const { return processes_; }

 private:
  std::map<uint32_t, ProcessSeen> processes_;
};

}  // namespace

int run_info(const InfoOptions& options) {
  OpenFile holder;
  auto reader = open_reader(options.file, holder);
  Pipeline pipeline;
  EventCounter counter;
  ProcessCatalog catalog;
  pipeline.add_sink(counter);
  pipeline.add_sink(catalog);
  StreamInfo info = reader->stream_info();
  pipeline.start(info);
  uint64_t last_ts = info.start_ts_ns;
  Event event;
  while (reader->next(event)) {
    last_ts = std::max(last_ts, timestamp_of(event));
    pipeline.push(event);
  }
  const auto& header = reader->header();
  const auto& trailer = reader->trailer();
  const auto& stats = reader->stats();
  uint64_t end_ts = trailer ? std::max(trailer->end_ts_ns, last_ts) : last_ts;
  uint64_t ring_drops = trailer ? trailer->ring_buffer_drops : 0;
  uint64_t unpaired = trailer ? trailer->unpaired_calls : 0;

  std::string out, start_time, end_time, duration;
  append_iso_time(start_time, info.start_ts_ns, info);
  append_iso_time(end_time, end_ts, info);
  append_seconds(duration, end_ts - info.start_ts_ns);
  if (options.json) {
    JsonWriter w(out);
    w.begin_object();
    w.string("file", options.file);
    w.string("format_version", std::to_string(header.major) + "." + std::to_string(header.minor));
    w.unsigned_number("abi_version", header.abi_version);
    w.string("host", header.hostname);
    w.string("kernel", header.kernel_release);
    w.string("tool_version", header.tool_version);
    w.string("recorded_with", header.options);
    w.string("start", start_time);
    w.string("end", end_time);
    w.unsigned_number("duration_ns", end_ts - info.start_ts_ns);
    w.unsigned_number("events", counter.kernel_events());
    w.begin_object("events_by_type");
    for (size_t i = 0; i < std::variant_size_v<Event>; i++)
      w.unsigned_number(event_kind_name(i), counter.count_of(i));
    w.end_object();
    w.begin_object("lost");
    w.unsigned_number("ring_buffer", ring_drops);
    w.unsigned_number("unpaired_calls", unpaired);
    w.unsigned_number("writer", stats.writer_lost);
    w.end_object();
    w.unsigned_number("blocks", stats.blocks);
    w.unsigned_number("corrupt_blocks", stats.corrupt_blocks);
    w.boolean("complete", trailer.has_value());
    w.begin_array("processes");
    for (const auto& [pid, p] : catalog.processes()) {
      w.begin_object();
      w.unsigned_number("pid", pid);
      w.unsigned_number("ppid", p.ppid);
      w.string("comm", p.comm);
      w.string("cmdline", p.cmdline);
      w.end_object();
    }
    w.end_array();
    w.end_object();
    out += '\n';
  } else {
    auto line = [&out](std::string_view key, const std::string& value) {
      out += key;
      out.append(key.size() < 14 ? 14 - key.size() : 1, ' ');
      out += value;
      out += '\n';
    };
    line("file:", options.file);
    line("format:", std::to_string(header.major) + "." + std::to_string(header.minor) + " (event ABI " +
                        std::to_string(header.abi_version) + ")");
    line("host:", header.hostname);
    line("kernel:", header.kernel_release);
    line("recorded by:", "locktrace " + header.tool_version + ": " + header.options);
    line("start:", start_time);
    line("end:", end_time);
    line("duration:", duration + " s");
    std::string kinds;
    for (size_t i = 0; i < std::variant_size_v<Event>; i++) {
      if (counter.count_of(i) == 0) continue;
      if (!kinds.empty()) kinds += ", ";
      kinds += std::string(event_kind_name(i)) + " " + std::to_string(counter.count_of(i));
    }
    line("events:", std::to_string(counter.kernel_events()) + " (" + kinds + ")");
    line("lost:", std::to_string(ring_drops + unpaired + stats.writer_lost) + " (ring buffer " +
                      std::to_string(ring_drops) + ", unpaired calls " + std::to_string(unpaired) +
                      ", writer " + std::to_string(stats.writer_lost) + ")");
    line("blocks:", std::to_string(stats.blocks) + (stats.corrupt_blocks
                                                        ? ", " + std::to_string(stats.corrupt_blocks) + " corrupt"
                                                        : std::string{}) +
                        (trailer ? ", complete" : ", incomplete (no trailer)"));
    line("processes:", std::to_string(catalog.processes().size()));
    for (const auto& [pid, p] : catalog.processes()) {
      char row[64];
      snprintf(row, sizeof row, "  %7u %7u  %-16s ", pid, p.ppid, p.comm.c_str());
      out += row;
      out += p.cmdline;
      out += '\n';
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace locktrace::cli
