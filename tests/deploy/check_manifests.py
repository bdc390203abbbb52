#!/usr/bin/env python3
"""Asserts what sigdrain's Kubernetes manifests must say for the daemon to work on a node.

    check_manifests.py DEPLOY_DIR

DEPLOY_DIR holds kubernetes/*.yaml and daemon.conf. Prints one line per problem and exits 1 if there is any,
0 otherwise; 2 on bad usage. Parsing is python3-yaml's safe_load; style is yamllint's job (check_manifests.sh).
"""
import os
import sys

import yaml

# Host paths the daemon reads, each mounted at the host's own path (the daemon's defaults; docs/kubernetes.md).
REQUIRED_HOST_PATHS = {
    "/sys/fs/bpf": "bpffs",
    "/sys/kernel/tracing": "tracefs",
    "/sys/fs/cgroup": "cgroupfs",
    "/run/containerd": "containerd's state",
    "/run/containers/storage": "CRI-O's state",
    "/run/sigdrain": "the journal (state-dir)",
}
CONFIG_DIR = "/etc/sigdrain"
# What the old pod needs after its SIGTERM beyond its longest drain (max-hold-ms): the plans, the exits.
FINISHING_MARGIN_S = 10


class Checker:
    def __init__(self):
        self.problems = []

    def expect(self, condition, problem):
        if not condition:
            self.problems.append(problem)
        return condition


def parse_conf(text):
    """key = value lines of a sigdrain daemon config, comments dropped."""
    settings = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


def load_documents(kube_dir):
    docs = {}
    for name in sorted(os.listdir(kube_dir)):
        if name.endswith(".yaml"):
            with open(os.path.join(kube_dir, name)) as f:
                docs[name] = [d for d in yaml.safe_load_all(f) if d is not None]
    return docs


def one_of_kind(c, objects, kind):
    found = [o for o in objects if o.get("kind") == kind]
    c.expect(len(found) == 1, f"want exactly one {kind}, found {len(found)}")
    return found[0] if found else {}


def check_daemonset(c, ds, service_account, config_map, conf):
    spec = ds.get("spec", {})
    template = spec.get("template", {})
    pod = template.get("spec", {})
    selector = spec.get("selector", {}).get("matchLabels", {})
    labels = template.get("metadata", {}).get("labels", {})
    c.expect(selector and all(labels.get(k) == v for k, v in selector.items()),
             f"selector {selector} does not match the pod template's labels {labels}")
    c.expect(pod.get("hostPID") is True, "hostPID must be true (host pids for ptrace and signals, the host's /proc)")
    c.expect(pod.get("serviceAccountName") == service_account.get("metadata", {}).get("name"),
             f"serviceAccountName {pod.get('serviceAccountName')!r} is not the ServiceAccount "
             f"{service_account.get('metadata', {}).get('name')!r}")
    c.expect(any(t.get("operator") == "Exists" and "key" not in t and "effect" not in t
                 for t in pod.get("tolerations") or []),
             "tolerations must include {operator: Exists} (every node, whatever its taints)")

    containers = pod.get("containers") or []
    if not c.expect(len(containers) == 1, f"want one container, found {len(containers)}"):
        return
    ctr = containers[0]
    c.expect(ctr.get("securityContext", {}).get("privileged") is True, "the container must be privileged")
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            c.expect(resource in ctr.get("resources", {}).get(kind, {}), f"resources.{kind}.{resource} missing")

    # Probes: HTTP on the port the ConfigMap's metrics-address names.
    ports = {p.get("name"): p.get("containerPort") for p in ctr.get("ports") or []}
    metrics_port = conf.get("metrics-address", "").rpartition(":")[2]
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = ctr.get(probe, {}).get("httpGet", {})
        c.expect(get.get("path") == path, f"{probe} must GET {path}, has {get.get('path')!r}")
        port = get.get("port")
        number = ports.get(port, port)
        c.expect(str(number) == metrics_port,
                 f"{probe} port {port!r} is not the metrics-address port {metrics_port!r} of the ConfigMap")

    # A rollout (docs/kubernetes.md, "Upgrades"): the old pod finishes its drains within its grace period, the new
    # pod waits for it on the lock, and the liveness probe must not restart the new one meanwhile.
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if c.expect("max-hold-ms" in conf, "the ConfigMap's config must set max-hold-ms (the longest drain a rollout waits for)"):
        longest_s = int(conf["max-hold-ms"]) / 1000
        c.expect(grace >= longest_s + FINISHING_MARGIN_S,
                 f"terminationGracePeriodSeconds {grace} must cover the longest drain (max-hold-ms, {longest_s:g} s) "
                 f"plus {FINISHING_MARGIN_S} s")
    rolling = spec.get("updateStrategy", {}).get("rollingUpdate", {})
    c.expect(str(rolling.get("maxSurge", 0)) in ("0", "0%"),
             "maxSurge must be 0: a surge pod would find a daemon that is not finishing and refuse to start")
    startup = ctr.get("startupProbe", {})
    waits_s = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
    c.expect(waits_s >= grace,
             f"the startupProbe allows {waits_s} s, less than the old pod's grace period ({grace} s) the new pod may wait")

    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    mounts = {m.get("name"): m for m in ctr.get("volumeMounts") or []}
    for name in volumes:
        c.expect(name in mounts, f"volume {name} is not mounted")
    for name in mounts:
        c.expect(name in volumes, f"volumeMount {name} has no volume")
    host_mounts = {}
    for name, v in volumes.items():
        if "hostPath" in v and name in mounts:
            host_mounts[v["hostPath"].get("path")] = mounts[name]
    for path, what in REQUIRED_HOST_PATHS.items():
        m = host_mounts.get(path)
        if c.expect(m is not None, f"host path {path} ({what}) is not mounted"):
            c.expect(m.get("mountPath") == path, f"host path {path} is mounted at {m.get('mountPath')}, not at {path}")
    c.expect(not host_mounts.get("/run/sigdrain", {}).get("readOnly"), "the journal (/run/sigdrain) must be writable")
    mount_paths = {m.get("mountPath") for m in mounts.values()}
    c.expect("state-dir" in conf, "the ConfigMap's config must set state-dir (the journal's hostPath)")
    for key in ("state-dir", "docker-state", "containerd-state", "crio-state"):
        if key in conf:
            c.expect(conf[key] in mount_paths, f"the config's {key} = {conf[key]} is not a mounted path")

    # The config: the ConfigMap mounted at /etc/sigdrain, and the daemon started with a file from it.
    cm_name = config_map.get("metadata", {}).get("name")
    cm_volumes = [n for n, v in volumes.items() if v.get("configMap", {}).get("name") == cm_name]
    if c.expect(len(cm_volumes) == 1, f"want one volume from the ConfigMap {cm_name}, found {len(cm_volumes)}"):
        m = mounts.get(cm_volumes[0], {})
        c.expect(m.get("mountPath") == CONFIG_DIR and m.get("readOnly") is True,
                 f"the ConfigMap must be mounted read-only at {CONFIG_DIR}")
    args = ctr.get("args") or []
    config_args = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--config"]
    if c.expect(config_args[:1] and args[:1] == ["daemon"], f"args must be daemon --config FILE, are {args}"):
        path = config_args[0]
        c.expect(os.path.dirname(path) == CONFIG_DIR and os.path.basename(path) in config_map.get("data", {}),
                 f"--config {path} is not a key of the ConfigMap mounted at {CONFIG_DIR}")


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    deploy_dir = sys.argv[1]
    kube_dir = os.path.join(deploy_dir, "kubernetes")
    c = Checker()
    try:
        docs = load_documents(kube_dir)
    except (OSError, yaml.YAMLError) as e:
        print(f"cannot parse the manifests: {e}".replace("\n", " "))
        return 1
    kustomization = (docs.pop("kustomization.yaml", None) or [{}])[0]
    objects = [o for file_docs in docs.values() for o in file_docs]
    for o in objects:
        c.expect(isinstance(o, dict) and o.get("apiVersion") and o.get("kind") and o.get("metadata", {}).get("name"),
                 f"an object without apiVersion, kind or metadata.name: {str(o)[:80]}")

    namespace = one_of_kind(c, objects, "Namespace")
    ns_name = namespace.get("metadata", {}).get("name")
    c.expect(namespace.get("metadata", {}).get("labels", {}).get("pod-security.kubernetes.io/enforce") == "privileged",
             "the Namespace must allow privileged pods (pod-security.kubernetes.io/enforce: privileged)")
    for o in objects:
        if o.get("kind") != "Namespace":
            c.expect(o.get("metadata", {}).get("namespace") == ns_name,
                     f"{o.get('kind')} {o.get('metadata', {}).get('name')} is not in namespace {ns_name}")
    service_account = one_of_kind(c, objects, "ServiceAccount")
    config_map = one_of_kind(c, objects, "ConfigMap")
    daemon_set = one_of_kind(c, objects, "DaemonSet")

    conf_text = (config_map.get("data") or {}).get("daemon.conf", "")
    conf = parse_conf(conf_text)
    c.expect(conf.get("log-format") == "json", "the ConfigMap's config must set log-format = json")
    c.expect(conf.get("metrics-address", "").startswith("0.0.0.0:"),
             "the ConfigMap's config must set metrics-address = 0.0.0.0:PORT (probes come from the kubelet)")
    check_daemonset(c, daemon_set, service_account, config_map, conf)

    c.expect(sorted(kustomization.get("resources", [])) == sorted(docs),
             f"kustomization.yaml resources {kustomization.get('resources')} are not the manifests {sorted(docs)}")
    images = [ctr.get("image", "").rsplit(":", 1)[0]
              for ctr in daemon_set.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])]
    c.expect([i.get("name") for i in kustomization.get("images", [])] == images,
             f"kustomization.yaml images do not name the DaemonSet's image {images}")

    with open(os.path.join(deploy_dir, "daemon.conf")) as f:
        default_conf = parse_conf(f.read())
    c.expect(default_conf.get("state-dir") == conf.get("state-dir"),
             "deploy/daemon.conf and the ConfigMap disagree on state-dir")

    for p in c.problems:
        print(f"FAIL: {p}")
    if not c.problems:
        print(f"manifests: {len(objects)} objects checked, no problem")
    return 1 if c.problems else 0


if __name__ == "__main__":
    sys.exit(main())
