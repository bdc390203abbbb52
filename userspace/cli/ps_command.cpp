#include <unistd.h>

#include <cstdio>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "daemon/control.hpp"
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
  constexpr std::string_view kRow = "{:<28} {:<8} {:>8} {:<14} {:<8} {:>8} {:>6} {:<9} {}\n";
  std::fputs(fmt::format(kRow, "CONTAINER", "RUNTIME", "INIT", "COMM", "SIGTERM", "INFLIGHT", "CONNS", "STATE", "GUARD").c_str(), stdout);
  std::istringstream lines(answer);
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    std::string name = j.value("name", "");
    if (name.empty()) name = j.value("id", "").substr(0, 12);
    std::string disposition = j.contains("dispositions") ? j["dispositions"].value("SIGTERM", "-") : "-";
    // "held by ptrace", "held by lsm (cannot guard PID 12: traced by PID 34)", "no: <why>"
    std::string backend_why = j.value("backend_why", "");
    std::string guard = j.value("guarded", false)
                            ? "held by " + j.value("backend", "ptrace") + (backend_why.empty() ? "" : " (" + backend_why + ")")
                            : "no: " + j.value("why_not", "");
    std::fputs(fmt::format(kRow, printable_text(name.substr(0, 28)), j.value("runtime", ""), j.value("init_pid", 0),
                           printable_text(j.value("init_comm", "-")), disposition, j.value("inflight", 0),
                           j.value("open_inbound", 0), j.value("state", ""), printable_text(guard))
                   .c_str(),
               stdout);
  }
  return kExitOk;
}

}  // namespace sigdrain
