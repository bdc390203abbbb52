// What the running kernel offers BPF, and the filesystems sigdrain needs mounted. Probed by feature, never by
// kernel version.
#pragma once

#include <string>
#include <string_view>

#include "util/result.hpp"

namespace sigdrain {

// How the observer sees data sent and received on TCP connections, hence requests in flight; best first.
enum class RequestProbeSet {
  tracepoint,  // sock:sock_send_length / sock_recv_length
  fexit,       // fexit programs on tcp_sendmsg / tcp_recvmsg (BPF trampolines)
  none,        // requests in flight cannot be seen
};

// "tracepoint", "fexit" or "none".
std::string_view request_probe_set_name(RequestProbeSet set);

struct KernelEnv {
  std::string tracefs;  // where tracing/events lives, e.g. /sys/kernel/tracing
  bool socket_data_tracepoints = false;  // sock:sock_send_length / sock_recv_length (kernel >= 6.3)
  bool cgroup_tracepoints = false;  // cgroup:cgroup_mkdir / cgroup_rmdir: the daemon walks cgroupfs only on change
  bool tracing_programs = false;  // BPF_PROG_TYPE_TRACING loads (fentry/fexit); lockdown=confidentiality refuses it
  // A raw tracepoint program may call bpf_probe_read_kernel: the socket programs are then raw tracepoint programs,
  // which cost the traced call less than classic ones (no record built; bench/README.md, session 14).
  bool raw_tracepoint_reads = false;
  // Parameters of tcp_recvmsg in the kernel's BTF: 6 while it had `nonblock` (before 5.19), 5 since; 0 if absent.
  int tcp_recvmsg_params = 0;
  std::string lockdown;                  // "none", "integrity", "confidentiality" or "" when unknown
  std::string lsms;                      // /sys/kernel/security/lsm
  bool lsm_programs = false;  // BPF_PROG_TYPE_LSM loads (bpftool feature probe's "program_type lsm")
  int yama_ptrace_scope = -1;            // /proc/sys/kernel/yama/ptrace_scope; -1 without Yama
  bool btf = false;                      // /sys/kernel/btf/vmlinux (CO-RE needs it)

  // The best request probe set the probes above allow. Loading it can still fail; the observer then has none.
  RequestProbeSet request_probes() const;
  // Why BPF LSM programs cannot refuse signals here, one line; empty when they can. An lsm program attaches
  // where `bpf` is not an active LSM (5.10's default list) but never runs, so the list decides, not the attach.
  std::string bpf_lsm_unavailable_reason() const;
  bool bpf_lsm() const { return bpf_lsm_unavailable_reason().empty(); }
};

// True when a comma-separated LSM list (/sys/kernel/security/lsm) names `bpf`.
bool lsm_list_has_bpf(std::string_view lsms);

// Mounts tracefs, bpffs and securityfs when missing (root only) and reports what is there. Fails with a
// one-line error naming the missing feature or privilege.
Result<KernelEnv> prepare_kernel_env();

// Mounts tracefs when missing (a fresh node has none) and says where it is. Every component that attaches a
// tracepoint program calls it first: libbpf finds a tracepoint's id there.
Result<std::string> ensure_tracefs();

// True when <tracefs>/events/<category>/<name> exists.
bool tracepoint_exists(const std::string& tracefs, std::string_view category, std::string_view name);

}  // namespace sigdrain
