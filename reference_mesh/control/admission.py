"""Admission: which documents may enter the store. All or nothing: a batch with any error changes nothing.

Every document of a batch is checked first, on its own (schema, through :mod:`smi_conformance.models`) and
against the state the batch would produce (the store with the batch's objects replacing or removing theirs);
only a batch without errors is committed, in one revision. Findings carry the linter's rule codes
(``smi lint --explain CODE``) and the ``file:line:column`` of the offending node.

What is an error here is narrower than in ``smi lint``: the control plane refuses what it cannot enforce
faithfully, and accepts (with a warning) what is legal but suspicious, because Kubernetes accepts it too and
the
mesh has a defined behaviour for it:

=========================== ====== ==================================================================
finding                      here   why
=========================== ====== ==================================================================
schema (SMI1xx), SMI010      error  not an object of its kind and version
SMI501 invalid regex         error  the proxy could not compile it (RE2)
SMI204 duplicate backend     error  the weight it should get is ambiguous
SMI206 duplicate split root  error  which split applies would be ambiguous
SMI302 unknown match name    error  a typo that would silently allow less than intended
SMI305 duplicate object      error  two documents of one batch define the same object
MESH001 not storable         error  TrafficMetrics are read from the metrics API, never applied
MESH002 does not compile     error  the resulting state yields an invalid proxy snapshot
MESH003 not found (delete)   error  deleting an object that does not exist
SMI203, SMI301, SMI303,      warn   legal; the mesh's behaviour is defined (nothing is allowed / 503)
SMI304, SMI401, SMI402,
SMI602
MESH004 skipped              info   a kind the reference mesh does not manage (Deployment, ...)
=========================== ====== ==================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from reference_mesh.control.compiler import MeshSettings, compile_mesh
from reference_mesh.control.manifests import Location, ManifestDocument
from reference_mesh.control.resources import ObjectKey, key_of
from reference_mesh.control.smi import http_matches, read_split, read_target
from reference_mesh.control.store import StoredObject, StoreState
from reference_mesh.proxy.regex import compile_re2
from smi_conformance import models

__all__ = ["AdmissionResult", "Finding", "admit_apply", "admit_delete"]

Severity = Literal["error", "warning", "info"]
SCHEMA_CODES = {
    "unknown-field": "SMI101",
    "missing-field": "SMI102",
    "type": "SMI103",
    "value": "SMI104",
    "format": "SMI105",
}
SMI_GROUPS = ("split.smi-spec.io", "access.smi-spec.io", "specs.smi-spec.io", "metrics.smi-spec.io")


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    location: Location | None = None
    object: str | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        what = f" [{self.object}]" if self.object else ""
        return f"{where}{self.severity} {self.code}: {self.message}{what}"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "location": str(self.location) if self.location else None,
            "object": self.object,
        }


@dataclass
class AdmissionResult:
    objects: list[Any] = field(default_factory=list)
    deletes: list[ObjectKey] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)


@dataclass
class _Doc:
    source: ManifestDocument | None
    data: Any
    model: Any = None

    def loc(self, path: Sequence[str | int] = (), key: bool = False) -> Location | None:
        return self.source.locate(tuple(path), key=key) if self.source is not None else None


class _Checker:
    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(
        self,
        code: str,
        severity: Severity,
        message: str,
        doc: _Doc,
        path: Sequence[str | int] = (),
        obj: str | None = None,
        *,
        key: bool = False,
    ) -> None:
        self.findings.append(Finding(code, severity, message, doc.loc(path, key), obj))

    # ------------------------------------------------------------------------------------------ one document
    def decode(self, doc: _Doc) -> bool:
        data = doc.data
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            self.add("SMI010", "error", "not a Kubernetes object (no kind)", doc)
            return False
        kind, api_version = data["kind"], data.get("apiVersion")
        if not isinstance(api_version, str) or "/" not in api_version:
            if models.lookup(f"split.smi-spec.io/{api_version}", kind) or kind in (
                "TrafficSplit",
                "TrafficTarget",
                "HTTPRouteGroup",
                "TCPRoute",
                "UDPRoute",
                "IdentityBinding",
            ):
                self.add(
                    "SMI010",
                    "error",
                    f"{kind} without an apiVersion naming its *.smi-spec.io group",
                    doc,
                    ("apiVersion",),
                )
                return False
            self.add(
                "MESH004", "info", f"skipped {kind}: the reference mesh does not manage it", doc, ("kind",)
            )
            return False
        group = api_version.rpartition("/")[0]
        if group not in SMI_GROUPS:
            self.add(
                "MESH004",
                "info",
                f"skipped {kind} ({api_version}): the reference mesh does not manage it",
                doc,
                ("kind",),
            )
            return False
        info = models.lookup(api_version, kind)
        if info is None:
            self.add(
                "SMI106", "error", f"{api_version} {kind} is not an SMI kind and version", doc, ("kind",)
            )
            return False
        if info.api == "aggregated":
            self.add(
                "MESH001",
                "error",
                f"{kind} is served by the Traffic Metrics API and cannot be applied",
                doc,
                ("kind",),
            )
            return False
        problems = models.validate(data)
        for p in problems:
            self.add(
                SCHEMA_CODES.get(p.kind, "SMI104"),
                "error",
                p.message,
                doc,
                p.path,
                key=p.kind == "unknown-field",
            )
        if problems:
            return False
        doc.model = models.load(data)
        if info.status == "experimental":
            self.add(
                "SMI602",
                "warning",
                f"{api_version} is an unreleased, experimental API version",
                doc,
                ("apiVersion",),
            )
        self.check_object(doc)
        return True

    def check_object(self, doc: _Doc) -> None:
        obj, name = doc.model, str(key_of(doc.model))
        if obj.kind == "HTTPRouteGroup":
            self.check_regexes(doc, name)
        elif obj.kind == "TrafficSplit":
            view = read_split(obj)
            seen: set[str] = set()
            for i, (svc, _) in enumerate(view.backends):
                if svc in seen:
                    self.add(
                        "SMI204",
                        "error",
                        f"backend {svc!r} is listed twice",
                        doc,
                        ("spec", "backends", i, "service"),
                        name,
                    )
                seen.add(svc)
            if view.backends and not any(w for _, w in view.backends):
                self.add(
                    "SMI203",
                    "warning",
                    "every backend weight is zero: requests to the root fail with 503",
                    doc,
                    ("spec", "backends"),
                    name,
                )
        elif obj.kind == "TrafficTarget":
            target = read_target(obj)
            prefix: tuple[str, ...] = () if obj.api_version.endswith("/v1alpha1") else ("spec",)
            if not target.sources:
                self.add(
                    "SMI401", "warning", "no sources: this TrafficTarget allows nothing", doc, prefix, name
                )
            if not target.rules:
                self.add(
                    "SMI402", "warning", "no rules: this TrafficTarget allows nothing", doc, prefix, name
                )

    def check_regexes(self, doc: _Doc, name: str) -> None:
        data = doc.data
        base: tuple[str, ...]
        if "matches" in data:
            base, raw = ("matches",), data["matches"]
        elif "routes" in data.get("spec", {}):
            base, raw = ("spec", "routes"), data["spec"]["routes"]
        else:
            base, raw = ("spec", "matches"), data["spec"]["matches"]
        for i, m in enumerate(raw):
            patterns: list[tuple[tuple[str | int, ...], str]] = []
            if isinstance(m.get("pathRegex"), str):
                patterns.append((("pathRegex",), m["pathRegex"]))
            headers = m.get("headers") or {}
            items = (
                [(k, v) for h in headers for k, v in h.items()]
                if isinstance(headers, list)
                else headers.items()
            )
            patterns += [(("headers", k), v) for k, v in items]
            for path, pattern in patterns:
                try:
                    compile_re2(pattern)
                except ValueError as exc:
                    self.add(
                        "SMI501",
                        "error",
                        f"regex {pattern!r} does not compile (RE2): {exc}",
                        doc,
                        (*base, i, *path),
                        name,
                    )
        names = [m.get("name") for m in raw]
        for i, n in enumerate(names):
            if n in names[:i]:
                self.add("SMI503", "error", f"two matches are named {n!r}", doc, (*base, i, "name"), name)

    # ----------------------------------------------------------------------------------------- the batch
    def check_batch(self, docs: list[_Doc], state: StoreState) -> dict[ObjectKey, StoredObject]:
        """Cross-document checks on the state the batch would produce; returns that state's objects."""
        by_key: dict[ObjectKey, _Doc] = {}
        for doc in docs:
            key = key_of(doc.model)
            if key in by_key:
                self.add(
                    "SMI305",
                    "error",
                    f"{key} is defined twice in this batch",
                    doc,
                    ("metadata", "name"),
                    str(key),
                )
            by_key[key] = doc
        objects = dict(state.objects)
        for key, doc in by_key.items():
            old = objects.get(key)
            objects[key] = StoredObject(key, doc.model, 0, old.created if old else state.revision + 1)
        after = StoreState(objects, state.revision + 1)
        for key, doc in by_key.items():
            obj = doc.model
            if obj.kind == "TrafficSplit":
                self.check_split(doc, key, after)
            elif obj.kind == "TrafficTarget":
                self.check_target(doc, key, after)
        return objects

    def check_split(self, doc: _Doc, key: ObjectKey, after: StoreState) -> None:
        view = read_split(doc.model)
        for other in after.of_kind("TrafficSplit", view.namespace):
            if other.key != key and read_split(other.obj).root == view.root:
                self.add(
                    "SMI206",
                    "error",
                    f"{other.key} already splits root service {view.root!r}",
                    doc,
                    ("spec", "service"),
                    str(key),
                )
        services = after.of_kind("Service", view.namespace)
        if services:
            names = {s.key.name for s in services}
            for i, svc in enumerate([view.root] + [b for b, _ in view.backends]):
                if svc not in names:
                    path = ("spec", "service") if i == 0 else ("spec", "backends", i - 1, "service")
                    self.add(
                        "SMI303",
                        "warning",
                        f"no Service {svc!r} in namespace {view.namespace!r}"
                        + (" (requests routed to it fail with 503)" if i else ""),
                        doc,
                        path,
                        str(key),
                    )
        for i, group in enumerate(view.matches or ()):
            if after.get("HTTPRouteGroup", view.namespace, group) is None:
                self.add(
                    "SMI301",
                    "warning",
                    f"HTTPRouteGroup {group!r} does not exist (yet): it matches nothing",
                    doc,
                    ("spec", "matches", i, "name"),
                    str(key),
                )

    def check_target(self, doc: _Doc, key: ObjectKey, after: StoreState) -> None:
        view = read_target(doc.model)
        v1 = doc.model.api_version.endswith("/v1alpha1")
        rules_path: tuple[str, ...] = ("specs",) if v1 else ("spec", "rules")
        for i, ref in enumerate(view.rules):
            route = after.get(ref.kind, view.namespace, ref.name)
            if route is None:
                self.add(
                    "SMI301",
                    "warning",
                    f"{ref.kind} {ref.name!r} does not exist (yet): this rule allows nothing",
                    doc,
                    (*rules_path, i, "name"),
                    str(key),
                )
                continue
            if ref.kind == "HTTPRouteGroup" and ref.matches is not None:
                known = {m.name for m in http_matches(route.obj)}
                for j, name in enumerate(ref.matches):
                    if name not in known:
                        self.add(
                            "SMI302",
                            "error",
                            f"HTTPRouteGroup {ref.name!r} has no match named {name!r}"
                            f" (it has: {', '.join(sorted(known)) or 'none'})",
                            doc,
                            (*rules_path, i, "matches", j),
                            str(key),
                        )
        accounts = {(o.key.namespace, o.key.name) for o in after.of_kind("ServiceAccount")}
        if accounts:
            base = () if v1 else ("spec",)
            subjects = [(view.destination, (*base, "destination"))]
            subjects += [(s, (*base, "sources", i)) for i, s in enumerate(view.sources)]
            for subject, path in subjects:
                if subject.kind == "ServiceAccount" and (subject.namespace, subject.name) not in accounts:
                    self.add(
                        "SMI304",
                        "warning",
                        f"no ServiceAccount {subject.namespace}/{subject.name}",
                        doc,
                        (*path, "name"),
                        str(key),
                    )


def _documents(batch: Iterable[ManifestDocument | dict[str, Any]]) -> list[_Doc]:
    return [_Doc(d, d.data) if isinstance(d, ManifestDocument) else _Doc(None, d) for d in batch]


def admit_apply(
    batch: Iterable[ManifestDocument | dict[str, Any]],
    state: StoreState,
    settings: MeshSettings | None = None,
) -> AdmissionResult:
    """Check a batch to apply against ``state``. ``result.ok`` means every object may be committed
    together."""
    checker = _Checker()
    docs = _documents(batch)
    decoded = [d for d in docs if checker.decode(d)]
    result = AdmissionResult(objects=[d.model for d in decoded], findings=checker.findings)
    if not result.ok or not decoded:
        return result
    objects = checker.check_batch(decoded, state)
    if result.ok:
        try:
            compile_mesh(StoreState(objects, state.revision + 1), settings)
        except ValueError as exc:
            checker.add("MESH002", "error", f"the resulting mesh configuration is invalid: {exc}", decoded[0])
    return result


def admit_delete(
    batch: Iterable[ManifestDocument | dict[str, Any]], state: StoreState, *, ignore_not_found: bool = False
) -> AdmissionResult:
    """Check a batch to delete: each document names an object (kind, metadata.name/namespace) in the store."""
    checker = _Checker()
    result = AdmissionResult(findings=checker.findings)
    for doc in _documents(batch):
        data = doc.data
        meta = data.get("metadata") if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("kind"), str)
            or not isinstance(meta, dict)
            or not isinstance(meta.get("name"), str)
        ):
            checker.add("SMI102", "error", "an object to delete needs kind and metadata.name", doc)
            continue
        key = ObjectKey(data["kind"], meta.get("namespace") or "default", meta["name"])
        if key.kind not in (
            "TrafficSplit",
            "TrafficTarget",
            "HTTPRouteGroup",
            "TCPRoute",
            "UDPRoute",
            "IdentityBinding",
        ):
            checker.add(
                "MESH004",
                "info",
                f"skipped {key.kind}: the reference mesh does not manage it",
                doc,
                ("kind",),
            )
            continue
        if state.objects.get(key) is None:
            if not ignore_not_found:
                checker.add("MESH003", "error", f"{key} not found", doc, ("metadata", "name"))
            continue
        result.deletes.append(key)
    return result
