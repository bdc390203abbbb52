// Real signals, real BPF: each way of sending a signal is seen with the right sender, target and result.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "observer/observer.hpp"
#include "observer/time_ordered_events.hpp"
#include "signals/signal_names.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;

class EventLog {
 public:
  Observer::Handler handler() {
    return [this](const ObservedEvent& e) { events_.push_back(e); };
  }
  // Polls until `pred` matches an event or 3 s pass.
  void for_each(const std::function<void(const ObservedEvent&)>& f) const {
    for (const auto& e : events_) f(e);
  }
  template <typename T>
  std::optional<T> wait_for(Observer& obs, std::function<bool(const T&)> pred) {
    auto until = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < until) {
      for (const auto& e : events_)
        if (auto* t = std::get_if<T>(&e); t && pred(*t)) return *t;
      auto r = obs.poll(50ms);
      if (!r) ADD_FAILURE() << r.error().message;
    }
    return std::nullopt;
  }

 private:
  std::vector<ObservedEvent> events_;
};

// A child that installs `disposition` for SIGUSR1/SIGTERM, says it is ready, then waits.
pid_t spawn_waiter(void (*disposition)(int), int ready_fd_pair[2]) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (disposition != nullptr) {
      signal(SIGUSR1, disposition);
      signal(SIGTERM, disposition);
    }
    char c = 'r';
    (void)!write(ready_fd_pair[1], &c, 1);
    for (;;) pause();
  }
  char c;
  (void)!read(ready_fd_pair[0], &c, 1);
  return pid;
}

void on_signal(int) {}

// A real page fault, for a kernel-generated SIGSEGV; kept away from the sanitizers, which would report it first.
__attribute__((noinline, no_sanitize("address", "undefined"))) void fault() {
  static volatile uintptr_t unmapped = 0;  // not a constant: the compiler cannot turn the store into a trap
  *reinterpret_cast<volatile int*>(unmapped) = 1;
}

struct Waiter {
  explicit Waiter(void (*disposition)(int)) {
    EXPECT_EQ(pipe(fds), 0);
    pid = spawn_waiter(disposition, fds);
  }
  ~Waiter() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(fds[0]);
    close(fds[1]);
  }
  int fds[2];
  pid_t pid;
};

// The signal programs alone: these tests read nothing of the socket programs.
ObserverOptions signals_only() {
  ObserverOptions opts;
  opts.sockets = false;
  return opts;
}

std::unique_ptr<Observer> start_observer(EventLog& log, const ObserverOptions& opts = signals_only()) {
  auto obs = Observer::start(opts, log.handler());
  if (!obs) ADD_FAILURE() << obs.error().message;
  return obs ? std::move(*obs) : nullptr;
}

// The daemon's way: the exit-code programs (syscall tracepoints, which put every syscall on the node on the
// kernel's slow path) run only while it tracks exit codes, i.e. while a stop is in progress.
TEST(ObserverSignals, ExitCodesOnDemandOnlyWhileTracked) {
  EventLog log;
  ObserverOptions opts = signals_only();
  opts.exit_codes_on_demand = true;
  auto started = start_observer(log, opts);
  ASSERT_TRUE(started);
  Observer& obs = *started;
  auto exit_of = [&](int code) {
    pid_t child = fork();
    if (child == 0) _exit(code);
    waitpid(child, nullptr, 0);
    return log.wait_for<ExitEvent>(obs, [&](const ExitEvent& e) { return e.tgid == (__u32)child; });
  };

  EXPECT_FALSE(obs.tracks_exit_codes());
  auto untracked = exit_of(41);
  ASSERT_TRUE(untracked) << "the exit itself is always seen";
  EXPECT_EQ(untracked->cause, SIGDRAIN_EXIT_UNKNOWN) << "no exit_group program attached";

  ASSERT_TRUE(obs.track_exit_codes(true));
  ASSERT_TRUE(obs.track_exit_codes(true)) << "idempotent";
  EXPECT_TRUE(obs.tracks_exit_codes());
  auto tracked = exit_of(42);
  ASSERT_TRUE(tracked);
  EXPECT_EQ(tracked->cause, SIGDRAIN_EXIT_CODE);
  EXPECT_EQ(tracked->cause_value, 42u);

  ASSERT_TRUE(obs.track_exit_codes(false));
  EXPECT_FALSE(obs.tracks_exit_codes());
  auto detached = exit_of(43);
  ASSERT_TRUE(detached);
  EXPECT_EQ(detached->cause, SIGDRAIN_EXIT_UNKNOWN);

  Waiter w(on_signal);  // a signal's death is known either way
  ASSERT_EQ(kill(w.pid, SIGKILL), 0);
  auto killed = log.wait_for<ExitEvent>(obs, [&](const ExitEvent& e) { return e.tgid == (__u32)w.pid; });
  ASSERT_TRUE(killed);
  EXPECT_EQ(killed->cause, SIGDRAIN_EXIT_SIGNAL);
  EXPECT_EQ(killed->cause_value, (__u32)SIGKILL);
}

// The daemon's way: exits are reported only for the processes it watches (its containers' inits), so the node's
// short-lived processes do not each wake it.
TEST(ObserverSignals, OnlyWatchedExitsAreReported) {
  EventLog log;
  ObserverOptions opts = signals_only();
  opts.report_all_exits = false;
  auto started = start_observer(log, opts);
  ASSERT_TRUE(started);
  Observer& obs = *started;
  auto exit_of = [&](bool watched, std::chrono::milliseconds wait) {
    int go[2];
    EXPECT_EQ(pipe(go), 0);
    pid_t child = fork();
    if (child == 0) {
      char c;
      (void)!read(go[0], &c, 1);
      _exit(5);
    }
    if (watched) {
      EXPECT_TRUE(obs.watch_exit(child));
    }
    (void)!write(go[1], "g", 1);
    waitpid(child, nullptr, 0);
    close(go[0]);
    close(go[1]);
    std::optional<ExitEvent> seen;
    auto until = std::chrono::steady_clock::now() + wait;
    while (!seen && std::chrono::steady_clock::now() < until) {
      (void)obs.poll(20ms);
      log.for_each([&](const ObservedEvent& e) {
        if (auto* x = std::get_if<ExitEvent>(&e); x && x->tgid == (__u32)child) seen = *x;
      });
    }
    return seen;
  };
  EXPECT_FALSE(exit_of(false, 500ms)) << "an exit nobody watches makes no event";
  auto watched = exit_of(true, 3s);
  ASSERT_TRUE(watched) << "a watched process's exit is reported";
  EXPECT_EQ(watched->cause, SIGDRAIN_EXIT_CODE);
  EXPECT_EQ(watched->cause_value, 5u);
}

TEST(ObserverSignals, KillIsSeenWithSenderTargetAndHandler) {
  EventLog log;
  auto obs = start_observer(log);
  ASSERT_TRUE(obs);
  Waiter w(on_signal);
  ASSERT_EQ(kill(w.pid, SIGUSR1), 0);

  auto gen = log.wait_for<SignalEvent>(*obs, [&](const SignalEvent& e) { return e.target_pid == (__u32)w.pid && e.sig == SIGUSR1; });
  ASSERT_TRUE(gen);
  EXPECT_EQ(gen->sender_tgid, (__u32)getpid());
  EXPECT_EQ(gen->code, SI_USER);
  EXPECT_EQ(gen->result, SIGDRAIN_RESULT_DELIVERED);
  EXPECT_EQ(gen->group, 1u);

  auto del = log.wait_for<DeliverEvent>(*obs, [&](const DeliverEvent& e) { return e.tgid == (__u32)w.pid && e.sig == SIGUSR1; });
  ASSERT_TRUE(del);
  EXPECT_EQ(del->handler_class, SIGDRAIN_HANDLER_CATCH);
}

TEST(ObserverSignals, TgkillNamesTheThreadAndCode) {
  EventLog log;
  auto obs = start_observer(log);
  ASSERT_TRUE(obs);
  Waiter w(on_signal);
  ASSERT_EQ(syscall(SYS_tgkill, w.pid, w.pid, SIGUSR1), 0);
  auto gen = log.wait_for<SignalEvent>(*obs, [&](const SignalEvent& e) { return e.target_pid == (__u32)w.pid && e.sig == SIGUSR1; });
  ASSERT_TRUE(gen);
  EXPECT_EQ(gen->code, SI_TKILL);
  EXPECT_EQ(gen->group, 0u);
  EXPECT_EQ(gen->sender_tid, (__u32)syscall(SYS_gettid));
}

TEST(ObserverSignals, PidfdSendSignalIsSeen) {
  EventLog log;
  auto obs = start_observer(log);
  ASSERT_TRUE(obs);
  Waiter w(on_signal);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, w.pid, 0));
  ASSERT_GE(pidfd, 0);
  ASSERT_EQ(syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, nullptr, 0), 0);
  close(pidfd);
  auto gen = log.wait_for<SignalEvent>(*obs, [&](const SignalEvent& e) { return e.target_pid == (__u32)w.pid && e.sig == SIGTERM; });
  ASSERT_TRUE(gen);
  EXPECT_EQ(gen->sender_tgid, (__u32)getpid());
  EXPECT_EQ(gen->result, SIGDRAIN_RESULT_DELIVERED);
}

TEST(ObserverSignals, IgnoredSignalShowsIgnored) {
  EventLog log;
  auto obs = start_observer(log);
  ASSERT_TRUE(obs);
  Waiter w(SIG_IGN);
  ASSERT_EQ(kill(w.pid, SIGUSR1), 0);
  auto gen = log.wait_for<SignalEvent>(*obs, [&](const SignalEvent& e) { return e.target_pid == (__u32)w.pid && e.sig == SIGUSR1; });
  ASSERT_TRUE(gen);
  EXPECT_EQ(gen->result, SIGDRAIN_RESULT_IGNORED);
}

TEST(ObserverSignals, KernelGeneratedSignalAndExitCause) {
  EventLog log;
  auto obs = start_observer(log);
  ASSERT_TRUE(obs);
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGSEGV, SIG_DFL);  // under ASan its own handler would catch the fault
    fault();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto gen = log.wait_for<SignalEvent>(*obs, [&](const SignalEvent& e) { return e.target_pid == (__u32)pid && e.sig == SIGSEGV; });
  ASSERT_TRUE(gen);
  EXPECT_GT(gen->code, 0) << "a fault's si_code (SEGV_MAPERR) marks a kernel-generated signal";
  auto ex = log.wait_for<ExitEvent>(*obs, [&](const ExitEvent& e) { return e.tgid == (__u32)pid; });
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->cause, SIGDRAIN_EXIT_SIGNAL);
  EXPECT_EQ(ex->cause_value, (__u32)SIGSEGV);
}

TEST(ObserverSignals, ExitCodeAndSigkillCause) {
  EventLog log;
  auto obs = start_observer(log);
  ASSERT_TRUE(obs);
  pid_t exiter = fork();
  if (exiter == 0) _exit(42);
  waitpid(exiter, nullptr, 0);
  auto ex = log.wait_for<ExitEvent>(*obs, [&](const ExitEvent& e) { return e.tgid == (__u32)exiter; });
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->cause, SIGDRAIN_EXIT_CODE);
  EXPECT_EQ(ex->cause_value, 42u);

  Waiter w(on_signal);
  ASSERT_EQ(kill(w.pid, SIGKILL), 0);
  auto killed = log.wait_for<ExitEvent>(*obs, [&](const ExitEvent& e) { return e.tgid == (__u32)w.pid; });
  ASSERT_TRUE(killed);
  EXPECT_EQ(killed->cause, SIGDRAIN_EXIT_SIGNAL);
  EXPECT_EQ(killed->cause_value, (__u32)SIGKILL);
}

TEST(ObserverSignals, PidNamespaceInitWithoutHandlerIgnoresSigterm) {
  EventLog log;
  auto obs = start_observer(log);
  ASSERT_TRUE(obs);
  int ready[2], pid_pipe[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(pid_pipe), 0);
  // The first child forked after unshare(CLONE_NEWPID) is PID 1 of the new namespace.
  pid_t helper = fork();
  if (helper == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (unshare(CLONE_NEWPID) != 0) _exit(90);
    pid_t init = fork();
    if (init == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      char c = 'r';
      (void)!write(ready[1], &c, 1);
      for (;;) pause();
    }
    (void)!write(pid_pipe[1], &init, sizeof(init));
    waitpid(init, nullptr, 0);
    _exit(0);
  }
  struct Reap {
    pid_t pid;
    ~Reap() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } reap{helper};
  char c;
  pid_t init = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(read(pid_pipe[0], &init, sizeof(init)), (ssize_t)sizeof(init));
  for (int fd : {ready[0], ready[1], pid_pipe[0], pid_pipe[1]}) close(fd);
  ASSERT_EQ(kill(init, SIGTERM), 0);
  auto gen = log.wait_for<SignalEvent>(*obs, [&](const SignalEvent& e) { return e.target_pid == (__u32)init && e.sig == SIGTERM; });
  ASSERT_TRUE(gen);
  EXPECT_EQ(gen->result, SIGDRAIN_RESULT_IGNORED) << "the kernel drops a default-action signal to a namespace init";
}

// The exit event of `pid` carries the cause and value wait() saw in `status`.
void expect_exit_as_waited(EventLog& log, Observer& obs, pid_t pid, int status) {
  auto ex = log.wait_for<ExitEvent>(obs, [&](const ExitEvent& e) { return e.tgid == (__u32)pid; });
  ASSERT_TRUE(ex);
  if (WIFSIGNALED(status)) {
    EXPECT_EQ(ex->cause, SIGDRAIN_EXIT_SIGNAL);
    EXPECT_EQ(ex->cause_value, (__u32)WTERMSIG(status));
  } else {
    EXPECT_EQ(ex->cause, SIGDRAIN_EXIT_CODE);
    EXPECT_EQ(ex->cause_value, (__u32)WEXITSTATUS(status));
  }
}

// The kernel turns a fatal default-action SIGTERM into a group exit with a SIGKILL nobody sent
// (complete_signal); the process dies of SIGTERM, as wait() says, and that SIGKILL is not reported.
TEST(ObserverSignals, SigtermWithoutHandlerIsTheCauseAndNoSigkillIsReported) {
  EventLog log;
  auto obs = start_observer(log);
  ASSERT_TRUE(obs);
  Waiter w(nullptr);
  ASSERT_EQ(kill(w.pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(w.pid, &status, 0), w.pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGTERM);
  expect_exit_as_waited(log, *obs, w.pid, status);
  auto del = log.wait_for<DeliverEvent>(*obs, [&](const DeliverEvent& e) { return e.tgid == (__u32)w.pid && e.sig == SIGKILL; });
  EXPECT_FALSE(del) << "an internal group-kill SIGKILL was reported as delivered";
  auto gen = log.wait_for<SignalEvent>(*obs, [&](const SignalEvent& e) { return e.target_pid == (__u32)w.pid && e.sig == SIGKILL; });
  EXPECT_FALSE(gen);
}

void exit_seven(int) { _exit(7); }

TEST(ObserverSignals, HandlerThatExitsGivesItsExitCode) {
  EventLog log;
  auto obs = start_observer(log);
  ASSERT_TRUE(obs);
  Waiter w(exit_seven);
  ASSERT_EQ(kill(w.pid, SIGUSR1), 0);
  int status = 0;
  ASSERT_EQ(waitpid(w.pid, &status, 0), w.pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 7);
  expect_exit_as_waited(log, *obs, w.pid, status);
}

// A real SIGKILL is still a signal with its sender and a delivery, and the cause of death.
TEST(ObserverSignals, RealSigkillIsReportedWithItsSender) {
  EventLog log;
  auto obs = start_observer(log);
  ASSERT_TRUE(obs);
  Waiter w(nullptr);
  ASSERT_EQ(kill(w.pid, SIGKILL), 0);
  auto gen = log.wait_for<SignalEvent>(*obs, [&](const SignalEvent& e) { return e.target_pid == (__u32)w.pid && e.sig == SIGKILL; });
  ASSERT_TRUE(gen);
  EXPECT_EQ(gen->sender_tgid, (__u32)getpid());
  auto del = log.wait_for<DeliverEvent>(*obs, [&](const DeliverEvent& e) { return e.tgid == (__u32)w.pid && e.sig == SIGKILL; });
  EXPECT_TRUE(del);
  int status = 0;
  ASSERT_EQ(waitpid(w.pid, &status, 0), w.pid);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);
  expect_exit_as_waited(log, *obs, w.pid, status);
}

// sched_process_exit has group_dead on 6.18, not on 5.10-6.12 (docs/kernels.md); without it the main thread's exit is used.
bool sched_process_exit_has_group_dead(const Observer& obs) {
  std::ifstream format(obs.kernel().tracefs + "/events/sched/sched_process_exit/format");
  std::string text((std::istreambuf_iterator<char>(format)), std::istreambuf_iterator<char>());
  return text.find("group_dead") != std::string::npos;
}

int g_tid_fd = -1;

void* report_tid_and_wait(void*) {
  pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  (void)!write(g_tid_fd, &tid, sizeof(tid));
  for (;;) pause();
  return nullptr;
}

// tgkill(SIGKILL) to one thread that is not the leader: the kernel kills the whole group and queues a SIGKILL to
// every other thread without a signal_generate. The SIGKILL sent is shown (its signal, its delivery to that
// thread) and is the cause; the kernel's SIGKILLs to the other threads are not; another thread's delivery of an
// ordinary signal just before is still shown.
TEST(ObserverSignals, TgkillSigkillToANonLeaderThread) {
  EventLog log;
  auto obs = start_observer(log);
  ASSERT_TRUE(obs);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGUSR1, on_signal);
    g_tid_fd = fds[1];
    for (int i = 0; i < 3; ++i) {
      pthread_t t;
      pthread_create(&t, nullptr, report_tid_and_wait, nullptr);
    }
    for (;;) pause();
  }
  pid_t tids[3];
  for (auto& tid : tids) ASSERT_EQ(read(fds[0], &tid, sizeof(tid)), (ssize_t)sizeof(tid));
  close(fds[0]);
  close(fds[1]);
  const pid_t other = tids[0], victim = tids[1];
  ASSERT_EQ(syscall(SYS_tgkill, pid, other, SIGUSR1), 0);
  auto usr1 = log.wait_for<DeliverEvent>(*obs, [&](const DeliverEvent& e) { return e.tid == (__u32)other && e.sig == SIGUSR1; });
  EXPECT_TRUE(usr1) << "the other thread's delivery of SIGUSR1";
  ASSERT_EQ(syscall(SYS_tgkill, pid, victim, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  if (sched_process_exit_has_group_dead(*obs)) {
    expect_exit_as_waited(log, *obs, pid, status);
  } else {
    // The main thread's exit stands for the process's: it can come before the victim's delivery. Then the cause
    // is unknown, never a wrong one.
    auto ex = log.wait_for<ExitEvent>(*obs, [&](const ExitEvent& e) { return e.tgid == (__u32)pid; });
    ASSERT_TRUE(ex);
    EXPECT_TRUE(ex->cause == SIGDRAIN_EXIT_UNKNOWN || (ex->cause == SIGDRAIN_EXIT_SIGNAL && ex->cause_value == SIGKILL))
        << ex->cause << " " << ex->cause_value;
  }
  (void)obs->poll(100ms);
  int kills_sent = 0, kills_shown = 0;
  log.for_each([&](const ObservedEvent& e) {
    if (auto* g = std::get_if<SignalEvent>(&e); g && g->sig == SIGKILL && (g->target_pid == (__u32)pid ||
        std::find(std::begin(tids), std::end(tids), (pid_t)g->target_pid) != std::end(tids))) {
      ++kills_sent;
      EXPECT_EQ(g->target_pid, (__u32)victim);
      EXPECT_EQ(g->result, SIGDRAIN_RESULT_DELIVERED);
    }
    if (auto* d = std::get_if<DeliverEvent>(&e); d && d->sig == SIGKILL && d->tgid == (__u32)pid) {
      ++kills_shown;
      EXPECT_EQ(d->tid, (__u32)victim) << "a SIGKILL the kernel queued to another thread was shown as delivered";
    }
  });
  EXPECT_EQ(kills_sent, 1);
  EXPECT_EQ(kills_shown, 1);
}

TEST(ObserverSignals, SignalMaskFiltersInTheKernel) {
  EventLog log;
  ObserverOptions opts = signals_only();
  opts.signal_mask = signal_bit(SIGUSR2);
  auto obs = start_observer(log, opts);
  ASSERT_TRUE(obs);
  Waiter w(on_signal);
  kill(w.pid, SIGUSR1);
  kill(w.pid, SIGUSR2);
  auto usr2 = log.wait_for<SignalEvent>(*obs, [&](const SignalEvent& e) { return e.target_pid == (__u32)w.pid && e.sig == SIGUSR2; });
  ASSERT_TRUE(usr2);
  auto usr1 = log.wait_for<SignalEvent>(*obs, [&](const SignalEvent& e) { return e.target_pid == (__u32)w.pid && e.sig == SIGUSR1; });
  EXPECT_FALSE(usr1);
  EXPECT_EQ(obs->counters().ringbuf_drops, 0u);
}


// Pins the calling thread to one CPU while it lives, then gives back the CPUs it had.
class PinnedToCpu {
 public:
  explicit PinnedToCpu(int cpu) {
    sched_getaffinity(0, sizeof(saved_), &saved_);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pinned_ = sched_setaffinity(0, sizeof(one), &one) == 0;
  }
  ~PinnedToCpu() { sched_setaffinity(0, sizeof(saved_), &saved_); }
  bool pinned() const { return pinned_; }

 private:
  cpu_set_t saved_{};
  bool pinned_ = false;
};

// trace's per-CPU rings: a process on one CPU killed by a signal sent from another has its death written to its
// own CPU's ring, which is read before the sender's; the Observer still hands on the signal first, and every event
// in time order.
TEST(ObserverSignals, PerCpuRingsHandOnTheSignalBeforeTheDeathItCaused) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < 2; ++cpu)
    if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
  if (cpus.size() < 2) GTEST_SKIP() << "one CPU only: every event is in one ring";
  const int victim_cpu = cpus[0], sender_cpu = cpus[1];

  EventLog log;
  ObserverOptions opts = signals_only();
  opts.per_cpu_rings = true;
  opts.wakeup_backlog_bytes = kLaggingReaderWakeupBytes;  // as trace: read late, many events per read
  auto obs = start_observer(log, opts);
  ASSERT_TRUE(obs);
  std::vector<pid_t> victims;
  {
    PinnedToCpu sender(sender_cpu);
    ASSERT_TRUE(sender.pinned());
    for (int i = 0; i < 40; ++i) {
      int ready[2];
      ASSERT_EQ(pipe(ready), 0);
      pid_t pid = fork();
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(victim_cpu, &one);
        if (sched_setaffinity(0, sizeof(one), &one) != 0) _exit(3);
        char c = 'r';
        (void)!write(ready[1], &c, 1);
        for (;;) pause();
      }
      char c;
      ASSERT_EQ(read(ready[0], &c, 1), 1);
      close(ready[0]);
      close(ready[1]);
      ASSERT_EQ(kill(pid, SIGTERM), 0);
      int status = 0;
      ASSERT_EQ(waitpid(pid, &status, 0), pid);
      ASSERT_TRUE(WIFSIGNALED(status)) << "the victim could not be pinned";
      victims.push_back(pid);
    }
  }
  // A victim's exit event is written before its parent's waitpid() returns: all are in the rings now.
  ASSERT_TRUE(obs->drain());

  uint64_t last_ns = 0;
  size_t out_of_order = 0;
  std::map<uint32_t, std::pair<int, int>> seen;  // victim: index of its SIGTERM's generation, of its exit
  int index = 0;
  log.for_each([&](const ObservedEvent& e) {
    const uint64_t t = event_time_ns(e);
    if (t < last_ns) ++out_of_order;
    last_ns = std::max(last_ns, t);
    auto at = [&](uint32_t pid) -> std::pair<int, int>& { return seen.try_emplace(pid, -1, -1).first->second; };
    if (auto* g = std::get_if<SignalEvent>(&e); g && g->sig == SIGTERM) at(g->target_pid).first = index;
    if (auto* x = std::get_if<ExitEvent>(&e)) at(x->tgid).second = index;
    ++index;
  });
  EXPECT_EQ(out_of_order, 0u) << "events handed on out of time order";
  for (pid_t pid : victims) {
    auto it = seen.find(static_cast<uint32_t>(pid));
    ASSERT_NE(it, seen.end()) << "nothing seen of victim " << pid;
    const auto [generated, exited] = it->second;
    EXPECT_GE(generated, 0) << "no SIGTERM to victim " << pid;
    EXPECT_GE(exited, 0) << "no exit of victim " << pid;
    EXPECT_LT(generated, exited) << "victim " << pid << "'s death was handed on before the signal that caused it";
  }
  EXPECT_EQ(obs->counters().ringbuf_drops, 0u);
}

}  // namespace
}  // namespace sigdrain
