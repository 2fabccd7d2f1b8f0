// Records the event stream into a trace file. A pipeline sink: events are framed
// into a block on the caller's thread (a copy, no system call), and full blocks
// are compressed and written on the writer's own thread behind a bounded queue,
// so a slow disk never stalls the ring-buffer consumer. Blocks that do not fit
// in the queue are dropped, counted, and the count is stored in the file.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "block_codec.hpp"
#include "sink.hpp"
#include "trace_format.hpp"

struct libdeflate_compressor;

namespace locktrace {

struct TraceWriterOptions {
  // kEncodingDeltaZlib; kEncodingZlib writes what readers of version 1.0 read.
  uint16_t encoding = tracefile::kEncodingDeltaZlib;
  int compression_level = 1;            // deflate; see docs/trace-format.md for the measurement
  size_t block_bytes = 256 * 1024;      // raw bytes that close a block
  size_t queue_blocks = 256;            // blocks waiting for the disk before dropping (64 MiB)
  std::chrono::milliseconds max_block_age{500};  // a quiet stream still reaches the disk
};

class TraceWriter : public EventSink {
 public:
  // Takes ownership of `fd`. `options_text` records how the trace was taken.
  TraceWriter(int fd, std::string options_text, TraceWriterOptions options = {});
  ~TraceWriter() override;
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  void on_start(const StreamInfo& info) override;
  void on_event(const Event& event, const TraceState& state) override;
  void flush() override;  // closes the current block once it is old enough

  // Writes the last block and the trailer, waits for the disk, closes the file.
  // Returns false (see error()) when any write failed.
  bool finish(tracefile::Trailer totals);
  bool failed() const;
  std::string error() const;
  uint64_t writer_drops() const;
  uint64_t bytes_written() const;

 private:
  struct Block {
    std::vector<std::byte> raw;
    uint32_t records = 0;
    uint64_t events = 0;  // records that came from the stream (lost markers excluded)
  };

  void close_block();
  void take_buffer();  // for the next block, with mutex_ held
  void run();
  bool write_all(const void* data, size_t size);
  void write_block(const Block& block, std::vector<std::byte>& compressed);
  void fail(const std::string& what, int err);

  int fd_;
  std::string options_text_;
  TraceWriterOptions options_;
  uint64_t last_ts_ = 0;
  uint64_t records_ = 0;
  uint64_t kernel_events_ = 0;
  uint64_t pending_lost_ = 0;  // dropped blocks' events, to be recorded in the next block
  Block current_;
  std::chrono::steady_clock::time_point block_started_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Block> queue_;
  // Buffers of written blocks, emptied, for the next ones: a block grows to
  // its full size without reallocating.
  std::vector<std::vector<std::byte>> spare_buffers_;
  bool closing_ = false;
  bool failed_ = false;
  std::string error_;
  uint64_t writer_drops_ = 0;
  uint64_t blocks_queued_ = 0;
  std::atomic<uint64_t> bytes_written_{0};
  std::vector<std::byte> trailer_;  // set by finish(), written last by the thread
  // The writer thread's own.
  tracefile::BlockPacker packer_;
  std::vector<std::byte> packed_;
  struct FreeCompressor {
    void operator()(libdeflate_compressor* c) const;
  };
  std::unique_ptr<libdeflate_compressor, FreeCompressor> compressor_;
  std::thread thread_;
};

// Opens FILE for recording: mode 0600, never through a symlink, and never over an
// existing file unless `force`. "-" is standard output. Throws std::runtime_error.
int open_trace_output(const std::string& path, bool force);

}  // namespace locktrace
