// Kernel monotonic timestamps shown as the recording host's wall-clock time.
#pragma once

#include <cstdint>
#include <string>

#include "events.hpp"

namespace locktrace {

// "21:10:33.123456" in the recording host's time zone.
void append_clock_time(std::string& out, uint64_t ts_ns, const StreamInfo& info);
// "2026-11-21T21:10:33.123456+01:00".
void append_iso_time(std::string& out, uint64_t ts_ns, const StreamInfo& info);
// Seconds with microseconds: "2.000123".
void append_seconds(std::string& out, uint64_t ns);

}  // namespace locktrace
