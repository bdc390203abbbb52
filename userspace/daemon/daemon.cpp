#include "daemon/daemon.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include <fmt/format.h>

#include "containers/cgroup_ids.hpp"
#include "containers/container_signal.hpp"
#include "daemon/ps_entry.hpp"
#include "hold/runtime_kill.hpp"
#include "proc/pidfd.hpp"
#include "signals/signal_names.hpp"
#include "util/exit_codes.hpp"
#include "util/json.hpp"
#include "util/parse_number.hpp"

namespace sigdrain {
namespace {

// The loop's idle wake-up: discovery's interval where it walks cgroupfs at every look.
constexpr auto kDiscoveryInterval = kCgroupWalkInterval;
// The BPF LSM backend refuses signals only while its lease runs: if the daemon dies, they pass again within
// kLsmLease. The loop wakes at least every kDiscoveryInterval, well within it.
constexpr auto kLsmLease = std::chrono::seconds(5);
constexpr auto kLsmLeaseRenewal = std::chrono::seconds(1);
// The stop gate stops runtime processes only while this lease runs: a dead or SIGSTOPped daemon stops nothing new
// once it ends. Renewed every loop turn that comes kGateLeaseRenewal after the last (the loop wakes every 500 ms).
constexpr auto kGateLease = std::chrono::seconds(2);
constexpr auto kGateLeaseRenewal = std::chrono::milliseconds(250);
// Attached at the gate, but the runtime's signal never came (its kill failed, or it was SIGKILL after all): let go.
constexpr auto kArmedTimeout = std::chrono::seconds(5);
// While a container with connections older than the socket counts drains: how often its fds are read to tell
// which of those closed.
constexpr auto kOldConnectionsLook = std::chrono::milliseconds(500);
constexpr auto kMetricsRefresh = std::chrono::milliseconds(250);  // gauges in the /metrics snapshot are at most this old

int64_t wall_ms(Clock::time_point t) {
  auto wall = std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - Clock::now());
  return std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count();
}

Clock::time_point steady_from_wall_ms(int64_t ms) {
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return Clock::now() + std::chrono::milliseconds(ms - now_ms);
}

// The watchdog's bound; SIGDRAIN_TEST_GATE_WATCHDOG_BOUND_MS is a test-only override (docs/daemon.md), so a test
// can tell the watchdog's reaction to the daemon's death from its bound.
std::chrono::milliseconds gate_watchdog_bound() {
  const char* test_bound = std::getenv("SIGDRAIN_TEST_GATE_WATCHDOG_BOUND_MS");
  const int test_ms = test_bound ? parse_integer<int>(test_bound).value_or(0) : 0;
  return test_ms > 0 ? std::chrono::milliseconds(test_ms) : kGateWatchdogBound;
}

}  // namespace

sigset_t daemon_signalfd_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  return set;
}

void block_daemon_signals() {
  sigset_t set = daemon_signalfd_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Result<std::unique_ptr<Daemon>> Daemon::make(const DaemonOptions& options) {
  block_daemon_signals();  // before the metrics, observer and discovery threads start: they inherit the mask
  std::unique_ptr<Daemon> d(new Daemon(options));
  if (::mkdir(options.state_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::sys(errno, fmt::format("cannot create {}", options.state_dir));
  auto journal = Journal::open(options.state_dir);
  if (!journal) return journal.error();
  d->journal_.emplace(std::move(*journal));
  Daemon* self = d.get();
  // One daemon per state directory: a second one would fight over the same tracees. One that is finishing (its
  // first SIGTERM, a DaemonSet rollout) is waited for.
  auto lock = DaemonLock::take(options.state_dir, [self](const std::string& line) { self->log(line); });
  if (!lock) return lock.error();
  d->lock_.emplace(std::move(*lock));
  // The gate and its watchdog first: the watchdog is forked, which is safe only while this is the only thread.
  if (options.hold_backend == HoldBackendSetting::lsm) {
    d->gate_unavailable_ = "hold-backend = lsm";
  } else if (auto gate = StopGate::load(StopGateOptions{}, [self](const GatedProcess& g) { self->on_gated(g); }); !gate) {
    d->gate_unavailable_ = gate.error().message;
  } else if (auto watchdog = GateWatchdog::start((*gate)->gated_map_fd(), gate_watchdog_bound()); !watchdog) {
    d->gate_unavailable_ = watchdog.error().message;  // no gate without its watchdog: it would not fail open
  } else {
    d->gate_ = std::move(*gate);
    d->gate_watchdog_.emplace(std::move(*watchdog));
  }
  if (!d->gate_ && options.hold_backend != HoldBackendSetting::lsm)
    d->log("stop gate: " + d->gate_unavailable_ + "; attaching to every guarded init at discovery instead");
  if (!options.metrics_address.empty()) {
    auto address = metrics::parse_listen_address(options.metrics_address);
    if (!address) return address.error();
    auto server = metrics::MetricsServer::start(*address);
    if (!server) return server.error();
    d->metrics_server_ = std::move(*server);
  }

  ObserverOptions obs;
  obs.signal_mask = kDaemonReportedSignals;
  obs.report_deliver = false;
  obs.watch_all_cgroups = false;  // only the containers discovered: the node's other sockets leave the BPF at once
  obs.pin_root = options.bpf_pin_dir;  // the counts outlive this process, for the next daemon
  obs.exit_codes_on_demand = true;     // between stops, no syscall tracepoint: every syscall on the node pays none
  obs.report_all_exits = false;        // only its containers' inits: the node's short-lived processes wake nobody
  obs.log = [self](const std::string& line) { self->log(line); };
  auto observer = Observer::start(obs, [self](const ObservedEvent& e) { self->on_event(e); });
  if (!observer) return observer.error();
  d->observer_ = std::move(*observer);
  if (d->observer_->socket_pins() == SocketPins::adopted)
    d->log(fmt::format("adopted the socket maps pinned under {}: requests in flight that began before this start are "
                       "counted", options.bpf_pin_dir));
  if (!d->observer_->observes_requests())
    return Error::msg(d->observer_->requests_unobserved_reason());

  auto control = ControlServer::listen(options.state_dir + "/control.sock",
                                       [self](const std::string& request) { return self->answer(request); });
  if (!control) return control.error();
  d->control_.emplace(std::move(*control));

  d->tracer_ = std::make_unique<LinuxTracer>();
  HoldOptions hold_options;
  hold_options.proc = d->proc_;
  auto engine = HoldEngine::make(*d->tracer_, hold_options, [self](const HeldSignal& h) { return self->on_held(h); });
  if (!engine) return engine.error();
  d->engine_ = std::move(*engine);
  if (options.hold_backend == HoldBackendSetting::ptrace) {
    d->lsm_unavailable_ = "hold-backend = ptrace";
  } else if (auto lsm = LsmHold::load(d->observer_->kernel(), LsmHoldOptions{},
                                      [self](const RefusedSignal& r) { self->on_refused(r); });
             lsm) {
    d->lsm_ = std::move(*lsm);
    d->renew_lsm_lease();
  } else if (options.hold_backend == HoldBackendSetting::lsm) {
    return lsm.error();
  } else {
    d->lsm_unavailable_ = lsm.error().message;
    d->log("hold backend: ptrace only; BPF LSM: " + d->lsm_unavailable_);
  }
  d->metrics_.set_info(SIGDRAIN_VERSION, request_probe_set_name(d->observer_->request_probes()),
                       d->lsm_ ? "ptrace,lsm" : "ptrace");  // the backends this daemon can hold with
  // In a container (a DaemonSet pod) the daemon leaves its own container alone: it cannot trace itself, and a
  // stop signal meant for it must reach it, so that it lets every tracee go and exits.
  if (auto own = d->resolver_.by_pid(::getpid())) {
    d->own_container_id_ = own->id;
    d->log(fmt::format("running in container {} ({}): not guarding it", own->name, own->id.substr(0, 12)));
  }
  ContainerDiscovery::CgroupChangeCount cgroup_changes;
  auto look_interval = kDiscoveryInterval;
  if (auto counter = CgroupChangeCounter::start(); counter) {
    d->cgroup_changes_ = std::move(*counter);
    cgroup_changes = [counter = d->cgroup_changes_.get()] { return counter->count(); };
    look_interval = kCgroupChangeLook;
  } else {
    d->log(fmt::format("discovery walks cgroupfs every {} ms: {}", kDiscoveryInterval.count(), counter.error().message));
  }
  auto discovery = ContainerDiscovery::start(options.roots, look_interval, std::move(cgroup_changes));
  if (!discovery) return discovery.error();
  d->discovery_ = std::move(*discovery);
  return d;
}

Daemon::~Daemon() = default;

void Daemon::log(const std::string& line) const {
  if (options_.log_format == LogFormat::json) {
    std::fprintf(stderr, "%s\n", json_text(nlohmann::json{{"level", "info"}, {"msg", line}}).c_str());
  } else {
    std::fprintf(stderr, "sigdrain: %s\n", line.c_str());
  }
}

// The exit-code programs are attached while a stop is in progress, so the stop record can say "exit code N".
// Called after the turn's tracees were resumed and runtimes continued: the attach (a few perf_event_open calls)
// never delays them. An init that exits in the turn its stop began (a stop signal not held) reads "ended, how was
// not seen" unless a signal killed it.
void Daemon::track_exit_codes() {
  const bool wanted = !stops_.empty();
  if (!wanted) exit_codes_failed_ = false;
  if (wanted == observer_->tracks_exit_codes() || exit_codes_failed_) return;
  if (auto r = observer_->track_exit_codes(wanted); !r) {
    exit_codes_failed_ = true;  // once per run of stops, not every tick
    log("exit codes not tracked during this stop: " + r.error().message);
  }
}

// Lost events can hide a stop signal to an untraced init or an init's exit: say so, at most once a second. (An
// exit lost that way is noticed by tick(): the init's pid has left the container's cgroup.) Skipped runs (a classic
// tracepoint program does not run while another BPF program runs on that CPU) lose events the same way, and a
// skipped TCP close leaves a connection counted open, so that container's drain waits for its deadline. Both are
// read at most once a second: the skipped runs cost a syscall per program.
void Daemon::log_lost_events() {
  auto now = Clock::now();
  if (now - lost_events_checked_at_ < std::chrono::seconds(1)) return;
  lost_events_checked_at_ = now;
  const uint64_t lost = observer_->counters().ringbuf_drops;
  skipped_runs_ = observer_->kernel_skipped_runs();
  if (lost == lost_events_logged_ && skipped_runs_ == skipped_runs_logged_) return;
  if (lost != lost_events_logged_)
    log(fmt::format("{} BPF events lost so far: the ring buffer was full; a stop signal or an exit may have been missed", lost));
  if (skipped_runs_ != skipped_runs_logged_)
    log(fmt::format("{} BPF program runs skipped by the kernel so far (another BPF program was running on that CPU): a "
                    "stop signal or an exit may have been missed, a closed connection still counted open",
                    skipped_runs_));
  lost_events_logged_ = lost;
  skipped_runs_logged_ = skipped_runs_;
}

// A stop ended: its record goes to the log and stays for `ps` while the container is known.
void Daemon::stop_ended(const StopReport& report) {
  if (options_.log_format == LogFormat::json)
    std::fputs((json_text(to_json(report)) + "\n").c_str(), stdout);
  else
    std::fputs(human_report(report).c_str(), stdout);
  std::fflush(stdout);
  if (containers_.contains(report.container_id)) last_stops_[report.container_id] = to_json(report);
}

// Once per loop turn, after discovery (ready once the first scan was taken in). A snapshot is rendered when a
// count changed, else at most every kMetricsRefresh for the gauges; the HTTP thread serves the latest one.
void Daemon::publish_metrics() {
  if (!metrics_server_) return;
  metrics_server_->beat();
  if (discovered_) metrics_server_->mark_ready();
  auto now = Clock::now();
  if (!metrics_.take_changed() && now - metrics_published_at_ < kMetricsRefresh) return;
  metrics_published_at_ = now;
  std::vector<metrics::ContainerSample> samples;
  size_t guarded = 0;
  for (const auto& [id, g] : containers_) {
    auto stats = observer_->cgroup_stats(g.info.cgroup_id).value_or(CgroupStats{});
    samples.push_back({g.info.name, id, std::max<int64_t>(stats.inflight, 0), std::max<int64_t>(stats.open_inbound, 0)});
    guarded += g.backend != HoldBackend::none ? 1 : 0;
  }
  metrics_.set_state(samples, guarded, observer_->counters().ringbuf_drops, skipped_runs_);
  metrics_server_->publish(metrics_.render());
}

// The container's drain, decided by policy's drain_for_signalled_stop() as safe-stop's is by drain_for_stop(), from
// this daemon's config. Malformed labels count as none: the stop is not refused (the plan reports them).
StopDrain Daemon::drain_for(const ContainerInfo& info, Clock::time_point start) const {
  DrainSettings settings;
  settings.timeout = stop_timeout(std::nullopt, info.stop_timeout_s, std::chrono::seconds(options_.default_timeout_s));
  if (options_.quiet_ms) settings.quiet = std::chrono::milliseconds(*options_.quiet_ms);
  settings.default_min_drain = std::chrono::milliseconds(options_.min_drain_ms);
  if (options_.max_hold_ms) settings.max_hold = std::chrono::milliseconds(*options_.max_hold_ms);
  auto labels = parse_sigdrain_labels(info.labels);
  return drain_for_signalled_stop(start, labels ? *labels : LabelSettings{}, settings);
}

void Daemon::reconcile(std::vector<ContainerInfo> running) {
  const bool first_scan = !discovered_;
  discovered_ = true;
  std::map<std::string, ContainerInfo> seen;
  for (auto& info : running)
    if (info.id != own_container_id_) seen.emplace(info.id, std::move(info));
  // The node's first scan with socket counts that start now (nothing pinned was adopted): the containers' open
  // connections are older than the observer. Read before any container is guarded, so no runtime kill stopped at
  // the gate waits on these /proc reads.
  if (first_scan && observer_->socket_pins() != SocketPins::adopted) {
    NetTcpTables tables;  // containers on the host's network share one table: read it once
    for (const auto& [id, info] : seen)
      if (info.init_pid > 0)
        if (auto open = container_inbound_connections(proc_, info.init_pid, &tables); !open.empty())
          old_connections_.insert_or_assign(id, OldLiveConnections{OldConnections(std::move(open)), {}, {}});
  }

  if (first_scan && observer_->socket_pins() == SocketPins::adopted) forget_ended_cgroups(seen);

  std::map<std::string, KnownContainer> known;
  for (const auto& [id, g] : containers_) known.emplace(id, KnownContainer{g.info.init_pid, stops_.stopping(id)});
  std::map<std::string, pid_t> seen_pids;
  for (const auto& [id, info] : seen) seen_pids.emplace(id, info.init_pid);
  const ReconcileChanges changes = plan_reconcile(known, seen_pids);

  for (const std::string& id : changes.gone) {
    const Guarded& g = containers_.at(id);
    init_to_container_.erase(g.info.init_pid);
    if (g.info.init_pid > 0) observer_->unwatch_exit(g.info.init_pid);
    if (lsm_) (void)lsm_->unguard(g.info.init_pid);
    if (gate_) (void)gate_->unguard(id);
    armed_.erase(id);
    resolver_.forget(g.info.cgroup_id);
    observer_->forget_cgroup(g.info.cgroup_id);
    last_stops_.erase(id);
    old_connections_.erase(id);
    activity_.erase(id);
    containers_.erase(id);
  }
  for (const std::string& id : changes.added) {
    const ContainerInfo& info = seen.at(id);
    Guarded g{info, false, ""};
    GuardDecision decision = decide_guard(info.labels, options_.guard_labelled_only ? GuardMode::labelled : GuardMode::all,
                                          info.init_pid > 0);
    if (!decision.guard) {
      g.why_not = decision.reason;
    } else {
      guard(g);
    }
    std::string shown = info.name.empty() ? info.id.substr(0, 12) : info.name;
    if (g.backend == HoldBackend::none)
      log(fmt::format("observing {} only: {}", shown, g.why_not));
    else
      log(fmt::format("guarding {} (init pid {}) by {}{}", shown, info.init_pid, hold_backend_name(g.backend),
                      g.backend_why.empty() ? "" : ": " + g.backend_why));
    if (info.init_pid > 0) {
      init_to_container_[info.init_pid] = id;
      if (auto r = observer_->watch_exit(info.init_pid); !r)  // the map is full: its stop ends when init is gone
        log(fmt::format("{}: its init's exit is not reported: {}", shown, r.error().message));
    }
    watch_sockets(info);
    containers_.emplace(id, std::move(g));
  }
}

// Adopted pins may hold the watch and counts of containers that ended while no daemon ran: forgotten once, before
// the first scan's watches, so the maps hold only what lives (else they fill over a node's lifetime, and a
// container watched then gets no counts). Only when the walk of the cgroup tree lists every container just found:
// a tree seen from inside a cgroup namespace (a wrong mount) would make every other container look gone.
void Daemon::forget_ended_cgroups(const std::map<std::string, ContainerInfo>& running) {
  const auto existing = existing_cgroup_ids(options_.roots.cgroup2);
  std::string doubt = existing ? "" : "the walk failed";
  for (const auto& [id, info] : running)
    if (doubt.empty() && info.cgroup_id != 0 && !existing->contains(info.cgroup_id))
      doubt = fmt::format("it does not list the cgroup of {}", id.substr(0, 12));
  if (!doubt.empty()) {
    log(fmt::format("the pinned counts of ended containers stay: cannot list the cgroups under {}: {}",
                    options_.roots.cgroup2, doubt));
    return;
  }
  if (size_t forgotten = observer_->forget_cgroups_not_in(*existing); forgotten > 0)
    log(fmt::format("forgot the pinned watch and counts of {} ended cgroup{}", forgotten, forgotten == 1 ? "" : "s"));
}

// Guarded or only observed, a container's connections and requests are counted from here on (ps, metrics, the
// drain). One that cannot be watched (the map is full) drains by its quiet window and deadline alone.
void Daemon::watch_sockets(const ContainerInfo& info) {
  if (auto r = observer_->watch_cgroup(info.cgroup_id); !r)
    log(fmt::format("{}: requests in flight are not counted: {}", info.name.empty() ? info.id.substr(0, 12) : info.name,
                    r.error().message));
}

void Daemon::hold(Guarded& g) {
  const pid_t pid = g.info.init_pid;
  HoldBackendFacts facts{observer_->kernel().yama_ptrace_scope, "", lsm_unavailable_};
  if (ptrace_worth_trying(options_.hold_backend, facts.yama_ptrace_scope))
    if (auto r = engine_->attach(pid); !r) facts.ptrace_error = r.error().message;  // e.g. traced by someone else
  HoldBackendChoice choice = choose_hold_backend(options_.hold_backend, facts);
  if (choice.backend == HoldBackend::lsm) {
    auto start_time = proc_.start_time(pid);
    auto guarded = start_time ? lsm_->guard(pid, *start_time) : Result<void>(start_time.error());
    if (!guarded) choice = {HoldBackend::none, guarded.error().message};
  }
  g.backend = choice.backend;
  g.traced = choice.backend == HoldBackend::ptrace;
  g.why_not = choice.backend == HoldBackend::none ? choice.why : "";
  g.backend_why = choice.backend == HoldBackend::lsm ? choice.why : "";
}

void Daemon::guard(Guarded& g) {
  // Where ptrace cannot work at all (Yama ptrace_scope 3) hold() picks BPF LSM; attaching at the stop would fail.
  if (gate_ && g.info.init_pid > 0 && ptrace_worth_trying(options_.hold_backend, observer_->kernel().yama_ptrace_scope)) {
    auto r = gate_->guard(g.info.id);
    if (r) {
      g.backend = HoldBackend::ptrace_at_stop;
      return;
    }
    log(fmt::format("{}: {}; attaching now", g.info.name, r.error().message));
  }
  hold(g);
}

// Why not to attach for a process the gate stopped; empty when nothing is in doubt. The kernel decided from comm,
// argv and pid namespace; this re-checks from /proc what a process could fake: the binary it runs, its mount
// namespace and cgroup (not any container's), its argv by the one parser, and that the id is guarded and idle.
std::string Daemon::gate_doubt(const GatedProcess& gp, const Guarded** guarded) const {
  // Continued by the watchdog meanwhile (this daemon was slow or stopped): its signal may have passed already.
  if (!gate_->still_gated(gp)) return "the watchdog continued it already";
  auto it = containers_.find(gp.container_id);
  if (it == containers_.end() || it->second.backend != HoldBackend::ptrace_at_stop) return "not guarded at the gate";
  if (stops_.stopping(gp.container_id)) return "already being stopped";
  if (it->second.info.init_pid <= 0) return "its init is not known";
  const std::string pid_dir = fmt::format("{}/{}", proc_.root(), gp.tgid);
  char exe[4096];
  ssize_t n = ::readlink((pid_dir + "/exe").c_str(), exe, sizeof exe - 1);
  if (n <= 0) return "its binary cannot be read";
  if (!is_runtime_binary(std::string_view(exe, static_cast<size_t>(n)))) return fmt::format("{} is not a runtime", std::string(exe, n));
  // podman runs its runtime in a mount namespace of its own, so "the host's" cannot be asked for; the container's
  // is what a process inside it would share.
  struct stat own{}, container{};
  if (::stat((pid_dir + "/ns/mnt").c_str(), &own) != 0 ||
      ::stat(fmt::format("{}/{}/ns/mnt", proc_.root(), it->second.info.init_pid).c_str(), &container) != 0 ||
      own.st_ino == container.st_ino)
    return "it shares the container's mount namespace";
  auto cgroup = proc_.cgroup_file(gp.tgid);
  if (!cgroup) return "its cgroup cannot be read";
  for (const auto& [id, g] : containers_)
    if (!g.info.cgroup_path.empty() && cgroup_within(cgroup_key(*cgroup), g.info.cgroup_path)) return "it runs in a container";
  auto argv = proc_.cmdline(gp.tgid);
  auto kill = argv ? parse_runtime_kill(*argv) : std::nullopt;
  if (!kill || kill->container_id != gp.container_id || kill->signo != gp.signo || !gate_holds(*kill, gate_->gated_signals()))
    return "its argv is not the runtime kill the gate saw";
  *guarded = &it->second;
  return "";
}

// A runtime process is stopped at its exec, about to signal a guarded container: seize the init, continue it.
// Nothing slow between the stop and the continue (no runtime query, no fsync); on any doubt continue at once.
void Daemon::on_gated(const GatedProcess& gp) {
  if (const char* pause = std::getenv("SIGDRAIN_TEST_GATE_PAUSE_MS"))  // test-only fault hook (docs/daemon.md)
    ::usleep(static_cast<useconds_t>(parse_integer<int>(pause).value_or(0)) * 1000);
  const Guarded* g = nullptr;
  std::string doubt = gate_doubt(gp, &g);
  std::string attached;
  if (doubt.empty()) {
    if (auto r = engine_->attach(g->info.init_pid); !r) {
      doubt = r.error().message;
    } else {
      containers_.at(gp.container_id).traced = true;
      armed_[gp.container_id] = Clock::now();
      attached = fmt::format("init pid {} seized ({} threads)", g->info.init_pid, engine_->threads(g->info.init_pid).size());
    }
  }
  auto released = gate_->release(gp);
  metrics_.gated(doubt.empty() ? "attached" : "let_go");
  uint64_t stopped_us = (monotonic_now_ns() - gp.stopped_ns) / 1000;
  std::string name = g ? g->info.name : gp.container_id.substr(0, 12);
  if (!released) log(fmt::format("gate: cannot continue pid {}: {} (the watchdog will)", gp.tgid, released.error().message));
  if (doubt.empty())
    log(fmt::format("gate: runtime kill {} of {}: {}; runtime pid {} stopped for {} us", signal_name(gp.signo), name,
                    attached, gp.tgid, stopped_us));
  else
    log(fmt::format("gate: let runtime pid {} go without a hold ({}): {}; stopped for {} us", gp.tgid, name, doubt, stopped_us));
}

// Attached at the gate but no held signal came: nothing of the container stays traced between stops.
void Daemon::disarm_stale() {
  auto now = Clock::now();
  for (auto it = armed_.begin(); it != armed_.end();) {
    if (stops_.stopping(it->first) || now - it->second < kArmedTimeout) {
      ++it;
      continue;
    }
    if (auto c = containers_.find(it->first); c != containers_.end() && c->second.traced) {
      if (auto r = engine_->detach(c->second.info.init_pid); !r) log(fmt::format("{}: detach: {}", c->second.info.name, r.error().message));
      c->second.traced = false;
      log(fmt::format("{}: no stop signal came within {} s of the runtime's kill; let go", c->second.info.name,
                      std::chrono::duration_cast<std::chrono::seconds>(kArmedTimeout).count()));
    }
    it = armed_.erase(it);
  }
}

// A previous daemon died while the gate held a runtime process and its watchdog died too (both SIGKILLed at once):
// the process would stay stopped. Continue every stopped runtime kill at start-up.
void Daemon::continue_leftover_runtime_kills() {
  for (pid_t pid : proc_.all_pids()) {
    auto st = proc_.status(pid);
    if (!st || st->state != 'T' || !is_runtime_binary(st->name)) continue;
    auto argv = proc_.cmdline(pid);
    if (!argv || !parse_runtime_kill(*argv)) continue;
    if (UniqueFd fd = open_pidfd(pid); fd && send_through_pidfd(fd.get(), pid, SIGCONT))
      log(fmt::format("gate: continued pid {}, a runtime kill left stopped", pid));
  }
}

void Daemon::renew_gate_lease() {
  auto now = Clock::now();
  if (!gate_ || now - gate_lease_renewed_ < kGateLeaseRenewal) return;
  gate_->renew_lease(kGateLease);
  gate_lease_renewed_ = now;
}

void Daemon::renew_lsm_lease() {
  auto now = Clock::now();
  if (!lsm_ || now - lsm_lease_renewed_ < kLsmLeaseRenewal) return;
  lsm_->renew_lease(kLsmLease);
  lsm_lease_renewed_ = now;
}

// The BPF LSM backend refused a stop signal: the sender got EPERM and the app never saw it, so it is held just as
// a suppressed ptrace stop is, and the plan delivers the stop after the drain.
void Daemon::on_refused(const RefusedSignal& refused) {
  log(fmt::format("refused {} from {}[{}] to pid {} (BPF LSM; the sender got EPERM)", signal_name(refused.signo),
                  refused.sender_comm, refused.sender_tgid, refused.target_tgid));
  HeldSignal held{refused.target_tgid, refused.target_tid, refused.signo, siginfo_t{}, std::chrono::system_clock::now()};
  if (on_held(held)) return;
  // Not journaled (or not a guarded init). The kernel refused it already, so only the plan can deliver it now.
  auto it = init_to_container_.find(refused.target_tgid);
  if (it == init_to_container_.end() || !containers_.contains(it->second) || stops_.stopping(it->second)) return;
  start_stop(containers_.at(it->second).info, refused.signo, true, std::nullopt);
}

void Daemon::recover_journal() {
  std::vector<std::string> problems;
  for (const HoldRecord& r : journal_->load(problems)) {
    auto start_time = proc_.start_time(r.tgid);
    if (!start_time || *start_time != r.start_time) {
      log(fmt::format("journal: {} held for pid {} is void: the process is gone", signal_name(r.signo), r.tgid));
      journal_->remove(r.tgid, r.signo);
      continue;
    }
    auto info = resolver_.by_pid(r.tgid);
    if (!info || info->id != r.container_id) {
      journal_->remove(r.tgid, r.signo);
      continue;
    }
    log(fmt::format("journal: resuming the stop of {}: {} was held by a previous daemon", info->name, signal_name(r.signo)));
    if (!containers_.contains(info->id)) {
      Guarded g{*info, false, ""};
      hold(g);
      init_to_container_[info->init_pid] = info->id;
      watch_sockets(*info);
      containers_.emplace(info->id, std::move(g));
    }
    DrainTimes t{Clock::now(), steady_from_wall_ms(r.drain_deadline_ms), steady_from_wall_ms(r.kill_at_ms)};
    start_stop(*info, r.signo, true, t, /*resumed=*/true);
    stops_.add_record(info->id, r);
  }
  for (const auto& p : problems) log("journal: " + p);
}

Result<void> Daemon::on_held(const HeldSignal& held) {
  auto it = init_to_container_.find(held.tgid);
  if (it == init_to_container_.end() || !containers_.contains(it->second))
    return Error::msg("not a guarded container's init");  // let it through
  if (finishing_ && !stops_.stopping(it->second) && !armed_.contains(it->second))
    return Error::msg("the daemon is stopping: it takes no new stop");  // let it through
  const ContainerInfo& info = containers_.at(it->second).info;
  auto start_time = proc_.start_time(held.tgid);
  if (!start_time) return start_time.error();
  DrainTimes times = stops_.times(info.id).value_or(drain_for(info, Clock::now()).times);
  HoldRecord record{info.id, held.tgid, *start_time, held.signo, wall_ms(Clock::now()), wall_ms(times.drain_deadline),
                    wall_ms(times.kill_at)};
  // The one wait left between a tracee's stop and its resume: the fsync that makes the held signal survive us.
  auto journal_start = Clock::now();
  if (auto r = journal_->record(record); !r) return r;  // cannot journal: let it through rather than risk losing it
  auto journal_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - journal_start).count();
  metrics_.held();
  armed_.erase(info.id);
  if (!stops_.stopping(info.id)) {
    log(fmt::format("holding {} sent to {} (pid {}) while it drains (journaled in {} us)", signal_name(held.signo),
                    info.name, held.tgid, journal_us));
    start_stop(info, held.signo, true, times);
  }
  stops_.add_record(info.id, record);
  return {};
}

void Daemon::on_event(const ObservedEvent& event) {
  if (const auto* e = std::get_if<SignalEvent>(&event)) {
    // Someone else's SIGKILL to the init of a container being stopped: the drain or the plan came too late.
    if (e->sig == SIGKILL && static_cast<pid_t>(e->sender_tgid) != ::getpid())
      if (auto it = init_to_container_.find(static_cast<pid_t>(e->target_pid)); it != init_to_container_.end() && stops_.stopping(it->second))
        metrics_.sigkill_escalation();
    // A stop signal to a container's init that was not held (not traced): start the drain all the same. The
    // kernel drops it for an init without a handler, so the plan (SIGKILL once drained) ends the container.
    // Finishing, the daemon takes no new stop: the signal acts as without sigdrain.
    if (finishing_ || static_cast<pid_t>(e->sender_tgid) == ::getpid() || !is_stop_signal(static_cast<int>(e->sig))) return;
    auto it = init_to_container_.find(static_cast<pid_t>(e->target_pid));
    if (it == init_to_container_.end() || stops_.stopping(it->second)) return;
    const Guarded& g = containers_.at(it->second);
    if (g.traced || (!g.why_not.empty() && g.why_not.rfind("opted out", 0) == 0)) return;
    if (decide_guard(g.info.labels, options_.guard_labelled_only ? GuardMode::labelled : GuardMode::all).guard)
      start_stop(g.info, static_cast<int>(e->sig), false, std::nullopt);
    return;
  }
  if (const auto* e = std::get_if<ExitEvent>(&event)) {
    auto it = init_to_container_.find(static_cast<pid_t>(e->tgid));
    if (it == init_to_container_.end() || !stops_.stopping(it->second)) return;
    ExitStatus status;
    if (e->cause == SIGDRAIN_EXIT_CODE) status.code = static_cast<int>(e->cause_value);
    if (e->cause == SIGDRAIN_EXIT_SIGNAL) status.killed_by = static_cast<int>(e->cause_value);
    stops_.exited(it->second, status);
  }
}

void Daemon::start_stop(const ContainerInfo& info, int signo, bool held, std::optional<DrainTimes> times, bool resumed) {
  StopDrain drain = drain_for(info, Clock::now());
  if (times) drain.times = *times;  // a journalled or already held stop keeps its recorded times
  stops_.start(info, signo, held, drain, resumed);
}

// The container's drain sample: its BPF aggregates, and its connections older than them as safe-stop counts them.
DrainSample Daemon::drain_sample(const ContainerInfo& info) {
  auto stats = observer_->cgroup_stats(info.cgroup_id).value_or(CgroupStats{});
  const Clock::time_point now = Clock::now();
  DrainSample sample{now, stats.inflight, stats.open_inbound, stats.requests_completed,
                     activity_[info.id].seen(stats.activity, now)};
  if (auto old = old_connections_.find(info.id); old != old_connections_.end()) {
    // Which are still open, from the container's fds only (no net/tcp), at most every kOldConnectionsLook: the
    // loop that ticks this resumes tracees too.
    if (old->second.open_read_at + kOldConnectionsLook <= sample.now) {
      old->second.open = container_socket_inodes(proc_, info.init_pid);
      old->second.open_read_at = sample.now;
    }
    sample = old->second.connections.adjust(sample, old->second.open, stats.adopted_open);
    if (old->second.connections.empty()) old_connections_.erase(old);
  }
  return sample;
}

std::vector<ProcessFacts> Daemon::processes(const ContainerInfo& info) { return process_tree(proc_, info.init_pid); }

std::vector<pid_t> Daemon::listener_pids(const ContainerInfo& info) {
  std::vector<pid_t> listeners;
  for (const auto& sock : observer_->sockets())
    if (sock.state.direction == SIGDRAIN_DIR_LISTEN && sock.state.cgroup_id == info.cgroup_id)
      listeners.push_back(static_cast<pid_t>(sock.state.owner_tgid));
  return listeners;
}

Result<void> Daemon::send(const ContainerInfo& info, pid_t pid, int signo) { return signal_in_container(proc_, info.id, pid, signo); }

void Daemon::release_hold(const ContainerInfo& info, bool held) {
  if (held && engine_->guarding(info.init_pid)) {
    // The plan replaces the held signal; detach so the plan's signals (and the app's exit) are not traced.
    (void)engine_->discard_held(info.init_pid);
    if (auto r = engine_->detach(info.init_pid); !r) log(fmt::format("{}: detach: {}", info.name, r.error().message));
    if (containers_.contains(info.id)) containers_.at(info.id).traced = false;
  }
  if (lsm_ && lsm_->guarding(info.init_pid))
    if (auto r = lsm_->unguard(info.init_pid); !r) log(fmt::format("{}: {}", info.name, r.error().message));
  if (gate_) (void)gate_->unguard(info.id);  // the plan's signals and the runtime's later kills pass ungated
  if (containers_.contains(info.id)) containers_.at(info.id).backend = HoldBackend::none;
}

void Daemon::forget_held(const std::vector<HoldRecord>& records) {
  for (const auto& r : records) journal_->remove(r.tgid, r.signo);
}

// The init's exit event may have been lost: a pid that left the container's cgroup is the init gone.
bool Daemon::init_gone_unseen(const ContainerInfo& info) {
  if (lost_events_logged_ == 0 && skipped_runs_logged_ == 0) return false;
  auto cgroup = proc_.cgroup_file(info.init_pid);
  return !cgroup || !cgroup_within(cgroup_key(*cgroup), info.cgroup_path);
}

// "unguard ID": `sigdrain safe-stop` takes the container over; the daemon lets its init go so that the stop
// plan's signals are not held.
ControlReply Daemon::unguard(const std::string& id) {
  auto it = containers_.find(id);
  if (it == containers_.end()) return std::string("ok\n");
  if (stops_.stopping(id)) return Error::msg(fmt::format("the daemon is already stopping {}", it->second.info.name));
  if (it->second.traced) {
    if (auto r = engine_->detach(it->second.info.init_pid); !r) return r.error();
    it->second.traced = false;
  }
  if (lsm_ && lsm_->guarding(it->second.info.init_pid))
    if (auto r = lsm_->unguard(it->second.info.init_pid); !r) return r.error();
  if (gate_)
    if (auto r = gate_->unguard(id); !r) return r.error();
  armed_.erase(id);
  if (it->second.backend != HoldBackend::none) {
    it->second.backend = HoldBackend::none;
    it->second.why_not = "stopped by sigdrain safe-stop";
    log(fmt::format("{}: let go for sigdrain safe-stop", it->second.info.name));
  }
  return std::string("ok\n");
}

// "ps": one JSON object per container the daemon knows.
ControlReply Daemon::answer(const std::string& line) {
  auto request = parse_control_request(line);
  if (!request) return request.error();
  if (request->kind == ControlRequest::Kind::unguard) return unguard(request->container_id);
  std::string out;
  for (const auto& [id, g] : containers_) {
    PsEntry e;
    e.id = id;
    e.name = g.info.name;
    e.runtime = std::string(runtime_name(g.info.runtime));
    e.init_pid = g.info.init_pid;
    e.guarded = g.backend != HoldBackend::none;
    e.why_not = g.why_not;
    e.backend = std::string(hold_backend_name(g.backend));
    e.backend_why = g.backend_why;
    if (auto st = proc_.status(g.info.init_pid)) {
      e.init_comm = st->name;
      for (int signo : {SIGTERM, SIGINT, SIGQUIT, SIGHUP})
        e.dispositions[signal_name(signo)] = std::string(disposition_name(st->masks.disposition(signo)));
    }
    auto stats = observer_->cgroup_stats(g.info.cgroup_id).value_or(CgroupStats{});
    e.inflight = std::max<int64_t>(stats.inflight, 0);
    e.open_inbound = std::max<int64_t>(stats.open_inbound, 0);
    e.state = !stops_.stopping(id) ? PsState::running : stops_.draining(id) ? PsState::draining : PsState::stopping;
    if (last_stops_.contains(id)) e.last_stop = last_stops_.at(id);
    out += json_text(to_json(e)) + "\n";
  }
  return out;
}

// The first SIGTERM or SIGINT (a DaemonSet rollout, `systemctl stop`): take no new stop, finish those in progress.
// Nothing is handed to a successor, so nothing held depends on one starting.
void Daemon::begin_finishing() {
  finishing_ = true;
  if (gate_) {
    (void)gate_->poll(std::chrono::milliseconds(0));  // a runtime kill gated before the request: a stop in progress
    gate_.reset();  // ends the lease and detaches the program: nothing new is stopped; continues any leftover
    gate_watchdog_.reset();
  }
  for (auto& [id, g] : containers_) {
    if (stops_.stopping(id) || armed_.contains(id)) continue;
    if (g.traced) {  // attached at discovery (no gate): let go, so a new stop's signal passes as without sigdrain
      if (auto r = engine_->detach(g.info.init_pid); !r) log(fmt::format("{}: detach: {}", g.info.name, r.error().message));
      g.traced = false;
    }
    if (lsm_ && lsm_->guarding(g.info.init_pid))
      if (auto r = lsm_->unguard(g.info.init_pid); !r) log(fmt::format("{}: {}", g.info.name, r.error().message));
    if (g.backend != HoldBackend::none) {
      g.backend = HoldBackend::none;
      g.why_not = "the daemon is stopping";
    }
  }
  if (int n = drains_in_progress(); n > 0)
    log(fmt::format("stopping: finishing {} drain{} in progress, then exiting; new stops pass as without sigdrain (a "
                    "second SIGTERM or SIGINT delivers every held signal at once)", n, n == 1 ? "" : "s"));
}

int Daemon::drains_in_progress() const {
  int n = stops_.drains_in_progress();
  for (const auto& [id, at] : armed_) n += !stops_.stopping(id);
  return n;
}

bool Daemon::finished() const {
  return finishing_ && drains_in_progress() == 0 && stops_.plans_done_and_waited();
}

int Daemon::run(const std::atomic<int>& stop_requests) {
  if (gate_) continue_leftover_runtime_kills();
  recover_journal();
  log(fmt::format("started: state in {}, guarding {}", options_.state_dir,
                  options_.guard_labelled_only ? "containers labelled sigdrain.io/guard=true" : "all containers"));
  // Sleep in one epoll until something happens: a tracee stopped (ptrace reports it with SIGCHLD, read through a
  // signalfd), BPF events, a control client, a finished discovery scan, or the next drain tick.
  sigset_t sigchld = daemon_signalfd_signals();  // blocked in every thread since make()
  UniqueFd sigchld_fd(::signalfd(-1, &sigchld, SFD_NONBLOCK | SFD_CLOEXEC));
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  for (int fd : {sigchld_fd.get(), observer_->event_fd(), control_->fd(), discovery_->event_fd(),
                 lsm_ ? lsm_->event_fd() : -1, gate_ ? gate_->event_fd() : -1}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev);
  }
  constexpr int kTickMs = 10;  // while a stop is draining or signalling
  int marked_drains = -1;    // as the lock file says, for a successor that waits
  for (;;) {
    const int requests = stop_requests.load();
    if (requests >= 2) break;  // the second request: deliver everything now
    if (requests == 1 && !finishing_) begin_finishing();
    if (finishing_) {
      if (int n = drains_in_progress(); n != marked_drains) lock_->mark_finishing(marked_drains = n);
      if (finished()) break;
    }
    epoll_event ready[7];
    int timeout_ms = stops_.empty() && armed_.empty() ? static_cast<int>(kDiscoveryInterval.count()) : kTickMs;
    (void)::epoll_wait(epoll.get(), ready, 7, timeout_ms);  // EINTR: the stop handler ran
    if (gate_) (void)gate_->poll(std::chrono::milliseconds(0));  // first: a runtime process waits stopped
    signalfd_siginfo info;
    while (::read(sigchld_fd.get(), &info, sizeof(info)) == sizeof(info)) {
    }
    while (engine_->poll(std::chrono::milliseconds(0))) {
    }
    (void)observer_->poll(std::chrono::milliseconds(0));
    if (lsm_) (void)lsm_->poll(std::chrono::milliseconds(0));
    renew_lsm_lease();
    renew_gate_lease();
    disarm_stale();
    log_lost_events();
    stops_.tick();
    track_exit_codes();
    control_->serve_pending();
    if (auto running = discovery_->take(); running && !finishing_) reconcile(std::move(*running));
    publish_metrics();
  }
  if (stop_requests.load() < 2) stops_.end_awaiting_exit();  // finished: their plans ran, nothing is held
  log(stops_.empty() ? "exiting: no drain in progress" : "stopping now: delivering every held signal and detaching");
  if (gate_) {
    gate_->end_lease();  // stop nothing new; what is stopped now is continued when the gate goes
    (void)gate_->poll(std::chrono::milliseconds(0));
  }
  const std::vector<const StopRunner::Stop*> cut = stops_.abandon_draining();
  if (auto r = engine_->detach_all(); !r) log("detach: " + r.error().message);
  if (lsm_) {
    // Refused signals were never queued: deliver the stop of every container still draining, as ptrace does.
    lsm_->end_lease();
    lsm_->unguard_all();
    for (const StopRunner::Stop* s : cut)
      if (s->held && containers_.contains(s->info.id) && containers_.at(s->info.id).backend == HoldBackend::lsm)
        if (auto r = signal_in_container(proc_, s->info.id, s->info.init_pid, s->signo); !r)
          log(fmt::format("{}: {}", s->info.name, r.error().message));
  }
  stops_.forget_all_held();
  return kExitOk;
}

}  // namespace sigdrain
