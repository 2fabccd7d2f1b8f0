// Block encoding 2 (docs/trace-format.md, "Encoding 2"): before zlib, every
// record of a block is stored as the word-wise difference from an earlier
// record of the same block, and only the significant bytes of each difference
// are kept. Consecutive records of one thread repeat most of their bytes (pid,
// tid, addresses, flags; timestamps a few microseconds apart), so most words
// become zero and vanish: the payload zlib sees shrinks about fivefold and so
// does the file.
//
// The codec works on framed records (type, length, body), whatever the record
// type: a record type added later is delta-coded like any other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace locktrace::tracefile {

// Packs blocks on the writer thread; keeps its tables between blocks so that
// packing allocates nothing once warmed up.
class BlockPacker {
 public:
  // Replaces `out` with the encoding 2 form of `records`, a sequence of framed
  // records as encoding 1 stores them. False (and `out` unspecified) when the
  // framing is broken: the caller then stores the block as encoding 1.
  bool pack(std::span<const std::byte> records, std::vector<std::byte>& out);

 private:
  struct Slot {
    uint64_t key = 0;
    uint32_t record = 0;  // index of the latest record with this key, plus one (0: empty)
  };
  uint32_t* find(uint64_t key);

  std::vector<Slot> slots_;  // open addressing, power-of-two size
  size_t used_ = 0;
  std::vector<uint32_t> offsets_;  // body offset of each record in `records`
  std::vector<std::byte> control_;
};

// Undoes BlockPacker::pack. Replaces `records` with the framed records; false
// when the payload is malformed (the block is then corrupt). `offsets` is
// scratch space the caller keeps between blocks.
bool unpack_block(std::span<const std::byte> payload, std::vector<std::byte>& records,
                  std::vector<uint32_t>& offsets);

}  // namespace locktrace::tracefile
