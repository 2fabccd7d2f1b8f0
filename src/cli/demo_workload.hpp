#pragma once

namespace locktrace::cli {

// The built-in demo: two processes contending on a flock lock (one fails with
// EWOULDBLOCK first, then waits), the same with POSIX fcntl locks, two threads on
// a pthread mutex, and a lock holder killed by a signal. About a second in all.
int run_demo_workload();

}  // namespace locktrace::cli
