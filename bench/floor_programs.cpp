// Empty programs on the tracepoints named, attached until stdin closes (or EOF at once: the caller died). Figure
// 10b reads their run time (bpf_stats) beside sigdrain's programs' on the same events and in the same run: what
// bpf_stats itself adds to each program run there (its two clock reads, slow in a nested VM), taken out of the
// programs' figure.
//
// usage: bench_floor_programs [raw:]CATEGORY/EVENT...    prints "ready" once all are attached
// With raw:, a raw tracepoint program (BPF_PROG_TYPE_RAW_TRACEPOINT, the event's arguments as the kernel passes
// them, no perf record built) instead of a classic one: what each kind of attachment costs the traced call.
#include <linux/bpf.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <cstdio>
#include <deque>

#include "common.hpp"

int main(int argc, char** argv) {
  using sigdrain::bench::TracepointProgram;
  if (argc < 2) sigdrain::bench::die("usage: bench_floor_programs CATEGORY/EVENT...");
  std::deque<TracepointProgram> programs;
  std::deque<sigdrain::UniqueFd> raw_programs;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.rfind("raw:", 0) == 0) {
      const std::string event(arg.substr(arg.find('/') + 1));
      const bpf_insn insns[] = {{BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0}, {BPF_JMP | BPF_EXIT, 0, 0, 0, 0}};
      sigdrain::UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, TracepointProgram::kEmptyName, "GPL", insns, 2,
                                            nullptr));
      if (!prog) sigdrain::bench::die(std::string("cannot load an empty raw tracepoint program for ") + argv[i]);
      sigdrain::UniqueFd link(bpf_raw_tracepoint_open(event.c_str(), prog.get()));
      if (!link) sigdrain::bench::die(std::string("cannot attach an empty raw tracepoint program to ") + argv[i]);
      raw_programs.push_back(std::move(prog));
      raw_programs.push_back(std::move(link));
      continue;
    }
    if (!programs.emplace_back(argv[i], TracepointProgram::Body::empty).id())
      sigdrain::bench::die(std::string("cannot attach an empty program to ") + argv[i]);
  }
  std::puts("ready");
  std::fflush(stdout);
  char c;
  while (read(STDIN_FILENO, &c, 1) > 0) {
  }
  return 0;
}
