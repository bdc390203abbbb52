// The hold engine on real processes with real ptrace: a held SIGTERM leaves the app serving, its sender's kill()
// succeeds, and on release the app's own handler runs with the sender's siginfo. The app's real parent (not
// the tracer) reports the wait status it sees. Every wait is bounded, so a broken engine fails, never hangs.
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "containers/container_signal.hpp"
#include "hold/hold_engine.hpp"
#include "proc/pidfd.hpp"
#include "scratch_cgroup.hpp"
#include "util/fd.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;

// ---- the guarded app (runs in a forked child) ----

int g_report_fd = -1;

// What the app's SIGTERM handler saw, written to the report pipe.
struct HandlerRecord {
  std::int32_t code;
  std::int32_t sender;
};

void on_term(int, siginfo_t* info, void*) {
  HandlerRecord record{info->si_code, info->si_pid};
  (void)!write(g_report_fd, &record, sizeof record);
  _exit(0);
}

void idle_forever() {
  for (;;) pause();
}

// Four threads. On its socket: 'p' → "P"; 'n' → a new thread answers with its tid; 'e' → a non-leader thread
// execs /bin/sleep 30.
[[noreturn]] void run_app(int sock, int report_fd, bool with_handler) {
  g_report_fd = report_fd;
  if (with_handler) {
    struct sigaction sa {};
    sa.sa_sigaction = on_term;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGTERM, &sa, nullptr);
  }
  for (int i = 0; i < 3; ++i) std::thread(idle_forever).detach();
  for (;;) {
    char c = 0;
    if (read(sock, &c, 1) != 1) _exit(3);
    if (c == 'p') {
      (void)!write(sock, "P", 1);
    } else if (c == 'n') {
      std::thread([sock] {
        pid_t tid = gettid();
        (void)!write(sock, &tid, sizeof tid);
        idle_forever();
      }).detach();
    } else if (c == 'e') {
      std::thread([] { execl("/bin/sleep", "sleep", "30", nullptr); }).detach();
    }
  }
}

// ---- the test side ----

bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

std::string proc_field(pid_t pid, pid_t tid, const std::string& key) {
  std::ifstream in(fmt::format("/proc/{}/task/{}/status", pid, tid));
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return line.substr(line.find_first_not_of(" \t", key.size() + 1));
  return "";
}

std::vector<pid_t> tasks_of(pid_t pid) {
  std::vector<pid_t> tids;
  for (const auto& e : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid)))
    tids.push_back(std::stoi(e.path().filename().string()));
  std::sort(tids.begin(), tids.end());
  return tids;
}

// The app with its real parent in between: the parent forks the app, waits for it and reports the status, so
// the test sees what a real parent (runc, a shell) sees while the test traces the app.
class App {
 public:
  struct Options {
    bool with_handler = true;
    bool pid_namespace_init = false;  // the app is PID 1 of a new PID namespace
  };
  explicit App(Options options) {
    int sv[2], report[2], status[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    EXPECT_EQ(pipe2(report, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(status, O_CLOEXEC), 0);
    parent_ = fork();
    if (parent_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (options.pid_namespace_init && unshare(CLONE_NEWPID) != 0) _exit(4);
      pid_t app = fork();
      if (app == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(sv[0]);
        close(report[0]);
        run_app(sv[1], report[1], options.with_handler);
      }
      close(report[1]);
      (void)!write(status[1], &app, sizeof app);
      int st = 0;
      while (waitpid(app, &st, 0) == -1 && errno == EINTR) {
      }
      (void)!write(status[1], &st, sizeof st);
      _exit(0);
    }
    close(sv[1]);
    close(report[1]);
    close(status[1]);
    sock_.reset(sv[0]);
    report_.reset(report[0]);
    status_.reset(status[0]);
    EXPECT_TRUE(readable(status_.get(), 2s));
    EXPECT_EQ(read(status_.get(), &pid_, sizeof pid_), static_cast<ssize_t>(sizeof pid_));
    // Ready when all four threads run and the command loop answers.
    char c = 'p';
    EXPECT_EQ(write(sock_.get(), &c, 1), 1);
    EXPECT_TRUE(readable(sock_.get(), 2s));
    EXPECT_EQ(read(sock_.get(), &c, 1), 1);
    for (auto until = std::chrono::steady_clock::now() + 2s;
         tasks_of(pid_).size() < 4 && std::chrono::steady_clock::now() < until;)
      std::this_thread::sleep_for(1ms);
  }
  ~App() {
    kill(parent_, SIGKILL);  // the app dies with it (PDEATHSIG)
    waitpid(parent_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  int sock() const { return sock_.get(); }
  int report() const { return report_.get(); }
  int status() const { return status_.get(); }

 private:
  pid_t parent_ = -1;
  pid_t pid_ = -1;
  UniqueFd sock_, report_, status_;
};

class HoldPtrace : public ::testing::Test {
 protected:
  void SetUp() override { engine = make_engine({}); }

  std::unique_ptr<HoldEngine> make_engine(HoldOptions options) {
    options.release_timeout = 500ms;
    options.detach_timeout = 1s;
    auto made = HoldEngine::make(tracer, std::move(options), [this](const HeldSignal& h) -> Result<void> {
      journal.push_back(h);
      return {};
    });
    EXPECT_TRUE(made) << made.error().message;
    return std::move(made).value();
  }

  void attach(const App& app) {
    auto r = engine->attach(app.pid());
    ASSERT_TRUE(r) << r.error().message;
  }

  // Keeps the engine serving ptrace stops until `done` or the timeout.
  bool pump_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 2s) {
    for (auto until = std::chrono::steady_clock::now() + timeout; !done();) {
      if (std::chrono::steady_clock::now() >= until) return false;
      if (engine) engine->poll(5ms);
    }
    return true;
  }
  bool pump_until_readable(int fd, std::chrono::milliseconds timeout = 2s) {
    return pump_until([fd] { return readable(fd, 0ms); }, timeout);
  }

  // One request to the app, served while the engine keeps running.
  std::optional<std::string> ask(const App& app, char command, std::size_t reply_size,
                                 std::chrono::milliseconds timeout = 2s) {
    if (write(app.sock(), &command, 1) != 1) return std::nullopt;
    if (!pump_until_readable(app.sock(), timeout)) return std::nullopt;
    std::string reply(reply_size, '\0');
    if (read(app.sock(), reply.data(), reply_size) != static_cast<ssize_t>(reply_size)) return std::nullopt;
    return reply;
  }
  bool ping(const App& app, std::chrono::milliseconds timeout = 2s) { return ask(app, 'p', 1, timeout) == "P"; }

  std::optional<HandlerRecord> handler_record(const App& app) {
    if (!pump_until_readable(app.report())) return std::nullopt;
    HandlerRecord record{};
    if (read(app.report(), &record, sizeof record) != sizeof record) return std::nullopt;
    return record;
  }
  // The wait status the app's real parent got.
  std::optional<int> parent_saw(const App& app, std::chrono::milliseconds timeout = 2s) {
    if (!pump_until_readable(app.status(), timeout)) return std::nullopt;
    int status = 0;
    if (read(app.status(), &status, sizeof status) != sizeof status) return std::nullopt;
    return status;
  }
  bool held_count_reaches(pid_t pid, std::size_t n) {
    return pump_until([&] { return engine->held(pid).size() >= n; });
  }

  LinuxTracer tracer;
  std::vector<HeldSignal> journal;
  std::unique_ptr<HoldEngine> engine;
};

TEST_F(HoldPtrace, HeldSigtermLeavesTheAppServingAndItsHandlerRunsOnRelease) {
  App app({});
  attach(app);
  EXPECT_EQ(engine->threads(app.pid()), tasks_of(app.pid()));
  for (pid_t tid : tasks_of(app.pid())) EXPECT_EQ(proc_field(app.pid(), tid, "TracerPid"), std::to_string(gettid()));

  ASSERT_EQ(kill(app.pid(), SIGTERM), 0);  // the sender sees success
  ASSERT_TRUE(held_count_reaches(app.pid(), 1));
  ASSERT_EQ(journal.size(), 1u);
  EXPECT_EQ(journal[0].info.si_pid, getpid());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(ping(app)) << "request " << i;
  EXPECT_FALSE(readable(app.report(), 0ms)) << "the handler ran during the hold";

  auto released = engine->release(app.pid(), SIGTERM);
  ASSERT_TRUE(released) << released.error().message;
  auto record = handler_record(app);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->code, SI_USER) << "the original siginfo is written back, not the release marker";
  EXPECT_EQ(record->sender, getpid());
  auto status = parent_saw(app);
  ASSERT_TRUE(status) << "the real parent did not get the exit";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_TRUE(pump_until([&] { return !engine->guarding(app.pid()); }));
}

TEST_F(HoldPtrace, ASecondSenderDuringTheHoldIsHeldTooAndMerged) {
  App app({});
  attach(app);
  ASSERT_EQ(kill(app.pid(), SIGTERM), 0);
  ASSERT_TRUE(held_count_reaches(app.pid(), 1));
  // Another process sends SIGTERM; it is the test's own child, which the tracer must not reap.
  pid_t sender = fork();
  if (sender == 0) _exit(kill(app.pid(), SIGTERM) == 0 ? 0 : 1);
  ASSERT_TRUE(held_count_reaches(app.pid(), 2));
  EXPECT_EQ(engine->held(app.pid())[1].info.si_pid, sender);
  EXPECT_TRUE(ping(app));
  int sender_status = -1;
  ASSERT_EQ(waitpid(sender, &sender_status, 0), sender) << "the tracer reaped a child that is not its tracee";
  EXPECT_TRUE(WIFEXITED(sender_status) && WEXITSTATUS(sender_status) == 0) << "the sender's kill() failed";

  EXPECT_EQ(engine->release(app.pid(), SIGTERM).value(), 2u);
  auto record = handler_record(app);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->sender, getpid()) << "the app sees the first sender";
  auto status = parent_saw(app);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  char extra;
  EXPECT_EQ(read(app.report(), &extra, 1), 0) << "the handler ran twice";
}

TEST_F(HoldPtrace, AThreadCreatedDuringTheHoldIsTraced) {
  App app({});
  attach(app);
  ASSERT_EQ(kill(app.pid(), SIGTERM), 0);
  ASSERT_TRUE(held_count_reaches(app.pid(), 1));
  auto reply = ask(app, 'n', sizeof(pid_t));
  ASSERT_TRUE(reply);
  pid_t tid = 0;
  std::memcpy(&tid, reply->data(), sizeof tid);
  EXPECT_THAT(engine->threads(app.pid()), Contains(tid));
  EXPECT_EQ(proc_field(app.pid(), tid, "TracerPid"), std::to_string(gettid()));

  ASSERT_EQ(syscall(SYS_tgkill, app.pid(), tid, SIGTERM), 0);  // aimed at the new thread
  ASSERT_TRUE(held_count_reaches(app.pid(), 2));
  EXPECT_EQ(engine->held(app.pid())[1].tid, tid);
  ASSERT_TRUE(engine->release(app.pid(), SIGTERM));
  ASSERT_TRUE(handler_record(app));
  auto status = parent_saw(app);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST_F(HoldPtrace, AnExecDuringTheHoldKeepsTheProcessGuarded) {
  App app({});
  attach(app);
  ASSERT_EQ(kill(app.pid(), SIGTERM), 0);
  ASSERT_TRUE(held_count_reaches(app.pid(), 1));
  ASSERT_EQ(write(app.sock(), "e", 1), 1);  // a non-leader thread execs: it takes over the leader's pid
  auto comm = [&] {
    std::ifstream in(fmt::format("/proc/{}/comm", app.pid()));
    std::string name;
    std::getline(in, name);
    return name;
  };
  ASSERT_TRUE(pump_until([&] {
    return comm() == "sleep" && engine->threads(app.pid()) == std::vector<pid_t>{app.pid()};
  })) << comm();
  EXPECT_EQ(proc_field(app.pid(), app.pid(), "TracerPid"), std::to_string(gettid()));

  ASSERT_EQ(kill(app.pid(), SIGTERM), 0);  // sleep has no handler: held all the same
  ASSERT_TRUE(held_count_reaches(app.pid(), 2));
  ASSERT_TRUE(engine->release(app.pid(), SIGTERM));
  auto status = parent_saw(app);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM) << *status;
}

TEST_F(HoldPtrace, SigkillDuringTheHoldKillsAtOnce) {
  App app({});
  attach(app);
  ASSERT_EQ(kill(app.pid(), SIGTERM), 0);
  ASSERT_TRUE(held_count_reaches(app.pid(), 1));
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(app.pid(), SIGKILL), 0);
  auto status = parent_saw(app, 1s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - sent, 500ms);
  EXPECT_TRUE(pump_until([&] { return !engine->guarding(app.pid()); }));
}

TEST_F(HoldPtrace, GroupStopStopsTheAppAndSigcontResumesIt) {
  App app({});
  attach(app);
  auto all_threads_in = [&](char state) {
    auto tids = tasks_of(app.pid());
    return std::all_of(tids.begin(), tids.end(),
                       [&](pid_t tid) { return proc_field(app.pid(), tid, "State")[0] == state; });
  };
  ASSERT_EQ(kill(app.pid(), SIGSTOP), 0);
  // A group-stop under PTRACE_LISTEN shows as a tracing stop.
  ASSERT_TRUE(pump_until([&] { return all_threads_in('t'); })) << "SIGSTOP did not stop every thread";
  EXPECT_FALSE(ping(app, 300ms)) << "the stopped app answered";
  ASSERT_EQ(kill(app.pid(), SIGCONT), 0);
  char late;  // the unanswered ping is answered now
  ASSERT_TRUE(pump_until_readable(app.sock()));
  ASSERT_EQ(read(app.sock(), &late, 1), 1);
  EXPECT_TRUE(ping(app));
  EXPECT_TRUE(pump_until([&] { return all_threads_in('S'); })) << "a thread was left stopped";
}

TEST_F(HoldPtrace, TheRealParentSeesTheExitOnlyOnceTheTracerHasReapedIt) {
  App app({});
  attach(app);
  ASSERT_EQ(kill(app.pid(), SIGKILL), 0);
  EXPECT_FALSE(readable(app.status(), 300ms)) << "the parent got the status before the tracer";
  auto status = parent_saw(app);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
}

TEST_F(HoldPtrace, DestroyingTheEngineLeavesTheAppUntracedAndRunning) {
  App app({});
  attach(app);
  EXPECT_TRUE(ping(app));
  engine.reset();
  for (pid_t tid : tasks_of(app.pid())) {
    EXPECT_EQ(proc_field(app.pid(), tid, "TracerPid"), "0");
    const std::string state = proc_field(app.pid(), tid, "State");  // "S (sleeping)", or R while it gets there
    EXPECT_TRUE(state[0] == 'S' || state[0] == 'R') << "thread " << tid << " left " << state;
  }
  EXPECT_TRUE(ping(app));
  EXPECT_FALSE(readable(app.report(), 0ms));
}

TEST_F(HoldPtrace, DestroyingTheEngineDeliversWhatIsHeld) {
  App app({});
  attach(app);
  ASSERT_EQ(kill(app.pid(), SIGTERM), 0);
  ASSERT_TRUE(held_count_reaches(app.pid(), 1));
  engine.reset();
  auto record = handler_record(app);
  ASSERT_TRUE(record) << "a held signal was lost";
  EXPECT_EQ(record->sender, getpid());
  auto status = parent_saw(app);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST_F(HoldPtrace, DetachAfterReleaseLetsTheProcessGo) {
  engine = make_engine({.detach_after_release = true});
  App app({});
  attach(app);
  // SIGHUP has no handler in the app: once released, its default action ends the app.
  ASSERT_EQ(kill(app.pid(), SIGHUP), 0);
  ASSERT_TRUE(held_count_reaches(app.pid(), 1));
  ASSERT_TRUE(engine->release(app.pid(), SIGHUP));
  auto status = parent_saw(app);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGHUP);
  EXPECT_FALSE(engine->guarding(app.pid()));
}

TEST_F(HoldPtrace, RefusesAProcessTracedBySomeoneElse) {
  App app({});
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t other = fork();
  if (other == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char ok = ptrace(PTRACE_SEIZE, app.pid(), nullptr, nullptr) == 0 ? 'y' : 'n';
    (void)!write(ready[1], &ok, 1);
    idle_forever();
  }
  char ok = 0;
  ASSERT_TRUE(readable(ready[0], 2s));
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, 'y');
  auto r = engine->attach(app.pid());
  kill(other, SIGKILL);
  waitpid(other, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, fmt::format("cannot guard PID {}: traced by PID {}", app.pid(), other));
  EXPECT_FALSE(engine->guarding(app.pid()));
}

// A container's PID 1 without a SIGTERM handler. Untraced, the kernel drops a SIGTERM to it when it is
// generated. Traced, the signal is queued and reaches the tracer (so it can be held), but when it is let
// through the kernel drops it at delivery: init ignores default-action signals. Releasing changes nothing.
TEST_F(HoldPtrace, ANamespaceInitWithoutHandlerIgnoresAReleasedSigterm) {
  engine = make_engine({.detach_after_release = true});
  App app({.with_handler = false, .pid_namespace_init = true});
  ASSERT_EQ(kill(app.pid(), SIGTERM), 0);
  EXPECT_TRUE(ping(app)) << "untraced init killed by SIGTERM";

  attach(app);
  ASSERT_EQ(kill(app.pid(), SIGTERM), 0);
  ASSERT_TRUE(held_count_reaches(app.pid(), 1)) << "a traced init's SIGTERM never reached the tracer";
  ASSERT_TRUE(engine->release(app.pid(), SIGTERM));
  // The marked stop passed (the engine then detached, well before the release timeout), and init is still there.
  const auto released = std::chrono::steady_clock::now();
  ASSERT_TRUE(pump_until([&] { return !engine->guarding(app.pid()); }));
  EXPECT_LT(std::chrono::steady_clock::now() - released, 400ms) << "the release never came back through";
  EXPECT_TRUE(ping(app));
  EXPECT_FALSE(readable(app.status(), 200ms)) << "init exited";
}

// ---- pid reuse ----

// A process created with a chosen pid (clone3 set_tid: root in the initial pid namespace) and every signal blocked
// from its first instruction, so whatever is sent to it stays pending; it reports its pending set when asked.
class Newcomer {
 public:
  // nullptr with errno set (EEXIST: the pid is in use).
  static std::unique_ptr<Newcomer> take(pid_t pid) {
    std::unique_ptr<Newcomer> n(new Newcomer);
    int ask[2], answer[2];
    if (pipe2(ask, O_CLOEXEC) != 0 || pipe2(answer, O_CLOEXEC) != 0) return nullptr;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    clone_args args{};
    args.exit_signal = SIGCHLD;
    args.set_tid = reinterpret_cast<std::uintptr_t>(&pid);
    args.set_tid_size = 1;
    long child = syscall(SYS_clone3, &args, sizeof args);
    if (child == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      char c;
      while (read(ask[0], &c, 1) == 1) {
        sigset_t pending;
        sigpending(&pending);
        std::uint64_t bits = 0;
        for (int s = 1; s <= 64; ++s)
          if (sigismember(&pending, s) == 1) bits |= 1ULL << (s - 1);
        (void)!write(answer[1], &bits, sizeof bits);
      }
      _exit(0);
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    close(ask[0]);
    close(answer[1]);
    n->ask_.reset(ask[1]);
    n->answer_.reset(answer[0]);
    if (child < 0) {
      errno = saved;
      return nullptr;
    }
    n->pid_ = static_cast<pid_t>(child);
    return n;
  }
  ~Newcomer() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  // The signals sent to it so far, bit (signo - 1) each; nullopt when it did not answer.
  std::optional<std::uint64_t> pending() {
    std::uint64_t bits = 0;
    if (write(ask_.get(), "?", 1) != 1 || !readable(answer_.get(), 2s) ||
        read(answer_.get(), &bits, sizeof bits) != sizeof bits)
      return std::nullopt;
    return bits;
  }

 private:
  Newcomer() = default;
  pid_t pid_ = -1;
  UniqueFd ask_, answer_;
};

// The held process dies during the hold and a host process takes its pid: nothing the end of a hold does (release,
// discard, detach, the stop plan's signals, which go through signal_in_container) reaches the newcomer.
TEST_F(HoldPtrace, NothingReachesANewProcessThatTookAHeldProcesssPid) {
  const std::string container_id = "5d1e" + std::string(60, 'c');
  // Attached before it enters the container's cgroup: a sigdrain daemon running on this host would otherwise
  // take this fake container for a real one and guard it first.
  App app({});
  attach(app);
  ScratchCgroup container("libpod-" + container_id);
  container.enter(app.pid());
  ProcFs proc;
  const pid_t pid = app.pid();
  auto sent = signal_in_container(proc, container_id, pid, SIGTERM);  // as safe-stop and the daemon signal
  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_TRUE(held_count_reaches(pid, 1));

  ASSERT_EQ(kill(pid, SIGKILL), 0);
  // The kernel keeps the pid until the tracer reaped the tracee: the engine never guards a pid someone else has.
  EXPECT_FALSE(readable(app.status(), 200ms));
  EXPECT_EQ(Newcomer::take(pid), nullptr);
  EXPECT_EQ(errno, EEXIST);
  ASSERT_TRUE(parent_saw(app)) << "the engine did not reap the killed tracee";
  EXPECT_FALSE(engine->guarding(pid));

  auto newcomer = Newcomer::take(pid);
  ASSERT_NE(newcomer, nullptr) << "clone3 with set_tid " << pid << ": " << strerror(errno);
  ASSERT_EQ(newcomer->pid(), pid);
  EXPECT_FALSE(engine->release(pid, SIGTERM)) << "released a signal held for a dead process";
  EXPECT_TRUE(engine->discard_held(pid).empty());
  (void)engine->detach(pid);
  EXPECT_TRUE(engine->detach_all());
  // The stop plan's view: /proc now shows the newcomer under the init's pid, outside the container.
  for (int signo : {SIGTERM, SIGINT, SIGKILL}) {
    auto planned = signal_in_container(proc, container_id, pid, signo);
    ASSERT_FALSE(planned) << "signalled the newcomer with " << signo;
    EXPECT_NE(planned.error().message.find("no longer in the container"), std::string::npos) << planned.error().message;
  }
  auto pending = newcomer->pending();
  ASSERT_TRUE(pending) << "the newcomer did not answer (killed?)";
  EXPECT_EQ(*pending, 0u) << "signals reached the newcomer";
}

}  // namespace
}  // namespace sigdrain
