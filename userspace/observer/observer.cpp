#include "observer/observer.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>

#include "dispositions.skel.h"
#include "observer/bpf_pins.hpp"
#include "observer/cpu_list.hpp"
#include "observer/stats_slots.hpp"
#include "observer/time_ordered_events.hpp"
#include "observer/tracepoint_event.hpp"
#include "signals.skel.h"
#include "sockets.skel.h"
#include "util/fd.hpp"
#include "util/files.hpp"
#include "util/text.hpp"

namespace sigdrain {
namespace {

std::atomic<bool> g_libbpf_verbose{false};

int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && !g_libbpf_verbose.load()) return 0;
  if (level == LIBBPF_INFO && !g_libbpf_verbose.load()) return 0;
  return std::vfprintf(stderr, format, args);
}

Error libbpf_error(int err, const char* what) {
  err = err < 0 ? -err : err;
  if (err == EPERM || err == EACCES)
    return Error::sys(err, fmt::format("{} (BPF needs root with CAP_BPF/CAP_SYS_ADMIN; a kernel lockdown may refuse it)", what));
  return Error::sys(err, what);
}

using SocketsSkel = Owned<sockets_bpf, &sockets_bpf__destroy>;

// The keys of a hash map keyed by a u64, all read before any is deleted (a delete while walking restarts the walk).
std::vector<uint64_t> map_keys(int fd) {
  std::vector<uint64_t> keys;
  uint64_t key = 0, next = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    keys.push_back(next);
    key = next;
    prev = &key;
  }
  return keys;
}

// The maps pinned as one: adopted all together or not at all, since the counts in cgroup_stats stand for flags in
// sock_states, the generation in watch_state for those of ignored sockets, and unclaimed_connections holds the
// direction of connections that have no state yet. (counters, in .bss, are this
// process's diagnostics and are not pinned.)
std::vector<bpf_map*> pinned_maps(sockets_bpf& skel) {
  return {skel.maps.sock_states, skel.maps.closed_sockets, skel.maps.cgroup_stats, skel.maps.watched_cgroups,
          skel.maps.watch_state, skel.maps.unclaimed_connections};
}

// Why the map pinned as `pinned_fd` is not the one this build would create for `map`; empty when it is. The same
// fields libbpf compares before it reuses a pinned map.
std::string pin_mismatch(int pinned_fd, const bpf_map* map) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(pinned_fd, &info, &len) != 0) return fmt::format("unreadable: {}", std::strerror(errno));
  if (info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
      info.value_size == bpf_map__value_size(map) && info.max_entries == bpf_map__max_entries(map) &&
      info.map_flags == bpf_map__map_flags(map))
    return "";
  return fmt::format("type {} key {} value {} entries {} flags {:#x} where this build wants {} {} {} {} {:#x}", info.type,
                     info.key_size, info.value_size, info.max_entries, info.map_flags,
                     static_cast<int>(bpf_map__type(map)), bpf_map__key_size(map), bpf_map__value_size(map),
                     bpf_map__max_entries(map), bpf_map__map_flags(map));
}

void say(const ObserverOptions& options, const std::string& line) {
  if (options.log) options.log(line);
}

// Before load: points every map at its pin, so that libbpf reuses what is pinned there and pins what it creates.
// A layout that is not wholly this build's (another layout version, a map of another shape, a map missing) is
// removed first, with its links, and said in one line.
Result<SocketPins> prepare_map_pins(sockets_bpf& skel, const ObserverOptions& options) {
  const std::string& root = options.pin_root;
  for (const std::string& other : other_socket_layouts(root)) {
    say(options, fmt::format("replacing the pinned socket maps of another sigdrain version ({}): connections open "
                             "before this start count as opened before the daemon",
                             other));
    if (auto r = remove_pin_tree(other); !r) return r.error();
  }
  const std::string dir = sockets_layout_dir(root);
  int found = 0;
  std::string mismatch;
  for (bpf_map* map : pinned_maps(skel)) {
    const std::string path = fmt::format("{}/{}", dir, bpf_map__name(map));
    UniqueFd pinned(bpf_obj_get(path.c_str()));
    if (!pinned) {
      if (errno != ENOENT && mismatch.empty()) mismatch = fmt::format("{}: {}", path, std::strerror(errno));
      continue;
    }
    ++found;
    if (std::string why = pin_mismatch(pinned.get(), map); !why.empty() && mismatch.empty())
      mismatch = fmt::format("{}: {}", bpf_map__name(map), why);
  }
  const int wanted = static_cast<int>(pinned_maps(skel).size());
  const bool adopt = found == wanted && mismatch.empty();
  if (!adopt && found > 0) {
    say(options, fmt::format("replacing the pinned socket maps at {} ({}): connections open before this start count "
                             "as opened before the daemon",
                             dir, !mismatch.empty() ? mismatch : fmt::format("{} of {} maps pinned", found, wanted)));
  }
  if (!adopt) {
    if (auto r = remove_pin_tree(dir); !r) return r.error();
  }
  for (bpf_map* map : pinned_maps(skel)) {
    const std::string path = fmt::format("{}/{}", dir, bpf_map__name(map));
    if (int err = bpf_map__set_pin_path(map, path.c_str())) return libbpf_error(err, "cannot set a map's pin path");
  }
  return adopt ? SocketPins::adopted : SocketPins::created;
}

// Pinning needs a BPF link for a tracepoint program (BPF_PERF_EVENT, Linux 5.15); 5.10 attaches tracepoints by
// ioctl only, which nothing can pin. Probed with an empty program (r0 = 0; exit) on sched_process_exit, which
// every supported kernel has; closing the link detaches it again.
Result<void> probe_tracepoint_links(const KernelEnv& env) {
  auto prog = load_empty_tracepoint_program("sd_link_probe");
  if (!prog) return Error::sys(prog.error().code, "cannot load a probe program");
  auto perf = open_tracepoint_event(env.tracefs, "sched/sched_process_exit");
  if (!perf) return perf.error();
  UniqueFd link(bpf_link_create(prog->get(), perf->get(), BPF_PERF_EVENT, nullptr));
  if (!link) return Error::msg("this kernel has no BPF links for tracepoint programs (Linux 5.15), so they cannot be pinned");
  return {};
}

// Attaches `prog` through a BPF link of its own, one that a pin keeps attached after this process (libbpf's
// perf-event links disable their event when destroyed, which would stop the counting at a SIGTERM'd exit).
Result<UniqueFd> attach_pinnable(bpf_program* prog, const KernelEnv& env) {
  std::string_view section = bpf_program__section_name(prog);
  constexpr std::string_view kTracepoint = "tracepoint/", kRawTracepoint = "raw_tp/";
  if (section.starts_with(kRawTracepoint)) {  // a raw tracepoint's fd is a link: detached when its last reference goes
    const std::string event(section.substr(kRawTracepoint.size()));
    UniqueFd link(bpf_raw_tracepoint_open(event.c_str(), bpf_program__fd(prog)));
    if (!link) return libbpf_error(errno, fmt::format("cannot attach {} to {}", bpf_program__name(prog), event).c_str());
    return link;
  }
  if (!section.starts_with(kTracepoint)) {  // fexit: a tracing link, detached only when its last reference goes
    UniqueFd link(bpf_link_create(bpf_program__fd(prog), 0, bpf_program__expected_attach_type(prog), nullptr));
    if (!link) return libbpf_error(errno, fmt::format("cannot attach {}", bpf_program__name(prog)).c_str());
    return link;
  }
  std::string event(section.substr(kTracepoint.size()));  // category/name
  auto perf = open_tracepoint_event(env.tracefs, event);
  if (!perf) return perf.error();
  // The link holds the event from here on; the event fd can close.
  UniqueFd link(bpf_link_create(bpf_program__fd(prog), perf->get(), BPF_PERF_EVENT, nullptr));
  if (!link) return libbpf_error(errno, fmt::format("cannot attach {} to {}", bpf_program__name(prog), event).c_str());
  (void)::ioctl(perf->get(), PERF_EVENT_IOC_ENABLE, 0);
  return link;
}

// After load: attaches every loaded program and makes its link the pinned one. The new links count before the old
// pins go, so nothing goes uncounted; for that moment an event runs both the old and the new program on the same
// maps, which counts nothing twice: every count is guarded by a per-socket flag the first program sets
// (INFLIGHT, OWNED, COUNTED, ADOPTED_COUNTED; a listening socket's state is not re-created; creations are NOEXIST;
// TCP_CLOSE deletes the state it uncounts). Only the per-socket byte totals, which no decision reads, may grow twice.
Result<std::vector<UniqueFd>> attach_pinned(sockets_bpf& skel, const KernelEnv& env, const std::string& dir) {
  std::vector<std::pair<std::string, UniqueFd>> links;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel.obj) {
    if (!bpf_program__autoload(prog)) continue;
    auto link = attach_pinnable(prog, env);
    if (!link) return link.error();
    links.emplace_back(bpf_program__name(prog), std::move(*link));
  }
  const std::string links_dir = dir + "/links";
  if (auto r = remove_pin_tree(links_dir); !r) return r.error();  // the old daemon's links: detached here
  if (::mkdir(links_dir.c_str(), 0700) != 0) return Error::sys(errno, fmt::format("cannot create {}", links_dir));
  std::vector<UniqueFd> out;
  for (auto& [name, fd] : links) {
    const std::string path = fmt::format("{}/{}", links_dir, name);
    if (bpf_obj_pin(fd.get(), path.c_str()) != 0) return Error::sys(errno, fmt::format("cannot pin {}", path));
    out.push_back(std::move(fd));
  }
  return out;
}

struct LoadedSockets {
  SocketsSkel skel;
  std::vector<UniqueFd> pinned_links;  // attached through these when pinned, not through the skeleton's links
  SocketPins pins = SocketPins::none;
  bool raw_tracepoints = false;  // the raw tracepoint programs loaded, not the classic ones
};

// Opens, loads and attaches bpf/sockets.bpf.c with the data programs of `probes` (connection lifecycle always).
Result<LoadedSockets> load_sockets(const ObserverOptions& options, const KernelEnv& env, RequestProbeSet probes,
                                   bool pin) {
  LoadedSockets out;
  out.skel.reset(sockets_bpf__open());
  SocketsSkel& skel = out.skel;
  if (!skel) return libbpf_error(errno, "cannot open the sockets BPF object");
  bpf_map__set_max_entries(skel->maps.sock_states, options.max_sockets);
  skel->rodata->watch_all_cgroups = options.watch_all_cgroups;
  const int cpus = libbpf_num_possible_cpus();
  skel->rodata->possible_cpus = cpus > 0 ? static_cast<uint32_t>(cpus) : 1;
  auto& progs = skel->progs;
  // The tracepoint programs cannot load where their context type is missing (CO-RE fails), so each set is
  // switched on only when chosen.
  const bool tracepoint = probes == RequestProbeSet::tracepoint, fexit = probes == RequestProbeSet::fexit;
  // The connection programs match the data programs: with the tracepoint ones a connection's state waits for its
  // owner's first data (bpf/sockets.bpf.c, unclaimed_connections); otherwise it is made when established.
  const bool raw = tracepoint && options.raw_tracepoints && env.raw_tracepoint_reads;
  out.raw_tracepoints = raw;
  bpf_program__set_autoload(progs.on_inet_sock_set_state_raw, raw);
  bpf_program__set_autoload(progs.on_inet_sock_set_state, tracepoint && !raw);
  bpf_program__set_autoload(progs.on_inet_sock_set_state_eager, !tracepoint);
  bpf_program__set_autoload(progs.on_sock_recv_length_raw, raw);
  bpf_program__set_autoload(progs.on_sock_send_length_raw, raw);
  bpf_program__set_autoload(progs.on_sock_recv_length, tracepoint && !raw);
  bpf_program__set_autoload(progs.on_sock_send_length, tracepoint && !raw);
  bpf_program__set_autoload(progs.on_tcp_sendmsg_exit, fexit);
  bpf_program__set_autoload(progs.on_tcp_recvmsg_exit, fexit && env.tcp_recvmsg_params == 5);
  bpf_program__set_autoload(progs.on_tcp_recvmsg_nonblock_exit, fexit && env.tcp_recvmsg_params == 6);
  if (pin) {
    auto pins = prepare_map_pins(*skel, options);
    if (!pins) return pins.error();
    out.pins = *pins;
  }
  if (int err = sockets_bpf__load(skel.get())) return libbpf_error(err, "cannot load the socket BPF programs");
  if (pin) {
    auto links = attach_pinned(*skel, env, sockets_layout_dir(options.pin_root));
    if (!links) return links.error();
    out.pinned_links = std::move(*links);
  } else if (int err = sockets_bpf__attach(skel.get())) {
    return libbpf_error(err, "cannot attach the socket BPF programs");
  }
  return out;
}

using DispositionsSkel = Owned<dispositions_bpf, &dispositions_bpf__destroy>;

Result<DispositionsSkel> load_dispositions() {
  DispositionsSkel skel(dispositions_bpf__open());
  if (!skel) return libbpf_error(errno, "cannot open the dispositions BPF object");
  if (int err = dispositions_bpf__load(skel.get())) return libbpf_error(err, "cannot load the dispositions BPF programs");
  if (int err = dispositions_bpf__attach(skel.get()))
    return libbpf_error(err, "cannot attach the dispositions BPF programs");
  return skel;
}

}  // namespace

constexpr const char* kOnlineCpusPath = "/sys/devices/system/cpu/online";

void set_libbpf_verbose(bool verbose) { g_libbpf_verbose.store(verbose); }

struct Observer::Impl {
  bool batched_wakeups = false;  // ObserverOptions::wakeup_backlog_bytes set: poll() must read without a wakeup
  DispositionsSkel dispositions;  // null unless options.track_dispositions and it loaded
  std::string dispositions_untracked_reason;
  bool exit_codes_on_demand = false;
  std::vector<Owned<bpf_link, &bpf_link__destroy>> exit_code_links;  // on demand: attached while tracked
  Owned<signals_bpf, &signals_bpf__destroy> signals;
  SocketsSkel sockets;
  std::vector<UniqueFd> pinned_links;  // closed after the skeleton's programs: the pins keep them attached
  SocketPins socket_pins = SocketPins::none;
  bool watch_all_cgroups = true;
  StatsSlots stats_slots{SIGDRAIN_STATS_SLOTS};  // given by watch_cgroup(), unless watch_all_cgroups
  RequestProbeSet request_probes = RequestProbeSet::none;
  bool raw_tracepoints = false;
  std::string requests_unobserved_reason;
  Owned<ring_buffer, &ring_buffer__free> ring;
  std::vector<std::pair<uint32_t, UniqueFd>> cpu_rings;  // per_cpu_rings: CPU, its ring (also held by cpu_events)
  // per_cpu_rings: what the rings gave, until it is old enough to be in order.
  std::optional<TimeOrderedEvents> reorder;
  Handler handler;
  int handled = 0;

  void hand_on(const ObservedEvent& ev) {
    handler(ev);
    ++handled;
  }

  // The slots the adopted watched_cgroups gives: the earlier daemon's watches go on.
  void mark_adopted_slots() {
    const int fd = bpf_map__fd(sockets->maps.watched_cgroups);
    for (uint64_t cgroup_id : map_keys(fd))
      if (uint32_t slot = 0; bpf_map_lookup_elem(fd, &cgroup_id, &slot) == 0) stats_slots.mark_taken(slot);
  }

  // What a ring's records are read with: the Observer, and which ring (`events` is 0, then the CPUs' rings).
  struct RingSource {
    Impl* impl;
    size_t index;
  };
  std::deque<RingSource> ring_sources;  // a deque: the addresses given to libbpf stay put

  static int on_record(void* ctx, void* data, size_t size) {
    const auto* source = static_cast<const RingSource*>(ctx);
    Impl* self = source->impl;
    if (auto ev = decode_event(std::span(static_cast<const std::byte*>(data), size))) {
      if (self->reorder)
        self->reorder->add(source->index, *ev);
      else
        self->hand_on(*ev);
    }
    return 0;
  }

  // A ring for each CPU in `cpus`, made before the programs load: the first is cpu_events' template for the
  // verifier.
  Result<void> create_cpu_rings(const std::vector<uint32_t>& cpus, uint32_t bytes_per_ring) {
    for (uint32_t cpu : cpus) {
      UniqueFd fd(bpf_map_create(BPF_MAP_TYPE_RINGBUF, "sd_cpu_events", 0, 0, bytes_per_ring, nullptr));
      if (!fd) return Error::sys(errno, fmt::format("cannot create the ring buffer of CPU {}", cpu));
      cpu_rings.emplace_back(cpu, std::move(fd));
    }
    if (cpu_rings.empty()) return Error::msg("no online CPU to give a ring buffer");
    if (int err = bpf_map__set_inner_map_fd(signals->maps.cpu_events, cpu_rings.front().second.get()))
      return libbpf_error(err, "cannot give cpu_events its ring buffers' template");
    return {};
  }

  // Once loaded: each ring in cpu_events at its CPU's index, and read by `ring`.
  Result<void> add_cpu_rings() {
    const int outer = bpf_map__fd(signals->maps.cpu_events);
    for (const auto& [cpu, fd] : cpu_rings) {
      const int inner = fd.get();
      if (bpf_map_update_elem(outer, &cpu, &inner, BPF_ANY) != 0)
        return Error::sys(errno, fmt::format("cannot give CPU {} its ring buffer", cpu));
      RingSource* source = &ring_sources.emplace_back(RingSource{this, ring_sources.size()});
      if (int err = ring_buffer__add(ring.get(), inner, &Impl::on_record, source))
        return libbpf_error(err, fmt::format("cannot read the ring buffer of CPU {}", cpu).c_str());
    }
    return {};
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
  impl->signals->rodata->wakeup_backlog_bytes = options.wakeup_backlog_bytes;
  impl->batched_wakeups = options.wakeup_backlog_bytes != 0;
  auto dispositions = options.track_dispositions ? load_dispositions() : Result<DispositionsSkel>(DispositionsSkel{});
  if (!dispositions) impl->dispositions_untracked_reason = dispositions.error().message;  // go on: "unknown" for all
  if (dispositions && *dispositions) {
    impl->dispositions = std::move(*dispositions);
    // One set of maps: signals.bpf.c reads the ones dispositions.bpf.c keeps.
    if (int err = bpf_map__reuse_fd(impl->signals->maps.process_actions, bpf_map__fd(impl->dispositions->maps.process_actions)))
      return libbpf_error(err, "cannot share the process_actions map");
    if (int err = bpf_map__reuse_fd(impl->signals->maps.thread_states, bpf_map__fd(impl->dispositions->maps.thread_states)))
      return libbpf_error(err, "cannot share the thread_states map");
    impl->signals->rodata->snapshot_dispositions = 1;
  } else {
    // Never read (snapshot_dispositions is 0, the verifier drops the code): one entry each, no memory.
    bpf_map__set_max_entries(impl->signals->maps.process_actions, 1);
    bpf_map__set_max_entries(impl->signals->maps.thread_states, 1);
  }
  uint32_t shared_ring_bytes = options.ring_buffer_bytes;
  if (options.per_cpu_rings) {
    const int possible = libbpf_num_possible_cpus();
    if (possible <= 0) return libbpf_error(possible, "cannot count the possible CPUs");
    // Rings for the CPUs online now: a VM may have far more possible than online.
    auto online_text = read_file(kOnlineCpusPath);
    if (!online_text) return online_text.error();
    auto online = parse_cpu_list(*online_text);
    if (!online)
      return Error::msg(fmt::format("cannot read {}: \"{}\"", kOnlineCpusPath, printable_text(trim(*online_text))));
    std::erase_if(*online, [&](uint32_t cpu) { return cpu >= static_cast<uint32_t>(possible); });
    const auto rings = static_cast<uint32_t>(std::max<size_t>(online->size(), 1));
    const uint32_t bytes_per_ring = std::max(kMinPerCpuRingBytes, std::bit_ceil(options.ring_buffer_bytes / rings));
    if (auto created = impl->create_cpu_rings(*online, bytes_per_ring); !created) return created.error();
    impl->signals->rodata->per_cpu_rings = 1;
    bpf_map__set_max_entries(impl->signals->maps.cpu_events, static_cast<uint32_t>(possible));
    // A CPU without a ring (offline now, online later) writes to `events`, then as large as a CPU's ring; else
    // nothing does: the smallest ring.
    shared_ring_bytes = online->size() < static_cast<size_t>(possible) ? bytes_per_ring
                                                                       : static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
  }
  if (int err = bpf_map__set_max_entries(impl->signals->maps.events, shared_ring_bytes))
    return libbpf_error(err, "cannot size the BPF ring buffer");
  impl->signals->rodata->report_all_exits = options.report_all_exits ? 1 : 0;
  if (options.report_all_exits) bpf_map__set_max_entries(impl->signals->maps.exit_watch, 1);  // never read
  impl->exit_codes_on_demand = options.exit_codes_on_demand;
  if (options.exit_codes_on_demand) {
    bpf_program__set_autoattach(impl->signals->progs.on_exit_group, false);
    bpf_program__set_autoattach(impl->signals->progs.on_exit_thread, false);
  }
  if (int err = signals_bpf__load(impl->signals.get())) return libbpf_error(err, "cannot load the signals BPF programs");
  if (int err = signals_bpf__attach(impl->signals.get())) return libbpf_error(err, "cannot attach the signals BPF programs");

  if (!options.sockets) {
    impl->requests_unobserved_reason = "the socket BPF programs are not loaded";
  } else {
    bool pin = !options.pin_root.empty();
    if (pin) {
      auto ready = prepare_pin_root(options.pin_root);
      if (ready) ready = probe_tracepoint_links(*env);
      if (!ready) {
        say(options, "socket maps not pinned, a restart forgets the requests in flight: " + ready.error().message);
        pin = false;
      }
    }
    RequestProbeSet probes = env->request_probes();
    auto sockets = load_sockets(options, *env, probes, pin);
    std::string fexit_failure;
    if (!sockets && probes == RequestProbeSet::fexit) {
      // The kernel loads tracing programs in general but refused these (verifier, trampoline): go on without.
      fexit_failure = sockets.error().message;
      probes = RequestProbeSet::none;
      sockets = load_sockets(options, *env, probes, pin);
    }
    if (!sockets) return sockets.error();
    impl->sockets = std::move(sockets->skel);
    impl->pinned_links = std::move(sockets->pinned_links);
    impl->socket_pins = sockets->pins;
    impl->request_probes = probes;
    impl->raw_tracepoints = sockets->raw_tracepoints;
    impl->watch_all_cgroups = options.watch_all_cgroups;
    if (impl->socket_pins == SocketPins::adopted) impl->mark_adopted_slots();
    if (probes == RequestProbeSet::none) {
      impl->requests_unobserved_reason = fmt::format(
          "the kernel lacks the sock:sock_send_length/sock_recv_length tracepoints (Linux < 6.3) and {}",
          !fexit_failure.empty()      ? "the fexit programs on tcp_sendmsg/tcp_recvmsg failed: " + fexit_failure
          : !env->tracing_programs    ? "refuses fexit programs (BPF_PROG_TYPE_TRACING; lockdown=confidentiality does)"
                                      : fmt::format("its BTF has no tcp_recvmsg with 5 or 6 parameters (found {})",
                                                    env->tcp_recvmsg_params));
    }
  }

  impl->ring.reset(ring_buffer__new(bpf_map__fd(impl->signals->maps.events), &Impl::on_record,
                                    &impl->ring_sources.emplace_back(Impl::RingSource{impl.get(), 0}), nullptr));
  if (!impl->ring) return libbpf_error(errno, "cannot open the BPF ring buffer");
  if (options.per_cpu_rings) {
    if (auto added = impl->add_cpu_rings(); !added) return added.error();
    impl->reorder.emplace(impl->ring_sources.size(), std::chrono::nanoseconds(kPerCpuRingsReorderWindow).count());
  }
  return std::unique_ptr<Observer>(new Observer(std::move(impl), std::move(*env)));
}

Observer::Observer(std::unique_ptr<Impl> impl, KernelEnv env) : impl_(std::move(impl)), env_(std::move(env)) {}
Observer::~Observer() = default;

Result<int> Observer::poll(std::chrono::milliseconds timeout) {
  impl_->handled = 0;
  int rc = ring_buffer__poll(impl_->ring.get(), static_cast<int>(timeout.count()));
  if (rc < 0 && rc != -EINTR) return Error::sys(-rc, "reading the BPF ring buffer");
  // Taken before the rings are read: every event older than this minus the window is in them now.
  const uint64_t read_start_ns = monotonic_now_ns();
  // With batched wakeups the events written since the last wakeup signalled no epoll: ring_buffer__poll() returned
  // without reading them. Reading the rings directly takes them in (cheap: two positions when one is empty). With
  // per-CPU rings, this also reads the rings ring_buffer__poll() did not, after read_start_ns.
  if (impl_->batched_wakeups || impl_->reorder) {
    rc = ring_buffer__consume(impl_->ring.get());
    if (rc < 0 && rc != -EINTR) return Error::sys(-rc, "reading the BPF ring buffer");
  }
  if (impl_->reorder)
    impl_->reorder->release_settled(read_start_ns, [&](const ObservedEvent& ev) { impl_->hand_on(ev); });
  return impl_->handled;
}

Result<int> Observer::drain() {
  impl_->handled = 0;
  int rc = ring_buffer__consume(impl_->ring.get());
  if (rc < 0 && rc != -EINTR) return Error::sys(-rc, "reading the BPF ring buffer");
  if (impl_->reorder) impl_->reorder->release_all([&](const ObservedEvent& ev) { impl_->hand_on(ev); });
  return impl_->handled;
}

int Observer::event_fd() const { return ring_buffer__epoll_fd(impl_->ring.get()); }

Result<void> Observer::watch_cgroup(uint64_t cgroup_id) {
  // Every cgroup counts already, with the slots the programs take themselves.
  if (!impl_->sockets || impl_->watch_all_cgroups) return {};
  const int watched_fd = bpf_map__fd(impl_->sockets->maps.watched_cgroups);
  if (uint32_t slot = 0; bpf_map_lookup_elem(watched_fd, &cgroup_id, &slot) != 0) {
    auto taken = impl_->stats_slots.take();
    if (!taken) return Error::sys(ENOSPC, fmt::format("cannot watch the sockets of cgroup {}: {} cgroups are watched",
                                                      cgroup_id, SIGDRAIN_MAX_WATCHED_CGROUPS));
    // The slot names the cgroup before the cgroup names the slot: a program that finds one finds the other.
    sigdrain_cgroup_stats fresh{};
    fresh.cgroup_id = cgroup_id;
    if (bpf_map_update_elem(bpf_map__fd(impl_->sockets->maps.cgroup_stats), &*taken, &fresh, BPF_ANY) != 0 ||
        bpf_map_update_elem(watched_fd, &cgroup_id, &*taken, BPF_NOEXIST) != 0) {
      const int err = errno;
      impl_->stats_slots.give_back(*taken);
      return Error::sys(err, fmt::format("cannot watch the sockets of cgroup {}", cgroup_id));
    }
  }
  // After the map: a program that reads the new generation finds the cgroup, and re-judges sockets it ignored.
  // One writer (this Observer; an adopted map's earlier writer is gone), so a read and an update make the bump.
  const int state_fd = bpf_map__fd(impl_->sockets->maps.watch_state);
  const uint32_t key = 0;
  uint32_t generation = 0;
  if (bpf_map_lookup_elem(state_fd, &key, &generation) != 0 ||
      (++generation, bpf_map_update_elem(state_fd, &key, &generation, BPF_ANY) != 0))
    return Error::sys(errno, fmt::format("cannot bump the watch generation for cgroup {}", cgroup_id));
  return {};
}

void Observer::forget_cgroup(uint64_t cgroup_id) {
  if (!impl_->sockets) return;
  const int watched_fd = bpf_map__fd(impl_->sockets->maps.watched_cgroups);
  uint32_t slot = 0;
  if (bpf_map_lookup_elem(watched_fd, &cgroup_id, &slot) != 0) return;
  (void)bpf_map_delete_elem(watched_fd, &cgroup_id);
  // The slot names no cgroup now: the cgroup's sockets that close later take nothing from the next one given it.
  const sigdrain_cgroup_stats freed{};
  (void)bpf_map_update_elem(bpf_map__fd(impl_->sockets->maps.cgroup_stats), &slot, &freed, BPF_ANY);
  if (!impl_->watch_all_cgroups) impl_->stats_slots.give_back(slot);
}

size_t Observer::forget_cgroups_not_in(const std::set<uint64_t>& existing) {
  if (!impl_->sockets) return 0;
  size_t forgotten = 0;
  for (uint64_t cgroup_id : map_keys(bpf_map__fd(impl_->sockets->maps.watched_cgroups)))
    if (!existing.contains(cgroup_id)) {
      forget_cgroup(cgroup_id);
      ++forgotten;
    }
  return forgotten;
}

std::optional<CgroupStats> Observer::cgroup_stats(uint64_t cgroup_id) const {
  if (!impl_->sockets) return std::nullopt;
  uint32_t slot = 0;
  sigdrain_cgroup_stats raw{};
  if (bpf_map_lookup_elem(bpf_map__fd(impl_->sockets->maps.watched_cgroups), &cgroup_id, &slot) != 0 ||
      bpf_map_lookup_elem(bpf_map__fd(impl_->sockets->maps.cgroup_stats), &slot, &raw) != 0 || raw.cgroup_id != cgroup_id)
    return std::nullopt;
  return CgroupStats{raw.open_inbound,       raw.inflight, raw.listening,
                     raw.requests_completed, raw.activity, raw.adopted_open};
}

std::vector<SocketRecord> Observer::sockets() const {
  std::vector<SocketRecord> out;
  if (!impl_->sockets) return out;
  int fd = bpf_map__fd(impl_->sockets->maps.sock_states);
  for (uint64_t sk : map_keys(fd)) {
    SocketRecord rec{sk, {}};
    if (bpf_map_lookup_elem(fd, &sk, &rec.state) == 0) out.push_back(rec);
  }
  return out;
}

namespace {
uint64_t recursion_misses(bpf_object* obj) {
  uint64_t skipped = 0;
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj) {
    const int fd = bpf_program__fd(prog);
    if (fd < 0) continue;  // not loaded (an optional program)
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) skipped += info.recursion_misses;
  }
  return skipped;
}
}  // namespace

uint64_t Observer::kernel_skipped_runs() const {
  uint64_t skipped = recursion_misses(impl_->signals->obj);
  if (impl_->dispositions) skipped += recursion_misses(impl_->dispositions->obj);
  if (impl_->sockets) skipped += recursion_misses(impl_->sockets->obj);
  return skipped;
}

Result<void> Observer::track_exit_codes(bool on) {
  if (!impl_->exit_codes_on_demand || on == !impl_->exit_code_links.empty()) return {};
  if (!on) {
    impl_->exit_code_links.clear();
    return {};
  }
  for (bpf_program* prog : {impl_->signals->progs.on_exit_group, impl_->signals->progs.on_exit_thread}) {
    Owned<bpf_link, &bpf_link__destroy> link(bpf_program__attach(prog));
    if (!link) {
      const int err = errno;
      impl_->exit_code_links.clear();
      return Error::sys(err, fmt::format("cannot attach {}", bpf_program__name(prog)));
    }
    impl_->exit_code_links.push_back(std::move(link));
  }
  return {};
}

Result<void> Observer::watch_exit(pid_t tgid) {
  const auto key = static_cast<__u32>(tgid);
  const __u8 one = 1;
  if (bpf_map_update_elem(bpf_map__fd(impl_->signals->maps.exit_watch), &key, &one, BPF_ANY) != 0)
    return Error::sys(errno, fmt::format("cannot watch the exit of pid {}", tgid));
  return {};
}

void Observer::unwatch_exit(pid_t tgid) {
  const auto key = static_cast<__u32>(tgid);
  (void)bpf_map_delete_elem(bpf_map__fd(impl_->signals->maps.exit_watch), &key);
}

bool Observer::tracks_exit_codes() const { return !impl_->exit_codes_on_demand || !impl_->exit_code_links.empty(); }

ObserverCounters Observer::counters() const {
  ObserverCounters c;
  const auto* bss = impl_->signals->bss;
  c.ringbuf_drops = __atomic_load_n(&bss->counters[SIGDRAIN_CNT_RINGBUF_DROPS], __ATOMIC_RELAXED);
  if (impl_->sockets) {
    const auto* sbss = impl_->sockets->bss;
    c.socket_state_failures = __atomic_load_n(&sbss->counters[SIGDRAIN_SOCK_CNT_NEW_STATE_FAIL], __ATOMIC_RELAXED);
    c.cgroup_state_failures = __atomic_load_n(&sbss->counters[SIGDRAIN_SOCK_CNT_NEW_CGROUP_FAIL], __ATOMIC_RELAXED);
  }
  return c;
}

Result<void> Observer::seed_dispositions(const DispositionSeed& seed) {
  if (!impl_->dispositions) return Error::sys(EINVAL, "dispositions are not tracked");
  int actions_fd = bpf_map__fd(impl_->dispositions->maps.process_actions);
  int threads_fd = bpf_map__fd(impl_->dispositions->maps.thread_states);
  sigdrain_process_actions a{};
  const bool seen = bpf_map_lookup_elem(actions_fd, &seed.tgid, &a) == 0;
  // Signals the programs have seen since start() keep their value; /proc fills in the others.
  const uint64_t from_proc = seen ? ~a.known : ~0ULL;
  a.caught = (a.caught & ~from_proc) | (seed.caught & from_proc);
  a.ignored = (a.ignored & ~from_proc) | (seed.ignored & from_proc);
  a.known = ~0ULL;
  a.threads = static_cast<uint32_t>(seed.threads.size());
  if (bpf_map_update_elem(actions_fd, &seed.tgid, &a, BPF_ANY) != 0)
    return Error::sys(errno, fmt::format("cannot seed the dispositions of {}", seed.tgid));
  for (const auto& t : seed.threads) {
    sigdrain_thread_state ts{.tgid = seed.tgid, .mask_known = 1, .blocked = t.blocked, .cgroup = 0};
    // A mask the programs know (copied at clone, or set whole by SIG_SETMASK) is newer than /proc's.
    sigdrain_thread_state old{};
    if (bpf_map_lookup_elem(threads_fd, &t.tid, &old) == 0 && old.mask_known) continue;
    if (bpf_map_update_elem(threads_fd, &t.tid, &ts, BPF_ANY) != 0)
      return Error::sys(errno, fmt::format("cannot seed the signal mask of thread {}", t.tid));
  }
  return {};
}

std::string Observer::dispositions_untracked_reason() const { return impl_->dispositions_untracked_reason; }

RequestProbeSet Observer::request_probes() const { return impl_->request_probes; }
bool Observer::raw_tracepoints() const { return impl_->raw_tracepoints; }
std::string Observer::requests_unobserved_reason() const { return impl_->requests_unobserved_reason; }
SocketPins Observer::socket_pins() const { return impl_->socket_pins; }

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
