// The stop gate on real execs: a binary named runc run as `runc kill <id> 15` from a temp dir is stopped before
// its first instruction only when <id> is guarded and the lease is fresh; never for 9/KILL, another subcommand,
// another binary name, a process in its own pid namespace or after the lease ran out. The watchdog continues a
// gated process the daemon forgets.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "hold/gate_watchdog.hpp"
#include "hold/runtime_kill.hpp"
#include "hold/stop_gate.hpp"
#include "scratch_cgroup.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// 64 bytes like a runtime's id, and this process's own: every gate on the node sees this test's execs, so with a
// fixed id a parallel run's gate (another worktree's ctest) stopped them too and the lease tests failed at random.
std::string test_id(char fill) {
  std::string head = "sdA-gate-" + std::to_string(::getpid()) + "-";
  return head + std::string(64 - head.size(), fill);
}
const std::string kGuarded = test_id('a');
const std::string kOther = test_id('b');

enum class Outcome { stopped, exited, timeout };

class StopGateTest : public testing::Test {
 protected:
  void SetUp() override {
    // Older kernels of scripts/kernels/matrix.sh (5.10): the daemon attaches at discovery there instead.
    if (auto why = stop_gate_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    dir_ = fs::temp_directory_path() / ("sdA-stop-gate-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // /bin/true under the runtime's name: it ignores its arguments and exits at once unless it is stopped first.
    fs::copy_file("/bin/true", dir_ / "runc", fs::copy_options::overwrite_existing);
    fs::copy_file("/bin/true", dir_ / "notrunc", fs::copy_options::overwrite_existing);
    auto gate = StopGate::load(StopGateOptions{}, [this](const GatedProcess& g) { events_.push_back(g); });
    ASSERT_TRUE(gate) << gate.error().message;
    gate_ = std::move(*gate);
    ASSERT_TRUE(gate_->guard(kGuarded));
    gate_->renew_lease(10s);
  }
  void TearDown() override {
    gate_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Runs dir/<binary> with `args` and waits (WUNTRACED) until it stops or exits.
  Outcome run(const std::string& binary, const std::vector<std::string>& args, pid_t* pid_out = nullptr) {
    std::string path = (dir_ / binary).string();
    pid_t pid = ::fork();
    if (pid == 0) {
      std::vector<char*> argv{path.data()};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(path.c_str(), argv.data());
      ::_exit(127);
    }
    if (pid_out) *pid_out = pid;
    return wait_for(pid, 3s);
  }
  Outcome wait_for(pid_t pid, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t got = ::waitpid(pid, &status, WUNTRACED | WNOHANG);
      if (got == pid && WIFSTOPPED(status)) return Outcome::stopped;
      if (got == pid) return Outcome::exited;
      std::this_thread::sleep_for(1ms);
    }
    return Outcome::timeout;
  }
  void drain_events() {
    for (int i = 0; i < 20; ++i) {
      auto n = gate_->poll(10ms);
      if (n && *n > 0) return;
    }
  }

  fs::path dir_;
  std::unique_ptr<StopGate> gate_;
  std::vector<GatedProcess> events_;
};

TEST_F(StopGateTest, StopsAGuardedKillAndReportsIt) {
  pid_t pid = 0;
  ASSERT_EQ(run("runc", {"--root", "/run/runc", "kill", kGuarded, "15"}, &pid), Outcome::stopped)
      << "counters: argv unread " << gate_->counters().argv_unread << ", not a kill " << gate_->counters().not_a_kill
      << ", send failed " << gate_->counters().send_failed;
  drain_events();
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].tgid, pid);
  EXPECT_EQ(events_[0].container_id, kGuarded);
  EXPECT_EQ(events_[0].signo, SIGTERM);
  auto gated = read_gated(gate_->gated_map_fd());
  ASSERT_EQ(gated.size(), 1u);
  EXPECT_EQ(gated[0], events_[0]);
  ASSERT_TRUE(gate_->release(events_[0]));
  EXPECT_EQ(wait_for(pid, 3s), Outcome::exited);
  EXPECT_TRUE(read_gated(gate_->gated_map_fd()).empty());
  EXPECT_EQ(gate_->counters().stopped, 1u);
}

TEST_F(StopGateTest, StopsTheShimsFormAndEverySignalForm) {
  for (std::vector<std::string> args : {
           std::vector<std::string>{"--root", "/var/run/docker/runtime-runc/moby", "--log", "/run/x/log.json",
                                    "--log-format", "json", "kill", kGuarded, "15"},
           std::vector<std::string>{"kill", kGuarded},
           std::vector<std::string>{"kill", "--all", kGuarded, "TERM"},
           std::vector<std::string>{"--root=/run/runc", "kill", kGuarded, "SIGTERM"},
           std::vector<std::string>{"kill", kGuarded, "SIGINT"},
       }) {
    pid_t pid = 0;
    EXPECT_EQ(run("runc", args, &pid), Outcome::stopped) << args[args.size() - 1];
    drain_events();
    for (const auto& e : std::exchange(events_, {})) ASSERT_TRUE(gate_->release(e));
    EXPECT_EQ(wait_for(pid, 3s), Outcome::exited);
  }
}

TEST_F(StopGateTest, PassesWhatIsNotAGuardedStopSignal) {
  for (std::vector<std::string> args : {
           std::vector<std::string>{"kill", kGuarded, "9"},
           std::vector<std::string>{"kill", kGuarded, "KILL"},
           std::vector<std::string>{"kill", kGuarded, "SIGKILL"},
           std::vector<std::string>{"kill", kOther, "15"},             // not guarded
           std::vector<std::string>{"delete", "--force", kGuarded},
           std::vector<std::string>{"--root", "kill", kGuarded, "15"},  // "kill" is --root's value
           std::vector<std::string>{"kill", kGuarded, "15", "extra"},
           std::vector<std::string>{"kill", kGuarded, "USR1"},
       })
    EXPECT_EQ(run("runc", args), Outcome::exited) << args[0] << " " << args[args.size() - 1];
  EXPECT_EQ(run("notrunc", {"kill", kGuarded, "15"}), Outcome::exited);
  drain_events();
  EXPECT_TRUE(events_.empty());
  EXPECT_GE(gate_->counters().not_a_kill, 8u);  // each runc above (other runtimes of the host may add more)
  EXPECT_EQ(gate_->counters().stopped, 0u);
  ASSERT_TRUE(gate_->unguard(kGuarded));
  EXPECT_EQ(run("runc", {"kill", kGuarded, "15"}), Outcome::exited);
}

// The kernel's grammar and the daemon's (hold/runtime_kill.cpp) are one decision: every argv gets the same answer.
TEST_F(StopGateTest, AgreesWithTheDaemonsParser) {
  const std::vector<int> held{SIGTERM, SIGINT, SIGQUIT, SIGHUP};
  const std::vector<std::vector<std::string>> cases{
      {"kill", kGuarded, "15"}, {"kill", kGuarded}, {"kill", kGuarded, "9"}, {"kill", kGuarded, "KILL"},
      {"kill", kGuarded, "SIGHUP"}, {"kill", kGuarded, "QUIT"}, {"kill", kGuarded, "3"}, {"kill", kGuarded, "10"},
      {"kill", kGuarded, "USR1"}, {"kill", kGuarded, ""}, {"kill", "-a", kGuarded}, {"kill", "--all", "-a", kGuarded},
      {"kill", "--signal", kGuarded}, {"kill"}, {"kill", kOther, "15"}, {"delete", "--force", kGuarded},
      {"--debug", "kill", kGuarded}, {"--root", "kill", kGuarded, "15"}, {"--root=/x", "kill", kGuarded, "15"},
      {"--log", "/l", "--log-format", "json", "--log-level", "debug", "kill", kGuarded, "TERM"},
      {"--criu", "/c", "--rootless", "true", "--cgroup-manager", "systemd", "kill", kGuarded},
      {"--systemd-cgroup", "kill", kGuarded, "2"}, {"", "kill", kGuarded}, {"kill", kGuarded, "15", "x"},
      {"exec", kGuarded, "kill", kGuarded}, {"kill", kGuarded + "x"}, {"kill", std::string(200, 'a')},
  };
  for (const auto& args : cases) {
    std::vector<std::string> argv{"runc"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto kill = parse_runtime_kill(argv);
    bool expected = kill && gate_holds(*kill, held) && kill->container_id == kGuarded;
    std::string shown;
    for (const auto& a : args) shown += " '" + a + "'";
    pid_t pid = 0;
    Outcome got = run("runc", args, &pid);
    EXPECT_EQ(got, expected ? Outcome::stopped : Outcome::exited) << "runc" << shown;
    if (got == Outcome::stopped) {
      ::kill(pid, SIGCONT);
      wait_for(pid, 3s);
    }
  }
  drain_events();
  for (const auto& e : events_) (void)gate_->release(e);
}

// The daemon re-checks a gated kill against these (Daemon::gate_doubt): they must be what the kernel was given.
TEST_F(StopGateTest, NamesTheSignalsItHoldsNeverSigkill) {
  auto held = [](const StopGate& g) { return std::vector<int>(g.gated_signals().begin(), g.gated_signals().end()); };
  EXPECT_EQ(held(*gate_), StopGateOptions{}.gated_signals);
  gate_.reset();
  auto gate = StopGate::load(StopGateOptions{{SIGTERM, SIGKILL, SIGINT}, {"runc"}}, [](const GatedProcess&) {});
  ASSERT_TRUE(gate) << gate.error().message;
  EXPECT_EQ(held(**gate), (std::vector<int>{SIGTERM, SIGINT}));
}

// Every runtime named is gated, the last of the list as the first, and only a whole comm matches.
TEST_F(StopGateTest, GatesEachRuntimeNamedAndNoOther) {
  for (const char* name : {"crun", "runcx", "run", "my-runtime"})
    fs::copy_file("/bin/true", dir_ / name, fs::copy_options::overwrite_existing);
  gate_.reset();
  auto gate = StopGate::load(StopGateOptions{{SIGTERM}, {"runc", "crun", "my-runtime"}},
                             [this](const GatedProcess& g) { events_.push_back(g); });
  ASSERT_TRUE(gate) << gate.error().message;
  gate_ = std::move(*gate);
  ASSERT_TRUE(gate_->guard(kGuarded));
  gate_->renew_lease(10s);
  for (const char* name : {"runc", "crun", "my-runtime"}) {
    pid_t pid = 0;
    EXPECT_EQ(run(name, {"kill", kGuarded, "15"}, &pid), Outcome::stopped) << name;
    ::kill(pid, SIGCONT);
    wait_for(pid, 3s);
  }
  for (const char* name : {"runcx", "run", "notrunc"}) EXPECT_EQ(run(name, {"kill", kGuarded, "15"}), Outcome::exited) << name;
  drain_events();
  for (const auto& e : events_) (void)gate_->release(e);
}

TEST_F(StopGateTest, RefusesMoreRuntimesThanItHoldsOrNamesThatAreNoComm) {
  gate_.reset();
  std::vector<std::string> nine(SIGDRAIN_GATE_MAX_RUNTIMES + 1, "runc");
  auto too_many = StopGate::load(StopGateOptions{{SIGTERM}, nine}, [](const GatedProcess&) {});
  ASSERT_FALSE(too_many);
  EXPECT_NE(too_many.error().message.find("at most 8"), std::string::npos) << too_many.error().message;
  auto too_long = StopGate::load(StopGateOptions{{SIGTERM}, {std::string(16, 'r')}}, [](const GatedProcess&) {});
  EXPECT_FALSE(too_long);
}

TEST_F(StopGateTest, StopsNothingOnceTheLeaseRanOut) {
  gate_->renew_lease(20ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(run("runc", {"kill", kGuarded, "15"}), Outcome::exited);
  gate_->end_lease();
  EXPECT_EQ(run("runc", {"kill", kGuarded, "15"}), Outcome::exited);
  gate_->renew_lease(10s);
  pid_t pid = 0;
  EXPECT_EQ(run("runc", {"kill", kGuarded, "15"}, &pid), Outcome::stopped);  // the same exec, gated again
  gate_.reset();  // the owner's end continues what it stopped
  EXPECT_EQ(wait_for(pid, 3s), Outcome::exited);
}

TEST_F(StopGateTest, IgnoresARuntimeInItsOwnPidNamespace) {
  std::string path = (dir_ / "runc").string();
  pid_t outer = ::fork();
  if (outer == 0) {
    if (::unshare(CLONE_NEWPID) != 0) ::_exit(2);
    pid_t inner = ::fork();  // pid 1 of the new namespace
    if (inner == 0) {
      ::execl(path.c_str(), path.c_str(), "kill", kGuarded.c_str(), "15", nullptr);
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(inner, &status, WUNTRACED);
    if (WIFSTOPPED(status)) ::kill(inner, SIGCONT);
    ::_exit(WIFSTOPPED(status) ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(outer, &status, 0), outer);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: stopped inside its own pid namespace; 2: unshare failed";
}

TEST_F(StopGateTest, TheWatchdogContinuesWhatTheDaemonForgets) {
  constexpr auto kBound = 300ms;
  auto watchdog = GateWatchdog::start(gate_->gated_map_fd(), kBound);
  ASSERT_TRUE(watchdog) << watchdog.error().message;
  pid_t pid = 0;
  auto start = std::chrono::steady_clock::now();
  // Whether this thread sees the stop itself depends on the scheduler (a loaded sanitizer run once missed the
  // whole window, and the watchdog had continued it already): the gate's own count says it was stopped.
  Outcome first = run("runc", {"kill", kGuarded, "15"}, &pid);
  ASSERT_NE(first, Outcome::timeout);
  EXPECT_EQ(gate_->counters().stopped, 1u) << "the gate did not stop it";
  // Nobody releases it: the watchdog continues it after its bound (and deletes the entry).
  if (first == Outcome::stopped) {
    EXPECT_EQ(wait_for(pid, 3s), Outcome::exited);
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, kBound);
  // The watchdog (another process) continues the runtime, then deletes its entry: the runtime's exit can be seen
  // before the delete (a sanitizer run once read the map in between).
  EXPECT_TRUE(eventually([&] { return read_gated(gate_->gated_map_fd()).empty(); }, 2000ms));
}

}  // namespace
}  // namespace sigdrain
