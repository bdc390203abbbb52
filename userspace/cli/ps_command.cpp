#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "daemon/control.hpp"
#include "daemon/ps_entry.hpp"
#include "util/result.hpp"
#include "util/text.hpp"

namespace sigdrain {

int run_ps(const PsOptions& options) {
  if (::geteuid() != 0) throw UserError("ps needs root: the daemon answers only root");
  std::string answer = value_or_throw(value_or_throw(control_request(options.state_dir + "/control.sock", "ps")));
  if (options.json) {
    std::fputs(answer.c_str(), stdout);
    return kExitOk;
  }
  // A reply this sigdrain cannot read (a daemon of another version) is an error, not rows of defaults.
  std::vector<PsEntry> entries = value_or_throw(parse_ps_reply(answer));
  constexpr std::string_view kRow = "{:<28} {:<8} {:>8} {:<14} {:<8} {:>8} {:>6} {:<9} {}\n";
  std::fputs(fmt::format(kRow, "CONTAINER", "RUNTIME", "INIT", "COMM", "SIGTERM", "INFLIGHT", "CONNS", "STATE", "GUARD").c_str(), stdout);
  for (const PsEntry& e : entries) {
    std::string name = e.name.empty() ? e.id.substr(0, 12) : e.name;
    auto sigterm = e.dispositions.find("SIGTERM");
    std::string disposition = sigterm == e.dispositions.end() ? "-" : sigterm->second;
    // "held by ptrace", "held by lsm (cannot guard PID 12: traced by PID 34)", "no: <why>"
    std::string guard = e.guarded ? "held by " + e.backend + (e.backend_why.empty() ? "" : " (" + e.backend_why + ")")
                                  : "no: " + e.why_not;
    std::fputs(fmt::format(kRow, printable_text(name.substr(0, 28)), e.runtime, e.init_pid, printable_text(e.init_comm.value_or("-")),
                           disposition, e.inflight, e.open_inbound, ps_state_name(e.state), printable_text(guard))
                   .c_str(),
               stdout);
  }
  return kExitOk;
}

}  // namespace sigdrain
