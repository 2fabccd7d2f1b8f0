// What the host must offer before any BPF object is opened; each failure is a
// Fatal with the exit code README documents.
#pragma once

#include <string>

namespace locktrace {

// Root, or CAP_BPF + CAP_PERFMON (+ CAP_SYS_RESOURCE is not needed: no memlock
// limit applies to BPF memory on kernels with memcg accounting).
void require_privileges();
// /sys/kernel/btf/vmlinux, needed for CO-RE relocations.
void require_kernel_btf();
// Mounts tracefs at /sys/kernel/tracing when no tracefs is mounted. Returns a
// note for stderr when it mounted one, "" when one was already there.
std::string ensure_tracefs();

}  // namespace locktrace
