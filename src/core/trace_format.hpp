// The trace file format (docs/trace-format.md is the specification). All
// integers are little-endian; every length read from a file is checked against
// these limits before anything is allocated.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace locktrace::tracefile {

inline constexpr std::array<char, 8> kFileMagic = {'L', 'O', 'C', 'K', 'T', 'R', 'C', '\n'};
inline constexpr std::array<char, 8> kBlockMagic = {'L', 'T', 'B', 'L', 'O', 'C', 'K', 0};
inline constexpr std::array<char, 8> kTrailerMagic = {'L', 'T', 'E', 'N', 'D', 0, 0, 0};
inline constexpr uint16_t kMajorVersion = 1;
inline constexpr uint16_t kMinorVersion = 1;

inline constexpr uint32_t kMaxHeaderBytes = 64 * 1024;
inline constexpr uint32_t kMaxBlockRawBytes = 4 * 1024 * 1024;
inline constexpr uint32_t kMaxBlockCompressedBytes = kMaxBlockRawBytes + 64 * 1024;
inline constexpr uint32_t kMaxTrailerBytes = 64 * 1024;
inline constexpr uint32_t kMaxStringBytes = 16 * 1024;
// A stack record holds at most this many frames, and writers cut each of a
// frame's strings at kMaxFrameStringBytes, so one record stays far below a block.
inline constexpr uint32_t kMaxStackFrames = 256;
inline constexpr uint32_t kMaxFrameStringBytes = 4 * 1024;

// Block payload encodings.
inline constexpr uint16_t kEncodingZlib = 1;       // the records, zlib-compressed
inline constexpr uint16_t kEncodingDeltaZlib = 2;  // delta-coded records (block_codec.hpp), then zlib

// Record types inside a block's payload.
enum class RecordType : uint16_t {
  kernel = 1,        // one ABI record exactly as the ring buffer delivered it
  process_info = 2,
  thread_info = 3,
  fd_path = 4,
  lost = 5,          // the writer dropped records here: u64 ts, u64 count
  tick = 6,          // time passed on a quiet stream: u64 ts
  held_lock = 7,     // a file lock held before tracing started (/proc/locks)
  stack = 8,         // a distinct call stack, its frames resolved
  call_stack = 9,    // the stack of the lock call record that follows
  address_name = 10, // what an address in a traced process is (a lock's symbol)
  mapping = 11,      // an executable mapping with its build id
};

// Block header, after the magic: u16 encoding, u16 flags, u32 raw_bytes,
// u32 compressed_bytes, u32 records, u32 crc32 (of the compressed bytes).
inline constexpr size_t kBlockHeaderBytes = 8 + 2 + 2 + 4 + 4 + 4 + 4;
// Record framing: u16 type, u16 reserved, u32 body bytes.
inline constexpr size_t kRecordFrameBytes = 8;

// What a file says about the recording, from its header.
struct Header {
  uint16_t major = kMajorVersion;
  uint16_t minor = kMinorVersion;
  uint32_t abi_version = 0;
  int64_t monotonic_to_realtime_ns = 0;
  int32_t utc_offset_s = 0;
  uint64_t start_ts_ns = 0;
  std::string hostname;
  std::string kernel_release;
  std::string tool_version;
  std::string options;  // the recording's command line
};

// Totals written when a recording ends cleanly.
struct Trailer {
  uint64_t end_ts_ns = 0;
  uint64_t records = 0;            // all records written, metadata included
  uint64_t kernel_events = 0;
  uint64_t ring_buffer_drops = 0;  // lost in the kernel: ring buffer full
  uint64_t unpaired_calls = 0;     // lost in the kernel: in-flight map full
  uint64_t writer_drops = 0;       // lost in the writer: the disk fell behind
  uint64_t blocks = 0;
};

}  // namespace locktrace::tracefile
