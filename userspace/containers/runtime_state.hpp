// What container runtimes record about a container: name, labels, stop timeout and signal, init pid. The parsers
// are pure (text in, details out) so they can be fuzzed; HostRuntimeState does the I/O.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "containers/cgroup_path.hpp"
#include "containers/host_roots.hpp"
#include "util/result.hpp"

namespace sigdrain {

struct RuntimeDetails {
  Runtime runtime = Runtime::unknown;
  std::string id;    // 64 hex digits
  std::string name;  // Kubernetes: the container's name in its pod
  std::string pod_name, pod_namespace, pod_uid;
  std::map<std::string, std::string> labels;  // labels and OCI annotations; labels win on a clash
  std::optional<int> stop_timeout_s;          // Kubernetes: the pod's terminationGracePeriod
  std::optional<int> stop_signal;
  pid_t init_pid = 0;
  bool running = false;
};

// `podman container inspect` output: a JSON array, of which the first element is taken.
Result<RuntimeDetails> parse_podman_inspect(std::string_view json);
// Docker's <state>/containers/<id>/config.v2.json.
Result<RuntimeDetails> parse_docker_config(std::string_view json);
// An OCI bundle's config.json as containerd's CRI plugin and CRI-O write it; the id and init pid are not in it.
// CRI-O's "io.kubernetes.cri-o.Labels" and "io.kubernetes.cri-o.Annotations" (JSON in a string) are merged in.
Result<RuntimeDetails> parse_oci_bundle_config(Runtime runtime, std::string_view json);

// One container of containers/storage's overlay-containers/containers.json (podman and CRI-O share the format).
struct StorageContainer {
  std::string id;
  std::vector<std::string> names;
};
Result<std::vector<StorageContainer>> parse_storage_containers(std::string_view json);

// Whether `query` names this container: its name, "<pod>/<name>", "<namespace>/<pod>/<name>", its full id,
// or a prefix of its id of at least 3 characters.
bool names_container(const RuntimeDetails& details, std::string_view query);

// The seam between the resolver and the runtimes' state, so that tests can fake it.
class RuntimeStateSource {
 public:
  virtual ~RuntimeStateSource() = default;
  // The runtime's record of container `id`; Runtime::unknown asks every runtime. nullopt when none knows it.
  virtual std::optional<RuntimeDetails> lookup(Runtime runtime, std::string_view id) = 0;
  // Every container, running or not, that `query` names (see names_container()).
  virtual std::vector<RuntimeDetails> find(std::string_view query) = 0;
};

// Reads the runtimes' state on the host: podman through `podman container inspect`, docker, containerd and CRI-O
// from their state files. Missing runtimes and malformed files count as "not known here".
// Without a podman binary (a daemon in a container image) podman's own state files stand in for it: they have the
// name, the OCI annotations (`--annotation`), the stop signal and the init pid, but not `--label` labels nor the
// stop timeout (the daemon's default-timeout applies).
class HostRuntimeState : public RuntimeStateSource {
 public:
  explicit HostRuntimeState(HostRoots roots, std::chrono::milliseconds podman_timeout = std::chrono::seconds(5));
  std::optional<RuntimeDetails> lookup(Runtime runtime, std::string_view id) override;
  std::vector<RuntimeDetails> find(std::string_view query) override;

 private:
  std::optional<RuntimeDetails> podman(std::string_view name_or_id);
  std::optional<RuntimeDetails> podman_state_files(std::string_view name_or_id);
  // An OCI bundle's config.json and the init's pid file, as containerd, CRI-O and podman keep them.
  std::optional<RuntimeDetails> from_bundle(Runtime runtime, std::string_view id, const std::string& config_path,
                                            const std::string& pid_path);
  std::optional<RuntimeDetails> docker(std::string_view id);
  std::optional<RuntimeDetails> containerd(std::string_view id);
  std::optional<RuntimeDetails> crio(std::string_view id);
  bool process_exists(pid_t pid) const;

  HostRoots roots_;
  std::chrono::milliseconds podman_timeout_;
};

}  // namespace sigdrain
