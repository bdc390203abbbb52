#include "trace/record_builder.hpp"

#include <csignal>

#include "policy/plan.hpp"
#include "trace/verdict.hpp"

namespace sigdrain {
namespace {

std::string result_name(uint32_t result) {
  switch (result) {
    case SIGDRAIN_RESULT_DELIVERED: return "delivered";
    case SIGDRAIN_RESULT_IGNORED: return "ignored";
    case SIGDRAIN_RESULT_ALREADY_PENDING: return "pending";
    case SIGDRAIN_RESULT_OVERFLOW_FAIL: return "overflow";
    case SIGDRAIN_RESULT_LOSE_INFO: return "lose_info";
    default: return "unknown";
  }
}

// si_code > 0 is a kernel-made siginfo (fault, timer, child); SI_KERNEL is the kernel's own send.
bool kernel_generated(int code) { return code > 0; }

}  // namespace

std::optional<Disposition> disposition_at_generation(uint32_t bpf_disposition, uint32_t result) {
  std::optional<Disposition> d;
  switch (bpf_disposition) {
    case SIGDRAIN_DISP_DEFAULT: d = Disposition::default_action; break;
    case SIGDRAIN_DISP_IGNORE: d = Disposition::ignore; break;
    case SIGDRAIN_DISP_HANDLER: d = Disposition::handler; break;
    case SIGDRAIN_DISP_BLOCKED: d = Disposition::blocked; break;
    default: return std::nullopt;  // untracked, unknown, or blocked by the main thread of a multi-threaded process
  }
  if (result == SIGDRAIN_RESULT_IGNORED && (d == Disposition::handler || d == Disposition::blocked)) return std::nullopt;
  return d;
}

ProcessView RecordBuilder::view_or_comm(uint32_t pid, std::string_view comm) {
  if (auto v = directory_.process(pid)) return *v;
  ProcessView v;
  v.pid = pid;
  v.comm = std::string(comm);
  return v;
}

TraceRecord RecordBuilder::build(const SignalEvent& e) {
  TraceRecord r;
  r.type = TraceEventType::signal;
  r.time = wall_(e.time_ns);
  r.signo = static_cast<int>(e.sig);
  r.result = result_name(e.result);
  if (kernel_generated(e.code)) {
    r.sender.kernel = true;
    r.sender.comm = "kernel";
    r.sender.context_pid = e.sender_tgid;
  } else {
    r.sender = view_or_comm(e.sender_tgid, comm_view(e.sender_comm));
    if (!r.sender.container) r.sender.container = directory_.container_of_cgroup(e.sender_cgroup);
  }
  // The BPF record's tgid holds for a thread that is gone by now; /proc's otherwise.
  uint32_t target_tgid = e.target_tgid != 0 ? e.target_tgid : directory_.tgid_of(e.target_pid).value_or(e.target_pid);
  r.target = view_or_comm(target_tgid, comm_view(e.target_comm));
  if (target_tgid != e.target_pid) r.target.tid = e.target_pid;
  if (!r.target.container && e.target_cgroup != 0) r.target.container = directory_.container_of_cgroup(e.target_cgroup);
  r.disposition = disposition_at_generation(e.disposition, e.result);
  if (auto cg = directory_.cgroup_of(target_tgid); cg && r.target.container) r.inflight = inflight_(*cg);
  auto escalation = story_.on_signal(target_tgid, r.signo, e.time_ns);
  // A SIGKILL the kernel dropped (the process was already exiting) escalates nothing.
  if (e.result == SIGDRAIN_RESULT_DELIVERED) r.escalation_after_ms = escalation;
  r.verdict = signal_verdict(SignalFacts{
      .signo = r.signo,
      .result = e.result,
      .disposition = r.disposition,
      .target_is_namespace_init = r.target.ns_pid == 1u,
      .target_in_container = r.target.container.has_value(),
      .escalation_after_ms = r.escalation_after_ms,
      .server_note = server_signal_note(ProcessFacts{.comm = r.target.comm}, r.signo),
  });
  return r;
}

TraceRecord RecordBuilder::build(const DeliverEvent& e) {
  TraceRecord r;
  r.type = TraceEventType::deliver;
  r.time = wall_(e.time_ns);
  r.signo = static_cast<int>(e.sig);
  r.target = view_or_comm(e.tgid, comm_view(e.comm));
  if (!r.target.container) r.target.container = directory_.container_of_cgroup(e.cgroup);
  switch (e.handler_class) {
    case SIGDRAIN_HANDLER_CATCH: r.disposition = Disposition::handler; break;
    case SIGDRAIN_HANDLER_IGNORE: r.disposition = Disposition::ignore; break;
    default: r.disposition = Disposition::default_action; break;
  }
  r.verdict = deliver_verdict(r.signo, e.handler_class);
  return r;
}

TraceRecord RecordBuilder::build(const ExitEvent& e) {
  TraceRecord r;
  r.type = TraceEventType::exit;
  r.time = wall_(e.time_ns);
  r.target = view_or_comm(e.tgid, comm_view(e.comm));
  if (!r.target.container) r.target.container = directory_.container_of_cgroup(e.cgroup);
  if (e.cause == SIGDRAIN_EXIT_SIGNAL) r.killed_by = static_cast<int>(e.cause_value);
  if (e.cause == SIGDRAIN_EXIT_CODE) r.exit_code = static_cast<int>(e.cause_value);
  ExitFacts facts{.cause = e.cause, .value = e.cause_value};
  if (auto last = story_.signal_before_exit(e.tgid); last && e.time_ns >= last->time_ns) {
    r.after_signal_ms = static_cast<int64_t>((e.time_ns - last->time_ns) / 1'000'000);
    facts.after_signal_ms = r.after_signal_ms;
    facts.after_signal = last->signo;
  }
  story_.forget(e.tgid);
  r.verdict = exit_verdict(facts);
  return r;
}

}  // namespace sigdrain
