"""split.smi-spec.io: TrafficSplit, weighting a root service's traffic over backend services.

=============== ================================================ =========================================
version          weights                                          other
=============== ================================================ =========================================
v1alpha1         Kubernetes Quantities (``1`` == ``1000m``)
v1alpha2         integers >= 0
v1alpha3         integers >= 0                                    + ``matches`` (HTTPRouteGroup filters)
v1alpha4         integers >= 0                                    same as v1alpha3; pairs with specs v1alpha4
v1alpha5-draft   integers >= 0                                    same as v1alpha4 (unreleased draft)
=============== ================================================ =========================================

The root ``spec.service`` is "the FQDN that applications will use" (every version's doc): a Service name, or
its DNS name (``web.shop``, ``web.shop.svc.cluster.local``, as OSM writes it); the draft widens the wording to
any name the mesh can address. Backends are Service names in the TrafficSplit's namespace.

Weights are relative, not percentages. All-zero weights, duplicate backends and a backend equal to the root
are legal here and reported by the linter; negative or fractional weights are errors.
"""

# No `from __future__ import annotations` here: see smi_conformance.models._base.
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from smi_conformance.models._base import Expect, SMIModel
from smi_conformance.models.meta import DNS1123_SUBDOMAIN_PATTERN, DNS1035Label, DNS1123Subdomain, SMIResource
from smi_conformance.models.quantity import NonNegativeQuantity

GROUP = "split.smi-spec.io"
MAX_WEIGHT = 2**63 - 1

Weight = Annotated[int, Field(ge=0, le=MAX_WEIGHT), Expect("an integer >= 0")]
"""An integer weight (v1alpha2 on): relative to the other backends' weights."""

RootService = Annotated[
    str,
    StringConstraints(max_length=253, pattern=DNS1123_SUBDOMAIN_PATTERN),
    Expect(
        "a Service name or its DNS name, such as 'web' or 'web.shop.svc.cluster.local' (lowercase letters, "
        "digits, '-' and '.', at most 253 characters)"
    ),
]
"""The root service: a Service name or its FQDN."""


class TrafficSplitBackendV1alpha1(SMIModel):
    """A backend Service and its share of the traffic, as a Quantity."""

    service: DNS1035Label
    """Name of a Service in the TrafficSplit's namespace."""
    weight: NonNegativeQuantity
    """Relative weight, a Kubernetes Quantity: 1 == 1000m, so "1" and "500m" split 2:1."""


class TrafficSplitBackend(SMIModel):
    """A backend Service and its share of the traffic."""

    service: DNS1035Label
    """Name of a Service in the TrafficSplit's namespace."""
    weight: Weight
    """Relative weight: a whole number >= 0."""


class TrafficSplitMatch(SMIModel):
    """A reference to an HTTPRouteGroup whose matches select the requests to split."""

    kind: Literal["HTTPRouteGroup"]
    """Kind of the referenced object: HTTPRouteGroup."""
    name: DNS1123Subdomain
    """Name of an HTTPRouteGroup in the TrafficSplit's namespace."""
    api_group: Literal["specs.smi-spec.io"] | None = None
    """API group of the referenced object (optional)."""


class TrafficSplitSpecV1alpha1(SMIModel):
    """The root service and its weighted backends."""

    service: RootService
    """The root (apex) service clients address: a Service name, or its DNS name."""
    backends: list[TrafficSplitBackendV1alpha1]
    """Services the root's traffic is split over."""


class TrafficSplitSpecV1alpha2(SMIModel):
    """The root service and its weighted backends."""

    service: RootService
    """The root (apex) service clients address: a Service name, or its DNS name."""
    backends: list[TrafficSplitBackend]
    """Services the root's traffic is split over."""


class TrafficSplitSpec(TrafficSplitSpecV1alpha2):
    """The root service, its weighted backends, and optionally which requests to split (v1alpha3 on)."""

    matches: list[TrafficSplitMatch] | None = None
    """HTTPRouteGroups selecting the requests to split (OR); others go to the root service. Absent: all."""


class _TrafficSplit(SMIResource):
    KIND: ClassVar[str] = "TrafficSplit"
    GROUP: ClassVar[str] = GROUP
    kind: Literal["TrafficSplit"]


class TrafficSplitV1alpha1(_TrafficSplit):
    """split.smi-spec.io/v1alpha1 TrafficSplit: Quantity weights."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha1",)
    api_version: Literal["split.smi-spec.io/v1alpha1"]
    spec: TrafficSplitSpecV1alpha1


class TrafficSplitV1alpha2(_TrafficSplit):
    """split.smi-spec.io/v1alpha2 TrafficSplit: integer weights."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha2",)
    api_version: Literal["split.smi-spec.io/v1alpha2"]
    spec: TrafficSplitSpecV1alpha2


class TrafficSplitV1alpha3(_TrafficSplit):
    """split.smi-spec.io/v1alpha3 TrafficSplit: integer weights, HTTPRouteGroup matches (specs v1alpha3)."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha3",)
    api_version: Literal["split.smi-spec.io/v1alpha3"]
    spec: TrafficSplitSpec


class TrafficSplitV1alpha4(_TrafficSplit):
    """split.smi-spec.io/v1alpha4 TrafficSplit (latest release): as v1alpha3, paired with specs v1alpha4."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha4",)
    api_version: Literal["split.smi-spec.io/v1alpha4"]
    spec: TrafficSplitSpec


class TrafficSplitV1alpha5Draft(_TrafficSplit):
    """The unreleased v1alpha5 draft TrafficSplit (experimental): the v1alpha4 shape."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha5", "v1alpha5-draft")
    api_version: Literal["split.smi-spec.io/v1alpha5", "split.smi-spec.io/v1alpha5-draft"]
    spec: TrafficSplitSpec
