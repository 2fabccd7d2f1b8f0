// The wait-for graph at one moment, as Graphviz DOT or JSON: threads and locks as
// nodes, "waits for" edges from threads to locks, "held by" edges from locks to
// their holders, each labelled with how the holder was known.
#pragma once

#include <string>

#include "analyzer.hpp"

namespace locktrace::analysis {

void append_graph_dot(std::string& out, const Analyzer& analyzer, const TraceState& state,
                      const StreamInfo& info);
void append_graph_json(std::string& out, const Analyzer& analyzer, const TraceState& state,
                       const StreamInfo& info);

}  // namespace locktrace::analysis
