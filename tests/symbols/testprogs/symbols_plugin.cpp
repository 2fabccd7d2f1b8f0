// A shared library the symbolizer tests dlopen after the symbolizer has read
// the process's maps: code and data that appear later.
extern "C" {
int g_plugin_lock = 0;
}

namespace locktrace_plugin {

__attribute__((noinline)) int plugin_function(int x) {
  g_plugin_lock += x;
  return g_plugin_lock * 5;
}

}  // namespace locktrace_plugin

extern "C" void* locktrace_plugin_function() {
  return reinterpret_cast<void*>(&locktrace_plugin::plugin_function);
}
