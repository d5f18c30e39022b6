"""One conversion run's state: the input, the options, what was generated and what was found.

Converters add :class:`Generated` objects (each remembers the SMI objects it came from, for ordering and
the comment above it in the output) and report findings through :meth:`Conversion.report`, which locates
them in the source files the way ``smi lint`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from smi_conformance.gateway.findings import RULES
from smi_conformance.gateway.sources import Inputs
from smi_conformance.lint.engine import Finding
from smi_conformance.lint.resources import Resource
from smi_conformance.lint.rule import Rule
from smi_conformance.manifests import NodePath

__all__ = ["Conversion", "Generated", "Options"]

Mesh = Literal["linkerd", "istio"]


@dataclass(frozen=True)
class Options:
    """What the user chose. ``authz``: the mesh whose authorization resources TrafficTargets become."""

    authz: Mesh | None = None
    trust_domain: str = "cluster.local"  #: Istio principals are ``<trust domain>/ns/<ns>/sa/<name>``


@dataclass
class Generated:
    """One generated object and the SMI objects it came from (the first one decides where it is written)."""

    data: dict[str, Any]
    sources: list[Resource]


@dataclass
class _Pending:
    rule: Rule
    message: str
    resource: Resource
    path: NodePath
    key: bool


@dataclass
class Conversion:
    inputs: Inputs
    options: Options
    generated: list[Generated] = field(default_factory=list)
    #: Objects converted completely (nothing left out for an error): ``--write`` replaces only these.
    converted: set[int] = field(default_factory=set)
    #: Route spec -> the objects that use it (``--write`` removes a spec only when all of them converted).
    spec_users: dict[int, list[Resource]] = field(default_factory=dict)
    #: (namespace, name) of each root Service -> the first split of it.
    roots: dict[tuple[str, str], Resource] = field(default_factory=dict)
    _pending: list[_Pending] = field(default_factory=list)
    _seen: set[tuple[str, int, NodePath, str]] = field(default_factory=set)
    _valid: dict[int, bool] = field(default_factory=dict)

    def report(
        self, rule: type[Rule], resource: Resource, path: NodePath, message: str, *, key: bool = False
    ) -> None:
        """Record a finding about the node at ``path`` of ``resource`` (reported once however often)."""
        seen = (rule.code, id(resource), path, message)
        if seen not in self._seen:
            self._seen.add(seen)
            self._pending.append(_Pending(RULES[rule.code], message, resource, path, key))

    def is_valid(self, resource: Resource) -> bool:
        """Whether the models accept an SMI object; its problems are reported (GW001) the first time."""
        known = self._valid.get(id(resource))
        if known is not None:
            return known
        from smi_conformance.gateway.findings import InvalidSource
        from smi_conformance.models import validate

        if resource.info is None:
            self.report(
                InvalidSource, resource, ("apiVersion",),
                f"{resource.api_version} {resource.kind} is not an SMI kind and version the models know",
            )  # fmt: skip
            self._valid[id(resource)] = False
            return False
        problems = validate(resource.data)
        for problem in problems:
            self.report(
                InvalidSource, resource, tuple(problem.path), f"not converted: {problem.message}",
                key=problem.kind == "unknown-field",
            )  # fmt: skip
        self._valid[id(resource)] = not problems
        return not problems

    def use(self, spec: Resource, user: Resource) -> None:
        self.spec_users.setdefault(id(spec), []).append(user)

    def emit(self, data: dict[str, Any], *sources: Resource) -> None:
        self.generated.append(Generated(data, list(sources)))

    def findings(self) -> list[Finding]:
        """Every finding, located, in the order ``smi lint`` sorts them (file, line, column, code)."""
        out = [
            Finding(
                p.rule.code,
                p.rule.name,
                p.rule.severity,
                p.message,
                p.resource.document.locate(p.path, key=p.key),
                p.resource.display,
            )
            for p in self._pending
        ]
        order: dict[str, int] = {}
        for finding in out:
            order.setdefault(finding.location.file, len(order))
        out.sort(key=lambda f: (order[f.location.file], f.location.line, f.location.column, f.code))
        return out
