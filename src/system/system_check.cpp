#include "system_check.hpp"

#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "errors.hpp"

namespace locktrace {

namespace {

bool has_effective_capability(int cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

bool is_tracefs(const char* dir) {
  std::string events = std::string(dir) + "/events";
  struct stat st;
  return stat(events.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

void require_privileges() {
  if (geteuid() == 0) return;
  if (has_effective_capability(CAP_BPF) && has_effective_capability(CAP_PERFMON)) return;
  throw Fatal(kExitPrivileges,
              "must run as root (or with CAP_BPF and CAP_PERFMON) to load BPF programs");
}

void require_kernel_btf() {
  if (access("/sys/kernel/btf/vmlinux", R_OK) == 0) return;
  throw Fatal(kExitUnsupported,
              "this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): "
              "it needs CONFIG_DEBUG_INFO_BTF=y");
}

std::string ensure_tracefs() {
  if (is_tracefs("/sys/kernel/tracing") || is_tracefs("/sys/kernel/debug/tracing")) return {};
  if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
    throw Fatal(kExitUnsupported, std::string("tracefs is not mounted and mounting it on "
                                              "/sys/kernel/tracing failed: ") +
                                      strerror(errno));
  return "mounted tracefs on /sys/kernel/tracing";
}

}  // namespace locktrace
