// Real recordings, damaged: cut short, written by a recorder killed with
// SIGKILL, bit-flipped. Replay keeps every complete, intact block and says on
// stderr where and why it stopped or skipped; a damaged header is an error.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "events.hpp"
#include "recording_test.hpp"

namespace locktrace::recording {
namespace {

// A recording of many blocks (the writer closes one per 256 KiB of records)
// and its full --json replay, once per test process.
class DamagedRecording : public BpfRecordingTest {
 protected:
  void SetUp() override {
    BpfRecordingTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    trace_ = tmp_.file("t.lt");
    RunResult recorded = record(trace_, lock_loop_command(20000));
    ASSERT_EQ(recorded.exit_code, 0) << recorded.describe();
    bytes_ = read_file(trace_);
    layout_ = parse_layout(bytes_);
    ASSERT_GE(layout_.blocks.size(), 4u) << "the workload should fill several blocks";
    ASSERT_TRUE(layout_.trailer_offset.has_value());
    RunResult full = locktrace({"replay", "--json", trace_});
    ASSERT_EQ(full.exit_code, 0) << full.describe();
    full_ = event_lines(full.out);
  }

  // Replays `bytes` written to a file of their own.
  RunResult replay(const std::string& bytes, const std::string& name = "damaged.lt") {
    damaged_ = tmp_.file(name);
    write_file(damaged_, bytes);
    return locktrace({"replay", "--json", damaged_});
  }

  // Event lines printed for the kernel records of blocks [from, to).
  size_t lines_of_blocks(size_t from, size_t to) const {
    size_t n = 0;
    for (size_t i = from; i < to; i++) n += kernel_records(layout_.blocks[i]);
    return n;
  }
  std::vector<std::string> full_prefix(size_t n) const {
    return {full_.begin(), full_.begin() + static_cast<long>(n)};
  }

  std::string trace_, bytes_, damaged_;
  Layout layout_;
  std::vector<std::string> full_;
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(DamagedRecording, FullReplayPrintsOneLinePerKernelRecord) {
  EXPECT_EQ(full_.size(), lines_of_blocks(0, layout_.blocks.size()));
  EXPECT_EQ(full_.size(), layout_.trailer[2]);  // the trailer's kernel_events
}

TEST_F(DamagedRecording, CutInsideTheHeaderIsAnError) {
  for (size_t cut : {kFixedHeaderBytes, kFixedHeaderBytes + 5, layout_.header_bytes - 1}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    RunResult r = replay(bytes_.substr(0, cut));
    EXPECT_EQ(r.exit_code, 1) << r.describe();
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(contains(r.err, damaged_ + ": the file ends inside its header")) << r.describe();
  }
}

// Cut inside the fixed part (magic, version, length), the magic intact: a
// recording cut short, not something else.
TEST_F(DamagedRecording, CutRightAfterTheMagicIsACutNotABadMagic) {
  RunResult r = replay(bytes_.substr(0, 12));
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, damaged_ + ": the file ends inside its header")) << r.describe();
}

TEST_F(DamagedRecording, CutInsideABlockKeepsTheCompleteBlocks) {
  size_t k = layout_.blocks.size() / 2;
  const Block& cut_block = layout_.blocks[k];
  RunResult r = replay(bytes_.substr(0, cut_block.offset + cut_block.size / 2));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(same_lines(event_lines(r.out), full_prefix(lines_of_blocks(0, k))));
  EXPECT_TRUE(contains(r.err, "cut short inside the block at offset " + std::to_string(cut_block.offset)))
      << r.err;
  EXPECT_TRUE(contains(r.err, std::to_string(k) + " complete blocks were read")) << r.err;
}

TEST_F(DamagedRecording, CutInsideABlockHeaderKeepsTheCompleteBlocks) {
  size_t k = 2;
  RunResult r = replay(bytes_.substr(0, layout_.blocks[k].offset + 13));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(same_lines(event_lines(r.out), full_prefix(lines_of_blocks(0, k))));
  EXPECT_TRUE(contains(r.err, "cut short inside a block header at offset " +
                                  std::to_string(layout_.blocks[k].offset)))
      << r.err;
}

TEST_F(DamagedRecording, CutAtABlockBoundaryKeepsTheCompleteBlocks) {
  size_t k = layout_.blocks.size() / 2;
  size_t cut = layout_.blocks[k].offset;
  RunResult r = replay(bytes_.substr(0, cut));
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(same_lines(event_lines(r.out), full_prefix(lines_of_blocks(0, k))));
  EXPECT_TRUE(contains(r.err, "has no trailer: it ends at offset " + std::to_string(cut) + " after " +
                                  std::to_string(k) + " complete blocks"))
      << r.err;
}

TEST_F(DamagedRecording, CutJustBeforeTheTrailerKeepsEverything) {
  std::string cut = bytes_.substr(0, *layout_.trailer_offset);
  RunResult r = replay(cut);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(same_lines(event_lines(r.out), full_));
  EXPECT_TRUE(contains(r.err, "has no trailer")) << r.err;
  EXPECT_TRUE(contains(r.err, std::to_string(layout_.blocks.size()) + " complete blocks")) << r.err;

  RunResult info = locktrace({"info", damaged_});
  ASSERT_EQ(info.exit_code, 0) << info.describe();
  EXPECT_TRUE(contains(info.out, "incomplete (no trailer)")) << info.out;
  RunResult json = locktrace({"info", "--json", damaged_});
  ASSERT_EQ(json.exit_code, 0) << json.describe();
  Json summary = Json::parse(json.out);
  EXPECT_EQ(summary["complete"], false);
  EXPECT_EQ(summary["events"].get<size_t>(), full_.size());
}

TEST_F(DamagedRecording, ACorruptBlockIsSkippedAndLaterBlocksReplayed) {
  size_t k = layout_.blocks.size() / 2;
  const Block& block = layout_.blocks[k];
  std::string flipped = bytes_;
  flipped[block.offset + kBlockHeaderBytes + block.compressed_bytes / 2] ^= 0x01;
  RunResult r = replay(flipped);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.err, "corrupt block at offset " + std::to_string(block.offset) +
                                  " (CRC or compression): skipped"))
      << r.err;
  std::vector<std::string> expected = full_;
  size_t from = lines_of_blocks(0, k);
  expected.erase(expected.begin() + static_cast<long>(from),
                 expected.begin() + static_cast<long>(from + kernel_records(block)));
  EXPECT_TRUE(same_lines(event_lines(r.out), expected)) << "not the full replay without block " << k;

  RunResult json = locktrace({"info", "--json", damaged_});
  ASSERT_EQ(json.exit_code, 0) << json.describe();
  Json summary = Json::parse(json.out);
  EXPECT_EQ(summary["corrupt_blocks"], 1);
  EXPECT_EQ(summary["blocks"].get<size_t>(), layout_.blocks.size() - 1);
  EXPECT_EQ(summary["complete"], true);
}

// The recorder packs its blocks (encoding 2). A block whose packed records are
// damaged behind an intact CRC and zlib stream is skipped like any corrupt
// block, and the blocks after it replay.
TEST_F(DamagedRecording, ADamagedPackedBlockIsSkippedAndLaterBlocksReplayed) {
  for (const auto& block : layout_.blocks) ASSERT_EQ(block.encoding, 2) << "at offset " << block.offset;
  size_t k = layout_.blocks.size() / 2;
  const Block& block = layout_.blocks[k];
  std::string packed = block.inflated;
  uint32_t records_length = get<uint32_t>(packed, 0) + 1;  // one byte more than the records make
  std::memcpy(packed.data(), &records_length, sizeof records_length);
  std::string damaged = bytes_.substr(0, block.offset) + make_block_of_payload(packed, block.records, 2) +
                        bytes_.substr(block.offset + block.size);
  RunResult r = replay(damaged);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.err, "corrupt block at offset " + std::to_string(block.offset) +
                                  " (delta encoding): skipped"))
      << r.err;
  std::vector<std::string> expected = full_;
  size_t from = lines_of_blocks(0, k);
  expected.erase(expected.begin() + static_cast<long>(from),
                 expected.begin() + static_cast<long>(from + kernel_records(block)));
  EXPECT_TRUE(same_lines(event_lines(r.out), expected)) << "not the full replay without block " << k;
}

TEST_F(DamagedRecording, ADamagedMagicIsNotARecording) {
  std::string damaged = bytes_;
  damaged[3] ^= 0x20;
  RunResult r = replay(damaged);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(contains(r.err, damaged_ + ": not a locktrace recording")) << r.err;
  RunResult info = locktrace({"info", damaged_});
  EXPECT_EQ(info.exit_code, 1) << info.describe();
  EXPECT_TRUE(contains(info.err, "not a locktrace recording")) << info.err;
}

TEST_F(DamagedRecording, AnUnknownMajorVersionIsNotSupported) {
  std::string damaged = bytes_;
  damaged[8] = 2;  // major version, little-endian u16 at offset 8
  RunResult r = replay(damaged);
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(contains(r.err, "format version 2." + std::to_string(layout_.minor) + " is not supported")) << r.err;
}

class KilledRecorder : public BpfRecordingTest {};

// The recorder dies with SIGKILL mid-recording: no trailer, maybe half a
// block. Everything in the complete blocks is still there.
TEST_F(KilledRecorder, ReplayReadsTheCompleteBlocksAndReportsTheTruncation) {
  std::string trace = tmp_.file("t.lt");
  std::vector<std::string> argv{LOCKTRACE_BIN, "record", "-o", trace, "--"};
  auto workload = lock_loop_command(0);
  argv.insert(argv.end(), workload.begin(), workload.end());
  {
    Background recorder(argv, tmp_.file("record.out"), tmp_.file("record.err"));
    bool grown = wait_until([&] {
      struct stat st{};
      return stat(trace.c_str(), &st) == 0 && st.st_size > 300'000;
    }, 60s);
    ASSERT_TRUE(grown) << read_file(tmp_.file("record.err"));
    EXPECT_EQ(recorder.signal_and_wait(SIGKILL), 128 + SIGKILL);
    recorder.kill_group();  // the workload, orphaned to us
  }
  std::string bytes = read_file(trace);
  Layout layout = parse_layout(bytes, /*allow_cut=*/true);
  ASSERT_GE(layout.blocks.size(), 2u);
  EXPECT_FALSE(layout.trailer_offset.has_value());
  size_t expected = 0;
  for (const auto& block : layout.blocks) expected += kernel_records(block);

  RunResult r = locktrace({"replay", "--json", trace});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(event_lines(r.out).size(), expected);
  bool boundary = layout.cut_at == bytes.size();
  std::string why = boundary ? "has no trailer: it ends at offset " + std::to_string(bytes.size()) : "cut short";
  EXPECT_TRUE(contains(r.err, why)) << r.err;
  EXPECT_TRUE(contains(r.err, std::to_string(layout.blocks.size()) + " complete blocks")) << r.err;
  EXPECT_TRUE(contains(r.err, "the recorder was killed or the disk filled")) << r.err;

  RunResult info = locktrace({"info", trace});
  ASSERT_EQ(info.exit_code, 0) << info.describe();
  EXPECT_TRUE(contains(info.out, "incomplete (no trailer)")) << info.out;
}

// A file from a newer minor version, made by hand: replay and info read it
// and skip what they do not know. No BPF needed.
class NewerFile : public RecordingTest {};

TEST_F(NewerFile, ReplaySkipsUnknownRecordTypes) {
  std::string body = header_body(1'000'000, "elsewhere");
  put(body, uint32_t{42});  // appended by a newer minor version
  std::string file = make_header(1, 2, body);

  lt_lock_call call{};
  call.h = {LT_EV_LOCK_CALL, static_cast<__u16>(sizeof call), 0, 3'000'000, 4321, 4321};
  call.sys = LT_SYS_FLOCK;
  call.phase = LT_PHASE_DONE;
  call.ret = -11;
  call.enter_ts = 2'999'000;
  call.args[0] = 3;
  call.args[1] = 6;  // LOCK_EX | LOCK_NB
  std::string process;
  put(process, uint64_t{2'000'000});
  put(process, uint32_t{4321});
  put(process, uint32_t{1});
  put(process, uint64_t{99});
  put_string(process, "flock");
  put_string(process, "flock -n x.lock true");
  put_string(process, "/usr/bin/flock");
  std::string raw = frame(2, process) + frame(4242, std::string(40, 'z')) +
                    frame(1, std::string(reinterpret_cast<const char*>(&call), sizeof call));
  file += make_block(raw, 3) + make_trailer({3'000'000, 3, 1, 0, 0, 0, 1});
  std::string path = tmp_.file("newer.lt");
  write_file(path, file);

  RunResult r = locktrace({"replay", "--json", path});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  auto lines = event_lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  auto events = json_lines(lines[0]);
  EXPECT_EQ(events[0]["event"], "lock_call");
  EXPECT_EQ(events[0]["comm"], "flock");
  EXPECT_EQ(events[0]["pid"], 4321);
  EXPECT_EQ(events[0]["errno_name"], "EWOULDBLOCK");
  EXPECT_EQ(events[0]["duration_ns"], 1000);

  RunResult info = locktrace({"info", "--json", path});
  ASSERT_EQ(info.exit_code, 0) << info.describe();
  Json summary = Json::parse(info.out);
  EXPECT_EQ(summary["format_version"], "1.2");
  EXPECT_EQ(summary["host"], "elsewhere");
  EXPECT_EQ(summary["events"], 1);
  EXPECT_EQ(summary["complete"], true);
}

}  // namespace
}  // namespace locktrace::recording
