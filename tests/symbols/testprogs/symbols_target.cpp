// symbols_target: a program whose symbols and stack the symbolizer tests know,
// built with and without frame pointers, at -O0 and -O2, PIE and not. It
// prints the runtime addresses of its own symbols, then blocks in read() on
// stdin three calls deep (outer -> middle -> inner) until stdin is closed.
#include <unistd.h>

#include <cstdio>

int g_test_lock = 0;               // a global object
static long s_static_counters[4];  // a static object: a local symbol

namespace locktrace_target {

__attribute__((noinline)) int namespaced_function(int x) {
  g_test_lock += x;
  return g_test_lock * 3;
}

// noclone keeps the names; the empty asm and the arithmetic after each call keep
// the calls from becoming tail calls, so every function has a frame.
__attribute__((noinline, noclone)) long inner(int fd) {
  char c;
  long n = read(fd, &c, 1);
  asm volatile("" ::: "memory");
  return n + s_static_counters[fd & 3];
}

__attribute__((noinline, noclone)) long middle(int fd) {
  long r = inner(fd);
  asm volatile("" ::: "memory");
  return r + 1;
}

__attribute__((noinline, noclone)) long outer(int fd) {
  long r = middle(fd);
  asm volatile("" ::: "memory");
  return r * 2;
}

}  // namespace locktrace_target

int main() {
  std::printf("function %p\n", reinterpret_cast<void*>(&locktrace_target::namespaced_function));
  std::printf("g_test_lock %p\n", static_cast<void*>(&g_test_lock));
  std::printf("static %p\n", static_cast<void*>(&s_static_counters[2]));
  std::printf("ready %d\n", locktrace_target::namespaced_function(1));
  std::fflush(stdout);
  return locktrace_target::outer(0) == 12345 ? 1 : 0;
}
