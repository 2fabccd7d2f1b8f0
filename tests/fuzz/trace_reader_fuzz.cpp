// libFuzzer target: TraceReader on untrusted bytes must neither crash, leak nor
// read out of bounds, whatever the file says.
//
// Every input is read three times:
//  1. as a whole trace file, as `locktrace replay` would open it;
//  2. as the decompressed payload of one encoding 1 block, wrapped in a valid
//     header and block (zlib, CRC32) first. Random mutations almost never get
//     a block past its CRC check and zlib, so without this the record framing
//     and the record decoders would hardly be reached;
//  3. as the inflated payload of one encoding 2 block (the delta decoder).
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "trace_format.hpp"
#include "trace_reader.hpp"

namespace {

using namespace locktrace;

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof value];
  std::memcpy(bytes, &value, sizeof value);
  out.append(bytes, sizeof value);
}

uint32_t crc_of(const std::string& bytes) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

void read_all(const char* data, size_t size) {
  if (size == 0) return;  // fmemopen refuses an empty buffer
  std::FILE* in = fmemopen(const_cast<char*>(data), size, "rb");
  if (!in) return;
  try {
    TraceReader reader(in, [](const std::string& warning) { (void)warning.size(); });
    Event event;
    uint64_t last = 0;
    while (reader.next(event)) last ^= timestamp_of(event);
    (void)last;
    (void)reader.stats();
    (void)reader.trailer();
  } catch (const TraceFormatError&) {
    // A file that is not a recording is an answer, not a failure.
  }
  std::fclose(in);
}

std::string wrap_as_block(const uint8_t* data, size_t size, uint16_t encoding) {
  std::string body;
  put(body, uint32_t{1});
  put(body, int64_t{0});
  put(body, int32_t{0});
  put(body, uint64_t{0});
  for (int i = 0; i < 4; i++) put(body, uint32_t{0});  // four empty strings

  std::string file(tracefile::kFileMagic.data(), tracefile::kFileMagic.size());
  put(file, tracefile::kMajorVersion);
  put(file, tracefile::kMinorVersion);
  put(file, static_cast<uint32_t>(body.size()));
  file += body;
  put(file, crc_of(body));

  uLongf bound = compressBound(static_cast<uLong>(size));
  std::string compressed(bound, '\0');
  if (compress2(reinterpret_cast<Bytef*>(compressed.data()), &bound, data, static_cast<uLong>(size), 1) != Z_OK)
    return {};
  compressed.resize(bound);
  file.append(tracefile::kBlockMagic.data(), tracefile::kBlockMagic.size());
  put(file, encoding);
  put(file, uint16_t{0});
  put(file, static_cast<uint32_t>(size));
  put(file, static_cast<uint32_t>(compressed.size()));
  put(file, uint32_t{0});  // the record count is informative only
  put(file, crc_of(compressed));
  return file + compressed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  read_all(reinterpret_cast<const char*>(data), size);
  if (size <= tracefile::kMaxBlockRawBytes) {
    for (uint16_t encoding : {tracefile::kEncodingZlib, tracefile::kEncodingDeltaZlib}) {
      std::string wrapped = wrap_as_block(data, size, encoding);
      read_all(wrapped.data(), wrapped.size());
    }
  }
  return 0;
}
