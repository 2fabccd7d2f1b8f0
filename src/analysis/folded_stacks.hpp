// `report --folded`: where the traced threads waited, as folded stacks for
// flame-graph tools (flamegraph.pl, inferno, speedscope), one line per distinct
// task name and stack: "comm;outermost;...;innermost_[k] <microseconds>".
#pragma once

#include <string>

#include "analyzer.hpp"

namespace locktrace::analysis {

// Completed waits and the waits still going on at the end, summed per line.
void append_folded_stacks(std::string& out, const Analyzer& analyzer, const TraceState& state);

}  // namespace locktrace::analysis
