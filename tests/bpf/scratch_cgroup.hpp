// Helpers shared by the BPF tests: a throwaway cgroup v2 directory and a tiny TCP server.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

namespace sigdrain {

// A throwaway cgroup v2 directory (with `leaf` below it when given, e.g. "libpod-<id>" to look like a container);
// its inode is the id bpf_get_current_cgroup_id() reports for its members.
class ScratchCgroup {
 public:
  explicit ScratchCgroup(const std::string& leaf = "") {
    std::filesystem::path root =
        std::filesystem::exists("/sys/fs/cgroup/unified/cgroup.procs") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
    top_ = root / ("sigdrain-test-" + std::to_string(getpid()));
    std::filesystem::create_directory(top_);
    path_ = leaf.empty() ? top_ : top_ / leaf;
    std::filesystem::create_directory(path_);
    struct stat st {};
    if (stat(path_.c_str(), &st) == 0) id_ = st.st_ino;
  }
  ~ScratchCgroup() {
    rmdir(path_.c_str());
    rmdir(top_.c_str());
  }
  ScratchCgroup(const ScratchCgroup&) = delete;
  ScratchCgroup& operator=(const ScratchCgroup&) = delete;
  uint64_t id() const { return id_; }
  // As /proc/<pid>/cgroup names it: "/sigdrain-test-N[/leaf]".
  std::string key() const { return "/" + std::filesystem::relative(path_, top_.parent_path()).string(); }
  void enter(pid_t pid) const { std::ofstream(path_ / "cgroup.procs") << pid; }

 private:
  std::filesystem::path top_, path_;
  uint64_t id_ = 0;
};

// Polls `condition` every 5 ms until it holds or `timeout` passes; returns its last value. For what the kernel
// does in its own time (a server reading, a close), which a fixed sleep misjudges under an emulated CPU.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  for (auto until = std::chrono::steady_clock::now() + timeout; !condition();) {
    if (std::chrono::steady_clock::now() >= until) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Serves one-line requests: peeks, reads, sleeps `delay`, answers, until the client closes.
[[noreturn]] inline void serve(int listener, std::chrono::milliseconds delay) {
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

// A forked serve() on 127.0.0.1 that calls listen() only once it is in `cgroup`, so the listener is the cgroup's.
// Killed and reaped on destruction. `pid` is 0 when it could not be started.
class CgroupServer {
 public:
  CgroupServer(const ScratchCgroup& cgroup, std::chrono::milliseconds delay, int backlog)
      : CgroupServer(cgroup, [delay](int listener) { serve(listener, delay); }, backlog) {}
  // Runs `serve_listener` (which must not return) on the listening socket instead of serve().
  CgroupServer(const ScratchCgroup& cgroup, const std::function<void(int listener)>& serve_listener, int backlog) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    addr_.sin_family = AF_INET;
    addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr_);
    // Two pipes, one per direction: with one, the parent could read back its own "go" as the child's "listening".
    int go[2], listening_pipe[2];
    if (bind(listener, reinterpret_cast<sockaddr*>(&addr_), sizeof(addr_)) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&addr_), &len) != 0 || pipe(go) != 0) {
      close(listener);
      return;
    }
    if (pipe(listening_pipe) != 0) {
      close(go[0]);
      close(go[1]);
      close(listener);
      return;
    }
    pid_t server = fork();
    if (server == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(go[1]);
      close(listening_pipe[0]);
      char c;
      (void)!read(go[0], &c, 1);  // wait until moved into the cgroup
      listen(listener, backlog);
      (void)!write(listening_pipe[1], "l", 1);
      serve_listener(listener);
      _exit(0);
    }
    close(listener);
    close(go[0]);
    close(listening_pipe[1]);
    cgroup.enter(server);
    char c = 'g';
    bool listening = write(go[1], &c, 1) == 1 && read(listening_pipe[0], &c, 1) == 1;
    close(go[1]);
    close(listening_pipe[0]);
    pid_ = server;
    if (!listening) stop();
  }
  ~CgroupServer() { stop(); }
  CgroupServer(const CgroupServer&) = delete;
  CgroupServer& operator=(const CgroupServer&) = delete;
  pid_t pid() const { return pid_; }
  const sockaddr* addr() const { return reinterpret_cast<const sockaddr*>(&addr_); }
  socklen_t addr_len() const { return sizeof(addr_); }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

 private:
  sockaddr_in addr_{};
  pid_t pid_ = 0;
};

// A client connected to `server`, with a 5 s receive timeout (a server that never answers fails a test instead of
// hanging it); -1 when it could not connect.
inline int connected_client(const CgroupServer& server) {
  int client = socket(AF_INET, SOCK_STREAM, 0);
  const timeval five_seconds{5, 0};
  setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &five_seconds, sizeof(five_seconds));
  if (client >= 0 && connect(client, server.addr(), server.addr_len()) == 0) return client;
  if (client >= 0) close(client);
  return -1;
}

}  // namespace sigdrain
