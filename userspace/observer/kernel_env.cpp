#include "observer/kernel_env.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "util/files.hpp"
#include "util/parse_number.hpp"
#include "util/text.hpp"

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
  return text ? std::string(trim(*text)) : std::string();
}

// "none [integrity] confidentiality" -> "integrity"
std::string selected_lockdown(const std::string& text) {
  auto open = text.find('['), close = text.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return "";
  return text.substr(open + 1, close - open - 1);
}

// Number of parameters of a kernel function per the running kernel's BTF; 0 when it is not there.
int btf_function_params(const char* function) {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return 0;
  int params = 0;
  int id = btf__find_by_name_kind(vmlinux, function, BTF_KIND_FUNC);
  if (id > 0) {
    const btf_type* proto = btf__type_by_id(vmlinux, btf__type_by_id(vmlinux, id)->type);
    if (proto && btf_is_func_proto(proto)) params = btf_vlen(proto);
  }
  btf__free(vmlinux);
  return params;
}

}  // namespace

std::string_view request_probe_set_name(RequestProbeSet set) {
  switch (set) {
    case RequestProbeSet::tracepoint: return "tracepoint";
    case RequestProbeSet::fexit: return "fexit";
    case RequestProbeSet::none: return "none";
  }
  return "none";
}

RequestProbeSet KernelEnv::request_probes() const {
  if (socket_data_tracepoints) return RequestProbeSet::tracepoint;
  // bpf/sockets.bpf.c has tcp_recvmsg programs for both of its signatures.
  if (tracing_programs && (tcp_recvmsg_params == 5 || tcp_recvmsg_params == 6)) return RequestProbeSet::fexit;
  return RequestProbeSet::none;
}

bool lsm_list_has_bpf(std::string_view lsms) {
  while (!lsms.empty()) {
    size_t comma = lsms.find(',');
    if (lsms.substr(0, comma) == "bpf") return true;
    lsms = comma == std::string_view::npos ? std::string_view{} : lsms.substr(comma + 1);
  }
  return false;
}

std::string KernelEnv::bpf_lsm_unavailable_reason() const {
  if (!lsm_list_has_bpf(lsms))
    return fmt::format("BPF LSM is not active: 'bpf' is not in /sys/kernel/security/lsm ({}) (boot with lsm=...,bpf)",
                       lsms.empty() ? "unreadable" : lsms);
  if (!lsm_programs)
    return fmt::format("the kernel refuses BPF LSM programs (program type lsm does not load; lockdown: {})",
                       lockdown.empty() ? "unknown" : lockdown);
  return "";
}

bool tracepoint_exists(const std::string& tracefs, std::string_view category, std::string_view name) {
  struct stat st {};
  return ::stat(fmt::format("{}/events/{}/{}", tracefs, category, name).c_str(), &st) == 0;
}

Result<std::string> ensure_tracefs() {
  // The kernel offers tracefs at /sys/kernel/tracing (4.1+); older setups only under debugfs.
  auto r = ensure_mounted("/sys/kernel/tracing", "tracefs", TRACEFS_MAGIC);
  if (r) return std::string("/sys/kernel/tracing");
  if (is_fs("/sys/kernel/debug/tracing", TRACEFS_MAGIC)) return std::string("/sys/kernel/debug/tracing");
  return Error::msg(fmt::format("tracefs is not available ({}); the kernel needs CONFIG_FTRACE", r.error().message));
}

Result<KernelEnv> prepare_kernel_env() {
  if (::geteuid() != 0)
    return Error::msg("this needs root: sigdrain loads BPF programs (run with sudo, or as a privileged DaemonSet)");

  KernelEnv env;
  auto tracefs = ensure_tracefs();
  if (!tracefs) return tracefs.error();
  env.tracefs = std::move(*tracefs);
  if (auto r = ensure_mounted("/sys/fs/bpf", "bpf", BPF_FS_MAGIC); !r) return r.error();
  (void)ensure_mounted("/sys/kernel/security", "securityfs", SECURITYFS_MAGIC);  // only for reporting

  env.lockdown = selected_lockdown(read_trimmed("/sys/kernel/security/lockdown"));
  for (auto [cat, name] : {std::pair{"signal", "signal_generate"}, std::pair{"signal", "signal_deliver"},
                           std::pair{"sched", "sched_process_exit"}, std::pair{"sock", "inet_sock_set_state"}}) {
    if (tracepoint_exists(env.tracefs, cat, name)) continue;
    if (env.lockdown == "confidentiality")  // tracefs shows no events then, and every program here is on one
      return Error::msg("lockdown=confidentiality closes tracefs, where sigdrain finds the tracepoints it attaches to");
    return Error::msg(fmt::format("kernel lacks the tracepoint {}:{} that sigdrain needs", cat, name));
  }
  env.socket_data_tracepoints = tracepoint_exists(env.tracefs, "sock", "sock_send_length") &&
                                tracepoint_exists(env.tracefs, "sock", "sock_recv_length");
  env.cgroup_tracepoints = tracepoint_exists(env.tracefs, "cgroup", "cgroup_mkdir") &&
                           tracepoint_exists(env.tracefs, "cgroup", "cgroup_rmdir");
  env.tracing_programs = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING, nullptr) == 1;
  env.raw_tracepoint_reads =
      libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_FUNC_probe_read_kernel, nullptr) == 1;
  env.tcp_recvmsg_params = btf_function_params("tcp_recvmsg");
  env.lsms = read_trimmed("/sys/kernel/security/lsm");
  env.lsm_programs = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_LSM, nullptr) == 1;
  if (auto scope = parse_integer<int>(read_trimmed("/proc/sys/kernel/yama/ptrace_scope"))) env.yama_ptrace_scope = *scope;
  struct stat st {};
  env.btf = ::stat("/sys/kernel/btf/vmlinux", &st) == 0;
  if (!env.btf) return Error::msg("kernel has no BTF (/sys/kernel/btf/vmlinux); CONFIG_DEBUG_INFO_BTF is needed for CO-RE");
  return env;
}

}  // namespace sigdrain
