#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "daemon/discovery.hpp"
#include "hold/stop_gate.hpp"
#include "observer/cgroup_changes.hpp"
#include "observer/kernel_env.hpp"
#include "util/result.hpp"
#include "util/json.hpp"

namespace sigdrain {

int run_version(bool features, bool json) {
  if (!features) {
    std::printf("sigdrain %s\n", SIGDRAIN_VERSION);
    return kExitOk;
  }
  KernelEnv env = value_or_throw(prepare_kernel_env());
  utsname u{};
  ::uname(&u);
  // What `sigdrain daemon` (hold-backend = auto) would use: ptrace, and BPF LSM for processes ptrace cannot guard.
  const std::string lsm_unavailable = env.bpf_lsm_unavailable_reason();
  // ptrace at the stop where the stop gate loads (nothing traced between stops), else attached from discovery on.
  const std::string gate_unavailable = stop_gate_unavailable_reason();
  const std::string ptrace_mode = gate_unavailable.empty() ? "ptrace at stop (the stop gate)"
                                                           : "ptrace, attached at discovery (" + gate_unavailable + ")";
  const std::string hold_backends = ptrace_mode + (lsm_unavailable.empty() ? "; BPF LSM where ptrace cannot guard" : "");
  // How `sigdrain daemon` notices new containers: the change counter it loads, or walks (daemon/discovery.hpp).
  auto counter = CgroupChangeCounter::start();
  const std::string discovery =
      counter ? "when a cgroup is made or removed (tracepoints cgroup:cgroup_mkdir/cgroup_rmdir)"
              : fmt::format("walks cgroupfs every {} ms ({})", kCgroupWalkInterval.count(), counter.error().message);
  // The stop record's exit code comes from syscall tracepoints; while one has a program, every syscall on the node
  // takes the kernel's tracing slow path, so the daemon attaches them only while a stop is in progress.
  std::error_code ec;
  const bool exit_tracepoints = std::filesystem::exists(env.tracefs + "/events/syscalls/sys_enter_exit_group", ec);
  const std::string exit_codes =
      exit_tracepoints ? "daemon: while a stop is in progress (syscalls:sys_enter_exit_group/sys_enter_exit); trace: always"
                       : "no: the kernel has no syscall tracepoints (exits read \"how was not seen\" unless a signal killed)";
  nlohmann::json j = {
      {"version", SIGDRAIN_VERSION},
      {"kernel", u.release},
      {"btf", env.btf},
      {"tracefs", env.tracefs},
      {"lockdown", env.lockdown.empty() ? "unknown" : env.lockdown},
      {"lsms", env.lsms},
      {"bpf_lsm_active", lsm_list_has_bpf(env.lsms)},
      {"bpf_lsm_programs", env.lsm_programs},
      {"bpf_lsm_hold", lsm_unavailable.empty() ? "available" : lsm_unavailable},
      {"yama_ptrace_scope", env.yama_ptrace_scope},
      {"socket_data_tracepoints", env.socket_data_tracepoints},
      {"probe_set", fmt::format("{} ({})", request_probe_set_name(env.request_probes()), [&] {
         switch (env.request_probes()) {
           case RequestProbeSet::tracepoint:
             return env.raw_tracepoint_reads
                        ? "tracepoints: signal, sched; raw tracepoints: sock incl. sock_send_length/sock_recv_length"
                        : "tracepoints: signal, sched, sock incl. sock_send_length/sock_recv_length";
           case RequestProbeSet::fexit: return "tracepoints: signal, sched, inet_sock_set_state; fexit: tcp_sendmsg, tcp_recvmsg";
           case RequestProbeSet::none: break;
         }
         return "tracepoints: signal, sched, inet_sock_set_state (no requests in flight)";
       }())},
      {"hold_backend", hold_backends},
      {"container_discovery", discovery},
      {"exit_codes", exit_codes},
  };
  if (json) {
    std::puts(json_text(j).c_str());
    return kExitOk;
  }
  std::printf("sigdrain %s on Linux %s\n", SIGDRAIN_VERSION, u.release);
  std::printf("  BTF (CO-RE):              %s\n", env.btf ? "yes" : "no");
  std::printf("  tracefs:                  %s\n", env.tracefs.c_str());
  std::printf("  lockdown:                 %s\n", j["lockdown"].get<std::string>().c_str());
  std::printf("  LSMs:                     %s (BPF LSM %s)\n", env.lsms.c_str(), lsm_list_has_bpf(env.lsms) ? "active" : "not active");
  std::printf("  Yama ptrace_scope:        %s\n", env.yama_ptrace_scope < 0 ? "no Yama" : std::to_string(env.yama_ptrace_scope).c_str());
  std::printf("  requests in flight:       %s\n",
              env.request_probes() == RequestProbeSet::none
                  ? "no: the kernel has neither sock:sock_send_length/sock_recv_length nor fexit programs"
                  : "yes");
  std::printf("  probe set:                %s\n", j["probe_set"].get<std::string>().c_str());
  std::printf("  hold backend:             %s\n", hold_backends.c_str());
  std::printf("  BPF LSM hold:             %s\n", lsm_unavailable.empty() ? "available" : ("no: " + lsm_unavailable).c_str());
  std::printf("  container discovery:      %s\n", discovery.c_str());
  std::printf("  exit codes:               %s\n", exit_codes.c_str());
  return kExitOk;
}

}  // namespace sigdrain
