"""The standard topology as Kubernetes objects (pure: the same objects for every cluster and mesh).

Namespaces carry the suite's label (the backend touches no namespace without it) and the mesh's enrolment
labels; backends run the echo workload (HTTP 8080, TCP 9000, UDP 9001; it reports its pod's name and, from the
downward API, its namespace); clients run the traffic driver, whose control port (8000) the mesh is asked to
leave out of interception, so the suite reaches it around the mesh while everything it sends goes through.

No readiness probe touches a meshed port (a sidecar that wants mTLS would fail a kubelet probe): a backend's
startup probe checks the echo from inside its own container (loopback is never intercepted), a client's
probes the driver's own port.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smi_conformance.mesh.kubernetes import KubernetesSupport, Stamp
from smi_conformance.suite.topology import DRIVER_PORT, HTTP_PORT, ServiceSpec, Topology, WorkloadSpec

__all__ = ["MANAGED_BY", "TOPOLOGY_LABEL", "namespace_objects", "workload_objects"]

Obj = dict[str, Any]
#: On every namespace the suite creates; it never touches a namespace without it.
MANAGED_BY = ("app.kubernetes.io/managed-by", "smi-conformance")
#: The topology's namespace prefix, on each of its namespaces.
TOPOLOGY_LABEL = "conformance.smi-conformance.io/topology"


def _meta(name: str, namespace: str | None, stamp: Stamp, labels: Mapping[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name, "labels": {**(labels or {}), **stamp.labels}}
    if namespace is not None:
        meta["namespace"] = namespace
    if stamp.annotations:
        meta["annotations"] = dict(stamp.annotations)
    return meta


def namespace_objects(topology: Topology, mesh: KubernetesSupport) -> list[Obj]:
    """The topology's namespaces, labelled as the suite's and enrolled in the mesh."""
    labels = {MANAGED_BY[0]: MANAGED_BY[1], TOPOLOGY_LABEL: topology.main}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns, None, mesh.namespace(), labels)}
        for ns in topology.namespaces
    ]


def _service(spec: ServiceSpec, mesh: KubernetesSupport) -> Obj:
    ports = []
    for p in spec.ports:
        port: Obj = {"name": p.name, "port": p.port, "targetPort": p.port}
        port["protocol"] = "UDP" if p.protocol == "udp" else "TCP"
        if p.protocol == "http":
            port["appProtocol"] = "http"
        ports.append(port)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(spec.name, spec.namespace, mesh.service()),
        "spec": {"selector": dict(spec.selector), "ports": ports},
    }


def _env(*names: tuple[str, str]) -> list[Obj]:
    return [{"name": n, "valueFrom": {"fieldRef": {"fieldPath": path}}} for n, path in names]


def _container(w: WorkloadSpec, image: str, pull_policy: str) -> Obj:
    common: Obj = {
        "name": "app",
        "image": image,
        "imagePullPolicy": pull_policy,
        "resources": {"requests": {"cpu": "10m", "memory": "48Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "runAsUser": 1000, "runAsNonRoot": True},
    }
    if w.role == "backend":
        args = ["--service", w.app, "--version", w.version, "--instance", "$(POD_NAME)"]
        for p in w.ports:
            args += [f"--{p.protocol}", f"0.0.0.0:{p.port}"]
        return {
            **common,
            "command": ["python3", "-m", "smi_conformance.workload.echo", *args],
            "env": _env(("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")),
            "ports": [
                {"name": p.name, "containerPort": p.port, "protocol": "UDP" if p.protocol == "udp" else "TCP"}
                for p in w.ports
            ],
            # from inside the container: loopback is never intercepted, and only the echo listens there
            "startupProbe": {
                "exec": {"command": ["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{HTTP_PORT}"]},
                "periodSeconds": 1,
                "failureThreshold": 120,
            },
        }
    return {
        **common,
        "command": ["python3", "-m", "smi_conformance.workload.driver", "--listen", f"0.0.0.0:{DRIVER_PORT}"],
        "ports": [{"name": "driver", "containerPort": DRIVER_PORT}],
        "startupProbe": {
            "httpGet": {"path": "/healthz", "port": DRIVER_PORT},
            "periodSeconds": 1,
            "failureThreshold": 120,
        },
    }


def _deployment(w: WorkloadSpec, mesh: KubernetesSupport, image: str, pull_policy: str) -> Obj:
    pod = mesh.pod(w, DRIVER_PORT)
    labels = dict(w.labels)
    template: Obj = {"labels": {**labels, **pod.labels}}
    if pod.annotations:
        template["annotations"] = dict(pod.annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": w.name, "namespace": w.namespace, "labels": labels},
        "spec": {
            "replicas": w.replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": template,
                "spec": {
                    "serviceAccountName": w.service_account,
                    "containers": [_container(w, image, pull_policy)],
                    "terminationGracePeriodSeconds": 1,
                    "enableServiceLinks": False,
                },
            },
        },
    }


def workload_objects(topology: Topology, mesh: KubernetesSupport, image: str, pull_policy: str) -> list[Obj]:
    """Service accounts, Services and Deployments of the topology, in the order to create them."""
    out: list[Obj] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}
        for ns, name in topology.service_accounts
        if name != "default"
    ]
    out += [_service(s, mesh) for s in topology.services]
    out += [_deployment(w, mesh, image, pull_policy) for w in topology.workloads]
    return out
