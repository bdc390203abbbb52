#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "metrics/listen_address.hpp"
#include "policy/drain.hpp"
#include "util/parse_number.hpp"
#include "util/result.hpp"

namespace {

constexpr const char* kFooter = R"(EXAMPLES:
  sigdrain trace                         every signal on the node, with verdicts
  sigdrain trace --container web --json  JSON Lines for one container
  sigdrain trace --signal TERM --signal KILL --duration 30
  sigdrain safe-stop web                 drain, then stop with the right signal
  sigdrain safe-stop web --dry-run       show the plan and its targets
  sigdrain safe-stop web --plan 'SIGQUIT@init' --timeout 30 --json
  sigdrain daemon                        guard every container: podman stop / docker stop / kubelet drain first
  sigdrain ps                            what the daemon guards, and why not
  sigdrain check web                     what a plain podman stop would do to web, and what to change

EXIT CODES: 0 success, 1 safe-stop had to SIGKILL, 2 error (bad input, no privilege, unknown container).)";

// CLI11's own number checks print their bounds as DBL_MAX in %f; these say what is wanted in words.
CLI::Validator whole_number(long lo, long hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        auto v = sigdrain::parse_integer<long>(text);
        if (v && *v >= lo && *v <= hi) return "";
        return fmt::format("want a whole number from {} to {}, got \"{}\"", lo, hi, text);
      },
      fmt::format("INT in {}..{}", lo, hi));
}

// Seconds: finite, more than 0, at most `max` (NaN and inf would reach a float-to-integer conversion).
CLI::Validator seconds_up_to(double max) {
  return CLI::Validator(
      [max](std::string& text) -> std::string {
        char* end = nullptr;
        double v = std::strtod(text.c_str(), &end);
        if (!text.empty() && end == text.c_str() + text.size() && std::isfinite(v) && v > 0 && v <= max) return "";
        return fmt::format("want seconds, more than 0 and at most {}, got \"{}\"", max, text);
      },
      fmt::format("SECONDS in (0, {}]", max));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sigdrain;
  CLI::App app{"sigdrain: see how containers handle stop signals, and stop them gracefully"};
  app.footer(kFooter);
  app.require_subcommand(1);
  app.set_version_flag("--version", SIGDRAIN_VERSION);

  TraceOptions trace;
  auto* trace_cmd = app.add_subcommand("trace", "Stream signals, deliveries and exits with container context and verdicts");
  trace_cmd->add_option("-c,--container", trace.containers, "Only events whose sender or target is in this container (name or id); repeatable");
  trace_cmd->add_option("-p,--pid", trace.pids, "Only events whose sender or target is this pid; repeatable")
      ->check(whole_number(1, 4194304));
  trace_cmd->add_option("-s,--signal", trace.signals, "Only this signal (name or number); repeatable. Default: all but SIGCHLD");
  trace_cmd->add_option("-d,--duration", trace.duration_s, "Stop after this many seconds")->check(seconds_up_to(kMaxTraceDurationS));
  trace_cmd->add_flag("--json", trace.json, "JSON Lines instead of columns");
  trace_cmd->add_flag("--deliveries", trace.deliveries, "Also show when each signal is delivered (always in --json)");
  trace_cmd->add_flag("-v,--verbose", trace.verbose, "Show libbpf's own messages");
  int exit_code = kExitOk;
  trace_cmd->callback([&] { exit_code = run_trace(trace); });

  SafeStopOptions stop;
  auto* stop_cmd = app.add_subcommand("safe-stop", "Drain a container's requests, then stop it with the signal that really stops it");
  stop_cmd->add_option("container", stop.container, "Container name, full or short id, or cgroup path")->required();
  stop_cmd->add_option("-t,--timeout", stop.timeout_s, fmt::format("Seconds until SIGKILL (default: the runtime's stop timeout, else {})", kDefaultStopTimeout.count()))
      ->check(seconds_up_to(kMaxSafeStopTimeoutS));
  stop_cmd->add_option("-q,--quiet", stop.quiet_ms, fmt::format("Milliseconds without a request in flight that count as idle (default {})", kDefaultQuiet.count()))
      ->check(whole_number(0, 600000));
  stop_cmd->add_option("-s,--signal", stop.signal, "Send this signal to init instead of the chosen plan");
  stop_cmd->add_option("--plan", stop.plan, "Explicit plan, e.g. 'SIGTERM@init, 500ms, SIGINT@name:uwsgi'");
  stop_cmd->add_flag("--dry-run", stop.dry_run, "Show the plan, its targets and their dispositions; change nothing");
  stop_cmd->add_flag("--json", stop.json, "One JSON object as the report");
  stop_cmd->add_flag("-v,--verbose", stop.verbose, "Show libbpf's own messages");
  stop_cmd->add_option("--state-dir", stop.daemon_state_dir, "A running daemon's state directory (default /run/sigdrain)");
  stop_cmd->get_option("--signal")->excludes(stop_cmd->get_option("--plan"));
  stop_cmd->callback([&] { exit_code = run_safe_stop(stop); });

  DaemonOptions daemon;
  auto* daemon_cmd = app.add_subcommand("daemon", "Hold stop signals sent to containers until they are idle, then stop them gracefully");
  daemon_cmd->add_option("--state-dir", daemon.state_dir, "Journal and lock directory (default /run/sigdrain)");
  daemon_cmd->add_flag("--labelled-only", daemon.guard_labelled_only, "Guard only containers labelled sigdrain.io/guard=true");
  daemon_cmd->add_option("--max-hold-ms", daemon.max_hold_ms, "Hold a stop signal at most this long")
      ->check(whole_number(1, 3600000));
  daemon_cmd->add_option("--quiet-ms", daemon.quiet_ms, fmt::format("Idle after this long without a request in flight (default {})", kDefaultQuiet.count()))
      ->check(whole_number(0, 600000));
  daemon_cmd->add_option("--default-timeout", daemon.default_timeout_s, fmt::format("Stop timeout in seconds when the runtime does not say (default {})", kDefaultStopTimeout.count()))
      ->check(whole_number(2, 3600));
  daemon_cmd->add_option_function<std::string>(
                "--log-format", [&](const std::string& name) { daemon.log_format = *parse_log_format(name); },
                "Stop records and log lines as text (default) or json, one object each")
      ->check(CLI::Validator([](std::string& name) { return parse_log_format(name) ? "" : name + ": want text or json"; },
                             "text|json"));
  daemon_cmd->add_option("--metrics-address", daemon.metrics_address, "Serve /metrics, /healthz and /readyz on HOST:PORT")
      ->check(CLI::Validator(
          [](std::string& text) {
            auto address = metrics::parse_listen_address(text);
            return address ? std::string() : address.error().message;
          },
          "HOST:PORT"));
  daemon_cmd->add_option_function<std::string>(
                "--hold-backend", [&](const std::string& name) { daemon.hold_backend = *parse_hold_backend_setting(name); },
                "auto (default: ptrace, BPF LSM where ptrace cannot guard), ptrace or lsm (docs/daemon.md)")
      ->check(CLI::Validator(
          [](std::string& name) {
            auto setting = parse_hold_backend_setting(name);
            return setting ? std::string() : setting.error().message;
          },
          "auto|ptrace|lsm"));
  daemon_cmd->add_option_function<std::string>(
                "--bpf-pin-dir", [&](const std::string& dir) { daemon.bpf_pin_dir = *parse_bpf_pin_dir(dir); },
                fmt::format("bpffs directory of the socket maps that outlive a restart, or none (default {})", kDefaultBpfPinRoot))
      ->check(CLI::Validator(
          [](std::string& dir) {
            auto parsed = parse_bpf_pin_dir(dir);
            return parsed ? std::string() : parsed.error().message;
          },
          "DIR|none"));
  bool unpin = false;
  daemon_cmd->add_flag("--unpin", unpin, "Remove the pinned socket maps and links (before an uninstall) and exit");
  daemon_cmd->add_flag("-v,--verbose", daemon.verbose, "Show libbpf's own messages");
  std::string daemon_config;
  bool check_config = false;
  daemon_cmd->add_option("--config", daemon_config, "Config file (key = value lines; see docs/daemon.md); flags win over it")
      ->check(CLI::ExistingFile);
  daemon_cmd->add_flag("--check-config", check_config, "Print the effective settings and exit: 0 when valid, 2 with the error");
  daemon_cmd->callback([&] {
    std::vector<std::string> given;
    for (const auto& flag : daemon_file_override_flags())
      if (daemon_cmd->count(flag) > 0) given.push_back(flag);
    DaemonOptions effective = daemon_options_from(daemon_config, daemon, given);
    if (check_config) {
      std::fputs(format_daemon_settings(effective).c_str(), stdout);
      return;
    }
    exit_code = unpin ? run_unpin(effective) : run_daemon(effective);
  });

  PsOptions ps;
  auto* ps_cmd = app.add_subcommand("ps", "List the containers the running daemon knows: guarded or why not, init's disposition, in flight");
  ps_cmd->add_option("--state-dir", ps.state_dir, "The daemon's state directory (default /run/sigdrain)");
  ps_cmd->add_flag("--json", ps.json, "One JSON object per container");
  ps_cmd->callback([&] { exit_code = run_ps(ps); });

  CheckOptions check;
  auto* check_cmd = app.add_subcommand("check", "Explain what a plain docker/podman/kubelet stop would do to a container, and what to change");
  check_cmd->add_option("container", check.container, "Container name, full or short id, or cgroup path")->required();
  check_cmd->add_flag("--json", check.json, "One JSON object");
  check_cmd->add_option("--state-dir", check.daemon_state_dir, "A running daemon's state directory, for requests in flight");
  check_cmd->callback([&] { exit_code = run_check(check); });

  bool show_features = false, features_json = false;
  auto* version_cmd = app.add_subcommand("version", "Print the version; with --features, what this kernel offers sigdrain");
  version_cmd->add_flag("--features", show_features, "Probe the kernel: BTF, tracepoints, lockdown, LSMs, probe set, hold backend");
  version_cmd->add_flag("--json", features_json, "As one JSON object");
  version_cmd->callback([&] { exit_code = run_version(show_features, features_json); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-') {
      std::fprintf(stderr, "sigdrain: unknown command \"%s\" (commands: trace, safe-stop, daemon, ps, check, version)\n", argv[1]);
      return kExitError;
    }
    std::fprintf(stderr, "sigdrain: %s (see 'sigdrain --help')\n", e.what());
    return kExitError;
  } catch (const UserError& e) {
    std::fprintf(stderr, "sigdrain: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sigdrain: internal error: %s\n", e.what());
    return kExitError;
  }
  return exit_code;
}
