// Real sigactions, masks, clones and execs: the disposition a signal event carries is the one the target had
// when the signal was generated, as bpf/dispositions.bpf.c recorded it.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "observer/observer.hpp"
#include "proc/proc.hpp"
#include "trace/disposition_seed.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;

void on_signal(int) {}

// Waits for the child `pid`: was it killed by `sig`?
bool reaped_killed_by(pid_t pid, int sig) {
  int status = 0;
  return waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == sig;
}

// Blocks `sig` in the calling thread (rt_sigprocmask).
void block(int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

struct Tracked {
  std::vector<ObservedEvent> events;
  std::unique_ptr<Observer> obs;

  Tracked() {
    ObserverOptions opts;
    opts.sockets = false;
    opts.track_dispositions = true;
    auto o = Observer::start(opts, [this](const ObservedEvent& e) { events.push_back(e); });
    if (!o) {
      ADD_FAILURE() << o.error().message;
      return;
    }
    obs = std::move(*o);
    // This test process predates the observer: seeded as trace seeds every process; its children inherit it.
    auto seed = read_disposition_seed(ProcFs{}, getpid());
    if (!seed) ADD_FAILURE() << "cannot read this process's /proc";
    else if (auto r = obs->seed_dispositions(*seed); !r) ADD_FAILURE() << r.error().message;
  }

  // The first event of type T that `pred` accepts, polling up to 3 s.
  template <typename T>
  std::optional<T> first(const std::function<bool(const T&)>& pred) {
    auto until = std::chrono::steady_clock::now() + 3s;
    while (std::chrono::steady_clock::now() < until) {
      for (const auto& e : events)
        if (auto* x = std::get_if<T>(&e); x && pred(*x)) return *x;
      if (auto r = obs->poll(50ms); !r) ADD_FAILURE() << r.error().message;
    }
    return std::nullopt;
  }
  std::optional<SignalEvent> signal_to(pid_t target, int sig) {
    return first<SignalEvent>([&](const SignalEvent& s) { return s.target_pid == (__u32)target && s.sig == (__u32)sig; });
  }
  std::optional<ExitEvent> exit_of(pid_t pid) {
    return first<ExitEvent>([&](const ExitEvent& x) { return x.tgid == (__u32)pid; });
  }
  // The disposition carried by the first signal event of `sig` to `target`, or -1 when none came.
  int disposition_of(pid_t target, int sig) {
    auto s = signal_to(target, sig);
    return s ? static_cast<int>(s->disposition) : -1;
  }
};

// A child that runs `setup`, says it is ready, then waits for signals; SIGKILLed and reaped at the end.
struct Child {
  explicit Child(const std::function<void()>& setup) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(fds[0]);
      setup();
      char c = 'r';
      (void)!write(fds[1], &c, 1);
      for (;;) pause();
    }
    close(fds[1]);
    char c;
    ready = read(fds[0], &c, 1) == 1;
    close(fds[0]);
  }
  ~Child() {
    if (pid <= 0) return;  // never forked, or reaped by the test
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  pid_t pid = -1;
  bool ready = false;
};

TEST(ObserverDispositions, HandlerIgnoreDefaultAndBlockedAsOfGeneration) {
  Tracked t;
  ASSERT_TRUE(t.obs);
  Child handler([] { signal(SIGUSR1, on_signal); });
  Child ignore([] { signal(SIGUSR1, SIG_IGN); });
  Child dflt([] { signal(SIGUSR1, SIG_DFL); });
  Child blocked([] {
    signal(SIGUSR1, SIG_DFL);
    block(SIGUSR1);
  });
  for (auto* c : {&handler, &ignore, &dflt, &blocked}) ASSERT_TRUE(c->ready);
  ASSERT_EQ(kill(handler.pid, SIGUSR1), 0);
  ASSERT_EQ(kill(ignore.pid, SIGUSR1), 0);
  ASSERT_EQ(kill(blocked.pid, SIGUSR1), 0);
  EXPECT_EQ(t.disposition_of(handler.pid, SIGUSR1), SIGDRAIN_DISP_HANDLER);
  EXPECT_EQ(t.disposition_of(ignore.pid, SIGUSR1), SIGDRAIN_DISP_IGNORE);
  EXPECT_EQ(t.disposition_of(blocked.pid, SIGUSR1), SIGDRAIN_DISP_BLOCKED);
  // A SIGTERM nobody set up: inherited from this process (default), not blocked.
  ASSERT_EQ(kill(dflt.pid, SIGTERM), 0);
  EXPECT_EQ(t.disposition_of(dflt.pid, SIGTERM), SIGDRAIN_DISP_DEFAULT);
}

// exec: a handler goes back to SIG_DFL, SIG_IGN survives (flush_signal_handlers), as does the blocked mask.
TEST(ObserverDispositions, ExecResetsHandlersAndKeepsIgnores) {
  Tracked t;
  ASSERT_TRUE(t.obs);
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGUSR1, on_signal);
    signal(SIGUSR2, SIG_IGN);
    execlp("sleep", "sleep", "30", nullptr);
    _exit(127);
  }
  close(fds[1]);
  char c;
  ASSERT_EQ(read(fds[0], &c, 1), 0) << "the pipe closes at exec";
  close(fds[0]);
  // The pipe closes inside exec, before sched_process_exec: wait until sleep(1) itself sleeps.
  ProcFs proc;
  for (int i = 0; i < 300; ++i) {
    auto st = proc.status(pid);
    if (st && st->name == "sleep" && st->state == 'S') break;
    usleep(10'000);
  }
  ASSERT_EQ(kill(pid, SIGUSR2), 0);
  EXPECT_EQ(t.disposition_of(pid, SIGUSR2), SIGDRAIN_DISP_IGNORE);
  ASSERT_EQ(kill(pid, SIGUSR1), 0);
  EXPECT_EQ(t.disposition_of(pid, SIGUSR1), SIGDRAIN_DISP_DEFAULT);
  EXPECT_TRUE(reaped_killed_by(pid, SIGUSR1));
}

// A process that existed before the observer started: known from the start-up seed.
TEST(ObserverDispositions, ProcessesOlderThanTheTraceAreSeededFromProc) {
  Child older([] { signal(SIGHUP, on_signal); });
  ASSERT_TRUE(older.ready);
  Tracked t;
  ASSERT_TRUE(t.obs);
  auto seed = read_disposition_seed(ProcFs{}, older.pid);
  ASSERT_TRUE(seed);
  ASSERT_TRUE(t.obs->seed_dispositions(*seed));
  ASSERT_EQ(kill(older.pid, SIGHUP), 0);
  EXPECT_EQ(t.disposition_of(older.pid, SIGHUP), SIGDRAIN_DISP_HANDLER);
}

// A blocked fatal signal does not start the group exit; the later SIGTERM does, and is the exit's cause (the
// kernel's internal SIGKILL stands for SIGTERM, not for the first fatal signal generated).
TEST(ObserverDispositions, BlockedFatalSignalIsNotTheExitCause) {
  Tracked t;
  ASSERT_TRUE(t.obs);
  Child blocked([] {
    signal(SIGUSR1, SIG_DFL);
    block(SIGUSR1);
  });
  ASSERT_TRUE(blocked.ready);
  ASSERT_EQ(kill(blocked.pid, SIGUSR1), 0);
  EXPECT_EQ(t.disposition_of(blocked.pid, SIGUSR1), SIGDRAIN_DISP_BLOCKED);
  const pid_t pid = blocked.pid;
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  blocked.pid = 0;  // reaped
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  auto exit = t.exit_of(pid);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->cause, SIGDRAIN_EXIT_SIGNAL);
  EXPECT_EQ(exit->cause_value, (__u32)SIGTERM) << "the blocked SIGUSR1 was generated first but killed nobody";
}

// kill -9 microseconds after a SIGTERM that kills: SIGTERM's group exit has begun, the process dies of SIGTERM
// as wait() says. The kernel drops that SIGKILL at generation (result ignored); 5.10 still queues it (delivered).
// After a caught SIGTERM the SIGKILL kills.
TEST(ObserverDispositions, SigkillRightAfterAFatalSigtermIsNotTheCause) {
  Tracked t;
  ASSERT_TRUE(t.obs);
  for (bool caught : {false, true}) {
    Child c([caught] { signal(SIGTERM, caught ? on_signal : SIG_DFL); });
    ASSERT_TRUE(c.ready);
    const pid_t pid = c.pid;
    ASSERT_EQ(kill(pid, SIGTERM), 0);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    c.pid = 0;  // reaped
    ASSERT_TRUE(WIFSIGNALED(status));
    ASSERT_EQ(WTERMSIG(status), caught ? SIGKILL : SIGTERM);
    auto ex = t.exit_of(pid);
    ASSERT_TRUE(ex) << caught;
    EXPECT_EQ(ex->cause, SIGDRAIN_EXIT_SIGNAL);
    EXPECT_EQ(ex->cause_value, (__u32)WTERMSIG(status)) << (caught ? "caught" : "default") << " SIGTERM";
    auto kill = t.signal_to(pid, SIGKILL);
    ASSERT_TRUE(kill);
    if (caught) EXPECT_EQ(kill->result, SIGDRAIN_RESULT_DELIVERED);
    else EXPECT_TRUE(kill->result == SIGDRAIN_RESULT_IGNORED || kill->result == SIGDRAIN_RESULT_DELIVERED);
  }
}

std::atomic<pid_t> g_blocking_tid{0};

void* block_usr1_and_wait(void*) {
  block(SIGUSR1);
  g_blocking_tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
  for (;;) pause();
  return nullptr;
}

// The blocked mask is per thread: tgkill to a thread that blocks the signal reads "blocked"; a kill() to the
// process, whose main thread does not block it, reads "default"; a process-directed signal the main thread of a
// multi-threaded process blocks cannot be told (another thread may take it): "unknown".
TEST(ObserverDispositions, BlockedIsPerThread) {
  Tracked t;
  ASSERT_TRUE(t.obs);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGUSR1, SIG_DFL);
    pthread_t th;
    pthread_create(&th, nullptr, block_usr1_and_wait, nullptr);
    while (g_blocking_tid.load() == 0) usleep(1000);
    pid_t tid = g_blocking_tid.load();
    (void)!write(fds[1], &tid, sizeof(tid));
    for (;;) pause();
  }
  close(fds[1]);
  pid_t tid = 0;
  ASSERT_EQ(read(fds[0], &tid, sizeof(tid)), (ssize_t)sizeof(tid));
  close(fds[0]);
  ASSERT_EQ(syscall(SYS_tgkill, pid, tid, SIGUSR1), 0);
  EXPECT_EQ(t.disposition_of(tid, SIGUSR1), SIGDRAIN_DISP_BLOCKED);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  EXPECT_EQ(t.disposition_of(pid, SIGTERM), SIGDRAIN_DISP_DEFAULT);
  EXPECT_TRUE(reaped_killed_by(pid, SIGTERM));
}

}  // namespace
}  // namespace sigdrain
