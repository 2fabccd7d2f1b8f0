#include "folded_stacks.hpp"

#include <map>
#include <set>

#include "stack_format.hpp"

namespace locktrace::analysis {

void append_folded_stacks(std::string& out, const Analyzer& analyzer, const TraceState& state) {
  // Two stack ids can fold to one line (the same functions at other addresses).
  std::map<std::string, uint64_t> lines;
  std::string line;
  auto add = [&](std::string_view comm, uint32_t stack_id, uint64_t waited_ns) {
    const auto* frames = state.stack(stack_id);
    if (!frames) return;
    line.clear();
    append_folded(line, comm, *frames);
    lines[line] += waited_ns;
  };
  for (const auto& [key, total_ns] : analyzer.contention().waits_by_stack()) add(key.first, key.second, total_ns);
  std::set<uint32_t> seen;
  for (const auto& edge : analyzer.waits_now()) {
    const Wait* wait = analyzer.wait_of(edge.waiter.tid);
    if (!wait || !wait->stack || !seen.insert(edge.waiter.tid).second) continue;
    add(wait->comm, *wait->stack, analyzer.now_ns() - std::min(analyzer.now_ns(), wait->since_ns));
  }
  for (const auto& [folded, total_ns] : lines) {
    out += folded;
    out += ' ';
    out += std::to_string(total_ns / 1000);
    out += '\n';
  }
}

}  // namespace locktrace::analysis
