// Plan text and sigdrain.io/ labels: parsing, validation, formatting.
#include "policy/plan.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "signals/signal_names.hpp"
#include "util/parse_number.hpp"
#include "util/text.hpp"

namespace sigdrain {
namespace {

constexpr std::string_view kLabelPrefix = "sigdrain.io/";
constexpr std::chrono::milliseconds kMaxPause{600'000};
constexpr size_t kMaxNameLength = 64;

// Digits only: no sign, no blanks.
std::optional<int64_t> parse_count(std::string_view s) {
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s.front()))) return std::nullopt;
  return parse_integer<int64_t>(s);
}

// "500ms", but also "5 ms" or "1.5s", which then get the pause's error; "28@listeners" is a signal.
bool looks_like_pause(std::string_view item) {
  return !item.empty() && std::isdigit(static_cast<unsigned char>(item.front())) && item.ends_with('s') &&
         item.find('@') == std::string_view::npos;
}

Result<std::chrono::milliseconds> parse_pause(std::string_view item) {
  const bool millis = item.ends_with("ms");
  auto n = parse_count(item.substr(0, item.size() - (millis ? 2 : 1)));
  // Compared before multiplying: a huge count of seconds must not overflow.
  if (!n || *n < 1 || *n > (millis ? kMaxPause.count() : kMaxPause.count() / 1000))
    return Error::msg("a pause is a whole number of ms or s, from 1ms to 600s");
  return std::chrono::milliseconds(millis ? *n : *n * 1000);
}

Result<PlanTarget> parse_target(std::string_view t) {
  if (t == "init") return PlanTarget{TargetKind::init, ""};
  if (t == "children") return PlanTarget{TargetKind::children, ""};
  if (t == "pgrp") return PlanTarget{TargetKind::process_group, ""};
  if (t == "listeners") return PlanTarget{TargetKind::listeners, ""};
  if (t.starts_with("name:")) {
    std::string_view name = t.substr(5);
    bool bad_char = std::any_of(name.begin(), name.end(), [](unsigned char c) {
      return std::isspace(c) || c == ',' || c == '@' || c == '/' || c == '\0';
    });
    if (name.empty() || name.size() > kMaxNameLength || bad_char)
      return Error::msg(fmt::format("\"name:\" wants a process name of 1-{} characters without blanks , @ or /",
                                    kMaxNameLength));
    return PlanTarget{TargetKind::name, std::string(name)};
  }
  return Error::msg(fmt::format("unknown target \"{}\" (use init, children, pgrp, listeners or name:COMM)", t));
}


Result<PlanStep> parse_item(std::string_view item) {
  if (looks_like_pause(item)) {
    auto pause = parse_pause(item);
    if (!pause) return pause.error();
    return PlanStep{0, {}, *pause};
  }
  size_t at = item.find('@');
  std::string_view sig = trim(item.substr(0, at));
  auto signo = parse_signal(sig);
  if (!signo) return Error::msg(fmt::format("\"{}\" is neither a signal nor a pause like 500ms", sig));
  PlanStep step{*signo, {}, std::chrono::milliseconds(0)};
  if (at != std::string_view::npos) {
    auto target = parse_target(trim(item.substr(at + 1)));
    if (!target) return target.error();
    step.target = std::move(*target);
  }
  return step;
}

Result<int64_t> label_count(const std::string& key, const std::string& value, int64_t lo, int64_t hi) {
  auto n = parse_count(trim(value));
  if (!n || *n < lo || *n > hi)
    return Error::msg(fmt::format("label {}=\"{}\": want a whole number from {} to {}", key, value, lo, hi));
  return *n;
}

}  // namespace

std::string format_target(const PlanTarget& t) {
  switch (t.kind) {
    case TargetKind::init: return "init";
    case TargetKind::children: return "children";
    case TargetKind::process_group: return "pgrp";
    case TargetKind::listeners: return "listeners";
    case TargetKind::name: return "name:" + t.name;
  }
  return "init";
}

Result<std::vector<PlanStep>> parse_plan(std::string_view text) {
  if (trim(text).empty()) return Error::msg("empty plan: want e.g. \"SIGTERM@init, 500ms, SIGINT@name:uwsgi\"");
  std::vector<PlanStep> steps;
  size_t pos = 0;
  for (int index = 1;; ++index) {
    size_t comma = text.find(',', pos);
    std::string_view item =
        trim(text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (item.empty()) return Error::msg(fmt::format("plan \"{}\": item {} is empty", text, index));
    auto step = parse_item(item);
    if (!step)
      return Error::msg(fmt::format("plan \"{}\": item {} \"{}\": {}", text, index, item, step.error().message));
    steps.push_back(std::move(*step));
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
    if (s.signo != 0)
      out += signal_name(s.signo) + "@" + format_target(s.target);
    else if (s.pause.count() > 0 && s.pause.count() % 1000 == 0)
      out += fmt::format("{}s", s.pause.count() / 1000);
    else
      out += fmt::format("{}ms", s.pause.count());
  }
  return out;
}

const std::vector<LabelKey>& known_label_keys() {
  static const std::vector<LabelKey> keys = {
      {"sigdrain.io/plan", "the stop plan to run once drained, e.g. \"SIGTERM@init, 500ms, SIGINT@name:uwsgi\""},
      {"sigdrain.io/stop-signal", "the signal to send to init once drained, e.g. SIGQUIT (instead of a plan)"},
      {"sigdrain.io/quiet-ms",
       "how long nothing may be in flight or received before the container counts as idle "
       "(0-600000 ms)"},
      {"sigdrain.io/max-drain-ms",
       "the longest the drain may last, shorter than the stop timeout allows (0-3600000 ms)"},
      {"sigdrain.io/min-drain-ms",
       "the shortest a stop is held, even when idle: the endpoint-removal lag of a pod with sparse traffic "
       "(0-3600000 ms)"},
      {"sigdrain.io/guard",
       "true or false: whether `sigdrain daemon` holds stop signals sent to this container until "
       "it is drained"},
  };
  return keys;
}

Result<LabelSettings> parse_sigdrain_labels(const std::map<std::string, std::string>& labels) {
  const auto& keys = known_label_keys();
  for (const auto& [key, value] : labels) {
    if (!key.starts_with(kLabelPrefix)) continue;
    if (std::none_of(keys.begin(), keys.end(), [&name = key](const LabelKey& k) { return k.key == name; })) {
      std::string known;
      for (const auto& k : keys) known += (known.empty() ? "" : ", ") + std::string(k.key);
      return Error::msg(fmt::format("unknown label {} (known: {})", key, known));
    }
  }
  auto find = [&](std::string_view key) -> const std::string* {
    auto it = labels.find(std::string(key));
    return it == labels.end() ? nullptr : &it->second;
  };

  LabelSettings s;
  if (find("sigdrain.io/plan") && find("sigdrain.io/stop-signal"))
    return Error::msg("labels sigdrain.io/plan and sigdrain.io/stop-signal both set: keep one");
  if (const std::string* v = find("sigdrain.io/plan")) {
    auto steps = parse_plan(*v);
    if (!steps) return Error::msg(fmt::format("label sigdrain.io/plan: {}", steps.error().message));
    s.plan = *v;
  }
  if (const std::string* v = find("sigdrain.io/stop-signal")) {
    auto signo = parse_signal(trim(*v));
    if (!signo) return Error::msg(fmt::format("label sigdrain.io/stop-signal=\"{}\": not a signal name or number", *v));
    s.stop_signal = *signo;
  }
  if (const std::string* v = find("sigdrain.io/quiet-ms")) {
    auto n = label_count("sigdrain.io/quiet-ms", *v, 0, 600'000);
    if (!n) return n.error();
    s.quiet = std::chrono::milliseconds(*n);
  }
  if (const std::string* v = find("sigdrain.io/max-drain-ms")) {
    auto n = label_count("sigdrain.io/max-drain-ms", *v, 0, 3'600'000);
    if (!n) return n.error();
    s.max_drain = std::chrono::milliseconds(*n);
  }
  if (const std::string* v = find("sigdrain.io/min-drain-ms")) {
    auto n = label_count("sigdrain.io/min-drain-ms", *v, 0, 3'600'000);
    if (!n) return n.error();
    s.min_drain = std::chrono::milliseconds(*n);
  }
  if (const std::string* v = find("sigdrain.io/guard")) {
    std::string_view b = trim(*v);
    if (b != "true" && b != "false")
      return Error::msg(fmt::format("label sigdrain.io/guard=\"{}\": want true or false", *v));
    s.guard = b == "true";
  }
  return s;
}

}  // namespace sigdrain
