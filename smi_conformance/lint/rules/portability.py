"""SMI7xx: documents that are valid SMI (as this project resolves the spec) but that one of the two official
CRD sets would reject, or whose fields it would silently drop.

The two sets disagree with each other and with the spec's prose (see SPEC-NOTES): smi-sdk-go (the CRDs the
split v1alpha4 doc links as normative; at a143f8b) and smi-controller-sdk (kubebuilder CRDs serving every
version; at 6a7dfd7). What each set accepts is encoded below as small checks; ``tests/lint`` verifies them
against the real CRD files in ``../shared``. These rules only look at documents that pass the schema (a
document the models reject already has an error), and they only report what the models accept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping

from smi_conformance.lint.resources import (
    LintContext,
    Resource,
    dict_at,
    dicts,
    list_at,
    route_matches,
    target_body,
)
from smi_conformance.lint.rule import Hit, Rule, Severity
from smi_conformance.manifests import NodePath

Problem = tuple[NodePath, str]
Check = Callable[[Resource], Iterator[Problem]]

_V1_4 = frozenset({"v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"})
#: (group, kind) -> versions each CRD set serves (a version it defines with served: false is not served).
SERVED: dict[str, dict[tuple[str, str], frozenset[str]]] = {
    "smi-sdk-go": {
        ("split.smi-spec.io", "TrafficSplit"): frozenset({"v1alpha4"}),
        ("access.smi-spec.io", "TrafficTarget"): frozenset({"v1alpha3"}),
        ("specs.smi-spec.io", "HTTPRouteGroup"): frozenset({"v1alpha4"}),
        ("specs.smi-spec.io", "TCPRoute"): frozenset({"v1alpha4"}),
        ("specs.smi-spec.io", "UDPRoute"): frozenset({"v1alpha4"}),
    },
    "smi-controller-sdk": {
        ("split.smi-spec.io", "TrafficSplit"): _V1_4,
        ("access.smi-spec.io", "TrafficTarget"): _V1_4,
        ("access.smi-spec.io", "IdentityBinding"): frozenset({"v1alpha4"}),
        ("specs.smi-spec.io", "HTTPRouteGroup"): _V1_4,
        ("specs.smi-spec.io", "TCPRoute"): _V1_4,
        ("specs.smi-spec.io", "UDPRoute"): frozenset({"v1alpha4"}),
    },
}
#: Versions each set *defines* (served or not): schema-only validators such as kubeconform use them too.
DEFINED: dict[str, dict[tuple[str, str], frozenset[str]]] = {
    "smi-sdk-go": {
        ("split.smi-spec.io", "TrafficSplit"): frozenset({"v1alpha2", "v1alpha3", "v1alpha4"}),
        ("access.smi-spec.io", "TrafficTarget"): frozenset({"v1alpha1", "v1alpha2", "v1alpha3"}),
        ("specs.smi-spec.io", "HTTPRouteGroup"): _V1_4,
        ("specs.smi-spec.io", "TCPRoute"): frozenset({"v1alpha4"}),
        ("specs.smi-spec.io", "UDPRoute"): frozenset({"v1alpha4"}),
    },
    "smi-controller-sdk": SERVED["smi-controller-sdk"],
}
SDK_GO_METHODS = frozenset(
    {"*", "GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


# --- smi-sdk-go -------------------------------------------------------------------------------------------


def _sdk_go_route_group(obj: Resource) -> Iterator[Problem]:
    for path, match in route_matches(obj):
        if not isinstance(match.get("name"), str):
            yield (*path,), "smi-sdk-go requires a name on every match"
        headers = match.get("headers")
        if isinstance(headers, Mapping):
            yield (*path, "headers"), "smi-sdk-go wants headers as a list of one-key maps, not a map"
        for i, method in enumerate(list_at(match, "methods") or ()):
            if isinstance(method, str) and method not in SDK_GO_METHODS:
                yield (
                    (*path, "methods", i),
                    f"smi-sdk-go only allows the methods {', '.join(sorted(SDK_GO_METHODS))}",
                )
    where: NodePath = ("spec",) if obj.version_at_least("v1alpha3") else ()
    container = dict_at(obj.data, "spec") if where else obj.data
    if list_at(container, "matches") is None:
        yield where or ("kind",), "smi-sdk-go requires matches"


def _sdk_go_split(obj: Resource) -> Iterator[Problem]:
    for path, ref in dicts(dict_at(obj.data, "spec"), "matches", ("spec",)):
        if "apiGroup" in ref:
            yield (*path, "apiGroup"), "smi-sdk-go has no matches[].apiGroup field: it would be dropped"


def _sdk_go_target(obj: Resource) -> Iterator[Problem]:
    prefix, body, key = target_body(obj)
    destination = dict_at(body, "destination")
    if obj.version == "v1alpha1" and destination is not None and "port" not in destination:
        yield (*prefix, "destination"), "smi-sdk-go requires destination.port in access v1alpha1"
    allowed = {"v1alpha3": ("HTTPRouteGroup", "TCPRoute", "UDPRoute")}.get(
        obj.version, ("HTTPRouteGroup", "TCPRoute")
    )
    for path, rule in dicts(body, key, prefix):
        kind = rule.get("kind")
        if isinstance(kind, str) and kind not in allowed:
            yield (*path, "kind"), f"smi-sdk-go only allows {', '.join(allowed)} here"


def _sdk_go_l4(obj: Resource) -> Iterator[Problem]:
    spec = dict_at(obj.data, "spec")
    if spec is None:
        return  # the CRD requires matches.ports within spec, not spec itself
    matches = dict_at(spec, "matches")
    if matches is None:
        yield ("spec",), "smi-sdk-go requires spec.matches.ports"
        return
    if list_at(matches, "ports") is None:
        yield ("spec", "matches"), "smi-sdk-go requires spec.matches.ports (use [] for every port)"
    if "name" in matches:
        yield ("spec", "matches", "name"), "smi-sdk-go has no matches.name field: it would be dropped"


# --- smi-controller-sdk -----------------------------------------------------------------------------------


def _controller_route_group(obj: Resource) -> Iterator[Problem]:
    if obj.version == "v1alpha3" and "spec" not in obj.data:
        yield ("kind",), "smi-controller-sdk requires spec in specs v1alpha3"
    for path, match in route_matches(obj):
        headers = match.get("headers")
        if headers is None:
            continue
        if obj.version == "v1alpha1":
            yield (
                (*path, "headers"),
                "smi-controller-sdk has no headers in specs v1alpha1: they would be dropped",
            )
        elif isinstance(headers, list):
            yield (*path, "headers"), "smi-controller-sdk wants headers as a map, not a list of one-key maps"


def _controller_target(obj: Resource) -> Iterator[Problem]:
    prefix, body, key = target_body(obj)
    if obj.version == "v1alpha1":
        for field in ("sources", key):
            if body is not None and field not in body:
                yield (*prefix, field), f"smi-controller-sdk requires {field} in access v1alpha1"
    if obj.version == "v1alpha3":
        destination = dict_at(body, "destination")
        if destination is not None and "port" in destination:
            yield (*prefix, "destination", "port"), "smi-controller-sdk has no destination.port in v1alpha3"
    if obj.version == "v1alpha4":
        subjects = [((*prefix, "destination"), dict_at(body, "destination"))]
        subjects += list(dicts(body, "sources", prefix))
        for path, subject in subjects:
            if subject is not None and "group" in subject:
                yield (
                    (*path, "group"),
                    "smi-controller-sdk has no group field on subjects: it would be dropped",
                )


def _controller_l4(obj: Resource) -> Iterator[Problem]:
    spec = obj.data.get("spec")
    if obj.version in ("v1alpha1", "v1alpha2") and spec is not None:
        yield ("spec",), f"smi-controller-sdk has no spec in {obj.kind} {obj.version}: it would be dropped"
    elif obj.version == "v1alpha3" and isinstance(spec, Mapping) and spec:
        yield ("spec",), f"smi-controller-sdk defines no fields under spec in {obj.kind} v1alpha3: dropped"


CHECKS: dict[str, dict[str, list[Check]]] = {
    "smi-sdk-go": {
        "HTTPRouteGroup": [_sdk_go_route_group],
        "TrafficSplit": [_sdk_go_split],
        "TrafficTarget": [_sdk_go_target],
        "TCPRoute": [_sdk_go_l4],
        "UDPRoute": [_sdk_go_l4],
    },
    "smi-controller-sdk": {
        "HTTPRouteGroup": [_controller_route_group],
        "TrafficTarget": [_controller_target],
        "TCPRoute": [_controller_l4],
    },
}
CRD_KINDS = frozenset(
    {"TrafficSplit", "TrafficTarget", "HTTPRouteGroup", "TCPRoute", "UDPRoute", "IdentityBinding"}
)


def rejections(crd_set: str, obj: Resource) -> list[Problem]:
    """Why ``crd_set`` would reject (or prune part of) ``obj``; empty when it accepts it as is."""
    not_served, checks = _plan(crd_set, obj.api_version, obj.kind)
    problems: list[Problem] = [] if not_served is None else [(("apiVersion",), not_served)]
    for check in checks:
        problems.extend(check(obj))
    return problems


@functools.lru_cache(maxsize=256)
def _plan(crd_set: str, api_version: str, kind: str) -> tuple[str | None, tuple[Check, ...]]:
    """What ``rejections`` does with objects of an apiVersion and kind: the message saying ``crd_set`` does
    not serve them (None when it does), and the checks of what it defines. Decided once for each: every
    object asks."""
    group, _, version = api_version.rpartition("/")
    served = SERVED[crd_set].get((group, kind), frozenset())
    defined = DEFINED[crd_set].get((group, kind), frozenset())
    not_served = None
    if version not in served:
        how = "define but do not serve" if version in defined else "have no"
        offer = f" (they serve {', '.join(sorted(served))})" if served else ""
        not_served = f"the {crd_set} CRDs {how} {api_version} {kind}{offer}"
    return not_served, tuple(CHECKS[crd_set].get(kind, ())) if version in defined else ()


class _Portability(Rule):
    crd_set: str
    kinds = CRD_KINDS

    def applies(self, obj: Resource) -> bool:
        not_served, checks = _plan(self.crd_set, obj.api_version, obj.kind)
        return not_served is not None or bool(checks)

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        if ctx.schema_clean(obj):
            for path, reason in rejections(self.crd_set, obj):
                yield Hit(reason, path, key=True)


class SdkGoRejects(_Portability):
    """The official smi-sdk-go CRDs would reject this object, or drop part of it.

    Why: these are the CRDs the split v1alpha4 spec links as normative, and many meshes install them.
    Every difference from what this project accepts:

    - they serve only split v1alpha4, access v1alpha3 and specs v1alpha4 (older versions are defined but
      not served; split v1alpha1, TCPRoute before v1alpha4, access v1alpha4 and IdentityBinding are absent);
    - HTTPRouteGroup headers must be a list of one-key maps (the spec's prose and the other set use a map),
      every match needs a name, and methods are limited to `*` and the upper-case standard methods;
    - access v1alpha1 requires destination.port; TrafficTarget rule kinds are limited to HTTPRouteGroup and
      TCPRoute (UDPRoute too in v1alpha3);
    - TCPRoute/UDPRoute v1alpha4 require spec.matches.ports and have no matches.name (dropped);
    - TrafficSplit matches have no apiGroup (dropped).

    This project accepts both header forms (see SPEC-NOTES); ignore this rule if your cluster does not use
    the smi-sdk-go CRDs.

    Bad (for smi-sdk-go):
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: firefox-users}
    spec:
      matches:
      - name: firefox
        headers:
          user-agent: ".*Firefox.*"
    ```

    Good (for smi-sdk-go; smi-controller-sdk wants the map: use the form your cluster's CRDs want):
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: firefox-users}
    spec:
      matches:
      - name: firefox
        headers:
        - user-agent: ".*Firefox.*"
    ```
    """

    code = "SMI701"
    name = "rejected-by-smi-sdk-go"
    severity = Severity.WARNING
    summary = "the smi-sdk-go CRDs would reject (or prune part of) this object"
    crd_set = "smi-sdk-go"


class ControllerSdkRejects(_Portability):
    """The official smi-controller-sdk CRDs would reject this object, or drop part of it.

    Why: these kubebuilder CRDs serve every SMI version (UDPRoute and IdentityBinding from v1alpha4).
    Every difference from what this project accepts:

    - HTTPRouteGroup headers must be a map (the form of the spec's prose); specs v1alpha1 has no headers at
      all (dropped), and specs v1alpha3 requires `spec`;
    - access v1alpha1 requires sources and specs; v1alpha3 has no destination.port; v1alpha4 subjects have
      no `group` field (dropped, although the v1alpha4 doc's examples use it);
    - TCPRoute v1alpha1 and v1alpha2 have no spec, and v1alpha3 no fields under spec (dropped).

    Ignore this rule if your cluster does not use the smi-controller-sdk CRDs.

    Bad (for smi-controller-sdk):
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: firefox-users}
    spec:
      matches:
      - name: firefox
        headers:
        - user-agent: ".*Firefox.*"
    ```

    Good:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: firefox-users}
    spec:
      matches:
      - name: firefox
        headers:
          user-agent: ".*Firefox.*"
    ```
    """

    code = "SMI702"
    name = "rejected-by-smi-controller-sdk"
    severity = Severity.WARNING
    summary = "the smi-controller-sdk CRDs would reject (or prune part of) this object"
    crd_set = "smi-controller-sdk"


RULES = (SdkGoRejects, ControllerSdkRejects)
