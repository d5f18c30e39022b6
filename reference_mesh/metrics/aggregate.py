"""Traffic Metrics from proxy telemetry (sans-IO): per-second buckets of many proxies -> TrafficMetrics
documents.

Resource kinds served, and what belongs to them in this runtime:

============== =============================== ============================================================
kind            path segment                    members
============== =============================== ============================================================
Pod             ``pods``                        the instance itself
Deployment      ``deployments``                 its pods (label ``DEPLOYMENT_LABEL``)
Namespace       ``namespaces`` (cluster scope)  every pod of the namespace
TrafficSplit    ``trafficsplits``               one item per backend (``backend{apex,name,weight}``)
============== =============================== ============================================================

(DaemonSets and StatefulSets do not exist in the embedded runtime; their paths answer 404 saying so.)

Which side measures what:

* A resource's own metrics (single and list forms) are the requests it *received*, measured by its pods'
  inbound proxies: ``edge: {direction: from, side: server, resource: {}}`` (the spec's "all inbound" form).
* ``/edges`` lists, per peer resource of the same kind, what the resource sent to it
  (``direction: to``) and what it received from it (``direction: from``), both measured on the client side
  (``side: client``): only the caller's proxy knows both ends' instances (the server side knows its caller by
  identity only, and one service account may run many pods).
* TrafficSplit items are measured by the callers' proxies (``side: client``) for requests addressed to the
  apex.

Counts are exact integers (every request finished in the window, see :mod:`.window`); latencies are the p50,
p90 and p99 of the merged log-linear histograms, in milliseconds (``unit: ms``, at most 2.2% off, see
``reference_mesh/proxy/telemetry.py``), and are left out when the window holds no request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reference_mesh.control.resources import ObjectKey, Pod
from reference_mesh.control.smi import SplitView
from reference_mesh.metrics.window import Window
from reference_mesh.proxy.telemetry import LatencyHistogram
from smi_conformance.weights import whole_weights

__all__ = [
    "DEPLOYMENT_LABEL",
    "KINDS",
    "MeshView",
    "Row",
    "Stats",
    "edges",
    "peer_pod",
    "resource_item",
    "rows_from",
    "split_items",
]

API_VERSION = "metrics.smi-spec.io/v1alpha1"
DEPLOYMENT_LABEL = "mesh.smi-conformance.io/deployment"
#: path segment -> Kubernetes kind
KINDS = {
    "pods": "Pod",
    "deployments": "Deployment",
    "namespaces": "Namespace",
    "trafficsplits": "TrafficSplit",
}
UNSUPPORTED = {"daemonsets": "DaemonSet", "statefulsets": "StatefulSet"}


@dataclass(frozen=True)
class Row:
    """One second of one edge, as recorded by the proxy of ``pod``."""

    pod: ObjectKey
    second: int
    edge: Mapping[str, Any]
    bucket: Mapping[str, Any]


def rows_from(samples: Mapping[ObjectKey, Iterable[Mapping[str, Any]]], window: Window) -> list[Row]:
    """Flatten ``GET /telemetry`` answers (per pod) into rows of the window only."""
    rows = []
    for pod, entries in samples.items():
        for entry in entries:
            for second, bucket in entry["seconds"].items():
                if window.contains(int(second)):
                    rows.append(Row(pod, int(second), entry["edge"], bucket))
    return rows


@dataclass
class Stats:
    success: int = 0
    failure: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    codes: dict[str, int] = field(default_factory=dict)
    denied: int = 0  #: of success + failure, refused by authorization (not a Traffic Metrics figure)

    def add(self, bucket: Mapping[str, Any]) -> None:
        self.success += int(bucket["success"])
        self.failure += int(bucket["failure"])
        self.denied += int(bucket.get("denied", 0))  # absent from proxies of before the count
        self.latency.merge(LatencyHistogram.from_json(bucket["latency_ms"]))
        for code, n in bucket.get("codes", {}).items():
            self.codes[code] = self.codes.get(code, 0) + int(n)

    @property
    def total(self) -> int:
        return self.success + self.failure

    def metrics(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.total:
            for q in (99, 90, 50):
                value = self.latency.quantile(q / 100)
                assert value is not None
                out.append({"name": f"p{q}_response_latency", "unit": "ms", "value": f"{value:.3f}"})
        out.append({"name": "success_count", "value": self.success})
        out.append({"name": "failure_count", "value": self.failure})
        return out


@dataclass
class MeshView:
    """What the aggregator needs from the store: pods (with their deployment label) and splits."""

    pods: dict[ObjectKey, Pod]
    splits: dict[tuple[str, str], SplitView] = field(default_factory=dict)

    def owner(self, kind: str, pod: ObjectKey) -> tuple[str, str] | None:
        """(namespace, name) of the resource of ``kind`` that pod belongs to."""
        if kind == "Pod":
            return (pod.namespace, pod.name)
        if kind == "Namespace":
            return ("", pod.namespace)
        p = self.pods.get(pod)
        if p is None:
            return None
        deployment = p.metadata.labels.get(DEPLOYMENT_LABEL)
        return (pod.namespace, deployment) if deployment else None

    def resources(self, kind: str, namespace: str | None) -> list[tuple[str, str]]:
        found = {
            self.owner(kind, key) for key in self.pods if namespace is None or key.namespace == namespace
        }
        return sorted(r for r in found if r is not None)

    def labels_of(self, kind: str, resource: tuple[str, str]) -> dict[str, str]:
        """Labels a selector is matched against: a pod's own; a deployment's common to its pods."""
        pods = [p for k, p in self.pods.items() if self.owner(kind, k) == resource]
        if not pods:
            return {}
        common = dict(pods[0].metadata.labels)
        for p in pods[1:]:
            common = {k: v for k, v in common.items() if p.metadata.labels.get(k) == v}
        return common


def _ref(kind: str, resource: tuple[str, str]) -> dict[str, str]:
    ns, name = resource
    return (
        {"kind": kind, "name": name} if kind == "Namespace" else {"kind": kind, "namespace": ns, "name": name}
    )


def _item(
    window: Window,
    resource: dict[str, Any],
    edge: dict[str, Any] | None,
    stats: Stats,
    backend: dict[str, Any] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "TrafficMetrics",
        "resource": resource,
        "timestamp": window.timestamp,
        "window": window.duration,
    }
    if edge is not None:
        item["edge"] = edge
    if backend is not None:
        item["backend"] = backend
    item["metrics"] = stats.metrics()
    return item


def resource_item(
    view: MeshView, rows: Iterable[Row], window: Window, kind: str, resource: tuple[str, str]
) -> dict[str, Any]:
    """A resource's received traffic (inbound, server side)."""
    stats = Stats()
    for row in rows:
        if row.edge["direction"] == "inbound" and view.owner(kind, row.pod) == resource:
            stats.add(row.bucket)
    return _item(window, _ref(kind, resource), {"direction": "from", "side": "server", "resource": {}}, stats)


def peer_pod(row: Row) -> ObjectKey | None:
    """The destination pod of an outbound row (its namespace is the backend service's)."""
    instance = row.edge.get("destination_instance") or ""
    backend = row.edge.get("backend") or ""
    if not instance or "." not in backend:
        return None
    return ObjectKey("Pod", backend.rsplit(".", 1)[1], instance)


def edges(
    view: MeshView, rows: Iterable[Row], window: Window, kind: str, resource: tuple[str, str]
) -> list[dict[str, Any]]:
    """Per peer resource: what ``resource`` sent to it (to) and received from it (from), client side."""
    sent: dict[tuple[str, str], Stats] = {}
    received: dict[tuple[str, str], Stats] = {}
    for row in rows:
        if row.edge["direction"] != "outbound":
            continue
        peer = peer_pod(row)
        if peer is None:
            continue
        src, dst = view.owner(kind, row.pod), view.owner(kind, peer)
        if src is None or dst is None:
            continue
        if src == resource:
            sent.setdefault(dst, Stats()).add(row.bucket)
        if dst == resource:
            received.setdefault(src, Stats()).add(row.bucket)
    me = _ref(kind, resource)
    items = [
        _item(window, me, {"direction": "to", "side": "client", "resource": _ref(kind, peer)}, s)
        for peer, s in sorted(sent.items())
    ]
    items += [
        _item(window, me, {"direction": "from", "side": "client", "resource": _ref(kind, peer)}, s)
        for peer, s in sorted(received.items())
    ]
    return items


def split_items(
    view: MeshView, rows: Iterable[Row], window: Window, split: SplitView
) -> list[dict[str, Any]]:
    """One item per backend of ``split``: requests the callers' proxies sent to that backend through it."""
    name = f"{split.namespace}/{split.name}"
    stats = {svc: Stats() for svc, _ in split.backends}
    for row in rows:
        if row.edge["direction"] == "outbound" and row.edge.get("split") == name:
            backend = str(row.edge.get("backend", "")).rsplit(".", 1)[0]
            if backend in stats:
                stats[backend].add(row.bucket)
    weights = whole_weights([w for _, w in split.backends])
    resource = {"kind": "TrafficSplit", "namespace": split.namespace, "name": split.name}
    edge = {"direction": "from", "side": "client", "resource": {}}
    return [
        _item(window, resource, edge, stats[svc], {"apex": split.root, "name": svc, "weight": weight})
        for (svc, _), weight in zip(split.backends, weights, strict=True)
    ]
