#include "graph_export.hpp"

#include <map>
#include <set>

#include "clock.hpp"
#include "describe.hpp"
#include "names.hpp"
#include "report.hpp"

namespace locktrace::analysis {

namespace {

struct Graph {
  std::map<std::string, std::string> nodes;  // id -> label
  std::set<std::string> lock_nodes;
  struct Edge {
    std::string from, to, label;
    bool wait;
  };
  std::vector<Edge> edges;
};

std::string task_id(const TaskRef& task) {
  return task.tid ? "t" + std::to_string(task.tid) : "p" + std::to_string(task.pid);
}

std::string lock_id(const LockRef& lock) {
  if (lock.kind == LockRef::Kind::futex)
    return "f" + std::to_string(lock.pid) + "_" + std::to_string(lock.uaddr);
  return "l" + std::to_string(lock.dev) + "_" + std::to_string(lock.ino) + "_" + std::to_string(lock.start);
}

Graph build(const Analyzer& analyzer, const TraceState& state) {
  Graph g;
  auto add_task = [&](const TaskRef& task) {
    std::string label;
    append_task(label, task, state);
    g.nodes[task_id(task)] = label;
  };
  auto add_lock = [&](const LockRef& lock) {
    std::string label;
    append_lock(label, lock, state);
    g.nodes[lock_id(lock)] = label;
    g.lock_nodes.insert(lock_id(lock));
  };
  for (const auto& edge : analyzer.waits_now()) {
    add_task(edge.waiter);
    add_lock(edge.lock);
    std::string since;
    append_duration(since, analyzer.now_ns() - std::min(analyzer.now_ns(), edge.waiting_since_ns));
    g.edges.push_back({task_id(edge.waiter), lock_id(edge.lock), "waits " + since, true});
    if (edge.holder) {
      add_task(*edge.holder);
      g.edges.push_back({lock_id(edge.lock), task_id(*edge.holder),
                         "held by (" + std::string(attribution_name(*edge.how)) + ")", false});
    }
  }
  analyzer.file_locks().for_each([&](const InodeKey& inode, const FileHolder& holder) {
    LockRef lock;
    lock.dev = inode.dev;
    lock.ino = inode.ino;
    lock.fl_flags = holder.fl_flags;
    lock.start = holder.start;
    lock.end = holder.end;
    add_lock(lock);
    add_task(holder.task);
    std::string label = "held (" + std::string(lock_type_name(holder.type)) + ")";
    for (const auto& e : g.edges)
      if (e.from == lock_id(lock) && e.to == task_id(holder.task)) return;
    g.edges.push_back({lock_id(lock), task_id(holder.task), label, false});
  });
  return g;
}

std::string dot_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

void append_graph_dot(std::string& out, const Analyzer& analyzer, const TraceState& state,
                      const StreamInfo& info) {
  Graph g = build(analyzer, state);
  std::string when;
  append_clock_time(when, analyzer.now_ns(), info);
  out += "digraph locktrace {\n  label=\"wait-for graph at " + when + "\";\n  rankdir=LR;\n";
  for (const auto& [id, label] : g.nodes) {
    bool lock = g.lock_nodes.contains(id);
    out += "  " + id + " [shape=" + (lock ? "ellipse" : "box") + ", label=\"" + dot_escape(label) + "\"];\n";
  }
  for (const auto& e : g.edges)
    out += "  " + e.from + " -> " + e.to + " [label=\"" + dot_escape(e.label) + "\"" +
           (e.wait ? ", color=red" : "") + "];\n";
  out += "}\n";
}

void append_graph_json(std::string& out, const Analyzer& analyzer, const TraceState& state,
                       const StreamInfo& info) {
  Graph g = build(analyzer, state);
  JsonWriter w(out);
  w.begin_object();
  w.unsigned_number("ts_ns", analyzer.now_ns());
  std::string when;
  append_iso_time(when, analyzer.now_ns(), info);
  w.string("time", when);
  w.begin_array("nodes");
  for (const auto& [id, label] : g.nodes) {
    w.begin_object();
    w.string("id", id);
    w.string("type", g.lock_nodes.contains(id) ? "lock" : "task");
    w.string("label", label);
    w.end_object();
  }
  w.end_array();
  w.begin_array("edges");
  for (const auto& e : g.edges) {
    w.begin_object();
    w.string("from", e.from);
    w.string("to", e.to);
    w.string("type", e.wait ? "waits_for" : "held_by");
    w.string("label", e.label);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  out += '\n';
}

}  // namespace locktrace::analysis
