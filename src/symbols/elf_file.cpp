#include "elf_file.hpp"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace locktrace::symbols {

namespace {

constexpr uint64_t kPageMask = 4096 - 1;

// libelf must be told which ELF version the caller speaks before any other call.
bool init_libelf() {
  static const bool ok = elf_version(EV_CURRENT) != EV_NONE;
  return ok;
}

std::string to_hex(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    hex.push_back(kDigits[bytes[i] >> 4]);
    hex.push_back(kDigits[bytes[i] & 0xf]);
  }
  return hex;
}

std::string build_id_in_notes(Elf_Data* data) {
  if (data == nullptr) return {};
  GElf_Nhdr note;
  size_t name_offset = 0;
  size_t desc_offset = 0;
  size_t offset = 0;
  while (offset < data->d_size &&
         (offset = gelf_getnote(data, offset, &note, &name_offset, &desc_offset)) > 0) {
    const auto* base = static_cast<const unsigned char*>(data->d_buf);
    if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 &&
        std::memcmp(base + name_offset, "GNU", 4) == 0 && note.n_descsz > 0)
      return to_hex(base + desc_offset, note.n_descsz);
  }
  return {};
}

std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

bool file_exists(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

std::string build_id_of_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd || !init_libelf()) return {};
  Elf* elf = elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr);
  if (elf == nullptr) return {};
  std::string id = read_build_id(elf);
  elf_end(elf);
  return id;
}

enum class SymbolKind { kFunction, kObject, kOther };

SymbolKind kind_of(const GElf_Sym& sym) {
  if (sym.st_shndx == SHN_UNDEF || sym.st_shndx == SHN_ABS || sym.st_value == 0)
    return SymbolKind::kOther;
  switch (GELF_ST_TYPE(sym.st_info)) {
    case STT_FUNC:
    case STT_GNU_IFUNC:
      return SymbolKind::kFunction;
    case STT_OBJECT:
      return SymbolKind::kObject;
    default:
      return SymbolKind::kOther;
  }
}

// Of several names for one address, the one a person would pick: global before
// weak before local, sized before unsized, fewer leading underscores, shorter.
struct RankedSymbol {
  ElfSymbol symbol;
  int binding_rank = 0;
};

int binding_rank(const GElf_Sym& sym) {
  switch (GELF_ST_BIND(sym.st_info)) {
    case STB_GLOBAL:
      return 0;
    case STB_WEAK:
      return 1;
    default:
      return 2;
  }
}

size_t leading_underscores(const std::string& name) {
  size_t n = 0;
  while (n < name.size() && name[n] == '_') ++n;
  return n;
}

bool preferred(const RankedSymbol& a, const RankedSymbol& b) {
  if (a.symbol.address != b.symbol.address) return a.symbol.address < b.symbol.address;
  if ((a.symbol.size == 0) != (b.symbol.size == 0)) return a.symbol.size != 0;
  if (a.binding_rank != b.binding_rank) return a.binding_rank < b.binding_rank;
  size_t ua = leading_underscores(a.symbol.name), ub = leading_underscores(b.symbol.name);
  if (ua != ub) return ua < ub;
  if (a.symbol.name.size() != b.symbol.name.size())
    return a.symbol.name.size() < b.symbol.name.size();
  return a.symbol.name < b.symbol.name;
}

void read_symbol_table(Elf* elf, Elf_Scn* scn, const GElf_Shdr& shdr,
                       std::vector<RankedSymbol>& functions, std::vector<RankedSymbol>& objects) {
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (data == nullptr || shdr.sh_entsize == 0) return;
  size_t count = shdr.sh_size / shdr.sh_entsize;
  for (size_t i = 0; i < count; ++i) {
    GElf_Sym sym;
    if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
    SymbolKind kind = kind_of(sym);
    if (kind == SymbolKind::kOther) continue;
    const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
    if (name == nullptr || *name == '\0') continue;
    // glibc's full symbol table spells versions into names: "pthread_mutex_lock@@GLIBC_2.2.5".
    std::string_view plain(name);
    plain = plain.substr(0, plain.find('@'));
    RankedSymbol ranked{{sym.st_value, sym.st_size, std::string(plain)}, binding_rank(sym)};
    (kind == SymbolKind::kFunction ? functions : objects).push_back(std::move(ranked));
  }
}

// Reads the symbol tables of type TYPE (SHT_SYMTAB, SHT_DYNSYM); true if any exists.
bool read_symbol_tables(Elf* elf, Elf64_Word type, std::vector<RankedSymbol>& functions,
                        std::vector<RankedSymbol>& objects) {
  bool found = false;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != type) continue;
    found = true;
    read_symbol_table(elf, scn, shdr, functions, objects);
  }
  return found;
}

std::vector<ElfSymbol> one_per_address(std::vector<RankedSymbol> ranked) {
  std::sort(ranked.begin(), ranked.end(), preferred);
  std::vector<ElfSymbol> symbols;
  symbols.reserve(ranked.size());
  for (auto& r : ranked) {
    if (!symbols.empty() && symbols.back().address == r.symbol.address) continue;
    symbols.push_back(std::move(r.symbol));
  }
  return symbols;
}

const ElfSymbol* last_at_or_below(const std::vector<ElfSymbol>& symbols, uint64_t vaddr) {
  auto next = std::upper_bound(symbols.begin(), symbols.end(), vaddr,
                               [](uint64_t a, const ElfSymbol& s) { return a < s.address; });
  return next == symbols.begin() ? nullptr : &*std::prev(next);
}

}  // namespace

std::string read_build_id(Elf* elf) {
  size_t phnum = 0;
  if (elf_getphdrnum(elf, &phnum) == 0) {
    for (size_t i = 0; i < phnum; ++i) {
      GElf_Phdr phdr;
      if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr || phdr.p_type != PT_NOTE)
        continue;
      std::string id = build_id_in_notes(elf_getdata_rawchunk(
          elf, static_cast<int64_t>(phdr.p_offset), phdr.p_filesz, ELF_T_NHDR));
      if (!id.empty()) return id;
    }
  }
  // Separate debug files keep the note section but not always a PT_NOTE.
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_NOTE) continue;
    std::string id = build_id_in_notes(elf_getdata(scn, nullptr));
    if (!id.empty()) return id;
  }
  return {};
}

std::unique_ptr<ElfFile> ElfFile::open(UniqueFd fd, std::string path, std::string debug_root) {
  if (!fd || !init_libelf()) return nullptr;
  Elf* elf = elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr);
  if (elf == nullptr) return nullptr;
  // Reads whatever libelf could not map and stops libelf from using FD.
  if (elf_kind(elf) != ELF_K_ELF || elf_cntl(elf, ELF_C_FDREAD) != 0) {
    elf_end(elf);
    return nullptr;
  }
  std::unique_ptr<ElfFile> file(new ElfFile(elf, std::move(path), std::move(debug_root)));
  file->read_headers();
  return file;
}

std::unique_ptr<ElfFile> ElfFile::from_image(std::string name, std::span<const std::byte> image) {
  if (!init_libelf()) return nullptr;
  // No debug root: an image has no file name to find debug files by.
  std::unique_ptr<ElfFile> file(new ElfFile(nullptr, std::move(name), ""));
  file->copied_image_.assign(image.begin(), image.end());
  file->elf_ =
      elf_memory(reinterpret_cast<char*>(file->copied_image_.data()), file->copied_image_.size());
  if (file->elf_ == nullptr || elf_kind(file->elf_) != ELF_K_ELF) return nullptr;
  file->read_headers();
  return file;
}

ElfFile::ElfFile(Elf* elf, std::string path, std::string debug_root)
    : elf_(elf), path_(std::move(path)), debug_root_(std::move(debug_root)) {}

ElfFile::~ElfFile() {
  if (elf_ != nullptr) elf_end(elf_);
}

std::span<const std::byte> ElfFile::image() const {
  size_t size = 0;
  const char* data = elf_rawfile(elf_, &size);
  return {reinterpret_cast<const std::byte*>(data), data == nullptr ? 0 : size};
}

std::pair<uint64_t, uint64_t> ElfFile::address_range() const {
  if (segments_.empty()) return {0, 0};
  const LoadSegment& first = segments_.front();
  uint64_t low = first.align > 1 ? first.vaddr & ~(first.align - 1) : first.vaddr;
  uint64_t high = 0;
  for (const LoadSegment& seg : segments_) high = std::max(high, seg.vaddr + seg.memsz);
  return {low, high};
}

void ElfFile::read_headers() {
  build_id_ = read_build_id(elf_);
  size_t phnum = 0;
  if (elf_getphdrnum(elf_, &phnum) == 0) {
    for (size_t i = 0; i < phnum; ++i) {
      GElf_Phdr phdr;
      if (gelf_getphdr(elf_, static_cast<int>(i), &phdr) == nullptr || phdr.p_type != PT_LOAD)
        continue;
      segments_.push_back({phdr.p_vaddr, phdr.p_memsz, phdr.p_offset, phdr.p_filesz, phdr.p_align,
                           (phdr.p_flags & PF_X) != 0});
    }
  }
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf_, &shstrndx) != 0) return;
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn != nullptr; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_PROGBITS) continue;
    const char* name = elf_strptr(elf_, shstrndx, shdr.sh_name);
    if (name == nullptr || std::strcmp(name, ".gnu_debuglink") != 0) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data != nullptr && data->d_size > 0)
      debuglink_.assign(static_cast<const char*>(data->d_buf),
                        strnlen(static_cast<const char*>(data->d_buf), data->d_size));
  }
}

std::optional<uint64_t> ElfFile::load_bias(uint64_t map_start, uint64_t map_offset, bool executable,
                                           std::optional<uint64_t> expected) const {
  // The kernel maps each PT_LOAD from its page-aligned file offset to its
  // page-aligned vaddr, so within a segment address = bias + vaddr + (file
  // offset - p_offset).
  std::optional<uint64_t> same_permissions;
  std::optional<uint64_t> any;
  for (const LoadSegment& seg : segments_) {
    uint64_t first = seg.offset & ~kPageMask;
    uint64_t last = seg.offset + std::max<uint64_t>(seg.filesz, 1);
    if (map_offset < first || map_offset >= last) continue;
    uint64_t bias = map_start - map_offset + seg.offset - seg.vaddr;
    if (bias == expected) return bias;
    if (!same_permissions && seg.executable == executable) same_permissions = bias;
    if (!any) any = bias;
  }
  return same_permissions ? same_permissions : any;
}

bool ElfFile::has_code() const {
  return std::any_of(segments_.begin(), segments_.end(),
                     [](const LoadSegment& seg) { return seg.executable && seg.filesz > 0; });
}

const std::string& ElfFile::debug_file() {
  if (!debug_file_) debug_file_ = find_debug_file();
  return *debug_file_;
}

std::string ElfFile::find_debug_file() const {
  if (debug_root_.empty()) return {};
  if (build_id_.size() > 2) {
    std::string by_id =
        debug_root_ + "/.build-id/" + build_id_.substr(0, 2) + "/" + build_id_.substr(2) + ".debug";
    if (file_exists(by_id)) return by_id;
  }
  if (debuglink_.empty()) return {};
  std::string dir = directory_of(path_);
  for (const std::string& candidate : {dir + "/" + debuglink_, dir + "/.debug/" + debuglink_,
                                       debug_root_ + dir + "/" + debuglink_}) {
    if (candidate == path_ || !file_exists(candidate)) continue;
    // A debuglink names a file, not a version of it: only the same build id
    // describes this binary.
    if (build_id_.empty() || build_id_of_file(candidate) == build_id_) return candidate;
  }
  return {};
}

void ElfFile::load_symbols() {
  symbols_loaded_ = true;
  std::vector<RankedSymbol> functions;
  std::vector<RankedSymbol> objects;
  bool have_symtab = read_symbol_tables(elf_, SHT_SYMTAB, functions, objects);
  if (!have_symtab && !debug_file().empty()) {
    UniqueFd fd(::open(debug_file().c_str(), O_RDONLY | O_CLOEXEC));
    if (Elf* debug = fd ? elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr) : nullptr) {
      read_symbol_tables(debug, SHT_SYMTAB, functions, objects);
      elf_end(debug);
    }
  }
  // .dynsym repeats exported .symtab entries; for a stripped file it is all there is.
  read_symbol_tables(elf_, SHT_DYNSYM, functions, objects);
  functions_ = one_per_address(std::move(functions));
  objects_ = one_per_address(std::move(objects));
}

const ElfSymbol* ElfFile::function_at(uint64_t vaddr) {
  if (!symbols_loaded_) load_symbols();
  const ElfSymbol* sym = last_at_or_below(functions_, vaddr);
  if (sym == nullptr) return nullptr;
  if (sym->size != 0) return vaddr < sym->address + sym->size ? sym : nullptr;
  const ElfSymbol* next = sym + 1;
  return next != functions_.data() + functions_.size() && vaddr < next->address ? sym : nullptr;
}

const ElfSymbol* ElfFile::object_at(uint64_t vaddr) {
  if (!symbols_loaded_) load_symbols();
  const ElfSymbol* sym = last_at_or_below(objects_, vaddr);
  if (sym == nullptr) return nullptr;
  return vaddr < sym->address + std::max<uint64_t>(sym->size, 1) ? sym : nullptr;
}

const ElfSymbol* ElfFile::find(std::string_view name) {
  if (!symbols_loaded_) load_symbols();
  for (const auto* table : {&functions_, &objects_})
    for (const ElfSymbol& sym : *table)
      if (sym.name == name) return &sym;
  return nullptr;
}

}  // namespace locktrace::symbols
