#include "hold/stop_gate.hpp"

#include <linux/types.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstddef>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "stop_gate.h"
#include "stop_gate.skel.h"
#include "hold/hold_backend.hpp"
#include "hold/lsm_hold.hpp"
#include "observer/kernel_env.hpp"
#include "observer/observer.hpp"
#include "proc/pidfd.hpp"
#include "proc/proc.hpp"
#include "util/fd.hpp"

namespace sigdrain {

static_assert(sizeof(sigdrain_gated) == 24 + SIGDRAIN_GATE_ID_LEN);
static_assert(offsetof(sigdrain_gated, start_ns) == 8);
static_assert(offsetof(sigdrain_gated, tgid) == 16);
static_assert(offsetof(sigdrain_gated, signo) == 20);
static_assert(offsetof(sigdrain_gated, container) == 24);
static_assert(sizeof(sigdrain_gate_comm) == 16);

namespace {

Result<sigdrain_gate_id> id_key(const std::string& id) {
  sigdrain_gate_id key{};
  if (id.empty() || id.size() >= sizeof key.id)
    return Error::msg(fmt::format("container id \"{}\" does not fit the stop gate's key", id));
  std::memcpy(key.id, id.data(), id.size());
  return key;
}

}  // namespace

std::optional<GatedProcess> decode_gated(std::span<const std::byte> record) {
  if (record.size() != sizeof(sigdrain_gated)) return std::nullopt;
  sigdrain_gated g;
  std::memcpy(&g, record.data(), sizeof g);
  return GatedProcess{static_cast<pid_t>(g.tgid), g.start_ns, g.stopped_ns, static_cast<int>(g.signo),
                      std::string(g.container.id, strnlen(g.container.id, sizeof g.container.id))};
}

std::string stop_gate_unavailable_reason() {
  if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop, nullptr) != 1)
    return "the kernel lacks bpf_loop for tracepoint programs (Linux 5.17+)";
  if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_send_signal, nullptr) != 1)
    return "the kernel lacks bpf_send_signal for tracepoint programs";
  return "";
}

bool gate_overdue(const GatedProcess& p, std::uint64_t now, std::chrono::nanoseconds bound) {
  return now < p.stopped_ns || now - p.stopped_ns >= static_cast<std::uint64_t>(bound.count());
}

std::vector<GatedProcess> read_gated(int map_fd) {
  std::vector<GatedProcess> out;
  __u32 key = 0, next = 0;
  __u32* prev = nullptr;
  while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
    sigdrain_gated value;
    if (bpf_map_lookup_elem(map_fd, &next, &value) == 0)
      if (auto g = decode_gated(std::as_bytes(std::span(&value, 1)))) out.push_back(*g);
    key = next;
    prev = &key;
  }
  return out;
}

Result<void> continue_gated(int map_fd, const GatedProcess& p) {
  auto key = static_cast<__u32>(p.tgid);
  Result<void> result;
  // Through a pidfd opened before the identity check, so the SIGCONT cannot reach a later process with that pid.
  UniqueFd pidfd = open_pidfd(p.tgid);
  long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  auto start_ticks = ProcFs().start_time(p.tgid);
  bool same = pidfd && ticks_per_second > 0 && start_ticks &&
              *start_ticks == p.start_ns / (1'000'000'000ULL / static_cast<std::uint64_t>(ticks_per_second));
  if (same) result = send_through_pidfd(pidfd.get(), p.tgid, SIGCONT);
  if (bpf_map_delete_elem(map_fd, &key) != 0 && errno != ENOENT && result)
    result = Error::sys(errno, fmt::format("cannot delete pid {} from the stop gate's map", p.tgid));
  return result;
}

struct StopGate::Impl {
  Owned<stop_gate_bpf, &stop_gate_bpf__destroy> skel;
  Owned<ring_buffer, &ring_buffer__free> ring;
  GatedCallback on_gated;
  std::vector<int> gated_signals;
  std::set<std::string> guarded;
  int handled = 0;

  static int on_record(void* ctx, void* data, size_t size) {
    auto* self = static_cast<Impl*>(ctx);
    if (auto g = decode_gated(std::span(static_cast<const std::byte*>(data), size))) {
      ++self->handled;
      self->on_gated(*g);
    }
    return 0;
  }
  void set_lease_expiry(std::uint64_t ns) { __atomic_store_n(&skel->bss->lease_expires_ns, ns, __ATOMIC_RELAXED); }
};

Result<std::unique_ptr<StopGate>> StopGate::load(StopGateOptions options, GatedCallback on_gated) {
  if (auto why = stop_gate_unavailable_reason(); !why.empty()) return Error::msg(why);
  if (auto tracefs = ensure_tracefs(); !tracefs) return tracefs.error();
  std::erase(options.gated_signals, SIGKILL);  // never: a SIGKILL must land at once
  auto mask = hold_signal_mask(options.gated_signals);
  if (!mask) return mask.error();
  auto impl = std::make_unique<Impl>();
  impl->on_gated = std::move(on_gated);
  impl->gated_signals = std::move(options.gated_signals);
  impl->skel.reset(stop_gate_bpf__open());
  if (!impl->skel) return Error::sys(errno, "cannot open the stop gate BPF object");
  impl->skel->rodata->gated_signals = *mask;
  if (options.runtimes.size() > SIGDRAIN_GATE_MAX_RUNTIMES)
    return Error::msg(fmt::format("{} runtime names: the stop gate takes at most {}", options.runtimes.size(),
                                  SIGDRAIN_GATE_MAX_RUNTIMES));
  for (size_t i = 0; i < options.runtimes.size(); ++i) {
    const std::string& runtime = options.runtimes[i];
    if (runtime.empty() || runtime.size() >= sizeof(sigdrain_gate_comm::comm))
      return Error::msg(fmt::format("runtime name \"{}\" is not a comm (1..15 bytes)", runtime));
    sigdrain_gate_comm& comm = impl->skel->rodata->runtime_comms[i];  // zeroed: NUL-padded
    std::memcpy(comm.comm, runtime.data(), runtime.size());
  }
  impl->skel->rodata->runtime_count = static_cast<uint32_t>(options.runtimes.size());
  if (int err = stop_gate_bpf__load(impl->skel.get())) return Error::sys(-err, "cannot load the stop gate BPF program");
  if (int err = stop_gate_bpf__attach(impl->skel.get())) return Error::sys(-err, "cannot attach the stop gate BPF program");
  impl->ring.reset(ring_buffer__new(bpf_map__fd(impl->skel->maps.gate_events), &Impl::on_record, impl.get(), nullptr));
  if (!impl->ring) return Error::sys(errno, "cannot open the stop gate's ring buffer");
  return std::unique_ptr<StopGate>(new StopGate(std::move(impl)));
}

StopGate::StopGate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StopGate::~StopGate() {
  end_lease();
  stop_gate_bpf__detach(impl_->skel.get());  // nothing new is stopped, then nothing is left stopped
  release_all();
}

Result<void> StopGate::guard(const std::string& id) {
  auto key = id_key(id);
  if (!key) return key.error();
  __u8 one = 1;
  if (bpf_map_update_elem(bpf_map__fd(impl_->skel->maps.guarded_ids), &*key, &one, BPF_ANY) != 0)
    return Error::sys(errno, fmt::format("cannot guard container {} at the stop gate", id));
  impl_->guarded.insert(id);
  return {};
}

Result<void> StopGate::unguard(const std::string& id) {
  impl_->guarded.erase(id);
  auto key = id_key(id);
  if (!key) return {};
  if (bpf_map_delete_elem(bpf_map__fd(impl_->skel->maps.guarded_ids), &*key) != 0 && errno != ENOENT)
    return Error::sys(errno, fmt::format("cannot unguard container {} at the stop gate", id));
  return {};
}

bool StopGate::still_gated(const GatedProcess& p) const {
  auto key = static_cast<__u32>(p.tgid);
  sigdrain_gated value;
  return bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.gated), &key, &value) == 0 && value.stopped_ns == p.stopped_ns;
}

std::span<const int> StopGate::gated_signals() const { return impl_->gated_signals; }

bool StopGate::guarding(const std::string& id) const { return impl_->guarded.contains(id); }

void StopGate::renew_lease(std::chrono::nanoseconds lease) {
  impl_->set_lease_expiry(lease_expiry_ns(monotonic_now_ns(), lease));
}

void StopGate::end_lease() { impl_->set_lease_expiry(0); }

std::size_t StopGate::release_all() {
  std::size_t n = 0;
  for (const auto& g : read_gated(gated_map_fd())) n += continue_gated(gated_map_fd(), g) ? 1 : 0;
  return n;
}

Result<int> StopGate::poll(std::chrono::milliseconds timeout) {
  impl_->handled = 0;
  int rc = ring_buffer__poll(impl_->ring.get(), static_cast<int>(timeout.count()));
  if (rc < 0 && rc != -EINTR) return Error::sys(-rc, "reading the stop gate's ring buffer");
  return impl_->handled;
}

int StopGate::event_fd() const { return ring_buffer__epoll_fd(impl_->ring.get()); }
int StopGate::gated_map_fd() const { return bpf_map__fd(impl_->skel->maps.gated); }

StopGateCounters StopGate::counters() const {
  const auto* bss = impl_->skel->bss;
  auto load = [&](int i) { return __atomic_load_n(&bss->counters[i], __ATOMIC_RELAXED); };
  return {load(SIGDRAIN_GATE_CNT_STOPPED),     load(SIGDRAIN_GATE_CNT_RINGBUF_DROPS), load(SIGDRAIN_GATE_CNT_MAP_FULL),
          load(SIGDRAIN_GATE_CNT_ARGV_UNREAD), load(SIGDRAIN_GATE_CNT_NOT_A_KILL),    load(SIGDRAIN_GATE_CNT_SEND_FAILED)};
}

}  // namespace sigdrain
