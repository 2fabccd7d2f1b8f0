#include "trace_reader.hpp"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "block_codec.hpp"
#include "byte_io.hpp"
#include "record_codec.hpp"

namespace locktrace {

using namespace tracefile;

namespace {

template <size_t N>
bool equal_magic(const std::byte* data, const std::array<char, N>& magic) {
  return std::memcmp(data, magic.data(), N) == 0;
}

uint32_t crc_of(std::span<const std::byte> data) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

}  // namespace

void TraceReader::FreeDecompressor::operator()(libdeflate_decompressor* d) const {
  libdeflate_free_decompressor(d);
}

TraceReader::TraceReader(std::FILE* in, WarningHandler warn)
    : in_(in), warn_(std::move(warn)), inflater_(libdeflate_alloc_decompressor()) {
  if (!inflater_) throw std::bad_alloc();
  std::byte fixed[8 + 2 + 2 + 4] = {};
  bool complete = read_exact(fixed, sizeof fixed);
  size_t got = static_cast<size_t>(offset_);
  if (std::memcmp(fixed, kFileMagic.data(), std::min(got, kFileMagic.size())) != 0 || got == 0)
    throw TraceFormatError("not a locktrace recording (bad magic)");
  if (!complete) throw TraceFormatError("the file ends inside its header");
  ByteReader r({fixed + 8, 8});
  uint32_t body_size = 0;
  r.get(header_.major);
  r.get(header_.minor);
  r.get(body_size);
  if (header_.major != kMajorVersion)
    throw TraceFormatError("format version " + std::to_string(header_.major) + "." +
                           std::to_string(header_.minor) + " is not supported (this locktrace reads " +
                           std::to_string(kMajorVersion) + ".x)");
  if (body_size > kMaxHeaderBytes) throw TraceFormatError("header length is implausible");
  std::vector<std::byte> body(body_size);
  uint32_t crc = 0;
  if (!read_exact(body.data(), body.size()) || !read_exact(&crc, sizeof crc))
    throw TraceFormatError("the file ends inside its header");
  if (crc != crc_of(body)) throw TraceFormatError("the header is corrupt (CRC mismatch)");
  ByteReader h(body);
  h.get(header_.abi_version) && h.get(header_.monotonic_to_realtime_ns) &&
      h.get(header_.utc_offset_s) && h.get(header_.start_ts_ns) &&
      h.string(header_.hostname, kMaxStringBytes) && h.string(header_.kernel_release, kMaxStringBytes) &&
      h.string(header_.tool_version, kMaxStringBytes) && h.string(header_.options, kMaxStringBytes);
  // A newer minor version may append header fields: ignore what follows.
  if (!h.ok()) throw TraceFormatError("the header is malformed");
}

// Inflates a zlib stream (RFC 1950, Adler-32 checked) into exactly `out.size()`
// bytes, with libdeflate: two to three times zlib's speed on these payloads.
bool TraceReader::inflate_payload(std::span<const std::byte> in, std::vector<std::byte>& out) {
  size_t got = 0;
  return libdeflate_zlib_decompress(inflater_.get(), in.data(), in.size(), out.data(), out.size(), &got) ==
             LIBDEFLATE_SUCCESS &&
         got == out.size();
}

StreamInfo TraceReader::stream_info() const {
  StreamInfo info;
  info.monotonic_to_realtime_ns = header_.monotonic_to_realtime_ns;
  info.utc_offset_s = header_.utc_offset_s;
  info.start_ts_ns = header_.start_ts_ns;
  info.hostname = header_.hostname;
  info.kernel_release = header_.kernel_release;
  info.tool_version = header_.tool_version;
  return info;
}

void TraceReader::warn(const std::string& text) {
  if (warn_) warn_(text);
}

bool TraceReader::read_exact(void* data, size_t size) {
  auto* out = static_cast<std::byte*>(data);
  size_t from_pushback = std::min(size, pushback_.size() - pushback_pos_);
  if (from_pushback) std::memcpy(out, pushback_.data() + pushback_pos_, from_pushback);
  pushback_pos_ += from_pushback;
  size_t got = from_pushback;
  if (got < size) got += std::fread(out + got, 1, size - got, in_);
  offset_ += got;
  return got == size;
}

// Puts bytes just read back in front of the input. Bytes that came from the
// pushback buffer are still there: stepping back is free, which keeps a resync
// through a large corrupt block linear.
void TraceReader::unread(const std::byte* data, size_t size) {
  offset_ -= size;
  if (pushback_pos_ >= size && std::memcmp(pushback_.data() + pushback_pos_ - size, data, size) == 0) {
    pushback_pos_ -= size;
    return;
  }
  std::vector<std::byte> joined(data, data + size);
  joined.insert(joined.end(), pushback_.begin() + static_cast<long>(pushback_pos_), pushback_.end());
  pushback_ = std::move(joined);
  pushback_pos_ = 0;
}

// Scans forward, one byte at a time, for the next block or trailer magic, and
// leaves it to be read next. False when the input ends first.
bool TraceReader::resync() {
  std::array<std::byte, 8> window{};
  if (!read_exact(window.data(), window.size())) return false;
  for (;;) {
    if (equal_magic(window.data(), kBlockMagic) || equal_magic(window.data(), kTrailerMagic)) {
      unread(window.data(), window.size());
      return true;
    }
    std::memmove(window.data(), window.data() + 1, window.size() - 1);
    if (!read_exact(&window.back(), 1)) return false;
  }
}

// After damage at `bytes`: look for the next block from its second byte on.
bool TraceReader::resync_after(const std::byte* bytes, size_t size) {
  unread(bytes + 1, size - 1);
  return resync();
}

void TraceReader::read_trailer() {
  uint32_t size = 0;
  if (!read_exact(&size, sizeof size) || size > kMaxTrailerBytes) {
    warn("the trailer is corrupt at offset " + std::to_string(offset_));
    return;
  }
  std::vector<std::byte> body(size);
  uint32_t crc = 0;
  if (!read_exact(body.data(), body.size()) || !read_exact(&crc, sizeof crc) || crc != crc_of(body)) {
    warn("the trailer is corrupt at offset " + std::to_string(offset_));
    return;
  }
  Trailer t;
  ByteReader r(body);
  r.get(t.end_ts_ns) && r.get(t.records) && r.get(t.kernel_events) && r.get(t.ring_buffer_drops) &&
      r.get(t.unpaired_calls) && r.get(t.writer_drops) && r.get(t.blocks);
  if (r.ok()) trailer_ = t;
  else warn("the trailer is malformed");
}

// Reads blocks until one decodes; false at the end of the file.
bool TraceReader::load_block() {
  for (;;) {
    uint64_t block_offset = offset_;
    std::byte head[kBlockHeaderBytes];
    size_t got = 0;
    // Distinguish a clean end (no byte) from a cut inside a block header.
    if (!read_exact(head, 8)) {
      got = static_cast<size_t>(offset_ - block_offset);
      stats_.truncated = true;
      if (got == 0)
        warn("the recording has no trailer: it ends at offset " + std::to_string(offset_) +
             " after " + std::to_string(stats_.blocks) +
             " complete blocks (the recorder was killed or the disk filled)");
      else
        warn("the recording is cut short inside a block at offset " + std::to_string(block_offset) +
             " (the recorder was killed or the disk filled); " + std::to_string(stats_.blocks) +
             " complete blocks were read");
      return false;
    }
    if (equal_magic(head, kTrailerMagic)) {
      read_trailer();
      return false;
    }
    if (!equal_magic(head, kBlockMagic)) {
      warn("no block at offset " + std::to_string(block_offset) + ": skipping to the next block");
      stats_.corrupt_blocks++;
      if (!resync_after(head, 8)) {
        stats_.truncated = true;
        warn("no further block after offset " + std::to_string(block_offset));
        return false;
      }
      continue;
    }
    if (!read_exact(head + 8, kBlockHeaderBytes - 8)) {
      stats_.truncated = true;
      warn("the recording is cut short inside a block header at offset " +
           std::to_string(block_offset) + "; " + std::to_string(stats_.blocks) +
           " complete blocks were read");
      return false;
    }
    ByteReader r({head + 8, kBlockHeaderBytes - 8});
    uint16_t encoding = 0, flags = 0;
    uint32_t raw_size = 0, compressed_size = 0, records = 0, crc = 0;
    r.get(encoding) && r.get(flags) && r.get(raw_size) && r.get(compressed_size) && r.get(records) &&
        r.get(crc);
    (void)records;
    if ((encoding != kEncodingZlib && encoding != kEncodingDeltaZlib) || raw_size > kMaxBlockRawBytes ||
        compressed_size > kMaxBlockCompressedBytes) {
      warn("corrupt block header at offset " + std::to_string(block_offset) + ": skipped");
      stats_.corrupt_blocks++;
      // The lengths cannot be trusted: look for the next magic right after this one.
      if (!resync_after(head, kBlockHeaderBytes)) return false;
      continue;
    }
    compressed_.resize(compressed_size);
    if (!read_exact(compressed_.data(), compressed_size)) {
      // A damaged length can run past the end: blocks may still follow the damage.
      size_t got = static_cast<size_t>(offset_ - block_offset) - kBlockHeaderBytes;
      std::vector<std::byte> seen(head, head + kBlockHeaderBytes);
      seen.insert(seen.end(), compressed_.begin(), compressed_.begin() + static_cast<long>(got));
      if (resync_after(seen.data(), seen.size())) {
        warn("corrupt block header at offset " + std::to_string(block_offset) + ": skipped");
        stats_.corrupt_blocks++;
        continue;
      }
      stats_.truncated = true;
      warn("the recording is cut short inside the block at offset " + std::to_string(block_offset) +
           " (the recorder was killed or the disk filled); " + std::to_string(stats_.blocks) +
           " complete blocks were read");
      return false;
    }
    // Encoding 1 inflates to the records, encoding 2 to their packed form.
    std::vector<std::byte>& inflated = encoding == kEncodingZlib ? raw_ : packed_;
    inflated.resize(raw_size);
    bool good = crc == crc_of(compressed_) && inflate_payload(compressed_, inflated);
    bool unpacked = good && (encoding == kEncodingZlib || unpack_block(packed_, raw_, offsets_));
    if (!unpacked) {
      warn("corrupt block at offset " + std::to_string(block_offset) +
           (good ? " (delta encoding): skipped" : " (CRC or compression): skipped"));
      stats_.corrupt_blocks++;
      // Its length may be the corrupt part: search its bytes for the next block too.
      std::vector<std::byte> seen(head, head + kBlockHeaderBytes);
      seen.insert(seen.end(), compressed_.begin(), compressed_.end());
      if (!resync_after(seen.data(), seen.size())) return false;
      continue;
    }
    stats_.blocks++;
    raw_pos_ = 0;
    return true;
  }
}

bool TraceReader::next(Event& out) {
  while (!done_) {
    if (raw_pos_ >= raw_.size()) {
      // raw_ keeps its size until the next block replaces it: resizing a
      // buffer that is already about as large costs nothing.
      if (!load_block()) {
        done_ = true;
        break;
      }
      continue;
    }
    ByteReader r(std::span<const std::byte>(raw_).subspan(raw_pos_));
    uint16_t type = 0, reserved = 0;
    uint32_t size = 0;
    if (!r.get(type) || !r.get(reserved) || !r.get(size) || size > r.remaining()) {
      stats_.corrupt_records++;
      warn("a malformed record inside a block: the rest of that block is skipped");
      raw_pos_ = raw_.size();
      continue;
    }
    auto body = r.take(size);
    raw_pos_ += kRecordFrameBytes + size;
    uint64_t lost = 0;
    switch (decode_record_body(static_cast<RecordType>(type), body, out, lost)) {
      case RecordStatus::ok:
        return true;
      case RecordStatus::skipped:
        if (static_cast<RecordType>(type) == RecordType::lost)
          stats_.writer_lost += lost;
        else
          stats_.skipped_records++;
        break;
      case RecordStatus::corrupt:
        stats_.corrupt_records++;
        break;
    }
  }
  return false;
}

}  // namespace locktrace
