// `sigdrain_fleet connect`: idle keep-alive connections spread over the fleet.
// `sigdrain_fleet stop`: containers stopped under request load the way a runtime stops them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fleet.hpp"
#include "util/fd.hpp"

namespace sigdrain::fleet {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto kFailurePause = milliseconds(50);  // like tests/e2e/loadgen.py: a refusing port costs ~20 tries/s
constexpr auto kRequestTimeout = std::chrono::seconds(10);

sockaddr_in loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  return addr;
}

bool complete_ok(const std::string& response) {
  return response.starts_with("HTTP/1.1 200 ") && response.ends_with("\r\n\r\nok\n");
}

void wait_for_termination() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  ::sigprocmask(SIG_BLOCK, &signals, nullptr);
  int signo = 0;
  ::sigwait(&signals, &signo);
}

// One keep-alive connection that has carried one request: open and owned by the server's process, idle.
std::optional<UniqueFd> send_first_request(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = loopback(port);
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return std::nullopt;
  timeval timeout{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  constexpr std::string_view kRequest = "GET / HTTP/1.1\r\nHost: fleet\r\n\r\n";
  if (::send(fd.get(), kRequest.data(), kRequest.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(kRequest.size()))
    return std::nullopt;
  return fd;
}

bool read_first_response(int fd) {
  std::string response;
  char buf[512];
  while (!response.ends_with("ok\n")) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    response.append(buf, static_cast<size_t>(n));
  }
  return complete_ok(response);
}

}  // namespace

int run_connect(const std::filesystem::path& dir, int wanted) {
  std::vector<Member> members = read_manifest(dir);
  if (members.empty()) die("the manifest lists no container");
  uint64_t limit = raise_nofile_limit();
  if (static_cast<uint64_t>(wanted) + 64 > limit)
    die(fmt::format("{} connections need more file descriptors than RLIMIT_NOFILE's hard limit {}", wanted, limit));
  std::vector<UniqueFd> open;
  int failed = 0;
  auto start = Clock::now();
  // In rounds of one connection per container: connect and send on each, then read every answer, so that the
  // servers answer in parallel.
  while (static_cast<int>(open.size()) + failed < wanted) {
    std::vector<UniqueFd> round;
    for (const Member& m : members) {
      if (static_cast<int>(open.size() + round.size()) + failed >= wanted) break;
      if (auto fd = send_first_request(m.port))
        round.push_back(std::move(*fd));
      else
        ++failed;
    }
    for (UniqueFd& fd : round) {
      if (read_first_response(fd.get()))
        open.push_back(std::move(fd));
      else
        ++failed;
    }
  }
  auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  std::printf("ready %zu connections open, %d failed, in %lld ms\n", open.size(), failed, static_cast<long long>(ms));
  std::fflush(stdout);
  wait_for_termination();
  return failed == 0 ? 0 : 1;
}

namespace {

struct Target {
  Member member;
  UniqueFd pidfd;
  Clock::time_point stop_at, lag_end, kill_at, exited_at;
  bool signalled = false, killed = false, exited = false;
  uint64_t sent = 0, sent_after_stop = 0, ok = 0;
  std::map<std::string, uint64_t> errors;
  std::optional<int64_t> last_ok_ms_after_stop;
  // The load balancer keeps sending until its lag has passed, whether the container still runs or not.
  bool accepting(Clock::time_point now) const { return !signalled || now < lag_end; }
  uint64_t failed() const {
    uint64_t n = 0;
    for (const auto& [kind, count] : errors) n += count;
    return n;
  }
};

struct Client {
  size_t target = 0;
  UniqueFd fd;
  enum class Phase { waiting, connecting, reading } phase = Phase::waiting;
  std::string response;
  Clock::time_point next_start, deadline;
};

// Every event loop token: a client index, or a target index with this bit set (its pidfd).
constexpr uint64_t kPidfdTag = uint64_t{1} << 32;

class StopRun {
 public:
  explicit StopRun(const StopOptions& o) : options_(o), epoll_(::epoll_create1(EPOLL_CLOEXEC)), random_(::getpid()) {
    std::vector<Member> members = read_manifest(o.dir);
    int guarded = 0, unguarded = 0;
    for (const Member& m : members) {
      int& taken = m.guarded ? guarded : unguarded;
      if (taken >= (m.guarded ? o.guarded_targets : o.unguarded_targets)) continue;
      ++taken;
      Target t;
      t.member = m;
      t.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, m.pid, 0)));
      if (!t.pidfd) die(fmt::format("{} (pid {}) is not running", m.name, m.pid));
      targets_.push_back(std::move(t));
    }
    if (guarded < o.guarded_targets || unguarded < o.unguarded_targets)
      die(fmt::format("the fleet has {} guarded and {} unguarded containers; asked to stop {} and {}", guarded,
                      unguarded, o.guarded_targets, o.unguarded_targets));
  }

  void run() {
    auto start = Clock::now();
    for (size_t i = 0; i < targets_.size(); ++i) {
      Target& t = targets_[i];
      t.stop_at = start + milliseconds(options_.warmup_ms + static_cast<int>(i) * options_.stagger_ms);
      t.lag_end = t.stop_at + milliseconds(options_.lag_ms);
      t.kill_at = t.stop_at + std::chrono::seconds(t.member.stop_timeout_s);
      watch(t.pidfd.get(), EPOLLIN, kPidfdTag | i);
      for (int c = 0; c < options_.clients; ++c) {
        Client client;
        client.target = i;
        client.next_start = start + milliseconds(c * 20);
        clients_.push_back(std::move(client));
      }
    }
    // Every init is SIGKILLed at its timeout, so all have exited well before this; past it something is wrong.
    Clock::time_point give_up = start;
    for (const Target& t : targets_) give_up = std::max(give_up, t.kill_at + kRequestTimeout);
    for (;;) {
      auto now = Clock::now();
      if (now > give_up) die("some containers did not exit even after SIGKILL");
      act_as_runtime(now);
      bool busy = false;
      for (size_t c = 0; c < clients_.size(); ++c) busy |= step_client(c, now);
      if (!busy && std::all_of(targets_.begin(), targets_.end(), [](const Target& t) { return t.exited; })) break;
      epoll_event ready[64];
      int n = ::epoll_wait(epoll_.get(), ready, 64, 5);
      for (int i = 0; i < n; ++i) on_ready(ready[i].data.u64, ready[i].events);
    }
  }

  // One JSON object per target, then a summary; exit codes as the supervisor recorded them.
  void report() {
    std::map<std::string, Exit> exits;
    for (int attempt = 0; attempt < 200 && exits.size() < targets_.size(); ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(milliseconds(10));
      for (const Exit& e : read_exits(options_.dir)) exits[e.id] = e;
    }
    nlohmann::json summary = {{"targets", targets_.size()}, {"failed", 0}, {"sigkilled_by_runtime", 0}, {"sent", 0}};
    for (const Target& t : targets_) {
      nlohmann::json j = {
          {"name", t.member.name},
          {"id", t.member.id},
          {"guarded", t.member.guarded},
          {"stop_ms", std::chrono::duration_cast<milliseconds>(t.exited_at - t.stop_at).count()},
          {"sigkilled_by_runtime", t.killed},
          {"sent", t.sent},
          {"sent_after_stop", t.sent_after_stop},
          {"ok", t.ok},
          {"failed", t.failed()},
          {"errors", t.errors},
          {"last_ok_ms_after_stop", t.last_ok_ms_after_stop ? nlohmann::json(*t.last_ok_ms_after_stop) : nullptr}};
      auto e = exits.find(t.member.id);
      j["exit_code"] = e == exits.end() ? nullptr : nlohmann::json(e->second.code);
      j["exit_signal"] = e == exits.end() ? nullptr : nlohmann::json(e->second.signal);
      std::printf("%s\n", j.dump().c_str());
      if (t.member.guarded) {
        summary["failed"] = summary["failed"].get<uint64_t>() + t.failed();
        summary["sigkilled_by_runtime"] = summary["sigkilled_by_runtime"].get<int>() + (t.killed ? 1 : 0);
        summary["sent"] = summary["sent"].get<uint64_t>() + t.sent;
      }
    }
    std::printf("%s\n", nlohmann::json{{"summary_of_guarded", summary}}.dump().c_str());
  }

 private:
  void watch(int fd, uint32_t events, uint64_t token) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = token;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  }

  // What a runtime does for `stop -t <timeout>`: it execs `runc kill <id> 15` (which the daemon's stop gate
  // catches, as with podman and containerd), then SIGKILLs once the timeout has passed.
  void act_as_runtime(Clock::time_point now) {
    std::erase_if(runtimes_, [](pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) != 0; });
    for (Target& t : targets_) {
      if (!t.signalled && now >= t.stop_at) {
        exec_runtime_kill(t);
        t.signalled = true;
      }
      if (t.signalled && !t.exited && !t.killed && now >= t.kill_at) {
        (void)::syscall(SYS_pidfd_send_signal, t.pidfd.get(), SIGKILL, nullptr, 0);
        t.killed = true;
      }
    }
  }

  void exec_runtime_kill(const Target& t) {
    if (runtime_.empty()) {  // this binary under the runtime's name: main() then acts as `runc kill`
      runtime_ = options_.dir / "runc";
      std::filesystem::copy_file("/proc/self/exe", runtime_, std::filesystem::copy_options::overwrite_existing);
      std::filesystem::permissions(runtime_, std::filesystem::perms::owner_all);
    }
    std::string pid_env = fmt::format("{}={}", kFakeRuntimeTargetEnv, t.member.pid);
    pid_t pid = ::fork();
    if (pid < 0) die(fmt::format("fork: {}", std::strerror(errno)));
    if (pid == 0) {
      const char* argv[] = {"runc", "kill", t.member.id.c_str(), "15", nullptr};
      const char* envp[] = {pid_env.c_str(), nullptr};
      ::execve(runtime_.c_str(), const_cast<char**>(argv), const_cast<char**>(envp));
      ::_exit(127);
    }
    runtimes_.push_back(pid);
  }

  // Starts the client's next request when due, or fails one that took too long; true while the client has work.
  bool step_client(size_t index, Clock::time_point now) {
    Client& c = clients_[index];
    Target& t = targets_[c.target];
    if (c.phase != Client::Phase::waiting) {
      if (now >= c.deadline) fail(c, "read_timeout");
      return true;
    }
    if (!t.accepting(now)) return false;
    if (now < c.next_start) return true;
    ++t.sent;
    if (t.signalled) ++t.sent_after_stop;
    c.response.clear();
    c.deadline = now + kRequestTimeout;
    c.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in addr = loopback(t.member.port);
    if (::connect(c.fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      send_request(index);
    } else if (errno == EINPROGRESS) {
      c.phase = Client::Phase::connecting;
      watch(c.fd.get(), EPOLLOUT, index);
    } else {
      fail(c, errno == ECONNREFUSED ? "refused" : fmt::format("connect_error_{}", errno));
    }
    return true;
  }

  void send_request(size_t index) {
    Client& c = clients_[index];
    std::uniform_int_distribution<int> ms(options_.min_request_ms, options_.max_request_ms);
    std::string request =
        fmt::format("GET /slow?ms={} HTTP/1.1\r\nHost: fleet\r\nConnection: close\r\n\r\n", ms(random_));
    if (::send(c.fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
      return fail(c, "reset");
    if (c.phase == Client::Phase::connecting) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = index;
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
    } else {
      watch(c.fd.get(), EPOLLIN, index);
    }
    c.phase = Client::Phase::reading;
  }

  void on_ready(uint64_t token, uint32_t events) {
    if (token & kPidfdTag) {
      Target& t = targets_[token & ~kPidfdTag];
      t.exited = true;
      t.exited_at = Clock::now();
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, t.pidfd.get(), nullptr);
      return;
    }
    Client& c = clients_[token];
    if (c.phase == Client::Phase::connecting) {
      int error = 0;
      socklen_t len = sizeof error;
      ::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
      if (error != 0) return fail(c, error == ECONNREFUSED ? "refused" : fmt::format("connect_error_{}", error));
      if (events & EPOLLOUT) send_request(token);
      return;
    }
    if (c.phase != Client::Phase::reading) return;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
      if (n > 0) {
        c.response.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EAGAIN) return;
      if (n < 0) return fail(c, errno == ECONNRESET ? "reset" : fmt::format("read_error_{}", errno));
      break;  // the server closed after its answer (the request asked for that)
    }
    if (complete_ok(c.response)) return succeed(c);
    fail(c, c.response.empty() ? "closed_no_response" : "closed_mid_body");
  }

  void succeed(Client& c) {
    Target& t = targets_[c.target];
    auto now = Clock::now();
    ++t.ok;
    if (t.signalled) t.last_ok_ms_after_stop = std::chrono::duration_cast<milliseconds>(now - t.stop_at).count();
    c.fd.reset();
    c.phase = Client::Phase::waiting;
    c.next_start = now;
  }

  void fail(Client& c, const std::string& kind) {
    ++targets_[c.target].errors[kind];
    c.fd.reset();
    c.phase = Client::Phase::waiting;
    c.next_start = Clock::now() + kFailurePause;
  }

  StopOptions options_;
  UniqueFd epoll_;
  std::mt19937 random_;
  std::vector<Target> targets_;
  std::vector<Client> clients_;
  std::filesystem::path runtime_;  // options_.dir/runc, once the first stop needs it
  std::vector<pid_t> runtimes_;    // runtime kills not yet reaped
};

}  // namespace

int run_fake_runtime_kill(int argc, char** argv) {
  const char* target = std::getenv(kFakeRuntimeTargetEnv);
  if (argc != 4 || std::string_view(argv[1]) != "kill" || !target) {
    std::fprintf(stderr, "runc (sigdrain_fleet): want `runc kill ID SIGNO` with %s set\n", kFakeRuntimeTargetEnv);
    return 2;
  }
  if (::kill(std::atoi(target), std::atoi(argv[3])) != 0) {
    std::fprintf(stderr, "runc (sigdrain_fleet): kill %s: %s\n", target, std::strerror(errno));
    return 1;
  }
  return 0;
}

int run_stop(const StopOptions& options) {
  StopRun run(options);
  run.run();
  run.report();
  return 0;
}

}  // namespace sigdrain::fleet
