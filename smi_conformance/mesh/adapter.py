"""The mesh adapter: everything the suite must know about a mesh that SMI itself does not say.

An adapter declares (:class:`MeshInfo`) which SMI API versions and features the mesh implements, what a denial
looks like to a client, and where its metrics come from and how exact they are; and it provides the means to
run the mesh: an embedded cluster (only meshes that run on loopback, like the reference mesh) and/or the steps
to install it on Kubernetes and enrol workloads. Adapters are found through the ``smi_conformance.meshes``
entry point group (:mod:`.loader`): a third party ships one the way the reference mesh does.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from smi_conformance.suite.features import Feature

if TYPE_CHECKING:
    from smi_conformance.cluster.base import Cluster
    from smi_conformance.mesh.kubernetes import KubernetesSupport
    from smi_conformance.suite.topology import Topology

__all__ = ["AdapterError", "MeshAdapter", "MeshInfo", "MetricsSupport", "NotSupported"]

#: The SMI API groups a mesh may implement.
GROUPS = ("split.smi-spec.io", "access.smi-spec.io", "specs.smi-spec.io", "metrics.smi-spec.io")


class AdapterError(Exception):
    """An adapter cannot be found, loaded or configured; the message says which and why."""


class NotSupported(AdapterError):
    """The adapter cannot do this (e.g. a mesh with no embedded cluster asked for one)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


class MetricsSupport(_Model):
    """Where the Traffic Metrics API is and how exact it is."""

    #: ``api``: the mesh serves metrics.smi-spec.io; ``none``: it does not (metrics tests are not-supported).
    source: Literal["api", "none"] = "none"
    #: Relative tolerance on counts in a window (0: exact, as a mesh that counts; Prometheus ``increase()``
    #: extrapolates, so a mesh built on it declares e.g. 0.1).
    count_tolerance: Annotated[float, Field(ge=0, le=1)] = 0.0
    #: How long after a request it may first show in the API (scrape interval and the like), seconds.
    scrape_delay_s: Annotated[float, Field(ge=0, le=300)] = 0.0
    #: Absolute allowance on latency percentiles for the resolution of the mesh's histogram buckets, ms.
    latency_slack_ms: Annotated[float, Field(ge=0)] = 10.0
    #: Relative error of the latency histogram (a percentile within this factor of the true one).
    latency_relative_error: Annotated[float, Field(ge=0, le=1)] = 0.05


class MeshInfo(_Model):
    """What the report and the test selection know about a mesh."""

    name: str
    version: str = "unknown"
    url: str = ""
    #: API group -> the versions the mesh serves, newest last (e.g. ``split.smi-spec.io: [v1alpha2,
    #: v1alpha3]``). Tests run their objects in the newest version both the test and the mesh accept.
    api_versions: dict[str, list[str]] = Field(default_factory=dict)
    #: Features the mesh claims (see smi_conformance.suite.features).
    features: frozenset[Feature] = frozenset()
    #: How a denied request looks, as the driver reports it: ``status 403``, ``status 404``, ``closed``,
    #: ``reset``, ``refused``, ``timeout``. Any non-2xx counts as denied; the report notes whether it looked
    #: as declared.
    denial: dict[str, list[str]] = Field(default_factory=lambda: {"http": ["status 403"], "tcp": ["closed"]})
    metrics: MetricsSupport = MetricsSupport()
    #: False for adapters whose claims were not checked by running the suite against the mesh.
    verified: bool = True
    notes: str = ""

    @field_validator("api_versions")
    @classmethod
    def _groups(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(v) - set(GROUPS))
        if unknown:
            raise ValueError(f"unknown API group(s) {unknown}; known: {', '.join(GROUPS)}")
        return v


class MeshAdapter(abc.ABC):
    """A mesh under test. Constructed by its factory with the user's ``--smi-mesh-option KEY=VALUE`` pairs."""

    info: MeshInfo

    def __init__(self, options: Mapping[str, str] | None = None):
        self.options = dict(options or {})

    def embedded_cluster(self, topology: Topology, *, run_dir: str | None = None) -> Cluster:
        """A cluster on loopback running ``topology`` with this mesh; only meshes that can run there have
        one."""
        raise NotSupported(
            f"mesh {self.info.name!r} has no embedded cluster; run it on Kubernetes (--smi-cluster=kind or "
            "--smi-cluster=kubeconfig)"
        )

    def kubernetes(self) -> KubernetesSupport:
        """How to install the mesh on Kubernetes and enrol the suite's workloads (see
        :mod:`smi_conformance.mesh.kubernetes`); only meshes that run there have it."""
        raise NotSupported(f"mesh {self.info.name!r} cannot be installed on Kubernetes by its adapter")

    def info_for(self, cluster: str) -> MeshInfo:
        """What the mesh claims on a cluster of this kind (``embedded``, ``kind``, ``kubeconfig``): a mesh
        may implement less on one than on another."""
        return self.info
