#include "trace/live_directory.hpp"

namespace sigdrain {

ContainerView container_view(const ContainerInfo& info) {
  return ContainerView{info.id, info.name, std::string(runtime_name(info.runtime))};
}

const LiveProcessDirectory::Known* LiveProcessDirectory::lookup(uint32_t pid) {
  auto status = proc_.status(static_cast<pid_t>(pid));
  if (!status) {
    auto it = known_.find(pid);
    return it == known_.end() ? nullptr : &it->second;
  }
  auto cached = known_.find(pid);
  Known k;
  k.tgid = static_cast<uint32_t>(status->tgid);
  k.view.pid = pid;
  k.view.comm = status->name;
  if (!status->nspid.empty()) k.view.ns_pid = static_cast<uint32_t>(status->nspid.back());
  if (auto c = resolver_.by_pid(static_cast<pid_t>(pid))) {
    k.view.container = container_view(*c);
    k.cgroup_id = c->cgroup_id;
  } else if (cached != known_.end() && cached->second.tgid == k.tgid && cached->second.view.comm == k.view.comm) {
    // The same process, reaped between reading its status and its cgroup: keep what was learned while it lived.
    k.view.container = cached->second.view.container;
    k.cgroup_id = cached->second.cgroup_id;
  }
  if (known_.size() >= kMaxKnown) known_.clear();  // a coarse bound; entries are refreshed on every event
  return &(known_[pid] = std::move(k));
}

std::optional<ProcessView> LiveProcessDirectory::process(uint32_t pid) {
  const Known* k = lookup(pid);
  if (!k) return std::nullopt;
  return k->view;
}

std::optional<uint32_t> LiveProcessDirectory::tgid_of(uint32_t pid) {
  const Known* k = lookup(pid);
  if (!k) return std::nullopt;
  return k->tgid;
}

std::optional<ContainerView> LiveProcessDirectory::container_of_cgroup(uint64_t cgroup_id) {
  auto c = resolver_.by_cgroup_id(cgroup_id);
  if (!c) return std::nullopt;
  return container_view(*c);
}

std::optional<uint64_t> LiveProcessDirectory::cgroup_of(uint32_t pid) {
  const Known* k = known_.contains(pid) ? &known_[pid] : lookup(pid);
  if (!k) return std::nullopt;
  return k->cgroup_id;
}

}  // namespace sigdrain
