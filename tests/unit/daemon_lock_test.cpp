#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/daemon_lock.hpp"
#include "temp_dir.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(LockHolder, FormatAndParse) {
  EXPECT_EQ(format_lock_holder({42, std::nullopt}), "42\n");
  EXPECT_EQ(format_lock_holder({42, 3}), "42\nfinishing 3\n");
  EXPECT_EQ(parse_lock_holder("42\n"), (LockHolder{42, std::nullopt}));
  EXPECT_EQ(parse_lock_holder("42"), (LockHolder{42, std::nullopt})) << "a pid line not yet ended";
  EXPECT_EQ(parse_lock_holder("42\nfinishing 3\n"), (LockHolder{42, 3}));
  EXPECT_EQ(parse_lock_holder("42\nfinishing 0\n"), (LockHolder{42, 0})) << "finishing, its last drain done";
  EXPECT_EQ(parse_lock_holder("42\nfinishing x\n"), (LockHolder{42, std::nullopt}));
  EXPECT_EQ(parse_lock_holder("42\nnishing 3\n"), (LockHolder{42, std::nullopt}));
  EXPECT_EQ(parse_lock_holder(""), std::nullopt) << "the holder has not written its pid yet";
  EXPECT_EQ(parse_lock_holder("0\n"), std::nullopt);
  EXPECT_EQ(parse_lock_holder("-3\n"), std::nullopt);
  EXPECT_EQ(parse_lock_holder("pid\n"), std::nullopt);
}

TEST(LockWait, WaitsForAFinishingHolderRefusesOneThatIsNotAfterTheGrace) {
  const auto t0 = Clock::now();
  EXPECT_EQ(decide_lock_wait(LockHolder{7, 1}, t0, t0 + 1h, 1s), LockWait::wait) << "finishing: however long";
  EXPECT_EQ(decide_lock_wait(LockHolder{7, std::nullopt}, t0, t0 + 500ms, 1s), LockWait::keep_looking)
      << "a SIGTERM sent a moment ago may not have been acted on yet";
  EXPECT_EQ(decide_lock_wait(LockHolder{7, std::nullopt}, t0, t0 + 1s, 1s), LockWait::refuse);
  EXPECT_EQ(decide_lock_wait(std::nullopt, t0, t0 + 10ms, 1s), LockWait::keep_looking);
  EXPECT_EQ(decide_lock_wait(std::nullopt, t0, t0 + 2s, 1s), LockWait::refuse);
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

constexpr DaemonLockOptions kFast{100ms, 5ms};

// flock() locks belong to an open file description, so two takes in one process contend as two daemons do.
TEST(DaemonLock, ASecondDaemonBesideOneThatIsNotFinishingIsRefused) {
  TempDir dir;
  std::vector<std::string> lines;
  auto first = DaemonLock::take(dir.path(), [&](const std::string& l) { lines.push_back(l); }, kFast);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(file_text(dir.path() + "/daemon.lock"), format_lock_holder({::getpid(), std::nullopt}));
  auto second = DaemonLock::take(dir.path(), [&](const std::string& l) { lines.push_back(l); }, kFast);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().message,
            "another sigdrain daemon is running (pid " + std::to_string(::getpid()) + "); refusing to start a second one");
  EXPECT_TRUE(lines.empty()) << lines.front();
}

TEST(DaemonLock, ASuccessorWaitsForAFinishingDaemonThenTakesOver) {
  TempDir dir;
  std::optional<DaemonLock> old;
  {
    auto taken = DaemonLock::take(dir.path(), [](const std::string&) {}, kFast);
    ASSERT_TRUE(taken) << taken.error().message;
    old.emplace(std::move(*taken));
  }
  old->mark_finishing(2);
  const std::string pid = std::to_string(::getpid());
  EXPECT_EQ(file_text(dir.path() + "/daemon.lock"), pid + "\nfinishing 2\n");

  std::mutex m;
  std::vector<std::string> lines;
  std::atomic<bool> done{false};
  std::optional<Result<DaemonLock>> successor;
  std::thread t([&] {
    auto r = DaemonLock::take(dir.path(), [&](const std::string& l) { std::lock_guard g(m); lines.push_back(l); }, kFast);
    successor.emplace(std::move(r));
    done = true;
  });
  auto logged = [&] { std::lock_guard g(m); return lines.size(); };
  for (int i = 0; i < 1000 && logged() == 0 && !done; ++i) std::this_thread::sleep_for(5ms);
  std::this_thread::sleep_for(3 * kFast.grace);  // well past the grace: a finishing holder is not refused
  EXPECT_FALSE(done) << "took the lock while the old daemon held it, or gave up";
  {
    std::lock_guard g(m);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "waiting for daemon pid " + pid + " to finish 2 drains (it exits once they are done)");
  }
  old.reset();  // the old daemon exits
  t.join();
  ASSERT_TRUE(successor && *successor) << (successor ? successor->error().message : "no result");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "daemon pid " + pid + " finished; starting");
  EXPECT_EQ(file_text(dir.path() + "/daemon.lock"), pid + "\n") << "the successor's pid, not finishing";
}

}  // namespace
}  // namespace sigdrain
