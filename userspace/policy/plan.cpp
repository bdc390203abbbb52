#include "policy/plan.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>

#include <fmt/format.h>

#include "signals/signal_names.hpp"

namespace sigdrain {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> parse_int(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// "500ms", "2s"; nullopt when the item is not a duration at all.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) {
  if (s.size() > 2 && s.substr(s.size() - 2) == "ms") {
    if (auto n = parse_int(s.substr(0, s.size() - 2)); n && *n >= 0) return std::chrono::milliseconds(*n);
    return std::nullopt;
  }
  if (s.size() > 1 && s.back() == 's' && std::isdigit(static_cast<unsigned char>(s.front()))) {
    if (auto n = parse_int(s.substr(0, s.size() - 1)); n && *n >= 0) return std::chrono::seconds(*n);
  }
  return std::nullopt;
}

Result<PlanTarget> parse_target(std::string_view t) {
  if (t == "init") return PlanTarget{TargetKind::init, ""};
  if (t == "children") return PlanTarget{TargetKind::children, ""};
  if (t == "pgrp") return PlanTarget{TargetKind::process_group, ""};
  if (t == "listeners") return PlanTarget{TargetKind::listeners, ""};
  if (t.rfind("name:", 0) == 0 && t.size() > 5) return PlanTarget{TargetKind::name, std::string(t.substr(5))};
  return Error::msg(fmt::format("unknown target \"{}\" (use init, children, pgrp, listeners or name:COMM)", t));
}

std::string target_suffix(const PlanTarget& t) {
  switch (t.kind) {
    case TargetKind::init: return "@init";
    case TargetKind::children: return "@children";
    case TargetKind::process_group: return "@pgrp";
    case TargetKind::listeners: return "@listeners";
    case TargetKind::name: return "@name:" + t.name;
  }
  return "@init";
}

std::string base(const std::string& path) { return std::filesystem::path(path).filename().string(); }

// The name a profile is chosen by: argv[0]'s basename (comm is truncated to 15 characters).
std::string program_of(const ProcessFacts& p) {
  if (!p.argv.empty() && !p.argv[0].empty()) return base(p.argv[0]);
  return p.comm;
}

bool runs(const ProcessFacts& p, std::string_view program) {
  if (program_of(p) == program || p.comm == program) return true;
  // Interpreted programs: "python3 /usr/bin/supervisord -n".
  return std::any_of(p.argv.begin() + std::min<size_t>(1, p.argv.size()), p.argv.end(),
                     [&](const std::string& a) { return base(a) == program; });
}

bool is_shell_running_command(const ProcessFacts& p) {
  static const std::vector<std::string> shells = {"sh", "bash", "dash", "ash", "busybox"};
  std::string prog = program_of(p);
  return std::find(shells.begin(), shells.end(), prog) != shells.end() &&
         std::find(p.argv.begin(), p.argv.end(), "-c") != p.argv.end();
}

bool is_init_shim(const ProcessFacts& p) {
  std::string prog = program_of(p);
  return prog == "tini" || prog == "dumb-init" || prog == "catatonit" || prog == "docker-init";
}

struct ServerProfile {
  std::string_view program;
  std::string_view profile;
  int signo;
  std::string_view why;
};

const std::vector<ServerProfile>& server_profiles() {
  static const std::vector<ServerProfile> profiles = {
      {"uwsgi", "uwsgi", SIGINT, "SIGTERM makes uWSGI reload brutally; once drained, SIGINT stops it"},
      {"nginx", "nginx", SIGQUIT, "SIGTERM is nginx's fast shutdown; SIGQUIT is its graceful one"},
      {"php-fpm", "php-fpm", SIGQUIT, "SIGTERM is php-fpm's fast shutdown; SIGQUIT is its graceful one"},
      {"httpd", "httpd", SIGWINCH, "SIGTERM stops Apache at once; SIGWINCH is its graceful stop"},
      {"apache2", "httpd", SIGWINCH, "SIGTERM stops Apache at once; SIGWINCH is its graceful stop"},
      {"gunicorn", "gunicorn", SIGTERM, "SIGTERM is gunicorn's graceful stop"},
  };
  return profiles;
}

const ServerProfile* server_profile_of(const ProcessFacts& p) {
  std::string prog = program_of(p);
  for (const auto& sp : server_profiles()) {
    if (prog == sp.program || p.comm == sp.program) return &sp;
    if (sp.program == "php-fpm" && prog.rfind("php-fpm", 0) == 0) return &sp;
  }
  // Interpreted servers: "python3 /usr/bin/gunicorn app:app".
  for (const auto& sp : server_profiles())
    if (runs(p, sp.program)) return &sp;
  return nullptr;
}

const ProcessFacts* find_pid(const std::vector<ProcessFacts>& ps, pid_t pid) {
  for (const auto& p : ps)
    if (p.pid == pid) return &p;
  return nullptr;
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

Result<int> label_int(const std::map<std::string, std::string>& labels, const std::string& key, int64_t lo, int64_t hi) {
  auto n = parse_int(trim(labels.at(key)));
  if (!n || *n < lo || *n > hi) return Error::msg(fmt::format("label {}={}: want a whole number from {} to {}", key, labels.at(key), lo, hi));
  return static_cast<int>(*n);
}

}  // namespace

Result<std::vector<PlanStep>> parse_plan(std::string_view text) {
  std::vector<PlanStep> steps;
  if (trim(text).empty()) return Error::msg("empty plan");
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string_view item = trim(text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (item.empty()) return Error::msg(fmt::format("plan \"{}\": empty step", text));
    if (auto d = parse_duration(item)) {
      steps.push_back(PlanStep{0, {}, *d});
    } else {
      size_t at = item.find('@');
      std::string_view sig = at == std::string_view::npos ? item : item.substr(0, at);
      auto signo = parse_signal(sig);
      if (!signo) return Error::msg(fmt::format("plan \"{}\": \"{}\" is neither a signal nor a pause like 500ms", text, item));
      PlanTarget target;
      if (at != std::string_view::npos) {
        auto t = parse_target(item.substr(at + 1));
        if (!t) return Error::msg(fmt::format("plan \"{}\": {}", text, t.error().message));
        target = *t;
      }
      steps.push_back(PlanStep{*signo, target, std::chrono::milliseconds(0)});
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  if (std::none_of(steps.begin(), steps.end(), [](const PlanStep& s) { return s.signo != 0; }))
    return Error::msg(fmt::format("plan \"{}\" sends no signal", text));
  return steps;
}

std::string format_plan(const std::vector<PlanStep>& steps) {
  std::string out;
  for (const auto& s : steps) {
    if (!out.empty()) out += ", ";
    if (s.signo == 0) {
      out += s.pause.count() % 1000 == 0 && s.pause.count() > 0 ? fmt::format("{}s", s.pause.count() / 1000)
                                                                : fmt::format("{}ms", s.pause.count());
    } else {
      out += signal_name(s.signo) + target_suffix(s.target);
    }
  }
  return out;
}

const std::vector<LabelKey>& known_label_keys() {
  static const std::vector<LabelKey> keys = {
      {"sigdrain.io/plan", "an explicit stop plan, e.g. \"SIGQUIT@init\" (see docs/plans.md)"},
      {"sigdrain.io/stop-signal", "the signal to send to init once drained, e.g. SIGQUIT"},
      {"sigdrain.io/quiet-ms", "milliseconds without a request in flight that count as idle (0-600000)"},
      {"sigdrain.io/max-drain-ms", "the longest the drain may last, in milliseconds (0-3600000)"},
      {"sigdrain.io/guard", "true or false: whether the daemon guards this container"},
  };
  return keys;
}

Result<LabelSettings> parse_sigdrain_labels(const std::map<std::string, std::string>& labels) {
  LabelSettings s;
  for (const auto& [key, value] : labels) {
    if (key.rfind("sigdrain.io/", 0) != 0) continue;
    const auto& keys = known_label_keys();
    if (std::none_of(keys.begin(), keys.end(), [&](const LabelKey& k) { return k.key == key; })) {
      std::string known;
      for (const auto& k : keys) known += (known.empty() ? "" : ", ") + std::string(k.key);
      return Error::msg(fmt::format("unknown label {} (known: {})", key, known));
    }
  }
  if (labels.contains("sigdrain.io/plan")) {
    auto steps = parse_plan(labels.at("sigdrain.io/plan"));
    if (!steps) return Error::msg(fmt::format("label sigdrain.io/plan: {}", steps.error().message));
    s.plan = labels.at("sigdrain.io/plan");
  }
  if (labels.contains("sigdrain.io/stop-signal")) {
    auto signo = parse_signal(trim(labels.at("sigdrain.io/stop-signal")));
    if (!signo) return Error::msg(fmt::format("label sigdrain.io/stop-signal={}: not a signal", labels.at("sigdrain.io/stop-signal")));
    s.stop_signal = *signo;
  }
  if (labels.contains("sigdrain.io/quiet-ms")) {
    auto n = label_int(labels, "sigdrain.io/quiet-ms", 0, 600000);
    if (!n) return n.error();
    s.quiet = std::chrono::milliseconds(*n);
  }
  if (labels.contains("sigdrain.io/max-drain-ms")) {
    auto n = label_int(labels, "sigdrain.io/max-drain-ms", 0, 3600000);
    if (!n) return n.error();
    s.max_drain = std::chrono::milliseconds(*n);
  }
  if (labels.contains("sigdrain.io/guard")) {
    std::string_view v = trim(labels.at("sigdrain.io/guard"));
    if (v != "true" && v != "false") return Error::msg(fmt::format("label sigdrain.io/guard={}: want true or false", v));
    s.guard = v == "true";
  }
  return s;
}

Result<StopPlan> choose_plan(const PlanInputs& in) {
  if (in.explicit_plan) {
    auto steps = parse_plan(*in.explicit_plan);
    if (!steps) return Error::msg(fmt::format("--plan: {}", steps.error().message));
    return StopPlan{"explicit", "given with --plan", *steps};
  }
  if (in.explicit_signal)
    return StopPlan{"explicit", "given with --signal", {signal_step(*in.explicit_signal, TargetKind::init)}};

  auto labels = parse_sigdrain_labels(in.labels);
  if (!labels) return labels.error();
  if (labels->plan) return StopPlan{"label", "from label sigdrain.io/plan", parse_plan(*labels->plan).value()};
  if (labels->stop_signal)
    return StopPlan{"label", "from label sigdrain.io/stop-signal", {signal_step(*labels->stop_signal, TargetKind::init)}};

  const int stop_signal = in.runtime_stop_signal;
  const ProcessFacts* init = find_pid(in.processes, in.init_pid);
  if (!init) return StopPlan{"default", "the runtime's stop signal to init", {signal_step(stop_signal, TargetKind::init)}};

  // Look past a shell or an init shim to the process that really serves.
  const ProcessFacts* serving = init;
  TargetKind serving_target = TargetKind::init;
  std::string wrapper_note;
  bool shell_without_handler = is_shell_running_command(*init) && init->masks.disposition(stop_signal) != Disposition::handler;
  if (shell_without_handler || is_init_shim(*init)) {
    auto kids = children_of(in.processes, init->pid);
    if (kids.size() == 1) {
      serving = kids[0];
      serving_target = TargetKind::children;
      wrapper_note = shell_without_handler ? fmt::format("PID 1 is a shell ({}) that does not forward signals; ", program_of(*init))
                                           : fmt::format("PID 1 is {}; ", program_of(*init));
    }
  }

  if (runs(*serving, "supervisord")) {
    StopPlan plan{"supervisord", "", {signal_step(SIGTERM, serving_target), PlanStep{0, {}, std::chrono::milliseconds(500)}}};
    std::string children_note;
    for (const ProcessFacts* child : children_of(in.processes, serving->pid)) {
      const ServerProfile* sp = server_profile_of(*child);
      if (!sp) continue;
      plan.steps.push_back(signal_step(sp->signo, TargetKind::name, program_of(*child)));
      children_note += fmt::format("; its child {}: {}", program_of(*child), sp->why);
    }
    plan.reason = wrapper_note +
                  "supervisord forwards its own stopsignal, which may only reload its programs; SIGTERM makes it stop "
                  "without restarting them, then each program gets its own graceful signal" + children_note;
    return plan;
  }
  if (const ServerProfile* sp = server_profile_of(*serving)) {
    return StopPlan{std::string(sp->profile), wrapper_note + std::string(sp->why), {signal_step(sp->signo, serving_target)}};
  }
  if (serving == init && init->masks.disposition(stop_signal) != Disposition::handler) {
    return StopPlan{"no-handler",
                    fmt::format("PID 1 ({}) has no handler for {}: the kernel drops it for a namespace init, so once "
                                "drained SIGKILL is safe and immediate",
                                program_of(*init), signal_name(stop_signal)),
                    {signal_step(SIGKILL, TargetKind::init)}};
  }
  if (serving != init)
    return StopPlan{"wrapper", wrapper_note + fmt::format("{} goes to its child {}", signal_name(stop_signal), program_of(*serving)),
                    {signal_step(stop_signal, TargetKind::children)}};
  return StopPlan{"default", fmt::format("{} has a handler for {}", program_of(*init), signal_name(stop_signal)),
                  {signal_step(stop_signal, TargetKind::init)}};
}

}  // namespace sigdrain
