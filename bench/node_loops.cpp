// bench_node_loops syscall|spawn N: what any process on the node does, N times, and the CPU it took per call in
// ns (its own and its children's user + system time), on stdout. bench/node_cost.py runs it with and without a
// daemon loaded: syscall = getppid() (no program runs on it: only the kernel's syscall entry path), spawn = fork,
// exec /bin/true, exit, wait (the exec and exit tracepoints, and the daemon's ring buffer if an exit wakes it).
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

double cpu_ns(int who) {
  rusage u{};
  getrusage(who, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e9 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc == 3 ? std::atol(argv[2]) : 0;
  if (n <= 0 || (std::strcmp(argv[1], "syscall") != 0 && std::strcmp(argv[1], "spawn") != 0)) {
    std::fprintf(stderr, "usage: bench_node_loops syscall|spawn N\n");
    return 2;
  }
  const double before = cpu_ns(RUSAGE_SELF) + cpu_ns(RUSAGE_CHILDREN);
  if (argv[1][1] == 'y') {
    for (long i = 0; i < n; ++i) syscall(SYS_getppid);
  } else {
    for (long i = 0; i < n; ++i) {
      pid_t child = fork();
      if (child == 0) {
        execl("/bin/true", "true", nullptr);
        _exit(127);
      }
      int status = 0;
      if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "bench_node_loops: /bin/true failed\n");
        return 1;
      }
    }
  }
  std::printf("%.1f\n", (cpu_ns(RUSAGE_SELF) + cpu_ns(RUSAGE_CHILDREN) - before) / n);
  return 0;
}
