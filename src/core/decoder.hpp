// Turns one raw kernel record (ring buffer or trace file) into a typed Event.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "events.hpp"

namespace locktrace {

enum class DecodeStatus {
  ok,
  truncated,     // shorter than its header or than its kind requires
  bad_size,      // the header's size disagrees with the bytes given
  unknown_kind,  // a kind this version does not know (a newer writer): skip it
};

std::string_view to_string(DecodeStatus status);

// Copies, never casts: records in a ring buffer or a file have no alignment
// guarantee. A record longer than its kind needs (a newer minor ABI that appended
// fields) decodes from its known prefix.
DecodeStatus decode_record(std::span<const std::byte> bytes, Event& out);

}  // namespace locktrace
