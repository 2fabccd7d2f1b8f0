#include "record_codec.hpp"

#include <algorithm>
#include <cstring>

#include "byte_io.hpp"
#include "decoder.hpp"

namespace locktrace::tracefile {

namespace {

void frame(RecordType type, std::vector<std::byte>& out, size_t& length_at) {
  // u16 type, u16 reserved, u32 length (patched once the body is written): in
  // one append, as recording frames several hundred thousand records a second.
  std::byte header[kRecordFrameBytes] = {};
  auto type_value = static_cast<uint16_t>(type);
  std::memcpy(header, &type_value, sizeof type_value);
  length_at = out.size() + 4;
  out.insert(out.end(), header, header + sizeof header);
}

void patch_length(std::vector<std::byte>& out, size_t length_at) {
  auto length = static_cast<uint32_t>(out.size() - length_at - sizeof(uint32_t));
  std::memcpy(out.data() + length_at, &length, sizeof length);
}

constexpr uint32_t kFrameKernel = 1;

// The innermost kMaxStackFrames frames, each string cut at kMaxFrameStringBytes.
void encode_stack(const StackTrace& stack, ByteWriter& w) {
  auto count = static_cast<uint32_t>(std::min<size_t>(stack.frames.size(), kMaxStackFrames));
  w.put(stack.ts_ns);
  w.put(stack.stack_id);
  w.put(count);
  for (uint32_t i = 0; i < count; i++) {
    const StackFrame& f = stack.frames[i];
    w.put(f.address);
    w.put(f.offset);
    w.put(f.line);
    w.put(f.kernel ? kFrameKernel : uint32_t{0});
    w.string(f.function, kMaxFrameStringBytes);
    w.string(f.module, kMaxFrameStringBytes);
    w.string(f.file, kMaxFrameStringBytes);
  }
}

bool decode_stack(ByteReader& r, StackTrace& stack) {
  uint32_t count = 0;
  if (!r.get(stack.ts_ns) || !r.get(stack.stack_id) || !r.get(count) || count > kMaxStackFrames)
    return false;
  stack.frames.resize(count);
  for (StackFrame& f : stack.frames) {
    uint32_t flags = 0;
    if (!(r.get(f.address) && r.get(f.offset) && r.get(f.line) && r.get(flags) &&
          r.string(f.function, kMaxStringBytes) && r.string(f.module, kMaxStringBytes) &&
          r.string(f.file, kMaxStringBytes)))
      return false;
    f.kernel = flags & kFrameKernel;
  }
  return true;
}

}  // namespace

void encode_event(const Event& event, std::vector<std::byte>& out) {
  size_t length_at;
  ByteWriter w(out);
  if (const auto* p = std::get_if<ProcessInfo>(&event)) {
    frame(RecordType::process_info, out, length_at);
    w.put(p->ts_ns);
    w.put(p->pid);
    w.put(p->ppid);
    w.put(p->start_time_ticks);
    w.string(p->comm, kMaxStringBytes);
    w.string(p->cmdline, kMaxStringBytes);
    w.string(p->exe, kMaxStringBytes);
  } else if (const auto* t = std::get_if<ThreadInfo>(&event)) {
    frame(RecordType::thread_info, out, length_at);
    w.put(t->ts_ns);
    w.put(t->pid);
    w.put(t->tid);
    w.string(t->comm, kMaxStringBytes);
  } else if (const auto* f = std::get_if<FdPath>(&event)) {
    frame(RecordType::fd_path, out, length_at);
    w.put(f->ts_ns);
    w.put(f->pid);
    w.put(f->fd);
    w.put(f->dev);
    w.put(f->fs_magic);
    w.put(f->ino);
    w.string(f->path, kMaxStringBytes);
  } else if (const auto* held = std::get_if<HeldLock>(&event)) {
    frame(RecordType::held_lock, out, length_at);
    w.put(held->ts_ns);
    w.put(held->pid);
    w.put(held->fl_flags);
    w.put(held->dev);
    w.put(uint32_t{held->type});
    w.put(held->ino);
    w.put(held->start);
    w.put(held->end);
  } else if (const auto* tick = std::get_if<Tick>(&event)) {
    frame(RecordType::tick, out, length_at);
    w.put(tick->ts_ns);
  } else if (const auto* stack = std::get_if<StackTrace>(&event)) {
    frame(RecordType::stack, out, length_at);
    encode_stack(*stack, w);
  } else if (const auto* call = std::get_if<CallStack>(&event)) {
    frame(RecordType::call_stack, out, length_at);
    w.put(call->ts_ns);
    w.put(call->pid);
    w.put(call->tid);
    w.put(call->stack_id);
  } else if (const auto* name = std::get_if<AddressName>(&event)) {
    frame(RecordType::address_name, out, length_at);
    w.put(name->ts_ns);
    w.put(name->pid);
    w.put(name->address);
    w.string(name->name, kMaxStringBytes);
  } else if (const auto* mapping = std::get_if<Mapping>(&event)) {
    frame(RecordType::mapping, out, length_at);
    w.put(mapping->ts_ns);
    w.put(mapping->pid);
    w.put(mapping->start);
    w.put(mapping->end);
    w.put(mapping->file_offset);
    w.string(mapping->path, kMaxStringBytes);
    w.string(mapping->build_id, kMaxStringBytes);
  } else {
    frame(RecordType::kernel, out, length_at);
    // As long as the kernel made it: a futex lock call stops before the file fields.
    std::visit(
        [&](const auto& e) {
          if constexpr (requires { e.h; })
            w.bytes(&e, e.h.size >= sizeof(lt_header) ? std::min<size_t>(e.h.size, sizeof e) : sizeof e);
        },
        event);
  }
  patch_length(out, length_at);
}

void encode_lost(uint64_t ts_ns, uint64_t count, std::vector<std::byte>& out) {
  size_t length_at;
  frame(RecordType::lost, out, length_at);
  ByteWriter w(out);
  w.put(ts_ns);
  w.put(count);
  patch_length(out, length_at);
}

RecordStatus decode_record_body(RecordType type, std::span<const std::byte> body, Event& out,
                                uint64_t& lost) {
  ByteReader r(body);
  switch (type) {
    case RecordType::kernel: {
      DecodeStatus status = decode_record(body, out);
      if (status == DecodeStatus::unknown_kind) return RecordStatus::skipped;
      return status == DecodeStatus::ok ? RecordStatus::ok : RecordStatus::corrupt;
    }
    case RecordType::process_info: {
      ProcessInfo p;
      r.get(p.ts_ns) && r.get(p.pid) && r.get(p.ppid) && r.get(p.start_time_ticks) &&
          r.string(p.comm, kMaxStringBytes) && r.string(p.cmdline, kMaxStringBytes) &&
          r.string(p.exe, kMaxStringBytes);
      if (!r.ok()) return RecordStatus::corrupt;
      out = std::move(p);
      return RecordStatus::ok;
    }
    case RecordType::thread_info: {
      ThreadInfo t;
      r.get(t.ts_ns) && r.get(t.pid) && r.get(t.tid) && r.string(t.comm, kMaxStringBytes);
      if (!r.ok()) return RecordStatus::corrupt;
      out = std::move(t);
      return RecordStatus::ok;
    }
    case RecordType::fd_path: {
      FdPath f;
      r.get(f.ts_ns) && r.get(f.pid) && r.get(f.fd) && r.get(f.dev) && r.get(f.fs_magic) &&
          r.get(f.ino) && r.string(f.path, kMaxStringBytes);
      if (!r.ok()) return RecordStatus::corrupt;
      out = std::move(f);
      return RecordStatus::ok;
    }
    case RecordType::held_lock: {
      HeldLock held;
      uint32_t type = 0;
      r.get(held.ts_ns) && r.get(held.pid) && r.get(held.fl_flags) && r.get(held.dev) &&
          r.get(type) && r.get(held.ino) && r.get(held.start) && r.get(held.end);
      if (!r.ok()) return RecordStatus::corrupt;
      held.type = static_cast<uint8_t>(type);
      out = held;
      return RecordStatus::ok;
    }
    case RecordType::tick: {
      Tick tick;
      if (!r.get(tick.ts_ns)) return RecordStatus::corrupt;
      out = tick;
      return RecordStatus::ok;
    }
    case RecordType::stack: {
      StackTrace stack;
      if (!decode_stack(r, stack)) return RecordStatus::corrupt;
      out = std::move(stack);
      return RecordStatus::ok;
    }
    case RecordType::call_stack: {
      CallStack call;
      r.get(call.ts_ns) && r.get(call.pid) && r.get(call.tid) && r.get(call.stack_id);
      if (!r.ok()) return RecordStatus::corrupt;
      out = call;
      return RecordStatus::ok;
    }
    case RecordType::address_name: {
      AddressName name;
      r.get(name.ts_ns) && r.get(name.pid) && r.get(name.address) && r.string(name.name, kMaxStringBytes);
      if (!r.ok()) return RecordStatus::corrupt;
      out = std::move(name);
      return RecordStatus::ok;
    }
    case RecordType::mapping: {
      Mapping m;
      r.get(m.ts_ns) && r.get(m.pid) && r.get(m.start) && r.get(m.end) && r.get(m.file_offset) &&
          r.string(m.path, kMaxStringBytes) && r.string(m.build_id, kMaxStringBytes);
      if (!r.ok()) return RecordStatus::corrupt;
      out = std::move(m);
      return RecordStatus::ok;
    }
    case RecordType::lost: {
      uint64_t ts;
      if (!r.get(ts) || !r.get(lost)) return RecordStatus::corrupt;
      return RecordStatus::skipped;
    }
  }
  return RecordStatus::skipped;
}

}  // namespace locktrace::tracefile
