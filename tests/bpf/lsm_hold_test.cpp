// The BPF LSM hold backend on real processes: a stop signal from another process to a guarded one fails with
// EPERM and is reported; SIGKILL and SIGSTOP always pass; the daemon (this test process, the exempt tgid)
// delivers the stop; an expired lease and unguard let signals through again. Runs where BPF LSM is active (the
// 6.1 and 6.12 VMs of scripts/kernels/matrix.sh); elsewhere it skips with the kernel's reason, and the matrix
// fails a kernel whose active LSMs list `bpf` but which skipped it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "hold/lsm_hold.hpp"
#include "observer/kernel_env.hpp"
#include "proc/proc.hpp"
#include "util/fd.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;

int g_delivered_fd = -1;
void on_signal(int signo) {
  char c = static_cast<char>(signo);
  (void)!write(g_delivered_fd, &c, 1);
}

// A process of its own with handlers for SIGTERM and SIGUSR1 that report each delivery on a pipe.
class Target {
 public:
  Target() {
    int delivered[2];
    EXPECT_EQ(pipe2(delivered, O_CLOEXEC), 0);
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(delivered[0]);
      g_delivered_fd = delivered[1];
      struct sigaction sa {};
      sa.sa_handler = on_signal;
      sigaction(SIGTERM, &sa, nullptr);
      sigaction(SIGUSR1, &sa, nullptr);
      (void)!write(delivered[1], "R", 1);  // handlers are in place
      for (;;) pause();
    }
    close(delivered[1]);
    delivered_.reset(delivered[0]);
    EXPECT_EQ(next_delivery(2s), 'R');
  }
  ~Target() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  // The signal number the handler reported next, 0 when none came within `timeout`.
  int next_delivery(std::chrono::milliseconds timeout) {
    pollfd p{delivered_.get(), POLLIN, 0};
    char c = 0;
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1 || read(delivered_.get(), &c, 1) != 1) return 0;
    return c;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd delivered_;
};

// kill(target, signo) from a process of its own (not the exempt daemon): 0 or the errno it got.
int kill_from_other_process(pid_t target, int signo) {
  pid_t sender = fork();
  if (sender == 0) _exit(kill(target, signo) == 0 ? 0 : errno);
  int status = 0;
  waitpid(sender, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class LsmHoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = prepare_kernel_env();
    ASSERT_TRUE(env) << env.error().message;
    if (!env->bpf_lsm()) GTEST_SKIP() << env->bpf_lsm_unavailable_reason();
    auto loaded = LsmHold::load(*env, LsmHoldOptions{}, [this](const RefusedSignal& r) { refused.push_back(r); });
    // BPF LSM is active here: a load failure is a failure, not a reason to skip.
    ASSERT_TRUE(loaded) << loaded.error().message;
    hold = std::move(*loaded);
    hold->renew_lease(5s);
  }

  void guard(const Target& t) {
    auto start = ProcFs().start_time(t.pid());
    ASSERT_TRUE(start) << start.error().message;
    auto r = hold->guard(t.pid(), *start);
    ASSERT_TRUE(r) << r.error().message;
  }

  // Polls the ring buffer until `count` refusals arrived or 2 s passed.
  void await_refusals(size_t count) {
    for (auto until = std::chrono::steady_clock::now() + 2s; refused.size() < count && std::chrono::steady_clock::now() < until;)
      ASSERT_TRUE(hold->poll(50ms));
  }

  std::unique_ptr<LsmHold> hold;
  std::vector<RefusedSignal> refused;
};

TEST_F(LsmHoldTest, RefusesAStopSignalFromAnotherProcessAndReportsIt) {
  Target t;
  guard(t);
  EXPECT_EQ(kill_from_other_process(t.pid(), SIGTERM), EPERM);
  EXPECT_EQ(t.next_delivery(300ms), 0) << "the refused SIGTERM reached the app";
  await_refusals(1);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].signo, SIGTERM);
  EXPECT_EQ(refused[0].target_tgid, t.pid());
  EXPECT_EQ(refused[0].target_tid, t.pid());
  EXPECT_NE(refused[0].sender_tgid, getpid());
  EXPECT_GT(refused[0].sender_tgid, 0);
  EXPECT_FALSE(refused[0].sender_comm.empty());
  EXPECT_EQ(hold->counters().refused, 1u);

  // Held means released later: the daemon's own SIGTERM goes through and the app's handler runs.
  ASSERT_EQ(kill(t.pid(), SIGTERM), 0);
  EXPECT_EQ(t.next_delivery(2s), SIGTERM);
}

TEST_F(LsmHoldTest, OtherSignalsPass) {
  Target t;
  guard(t);
  EXPECT_EQ(kill_from_other_process(t.pid(), SIGUSR1), 0);
  EXPECT_EQ(t.next_delivery(2s), SIGUSR1);
  EXPECT_EQ(kill_from_other_process(t.pid(), SIGSTOP), 0) << "SIGSTOP is never refused";
  EXPECT_EQ(kill_from_other_process(t.pid(), SIGCONT), 0);
  EXPECT_EQ(kill_from_other_process(t.pid(), SIGKILL), 0) << "SIGKILL is never refused";
  int status = 0;
  ASSERT_EQ(waitpid(t.pid(), &status, 0), t.pid());
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_TRUE(hold->poll(0ms));
  EXPECT_TRUE(refused.empty());
}

TEST_F(LsmHoldTest, AnExpiredLeaseLetsSignalsThrough) {
  Target t;
  guard(t);
  hold->renew_lease(200ms);
  EXPECT_EQ(kill_from_other_process(t.pid(), SIGTERM), EPERM) << "within the lease";
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(kill_from_other_process(t.pid(), SIGTERM), 0) << "the daemon stopped renewing: refusals end";
  EXPECT_EQ(t.next_delivery(2s), SIGTERM);
  EXPECT_EQ(hold->counters().lease_expired, 1u);
  hold->renew_lease(5s);
  EXPECT_EQ(kill_from_other_process(t.pid(), SIGTERM), EPERM) << "a renewed lease refuses again";
}

TEST_F(LsmHoldTest, UnguardLetsSignalsThrough) {
  Target t;
  guard(t);
  EXPECT_EQ(kill_from_other_process(t.pid(), SIGTERM), EPERM);
  ASSERT_TRUE(hold->unguard(t.pid()));
  EXPECT_FALSE(hold->guarding(t.pid()));
  EXPECT_EQ(kill_from_other_process(t.pid(), SIGTERM), 0);
  EXPECT_EQ(t.next_delivery(2s), SIGTERM);
}

TEST_F(LsmHoldTest, AnotherProcessWithTheGuardedPidIsNotProtected) {
  Target t;
  auto start = ProcFs().start_time(t.pid());
  ASSERT_TRUE(start);
  ASSERT_TRUE(hold->guard(t.pid(), *start + 1));  // as if the pid had been reused since
  EXPECT_EQ(kill_from_other_process(t.pid(), SIGTERM), 0);
  EXPECT_EQ(t.next_delivery(2s), SIGTERM);
}

TEST_F(LsmHoldTest, DestroyingTheHoldLetsSignalsThrough) {
  Target t;
  guard(t);
  EXPECT_EQ(kill_from_other_process(t.pid(), SIGTERM), EPERM);
  hold.reset();
  EXPECT_EQ(kill_from_other_process(t.pid(), SIGTERM), 0);
  EXPECT_EQ(t.next_delivery(2s), SIGTERM);
}

}  // namespace
}  // namespace sigdrain
