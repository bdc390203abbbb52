// The daemon's pinned socket maps: an Observer that goes away without unpinning (a SIGKILLed daemon) leaves its
// programs counting, and the next one adopts every count, so a request that began before it is seen in flight;
// a pinned layout that is not this build's is replaced; off bpffs nothing is pinned.
#include <bpf/bpf.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "observer/bpf_pins.hpp"
#include "observer/observer.hpp"
#include "scratch_cgroup.hpp"
#include "util/fd.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// A pin root of this test's own on bpffs, removed at the end.
struct ScratchPinRoot {
  std::string path = "/sys/fs/bpf/sigdrain-test-" + std::to_string(::getpid());
  ~ScratchPinRoot() { (void)remove_pin_tree(path); }
};

struct PinnedObserver {
  std::vector<std::string> log;
  std::unique_ptr<Observer> observer;
  explicit PinnedObserver(const std::string& root, bool raw_tracepoints = true) {
    ObserverOptions options;
    options.watch_all_cgroups = false;  // as the daemon
    options.raw_tracepoints = raw_tracepoints;
    options.pin_root = root;
    options.log = [this](const std::string& line) { log.push_back(line); };
    auto started = Observer::start(options, [](const ObservedEvent&) {});
    EXPECT_TRUE(started) << started.error().message;
    if (started) observer = std::move(*started);
  }
  CgroupStats stats(uint64_t cgroup) const { return observer->cgroup_stats(cgroup).value_or(CgroupStats{}); }
};

// A kernel without BPF links for tracepoints (5.10) cannot pin them: the observer must still start, unpinned,
// and say so in one line; the pinning tests are then skipped with that line.
std::optional<std::string> kernel_cannot_pin() {
  ScratchPinRoot probe_root;
  probe_root.path += "-probe";
  PinnedObserver probe(probe_root.path);
  EXPECT_TRUE(probe.observer) << "an observer that cannot pin must run unpinned";
  if (!probe.observer || probe.observer->socket_pins() != SocketPins::none) return std::nullopt;
  for (const std::string& line : probe.log)
    if (line.find("no BPF links for tracepoint programs") != std::string::npos) return line;
  ADD_FAILURE() << "unpinned on bpffs without the kernel's reason: " << (probe.log.empty() ? "" : probe.log[0]);
  return std::nullopt;
}

TEST(ObserverPins, ANewObserverAdoptsTheRequestsInFlight) {
  if (auto why = kernel_cannot_pin()) GTEST_SKIP() << *why;
  ScratchPinRoot root;
  ScratchCgroup cg;
  ASSERT_NE(cg.id(), 0u);
  // The first observer's socket programs are classic tracepoint programs (as daemons before the raw ones had), the
  // second's raw ones where the kernel allows them: an upgrade hands the pinned counts over between them.
  auto first = std::make_unique<PinnedObserver>(root.path, /*raw_tracepoints=*/false);
  ASSERT_TRUE(first->observer);
  if (!first->observer->observes_requests()) GTEST_SKIP() << first->observer->requests_unobserved_reason();
  EXPECT_FALSE(first->observer->raw_tracepoints());
  EXPECT_EQ(first->observer->socket_pins(), SocketPins::created);
  ASSERT_TRUE(first->observer->watch_cgroup(cg.id()));
  // Each answer takes 3 s: the second request must still be in flight after the second observer has loaded,
  // which takes over a second under the emulated kernels of the matrix.
  CgroupServer server(cg, 3000ms, 16);
  ASSERT_GT(server.pid(), 0);

  int client = connected_client(server);
  ASSERT_GE(client, 0);
  ASSERT_EQ(write(client, "req\n", 4), 4);
  // The server reads it and sleeps in its handler.
  EXPECT_TRUE(eventually([&] { return first->stats(cg.id()).inflight == 1; }, 2000ms));
  const std::string links = sockets_layout_dir(root.path) + "/links";
  EXPECT_TRUE(exists(links + "/on_sock_recv_length") || exists(links + "/on_tcp_recvmsg_exit") ||
              exists(links + "/on_tcp_recvmsg_nonblock_exit"));
  first.reset();  // gone without unpinning, as a SIGKILLed daemon

  // Nobody runs: the pinned programs go on counting. The first answer arrives and a second request begins.
  char buf[8];
  ASSERT_GT(read(client, buf, sizeof(buf)), 0);
  ASSERT_EQ(write(client, "req\n", 4), 4);
  std::this_thread::sleep_for(200ms);

  PinnedObserver second(root.path);
  ASSERT_TRUE(second.observer);
  EXPECT_EQ(second.observer->socket_pins(), SocketPins::adopted);
  const std::string state_program = second.observer->raw_tracepoints() ? "on_inet_sock_set_state_raw"
                                    : second.observer->request_probes() == RequestProbeSet::tracepoint
                                        ? "on_inet_sock_set_state"
                                        : "on_inet_sock_set_state_eager";
  for (const std::string name : {"on_inet_sock_set_state_raw", "on_inet_sock_set_state", "on_inet_sock_set_state_eager"})
    EXPECT_EQ(exists(links + "/" + name), name == state_program)
        << name << ": only the second observer's state change program stays pinned (its own: " << state_program << ")";
  if (second.observer->request_probes() == RequestProbeSet::tracepoint)
    for (const std::string name : {"on_sock_recv_length", "on_sock_send_length"}) {
      EXPECT_EQ(exists(links + "/" + name + "_raw"), second.observer->raw_tracepoints()) << name;
      EXPECT_NE(exists(links + "/" + name), second.observer->raw_tracepoints()) << name;
    }
  EXPECT_TRUE(second.log.empty()) << second.log.front();
  CgroupStats adopted = second.stats(cg.id());
  EXPECT_EQ(adopted.inflight, 1) << "the request that began while no observer ran";
  EXPECT_EQ(adopted.open_inbound, 1);
  EXPECT_EQ(adopted.listening, 1);
  EXPECT_GE(adopted.activity, 3u) << "the first request's read and answer, the second's read";
  EXPECT_EQ(adopted.requests_completed, 1u);
  EXPECT_EQ(adopted.adopted_open, 0) << "the connection is known from its accept, not guessed";

  ASSERT_TRUE(second.observer->watch_cgroup(cg.id()));  // what a restarted daemon's discovery does: idempotent
  ASSERT_GT(read(client, buf, sizeof(buf)), 0);
  EXPECT_TRUE(eventually([&] { return second.stats(cg.id()).requests_completed == 2u; }));
  CgroupStats done = second.stats(cg.id());
  EXPECT_EQ(done.inflight, 0);
  EXPECT_EQ(done.requests_completed, 2u) << "counted once, though the old and new links overlapped";
  close(client);
  EXPECT_TRUE(eventually([&] { return second.stats(cg.id()).open_inbound == 0; }));
  server.stop();
  EXPECT_TRUE(eventually([&] { return second.stats(cg.id()).listening == 0; }));
}

TEST(ObserverPins, AnIncompatibleLayoutIsReplaced) {
  if (auto why = kernel_cannot_pin()) GTEST_SKIP() << *why;
  ScratchPinRoot root;
  const std::string dir = sockets_layout_dir(root.path), older = root.path + "/sockets-v0";
  ASSERT_TRUE(prepare_pin_root(root.path));
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(older.c_str(), 0700), 0);
  // cgroup_stats with another value size (an older struct), and a map of an older layout.
  UniqueFd wrong(bpf_map_create(BPF_MAP_TYPE_HASH, "cgroup_stats", 8, 16, 16384, nullptr));
  ASSERT_TRUE(wrong);
  ASSERT_EQ(bpf_obj_pin(wrong.get(), (dir + "/cgroup_stats").c_str()), 0);
  ASSERT_EQ(bpf_obj_pin(wrong.get(), (older + "/cgroup_stats").c_str()), 0);

  PinnedObserver replaced(root.path);
  ASSERT_TRUE(replaced.observer);
  EXPECT_EQ(replaced.observer->socket_pins(), SocketPins::created);
  ASSERT_EQ(replaced.log.size(), 2u);
  EXPECT_NE(replaced.log[0].find("sockets-v0"), std::string::npos) << replaced.log[0];
  EXPECT_NE(replaced.log[1].find("cgroup_stats: type 1 key 8 value 16"), std::string::npos) << replaced.log[1];
  EXPECT_FALSE(exists(older));
  UniqueFd pinned(bpf_obj_get((dir + "/cgroup_stats").c_str()));
  ASSERT_TRUE(pinned);
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  ASSERT_EQ(bpf_obj_get_info_by_fd(pinned.get(), &info, &len), 0);
  EXPECT_EQ(info.value_size, sizeof(sigdrain_cgroup_stats));

  ScratchCgroup cg;  // and it counts
  ASSERT_TRUE(replaced.observer->watch_cgroup(cg.id()));
  CgroupServer server(cg, 100ms, 16);
  ASSERT_GT(server.pid(), 0);
  EXPECT_EQ(replaced.stats(cg.id()).listening, 1);
}

TEST(ObserverPins, OffBpffsNothingIsPinned) {
  char tmp[] = "/tmp/sigdrain-pins-XXXXXX";
  ASSERT_NE(::mkdtemp(tmp), nullptr);
  PinnedObserver unpinned(tmp);
  ASSERT_TRUE(unpinned.observer);
  EXPECT_EQ(unpinned.observer->socket_pins(), SocketPins::none);
  ASSERT_EQ(unpinned.log.size(), 1u);
  EXPECT_NE(unpinned.log[0].find("not on a bpffs mount"), std::string::npos) << unpinned.log[0];
  ::rmdir(tmp);
}

}  // namespace
}  // namespace sigdrain
