#include "json_writer.hpp"

#include <charconv>

namespace locktrace {

namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0 when invalid.
size_t utf8_sequence(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (size_t k = 1; k < n; k++)
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  if (n == 3 && ((c == 0xe0 && byte(i + 1) < 0xa0) || (c == 0xed && byte(i + 1) >= 0xa0))) return 0;
  if (n == 4 && ((c == 0xf0 && byte(i + 1) < 0x90) || (c == 0xf4 && byte(i + 1) >= 0x90))) return 0;
  return n;
}

}  // namespace

// Names and paths come from traced programs and need not be UTF-8 (a comm cut
// at 15 bytes can split a character): an invalid byte becomes \u00XX, its
// Latin-1 reading, so every line stays valid JSON.
void JsonWriter::append_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (size_t i = 0; i < text.size(); i++) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') continue;
    if (c >= 0x80) {
      if (size_t n = utf8_sequence(text, i)) {
        i += n - 1;
        continue;
      }
    }
    out.append(text.substr(run, i - run));
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(text.substr(run));
  out += '"';
}

void JsonWriter::key(std::string_view name) {
  if (need_comma_) out_ += ',';
  append_escaped(out_, name);
  out_ += ':';
  need_comma_ = true;
}

void JsonWriter::begin_object() {
  if (need_comma_) out_ += ',';
  out_ += '{';
  need_comma_ = false;
}

void JsonWriter::begin_object(std::string_view name) {
  key(name);
  out_ += '{';
  need_comma_ = false;
}

void JsonWriter::end_object() {
  out_ += '}';
  need_comma_ = true;
}

void JsonWriter::begin_array(std::string_view name) {
  key(name);
  out_ += '[';
  need_comma_ = false;
}

void JsonWriter::end_array() {
  out_ += ']';
  need_comma_ = true;
}

void JsonWriter::string(std::string_view name, std::string_view value) {
  key(name);
  append_escaped(out_, value);
}

namespace {

template <typename T>
void append_number(std::string& out, T value) {
  char buf[24];
  auto result = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, result.ptr);
}

}  // namespace

void JsonWriter::number(std::string_view name, int64_t value) {
  key(name);
  append_number(out_, value);
}

void JsonWriter::unsigned_number(std::string_view name, uint64_t value) {
  key(name);
  append_number(out_, value);
}

void JsonWriter::boolean(std::string_view name, bool value) {
  key(name);
  out_ += value ? "true" : "false";
}

void JsonWriter::null(std::string_view name) {
  key(name);
  out_ += "null";
}

void JsonWriter::raw_value(std::string_view json) {
  if (need_comma_) out_ += ',';
  out_ += json;
  need_comma_ = true;
}


}  // namespace locktrace
