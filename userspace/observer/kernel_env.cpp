#include "observer/kernel_env.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "util/files.hpp"

namespace sigdrain {
namespace {

bool is_fs(const char* path, long magic) {
  struct statfs st {};
  return ::statfs(path, &st) == 0 && static_cast<long>(st.f_type) == magic;
}

Result<void> ensure_mounted(const char* path, const char* fstype, long magic) {
  if (is_fs(path, magic)) return {};
  if (::mount(fstype, path, fstype, 0, nullptr) != 0)
    return Error::sys(errno, fmt::format("cannot mount {} on {}", fstype, path));
  return {};
}

std::string read_trimmed(const std::string& path) {
  auto text = read_file(path);
  std::string s = text ? *text : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// "none [integrity] confidentiality" -> "integrity"
std::string selected_lockdown(const std::string& text) {
  auto open = text.find('['), close = text.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return "";
  return text.substr(open + 1, close - open - 1);
}

}  // namespace

bool tracepoint_exists(const std::string& tracefs, std::string_view category, std::string_view name) {
  struct stat st {};
  return ::stat(fmt::format("{}/events/{}/{}", tracefs, category, name).c_str(), &st) == 0;
}

Result<KernelEnv> prepare_kernel_env() {
  if (::geteuid() != 0)
    return Error::msg("this needs root: sigdrain loads BPF programs (run with sudo, or as a privileged DaemonSet)");

  KernelEnv env;
  // The kernel offers tracefs at /sys/kernel/tracing (4.1+); older setups only under debugfs.
  if (auto r = ensure_mounted("/sys/kernel/tracing", "tracefs", TRACEFS_MAGIC); r) {
    env.tracefs = "/sys/kernel/tracing";
  } else if (is_fs("/sys/kernel/debug/tracing", TRACEFS_MAGIC)) {
    env.tracefs = "/sys/kernel/debug/tracing";
  } else {
    return Error::msg(fmt::format("tracefs is not available ({}); the kernel needs CONFIG_FTRACE", r.error().message));
  }
  if (auto r = ensure_mounted("/sys/fs/bpf", "bpf", BPF_FS_MAGIC); !r) return r.error();
  (void)ensure_mounted("/sys/kernel/security", "securityfs", SECURITYFS_MAGIC);  // only for reporting

  for (auto [cat, name] : {std::pair{"signal", "signal_generate"}, std::pair{"signal", "signal_deliver"},
                           std::pair{"sched", "sched_process_exit"}, std::pair{"sock", "inet_sock_set_state"}}) {
    if (!tracepoint_exists(env.tracefs, cat, name))
      return Error::msg(fmt::format("kernel lacks the tracepoint {}:{} that sigdrain needs", cat, name));
  }
  env.socket_data_tracepoints = tracepoint_exists(env.tracefs, "sock", "sock_send_length") &&
                                tracepoint_exists(env.tracefs, "sock", "sock_recv_length");
  env.lockdown = selected_lockdown(read_trimmed("/sys/kernel/security/lockdown"));
  env.lsms = read_trimmed("/sys/kernel/security/lsm");
  struct stat st {};
  env.btf = ::stat("/sys/kernel/btf/vmlinux", &st) == 0;
  if (!env.btf) return Error::msg("kernel has no BTF (/sys/kernel/btf/vmlinux); CONFIG_DEBUG_INFO_BTF is needed for CO-RE");
  return env;
}

}  // namespace sigdrain
