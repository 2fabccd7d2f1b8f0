// Call stacks for a reader: a frame as perf and bpftrace print it, the few
// frames that say where a program waits (past the kernel and the C library's
// lock internals), a stack folded for flame-graph tools, and a stack in JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events.hpp"
#include "json_writer.hpp"

namespace locktrace {

// "db::Pool::acquire+0x12 (/srv/app) pool.cc:88", "futex_wait_queue+0x5f [kernel]".
void append_frame(std::string& out, const StackFrame& frame);

// The frames that say where the program was: the first user frames after the
// kernel's and after the lock internals of libc, libpthread and ld.so
// (pthread_mutex_lock, __lll_lock_wait, the futex, flock and fcntl wrappers), at
// most `max`. When every user frame is such an internal, the outermost of them.
std::vector<const StackFrame*> top_frames(const std::vector<StackFrame>& frames, size_t max = 3);

// A C++ name short enough to read in a sentence: template arguments and
// parameter lists elided ("std::function<void (int)>::operator()(int) const" is
// "std::function<>::operator()()", "spawn(char const*, int&)" is "spawn()");
// "(anonymous namespace)::" dropped; lambdas ("{lambda(int)#2}") and plain C
// names are left as they are.
std::string short_function_name(std::string_view name);

// `lead` then "db::Pool::acquire (pool.cc:88) <- worker_main": the top frames,
// innermost first, their names shortened. False, and nothing appended, when the
// stack has no user frame.
bool append_top_frames(std::string& out, std::string_view lead, const std::vector<StackFrame>& frames);

// "worker;main;db::Pool::acquire;futex_wait_queue_[k]": the task's name, then the
// frames outermost first, kernel frames (last) marked "_[k]" as offcputime -f does.
void append_folded(std::string& out, std::string_view comm, const std::vector<StackFrame>& frames);

// {"id": N, "frames": [{"address", "function", "offset", "module", "file", "line", "kernel"}]}
// fields, inside an object the caller opened.
void write_stack_fields(JsonWriter& w, uint32_t stack_id, const std::vector<StackFrame>& frames);

}  // namespace locktrace
