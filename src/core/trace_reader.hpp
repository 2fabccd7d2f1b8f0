// Reads a trace file as a stream of events. Every input is untrusted: lengths
// are checked before anything is allocated, a corrupt block is skipped with a
// warning and reading resumes at the next block, and a file cut short (no
// trailer) yields every complete block and then says where and why it stopped.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "events.hpp"
#include "trace_format.hpp"

struct libdeflate_decompressor;

namespace locktrace {

// Not a trace file, or a major version this reader does not know.
class TraceFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TraceReadStats {
  uint64_t blocks = 0;
  uint64_t corrupt_blocks = 0;
  uint64_t skipped_records = 0;  // types or kinds from a newer minor version
  uint64_t corrupt_records = 0;
  uint64_t writer_lost = 0;      // events the writer dropped (lost records)
  bool truncated = false;        // ended without a trailer
};

class TraceReader {
 public:
  using WarningHandler = std::function<void(const std::string&)>;

  // Reads the header. Throws TraceFormatError.
  TraceReader(std::FILE* in, WarningHandler warn);

  const tracefile::Header& header() const { return header_; }
  StreamInfo stream_info() const;
  // The next event in file order; false once the file is exhausted.
  bool next(Event& out);
  // Set once next() returned false and the file ended with a valid trailer.
  const std::optional<tracefile::Trailer>& trailer() const { return trailer_; }
  const TraceReadStats& stats() const { return stats_; }

 private:
  bool load_block();
  bool inflate_payload(std::span<const std::byte> in, std::vector<std::byte>& out);
  bool read_exact(void* data, size_t size);
  void unread(const std::byte* data, size_t size);
  bool resync();
  bool resync_after(const std::byte* bytes, size_t size);
  void read_trailer();
  void warn(const std::string& text);

  std::FILE* in_;
  WarningHandler warn_;
  tracefile::Header header_;
  std::optional<tracefile::Trailer> trailer_;
  TraceReadStats stats_;
  uint64_t offset_ = 0;  // of the next byte to read, for messages
  // Bytes taken back from a corrupt block, read again before the file.
  std::vector<std::byte> pushback_;
  size_t pushback_pos_ = 0;
  std::vector<std::byte> compressed_;
  struct FreeDecompressor {
    void operator()(libdeflate_decompressor* d) const;
  };
  std::unique_ptr<libdeflate_decompressor, FreeDecompressor> inflater_;
  std::vector<std::byte> packed_;    // an encoding 2 payload, inflated
  std::vector<uint32_t> offsets_;   // scratch for unpacking it
  std::vector<std::byte> raw_;      // the block's framed records
  size_t raw_pos_ = 0;
  bool done_ = false;
};

}  // namespace locktrace
