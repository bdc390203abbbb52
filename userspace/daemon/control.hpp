// The daemon's control socket: a Unix stream socket in the state directory, mode 0600, that answers one request
// per connection. Only root may talk to it (checked with SO_PEERCRED, not just file modes).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "util/fd.hpp"
#include "util/result.hpp"

namespace sigdrain {

// The daemon's reply to one request: the body of an answered request, or its refusal (the one-line reason).
// On the wire a body is sent as it is and a refusal as the line "error: REASON"; encode_reply() and decode_reply()
// are the only places that know this. A body never starts with "error: " (ps sends JSON lines, unguard "ok").
using ControlReply = Result<std::string>;
std::string encode_reply(const ControlReply& reply);
ControlReply decode_reply(std::string_view wire);

// The requests the daemon answers: "ps" (one JSON line per container it knows) and "unguard ID" (safe-stop takes
// the container over). Parsed here only; anything else is an error naming the known ones.
struct ControlRequest {
  enum class Kind { ps, unguard };
  Kind kind = Kind::ps;
  std::string container_id;  // unguard
};
Result<ControlRequest> parse_control_request(std::string_view line);

class ControlServer {
 public:
  // `handle` gets the request line and returns the reply.
  using Handler = std::function<ControlReply(const std::string& request)>;
  static Result<ControlServer> listen(const std::string& path, Handler handle);
  // Serves the connections that are waiting; never blocks.
  void serve_pending();
  int fd() const { return fd_.get(); }  // readable when a client waits

 private:
  ControlServer(UniqueFd fd, Handler handle) : fd_(std::move(fd)), handle_(std::move(handle)) {}
  UniqueFd fd_;
  Handler handle_;
};

// Sends one request to the daemon and returns its reply; an error when no daemon answers.
Result<ControlReply> control_request(const std::string& path, const std::string& request);

}  // namespace sigdrain
