#include "hold/lsm_hold.hpp"

#include <linux/types.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstddef>
#include <cstring>
#include <limits>

#include "lsm_hold.h"
#include "lsm_hold.skel.h"
#include "hold/hold_backend.hpp"
#include "observer/observer.hpp"
#include "util/fd.hpp"

namespace sigdrain {

static_assert(sizeof(sigdrain_refused_event) == 48);
static_assert(offsetof(sigdrain_refused_event, sender_tgid) == 8);
static_assert(offsetof(sigdrain_refused_event, target_tgid) == 16);
static_assert(offsetof(sigdrain_refused_event, sig) == 24);
static_assert(offsetof(sigdrain_refused_event, sender_comm) == 32);
static_assert(sizeof(sigdrain_lsm_target) == 8);

std::uint64_t lease_expiry_ns(std::uint64_t now_ns, std::chrono::nanoseconds lease) {
  if (lease.count() <= 0) return now_ns;
  auto add = static_cast<std::uint64_t>(lease.count());
  return now_ns > std::numeric_limits<std::uint64_t>::max() - add ? std::numeric_limits<std::uint64_t>::max() : now_ns + add;
}

std::optional<RefusedSignal> decode_refused_signal(std::span<const std::byte> record) {
  if (record.size() != sizeof(sigdrain_refused_event)) return std::nullopt;
  sigdrain_refused_event e;
  std::memcpy(&e, record.data(), sizeof e);
  return RefusedSignal{static_cast<pid_t>(e.sender_tgid),
                       static_cast<pid_t>(e.sender_tid),
                       std::string(e.sender_comm, strnlen(e.sender_comm, sizeof e.sender_comm)),
                       static_cast<pid_t>(e.target_tgid),
                       static_cast<pid_t>(e.target_tid),
                       static_cast<int>(e.sig),
                       e.time_ns};
}

struct LsmHold::Impl {
  Owned<lsm_hold_bpf, &lsm_hold_bpf__destroy> skel;
  Owned<ring_buffer, &ring_buffer__free> ring;
  RefusedCallback on_refused;
  int handled = 0;

  static int on_record(void* ctx, void* data, size_t size) {
    auto* self = static_cast<Impl*>(ctx);
    if (auto r = decode_refused_signal(std::span(static_cast<const std::byte*>(data), size))) {
      self->on_refused(*r);
      ++self->handled;
    }
    return 0;
  }
  void set_lease_expiry(std::uint64_t ns) { __atomic_store_n(&skel->bss->lease_expires_ns, ns, __ATOMIC_RELAXED); }
};

Result<std::unique_ptr<LsmHold>> LsmHold::load(const KernelEnv& env, LsmHoldOptions options, RefusedCallback on_refused) {
  if (auto why = env.bpf_lsm_unavailable_reason(); !why.empty()) return Error::msg(why);
  auto mask = hold_signal_mask(options.refused_signals);
  if (!mask) return mask.error();
  long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  if (ticks_per_second <= 0) return Error::sys(errno, "sysconf(_SC_CLK_TCK)");

  auto impl = std::make_unique<Impl>();
  impl->on_refused = std::move(on_refused);
  impl->skel.reset(lsm_hold_bpf__open());
  if (!impl->skel) return Error::sys(errno, "cannot open the LSM hold BPF object");
  impl->skel->rodata->daemon_tgid = static_cast<__u32>(options.exempt_tgid ? options.exempt_tgid : ::getpid());
  impl->skel->rodata->refused_signals = *mask;
  impl->skel->rodata->ns_per_tick = 1'000'000'000ULL / static_cast<std::uint64_t>(ticks_per_second);
  if (int err = lsm_hold_bpf__load(impl->skel.get())) return Error::sys(-err, "cannot load the LSM hold BPF program");
  if (int err = lsm_hold_bpf__attach(impl->skel.get())) return Error::sys(-err, "cannot attach the LSM hold BPF program");
  impl->ring.reset(ring_buffer__new(bpf_map__fd(impl->skel->maps.refusals), &Impl::on_record, impl.get(), nullptr));
  if (!impl->ring) return Error::sys(errno, "cannot open the LSM hold ring buffer");
  return std::unique_ptr<LsmHold>(new LsmHold(std::move(impl)));
}

LsmHold::LsmHold(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LsmHold::~LsmHold() {
  end_lease();
  unguard_all();
}

Result<void> LsmHold::guard(pid_t tgid, std::uint64_t start_ticks) {
  auto key = static_cast<__u32>(tgid);
  sigdrain_lsm_target target{start_ticks};
  if (bpf_map_update_elem(bpf_map__fd(impl_->skel->maps.guarded_targets), &key, &target, BPF_ANY) != 0)
    return Error::sys(errno, fmt::format("cannot guard PID {} with BPF LSM", tgid));
  guarded_.insert(tgid);
  return {};
}

Result<void> LsmHold::unguard(pid_t tgid) {
  auto key = static_cast<__u32>(tgid);
  guarded_.erase(tgid);
  if (bpf_map_delete_elem(bpf_map__fd(impl_->skel->maps.guarded_targets), &key) != 0 && errno != ENOENT)
    return Error::sys(errno, fmt::format("cannot unguard PID {} in the BPF LSM map", tgid));
  return {};
}

void LsmHold::unguard_all() {
  for (pid_t tgid : std::set<pid_t>(guarded_)) (void)unguard(tgid);
}

void LsmHold::renew_lease(std::chrono::nanoseconds lease) {
  impl_->set_lease_expiry(lease_expiry_ns(monotonic_now_ns(), lease));
}

void LsmHold::end_lease() { impl_->set_lease_expiry(0); }

Result<int> LsmHold::poll(std::chrono::milliseconds timeout) {
  impl_->handled = 0;
  int rc = ring_buffer__poll(impl_->ring.get(), static_cast<int>(timeout.count()));
  if (rc < 0 && rc != -EINTR) return Error::sys(-rc, "reading the LSM hold ring buffer");
  return impl_->handled;
}

int LsmHold::event_fd() const { return ring_buffer__epoll_fd(impl_->ring.get()); }

LsmHoldCounters LsmHold::counters() const {
  const auto* bss = impl_->skel->bss;
  return {__atomic_load_n(&bss->counters[SIGDRAIN_LSM_CNT_REFUSED], __ATOMIC_RELAXED),
          __atomic_load_n(&bss->counters[SIGDRAIN_LSM_CNT_RINGBUF_DROPS], __ATOMIC_RELAXED),
          __atomic_load_n(&bss->counters[SIGDRAIN_LSM_CNT_LEASE_EXPIRED], __ATOMIC_RELAXED)};
}

}  // namespace sigdrain
