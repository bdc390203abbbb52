// BPF integration tests need root and a kernel with the tracepoints. Without root they fail loudly:
// a silent skip would hide that the tier never ran.
#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include <gtest/gtest.h>

namespace {

// The tests fork apps that rely on default signal actions (a released SIGHUP must end an app without a handler).
// Ignored signals and the blocked mask are inherited across fork and exec: under `nohup` SIGHUP is ignored, and
// an app would shrug off the very signal a test releases to it. Start from what a fresh process has, as ctest
// gives each test.
void reset_inherited_signal_state() {
  for (int signo = 1; signo < NSIG; ++signo) {
    struct sigaction current {};
    if (sigaction(signo, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) signal(signo, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (geteuid() != 0 && !GTEST_FLAG_GET(list_tests)) {
    std::fprintf(stderr, "bpf_tests: must run as root (they load BPF programs and send real signals)\n");
    return 1;
  }
  reset_inherited_signal_state();
  return RUN_ALL_TESTS();
}
