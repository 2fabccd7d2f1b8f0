// flock(2), fcntl(2) and OFD locks between real processes.
#include "locktrace_test.hpp"

namespace locktrace::integration {
namespace {

constexpr int64_t kMinBlockedNs = 1'000'000;  // the holders keep their lock for 300 ms

class FileLockTest : public LocktraceTest {};

TEST_F(FileLockTest, FlockWaiterIsReportedWaitingThenDoneNamingTheHolder) {
  std::string file = tmp_.file("queue.lock");
  Events events = trace_json({"live", "--json", "--", SCENARIO_FLOCK_CONTENTION, file});

  auto holder = exec_pid(events, SCENARIO_FLOCK_CONTENTION);
  ASSERT_TRUE(holder) << dump(events);
  auto children = forked_processes(events, *holder);
  ASSERT_EQ(children.size(), 1u) << dump(events);
  int64_t waiter = children[0];

  auto waiter_lock = [&](std::string_view phase) {
    return [&, phase](const Json& e) {
      return is_lock_call(e, "flock", phase) && field(e, "/pid") == waiter &&
             field(e, "/args/operation") == "LOCK_EX";
    };
  };
  auto wait = find_event(events, waiter_lock("wait"));
  auto done = find_event(events, waiter_lock("done"));
  ASSERT_TRUE(wait && done) << dump(events);
  EXPECT_LT(*wait, *done) << dump(events);

  const Json& w = events[*wait];
  EXPECT_EQ(field(w, "/blocked"), true);
  EXPECT_EQ(field(w, "/args/path"), file);
  EXPECT_EQ(field(w, "/lock/kind"), "flock");
  EXPECT_EQ(field(w, "/lock/type"), "F_WRLCK");
  EXPECT_EQ(field(w, "/lock/path"), file);
  EXPECT_EQ(field(w, "/blocker/pid"), *holder) << w.dump();
  EXPECT_EQ(field(w, "/blocker/kind"), "flock");
  EXPECT_EQ(field(w, "/blocker/type"), "F_WRLCK");
  EXPECT_FALSE(w.contains("ret")) << w.dump();

  const Json& d = events[*done];
  EXPECT_EQ(field(d, "/enter_ts_ns"), field(w, "/enter_ts_ns"))
      << "the done record closes the waiting call";
  EXPECT_EQ(field(d, "/ret"), 0);
  EXPECT_FALSE(d.contains("errno")) << d.dump();
  EXPECT_EQ(field(d, "/blocked"), true);
  EXPECT_GE(field(d, "/duration_ns").get<int64_t>(), kMinBlockedNs) << d.dump();
  EXPECT_EQ(field(d, "/blocker/pid"), *holder) << d.dump();

  // The holder's own LOCK_EX found the lock free.
  auto holder_lock = find_event(events, [&](const Json& e) {
    return is_lock_call(e, "flock", "done") && field(e, "/pid") == *holder &&
           field(e, "/args/operation") == "LOCK_EX";
  });
  ASSERT_TRUE(holder_lock) << dump(events);
  EXPECT_EQ(field(events[*holder_lock], "/ret"), 0);
  EXPECT_EQ(field(events[*holder_lock], "/blocked"), false);
}

// flock(1) -n against another flock(1) holding the lock.
class FlockCommandTest : public LocktraceTest {
 protected:
  void SetUp() override {
    LocktraceTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    holder_.emplace(
        std::vector<std::string>{"flock", file_, "sh", "-c", "echo locked; exec sleep 120"});
    ASSERT_EQ(holder_->read_line(), "locked");
  }
  std::string file_ = tmp_.file("held.lock");
  std::optional<Background> holder_;
};

TEST_F(FlockCommandTest, NonBlockingFlockFailsWithEwouldblock) {
  // flock(1) exits 1 when -n finds the lock taken.
  Events events = trace_json({"live", "--json", "--", "flock", "-n", file_, "true"}, 1);

  auto failed = find_event(events, [&](const Json& e) {
    return is_lock_call(e, "flock", "done") && field(e, "/args/operation") == "LOCK_EX|LOCK_NB";
  });
  ASSERT_TRUE(failed) << dump(events);
  const Json& f = events[*failed];
  EXPECT_EQ(field(f, "/ret"), -11) << f.dump();
  EXPECT_EQ(field(f, "/errno"), 11) << f.dump();
  EXPECT_EQ(field(f, "/errno_name"), "EWOULDBLOCK") << f.dump();
  EXPECT_EQ(field(f, "/error"), "Resource temporarily unavailable") << f.dump();
  EXPECT_EQ(field(f, "/may_block"), false);
  EXPECT_EQ(field(f, "/blocked"), false);
  // flock(1) exits before locktrace can name its descriptor: a path is optional here.
  if (!field(f, "/args/path").is_null()) {
    EXPECT_EQ(field(f, "/args/path"), file_);
  }
  EXPECT_FALSE(find_event(events, [](const Json& e) { return is_lock_call(e, "flock", "wait"); }))
      << "a non-blocking call never waits\n"
      << dump(events);
}

TEST_F(FlockCommandTest, HumanOutputSpellsOutTheFailure) {
  RunResult result = locktrace({"live", "--", "flock", "-n", file_, "true"});
  EXPECT_EQ(result.exit_code, 1) << result.describe();
  EXPECT_NE(result.out.find("LOCK_EX|LOCK_NB"), std::string::npos) << result.describe();
  EXPECT_NE(result.out.find("EWOULDBLOCK (Resource temporarily unavailable)"), std::string::npos)
      << result.describe();
  EXPECT_EQ(result.out.find("{\""), std::string::npos) << "no JSON without --json\n"
                                                       << result.describe();
}

// fcntl_locks in its POSIX and OFD flavours: the same story, other commands.
struct FcntlFlavour {
  const char* mode;
  const char* setlk;
  const char* setlkw;
  const char* kind;
};

void PrintTo(const FcntlFlavour& flavour, std::ostream* os) { *os << flavour.mode; }

class FcntlLockTest : public LocktraceTest, public ::testing::WithParamInterface<FcntlFlavour> {};

TEST_P(FcntlLockTest, NonBlockingAttemptFailsThenBlockingOneWaitsForTheHolder) {
  const FcntlFlavour& flavour = GetParam();
  std::string file = tmp_.file("app.db");
  Events events = trace_json({"live", "--json", "--", SCENARIO_FCNTL_LOCKS, file, flavour.mode});

  auto holder = exec_pid(events, SCENARIO_FCNTL_LOCKS);
  ASSERT_TRUE(holder) << dump(events);
  auto children = forked_processes(events, *holder);
  ASSERT_EQ(children.size(), 1u) << dump(events);
  int64_t waiter = children[0];
  auto waiter_call = [&](std::string_view cmd, std::string_view phase) {
    return find_event(events, [&](const Json& e) {
      return is_lock_call(e, "fcntl", phase) && field(e, "/pid") == waiter &&
             field(e, "/args/cmd") == cmd && field(e, "/args/lock/type") == "F_WRLCK";
    });
  };

  auto eagain = waiter_call(flavour.setlk, "done");
  ASSERT_TRUE(eagain) << dump(events);
  const Json& a = events[*eagain];
  EXPECT_EQ(field(a, "/ret"), -11) << a.dump();
  EXPECT_EQ(field(a, "/errno"), 11) << a.dump();
  EXPECT_EQ(field(a, "/errno_name"), "EAGAIN") << a.dump();
  EXPECT_EQ(field(a, "/may_block"), false);
  EXPECT_EQ(field(a, "/lock/kind"), flavour.kind) << a.dump();

  auto wait = waiter_call(flavour.setlkw, "wait");
  auto done = waiter_call(flavour.setlkw, "done");
  ASSERT_TRUE(wait && done) << dump(events);
  EXPECT_LT(*eagain, *wait);
  EXPECT_LT(*wait, *done);
  const Json& w = events[*wait];
  EXPECT_EQ(field(w, "/may_block"), true);
  EXPECT_EQ(field(w, "/blocked"), true);
  EXPECT_EQ(field(w, "/args/path"), file);
  EXPECT_EQ(field(w, "/lock/kind"), flavour.kind) << w.dump();
  EXPECT_EQ(field(w, "/blocker/pid"), *holder) << w.dump();
  EXPECT_EQ(field(w, "/blocker/kind"), flavour.kind) << w.dump();
  EXPECT_EQ(field(w, "/blocker/type"), "F_WRLCK") << w.dump();

  const Json& d = events[*done];
  EXPECT_EQ(field(d, "/enter_ts_ns"), field(w, "/enter_ts_ns"))
      << "the done record closes the waiting call";
  EXPECT_EQ(field(d, "/ret"), 0) << d.dump();
  EXPECT_FALSE(d.contains("errno")) << d.dump();
  EXPECT_GE(field(d, "/duration_ns").get<int64_t>(), kMinBlockedNs) << d.dump();
}

INSTANTIATE_TEST_SUITE_P(Flavours, FcntlLockTest,
                         ::testing::Values(FcntlFlavour{"posix", "F_SETLK", "F_SETLKW", "posix"},
                                           FcntlFlavour{"ofd", "F_OFD_SETLK", "F_OFD_SETLKW",
                                                        "ofd"}),
                         [](const auto& info) { return std::string(info.param.mode); });

}  // namespace
}  // namespace locktrace::integration
