// A real TCP server with a slow handler, in a cgroup of its own: its requests in flight are counted while a
// client waits and drop to zero afterwards.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "observer/observer.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A throwaway cgroup v2 directory; its inode is the id bpf_get_current_cgroup_id() reports for its members.
class ScratchCgroup {
 public:
  ScratchCgroup() {
    fs::path root = fs::exists("/sys/fs/cgroup/unified/cgroup.procs") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
    path_ = root / ("sigdrain-test-" + std::to_string(getpid()));
    fs::create_directory(path_);
    struct stat st {};
    if (stat(path_.c_str(), &st) == 0) id_ = st.st_ino;
  }
  ~ScratchCgroup() { rmdir(path_.c_str()); }
  uint64_t id() const { return id_; }
  void enter(pid_t pid) const { std::ofstream(path_ / "cgroup.procs") << pid; }

 private:
  fs::path path_;
  uint64_t id_ = 0;
};

// Serves one-line requests: peeks, reads, sleeps `delay`, answers, until the client closes.
[[noreturn]] void serve(int listener, std::chrono::milliseconds delay) {
  for (;;) {
    int conn = accept(listener, nullptr, nullptr);
    if (conn < 0) _exit(1);
    char buf[64];
    while (recv(conn, buf, sizeof(buf), MSG_PEEK) > 0 && read(conn, buf, sizeof(buf)) > 0) {
      std::this_thread::sleep_for(delay);
      (void)!write(conn, "ok\n", 3);
    }
    close(conn);
  }
}

TEST(ObserverSockets, RequestsInFlightFollowASlowServer) {
  auto obs = Observer::start(ObserverOptions{}, [](const ObservedEvent&) {});
  ASSERT_TRUE(obs) << obs.error().message;
  if (!(*obs)->observes_requests()) {
    ASSERT_EQ((*obs)->kernel().request_probes(), RequestProbeSet::none)
        << "the kernel offers a request probe set, yet: " << (*obs)->requests_unobserved_reason();
    GTEST_SKIP() << (*obs)->requests_unobserved_reason();
  }
  std::printf("request probe set: %s\n", std::string(request_probe_set_name((*obs)->request_probes())).c_str());

  ScratchCgroup cg;
  ASSERT_NE(cg.id(), 0u);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t server = fork();
  if (server == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char c;
    (void)!read(go[0], &c, 1);  // wait until moved into the scratch cgroup
    listen(listener, 16);        // listen() in the server's cgroup
    (void)!write(go[1], "l", 1);
    serve(listener, 800ms);
  }
  close(listener);
  cg.enter(server);
  ASSERT_EQ(write(go[1], "g", 1), 1);
  std::this_thread::sleep_for(50ms);
  char c;
  ASSERT_EQ(read(go[0], &c, 1), 1);

  auto stats = [&] { return (*obs)->cgroup_stats(cg.id()).value_or(CgroupStats{}); };
  EXPECT_EQ(stats().listening, 1);

  int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(write(client, "req\n", 4), 4);
  std::this_thread::sleep_for(300ms);  // the server has read the request and sleeps in its handler
  EXPECT_EQ(stats().inflight, 1);
  EXPECT_EQ(stats().open_inbound, 1);

  char buf[8];
  ASSERT_GT(read(client, buf, sizeof(buf)), 0);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(stats().inflight, 0) << "answered: nothing in flight on an idle keep-alive connection";
  EXPECT_EQ(stats().open_inbound, 1);
  EXPECT_EQ(stats().requests_completed, 1u);
  int server_side = 0;
  for (const SocketRecord& rec : (*obs)->sockets()) {
    if (rec.state.cgroup_id != cg.id() || rec.state.direction != SIGDRAIN_DIR_INBOUND) continue;
    ++server_side;
    EXPECT_EQ(rec.state.bytes_recv, 4u) << "the server's MSG_PEEK must not count";
    EXPECT_EQ(rec.state.bytes_sent, 3u);
  }
  EXPECT_EQ(server_side, 1);

  close(client);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(stats().open_inbound, 0);
  EXPECT_EQ(stats().inflight, 0);

  kill(server, SIGKILL);
  waitpid(server, nullptr, 0);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(stats().listening, 0);
  EXPECT_EQ((*obs)->counters().socket_state_failures, 0u);
}

}  // namespace
}  // namespace sigdrain
