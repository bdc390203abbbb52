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
};

// A signal to a target, or (signo == 0) a pause before the next step.
struct PlanStep {
  int signo = 0;
  PlanTarget target;
  std::chrono::milliseconds pause{0};
};

struct StopPlan {
  std::string profile;  // "explicit", "label", "uwsgi", "nginx", "supervisord", "no-handler", "default", ...
  std::string reason;   // one sentence for the report
  std::vector<PlanStep> steps;
};

// Plan text: items separated by ','; an item is SIGNAL[@TARGET] or a pause "<N>ms" / "<N>s".
// TARGET: init (default) | children | pgrp | listeners | name:COMM.   Example: "SIGTERM@init, 500ms, SIGINT@name:uwsgi"
Result<std::vector<PlanStep>> parse_plan(std::string_view text);
std::string format_plan(const std::vector<PlanStep>& steps);

// Settings from container labels / OCI annotations under "sigdrain.io/".
struct LabelSettings {
  std::optional<std::string> plan;
  std::optional<int> stop_signal;
  std::optional<std::chrono::milliseconds> quiet;
  std::optional<std::chrono::milliseconds> max_drain;
  std::optional<bool> guard;
};
struct LabelKey {
  std::string_view key;
  std::string_view doc;
};
const std::vector<LabelKey>& known_label_keys();
Result<LabelSettings> parse_sigdrain_labels(const std::map<std::string, std::string>& labels);

struct PlanInputs {
  std::vector<ProcessFacts> processes;  // the container's, init first
  pid_t init_pid = 0;
  int runtime_stop_signal = SIGTERM;
  std::optional<std::string> explicit_plan;  // --plan
  std::optional<int> explicit_signal;        // --signal
  std::map<std::string, std::string> labels;
};

Result<StopPlan> choose_plan(const PlanInputs& inputs);

}  // namespace sigdrain
