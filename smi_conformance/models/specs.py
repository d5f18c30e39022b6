"""specs.smi-spec.io: HTTPRouteGroup, TCPRoute and UDPRoute, the traffic descriptions TrafficTargets and
TrafficSplits refer to.

Which kind exists in which version (from the spec docs and smi-sdk-go):

=============== ====================== ========================= =======================================
version          HTTPRouteGroup         TCPRoute                  UDPRoute
=============== ====================== ========================= =======================================
v1alpha1         top-level ``matches``  no spec                   -
v1alpha2         + ``headers``          no spec                   -
v1alpha3         under ``spec``         ``spec: {}``              -
v1alpha4         under ``spec``         ``spec.matches.ports``    ``spec.matches.ports``
v1alpha5-draft   ``spec.routes``        ``spec.ports``            ``spec.ports`` (unreleased draft)
=============== ====================== ========================= =======================================

Regexes (pathRegex, header values) are kept as strings: whether they compile (as RE2) is a lint rule, not a
schema rule, so that one bad regex is reported with its own code and explanation.
"""

# No `from __future__ import annotations` here: see smi_conformance.models._base.
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from smi_conformance.models._base import Expect, SMIModel
from smi_conformance.models.headers import Headers
from smi_conformance.models.meta import NonEmptyStr, SMIResource

GROUP = "specs.smi-spec.io"

HTTPMethod = Literal["*", "GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
Port = Annotated[int, Field(ge=1, le=65535), Expect("a port number from 1 to 65535")]


class HTTPMatchV1alpha1(SMIModel):
    """One named HTTP route: requests whose path and method match."""

    name: NonEmptyStr
    """Name of the match, referenced from TrafficTarget rules."""
    methods: list[HTTPMethod] | None = None
    """HTTP methods; "*" means any. Absent: any method."""
    path_regex: str | None = None
    """Regex matched against the request path from its start. Absent: any path."""


class HTTPMatch(HTTPMatchV1alpha1):
    """One named HTTP route (v1alpha2 on): path, methods and header filters, all of which must match."""

    headers: Headers | None = None
    """Header name -> regex; every listed header must match."""


class _HTTPRouteGroup(SMIResource):
    KIND: ClassVar[str] = "HTTPRouteGroup"
    GROUP: ClassVar[str] = GROUP
    kind: Literal["HTTPRouteGroup"]


class HTTPRouteGroupV1alpha1(_HTTPRouteGroup):
    """specs.smi-spec.io/v1alpha1 HTTPRouteGroup: matches at the top level, no header filters."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha1",)
    api_version: Literal["specs.smi-spec.io/v1alpha1"]
    matches: list[HTTPMatchV1alpha1]
    """The routes of this group (OR)."""


class HTTPRouteGroupV1alpha2(_HTTPRouteGroup):
    """specs.smi-spec.io/v1alpha2 HTTPRouteGroup: matches at the top level, with header filters."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha2",)
    api_version: Literal["specs.smi-spec.io/v1alpha2"]
    matches: list[HTTPMatch]
    """The routes of this group (OR)."""


class HTTPRouteGroupSpec(SMIModel):
    """The routes of an HTTPRouteGroup (v1alpha3, v1alpha4)."""

    matches: list[HTTPMatch]
    """The routes of this group (OR)."""


class HTTPRouteGroupV1alpha3(_HTTPRouteGroup):
    """specs.smi-spec.io/v1alpha3 HTTPRouteGroup: matches under ``spec``."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha3",)
    api_version: Literal["specs.smi-spec.io/v1alpha3"]
    spec: HTTPRouteGroupSpec


class HTTPRouteGroupV1alpha4(_HTTPRouteGroup):
    """specs.smi-spec.io/v1alpha4 HTTPRouteGroup (latest release): same shape as v1alpha3."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha4",)
    api_version: Literal["specs.smi-spec.io/v1alpha4"]
    spec: HTTPRouteGroupSpec


class HTTPRouteGroupSpecV1alpha5Draft(SMIModel):
    """The routes of a draft HTTPRouteGroup: ``routes`` instead of ``matches``."""

    routes: list[HTTPMatch]
    """The routes of this group (OR)."""


class HTTPRouteGroupV1alpha5Draft(_HTTPRouteGroup):
    """The unreleased v1alpha5 draft HTTPRouteGroup (experimental): ``spec.routes``, headers as a list."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha5", "v1alpha5-draft")
    api_version: Literal["specs.smi-spec.io/v1alpha5", "specs.smi-spec.io/v1alpha5-draft"]
    spec: HTTPRouteGroupSpecV1alpha5Draft


class PortMatch(SMIModel):
    """L4 traffic on some ports of the destination."""

    name: str | None = None
    """Name of the match."""
    ports: list[Port]
    """Port numbers; an empty list means every port."""


class L4RouteSpec(SMIModel):
    """TCPRoute/UDPRoute v1alpha4 spec."""

    matches: PortMatch


class L4RouteSpecV1alpha5Draft(SMIModel):
    """TCPRoute/UDPRoute draft spec: the ports directly under ``spec``."""

    ports: list[Port]
    """Port numbers; an empty list means every port."""


class TCPRouteSpecV1alpha3(SMIModel):
    """TCPRoute v1alpha3 spec: empty (a TCPRoute matches all TCP traffic)."""


class _TCPRoute(SMIResource):
    KIND: ClassVar[str] = "TCPRoute"
    GROUP: ClassVar[str] = GROUP
    kind: Literal["TCPRoute"]


class TCPRouteV1alpha1(_TCPRoute):
    """specs.smi-spec.io/v1alpha1 TCPRoute: no spec, matches all TCP traffic."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha1",)
    api_version: Literal["specs.smi-spec.io/v1alpha1"]


class TCPRouteV1alpha2(_TCPRoute):
    """specs.smi-spec.io/v1alpha2 TCPRoute: no spec, matches all TCP traffic."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha2",)
    api_version: Literal["specs.smi-spec.io/v1alpha2"]


class TCPRouteV1alpha3(_TCPRoute):
    """specs.smi-spec.io/v1alpha3 TCPRoute: an empty spec, matches all TCP traffic."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha3",)
    api_version: Literal["specs.smi-spec.io/v1alpha3"]
    spec: TCPRouteSpecV1alpha3 | None = None


class TCPRouteV1alpha4(_TCPRoute):
    """specs.smi-spec.io/v1alpha4 TCPRoute (latest release): ``spec.matches.ports``."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha4",)
    api_version: Literal["specs.smi-spec.io/v1alpha4"]
    spec: L4RouteSpec | None = None
    """Absent: all ports."""


class TCPRouteV1alpha5Draft(_TCPRoute):
    """The unreleased v1alpha5 draft TCPRoute (experimental): ``spec.ports``."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha5", "v1alpha5-draft")
    api_version: Literal["specs.smi-spec.io/v1alpha5", "specs.smi-spec.io/v1alpha5-draft"]
    spec: L4RouteSpecV1alpha5Draft | None = None
    """Absent: all ports."""


class _UDPRoute(SMIResource):
    KIND: ClassVar[str] = "UDPRoute"
    GROUP: ClassVar[str] = GROUP
    kind: Literal["UDPRoute"]


class UDPRouteV1alpha4(_UDPRoute):
    """specs.smi-spec.io/v1alpha4 UDPRoute (latest release; UDPRoute first appeared here)."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha4",)
    api_version: Literal["specs.smi-spec.io/v1alpha4"]
    spec: L4RouteSpec | None = None
    """Absent: all ports."""


class UDPRouteV1alpha5Draft(_UDPRoute):
    """The unreleased v1alpha5 draft UDPRoute (experimental): ``spec.ports``."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha5", "v1alpha5-draft")
    api_version: Literal["specs.smi-spec.io/v1alpha5", "specs.smi-spec.io/v1alpha5-draft"]
    spec: L4RouteSpecV1alpha5Draft | None = None
    """Absent: all ports."""
