// TraceWriter and TraceReader in process, on synthetic events: no BPF, no root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <thread>

#include "block_codec.hpp"
#include "process.hpp"
#include "record_codec.hpp"
#include "trace_bytes.hpp"
#include "trace_reader.hpp"
#include "trace_state.hpp"
#include "trace_writer.hpp"

namespace locktrace::recording {
namespace {

template <size_t N>
void set_chars(char (&dst)[N], std::string_view text) {
  std::memset(dst, 0, N);
  std::memcpy(dst, text.data(), std::min(text.size(), N));
}

template <typename Record>
Record kernel_record(uint16_t kind, uint64_t ts, uint32_t pid, uint32_t tid) {
  Record r;
  std::memset(&r, 0, sizeof r);
  r.h.kind = kind;
  r.h.size = sizeof r;
  r.h.cpu = tid % 4;
  r.h.ts_ns = ts;
  r.h.pid = pid;
  r.h.tid = tid;
  return r;
}

// One event of every type in turn, with values that differ from event to event.
Event synthetic_event(uint64_t i) {
  uint64_t ts = 1'000'000'000 + i * 1000;
  auto pid = static_cast<uint32_t>(1000 + i % 7);
  auto tid = static_cast<uint32_t>(pid + i % 3);
  switch (i % 14) {
    case 0: {
      auto call = kernel_record<LockCall>(LT_EV_LOCK_CALL, ts, pid, tid);
      call.sys = LT_SYS_FCNTL;
      call.phase = LT_PHASE_DONE;
      call.ret = i % 20 == 0 ? -11 : 0;
      call.enter_ts = ts - 500;
      call.args[0] = 3;
      call.args[1] = 6;  // F_SETLK
      call.flags = LT_CALL_HAS_KLOCK;
      call.klock.ino = 4242 + i;
      call.klock.dev = 8 << 20 | 1;
      call.klock.end = INT64_MAX;
      return call;
    }
    case 1: {
      auto lock = kernel_record<FileLock>(LT_EV_FILE_LOCK, ts, pid, tid);
      lock.klock.type = 2;
      lock.klock.ino = i;
      return lock;
    }
    case 2: {
      auto exit = kernel_record<TaskExit>(LT_EV_TASK_EXIT, ts, pid, tid);
      exit.exit_code = 9;
      exit.group_dead = 1;
      set_chars(exit.comm, "victim");
      return exit;
    }
    case 3: {
      auto call = kernel_record<ExitCall>(LT_EV_EXIT_CALL, ts, pid, tid);
      call.status = static_cast<int32_t>(i % 256);
      call.group = 1;
      return call;
    }
    case 4: {
      auto fork = kernel_record<Fork>(LT_EV_FORK, ts, pid, tid);
      fork.child_pid = static_cast<uint32_t>(2000 + i);
      fork.child_tid = fork.child_pid;
      set_chars(fork.comm, "child");
      return fork;
    }
    case 5: {
      auto exec = kernel_record<Exec>(LT_EV_EXEC, ts, pid, tid);
      exec.old_tid = tid;
      set_chars(exec.comm, "flock");
      set_chars(exec.filename, "/usr/bin/flock");
      return exec;
    }
    case 6: {
      auto rename = kernel_record<Rename>(LT_EV_RENAME, ts, pid, tid);
      set_chars(rename.comm, "worker-" + std::to_string(i % 100));
      return rename;
    }
    case 10: {
      auto signal = kernel_record<Signal>(LT_EV_SIGNAL, ts, pid, tid);
      signal.sig = 9;
      signal.target_pid = pid + 1;
      signal.target_tid = pid + 1;
      signal.phase = LT_SIGNAL_GENERATE;
      set_chars(signal.comm, "killer");
      return signal;
    }
    case 11: {
      auto reap = kernel_record<Reap>(LT_EV_REAP, ts, pid, tid);
      reap.child_pid = static_cast<uint32_t>(2000 + i);
      return reap;
    }
    case 12:
      return HeldLock{ts, pid, LT_FL_FLOCK, 1, 8 << 20 | 1, 4242 + i, 0, INT64_MAX};
    case 13:
      return Tick{ts};
    case 7:
      return ProcessInfo{ts, pid, 1, 12345 + i, "python3", "python3 -c 'lock " + std::to_string(i) + "'",
                         "/usr/bin/python3.11"};
    case 8:
      return ThreadInfo{ts, pid, tid, "thread-" + std::to_string(i)};
    default:
      return FdPath{ts, pid, static_cast<int32_t>(i % 64), 8 << 20 | 1, 4242 + i,
                    "/tmp/file-" + std::to_string(i) + ".lock", 0x01021994 /* tmpfs */};
  }
}

// Kernel records: the ABI structs, which all start with the common header.
bool is_kernel(const Event& event) {
  return std::visit([](const auto& e) { return requires { e.h; }; }, event);
}

// The framed bytes of an event: equal bytes, equal events, whatever the type.
std::vector<std::byte> encoded(const Event& event) {
  std::vector<std::byte> out;
  tracefile::encode_event(event, out);
  return out;
}

StreamInfo stream_info() {
  StreamInfo info;
  info.monotonic_to_realtime_ns = 1'700'000'000'000'000'000;
  info.utc_offset_s = 3600;
  info.start_ts_ns = 999'000'000;
  info.hostname = "testhost";
  info.kernel_release = "6.1.0-test";
  info.tool_version = "9.9.9";
  return info;
}

struct Written {
  std::string bytes;
  std::vector<Event> events;
};

// A trace file of `count` synthetic events, written by TraceWriter.
Written write_trace(size_t count, TraceWriterOptions options = {}) {
  TempDir tmp;
  std::string path = tmp.file("t.lt");
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  EXPECT_GE(fd, 0);
  Written written;
  TraceWriter writer(fd, "locktrace record -o t.lt -- unit test", options);
  TraceState state;
  writer.on_start(stream_info());
  for (size_t i = 0; i < count; i++) {
    written.events.push_back(synthetic_event(i));
    writer.on_event(written.events.back(), state);
  }
  tracefile::Trailer totals;
  totals.ring_buffer_drops = 3;
  totals.unpaired_calls = 2;
  EXPECT_TRUE(writer.finish(totals)) << writer.error();
  written.bytes = read_file(path);
  return written;
}

struct Read {
  std::vector<Event> events;
  std::vector<std::string> warnings;
  TraceReadStats stats;
  std::optional<tracefile::Trailer> trailer;
  tracefile::Header header;
};

// Reads `bytes` with TraceReader from memory. Throws TraceFormatError.
Read read_trace(const std::string& bytes) {
  std::FILE* in = fmemopen(const_cast<char*>(bytes.data()), bytes.size(), "rb");
  if (!in) throw std::runtime_error("fmemopen");
  Read read;
  try {
    TraceReader reader(in, [&read](const std::string& w) { read.warnings.push_back(w); });
    Event event;
    while (reader.next(event)) read.events.push_back(event);
    read.stats = reader.stats();
    read.trailer = reader.trailer();
    read.header = reader.header();
  } catch (...) {
    std::fclose(in);
    throw;
  }
  std::fclose(in);
  return read;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

// Tests run in both block encodings: 2 is what the writer writes by default, 1
// what files of version 1.0 hold, and they must stay readable.
class TraceFileEncoding : public testing::TestWithParam<uint16_t> {};
INSTANTIATE_TEST_SUITE_P(Both, TraceFileEncoding,
                         testing::Values(tracefile::kEncodingDeltaZlib, tracefile::kEncodingZlib));

TEST_P(TraceFileEncoding, WhatTheWriterWroteReadsBackEqual) {
  TraceWriterOptions options;
  options.encoding = GetParam();
  options.block_bytes = 16 * 1024;  // several blocks
  Written written = write_trace(3000, options);
  Read read = read_trace(written.bytes);

  EXPECT_EQ(read.header.major, 1);
  EXPECT_EQ(read.header.minor, 1);
  EXPECT_EQ(read.header.abi_version, uint32_t{LT_ABI_VERSION});
  EXPECT_EQ(read.header.hostname, "testhost");
  EXPECT_EQ(read.header.kernel_release, "6.1.0-test");
  EXPECT_EQ(read.header.tool_version, "9.9.9");
  EXPECT_EQ(read.header.options, "locktrace record -o t.lt -- unit test");
  EXPECT_EQ(read.header.monotonic_to_realtime_ns, 1'700'000'000'000'000'000);
  EXPECT_EQ(read.header.utc_offset_s, 3600);
  EXPECT_EQ(read.header.start_ts_ns, 999'000'000u);

  ASSERT_EQ(read.events.size(), written.events.size());
  for (size_t i = 0; i < written.events.size(); i++)
    ASSERT_EQ(encoded(read.events[i]), encoded(written.events[i])) << "event " << i;
  EXPECT_TRUE(read.warnings.empty()) << joined(read.warnings);
  EXPECT_FALSE(read.stats.truncated);
  EXPECT_EQ(read.stats.corrupt_blocks, 0u);
  EXPECT_GT(read.stats.blocks, 3u);

  ASSERT_TRUE(read.trailer.has_value());
  size_t kernel = std::count_if(written.events.begin(), written.events.end(), is_kernel);
  EXPECT_EQ(read.trailer->records, written.events.size());
  EXPECT_EQ(read.trailer->kernel_events, kernel);
  EXPECT_EQ(read.trailer->ring_buffer_drops, 3u);
  EXPECT_EQ(read.trailer->unpaired_calls, 2u);
  EXPECT_EQ(read.trailer->writer_drops, 0u);
  EXPECT_EQ(read.trailer->end_ts_ns, timestamp_of(written.events.back()));
}

// The trailer's block count, whatever the writer thread is doing when
// finish() runs (a block being written is neither queued nor yet counted).
TEST(TraceFile, TheTrailerCountsEveryBlock) {
  TraceWriterOptions options;
  options.block_bytes = 16 * 1024;
  for (int attempt = 0; attempt < 50; attempt++) {
    Written written = write_trace(3000, options);
    Layout layout = parse_layout(written.bytes);
    ASSERT_EQ(layout.trailer.size(), 7u);
    ASSERT_EQ(layout.trailer[6], layout.blocks.size()) << "attempt " << attempt;
  }
}

// docs/trace-format.md, checked by a parser written from it alone.
TEST_P(TraceFileEncoding, TheWriterFollowsTheSpecification) {
  TraceWriterOptions options;
  options.encoding = GetParam();
  options.block_bytes = 8 * 1024;
  Written written = write_trace(500, options);
  Layout layout = parse_layout(written.bytes);

  EXPECT_EQ(layout.major, 1);
  EXPECT_EQ(layout.minor, 1);
  EXPECT_EQ(layout.abi_version, uint32_t{LT_ABI_VERSION});
  EXPECT_EQ(layout.monotonic_to_realtime_ns, 1'700'000'000'000'000'000);
  EXPECT_EQ(layout.utc_offset_s, 3600);
  EXPECT_EQ(layout.start_ts_ns, 999'000'000u);
  EXPECT_EQ(layout.hostname, "testhost");
  EXPECT_EQ(layout.kernel_release, "6.1.0-test");
  EXPECT_EQ(layout.tool_version, "9.9.9");
  EXPECT_EQ(layout.options, "locktrace record -o t.lt -- unit test");

  ASSERT_TRUE(layout.trailer_offset.has_value());
  ASSERT_EQ(layout.trailer.size(), 7u);
  size_t kernel = std::count_if(written.events.begin(), written.events.end(), is_kernel);
  EXPECT_EQ(layout.trailer[0], timestamp_of(written.events.back()));  // end_ts_ns
  EXPECT_EQ(layout.trailer[1], written.events.size());                // records
  EXPECT_EQ(layout.trailer[2], kernel);                               // kernel_events
  EXPECT_EQ(layout.trailer[3], 3u);                                   // ring_buffer_drops
  EXPECT_EQ(layout.trailer[4], 2u);                                   // unpaired_calls
  EXPECT_EQ(layout.trailer[5], 0u);                                   // writer_drops
  EXPECT_GT(layout.blocks.size(), 3u);  // trailer[6], the block count: TheTrailerCountsEveryBlock

  // Every record, in order, has the type and the body layout the spec gives.
  size_t i = 0;
  for (const auto& block : layout.blocks) {
    EXPECT_EQ(block.encoding, GetParam());
    EXPECT_LE(block.raw_bytes, 4u * 1024 * 1024);
    if (block.encoding == tracefile::kEncodingDeltaZlib) {
      EXPECT_LT(block.inflated.size() * 2, block.raw.size()) << "encoding 2 should pack";
    }
    for (const auto& record : split_records(block.raw)) {
      ASSERT_LT(i, written.events.size());
      const Event& event = written.events[i++];
      if (const auto* p = std::get_if<ProcessInfo>(&event)) {
        ASSERT_EQ(record.type, 2);
        std::string body;
        put(body, p->ts_ns);
        put(body, p->pid);
        put(body, p->ppid);
        put(body, p->start_time_ticks);
        put_string(body, p->comm);
        put_string(body, p->cmdline);
        put_string(body, p->exe);
        EXPECT_EQ(record.body, body);
      } else if (const auto* t = std::get_if<ThreadInfo>(&event)) {
        ASSERT_EQ(record.type, 3);
        std::string body;
        put(body, t->ts_ns);
        put(body, t->pid);
        put(body, t->tid);
        put_string(body, t->comm);
        EXPECT_EQ(record.body, body);
      } else if (const auto* f = std::get_if<FdPath>(&event)) {
        ASSERT_EQ(record.type, 4);
        std::string body;
        put(body, f->ts_ns);
        put(body, f->pid);
        put(body, f->fd);
        put(body, f->dev);
        put(body, f->fs_magic);
        put(body, f->ino);
        put_string(body, f->path);
        EXPECT_EQ(record.body, body);
      } else if (const auto* held = std::get_if<HeldLock>(&event)) {
        ASSERT_EQ(record.type, 7);
        std::string body;
        put(body, held->ts_ns);
        put(body, held->pid);
        put(body, held->fl_flags);
        put(body, held->dev);
        put(body, uint32_t{held->type});
        put(body, held->ino);
        put(body, held->start);
        put(body, held->end);
        EXPECT_EQ(record.body, body);
      } else if (const auto* tick = std::get_if<Tick>(&event)) {
        ASSERT_EQ(record.type, 6);
        std::string body;
        put(body, tick->ts_ns);
        EXPECT_EQ(record.body, body);
      } else {
        ASSERT_EQ(record.type, 1);
        // The ABI struct's bytes, its size in the common header at offset 2.
        std::string body;
        std::visit([&](const auto& e) {
          if constexpr (requires { e.h; }) body.assign(reinterpret_cast<const char*>(&e), sizeof e);
        }, event);
        EXPECT_EQ(record.body, body);
        EXPECT_EQ(get<uint16_t>(record.body, 2), record.body.size());
      }
    }
  }
  EXPECT_EQ(i, written.events.size());
}

// The worked example of docs/trace-format.md, "Encoding 2", byte for byte.
TEST(TraceFile, Encoding2PacksTheSpecificationsExample) {
  std::string tick1, tick2;
  put(tick1, uint64_t{1000});
  put(tick2, uint64_t{1300});
  std::string raw = frame(6, tick1) + frame(6, tick2);
  const unsigned char expected[] = {0x20, 0, 0, 0, 0x08, 0, 0, 0, 0x00, 0x06, 0x08, 0x02,
                                    0x01, 0x06, 0x08, 0x02, 0xd0, 0x07, 0x58, 0x02};
  std::string example(reinterpret_cast<const char*>(expected), sizeof expected);

  tracefile::BlockPacker packer;
  std::vector<std::byte> packed;
  ASSERT_TRUE(packer.pack(std::as_bytes(std::span(raw)), packed));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(packed.data()), packed.size()), example);
  EXPECT_EQ(pack_records(raw), example);
  EXPECT_EQ(unpack_records(example), raw);
}

std::string as_string(const std::vector<std::byte>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Records of any type and length, kernel-looking or not, with references of
// other lengths: the writer's packer, the reader's unpacker and the
// specification's (trace_bytes.cpp) agree, and nothing is lost either way.
TEST(TraceFile, Encoding2RoundTripsAnyRecords) {
  std::mt19937_64 random(7);
  tracefile::BlockPacker packer;
  std::vector<std::byte> packed, unpacked;
  std::vector<uint32_t> scratch;
  for (int round = 0; round < 200; round++) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::string raw;
    size_t count = random() % 40;
    for (size_t i = 0; i < count; i++) {
      uint16_t type = std::array<uint16_t, 5>{1, 1, 1, 6, 99}[random() % 5];
      size_t length = random() % 5 == 0 ? random() % 24 : std::array<size_t, 4>{104, 208, 48, 61}[random() % 4];
      std::string body(length, '\0');
      for (auto& c : body) c = static_cast<char>(random() % 3 == 0 ? random() : 0);
      if (length >= 24) {  // a few threads and kinds, so references are found
        auto kind = static_cast<uint16_t>(1 + random() % 3);
        auto tid = static_cast<uint32_t>(100 + random() % 3);
        std::memcpy(body.data(), &kind, 2);
        std::memcpy(body.data() + 20, &tid, 4);
      }
      raw += frame(type, body);
    }
    ASSERT_TRUE(packer.pack(std::as_bytes(std::span(raw)), packed));
    ASSERT_TRUE(tracefile::unpack_block(packed, unpacked, scratch));
    EXPECT_EQ(as_string(unpacked), raw);
    EXPECT_EQ(unpack_records(as_string(packed)), raw);
    std::string simple = pack_records(raw);
    ASSERT_TRUE(tracefile::unpack_block(std::as_bytes(std::span(simple)), unpacked, scratch));
    EXPECT_EQ(as_string(unpacked), raw);
  }
}

// Payloads that pass the CRC and inflate but break the rules of encoding 2.
TEST(TraceFile, MalformedEncoding2PayloadsAreRefused) {
  auto call = kernel_record<LockCall>(LT_EV_LOCK_CALL, 5'000, 10, 11);
  call.args[0] = 0x7ffd12345678;
  std::string raw = frame(1, std::string(reinterpret_cast<const char*>(&call), sizeof call));
  std::string good = pack_records(raw);
  ASSERT_EQ(unpack_records(good), raw);
  // In `good`: the header at 0-7, then the control: reference (8), type (9),
  // body length (10-11), counts (12-).
  ASSERT_EQ(good.substr(8, 4), std::string("\x00\x01\xd0\x01", 4));
  auto control_length = get<uint32_t>(good, 4);
  size_t counts = 12;

  // One 5-byte record, built by hand: its only word pads with 3 bytes.
  auto short_record = [](uint8_t count, const std::string& data) {
    std::string p;
    put(p, uint32_t{8 + 5});
    put(p, uint32_t{4});
    return p + std::string("\x00\x63\x05", 3) + static_cast<char>(count) + data;
  };
  ASSERT_EQ(unpack_records(short_record(1, "\x0a")), frame(99, std::string("\x05\0\0\0\0", 5)));

  struct Case {
    std::string what;
    std::string payload;
  };
  std::vector<Case> cases;
  auto with = [&](std::string what, const std::function<void(std::string&)>& change) {
    std::string p = good;
    change(p);
    cases.push_back({std::move(what), std::move(p)});
  };
  with("a reference before the block", [](std::string& p) { p[8] = 1; });
  with("a count over 8", [&](std::string& p) { p[counts] = static_cast<char>((p[counts] & 0xf0) | 9); });
  with("data cut short", [](std::string& p) { p.pop_back(); });
  with("data left over", [](std::string& p) { p += '\x01'; });
  with("records_length too long", [](std::string& p) { p[0] = static_cast<char>(p[0] + 1); });
  with("records_length too short", [](std::string& p) { p[0] = static_cast<char>(p[0] - 1); });
  with("records_length over 4 MiB", [](std::string& p) { p[3] = 0x40; });
  with("control_length past the payload", [&](std::string& p) { p[4] = static_cast<char>(p.size()); });
  with("control cut inside the counts", [&](std::string& p) { p[4] = static_cast<char>(control_length - 1); });
  with("a type over 65535", [](std::string& p) {
    p.replace(9, 1, std::string("\x80\x80\x04", 3));
    p[4] = static_cast<char>(p[4] + 2);
  });
  with("a uleb128 of 6 bytes", [](std::string& p) {
    p.replace(8, 1, std::string("\x80\x80\x80\x80\x80\x00", 6));
    p[4] = static_cast<char>(p[4] + 5);
  });
  // Records whose data covers every word in full (the reader's fast path).
  auto full_record = [](uint8_t size, const std::string& counts) {
    std::string p;
    put(p, uint32_t{8u + size});
    put(p, static_cast<uint32_t>(3 + counts.size()));
    return p + std::string("\x00\x63", 2) + static_cast<char>(size) + counts + std::string(size, '\x11');
  };
  ASSERT_EQ(unpack_records(full_record(16, "\x88")).size(), 24u);
  cases.push_back({"a count over 8, data in full", full_record(16, "\x98")});
  cases.push_back({"an unused count not zero, data in full", full_record(8, "\x18")});
  cases.push_back({"a padding byte not zero", short_record(6, std::string("\0\0\0\0\0\x02", 6))});
  cases.push_back({"an unused count not zero", short_record(0x11, "\x0a")});

  std::vector<std::byte> unpacked;
  std::vector<uint32_t> scratch;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_FALSE(tracefile::unpack_block(std::as_bytes(std::span(c.payload)), unpacked, scratch));
    EXPECT_THROW(unpack_records(c.payload), std::runtime_error);
  }
}

// A file cut anywhere after its header: every complete block, then a warning
// saying where the file stopped. Cut inside the header: TraceFormatError.
TEST(TraceFile, ACutFileYieldsItsCompleteBlocks) {
  TraceWriterOptions options;
  options.block_bytes = 2 * 1024;
  Written written = write_trace(120, options);
  Layout layout = parse_layout(written.bytes);
  ASSERT_GE(layout.blocks.size(), 5u);

  for (size_t cut = 0; cut < layout.header_bytes; cut++) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    std::string bytes = written.bytes.substr(0, cut);
    try {
      read_trace(bytes);
      ADD_FAILURE() << "a header cut short was accepted";
    } catch (const TraceFormatError& e) {
      if (cut >= kFixedHeaderBytes) {
        EXPECT_NE(std::string(e.what()).find("ends inside its header"), std::string::npos) << e.what();
      }
    }
  }
  for (size_t cut = layout.header_bytes; cut < *layout.trailer_offset + 8; cut++) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    std::string bytes = written.bytes.substr(0, cut);
    size_t complete = 0, expected = 0;
    for (const auto& block : layout.blocks) {
      if (block.offset + block.size > cut) break;
      complete++;
      expected += block.records;
    }
    Read read = read_trace(bytes);
    ASSERT_EQ(read.events.size(), expected);
    for (size_t i = 0; i < expected; i++) ASSERT_EQ(encoded(read.events[i]), encoded(written.events[i]));
    EXPECT_TRUE(read.stats.truncated);
    EXPECT_FALSE(read.trailer.has_value());
    EXPECT_EQ(read.stats.blocks, complete);
    EXPECT_EQ(read.stats.corrupt_blocks, 0u);
    ASSERT_EQ(read.warnings.size(), 1u) << joined(read.warnings);
    bool at_boundary = cut == *layout.trailer_offset ||
                       std::any_of(layout.blocks.begin(), layout.blocks.end(),
                                   [cut](const Block& b) { return b.offset == cut; });
    const char* why = at_boundary ? "no trailer" : "cut short";
    EXPECT_NE(read.warnings[0].find(why), std::string::npos) << read.warnings[0];
  }
}

// What a newer minor version may add: header fields, record types, kernel
// kinds, longer kernel records. A reader of this version skips what it does
// not know and reads the rest.
TEST_P(TraceFileEncoding, ANewerMinorVersionIsReadSkippingWhatIsUnknown) {
  std::string body = header_body(5'000, "newer");
  put(body, uint64_t{0xfeedface});  // a field a newer minor appended
  std::string file = make_header(1, 7, body);

  auto call = kernel_record<LockCall>(LT_EV_LOCK_CALL, 6'000, 10, 11);
  call.sys = LT_SYS_FLOCK;
  call.phase = LT_PHASE_DONE;
  call.ret = -11;
  std::string call_bytes(reinterpret_cast<const char*>(&call), sizeof call);
  auto longer = call;
  longer.h.size = sizeof call + 16;  // fields appended by a newer ABI
  longer.h.ts_ns = 6'500;
  std::string longer_bytes(reinterpret_cast<const char*>(&longer), sizeof longer);
  longer_bytes.append(16, '\x5a');
  auto unknown_kind = kernel_record<Rename>(99, 7'000, 10, 11);
  std::string unknown_kind_bytes(reinterpret_cast<const char*>(&unknown_kind), sizeof unknown_kind);
  std::string process;
  put(process, uint64_t{7'500});
  put(process, uint32_t{10});
  put(process, uint32_t{1});
  put(process, uint64_t{77});
  put_string(process, "flock");
  put_string(process, "flock -n a.lock true");
  put_string(process, "/usr/bin/flock");
  std::string lost;
  put(lost, uint64_t{7'600});
  put(lost, uint64_t{7});
  auto exit = kernel_record<TaskExit>(LT_EV_TASK_EXIT, 8'000, 10, 10);
  std::string exit_bytes(reinterpret_cast<const char*>(&exit), sizeof exit);

  std::string raw = frame(1, call_bytes) + frame(99, "a record type from the future") +
                    frame(1, longer_bytes) + frame(1, unknown_kind_bytes) + frame(2, process) +
                    frame(5, lost) + frame(1, exit_bytes);
  file += make_block(raw, 7, GetParam());
  file += make_trailer({8'000, 7, 5, 0, 0, 7, 1});

  Read read = read_trace(file);
  EXPECT_EQ(read.header.minor, 7);
  EXPECT_EQ(read.header.hostname, "newer");
  ASSERT_EQ(read.events.size(), 4u);
  EXPECT_EQ(encoded(read.events[0]), encoded(Event{call}));
  ASSERT_TRUE(std::holds_alternative<LockCall>(read.events[1]));
  EXPECT_EQ(std::get<LockCall>(read.events[1]).h.ts_ns, 6'500u);  // its known prefix
  ASSERT_TRUE(std::holds_alternative<ProcessInfo>(read.events[2]));
  EXPECT_EQ(std::get<ProcessInfo>(read.events[2]).cmdline, "flock -n a.lock true");
  EXPECT_EQ(encoded(read.events[3]), encoded(Event{exit}));
  EXPECT_EQ(read.stats.skipped_records, 2u);  // the unknown type and the unknown kind
  EXPECT_EQ(read.stats.writer_lost, 7u);
  EXPECT_EQ(read.stats.corrupt_records, 0u);
  EXPECT_EQ(read.stats.corrupt_blocks, 0u);
  EXPECT_TRUE(read.trailer.has_value());
  EXPECT_TRUE(read.warnings.empty()) << joined(read.warnings);
}

TEST(TraceFile, AnUnknownMajorVersionIsRejected) {
  std::string file = make_header(2, 0, header_body(5'000, "future")) + make_trailer({0, 0, 0, 0, 0, 0, 0});
  try {
    read_trace(file);
    FAIL() << "a version 2 file was accepted";
  } catch (const TraceFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("not supported"), std::string::npos) << e.what();
  }
  std::string not_a_trace = "GIF89a" + std::string(100, '\0');
  EXPECT_THROW(read_trace(not_a_trace), TraceFormatError);
}

// Three hand-made blocks of one lock call each, for the damage tests.
struct ThreeBlocks {
  std::string header;
  std::vector<std::string> blocks;
  std::vector<Event> events;
  std::string trailer = make_trailer({3'000, 3, 3, 0, 0, 0, 3});
  std::string file() const { return header + blocks[0] + blocks[1] + blocks[2] + trailer; }
};

ThreeBlocks three_blocks(uint16_t encoding) {
  ThreeBlocks t;
  t.header = make_header(1, encoding == tracefile::kEncodingZlib ? 0 : 1, header_body(500, "damage"));
  for (uint64_t i = 0; i < 3; i++) {
    // Incompressible-ish bodies, so the payload is long enough to damage.
    auto call = kernel_record<LockCall>(LT_EV_LOCK_CALL, 1'000 * (i + 1), 10, 11);
    for (auto& arg : call.args) arg = 0x9e3779b97f4a7c15ull * (i + 1) * (&arg - call.args + 1);
    t.events.push_back(call);
    t.blocks.push_back(
        make_block(frame(1, std::string(reinterpret_cast<const char*>(&call), sizeof call)), 1, encoding));
  }
  return t;
}

TEST_P(TraceFileEncoding, ACorruptBlockIsReportedAndSkipped) {
  ThreeBlocks t = three_blocks(GetParam());
  t.blocks[1][kBlockHeaderBytes + 20] ^= 0x10;  // inside the compressed payload
  Read read = read_trace(t.file());
  ASSERT_EQ(read.events.size(), 2u);
  EXPECT_EQ(encoded(read.events[0]), encoded(t.events[0]));
  EXPECT_EQ(encoded(read.events[1]), encoded(t.events[2]));
  EXPECT_EQ(read.stats.corrupt_blocks, 1u);
  EXPECT_EQ(read.stats.blocks, 2u);
  EXPECT_TRUE(read.trailer.has_value());
  ASSERT_EQ(read.warnings.size(), 1u) << joined(read.warnings);
  std::string offset = std::to_string(t.header.size() + t.blocks[0].size());
  EXPECT_NE(read.warnings[0].find("corrupt block at offset " + offset), std::string::npos)
      << read.warnings[0];
}

// An encoding 2 block whose CRC and zlib stream are intact but whose packed
// records are not: corrupt, reported and skipped; the blocks around it stand.
TEST(TraceFile, AMalformedEncoding2BlockIsReportedAndSkipped) {
  ThreeBlocks t = three_blocks(tracefile::kEncodingDeltaZlib);
  const auto& call = std::get<LockCall>(t.events[1]);
  std::string packed = pack_records(frame(1, std::string(reinterpret_cast<const char*>(&call), sizeof call)));
  packed[8] = 1;  // the first record refers to one before the block
  t.blocks[1] = make_block_of_payload(packed, 1, tracefile::kEncodingDeltaZlib);
  Read read = read_trace(t.file());
  ASSERT_EQ(read.events.size(), 2u) << joined(read.warnings);
  EXPECT_EQ(encoded(read.events[0]), encoded(t.events[0]));
  EXPECT_EQ(encoded(read.events[1]), encoded(t.events[2]));
  EXPECT_EQ(read.stats.corrupt_blocks, 1u);
  EXPECT_TRUE(read.trailer.has_value());
  ASSERT_EQ(read.warnings.size(), 1u) << joined(read.warnings);
  std::string offset = std::to_string(t.header.size() + t.blocks[0].size());
  EXPECT_NE(read.warnings[0].find("corrupt block at offset " + offset + " (delta encoding): skipped"),
            std::string::npos)
      << read.warnings[0];
}

// Damaged lengths cannot be trusted: the reader looks for the next block magic.
TEST_P(TraceFileEncoding, TheReaderResyncsAfterDamagedLengthsAndGarbage) {
  struct Damage {
    std::string what;
    std::function<void(ThreeBlocks&)> apply;
  };
  std::vector<Damage> damages = {
      {"compressed length too long", [](ThreeBlocks& t) { t.blocks[1][16] = '\x7f'; }},
      {"compressed length short", [](ThreeBlocks& t) { t.blocks[1][16] = static_cast<char>(t.blocks[1][16] - 9); }},
      {"implausible raw length", [](ThreeBlocks& t) { t.blocks[1][15] = '\x7f'; }},
      {"unknown encoding", [](ThreeBlocks& t) { t.blocks[1][8] = 9; }},
      {"damaged magic", [](ThreeBlocks& t) { t.blocks[1][0] = 'X'; }},
      {"garbage between blocks", [](ThreeBlocks& t) { t.blocks[1] = std::string(333, '\xa5') + t.blocks[1]; }},
  };
  for (const auto& damage : damages) {
    SCOPED_TRACE(damage.what);
    ThreeBlocks t = three_blocks(GetParam());
    damage.apply(t);
    Read read = read_trace(t.file());
    ASSERT_GE(read.events.size(), 2u) << joined(read.warnings);
    EXPECT_EQ(encoded(read.events.front()), encoded(t.events[0]));
    EXPECT_EQ(encoded(read.events.back()), encoded(t.events[2]));
    EXPECT_GE(read.stats.corrupt_blocks, 1u);
    EXPECT_FALSE(read.warnings.empty());
    EXPECT_TRUE(read.trailer.has_value()) << joined(read.warnings);
  }
}

// A damaged length is not a truncation: a block whose compressed length runs
// past the end of the file, followed by intact blocks and a trailer, is one
// corrupt block; the reader must look for the next block in the bytes it took.
TEST_P(TraceFileEncoding, ALengthRunningPastTheEndIsCorruptionNotTruncation) {
  ThreeBlocks t = three_blocks(GetParam());
  t.blocks[1][18] = 1;  // compressed_bytes + 64 KiB: one flipped bit, still under the limit
  Read read = read_trace(t.file());
  ASSERT_EQ(read.events.size(), 2u) << joined(read.warnings);
  EXPECT_EQ(encoded(read.events[1]), encoded(t.events[2]));
  EXPECT_EQ(read.stats.corrupt_blocks, 1u);
  EXPECT_FALSE(read.stats.truncated);
  EXPECT_TRUE(read.trailer.has_value()) << joined(read.warnings);
}

// Fewer than 8 stray bytes before a block (what a traced command printed into
// `record -o -`): the block right after them is intact and must be found.
TEST_P(TraceFileEncoding, ABlockRightAfterAFewStrayBytesIsFound) {
  for (size_t stray = 1; stray < 8; stray++) {
    SCOPED_TRACE(std::to_string(stray) + " stray bytes");
    ThreeBlocks t = three_blocks(GetParam());
    t.blocks[1] = std::string(stray, 'h') + t.blocks[1];
    Read read = read_trace(t.file());
    ASSERT_EQ(read.events.size(), 3u) << joined(read.warnings);
    EXPECT_EQ(encoded(read.events[1]), encoded(t.events[1]));
  }
}

// The disk (here a pipe nobody reads) falls behind: blocks that do not fit in
// the queue are dropped and counted, and the count is stored in the file.
TEST(TraceFile, QueueOverflowIsCountedAndRecorded) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  fcntl(fds[1], F_SETPIPE_SZ, 4096);
  TraceWriterOptions options;
  options.queue_blocks = 1;
  options.block_bytes = 1;  // every event closes a block
  TraceWriter writer(fds[1], "overflow", options);
  TraceState state;
  writer.on_start(stream_info());
  uint64_t pushed = 0;
  for (; pushed < 2000; pushed++) writer.on_event(synthetic_event(pushed), state);
  EXPECT_GT(writer.writer_drops(), 0u);

  std::string bytes;
  std::thread drain([&] {
    char buf[65536];
    for (;;) {
      ssize_t n = read(fds[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      bytes.append(buf, static_cast<size_t>(n));
    }
  });
  // Once the queue has room again, the next block carries the lost record.
  bool queued = wait_until([&] {
    uint64_t before = writer.writer_drops();
    writer.on_event(synthetic_event(pushed++), state);
    return writer.writer_drops() == before;
  }, 30s);
  EXPECT_TRUE(queued);
  uint64_t drops = writer.writer_drops();
  EXPECT_TRUE(writer.finish({})) << writer.error();
  drain.join();
  close(fds[0]);

  Read read = read_trace(bytes);
  EXPECT_EQ(read.stats.writer_lost, drops);
  EXPECT_EQ(read.events.size() + read.stats.writer_lost, pushed);
  ASSERT_TRUE(read.trailer.has_value());
  EXPECT_EQ(read.trailer->writer_drops, drops);
  EXPECT_EQ(read.trailer->records, pushed);
  // Each lost record counts the drops since the previous one.
  Layout layout = parse_layout(bytes);
  size_t lost_records = 0;
  uint64_t lost_total = 0;
  for (const auto& block : layout.blocks)
    for (const auto& record : split_records(block.raw))
      if (record.type == 5) {
        lost_records++;
        ASSERT_EQ(record.body.size(), 16u);
        lost_total += get<uint64_t>(record.body, 8);
      }
  EXPECT_GE(lost_records, 1u);
  EXPECT_EQ(lost_total, drops);
}

TEST(TraceFile, AFailedWriteIsReported) {
  int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  TraceWriter writer(fd, "full", {});
  TraceState state;
  writer.on_start(stream_info());
  writer.on_event(synthetic_event(0), state);
  EXPECT_TRUE(writer.failed());
  EXPECT_FALSE(writer.finish({}));
  EXPECT_NE(writer.error().find("No space left on device"), std::string::npos) << writer.error();
}

}  // namespace
}  // namespace locktrace::recording
