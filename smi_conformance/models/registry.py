"""Which SMI kinds and versions exist: (apiVersion, kind) -> :class:`KindInfo`.

Status of each version, from SPEC-NOTES ("Versions"): the latest release (v0.6.0) is split v1alpha4, access
v1alpha3, specs v1alpha4 and metrics v1alpha1 ("released"); older versions are "superseded" but still
deployed; access v1alpha4 (IdentityBinding), the v1alpha5 draft of split/specs and metrics v1alpha2
(smi-sdk-go only) are "experimental": recognised and flagged, never required.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from smi_conformance.models import access, metrics, specs, split
from smi_conformance.models._base import SMIObject

Status = Literal["released", "superseded", "experimental"]


@dataclass(frozen=True)
class KindInfo:
    """One SMI kind in one version, and where it stands."""

    group: str
    version: str
    kind: str
    plural: str
    """Resource name in API paths (``trafficsplits``)."""
    namespaced: bool
    model: type[SMIObject]
    """The pydantic model validating documents of this kind and version."""
    status: Status
    """"released" (the latest release), "superseded" (an older one) or "experimental" (unreleased, draft)."""
    latest: str
    """The apiVersion documents of this kind should use (upgrade target): "split.smi-spec.io/v1alpha4"."""
    api: Literal["crd", "aggregated"] = "crd"
    """How Kubernetes serves the kind: a CustomResourceDefinition, or an aggregated API (TrafficMetrics)."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


@dataclass(frozen=True)
class _Kind:
    plural: str
    namespaced: bool
    latest: str
    models: tuple[type[SMIObject], ...]
    api: Literal["crd", "aggregated"] = "crd"


_KINDS = (
    _Kind(
        "trafficsplits",
        True,
        "v1alpha4",
        (
            split.TrafficSplitV1alpha1,
            split.TrafficSplitV1alpha2,
            split.TrafficSplitV1alpha3,
            split.TrafficSplitV1alpha4,
            split.TrafficSplitV1alpha5Draft,
        ),
    ),
    _Kind(
        "traffictargets",
        True,
        "v1alpha3",
        (
            access.TrafficTargetV1alpha1,
            access.TrafficTargetV1alpha2,
            access.TrafficTargetV1alpha3,
            access.TrafficTargetV1alpha4,
        ),
    ),
    _Kind("identitybindings", True, "v1alpha4", (access.IdentityBindingV1alpha4,)),
    _Kind(
        "httproutegroups",
        True,
        "v1alpha4",
        (
            specs.HTTPRouteGroupV1alpha1,
            specs.HTTPRouteGroupV1alpha2,
            specs.HTTPRouteGroupV1alpha3,
            specs.HTTPRouteGroupV1alpha4,
            specs.HTTPRouteGroupV1alpha5Draft,
        ),
    ),
    _Kind(
        "tcproutes",
        True,
        "v1alpha4",
        (
            specs.TCPRouteV1alpha1,
            specs.TCPRouteV1alpha2,
            specs.TCPRouteV1alpha3,
            specs.TCPRouteV1alpha4,
            specs.TCPRouteV1alpha5Draft,
        ),
    ),
    _Kind("udproutes", True, "v1alpha4", (specs.UDPRouteV1alpha4, specs.UDPRouteV1alpha5Draft)),
    _Kind(
        "trafficmetrics",
        True,
        "v1alpha1",
        (metrics.TrafficMetricsV1alpha1, metrics.TrafficMetricsV1alpha2),
        api="aggregated",
    ),
    _Kind(
        "trafficmetricslists",
        False,
        "v1alpha1",
        (metrics.TrafficMetricsListV1alpha1, metrics.TrafficMetricsListV1alpha2),
        api="aggregated",
    ),
)

_EXPERIMENTAL = {
    ("access.smi-spec.io", "v1alpha4"),
    ("split.smi-spec.io", "v1alpha5"),
    ("split.smi-spec.io", "v1alpha5-draft"),
    ("specs.smi-spec.io", "v1alpha5"),
    ("specs.smi-spec.io", "v1alpha5-draft"),
    ("metrics.smi-spec.io", "v1alpha2"),
}


def _build() -> dict[tuple[str, str], KindInfo]:
    table: dict[tuple[str, str], KindInfo] = {}
    for entry in _KINDS:
        for model in entry.models:
            for version in model.VERSIONS:
                if (model.GROUP, version) in _EXPERIMENTAL:
                    status: Status = "experimental"
                else:
                    status = "released" if version == entry.latest else "superseded"
                info = KindInfo(
                    group=model.GROUP,
                    version=version,
                    kind=model.KIND,
                    plural=entry.plural,
                    namespaced=entry.namespaced,
                    model=model,
                    status=status,
                    latest=f"{model.GROUP}/{entry.latest}",
                    api=entry.api,
                )
                table[(info.api_version, info.kind)] = info
    return table


_REGISTRY = _build()
_ALL = tuple(_REGISTRY.values())


def lookup(api_version: str, kind: str) -> KindInfo | None:
    """The SMI kind in that apiVersion, or None when it is not an SMI kind/version this package knows."""
    return _REGISTRY.get((api_version, kind))


def kinds() -> list[KindInfo]:
    """Every known (group, version, kind), grouped by kind, oldest version first."""
    return list(_ALL)


def versions_of(group: str, kind: str) -> list[KindInfo]:
    """Every known version of one kind, oldest first."""
    return [info for info in _ALL if info.group == group and info.kind == kind]
