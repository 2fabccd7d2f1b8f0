#include "libdw_modules.hpp"

#include <elfutils/libdwfl.h>
#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "elf_file.hpp"

namespace locktrace::symbols {

namespace {

// The module's own ElfFile, its image opened once more by libdw, which ends
// that handle with the session.
int elf_of_module(Dwfl_Module*, void** userdata, const char*, Dwarf_Addr, char**, Elf** elfp) {
  const auto* elf = static_cast<const ElfFile*>(*userdata);
  auto image = elf != nullptr ? elf->image() : std::span<const std::byte>();
  if (!image.empty())
    *elfp = elf_memory(reinterpret_cast<char*>(const_cast<std::byte*>(image.data())), image.size());
  errno = ENOENT;
  return -1;  // no descriptor
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
    .find_elf = elf_of_module,
    .find_debuginfo = debug_file_of_module,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = nullptr,
};

}  // namespace

void DwflDeleter::operator()(Dwfl* dwfl) const { dwfl_end(dwfl); }

DwflPtr new_dwfl_session() { return DwflPtr(dwfl_begin(&kCallbacks)); }

Dwfl_Module* report_elf(Dwfl* dwfl, ElfFile& elf, const char* name, uint64_t bias) {
  // libdw takes the lowest PT_LOAD's aligned vaddr at the module's start as
  // bias 0, so the module starts at that address plus the bias.
  auto [low, high] = elf.address_range();
  if (high <= low) return nullptr;
  Dwfl_Module* module = dwfl_report_module(dwfl, name, low + bias, high + bias);
  if (module == nullptr) return nullptr;
  void** userdata = nullptr;
  dwfl_module_info(module, &userdata, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
  if (userdata != nullptr) *userdata = &elf;
  return module;
}

}  // namespace locktrace::symbols
