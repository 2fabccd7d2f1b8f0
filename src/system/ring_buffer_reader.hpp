// The consumer end of the BPF ring buffer. Every drain is bounded: libbpf's own
// consume loop does not return while the producer outpaces it, which would keep
// the tracer from ever stopping, flushing or reporting.
#pragma once

#include <cstddef>
#include <span>

struct ring_buffer;

namespace locktrace {

class RecordHandler {
 public:
  virtual ~RecordHandler() = default;
  virtual void on_record(std::span<const std::byte> record) = 0;
};

class RingBufferReader {
 public:
  RingBufferReader(int map_fd, RecordHandler& handler);
  ~RingBufferReader();
  RingBufferReader(const RingBufferReader&) = delete;
  RingBufferReader& operator=(const RingBufferReader&) = delete;

  // Sleeps until the producer wakes us or timeout_ms passes, then hands at most
  // `budget` records to the handler. Returns how many it handed over.
  size_t poll(int timeout_ms, size_t budget);
  // Hands over at most `budget` records without sleeping.
  size_t drain(size_t budget);

 private:
  static int on_sample(void* ctx, void* data, size_t size);
  size_t run(int (*consume)(ring_buffer*, int), int timeout_ms, size_t budget);

  ring_buffer* rb_ = nullptr;
  RecordHandler& handler_;
  size_t budget_ = 0;
  size_t handed_ = 0;
};

}  // namespace locktrace
