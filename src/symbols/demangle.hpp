// C++ (Itanium ABI) symbol names made readable.
#pragma once

#include <string>
#include <string_view>

namespace locktrace::symbols {

// "_ZN2db4Pool7acquireEv" -> "db::Pool::acquire()"; any other name, or one the
// demangler rejects, is returned unchanged.
std::string demangle(std::string_view name);

}  // namespace locktrace::symbols
