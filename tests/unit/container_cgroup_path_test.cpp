#include "containers/cgroup_path.hpp"

#include <vector>

#include <gtest/gtest.h>

namespace sigdrain {
namespace {

const std::string kId = "64fc05818c136964af457ce0b7dc90652c689e39deee27f1473abf24f0ebceb2";
const std::string kUid = "2844b18b-c564-412a-a1ba-f459fde33c33";
const std::string kUidUnderscores = "2844b18b_c564_412a_a1ba_f459fde33c33";

CgroupContainerRef parsed(const std::string& path) {
  auto ref = parse_container_cgroup(path);
  EXPECT_TRUE(ref.has_value()) << path;
  return ref.value_or(CgroupContainerRef{});
}

TEST(ContainerCgroupPath, PodmanCgroupfsDriverAsOnThisMachine) {
  auto ref = parsed("/libpod_parent/libpod-" + kId);
  EXPECT_EQ(ref.runtime, Runtime::podman);
  EXPECT_EQ(ref.id, kId);
  EXPECT_EQ(ref.pod_uid, "");
  EXPECT_EQ(ref.qos, "");
  EXPECT_EQ(ref.container_cgroup, "/libpod_parent/libpod-" + kId);
}

TEST(ContainerCgroupPath, PodmanSystemdScopeAndItsNestedInitCgroup) {
  auto scope = parsed("/machine.slice/libpod-" + kId + ".scope");
  EXPECT_EQ(scope.runtime, Runtime::podman);
  EXPECT_EQ(scope.id, kId);

  auto nested = parsed("/machine.slice/libpod-" + kId + ".scope/container");
  EXPECT_EQ(nested.runtime, Runtime::podman);
  EXPECT_EQ(nested.id, kId);
  EXPECT_EQ(nested.container_cgroup, "/machine.slice/libpod-" + kId + ".scope");
}

TEST(ContainerCgroupPath, ConmonIsNotTheContainer) {
  EXPECT_EQ(parse_container_cgroup("/machine.slice/libpod-conmon-" + kId + ".scope"), std::nullopt);
  EXPECT_EQ(parse_container_cgroup("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                                   kUidUnderscores + ".slice/crio-conmon-" + kId + ".scope"),
            std::nullopt);
  EXPECT_EQ(parse_container_cgroup("/libpod_parent/conmon"), std::nullopt);
}

TEST(ContainerCgroupPath, DockerSystemdAndCgroupfsDrivers) {
  auto systemd = parsed("/system.slice/docker-" + kId + ".scope");
  EXPECT_EQ(systemd.runtime, Runtime::docker);
  EXPECT_EQ(systemd.id, kId);

  auto cgroupfs = parsed("/docker/" + kId);
  EXPECT_EQ(cgroupfs.runtime, Runtime::docker);
  EXPECT_EQ(cgroupfs.id, kId);
  EXPECT_EQ(cgroupfs.container_cgroup, "/docker/" + kId);
}

TEST(ContainerCgroupPath, KubernetesCgroupfsDriverLeavesTheRuntimeOpen) {
  auto burstable = parsed("/kubepods/burstable/pod" + kUid + "/" + kId);
  EXPECT_EQ(burstable.runtime, Runtime::unknown);
  EXPECT_EQ(burstable.id, kId);
  EXPECT_EQ(burstable.pod_uid, kUid);
  EXPECT_EQ(burstable.qos, "burstable");

  auto guaranteed = parsed("/kubepods/pod" + kUid + "/" + kId);
  EXPECT_EQ(guaranteed.pod_uid, kUid);
  EXPECT_EQ(guaranteed.qos, "guaranteed");

  auto crio = parsed("/kubepods/besteffort/pod" + kUid + "/crio-" + kId);
  EXPECT_EQ(crio.runtime, Runtime::crio);
  EXPECT_EQ(crio.qos, "besteffort");
}

TEST(ContainerCgroupPath, KubernetesSystemdDriverTurnsUnderscoresIntoDashes) {
  auto containerd = parsed("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidUnderscores +
                           ".slice/cri-containerd-" + kId + ".scope");
  EXPECT_EQ(containerd.runtime, Runtime::containerd);
  EXPECT_EQ(containerd.id, kId);
  EXPECT_EQ(containerd.pod_uid, kUid);
  EXPECT_EQ(containerd.qos, "besteffort");

  auto crio = parsed("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidUnderscores +
                     ".slice/crio-" + kId + ".scope");
  EXPECT_EQ(crio.runtime, Runtime::crio);
  EXPECT_EQ(crio.pod_uid, kUid);
  EXPECT_EQ(crio.qos, "burstable");

  auto guaranteed = parsed("/kubepods.slice/kubepods-pod" + kUidUnderscores + ".slice/cri-containerd-" + kId + ".scope");
  EXPECT_EQ(guaranteed.pod_uid, kUid);
  EXPECT_EQ(guaranteed.qos, "guaranteed");
}

TEST(ContainerCgroupPath, DeepestContainerWinsForNestedContainers) {
  const std::string inner(64, 'a');
  auto ref = parsed("/system.slice/docker-" + kId + ".scope/docker/" + inner + "/init.scope");
  EXPECT_EQ(ref.id, inner);
  EXPECT_EQ(ref.container_cgroup, "/system.slice/docker-" + kId + ".scope/docker/" + inner);
}

TEST(ContainerCgroupPath, HostAndUnknownFormsAreNotContainers) {
  for (const std::string& path : std::vector<std::string>{
           "/",
           "",
           "/init.scope",
           "/system.slice/sshd.service",
           "/user.slice/user-0.slice/session-3.scope",
           "/actions_job/" + kId,
           "/" + kId,
           "/kubepods/burstable/" + kId,                       // no pod component
           "/system.slice/docker-" + kId.substr(1) + ".scope",  // 63 digits
           "/system.slice/docker-" + std::string(64, 'G') + ".scope",
           "/docker/" + std::string(64, 'A'),  // runtimes write lowercase
           "/process_api/db1d097d5033b96ac3655adeb7b210ea",
       })
    EXPECT_EQ(parse_container_cgroup(path), std::nullopt) << path;
}

TEST(ContainerCgroupPath, ProcCgroupOfAPodmanProcessOnThisHybridHost) {
  std::string text;
  for (const char* v1 : {"9:name=systemd", "8:pids", "4:memory", "1:cpu"})
    text += std::string(v1) + ":/libpod_parent/libpod-" + kId + "\n";
  text += "0::/libpod_parent/libpod-" + kId + "\n";
  auto ref = parse_proc_cgroup(text);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->runtime, Runtime::podman);
  EXPECT_EQ(ref->id, kId);
  EXPECT_EQ(unified_cgroup_path(text), "/libpod_parent/libpod-" + kId);
}

TEST(ContainerCgroupPath, ProcCgroupPrefersTheV2Line) {
  const std::string other(64, 'b');
  std::string text = "9:name=systemd:/docker/" + other + "\n0::/system.slice/docker-" + kId + ".scope\n";
  EXPECT_EQ(parse_proc_cgroup(text)->id, kId);
}

TEST(ContainerCgroupPath, ProcCgroupFallsBackToV1Controllers) {
  // Hybrid host whose runtime only uses the v1 controllers: v2 says host, v1 says container.
  std::string systemd = "9:name=systemd:/docker/" + kId + "\n4:memory:/\n0::/system.slice/docker.service\n";
  EXPECT_EQ(parse_proc_cgroup(systemd)->id, kId);
  std::string pids = "12:pids:/kubepods/besteffort/pod" + kUid + "/" + kId + "\n3:cpu,cpuacct:/\n";
  auto ref = parse_proc_cgroup(pids);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->pod_uid, kUid);
  std::string memory = "7:memory:/docker/" + kId + "\n2:cpu,cpuacct:/docker/" + std::string(64, 'c') + "\n";
  EXPECT_EQ(parse_proc_cgroup(memory)->id, kId);
  // Other v1 controllers are not looked at.
  EXPECT_EQ(parse_proc_cgroup("2:cpu,cpuacct:/docker/" + kId + "\n"), std::nullopt);
  EXPECT_EQ(unified_cgroup_path(systemd), "/system.slice/docker.service");
  EXPECT_EQ(unified_cgroup_path(pids), std::nullopt);
}

TEST(ContainerCgroupPath, ProcCgroupOfAHostProcessAndGarbage) {
  EXPECT_EQ(parse_proc_cgroup("9:name=systemd:/init.scope\n0::/init.scope\n"), std::nullopt);
  EXPECT_EQ(parse_proc_cgroup(""), std::nullopt);
  EXPECT_EQ(parse_proc_cgroup("garbage\n::\n0:\n"), std::nullopt);
  EXPECT_EQ(unified_cgroup_path("garbage"), std::nullopt);
}

TEST(ContainerCgroupPath, RuntimeNames) {
  EXPECT_EQ(runtime_name(Runtime::podman), "podman");
  EXPECT_EQ(runtime_name(Runtime::docker), "docker");
  EXPECT_EQ(runtime_name(Runtime::containerd), "containerd");
  EXPECT_EQ(runtime_name(Runtime::crio), "cri-o");
  EXPECT_EQ(runtime_name(Runtime::unknown), "unknown");
}

}  // namespace
}  // namespace sigdrain
