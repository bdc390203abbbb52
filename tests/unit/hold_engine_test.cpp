// The hold engine's state machine against a scripted tracer and a fixture /proc: which signals are held, which
// pass, how a release comes back through, and that every thread is let go in the end.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hold/hold_engine.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::uint64_t kCookie = 0x5eed'c0de'1234'5678;

siginfo_t sent_by(int signo, pid_t sender, int code = SI_USER) {
  siginfo_t info{};
  info.si_signo = signo;
  info.si_code = code;
  info.si_pid = sender;
  return info;
}

siginfo_t marked(int signo, std::uint64_t cookie) {
  siginfo_t info = sent_by(signo, 0, SI_QUEUE);
  info.si_value.sival_ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(cookie));
  return info;
}

// Plays the kernel: stops are scripted; an interrupt makes the thread report an interrupt stop, and a marked
// send makes the leader report it (unless `marked_lost`). Every request is logged as one short line.
class FakeTracer : public Tracer {
 public:
  std::deque<TraceStop> stops;
  std::map<pid_t, siginfo_t> infos;  // what GETSIGINFO returns per thread
  std::map<pid_t, int> seize_errno;
  std::vector<std::string> calls;
  bool marked_lost = false;
  std::set<pid_t> stuck;  // threads an interrupt does not stop

  void signal(pid_t tid, int signo, siginfo_t info) {
    infos[tid] = info;
    stops.push_back(SignalStop{tid, signo});
  }

  Result<void> seize(pid_t tid, unsigned long options) override {
    calls.push_back(fmt::format("seize {} {:#x}", tid, options));
    if (auto it = seize_errno.find(tid); it != seize_errno.end()) return Error::sys(it->second, "seize");
    return {};
  }
  Result<void> resume(pid_t tid, int signo) override { return log("resume", tid, signo); }
  Result<void> listen(pid_t tid) override { return log("listen", tid); }
  Result<void> interrupt(pid_t tid) override {
    if (!stuck.contains(tid)) stops.push_back(EventStop{tid, PTRACE_EVENT_STOP, 0});
    return log("interrupt", tid);
  }
  Result<void> detach(pid_t tid, int signo) override {
    // A detached thread reports nothing more (the kernel drops its pending interrupt trap).
    std::erase_if(stops, [&](const TraceStop& s) { return std::visit([](auto& v) { return v.tid; }, s) == tid; });
    return log("detach", tid, signo);
  }
  Result<siginfo_t> siginfo(pid_t tid) override {
    auto it = infos.find(tid);
    if (it == infos.end()) return Error::sys(ESRCH, "siginfo");
    return it->second;
  }
  Result<void> set_siginfo(pid_t tid, const siginfo_t& info) override {
    calls.push_back(fmt::format("set_siginfo {} {} code={} pid={}", tid, info.si_signo, info.si_code, info.si_pid));
    return {};
  }
  Result<void> send_marked(pid_t tgid, int signo, std::uint64_t cookie) override {
    if (!marked_lost) signal(tgid, signo, marked(signo, cookie));
    return log("send_marked", tgid, signo);
  }
  std::optional<TraceStop> wait(std::chrono::milliseconds) override {
    if (stops.empty()) return std::nullopt;
    TraceStop s = stops.front();
    stops.pop_front();
    return s;
  }

 private:
  Result<void> log(const char* what, pid_t tid, std::optional<int> signo = std::nullopt) {
    calls.push_back(signo ? fmt::format("{} {} {}", what, tid, *signo) : fmt::format("{} {}", what, tid));
    return {};
  }
};

// A /proc with one process (tgid 100, threads 100 101 102) under a temp dir.
class FixtureProc {
 public:
  FixtureProc() : root_(std::filesystem::temp_directory_path() / fmt::format("hold_engine_test.{}", ::getpid())) {
    std::filesystem::remove_all(root_);
    add_process(100, {100, 101, 102});
  }
  ~FixtureProc() { std::filesystem::remove_all(root_); }
  std::string root() const { return root_.string(); }

  void add_process(pid_t tgid, std::vector<pid_t> tids, pid_t tracer = 0) {
    for (pid_t tid : tids) {
      write_status(root_ / std::to_string(tgid) / "task" / std::to_string(tid), tgid, tracer);
      write_status(root_ / std::to_string(tid), tgid, tracer);
    }
  }

 private:
  static void write_status(const std::filesystem::path& dir, pid_t tgid, pid_t tracer) {
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "status") << fmt::format(
        "Name:\tapp\nState:\tS (sleeping)\nTgid:\t{}\nPPid:\t1\nTracerPid:\t{}\nSigBlk:\t0\nSigIgn:\t0\nSigCgt:\t0\n", tgid, tracer);
  }
  std::filesystem::path root_;
};

class HoldEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { engine = make_engine({}); }

  std::unique_ptr<HoldEngine> make_engine(HoldOptions options) {
    options.proc = ProcFs(proc.root());
    options.cookie = kCookie;
    options.release_timeout = 50ms;
    options.detach_timeout = 50ms;
    auto made = HoldEngine::make(tracer, std::move(options), [this](const HeldSignal& h) -> Result<void> {
      journal.push_back(h);
      calls_at_journal.push_back(tracer.calls.size());
      if (refuse_journal) return Error::msg("disk full");
      return {};
    });
    EXPECT_TRUE(made) << made.error().message;
    return std::move(made).value();
  }

  void attach() {
    auto r = engine->attach(100);
    ASSERT_TRUE(r) << r.error().message;
    tracer.calls.clear();
  }
  void drain() {
    while (engine->poll(0ms)) {
    }
  }

  FixtureProc proc;
  FakeTracer tracer;
  std::vector<HeldSignal> journal;
  std::vector<std::size_t> calls_at_journal;  // how many tracer requests had been made when journaling
  bool refuse_journal = false;
  std::unique_ptr<HoldEngine> engine;
};

TEST(HoldEngineMake, RefusesSignalsThatNeverReachATracer) {
  FakeTracer tracer;
  HoldOptions options;
  options.held_signals = {SIGTERM, SIGKILL};
  auto made = HoldEngine::make(tracer, options, nullptr);
  ASSERT_FALSE(made);
  EXPECT_THAT(made.error().message, HasSubstr("SIGKILL"));
  options.held_signals = {65};
  EXPECT_FALSE(HoldEngine::make(tracer, options, nullptr));
}

TEST(HoldEngineMake, DrawsADifferentCookieEachRun) {
  FakeTracer tracer;
  auto a = HoldEngine::make(tracer, {}, nullptr);
  auto b = HoldEngine::make(tracer, {}, nullptr);
  ASSERT_TRUE(a && b);
  EXPECT_NE((*a)->cookie(), 0u);
  EXPECT_NE((*a)->cookie(), (*b)->cookie());
}

TEST_F(HoldEngineTest, AttachSeizesEveryThreadFollowingClonesAndExec) {
  ASSERT_TRUE(engine->attach(100));
  EXPECT_THAT(tracer.calls, ElementsAre("seize 100 0x18", "seize 101 0x18", "seize 102 0x18"));  // CLONE|EXEC
  EXPECT_EQ(kHoldTraceOptions, static_cast<unsigned long>(PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC));
  EXPECT_THAT(engine->threads(100), ElementsAre(100, 101, 102));
  EXPECT_TRUE(engine->guarding(100));
}

TEST_F(HoldEngineTest, RefusesAProcessTracedBySomeoneElse) {
  proc.add_process(200, {200}, /*tracer=*/4321);
  auto r = engine->attach(200);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "cannot guard PID 200: traced by PID 4321");
  EXPECT_TRUE(tracer.calls.empty());
  EXPECT_FALSE(engine->guarding(200));
}

TEST_F(HoldEngineTest, SeizeRaceWithAnotherTracerRollsBack) {
  proc.add_process(300, {300, 301});
  tracer.seize_errno[301] = EPERM;
  proc.add_process(300, {301}, /*tracer=*/777);  // someone else got thread 301 between the check and the seize
  auto r = engine->attach(300);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("traced by PID 777"));
  EXPECT_THAT(tracer.calls, Contains("detach 300 0"));  // the thread already seized is let go
  EXPECT_FALSE(engine->guarding(300));
}

TEST_F(HoldEngineTest, RefusesAGoneProcessOrAThread) {
  EXPECT_EQ(engine->attach(999).error().code, ESRCH);
  EXPECT_THAT(engine->attach(101).error().message, HasSubstr("thread of PID 100"));
}

TEST_F(HoldEngineTest, HoldsAStopSignalAfterJournalingIt) {
  attach();
  tracer.signal(101, SIGTERM, sent_by(SIGTERM, 555));
  EXPECT_TRUE(engine->poll(0ms));
  EXPECT_THAT(tracer.calls, ElementsAre("resume 101 0"));
  ASSERT_EQ(journal.size(), 1u);
  EXPECT_EQ(calls_at_journal[0], 0u);  // journaled before the thread was restarted
  auto held = engine->held(100);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].tgid, 100);
  EXPECT_EQ(held[0].tid, 101);
  EXPECT_EQ(held[0].signo, SIGTERM);
  EXPECT_EQ(held[0].info.si_pid, 555);
}

TEST_F(HoldEngineTest, OtherSignalsPassUnchanged) {
  attach();
  tracer.signal(101, SIGUSR1, sent_by(SIGUSR1, 555));
  tracer.signal(102, SIGCHLD, sent_by(SIGCHLD, 555));
  drain();
  EXPECT_THAT(tracer.calls, ElementsAre("resume 101 10", "resume 102 17"));
  EXPECT_TRUE(engine->held(100).empty());
}

TEST_F(HoldEngineTest, TheHeldSetIsConfigurable) {
  engine = make_engine({.held_signals = {SIGUSR2}});
  attach();
  tracer.signal(101, SIGTERM, sent_by(SIGTERM, 555));
  tracer.signal(101, SIGUSR2, sent_by(SIGUSR2, 555));
  drain();
  EXPECT_THAT(tracer.calls, ElementsAre("resume 101 15", "resume 101 0"));
}

TEST_F(HoldEngineTest, ASignalThatCannotBeJournaledPasses) {
  attach();
  refuse_journal = true;
  tracer.signal(101, SIGTERM, sent_by(SIGTERM, 555));
  drain();
  EXPECT_THAT(tracer.calls, ElementsAre("resume 101 15"));
  EXPECT_TRUE(engine->held(100).empty());
}

TEST_F(HoldEngineTest, ReleaseLetsTheMarkedSignalThroughWithTheSendersSiginfo) {
  attach();
  tracer.signal(101, SIGTERM, sent_by(SIGTERM, 555));
  tracer.signal(102, SIGTERM, sent_by(SIGTERM, 666));  // a second sender during the hold
  drain();
  ASSERT_EQ(engine->held(100).size(), 2u);
  tracer.calls.clear();

  auto released = engine->release(100, SIGTERM);
  ASSERT_TRUE(released) << released.error().message;
  EXPECT_EQ(*released, 2u);  // merged into one delivery
  EXPECT_TRUE(engine->held(100).empty());
  drain();
  EXPECT_THAT(tracer.calls,
              ElementsAre("send_marked 100 15", "set_siginfo 100 15 code=0 pid=555", "resume 100 15"));

  // After the release a new SIGTERM is held again.
  tracer.calls.clear();
  tracer.signal(101, SIGTERM, sent_by(SIGTERM, 777));
  drain();
  EXPECT_THAT(tracer.calls, ElementsAre("resume 101 0"));
  EXPECT_EQ(engine->held(100).size(), 1u);
}

TEST_F(HoldEngineTest, AForgedQueuedSignalIsHeld) {
  attach();
  tracer.signal(101, SIGTERM, marked(SIGTERM, kCookie ^ 1));
  drain();
  EXPECT_THAT(tracer.calls, ElementsAre("resume 101 0"));
}

TEST_F(HoldEngineTest, ReleaseNeedsAHeldSignal) {
  attach();
  EXPECT_THAT(engine->release(100, SIGTERM).error().message, "no SIGTERM held for PID 100");
  EXPECT_THAT(engine->release(4242, SIGTERM).error().message, "PID 4242 is not guarded");
  EXPECT_TRUE(tracer.calls.empty());
}

TEST_F(HoldEngineTest, ASignalTheReleaseWasMergedIntoPasses) {
  attach();
  tracer.signal(101, SIGTERM, sent_by(SIGTERM, 555));
  drain();
  tracer.marked_lost = true;  // a SIGTERM was already pending: the kernel dropped ours
  ASSERT_TRUE(engine->release(100, SIGTERM));
  tracer.signal(102, SIGTERM, sent_by(SIGTERM, 666));
  tracer.calls.clear();
  drain();
  EXPECT_THAT(tracer.calls, ElementsAre("resume 102 15"));  // no siginfo rewrite: it is the sender's own
}

TEST_F(HoldEngineTest, GroupStopListensAndSigcontWakesIt) {
  attach();
  tracer.signal(101, SIGSTOP, sent_by(SIGSTOP, 555));
  tracer.stops.push_back(GroupStop{100, SIGSTOP});
  tracer.stops.push_back(GroupStop{101, SIGSTOP});
  tracer.stops.push_back(EventStop{100, PTRACE_EVENT_STOP, 0});  // woken by SIGCONT while listening
  tracer.signal(100, SIGCONT, sent_by(SIGCONT, 555));
  drain();
  EXPECT_THAT(tracer.calls,
              ElementsAre("resume 101 19", "listen 100", "listen 101", "resume 100 0", "resume 100 18"));
}

TEST_F(HoldEngineTest, NewThreadsAreFollowed) {
  attach();
  tracer.stops.push_back(EventStop{101, PTRACE_EVENT_CLONE, 103});
  tracer.stops.push_back(EventStop{103, PTRACE_EVENT_STOP, 0});  // the new thread's first stop
  tracer.signal(103, SIGTERM, sent_by(SIGTERM, 555));
  drain();
  EXPECT_THAT(tracer.calls, ElementsAre("resume 101 0", "resume 103 0", "resume 103 0"));
  EXPECT_THAT(engine->threads(100), ElementsAre(100, 101, 102, 103));
  ASSERT_EQ(engine->held(100).size(), 1u);
  EXPECT_EQ(engine->held(100)[0].tid, 103);
}

TEST_F(HoldEngineTest, ANewThreadReportingBeforeItsParentIsAdoptedFromProc) {
  attach();
  proc.add_process(100, {104});
  tracer.stops.push_back(EventStop{104, PTRACE_EVENT_STOP, 0});
  tracer.stops.push_back(EventStop{101, PTRACE_EVENT_CLONE, 104});
  drain();
  EXPECT_THAT(tracer.calls, ElementsAre("resume 104 0", "resume 101 0"));
  EXPECT_THAT(engine->threads(100), ElementsAre(100, 101, 102, 104));
}

TEST_F(HoldEngineTest, AStopOfAStrangerIsLetGo) {
  attach();
  tracer.stops.push_back(SignalStop{5000, SIGUSR1});
  drain();
  EXPECT_THAT(tracer.calls, ElementsAre("detach 5000 10"));
}

TEST_F(HoldEngineTest, ExecLeavesOnlyTheLeaderAndKeepsTheHold) {
  attach();
  tracer.signal(101, SIGTERM, sent_by(SIGTERM, 555));
  tracer.stops.push_back(ThreadExited{101, 0});                   // killed by the exec
  tracer.stops.push_back(EventStop{100, PTRACE_EVENT_EXEC, 102});  // thread 102 exec'd, now runs as 100
  tracer.stops.push_back(ThreadExited{102, 0});                   // nothing: 102 is no more
  drain();
  EXPECT_THAT(tracer.calls, ElementsAre("resume 101 0", "resume 100 0"));
  EXPECT_THAT(engine->threads(100), ElementsAre(100));
  EXPECT_EQ(engine->held(100).size(), 1u);
}

TEST_F(HoldEngineTest, ExitsAreReaped) {
  attach();
  tracer.stops.push_back(ThreadExited{102, 0});
  drain();
  EXPECT_THAT(engine->threads(100), ElementsAre(100, 101));
  tracer.signal(101, SIGTERM, sent_by(SIGTERM, 555));
  tracer.stops.push_back(ThreadExited{101, SIGKILL});
  tracer.stops.push_back(ThreadExited{100, SIGKILL});  // the leader is reported last
  drain();
  EXPECT_FALSE(engine->guarding(100));
  EXPECT_TRUE(engine->held(100).empty());
}

TEST_F(HoldEngineTest, DetachDeliversWhatIsHeldThenLetsEveryThreadGo) {
  attach();
  tracer.signal(101, SIGTERM, sent_by(SIGTERM, 555));
  tracer.stops.push_back(GroupStop{102, SIGTSTP});
  drain();
  tracer.calls.clear();
  ASSERT_TRUE(engine->detach(100));
  EXPECT_FALSE(engine->guarding(100));
  EXPECT_THAT(tracer.calls, ElementsAre("send_marked 100 15", "set_siginfo 100 15 code=0 pid=555", "resume 100 15",
                                        "interrupt 100", "interrupt 101", "interrupt 102", "detach 100 0",
                                        "detach 101 0", "detach 102 0"));
}

TEST_F(HoldEngineTest, DiscardedSignalsAreNotDeliveredOnDetach) {
  attach();
  tracer.signal(101, SIGTERM, sent_by(SIGTERM, 555));
  drain();
  auto discarded = engine->discard_held(100);
  ASSERT_EQ(discarded.size(), 1u);
  EXPECT_EQ(discarded[0].info.si_pid, 555);
  EXPECT_TRUE(engine->held(100).empty());
  tracer.calls.clear();
  ASSERT_TRUE(engine->detach(100));
  EXPECT_THAT(tracer.calls, Not(Contains("send_marked 100 15")));
}

TEST_F(HoldEngineTest, ASignalArrivingDuringDetachGoesWithTheThread) {
  attach();
  tracer.signal(101, SIGTERM, sent_by(SIGTERM, 555));  // reported before the interrupt stop
  ASSERT_TRUE(engine->detach(100));
  EXPECT_THAT(tracer.calls, Contains("detach 101 15"));
  EXPECT_THAT(tracer.calls, Not(Contains("detach 101 0")));
}

TEST_F(HoldEngineTest, DetachGivesUpOnAThreadThatNeverStops) {
  attach();
  tracer.stuck.insert(102);  // e.g. in uninterruptible sleep: no interrupt stop comes
  auto r = engine->detach(100);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "cannot detach from PID 100: 1 thread(s) did not stop");
  EXPECT_THAT(engine->threads(100), ElementsAre(102));
}

TEST_F(HoldEngineTest, DestroyingTheEngineDetaches) {
  attach();
  engine.reset();
  EXPECT_THAT(tracer.calls, ElementsAre("interrupt 100", "interrupt 101", "interrupt 102", "detach 100 0",
                                        "detach 101 0", "detach 102 0"));
}

TEST_F(HoldEngineTest, DetachAfterReleaseOnceTheSignalPassed) {
  engine = make_engine({.detach_after_release = true});
  attach();
  tracer.signal(101, SIGTERM, sent_by(SIGTERM, 555));
  drain();
  ASSERT_TRUE(engine->release(100, SIGTERM));
  drain();
  EXPECT_FALSE(engine->guarding(100));
  EXPECT_THAT(tracer.calls, Contains("resume 100 15"));
  EXPECT_THAT(tracer.calls, Contains("detach 102 0"));
}

TEST_F(HoldEngineTest, AReleaseThatNeverComesBackExpires) {
  engine = make_engine({.detach_after_release = true});
  attach();
  tracer.signal(101, SIGTERM, sent_by(SIGTERM, 555));
  drain();
  tracer.marked_lost = true;  // the app blocks SIGTERM now: it stays pending
  ASSERT_TRUE(engine->release(100, SIGTERM));
  drain();
  EXPECT_TRUE(engine->guarding(100));
  std::this_thread::sleep_for(60ms);  // past release_timeout
  drain();
  EXPECT_FALSE(engine->guarding(100));
}

TEST(DecodeWaitStatus, TellsStopsApart) {
  auto stopped = [](int signo, int event = 0) { return (event << 16) | (signo << 8) | 0x7f; };
  EXPECT_EQ(std::get<SignalStop>(decode_wait_status(7, stopped(SIGTERM))).signo, SIGTERM);
  EXPECT_EQ(std::get<GroupStop>(decode_wait_status(7, stopped(SIGTSTP, PTRACE_EVENT_STOP))).signo, SIGTSTP);
  auto interrupt = std::get<EventStop>(decode_wait_status(7, stopped(SIGTRAP, PTRACE_EVENT_STOP)));
  EXPECT_EQ(interrupt.event, PTRACE_EVENT_STOP);
  EXPECT_EQ(std::get<EventStop>(decode_wait_status(7, stopped(SIGTRAP, PTRACE_EVENT_CLONE))).event,
            PTRACE_EVENT_CLONE);
  auto exited = std::get<ThreadExited>(decode_wait_status(7, 3 << 8));
  EXPECT_TRUE(WIFEXITED(exited.status));
  EXPECT_EQ(WEXITSTATUS(exited.status), 3);
  auto killed = std::get<ThreadExited>(decode_wait_status(7, SIGKILL));
  EXPECT_EQ(WTERMSIG(killed.status), SIGKILL);
}

}  // namespace
}  // namespace sigdrain
