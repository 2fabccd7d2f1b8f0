// The summary of a trace: deadlocks, the most contended locks with their wait
// distribution, the longest waits and who caused them, and the threads still
// blocked at the end. Printed at the end of live, record and replay, and by
// `locktrace report`.
#pragma once

#include <cstdio>
#include <string>

#include "analyzer.hpp"

namespace locktrace::analysis {

struct ReportOptions {
  size_t top_locks = 10;
  size_t top_tasks = 3;  // waiters and holders listed per lock
  size_t top_stacks = 5;  // waiting stacks listed per lock
};

void append_report_text(std::string& out, const Analyzer& analyzer, const TraceState& state,
                        const StreamInfo& info, const ReportOptions& options = {});
void append_report_json(std::string& out, const Analyzer& analyzer, const TraceState& state,
                        const StreamInfo& info, const ReportOptions& options = {});

// Prints the report when the stream ends.
class ReportSink : public EventSink {
 public:
  ReportSink(std::FILE* out, const Analyzer& analyzer, bool json)
      : out_(out), analyzer_(analyzer), json_(json) {}
  void on_start(const StreamInfo& info) override { info_ = info; }
  void on_event(const Event&, const TraceState&) override {}
  void on_finish(const TraceState& state) override;

 private:
  std::FILE* out_;
  const Analyzer& analyzer_;
  bool json_;
  StreamInfo info_;
};

// "250 us", "12.5 ms", "3.204 s".
void append_duration(std::string& out, uint64_t ns);

}  // namespace locktrace::analysis
