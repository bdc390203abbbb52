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
class HostRuntimeState : public RuntimeStateSource {
 public:
  explicit HostRuntimeState(HostRoots roots, std::chrono::milliseconds podman_timeout = std::chrono::seconds(5));
  std::optional<RuntimeDetails> lookup(Runtime runtime, std::string_view id) override;
  std::vector<RuntimeDetails> find(std::string_view query) override;

 private:
  std::optional<RuntimeDetails> podman(std::string_view name_or_id);
  std::optional<RuntimeDetails> docker(std::string_view id);
  std::optional<RuntimeDetails> containerd(std::string_view id);
  std::optional<RuntimeDetails> crio(std::string_view id);
  bool process_exists(pid_t pid) const;

  HostRoots roots_;
  std::chrono::milliseconds podman_timeout_;
};

}  // namespace sigdrain
