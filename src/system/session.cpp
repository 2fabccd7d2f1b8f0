#include "session.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <thread>

#include "decoder.hpp"
#include "enricher.hpp"
#include "errors.hpp"
#include "event_counter.hpp"
#include "launcher.hpp"
#include "proc_reader.hpp"
#include "ring_buffer_reader.hpp"
#include "snapshot.hpp"
#include "symbol_enricher.hpp"
#include "system_check.hpp"
#include "target_tracker.hpp"

#ifndef LOCKTRACE_VERSION
#define LOCKTRACE_VERSION "0.0.0"
#endif

namespace locktrace {

namespace {

constexpr int kPollMs = 20;               // the consumer's timer: latency of a quiet stream
constexpr size_t kDrainBudget = 1 << 16;  // records per drain before flushing sinks
constexpr auto kLivenessInterval = std::chrono::seconds(1);
constexpr uint64_t kTickNs = 200'000'000;  // resolution of time-based findings on a quiet stream

uint64_t clock_ns(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

StreamInfo host_stream_info() {
  StreamInfo info;
  uint64_t mono = clock_ns(CLOCK_MONOTONIC);
  info.monotonic_to_realtime_ns =
      static_cast<int64_t>(clock_ns(CLOCK_REALTIME)) - static_cast<int64_t>(mono);
  time_t now = time(nullptr);
  tm local;
  localtime_r(&now, &local);
  info.utc_offset_s = static_cast<int32_t>(local.tm_gmtoff);
  info.start_ts_ns = mono;
  utsname uts;
  if (uname(&uts) == 0) {
    info.hostname = uts.nodename;
    info.kernel_release = uts.release;
  }
  info.tool_version = LOCKTRACE_VERSION;
  return info;
}

class Decoding : public RecordHandler {
 public:
  Decoding(Enricher& enricher, SymbolEnricher& symbols) : enricher_(enricher), symbols_(symbols) {}
  void on_record(std::span<const std::byte> record) override {
    uint16_t kind = 0;
    if (record.size() >= sizeof kind) std::memcpy(&kind, record.data(), sizeof kind);
    if (kind == LT_EV_STACK) {
      symbols_.on_stack(record);
      return;
    }
    if (decode_record(record, event_) != DecodeStatus::ok) {
      undecodable++;
      return;
    }
    if (const auto* call = std::get_if<LockCall>(&event_)) symbols_.name_lock(*call);
    enricher_.push(event_);
    const auto* exit = std::get_if<TaskExit>(&event_);
    if (exit && exit->group_dead) symbols_.forget(exit->h.pid);
    if (const auto* exec = std::get_if<Exec>(&event_)) symbols_.forget(exec->h.pid);
  }
  uint64_t undecodable = 0;

 private:
  Enricher& enricher_;
  SymbolEnricher& symbols_;
  Event event_;  // reused: a record is decoded over the previous one of its kind
};

// Takes exited targets out of the kernel's filter once their exit record (and so
// the lock releases the kernel made while tearing them down) has been seen, so a
// recycled pid is not traced by mistake.
// The session's own sinks, registered for its lifetime only.
class SessionSinks {
 public:
  SessionSinks(Pipeline& pipeline, std::initializer_list<EventSink*> sinks)
      : pipeline_(pipeline), sinks_(sinks) {
    for (auto* sink : sinks_) pipeline_.add_sink(*sink);
  }
  ~SessionSinks() {
    for (auto* sink : sinks_) pipeline_.remove_sink(*sink);
  }

 private:
  Pipeline& pipeline_;
  std::vector<EventSink*> sinks_;
};

class ForgetExitedTargets : public EventSink {
 public:
  explicit ForgetExitedTargets(Probes& probes) : probes_(probes) {}
  void on_event(const Event& event, const TraceState&) override {
    const auto* exit = std::get_if<TaskExit>(&event);
    if (!exit) return;
    probes_.remove_target_thread(exit->h.tid);
    if (exit->group_dead) probes_.remove_target_process(exit->h.pid);
  }

 private:
  Probes& probes_;
};

void validate_targets(const SessionOptions& options) {
  for (uint32_t pid : options.pids)
    if (!proc::process_exists(pid) || proc::thread_group_of(pid) != pid)
      throw Fatal(kExitNoTarget, "no such process: " + std::to_string(pid));
  for (uint32_t tid : options.tids)
    if (!proc::thread_group_of(tid))
      throw Fatal(kExitNoTarget, "no such thread: " + std::to_string(tid));
}

std::optional<Launcher> launch(const SessionOptions& options) {
  if (!options.command.empty()) return Launcher::command(options.command, options.command_stdout_to_stderr);
  if (options.workload) return Launcher(options.workload);
  return std::nullopt;
}

// Blocks the stop signals in every thread; the main thread takes them with
// sigtimedwait, so a signal never interrupts the consumer mid-record.
class BlockedSignals {
 public:
  BlockedSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~BlockedSignals() {
    // Leave no stop signal pending behind us.
    timespec zero{};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  // The next signal, or 0 after timeout_ms.
  int wait(int timeout_ms) const {
    timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000L};
    int sig = sigtimedwait(&set_, nullptr, &ts);
    return sig > 0 ? sig : 0;
  }

 private:
  sigset_t set_, old_;
};

}  // namespace

SessionResult run_session(const SessionOptions& options, Pipeline& pipeline) {
  require_privileges();
  require_kernel_btf();
  if (std::string mounted = ensure_tracefs(); !mounted.empty()) note(mounted);
  validate_targets(options);

  BlockedSignals signals;
  std::optional<Launcher> launched = launch(options);

  ProbeConfig config;
  config.follow_children = options.follow_children && options.tids.empty();
  config.filter_tids = !options.tids.empty();
  config.ring_buffer_bytes = options.ring_buffer_bytes;
  config.stack_mode = options.stack_mode;
  config.user_stack_bytes = options.user_stack_bytes;
  Probes probes(config);
  for (const auto& skipped : probes.skipped())
    note("tracepoint " + skipped + " is not available on this kernel: not traced");

  TargetTracker tracker(config.follow_children);
  EventCounter counter;
  ForgetExitedTargets forget(probes);
  SessionSinks session_sinks(pipeline, {&tracker, &counter, &forget});
  for (uint32_t pid : options.pids) {
    probes.add_target_process(pid);
    tracker.add(pid);
  }
  for (uint32_t tid : options.tids) {
    probes.add_target_thread(tid);
    if (auto tgid = proc::thread_group_of(tid)) tracker.add(*tgid);  // else it just exited
  }
  if (launched) {
    probes.add_target_process(static_cast<uint32_t>(launched->pid()));
    tracker.add(static_cast<uint32_t>(launched->pid()));
  }

  StreamInfo info = host_stream_info();
  pipeline.start(info);
  Enricher enricher(pipeline, &tracker);
  SymbolEnricher symbols(pipeline, probes.stack_map_fd());
  if (options.stack_mode != LT_STACKS_NONE)
    symbols.prepare(std::vector<uint32_t>(tracker.alive().begin(), tracker.alive().end()));
  for (uint32_t pid : tracker.alive()) enricher.describe_process(pid, info.start_ts_ns);
  if (!launched) {
    // Attached to running processes: what were they already waiting for?
    std::vector<uint32_t> pids(tracker.alive().begin(), tracker.alive().end());
    // A hang that began before tracing is where stacks matter most: copy all a
    // blocked thread's stack the kernel side could, whatever --stack-size says.
    uint32_t stack_bytes = options.stack_mode == LT_STACKS_NONE ? 0 : LT_STACK_MAX_BYTES;
    Snapshot snapshot = take_snapshot(pids, info.start_ts_ns, stack_bytes);
    for (const auto& [tid, sys] : snapshot.blocked)
      if (options.tids.empty() || std::ranges::count(options.tids, tid)) probes.mark_preexisting_wait(tid, sys);
    for (const auto& event : snapshot.events) {
      const auto* call = std::get_if<LockCall>(&event);
      if (call && !options.tids.empty() && !std::ranges::count(options.tids, call->h.tid)) continue;
      if (call) {
        if (auto stack = snapshot.stacks.find(call->h.tid); stack != snapshot.stacks.end())
          symbols.on_snapshot_stack(stack->second.record, stack->second.kernel);
        symbols.name_lock(*call);
      }
      enricher.push(event);
    }
  }
  pipeline.flush();
  if (launched) launched->release();

  Decoding decoding(enricher, symbols);
  RingBufferReader reader(probes.ring_buffer_fd(), decoding);
  std::atomic<bool> stop{false}, targets_gone{false};
  std::exception_ptr consumer_error;
  std::thread consumer([&] {
    try {
      auto next_liveness = std::chrono::steady_clock::now() + kLivenessInterval;
      uint64_t last_tick = info.start_ts_ns;
      while (!stop.load(std::memory_order_relaxed)) {
        reader.poll(kPollMs, kDrainBudget);
        if (uint64_t now = clock_ns(CLOCK_MONOTONIC); now >= last_tick + kTickNs) {
          pipeline.push(Tick{now});
          last_tick = now;
        }
        pipeline.flush();
        // Exit records can be lost with a full ring buffer: ask the kernel too.
        if (std::chrono::steady_clock::now() >= next_liveness) {
          std::vector<uint32_t> gone;
          for (uint32_t pid : tracker.alive())
            if (!proc::process_exists(pid)) gone.push_back(pid);
          for (uint32_t pid : gone) tracker.remove(pid);
          next_liveness += kLivenessInterval;
        }
        if (tracker.all_exited()) break;
        if (options.should_stop && options.should_stop()) break;
      }
      while (reader.drain(kDrainBudget) > 0) pipeline.flush();
      pipeline.flush();
    } catch (...) {
      consumer_error = std::current_exception();
    }
    targets_gone = true;
  });

  SessionResult result;
  uint64_t deadline = options.duration_ns ? clock_ns(CLOCK_MONOTONIC) + *options.duration_ns : 0;
  while (!targets_gone) {
    int sig = signals.wait(100);
    if (sig == SIGINT || sig == SIGTERM) {
      result.interrupted = true;
      break;
    }
    if (sig == SIGCHLD && launched) launched->try_wait();
    if (deadline && clock_ns(CLOCK_MONOTONIC) >= deadline) break;
  }
  stop = true;
  consumer.join();
  if (consumer_error) std::rethrow_exception(consumer_error);

  if (launched) {
    if (!launched->try_wait()) launched->terminate();
    result.command_status = launched->wait();
  }
  pipeline.finish();
  result.kernel_events = counter.kernel_events();
  result.counters = probes.counters();
  result.undecodable = decoding.undecodable + symbols.malformed();
  return result;
}

}  // namespace locktrace
