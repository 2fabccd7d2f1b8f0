// How locktrace hands its binaries to libdw: a Dwfl session whose callbacks
// never search on their own (no debuginfod, no path guessing), with modules
// read from ElfFiles' images in memory (no file descriptor per module and
// process) and debug files that ElfFile has found.
#pragma once

#include <cstdint>
#include <memory>

typedef struct Dwfl Dwfl;
typedef struct Dwfl_Module Dwfl_Module;

namespace locktrace::symbols {

class ElfFile;

struct DwflDeleter {
  void operator()(Dwfl* dwfl) const;
};
using DwflPtr = std::unique_ptr<Dwfl, DwflDeleter>;

DwflPtr new_dwfl_session();

// Between dwfl_report_begin and dwfl_report_end: places ELF at load bias BIAS.
// ELF must outlive the session (libdw reads its image and asks it for the
// debug file later).
Dwfl_Module* report_elf(Dwfl* dwfl, ElfFile& elf, const char* name, uint64_t bias);

}  // namespace locktrace::symbols
