// existing_cgroup_ids() on a directory tree shaped like cgroupfs: every directory's inode, no file's, and nothing
// (not a partial list) when the walk cannot be made.
#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "containers/cgroup_ids.hpp"
#include "temp_dir.hpp"

namespace sigdrain {
namespace {

uint64_t inode(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

TEST(CgroupIds, EveryDirectoryOfTheTreeAndNoFile) {
  TempDir root;
  const std::string pod = root.write("kubepods.slice/pod1.slice/cri-containerd-abc.scope/cgroup.procs", "1\n");
  root.write("system.slice/cgroup.procs", "");
  std::filesystem::create_directory(root.path() + "/empty");
  std::filesystem::create_directory_symlink(root.path() + "/system.slice", root.path() + "/link");

  auto ids = existing_cgroup_ids(root.path());
  ASSERT_TRUE(ids);
  std::set<uint64_t> want;
  for (const char* dir : {"", "/kubepods.slice", "/kubepods.slice/pod1.slice", "/kubepods.slice/pod1.slice/cri-containerd-abc.scope",
                          "/system.slice", "/empty"})
    want.insert(inode(root.path() + dir));
  EXPECT_EQ(*ids, want);
  EXPECT_FALSE(ids->contains(inode(pod)));
}

TEST(CgroupIds, NoListWhenTheRootCannotBeRead) {
  TempDir root;
  EXPECT_FALSE(existing_cgroup_ids(root.path() + "/missing"));
  const std::string file = root.write("file", "");
  EXPECT_FALSE(existing_cgroup_ids(file));
}

}  // namespace
}  // namespace sigdrain
