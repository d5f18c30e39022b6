"""Allows -> Istio ``security.istio.io/v1`` AuthorizationPolicies (action ALLOW), one per target and workload.

=========================== ===============================================================================
SMI                         AuthorizationPolicy
=========================== ===============================================================================
destination ServiceAccount  ``selector.matchLabels`` of each workload running as it (Istio selects by label)
sources                     ``from[].source.principals``: ``<trust domain>/ns/<namespace>/sa/<name>``
HTTPRouteGroup match        one rule: ``to[].operation`` methods and paths, ``when`` request.headers
TCPRoute                    one rule: ``to[].operation.ports`` (none: every port, HTTP included, as in SMI)
destination.port (v1alpha2) ``ports`` on every operation
=========================== ===============================================================================

Istio has no regular expressions: a path or header value converts only when its regex is a literal shape
(exact, string prefix ``x*``, suffix ``*x``, any ``*``); otherwise the match is left out (GW302), so the
policy allows less than the TrafficTarget, never more. A policy is generated even when nothing converted:
an ALLOW policy without rules allows nothing, which keeps the destination deny-by-default as in SMI.
"""

from __future__ import annotations

from typing import Any

from smi_conformance.gateway import findings as gw
from smi_conformance.gateway.authz import Allow
from smi_conformance.gateway.context import Conversion
from smi_conformance.gateway.regex import ShapeKind, header_shape, path_shape
from smi_conformance.gateway.sources import HttpMatchView
from smi_conformance.gateway.split import GROUP_ANNOTATION

__all__ = ["convert_allows", "istio_header", "istio_paths"]


def istio_paths(pattern: str | None) -> list[str] | None:
    """Istio ``paths`` selecting exactly what a pathRegex does ([] = any path); None if impossible."""
    shape = path_shape(pattern)
    literal = shape.literal
    if "*" in literal or "{" in literal or "}" in literal:
        return None  # Istio reads these as wildcards and path templates
    if shape.kind is ShapeKind.ANY:
        return []
    if shape.kind is ShapeKind.EXACT:
        return [literal]
    if shape.kind is ShapeKind.PREFIX:
        return [f"{literal}*"]
    if shape.kind is ShapeKind.SEGMENT_PREFIX:
        return [literal, f"{literal}/*"]
    if shape.kind is ShapeKind.SUFFIX and literal:
        return [f"*{literal}"]
    return None


def istio_header(pattern: str) -> tuple[list[str], bool] | None:
    """(Istio ``when`` values for a header regex, exact?); None if no safe form exists. ``.*`` becomes the
    presence match ``*``, which (unlike SMI) does not match an empty value: narrower, not exact."""
    shape = header_shape(pattern)
    literal = shape.literal
    if "*" in literal:
        return None
    if shape.kind is ShapeKind.EXACT and literal:
        return [literal], True
    if shape.kind is ShapeKind.PREFIX and literal:
        return [f"{literal}*"], True
    if shape.kind is ShapeKind.SUFFIX and literal:
        return [f"*{literal}"], True
    if shape.kind is ShapeKind.NONEMPTY:
        return ["*"], True
    if shape.kind is ShapeKind.ANY:
        return ["*"], False
    return None


def _http_rule(
    conv: Conversion, allow: Allow, match: HttpMatchView, principals: list[str]
) -> dict[str, Any] | None:
    group = match.group
    operation: dict[str, Any] = {}
    if match.methods and "*" not in match.methods:
        operation["methods"] = list(dict.fromkeys(match.methods))
    paths = istio_paths(match.path_regex)
    if paths is None:
        conv.report(
            gw.NarrowedMatch, group, (*match.path, "pathRegex"),
            f"Istio has no regex paths: match {match.name!r} ({match.path_regex!r}) is left out of the "
            "policy "
            f"of {allow.target.display}, which allows less",
        )  # fmt: skip
        return None
    if paths:
        operation["paths"] = paths
    if allow.port is not None:
        operation["ports"] = [str(allow.port)]
    when = []
    for path, name, pattern in match.headers:
        values = istio_header(pattern)
        if values is None:
            conv.report(
                gw.NarrowedMatch, group, path,
                f"Istio has no regex header values: match {match.name!r} (header {name}: {pattern!r}) is "
                "left "
                f"out of the policy of {allow.target.display}, which allows less",
            )  # fmt: skip
            return None
        if not values[1]:
            conv.report(
                gw.NarrowedMatch, group, path,
                f"header {name}: {pattern!r} becomes Istio's presence match '*', which does not match an "
                "empty value",
            )  # fmt: skip
        when.append({"key": f"request.headers[{name}]", "values": values[0]})
    if "methods" not in operation and "paths" not in operation and not when:
        # An SMI HTTP match allows HTTP requests only; an Istio rule without an HTTP field would also
        # allow plain TCP. The presence match on the path holds for every HTTP request and no TCP one.
        operation["paths"] = ["*"]
    rule: dict[str, Any] = {
        "from": [{"source": {"principals": principals}}],
        "to": [{"operation": operation}],
    }
    if when:
        rule["when"] = when
    return rule


def _tcp_rule(allow: Allow, principals: list[str]) -> dict[str, Any] | None:
    ports = allow.tcp_ports
    assert ports is not None
    if allow.port is not None:
        if ports and allow.port not in ports:
            return None  # the TCPRoute's ports and the destination port do not meet: nothing allowed
        ports = (allow.port,)
    rule: dict[str, Any] = {"from": [{"source": {"principals": principals}}]}
    if ports:
        rule["to"] = [{"operation": {"ports": [str(p) for p in ports]}}]
    return rule


def convert_allows(conv: Conversion, allows: list[Allow]) -> None:
    domain = conv.options.trust_domain
    for allow in allows:
        principals = [f"{domain}/ns/{ns}/sa/{name}" for ns, name in allow.sources]
        rules: list[dict[str, Any]] = []
        if principals:
            for match in allow.http:
                rule = _http_rule(conv, allow, match, principals)
                if rule is not None:
                    rules.append(rule)
            if allow.tcp_ports is not None:
                tcp = _tcp_rule(allow, principals)
                if tcp is not None:
                    rules.append(tcp)
        target = allow.target
        several = len(allow.workloads) > 1
        for workload in allow.workloads:
            name = target.name or "traffictarget"
            spec: dict[str, Any] = {"selector": {"matchLabels": dict(workload.labels)}, "action": "ALLOW"}
            if rules:
                spec["rules"] = rules
            conv.emit(
                {
                    "apiVersion": "security.istio.io/v1",
                    "kind": "AuthorizationPolicy",
                    "metadata": {
                        "name": f"{name}-{workload.resource.name}" if several else name,
                        "namespace": allow.namespace,
                        "annotations": {GROUP_ANNOTATION: f"{target.api_version} {target.display}"},
                    },
                    "spec": spec,
                },
                target,
                *dict.fromkeys(m.group for m in allow.http),
            )
        conv.converted.add(id(target))
