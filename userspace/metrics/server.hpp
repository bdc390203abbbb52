// The daemon's HTTP endpoint on its own thread: /metrics (the latest snapshot the daemon published), /healthz
// (200 while the daemon's loop ran recently, for a liveness probe) and /readyz (200 once the daemon is ready).
// The daemon thread never waits for the HTTP thread: publishing swaps a pointer under a mutex that the HTTP
// thread holds only to copy that pointer; heartbeats and readiness are atomics.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "metrics/listen_address.hpp"
#include "util/result.hpp"

namespace sigdrain::metrics {

// /healthz fails once the daemon's loop has not run for this long (it runs at least every 500 ms).
inline constexpr std::chrono::seconds kLiveWithin{10};

class MetricsServer {
 public:
  // Binds at once (a bind failure is the returned error), then serves on its own thread until destroyed.
  static Result<std::unique_ptr<MetricsServer>> start(const ListenAddress& address,
                                                      std::chrono::milliseconds live_within = kLiveWithin);
  ~MetricsServer();  // stops serving and joins the thread
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const;  // the bound port (the kernel's choice when asked for 0)
  void publish(std::string exposition);  // what /metrics serves from now on
  void beat();                            // the daemon's loop ran
  void mark_ready();

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sigdrain::metrics
