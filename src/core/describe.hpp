// Tasks, locks and wait-for edges in words and in JSON: one rendering shared by
// the inline findings, the report and the graph export.
#pragma once

#include <string>

#include "findings.hpp"
#include "json_writer.hpp"
#include "trace_state.hpp"

namespace locktrace {

// "worker[812/813]", or "pid 812" when only the process is known.
void append_task(std::string& out, const TaskRef& task, const TraceState& state);
// "flock lock on /tmp/x.lock", "posix lock on /db bytes 0-99",
// "futex 0x55d0c4a1c0c0<g_pool_lock> in pid 812" (the name when the stream gave one).
void append_lock(std::string& out, const LockRef& lock, const TraceState& state);

void write_task(JsonWriter& w, std::string_view key, const TaskRef& task, const TraceState& state);
void write_lock(JsonWriter& w, std::string_view key, const LockRef& lock, const TraceState& state);
// "flock(LOCK_EX|LOCK_NB)", "fcntl(F_SETLK)", "futex(FUTEX_LOCK_PI_PRIVATE)".
void append_call(std::string& out, uint16_t sys, uint64_t op);
// "exit(1)", "killed by SIGKILL", "thread exit(0)".
void append_exit(std::string& out, int32_t exit_code, bool process);
void write_failed_call(JsonWriter& w, std::string_view key, const FailedCall& call, const TraceState& state);

// The edge's fields, inside an object the caller opened.
void write_edge_fields(JsonWriter& w, const WaitEdge& edge, const TraceState& state);

}  // namespace locktrace
