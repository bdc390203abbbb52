#include "fleet_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <map>
#include <string>
#include <string_view>

#include "util/fd.hpp"

namespace sigdrain::fleet {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMaxSlowMs = 60000;
constexpr std::string_view kResponse = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nok\n";
constexpr std::string_view kLastResponse = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

volatile sig_atomic_t g_terminating = 0;
int g_wake_fd = -1;  // write end of a self-pipe: the handler wakes epoll_wait even between two of its calls

void on_sigterm(int) {
  g_terminating = 1;
  const char byte = 0;
  (void)!::write(g_wake_fd, &byte, 1);
}

struct Connection {
  UniqueFd fd;
  std::string request;     // bytes of a request not yet complete
  bool answering = false;  // a request was read and its response is not written yet
  bool close_after = false;
  bool idle() const { return !answering && request.empty(); }
};

// The delay a request asks for: /slow?ms=N, else 0.
int requested_delay_ms(std::string_view request_line) {
  constexpr std::string_view kSlow = "GET /slow?ms=";
  if (!request_line.starts_with(kSlow)) return 0;
  std::string_view digits = request_line.substr(kSlow.size());
  int ms = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), ms);
  return std::clamp(ms, 0, kMaxSlowMs);
}

class Server {
 public:
  Server(UniqueFd listener, UniqueFd epoll, UniqueFd wake_read)
      : listener_(std::move(listener)), epoll_(std::move(epoll)), wake_read_(std::move(wake_read)) {
    watch(listener_.get());
    watch(wake_read_.get());
  }

  int run() {
    for (;;) {
      if (g_terminating && listener_) begin_shutdown();
      if (!listener_ && answering_ == 0) return 0;
      epoll_event ready[64];
      int n = ::epoll_wait(epoll_.get(), ready, 64, timeout_ms());
      for (int i = 0; i < n; ++i) {
        int fd = ready[i].data.fd;
        if (fd == listener_.get())
          accept_all();
        else if (fd == wake_read_.get())
          drain_wake_pipe();
        else
          on_readable(fd);
      }
      answer_due();
    }
  }

 private:
  void watch(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  }

  int timeout_ms() const {
    if (due_.empty()) return -1;
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(due_.begin()->first - Clock::now()).count();
    return static_cast<int>(std::max<int64_t>(wait, 0));
  }

  void drain_wake_pipe() {
    char buf[64];
    while (::read(wake_read_.get(), buf, sizeof buf) > 0) {
    }
  }

  void accept_all() {
    for (;;) {
      int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or out of fds: the rest wait in the backlog
      watch(fd);
      connections_[fd].fd.reset(fd);
    }
  }

  void on_readable(int fd) {
    auto it = connections_.find(fd);
    if (it == connections_.end()) return;
    Connection& c = it->second;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        if (!c.answering) c.request.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EAGAIN) break;
      close_connection(fd);  // EOF or error: whatever was asked is abandoned by the client
      return;
    }
    size_t end = c.request.find("\r\n\r\n");
    if (c.answering || end == std::string::npos) return;
    std::string_view head(c.request.data(), end);
    c.close_after = head.find("onnection: close") != std::string_view::npos;
    int delay_ms = requested_delay_ms(head.substr(0, head.find("\r\n")));
    c.request.erase(0, end + 4);
    c.answering = true;
    ++answering_;
    due_.emplace(Clock::now() + std::chrono::milliseconds(delay_ms), fd);
  }

  void answer_due() {
    auto now = Clock::now();
    while (!due_.empty() && due_.begin()->first <= now) {
      int fd = due_.begin()->second;
      due_.erase(due_.begin());
      auto it = connections_.find(fd);
      if (it == connections_.end()) continue;
      Connection& c = it->second;
      bool last = c.close_after || !listener_;
      std::string_view response = last ? kLastResponse : kResponse;
      bool written =
          ::send(fd, response.data(), response.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(response.size());
      c.answering = false;
      --answering_;
      if (last || !written) close_connection(fd);
    }
  }

  void close_connection(int fd) {
    auto it = connections_.find(fd);
    if (it == connections_.end()) return;
    if (it->second.answering) {
      --answering_;
      std::erase_if(due_, [fd](const auto& entry) { return entry.second == fd; });
    }
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    connections_.erase(it);
  }

  // Stop accepting (new connections are refused from now on), let idle keep-alive connections go, and keep only
  // the requests in flight, which are answered with "Connection: close".
  void begin_shutdown() {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr);
    listener_.reset();
    for (auto it = connections_.begin(); it != connections_.end();) {
      int fd = (it++)->first;
      if (connections_.at(fd).idle()) close_connection(fd);
    }
  }

  UniqueFd listener_, epoll_, wake_read_;
  std::map<int, Connection> connections_;
  std::multimap<Clock::time_point, int> due_;  // responses to write, by when
  int answering_ = 0;
};

}  // namespace

int serve(int port_pipe) {
  int wake[2];
  if (::pipe2(wake, O_NONBLOCK | O_CLOEXEC) != 0) return 1;
  UniqueFd wake_read(wake[0]);
  g_wake_fd = wake[1];
  struct sigaction sa {};
  sa.sa_handler = on_sigterm;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, SIGTERM);
  ::sigprocmask(SIG_UNBLOCK, &unblock, nullptr);

  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (!listener || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener.get(), 4096) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return 1;
  uint16_t port = ntohs(addr.sin_port);
  if (::write(port_pipe, &port, sizeof port) != sizeof port) return 1;
  ::close(port_pipe);
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return 1;
  return Server(std::move(listener), std::move(epoll), std::move(wake_read)).run();
}

}  // namespace sigdrain::fleet
