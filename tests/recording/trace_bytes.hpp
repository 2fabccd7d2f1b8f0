// The trace file format at the byte level, written from docs/trace-format.md and
// independent of src/core's reader: a parser that checks a file against the
// specification and finds its block boundaries, and builders for hand-made
// files (unknown record types, newer minor versions, corrupt blocks).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace locktrace::recording {

// Little-endian integers appended to / read from a byte string.
template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof value];
  std::memcpy(bytes, &value, sizeof value);
  out.append(bytes, sizeof value);
}
void put_string(std::string& out, const std::string& text);  // u32 length + bytes
template <typename T>
T get(const std::string& in, size_t offset) {
  T value;
  std::memcpy(&value, in.data() + offset, sizeof value);
  return value;
}

uint32_t crc32_of(const std::string& bytes);

inline constexpr size_t kFixedHeaderBytes = 16;  // magic, major, minor, body length
inline constexpr size_t kBlockHeaderBytes = 28;  // magic, encoding, flags, raw, compressed, records, crc
inline constexpr size_t kRecordFrameBytes = 8;

struct Block {
  size_t offset = 0;  // of its magic
  size_t size = 0;    // header + payload
  uint16_t encoding = 0;
  uint32_t raw_bytes = 0;
  uint32_t compressed_bytes = 0;
  uint32_t records = 0;
  std::string inflated;  // the decompressed payload (encoding 2: the packed form)
  std::string raw;       // the framed records
};

struct Record {
  uint16_t type = 0;
  std::string body;
};

struct Layout {
  uint16_t major = 0;
  uint16_t minor = 0;
  size_t header_bytes = 0;  // the whole header: where the first block starts
  uint32_t abi_version = 0;
  int64_t monotonic_to_realtime_ns = 0;
  int32_t utc_offset_s = 0;
  uint64_t start_ts_ns = 0;
  std::string hostname, kernel_release, tool_version, options;
  std::vector<Block> blocks;
  std::optional<size_t> trailer_offset;
  std::vector<uint64_t> trailer;  // the u64 fields of the trailer body, in order
  std::optional<size_t> cut_at;   // where a file cut short stops being complete
};

// Parses a file per the specification; throws std::runtime_error naming the
// offset of anything that does not conform. A file cut short after its
// header is an error unless `allow_cut`: then its complete blocks are listed.
Layout parse_layout(const std::string& file, bool allow_cut = false);
std::vector<Record> split_records(const std::string& raw);
// Encoding 2: the framed records a packed payload decodes to; throws
// std::runtime_error naming the offset (inside `packed`) of what is wrong.
std::string unpack_records(const std::string& packed);
// Encoding 2, packed the simple way the specification allows: every record is
// stored against the record right before it (the first against nothing).
std::string pack_records(const std::string& raw);
// Records of type 1 (kernel) in a block: the lines --json prints for it.
size_t kernel_records(const Block& block);

// Builders.
std::string frame(uint16_t type, const std::string& body);
// zlib + CRC32 of the framed records `raw`; encoding 2 packs them first.
std::string make_block(const std::string& raw, uint32_t records, uint16_t encoding = 1);
// A block whose inflated payload is `payload`, whatever it holds.
std::string make_block_of_payload(const std::string& payload, uint32_t records, uint16_t encoding);
std::string make_header(uint16_t major, uint16_t minor, const std::string& body);
// A version 1.0/1.1 header body with the given fields (the rest zero/empty).
std::string header_body(uint64_t start_ts_ns, const std::string& hostname);
std::string make_trailer(const std::vector<uint64_t>& fields);

// Line-oriented helpers for comparing outputs.
std::vector<std::string> lines_of(const std::string& text);
bool starts_with(const std::string& text, const std::string& prefix);

}  // namespace locktrace::recording
