"""The Kubernetes objects SMI rules follow: Services (ports, selectors) and the pods workloads run (labels,
ServiceAccount). Shape-tolerant like the rest of :mod:`smi_conformance.lint.resources`: a field of the wrong
type reads as absent, never as an exception.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from smi_conformance.lint.resources import WORKLOADS, LintContext, Resource, dict_at, dicts, str_at

__all__ = ["pods_running_as", "selector", "selects", "service_account", "service_ports", "show_labels"]

DEFAULT_ACCOUNT = "default"


def service_ports(service: Resource) -> tuple[set[int], set[int], bool]:
    """(port numbers, numeric target ports, whether some target port is named) of a Service."""
    ports: set[int] = set()
    targets: set[int] = set()
    named = False
    for _, entry in dicts(dict_at(service.data, "spec"), "ports"):
        port, target = entry.get("port"), entry.get("targetPort")
        if type(port) is int:
            ports.add(port)
            if target is None:
                targets.add(port)  # targetPort defaults to port
        if type(target) is int:
            targets.add(target)
        elif isinstance(target, str):
            named = True
    return ports, targets, named


def selector(service: Resource) -> dict[str, str] | None:
    """A Service's selector as label -> value; None when it has none (or not a mapping of strings)."""
    value = dict_at(dict_at(service.data, "spec"), "selector")
    if value is None or not all(isinstance(v, str) for v in value.values()):
        return None
    return {str(k): v for k, v in value.items()}


def selects(wanted: Mapping[str, str], labels: Mapping[str, Any]) -> bool:
    """Does a non-empty equality selector pick pods with these labels?"""
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def show_labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


def pod_template(workload: Resource) -> tuple[Mapping[str, Any], str]:
    """(pod labels, ServiceAccount) of a Pod or of the pods a workload creates (``default`` when unset)."""
    if workload.kind == "Pod":
        metadata, spec = dict_at(workload.data, "metadata"), dict_at(workload.data, "spec")
    else:
        template = dict_at(dict_at(workload.data, "spec"), "template")
        metadata, spec = dict_at(template, "metadata"), dict_at(template, "spec")
    labels = dict_at(metadata, "labels") or {}
    return labels, service_account(spec)


def service_account(pod_spec: Mapping[str, Any] | None) -> str:
    """The ServiceAccount a pod runs as: serviceAccountName, the deprecated serviceAccount, or default."""
    return str_at(pod_spec, "serviceAccountName") or str_at(pod_spec, "serviceAccount") or DEFAULT_ACCOUNT


def workloads(ctx: LintContext, namespace: str) -> Iterator[tuple[Resource, Mapping[str, Any], str]]:
    """(workload, pod labels, ServiceAccount) of every Pod and workload of a namespace in the linted set."""
    for kind in ("Pod", *sorted(WORKLOADS)):
        for workload in ctx.in_namespace(kind, namespace):
            labels, account = pod_template(workload)
            yield workload, labels, account


def pods_running_as(
    ctx: LintContext, namespace: str, account: str
) -> list[tuple[Resource, Mapping[str, Any]]]:
    """(workload, pod labels) of the workloads of a namespace whose pods run as ``account``."""
    return [(w, labels) for w, labels, runs_as in workloads(ctx, namespace) if runs_as == account]
