#include "demo_workload.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

namespace locktrace::cli {

namespace {

using namespace std::chrono_literals;

// Runs `body` in a named child process; returns its pid. `ready` is written once
// the child holds what it should hold, so the parent can start the contender.
pid_t spawn(const char* name, const std::function<void(int ready)>& body, int& ready_read) {
  int p[2];
  if (pipe(p) != 0) _exit(1);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    prctl(PR_SET_NAME, name);
    body(p[1]);
    _exit(0);
  }
  close(p[1]);
  ready_read = p[0];
  return pid;
}

void signal_ready(int fd) {
  char c = 1;
  (void)!write(fd, &c, 1);
  close(fd);
}

void await_ready(int fd) {
  char c;
  (void)!read(fd, &c, 1);
  close(fd);
}

void reap(pid_t pid) { waitpid(pid, nullptr, 0); }

bool set_posix_lock(int fd, short type, bool wait) {
  struct flock lock {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  return fcntl(fd, wait ? F_SETLKW : F_SETLK, &lock) == 0;
}

void flock_contention(const std::string& path) {
  int ready;
  pid_t holder = spawn("demo-holder", [&](int ready_fd) {
    int fd = open(path.c_str(), O_RDWR | O_CREAT, 0600);
    flock(fd, LOCK_EX);
    signal_ready(ready_fd);
    std::this_thread::sleep_for(300ms);
    flock(fd, LOCK_UN);
  }, ready);
  await_ready(ready);
  int ignored;
  pid_t waiter = spawn("demo-waiter", [&](int ready_fd) {
    close(ready_fd);
    int fd = open(path.c_str(), O_RDWR);
    flock(fd, LOCK_EX | LOCK_NB);  // fails: EWOULDBLOCK
    flock(fd, LOCK_EX);            // waits for demo-holder
    flock(fd, LOCK_UN);
  }, ignored);
  close(ignored);
  reap(waiter);
  reap(holder);
}

void posix_contention(const std::string& path) {
  int ready;
  pid_t holder = spawn("demo-db-owner", [&](int ready_fd) {
    int fd = open(path.c_str(), O_RDWR | O_CREAT, 0600);
    set_posix_lock(fd, F_WRLCK, true);
    signal_ready(ready_fd);
    std::this_thread::sleep_for(200ms);
    set_posix_lock(fd, F_UNLCK, false);
  }, ready);
  await_ready(ready);
  int ignored;
  pid_t client = spawn("demo-db-client", [&](int ready_fd) {
    close(ready_fd);
    int fd = open(path.c_str(), O_RDWR);
    set_posix_lock(fd, F_RDLCK, false);  // fails: EAGAIN, "database is locked"
    set_posix_lock(fd, F_RDLCK, true);   // waits
  }, ignored);
  close(ignored);
  reap(client);
  reap(holder);
}

void mutex_contention() {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&mutex);
  std::thread worker([&] {
    pthread_setname_np(pthread_self(), "demo-worker");
    pthread_mutex_lock(&mutex);  // waits in FUTEX_WAIT until main unlocks
    pthread_mutex_unlock(&mutex);
  });
  std::this_thread::sleep_for(150ms);
  pthread_mutex_unlock(&mutex);
  worker.join();
}

void holder_killed(const std::string& path) {
  int ready;
  pid_t victim = spawn("demo-victim", [&](int ready_fd) {
    int fd = open(path.c_str(), O_RDWR | O_CREAT, 0600);
    flock(fd, LOCK_EX);
    signal_ready(ready_fd);
    pause();
  }, ready);
  await_ready(ready);
  kill(victim, SIGTERM);  // the kernel releases its lock as it dies
  reap(victim);
}

}  // namespace

int run_demo_workload() {
  prctl(PR_SET_NAME, "demo");
  char dir_template[] = "/tmp/locktrace-demo-XXXXXX";
  if (!mkdtemp(dir_template)) return 1;
  std::filesystem::path dir = dir_template;
  flock_contention(dir / "queue.lock");
  posix_contention(dir / "app.db");
  mutex_contention();
  holder_killed(dir / "victim.lock");
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace locktrace::cli
