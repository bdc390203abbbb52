// What the running kernel offers BPF, and the filesystems sigdrain needs mounted. Probed by feature, never by
// kernel version.
#pragma once

#include <string>
#include <string_view>

#include "util/result.hpp"

namespace sigdrain {

struct KernelEnv {
  std::string tracefs;  // where tracing/events lives, e.g. /sys/kernel/tracing
  bool socket_data_tracepoints = false;  // sock:sock_send_length / sock_recv_length (kernel >= 6.3)
  std::string lockdown;                  // "none", "integrity", "confidentiality" or "" when unknown
  std::string lsms;                      // /sys/kernel/security/lsm
  bool btf = false;                      // /sys/kernel/btf/vmlinux (CO-RE needs it)
};

// Mounts tracefs, bpffs and securityfs when missing (root only) and reports what is there. Fails with a
// one-line error naming the missing feature or privilege.
Result<KernelEnv> prepare_kernel_env();

// True when <tracefs>/events/<category>/<name> exists.
bool tracepoint_exists(const std::string& tracefs, std::string_view category, std::string_view name);

}  // namespace sigdrain
