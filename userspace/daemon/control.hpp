// The daemon's control socket: a Unix stream socket in the state directory, mode 0600, that answers one request
// per connection. Only root may talk to it (checked with SO_PEERCRED, not just file modes).
#pragma once

#include <functional>
#include <string>

#include "util/fd.hpp"
#include "util/result.hpp"

namespace sigdrain {

class ControlServer {
 public:
  // `handle` gets the request line and returns the whole answer.
  using Handler = std::function<std::string(const std::string& request)>;
  static Result<ControlServer> listen(const std::string& path, Handler handle);
  // Serves the connections that are waiting; never blocks.
  void serve_pending();
  int fd() const { return fd_.get(); }  // readable when a client waits

 private:
  ControlServer(UniqueFd fd, Handler handle) : fd_(std::move(fd)), handle_(std::move(handle)) {}
  UniqueFd fd_;
  Handler handle_;
};

// Sends one request to the daemon and returns its answer.
Result<std::string> control_request(const std::string& path, const std::string& request);

}  // namespace sigdrain
