#include <signal.h>
#include <unistd.h>

#include <atomic>

#include "cli/commands.hpp"
#include "daemon/daemon.hpp"

namespace sigdrain {
namespace {

std::atomic<bool> g_stop{false};
void request_stop(int) { g_stop.store(true); }

}  // namespace

int run_daemon(const DaemonOptions& options) {
  set_libbpf_verbose(options.verbose);
  if (::geteuid() != 0) throw UserError("the daemon needs root: it loads BPF programs and ptraces containers' init processes");
  auto daemon = value_or_throw(Daemon::make(options));
  struct sigaction sa {};
  sa.sa_handler = request_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return daemon->run(g_stop);
}

}  // namespace sigdrain
