// The cgroup change counter moves when a cgroup directory is made or removed: container discovery walks cgroupfs
// only when it moved. (That it stays still otherwise is not asserted: other processes make cgroups at any time.)
#include <gtest/gtest.h>

#include <optional>

#include "observer/cgroup_changes.hpp"
#include "scratch_cgroup.hpp"

namespace sigdrain {
namespace {

TEST(CgroupChangeCounter, CountsCgroupsMadeAndRemoved) {
  auto counter = CgroupChangeCounter::start();
  ASSERT_TRUE(counter) << counter.error().message;
  uint64_t before = (*counter)->count();
  std::optional<ScratchCgroup> cgroup(std::in_place, "libpod-leaf");  // two directories: the top and its leaf
  uint64_t made = (*counter)->count();
  EXPECT_GE(made, before + 2);
  cgroup.reset();
  EXPECT_GE((*counter)->count(), made + 2);
}

}  // namespace
}  // namespace sigdrain
