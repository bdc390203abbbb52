// Empty programs on the tracepoints named, attached until stdin closes (or EOF at once: the caller died). Figure
// 10b reads their run time (bpf_stats) beside sigdrain's programs' on the same events and in the same run: what
// bpf_stats itself adds to each program run there (its two clock reads, slow in a nested VM), taken out of the
// programs' figure.
//
// usage: bench_floor_programs CATEGORY/EVENT...    prints "ready" once all are attached
#include <unistd.h>

#include <cstdio>
#include <deque>

#include "common.hpp"

int main(int argc, char** argv) {
  using sigdrain::bench::TracepointProgram;
  if (argc < 2) sigdrain::bench::die("usage: bench_floor_programs CATEGORY/EVENT...");
  std::deque<TracepointProgram> programs;
  for (int i = 1; i < argc; ++i)
    if (!programs.emplace_back(argv[i], TracepointProgram::Body::empty).id())
      sigdrain::bench::die(std::string("cannot attach an empty program to ") + argv[i]);
  std::puts("ready");
  std::fflush(stdout);
  char c;
  while (read(STDIN_FILENO, &c, 1) > 0) {
  }
  return 0;
}
