// What each subcommand does once its options are parsed. Returns the exit code.
#pragma once

#include "options.hpp"

namespace locktrace::cli {

int run_live(const LiveOptions& options, const std::string& command_line);
int run_record(const RecordOptions& options, const std::string& command_line);
int run_replay(const ReplayOptions& options);
int run_info(const InfoOptions& options);
int run_report(const ReportOptions& options);
int run_graph(const GraphOptions& options);
int run_demo(const DemoOptions& options);

}  // namespace locktrace::cli
