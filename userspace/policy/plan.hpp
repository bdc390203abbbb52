// Stop plans ("redirect"): which signals go to which processes of a container once it is drained, and the
// built-in profiles for servers whose graceful stop signal is not SIGTERM. Pure: facts in, plan out.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proc/proc.hpp"
#include "util/result.hpp"

namespace sigdrain {

enum class TargetKind { init, children, process_group, listeners, name };

struct PlanTarget {
  TargetKind kind = TargetKind::init;
  std::string name;  // kind == name
  bool operator==(const PlanTarget&) const = default;
};

// A signal to a target, or (signo == 0) a pause before the next step.
struct PlanStep {
  int signo = 0;
  PlanTarget target;
  std::chrono::milliseconds pause{0};
  bool operator==(const PlanStep&) const = default;
};

// Which rule of choose_plan() chose a plan. Its name is the "profile" in check's output and the stop record.
enum class PlanProfile {
  command_line,  // "explicit": --plan or --signal
  label,         // "label": sigdrain.io/plan or sigdrain.io/stop-signal
  uwsgi,
  nginx,
  php_fpm,  // "php-fpm"
  httpd,
  gunicorn,
  supervisord,
  no_handler,     // "no-handler": a pid-namespace init without a handler for the stop signal
  wrapper,        // "wrapper": the runtime's signal to the child of a shell or init shim
  runtime_signal  // "default": the runtime's signal to init
};
std::string_view plan_profile_name(PlanProfile profile);

struct StopPlan {
  PlanProfile profile = PlanProfile::runtime_signal;
  std::string reason;  // one sentence for the report: why these signals
  std::vector<PlanStep> steps;
};

// Plan text, strict:
//   plan   := item ("," item)*             blanks around items are allowed, empty items are not
//   item   := pause | SIGNAL ["@" TARGET]  a plan must send at least one signal
//   pause  := DIGITS "ms" | DIGITS "s"     from 1 ms to 600 s
//   SIGNAL := what parse_signal() takes: SIGTERM, TERM, term, 15, SIGRTMIN+2
//   TARGET := init                (the default) the container's init
//           | children            the direct children of init
//           | pgrp                init's process group
//           | listeners           the processes owning the container's listening TCP sockets
//           | name:COMM           processes whose comm or argv[0] basename is COMM and whose parent is not also
//                                 COMM: the master of a worker tree. COMM: 1-64 characters, no blank , @ or /
// Example: "SIGTERM@init, 500ms, SIGINT@name:uwsgi". Errors name the item and what is wrong with it.
Result<std::vector<PlanStep>> parse_plan(std::string_view text);
// Canonical text that parse_plan() reads back to the same steps: every signal by name with its target,
// pauses in whole seconds when they are.
std::string format_plan(const std::vector<PlanStep>& steps);
// A target as plan text: "init", "children", "pgrp", "listeners", "name:COMM".
std::string format_target(const PlanTarget& target);

// Settings from container labels / OCI annotations under "sigdrain.io/".
struct LabelSettings {
  std::optional<std::string> plan;  // valid plan text
  std::optional<int> stop_signal;
  std::optional<std::chrono::milliseconds> quiet;
  std::optional<std::chrono::milliseconds> max_drain;
  std::optional<std::chrono::milliseconds> min_drain;
  std::optional<bool> guard;
};
struct LabelKey {
  std::string_view key;  // full key, "sigdrain.io/plan"
  std::string_view doc;  // one line
};
const std::vector<LabelKey>& known_label_keys();
// Labels outside "sigdrain.io/" are ignored; an unknown key under it, a malformed value, or both plan and
// stop-signal set are errors naming the label.
Result<LabelSettings> parse_sigdrain_labels(const std::map<std::string, std::string>& labels);

struct PlanInputs {
  std::vector<ProcessFacts> processes;  // the container's (process_tree), init first
  pid_t init_pid = 0;
  int runtime_stop_signal = SIGTERM;
  std::optional<std::string> explicit_plan;  // --plan
  std::optional<int> explicit_signal;        // --signal
  std::map<std::string, std::string> labels;
};

// The plan for a container, first rule that applies:
// 1. --plan / --signal (SIG@init): "explicit"; both at once is an error. Labels are not consulted.
// 2. label sigdrain.io/plan or sigdrain.io/stop-signal (SIG@init): "label". Any malformed sigdrain.io/ label is
//    an error here.
// 3. The serving process: init, unless init is a shell running `-c` without a handler for the runtime's stop signal,
//    or an init shim (tini, dumb-init, catatonit, docker-init), with exactly one child: then that child, and the
//    plan targets `children` instead of `init`.
// 4. A server profile by the serving process's name: uwsgi SIGINT, nginx SIGQUIT, php-fpm* SIGQUIT, httpd/apache2
//    SIGWINCH, gunicorn SIGTERM; supervisord: SIGTERM, 500 ms, then each of its children with a profile gets that
//    profile's signal by name.
// 5. Init serves, is a pid-namespace init (ns_pid 1) and has no handler for the stop signal: the kernel drops that
//    signal, so the runtime would only wait for its SIGKILL. Once drained, SIGKILL@init: "no-handler".
// 6. Otherwise the runtime's stop signal to the serving target: "wrapper" past a shell or shim, else "default".
Result<StopPlan> choose_plan(const PlanInputs& inputs);

// What a stop signal means to a known server when it is not the one that stops it gracefully, e.g. "SIGTERM
// makes uWSGI reload, SIGINT stops it"; nullopt for other processes and signals.
std::optional<std::string> server_signal_note(const ProcessFacts& process, int signo);

// Whether a process goes by `name`: its comm, argv[0]'s program (also in a rewritten title such as
// "nginx: master process"), or the script an interpreter runs.
bool goes_by(const ProcessFacts& process, std::string_view name);

// Which of the container's processes a plan target names.
std::vector<pid_t> resolve_target(const PlanTarget& target, const std::vector<ProcessFacts>& processes, pid_t init_pid,
                                  const std::vector<pid_t>& listener_pids);

}  // namespace sigdrain
