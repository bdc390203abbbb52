// A signal and connection storm against an Observer with a one-page ring buffer that nobody reads: events are
// lost and counted, nothing crashes, events flow again once the buffer is read, and the per-cgroup socket state
// (kept in BPF maps, not carried by events) comes back to its baseline when the connections close.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "observer/observer.hpp"
#include "scratch_cgroup.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;

// A process that ignores SIGUSR1 (every kill still fires signal_generate) and idles.
pid_t spawn_ignoring_child() {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    for (;;) pause();
  }
  return pid;
}

TEST(ObserverStorm, RingBufferOverflowIsCountedAndRecoverable) {
  std::atomic<pid_t> target{0};
  std::atomic<int> seen_usr2{0};
  ObserverOptions options;
  options.ring_buffer_bytes = 4096;  // one page: about 40 signal events
  auto obs = Observer::start(options, [&](const ObservedEvent& ev) {
    if (const auto* e = std::get_if<SignalEvent>(&ev); e && e->sig == SIGUSR2 && static_cast<pid_t>(e->target_pid) == target)
      seen_usr2.fetch_add(1);
  });
  ASSERT_TRUE(obs) << obs.error().message;
  Observer& observer = **obs;

  pid_t child = spawn_ignoring_child();
  ASSERT_GT(child, 0);
  target = child;

  // A server in a cgroup of its own, for the connection half of the storm.
  ScratchCgroup cg;
  ASSERT_NE(cg.id(), 0u);
  CgroupServer server(cg, 0ms, 128);
  ASSERT_GT(server.pid(), 0);
  auto stats = [&] { return observer.cgroup_stats(cg.id()).value_or(CgroupStats{}); };
  const CgroupStats baseline = stats();
  EXPECT_EQ(baseline.listening, 1);
  EXPECT_EQ(baseline.open_inbound, 0);

  // The storm, with nobody polling: four threads of kill(), one of connect/request/close.
  std::vector<std::thread> storm;
  for (int t = 0; t < 4; ++t)
    storm.emplace_back([child] {
      for (int i = 0; i < 3000; ++i) kill(child, SIGUSR1);
    });
  std::atomic<int> requests_ok{0};
  storm.emplace_back([&] {
    for (int i = 0; i < 300; ++i) {
      int s = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(s, server.addr(), server.addr_len()) == 0 && write(s, "x\n", 2) == 2) {
        char buf[8];
        if (read(s, buf, sizeof(buf)) > 0) requests_ok.fetch_add(1);
      }
      close(s);
    }
  });
  for (auto& t : storm) t.join();

  ObserverCounters counters = observer.counters();
  EXPECT_GT(counters.ringbuf_drops, 0u) << "a one-page ring buffer unread during 12000 signals must overflow";
  EXPECT_EQ(requests_ok.load(), 300);
  std::printf("storm: %llu events lost\n", static_cast<unsigned long long>(counters.ringbuf_drops));

  // Read what is buffered; then a new event arrives again.
  for (int i = 0; i < 50; ++i) {
    auto r = observer.poll(0ms);
    ASSERT_TRUE(r) << r.error().message;
    if (*r == 0) break;
  }
  const uint64_t drops_after_storm = observer.counters().ringbuf_drops;
  ASSERT_EQ(kill(child, SIGUSR2), 0);
  for (auto until = std::chrono::steady_clock::now() + 2s; seen_usr2.load() == 0 && std::chrono::steady_clock::now() < until;) {
    auto r = observer.poll(50ms);
    ASSERT_TRUE(r) << r.error().message;
  }
  EXPECT_EQ(seen_usr2.load(), 1) << "events flow again after the overflow";
  EXPECT_EQ(observer.counters().ringbuf_drops, drops_after_storm) << "nothing more lost once the buffer is read";

  // The socket state never depended on the lost events: back to the baseline once every connection closed.
  CgroupStats after{};
  for (auto until = std::chrono::steady_clock::now() + 2s; std::chrono::steady_clock::now() < until;) {
    after = stats();
    if (after.open_inbound == baseline.open_inbound && after.inflight == 0) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(after.open_inbound, baseline.open_inbound);
  EXPECT_EQ(after.inflight, 0);
  EXPECT_EQ(after.listening, 1);
  if (observer.observes_requests()) {
    EXPECT_EQ(after.requests_completed, baseline.requests_completed + 300);
  }
  EXPECT_EQ(observer.counters().socket_state_failures, 0u);

  server.stop();
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

}  // namespace
}  // namespace sigdrain
