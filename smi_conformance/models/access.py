"""access.smi-spec.io: TrafficTarget (who may call whom, on which routes), experimental IdentityBinding.

=========== ====================================== ===================== ==================================
version      layout                                 destination.port      rule kinds
=========== ====================================== ===================== ==================================
v1alpha1     top level: destination/sources/specs   optional              HTTPRouteGroup, TCPRoute
v1alpha2     ``spec``: destination/sources/rules    optional              HTTPRouteGroup, TCPRoute
v1alpha3     ``spec``                               (gone: use TCPRoute)  + UDPRoute
v1alpha4     ``spec``; subjects may be              -                     as v1alpha3  (unreleased)
             IdentityBindings
=========== ====================================== ===================== ==================================

Access is deny-by-default and additive. Empty ``sources`` or ``rules`` are legal in the schema but allow
nothing; the linter reports them.
"""

# No `from __future__ import annotations` here: see smi_conformance.models._base.
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from smi_conformance.models._base import VALUE, Expect, SMIModel, located_error
from smi_conformance.models.meta import (
    DNS1123Label,
    DNS1123Subdomain,
    LabelSelector,
    NonEmptyStr,
    SMIResource,
)

GROUP = "access.smi-spec.io"

Port = Annotated[int, Field(ge=1, le=65535), Expect("a port number from 1 to 65535")]


class ServiceAccountSubject(SMIModel):
    """A ServiceAccount: the identity of a group of pods."""

    kind: Literal["ServiceAccount"]
    """Kind of the subject: ServiceAccount."""
    name: DNS1123Subdomain
    """Name of the ServiceAccount."""
    namespace: DNS1123Label | None = None
    """Namespace of the ServiceAccount; the TrafficTarget's own namespace when absent."""


class DestinationWithPort(ServiceAccountSubject):
    """The destination ServiceAccount, optionally restricted to one port (v1alpha1, v1alpha2)."""

    port: Port | None = None
    """The only port the destination accepts this traffic on. Absent: every port."""


class Subject(SMIModel):
    """A ServiceAccount or an IdentityBinding (access v1alpha4)."""

    kind: Literal["ServiceAccount", "IdentityBinding"]
    """Kind of the subject."""
    group: str | None = None
    """API group of the subject: "" for ServiceAccount, "access.smi-spec.io" for IdentityBinding."""
    name: DNS1123Subdomain
    """Name of the subject."""
    namespace: DNS1123Label | None = None
    """Namespace of the subject; the TrafficTarget's own namespace when absent."""

    @model_validator(mode="after")
    def _group_matches_kind(self) -> "Subject":
        expected = "access.smi-spec.io" if self.kind == "IdentityBinding" else ""
        if self.group is not None and self.group != expected:
            raise located_error(
                ("group",), VALUE, f"must be {expected!r} for a {self.kind}, got {self.group!r}", self.group
            )
        return self


class RuleV1alpha1(SMIModel):
    """A traffic spec the destination accepts, optionally only some of its named matches."""

    kind: Literal["HTTPRouteGroup", "TCPRoute"]
    """Kind of the referenced traffic spec."""
    name: DNS1123Subdomain
    """Name of the traffic spec, in the TrafficTarget's namespace."""
    matches: list[NonEmptyStr] | None = None
    """Names of matches in the referenced spec; absent: all of them."""


class RuleV1alpha3(RuleV1alpha1):
    """A traffic spec the destination accepts; UDPRoute is allowed from v1alpha3 on."""

    kind: Literal["HTTPRouteGroup", "TCPRoute", "UDPRoute"]  # type: ignore[assignment]
    """Kind of the referenced traffic spec."""


class TrafficTargetSpecV1alpha2(SMIModel):
    """Destination, allowed sources and allowed traffic."""

    destination: DestinationWithPort
    """The ServiceAccount receiving the traffic."""
    sources: list[ServiceAccountSubject] | None = None
    """ServiceAccounts allowed to send it."""
    rules: list[RuleV1alpha1] | None = None
    """Traffic specs describing the allowed traffic."""


class TrafficTargetSpecV1alpha3(SMIModel):
    """Destination, allowed sources and allowed traffic."""

    destination: ServiceAccountSubject
    """The ServiceAccount receiving the traffic."""
    sources: list[ServiceAccountSubject] | None = None
    """ServiceAccounts allowed to send it."""
    rules: list[RuleV1alpha3] | None = None
    """Traffic specs describing the allowed traffic."""


class TrafficTargetSpecV1alpha4(SMIModel):
    """Destination, allowed sources and allowed traffic; subjects may be IdentityBindings."""

    destination: Subject
    """The ServiceAccount or IdentityBinding receiving the traffic."""
    sources: list[Subject] | None = None
    """ServiceAccounts or IdentityBindings allowed to send it."""
    rules: list[RuleV1alpha3] | None = None
    """Traffic specs describing the allowed traffic."""


class _TrafficTarget(SMIResource):
    KIND: ClassVar[str] = "TrafficTarget"
    GROUP: ClassVar[str] = GROUP
    kind: Literal["TrafficTarget"]


class TrafficTargetV1alpha1(_TrafficTarget):
    """access.smi-spec.io/v1alpha1 TrafficTarget: no spec wrapper, ``specs`` instead of ``rules``."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha1",)
    api_version: Literal["access.smi-spec.io/v1alpha1"]
    destination: DestinationWithPort
    """The ServiceAccount receiving the traffic."""
    sources: list[ServiceAccountSubject] | None = None
    """ServiceAccounts allowed to send it."""
    specs: list[RuleV1alpha1] | None = None
    """Traffic specs describing the allowed traffic."""


class TrafficTargetV1alpha2(_TrafficTarget):
    """access.smi-spec.io/v1alpha2 TrafficTarget:``spec``: destination (optional port), sources, rules."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha2",)
    api_version: Literal["access.smi-spec.io/v1alpha2"]
    spec: TrafficTargetSpecV1alpha2


class TrafficTargetV1alpha3(_TrafficTarget):
    """access.smi-spec.io/v1alpha3 TrafficTarget (latest release): no destination port; UDPRoute rules."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha3",)
    api_version: Literal["access.smi-spec.io/v1alpha3"]
    spec: TrafficTargetSpecV1alpha3


class TrafficTargetV1alpha4(_TrafficTarget):
    """The unreleased access.smi-spec.io/v1alpha4 TrafficTarget (experimental): IdentityBinding subjects."""

    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha4",)
    api_version: Literal["access.smi-spec.io/v1alpha4"]
    spec: TrafficTargetSpecV1alpha4


class IdentitySchemes(SMIModel):
    """Ways of recognising a workload's identity; a workload matching any of them has the identity (OR).

    The spec says podLabelSelector and serviceAccount are mutually exclusive, yet its own example sets both;
    the model accepts that (as the official CRD does) and leaves the warning to the linter.
    """

    SCHEMA_EXTRA: ClassVar[dict[str, Any]] = {"minProperties": 1}

    pod_label_selector: LabelSelector | None = None
    """Pods carrying these labels."""
    spiffe_identities: Annotated[list[NonEmptyStr], Field(min_length=1)] | None = None
    """SPIFFE IDs (trust domain and path)."""
    service_account: DNS1123Subdomain | None = None
    """A ServiceAccount in the IdentityBinding's namespace."""

    @model_validator(mode="after")
    def _at_least_one(self) -> "IdentitySchemes":
        if (
            self.pod_label_selector is None
            and self.spiffe_identities is None
            and self.service_account is None
        ):
            raise located_error(
                (), VALUE, "must set at least one of podLabelSelector, spiffeIdentities, serviceAccount", None
            )
        return self


class IdentityBindingSpec(SMIModel):
    """The identity schemes of an IdentityBinding."""

    schemes: IdentitySchemes


class IdentityBindingV1alpha4(SMIResource):
    """The unreleased access.smi-spec.io/v1alpha4 IdentityBinding (experimental): a workload's identities."""

    KIND: ClassVar[str] = "IdentityBinding"
    GROUP: ClassVar[str] = GROUP
    VERSIONS: ClassVar[tuple[str, ...]] = ("v1alpha4",)
    api_version: Literal["access.smi-spec.io/v1alpha4"]
    kind: Literal["IdentityBinding"]
    spec: IdentityBindingSpec
