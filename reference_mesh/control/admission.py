"""Admission: which documents may enter the store. All or nothing: a batch with any error changes nothing.

A batch is checked whole, by ``smi lint``'s engine, against the state it would produce: the batch's documents
are linted together with the store's objects (those the batch does not replace), so references, duplicate
split roots and unknown match names are judged across both. Findings keep the linter's rule codes, messages
(``smi lint --explain CODE``) and ``file:line:column``; only those on the batch's own documents are reported.
Then the resulting state is compiled once (``MESH002`` if any proxy snapshot would be invalid).

What is an error here is narrower than in ``smi lint``: the control plane refuses what it cannot enforce
faithfully, and accepts (as a warning) what is legal but suspicious, because Kubernetes accepts it too and
the mesh has a defined behaviour for it (an empty TrafficTarget allows nothing, a missing backend is a 503):

=============================== ====== ==========================================================
finding                          here   why
=============================== ====== ==========================================================
SMI0xx input, SMI1xx schema,     error  not a readable object of its kind and version
SMI201/202 weights
SMI501-503 regexes, match names  error  the proxy could not compile it, or a match is ambiguous
SMI204 duplicate backend         error  the weight it should get is ambiguous
SMI206 duplicate split root      error  which split applies would be ambiguous
SMI302 unknown match name        error  a typo that would silently allow less than intended
SMI305 duplicate object          error  two documents of one batch define the same object
SMI404 cross-namespace           error  a TrafficTarget would open workloads of another namespace (the
destination                             compiler ignores one that reaches the store some other way)
MESH001 not storable             error  TrafficMetrics are read from the metrics API, never applied
MESH002 does not compile         error  the resulting state yields an invalid proxy snapshot
MESH003 not found (delete)       error  deleting an object that does not exist
SMI102 not an object             error  a document without kind or metadata.name (a scalar, ...)
any other lint finding           warn   legal; its behaviour in the mesh is defined
MESH004 skipped                  info   a kind the reference mesh does not manage (Deployment, ...)
=============================== ====== ==========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from reference_mesh.control.compiler import MeshSettings, compile_mesh
from reference_mesh.control.resources import ObjectKey
from reference_mesh.control.store import StoredObject, StoreState
from smi_conformance import models
from smi_conformance.lint import lint_documents
from smi_conformance.lint.registry import RULES
from smi_conformance.lint.reporters.text import finding_line
from smi_conformance.lint.rule import Severity as LintSeverity
from smi_conformance.manifests import Document, LoadResult, Location, load_text

__all__ = ["AdmissionResult", "Finding", "admit_apply", "admit_delete", "documents_from_dicts"]

Severity = Literal["error", "warning", "info"]
#: Lint codes that make the control plane refuse a batch (besides every SMI0xx and SMI1xx).
REJECT = frozenset(
    {"SMI201", "SMI202", "SMI204", "SMI206", "SMI302", "SMI305", "SMI404", "SMI501", "SMI502", "SMI503"}
)
SMI_GROUPS = ("split.smi-spec.io", "access.smi-spec.io", "specs.smi-spec.io", "metrics.smi-spec.io")
MANAGED_KINDS = ("TrafficSplit", "TrafficTarget", "HTTPRouteGroup", "TCPRoute", "UDPRoute", "IdentityBinding")
#: The source name of the store's objects as documents (judged with a batch, never reported on).
STORE_SOURCE = "<mesh>"
#: How the linter's reference findings name the set a batch is judged with ("Service shop/web is not in the
#: mesh"): the store's objects and the batch's.
LINT_SCOPE = "the mesh"
#: Readable names of the control plane's own findings, like the linter's rules (``MESH003`` / ``not-found``).
MESH_NAMES = {
    "MESH001": "not-storable",
    "MESH002": "does-not-compile",
    "MESH003": "not-found",
    "MESH004": "not-managed",
    "MESH005": "no-objects",
}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    location: Location | None = None
    object: str | None = None

    @property
    def name(self) -> str:
        """The rule's readable name: the linter's for SMI codes, :data:`MESH_NAMES` for the mesh's own."""
        rule = RULES.get(self.code)
        return rule.name if rule is not None else MESH_NAMES.get(self.code, "")

    def __str__(self) -> str:
        """The finding as ``smi lint`` prints one (its text reporter's line)."""
        return finding_line(
            self.code, self.name, LintSeverity.parse(self.severity), self.message, self.location, self.object
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
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


def documents_from_dicts(docs: Sequence[dict[str, Any]], name: str = "<python>") -> LoadResult:
    """Plain documents (built in Python) as located documents, so they go through the same admission."""
    return load_text(yaml.safe_dump_all(list(docs), sort_keys=False), name)


def _key_of(data: Any) -> ObjectKey | None:
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        return None
    meta = data.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        return None
    namespace = meta.get("namespace")
    return ObjectKey(data["kind"], namespace if isinstance(namespace, str) else "default", meta["name"])


def _context(state: StoreState, replaced: set[ObjectKey]) -> list[Document]:
    """The store's objects as documents, for the linter's cross-object rules."""
    docs: list[dict[str, Any]] = []
    for key, stored in sorted(state.objects.items()):
        if key in replaced or key.kind == "Pod":
            continue
        if hasattr(stored.obj, "VERSIONS"):  # an SMI model
            docs.append(models.dump(stored.obj))
        else:
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": key.kind,
                    "metadata": {"name": key.name, "namespace": key.namespace},
                }
            )
    return load_text(yaml.safe_dump_all(docs, sort_keys=False), STORE_SOURCE).documents if docs else []


def _severity(code: str, lint_severity: str) -> Severity:
    if code.startswith(("SMI0", "SMI1")) or code in REJECT:
        return "error" if lint_severity == "error" else "warning" if lint_severity == "warning" else "info"
    return "info" if lint_severity == "info" else "warning"


def _not_an_object(data: Any) -> bool:
    """Not a Kubernetes object (no kind or metadata.name). SMI documents are left to the linter, whose
    schema findings say which field is missing."""
    api_version = data.get("apiVersion") if isinstance(data, dict) else None
    smi = isinstance(api_version, str) and api_version.rpartition("/")[0] in SMI_GROUPS
    return _key_of(data) is None and not smi


def _decode(doc: Document, findings: list[Finding]) -> Any | None:
    """The typed model of a lint-clean document the mesh stores; None (with a finding if useful) otherwise."""
    data = doc.data
    kind, api_version = data.get("kind"), data.get("apiVersion")
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
    if group not in SMI_GROUPS:
        findings.append(
            Finding(
                "MESH004",
                "info",
                f"skipped {kind}: the reference mesh does not manage it",
                doc.locate(("kind",)),
            )
        )
        return None
    info = models.lookup(api_version, kind)
    if info is None:
        return None  # the linter reported it (SMI106)
    if info.api == "aggregated":
        findings.append(
            Finding(
                "MESH001",
                "error",
                f"{kind} is served by the Traffic Metrics API and cannot be applied",
                doc.locate(("kind",)),
            )
        )
        return None
    try:
        return models.load(data)
    except models.SMIValidationError:
        return None  # the linter reported it (SMI1xx)


def admit_apply(
    loaded: LoadResult, state: StoreState, settings: MeshSettings | None = None
) -> AdmissionResult:
    """Check a batch to apply against ``state``. ``result.ok`` means every object may be committed
    together."""
    batch = [d for d in loaded.documents if isinstance(d.data, dict)]
    replaced = {k for k in (_key_of(d.data) for d in batch) if k is not None}
    result = AdmissionResult()
    lint = lint_documents(batch, loaded.issues, context=_context(state, replaced), scope=LINT_SCOPE)
    result.findings += [
        Finding(f.code, _severity(f.code, f.severity.label), f.message, f.location, f.object)
        for f in lint.findings
    ]
    if not loaded.documents and not loaded.issues:
        result.findings.append(Finding("MESH005", "error", "no objects in the input"))
    for doc in loaded.documents:
        if _not_an_object(doc.data):
            result.findings.append(
                Finding(
                    "SMI102",
                    "error",
                    "not an object: a document to apply needs apiVersion, kind and metadata.name",
                    doc.locate(),
                )
            )
            continue
        obj = _decode(doc, result.findings)
        if obj is not None:
            result.objects.append(obj)
    if result.ok and result.objects:
        objects = dict(state.objects)
        for obj in result.objects:
            key = ObjectKey(obj.kind, obj.metadata.namespace or "default", obj.metadata.name)
            old = objects.get(key)
            objects[key] = StoredObject(key, obj, 0, old.created if old else state.revision + 1)
        try:
            compile_mesh(StoreState(objects, state.revision + 1), settings)
        except ValueError as exc:
            result.findings.append(
                Finding(
                    "MESH002",
                    "error",
                    f"the resulting mesh configuration is invalid: {exc}",
                    batch[0].locate() if batch else None,
                )
            )
    return result


def admit_delete(loaded: LoadResult, state: StoreState, *, ignore_not_found: bool = False) -> AdmissionResult:
    """Check a batch to delete: each document names an object (kind, metadata.name/namespace) in the store."""
    result = AdmissionResult()
    result.findings += [
        Finding(_ISSUES.get(i.kind, "SMI001"), "error", i.message, i.location) for i in loaded.issues
    ]
    for doc in loaded.documents:
        key = _key_of(doc.data)
        if key is None:
            result.findings.append(
                Finding("SMI102", "error", "an object to delete needs kind and metadata.name", doc.locate())
            )
        elif key.kind not in MANAGED_KINDS:
            result.findings.append(
                Finding(
                    "MESH004",
                    "info",
                    f"skipped {key.kind}: the reference mesh does not manage it",
                    doc.locate(("kind",)),
                )
            )
        elif state.objects.get(key) is None:
            if not ignore_not_found:
                result.findings.append(
                    Finding("MESH003", "error", f"{key} not found", doc.locate(("metadata", "name")))
                )
        else:
            result.deletes.append(key)
    return result


_ISSUES: dict[str, str] = {
    "syntax": "SMI001",
    "duplicate-key": "SMI002",
    "encoding": "SMI003",
    "binary": "SMI004",
    "too-large": "SMI005",
    "too-complex": "SMI006",
    "unsupported-tag": "SMI007",
}
