#include "trace_bytes.hpp"

#include <zlib.h>

#include <stdexcept>

namespace locktrace::recording {

namespace {

const std::string kFileMagic("LOCKTRC\n", 8);
const std::string kBlockMagic("LTBLOCK\0", 8);
const std::string kTrailerMagic("LTEND\0\0\0", 8);

[[noreturn]] void bad(const std::string& what, size_t offset) {
  throw std::runtime_error("not per the specification at offset " + std::to_string(offset) + ": " +
                           what);
}

// Reads a length-prefixed string at `pos` inside `body`, advancing pos.
std::string take_string(const std::string& body, size_t& pos) {
  if (pos + 4 > body.size()) bad("string length past the header body", pos);
  auto size = get<uint32_t>(body, pos);
  pos += 4;
  if (size > 16 * 1024 || pos + size > body.size()) bad("string past the header body", pos);
  std::string text = body.substr(pos, size);
  pos += size;
  return text;
}

}  // namespace

void put_string(std::string& out, const std::string& text) {
  put(out, static_cast<uint32_t>(text.size()));
  out += text;
}

uint32_t crc32_of(const std::string& bytes) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

Layout parse_layout(const std::string& file, bool allow_cut) {
  Layout layout;
  if (file.size() < kFixedHeaderBytes) bad("shorter than the fixed header", 0);
  if (file.compare(0, 8, kFileMagic) != 0) bad("file magic", 0);
  layout.major = get<uint16_t>(file, 8);
  layout.minor = get<uint16_t>(file, 10);
  auto body_size = get<uint32_t>(file, 12);
  if (body_size > 64 * 1024) bad("header body longer than 64 KiB", 12);
  if (file.size() < kFixedHeaderBytes + body_size + 4) bad("cut inside the header", file.size());
  std::string body = file.substr(kFixedHeaderBytes, body_size);
  if (get<uint32_t>(file, kFixedHeaderBytes + body_size) != crc32_of(body))
    bad("header CRC32", kFixedHeaderBytes + body_size);
  layout.header_bytes = kFixedHeaderBytes + body_size + 4;
  if (body.size() < 4 + 8 + 4 + 8) bad("header body too short", kFixedHeaderBytes);
  layout.abi_version = get<uint32_t>(body, 0);
  layout.monotonic_to_realtime_ns = get<int64_t>(body, 4);
  layout.utc_offset_s = get<int32_t>(body, 12);
  layout.start_ts_ns = get<uint64_t>(body, 16);
  size_t pos = 24;
  layout.hostname = take_string(body, pos);
  layout.kernel_release = take_string(body, pos);
  layout.tool_version = take_string(body, pos);
  layout.options = take_string(body, pos);

  size_t offset = layout.header_bytes;
  auto cut = [&](const std::string& what) {
    if (!allow_cut) bad(what, offset);
    layout.cut_at = offset;
  };
  if (offset == file.size()) cut("no block and no trailer");
  while (offset < file.size()) {
    if (file.size() - offset < 8) {
      cut("cut inside a magic");
      break;
    }
    if (file.compare(offset, 8, kTrailerMagic) == 0) {
      layout.trailer_offset = offset;
      if (file.size() - offset < 12) {
        cut("cut inside the trailer");
        break;
      }
      auto size = get<uint32_t>(file, offset + 8);
      if (size % 8 == 0 && file.size() - offset < 12 + size + 4) {
        cut("cut inside the trailer");
        break;
      }
      if (size % 8 != 0 || file.size() - offset != 12 + size + 4) bad("trailer length", offset);
      std::string trailer_body = file.substr(offset + 12, size);
      if (get<uint32_t>(file, offset + 12 + size) != crc32_of(trailer_body)) bad("trailer CRC32", offset);
      for (size_t i = 0; i < size; i += 8) layout.trailer.push_back(get<uint64_t>(trailer_body, i));
      break;
    }
    if (file.compare(offset, 8, kBlockMagic) != 0) bad("block magic", offset);
    if (file.size() - offset < kBlockHeaderBytes) {
      cut("cut inside a block header");
      break;
    }
    Block block;
    block.offset = offset;
    block.encoding = get<uint16_t>(file, offset + 8);
    if (get<uint16_t>(file, offset + 10) != 0) bad("block flags are not zero", offset + 10);
    block.raw_bytes = get<uint32_t>(file, offset + 12);
    block.compressed_bytes = get<uint32_t>(file, offset + 16);
    block.records = get<uint32_t>(file, offset + 20);
    auto crc = get<uint32_t>(file, offset + 24);
    if (block.encoding != 1) bad("block encoding is not zlib", offset + 8);
    block.size = kBlockHeaderBytes + block.compressed_bytes;
    if (file.size() - offset < block.size) {
      cut("cut inside a block payload");
      break;
    }
    std::string compressed = file.substr(offset + kBlockHeaderBytes, block.compressed_bytes);
    if (crc != crc32_of(compressed)) bad("block CRC32", offset);
    block.raw.resize(block.raw_bytes);
    uLongf raw_size = block.raw_bytes;
    if (uncompress(reinterpret_cast<Bytef*>(block.raw.data()), &raw_size,
                   reinterpret_cast<const Bytef*>(compressed.data()), block.compressed_bytes) != Z_OK ||
        raw_size != block.raw_bytes)
      bad("block payload does not inflate to raw_bytes", offset);
    if (split_records(block.raw).size() != block.records) bad("block record count", offset);
    layout.blocks.push_back(std::move(block));
    offset += layout.blocks.back().size;
    if (offset == file.size()) cut("no trailer");
  }
  return layout;
}

std::vector<Record> split_records(const std::string& raw) {
  std::vector<Record> records;
  size_t pos = 0;
  while (pos < raw.size()) {
    if (raw.size() - pos < kRecordFrameBytes) bad("cut inside a record frame", pos);
    Record record;
    record.type = get<uint16_t>(raw, pos);
    if (get<uint16_t>(raw, pos + 2) != 0) bad("record reserved field is not zero", pos + 2);
    auto size = get<uint32_t>(raw, pos + 4);
    if (raw.size() - pos - kRecordFrameBytes < size) bad("record body past the block", pos);
    record.body = raw.substr(pos + kRecordFrameBytes, size);
    pos += kRecordFrameBytes + size;
    records.push_back(std::move(record));
  }
  return records;
}

size_t kernel_records(const Block& block) {
  size_t n = 0;
  for (const auto& record : split_records(block.raw)) n += record.type == 1;
  return n;
}

std::string frame(uint16_t type, const std::string& body) {
  std::string out;
  put(out, type);
  put(out, uint16_t{0});
  put(out, static_cast<uint32_t>(body.size()));
  return out + body;
}

std::string make_block(const std::string& raw, uint32_t records) {
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string compressed(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(compressed.data()), &size,
                reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()), 6) != Z_OK)
    throw std::runtime_error("compress2 failed");
  compressed.resize(size);
  std::string out = kBlockMagic;
  put(out, uint16_t{1});  // zlib
  put(out, uint16_t{0});
  put(out, static_cast<uint32_t>(raw.size()));
  put(out, static_cast<uint32_t>(compressed.size()));
  put(out, records);
  put(out, crc32_of(compressed));
  return out + compressed;
}

std::string make_header(uint16_t major, uint16_t minor, const std::string& body) {
  std::string out = kFileMagic;
  put(out, major);
  put(out, minor);
  put(out, static_cast<uint32_t>(body.size()));
  out += body;
  put(out, crc32_of(body));
  return out;
}

std::string header_body(uint64_t start_ts_ns, const std::string& hostname) {
  std::string body;
  put(body, uint32_t{1});  // event ABI
  put(body, int64_t{0});
  put(body, int32_t{0});
  put(body, start_ts_ns);
  put_string(body, hostname);
  put_string(body, "6.1.0-test");
  put_string(body, "0.0.0");
  put_string(body, "hand-made");
  return body;
}

std::string make_trailer(const std::vector<uint64_t>& fields) {
  std::string body;
  for (uint64_t field : fields) put(body, field);
  std::string out = kTrailerMagic;
  put(out, static_cast<uint32_t>(body.size()));
  out += body;
  put(out, crc32_of(body));
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace locktrace::recording
