#include "containers/resolver.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <tuple>

#include <fmt/format.h>

#include "util/fd.hpp"

namespace sigdrain {
namespace {

constexpr auto kRescanInterval = std::chrono::milliseconds(100);
constexpr int kMaxCgroupDepth = 64;  // real trees are under 10 deep; this bounds the recursion

// Records the inode of every directory below `dir` (which `rel` names) into `out`. Cgroups come and go while this
// runs; one that vanishes is skipped, never an error.
void collect_cgroups(UniqueFd dir, const std::string& rel, int depth,
                     std::unordered_map<uint64_t, std::string>& out) {
  if (depth > kMaxCgroupDepth) return;
  UniqueDir d(::fdopendir(dir.get()));
  if (!d) return;
  dir.release();  // owned by `d` now
  while (dirent* e = ::readdir(d.get())) {
    if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    struct stat st {};
    if (::fstatat(::dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
    std::string child = rel == "/" ? rel + e->d_name : rel + "/" + e->d_name;
    out[st.st_ino] = child;
    UniqueFd child_fd(::openat(::dirfd(d.get()), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (child_fd) collect_cgroups(std::move(child_fd), child, depth + 1, out);
  }
}

std::string qualified_name(const ContainerInfo& c) {
  if (c.name.empty()) return "(unnamed)";
  if (c.pod_name.empty()) return c.name;
  if (c.pod_namespace.empty()) return fmt::format("{}/{}", c.pod_name, c.name);
  return fmt::format("{}/{}/{}", c.pod_namespace, c.pod_name, c.name);
}

bool named_exactly(const ContainerInfo& c, std::string_view query) {
  if (query == c.id) return true;
  if (c.name.empty()) return false;
  return query == c.name || (!c.pod_name.empty() && query == fmt::format("{}/{}", c.pod_name, c.name)) ||
         (!c.pod_name.empty() && !c.pod_namespace.empty() && query == qualified_name(c));
}

void apply_details(ContainerInfo& info, const RuntimeDetails& d) {
  if (info.runtime == Runtime::unknown) info.runtime = d.runtime;
  info.name = d.name;
  info.pod_name = d.pod_name;
  info.pod_namespace = d.pod_namespace;
  if (!d.pod_uid.empty()) info.pod_uid = d.pod_uid;
  info.labels = d.labels;
  info.stop_timeout_s = d.stop_timeout_s;
  info.stop_signal = d.stop_signal;
  info.init_pid = d.init_pid;
}

std::string list_matches(const std::vector<ContainerInfo>& matches) {
  std::string out;
  for (const auto& m : matches) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} ({}, {})", qualified_name(m), m.id.substr(0, 12), runtime_name(m.runtime));
  }
  return out;
}

}  // namespace

ContainerResolver::ContainerResolver(HostRoots roots, std::unique_ptr<RuntimeStateSource> runtime_state)
    : roots_(std::move(roots)),
      runtime_state_(runtime_state ? std::move(runtime_state) : std::make_unique<HostRuntimeState>(roots_)) {}

std::optional<ContainerInfo> ContainerResolver::by_cgroup_id(uint64_t cgroup_id) {
  if (auto it = info_by_id_.find(cgroup_id); it != info_by_id_.end()) return it->second;
  auto path = path_by_id_.find(cgroup_id);
  if (path == path_by_id_.end()) {
    rescan_if_stale();
    path = path_by_id_.find(cgroup_id);
    if (path == path_by_id_.end()) return std::nullopt;  // not cached: the cgroup may show up on a later scan
  }
  auto ref = parse_container_cgroup(path->second);
  if (!ref) return info_by_id_[cgroup_id] = std::nullopt;
  return info_by_id_[cgroup_id] = cached_or_describe(*ref, cgroup_inode(ref->container_cgroup));
}

std::optional<ContainerInfo> ContainerResolver::by_pid(pid_t pid) {
  auto text = roots_.proc.cgroup_file(pid);
  if (!text) return std::nullopt;
  auto ref = parse_proc_cgroup(*text);
  if (!ref) return std::nullopt;
  return cached_or_describe(*ref, cgroup_inode(ref->container_cgroup));
}

Result<ContainerInfo> ContainerResolver::find(std::string_view query) {
  if (query.empty()) return Error::msg("empty container name");
  if (query.starts_with('/')) return find_by_cgroup_path(query);

  std::vector<ContainerInfo> candidates;
  auto known = [&](const std::string& id) {
    return std::any_of(candidates.begin(), candidates.end(), [&](const auto& c) { return c.id == id; });
  };
  // Running containers by id; their names come from the runtimes, asked once below rather than per container.
  std::vector<ContainerCgroup> running = container_cgroups();
  for (const auto& cg : running)
    if (cg.ref.id == query || (query.size() >= 3 && cg.ref.id.starts_with(query)))
      candidates.push_back(cached_or_describe(cg.ref, cg.cgroup_id));
  for (auto& d : runtime_state_->find(query)) {
    if (known(d.id)) continue;
    auto cg = std::find_if(running.begin(), running.end(), [&](const auto& c) { return c.ref.id == d.id; });
    if (cg != running.end()) {
      candidates.push_back(cached_or_describe(cg->ref, cg->cgroup_id));
      continue;
    }
    // Not in the cgroup tree: stopped, or in a cgroup layout parse_container_cgroup() does not know.
    ContainerInfo info;
    info.runtime = d.runtime;
    info.id = d.id;
    apply_details(info, d);
    info.running = d.running;
    candidates.push_back(std::move(info));
  }

  std::vector<ContainerInfo> exact;
  std::copy_if(candidates.begin(), candidates.end(), std::back_inserter(exact),
               [&](const auto& c) { return named_exactly(c, query); });
  if (exact.size() == 1) return std::move(exact.front());
  if (exact.size() > 1) return Error::msg(fmt::format("\"{}\" names {} containers: {}", query, exact.size(),
                                                      list_matches(exact)));
  if (candidates.size() == 1) return std::move(candidates.front());
  if (candidates.size() > 1)
    return Error::msg(fmt::format("id prefix \"{}\" matches {} containers: {}", query, candidates.size(),
                                  list_matches(candidates)));
  return Error::msg(fmt::format("no container \"{}\" (looked in: podman, docker, containerd, cri-o, cgroupfs)", query));
}

namespace {
// What the cgroup alone tells of a container, before its runtime is asked.
ContainerInfo from_cgroup(const CgroupContainerRef& ref, uint64_t cgroup_id, bool running) {
  ContainerInfo info;
  info.runtime = ref.runtime;
  info.id = ref.id;
  info.pod_uid = ref.pod_uid;
  info.cgroup_path = ref.container_cgroup;
  info.cgroup_id = cgroup_id;
  info.running = running;
  return info;
}
}  // namespace

std::vector<ContainerInfo> ContainerResolver::list(std::chrono::steady_clock::time_point describe_until) {
  std::vector<ContainerInfo> out;
  for (const auto& cg : container_cgroups()) {
    bool cached = cg.cgroup_id != 0 && info_by_id_.contains(cg.cgroup_id);
    if (cached || std::chrono::steady_clock::now() < describe_until) {
      out.push_back(cached_or_describe(cg.ref, cg.cgroup_id));
    } else {
      out.push_back(from_cgroup(cg.ref, cg.cgroup_id, true));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.pod_namespace, a.pod_name, a.name, a.id) < std::tie(b.pod_namespace, b.pod_name, b.name, b.id);
  });
  return out;
}

void ContainerResolver::forget(uint64_t cgroup_id) { info_by_id_.erase(cgroup_id); }

void ContainerResolver::rescan_if_stale() {
  if (last_scan_ && std::chrono::steady_clock::now() - *last_scan_ < kRescanInterval) return;
  rescan();
}

void ContainerResolver::rescan() {
  last_scan_ = std::chrono::steady_clock::now();
  path_by_id_.clear();
  UniqueFd root(::open(roots_.cgroup2.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return;
  struct stat st {};
  if (::fstat(root.get(), &st) == 0) path_by_id_.emplace(st.st_ino, "/");
  collect_cgroups(std::move(root), "/", 0, path_by_id_);
}

// One entry per container: its own cgroup, not the child cgroups some runtimes create inside it.
std::vector<ContainerResolver::ContainerCgroup> ContainerResolver::container_cgroups() {
  rescan();
  std::vector<ContainerCgroup> out;
  for (const auto& [id, path] : path_by_id_) {
    auto ref = parse_container_cgroup(path);
    if (!ref || ref->container_cgroup != path) continue;
    auto same = std::find_if(out.begin(), out.end(), [&](const auto& c) { return c.ref.id == ref->id; });
    if (same == out.end()) {
      out.push_back({std::move(*ref), id});
    } else if (path.size() < same->ref.container_cgroup.size()) {
      *same = {std::move(*ref), id};
    }
  }
  return out;
}

uint64_t ContainerResolver::cgroup_inode(const std::string& cgroup_path) const {
  struct stat st {};
  if (::lstat((roots_.cgroup2 + cgroup_path).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
  return st.st_ino;
}

ContainerInfo ContainerResolver::describe(const CgroupContainerRef& ref, uint64_t cgroup_id, bool running) {
  ContainerInfo info = from_cgroup(ref, cgroup_id, running);
  if (auto d = runtime_state_->lookup(ref.runtime, ref.id)) apply_details(info, *d);
  return info;
}

ContainerInfo ContainerResolver::cached_or_describe(const CgroupContainerRef& ref, uint64_t cgroup_id) {
  if (cgroup_id == 0) return describe(ref, 0, true);
  auto& slot = info_by_id_[cgroup_id];
  if (!slot) slot = describe(ref, cgroup_id, true);
  return *slot;
}

Result<ContainerInfo> ContainerResolver::find_by_cgroup_path(std::string_view path) {
  // Accept the full sysfs path as well as the path relative to the cgroup v2 root.
  std::string_view root = roots_.cgroup2;
  if (path.starts_with(root) && path.size() > root.size() && path[root.size()] == '/') path.remove_prefix(root.size());
  auto ref = parse_container_cgroup(path);
  if (!ref) return Error::msg(fmt::format("cgroup {} is not a container's", path));
  uint64_t cgroup_id = cgroup_inode(ref->container_cgroup);
  if (cgroup_id != 0) return cached_or_describe(*ref, cgroup_id);
  return describe(*ref, 0, false);
}

}  // namespace sigdrain
