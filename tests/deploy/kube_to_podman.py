"""What the chart renders -> what Debian 12's podman 4.3 `kube play` runs (a pure function).

podman 4.3 plays Pod, Deployment, PersistentVolumeClaim and ConfigMap and silently ignores every
other kind, so a DaemonSet or a Service would simply not happen. The conversion changes only
what podman cannot play, and says so in its notes:

- DaemonSet -> one Pod (its template): the one node here;
- Service -> `hostPort`/`hostIP` on the selected pods' container ports (the Service's port on
  the node's address, to the targetPort), which is what a LoadBalancer or NodePort Service
  does for one pod: DNAT in, reverse NAT out;
- Deployment replicas > 1 -> 1 (podman plays each replica as its own pod, and two pods cannot
  publish one host port; a Service would spread phones over them);
- volumeMounts.subPath (not supported: the whole volume would be mounted) -> a volume of its
  own per subPath, of the same kind;
- a hostNetwork pod's container ports -> dropped (podman would make port mappings of them,
  which it refuses on the host's network; the process binds the node's ports itself);
- init containers -> podman's type "always" (kept, exited, after they ran: podman 4.3 here
  sees an init container's exit only after a 20 s conmon wait, so a Kea pod takes ~25 s to
  start, and its removal of a "once" one then races with that exit and can fail the play);
- a DaemonSet's template annotations -> dropped on the Pod (podman refuses annotation values
  over 63 characters on a Pod; the chart's checksum/config only rolls pods on a change);
- a claim the chart names but does not render (an existing claim) -> a PersistentVolumeClaim
  for it, as the cluster's admin would have made;
- kinds without an API server or operator to act on them are left out: ServiceAccount,
  PodDisruptionBudget, ServiceMonitor/PodMonitor (CRDs of the Prometheus Operator), the
  Grafana dashboard ConfigMap of another namespace is kept (a ConfigMap plays).

Left as rendered, and what podman does with it (checked from inside the running containers by
test_pods.py): pod- and container-level runAsUser/runAsGroup, capabilities, readOnlyRootFilesystem,
allowPrivilegeEscalation (no_new_privs), seccomp (podman's default profile, as RuntimeDefault),
configMap and emptyDir and PVC volumes, hostNetwork (the pod joins the network namespace
podman runs in: the test runs podman inside a namespace that stands for the node). Not done by
podman 4.3: fsGroup, readinessProbe, runAsNonRoot's admission check (the test checks the uid).
"""

from __future__ import annotations

import copy

INIT_TYPE = "io.podman.annotations.init.container.type"
# Kinds podman 4.3's kube play creates something for.
PLAYED = {"Pod", "Deployment", "PersistentVolumeClaim", "ConfigMap"}
# Kinds left out, and why (nothing here would act on them).
LEFT_OUT = {
    "ServiceAccount": "no API server: no token to mount (the chart sets automountServiceAccountToken false anyway)",
    "PodDisruptionBudget": "no eviction API: only a cluster's drains and the eviction API honour it",
    "ServiceMonitor": "a Prometheus Operator CRD: no operator here (the test scrapes /metrics itself)",
    "PodMonitor": "a Prometheus Operator CRD: no operator here (the test scrapes /metrics itself)",
}


def _selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _pod_template(doc: dict) -> dict:
    return doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]


def _pod_labels(doc: dict) -> dict:
    if doc["kind"] == "Pod":
        return doc["metadata"].get("labels", {})
    return doc["spec"]["template"]["metadata"].get("labels", {})


def _publish(service: dict, workloads: list[dict], node_ip: str, notes: list[str]) -> None:
    for port in service["spec"]["ports"]:
        target = port.get("targetPort", port["port"])
        proto = port.get("protocol", "TCP")
        hits = 0
        for w in workloads:
            if not _selects(service["spec"].get("selector", {}), _pod_labels(w)):
                continue
            spec = _pod_template(w)
            for c in spec["containers"]:
                for cp in c.get("ports", []):
                    if cp.get("protocol", "TCP") != proto:
                        continue
                    if target not in (cp.get("name"), cp["containerPort"]):
                        continue
                    if spec.get("hostNetwork"):
                        hits += 1  # the node's network already: the port is the node's
                        continue
                    cp["hostPort"] = port["port"]
                    cp["hostIP"] = node_ip
                    hits += 1
        if hits == 0:
            raise ValueError(f"Service {service['metadata']['name']} port {port.get('name')}: "
                             f"no container port {target}/{proto} in the pods it selects")
        notes.append(f"Service {service['metadata']['name']} ({service['spec'].get('type', 'ClusterIP')}) "
                     f"port {port['port']}/{proto} -> hostPort {port['port']} on {node_ip} "
                     f"to container port {target}")


def _split_subpaths(spec: dict, notes: list[str]) -> None:
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    added = {}
    for c in spec.get("initContainers", []) + spec["containers"]:
        for m in c.get("volumeMounts", []):
            sub = m.pop("subPath", None)
            if sub is None:
                continue
            name = f"{m['name']}-{sub}".replace("/", "-")
            if name not in added:
                v = copy.deepcopy(volumes[m["name"]])
                v["name"] = name
                added[name] = v
                notes.append(f"volume {m['name']} subPath {sub} -> a volume of its own, {name}")
            m["name"] = name
    spec["volumes"] = spec.get("volumes", []) + list(added.values())


def _host_network_ports(spec: dict, notes: list[str]) -> None:
    """podman 4.3 turns container ports into port mappings, which a pod on the host's network
    cannot have ("PortMappings can only be used with Bridge"); there the ports are the node's
    anyway. Named ports that probes use are resolved to their numbers first."""
    if not spec.get("hostNetwork"):
        return
    for c in spec["containers"]:
        named = {p["name"]: p["containerPort"] for p in c.get("ports", []) if "name" in p}
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            get = c.get(probe, {}).get("httpGet")
            if get and get.get("port") in named:
                get["port"] = named[get["port"]]
        if c.pop("ports", None):
            notes.append(f"hostNetwork container {c['name']}: ports list dropped (podman would map them; "
                         "the process binds the node's ports itself)")


def convert(docs: list[dict], node_ip: str) -> tuple[list[dict], list[str]]:
    """The documents to feed `podman kube play`, and one note per change or omission."""
    docs = copy.deepcopy(docs)
    notes: list[str] = []
    out: list[dict] = []
    services = []
    for d in docs:
        kind = d["kind"]
        if kind == "DaemonSet":
            tmpl = d["spec"]["template"]
            # The template's annotations stay behind: podman 4.3 holds a Pod's annotation values
            # to 63 characters (Kubernetes' limit for labels, not annotations), and the
            # chart's checksum/config only rolls a DaemonSet's pods on a config change.
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": d["metadata"]["name"],
                                "labels": tmpl["metadata"].get("labels", {})},
                   "spec": tmpl["spec"]}
            notes.append(f"DaemonSet {d['metadata']['name']} -> Pod (podman 4.3 ignores DaemonSets; one node "
                         "here), without the template's annotations (checksum/config: podman refuses "
                         "annotation values over 63 characters on a Pod)")
            out.append(pod)
        elif kind == "Deployment":
            if d["spec"].get("replicas", 1) > 1:
                notes.append(f"Deployment {d['metadata']['name']} replicas {d['spec']['replicas']} -> 1 "
                             "(each replica would be a pod publishing the same host ports)")
                d["spec"]["replicas"] = 1
            out.append(d)
        elif kind == "Service":
            services.append(d)
        elif kind in PLAYED:
            out.append(d)
        elif kind in LEFT_OUT:
            notes.append(f"{kind} {d['metadata']['name']} left out: {LEFT_OUT[kind]}")
        else:
            raise ValueError(f"{kind} {d['metadata']['name']}: no rule for this kind (add one to kube_to_podman.py)")
    workloads = [d for d in out if d["kind"] in ("Pod", "Deployment")]
    claims = {d["metadata"]["name"] for d in out if d["kind"] == "PersistentVolumeClaim"}
    for w in workloads:
        _split_subpaths(_pod_template(w), notes)
        for v in _pod_template(w).get("volumes", []):
            claim = v.get("persistentVolumeClaim", {}).get("claimName")
            if claim and claim not in claims:
                # An existing claim the chart only names: the cluster's admin made it before.
                out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                            "metadata": {"name": claim},
                            "spec": {"accessModes": ["ReadWriteOnce"],
                                     "resources": {"requests": {"storage": "1Gi"}}}})
                claims.add(claim)
                notes.append(f"PersistentVolumeClaim {claim} (existing, not rendered by the chart) "
                             "added, as the cluster's admin would have made it")
    for s in services:
        _publish(s, workloads, node_ip, notes)
    for w in workloads:
        _host_network_ports(_pod_template(w), notes)
        if _pod_template(w).get("initContainers"):
            # podman 4.3 here notices an init container's exit only when its 20 s conmon wait
            # runs out ("Exceeded conmon timeout"), may then find a "once" one still "running"
            # when it removes it, and fails the whole play; "always" keeps it (exited).
            meta = w["metadata"] if w["kind"] == "Pod" else w["spec"]["template"]["metadata"]
            meta.setdefault("annotations", {})[INIT_TYPE] = "always"
            w["metadata"].setdefault("annotations", {})[INIT_TYPE] = "always"
            notes.append(f"{w['kind']} {w['metadata']['name']}: init containers of type always (kept "
                         "after they ran; podman 4.3's removal of a 'once' one races with its exit)")
    return out, notes
