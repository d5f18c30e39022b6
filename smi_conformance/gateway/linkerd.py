"""Allows -> Linkerd policy resources: Server, HTTPRoute (Server parent), AuthorizationPolicy,
MeshTLSAuthentication.

=========================== ===============================================================================
SMI                         Linkerd
=========================== ===============================================================================
destination ServiceAccount  a ``Server`` (policy.linkerd.io/v1beta3) per workload and TCP container port,
                            ``podSelector.matchLabels`` of the workload; shared by every target naming it
sources                     a ``MeshTLSAuthentication`` (v1alpha1) per target, ``identityRefs`` to the
                            ServiceAccounts (no trust domain to guess)
HTTPRouteGroup matches      an ``HTTPRoute`` (policy.linkerd.io/v1beta3) per target and Server, its matches
                            converted as for Gateway API, and an ``AuthorizationPolicy`` targeting it
TCPRoute                    an ``AuthorizationPolicy`` targeting the Servers of its ports (none: all)
destination.port (v1alpha2) only that port's Server
=========================== ===============================================================================

A Server with HTTPRoutes answers requests that match none of them with 404, so a Server that also carries a
target's TCP allow (which in SMI admits every request on the port) gets a catch-all HTTPRoute too; policies
that target a Server cover every route on it. Linkerd applies the policies of the one route it selects for
a request, where SMI allows a request when any target does: several targets with routes on one Server are
reported (GW307). These resources follow Linkerd's documented fields: no registry serves Linkerd's CRDs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smi_conformance.gateway import findings as gw
from smi_conformance.gateway.authz import Allow
from smi_conformance.gateway.context import Conversion
from smi_conformance.gateway.matches import gateway_matches
from smi_conformance.gateway.sources import Workload
from smi_conformance.gateway.split import GROUP_ANNOTATION, MAX_MATCHES_PER_RULE
from smi_conformance.lint.resources import Resource

__all__ = ["POLICY", "convert_allows"]

POLICY = "policy.linkerd.io"


@dataclass
class _Server:
    name: str
    namespace: str
    workload: Workload
    port: int
    users: list[Resource] = field(default_factory=list)
    http_targets: list[Resource] = field(default_factory=list)
    server_wide: bool = False


def _meta(name: str, namespace: str, target: Resource) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "annotations": {GROUP_ANNOTATION: f"{target.api_version} {target.display}"},
    }


def _auth_policy(
    name: str, namespace: str, target: Resource, kind: str, ref: str, authn: str
) -> dict[str, Any]:
    return {
        "apiVersion": f"{POLICY}/v1alpha1",
        "kind": "AuthorizationPolicy",
        "metadata": _meta(name, namespace, target),
        "spec": {
            "targetRef": {"group": POLICY, "kind": kind, "name": ref},
            "requiredAuthenticationRefs": [{"group": POLICY, "kind": "MeshTLSAuthentication", "name": authn}],
        },
    }


def _ports(conv: Conversion, allow: Allow, workload: Workload) -> list[int]:
    declared = [port for port, protocol in workload.ports if protocol == "TCP"]
    if allow.port is not None:
        declared = [p for p in declared if p == allow.port]
    if not declared:
        wanted = f"port {allow.port}" if allow.port is not None else "any TCP port"
        conv.report(
            gw.NoWorkloadPort, allow.target, ("kind",),
            f"{workload.resource.display} declares no container {wanted}; Linkerd needs a Server per port",
        )  # fmt: skip
    return declared


def convert_allows(conv: Conversion, allows: list[Allow]) -> None:
    servers: dict[tuple[str, int, int], _Server] = {}
    plans = []
    for allow in allows:
        per_workload = []
        failed = False
        for workload in allow.workloads:
            ports = _ports(conv, allow, workload)
            failed = failed or not ports
            per_workload.append((workload, ports))
        if failed:
            continue
        matches: list[dict[str, Any]] = []
        for view in allow.http:
            found = gateway_matches(conv, view, beside_fallback=False)
            if found is None:
                failed = True
            else:
                matches.extend(found)
        if failed:
            continue
        plan = []
        for workload, ports in per_workload:
            for port in ports:
                key = (allow.namespace, id(workload.resource), port)
                server = servers.get(key)
                if server is None:
                    server = servers[key] = _Server(
                        f"{workload.resource.name}-{port}", allow.namespace, workload, port
                    )
                server.users.append(allow.target)
                tcp = allow.tcp_ports is not None and (not allow.tcp_ports or port in allow.tcp_ports)
                if allow.sources and matches:
                    server.http_targets.append(allow.target)
                server.server_wide = server.server_wide or (tcp and bool(allow.sources))
                plan.append((server, tcp))
        plans.append((allow, matches, plan))

    for server in servers.values():
        if len(server.http_targets) > 1:
            names = ", ".join(t.display for t in server.http_targets)
            conv.report(
                gw.SharedServerRoutes, server.http_targets[1], ("kind",),
                f"Server {server.namespace}/{server.name} gets HTTP routes from {names}: Linkerd authorizes "
                "a "
                "request by the one route it selects, so overlapping routes allow less than SMI",
            )  # fmt: skip
        first = server.users[0]
        conv.emit(
            {
                "apiVersion": f"{POLICY}/v1beta3",
                "kind": "Server",
                "metadata": _meta(server.name, server.namespace, first),
                "spec": {"podSelector": {"matchLabels": dict(server.workload.labels)}, "port": server.port},
            },
            *dict.fromkeys(server.users),
        )
        if server.server_wide and server.http_targets:
            conv.emit(
                {
                    "apiVersion": f"{POLICY}/v1beta3",
                    "kind": "HTTPRoute",
                    "metadata": _meta(f"{server.name}-any", server.namespace, first),
                    "spec": {
                        "parentRefs": [{"group": POLICY, "kind": "Server", "name": server.name}],
                        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}],
                    },
                },
                *dict.fromkeys(server.users),
            )

    for allow, matches, plan in plans:
        target = allow.target
        name = target.name or "traffictarget"
        ns = allow.namespace
        groups = list(dict.fromkeys(m.group for m in allow.http))
        if not allow.sources:
            conv.converted.add(id(target))
            continue  # allows nobody: the Servers alone deny everything
        authn = f"{name}-sources"
        conv.emit(
            {
                "apiVersion": f"{POLICY}/v1alpha1",
                "kind": "MeshTLSAuthentication",
                "metadata": _meta(authn, ns, target),
                "spec": {
                    "identityRefs": [
                        {"kind": "ServiceAccount", "name": sa, "namespace": sa_ns}
                        for sa_ns, sa in allow.sources
                    ]
                },
            },
            target,
        )
        for server, tcp in plan:
            if matches:
                route = f"{name}-{server.name}"
                chunks = [
                    matches[i : i + MAX_MATCHES_PER_RULE]
                    for i in range(0, len(matches), MAX_MATCHES_PER_RULE)
                ]
                conv.emit(
                    {
                        "apiVersion": f"{POLICY}/v1beta3",
                        "kind": "HTTPRoute",
                        "metadata": _meta(route, ns, target),
                        "spec": {
                            "parentRefs": [{"group": POLICY, "kind": "Server", "name": server.name}],
                            "rules": [{"matches": chunk} for chunk in chunks],
                        },
                    },
                    target,
                    *groups,
                )
                conv.emit(_auth_policy(route, ns, target, "HTTPRoute", route, authn), target)
            if tcp:
                conv.emit(
                    _auth_policy(f"{name}-{server.name}-tcp", ns, target, "Server", server.name, authn),
                    target,
                )
        conv.converted.add(id(target))
