#include "daemon/stop_runner.hpp"

#include <fmt/format.h>

#include "stop/stop_session.hpp"

namespace sigdrain {

void StopRunner::start(const ContainerInfo& info, int signo, bool held, const StopDrain& drain, bool resumed) {
  PlanInputs in;
  in.processes = host_.processes(info);
  in.init_pid = info.init_pid;
  in.runtime_stop_signal = signo;
  in.labels = info.labels;
  auto plan = choose_plan(in);
  StopMachineSettings settings;
  settings.plan = plan ? *plan
                       : StopPlan{PlanProfile::runtime_signal,
                                  "labels are malformed (" + plan.error().message + "); the held signal is delivered",
                                  {PlanStep{signo, PlanTarget{}, {}}}};
  settings.times = drain.times;
  settings.quiet = drain.quiet;
  settings.requests_completed_at_start = host_.drain_sample(info).requests_completed;
  settings.kill = KillAtTimeout::runtime_kills;  // the runtime that sent the signal sends its SIGKILL at its timeout
  settings.exit_grace = settings_.exit_grace;
  Stop stop{info, signo, held, resumed, StopMachine(std::move(settings)), {}, false};
  stop.machine.report().container_id = info.id;
  stop.machine.report().container_name = info.name;
  stop.machine.report().runtime = std::string(runtime_name(info.runtime));
  stops_.insert_or_assign(info.id, std::move(stop));
}

void StopRunner::add_record(const std::string& id, HoldRecord record) {
  if (auto it = stops_.find(id); it != stops_.end()) it->second.records.push_back(std::move(record));
}

bool StopRunner::draining(const std::string& id) const {
  auto it = stops_.find(id);
  return it != stops_.end() && it->second.machine.draining();
}

std::optional<DrainTimes> StopRunner::times(const std::string& id) const {
  auto it = stops_.find(id);
  if (it == stops_.end()) return std::nullopt;
  return it->second.machine.times();
}

void StopRunner::tick() {
  for (auto it = stops_.begin(); it != stops_.end();) {
    std::string id = (it++)->first;  // tick may end the stop
    if (auto found = stops_.find(id); found != stops_.end()) tick(found->second);
  }
}

void StopRunner::tick(Stop& s) {
  if (host_.init_gone_unseen(s.info)) {
    exited(s.info.id, std::nullopt);
    return;
  }
  for (;;) {
    Clock::time_point now = host_.now();
    std::optional<DrainSample> sample;
    if (s.machine.draining()) sample = host_.drain_sample(s.info);
    StopAction action = s.machine.next(sample ? sample->now : now, sample);
    if (action.kind == StopAction::Kind::wait) break;
    if (action.kind == StopAction::Kind::done) {
      end(s.info.id);
      return;
    }
    if (action.kind == StopAction::Kind::release) {
      count_release(s, s.machine.report().released_by);
      host_.release_hold(s.info, s.held);
    } else if (action.kind == StopAction::Kind::send) {
      auto listeners = action.step->target.kind == TargetKind::listeners ? host_.listener_pids(s.info) : std::vector<pid_t>{};
      auto send = [this, &s](pid_t pid, int signo) { return host_.send(s.info, pid, signo); };
      s.machine.sent(now, send_plan_step(*action.step, host_.processes(s.info), listeners, s.info.init_pid,
                                         s.machine.ms_since_start(now), send));
    }
    // kill: never asked of a runtime_kills machine
  }
  if (s.machine.plan_done() && !s.records_forgotten) {
    host_.forget_held(s.records);
    s.records_forgotten = true;
  }
}

void StopRunner::exited(const std::string& id, std::optional<ExitStatus> status) {
  auto it = stops_.find(id);
  if (it == stops_.end()) return;
  Stop& s = it->second;
  bool was_draining = s.machine.draining();
  s.machine.exited(host_.now(), status);
  if (was_draining) count_release(s, ReleasedBy::exited);
  end(id);
}

// A drain ended, by `by` or (nullopt) cut short by the daemon stopping. A stop taken over from a previous
// daemon's journal counts as released by the restart (its own end, idle or deadline, is in its stop record).
void StopRunner::count_release(const Stop& s, std::optional<ReleasedBy> by) {
  uint64_t completed = s.machine.requests_completed_during_drain();
  if (s.resumed || !by)
    metrics_.released_by_restart(s.machine.report().drain_ms, completed);
  else
    metrics_.released(*by, s.machine.report().drain_ms, completed);
}

void StopRunner::end(const std::string& id) {
  auto it = stops_.find(id);
  if (it == stops_.end()) return;
  Stop& s = it->second;
  if (!s.records_forgotten) host_.forget_held(s.records);
  metrics_.stopped(s.machine.report().outcome);
  host_.stop_ended(s.machine.report());
  stops_.erase(it);
}

int StopRunner::drains_in_progress() const {
  int n = 0;
  for (const auto& [id, s] : stops_) n += !s.machine.plan_done();
  return n;
}

bool StopRunner::plans_done_and_waited() const {
  Clock::time_point now = host_.now();
  for (const auto& [id, s] : stops_) {
    auto done_at = s.machine.plan_done_at();
    if (!done_at || now < *done_at + settings_.finishing_exit_wait) return false;  // its container may exit in a moment
  }
  return true;
}

void StopRunner::end_awaiting_exit() {
  for (auto it = stops_.begin(); it != stops_.end();) {
    std::string id = (it++)->first;
    if (stops_.at(id).machine.plan_done()) exited(id, std::nullopt);
  }
}

std::vector<const StopRunner::Stop*> StopRunner::abandon_draining() {
  std::vector<const Stop*> cut;
  Clock::time_point now = host_.now();
  for (auto& [id, s] : stops_) {
    if (!s.machine.draining()) continue;
    s.machine.abandon(now);
    count_release(s, std::nullopt);
    cut.push_back(&s);
  }
  return cut;
}

void StopRunner::forget_all_held() {
  for (auto& [id, s] : stops_)
    if (!s.records_forgotten) {
      host_.forget_held(s.records);
      s.records_forgotten = true;
    }
}

}  // namespace sigdrain
