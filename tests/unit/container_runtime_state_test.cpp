#include "containers/runtime_state.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

#include "containers/run_command.hpp"

namespace sigdrain {
namespace {

namespace fs = std::filesystem;

const std::string kData = std::string(SIGDRAIN_TEST_DATA) + "/containers";
const std::string kPodmanId = "64fc05818c136964af457ce0b7dc90652c689e39deee27f1473abf24f0ebceb2";
const std::string kDockerId = "b0e04ee138ba81f305f7d88a96c04dcd3dadd75d786c0e88028e82e5bd3ea2a7";
const std::string kStoppedDockerId = "2c1f1f861b06594aa3932f9f3a5b1197da02591db66b2f07cc04ebec5b0c0a0a";
const std::string kMalformedDockerId = "2b4a006b278e6a32ff2d9ce3d7a2f604a7307ebdbad9077560c6afc9ac8ea358";
const std::string kContainerdId = "15f466d1484c494a8501b93c5df56439dbe73774ef98514d3b7afb3066e8a5a4";
const std::string kSandboxId = "c940db9cee8ddacf95950dbd9888e1a7bacb1b6b7ceb7ff6fc764240220ed63b";
const std::string kCrioId = "1141bef3091c1709f3a5b1e412e02f79a6eeddf8211dbf6fa0d041746606cc74";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

HostRoots fixture_roots() {
  HostRoots roots;
  roots.proc = ProcFs(kData + "/proc");
  roots.cgroup2 = kData + "/no-cgroup2";
  roots.podman_binary = "/nonexistent/podman";
  roots.docker_state = kData + "/docker";
  roots.containerd_state = kData + "/containerd";
  roots.crio_state = kData + "/crio";
  roots.podman_graphroot = kData + "/podman-storage/graph";
  roots.podman_runroot = kData + "/podman-storage/run";
  return roots;
}

// A shell script standing in for podman; `body` runs with the arguments podman would get.
std::string write_fake_podman(const TempDir& dir, const std::string& body) {
  std::string path = dir.path() + "/podman";
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  ::chmod(path.c_str(), 0755);
  return path;
}

TEST(ContainerRuntimeState, ParsesRealPodmanInspectOutput) {
  // Captured from `podman container inspect sdtest` for a container run with
  // --label app=web --label tier=front --stop-timeout 7 --stop-signal SIGINT.
  auto d = parse_podman_inspect(read_file(kData + "/podman/inspect-sdtest.json"));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->runtime, Runtime::podman);
  EXPECT_EQ(d->id, kPodmanId);
  EXPECT_EQ(d->name, "sdtest");
  EXPECT_EQ(d->labels.at("app"), "web");
  EXPECT_EQ(d->labels.at("tier"), "front");
  EXPECT_EQ(d->labels.at("io.container.manager"), "libpod");  // an annotation
  EXPECT_EQ(d->stop_timeout_s, 7);
  EXPECT_EQ(d->stop_signal, SIGINT);
  EXPECT_EQ(d->init_pid, 4422);
  EXPECT_TRUE(d->running);
  EXPECT_EQ(d->pod_name, "");
}

TEST(ContainerRuntimeState, PodmanStopSignalAsNameAndLabelsWinOverAnnotations) {
  std::string json = R"([{"Id":")" + kPodmanId +
                     R"(","Name":"web","State":{"Running":false,"Pid":0},
      "Config":{"Labels":{"x":"label"},"Annotations":{"x":"annotation","y":"annotation"},"StopSignal":"SIGTERM"}}])";
  auto d = parse_podman_inspect(json);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->stop_signal, SIGTERM);
  EXPECT_EQ(d->stop_timeout_s, std::nullopt);
  EXPECT_EQ(d->labels.at("x"), "label");
  EXPECT_EQ(d->labels.at("y"), "annotation");
  EXPECT_FALSE(d->running);
  EXPECT_EQ(d->init_pid, 0);
}

TEST(ContainerRuntimeState, MalformedPodmanOutputIsAnErrorNotACrash) {
  for (const std::string& bad : std::vector<std::string>{
           "",
           "[]",
           "{",
           "null",
           "[1]",
           R"([{"Name":"no id"}])",
           R"([{"Id":"short"}])",
           std::string(100000, '['),
           R"([{"Id":")" + kPodmanId + R"(","Name":7,"State":[],"Config":{"Labels":[1],"StopTimeout":-3,
               "StopSignal":99}}])",
       }) {
    auto d = parse_podman_inspect(bad);
    if (!d) continue;
    // Only the last one parses: wrong-typed fields are ignored, not trusted.
    EXPECT_EQ(d->name, "");
    EXPECT_TRUE(d->labels.empty());
    EXPECT_EQ(d->stop_timeout_s, std::nullopt);
    EXPECT_EQ(d->stop_signal, std::nullopt);
  }
  EXPECT_FALSE(parse_podman_inspect("[]"));
  EXPECT_FALSE(parse_podman_inspect(std::string(100000, '[')));
}

TEST(ContainerRuntimeState, ParsesDockerConfig) {
  auto d = parse_docker_config(read_file(kData + "/docker/containers/" + kDockerId + "/config.v2.json"));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->runtime, Runtime::docker);
  EXPECT_EQ(d->id, kDockerId);
  EXPECT_EQ(d->name, "web-docker");
  EXPECT_EQ(d->labels.at("com.example.team"), "storefront");
  EXPECT_EQ(d->stop_timeout_s, 20);
  EXPECT_EQ(d->stop_signal, SIGQUIT);
  EXPECT_EQ(d->init_pid, 2001);
  EXPECT_TRUE(d->running);

  auto stopped = parse_docker_config(read_file(kData + "/docker/containers/" + kStoppedDockerId + "/config.v2.json"));
  ASSERT_TRUE(stopped) << stopped.error().message;
  EXPECT_EQ(stopped->name, "old-worker");
  EXPECT_FALSE(stopped->running);
  EXPECT_EQ(stopped->init_pid, 0);
  EXPECT_TRUE(stopped->labels.empty());  // "Labels": null
  EXPECT_EQ(stopped->stop_signal, std::nullopt);

  EXPECT_FALSE(parse_docker_config(read_file(kData + "/docker/containers/" + kMalformedDockerId + "/config.v2.json")));
}

TEST(ContainerRuntimeState, ParsesContainerdCriBundle) {
  auto d = parse_oci_bundle_config(Runtime::containerd,
                                   read_file(kData + "/containerd/io.containerd.runtime.v2.task/k8s.io/" +
                                             kContainerdId + "/config.json"));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->runtime, Runtime::containerd);
  EXPECT_EQ(d->name, "app");
  EXPECT_EQ(d->pod_name, "web-7d4b9c8f5-x2kq9");
  EXPECT_EQ(d->pod_namespace, "shop");
  EXPECT_EQ(d->pod_uid, "2844b18b-c564-412a-a1ba-f459fde33c33");
  EXPECT_EQ(d->labels.at("io.kubernetes.cri.image-name"), "docker.io/library/nginx:1.25");
  EXPECT_EQ(d->stop_timeout_s, std::nullopt);  // containerd's bundle does not carry the grace period
}

TEST(ContainerRuntimeState, ParsesCrioBundleWithEmbeddedLabelsAndGracePeriod) {
  auto d = parse_oci_bundle_config(Runtime::crio,
                                   read_file(kData + "/crio/overlay-containers/" + kCrioId + "/userdata/config.json"));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->name, "app");
  EXPECT_EQ(d->pod_name, "api-5f6b7c-9qzlm");
  EXPECT_EQ(d->pod_namespace, "billing");
  EXPECT_EQ(d->pod_uid, "7a21865b-458c-429d-afb2-3bdeaade08df");  // only in the embedded Labels JSON
  EXPECT_EQ(d->labels.at("app"), "api");
  EXPECT_EQ(d->labels.at("io.kubernetes.container.restartCount"), "0");  // from the embedded Annotations JSON
  EXPECT_EQ(d->stop_timeout_s, 45);
}

TEST(ContainerRuntimeState, MalformedBundlesAreErrors) {
  EXPECT_FALSE(parse_oci_bundle_config(Runtime::crio, "{\"annotations\": [1, 2]}"));
  EXPECT_FALSE(parse_oci_bundle_config(Runtime::crio, "{\"ociVersion\": \"1.0.2\"}"));
  EXPECT_FALSE(parse_oci_bundle_config(Runtime::crio, "\"annotations\""));
  // A broken embedded JSON string is skipped; the rest still counts.
  auto d = parse_oci_bundle_config(
      Runtime::crio, R"({"annotations":{"io.kubernetes.cri-o.Labels":"{not json","io.kubernetes.container.name":"x",
                         "io.kubernetes.pod.terminationGracePeriod":"-5"}})");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->name, "x");
  EXPECT_EQ(d->stop_timeout_s, std::nullopt);
}

TEST(ContainerRuntimeState, NamesContainer) {
  RuntimeDetails d;
  d.id = kCrioId;
  d.name = "app";
  d.pod_name = "api-1";
  d.pod_namespace = "billing";
  EXPECT_TRUE(names_container(d, "app"));
  EXPECT_TRUE(names_container(d, "api-1/app"));
  EXPECT_TRUE(names_container(d, "billing/api-1/app"));
  EXPECT_TRUE(names_container(d, kCrioId));
  EXPECT_TRUE(names_container(d, "114"));
  EXPECT_FALSE(names_container(d, "11"));  // prefixes need 3 characters
  EXPECT_FALSE(names_container(d, "other/api-1/app"));
  EXPECT_FALSE(names_container(d, ""));
  EXPECT_FALSE(names_container(d, "ap"));
}

TEST(ContainerRuntimeState, HostStateReadsFixtureFiles) {
  HostRuntimeState state(fixture_roots());

  auto docker = state.lookup(Runtime::docker, kDockerId);
  ASSERT_TRUE(docker);
  EXPECT_EQ(docker->name, "web-docker");

  auto containerd = state.lookup(Runtime::containerd, kContainerdId);
  ASSERT_TRUE(containerd);
  EXPECT_EQ(containerd->id, kContainerdId);
  EXPECT_EQ(containerd->init_pid, 4242);
  EXPECT_TRUE(containerd->running);  // <proc>/4242 exists in the fixture

  auto sandbox = state.lookup(Runtime::containerd, kSandboxId);
  ASSERT_TRUE(sandbox);
  EXPECT_EQ(sandbox->init_pid, 4200);
  EXPECT_FALSE(sandbox->running);  // no <proc>/4200

  auto crio = state.lookup(Runtime::crio, kCrioId);
  ASSERT_TRUE(crio);
  EXPECT_EQ(crio->init_pid, 5151);
  EXPECT_EQ(crio->stop_timeout_s, 45);

  // A bare id from a cgroupfs-driver kubelet path: the runtime is found by looking.
  auto unknown = state.lookup(Runtime::unknown, kCrioId);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->runtime, Runtime::crio);

  EXPECT_FALSE(state.lookup(Runtime::docker, kMalformedDockerId));
  EXPECT_FALSE(state.lookup(Runtime::docker, kCrioId));
  EXPECT_FALSE(state.lookup(Runtime::docker, "../../etc"));
  EXPECT_FALSE(state.lookup(Runtime::podman, kPodmanId));  // no podman binary, and its state files do not know it
}

TEST(ContainerRuntimeState, HostStateFindsByNameAcrossRuntimes) {
  HostRuntimeState state(fixture_roots());
  auto web = state.find("web-docker");
  ASSERT_EQ(web.size(), 1u);
  EXPECT_EQ(web[0].id, kDockerId);

  auto stopped = state.find("old-worker");
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_FALSE(stopped[0].running);

  // Two pods have a container named "app".
  EXPECT_EQ(state.find("app").size(), 2u);
  auto qualified = state.find("shop/web-7d4b9c8f5-x2kq9/app");
  ASSERT_EQ(qualified.size(), 1u);
  EXPECT_EQ(qualified[0].id, kContainerdId);

  EXPECT_EQ(state.find("1141b").size(), 1u);
  EXPECT_TRUE(state.find("nosuch").empty());
  EXPECT_TRUE(state.find("").empty());
}

TEST(ContainerRuntimeState, HostStateRunsPodmanInspect) {
  TempDir dir;
  HostRoots roots = fixture_roots();
  // Answers like podman: the inspect JSON for "sdtest" or the full id, "[]" and status 125 otherwise.
  roots.podman_binary = write_fake_podman(
      dir, "[ \"$1 $2 $3\" = \"container inspect --\" ] || exit 3\n"
           "case \"$4\" in sdtest|" + kPodmanId + ") cat '" + kData + "/podman/inspect-sdtest.json' ;;\n"
           "*) echo '[]'; exit 125 ;; esac");
  HostRuntimeState state(roots);

  auto by_id = state.lookup(Runtime::podman, kPodmanId);
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->name, "sdtest");

  auto by_name = state.find("sdtest");
  ASSERT_EQ(by_name.size(), 1u);
  EXPECT_EQ(by_name[0].id, kPodmanId);

  EXPECT_TRUE(state.find("nosuch").empty());
}

TEST(ContainerRuntimeState, HostStateGivesUpOnAHangingPodman) {
  TempDir dir;
  HostRoots roots = fixture_roots();
  roots.podman_binary = write_fake_podman(dir, "exec sleep 30");
  HostRuntimeState state(roots, std::chrono::milliseconds(200));
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(state.lookup(Runtime::podman, kPodmanId));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(ContainerRuntimeState, RunCommandReportsOutputStatusAndTimeout) {
  auto ok = run_command({"sh", "-c", "echo hello; echo err >&2"}, std::chrono::seconds(5));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, "hello\n");

  auto failed = run_command({"sh", "-c", "echo partial; exit 125"}, std::chrono::seconds(5));
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("status 125"), std::string::npos) << failed.error().message;

  auto missing = run_command({"/nonexistent/podman"}, std::chrono::seconds(5));
  EXPECT_FALSE(missing);

  auto slow = run_command({"sleep", "30"}, std::chrono::milliseconds(100));
  ASSERT_FALSE(slow);
  EXPECT_NE(slow.error().message.find("did not finish"), std::string::npos) << slow.error().message;

  EXPECT_FALSE(run_command({}, std::chrono::seconds(1)));
}

// Without a podman binary (a daemon in a container image), podman's containers/storage state files stand in for
// `podman container inspect`. Fixture: tests/data/containers/podman-storage/{graph,run}, trimmed from podman 4.3.
const std::string kPodmanWebId = "7d1c3a9e5b2f48c6a0e1d9b8c7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c";
const std::string kPodmanWorkerId = "7d1c3a9e00000000000000000000000000000000000000000000000000000001";

TEST(PodmanStateFiles, ParsesContainersJson) {
  auto parsed = parse_storage_containers(R"([{"id":")" + kPodmanWebId +
                                         R"(","names":["web","alias"]},{"id":"short","names":["x"]},{"names":["no id"]},3])");
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 1u);  // entries without a container id are skipped
  EXPECT_EQ((*parsed)[0].id, kPodmanWebId);
  EXPECT_EQ((*parsed)[0].names, (std::vector<std::string>{"web", "alias"}));

  EXPECT_FALSE(parse_storage_containers("{}"));
  EXPECT_FALSE(parse_storage_containers("[{"));
  EXPECT_TRUE(parse_storage_containers("[]"));
}

TEST(PodmanStateFiles, LookupByIdReadsNameAnnotationsStopSignalAndPid) {
  HostRuntimeState state(fixture_roots());
  auto web = state.lookup(Runtime::podman, kPodmanWebId);
  ASSERT_TRUE(web);
  EXPECT_EQ(web->runtime, Runtime::podman);
  EXPECT_EQ(web->id, kPodmanWebId);
  EXPECT_EQ(web->name, "web");                                    // containers.json
  EXPECT_EQ(web->labels.at("sigdrain.io/max-drain-ms"), "3000");  // `podman run --annotation`
  EXPECT_EQ(web->stop_signal, 2);                                 // org.opencontainers.image.stopSignal
  EXPECT_FALSE(web->stop_timeout_s);                              // not in the state files: the daemon's default applies
  EXPECT_EQ(web->init_pid, 4422);                                 // the run root's pidfile
  EXPECT_TRUE(web->running);                                      // <proc>/4422 exists

  auto worker = state.lookup(Runtime::podman, kPodmanWorkerId);
  ASSERT_TRUE(worker);
  EXPECT_EQ(worker->stop_signal, 15);
  EXPECT_EQ(worker->init_pid, 4999);
  EXPECT_FALSE(worker->running);  // no <proc>/4999
}

TEST(PodmanStateFiles, FindsByNameAndUnambiguousPrefix) {
  HostRuntimeState state(fixture_roots());
  auto by_name = state.find("web");
  ASSERT_EQ(by_name.size(), 1u);
  EXPECT_EQ(by_name[0].id, kPodmanWebId);
  EXPECT_EQ(state.find("7d1c3a9e5b").size(), 1u);
  EXPECT_TRUE(state.find("7d1c3a9e").empty());  // both podman containers' ids start with it
}

TEST(PodmanStateFiles, CrioContainersInTheSameStorageAreNotPodmans) {
  HostRuntimeState state(fixture_roots());
  EXPECT_FALSE(state.lookup(Runtime::podman, kCrioId));  // in containers.json, but its config.json is CRI-O's
}

TEST(PodmanStateFiles, MissingStorageIsNotKnownHere) {
  HostRoots roots = fixture_roots();
  roots.podman_graphroot = kData + "/none";
  HostRuntimeState state(roots);
  EXPECT_FALSE(state.lookup(Runtime::podman, kPodmanWebId));
}

TEST(PodmanStateFiles, APodmanBinaryThatRunsIsAskedInstead) {
  HostRoots roots = fixture_roots();
  roots.podman_binary = "/bin/false";  // runs, and knows no container: the state files are not consulted
  HostRuntimeState state(roots);
  EXPECT_FALSE(state.lookup(Runtime::podman, kPodmanWebId));
}

}  // namespace
}  // namespace sigdrain
