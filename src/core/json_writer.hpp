// A minimal JSON object writer that appends to a reused buffer: one event line
// costs no allocation once the buffer has grown.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace locktrace {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void begin_object();
  void begin_object(std::string_view key);
  void end_object();
  void begin_array(std::string_view key);
  void end_array();
  void string(std::string_view key, std::string_view value);
  void number(std::string_view key, int64_t value);
  void unsigned_number(std::string_view key, uint64_t value);
  void boolean(std::string_view key, bool value);
  void null(std::string_view key);
  // An array element that is already valid JSON (a number).
  void raw_value(std::string_view json);

  static void append_escaped(std::string& out, std::string_view text);

 private:
  void key(std::string_view name);

  std::string& out_;
  bool need_comma_ = false;
};

}  // namespace locktrace
