#include "proc/pidfd.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <gtest/gtest.h>

#include "containers/container_signal.hpp"
#include "temp_dir.hpp"

namespace sigdrain {
namespace {

const std::string kId = "64fc05818c136964af457ce0b7dc90652c689e39deee27f1473abf24f0ebceb2";
const std::string kOtherId = "abc2" + std::string(60, '2');

// A child that waits to be signalled, and a fixture /proc that puts it in a container's cgroup.
class SignalInContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    child_ = ::fork();
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
      ::signal(SIGTERM, SIG_DFL);  // the tests expect SIGTERM to kill it, whatever the runner ignores
      ::pause();
      ::_exit(0);
    }
    proc_root_.write(std::to_string(child_) + "/cgroup", "0::/machine.slice/libpod-" + kId + ".scope\n");
  }
  void TearDown() override {
    if (child_ > 0 && !reaped_) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
  }
  int wait_child() {
    int status = 0;
    ::waitpid(child_, &status, 0);
    reaped_ = true;
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }

  TempDir proc_root_;
  pid_t child_ = -1;
  bool reaped_ = false;
};

TEST_F(SignalInContainerTest, SignalsAProcessOfTheContainer) {
  ProcFs proc(proc_root_.path());
  ASSERT_TRUE(signal_in_container(proc, kId, child_, SIGTERM));
  EXPECT_EQ(wait_child(), SIGTERM);
}

TEST_F(SignalInContainerTest, RefusesAProcessOfAnotherContainer) {
  ProcFs proc(proc_root_.path());
  auto r = signal_in_container(proc, kOtherId, child_, SIGTERM);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "pid " + std::to_string(child_) + " is no longer in the container");
  EXPECT_EQ(::waitpid(child_, nullptr, WNOHANG), 0) << "the child must still run";
}

TEST_F(SignalInContainerTest, APinnedPidfdOutlivesThePid) {
  // The pidfd opened while the process ran names it even after it is reaped: nothing else can be hit.
  UniqueFd pinned = open_pidfd(child_);
  ASSERT_TRUE(pinned);
  ::kill(child_, SIGKILL);
  EXPECT_EQ(wait_child(), SIGKILL);
  ProcFs proc(proc_root_.path());
  auto r = signal_in_container(proc, kId, child_, SIGTERM, pinned.get());
  ASSERT_FALSE(r) << "a reaped process cannot be signalled through its pidfd";
  EXPECT_EQ(r.error().code, ESRCH);
}

TEST_F(SignalInContainerTest, AGoneProcessIsAnError) {
  ::kill(child_, SIGKILL);
  wait_child();
  ProcFs proc(proc_root_.path());
  auto r = signal_in_container(proc, kId, child_, SIGTERM);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind("pid " + std::to_string(child_) + " is gone", 0), 0u) << r.error().message;
}

}  // namespace
}  // namespace sigdrain
