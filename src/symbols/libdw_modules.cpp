#include "libdw_modules.hpp"

#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "elf_file.hpp"

namespace locktrace::symbols {

namespace {

// Every module is reported with its ELF already open, so libdw has nothing to find.
int no_elf(Dwfl_Module*, void**, const char*, Dwarf_Addr, char**, Elf**) {
  errno = ENOENT;
  return -1;
}

int debug_file_of_module(Dwfl_Module*, void** userdata, const char*, Dwarf_Addr, const char*,
                         const char*, GElf_Word, char** debuginfo_file_name) {
  auto* elf = static_cast<ElfFile*>(*userdata);
  if (elf == nullptr || elf->debug_file().empty()) {
    errno = ENOENT;
    return -1;
  }
  int fd = ::open(elf->debug_file().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) *debuginfo_file_name = strdup(elf->debug_file().c_str());
  return fd;
}

const Dwfl_Callbacks kCallbacks = {
    .find_elf = no_elf,
    .find_debuginfo = debug_file_of_module,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = nullptr,
};

}  // namespace

void DwflDeleter::operator()(Dwfl* dwfl) const { dwfl_end(dwfl); }

DwflPtr new_dwfl_session() { return DwflPtr(dwfl_begin(&kCallbacks)); }

Dwfl_Module* report_elf(Dwfl* dwfl, ElfFile& elf, const char* name, uint64_t bias) {
  int fd = ::dup(elf.fd());
  if (fd < 0) return nullptr;
  // libdw owns FD once the module is reported; a failed report leaves it to us.
  Dwfl_Module* module = dwfl_report_elf(dwfl, name, elf.path().c_str(), fd, bias, true);
  if (module == nullptr) {
    ::close(fd);
    return nullptr;
  }
  void** userdata = nullptr;
  dwfl_module_info(module, &userdata, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
  if (userdata != nullptr) *userdata = &elf;
  return module;
}

}  // namespace locktrace::symbols
