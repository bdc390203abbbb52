#include "containers/cgroup_path.hpp"

#include <algorithm>
#include <array>
#include <span>
#include <vector>

namespace sigdrain {
namespace {

struct Component {
  std::string_view name;
  size_t end;  // offset in the path just past `name`, to cut the path after it
};

std::vector<Component> split_path(std::string_view path) {
  std::vector<Component> out;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (end > pos) out.push_back({path.substr(pos, end - pos), end});
    pos = end + 1;
  }
  return out;
}

std::string_view strip_suffix(std::string_view s, std::string_view suffix) {
  if (s.ends_with(suffix)) s.remove_suffix(suffix.size());
  return s;
}

enum class ComponentKind { other, container, conmon };

struct ComponentMatch {
  ComponentKind kind = ComponentKind::other;
  Runtime runtime = Runtime::unknown;
  std::string_view id;
};

// "<prefix><id>" with or without systemd's ".scope" suffix; conmon prefixes before the plain ones they extend.
struct RuntimePrefix {
  std::string_view prefix;
  Runtime runtime;
  ComponentKind kind;
};
constexpr std::array<RuntimePrefix, 6> kRuntimePrefixes = {{
    {"libpod-conmon-", Runtime::podman, ComponentKind::conmon},
    {"libpod-", Runtime::podman, ComponentKind::container},
    {"docker-", Runtime::docker, ComponentKind::container},
    {"cri-containerd-", Runtime::containerd, ComponentKind::container},
    {"crio-conmon-", Runtime::crio, ComponentKind::conmon},
    {"crio-", Runtime::crio, ComponentKind::container},
}};

ComponentMatch match_prefixed(std::string_view component) {
  std::string_view name = strip_suffix(component, ".scope");
  for (const auto& p : kRuntimePrefixes) {
    if (!name.starts_with(p.prefix)) continue;
    std::string_view id = name.substr(p.prefix.size());
    if (!is_container_id(id)) return {};
    return {p.kind, p.runtime, id};
  }
  return {};
}

bool is_kubepods(std::string_view component) { return component == "kubepods" || component == "kubepods.slice"; }

std::string_view qos_of(std::string_view component) {
  for (std::string_view qos : {"burstable", "besteffort"}) {
    if (component == qos) return qos;  // cgroupfs driver
    if (component.starts_with("kubepods-") && strip_suffix(component.substr(9), ".slice") == qos) return qos;
  }
  return {};
}

// "pod<uid>" (cgroupfs driver) or "kubepods[-<qos>]-pod<uid with underscores>.slice" (systemd driver).
std::optional<std::string> pod_uid_of(std::string_view component) {
  std::string_view rest;
  if (component.starts_with("pod")) {
    rest = component.substr(3);
  } else if (component.starts_with("kubepods-") && component.ends_with(".slice")) {
    rest = strip_suffix(component.substr(9), ".slice");
    for (std::string_view qos : {"burstable-", "besteffort-"})
      if (rest.starts_with(qos)) rest.remove_prefix(qos.size());
    if (!rest.starts_with("pod")) return std::nullopt;
    rest.remove_prefix(3);
  } else {
    return std::nullopt;
  }
  bool valid = !rest.empty() && std::all_of(rest.begin(), rest.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-' || c == '_';
  });
  if (!valid) return std::nullopt;
  std::string uid(rest);
  std::replace(uid.begin(), uid.end(), '_', '-');  // systemd slice names cannot hold '-' inside a unit's part
  return uid;
}

struct KubernetesContext {
  bool in_kubepods = false;
  std::string pod_uid;
  std::string qos;
};

KubernetesContext kubernetes_context(std::span<const Component> ancestors) {
  KubernetesContext ctx;
  for (const auto& c : ancestors) {
    if (is_kubepods(c.name)) {
      ctx.in_kubepods = true;
      continue;
    }
    if (!ctx.in_kubepods) continue;
    if (auto qos = qos_of(c.name); !qos.empty()) {
      ctx.qos = std::string(qos);
    } else if (auto uid = pod_uid_of(c.name)) {
      ctx.pod_uid = std::move(*uid);
    }
  }
  if (ctx.in_kubepods && ctx.qos.empty()) ctx.qos = "guaranteed";  // guaranteed pods sit right under kubepods
  return ctx;
}

struct ProcCgroupLine {
  std::string_view hierarchy;
  std::string_view controllers;  // comma-separated; empty for the v2 line
  std::string_view path;
};

std::vector<ProcCgroupLine> split_proc_cgroup(std::string_view text) {
  std::vector<ProcCgroupLine> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t c1 = line.find(':');
    if (c1 == std::string_view::npos) continue;
    size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    out.push_back({line.substr(0, c1), line.substr(c1 + 1, c2 - c1 - 1), line.substr(c2 + 1)});
  }
  return out;
}

bool has_controller(std::string_view controllers, std::string_view wanted) {
  while (!controllers.empty()) {
    size_t comma = controllers.find(',');
    if (controllers.substr(0, comma) == wanted) return true;
    if (comma == std::string_view::npos) break;
    controllers.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

bool is_container_id(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

std::string_view runtime_name(Runtime runtime) {
  switch (runtime) {
    case Runtime::podman: return "podman";
    case Runtime::docker: return "docker";
    case Runtime::containerd: return "containerd";
    case Runtime::crio: return "cri-o";
    case Runtime::unknown: break;
  }
  return "unknown";
}

std::optional<CgroupContainerRef> parse_container_cgroup(std::string_view cgroup_path) {
  std::vector<Component> components = split_path(cgroup_path);
  // The deepest component naming a container wins: nested containers belong to the inner one.
  for (size_t i = components.size(); i-- > 0;) {
    const Component& c = components[i];
    ComponentMatch match = match_prefixed(c.name);
    if (match.kind == ComponentKind::conmon) return std::nullopt;
    KubernetesContext kube = kubernetes_context(std::span(components).first(i));
    if (match.kind == ComponentKind::other && is_container_id(c.name) && i > 0) {
      // A bare id is only a container where a runtime is known to put one: docker's cgroupfs driver
      // ("/docker/<id>") or a kubelet pod with the cgroupfs driver, whose runtime the path does not tell.
      if (components[i - 1].name == "docker") {
        match = {ComponentKind::container, Runtime::docker, c.name};
      } else if (kube.in_kubepods && pod_uid_of(components[i - 1].name)) {
        match = {ComponentKind::container, Runtime::unknown, c.name};
      }
    }
    if (match.kind != ComponentKind::container) continue;
    std::string container_cgroup(cgroup_path.substr(0, c.end));
    if (!container_cgroup.starts_with('/')) container_cgroup.insert(0, "/");
    return CgroupContainerRef{match.runtime, std::string(match.id), std::move(kube.pod_uid), std::move(kube.qos),
                              std::move(container_cgroup)};
  }
  return std::nullopt;
}

std::optional<std::string> unified_cgroup_path(std::string_view proc_cgroup_text) {
  for (const auto& line : split_proc_cgroup(proc_cgroup_text))
    if (line.hierarchy == "0" && line.controllers.empty()) return std::string(line.path);
  return std::nullopt;
}

std::optional<CgroupContainerRef> parse_proc_cgroup(std::string_view proc_cgroup_text) {
  std::vector<ProcCgroupLine> lines = split_proc_cgroup(proc_cgroup_text);
  auto try_lines = [&](auto&& wanted) -> std::optional<CgroupContainerRef> {
    for (const auto& line : lines)
      if (wanted(line))
        if (auto ref = parse_container_cgroup(line.path)) return ref;
    return std::nullopt;
  };
  if (auto ref = try_lines([](const ProcCgroupLine& l) { return l.hierarchy == "0" && l.controllers.empty(); }))
    return ref;
  for (std::string_view controller : {"name=systemd", "pids", "memory"})
    if (auto ref = try_lines([&](const ProcCgroupLine& l) { return has_controller(l.controllers, controller); }))
      return ref;
  return std::nullopt;
}

}  // namespace sigdrain
