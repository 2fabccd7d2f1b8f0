#include "block_codec.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "trace_format.hpp"

namespace locktrace::tracefile {

namespace {

static_assert(std::endian::native == std::endian::little,
              "trace files are little-endian; a big-endian port needs byte swapping here");

// Payload header: u32 records_length, u32 control_length.
constexpr size_t kPackedHeaderBytes = 8;
// A kernel record's key fields: kind (u16 at 0) and tid (u32 at 20).
constexpr size_t kKernelKeyBytes = 24;
constexpr size_t kMaxVarintBytes = 5;  // ULEB128 of a u32

uint64_t zigzag(uint64_t delta) {
  return (delta << 1) ^ static_cast<uint64_t>(static_cast<int64_t>(delta) >> 63);
}

uint64_t unzigzag(uint64_t value) { return (value >> 1) ^ (0 - (value & 1)); }

uint64_t load8(const std::byte* p) {
  uint64_t value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

// The `n` (at most 8) bytes at `p` as a little-endian integer.
uint64_t load(const std::byte* p, size_t n) {
  if (n == 8) return load8(p);
  uint64_t value = 0;
  for (size_t i = 0; i < n; i++) value |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return value;
}

// A record's words as the format sees them: the body, and the reference cut or
// zero-extended to the body's length, both zero-padded to whole words.
struct Words {
  const std::byte* body;
  size_t size;
  const std::byte* ref;  // null: no reference, every word 0
  size_t ref_size;       // min(reference length, size)

  size_t count() const { return (size + 7) / 8; }
  uint64_t body_word(size_t w) const {
    size_t at = w * 8;
    return at + 8 <= size ? load8(body + at) : load(body + at, size - at);
  }
  uint64_t ref_word(size_t w) const {
    size_t at = w * 8;
    if (at + 8 <= ref_size) return load8(ref + at);
    return at < ref_size ? load(ref + at, ref_size - at) : 0;
  }
};

// kKeep[n] keeps the low n bytes of a word.
constexpr uint64_t kKeep[9] = {0,          0xff,           0xffff,           0xffffff,          0xffffffff,
                               0xffffffffff, 0xffffffffffff, 0xffffffffffffff, ~uint64_t{0}};

// Bytes up to the highest non-zero one: 0 for 0 (countl_zero(0) is 64).
size_t significant_bytes(uint64_t value) { return (71 - static_cast<size_t>(std::countl_zero(value))) / 8; }

std::byte* put_varint(std::byte* out, uint32_t value) {
  while (value >= 0x80) {
    *out++ = static_cast<std::byte>(value | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<std::byte>(value);
  return out;
}

bool get_varint(std::span<const std::byte> in, size_t& pos, uint32_t& value) {
  uint64_t result = 0;
  for (size_t i = 0; i < kMaxVarintBytes; i++) {
    if (pos >= in.size()) return false;
    auto byte = static_cast<uint8_t>(in[pos++]);
    result |= uint64_t{byte & 0x7fu} << (7 * i);
    if (!(byte & 0x80)) {
      if (result > UINT32_MAX) return false;
      value = static_cast<uint32_t>(result);
      return true;
    }
  }
  return false;
}

// Which earlier record a record is best stored against: the latest one of the
// same thread and kind for kernel records, of the same type for the others.
// A choice of the writer only; the file names the reference explicitly.
uint64_t reference_key(uint16_t type, const std::byte* body, uint32_t size) {
  if (type != static_cast<uint16_t>(RecordType::kernel) || size < kKernelKeyBytes)
    return uint64_t{type} << 48;
  uint16_t kind;
  uint32_t tid;
  std::memcpy(&kind, body, sizeof kind);
  std::memcpy(&tid, body + 20, sizeof tid);
  return (uint64_t{1} << 63) | (uint64_t{kind} << 32) | tid;
}

// Packs whole words against a reference that covers them all (or none):
// stores each word's significant bytes at data + d and its count in `counts`.
// Returns the new d.
template <bool kHasRef>
size_t pack_whole_words(const std::byte* body, const std::byte* ref, size_t words, std::byte* data, size_t d,
                        std::byte* counts) {
  for (size_t w = 0; w < words; w += 2) {
    uint64_t value = zigzag(load8(body + w * 8) - (kHasRef ? load8(ref + w * 8) : 0));
    size_t n0 = significant_bytes(value), n1 = 0;
    std::memcpy(data + d, &value, 8);
    d += n0;
    if (w + 1 < words) {
      value = zigzag(load8(body + w * 8 + 8) - (kHasRef ? load8(ref + w * 8 + 8) : 0));
      n1 = significant_bytes(value);
      std::memcpy(data + d, &value, 8);
      d += n1;
    }
    counts[w / 2] = static_cast<std::byte>(n0 | n1 << 4);
  }
  return d;
}

// The common case, without a check per word: whole words, a reference that
// covers them all (or none), and at least `8 * words` data bytes left, so that
// every word can be read with one 8-byte load. False on a count over 8 or an
// unused count that is not 0.
template <bool kHasRef>
bool unpack_whole_words(const std::byte* counts, size_t words, const std::byte* data, size_t& d,
                        const std::byte* ref, std::byte* body) {
  for (size_t w = 0; w < words; w += 2) {
    auto pair = static_cast<uint8_t>(counts[w / 2]);
    if (pair == 0 && w + 1 < words) {  // both words as in the reference: most of them
      if constexpr (kHasRef)
        std::memcpy(body + w * 8, ref + w * 8, 16);
      else
        std::memset(body + w * 8, 0, 16);
      continue;
    }
    size_t n0 = pair & 0xf, n1 = pair >> 4;
    if (n0 > 8 || n1 > 8) return false;
    uint64_t word = unzigzag(load8(data + d) & kKeep[n0]);
    d += n0;
    if constexpr (kHasRef) word += load8(ref + w * 8);
    std::memcpy(body + w * 8, &word, 8);
    if (w + 1 == words) return n1 == 0;
    word = unzigzag(load8(data + d) & kKeep[n1]);
    d += n1;
    if constexpr (kHasRef) word += load8(ref + w * 8 + 8);
    std::memcpy(body + w * 8 + 8, &word, 8);
  }
  return true;
}

}  // namespace

uint32_t* BlockPacker::find(uint64_t key) {
  if ((used_ + 1) * 2 > slots_.size()) {
    // Grow (or start): rehash what is there.
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(64, old.size() * 2), Slot{});
    used_ = 0;
    for (const Slot& slot : old)
      if (slot.record) *find(slot.key) = slot.record;
  }
  size_t mask = slots_.size() - 1;
  for (size_t i = (key * 0x9E3779B97F4A7C15ull) >> 20 & mask;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.record == 0) {
      slot.key = key;
      used_++;
      return &slot.record;
    }
    if (slot.key == key) return &slot.record;
  }
}

bool BlockPacker::pack(std::span<const std::byte> records, std::vector<std::byte>& out) {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  used_ = 0;
  offsets_.clear();
  // Data bytes never outnumber the record bytes: a word keeps at most 8 bytes
  // for up to 8 body bytes, and its padding is paid for by the 8-byte frame.
  // 8 bytes of slack let every word be stored with one 8-byte copy. A control
  // entry takes at most 15 bytes of varints and a byte per 16 body bytes.
  out.resize(kPackedHeaderBytes + records.size() + 8);
  if (control_.size() < 2 * records.size() + 16) control_.resize(2 * records.size() + 16);
  std::byte* data = out.data() + kPackedHeaderBytes;
  std::byte* control = control_.data();
  size_t d = 0;

  const std::byte* base = records.data();
  size_t pos = 0;
  while (pos < records.size()) {
    if (records.size() - pos < kRecordFrameBytes) return false;
    uint16_t type;
    uint32_t size;
    std::memcpy(&type, base + pos, sizeof type);
    std::memcpy(&size, base + pos + 4, sizeof size);
    pos += kRecordFrameBytes;
    if (size > records.size() - pos) return false;
    const std::byte* body = base + pos;

    auto index = static_cast<uint32_t>(offsets_.size());
    uint32_t* latest = find(reference_key(type, body, size));
    uint32_t distance = *latest ? index + 1 - *latest : 0;
    *latest = index + 1;
    offsets_.push_back(static_cast<uint32_t>(pos));

    Words words{body, size, nullptr, 0};
    if (distance) {
      uint32_t ref_at = offsets_[index - distance];
      uint32_t ref_size;
      std::memcpy(&ref_size, base + ref_at - 4, sizeof ref_size);
      words.ref = base + ref_at;
      words.ref_size = std::min(ref_size, size);
    }
    control = put_varint(control, distance);
    control = put_varint(control, type);
    control = put_varint(control, size);

    std::byte* counts = control;
    control += (words.count() + 1) / 2;
    if (size % 8 == 0 && (!words.ref || words.ref_size == size)) {
      d = words.ref ? pack_whole_words<true>(body, words.ref, words.count(), data, d, counts)
                    : pack_whole_words<false>(body, nullptr, words.count(), data, d, counts);
      pos += size;
      continue;
    }
    uint8_t nibbles = 0;
    for (size_t w = 0; w < words.count(); w++) {
      uint64_t value = zigzag(words.body_word(w) - words.ref_word(w));
      size_t n = significant_bytes(value);
      std::memcpy(data + d, &value, 8);
      d += n;
      if (w % 2 == 0) {
        nibbles = static_cast<uint8_t>(n);
      } else {
        counts[w / 2] = static_cast<std::byte>(nibbles | n << 4);
      }
    }
    if (words.count() % 2) counts[words.count() / 2] = static_cast<std::byte>(nibbles);
    pos += size;
  }

  // Header, then the control section, then the data that was written after the header.
  out.resize(kPackedHeaderBytes + d);
  auto records_length = static_cast<uint32_t>(records.size());
  auto control_length = static_cast<uint32_t>(control - control_.data());
  std::memcpy(out.data(), &records_length, 4);
  std::memcpy(out.data() + 4, &control_length, 4);
  out.insert(out.begin() + kPackedHeaderBytes, control_.data(), control);
  return true;
}

bool unpack_block(std::span<const std::byte> payload, std::vector<std::byte>& records,
                  std::vector<uint32_t>& offsets) {
  if (payload.size() < kPackedHeaderBytes) return false;
  uint32_t records_length, control_length;
  std::memcpy(&records_length, payload.data(), 4);
  std::memcpy(&control_length, payload.data() + 4, 4);
  if (records_length > kMaxBlockRawBytes || control_length > payload.size() - kPackedHeaderBytes)
    return false;
  auto control = payload.subspan(kPackedHeaderBytes, control_length);
  auto data = payload.subspan(kPackedHeaderBytes + control_length);
  records.resize(records_length);
  offsets.clear();

  std::byte* out = records.data();
  size_t out_pos = 0, c = 0, d = 0;
  while (c < control.size()) {
    uint32_t distance, type, size;
    if (!get_varint(control, c, distance) || !get_varint(control, c, type) || !get_varint(control, c, size))
      return false;
    if (distance > offsets.size() || type > UINT16_MAX || records_length - out_pos < kRecordFrameBytes ||
        size > records_length - out_pos - kRecordFrameBytes)
      return false;
    size_t words = (size + size_t{7}) / 8;
    if ((words + 1) / 2 > control.size() - c) return false;

    auto type16 = static_cast<uint16_t>(type);
    std::memcpy(out + out_pos, &type16, 2);
    std::memset(out + out_pos + 2, 0, 2);
    std::memcpy(out + out_pos + 4, &size, 4);
    out_pos += kRecordFrameBytes;
    std::byte* body = out + out_pos;

    Words ref{body, size, nullptr, 0};  // the body is being written: only its reference is read
    if (distance) {
      uint32_t ref_at = offsets[offsets.size() - distance];
      uint32_t ref_size;
      std::memcpy(&ref_size, out + ref_at - 4, sizeof ref_size);
      ref.ref = out + ref_at;
      ref.ref_size = std::min(ref_size, size);
    }
    offsets.push_back(static_cast<uint32_t>(out_pos));

    const std::byte* in = data.data();
    const std::byte* counts = control.data() + c;
    c += (words + 1) / 2;
    out_pos += size;
    if (size % 8 == 0 && data.size() - d >= size && (!ref.ref || ref.ref_size == size)) {
      bool good = ref.ref ? unpack_whole_words<true>(counts, words, in, d, ref.ref, body)
                          : unpack_whole_words<false>(counts, words, in, d, nullptr, body);
      if (!good) return false;
      continue;
    }
    for (size_t w = 0; w < words; w++) {
      auto pair = static_cast<uint8_t>(counts[w / 2]);
      size_t n = w % 2 ? pair >> 4 : pair & 0xf;
      if (n > 8 || n > data.size() - d) return false;
      uint64_t value = data.size() - d >= 8 ? load8(in + d) & kKeep[n] : load(in + d, n);
      d += n;
      uint64_t word = unzigzag(value) + ref.ref_word(w);
      size_t at = w * 8;
      if (at + 8 <= size) {
        std::memcpy(body + at, &word, 8);
      } else {
        size_t keep = size - at;
        if (word >> (keep * 8)) return false;  // beyond the body: must be zero
        std::memcpy(body + at, &word, keep);
      }
    }
    if (words % 2 && static_cast<uint8_t>(counts[words / 2]) >> 4) return false;
  }
  return out_pos == records_length && d == data.size();
}

}  // namespace locktrace::tracefile
