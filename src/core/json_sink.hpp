// --json: one object per line per event; the schema is docs/json-schema.md.
#pragma once

#include <cstdio>
#include <string>

#include "event_filter.hpp"
#include "sink.hpp"

namespace locktrace {

class JsonSink : public EventSink {
 public:
  JsonSink(std::FILE* out, EventFilter filter) : out_(out), filter_(std::move(filter)) {}

  void on_start(const StreamInfo& info) override { info_ = info; }
  void on_event(const Event& event, const TraceState& state) override;
  void on_finding(const Finding& finding, const TraceState& state) override;
  void flush() override { std::fflush(out_); }

 private:
  void write_stack(const StackTrace& stack);

  std::FILE* out_;
  EventFilter filter_;
  StreamInfo info_;
  std::string line_;
  std::string scratch_;
};

}  // namespace locktrace
