#include "probes.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

#include "errors.hpp"
#include "locktrace.skel.h"

extern "C" {
#include "locktrace_abi.h"
}

namespace locktrace {

namespace {

std::string tracefs_root() {
  struct stat st;
  if (stat("/sys/kernel/tracing/events", &st) == 0) return "/sys/kernel/tracing";
  return "/sys/kernel/debug/tracing";
}

// Whether the kernel has the tracepoint a program's section names, e.g.
// "tracepoint/syscalls/sys_enter_futex_wait". Raw tracepoints (the sched and
// signal ones every supported kernel has) are not checked.
bool tracepoint_exists(const std::string& root, std::string_view section) {
  struct stat st;
  constexpr std::string_view kTp = "tracepoint/";
  if (section.starts_with(kTp)) {
    std::string path = root + "/events/" + std::string(section.substr(kTp.size()));
    return stat(path.c_str(), &st) == 0;
  }
  return true;
}

// libbpf logs to stderr by default, its debug chatter included: keep warnings and errors.
int print_libbpf(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG || level == LIBBPF_INFO) return 0;
  return vfprintf(stderr, format, args);
}

[[noreturn]] void fail(ExitCode code, const std::string& what, int err) {
  throw Fatal(code, what + ": " + strerror(err < 0 ? -err : err));
}

}  // namespace

void Probes::SkeletonDeleter::operator()(locktrace_bpf* skel) const { locktrace_bpf__destroy(skel); }

Probes::Probes(const ProbeConfig& config) {
  libbpf_set_print(print_libbpf);
  skel_.reset(locktrace_bpf__open());
  if (!skel_) fail(kExitUnsupported, "cannot open the BPF object", errno);

  skel_->rodata->follow_children = config.follow_children;
  skel_->rodata->filter_tids = config.filter_tids;
  skel_->rodata->wakeup_bytes = config.ring_buffer_bytes / 4;
  if (int err = bpf_map__set_max_entries(skel_->maps.events, config.ring_buffer_bytes))
    fail(kExitUnsupported, "cannot size the ring buffer", err);
  skel_->rodata->stack_mode = config.stack_mode;
  skel_->rodata->user_stack_bytes = config.user_stack_bytes;
  // A stack map entry is a kilobyte of locked kernel memory: none unless used.
  bpf_map__set_max_entries(skel_->maps.stack_traces, config.stack_mode == LT_STACKS_NONE ? 1 : 8192);

  // Optional tracepoints (futex2 arrived in 5.16 and 6.7) are switched off rather
  // than failing the whole load on an older kernel.
  std::string root = tracefs_root();
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    std::string_view section = bpf_program__section_name(prog);
    if (!tracepoint_exists(root, section)) {
      bpf_program__set_autoload(prog, false);
      skipped_.emplace_back(section.substr(section.find('/') + 1));
    }
  }

  if (int err = locktrace_bpf__load(skel_.get()))
    fail(kExitUnsupported, "cannot load the BPF programs (verifier or kernel refused them)", err);
  if (int err = locktrace_bpf__attach(skel_.get()))
    fail(kExitUnsupported, "cannot attach the BPF programs", err);
}

Probes::~Probes() {
  // Detaching a tracepoint waits for an RCU grace period: one after the other,
  // two dozen probes took well over a second to let go. Detached concurrently,
  // the waits overlap.
  bpf_object_skeleton* s = skel_->skeleton;
  std::vector<std::thread> detaching;
  for (int i = 0; i < s->prog_cnt; i++) {
    auto* prog = reinterpret_cast<bpf_prog_skeleton*>(reinterpret_cast<char*>(s->progs) +
                                                      static_cast<size_t>(i) * s->prog_skel_sz);
    bpf_link** link = prog->link;
    if (link && *link)
      detaching.emplace_back([link] {
        bpf_link__destroy(*link);
        *link = nullptr;
      });
  }
  for (auto& thread : detaching) thread.join();
}

void Probes::add_target_process(uint32_t pid) {
  uint8_t one = 1;
  if (bpf_map__update_elem(skel_->maps.target_tgids, &pid, sizeof pid, &one, sizeof one, BPF_ANY))
    fail(kExitFailure, "cannot add target process " + std::to_string(pid), errno);
}

void Probes::add_target_thread(uint32_t tid) {
  uint8_t one = 1;
  if (bpf_map__update_elem(skel_->maps.target_tids, &tid, sizeof tid, &one, sizeof one, BPF_ANY))
    fail(kExitFailure, "cannot add target thread " + std::to_string(tid), errno);
}

void Probes::remove_target_process(uint32_t pid) {
  bpf_map__delete_elem(skel_->maps.target_tgids, &pid, sizeof pid, 0);
}

void Probes::remove_target_thread(uint32_t tid) {
  bpf_map__delete_elem(skel_->maps.target_tids, &tid, sizeof tid, 0);
}

void Probes::mark_preexisting_wait(uint32_t tid, uint16_t sys) {
  bpf_map__update_elem(skel_->maps.preexisting_waits, &tid, sizeof tid, &sys, sizeof sys, BPF_ANY);
}

int Probes::ring_buffer_fd() const { return bpf_map__fd(skel_->maps.events); }

int Probes::stack_map_fd() const { return bpf_map__fd(skel_->maps.stack_traces); }

ProbeCounters Probes::counters() const {
  int ncpus = libbpf_num_possible_cpus();
  ProbeCounters totals;
  if (ncpus <= 0) return totals;
  std::vector<uint64_t> values(static_cast<size_t>(ncpus));
  auto sum = [&](uint32_t key) {
    uint64_t total = 0;
    if (bpf_map__lookup_elem(skel_->maps.counters, &key, sizeof key, values.data(),
                             values.size() * sizeof(uint64_t), 0) == 0)
      for (uint64_t v : values) total += v;
    return total;
  };
  totals.ring_buffer_drops = sum(LT_COUNTER_RB_DROPPED);
  totals.unpaired_calls = sum(LT_COUNTER_INFLIGHT_FULL);
  return totals;
}

}  // namespace locktrace
