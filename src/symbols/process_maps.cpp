#include "process_maps.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "unique_fd.hpp"

namespace locktrace::symbols {

namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

class LineCursor {
 public:
  explicit LineCursor(std::string_view line) : rest_(line) {}

  template <typename T>
  bool number(T& value, int base) {
    auto [end, ec] = std::from_chars(rest_.data(), rest_.data() + rest_.size(), value, base);
    if (ec != std::errc{}) return false;
    rest_.remove_prefix(static_cast<size_t>(end - rest_.data()));
    return true;
  }
  bool literal(char c) {
    if (rest_.empty() || rest_.front() != c) return false;
    rest_.remove_prefix(1);
    return true;
  }
  std::string_view word() {
    skip_spaces();
    size_t n = rest_.find(' ');
    std::string_view w = rest_.substr(0, n);
    rest_.remove_prefix(w.size());
    return w;
  }
  void skip_spaces() {
    while (!rest_.empty() && rest_.front() == ' ') rest_.remove_prefix(1);
  }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

std::optional<MapEntry> parse_line(std::string_view line) {
  // start-end perms offset major:minor inode [path]
  MapEntry entry;
  LineCursor cursor(line);
  if (!cursor.number(entry.start, 16) || !cursor.literal('-') || !cursor.number(entry.end, 16))
    return std::nullopt;
  std::string_view perms = cursor.word();
  if (perms.size() < 4) return std::nullopt;
  entry.readable = perms[0] == 'r';
  entry.writable = perms[1] == 'w';
  entry.executable = perms[2] == 'x';
  entry.shared = perms[3] == 's';
  cursor.skip_spaces();
  if (!cursor.number(entry.offset, 16)) return std::nullopt;
  cursor.skip_spaces();
  if (!cursor.number(entry.dev_major, 16) || !cursor.literal(':') ||
      !cursor.number(entry.dev_minor, 16))
    return std::nullopt;
  cursor.skip_spaces();
  if (!cursor.number(entry.inode, 10)) return std::nullopt;
  cursor.skip_spaces();
  // The path is the rest of the line and may itself contain spaces.
  std::string_view path = cursor.rest();
  if (path.ends_with(kDeletedSuffix)) {
    path.remove_suffix(kDeletedSuffix.size());
    entry.deleted = true;
  }
  entry.path = path;
  if (entry.end <= entry.start) return std::nullopt;
  return entry;
}

}  // namespace

std::string MapEntry::display_name() const {
  if (path.empty()) return "[anon]";
  if (deleted) return path + std::string(kDeletedSuffix);
  return path;
}

std::vector<MapEntry> parse_maps(std::string_view text) {
  std::vector<MapEntry> entries;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (auto entry = parse_line(line)) entries.push_back(std::move(*entry));
  }
  return entries;
}

std::optional<std::vector<MapEntry>> read_maps(const std::string& proc_root, uint32_t pid) {
  std::string path = proc_root + "/" + std::to_string(pid) + "/maps";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string text;
  char buffer[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return parse_maps(text);
}

}  // namespace locktrace::symbols
