// A real TCP server with a slow handler, in a cgroup of its own: its requests in flight are counted while a
// client waits and drop to zero afterwards.
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "containers/cgroup_ids.hpp"
#include "observer/observer.hpp"
#include "scratch_cgroup.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;

// Every test runs twice: with the socket programs as raw tracepoint programs (what the observer loads where the
// kernel lets them read the socket) and as classic tracepoint programs (lockdown=confidentiality, or asked).
class ObserverSockets : public ::testing::TestWithParam<bool> {
 protected:
  static ObserverOptions socket_options() {
    ObserverOptions options;
    options.raw_tracepoints = GetParam();
    return options;
  }
};

INSTANTIATE_TEST_SUITE_P(StateChanges, ObserverSockets, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Raw" : "Classic"; });

TEST_P(ObserverSockets, RequestsInFlightFollowASlowServer) {
  auto obs = Observer::start(socket_options(), [](const ObservedEvent&) {});
  ASSERT_TRUE(obs) << obs.error().message;
  if (!(*obs)->observes_requests()) {
    ASSERT_EQ((*obs)->kernel().request_probes(), RequestProbeSet::none)
        << "the kernel offers a request probe set, yet: " << (*obs)->requests_unobserved_reason();
    GTEST_SKIP() << (*obs)->requests_unobserved_reason();
  }
  std::printf("request probe set: %s\n", std::string(request_probe_set_name((*obs)->request_probes())).c_str());
  const KernelEnv& env = (*obs)->kernel();
  EXPECT_EQ((*obs)->raw_tracepoints(),
            GetParam() && env.raw_tracepoint_reads && (*obs)->request_probes() == RequestProbeSet::tracepoint)
      << "the raw tracepoint programs are loaded exactly when asked for and the kernel allows them";
  std::printf("socket programs: %s\n", (*obs)->raw_tracepoints() ? "raw tracepoints" : "classic tracepoints");

  ScratchCgroup cg;
  ASSERT_NE(cg.id(), 0u);
  CgroupServer server(cg, 800ms, 16);
  ASSERT_GT(server.pid(), 0);

  auto stats = [&] { return (*obs)->cgroup_stats(cg.id()).value_or(CgroupStats{}); };
  EXPECT_EQ(stats().listening, 1);
  EXPECT_EQ(stats().activity, 0u) << "a listen is no activity";

  int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(client, server.addr(), server.addr_len()), 0);
  ASSERT_EQ(write(client, "req\n", 4), 4);
  // The server reads the request and sleeps 800 ms in its handler.
  EXPECT_TRUE(eventually([&] { return stats().inflight == 1; }, 2000ms)) << stats().inflight;
  EXPECT_EQ(stats().open_inbound, 1);
  EXPECT_EQ(stats().activity, 1u) << "the request's read moves the activity count; the server's MSG_PEEK must not";

  char buf[8];
  ASSERT_GT(read(client, buf, sizeof(buf)), 0);
  EXPECT_TRUE(eventually([&] { return stats().requests_completed == 1u; })) << stats().requests_completed;
  EXPECT_EQ(stats().inflight, 0) << "answered: nothing in flight on an idle keep-alive connection";
  EXPECT_EQ(stats().open_inbound, 1);
  EXPECT_EQ(stats().requests_completed, 1u);
  EXPECT_EQ(stats().activity, 2u) << "and so does the answer: the quiet window counts from it";
  int server_side = 0;
  for (const SocketRecord& rec : (*obs)->sockets()) {
    if (rec.state.cgroup_id != cg.id() || rec.state.direction != SIGDRAIN_DIR_INBOUND) continue;
    ++server_side;
    EXPECT_EQ(rec.state.owner_tgid, static_cast<uint32_t>(server.pid()));
    EXPECT_EQ(rec.state.flags & SIGDRAIN_SOCK_INFLIGHT, 0);
  }
  EXPECT_EQ(server_side, 1);

  close(client);
  EXPECT_TRUE(eventually([&] { return stats().open_inbound == 0; })) << stats().open_inbound;
  EXPECT_EQ(stats().inflight, 0);

  server.stop();
  EXPECT_TRUE(eventually([&] { return stats().listening == 0; })) << stats().listening;
  EXPECT_EQ((*obs)->counters().socket_state_failures, 0u);
}

// With watch_all_cgroups off (the daemon, safe-stop), only the cgroups named by watch_cgroup() count: a server in
// another cgroup leaves no count in the maps from its data, and the same connection counts once its cgroup is
// watched (a container is watched only once discovery has named it, after it began serving).
TEST_P(ObserverSockets, OnlyWatchedCgroupsCountRequests) {
  ObserverOptions options = socket_options();
  options.watch_all_cgroups = false;
  auto obs = Observer::start(options, [](const ObservedEvent&) {});
  ASSERT_TRUE(obs) << obs.error().message;
  if (!(*obs)->observes_requests()) GTEST_SKIP() << (*obs)->requests_unobserved_reason();

  ScratchCgroup cg;
  ASSERT_NE(cg.id(), 0u);
  CgroupServer server(cg, 300ms, 16);
  ASSERT_GT(server.pid(), 0);
  auto stats = [&] { return (*obs)->cgroup_stats(cg.id()).value_or(CgroupStats{}); };
  // Sends a request and returns the stats while the server sleeps in its handler (300 ms). A counted request shows
  // as soon as the server has read it; an uncounted one is given 150 ms, in which a wrongly counted one would show.
  auto one_request = [&](int client, bool counted) {
    EXPECT_EQ(write(client, "req\n", 4), 4);
    if (counted)
      EXPECT_TRUE(eventually([&] { return stats().inflight == 1; }, 2000ms)) << "the request never showed in flight";
    else
      std::this_thread::sleep_for(150ms);
    CgroupStats during = stats();
    char buf[8];
    EXPECT_GT(read(client, buf, sizeof(buf)), 0);
    return during;
  };

  int client = connected_client(server);
  ASSERT_GE(client, 0);
  CgroupStats unwatched = one_request(client, false);
  EXPECT_FALSE((*obs)->cgroup_stats(cg.id())) << "a cgroup nobody watches has no counts, not even its listener's";
  EXPECT_EQ(unwatched.inflight, 0) << "a cgroup nobody watches is not counted";
  EXPECT_EQ(unwatched.activity, 0u);
  EXPECT_EQ(unwatched.open_inbound, 0);
  // Its verdict is cached by now: this request's receive and send take the ignored-socket cache, not the state.
  CgroupStats still_unwatched = one_request(client, false);
  EXPECT_EQ(still_unwatched.inflight, 0);
  EXPECT_EQ(still_unwatched.activity, 0u);
  // Judged once, nothing of it counted. With the tracepoint probes it gets no state at all: the connection waits
  // for its owner's first data in unclaimed_connections, which finds the cgroup not watched.
  const bool stateless = (*obs)->request_probes() == RequestProbeSet::tracepoint;
  int states = 0;
  for (const SocketRecord& rec : (*obs)->sockets())
    if (rec.state.cgroup_id == cg.id() && rec.state.direction != SIGDRAIN_DIR_LISTEN) {
      ++states;
      EXPECT_EQ(rec.state.flags, SIGDRAIN_SOCK_IGNORED);
    }
  EXPECT_EQ(states, stateless ? 0 : 1) << "the server's socket of a cgroup nobody watches";

  ASSERT_TRUE((*obs)->watch_cgroup(cg.id()));
  CgroupStats watched = one_request(client, true);
  EXPECT_EQ(watched.inflight, 1) << "the connection accepted before the watch counts once it is watched";
  EXPECT_EQ(watched.open_inbound, 1);
  EXPECT_TRUE(eventually([&] { return stats().requests_completed == 1u; })) << stats().requests_completed;

  // A connection accepted after the watch counts from its first request (the server serves one at a time).
  close(client);
  EXPECT_TRUE(eventually([&] { return stats().open_inbound == 0; })) << stats().open_inbound;
  int second = connected_client(server);
  ASSERT_GE(second, 0);
  EXPECT_EQ(one_request(second, true).inflight, 1);
  EXPECT_EQ(stats().open_inbound, 1);
  close(second);
  server.stop();
}

// The daemon forgets the counts of a container that is gone (and, restarted on adopted pins, of those that ended
// while it was down): else cgroup_stats and watched_cgroups would fill over a node's lifetime.
TEST_P(ObserverSockets, ACgroupGoneIsForgotten) {
  ObserverOptions options = socket_options();
  options.watch_all_cgroups = false;
  auto obs = Observer::start(options, [](const ObservedEvent&) {});
  ASSERT_TRUE(obs) << obs.error().message;
  if (!(*obs)->observes_requests()) GTEST_SKIP() << (*obs)->requests_unobserved_reason();

  auto ended = std::make_unique<ScratchCgroup>("ended");
  ScratchCgroup running("running");
  const uint64_t ended_id = ended->id();
  ASSERT_NE(ended_id, 0u);
  ASSERT_NE(running.id(), 0u);
  for (const ScratchCgroup* cg : {ended.get(), &running}) {
    ASSERT_TRUE((*obs)->watch_cgroup(cg->id()));
    CgroupServer server(*cg, 0ms, 16);  // its listen makes the cgroup's counts; stopped at the end of the turn
    ASSERT_GT(server.pid(), 0);
    EXPECT_TRUE((*obs)->cgroup_stats(cg->id()));
  }
  ended.reset();  // rmdir: the container's cgroup is gone

  auto existing = existing_cgroup_ids(std::filesystem::exists("/sys/fs/cgroup/unified/cgroup.procs") ? "/sys/fs/cgroup/unified"
                                                                                                       : "/sys/fs/cgroup");
  ASSERT_TRUE(existing);
  EXPECT_TRUE(existing->contains(running.id()));
  EXPECT_FALSE(existing->contains(ended_id));
  EXPECT_EQ((*obs)->forget_cgroups_not_in(*existing), 1u) << "the ended cgroup, watched and counted: one cgroup";
  EXPECT_FALSE((*obs)->cgroup_stats(ended_id));
  EXPECT_TRUE((*obs)->cgroup_stats(running.id())) << "a cgroup that still exists keeps its counts";
  EXPECT_EQ((*obs)->forget_cgroups_not_in(*existing), 0u);

  (*obs)->forget_cgroup(running.id());  // what the daemon does when a container is gone
  EXPECT_FALSE((*obs)->cgroup_stats(running.id()));
}

// A forgotten cgroup's slot in cgroup_stats is given again once every other slot was given; the forgotten
// cgroup's sockets that still carry data or close then take nothing from the cgroup that holds the slot now.
TEST_P(ObserverSockets, AForgottenCgroupsSlotGivenAgainTakesNothingFromIt) {
  ObserverOptions options = socket_options();
  options.watch_all_cgroups = false;
  auto obs = Observer::start(options, [](const ObservedEvent&) {});
  ASSERT_TRUE(obs) << obs.error().message;
  if (!(*obs)->observes_requests()) GTEST_SKIP() << (*obs)->requests_unobserved_reason();

  ScratchCgroup forgotten("forgotten"), next("next");
  ASSERT_TRUE((*obs)->watch_cgroup(forgotten.id()));  // the first slot
  CgroupServer old_server(forgotten, 0ms, 16);
  ASSERT_GT(old_server.pid(), 0);
  int old_client = connected_client(old_server);
  ASSERT_GE(old_client, 0);
  char buf[8];
  ASSERT_EQ(write(old_client, "req\n", 4), 4);
  ASSERT_GT(read(old_client, buf, sizeof(buf)), 0);
  auto stats_of = [&](const ScratchCgroup& cg) { return (*obs)->cgroup_stats(cg.id()); };
  ASSERT_TRUE(eventually([&] { return stats_of(forgotten).value_or(CgroupStats{}).requests_completed == 1u; }));
  EXPECT_EQ(stats_of(forgotten)->open_inbound, 1);

  (*obs)->forget_cgroup(forgotten.id());
  // Every other slot goes to a made-up cgroup id (nothing runs there), so the next real cgroup gets the freed one.
  const uint64_t made_up = uint64_t{1} << 62;
  for (uint64_t i = 0; i < SIGDRAIN_MAX_WATCHED_CGROUPS - 1; ++i) ASSERT_TRUE((*obs)->watch_cgroup(made_up + i)) << i;
  ASSERT_TRUE((*obs)->watch_cgroup(next.id()));
  EXPECT_FALSE((*obs)->watch_cgroup(made_up - 1)) << "every slot is given";
  CgroupStats fresh = stats_of(next).value_or(CgroupStats{.open_inbound = -100});
  EXPECT_EQ(fresh.open_inbound, 0);

  // The forgotten cgroup's connection: a request, then its close.
  ASSERT_EQ(write(old_client, "req\n", 4), 4);
  ASSERT_GT(read(old_client, buf, sizeof(buf)), 0);
  close(old_client);
  old_server.stop();
  std::this_thread::sleep_for(100ms);  // its close has run: nothing may show for `next`
  CgroupStats after = stats_of(next).value_or(CgroupStats{.open_inbound = -100});
  EXPECT_EQ(after.open_inbound, 0) << "the forgotten cgroup's close took from the slot's new cgroup";
  EXPECT_EQ(after.listening, 0);
  EXPECT_EQ(after.requests_completed, 0u);
  EXPECT_EQ(after.activity, 0u);
  EXPECT_EQ(after.inflight, 0);
  EXPECT_FALSE(stats_of(forgotten));

  // And the slot counts for its new cgroup.
  CgroupServer server(next, 0ms, 16);
  ASSERT_GT(server.pid(), 0);
  int client = connected_client(server);
  ASSERT_GE(client, 0);
  ASSERT_EQ(write(client, "req\n", 4), 4);
  ASSERT_GT(read(client, buf, sizeof(buf)), 0);
  EXPECT_TRUE(eventually([&] { return stats_of(next).value_or(CgroupStats{}).requests_completed == 1u; }));
  EXPECT_EQ(stats_of(next)->listening, 1);
  EXPECT_EQ(stats_of(next)->open_inbound, 1);
  close(client);
}

// A socket judged ignored is cached by its kernel address; that address comes back for another socket once the
// first one is freed (the slab's free list is last-in first-out). A server in a watched cgroup that gets such an
// address must count every request: the old verdict is cleared by the close and by the new socket's handshake.
TEST_P(ObserverSockets, AReusedAddressOfAnIgnoredSocketCountsInAWatchedCgroup) {
  ObserverOptions options = socket_options();
  options.watch_all_cgroups = false;
  auto obs = Observer::start(options, [](const ObservedEvent&) {});
  ASSERT_TRUE(obs) << obs.error().message;
  if (!(*obs)->observes_requests()) GTEST_SKIP() << (*obs)->requests_unobserved_reason();

  // An observer of every socket beside it (as `sigdrain trace` runs beside the daemon), only to learn the server
  // sockets' addresses: the one under test keeps no state for a socket of a cgroup it does not watch.
  auto every_socket = Observer::start(socket_options(), [](const ObservedEvent&) {});
  ASSERT_TRUE(every_socket) << every_socket.error().message;

  ScratchCgroup ignored("ignored"), watched("watched");
  ASSERT_NE(ignored.id(), 0u);
  ASSERT_NE(watched.id(), 0u);
  ASSERT_TRUE((*obs)->watch_cgroup(watched.id()));
  CgroupServer ignored_server(ignored, 0ms, 16), watched_server(watched, 0ms, 16);
  ASSERT_GT(ignored_server.pid(), 0);
  ASSERT_GT(watched_server.pid(), 0);

  constexpr int kConnections = 32;
  const timeval five_seconds{5, 0};
  // Two requests per connection (the second one's calls hit the cache), then a close and a pause for the server's
  // close to free its socket. Returns the addresses of the server's sockets (inbound, of `cgroup`).
  auto serve_connections = [&](const CgroupServer& server, const ScratchCgroup& cgroup) {
    std::set<uint64_t> addresses;
    for (int i = 0; i < kConnections; ++i) {
      int client = socket(AF_INET, SOCK_STREAM, 0);
      setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &five_seconds, sizeof(five_seconds));
      EXPECT_EQ(connect(client, server.addr(), server.addr_len()), 0);
      char buf[8];
      for (int request = 0; request < 2; ++request) {
        EXPECT_EQ(write(client, "req\n", 4), 4);
        EXPECT_GT(read(client, buf, sizeof(buf)), 0);
      }
      for (const SocketRecord& rec : (*every_socket)->sockets())
        if (rec.state.cgroup_id == cgroup.id()) addresses.insert(rec.sk);
      close(client);
      std::this_thread::sleep_for(5ms);
    }
    return addresses;
  };
  std::set<uint64_t> ignored_addresses = serve_connections(ignored_server, ignored);
  std::set<uint64_t> watched_addresses = serve_connections(watched_server, watched);

  int reused = 0;
  for (uint64_t sk : watched_addresses) reused += ignored_addresses.count(sk);
  std::printf("%d of %zu watched server sockets had an ignored server socket's address\n", reused,
              watched_addresses.size());
  CgroupStats counted = (*obs)->cgroup_stats(watched.id()).value_or(CgroupStats{});
  EXPECT_EQ(counted.requests_completed, 2u * kConnections) << "every request of the watched server counted";
  EXPECT_EQ((*obs)->cgroup_stats(ignored.id()).value_or(CgroupStats{}).requests_completed, 0u);
  EXPECT_EQ(counted.inflight, 0);
}

// Connections of a watched server, all established before any of them carries data: each waits for its owner's
// first receive in unclaimed_connections, or, where another waiting connection holds its slot, gets its state when
// established. Either way it must count as an accepted connection (not as one open before sigdrain started, which
// would hide a real old connection from the drain) and count its request.
TEST_P(ObserverSockets, ConnectionsWaitingForTheirFirstDataCountAsAccepted) {
  ObserverOptions options = socket_options();
  options.watch_all_cgroups = false;
  auto obs = Observer::start(options, [](const ObservedEvent&) {});
  ASSERT_TRUE(obs) << obs.error().message;
  if (!(*obs)->observes_requests()) GTEST_SKIP() << (*obs)->requests_unobserved_reason();

  // Enough that some share a slot (8,192 slots: ~140 pairs expected for 1,500), and both ends' descriptors.
  constexpr int kConnections = 1500;
  rlimit files{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0);
  if (files.rlim_max < kConnections + 100) GTEST_SKIP() << "RLIMIT_NOFILE's hard limit is " << files.rlim_max;
  const rlimit before = files;
  files.rlim_cur = files.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &files), 0);

  ScratchCgroup cg;
  ASSERT_NE(cg.id(), 0u);
  ASSERT_TRUE((*obs)->watch_cgroup(cg.id()));
  CgroupServer server(
      cg,
      [](int listener) {
        std::vector<int> accepted;
        for (int i = 0; i < kConnections; ++i) accepted.push_back(accept(listener, nullptr, nullptr));
        char buf[4];
        for (int conn : accepted)
          if (read(conn, buf, sizeof(buf)) > 0) (void)!write(conn, "ok\n", 3);
        for (;;) pause();
      },
      kConnections);
  ASSERT_GT(server.pid(), 0);

  const timeval five_seconds{5, 0};
  std::vector<int> clients;
  for (int i = 0; i < kConnections; ++i) {
    int client = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(client, 0);
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &five_seconds, sizeof(five_seconds));
    ASSERT_EQ(connect(client, server.addr(), server.addr_len()), 0);
    clients.push_back(client);
  }
  for (int client : clients) EXPECT_EQ(write(client, "req\n", 4), 4);
  char buf[4];
  for (int client : clients) EXPECT_EQ(read(client, buf, sizeof(buf)), 3);
  auto counted_stats = [&] { return (*obs)->cgroup_stats(cg.id()).value_or(CgroupStats{}); };
  // The answer's send completes its request after the client could read it.
  eventually([&] { return counted_stats().requests_completed == static_cast<uint64_t>(kConnections); });

  CgroupStats counted = counted_stats();
  EXPECT_EQ(counted.requests_completed, static_cast<uint64_t>(kConnections));
  EXPECT_EQ(counted.open_inbound, kConnections);
  EXPECT_EQ(counted.inflight, 0);
  EXPECT_EQ(counted.adopted_open, 0) << "a connection accepted while observed counted as one opened before";
  std::set<uint32_t> slots;
  int accepted = 0, sharing = 0;
  for (const SocketRecord& rec : (*obs)->sockets()) {
    if (rec.state.cgroup_id != cg.id() || rec.state.direction == SIGDRAIN_DIR_LISTEN) continue;
    EXPECT_EQ(rec.state.direction, SIGDRAIN_DIR_INBOUND);
    ++accepted;
    sharing += !slots.insert(sigdrain_socket_slot(rec.sk)).second;
  }
  EXPECT_EQ(accepted, kConnections);
  if ((*obs)->request_probes() == RequestProbeSet::tracepoint) {  // the other probe sets use no slots
    std::printf("%d of %d connections waited for their first data in a slot another one held\n", sharing, accepted);
    EXPECT_GT(sharing, 0) << "the slot of a connection already held was not exercised";
  }

  for (int client : clients) close(client);
  server.stop();  // closes the server's ends
  auto open_inbound = [&] { return (*obs)->cgroup_stats(cg.id()).value_or(CgroupStats{}).open_inbound; };
  // 1,500 closes take a while under an emulated CPU (the kernel matrix runs qemu without acceleration).
  EXPECT_TRUE(eventually([&] { return open_inbound() == 0; }, 10000ms)) << open_inbound();
  setrlimit(RLIMIT_NOFILE, &before);
}

// The client sends a request and resets the connection before the server reads it. The server's socket closes
// (TCP_CLOSE, in softirq) before its read returns the queued request: that read must not bring the closed socket
// back as a connection in flight, which would keep its container busy until the drain deadline. The same order
// happens when a reset arrives during a send or receive: the socket lock defers it to the end of the call, before
// the sock_*_length tracepoints fire.
TEST_P(ObserverSockets, ReadingAfterTheClientResetLeavesNothingInFlight) {
  auto obs = Observer::start(socket_options(), [](const ObservedEvent&) {});
  ASSERT_TRUE(obs) << obs.error().message;
  if (!(*obs)->observes_requests()) GTEST_SKIP() << (*obs)->requests_unobserved_reason();

  ScratchCgroup cg;
  ASSERT_NE(cg.id(), 0u);
  int pipe_to_test[2];
  ASSERT_EQ(pipe(pipe_to_test), 0);
  CgroupServer server(
      cg,
      [&](int listener) {
        signal(SIGPIPE, SIG_IGN);
        int conn = accept(listener, nullptr, nullptr);
        std::this_thread::sleep_for(300ms);  // the request and the reset arrive meanwhile
        char buf[16];
        ssize_t got = read(conn, buf, sizeof(buf));
        (void)!write(conn, "ok\n", 3);  // fails: the connection was reset
        (void)!write(pipe_to_test[1], &got, sizeof(got));
        for (;;) pause();
      },
      16);
  ASSERT_GT(server.pid(), 0);
  auto stats = [&] { return (*obs)->cgroup_stats(cg.id()).value_or(CgroupStats{}); };

  int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(client, server.addr(), server.addr_len()), 0);
  std::this_thread::sleep_for(100ms);  // accepted
  ASSERT_EQ(write(client, "req\n", 4), 4);
  linger reset{1, 0};
  ASSERT_EQ(setsockopt(client, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)), 0);
  close(client);  // RST

  ssize_t got = 0;
  ASSERT_EQ(read(pipe_to_test[0], &got, sizeof(got)), static_cast<ssize_t>(sizeof(got)));
  close(pipe_to_test[0]);
  close(pipe_to_test[1]);
  ASSERT_EQ(got, 4) << "the kernel keeps the queued request readable after the reset";
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(stats().inflight, 0) << "a closed socket came back as a request in flight";
  EXPECT_EQ(stats().open_inbound, 0);
  EXPECT_EQ(stats().adopted_open, 0);
}

}  // namespace
}  // namespace sigdrain
