#include "hold/hold_engine.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <utility>

#include "hold/hold_backend.hpp"
#include "signals/signal_names.hpp"

namespace sigdrain {
namespace {

Result<std::uint64_t> random_cookie() {
  std::uint64_t cookie = 0;
  while (cookie == 0) {
    if (::getrandom(&cookie, sizeof cookie, 0) != static_cast<ssize_t>(sizeof cookie))
      return Error::sys(errno, "cannot draw a random release cookie");
  }
  return cookie;
}

}  // namespace

Result<std::unique_ptr<HoldEngine>> HoldEngine::make(Tracer& tracer, HoldOptions options, HeldCallback on_held) {
  auto mask = hold_signal_mask(options.held_signals);
  if (!mask) return mask.error();
  if (options.cookie == 0) {
    auto cookie = random_cookie();
    if (!cookie) return cookie.error();
    options.cookie = *cookie;
  }
  return std::unique_ptr<HoldEngine>(new HoldEngine(tracer, std::move(options), *mask, std::move(on_held)));
}

HoldEngine::~HoldEngine() { (void)detach_all(); }

Result<void> HoldEngine::attach(pid_t tgid) {
  if (guarding(tgid)) return {};
  auto status = options_.proc.status(tgid);
  if (!status) return Error{ESRCH, fmt::format("cannot guard PID {}: no such process", tgid)};
  if (status->tgid != tgid)
    return Error::msg(fmt::format("cannot guard PID {}: it is a thread of PID {}", tgid, status->tgid));
  if (status->tracer_pid != 0)
    return Error{EPERM, fmt::format("cannot guard PID {}: traced by PID {}", tgid, status->tracer_pid)};

  Process& process = processes_[tgid];
  process.tgid = tgid;
  // Threads may be created while we seize; once every existing one is seized, TRACECLONE catches the rest,
  // so list again until a round finds nothing new.
  for (bool added = true; added;) {
    added = false;
    auto tids = options_.proc.threads(tgid);
    if (!tids) break;
    for (pid_t tid : *tids) {
      if (tgid_of_.contains(tid)) continue;
      auto seized = tracer_.seize(tid, kHoldTraceOptions);
      std::optional<pid_t> tracer;  // who traces the thread, when the seize failed
      if (!seized)
        if (auto thread = options_.proc.thread_status(tgid, tid)) tracer = thread->tracer_pid;
      if (seized || (tracer && *tracer == ::gettid())) {  // seized, or adopted already through a seized clone
        add_thread(process, tid);
        added = true;
      } else if (seized.error().code != ESRCH) {  // ESRCH: the thread exited meanwhile
        Error error = tracer && *tracer != 0
                          ? Error{EPERM, fmt::format("cannot guard PID {}: traced by PID {}", tgid, *tracer)}
                          : Error{seized.error().code,
                                  fmt::format("cannot guard PID {}: {}", tgid, seized.error().message)};
        (void)detach(tgid);
        return error;
      }
    }
  }
  if (process.threads.empty()) {
    drop_process(tgid);
    return Error{ESRCH, fmt::format("cannot guard PID {}: no such process", tgid)};
  }
  return {};
}

bool HoldEngine::poll(std::chrono::milliseconds timeout) {
  expire_releases();
  auto stop = tracer_.wait(timeout);
  if (stop) std::visit([this](const auto& s) { on_stop(s); }, *stop);
  // A process whose last thread was let go is no longer guarded.
  std::erase_if(processes_, [](const auto& entry) { return entry.second.detaching && entry.second.threads.empty(); });
  return stop.has_value();
}

Result<std::size_t> HoldEngine::release(pid_t tgid, int signo) {
  Process* p = find(tgid);
  if (!p) return Error::msg(fmt::format("PID {} is not guarded", tgid));
  auto first = std::find_if(p->held.begin(), p->held.end(), [&](const HeldSignal& h) { return h.signo == signo; });
  if (first == p->held.end()) return Error::msg(fmt::format("no {} held for PID {}", signal_name(signo), tgid));
  if (!p->in_flight.contains(signo)) {
    if (auto sent = tracer_.send_marked(tgid, signo, options_.cookie); !sent) return sent.error();
    p->in_flight[signo] = first->info;  // the earliest sender is who the app will see
  }
  p->release_deadline = Clock::now() + options_.release_timeout;
  return static_cast<std::size_t>(std::erase_if(p->held, [&](const HeldSignal& h) { return h.signo == signo; }));
}

std::vector<HeldSignal> HoldEngine::discard_held(pid_t tgid) {
  Process* p = find(tgid);
  return p ? std::exchange(p->held, {}) : std::vector<HeldSignal>{};
}

Result<void> HoldEngine::detach(pid_t tgid) {
  Process* p = find(tgid);
  if (!p) return Error::msg(fmt::format("PID {} is not guarded", tgid));
  // The hold ends with the trace: deliver what is held first, so that no signal is lost.
  std::set<int> held_numbers;
  for (const auto& h : p->held) held_numbers.insert(h.signo);
  for (int signo : held_numbers) (void)release(tgid, signo);  // fails only when the process is gone
  poll_until([&] { return !find(tgid) || find(tgid)->in_flight.empty(); }, Clock::now() + options_.release_timeout);

  p = find(tgid);
  if (!p) return {};  // it exited
  if (!p->detaching) begin_detach(*p);
  if (!poll_until([&] { return !guarding(tgid); }, Clock::now() + options_.detach_timeout)) {
    return Error::msg(fmt::format("cannot detach from PID {}: {} thread(s) did not stop", tgid,
                                  find(tgid) ? find(tgid)->threads.size() : 0));
  }
  return {};
}

Result<void> HoldEngine::detach_all() {
  Result<void> result;
  for (pid_t tgid : guarded()) {
    if (auto r = detach(tgid); !r && result) result = r.error();
  }
  return result;
}

std::vector<pid_t> HoldEngine::guarded() const {
  std::vector<pid_t> tgids;
  for (const auto& [tgid, p] : processes_) tgids.push_back(tgid);
  return tgids;
}

std::vector<pid_t> HoldEngine::threads(pid_t tgid) const {
  auto it = processes_.find(tgid);
  if (it == processes_.end()) return {};
  return {it->second.threads.begin(), it->second.threads.end()};
}

std::vector<HeldSignal> HoldEngine::held(pid_t tgid) const {
  auto it = processes_.find(tgid);
  return it == processes_.end() ? std::vector<HeldSignal>{} : it->second.held;
}

HoldEngine::Process* HoldEngine::find(pid_t tgid) {
  auto it = processes_.find(tgid);
  return it == processes_.end() ? nullptr : &it->second;
}

HoldEngine::Process* HoldEngine::owner_of(pid_t tid) {
  if (auto it = tgid_of_.find(tid); it != tgid_of_.end()) return find(it->second);
  // A thread auto-attached by TRACECLONE can report its first stop before its parent reports the clone.
  auto status = options_.proc.status(tid);
  Process* p = status ? find(status->tgid) : nullptr;
  if (p) add_thread(*p, tid);
  return p;
}

void HoldEngine::add_thread(Process& p, pid_t tid) {
  p.threads.insert(tid);
  tgid_of_[tid] = p.tgid;
}

void HoldEngine::drop_thread(pid_t tid) {
  auto it = tgid_of_.find(tid);
  if (it == tgid_of_.end()) return;
  if (Process* p = find(it->second)) p->threads.erase(tid);
  tgid_of_.erase(it);
}

void HoldEngine::drop_process(pid_t tgid) {
  Process* p = find(tgid);
  if (!p) return;
  for (pid_t tid : p->threads) tgid_of_.erase(tid);
  processes_.erase(tgid);
}

void HoldEngine::on_stop(const SignalStop& s) {
  Process* p = owner_of(s.tid);
  if (!p) {
    (void)tracer_.detach(s.tid, s.signo);  // not a thread of a guarded process: let it go as it was
    return;
  }
  auto flight = p->in_flight.find(s.signo);
  if (flight == p->in_flight.end() && !holds(s.signo)) return pass(*p, s.tid, s.signo);
  auto info = tracer_.siginfo(s.tid);
  if (!info) return;  // killed while stopped: its exit is reported next
  if (flight != p->in_flight.end()) {
    // Our release, or a signal of the same number it was merged into: either way the app gets it now.
    if (is_marked(*info)) (void)tracer_.set_siginfo(s.tid, flight->second);
    p->in_flight.erase(flight);
    pass(*p, s.tid, s.signo);
    after_release_passed(*p);
    return;
  }
  if (is_marked(*info) || p->detaching) return pass(*p, s.tid, s.signo);  // a late release; or the hold is over
  HeldSignal held{p->tgid, s.tid, s.signo, *info, std::chrono::system_clock::now()};
  if (on_held_) {
    if (auto journaled = on_held_(held); !journaled) return pass(*p, s.tid, s.signo);  // unrecorded: don't hold
  }
  p->held.push_back(held);
  (void)tracer_.resume(s.tid, 0);
}

void HoldEngine::on_stop(const GroupStop& s) {
  Process* p = owner_of(s.tid);
  if (!p) {
    (void)tracer_.detach(s.tid, 0);
  } else if (p->detaching) {
    pass(*p, s.tid, 0);  // let go in group-stop: it stays stopped until SIGCONT, as it would untraced
  } else {
    (void)tracer_.listen(s.tid);  // stays stopped, yet SIGCONT (or SIGKILL) still wakes it
  }
}

void HoldEngine::on_stop(const EventStop& s) {
  Process* p = owner_of(s.tid);
  if (!p) {
    (void)tracer_.detach(s.tid, 0);
    return;
  }
  if (s.event == PTRACE_EVENT_CLONE && s.message != 0) add_thread(*p, static_cast<pid_t>(s.message));
  if (s.event == PTRACE_EVENT_EXEC) {
    // exec killed every other thread; the execing one now runs under the leader's tid.
    for (pid_t tid : std::set<pid_t>(p->threads))
      if (tid != s.tid) drop_thread(tid);
    add_thread(*p, s.tid);
  }
  pass(*p, s.tid, 0);
}

void HoldEngine::on_stop(const ThreadExited& s) {
  auto it = tgid_of_.find(s.tid);
  if (it == tgid_of_.end()) return;
  // A traced leader's exit is reported only after every other thread's: the process is gone.
  if (s.tid == it->second) {
    drop_process(s.tid);
  } else {
    drop_thread(s.tid);
  }
}

void HoldEngine::pass(Process& p, pid_t tid, int signo) {
  if (!p.detaching) {
    (void)tracer_.resume(tid, signo);  // fails only when the thread was killed meanwhile
    return;
  }
  if (tracer_.detach(tid, signo)) {
    p.threads.erase(tid);
    tgid_of_.erase(tid);
  }
}

bool HoldEngine::is_marked(const siginfo_t& info) const {
  return info.si_code == SI_QUEUE &&
         static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(info.si_value.sival_ptr)) == options_.cookie;
}

void HoldEngine::expire_releases() {
  const auto now = Clock::now();
  for (auto& [tgid, p] : processes_) {
    if (p.in_flight.empty() || now < p.release_deadline) continue;
    // Still pending in the kernel (the app may block it): it is delivered whenever it is unblocked.
    p.in_flight.clear();
    after_release_passed(p);
  }
}

void HoldEngine::after_release_passed(Process& p) {
  if (options_.detach_after_release && !p.detaching && p.in_flight.empty() && p.held.empty()) begin_detach(p);
}

void HoldEngine::begin_detach(Process& p) {
  p.detaching = true;
  // A thread can only be let go from a ptrace-stop; each one reports an interrupt stop and is let go there.
  for (pid_t tid : p.threads) (void)tracer_.interrupt(tid);
}

bool HoldEngine::poll_until(const std::function<bool()>& done, Clock::time_point deadline) {
  while (!done()) {
    const auto now = Clock::now();
    if (now >= deadline) return false;
    poll(std::min(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) + std::chrono::milliseconds(1),
                  std::chrono::milliseconds(10)));
  }
  return true;
}

}  // namespace sigdrain
