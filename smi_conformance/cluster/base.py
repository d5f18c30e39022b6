"""The cluster backend: where the standard topology runs with the mesh under test.

Conformance tests talk to a :class:`Cluster` and to nothing else, so one test certifies the reference mesh on
loopback (the embedded cluster, which the reference mesh's adapter provides) and any mesh on Kubernetes (kind
or a kubeconfig context). A backend deploys :func:`~smi_conformance.suite.topology.standard_topology`, applies
and deletes SMI objects, says how a client's traffic driver is reached and how a client addresses a Service,
and reads the Traffic Metrics API.

Errors (one hierarchy, translated at this boundary with the original kept as the cause):

    ClusterError            the backend cannot do what was asked (start, reach a driver...)
    ├── ApplyRefused        the cluster or mesh refused objects (admission); nothing of the batch applied
    └── MetricsUnavailable  the mesh serves no Traffic Metrics API, or it did not answer

"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from smi_conformance.suite.topology import Protocol, ServiceSpec, Topology, WorkloadSpec

__all__ = ["ApplyRefused", "Cluster", "ClusterError", "MetricsUnavailable", "Target"]


class ClusterError(Exception):
    """The cluster backend could not do what was asked; the message says what and where."""


class ApplyRefused(ClusterError):
    """Objects were refused (by admission, schema or the mesh); ``messages`` are the refusals, each naming the
    object. Nothing of the batch was applied."""

    def __init__(self, messages: Sequence[str]):
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class MetricsUnavailable(ClusterError):
    """No Traffic Metrics API answered."""


@dataclass(frozen=True)
class Target:
    """How a client's driver addresses a Service: the ``host:port`` it dials and the Host header it sends."""

    connect: str
    host: str


class Cluster(abc.ABC):
    """A running cluster with the standard topology deployed and meshed. ``start`` and ``stop`` are idempotent
    and ``stop`` removes everything ``start`` created (it runs on pass, failure and Ctrl-C)."""

    #: ``embedded``, ``kind`` or ``kubeconfig``.
    kind: str = ""

    def __init__(self, topology: Topology):
        self.topology = topology

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    @abc.abstractmethod
    def apply(self, docs: Sequence[Mapping[str, Any]]) -> None:
        """Create or replace the objects (all or nothing where the cluster allows it). ApplyRefused on
        refusal."""

    @abc.abstractmethod
    def delete(self, docs: Sequence[Mapping[str, Any]]) -> None:
        """Delete the objects; objects already gone are not an error."""

    @abc.abstractmethod
    def driver_url(self, client: WorkloadSpec) -> str:
        """Base URL of the traffic driver running in a pod of ``client`` (the suite's control channel)."""

    def driver_client(self) -> httpx.Client:
        """A new HTTP client for ``driver_url`` (the caller closes it): a plain one, unless the drivers are
        reached through something that wants credentials (a Kubernetes API server's pod proxy)."""
        return httpx.Client(trust_env=False)

    @abc.abstractmethod
    def target(self, client: WorkloadSpec, service: ServiceSpec, protocol: Protocol) -> Target:
        """How ``client`` addresses ``service`` on its port of ``protocol`` through the mesh."""

    @abc.abstractmethod
    def metrics_get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET a Traffic Metrics API path (``/apis/metrics.smi-spec.io/v1alpha1/...``) and return its JSON;
        a 404 returns None. MetricsUnavailable when there is no API."""

    def describe(self) -> dict[str, Any]:
        """What the report says about the cluster (kind, version, context)."""
        return {"kind": self.kind}

    def save_artifacts(self, dest: Path) -> list[Path]:
        """Save logs and state useful after a failure into ``dest``; returns the files written."""
        return []
