#include "observer/observer.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>

#include "signals.skel.h"
#include "sockets.skel.h"

namespace sigdrain {
namespace {

std::atomic<bool> g_libbpf_verbose{false};

int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && !g_libbpf_verbose.load()) return 0;
  if (level == LIBBPF_INFO && !g_libbpf_verbose.load()) return 0;
  return std::vfprintf(stderr, format, args);
}

struct SignalsSkelDeleter {
  void operator()(signals_bpf* s) const { signals_bpf__destroy(s); }
};
struct SocketsSkelDeleter {
  void operator()(sockets_bpf* s) const { sockets_bpf__destroy(s); }
};
struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};

Error libbpf_error(int err, const char* what) {
  err = err < 0 ? -err : err;
  if (err == EPERM || err == EACCES)
    return Error::sys(err, fmt::format("{} (BPF needs root with CAP_BPF/CAP_SYS_ADMIN; a kernel lockdown may refuse it)", what));
  return Error::sys(err, what);
}

}  // namespace

void set_libbpf_verbose(bool verbose) { g_libbpf_verbose.store(verbose); }

struct Observer::Impl {
  std::unique_ptr<signals_bpf, SignalsSkelDeleter> signals;
  std::unique_ptr<sockets_bpf, SocketsSkelDeleter> sockets;
  std::unique_ptr<ring_buffer, RingBufferDeleter> ring;
  Handler handler;
  int handled = 0;

  static int on_record(void* ctx, void* data, size_t size) {
    auto* self = static_cast<Impl*>(ctx);
    if (auto ev = decode_event(std::span(static_cast<const std::byte*>(data), size))) {
      self->handler(*ev);
      ++self->handled;
    }
    return 0;
  }
};

Result<std::unique_ptr<Observer>> Observer::start(const ObserverOptions& options, Handler handler) {
  libbpf_set_print(libbpf_print);
  auto env = prepare_kernel_env();
  if (!env) return env.error();

  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);

  impl->signals.reset(signals_bpf__open());
  if (!impl->signals) return libbpf_error(errno, "cannot open the signals BPF object");
  impl->signals->rodata->signal_mask = options.signal_mask;
  impl->signals->rodata->report_deliver = options.report_deliver ? 1 : 0;
  if (int err = signals_bpf__load(impl->signals.get())) return libbpf_error(err, "cannot load the signals BPF programs");
  if (int err = signals_bpf__attach(impl->signals.get())) return libbpf_error(err, "cannot attach the signals BPF programs");

  if (options.sockets) {
    impl->sockets.reset(sockets_bpf__open());
    if (!impl->sockets) return libbpf_error(errno, "cannot open the sockets BPF object");
    bpf_map__set_max_entries(impl->sockets->maps.sock_states, options.max_sockets);
    if (!env->socket_data_tracepoints) {
      // Without sock_{send,recv}_length only connection lifecycle is seen; requests in flight are unknown.
      bpf_program__set_autoload(impl->sockets->progs.on_sock_recv_length, false);
      bpf_program__set_autoload(impl->sockets->progs.on_sock_send_length, false);
    }
    if (int err = sockets_bpf__load(impl->sockets.get())) return libbpf_error(err, "cannot load the socket BPF programs");
    if (int err = sockets_bpf__attach(impl->sockets.get())) return libbpf_error(err, "cannot attach the socket BPF programs");
  }

  impl->ring.reset(ring_buffer__new(bpf_map__fd(impl->signals->maps.events), &Impl::on_record, impl.get(), nullptr));
  if (!impl->ring) return libbpf_error(errno, "cannot open the BPF ring buffer");
  return std::unique_ptr<Observer>(new Observer(std::move(impl), std::move(*env)));
}

Observer::Observer(std::unique_ptr<Impl> impl, KernelEnv env) : impl_(std::move(impl)), env_(std::move(env)) {}
Observer::~Observer() = default;

Result<int> Observer::poll(std::chrono::milliseconds timeout) {
  impl_->handled = 0;
  int rc = ring_buffer__poll(impl_->ring.get(), static_cast<int>(timeout.count()));
  if (rc < 0 && rc != -EINTR) return Error::sys(-rc, "reading the BPF ring buffer");
  return impl_->handled;
}

std::optional<CgroupStats> Observer::cgroup_stats(uint64_t cgroup_id) const {
  if (!impl_->sockets) return std::nullopt;
  sigdrain_cgroup_stats raw{};
  if (bpf_map_lookup_elem(bpf_map__fd(impl_->sockets->maps.cgroup_stats), &cgroup_id, &raw) != 0) return std::nullopt;
  return CgroupStats{raw.open_inbound,       raw.inflight,         raw.listening,   raw.requests_started,
                     raw.requests_completed, raw.last_activity_ns, raw.adopted_open};
}

std::vector<SocketRecord> Observer::sockets() const {
  std::vector<SocketRecord> out;
  if (!impl_->sockets) return out;
  int fd = bpf_map__fd(impl_->sockets->maps.sock_states);
  uint64_t key = 0, next = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    SocketRecord rec{next, {}};
    if (bpf_map_lookup_elem(fd, &next, &rec.state) == 0) out.push_back(rec);
    key = next;
    prev = &key;
  }
  return out;
}

ObserverCounters Observer::counters() const {
  ObserverCounters c;
  const auto* bss = impl_->signals->bss;
  c.events = __atomic_load_n(&bss->counters[SIGDRAIN_CNT_EVENTS], __ATOMIC_RELAXED);
  c.ringbuf_drops = __atomic_load_n(&bss->counters[SIGDRAIN_CNT_RINGBUF_DROPS], __ATOMIC_RELAXED);
  if (impl_->sockets) {
    const auto* sbss = impl_->sockets->bss;
    c.socket_state_failures = __atomic_load_n(&sbss->counters[SIGDRAIN_SOCK_CNT_NEW_STATE_FAIL], __ATOMIC_RELAXED);
    c.cgroup_state_failures = __atomic_load_n(&sbss->counters[SIGDRAIN_SOCK_CNT_NEW_CGROUP_FAIL], __ATOMIC_RELAXED);
  }
  return c;
}

bool Observer::observes_requests() const { return impl_->sockets && env_.socket_data_tracepoints; }

uint64_t monotonic_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

std::chrono::system_clock::time_point monotonic_ns_to_wall(uint64_t monotonic_ns) {
  auto wall_now = std::chrono::system_clock::now();
  int64_t delta = static_cast<int64_t>(monotonic_now_ns()) - static_cast<int64_t>(monotonic_ns);
  return wall_now - std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(delta));
}

}  // namespace sigdrain
