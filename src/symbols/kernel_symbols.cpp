#include "kernel_symbols.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace locktrace::symbols {

namespace {

bool is_text_type(char type) { return type == 't' || type == 'T' || type == 'w' || type == 'W'; }

}  // namespace

KernelSymbols KernelSymbols::parse(std::string_view text) {
  KernelSymbols result;
  bool any_address = false;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);

    // "ffffffff81000000 T _stext" or "ffffffffc0a01000 t ext4_foo\t[ext4]"
    uint64_t address = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), address, 16);
    if (ec != std::errc{}) continue;
    line.remove_prefix(static_cast<size_t>(end - line.data()));
    if (line.size() < 4 || line[0] != ' ' || line[2] != ' ') continue;
    char type = line[1];
    line.remove_prefix(3);
    if (address != 0) any_address = true;
    if (!is_text_type(type)) continue;

    Symbol symbol;
    symbol.address = address;
    size_t tab = line.find('\t');
    symbol.name = line.substr(0, tab);
    if (tab != std::string_view::npos) {
      std::string_view module = line.substr(tab + 1);
      if (module.starts_with('[') && module.ends_with(']'))
        symbol.module = module.substr(1, module.size() - 2);
    }
    result.symbols_.push_back(std::move(symbol));
  }
  if (!any_address) {
    result.symbols_.clear();
    return result;
  }
  std::stable_sort(result.symbols_.begin(), result.symbols_.end(),
                   [](const Symbol& a, const Symbol& b) { return a.address < b.address; });
  return result;
}

KernelSymbols KernelSymbols::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str());
}

const KernelSymbols::Symbol* KernelSymbols::find(uint64_t address) const {
  auto next = std::upper_bound(symbols_.begin(), symbols_.end(), address,
                               [](uint64_t a, const Symbol& s) { return a < s.address; });
  if (next == symbols_.begin() || next == symbols_.end()) return nullptr;
  return &*std::prev(next);
}

}  // namespace locktrace::symbols
