// choose_plan(): the rules are listed in plan.hpp.
#include <algorithm>

#include <fmt/format.h>

#include "policy/plan.hpp"
#include "signals/signal_names.hpp"

namespace sigdrain {
namespace {

constexpr std::chrono::milliseconds kSupervisordGrace{500};  // time for supervisord to begin stopping its programs

std::string basename_of(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// argv[0] as a program name. Servers rewrite it into a title ("nginx: master process /usr/sbin/nginx",
// "php-fpm: pool www"): its first word, without the colon, is the program.
std::string argv0_program(const ProcessFacts& p) {
  if (p.argv.empty()) return "";
  std::string_view first = p.argv[0];
  first = first.substr(0, first.find(' '));
  if (first.ends_with(':')) first.remove_suffix(1);
  return basename_of(first);
}

bool is_interpreter(std::string_view name) {
  return name.starts_with("python") || name == "perl" || name == "ruby" || name == "node" || name == "php";
}

// The script an interpreter runs: "python3 -u /usr/bin/supervisord -n" -> supervisord, "python3 -m gunicorn" ->
// gunicorn. Empty when there is none.
std::string interpreted_program(const ProcessFacts& p) {
  for (size_t i = 1; i < p.argv.size(); ++i) {
    const std::string& a = p.argv[i];
    if (a == "-m" && i + 1 < p.argv.size()) return p.argv[i + 1];
    if (!a.starts_with('-')) return basename_of(a);
  }
  return "";
}

// Every name a process goes by: comm (truncated to 15 characters), argv[0]'s program, and for an interpreter the
// program it runs.
std::vector<std::string> names_of(const ProcessFacts& p) {
  std::vector<std::string> names = {p.comm, argv0_program(p)};
  if (is_interpreter(p.comm) || is_interpreter(names[1])) names.push_back(interpreted_program(p));
  names.erase(std::remove(names.begin(), names.end(), ""), names.end());
  return names;
}

// How the report names a process: the program an interpreter runs, else argv[0]'s program, which comm
// truncation does not shorten.
std::string shown_name(const ProcessFacts& p) {
  std::string name = argv0_program(p);
  if (is_interpreter(name) && !interpreted_program(p).empty()) return interpreted_program(p);
  return name.empty() ? p.comm : name;
}

bool is_shell_running_command(const ProcessFacts& p) {
  static constexpr std::string_view kShells[] = {"sh", "bash", "dash", "ash"};
  std::string program = argv0_program(p);
  if (std::find(std::begin(kShells), std::end(kShells), program) == std::end(kShells)) return false;
  // "-c", or -c among other one-letter options ("-ec", "-xc"), before the command string.
  for (size_t i = 1; i < p.argv.size() && p.argv[i].starts_with('-') && !p.argv[i].starts_with("--"); ++i)
    if (p.argv[i].find('c') != std::string::npos) return true;
  return false;
}

bool is_init_shim(const ProcessFacts& p) {
  static constexpr std::string_view kShims[] = {"tini", "dumb-init", "catatonit", "docker-init"};
  auto names = names_of(p);
  return std::any_of(names.begin(), names.end(), [](const std::string& n) {
    return std::find(std::begin(kShims), std::end(kShims), n) != std::end(kShims);
  });
}

struct ServerProfile {
  std::string_view program;  // a name the process goes by; php-fpm matches as a prefix (php-fpm8.2)
  PlanProfile profile;
  int signo;
  std::string_view why;
};

constexpr ServerProfile kServerProfiles[] = {
    {"uwsgi", PlanProfile::uwsgi, SIGINT, "SIGTERM makes uWSGI reload, SIGINT stops it"},
    {"nginx", PlanProfile::nginx, SIGQUIT, "SIGTERM is nginx's fast shutdown, SIGQUIT its graceful one"},
    {"php-fpm", PlanProfile::php_fpm, SIGQUIT, "SIGTERM is php-fpm's fast shutdown, SIGQUIT its graceful one"},
    {"httpd", PlanProfile::httpd, SIGWINCH, "SIGTERM stops Apache at once, SIGWINCH lets its requests finish"},
    {"apache2", PlanProfile::httpd, SIGWINCH, "SIGTERM stops Apache at once, SIGWINCH lets its requests finish"},
    {"gunicorn", PlanProfile::gunicorn, SIGTERM, "SIGTERM is gunicorn's graceful shutdown"},
};

const ServerProfile* server_profile_of(const ProcessFacts& p) {
  for (const std::string& name : names_of(p))
    for (const auto& sp : kServerProfiles)
      if (name == sp.program || (sp.program == "php-fpm" && name.starts_with("php-fpm"))) return &sp;
  return nullptr;
}

}  // namespace

std::string_view plan_profile_name(PlanProfile profile) {
  switch (profile) {
    case PlanProfile::command_line: return "explicit";
    case PlanProfile::label: return "label";
    case PlanProfile::uwsgi: return "uwsgi";
    case PlanProfile::nginx: return "nginx";
    case PlanProfile::php_fpm: return "php-fpm";
    case PlanProfile::httpd: return "httpd";
    case PlanProfile::gunicorn: return "gunicorn";
    case PlanProfile::supervisord: return "supervisord";
    case PlanProfile::no_handler: return "no-handler";
    case PlanProfile::wrapper: return "wrapper";
    case PlanProfile::runtime_signal: break;
  }
  return "default";
}

std::optional<std::string> server_signal_note(const ProcessFacts& process, int signo) {
  const ServerProfile* sp = server_profile_of(process);
  if (!sp || sp->signo == signo || !is_stop_signal(signo)) return std::nullopt;
  return std::string(sp->why);
}

namespace {

// The name for a name:COMM target that picks this process (and its same-named workers): comm, which every
// process has, unless it is a bare interpreter that other processes may share.
std::optional<std::string> name_target_for(const ProcessFacts& p) {
  if (!p.comm.empty() && !is_interpreter(p.comm)) return p.comm;
  std::string program = argv0_program(p);
  if (!program.empty() && !is_interpreter(program)) return program;
  return std::nullopt;
}

std::vector<const ProcessFacts*> children_of(const std::vector<ProcessFacts>& ps, pid_t pid) {
  std::vector<const ProcessFacts*> out;
  for (const auto& p : ps)
    if (p.ppid == pid && p.pid != pid) out.push_back(&p);
  return out;
}

PlanStep signal_step(int signo, TargetKind kind, std::string name = "") {
  return PlanStep{signo, PlanTarget{kind, std::move(name)}, std::chrono::milliseconds(0)};
}

StopPlan supervisord_plan(const std::vector<ProcessFacts>& processes, const ProcessFacts& supervisord,
                          TargetKind target, const std::string& who) {
  StopPlan plan{PlanProfile::supervisord, "", {signal_step(SIGTERM, target), PlanStep{0, {}, kSupervisordGrace}}};
  std::vector<std::string> named, notes;
  for (const ProcessFacts* child : children_of(processes, supervisord.pid)) {
    const ServerProfile* sp = server_profile_of(*child);
    auto name = name_target_for(*child);
    if (!sp || !name || std::find(named.begin(), named.end(), *name) != named.end()) continue;
    plan.steps.push_back(signal_step(sp->signo, TargetKind::name, *name));
    named.push_back(*name);
    notes.push_back(fmt::format("{} gets {} ({})", *name, signal_name(sp->signo), sp->why));
  }
  plan.reason = fmt::format(
      "{} supervisord: it forwards its own stopsignal to its programs, which may only reload them; SIGTERM makes it "
      "stop without restarting them{}{}",
      who, notes.empty() ? "" : ", then ", fmt::join(notes, "; "));
  return plan;
}

}  // namespace

bool goes_by(const ProcessFacts& p, std::string_view name) {
  auto names = names_of(p);
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::vector<pid_t> resolve_target(const PlanTarget& target, const std::vector<ProcessFacts>& processes, pid_t init_pid,
                                  const std::vector<pid_t>& listener_pids) {
  std::vector<pid_t> out;
  switch (target.kind) {
    case TargetKind::init:
      out.push_back(init_pid);
      break;
    case TargetKind::children:
      for (const auto& p : processes)
        if (p.ppid == init_pid) out.push_back(p.pid);
      break;
    case TargetKind::process_group:
      // Every process of the container: what a signal to init's process group reaches in practice.
      for (const auto& p : processes) out.push_back(p.pid);
      break;
    case TargetKind::listeners:
      for (pid_t pid : listener_pids)
        if (find_process(processes, pid)) out.push_back(pid);
      break;
    case TargetKind::name:
      // The top of each tree of same-named processes: a master, not its workers.
      for (const auto& p : processes) {
        if (!goes_by(p, target.name)) continue;
        const ProcessFacts* parent = find_process(processes, p.ppid);
        if (parent && goes_by(*parent, target.name)) continue;
        out.push_back(p.pid);
      }
      break;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<StopPlan> choose_plan(const PlanInputs& in) {
  // 1. The operator's word.
  if (in.explicit_plan && in.explicit_signal) return Error::msg("--plan and --signal exclude each other: give one");
  if (in.explicit_plan) {
    auto steps = parse_plan(*in.explicit_plan);
    if (!steps) return Error::msg(fmt::format("--plan: {}", steps.error().message));
    return StopPlan{PlanProfile::command_line, "given with --plan", std::move(*steps)};
  }
  if (in.explicit_signal) {
    if (*in.explicit_signal < 1 || *in.explicit_signal > 64)
      return Error::msg(fmt::format("--signal {}: not a signal number (1-64)", *in.explicit_signal));
    return StopPlan{PlanProfile::command_line, fmt::format("given with --signal {}", signal_name(*in.explicit_signal)),
                    {signal_step(*in.explicit_signal, TargetKind::init)}};
  }

  // 2. The image's or deployment's word.
  auto labels = parse_sigdrain_labels(in.labels);
  if (!labels) return labels.error();
  if (labels->plan) return StopPlan{PlanProfile::label, "given by label sigdrain.io/plan", parse_plan(*labels->plan).value()};
  if (labels->stop_signal)
    return StopPlan{PlanProfile::label,
                    fmt::format("given by label sigdrain.io/stop-signal={}", signal_name(*labels->stop_signal)),
                    {signal_step(*labels->stop_signal, TargetKind::init)}};

  const int stop_signal = in.runtime_stop_signal;
  const ProcessFacts* init = find_process(in.processes, in.init_pid);
  if (!init)
    return StopPlan{PlanProfile::runtime_signal,
                    fmt::format("nothing is known about init (PID {}): the runtime's stop signal", in.init_pid),
                    {signal_step(stop_signal, TargetKind::init)}};

  // 3. Look past a shell or an init shim to the process that really serves.
  const ProcessFacts* serving = init;
  TargetKind target = TargetKind::init;
  // Containers sharing the host's pid namespace have an init that is not PID 1.
  const std::string init_name = init->ns_pid == 1 ? "PID 1" : fmt::format("init (PID {})", init->pid);
  std::string who = init_name + " is";
  const bool shell_without_handler =
      is_shell_running_command(*init) && init->masks.disposition(stop_signal) != Disposition::handler;
  if (shell_without_handler || is_init_shim(*init)) {
    auto kids = children_of(in.processes, init->pid);
    if (kids.size() == 1) {
      serving = kids[0];
      target = TargetKind::children;
      who = shell_without_handler
                ? fmt::format("{} is a shell ({} -c) without a handler for {}; its only child is", init_name,
                              shown_name(*init), signal_name(stop_signal))
                : fmt::format("{} is the init shim {}; its only child is", init_name, shown_name(*init));
    }
  }

  // 4. Servers whose graceful stop is not the runtime's signal.
  if (goes_by(*serving, "supervisord")) return supervisord_plan(in.processes, *serving, target, who);
  if (const ServerProfile* sp = server_profile_of(*serving))
    return StopPlan{sp->profile, fmt::format("{} {}: {}", who, shown_name(*serving), sp->why),
                    {signal_step(sp->signo, target)}};

  const Disposition disposition = serving->masks.disposition(stop_signal);
  // 5. The kernel drops a signal without a handler for a pid-namespace init, even one from the host: the stop
  //    signal would do nothing but make the runtime wait for its timeout.
  if (serving == init && init->ns_pid == 1 && disposition != Disposition::handler)
    return StopPlan{PlanProfile::no_handler,
                    fmt::format("PID 1 ({}) has no handler for {} (disposition: {}): the kernel drops it for a "
                                "namespace init, so once drained SIGKILL is safe and immediate",
                                shown_name(*init), signal_name(stop_signal), disposition_name(disposition)),
                    {signal_step(SIGKILL, TargetKind::init)}};

  // 6. The runtime's signal, to where it does something.
  if (serving != init)
    return StopPlan{PlanProfile::wrapper,
                    fmt::format("{} {}: it gets the runtime's stop signal {} directly", who, shown_name(*serving),
                                signal_name(stop_signal)),
                    {signal_step(stop_signal, TargetKind::children)}};
  return StopPlan{
      PlanProfile::runtime_signal,
      disposition == Disposition::handler
          ? fmt::format("{} ({}) handles {}, the runtime's stop signal", init_name, shown_name(*init),
                        signal_name(stop_signal))
          : fmt::format("{} ({}) has no handler for {} (disposition: {}) but is not a pid-namespace "
                        "init, so the kernel does not drop the runtime's stop signal",
                        init_name, shown_name(*init), signal_name(stop_signal), disposition_name(disposition)),
      {signal_step(stop_signal, TargetKind::init)}};
}

}  // namespace sigdrain
