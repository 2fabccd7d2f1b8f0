// The loaded and attached BPF programs, owned: destroying a Probes detaches and
// frees everything, on every path out of a session.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct locktrace_bpf;

namespace locktrace {

struct ProbeConfig {
  bool follow_children = true;
  bool filter_tids = false;             // targets are threads (-t), not processes
  uint32_t ring_buffer_bytes = 64u << 20;  // a power of two: ~0.5 s of a million events/s
  uint8_t stack_mode = 0;                  // LT_STACKS_*
  uint32_t user_stack_bytes = 0;           // 0: frame-pointer user stacks
};

struct ProbeCounters {
  uint64_t ring_buffer_drops = 0;  // records lost: the ring buffer was full
  uint64_t unpaired_calls = 0;     // calls not tracked: the in-flight map was full
};

class Probes {
 public:
  // Opens, configures, loads and attaches. Throws Fatal on failure. Tracepoints
  // this kernel lacks are skipped and listed in skipped().
  explicit Probes(const ProbeConfig& config);
  ~Probes();
  Probes(const Probes&) = delete;
  Probes& operator=(const Probes&) = delete;

  void add_target_process(uint32_t pid);
  void add_target_thread(uint32_t tid);
  void remove_target_process(uint32_t pid);
  void remove_target_thread(uint32_t tid);
  // A thread found blocked in a lock call at attach: report its return.
  void mark_preexisting_wait(uint32_t tid, uint16_t sys);
  int ring_buffer_fd() const;
  // Kernel and frame-pointer user stacks by id (lt_stack's *_stack_id).
  int stack_map_fd() const;
  ProbeCounters counters() const;
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  struct SkeletonDeleter {
    void operator()(locktrace_bpf* skel) const;
  };
  std::unique_ptr<locktrace_bpf, SkeletonDeleter> skel_;
  std::vector<std::string> skipped_;
};

}  // namespace locktrace
