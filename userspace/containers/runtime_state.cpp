#include "containers/runtime_state.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <filesystem>
#include <initializer_list>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "containers/run_command.hpp"
#include "signals/signal_names.hpp"
#include "util/files.hpp"
#include "util/json.hpp"
#include "util/parse_number.hpp"
#include "util/text.hpp"

namespace sigdrain {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxStateFile = 16u << 20;
constexpr int kMaxJsonDepth = 128;

// nlohmann's parser recurses once per nesting level; refuse deeper documents before parsing so that hostile
// input cannot exhaust the stack.
bool nesting_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

Result<json> parse_json(std::string_view text, std::string_view what) {
  if (!nesting_within(text, kMaxJsonDepth)) return Error::msg(fmt::format("{}: JSON nested too deeply", what));
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Error::msg(fmt::format("{}: not valid JSON", what));
  return doc;
}

const json* member(const json& obj, const char* key) { return json_member(obj, key); }

std::string string_at(const json& obj, const char* key) {
  const json* v = member(obj, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

std::optional<int64_t> integer_at(const json& obj, const char* key) { return json_integer(obj, key); }

bool bool_at(const json& obj, const char* key) {
  const json* v = member(obj, key);
  return v && v->is_boolean() && v->get<bool>();
}

// Copies the string values of a JSON object; keys already present keep their value.
void merge_strings(const json* obj, std::map<std::string, std::string>& out) {
  if (!obj || !obj->is_object()) return;
  for (const auto& [key, value] : obj->items())
    if (value.is_string()) out.emplace(key, value.get<std::string>());
}

// CRI-O stores the kubelet's labels and annotations as a JSON object inside one annotation's string.
void merge_embedded_strings(const std::string& text, std::map<std::string, std::string>& out) {
  if (text.empty()) return;
  auto doc = parse_json(text, "embedded annotation");
  if (doc) merge_strings(&*doc, out);
}

std::optional<int> seconds_from(std::optional<int64_t> v) {
  if (!v || *v < 0 || *v > INT_MAX) return std::nullopt;
  return static_cast<int>(*v);
}

std::optional<int> parse_seconds(std::string_view text) {
  auto v = parse_integer<int>(text);
  if (!v || *v < 0) return std::nullopt;
  return v;
}

// Podman writes the stop signal as a number, docker as a name ("SIGINT"); either may be absent.
std::optional<int> stop_signal_at(const json& obj, const char* key) {
  const json* v = member(obj, key);
  if (!v) return std::nullopt;
  if (v->is_string()) return parse_signal(v->get<std::string>());
  if (auto n = integer_at(obj, key); n && *n >= 1 && *n <= 64) return static_cast<int>(*n);
  return std::nullopt;
}

pid_t pid_at(const json& obj, const char* key) {
  auto v = integer_at(obj, key);
  return v && *v > 0 && *v <= INT_MAX ? static_cast<pid_t>(*v) : 0;
}

std::string first_label(const std::map<std::string, std::string>& labels, std::initializer_list<const char*> keys) {
  for (const char* key : keys)
    if (auto it = labels.find(key); it != labels.end() && !it->second.empty()) return it->second;
  return {};
}

// Kubernetes names a container by pod and container name, which the CRI runtimes keep in labels/annotations
// (containerd: io.kubernetes.cri.*, CRI-O and dockershim: io.kubernetes.*). The kubelet stops containers after
// the pod's grace period, so that is the stop timeout.
void apply_kubernetes_metadata(RuntimeDetails& d) {
  const auto& l = d.labels;
  if (auto v = first_label(l, {"io.kubernetes.cri.container-name", "io.kubernetes.container.name"}); !v.empty())
    d.name = v;
  if (auto v = first_label(l, {"io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"}); !v.empty())
    d.pod_name = v;
  if (auto v = first_label(l, {"io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"}); !v.empty())
    d.pod_namespace = v;
  if (auto v = first_label(l, {"io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"}); !v.empty()) d.pod_uid = v;
  if (auto grace = parse_seconds(first_label(l, {"io.kubernetes.pod.terminationGracePeriod"})))
    d.stop_timeout_s = grace;
}

pid_t read_pid_file(const std::string& path) {
  auto text = read_file(path, kMaxStateFile);
  if (!text) return 0;
  auto pid = parse_integer<pid_t>(trim(*text));
  return pid && *pid > 0 ? *pid : 0;
}

// Subdirectory names of `dir`; empty when it does not exist.
std::vector<std::string> subdirectories(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) out.push_back(it->path().filename().string());
  return out;
}

}  // namespace

Result<RuntimeDetails> parse_podman_inspect(std::string_view text) {
  auto doc = parse_json(text, "podman inspect output");
  if (!doc) return doc.error();
  const json* c = &*doc;
  if (c->is_array()) {
    if (c->empty()) return Error::msg("podman inspect output: no container");
    c = &(*c)[0];
  }
  if (!c->is_object()) return Error::msg("podman inspect output: not an object");
  RuntimeDetails d;
  d.runtime = Runtime::podman;
  d.id = string_at(*c, "Id");
  if (!is_container_id(d.id)) return Error::msg("podman inspect output: no container id");
  d.name = string_at(*c, "Name");
  if (const json* state = member(*c, "State")) {
    d.init_pid = pid_at(*state, "Pid");
    d.running = bool_at(*state, "Running");
  }
  if (const json* config = member(*c, "Config")) {
    merge_strings(member(*config, "Labels"), d.labels);
    merge_strings(member(*config, "Annotations"), d.labels);
    d.stop_timeout_s = seconds_from(integer_at(*config, "StopTimeout"));
    d.stop_signal = stop_signal_at(*config, "StopSignal");
  }
  apply_kubernetes_metadata(d);
  return d;
}

Result<RuntimeDetails> parse_docker_config(std::string_view text) {
  auto doc = parse_json(text, "docker config.v2.json");
  if (!doc) return doc.error();
  if (!doc->is_object()) return Error::msg("docker config.v2.json: not an object");
  RuntimeDetails d;
  d.runtime = Runtime::docker;
  d.id = string_at(*doc, "ID");
  if (!is_container_id(d.id)) return Error::msg("docker config.v2.json: no container id");
  d.name = string_at(*doc, "Name");
  if (d.name.starts_with('/')) d.name.erase(0, 1);
  if (const json* state = member(*doc, "State")) {
    d.running = bool_at(*state, "Running");
    if (d.running) d.init_pid = pid_at(*state, "Pid");
  }
  if (const json* config = member(*doc, "Config")) {
    merge_strings(member(*config, "Labels"), d.labels);
    d.stop_timeout_s = seconds_from(integer_at(*config, "StopTimeout"));
    d.stop_signal = stop_signal_at(*config, "StopSignal");
  }
  apply_kubernetes_metadata(d);
  return d;
}

Result<RuntimeDetails> parse_oci_bundle_config(Runtime runtime, std::string_view text) {
  auto doc = parse_json(text, "OCI config.json");
  if (!doc) return doc.error();
  if (!doc->is_object()) return Error::msg("OCI config.json: not an object");
  const json* annotations = member(*doc, "annotations");
  if (!annotations || !annotations->is_object()) return Error::msg("OCI config.json: no annotations");
  RuntimeDetails d;
  d.runtime = runtime;
  merge_embedded_strings(string_at(*annotations, "io.kubernetes.cri-o.Labels"), d.labels);
  merge_strings(annotations, d.labels);
  merge_embedded_strings(string_at(*annotations, "io.kubernetes.cri-o.Annotations"), d.labels);
  apply_kubernetes_metadata(d);
  return d;
}

Result<std::vector<StorageContainer>> parse_storage_containers(std::string_view text) {
  auto doc = parse_json(text, "containers.json");
  if (!doc) return doc.error();
  if (!doc->is_array()) return Error::msg("containers.json: not an array");
  std::vector<StorageContainer> out;
  for (const json& entry : *doc) {
    if (!entry.is_object()) continue;
    StorageContainer c{string_at(entry, "id"), {}};
    if (!is_container_id(c.id)) continue;
    if (const json* names = member(entry, "names"); names && names->is_array())
      for (const json& n : *names)
        if (n.is_string()) c.names.push_back(n.get<std::string>());
    out.push_back(std::move(c));
  }
  return out;
}

bool names_container(const RuntimeDetails& d, std::string_view query) {
  if (query.empty()) return false;
  if (query == d.id || (query.size() >= 3 && d.id.starts_with(query))) return true;
  if (d.name.empty()) return false;
  if (query == d.name) return true;
  if (d.pod_name.empty()) return false;
  std::string in_pod = d.pod_name + "/" + d.name;
  return query == in_pod || (!d.pod_namespace.empty() && query == d.pod_namespace + "/" + in_pod);
}

HostRuntimeState::HostRuntimeState(HostRoots roots, std::chrono::milliseconds podman_timeout)
    : roots_(std::move(roots)), podman_timeout_(podman_timeout) {}

std::optional<RuntimeDetails> HostRuntimeState::lookup(Runtime runtime, std::string_view id) {
  if (!is_container_id(id)) return std::nullopt;  // ids become path components below
  switch (runtime) {
    case Runtime::podman: return podman(id);
    case Runtime::docker: return docker(id);
    case Runtime::containerd: return containerd(id);
    case Runtime::crio: return crio(id);
    case Runtime::unknown: break;
  }
  // A bare id under a kubelet pod: the state files are cheap to look at, podman last.
  if (auto d = containerd(id)) return d;
  if (auto d = crio(id)) return d;
  if (auto d = docker(id)) return d;
  return podman(id);
}

std::vector<RuntimeDetails> HostRuntimeState::find(std::string_view query) {
  std::vector<RuntimeDetails> out;
  if (query.empty()) return out;
  // podman resolves names and id prefixes itself, prefixes of any length: hold it to the same rules.
  if (auto d = podman(query); d && names_container(*d, query)) out.push_back(std::move(*d));
  for (const auto& id : subdirectories(roots_.docker_state + "/containers"))
    if (is_container_id(id))
      if (auto d = docker(id); d && names_container(*d, query)) out.push_back(std::move(*d));
  for (const auto& ns : subdirectories(roots_.containerd_state + "/io.containerd.runtime.v2.task"))
    for (const auto& id : subdirectories(roots_.containerd_state + "/io.containerd.runtime.v2.task/" + ns))
      if (is_container_id(id))
        if (auto d = containerd(id); d && names_container(*d, query)) out.push_back(std::move(*d));
  for (const auto& id : subdirectories(roots_.crio_state + "/overlay-containers"))
    if (is_container_id(id))
      if (auto d = crio(id); d && names_container(*d, query)) out.push_back(std::move(*d));
  return out;
}

std::optional<RuntimeDetails> HostRuntimeState::podman(std::string_view name_or_id) {
  auto output = run_command({roots_.podman_binary, "container", "inspect", "--", std::string(name_or_id)},
                            podman_timeout_);
  if (!output && output.error().code == ENOENT) return podman_state_files(name_or_id);
  if (!output) return std::nullopt;
  auto d = parse_podman_inspect(*output);
  if (!d) return std::nullopt;
  return std::move(d).value();
}

std::optional<RuntimeDetails> HostRuntimeState::podman_state_files(std::string_view name_or_id) {
  const std::string containers = roots_.podman_graphroot + "/overlay-containers";
  std::vector<StorageContainer> known;
  if (auto text = read_file(containers + "/containers.json", kMaxStateFile))
    if (auto parsed = parse_storage_containers(*text)) known = std::move(*parsed);
  // podman's rules: a full id or a name, else an unambiguous id prefix.
  auto exact = std::find_if(known.begin(), known.end(), [&](const StorageContainer& c) {
    return c.id == name_or_id || std::find(c.names.begin(), c.names.end(), name_or_id) != c.names.end();
  });
  auto prefixed = [&](const StorageContainer& c) { return c.id.starts_with(name_or_id); };
  if (exact == known.end() && std::count_if(known.begin(), known.end(), prefixed) != 1) return std::nullopt;
  const StorageContainer& c = exact != known.end() ? *exact : *std::find_if(known.begin(), known.end(), prefixed);
  auto d = from_bundle(Runtime::podman, c.id, fmt::format("{}/{}/userdata/config.json", containers, c.id),
                       fmt::format("{}/overlay-containers/{}/userdata/pidfile", roots_.podman_runroot, c.id));
  // CRI-O may share this storage; its containers are not podman's.
  if (!d) return std::nullopt;
  if (auto manager = d->labels.find("io.container.manager"); manager == d->labels.end() || manager->second != "libpod")
    return std::nullopt;
  if (!c.names.empty()) d->name = c.names.front();
  if (auto it = d->labels.find("org.opencontainers.image.stopSignal"); it != d->labels.end())
    d->stop_signal = parse_signal(it->second);
  return d;
}

std::optional<RuntimeDetails> HostRuntimeState::docker(std::string_view id) {
  auto text = read_file(fmt::format("{}/containers/{}/config.v2.json", roots_.docker_state, id), kMaxStateFile);
  if (!text) return std::nullopt;
  auto d = parse_docker_config(*text);
  if (!d || d->id != id) return std::nullopt;
  return std::move(d).value();
}

std::optional<RuntimeDetails> HostRuntimeState::containerd(std::string_view id) {
  // The CRI plugin uses the "k8s.io" namespace; docker's own containerd uses "moby". Any namespace may hold it.
  const std::string tasks = roots_.containerd_state + "/io.containerd.runtime.v2.task";
  for (const auto& ns : subdirectories(tasks)) {
    std::string bundle = fmt::format("{}/{}/{}", tasks, ns, id);
    std::error_code ec;
    if (fs::exists(bundle + "/config.json", ec))
      return from_bundle(Runtime::containerd, id, bundle + "/config.json", bundle + "/init.pid");
  }
  return std::nullopt;
}

std::optional<RuntimeDetails> HostRuntimeState::crio(std::string_view id) {
  std::string userdata = fmt::format("{}/overlay-containers/{}/userdata", roots_.crio_state, id);
  return from_bundle(Runtime::crio, id, userdata + "/config.json", userdata + "/pidfile");
}

std::optional<RuntimeDetails> HostRuntimeState::from_bundle(Runtime runtime, std::string_view id,
                                                            const std::string& config_path,
                                                            const std::string& pid_path) {
  auto text = read_file(config_path, kMaxStateFile);
  if (!text) return std::nullopt;
  auto d = parse_oci_bundle_config(runtime, *text);
  if (!d) return std::nullopt;
  d->id = std::string(id);
  d->init_pid = read_pid_file(pid_path);
  d->running = process_exists(d->init_pid);
  return std::move(d).value();
}

bool HostRuntimeState::process_exists(pid_t pid) const {
  struct stat st {};
  return pid > 0 && ::stat(fmt::format("{}/{}", roots_.proc.root(), pid).c_str(), &st) == 0;
}

}  // namespace sigdrain
