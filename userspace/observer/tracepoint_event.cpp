#include "observer/tracepoint_event.hpp"

#include <bpf/bpf.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include <fmt/format.h>

#include "util/files.hpp"
#include "util/parse_number.hpp"
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
  const std::string id_path = fmt::format("{}/events/{}/id", tracefs, event);
  auto id_text = read_file(id_path);
  if (!id_text) return id_text.error();
  // Not strtoull's 0 for a malformed id: that would open whichever tracepoint has id 0.
  auto id = parse_integer<uint64_t>(trim(*id_text));
  if (!id) return Error::msg(fmt::format("{}: not a tracepoint id: \"{}\"", id_path, printable_text(trim(*id_text))));
  perf_event_attr attr{};
  attr.type = PERF_TYPE_TRACEPOINT;
  attr.size = sizeof(attr);
  attr.config = *id;
  attr.sample_period = 1;
  attr.wakeup_events = 1;
  UniqueFd perf(static_cast<int>(::syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC)));
  if (!perf) return Error::sys(errno, fmt::format("cannot open the tracepoint {}", event));
  return perf;
}

}  // namespace sigdrain
