// The stack metadata records (types 8-11) in trace files: encoded as
// docs/trace-format.md says, read back equal through TraceWriter and
// TraceReader, and every bound checked when a body is damaged.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "process.hpp"
#include "record_codec.hpp"
#include "recording_test.hpp"
#include "stack_events.hpp"
#include "trace_bytes.hpp"
#include "trace_reader.hpp"
#include "trace_state.hpp"
#include "trace_writer.hpp"

namespace locktrace::recording {
namespace {

using namespace stack_test;

std::vector<Event> stack_events() {
  StackTrace acquire = stack_trace(1, pool_acquire_frames(), 2'000'000'000);
  StackTrace refill = stack_trace(2, pool_refill_frames(), 2'000'000'100);
  return {
      acquire,
      refill,
      CallStack{2'000'000'200, 800, 812, 1},
      address_name(800, 0x55d0c4a1c0c0, "g_pool_lock", 2'000'000'300),
      mapping(800, 0x55d0c4a00000, 0x55d0c4a80000, "/srv/app", "4f3a9c0de1", 0x1000, 2'000'000'400),
      stack_trace(3, {}, 2'000'000'500),  // empty: a stack nothing could be unwound from
  };
}

// The framed record of one event, decoded again: type, then body.
Event round_trip(const Event& event) {
  std::vector<std::byte> out;
  tracefile::encode_event(event, out);
  uint16_t type;
  uint32_t length;
  std::memcpy(&type, out.data(), sizeof type);
  std::memcpy(&length, out.data() + 4, sizeof length);
  EXPECT_EQ(length, out.size() - 8);
  Event back;
  uint64_t lost = 0;
  auto status = tracefile::decode_record_body(static_cast<tracefile::RecordType>(type),
                                              std::span<const std::byte>(out).subspan(8), back, lost);
  EXPECT_EQ(status, tracefile::RecordStatus::ok);
  return back;
}

void expect_equal(const StackFrame& a, const StackFrame& b) {
  EXPECT_EQ(a.address, b.address);
  EXPECT_EQ(a.kernel, b.kernel);
  EXPECT_EQ(a.function, b.function);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.module, b.module);
  EXPECT_EQ(a.file, b.file);
  EXPECT_EQ(a.line, b.line);
}

void expect_equal(const Event& written, const Event& read) {
  ASSERT_EQ(written.index(), read.index());
  if (const auto* s = std::get_if<StackTrace>(&written)) {
    const auto& r = std::get<StackTrace>(read);
    EXPECT_EQ(r.ts_ns, s->ts_ns);
    EXPECT_EQ(r.stack_id, s->stack_id);
    ASSERT_EQ(r.frames.size(), s->frames.size());
    for (size_t i = 0; i < s->frames.size(); i++) expect_equal(s->frames[i], r.frames[i]);
  } else if (const auto* c = std::get_if<CallStack>(&written)) {
    const auto& r = std::get<CallStack>(read);
    EXPECT_EQ(r.ts_ns, c->ts_ns);
    EXPECT_EQ(r.pid, c->pid);
    EXPECT_EQ(r.tid, c->tid);
    EXPECT_EQ(r.stack_id, c->stack_id);
  } else if (const auto* n = std::get_if<AddressName>(&written)) {
    const auto& r = std::get<AddressName>(read);
    EXPECT_EQ(r.ts_ns, n->ts_ns);
    EXPECT_EQ(r.pid, n->pid);
    EXPECT_EQ(r.address, n->address);
    EXPECT_EQ(r.name, n->name);
  } else if (const auto* m = std::get_if<Mapping>(&written)) {
    const auto& r = std::get<Mapping>(read);
    EXPECT_EQ(r.ts_ns, m->ts_ns);
    EXPECT_EQ(r.pid, m->pid);
    EXPECT_EQ(r.start, m->start);
    EXPECT_EQ(r.end, m->end);
    EXPECT_EQ(r.file_offset, m->file_offset);
    EXPECT_EQ(r.path, m->path);
    EXPECT_EQ(r.build_id, m->build_id);
  }
}

TEST(StackRecords, EncodeDecodeRoundTrip) {
  for (const Event& event : stack_events()) expect_equal(event, round_trip(event));
}

// docs/trace-format.md, types 8 to 11, byte by byte.
std::string spec_body(const Event& event) {
  std::string body;
  if (const auto* s = std::get_if<StackTrace>(&event)) {
    put(body, s->ts_ns);
    put(body, s->stack_id);
    put(body, static_cast<uint32_t>(s->frames.size()));
    for (const auto& f : s->frames) {
      put(body, f.address);
      put(body, f.offset);
      put(body, f.line);
      put(body, uint32_t{f.kernel ? 1u : 0u});
      put_string(body, f.function);
      put_string(body, f.module);
      put_string(body, f.file);
    }
  } else if (const auto* c = std::get_if<CallStack>(&event)) {
    put(body, c->ts_ns);
    put(body, c->pid);
    put(body, c->tid);
    put(body, c->stack_id);
  } else if (const auto* n = std::get_if<AddressName>(&event)) {
    put(body, n->ts_ns);
    put(body, n->pid);
    put(body, n->address);
    put_string(body, n->name);
  } else if (const auto* m = std::get_if<Mapping>(&event)) {
    put(body, m->ts_ns);
    put(body, m->pid);
    put(body, m->start);
    put(body, m->end);
    put(body, m->file_offset);
    put_string(body, m->path);
    put_string(body, m->build_id);
  }
  return body;
}

uint16_t spec_type(const Event& event) {
  if (std::holds_alternative<StackTrace>(event)) return 8;
  if (std::holds_alternative<CallStack>(event)) return 9;
  if (std::holds_alternative<AddressName>(event)) return 10;
  return 11;
}

std::string written_trace(const std::vector<Event>& events) {
  TempDir tmp;
  std::string path = tmp.file("stacks.lt");
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  EXPECT_GE(fd, 0);
  TraceWriter writer(fd, "locktrace record -o stacks.lt -- unit test");
  TraceState state;
  StreamInfo info;
  info.start_ts_ns = 1'000'000'000;
  writer.on_start(info);
  for (const Event& event : events) writer.on_event(event, state);
  EXPECT_TRUE(writer.finish({})) << writer.error();
  return read_file(path);
}

TEST(StackRecords, WrittenPerTheSpecificationAndReadBack) {
  std::vector<Event> events = stack_events();
  std::string file = written_trace(events);

  Layout layout = parse_layout(file);
  std::vector<Record> records;
  for (const auto& block : layout.blocks)
    for (auto& record : split_records(block.raw)) records.push_back(std::move(record));
  ASSERT_EQ(records.size(), events.size());
  for (size_t i = 0; i < events.size(); i++) {
    EXPECT_EQ(records[i].type, spec_type(events[i])) << "record " << i;
    EXPECT_EQ(records[i].body, spec_body(events[i])) << "record " << i;
  }
  ASSERT_EQ(layout.trailer.size(), 7u);
  EXPECT_EQ(layout.trailer[2], 0u) << "metadata, not kernel events";

  std::FILE* in = fmemopen(file.data(), file.size(), "rb");
  ASSERT_NE(in, nullptr);
  std::vector<Event> read;
  {
    TraceReader reader(in, [](const std::string& warning) { ADD_FAILURE() << warning; });
    Event event;
    while (reader.next(event)) read.push_back(event);
    EXPECT_EQ(reader.stats().corrupt_records, 0u);
    EXPECT_EQ(reader.stats().skipped_records, 0u);
  }
  std::fclose(in);
  ASSERT_EQ(read.size(), events.size());
  for (size_t i = 0; i < events.size(); i++) expect_equal(events[i], read[i]);
}

std::vector<std::byte> bytes_of(const std::string& body) {
  const auto* p = reinterpret_cast<const std::byte*>(body.data());
  return {p, p + body.size()};
}

tracefile::RecordStatus decode(uint16_t type, const std::string& body) {
  Event event;
  uint64_t lost = 0;
  auto bytes = bytes_of(body);
  return tracefile::decode_record_body(static_cast<tracefile::RecordType>(type), bytes, event, lost);
}

TEST(StackRecords, EveryShortBodyIsCorrupt) {
  for (const Event& event : stack_events()) {
    std::string body = spec_body(event);
    ASSERT_EQ(decode(spec_type(event), body), tracefile::RecordStatus::ok);
    for (size_t cut = 0; cut < body.size(); cut++)
      EXPECT_EQ(decode(spec_type(event), body.substr(0, cut)), tracefile::RecordStatus::corrupt)
          << "type " << spec_type(event) << " cut at " << cut;
    // A newer minor version may append fields: ignored.
    EXPECT_EQ(decode(spec_type(event), body + std::string(12, '\x7f')), tracefile::RecordStatus::ok);
  }
}

TEST(StackRecords, FrameCountAndStringLimits) {
  std::string too_many;
  put(too_many, uint64_t{1});
  put(too_many, uint32_t{9});
  put(too_many, uint32_t{257});
  too_many += std::string(257 * 36, '\0');  // room enough for 257 empty frames
  EXPECT_EQ(decode(8, too_many), tracefile::RecordStatus::corrupt);

  std::string huge_count;
  put(huge_count, uint64_t{1});
  put(huge_count, uint32_t{9});
  put(huge_count, uint32_t{0xffffffff});
  EXPECT_EQ(decode(8, huge_count), tracefile::RecordStatus::corrupt);

  std::string long_name;
  put(long_name, uint64_t{1});
  put(long_name, uint32_t{800});
  put(long_name, uint64_t{0x1000});
  put(long_name, uint32_t{16 * 1024 + 1});
  long_name += std::string(16 * 1024 + 1, 'x');
  EXPECT_EQ(decode(10, long_name), tracefile::RecordStatus::corrupt);
}

TEST(StackRecords, TheWriterCutsDeepStacksAndLongNames) {
  std::vector<StackFrame> deep(300, user_frame(std::string(5000, 'f'), "/srv/app"));
  deep[0].function = "innermost";
  StackTrace written = stack_trace(5, deep);
  auto read = std::get<StackTrace>(round_trip(written));
  ASSERT_EQ(read.frames.size(), 256u) << "the innermost 256";
  EXPECT_EQ(read.frames[0].function, "innermost");
  EXPECT_EQ(read.frames[1].function.size(), 4096u);
}

// A glibc mutex wait on the pool lock, as the live tracer records it: 2 s in
// db::Pool::acquire. Written with names and stacks only, no binary needed.
std::vector<Event> pool_wait_trace() {
  auto futex = [](uint64_t ts, uint8_t phase, int64_t ret) {
    LockCall call;
    std::memset(&call, 0, sizeof call);
    call.h.kind = LT_EV_LOCK_CALL;
    call.h.size = sizeof call;
    call.h.ts_ns = ts;
    call.h.pid = 800;
    call.h.tid = 812;
    call.sys = LT_SYS_FUTEX;
    call.phase = phase;
    call.ret = ret;
    call.enter_ts = 2'000'000'000;
    call.flags = LT_CALL_BLOCKED | LT_CALL_MAY_BLOCK;
    call.args[0] = 0x55d0c4a1c0c0;
    call.args[1] = 128;  // FUTEX_WAIT_PRIVATE
    call.args[2] = 2;
    return call;
  };
  LockCall wait = futex(2'000'000'000, LT_PHASE_WAIT, 0);
  return {
      ProcessInfo{1'500'000'000, 800, 1, 0, "app", "/srv/app", "/srv/app"},
      ThreadInfo{1'500'000'000, 800, 812, "worker"},
      address_name(800, 0x55d0c4a1c0c0, "g_pool_lock", 1'500'000'000),
      stack_trace(1, pool_acquire_frames(), 2'000'000'000),
      CallStack{2'000'000'000, 800, 812, 1},
      wait,
      futex(4'000'000'000, LT_PHASE_DONE, 0),
  };
}

class StackCommands : public RecordingTest {
 protected:
  std::string trace_file() {
    std::string path = tmp_.file("pool.lt");
    write_file(path, written_trace(pool_wait_trace()));
    return path;
  }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(StackCommands, ReplayPrintsTheRecordedNamesAndStacks) {
  std::string trace = trace_file();
  RunResult plain = locktrace({"replay", trace});
  ASSERT_EQ(plain.exit_code, 0) << plain.describe();
  EXPECT_TRUE(contains(plain.out, "futex(0x55d0c4a1c0c0<g_pool_lock>, FUTEX_WAIT_PRIVATE, 2, NULL) ... waiting\n"))
      << plain.out;
  EXPECT_FALSE(contains(plain.out, "[kernel]")) << plain.out;

  RunResult stacks = locktrace({"replay", "--stacks", trace});
  ASSERT_EQ(stacks.exit_code, 0) << stacks.describe();
  EXPECT_TRUE(contains(stacks.out, "... waiting\n        futex_wait_queue+0x5f [kernel]\n"
                                   "        futex_wait+0xe2 [kernel]\n"))
      << stacks.out;
  EXPECT_TRUE(contains(stacks.out, "\n        db::Pool::acquire+0x12 (/srv/app) /src/db/pool.cc:88\n")) << stacks.out;

  RunResult json = locktrace({"replay", "--json", trace});
  ASSERT_EQ(json.exit_code, 0) << json.describe();
  auto lines = json_lines(json.out);
  ASSERT_GE(lines.size(), 3u) << json.out;
  EXPECT_EQ(lines[0]["event"], "stack");
  EXPECT_EQ(lines[0]["id"], 1);
  EXPECT_EQ(lines[1]["stack_id"], 1);
  EXPECT_EQ(lines[1]["symbol"], "g_pool_lock");
  EXPECT_FALSE(lines[2].contains("stack_id")) << "the done record had no stack of its own";
}

TEST_F(StackCommands, ReportGroupsByStackAndFolds) {
  std::string trace = trace_file();
  RunResult report = locktrace({"report", trace});
  ASSERT_EQ(report.exit_code, 0) << report.describe();
  EXPECT_TRUE(contains(report.out, "  futex 0x55d0c4a1c0c0<g_pool_lock> in pid 800\n")) << report.out;
  EXPECT_TRUE(contains(report.out, "    waiting stacks:\n      1x 2.000 s (max 2.000 s) in db::Pool::acquire "
                                   "(pool.cc:88) <- worker_main (main.cc:40)\n"))
      << report.out;

  RunResult folded = locktrace({"report", "--folded", trace});
  ASSERT_EQ(folded.exit_code, 0) << folded.describe();
  EXPECT_EQ(folded.out,
            "worker;clone3;start_thread;worker_main;db::Pool::acquire;___pthread_mutex_lock;__lll_lock_wait;"
            "do_syscall_64_[k];futex_wait_[k];futex_wait_queue_[k] 2000000\n");

  RunResult both = locktrace({"report", "--folded", "--json", trace});
  EXPECT_EQ(both.exit_code, 2) << both.describe();
}

}  // namespace
}  // namespace locktrace::recording
