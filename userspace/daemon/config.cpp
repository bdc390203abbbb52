#include "daemon/config.hpp"


#include <fmt/format.h>

#include "metrics/listen_address.hpp"
#include "policy/drain.hpp"
#include "util/parse_number.hpp"
#include "util/text.hpp"

namespace sigdrain {
namespace {

const std::map<std::string_view, std::string_view>& known_keys() {
  static const std::map<std::string_view, std::string_view> keys = {
      {"state-dir", "absolute path"}, {"guard", "all | labelled"},          {"max-hold-ms", "1..3600000"},
      {"quiet-ms", "0..600000"},      {"default-timeout", "2..3600 seconds"}, {"log-format", "text | json"},
      {"docker-state", "absolute path"}, {"containerd-state", "absolute path"}, {"crio-state", "absolute path"},
      {"podman", "podman binary: a name in PATH or an absolute path"}, {"metrics-address", "HOST:PORT"},
      {"hold-backend", "auto | ptrace | lsm"}, {"bpf-pin-dir", "absolute path on bpffs | none"},
      {"min-drain-ms", "0..3600000"},
  };
  return keys;
}

Result<int> ranged(const std::string& key, const ConfigSetting& s, int lo, int hi) {
  auto v = parse_integer<int>(s.value);
  if (!v || *v < lo || *v > hi)
    return Error::msg(fmt::format("line {}: {} = {}: want a whole number from {} to {}", s.line, key, s.value, lo, hi));
  return *v;
}

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view name) {
  if (name == "text") return LogFormat::text;
  if (name == "json") return LogFormat::json;
  return std::nullopt;
}

Result<std::string> parse_bpf_pin_dir(std::string_view value) {
  if (value == "none") return std::string();
  if (value.empty() || value.front() != '/') return Error::msg(fmt::format("bpf-pin-dir = {}: want an absolute path or none", value));
  return std::string(value);
}

std::string_view log_format_name(LogFormat format) { return format == LogFormat::json ? "json" : "text"; }

Result<std::map<std::string, ConfigSetting>> parse_config(std::string_view text) {
  std::map<std::string, ConfigSetting> out;
  int line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return Error::msg(fmt::format("line {}: want `key = value`, got \"{}\"", line_no, line));
    std::string key(trim(line.substr(0, eq)));
    std::string value(trim(line.substr(eq + 1)));
    if (!known_keys().contains(key)) {
      std::string known;
      for (const auto& [k, _] : known_keys()) known += (known.empty() ? "" : ", ") + std::string(k);
      return Error::msg(fmt::format("line {}: unknown key \"{}\" (known: {})", line_no, key, known));
    }
    if (value.empty()) return Error::msg(fmt::format("line {}: {} has no value", line_no, key));
    if (out.contains(key)) return Error::msg(fmt::format("line {}: {} is already set on line {}", line_no, key, out[key].line));
    out[key] = ConfigSetting{value, line_no};
  }
  return out;
}

Result<DaemonOptions> compile_config(const std::map<std::string, ConfigSetting>& settings, DaemonOptions o) {
  for (const auto& [key, s] : settings) {
    if (key == "state-dir") {
      if (s.value.front() != '/') return Error::msg(fmt::format("line {}: state-dir must be an absolute path", s.line));
      o.state_dir = s.value;
    } else if (key == "docker-state" || key == "containerd-state" || key == "crio-state") {
      if (s.value.front() != '/') return Error::msg(fmt::format("line {}: {} must be an absolute path", s.line, key));
      (key == "docker-state" ? o.roots.docker_state : key == "containerd-state" ? o.roots.containerd_state : o.roots.crio_state) = s.value;
    } else if (key == "podman") {
      o.roots.podman_binary = s.value;
    } else if (key == "guard") {
      if (s.value != "all" && s.value != "labelled")
        return Error::msg(fmt::format("line {}: guard = {}: want all or labelled", s.line, s.value));
      o.guard_labelled_only = s.value == "labelled";
    } else if (key == "max-hold-ms") {
      auto v = ranged(key, s, 1, 3600000);
      if (!v) return v.error();
      o.max_hold_ms = *v;
    } else if (key == "quiet-ms") {
      auto v = ranged(key, s, 0, 600000);
      if (!v) return v.error();
      o.quiet_ms = *v;
    } else if (key == "min-drain-ms") {
      auto v = ranged(key, s, 0, 3600000);
      if (!v) return v.error();
      o.min_drain_ms = *v;
    } else if (key == "default-timeout") {
      auto v = ranged(key, s, 2, 3600);
      if (!v) return v.error();
      o.default_timeout_s = *v;
    } else if (key == "log-format") {
      auto format = parse_log_format(s.value);
      if (!format) return Error::msg(fmt::format("line {}: log-format = {}: want text or json", s.line, s.value));
      o.log_format = *format;
    } else if (key == "hold-backend") {
      auto backend = parse_hold_backend_setting(s.value);
      if (!backend) return Error::msg(fmt::format("line {}: {}", s.line, backend.error().message));
      o.hold_backend = *backend;
    } else if (key == "bpf-pin-dir") {
      auto dir = parse_bpf_pin_dir(s.value);
      if (!dir) return Error::msg(fmt::format("line {}: {}", s.line, dir.error().message));
      o.bpf_pin_dir = *dir;
    } else if (key == "metrics-address") {
      if (auto address = metrics::parse_listen_address(s.value); !address)
        return Error::msg(fmt::format("line {}: {}", s.line, address.error().message));
      o.metrics_address = s.value;
    }
  }
  return o;
}

std::string format_config(const DaemonOptions& o) {
  std::string out;
  out += fmt::format("state-dir = {}\n", o.state_dir);
  out += fmt::format("guard = {}\n", o.guard_labelled_only ? "labelled" : "all");
  if (o.max_hold_ms) out += fmt::format("max-hold-ms = {}\n", *o.max_hold_ms);
  out += fmt::format("quiet-ms = {}\n", o.quiet_ms.value_or(static_cast<int>(kDefaultQuiet.count())));
  out += fmt::format("min-drain-ms = {}\n", o.min_drain_ms);
  out += fmt::format("default-timeout = {}\n", o.default_timeout_s);
  out += fmt::format("log-format = {}\n", log_format_name(o.log_format));
  out += fmt::format("hold-backend = {}\n", hold_backend_setting_name(o.hold_backend));
  if (!o.metrics_address.empty()) out += fmt::format("metrics-address = {}\n", o.metrics_address);
  out += fmt::format("bpf-pin-dir = {}\n", o.bpf_pin_dir.empty() ? "none" : o.bpf_pin_dir);
  out += fmt::format("docker-state = {}\n", o.roots.docker_state);
  out += fmt::format("containerd-state = {}\n", o.roots.containerd_state);
  out += fmt::format("crio-state = {}\n", o.roots.crio_state);
  out += fmt::format("podman = {}\n", o.roots.podman_binary);
  return out;
}

}  // namespace sigdrain
