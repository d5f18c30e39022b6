"""Which SMI kinds and versions exist: (apiVersion, kind) -> :class:`KindInfo`.

Status of each version, from SPEC-NOTES ("Versions"): the latest release (v0.6.0) is split v1alpha4, access
v1alpha3, specs v1alpha4 and metrics v1alpha1 ("released"); older versions are "superseded" but still
deployed; access v1alpha4 (IdentityBinding), the v1alpha5 draft of split/specs and metrics v1alpha2
(smi-sdk-go only) are "experimental": recognised and flagged, never required.

Each kind's versions and model classes are declared here, not read from the classes, so that looking a kind up
defines no model: a group's module (``split``, ``access``, ``specs``, ``metrics``) is imported when one of its
models is first used (:attr:`KindInfo.model`). A test checks the declarations against the classes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
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
    model_path: str
    """Where the model class is: ``"split:TrafficSplitV1alpha4"`` (a module of this package, a class)."""
    status: Status
    """"released" (the latest release), "superseded" (an older one) or "experimental" (unreleased, draft)."""
    latest: str
    """The apiVersion documents of this kind should use (upgrade target): "split.smi-spec.io/v1alpha4"."""
    api: Literal["crd", "aggregated"] = "crd"
    """How Kubernetes serves the kind: a CustomResourceDefinition, or an aggregated API (TrafficMetrics)."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @cached_property
    def model(self) -> type[SMIObject]:
        """The pydantic model validating documents of this kind and version; its group's module is imported on
        first use."""
        module, _, name = self.model_path.partition(":")
        model: type[SMIObject] = getattr(importlib.import_module(f"smi_conformance.models.{module}"), name)
        return model


@dataclass(frozen=True)
class _Kind:
    group: str
    kind: str
    plural: str
    namespaced: bool
    latest: str
    module: str
    """The module of this package that defines the kind's model classes."""
    models: tuple[tuple[str, tuple[str, ...]], ...]
    """(class name, the versions it validates), oldest first; several versions only for the draft."""
    api: Literal["crd", "aggregated"] = "crd"


_DRAFT = ("v1alpha5", "v1alpha5-draft")
_KINDS = (
    _Kind(
        "split.smi-spec.io",
        "TrafficSplit",
        "trafficsplits",
        True,
        "v1alpha4",
        "split",
        (
            ("TrafficSplitV1alpha1", ("v1alpha1",)),
            ("TrafficSplitV1alpha2", ("v1alpha2",)),
            ("TrafficSplitV1alpha3", ("v1alpha3",)),
            ("TrafficSplitV1alpha4", ("v1alpha4",)),
            ("TrafficSplitV1alpha5Draft", _DRAFT),
        ),
    ),
    _Kind(
        "access.smi-spec.io",
        "TrafficTarget",
        "traffictargets",
        True,
        "v1alpha3",
        "access",
        (
            ("TrafficTargetV1alpha1", ("v1alpha1",)),
            ("TrafficTargetV1alpha2", ("v1alpha2",)),
            ("TrafficTargetV1alpha3", ("v1alpha3",)),
            ("TrafficTargetV1alpha4", ("v1alpha4",)),
        ),
    ),
    _Kind(
        "access.smi-spec.io",
        "IdentityBinding",
        "identitybindings",
        True,
        "v1alpha4",
        "access",
        (("IdentityBindingV1alpha4", ("v1alpha4",)),),
    ),
    _Kind(
        "specs.smi-spec.io",
        "HTTPRouteGroup",
        "httproutegroups",
        True,
        "v1alpha4",
        "specs",
        (
            ("HTTPRouteGroupV1alpha1", ("v1alpha1",)),
            ("HTTPRouteGroupV1alpha2", ("v1alpha2",)),
            ("HTTPRouteGroupV1alpha3", ("v1alpha3",)),
            ("HTTPRouteGroupV1alpha4", ("v1alpha4",)),
            ("HTTPRouteGroupV1alpha5Draft", _DRAFT),
        ),
    ),
    _Kind(
        "specs.smi-spec.io",
        "TCPRoute",
        "tcproutes",
        True,
        "v1alpha4",
        "specs",
        (
            ("TCPRouteV1alpha1", ("v1alpha1",)),
            ("TCPRouteV1alpha2", ("v1alpha2",)),
            ("TCPRouteV1alpha3", ("v1alpha3",)),
            ("TCPRouteV1alpha4", ("v1alpha4",)),
            ("TCPRouteV1alpha5Draft", _DRAFT),
        ),
    ),
    _Kind(
        "specs.smi-spec.io",
        "UDPRoute",
        "udproutes",
        True,
        "v1alpha4",
        "specs",
        (("UDPRouteV1alpha4", ("v1alpha4",)), ("UDPRouteV1alpha5Draft", _DRAFT)),
    ),
    _Kind(
        "metrics.smi-spec.io",
        "TrafficMetrics",
        "trafficmetrics",
        True,
        "v1alpha1",
        "metrics",
        (("TrafficMetricsV1alpha1", ("v1alpha1",)), ("TrafficMetricsV1alpha2", ("v1alpha2",))),
        api="aggregated",
    ),
    _Kind(
        "metrics.smi-spec.io",
        "TrafficMetricsList",
        "trafficmetricslists",
        False,
        "v1alpha1",
        "metrics",
        (("TrafficMetricsListV1alpha1", ("v1alpha1",)), ("TrafficMetricsListV1alpha2", ("v1alpha2",))),
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
        for name, versions in entry.models:
            for version in versions:
                if (entry.group, version) in _EXPERIMENTAL:
                    status: Status = "experimental"
                else:
                    status = "released" if version == entry.latest else "superseded"
                info = KindInfo(
                    group=entry.group,
                    version=version,
                    kind=entry.kind,
                    plural=entry.plural,
                    namespaced=entry.namespaced,
                    model_path=f"{entry.module}:{name}",
                    status=status,
                    latest=f"{entry.group}/{entry.latest}",
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
