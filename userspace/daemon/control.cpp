#include "daemon/control.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace sigdrain {
namespace {

constexpr size_t kMaxRequest = 4096;
constexpr std::string_view kRefusalPrefix = "error: ";
constexpr int kIoTimeoutMs = 1000;

Result<sockaddr_un> address_of(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return Error::msg(fmt::format("control socket path too long: {}", path));
  path.copy(addr.sun_path, path.size());
  return addr;
}

bool wait_for(int fd, short events) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, kIoTimeoutMs) == 1;
}

bool write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    if (!wait_for(fd, POLLOUT)) return false;
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string encode_reply(const ControlReply& reply) {
  if (reply) return *reply;
  const std::string& reason = reply.error().message;
  return fmt::format("{}{}\n", kRefusalPrefix, std::string_view(reason).substr(0, reason.find('\n')));
}

ControlReply decode_reply(std::string_view wire) {
  if (!wire.starts_with(kRefusalPrefix)) return std::string(wire);
  wire.remove_prefix(kRefusalPrefix.size());
  return Error::msg(std::string(wire.substr(0, wire.find('\n'))));
}

Result<ControlRequest> parse_control_request(std::string_view line) {
  if (line == "ps") return ControlRequest{ControlRequest::Kind::ps, ""};
  constexpr std::string_view kUnguard = "unguard ";
  if (line.starts_with(kUnguard) && line.size() > kUnguard.size())
    return ControlRequest{ControlRequest::Kind::unguard, std::string(line.substr(kUnguard.size()))};
  return Error::msg(fmt::format("unknown request \"{}\" (known: ps, unguard ID)", line));
}

Result<ControlServer> ControlServer::listen(const std::string& path, Handler handle) {
  auto addr = address_of(path);
  if (!addr) return addr.error();
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Error::msg(fmt::format("{} exists and is not a socket; refusing to replace it", path));
    ::unlink(path.c_str());  // a stale socket of a dead daemon (the lock says no other daemon runs)
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return Error::sys(errno, "control socket");
  mode_t old = ::umask(0077);
  int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
  ::umask(old);
  if (rc != 0) return Error::sys(errno, fmt::format("cannot bind {}", path));
  if (::listen(fd.get(), 16) != 0) return Error::sys(errno, fmt::format("cannot listen on {}", path));
  return ControlServer(std::move(fd), std::move(handle));
}

void ControlServer::serve_pending() {
  for (;;) {
    UniqueFd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0) {
      write_all(conn.get(), encode_reply(Error::msg("the sigdrain daemon answers only root")));
      continue;
    }
    std::string request;
    char buf[512];
    while (request.find('\n') == std::string::npos && request.size() < kMaxRequest && wait_for(conn.get(), POLLIN)) {
      ssize_t n = ::recv(conn.get(), buf, sizeof(buf), 0);
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    request = request.substr(0, request.find('\n'));
    write_all(conn.get(), encode_reply(handle_(request)));
  }
}

Result<ControlReply> control_request(const std::string& path, const std::string& request) {
  auto addr = address_of(path);
  if (!addr) return addr.error();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::sys(errno, "socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0)
    return Error::sys(errno, fmt::format("no sigdrain daemon answers on {}", path));
  if (!write_all(fd.get(), request + "\n")) return Error::sys(errno, "cannot send to the daemon");
  std::string answer;
  char buf[4096];
  while (wait_for(fd.get(), POLLIN)) {
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  return decode_reply(answer);
}

}  // namespace sigdrain
