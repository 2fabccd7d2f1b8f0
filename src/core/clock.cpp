#include "clock.hpp"

#include <cstdio>
#include <ctime>

namespace locktrace {

namespace {

struct LocalTime {
  std::tm tm;
  long micros;
};

// Time-zone arithmetic uses the stored offset, never the replaying host's zone.
LocalTime local_time(uint64_t ts_ns, const StreamInfo& info) {
  int64_t unix_ns = static_cast<int64_t>(ts_ns) + info.monotonic_to_realtime_ns +
                    int64_t{info.utc_offset_s} * 1'000'000'000;
  time_t seconds = static_cast<time_t>(unix_ns / 1'000'000'000);
  LocalTime t{};
  gmtime_r(&seconds, &t.tm);
  t.micros = static_cast<long>((unix_ns % 1'000'000'000) / 1000);
  return t;
}

}  // namespace

void append_clock_time(std::string& out, uint64_t ts_ns, const StreamInfo& info) {
  LocalTime t = local_time(ts_ns, info);
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%02d:%02d:%02d.%06ld", t.tm.tm_hour, t.tm.tm_min, t.tm.tm_sec,
                   t.micros);
  out.append(buf, static_cast<size_t>(n));
}

void append_iso_time(std::string& out, uint64_t ts_ns, const StreamInfo& info) {
  LocalTime t = local_time(ts_ns, info);
  int offset_min = info.utc_offset_s / 60;
  char sign = offset_min < 0 ? '-' : '+';
  if (offset_min < 0) offset_min = -offset_min;
  char buf[48];
  int n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld%c%02d:%02d",
                   t.tm.tm_year + 1900, t.tm.tm_mon + 1, t.tm.tm_mday, t.tm.tm_hour, t.tm.tm_min,
                   t.tm.tm_sec, t.micros, sign, offset_min / 60, offset_min % 60);
  out.append(buf, static_cast<size_t>(n));
}

void append_seconds(std::string& out, uint64_t ns) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%llu.%06llu", static_cast<unsigned long long>(ns / 1'000'000'000),
                   static_cast<unsigned long long>((ns % 1'000'000'000) / 1000));
  out.append(buf, static_cast<size_t>(n));
}

}  // namespace locktrace
