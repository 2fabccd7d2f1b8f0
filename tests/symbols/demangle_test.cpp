#include "demangle.hpp"

#include <gtest/gtest.h>

namespace locktrace::symbols {
namespace {

TEST(Demangle, CxxNamesBecomeReadable) {
  EXPECT_EQ(demangle("_ZN2db4Pool7acquireEv"), "db::Pool::acquire()");
  EXPECT_EQ(demangle("_ZN16locktrace_target19namespaced_functionEi"),
            "locktrace_target::namespaced_function(int)");
  EXPECT_EQ(demangle("_ZNSt6vectorIiSaIiEE9push_backERKi"),
            "std::vector<int, std::allocator<int> >::push_back(int const&)");
}

TEST(Demangle, CompilerClonesKeepTheirSuffix) {
  EXPECT_EQ(demangle("_ZN2db4Pool7acquireEv.cold"), "db::Pool::acquire() [clone .cold]");
}

TEST(Demangle, CNamesAndGarbageAreLeftAlone) {
  EXPECT_EQ(demangle("pthread_mutex_lock"), "pthread_mutex_lock");
  EXPECT_EQ(demangle("f"), "f");  // would be "float" as a type encoding
  EXPECT_EQ(demangle("_Z"), "_Z");
  EXPECT_EQ(demangle("_Zxyz!"), "_Zxyz!");
  EXPECT_EQ(demangle(""), "");
}

}  // namespace
}  // namespace locktrace::symbols
