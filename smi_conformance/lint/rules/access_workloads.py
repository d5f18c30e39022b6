"""SMI406-SMI407: a TrafficTarget against the workloads its destination ServiceAccount runs, when the linted
set holds them (Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, Pods, and the Services selecting
their pods).
"""

from __future__ import annotations

from collections.abc import Iterator

from smi_conformance.lint.resources import (
    WORKLOADS,
    LintContext,
    Resource,
    dict_at,
    dicts,
    list_at,
    str_at,
    target_body,
)
from smi_conformance.lint.rule import Hit, Rule, Severity
from smi_conformance.lint.workloads import (
    DEFAULT_ACCOUNT,
    pods_running_as,
    selector,
    selects,
    service_ports,
    workloads,
)
from smi_conformance.manifests import NodePath

_TARGET = frozenset({"TrafficTarget"})
_L4 = ("TCPRoute", "UDPRoute")


def _destination_account(obj: Resource) -> tuple[NodePath, str, str] | None:
    """(path, namespace, name) of a TrafficTarget's destination ServiceAccount."""
    prefix, body, _ = target_body(obj)
    destination = dict_at(body, "destination")
    name = str_at(destination, "name")
    if destination is None or name is None or str_at(destination, "kind") != "ServiceAccount":
        return None
    return (*prefix, "destination"), str_at(destination, "namespace") or obj.namespace, name


def _route_ports(route: Resource) -> list[int]:
    matches = dict_at(dict_at(route.data, "spec"), "matches")
    return [p for p in list_at(matches, "ports") or () if type(p) is int]


class PortNotExposed(Rule):
    """A TrafficTarget allows a TCPRoute (or UDPRoute) port that no Service of the destination's pods
    exposes.

    Why: the destination is a ServiceAccount; its pods are reached through the Services that select them.
    A route port that none of those Services has (as `port` or `targetPort`) allows traffic nobody can
    send: usually a typo, or the Service's port where the pod's was meant (or the reverse). Checked only
    when the linted set holds the workloads running as the destination and Services selecting them.

    Bad:
    ```yaml
    kind: TCPRoute
    metadata: {name: db}
    spec: {matches: {ports: [5433]}}      # the Service exposes 5432
    ```

    Good:
    ```yaml
    apiVersion: v1
    kind: ServiceAccount
    metadata: {name: db}
    ---
    apiVersion: v1
    kind: ServiceAccount
    metadata: {name: api}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: db}
    spec:
      selector: {matchLabels: {app: db}}
      template:
        metadata: {labels: {app: db}}
        spec:
          serviceAccountName: db
          containers: [{name: db, image: postgres:16}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: db}
    spec: {selector: {app: db}, ports: [{port: 5432}]}
    ---
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: TCPRoute
    metadata: {name: db}
    spec: {matches: {ports: [5432]}}      # the port the Service exposes
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    metadata: {name: api-to-db}
    spec:
      destination: {kind: ServiceAccount, name: db, namespace: default}
      rules: [{kind: TCPRoute, name: db}]
      sources: [{kind: ServiceAccount, name: api, namespace: default}]
    ```
    """

    code = "SMI406"
    name = "port-not-exposed"
    severity = Severity.WARNING
    summary = "a TCPRoute or UDPRoute port no Service of the destination's pods exposes"
    kinds = _TARGET
    deferred = True
    evidence = frozenset({"Service"})

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        account = _destination_account(obj)
        if account is None:
            return
        _, namespace, name = account
        exposed = self._exposed(ctx, namespace, name)
        if exposed is None:
            return
        prefix, body, key = target_body(obj)
        for path, ref in dicts(body, key, prefix):
            kind, route_name = str_at(ref, "kind"), str_at(ref, "name")
            if kind not in _L4 or route_name is None:
                continue
            for route in ctx.find(kind, obj.namespace, route_name):
                for port in _route_ports(route):
                    if port not in exposed:
                        yield Hit(
                            f"{kind} {obj.namespace}/{route_name} allows port {port}, which no Service of "
                            f"ServiceAccount {namespace}/{name}'s pods exposes (they expose "
                            f"{', '.join(map(str, sorted(exposed)))})",
                            (*path, "name"),
                        )

    @staticmethod
    def _exposed(ctx: LintContext, namespace: str, account: str) -> set[int] | None:
        """Ports and target ports of the Services selecting pods that run as ``account``; None when the
        linted set lacks the evidence (no such pods or Services, or a named target port)."""
        pods = [labels for _, labels in pods_running_as(ctx, namespace, account)]
        exposed: set[int] = set()
        found = False
        for service in ctx.in_namespace("Service", namespace):
            wanted = selector(service)
            if wanted and any(selects(wanted, labels) for labels in pods):
                ports, targets, named = service_ports(service)
                if named:
                    return None
                exposed |= ports | targets
                found = True
        return exposed if found else None


class DestinationRunsAsDefault(Rule):
    """A TrafficTarget protects a ServiceAccount that no workload runs as, while the workload meant (the
    one named after it, or selected by the Service named after it) runs as `default`.

    Why: TrafficTargets are enforced on the pods running as the destination ServiceAccount. A Deployment
    without `serviceAccountName` runs as `default`: the TrafficTarget protects nothing, and the workload
    answers whatever the mesh does for `default` (often: everyone, or no one). Set
    `serviceAccountName` on the workload's pod template.

    Bad:
    ```yaml
    kind: Deployment
    metadata: {name: api}
    spec:
      template:
        spec:
          containers: [{name: api, image: api:1}]   # runs as default
    ---
    kind: TrafficTarget
    spec:
      destination: {kind: ServiceAccount, name: api, namespace: default}
    ```

    Good:
    ```yaml
    apiVersion: v1
    kind: ServiceAccount
    metadata: {name: api}
    ---
    apiVersion: v1
    kind: ServiceAccount
    metadata: {name: web}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: api}
    spec:
      selector: {matchLabels: {app: api}}
      template:
        metadata: {labels: {app: api}}
        spec:
          serviceAccountName: api        # the destination of the TrafficTarget
          containers: [{name: api, image: api:1}]
    ---
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: TCPRoute
    metadata: {name: api}
    spec: {matches: {ports: [8080]}}
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    metadata: {name: web-to-api}
    spec:
      destination: {kind: ServiceAccount, name: api, namespace: default}
      rules: [{kind: TCPRoute, name: api}]
      sources: [{kind: ServiceAccount, name: web, namespace: default}]
    ```
    """

    code = "SMI407"
    name = "destination-runs-as-default"
    severity = Severity.WARNING
    summary = "the workload a TrafficTarget protects runs as the default ServiceAccount"
    kinds = _TARGET
    deferred = True
    evidence = frozenset({"Pod", *WORKLOADS})

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        account = _destination_account(obj)
        if account is None or account[2] == DEFAULT_ACCOUNT:
            return
        path, namespace, name = account
        candidates: list[Resource] = []
        named_service = ctx.find("Service", namespace, name)
        wanted = selector(named_service[0]) if named_service else None
        for workload, labels, runs_as in workloads(ctx, namespace):
            if runs_as == name:
                return  # some workload runs as the destination
            if runs_as == DEFAULT_ACCOUNT and (workload.name == name or (wanted and selects(wanted, labels))):
                candidates.append(workload)
        if candidates:
            shown = ", ".join(f"{w.kind} {w.namespace}/{w.name}" for w in candidates[:3])
            more = f" and {len(candidates) - 3} more" if len(candidates) > 3 else ""
            yield Hit(
                f"no workload runs as ServiceAccount {namespace}/{name}: {shown}{more} run(s) as default, "
                "so this TrafficTarget protects nothing (set serviceAccountName)",
                (*path, "name"),
            )


RULES = (PortNotExposed, DestinationRunsAsDefault)
