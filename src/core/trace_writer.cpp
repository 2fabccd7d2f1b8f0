#include "trace_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <libdeflate.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "byte_io.hpp"
#include "locktrace_abi.h"
#include "pipeline.hpp"
#include "record_codec.hpp"

namespace locktrace {

using namespace tracefile;

int open_trace_output(const std::string& path, bool force) {
  if (path == "-") return fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);  // not for the traced command
  int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
  int fd = open(path.c_str(), flags, 0600);
  if (fd < 0) {
    int err = errno;
    std::string why = err == EEXIST ? "it exists (use --force to overwrite it)"
                      : err == ELOOP ? "it is a symbolic link (refused: never followed)"
                                     : strerror(err);
    throw std::runtime_error("cannot create " + path + ": " + why);
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
    close(fd);
    throw std::runtime_error("cannot record to " + path + ": not a regular file");
  }
  if (S_ISREG(st.st_mode)) fchmod(fd, 0600);  // an overwritten file keeps no wider mode
  return fd;
}

void TraceWriter::FreeCompressor::operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }

TraceWriter::TraceWriter(int fd, std::string options_text, TraceWriterOptions options)
    : fd_(fd),
      options_text_(std::move(options_text)),
      options_(options),
      // libdeflate: zlib streams, as zlib writes them, in half the time (see the measurements).
      compressor_(libdeflate_alloc_compressor(options_.compression_level)) {
  if (!compressor_) {
    close(fd_);
    throw std::runtime_error("cannot set up compression at level " + std::to_string(options_.compression_level));
  }
  take_buffer();
  thread_ = std::thread([this] { run(); });
}

TraceWriter::~TraceWriter() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  if (fd_ >= 0) close(fd_);
}

void TraceWriter::on_start(const StreamInfo& info) {
  std::vector<std::byte> body;
  ByteWriter w(body);
  w.put(uint32_t{LT_ABI_VERSION});
  w.put(info.monotonic_to_realtime_ns);
  w.put(info.utc_offset_s);
  w.put(info.start_ts_ns);
  w.string(info.hostname, kMaxStringBytes);
  w.string(info.kernel_release, kMaxStringBytes);
  w.string(info.tool_version, kMaxStringBytes);
  w.string(options_text_, kMaxStringBytes);

  Block header;
  ByteWriter h(header.raw);
  h.bytes(kFileMagic.data(), kFileMagic.size());
  h.put(kMajorVersion);
  h.put(kMinorVersion);
  h.put(static_cast<uint32_t>(body.size()));
  h.bytes(body.data(), body.size());
  h.put(static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()),
                                    static_cast<uInt>(body.size()))));
  // The header goes first and uncompressed: written directly, the thread is idle.
  errno = 0;
  if (!write_all(header.raw.data(), header.raw.size()))
    fail("writing the header", errno ? errno : EIO);
  last_ts_ = info.start_ts_ns;
  block_started_ = std::chrono::steady_clock::now();
}

void TraceWriter::on_event(const Event& event, const TraceState&) {
  if (current_.raw.empty()) block_started_ = std::chrono::steady_clock::now();
  encode_event(event, current_.raw);
  current_.records++;
  current_.events++;
  records_++;
  if (!is_metadata(event)) kernel_events_++;
  last_ts_ = timestamp_of(event);
  if (current_.raw.size() >= options_.block_bytes) close_block();
}

void TraceWriter::flush() {
  if (!current_.raw.empty() &&
      std::chrono::steady_clock::now() - block_started_ >= options_.max_block_age)
    close_block();
}

void TraceWriter::take_buffer() {
  constexpr size_t kLargestRecord = 64 * 1024;  // what can go past block_bytes
  if (spare_buffers_.empty()) {
    current_.raw.reserve(options_.block_bytes + kLargestRecord);
    return;
  }
  current_.raw = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
}

void TraceWriter::close_block() {
  if (current_.raw.empty()) return;
  Block block = std::move(current_);
  current_ = Block{};
  std::lock_guard lock(mutex_);
  take_buffer();
  if (failed_ || queue_.size() >= options_.queue_blocks) {
    writer_drops_ += block.events;
    pending_lost_ += block.events;
    return;
  }
  if (pending_lost_ > 0) {
    // Say where the dropped events were, at the head of the next block that makes it.
    std::vector<std::byte> with_lost;
    encode_lost(last_ts_, pending_lost_, with_lost);
    with_lost.insert(with_lost.end(), block.raw.begin(), block.raw.end());
    block.raw = std::move(with_lost);
    block.records++;
    pending_lost_ = 0;
  }
  queue_.push_back(std::move(block));
  blocks_queued_++;
  wake_.notify_one();
}

bool TraceWriter::write_all(const void* data, size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
    bytes_written_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  }
  return true;
}

void TraceWriter::fail(const std::string& what, int err) {
  std::lock_guard lock(mutex_);
  if (failed_) return;
  failed_ = true;
  error_ = what + ": " + strerror(err);
}

// Runs on the writer thread without the lock: the consumer only ever waits for
// the queue, never for the disk.
void TraceWriter::write_block(const Block& block, std::vector<std::byte>& compressed) {
  std::span<const std::byte> raw = block.raw;
  uint16_t encoding = kEncodingZlib;
  if (options_.encoding == kEncodingDeltaZlib && packer_.pack(block.raw, packed_) &&
      packed_.size() <= kMaxBlockRawBytes) {
    raw = packed_;
    encoding = kEncodingDeltaZlib;
  }
  compressed.resize(kBlockHeaderBytes + libdeflate_zlib_compress_bound(compressor_.get(), raw.size()));
  std::byte* payload = compressed.data() + kBlockHeaderBytes;
  size_t size = libdeflate_zlib_compress(compressor_.get(), raw.data(), raw.size(), payload,
                                         compressed.size() - kBlockHeaderBytes);
  if (size == 0) {
    fail("compressing a block", ENOMEM);
    return;
  }
  std::vector<std::byte> header;
  ByteWriter w(header);
  w.bytes(kBlockMagic.data(), kBlockMagic.size());
  w.put(encoding);
  w.put(uint16_t{0});
  w.put(static_cast<uint32_t>(raw.size()));
  w.put(static_cast<uint32_t>(size));
  w.put(block.records);
  w.put(static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(payload), static_cast<uInt>(size))));
  std::memcpy(compressed.data(), header.data(), kBlockHeaderBytes);
  errno = 0;
  if (!write_all(compressed.data(), kBlockHeaderBytes + size)) {
    fail("writing the trace file", errno ? errno : EIO);
    return;
  }
}

void TraceWriter::run() {
  std::vector<std::byte> compressed;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return closing_ || !queue_.empty(); });
    if (queue_.empty() && closing_) break;
    Block block = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    write_block(block, compressed);
    block.raw.clear();
    lock.lock();
    if (spare_buffers_.size() < 2) spare_buffers_.push_back(std::move(block.raw));
  }
  bool write_trailer = !trailer_.empty() && !failed_;
  lock.unlock();
  errno = 0;
  if (write_trailer && !write_all(trailer_.data(), trailer_.size()))
    fail("writing the trailer", errno ? errno : EIO);
}

bool TraceWriter::finish(Trailer totals) {
  close_block();
  std::vector<std::byte> body;
  ByteWriter b(body);
  {
    std::lock_guard lock(mutex_);
    totals.end_ts_ns = last_ts_;
    totals.records = records_;
    totals.kernel_events = kernel_events_;
    totals.writer_drops = writer_drops_;
    totals.blocks = blocks_queued_;  // every queued block is written unless writing fails
  }
  b.put(totals.end_ts_ns);
  b.put(totals.records);
  b.put(totals.kernel_events);
  b.put(totals.ring_buffer_drops);
  b.put(totals.unpaired_calls);
  b.put(totals.writer_drops);
  b.put(totals.blocks);
  {
    std::lock_guard lock(mutex_);
    ByteWriter t(trailer_);
    t.bytes(kTrailerMagic.data(), kTrailerMagic.size());
    t.put(static_cast<uint32_t>(body.size()));
    t.bytes(body.data(), body.size());
    t.put(static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()),
                                      static_cast<uInt>(body.size()))));
    closing_ = true;
  }
  wake_.notify_one();
  thread_.join();
  if (fsync(fd_) != 0 && errno != EINVAL && errno != EROFS) fail("syncing the trace file", errno);
  if (close(fd_) != 0) fail("closing the trace file", errno);
  fd_ = -1;
  return !failed();
}

bool TraceWriter::failed() const {
  std::lock_guard lock(mutex_);
  return failed_;
}

std::string TraceWriter::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

uint64_t TraceWriter::writer_drops() const {
  std::lock_guard lock(mutex_);
  return writer_drops_;
}

uint64_t TraceWriter::bytes_written() const { return bytes_written_.load(); }

}  // namespace locktrace
