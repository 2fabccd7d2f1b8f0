// What each subcommand does once its options are parsed. Returns the exit code.
#pragma once

#include "options.hpp"

namespace locktrace::cli {

int run_live(const LiveOptions& options);
int run_demo(const DemoOptions& options);

}  // namespace locktrace::cli
