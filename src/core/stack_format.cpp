#include "stack_format.hpp"

#include <algorithm>
#include <array>

#include "names.hpp"
#include "text_sink.hpp"

namespace locktrace {

namespace {

std::string_view basename_of(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The C library and the dynamic loader, glibc and musl: where every lock call
// of a dynamically linked program passes on its way to the kernel.
bool is_runtime_module(std::string_view module) {
  static constexpr std::array<std::string_view, 8> kPrefixes = {
      "libc.so", "libc-", "libc.musl", "libpthread", "ld-linux", "ld-musl", "ld-2.", "ld.so"};
  std::string_view base = basename_of(module);
  return std::any_of(kPrefixes.begin(), kPrefixes.end(),
                     [base](std::string_view p) { return base.starts_with(p); });
}

// The same internals by name, for statically linked programs.
bool is_lock_internal(std::string_view function) {
  static constexpr std::array<std::string_view, 12> kPrefixes = {
      "__lll_",           "__futex",       "__GI_",          "__pthread_",
      "___pthread_",      "pthread_mutex_", "pthread_rwlock_", "pthread_cond_",
      "__syscall_cancel", "__internal_syscall", "__new_sem_",  "sem_"};
  static constexpr std::array<std::string_view, 14> kNames = {
      "futex_wait", "syscall",  "flock",   "__flock",  "fcntl",   "fcntl64",  "__fcntl64",
      "__libc_fcntl64", "lockf", "lockf64", "mtx_lock", "mtx_timedlock", "__timedwait", "__wait"};
  return std::any_of(kPrefixes.begin(), kPrefixes.end(),
                     [function](std::string_view p) { return function.starts_with(p); }) ||
         std::find(kNames.begin(), kNames.end(), function) != kNames.end();
}

bool is_internal(const StackFrame& frame) {
  return is_runtime_module(frame.module) || is_lock_internal(frame.function);
}

// "pool.cc:88", "pool.cc" or "" from the frame's source position.
void append_source(std::string& out, const StackFrame& frame, bool base_only) {
  append_printable(out, base_only ? basename_of(frame.file) : std::string_view(frame.file));
  if (frame.line) {
    out += ':';
    out += std::to_string(frame.line);
  }
}

// A frame's name in a folded stack: no ';' (the separator) and no line breaks.
void append_folded_name(std::string& out, const StackFrame& frame) {
  std::string_view name = frame.function;
  std::string fallback;
  if (name.empty()) {
    fallback = frame.module.empty() ? "[unknown]" : "[" + std::string(basename_of(frame.module)) + "]";
    name = fallback;
  }
  for (char c : name) out += (c == ';' || c == '\n' || c == '\r') ? ':' : c;
  if (frame.kernel) out += "_[k]";
}

}  // namespace

void append_frame(std::string& out, const StackFrame& frame) {
  if (frame.function.empty()) {
    append_hex(out, frame.address);
  } else {
    append_printable(out, frame.function);
    out += '+';
    append_hex(out, frame.offset);
  }
  if (frame.kernel) {
    std::string_view module = frame.module;
    if (module.starts_with('[') && module.ends_with(']')) module = module.substr(1, module.size() - 2);
    out += " [";
    append_printable(out, module.empty() ? "kernel" : module);
    out += ']';
  } else if (!frame.module.empty()) {
    out += " (";
    append_printable(out, frame.module);
    out += ')';
  }
  if (!frame.file.empty()) {
    out += ' ';
    append_source(out, frame, false);
  }
}

std::vector<const StackFrame*> top_frames(const std::vector<StackFrame>& frames, size_t max) {
  std::vector<const StackFrame*> top;
  auto user = std::find_if(frames.begin(), frames.end(), [](const StackFrame& f) { return !f.kernel; });
  auto caller = std::find_if(user, frames.end(), [](const StackFrame& f) { return !is_internal(f); });
  if (caller == frames.end()) {
    // Unwinding stopped inside the C library: its outermost frame is the nearest to the program.
    if (user != frames.end() && max > 0) top.push_back(&frames.back());
    return top;
  }
  // Up to the thread's or the program's entry in the C library (start_thread, __libc_start_main).
  for (auto it = caller; it != frames.end() && top.size() < max && !it->kernel && !is_internal(*it); ++it)
    top.push_back(&*it);
  return top;
}

std::string short_function_name(std::string_view full) {
  // Which file's anonymous namespace is no help here: the source line says.
  std::string unscoped(full);
  constexpr std::string_view kAnonymous = "(anonymous namespace)::";
  for (size_t at; (at = unscoped.find(kAnonymous)) != std::string::npos;) unscoped.erase(at, kAnonymous.size());
  std::string_view name = unscoped;
  std::string out;
  int angles = 0, parens = 0, braces = 0;
  for (size_t i = 0; i < name.size(); i++) {
    char c = name[i];
    // "operator<", "operator()" and the like are names, not brackets.
    if (angles == 0 && parens == 0 && name.substr(i).starts_with("operator")) {
      size_t end = i + 8;
      while (end < name.size() && std::string_view("<>=!()[]+-*/%^&|~,").find(name[end]) != std::string_view::npos &&
             !(name[end] == '(' && end + 1 < name.size() && name[end + 1] != ')'))
        end++;
      out.append(name.substr(i, end - i));
      i = end - 1;
      continue;
    }
    if (braces > 0 || (c == '{' && angles == 0 && parens == 0)) {
      braces += c == '{' ? 1 : c == '}' ? -1 : 0;
      out += c;
      continue;
    }
    if (c == '<' && parens == 0) {
      if (angles++ == 0) out += "<>";
    } else if (c == '>' && angles > 0 && parens == 0) {
      angles--;
    } else if (c == '(' && angles == 0) {
      if (parens++ == 0) out += "()";
    } else if (c == ')' && parens > 0 && angles == 0) {
      parens--;
    } else if (angles == 0 && parens == 0) {
      out += c;
    }
  }
  // A trailing " const" after the elided parameters says nothing to this reader.
  if (out.ends_with(" const")) out.resize(out.size() - 6);
  return out;
}

bool append_top_frames(std::string& out, std::string_view lead, const std::vector<StackFrame>& frames) {
  auto top = top_frames(frames);
  if (!top.empty()) out += lead;
  for (size_t i = 0; i < top.size(); i++) {
    const StackFrame& f = *top[i];
    if (i) out += " <- ";
    if (!f.function.empty()) {
      append_printable(out, short_function_name(f.function));
    } else {
      append_hex(out, f.address);
      if (!f.module.empty()) {
        out += " in ";
        append_printable(out, basename_of(f.module));
      }
    }
    if (!f.file.empty()) {
      out += " (";
      append_source(out, f, true);
      out += ')';
    }
  }
  return !top.empty();
}

void append_folded(std::string& out, std::string_view comm, const std::vector<StackFrame>& frames) {
  for (char c : comm) out += (c == ';' || c == '\n' || c == '\r') ? '_' : c;
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
    out += ';';
    append_folded_name(out, *it);
  }
}

void write_stack_fields(JsonWriter& w, uint32_t stack_id, const std::vector<StackFrame>& frames) {
  w.unsigned_number("id", stack_id);
  w.begin_array("frames");
  std::string hex;
  for (const StackFrame& f : frames) {
    w.begin_object();
    hex.clear();
    append_hex(hex, f.address);
    w.string("address", hex);
    if (f.function.empty()) {
      w.null("function");
      w.null("offset");
    } else {
      w.string("function", f.function);
      w.unsigned_number("offset", f.offset);
    }
    if (f.module.empty())
      w.null("module");
    else
      w.string("module", f.module);
    if (f.file.empty()) {
      w.null("file");
      w.null("line");
    } else {
      w.string("file", f.file);
      if (f.line)
        w.unsigned_number("line", f.line);
      else
        w.null("line");
    }
    if (f.kernel) w.boolean("kernel", true);
    w.end_object();
  }
  w.end_array();
}

}  // namespace locktrace
