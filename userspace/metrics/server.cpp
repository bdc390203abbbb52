#include "metrics/server.hpp"

#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

namespace sigdrain::metrics {
namespace {

constexpr const char* kExpositionType = "text/plain; version=0.0.4; charset=utf-8";
constexpr size_t kHttpThreads = 2;  // scrapes and probes are rare and answered from memory

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

struct MetricsServer::Impl {
  httplib::Server http;
  std::thread thread;
  int port = 0;
  std::chrono::milliseconds live_within{};
  std::mutex mutex;  // guards `exposition` (the pointer, not the text: a published text never changes)
  std::shared_ptr<const std::string> exposition = std::make_shared<const std::string>();
  std::atomic<int64_t> last_beat_ns{0};
  std::atomic<bool> ready{false};
  std::atomic<bool> listening_ended{false};

  std::shared_ptr<const std::string> latest() {
    std::lock_guard lock(mutex);
    return exposition;
  }
};

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const ListenAddress& address, std::chrono::milliseconds live_within) {
  auto impl = std::make_unique<Impl>();
  Impl* self = impl.get();
  self->live_within = live_within;
  self->last_beat_ns = steady_ns();  // starting up counts as alive; the loop takes over from here
  self->http.new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  // httplib's default adds SO_REUSEPORT, which lets a second listener share the port silently: a port in use
  // must be a bind failure. SO_REUSEADDR keeps a restart from waiting for old connections in TIME_WAIT.
  self->http.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  self->http.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    auto text = self->latest();
    res.set_content(text->data(), text->size(), kExpositionType);
  });
  self->http.Get("/healthz", [self](const httplib::Request&, httplib::Response& res) {
    auto since = std::chrono::nanoseconds(steady_ns() - self->last_beat_ns.load());
    if (since < self->live_within) {
      res.set_content("ok\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content(fmt::format("the daemon's loop last ran {} ms ago\n",
                                  std::chrono::duration_cast<std::chrono::milliseconds>(since).count()),
                      "text/plain");
    }
  });
  self->http.Get("/readyz", [self](const httplib::Request&, httplib::Response& res) {
    if (self->ready.load()) {
      res.set_content("ready\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("not ready: loading BPF or discovering containers\n", "text/plain");
    }
  });

  errno = 0;
  self->port = address.port == 0 ? self->http.bind_to_any_port(address.host)
                                 : (self->http.bind_to_port(address.host, address.port) ? address.port : -1);
  if (self->port <= 0) {
    std::string what = "cannot listen on " + format_listen_address(address) + " for metrics";
    return errno ? Error::sys(errno, what) : Error::msg(what);
  }
  self->thread = std::thread([self] {
    self->http.listen_after_bind();
    self->listening_ended = true;
  });
  // stop() only takes effect once the server runs: wait for that, so that the destructor can always stop it.
  while (!self->http.is_running() && !self->listening_ended) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint16_t MetricsServer::port() const { return static_cast<uint16_t>(impl_->port); }

void MetricsServer::publish(std::string exposition) {
  auto text = std::make_shared<const std::string>(std::move(exposition));
  std::lock_guard lock(impl_->mutex);
  impl_->exposition.swap(text);
}  // the old text is freed here, after the lock is released (or by the HTTP thread once it has sent it)

void MetricsServer::beat() { impl_->last_beat_ns = steady_ns(); }

void MetricsServer::mark_ready() { impl_->ready = true; }

}  // namespace sigdrain::metrics
