#include "report.hpp"

#include <algorithm>
#include <set>

#include "clock.hpp"
#include "describe.hpp"
#include "stack_format.hpp"

namespace locktrace::analysis {

namespace {

using TaskCounts = std::map<std::pair<uint32_t, uint32_t>, TaskTotals>;

// The tasks with the most total wait, at most `limit`.
std::vector<std::pair<TaskRef, TaskTotals>> top_tasks(const TaskCounts& counts, size_t limit) {
  std::vector<std::pair<TaskRef, TaskTotals>> sorted;
  for (const auto& [key, totals] : counts) sorted.push_back({TaskRef{key.first, key.second}, totals});
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second.total_ns > b.second.total_ns; });
  if (sorted.size() > limit) sorted.resize(limit);
  return sorted;
}

uint64_t trace_duration(const Analyzer& analyzer, const StreamInfo& info) {
  return analyzer.now_ns() > info.start_ts_ns ? analyzer.now_ns() - info.start_ts_ns : 0;
}

void append_cycle(std::string& out, const DeadlockFinding& deadlock, const TraceState& state) {
  for (const auto& edge : deadlock.cycle) {
    append_task(out, edge.waiter, state);
    out += " -> ";
    append_lock(out, edge.lock, state);
    out += " -> ";
  }
  if (!deadlock.cycle.empty()) {
    const auto& last = deadlock.cycle.back();
    if (last.holder)
      append_task(out, *last.holder, state);
    else
      out += "owner unknown";
  }
}

// "in db::Pool::acquire (pool.cc:88) <- worker_main", or the stack's number
// when the stream never described it or it has no user frame.
void append_stack_where(std::string& out, uint32_t stack_id, const TraceState& state) {
  const auto* frames = state.stack(stack_id);
  if (!frames || !append_top_frames(out, "in ", *frames)) out += "stack " + std::to_string(stack_id);
}

void append_waiting_stacks(std::string& out, const LockContention& c, const TraceState& state,
                           size_t limit) {
  if (c.stacks.empty()) return;
  out += "    waiting stacks:\n";
  for (const auto& [stack_id, totals] : top_stacks(c, limit)) {
    out += "      " + std::to_string(totals.count) + "x ";
    append_duration(out, totals.total_ns);
    out += " (max ";
    append_duration(out, totals.max_ns);
    out += ") ";
    append_stack_where(out, stack_id, state);
    out += '\n';
  }
}

// Every stack the summary names, so that `report --json` stands alone.
class StackTable {
 public:
  void note(std::optional<uint32_t> stack_id) {
    if (stack_id) ids_.insert(*stack_id);
  }
  void note(const WaitEdge& edge) {
    note(edge.waiter_stack);
    if (edge.holder) note(edge.holder_stack);
  }
  void write(JsonWriter& w, const TraceState& state) const {
    if (ids_.empty()) return;
    w.begin_array("stacks");
    for (uint32_t id : ids_) {
      const auto* frames = state.stack(id);
      if (!frames) continue;
      w.begin_object();
      write_stack_fields(w, id, *frames);
      w.end_object();
    }
    w.end_array();
  }

 private:
  std::set<uint32_t> ids_;
};

}  // namespace

void append_duration(std::string& out, uint64_t ns) {
  char buf[32];
  if (ns < 1'000'000)
    snprintf(buf, sizeof buf, "%llu us", static_cast<unsigned long long>(ns / 1000));
  else if (ns < 1'000'000'000)
    snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(ns) / 1e6);
  else
    snprintf(buf, sizeof buf, "%.3f s", static_cast<double>(ns) / 1e9);
  out += buf;
}

void append_report_text(std::string& out, const Analyzer& analyzer, const TraceState& state,
                        const StreamInfo& info, const ReportOptions& options) {
  out += "\n=== locktrace summary: ";
  append_duration(out, trace_duration(analyzer, info));
  out += " traced ===\n";

  const auto& deadlocks = analyzer.deadlocks();
  out += "Deadlocks: ";
  out += deadlocks.empty() ? "none" : std::to_string(deadlocks.size());
  out += '\n';
  for (const auto& deadlock : deadlocks) {
    out += "  ";
    append_clock_time(out, deadlock.ts_ns, info);
    out += deadlock.kernel_edeadlk ? " EDEADLK: " : " ";
    append_cycle(out, deadlock, state);
    out += '\n';
  }

  auto locks = analyzer.contention().most_contended(options.top_locks);
  out += "Contended locks: ";
  out += locks.empty() ? "none" : std::to_string(locks.size());
  out += '\n';
  for (const auto* c : locks) {
    out += "  ";
    append_lock(out, c->lock, state);
    out += "\n    ";
    out += std::to_string(c->acquisitions) + " acquired, " + std::to_string(c->waits.count()) +
           " waited, " + std::to_string(c->failures) + " refused";
    if (c->waits.count()) {
      out += "; wait total ";
      append_duration(out, c->waits.total());
      out += ", mean ";
      append_duration(out, c->waits.mean());
      out += ", p50 ";
      append_duration(out, c->waits.quantile(0.5));
      out += ", p99 ";
      append_duration(out, c->waits.quantile(0.99));
      out += ", max ";
      append_duration(out, c->waits.max());
    }
    out += '\n';
    auto list = [&](std::string_view title, const TaskCounts& counts) {
      if (counts.empty()) return;
      out += "    ";
      out += title;
      bool first = true;
      for (const auto& [task, totals] : top_tasks(counts, options.top_tasks)) {
        out += first ? " " : ", ";
        first = false;
        append_task(out, task, state);
        out += " " + std::to_string(totals.count) + "x ";
        append_duration(out, totals.total_ns);
      }
      out += '\n';
    };
    list("waiters:", c->waiters);
    list("waited on:", c->holders);
    append_waiting_stacks(out, *c, state, options.top_stacks);
  }

  const auto& longest = analyzer.contention().longest_waits();
  if (!longest.empty()) {
    out += "Longest waits:\n";
    for (const auto& wait : longest) {
      out += "  ";
      append_duration(out, wait.waited_ns);
      out += "  ";
      append_task(out, wait.edge.waiter, state);
      if (wait.edge.waiter_stack) {
        out += ' ';
        append_stack_where(out, *wait.edge.waiter_stack, state);
      }
      out += " on ";
      append_lock(out, wait.edge.lock, state);
      if (wait.edge.holder) {
        out += ", held by ";
        append_task(out, *wait.edge.holder, state);
        out += " (";
        out += attribution_text(*wait.edge.how);
        out += ')';
      }
      out += ", until ";
      append_clock_time(out, wait.ended_ns, info);
      out += '\n';
    }
  }

  auto blocked = analyzer.waits_now();
  out += "Still blocked at the end: ";
  out += blocked.empty() ? "none" : std::to_string(blocked.size());
  out += '\n';
  for (const auto& edge : blocked) {
    out += "  ";
    append_task(out, edge.waiter, state);
    out += " for ";
    append_duration(out, analyzer.now_ns() - std::min(analyzer.now_ns(), edge.waiting_since_ns));
    if (edge.waiter_stack) {
      out += ' ';
      append_stack_where(out, *edge.waiter_stack, state);
    }
    out += " on ";
    append_lock(out, edge.lock, state);
    out += ", ";
    if (edge.holder) {
      out += "held by ";
      append_task(out, *edge.holder, state);
      out += " (";
      out += attribution_text(*edge.how);
      out += ')';
    } else {
      out += "owner unknown";
    }
    out += '\n';
  }
}

void append_report_json(std::string& out, const Analyzer& analyzer, const TraceState& state,
                        const StreamInfo& info, const ReportOptions& options) {
  JsonWriter w(out);
  StackTable stacks;
  w.begin_object();
  w.string("event", "summary");
  w.unsigned_number("duration_ns", trace_duration(analyzer, info));
  w.begin_array("deadlocks");
  for (const auto& deadlock : analyzer.deadlocks()) {
    w.begin_object();
    w.unsigned_number("ts_ns", deadlock.ts_ns);
    w.boolean("kernel_edeadlk", deadlock.kernel_edeadlk);
    w.begin_array("cycle");
    for (const auto& edge : deadlock.cycle) {
      w.begin_object();
      write_edge_fields(w, edge, state);
      w.end_object();
      stacks.note(edge);
    }
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.begin_array("contended_locks");
  for (const auto* c : analyzer.contention().most_contended(options.top_locks)) {
    w.begin_object();
    write_lock(w, "lock", c->lock, state);
    w.unsigned_number("acquisitions", c->acquisitions);
    w.unsigned_number("waits", c->waits.count());
    w.unsigned_number("failures", c->failures);
    w.unsigned_number("total_wait_ns", c->waits.total());
    w.unsigned_number("mean_wait_ns", c->waits.mean());
    w.unsigned_number("p50_wait_ns", c->waits.quantile(0.5));
    w.unsigned_number("p99_wait_ns", c->waits.quantile(0.99));
    w.unsigned_number("max_wait_ns", c->waits.max());
    for (auto [key, counts] : {std::pair{"top_waiters", &c->waiters}, std::pair{"top_holders", &c->holders}}) {
      w.begin_array(key);
      for (const auto& [task, totals] : top_tasks(*counts, options.top_tasks)) {
        w.begin_object();
        write_task(w, "task", task, state);
        w.unsigned_number("waits", totals.count);
        w.unsigned_number("total_wait_ns", totals.total_ns);
        w.end_object();
      }
      w.end_array();
    }
    if (!c->stacks.empty()) {
      w.begin_array("waiting_stacks");
      for (const auto& [stack_id, totals] : top_stacks(*c, options.top_stacks)) {
        w.begin_object();
        w.unsigned_number("stack_id", stack_id);
        w.unsigned_number("waits", totals.count);
        w.unsigned_number("total_wait_ns", totals.total_ns);
        w.unsigned_number("max_wait_ns", totals.max_ns);
        w.end_object();
        stacks.note(stack_id);
      }
      w.end_array();
    }
    w.end_object();
  }
  w.end_array();
  w.begin_array("longest_waits");
  for (const auto& wait : analyzer.contention().longest_waits()) {
    stacks.note(wait.edge);
    w.begin_object();
    write_edge_fields(w, wait.edge, state);
    w.unsigned_number("waited_ns", wait.waited_ns);
    w.unsigned_number("ended_ns", wait.ended_ns);
    w.end_object();
  }
  w.end_array();
  w.begin_array("still_blocked");
  for (const auto& edge : analyzer.waits_now()) {
    stacks.note(edge);
    w.begin_object();
    write_edge_fields(w, edge, state);
    w.unsigned_number("waited_ns", analyzer.now_ns() - std::min(analyzer.now_ns(), edge.waiting_since_ns));
    w.end_object();
  }
  w.end_array();
  stacks.write(w, state);
  w.end_object();
  out += '\n';
}

void ReportSink::on_finish(const TraceState& state) {
  std::string out;
  if (json_)
    append_report_json(out, analyzer_, state, info_);
  else
    append_report_text(out, analyzer_, state, info_);
  std::fwrite(out.data(), 1, out.size(), out_);
  std::fflush(out_);
}

}  // namespace locktrace::analysis
