"""SMI6xx: API versions that are superseded by a newer release, or not released at all."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from smi_conformance.lint.resources import LintContext, Resource
from smi_conformance.lint.rule import Hit, Rule, Severity

#: Unreleased drafts the models do not describe (the spec repository's ``draft`` branch): recognised and
#: flagged, never validated.
DRAFT_API_VERSIONS = frozenset({"split.smi-spec.io/v1alpha5", "specs.smi-spec.io/v1alpha5"})

_ALL = frozenset(
    {"TrafficSplit", "TrafficTarget", "HTTPRouteGroup", "TCPRoute", "UDPRoute", "IdentityBinding",
     "TrafficMetrics", "TrafficMetricsList"}
)  # fmt: skip


def convert_command(obj: Resource, to_version: str) -> str:
    """The ``smi convert`` command line that upgrades the file holding ``obj``."""
    name = obj.document.source.name
    target = "-" if name == "<stdin>" else shlex.quote(name)
    return f"smi convert --to {to_version} {target}"


class SupersededVersion(Rule):
    """The object uses an API version that a newer SMI release replaced.

    Why: the latest release (v0.6.0) pairs split v1alpha4, access v1alpha3 and specs v1alpha4. Older
    versions still work in meshes that read them (linkerd-smi reads split v1alpha1/v1alpha2, for example),
    so this is information, not an error; but new features (TrafficSplit `matches`, UDPRoute, TCPRoute
    ports) exist only in the new versions, and the official smi-sdk-go CRDs no longer serve the old ones.
    The message gives the `smi convert` command that upgrades the file; it refuses conversions that would
    lose information.

    Bad:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha2
    kind: TrafficSplit
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata:
      name: web
    spec:
      service: website
      backends: [{service: website-v1, weight: 100}]
    ```
    """

    code = "SMI601"
    name = "superseded-version"
    severity = Severity.INFO
    summary = "an API version a newer SMI release replaced (with the smi convert command)"
    kinds = _ALL

    def applies(self, obj: Resource) -> bool:
        info = obj.info
        return info is not None and info.status == "superseded" and info.latest != obj.api_version

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        info = obj.info
        if info is not None and info.status == "superseded" and info.latest != obj.api_version:
            yield Hit(
                f"{obj.api_version} {obj.kind} is superseded by {info.latest}; upgrade with: "
                f"{convert_command(obj, info.latest)}",
                ("apiVersion",),
            )


class ExperimentalVersion(Rule):
    """The object uses an unreleased, experimental API version (access v1alpha4 with IdentityBinding, the
    v1alpha5 drafts of split and specs).

    Why: these versions were never part of an SMI release; few or no meshes implement them and their shape
    may still change. Drafts the models do not describe are not validated at all.

    Bad:
    ```yaml
    apiVersion: access.smi-spec.io/v1alpha4
    kind: TrafficTarget
    ```

    Good:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: TCPRoute
    metadata: {name: api-tcp}
    spec:
      matches: {ports: [9000]}
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    metadata: {name: website-to-api, namespace: default}
    spec:
      destination: {kind: ServiceAccount, name: api, namespace: default}
      rules: [{kind: TCPRoute, name: api-tcp}]
      sources: [{kind: ServiceAccount, name: website, namespace: default}]
    ```
    """

    code = "SMI602"
    name = "experimental-version"
    severity = Severity.WARNING
    summary = "an unreleased, experimental API version"
    kinds = _ALL

    def applies(self, obj: Resource) -> bool:
        info = obj.info
        return info.status == "experimental" if info is not None else obj.api_version in DRAFT_API_VERSIONS

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        info = obj.info
        if info is not None and info.status == "experimental":
            yield Hit(
                f"{obj.api_version} {obj.kind} is experimental: it was never part of an SMI release",
                ("apiVersion",),
            )
        elif info is None and obj.api_version in DRAFT_API_VERSIONS:
            yield Hit(
                f"{obj.api_version} is an unreleased draft: its {obj.kind} is recognised but not validated",
                ("apiVersion",),
            )


RULES = (SupersededVersion, ExperimentalVersion)
