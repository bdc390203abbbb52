#include "observer/tracepoint_event.hpp"

#include <bpf/bpf.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>

#include "util/files.hpp"
#include "util/text.hpp"

namespace sigdrain {

Result<UniqueFd> load_empty_tracepoint_program(const char* name) {
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, name, "GPL", insns, 2, nullptr));
  if (!prog) return Error::sys(errno, fmt::format("cannot load the empty program {}", name));
  return prog;
}

Result<UniqueFd> open_tracepoint_event(const std::string& tracefs, const std::string& event) {
  auto id_text = read_file(fmt::format("{}/events/{}/id", tracefs, event));
  if (!id_text) return id_text.error();
  perf_event_attr attr{};
  attr.type = PERF_TYPE_TRACEPOINT;
  attr.size = sizeof(attr);
  attr.config = std::strtoull(std::string(trim(*id_text)).c_str(), nullptr, 10);
  attr.sample_period = 1;
  attr.wakeup_events = 1;
  UniqueFd perf(static_cast<int>(::syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC)));
  if (!perf) return Error::sys(errno, fmt::format("cannot open the tracepoint {}", event));
  return perf;
}

}  // namespace sigdrain
