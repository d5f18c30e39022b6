"""Pure evaluators of what each side means, for the property tests: written from SPEC-NOTES (SMI), the
Gateway API reference (HTTPRoute) and Istio's AuthorizationPolicy reference, not from the converter.

Each reads raw documents (plain dicts) and answers for one request. Gateway API leaves two things to the
implementation, so the Gateway evaluator takes them as parameters: how a RegularExpression is anchored
(``reading``: whole value, from the start, or anywhere) and where RegularExpression paths rank against
Exact/PathPrefix ones (``regex_rank``: "high", above them all, or "low", below them all).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import re2  # type: ignore[import-untyped]

from smi_conformance.models.quantity import parse_quantity

Doc = dict[str, Any]
FAIL = "fail"  #: the request fails (no backend can take it)
READINGS = ("full", "prefix", "search")


@dataclass(frozen=True)
class Request:
    port: int
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern)


def _rx(pattern: str, text: str, reading: str) -> bool:
    compiled = _compiled(pattern)
    if reading == "full":
        return compiled.fullmatch(text) is not None
    if reading == "prefix":
        return compiled.match(text) is not None
    return compiled.search(text) is not None


def _header_values(request: Request, name: str) -> list[str]:
    return [v for k, v in request.headers if k.lower() == name.lower()]


# ---- SMI -------------------------------------------------------------------------------------------------


def smi_match(match: Doc, request: Request) -> bool:
    """SPEC-NOTES: pathRegex from the start of the path; headers whole values (AND); methods OR, * any."""
    methods = match.get("methods") or []
    if methods and "*" not in methods and request.method not in methods:
        return False
    path_regex = match.get("pathRegex")
    if path_regex is not None and not _rx(path_regex, request.path, "prefix"):
        return False
    headers = match.get("headers") or {}
    if isinstance(headers, list):
        headers = {k: v for item in headers for k, v in item.items()}
    return all(any(_rx(rx, v, "full") for v in _header_values(request, n)) for n, rx in headers.items())


def _weight(split: Doc, weight: Any) -> Fraction:
    if split["apiVersion"].endswith("v1alpha1"):
        return parse_quantity(weight)
    return Fraction(weight)


def smi_split(
    split: Doc, groups: dict[str, Doc], service_ports: dict[str, set[int]], request: Request
) -> Any:
    """Where a request to the split's root on ``request.port`` goes: {service: share}, or FAIL."""
    spec = split["spec"]
    refs = spec.get("matches")
    if refs is not None:
        matched = any(
            smi_match(m, request)
            for ref in refs
            if ref["name"] in groups
            for m in groups[ref["name"]]["spec"]["matches"]
        )
        if not matched:
            return {spec["service"]: Fraction(1)}
    shares: dict[str, Fraction] = {}
    for backend in spec["backends"]:
        if request.port in service_ports[backend["service"]]:
            name = backend["service"]
            shares[name] = shares.get(name, Fraction(0)) + _weight(split, backend["weight"])
    total = sum(shares.values())
    if total == 0:
        return FAIL
    return {k: v / total for k, v in shares.items() if v}


# ---- Gateway API HTTPRoute ---------------------------------------------------------------------------------


def _path_ok(path: Doc | None, request: Request, reading: str) -> bool:
    if path is None:
        return True
    kind, value = path["type"], path["value"]
    if kind == "Exact":
        return request.path == value
    if kind == "PathPrefix":
        prefix = value.rstrip("/")
        return prefix == "" or request.path == prefix or request.path.startswith(prefix + "/")
    return _rx(value, request.path, reading)


def gateway_match(match: Doc, request: Request, reading: str) -> bool:
    if not _path_ok(match.get("path"), request, reading):
        return False
    if "method" in match and match["method"] != request.method:
        return False
    for header in match.get("headers", []):
        values = _header_values(request, header["name"])
        if header.get("type", "Exact") == "Exact":
            if header["value"] not in values:
                return False
        elif not any(_rx(header["value"], v, reading) for v in values):
            return False
    return True


def _precedence(match: Doc, regex_rank: str) -> tuple[int, int, int, int]:
    path = match.get("path") or {"type": "PathPrefix", "value": "/"}
    rank = {"Exact": 3, "PathPrefix": 2}.get(path["type"], 4 if regex_rank == "high" else 1)
    length = len(path["value"]) if path["type"] == "PathPrefix" else 0
    return (rank, length, int("method" in match), len(match.get("headers", [])))


def gateway_routes(
    routes: list[Doc], service: str, request: Request, *, reading: str = "full", regex_rank: str = "high"
) -> Any:
    """Where the HTTPRoutes attached to ``service`` send a request on ``request.port``: {service: share},
    FAIL (a rule without backends), or None (no rule matches: 404)."""
    best: tuple[tuple[int, int, int, int], int, Doc] | None = None
    order = 0
    for route in routes:
        parents = [
            p for p in route["spec"]["parentRefs"]
            if p.get("kind") == "Service" and p["name"] == service
            and p.get("port", request.port) == request.port
        ]  # fmt: skip
        if not parents:
            continue
        for rule in route["spec"]["rules"]:
            for match in rule.get("matches") or [{}]:
                if gateway_match(match, request, reading):
                    key = _precedence(match, regex_rank)
                    if best is None or key > best[0]:
                        best = (key, order, rule)
            order += 1
    if best is None:
        return None
    shares: dict[str, Fraction] = {}
    for ref in best[2].get("backendRefs", []):
        shares[ref["name"]] = shares.get(ref["name"], Fraction(0)) + Fraction(ref.get("weight", 1))
    total = sum(shares.values())
    if total == 0:
        return FAIL
    return {k: v / total for k, v in shares.items() if v}


# ---- authorization -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A connection or request from ``source`` (namespace, ServiceAccount) to a pod of ``workload``."""

    source: tuple[str, str]
    workload: str  #: the Deployment's name; its ServiceAccount is the same
    port: int
    http: Request | None  #: None for plain TCP


def smi_allows(targets: list[Doc], groups: dict[str, Doc], tcp_routes: dict[str, Doc], call: Call) -> bool:
    """SPEC-NOTES: deny by default; any TrafficTarget whose destination runs the pod, listing the source and
    with a rule covering the traffic, allows it. TCP rules admit HTTP too; a missing route allows nothing."""
    for target in targets:
        spec = target["spec"]
        dest = spec["destination"]
        if dest["name"] != call.workload or dest.get("port", call.port) != call.port:
            continue
        if not any((s.get("namespace", "ns"), s["name"]) == call.source for s in spec.get("sources", [])):
            continue
        for rule in spec.get("rules", []):
            if rule["kind"] == "TCPRoute" and rule["name"] in tcp_routes:
                ports = tcp_routes[rule["name"]].get("spec", {}).get("matches", {}).get("ports", [])
                if not ports or call.port in ports:
                    return True
            if rule["kind"] == "HTTPRouteGroup" and rule["name"] in groups and call.http is not None:
                names = rule.get("matches")
                for match in groups[rule["name"]]["spec"]["matches"]:
                    if (names is None or match["name"] in names) and smi_match(match, call.http):
                        return True
    return False


def _glob(pattern: str, value: str) -> bool:
    """Istio's string match: exact, ``prefix*``, ``*suffix``, ``*`` (any non-empty)."""
    if pattern == "*":
        return value != ""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def istio_allows(policies: list[Doc], labels: dict[str, str], principal: str, call: Call) -> bool | None:
    """Istio ALLOW policies for a workload with ``labels``: allowed?, None when no policy selects it (Istio
    then allows everything). HTTP-only fields (methods, paths, request headers) never match TCP traffic."""
    selected = [
        p for p in policies
        if p["spec"].get("action", "ALLOW") == "ALLOW"
        and all(labels.get(k) == v for k, v in p["spec"].get("selector", {}).get("matchLabels", {}).items())
    ]  # fmt: skip
    if not selected:
        return None
    for policy in selected:
        for rule in policy["spec"].get("rules", []):
            if not any(principal in f["source"].get("principals", []) for f in rule.get("from", [])):
                continue
            operations = [t["operation"] for t in rule.get("to", [])] or [{}]
            if not any(_operation_ok(op, call) for op in operations):
                continue
            if all(_condition_ok(c, call) for c in rule.get("when", [])):
                return True
    return False


def _operation_ok(op: Doc, call: Call) -> bool:
    if "ports" in op and str(call.port) not in op["ports"]:
        return False
    if "methods" in op or "paths" in op:
        if call.http is None:
            return False
        if "methods" in op and call.http.method not in op["methods"]:
            return False
        if "paths" in op and not any(_glob(p, call.http.path) for p in op["paths"]):
            return False
    return True


def _condition_ok(condition: Doc, call: Call) -> bool:
    key = condition["key"]
    assert key.startswith("request.headers[")
    if call.http is None:
        return False
    values = _header_values(call.http, key[len("request.headers[") : -1])
    return any(_glob(p, v) for p in condition["values"] for v in values)
