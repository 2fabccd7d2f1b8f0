#include "ring_buffer_reader.hpp"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.hpp"

namespace locktrace {

namespace {

// Returned by the sample callback to stop libbpf's loop once the budget is spent;
// libbpf commits the consumer position up to and including that record first.
constexpr int kBudgetSpent = -EXFULL;

}  // namespace

RingBufferReader::RingBufferReader(int map_fd, RecordHandler& handler) : handler_(handler) {
  rb_ = ring_buffer__new(map_fd, &RingBufferReader::on_sample, this, nullptr);
  if (!rb_) throw Fatal(kExitFailure, std::string("cannot open the ring buffer: ") + strerror(errno));
}

RingBufferReader::~RingBufferReader() { ring_buffer__free(rb_); }

int RingBufferReader::on_sample(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingBufferReader*>(ctx);
  self->handler_.on_record({static_cast<const std::byte*>(data), size});
  return ++self->handed_ >= self->budget_ ? kBudgetSpent : 0;
}

size_t RingBufferReader::run(int (*consume)(ring_buffer*, int), int timeout_ms, size_t budget) {
  budget_ = budget;
  handed_ = 0;
  int rc = consume(rb_, timeout_ms);
  if (rc < 0 && rc != kBudgetSpent && rc != -EINTR)
    throw Fatal(kExitFailure, std::string("reading the ring buffer failed: ") + strerror(-rc));
  return handed_;
}

size_t RingBufferReader::poll(int timeout_ms, size_t budget) {
  // Producers submit without waking us (see submit() in the BPF code), so a
  // timed-out wait still has records to consume.
  size_t handed = run(ring_buffer__poll, timeout_ms, budget);
  return handed < budget ? handed + drain(budget - handed) : handed;
}

size_t RingBufferReader::drain(size_t budget) {
  return run([](ring_buffer* rb, int) { return ring_buffer__consume(rb); }, 0, budget);
}

}  // namespace locktrace
