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
    if (block.encoding != 1 && block.encoding != 2) bad("block encoding is neither 1 nor 2", offset + 8);
    block.size = kBlockHeaderBytes + block.compressed_bytes;
    if (file.size() - offset < block.size) {
      cut("cut inside a block payload");
      break;
    }
    std::string compressed = file.substr(offset + kBlockHeaderBytes, block.compressed_bytes);
    if (crc != crc32_of(compressed)) bad("block CRC32", offset);
    block.inflated.resize(block.raw_bytes);
    uLongf raw_size = block.raw_bytes;
    if (uncompress(reinterpret_cast<Bytef*>(block.inflated.data()), &raw_size,
                   reinterpret_cast<const Bytef*>(compressed.data()), block.compressed_bytes) != Z_OK ||
        raw_size != block.raw_bytes)
      bad("block payload does not inflate to raw_bytes", offset);
    try {
      block.raw = block.encoding == 1 ? block.inflated : unpack_records(block.inflated);
    } catch (const std::runtime_error& e) {
      bad(std::string("block payload: ") + e.what(), offset);
    }
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

namespace {

// Encoding 2's unsigned LEB128, at most 5 bytes and 32 bits.
uint32_t take_uleb128(const std::string& in, size_t end, size_t& pos) {
  uint64_t value = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (pos >= end) bad("uleb128 past the control section", pos);
    auto byte = static_cast<unsigned char>(in[pos++]);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      if (value > 0xffffffffu) bad("uleb128 over 32 bits", pos);
      return static_cast<uint32_t>(value);
    }
  }
  bad("uleb128 longer than 5 bytes", pos);
}

void put_uleb128(std::string& out, uint32_t value) {
  do {
    unsigned char byte = value & 0x7f;
    value >>= 7;
    if (value) byte |= 0x80;
    out += static_cast<char>(byte);
  } while (value);
}

// The i-th 8-byte word of `body` (zero-padded), as the specification splits it.
uint64_t word_of(const std::string& body, size_t i) {
  uint64_t word = 0;
  for (size_t j = 0; j < 8 && i * 8 + j < body.size(); j++)
    word |= static_cast<uint64_t>(static_cast<unsigned char>(body[i * 8 + j])) << (8 * j);
  return word;
}

// A reference body cut or zero-extended to `length`.
std::string fitted(std::string reference, size_t length) {
  reference.resize(length, '\0');
  return reference;
}

}  // namespace

std::string unpack_records(const std::string& packed) {
  if (packed.size() < 8) bad("packed payload shorter than its header", 0);
  auto records_length = get<uint32_t>(packed, 0);
  auto control_length = get<uint32_t>(packed, 4);
  if (records_length > 4 * 1024 * 1024) bad("records_length over 4 MiB", 0);
  if (control_length > packed.size() - 8) bad("control_length past the payload", 4);
  size_t pos = 8, control_end = 8 + control_length, data = control_end;
  std::vector<std::string> bodies;
  std::string records;
  while (pos < control_end) {
    uint32_t reference = take_uleb128(packed, control_end, pos);
    uint32_t type = take_uleb128(packed, control_end, pos);
    uint32_t length = take_uleb128(packed, control_end, pos);
    if (reference > bodies.size()) bad("reference before the first record", pos);
    if (type > 0xffff) bad("type over 65535", pos);
    if (records.size() + kRecordFrameBytes + length > records_length) bad("record past records_length", pos);
    size_t words = (length + 7) / 8;
    if (control_end - pos < (words + 1) / 2) bad("counts past the control section", pos);
    std::string ref = reference ? fitted(bodies[bodies.size() - reference], length) : std::string(length, '\0');
    std::string body;
    for (size_t i = 0; i < words; i++) {
      auto counts = static_cast<unsigned char>(packed[pos + i / 2]);
      unsigned n = i % 2 == 0 ? counts & 0x0f : counts >> 4;
      if (n > 8) bad("count over 8", pos + i / 2);
      if (packed.size() - data < n) bad("data bytes run out", data);
      uint64_t z = 0;
      for (unsigned j = 0; j < n; j++) z |= static_cast<uint64_t>(static_cast<unsigned char>(packed[data + j])) << (8 * j);
      data += n;
      uint64_t d = (z >> 1) ^ (0 - (z & 1));
      uint64_t word = word_of(ref, i) + d;
      for (size_t j = 0; j < 8; j++) {
        auto byte = static_cast<char>(word >> (8 * j));
        if (i * 8 + j < length) body += byte;
        else if (byte != 0) bad("a padding byte is not zero", data);
      }
    }
    if (words % 2 == 1 && static_cast<unsigned char>(packed[pos + words / 2]) >> 4 != 0)
      bad("unused count is not zero", pos + words / 2);
    pos += (words + 1) / 2;
    records += frame(static_cast<uint16_t>(type), body);
    bodies.push_back(std::move(body));
  }
  if (data != packed.size()) bad("data bytes left over", data);
  if (records.size() != records_length) bad("fewer records than records_length", 0);
  return records;
}

std::string pack_records(const std::string& raw) {
  std::string control, data;
  std::string previous;
  bool first = true;
  for (const auto& record : split_records(raw)) {
    put_uleb128(control, first ? 0 : 1);
    put_uleb128(control, record.type);
    put_uleb128(control, static_cast<uint32_t>(record.body.size()));
    std::string ref = first ? std::string(record.body.size(), '\0') : fitted(previous, record.body.size());
    size_t words = (record.body.size() + 7) / 8;
    std::string counts((words + 1) / 2, '\0');
    for (size_t i = 0; i < words; i++) {
      uint64_t d = word_of(record.body, i) - word_of(ref, i);
      uint64_t z = (d << 1) ^ static_cast<uint64_t>(static_cast<int64_t>(d) >> 63);
      unsigned n = 0;
      while (n < 8 && (z >> (8 * n)) != 0) n++;
      for (unsigned j = 0; j < n; j++) data += static_cast<char>(z >> (8 * j));
      counts[i / 2] = static_cast<char>(counts[i / 2] | (i % 2 == 0 ? n : n << 4));
    }
    control += counts;
    previous = record.body;
    first = false;
  }
  std::string packed;
  put(packed, static_cast<uint32_t>(raw.size()));
  put(packed, static_cast<uint32_t>(control.size()));
  return packed + control + data;
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

std::string make_block(const std::string& raw, uint32_t records, uint16_t encoding) {
  return make_block_of_payload(encoding == 2 ? pack_records(raw) : raw, records, encoding);
}

std::string make_block_of_payload(const std::string& payload, uint32_t records, uint16_t encoding) {
  uLongf size = compressBound(static_cast<uLong>(payload.size()));
  std::string compressed(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(compressed.data()), &size,
                reinterpret_cast<const Bytef*>(payload.data()), static_cast<uLong>(payload.size()), 6) != Z_OK)
    throw std::runtime_error("compress2 failed");
  compressed.resize(size);
  std::string out = kBlockMagic;
  put(out, encoding);
  put(out, uint16_t{0});
  put(out, static_cast<uint32_t>(payload.size()));
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
