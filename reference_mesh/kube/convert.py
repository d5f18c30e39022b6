"""Kubernetes objects (as the API serves them, JSON) -> the control plane's store models. Pure.

The store (:mod:`reference_mesh.control.resources`) keeps what a mesh reads; here is how the real objects map
onto it:

* **ServiceAccount**: name and namespace (an identity).
* **Service**: selector, cluster IPs (what interception recognises), and its TCP ports. A port is HTTP when
  its ``appProtocol`` is ``http`` or its name is ``http`` or starts with ``http-`` (the convention Istio
  documents); every other TCP port is TCP. A named ``targetPort`` is resolved through the container ports of
  the pods the Service selects. UDP ports are left out: UDP is not intercepted on Kubernetes.
* **Pod** (injected ones only): labels (plus the Deployment it belongs to, through its ReplicaSet, for the
  Traffic Metrics API), service account, IP, readiness, and its ports: the containers'
  declared TCP ports plus every port a selecting Service targets. A port is HTTP when a selecting Service's
  HTTP port targets it or the container port is named like one; the application listens on the port itself
  (the proxy reaches it on the pod's IP, its own connections being exempt from interception). Ready means the
  pod's ``Ready`` condition is true and it is not being deleted (a terminating pod stops receiving new
  requests at once, as EndpointSlices mark it). A pod without an IP yet, or finished, is not in the store.
* **SMI objects**: the typed models of :mod:`smi_conformance.models`, with the metadata a mesh needs.

Pods and Services of one namespace are converted together (:func:`namespace_models`), since each refines the
other (protocols, named ports).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reference_mesh.control.resources import (
    ContainerPort,
    Pod,
    PodSpec,
    PodStatus,
    Service,
    ServiceAccount,
    ServicePortSpec,
    ServiceSpec,
    SimpleMeta,
)
from reference_mesh.kube import names
from reference_mesh.metrics.aggregate import DEPLOYMENT_LABEL
from smi_conformance import models

__all__ = ["deployment_of", "is_http_port", "namespace_models", "service_account", "smi_object"]

Obj = Mapping[str, Any]


def _meta(obj: Obj, *, labels: bool = True, extra: Mapping[str, str] | None = None) -> SimpleMeta:
    meta = obj.get("metadata") or {}
    return SimpleMeta(
        name=meta["name"],
        namespace=meta.get("namespace") or "default",
        labels={**(meta.get("labels") or {}), **(extra or {})} if labels else {},
    )


def deployment_of(pod: Obj) -> str | None:
    """The Deployment a pod belongs to: its owner ReplicaSet's name without the pod template hash (the
    name Deployments give their ReplicaSets)."""
    meta = pod.get("metadata") or {}
    digest = (meta.get("labels") or {}).get("pod-template-hash")
    for owner in meta.get("ownerReferences") or []:
        name = str(owner.get("name") or "")
        if owner.get("kind") == "ReplicaSet" and digest and name.endswith(f"-{digest}"):
            return name[: -len(digest) - 1]
    return None


def is_http_port(name: str | None, app_protocol: str | None = None) -> bool:
    """The port naming convention this mesh reads: ``appProtocol: http``, or a name ``http`` / ``http-*``."""
    if app_protocol is not None:
        return app_protocol.lower() == "http"
    name = (name or "").lower()
    return name == "http" or name.startswith("http-")


def service_account(obj: Obj) -> ServiceAccount:
    return ServiceAccount(metadata=_meta(obj, labels=False))


def smi_object(obj: Obj) -> Any:
    """The SMI model of an object read from the API; raises ``models.SMIValidationError`` if invalid."""
    meta = obj.get("metadata") or {}
    keep = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if meta.get(k)}
    return models.load({**obj, "metadata": keep})


# ------------------------------------------------------------------------------------- pods and services
def _selects(selector: Mapping[str, str], pod: Obj) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _app_containers(pod: Obj) -> list[Obj]:
    spec = pod.get("spec") or {}
    return [c for c in spec.get("containers") or [] if c.get("name") != names.PROXY_CONTAINER]


def _container_ports(pod: Obj) -> list[Obj]:
    return [
        p
        for c in _app_containers(pod)
        for p in c.get("ports") or []
        if (p.get("protocol") or "TCP") == "TCP" and isinstance(p.get("containerPort"), int)
    ]


def _resolve_target(port: Obj, pods: Iterable[Obj]) -> int | None:
    """A Service port's target port number (a name resolved through the first selected pod defining it)."""
    target = port.get("targetPort")
    if target is None:
        return int(port["port"])
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return int(target)
    for pod in pods:
        for cp in _container_ports(pod):
            if cp.get("name") == target:
                return int(cp["containerPort"])
    return None


def _service(obj: Obj, pods: list[Obj]) -> Service:
    spec = obj.get("spec") or {}
    selector = dict(spec.get("selector") or {})
    selected = [p for p in pods if _selects(selector, p)]
    ports = []
    for port in spec.get("ports") or []:
        if (port.get("protocol") or "TCP") != "TCP":
            continue  # UDP (and SCTP) are not intercepted
        target = _resolve_target(port, selected)
        ports.append(
            ServicePortSpec(
                port=int(port["port"]),
                target_port=target,
                protocol="http" if is_http_port(port.get("name"), port.get("appProtocol")) else "tcp",
                name=port.get("name") or "",
            )
        )
    cluster_ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"]
    return Service(
        metadata=_meta(obj),
        spec=ServiceSpec(selector=selector, ports=tuple(ports), cluster_ips=tuple(cluster_ips)),
    )


def _ready(pod: Obj) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _pod(obj: Obj, services: list[Service]) -> Pod | None:
    status = obj.get("status") or {}
    ip = status.get("podIP")
    if not ip or status.get("phase") in ("Succeeded", "Failed"):
        return None
    http_ports = {p.pod_port for s in services for p in s.spec.ports if p.protocol == "http"}
    ports: dict[int, ContainerPort] = {}
    for cp in _container_ports(obj):
        number = int(cp["containerPort"])
        http = number in http_ports or is_http_port(cp.get("name"))
        ports[number] = ContainerPort(
            container_port=number,
            protocol="http" if http else "tcp",
            name=cp.get("name") or "",
            app_port=number,
        )
    for svc in services:
        for p in svc.spec.ports:
            if p.pod_port not in ports:
                ports[p.pod_port] = ContainerPort(
                    container_port=p.pod_port, protocol=p.protocol, name=p.name, app_port=p.pod_port
                )
    spec = obj.get("spec") or {}
    deployment = deployment_of(obj)
    return Pod(
        metadata=_meta(obj, extra={DEPLOYMENT_LABEL: deployment} if deployment else None),
        spec=PodSpec(
            service_account_name=spec.get("serviceAccountName") or "default",
            ports=tuple(ports[n] for n in sorted(ports)),
        ),
        status=PodStatus(pod_ip=ip, ready=_ready(obj), admin=f"{ip}:{names.PROXY_ADMIN_PORT}"),
    )


def namespace_models(pods: Iterable[Obj], services: Iterable[Obj]) -> list[Pod | Service]:
    """The store models of one namespace's (injected) pods and services."""
    pod_list, service_list = list(pods), list(services)
    converted = [_service(s, pod_list) for s in service_list]
    out: list[Pod | Service] = list(converted)
    for raw in pod_list:
        selecting = [s for s in converted if s.spec.selector and _selects(s.spec.selector, raw)]
        pod = _pod(raw, selecting)
        if pod is not None:
            out.append(pod)
    return out
