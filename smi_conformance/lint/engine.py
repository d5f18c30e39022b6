"""One lint run: inputs -> documents -> objects -> schema problems and rule hits -> suppression -> findings.

The flow is a single pass over the inputs; every validator is built once (the models compile their
validators at import). Only findings that survive selection and suppression are located, so clean
documents are never parsed a second time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from smi_conformance.lint.config import LintConfig
from smi_conformance.lint.registry import RULES
from smi_conformance.lint.resources import LintContext, Resource
from smi_conformance.lint.rule import Hit, Rule, Severity
from smi_conformance.lint.rules import inputs, schema, versions
from smi_conformance.lint.suggestions import close_smi_group, unknown_kind_or_version
from smi_conformance.lint.suppression import ANNOTATION, AnnotationSuppression, parse_annotation
from smi_conformance.manifests import Document, LoadIssue, Location, NodePath, load_paths

if TYPE_CHECKING:
    from smi_conformance.models import KindInfo, Problem

__all__ = ["EmptyInputError", "Finding", "InputError", "LintResult", "lint", "lint_documents"]

_ISSUE_RULES: dict[str, type[Rule]] = {
    "syntax": inputs.SyntaxError_,
    "duplicate-key": inputs.DuplicateKey,
    "encoding": inputs.Encoding,
    "binary": inputs.BinaryFile,
    "too-large": inputs.TooLarge,
    "too-complex": inputs.TooComplex,
    "unsupported-tag": inputs.UnsupportedTag,
}
SMI_KINDS = frozenset(
    {"TrafficSplit", "TrafficTarget", "IdentityBinding", "HTTPRouteGroup", "TCPRoute", "UDPRoute",
     "TrafficMetrics", "TrafficMetricsList"}
)  # fmt: skip


class InputError(Exception):
    """Inputs that cannot be read at all (missing paths, permission denied): a usage error, exit code 2."""


class EmptyInputError(InputError):
    """The inputs hold no documents at all: an error, never a silent pass."""


@dataclass(frozen=True)
class Finding:
    """One reported problem."""

    code: str
    name: str
    severity: Severity
    message: str
    location: Location
    object: str | None = None  #: ``Kind namespace/name`` of the object, when the finding is about one


@dataclass
class LintResult:
    """Findings in input order, plus what was read."""

    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    documents: int = 0
    smi_objects: int = 0
    skipped: int = (
        0  #: documents that are not SMI objects (Services, Deployments...), used only as references
    )
    suppressed: int = 0
    rules: list[Rule] = field(default_factory=list)  #: the rules that ran (enabled)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def failed(self, fail_on: Severity) -> bool:
        return any(f.severity >= fail_on for f in self.findings)


@dataclass
class _Pending:
    rule: type[Rule] | Rule
    message: str
    document: Document | None
    path: NodePath = ()
    key: bool = False
    location: Location | None = None
    resource: Resource | None = None


def lint(
    paths: Sequence[str], config: LintConfig | None = None, *, stdin: BinaryIO | None = None
) -> LintResult:
    """Lint files, directories and ``-`` (stdin). Raises :class:`InputError` for unreadable or empty input."""
    config = config or LintConfig()
    loaded = load_paths(paths, stdin=stdin, max_bytes=config.max_bytes, exclude=config.excluded)
    if loaded.unreadable:
        raise InputError("; ".join(f"{path}: {reason}" for path, reason in loaded.unreadable))
    if not loaded.documents and not loaded.issues:
        raise EmptyInputError(f"no manifests found in {', '.join(paths)} (looked for .yaml, .yml and .json)")
    return _Run(config).run(loaded.documents, loaded.issues, len(loaded.sources))


def lint_documents(
    documents: Sequence[Document],
    issues: Sequence[LoadIssue] = (),
    config: LintConfig | None = None,
    *,
    context: Sequence[Document] = (),
    scope: str | None = None,
) -> LintResult:
    """Lint documents already loaded (``smi_conformance.manifests.load_text``): what a server that receives
    manifests (the reference mesh's control plane) runs on them.

    ``context``: documents they are judged with but that are not reported on (the objects a mesh holds
    already): they resolve references and count as duplicates. ``scope`` is what messages call the whole
    ("Service shop/web is not in the mesh", "already defined in the mesh"); by default "the linted files".
    """
    files = len({d.source.name for d in documents})
    run = _Run(config or LintConfig(), scope)
    run.ctx.add_context(context)
    return run.run([*context, *documents], list(issues), files)


class _Run:
    def __init__(self, config: LintConfig, scope: str | None = None) -> None:
        self.config = config
        self.enabled = config.enabled
        self.pending: list[_Pending] = []
        self.ctx = LintContext(scope) if scope else LintContext()
        self.result = LintResult(rules=[RULES[code] for code in sorted(self.enabled)])
        self._by_kind: dict[str, list[Rule]] = {}

    def run(self, documents: list[Document], issues: list[LoadIssue], files: int) -> LintResult:
        self.result.files = files
        self.result.documents = sum(1 for d in documents if not self.ctx.is_context(d))
        for issue in issues:
            self.pending.append(
                _Pending(_ISSUE_RULES[issue.kind], issue.message, None, location=issue.location)
            )
        smi = self.classify(documents)
        problems = self.validate(smi)
        for resource in smi:
            self.check(resource, problems.get(id(resource), []))
        self.result.findings = self.finish()
        return self.result

    def classify(self, documents: Iterable[Document]) -> list[Resource]:
        """Index every Kubernetes object; keep the SMI ones for checking."""
        smi: list[Resource] = []
        lookup: Callable[[str, str], KindInfo | None] | None = None
        for document in documents:
            data = document.data
            kind = data.get("kind") if isinstance(data, dict) else None
            if not isinstance(kind, str):
                self.result.skipped += 1  # not a Kubernetes object: a values file, a bare list...
                continue
            api_version = data.get("apiVersion")
            if kind in SMI_KINDS and (not isinstance(api_version, str) or "/" not in api_version):
                self.result.smi_objects += 1
                if isinstance(api_version, str):
                    message = (
                        f"apiVersion {api_version!r} has no API group: {kind} lives in an *.smi-spec.io group"
                    )
                    self.pending.append(_Pending(inputs.NotAnObject, message, document, ("apiVersion",)))
                else:
                    self.pending.append(
                        _Pending(inputs.NotAnObject, f"{kind} has no apiVersion", document, ("kind",))
                    )
                continue
            if not isinstance(api_version, str):
                self.result.skipped += 1
                continue
            resource = Resource(document, api_version, kind, data)
            if close_smi_group(resource.group) is not None:  # a misspelt SMI group is SMI106, not skipped
                if lookup is None:  # the models (pydantic) load only when there is an SMI object
                    from smi_conformance.models import lookup as models_lookup

                    lookup = models_lookup
                resource.info = lookup(api_version, kind)
                smi.append(resource)
            else:
                self.result.skipped += 1
            self.ctx.add(resource)
        self.result.smi_objects += sum(1 for r in smi if not self.ctx.is_context(r.document))
        return smi

    def validate(self, smi: list[Resource]) -> dict[int, list[Problem]]:
        """Schema problems of every SMI object the models know; unknown kinds/versions are reported here."""
        found: dict[int, list[Problem]] = {}
        if not smi:
            return found
        from smi_conformance.models import kinds, validate

        known = kinds()
        for resource in smi:
            if resource.info is None:
                if resource.api_version not in versions.DRAFT_API_VERSIONS:
                    message, path = unknown_kind_or_version(
                        resource.api_version, resource.kind, known, versions.DRAFT_API_VERSIONS
                    )
                    rule = schema.UnknownKindOrVersion
                    self.pending.append(_Pending(rule, message, resource.document, path, resource=resource))
                continue
            try:
                problems = validate(resource.data)
            except LookupError as exc:  # pragma: no cover - lookup() said it knows the kind
                self.pending.append(
                    _Pending(schema.UnknownKindOrVersion, str(exc), resource.document, ("kind",))
                )
                continue
            if problems:
                found[id(resource)] = problems
                self.ctx.mark_schema_error(resource)
        return found

    def check(self, resource: Resource, problems: list[Problem]) -> None:
        """Run the enabled rules on one object and merge their hits with its schema problems."""
        document = resource.document
        hits: list[tuple[Rule, Hit]] = []
        if resource.info is not None or resource.api_version in versions.DRAFT_API_VERSIONS:
            ctx = self.ctx
            for rule in self._rules_for(resource.kind):
                for hit in rule.check(resource, ctx):
                    hits.append((rule, hit))
        replaced = {hit.path for rule, hit in hits if rule.replaces_schema} if problems else set()
        for problem in problems:
            if tuple(problem.path) in replaced:
                continue
            rule_cls = schema.BY_PROBLEM_KIND.get(problem.kind, schema.InvalidValue)
            self.pending.append(
                _Pending(rule_cls, problem.message, document, tuple(problem.path),
                         key=problem.kind == "unknown-field", resource=resource)
            )  # fmt: skip
        for rule, hit in hits:
            self.pending.append(_Pending(rule, hit.message, document, hit.path, hit.key, resource=resource))

    def _rules_for(self, kind: str) -> list[Rule]:
        rules = self._by_kind.get(kind)
        if rules is None:
            # Rules that replace schema findings run even when not selected: ignoring negative-weight must not
            # bring back the generic schema error it stands for. Their hits are dropped in finish().
            rules = self._by_kind[kind] = [
                rule
                for code, rule in RULES.items()
                if kind in rule.kinds and (code in self.enabled or rule.replaces_schema)
            ]
        return rules

    def finish(self) -> list[Finding]:
        """Apply annotations and configured suppressions, locate what is left, sort."""
        annotated = [r for r in self.ctx.resources if r.is_smi and ANNOTATION in r.annotations]
        suppressions = {id(r): self._annotation(r) for r in annotated}
        used: dict[int, set[str]] = {id(r): set() for r in annotated}
        kept: list[_Pending] = []
        for pending in self.pending:
            code = pending.rule.code
            resource = pending.resource
            if pending.document is not None and self.ctx.is_context(pending.document):
                continue  # judged with, not reported on
            if resource is not None and any(code in s.codes for s in suppressions.get(id(resource), ())):
                used[id(resource)].add(code)
                self.result.suppressed += 1
            elif self._config_suppressed(code, pending):
                self.result.suppressed += 1
            else:
                kept.append(pending)
        for resource in annotated:
            if self.ctx.is_context(resource.document):
                continue
            for suppression in suppressions[id(resource)]:
                idle = sorted(
                    c for c in suppression.codes if c in self.enabled and c not in used[id(resource)]
                )
                if idle and suppression.explicit:  # a prefix ("SMI7") need not match every code it covers
                    kept.append(
                        _Pending(
                            inputs.UnusedSuppression,
                            f"suppression of {', '.join(idle)} matched no finding on {resource.display}",
                            resource.document,
                            ("metadata", "annotations", ANNOTATION),
                        )
                    )
        findings = [self._finding(p) for p in kept if p.rule.code in self.enabled]
        order: dict[str, int] = {}
        for finding in findings:
            order.setdefault(finding.location.file, len(order))
        findings.sort(key=lambda f: (order[f.location.file], f.location.line, f.location.column, f.code))
        return findings

    def _annotation(self, resource: Resource) -> list[AnnotationSuppression]:
        """The valid suppressions of one object; malformed ones become findings (never suppressible here)."""
        valid, problems = parse_annotation(resource.annotations.get(ANNOTATION))
        path = ("metadata", "annotations", ANNOTATION)
        for message in problems:
            self.pending.append(_Pending(inputs.InvalidSuppression, message, resource.document, path))
        return valid

    def _config_suppressed(self, code: str, pending: _Pending) -> bool:
        if not self.config.suppress:
            return False
        file = (
            pending.location.file
            if pending.location is not None
            else (pending.document.source.name if pending.document is not None else None)
        )
        rel = self.config.relative(file) if file is not None else None
        resource = pending.resource
        kind = resource.kind if resource is not None else None
        name = resource.name if resource is not None else None
        ns = resource.namespace if resource is not None else None
        return any(s.matches(code, rel, kind, name, ns) for s in self.config.suppress)

    def _finding(self, pending: _Pending) -> Finding:
        rule = RULES[pending.rule.code]
        location = pending.location
        if location is None:
            assert pending.document is not None
            location = pending.document.locate(pending.path, key=pending.key)
        return Finding(
            rule.code,
            rule.name,
            self.config.severity_of(rule.code),
            pending.message,
            location,
            pending.resource.display if pending.resource is not None else None,
        )
