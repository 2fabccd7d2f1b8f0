#include "clock.hpp"

#include <cstdio>
#include <ctime>

namespace locktrace {

namespace {

struct LocalTime {
  time_t seconds;
  long micros;
};

// Time-zone arithmetic uses the stored offset, never the replaying host's zone.
LocalTime local_time(uint64_t ts_ns, const StreamInfo& info) {
  int64_t unix_ns = static_cast<int64_t>(ts_ns) + info.monotonic_to_realtime_ns +
                    int64_t{info.utc_offset_s} * 1'000'000'000;
  LocalTime t{};
  t.seconds = static_cast<time_t>(unix_ns / 1'000'000'000);
  t.micros = static_cast<long>((unix_ns % 1'000'000'000) / 1000);
  return t;
}

// The calendar part changes once a second while events come by the million:
// it is formatted once per second and reused.
struct SecondCache {
  time_t seconds = -1;
  int32_t utc_offset_s = 0;
  char clock[32];  // "21:10:33."
  char iso[48];    // "2026-11-21T21:10:33."
};

const SecondCache& second_of(const LocalTime& t, const StreamInfo& info) {
  thread_local SecondCache cache;
  if (cache.seconds != t.seconds || cache.utc_offset_s != info.utc_offset_s) {
    std::tm tm;
    gmtime_r(&t.seconds, &tm);
    snprintf(cache.clock, sizeof cache.clock, "%02d:%02d:%02d.", tm.tm_hour, tm.tm_min, tm.tm_sec);
    snprintf(cache.iso, sizeof cache.iso, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cache.seconds = t.seconds;
    cache.utc_offset_s = info.utc_offset_s;
  }
  return cache;
}

void append_digits(std::string& out, uint64_t value, int width) {
  char buf[20];
  for (int i = width - 1; i >= 0; i--) {
    buf[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf, static_cast<size_t>(width));
}

}  // namespace

void append_clock_time(std::string& out, uint64_t ts_ns, const StreamInfo& info) {
  LocalTime t = local_time(ts_ns, info);
  out += second_of(t, info).clock;
  append_digits(out, static_cast<uint64_t>(t.micros), 6);
}

void append_iso_time(std::string& out, uint64_t ts_ns, const StreamInfo& info) {
  LocalTime t = local_time(ts_ns, info);
  out += second_of(t, info).iso;
  append_digits(out, static_cast<uint64_t>(t.micros), 6);
  int offset_min = info.utc_offset_s / 60;
  out += offset_min < 0 ? '-' : '+';
  if (offset_min < 0) offset_min = -offset_min;
  append_digits(out, static_cast<uint64_t>(offset_min / 60), 2);
  out += ':';
  append_digits(out, static_cast<uint64_t>(offset_min % 60), 2);
}

void append_seconds(std::string& out, uint64_t ns) {
  out += std::to_string(ns / 1'000'000'000);
  out += '.';
  append_digits(out, (ns % 1'000'000'000) / 1000, 6);
}

}  // namespace locktrace
