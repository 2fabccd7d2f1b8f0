#include "demangle.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace locktrace::symbols {

std::string demangle(std::string_view name) {
  // Itanium mangled names start with _Z; the demangler would also "demangle"
  // plain C names that happen to look like type encodings ("f" -> "float").
  if (!name.starts_with("_Z")) return std::string(name);
  std::string terminated(name);
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(
      abi::__cxa_demangle(terminated.c_str(), nullptr, nullptr, &status), &std::free);
  if (status != 0 || !out) return terminated;
  return out.get();
}

}  // namespace locktrace::symbols
