#include "containers/resolver.hpp"

#include <sys/stat.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace sigdrain {
namespace {

namespace fs = std::filesystem;

const std::string kData = std::string(SIGDRAIN_TEST_DATA) + "/containers";
const std::string kPodmanId = "64fc05818c136964af457ce0b7dc90652c689e39deee27f1473abf24f0ebceb2";
const std::string kScopeId = "abc1" + std::string(60, '1');   // podman, systemd driver, with a child cgroup
const std::string kOtherId = "abc2" + std::string(60, '2');   // shares the prefix "abc" with kScopeId
const std::string kContainerdId = "15f466d1484c494a8501b93c5df56439dbe73774ef98514d3b7afb3066e8a5a4";
const std::string kCrioId = "1141bef3091c1709f3a5b1e412e02f79a6eeddf8211dbf6fa0d041746606cc74";
const std::string kPodSlice = "/kubepods.slice/kubepods-besteffort.slice/"
                              "kubepods-besteffort-pod2844b18b_c564_412a_a1ba_f459fde33c33.slice";

// Answers from a fixed list of containers and counts the lookups, to see the resolver's caching.
class FakeRuntimeState : public RuntimeStateSource {
 public:
  std::optional<RuntimeDetails> lookup(Runtime runtime, std::string_view id) override {
    ++lookups;
    for (const auto& c : containers)
      if (c.id == id && (runtime == Runtime::unknown || runtime == c.runtime)) return c;
    return std::nullopt;
  }
  std::vector<RuntimeDetails> find(std::string_view query) override {
    std::vector<RuntimeDetails> out;
    for (const auto& c : containers)
      if (names_container(c, query)) out.push_back(c);
    return out;
  }

  std::vector<RuntimeDetails> containers;
  int lookups = 0;
};

RuntimeDetails podman_container(const std::string& id, const std::string& name, bool running = true) {
  RuntimeDetails d;
  d.runtime = Runtime::podman;
  d.id = id;
  d.name = name;
  d.running = running;
  d.init_pid = running ? 4422 : 0;
  d.stop_timeout_s = 7;
  d.stop_signal = SIGINT;
  d.labels = {{"app", name}};
  return d;
}

class ContainerResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& dir : {"/libpod_parent/libpod-" + kPodmanId, std::string("/libpod_parent/conmon"),
                            "/machine.slice/libpod-" + kScopeId + ".scope/container",
                            "/machine.slice/libpod-" + kOtherId + ".scope", std::string("/system.slice/sshd.service"),
                            kPodSlice + "/cri-containerd-" + kContainerdId + ".scope"})
      fs::create_directories(cgroup2_.path() + dir);
    auto fake = std::make_unique<FakeRuntimeState>();
    fake->containers = {podman_container(kPodmanId, "sdtest"), podman_container(kScopeId, "web"),
                        podman_container(kOtherId, "worker"),
                        podman_container("dead" + std::string(60, '0'), "stopped-one", false)};
    fake_ = fake.get();
    HostRoots roots;
    roots.proc = ProcFs(kData + "/proc");
    roots.cgroup2 = cgroup2_.path();
    resolver_ = std::make_unique<ContainerResolver>(roots, std::move(fake));
  }

  uint64_t inode(const std::string& cgroup) const {
    struct stat st {};
    EXPECT_EQ(::stat((cgroup2_.path() + cgroup).c_str(), &st), 0) << cgroup;
    return st.st_ino;
  }

  TempDir cgroup2_;
  FakeRuntimeState* fake_ = nullptr;
  std::unique_ptr<ContainerResolver> resolver_;
};

TEST_F(ContainerResolverTest, CgroupIdOfAPodmanContainer) {
  const std::string cgroup = "/libpod_parent/libpod-" + kPodmanId;
  auto info = resolver_->by_cgroup_id(inode(cgroup));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->runtime, Runtime::podman);
  EXPECT_EQ(info->id, kPodmanId);
  EXPECT_EQ(info->name, "sdtest");
  EXPECT_EQ(info->cgroup_path, cgroup);
  EXPECT_EQ(info->cgroup_id, inode(cgroup));
  EXPECT_EQ(info->stop_timeout_s, 7);
  EXPECT_EQ(info->stop_signal, SIGINT);
  EXPECT_EQ(info->init_pid, 4422);
  EXPECT_EQ(info->labels.at("app"), "sdtest");
  EXPECT_TRUE(info->running);
}

TEST_F(ContainerResolverTest, CgroupIdsAreCached) {
  uint64_t id = inode("/libpod_parent/libpod-" + kPodmanId);
  ASSERT_TRUE(resolver_->by_cgroup_id(id));
  ASSERT_TRUE(resolver_->by_cgroup_id(id));
  EXPECT_EQ(fake_->lookups, 1);
  resolver_->forget(id);
  ASSERT_TRUE(resolver_->by_cgroup_id(id));
  EXPECT_EQ(fake_->lookups, 2);
}

TEST_F(ContainerResolverTest, ChildCgroupBelongsToItsContainer) {
  const std::string scope = "/machine.slice/libpod-" + kScopeId + ".scope";
  auto info = resolver_->by_cgroup_id(inode(scope + "/container"));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->name, "web");
  EXPECT_EQ(info->cgroup_path, scope);
  EXPECT_EQ(info->cgroup_id, inode(scope));
  // The scope itself shares the description.
  ASSERT_TRUE(resolver_->by_cgroup_id(inode(scope)));
  EXPECT_EQ(fake_->lookups, 1);
}

TEST_F(ContainerResolverTest, HostConmonAndUnknownCgroupsAreNotContainers) {
  EXPECT_FALSE(resolver_->by_cgroup_id(inode("/")));
  EXPECT_FALSE(resolver_->by_cgroup_id(inode("/system.slice/sshd.service")));
  EXPECT_FALSE(resolver_->by_cgroup_id(inode("/libpod_parent/conmon")));
  EXPECT_FALSE(resolver_->by_cgroup_id(1));
  EXPECT_EQ(fake_->lookups, 0);
}

TEST_F(ContainerResolverTest, NewCgroupIsFoundOnALaterScan) {
  ASSERT_FALSE(resolver_->by_cgroup_id(1));  // the first scan
  const std::string cgroup = "/system.slice/docker-" + std::string(64, 'd') + ".scope";
  fs::create_directories(cgroup2_.path() + cgroup);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // past the rescan interval
  auto info = resolver_->by_cgroup_id(inode(cgroup));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->runtime, Runtime::docker);
  EXPECT_EQ(info->name, "");  // no runtime knows it: still a container
}

TEST_F(ContainerResolverTest, ByPidReadsProcCgroup) {
  fs::create_directories(cgroup2_.path() + "/libpod_parent/libpod-" + kPodmanId);
  auto info = resolver_->by_pid(4422);  // tests/data/containers/proc/4422/cgroup, as on this hybrid host
  ASSERT_TRUE(info);
  EXPECT_EQ(info->id, kPodmanId);
  EXPECT_EQ(info->cgroup_id, inode("/libpod_parent/libpod-" + kPodmanId));
  EXPECT_FALSE(resolver_->by_pid(1));
  EXPECT_FALSE(resolver_->by_pid(999999));
}

TEST_F(ContainerResolverTest, ListsEachRunningContainerOnce) {
  auto all = resolver_->list();
  ASSERT_EQ(all.size(), 4u);
  std::vector<std::string> names;
  for (const auto& c : all) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"", "sdtest", "web", "worker"}));  // the containerd one is unnamed here
  EXPECT_EQ(all[0].runtime, Runtime::containerd);
  EXPECT_EQ(all[0].pod_uid, "2844b18b-c564-412a-a1ba-f459fde33c33");
  EXPECT_EQ(all[2].cgroup_path, "/machine.slice/libpod-" + kScopeId + ".scope");
}

TEST_F(ContainerResolverTest, ListPastItsDescribeBudgetListsTheRestUndescribed) {
  // A budget already spent: nothing new is asked of the runtime, every container is still listed.
  auto spent = resolver_->list(std::chrono::steady_clock::now());
  EXPECT_EQ(fake_->lookups, 0);
  ASSERT_EQ(spent.size(), 4u);
  for (const auto& c : spent) {
    EXPECT_EQ(c.name, "");
    EXPECT_EQ(c.init_pid, 0);
    EXPECT_NE(c.cgroup_id, 0u);
    EXPECT_TRUE(c.running);
  }
  // Not cached either: the next list with time to spare describes them.
  auto all = resolver_->list();
  EXPECT_EQ(fake_->lookups, 4);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[1].name, "sdtest");
  // Described ones come from the cache, even past the budget.
  auto cached = resolver_->list(std::chrono::steady_clock::now());
  EXPECT_EQ(fake_->lookups, 4);
  EXPECT_EQ(cached[1].name, "sdtest");
}

TEST_F(ContainerResolverTest, FindsByNameIdAndUniquePrefix) {
  auto by_name = resolver_->find("web");
  ASSERT_TRUE(by_name) << by_name.error().message;
  EXPECT_EQ(by_name->id, kScopeId);
  EXPECT_EQ(by_name->cgroup_id, inode("/machine.slice/libpod-" + kScopeId + ".scope"));
  EXPECT_TRUE(by_name->running);

  auto by_id = resolver_->find(kPodmanId);
  ASSERT_TRUE(by_id) << by_id.error().message;
  EXPECT_EQ(by_id->name, "sdtest");

  auto by_prefix = resolver_->find("abc2");
  ASSERT_TRUE(by_prefix) << by_prefix.error().message;
  EXPECT_EQ(by_prefix->name, "worker");

  // Known to cgroupfs only: found by id prefix, without a name.
  auto cgroup_only = resolver_->find("15f466");
  ASSERT_TRUE(cgroup_only) << cgroup_only.error().message;
  EXPECT_EQ(cgroup_only->runtime, Runtime::containerd);
}

TEST_F(ContainerResolverTest, FindsAStoppedContainer) {
  auto stopped = resolver_->find("stopped-one");
  ASSERT_TRUE(stopped) << stopped.error().message;
  EXPECT_FALSE(stopped->running);
  EXPECT_EQ(stopped->cgroup_id, 0u);
  EXPECT_EQ(stopped->cgroup_path, "");
}

TEST_F(ContainerResolverTest, AmbiguousPrefixListsTheMatches) {
  auto r = resolver_->find("abc");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("matches 2 containers"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("web (abc111111111, podman)"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("worker (abc222222222, podman)"), std::string::npos) << r.error().message;
  EXPECT_FALSE(resolver_->find("ab"));  // too short for a prefix
}

TEST_F(ContainerResolverTest, UnknownNameSaysWhereItLooked) {
  auto r = resolver_->find("nosuch");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "no container \"nosuch\" (looked in: podman, docker, containerd, cri-o, cgroupfs)");
  EXPECT_FALSE(resolver_->find(""));
}

TEST_F(ContainerResolverTest, FindsByCgroupPath) {
  const std::string cgroup = "/libpod_parent/libpod-" + kPodmanId;
  auto relative = resolver_->find(cgroup);
  ASSERT_TRUE(relative) << relative.error().message;
  EXPECT_EQ(relative->name, "sdtest");
  EXPECT_EQ(relative->cgroup_id, inode(cgroup));

  auto full = resolver_->find(cgroup2_.path() + cgroup);
  ASSERT_TRUE(full) << full.error().message;
  EXPECT_EQ(full->cgroup_path, cgroup);

  auto gone = resolver_->find("/system.slice/docker-" + std::string(64, 'e') + ".scope");
  ASSERT_TRUE(gone) << gone.error().message;
  EXPECT_FALSE(gone->running);

  EXPECT_FALSE(resolver_->find("/system.slice/sshd.service"));
}

// The real runtime state readers over the fixture trees, resolving processes of Kubernetes pods.
TEST(ContainerResolver, KubernetesPodsFromRuntimeStateFiles) {
  TempDir cgroup2;
  const std::string crio_cgroup = "/kubepods.slice/kubepods-burstable.slice/"
                                  "kubepods-burstable-pod7a21865b_458c_429d_afb2_3bdeaade08df.slice/crio-" +
                                  kCrioId + ".scope";
  fs::create_directories(cgroup2.path() + kPodSlice + "/cri-containerd-" + kContainerdId + ".scope");
  fs::create_directories(cgroup2.path() + crio_cgroup);
  HostRoots roots;
  roots.proc = ProcFs(kData + "/proc");
  roots.cgroup2 = cgroup2.path();
  roots.podman_binary = "/nonexistent/podman";
  roots.docker_state = kData + "/docker";
  roots.containerd_state = kData + "/containerd";
  roots.crio_state = kData + "/crio";
  ContainerResolver resolver(roots);

  auto app = resolver.by_pid(4242);
  ASSERT_TRUE(app);
  EXPECT_EQ(app->runtime, Runtime::containerd);
  EXPECT_EQ(app->name, "app");
  EXPECT_EQ(app->pod_name, "web-7d4b9c8f5-x2kq9");
  EXPECT_EQ(app->pod_namespace, "shop");
  EXPECT_EQ(app->init_pid, 4242);

  auto api = resolver.by_pid(5151);
  ASSERT_TRUE(api);
  EXPECT_EQ(api->runtime, Runtime::crio);
  EXPECT_EQ(api->stop_timeout_s, 45);
  struct stat st {};
  ASSERT_EQ(::stat((cgroup2.path() + crio_cgroup).c_str(), &st), 0);
  EXPECT_EQ(api->cgroup_id, st.st_ino);

  // Two pods run a container named "app"; the pod-qualified name picks one.
  auto ambiguous = resolver.find("app");
  ASSERT_FALSE(ambiguous);
  EXPECT_NE(ambiguous.error().message.find("\"app\" names 2 containers"), std::string::npos)
      << ambiguous.error().message;
  auto qualified = resolver.find("billing/api-5f6b7c-9qzlm/app");
  ASSERT_TRUE(qualified) << qualified.error().message;
  EXPECT_EQ(qualified->id, kCrioId);
  EXPECT_TRUE(qualified->running);

  auto docker = resolver.find("web-docker");  // in docker's state, not in this cgroup tree
  ASSERT_TRUE(docker) << docker.error().message;
  EXPECT_EQ(docker->stop_signal, SIGQUIT);
}

}  // namespace
}  // namespace sigdrain
