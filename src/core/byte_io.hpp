// Little-endian integers and length-prefixed strings, appended to a buffer or
// read back with every read bounds-checked (a read past the end fails, it never
// reads out of bounds).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace locktrace {

static_assert(std::endian::native == std::endian::little,
              "trace files are little-endian; a big-endian port needs byte swapping here");

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<std::byte>& out) : out_(out) {}
  template <typename T>
  void put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes(&value, sizeof value);
  }
  void bytes(const void* data, size_t size) {
    const auto* p = static_cast<const std::byte*>(data);
    out_.insert(out_.end(), p, p + size);
  }
  void string(std::string_view text, size_t max_bytes) {
    auto size = static_cast<uint32_t>(std::min(text.size(), max_bytes));
    put(size);
    bytes(text.data(), size);
  }

 private:
  std::vector<std::byte>& out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> in) : in_(in) {}
  template <typename T>
  bool get(T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof value) return fail();
    std::memcpy(&value, in_.data() + pos_, sizeof value);
    pos_ += sizeof value;
    return true;
  }
  bool string(std::string& text, size_t max_bytes) {
    uint32_t size;
    if (!get(size) || size > max_bytes || size > remaining()) return fail();
    text.assign(reinterpret_cast<const char*>(in_.data() + pos_), size);
    pos_ += size;
    return true;
  }
  bool skip(size_t size) {
    if (size > remaining()) return fail();
    pos_ += size;
    return true;
  }
  std::span<const std::byte> take(size_t size) {
    if (size > remaining()) {
      fail();
      return {};
    }
    auto part = in_.subspan(pos_, size);
    pos_ += size;
    return part;
  }
  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }
  bool ok() const { return ok_; }

 private:
  bool fail() {
    ok_ = false;
    return false;
  }
  std::span<const std::byte> in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace locktrace
