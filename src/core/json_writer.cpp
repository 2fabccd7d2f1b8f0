#include "json_writer.hpp"

#include <charconv>

namespace locktrace {

void JsonWriter::append_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
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

std::string& JsonWriter::raw(std::string_view name) {
  key(name);
  return out_;
}

}  // namespace locktrace
