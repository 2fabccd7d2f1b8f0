// Events as trace-file records: the framing (type, length) and the bodies of the
// metadata records. Kernel records are stored as the ABI bytes themselves.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "events.hpp"
#include "trace_format.hpp"

namespace locktrace::tracefile {

// Appends one framed record for `event` to `out`.
void encode_event(const Event& event, std::vector<std::byte>& out);
void encode_lost(uint64_t ts_ns, uint64_t count, std::vector<std::byte>& out);

enum class RecordStatus { ok, skipped, corrupt };

// Decodes one record body of the given type. `skipped`: a type or kernel kind
// this version does not know (a newer minor version wrote it). `lost` receives
// the count of a lost record (and the event is not set).
RecordStatus decode_record_body(RecordType type, std::span<const std::byte> body, Event& out,
                                uint64_t& lost);

}  // namespace locktrace::tracefile
