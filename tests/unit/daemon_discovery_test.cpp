#include "daemon/discovery.hpp"

#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>
#include <fstream>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace sigdrain {
namespace {

const std::string kData = std::string(SIGDRAIN_TEST_DATA) + "/containers";
const std::string kPodmanId = "64fc05818c136964af457ce0b7dc90652c689e39deee27f1473abf24f0ebceb2";

// A cgroup v2 tree with one podman container, and a podman that describes it only once `ready` exists.
class ContainerDiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    container_cgroup_ = dir_.path() + "/cgroup2/machine.slice/libpod-" + kPodmanId + ".scope";
    std::filesystem::create_directories(container_cgroup_);
    std::string podman = dir_.write("podman", "#!/bin/sh\necho >> '" + dir_.path() + "/calls'\n[ -e '" + dir_.path() +
                                                  "/ready' ] || exit 125\ncat '" + kData +
                                                  "/podman/inspect-sdtest.json'\n");
    ::chmod(podman.c_str(), 0755);
    roots_.proc = ProcFs(dir_.path() + "/proc");
    roots_.cgroup2 = dir_.path() + "/cgroup2";
    roots_.podman_binary = podman;
    for (std::string* state : {&roots_.docker_state, &roots_.containerd_state, &roots_.crio_state,
                               &roots_.podman_graphroot, &roots_.podman_runroot})
      *state = dir_.path() + "/none";
  }

  // The next scan that satisfies `wanted`, waiting at most 5 s.
  template <typename Pred>
  std::optional<std::vector<ContainerInfo>> next_scan(ContainerDiscovery& discovery, Pred wanted) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{discovery.event_fd(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      if (auto scan = discovery.take(); scan && wanted(*scan)) return scan;
    }
    return std::nullopt;
  }

  int calls() const {
    std::ifstream in(dir_.path() + "/calls");
    return static_cast<int>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
  }

  TempDir dir_;
  std::string container_cgroup_;
  HostRoots roots_;
};

TEST_F(ContainerDiscoveryTest, AsksAgainAboutAContainerItsRuntimeDidNotDescribe) {
  auto discovery = ContainerDiscovery::start(roots_, std::chrono::milliseconds(20));
  ASSERT_TRUE(discovery) << discovery.error().message;
  auto undescribed = next_scan(**discovery, [](const auto& scan) { return scan.size() == 1; });
  ASSERT_TRUE(undescribed) << "the container's cgroup was not found";
  EXPECT_EQ((*undescribed)[0].id, kPodmanId);
  EXPECT_EQ((*undescribed)[0].init_pid, 0) << "podman failed: no init known";
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_LE(calls(), 8) << "about 50 scans ran: the runtime is asked again with a backoff, not at every scan";

  dir_.write("ready", "");
  auto described = next_scan(**discovery, [](const auto& scan) { return scan.size() == 1 && scan[0].init_pid > 0; });
  ASSERT_TRUE(described) << "a failed lookup must not be cached for good";
  EXPECT_EQ((*described)[0].name, "sdtest");
  EXPECT_EQ((*described)[0].init_pid, 4422);

  std::filesystem::remove(container_cgroup_);
  EXPECT_TRUE(next_scan(**discovery, [](const auto& scan) { return scan.empty(); })) << "a removed cgroup is gone";
}

TEST_F(ContainerDiscoveryTest, WalksCgroupfsAgainOnlyWhenTheCgroupChangeCountMoved) {
  dir_.write("ready", "");
  std::atomic<uint64_t> changes{0};
  auto discovery = ContainerDiscovery::start(roots_, std::chrono::milliseconds(20), [&] { return changes.load(); });
  ASSERT_TRUE(discovery) << discovery.error().message;
  ASSERT_TRUE(next_scan(**discovery, [](const auto& scan) { return scan.size() == 1 && scan[0].init_pid > 0; }));

  std::filesystem::remove(container_cgroup_);  // the count does not move: about 15 looks, no walk
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  pollfd p{(*discovery)->event_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "a scan was published though no cgroup changed";
  EXPECT_FALSE((*discovery)->take());

  ++changes;
  EXPECT_TRUE(next_scan(**discovery, [](const auto& scan) { return scan.empty(); })) << "the count moved: walk again";
  EXPECT_EQ(calls(), 1) << "a described container is not asked about again";
}

TEST_F(ContainerDiscoveryTest, StopsPromptlyBetweenScans) {
  auto discovery = ContainerDiscovery::start(roots_, std::chrono::hours(1));
  ASSERT_TRUE(discovery);
  ASSERT_TRUE(next_scan(**discovery, [](const auto&) { return true; })) << "the first scan runs at once";
  auto start = std::chrono::steady_clock::now();
  discovery->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1)) << "the thread waits on a condition, not a sleep";
}

}  // namespace
}  // namespace sigdrain
