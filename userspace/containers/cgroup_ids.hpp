// Which cgroups exist now, by the id BPF sees (bpf_get_current_cgroup_id(): the cgroup v2 directory's inode).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace sigdrain {

// The id of every cgroup directory under `cgroup2_root`, itself included; nullopt when the walk fails anywhere (a
// cgroup removed under it, an unreadable root): a caller that deletes what is not listed then deletes nothing. A
// cgroup made during the walk may be missing: use it only for what a new cgroup cannot have yet.
std::optional<std::set<uint64_t>> existing_cgroup_ids(const std::string& cgroup2_root);

}  // namespace sigdrain
