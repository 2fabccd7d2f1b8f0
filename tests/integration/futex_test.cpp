// pthread mutexes: contention seen as futex calls.
#include "locktrace_test.hpp"

namespace locktrace::integration {
namespace {

constexpr uint64_t kFutexWaiters = 0x80000000;  // FUTEX_WAITERS
constexpr uint64_t kFutexTidMask = 0x3fffffff;  // FUTEX_TID_MASK

class FutexTest : public LocktraceTest {};

// The op names carry _PRIVATE and such suffixes: compare their stem.
bool futex_op_is(const Json& e, std::string_view op) {
  const Json& name = field(e, "/args/op");
  if (!name.is_string()) return false;
  std::string_view text = name.get_ref<const std::string&>();
  return text == op || (text.starts_with(op) && text.substr(op.size()).starts_with("_PRIVATE"));
}

TEST_F(FutexTest, MutexContentionWaitsInFutexWaitAndIsWokenByFutexWake) {
  Events events = trace_json({"live", "--json", "--", SCENARIO_MUTEX_CONTENTION});
  auto pid = exec_pid(events, SCENARIO_MUTEX_CONTENTION);
  ASSERT_TRUE(pid) << dump(events);

  // The waiter thread (not the main one) blocks in FUTEX_WAIT on the mutex...
  auto wait = find_event(events, [&](const Json& e) {
    return is_lock_call(e, "futex", "wait") && field(e, "/pid") == *pid &&
           field(e, "/tid") != *pid && futex_op_is(e, "FUTEX_WAIT");
  });
  ASSERT_TRUE(wait) << dump(events);
  const Json& w = events[*wait];
  const Json& mutex = field(w, "/args/uaddr");
  ASSERT_TRUE(mutex.is_string()) << w.dump();
  EXPECT_EQ(field(w, "/blocked"), true) << w.dump();
  EXPECT_EQ(field(w, "/futex_word"), 2) << "glibc marks a contended mutex 2\n" << w.dump();

  auto done = find_event(events, *wait, [&](const Json& e) {
    return is_lock_call(e, "futex", "done") && field(e, "/tid") == field(w, "/tid") &&
           futex_op_is(e, "FUTEX_WAIT") && field(e, "/args/uaddr") == mutex;
  });
  ASSERT_TRUE(done) << dump(events);
  EXPECT_EQ(field(events[*done], "/ret"), 0) << events[*done].dump();
  EXPECT_EQ(field(events[*done], "/enter_ts_ns"), field(w, "/enter_ts_ns"));

  // ...and the main thread's unlock wakes it.
  auto wake = find_event(events, [&](const Json& e) {
    return is_lock_call(e, "futex", "done") && field(e, "/tid") == *pid &&
           futex_op_is(e, "FUTEX_WAKE") && field(e, "/args/uaddr") == mutex;
  });
  ASSERT_TRUE(wake) << dump(events);
  EXPECT_EQ(field(events[*wake], "/ret"), 1) << "one waiter woken\n" << events[*wake].dump();
}

TEST_F(FutexTest, PriorityInheritanceMutexGoesThroughLockPiAndUnlockPi) {
  Events events = trace_json({"live", "--json", "--", SCENARIO_PI_MUTEX});
  auto pid = exec_pid(events, SCENARIO_PI_MUTEX);
  ASSERT_TRUE(pid) << dump(events);

  auto wait = find_event(events, [&](const Json& e) {
    return is_lock_call(e, "futex", "wait") && field(e, "/pid") == *pid &&
           field(e, "/tid") != *pid && futex_op_is(e, "FUTEX_LOCK_PI");
  });
  ASSERT_TRUE(wait) << dump(events);
  const Json& w = events[*wait];
  const Json& mutex = field(w, "/args/uaddr");
  ASSERT_TRUE(mutex.is_string()) << w.dump();
  EXPECT_EQ(field(w, "/blocked"), true) << w.dump();
  // A PI futex word holds its owner's TID: the main thread's.
  ASSERT_TRUE(field(w, "/futex_word").is_number()) << w.dump();
  EXPECT_EQ(field(w, "/futex_word").get<uint64_t>() & kFutexTidMask, static_cast<uint64_t>(*pid))
      << w.dump();

  auto unlock = find_event(events, [&](const Json& e) {
    return is_lock_call(e, "futex", "done") && field(e, "/tid") == *pid &&
           futex_op_is(e, "FUTEX_UNLOCK_PI") && field(e, "/args/uaddr") == mutex;
  });
  ASSERT_TRUE(unlock) << dump(events);
  const Json& u = events[*unlock];
  EXPECT_EQ(field(u, "/ret"), 0) << u.dump();
  ASSERT_TRUE(field(u, "/futex_word").is_number()) << u.dump();
  uint64_t word = field(u, "/futex_word").get<uint64_t>();
  EXPECT_EQ(word & kFutexTidMask, static_cast<uint64_t>(*pid)) << u.dump();
  EXPECT_TRUE(word & kFutexWaiters) << "the kernel flags the waiter in the word\n" << u.dump();

  auto acquired = find_event(events, *wait, [&](const Json& e) {
    return is_lock_call(e, "futex", "done") && field(e, "/tid") == field(w, "/tid") &&
           futex_op_is(e, "FUTEX_LOCK_PI") && field(e, "/args/uaddr") == mutex;
  });
  ASSERT_TRUE(acquired) << dump(events);
  EXPECT_EQ(field(events[*acquired], "/ret"), 0) << events[*acquired].dump();
  EXPECT_TRUE(field(events[*acquired], "/futex_word").is_number()) << events[*acquired].dump();
}

}  // namespace
}  // namespace locktrace::integration
