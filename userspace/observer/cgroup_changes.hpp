// How many cgroup directories were made or removed on the node since this was loaded (bpf/cgroups.bpf.c): container
// discovery walks cgroupfs again only when the count moved.
#pragma once

#include <cstdint>
#include <memory>

#include "util/result.hpp"

namespace sigdrain {

class CgroupChangeCounter {
 public:
  // Loads and attaches the cgroup_mkdir/cgroup_rmdir tracepoint programs.
  static Result<std::unique_ptr<CgroupChangeCounter>> start();
  ~CgroupChangeCounter();
  CgroupChangeCounter(const CgroupChangeCounter&) = delete;
  CgroupChangeCounter& operator=(const CgroupChangeCounter&) = delete;

  // Safe to call from any thread: one load of a counter BPF increments.
  uint64_t count() const;

 private:
  struct Impl;
  explicit CgroupChangeCounter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sigdrain
