"""One lint run: inputs -> documents -> objects -> schema problems and rule hits -> suppression -> findings.

The flow is a single pass over the inputs, one document at a time: each object is classified, validated
and checked by the rules that need only it and the objects before it, then its data is let go, except what
the *deferred* rules (references that may point forward) read once every object is in. So memory follows
the number of objects, never the size of the text; past ``SPILL_AFTER`` objects (``smi lint`` only) the
index of objects and their findings go to temporary files on disk (``disk_index``, ``stored_findings``), so
memory stops growing at all. Every validator is built once. Only findings that survive selection and
suppression are located, so clean documents are never parsed a second time.
"""

from __future__ import annotations

import marshal
import struct
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import IO, TYPE_CHECKING, Any, BinaryIO, NamedTuple, cast

from smi_conformance.lint.config import LintConfig
from smi_conformance.lint.registry import RULES
from smi_conformance.lint.resources import (
    EMPTY,
    LOOKED_UP_KINDS,
    LintContext,
    Resource,
    dict_at,
    display,
    kept_data,
)
from smi_conformance.lint.rule import Hit, Rule, Severity
from smi_conformance.lint.rules import inputs, schema, versions
from smi_conformance.lint.suggestions import close_smi_group, unknown_kind_or_version
from smi_conformance.lint.suppression import ANNOTATION, AnnotationSuppression, parse_annotation
from smi_conformance.manifests import Document, Inputs, LoadIssue, Location, NodePath
from smi_conformance.models.quick_accept import quick_accept

if TYPE_CHECKING:
    from smi_conformance.lint.sorted_spool import SortedSpool
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
#: Source text (bytes) of the objects the deferred rules check whose whole data stays in memory until they
#: run; past that, the data of the rest is spooled (marshal, a C codec: a few microseconds an object) to a
#: temporary file that stays in memory up to SPOOL_BYTES and then goes to disk, and read back in order when
#: those rules run. A budget of text, not a count of objects, so that a few large objects cannot hold much
#: memory, and the 10,000 small documents of a large repository are not spooled (about 5 MB more memory;
#: spooling them cost about 2% of such a run). Past SPILL_AFTER objects everything goes to the disk index
#: instead. Nothing is parsed twice. Data marshal cannot write (HugeInt) is parsed again instead.
KEEP_DEFERRED_BYTES = 4 * 1024 * 1024
SPOOL_BYTES = 8 * 1024 * 1024
#: Objects indexed in memory for the cross-object rules (about 0.9 KB each with their findings); past that,
#: ``smi lint`` indexes them on disk (``LintContext.spill_after``), so memory stays flat on any input size
#: and inputs of up to this many objects never touch the disk. Not for ``lint_documents``.
SPILL_AFTER = 10_000
#: Distinct kept data (``_Run._shared``) remembered: bounds the memo on inputs whose objects all differ.
KEEP_SHARED = 10_000
_LENGTH = struct.Struct("<I")  #: a spooled object's size in bytes (0: parse it again from the file)
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

    #: A list; on a large input (past SPILL_AFTER objects), a sequence read from disk as it is iterated.
    findings: Sequence[Finding] = field(default_factory=list)
    files: int = 0
    documents: int = 0
    smi_objects: int = 0
    skipped: int = (
        0  #: documents that are not SMI objects (Services, Deployments...), used only as references
    )
    suppressed: int = 0
    rules: list[Rule] = field(default_factory=list)  #: the rules that ran (enabled)

    def count(self, severity: Severity) -> int:
        return self._severities().get(severity, 0)

    def failed(self, fail_on: Severity) -> bool:
        return any(severity >= fail_on for severity in self._severities())

    def _severities(self) -> Mapping[Severity, int]:
        """How many findings of each severity (findings kept on disk count them as they are added: a pass
        over them reads them all again)."""
        counted: Mapping[Severity, int] | None = getattr(self.findings, "severities", None)
        return counted if counted is not None else Counter(f.severity for f in self.findings)


def location_record(location: Location) -> tuple[str, int, int, int | None, int | None]:
    """A location as plain values (``Location(*record)`` makes it again), for the findings kept on disk."""
    return (location.file, location.line, location.column, location.end_line, location.end_column)


class Subject(NamedTuple):
    """The identity of the object a finding is about, once the object itself is let go (large inputs)."""

    seq: int
    kind: str
    name: str | None
    namespace: str

    @property
    def display(self) -> str:
        return display(self.kind, self.namespace, self.name)


@dataclass
class _Pending:
    rule: type[Rule] | Rule
    message: str
    document: Document | None
    path: NodePath = ()
    key: bool = False
    location: Location | None = None
    resource: Resource | Subject | None = None
    file: str | None = None  #: the input it is in, when neither its location nor its document is kept


def lint(
    paths: Sequence[str], config: LintConfig | None = None, *, stdin: BinaryIO | None = None
) -> LintResult:
    """Lint files, directories and ``-`` (stdin). Raises :class:`InputError` for unreadable or empty input."""
    config = config or LintConfig()
    inputs = Inputs(paths, stdin=stdin, max_bytes=config.max_bytes, exclude=config.excluded, stream=True)
    run = _Run(config, release=True)
    for document in inputs:
        run.add(document)
    if inputs.unreadable:
        raise InputError("; ".join(f"{path}: {reason}" for path, reason in inputs.unreadable))
    if not run.result.documents and not inputs.issues:
        raise EmptyInputError(f"no manifests found in {', '.join(paths)} (looked for .yaml, .yml and .json)")
    return run.finish(inputs.issues, len(inputs.sources))


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
    for document in (*context, *documents):
        run.add(document)
    return run.finish(issues, files)


class _Run:
    """One run's state. ``add`` each document in input order, then ``finish``. With ``release``, the data
    of documents is let go once checked (the documents are the run's own: ``lint`` read them)."""

    def __init__(self, config: LintConfig, scope: str | None = None, *, release: bool = False) -> None:
        self.config = config
        self.enabled = config.enabled
        self.release = release
        spill_after = SPILL_AFTER if release else None  # lint_documents: the caller's documents stay anyway
        self.ctx = LintContext(scope, spill_after) if scope else LintContext(spill_after=spill_after)
        self.result = LintResult(rules=[RULES[code] for code in sorted(self.enabled)])
        self._by_kind: dict[tuple[str, str, bool], list[Rule]] = {}  #: see _rules_for
        #: Kinds the linted set holds, once every object is in (``_run_deferred``): see ``Rule.evidence``.
        self._present: frozenset[str] | None = None
        # What is found, by the stage that finds it: the report lists files in the order their first
        # finding appears in these stages (input problems, then objects without apiVersion, unknown kinds,
        # rule and schema findings by object), so it is the same whichever stage runs when.
        self.not_objects: list[_Pending] = []
        self.unknown: list[_Pending] = []
        self.checked: list[tuple[int, _Pending]] = []  #: (the object's position, finding)
        self.deferred: list[Resource] = []  #: objects the deferred rules look at once every object is in
        #: Of those, how many keep their whole data (None: all so far; the rest is spooled), and the text
        #: those hold: see KEEP_DEFERRED_BYTES.
        self._kept_whole: int | None = None
        self._kept_bytes = 0
        self.annotated: list[Resource] = []  #: SMI objects with a suppression annotation, in input order
        # The models (pydantic) are imported when the first SMI object comes, not at start-up.
        self._lookup: Callable[[str, str], KindInfo | None] | None = None
        self._validate: Callable[[Mapping[str, Any], KindInfo], list[Problem]] | None = None
        self._quick = quick_accept()
        self._position = 0
        self.annotation_problems: list[_Pending] = []
        #: Findings of the objects indexed on disk (a large input), in position order, located: on disk too.
        self._pending_spool: SortedSpool | None = None
        self._kept: dict[bytes, Mapping[str, Any]] = {}  #: see _shared
        self._spool: IO[bytes] | None = None  #: data of the deferred objects past the budget, in order

    def add(self, document: Document) -> None:
        """Classify, validate and check one document (deferred rules wait for ``finish``)."""
        context = self.ctx.is_context(document)
        if not context:
            self.result.documents += 1
        resource = self.classify(document, context)
        if resource is None:
            if self.release:
                document.data = document.parent = None
            return
        problems: list[Problem] = []
        if resource.is_checked:
            resource.position = self._position
            self._position += 1
            problems = self.validate(resource)
            if resource.is_smi and ANNOTATION in resource.annotations:
                self.annotated.append(resource)
        deferred = resource.is_checked and bool(self._rules_for(resource, deferred=True))
        # Indexed once its position and schema verdict are known; on disk (a large input), the deferred
        # rules' objects with all their data, read back by _run_deferred.
        spilled = self.ctx.add(resource, whole=deferred)
        if resource.is_checked:
            found = len(self.checked)
            self.check(resource, problems, resource.position, deferred=False)
            if not context:  # located now, while the document's node tree is at hand (not parsed again)
                for _, pending in self.checked[found:]:
                    if pending.rule.code in self.enabled:
                        pending.location = document.locate(pending.path, key=pending.key)
            if spilled:
                self._spill_findings(found)
            if deferred and not spilled:
                self.deferred.append(resource)
                if self.release and self._keeps_whole(document):
                    document.parent = None
                    return  # checked again once every object is in, on the data it keeps
                if self.release:
                    self._spool_data(resource.data)  # others may look it up meanwhile: kept_data below
        if self.release:  # let the data go: keep what the deferred rules may look up (on disk if spilled)
            resource.data = EMPTY if spilled else self._shared(kept_data(resource))
            resource.metadata = EMPTY
            document.data = document.parent = None

    def _shared(self, kept: Mapping[str, Any]) -> Mapping[str, Any]:
        """One copy of each distinct kept data (routes of many objects often name the same matches and
        ports), found by its marshal bytes, which tell apart every value and type (``1``, ``1.0``, ``True``).
        Rules never change the data they read."""
        if kept is EMPTY:
            return kept
        try:
            key = marshal.dumps(cast(Any, kept))
        except ValueError:  # a HugeInt: kept as is
            return kept
        shared = self._kept.get(key)
        if shared is None:
            if len(self._kept) >= KEEP_SHARED:
                return kept
            shared = self._kept[key] = kept
        return shared

    def classify(self, document: Document, context: bool) -> Resource | None:
        """The Kubernetes object of a document, for ``add`` to index; the SMI ones (``is_checked``) are
        checked."""
        data = document.data
        kind = data.get("kind") if isinstance(data, dict) else None
        if not isinstance(kind, str):
            self.result.skipped += 1  # not a Kubernetes object: a values file, a bare list...
            return None
        api_version = data.get("apiVersion")
        if kind in SMI_KINDS and (not isinstance(api_version, str) or "/" not in api_version):
            self.result.smi_objects += 1
            if isinstance(api_version, str):
                message = (
                    f"apiVersion {api_version!r} has no API group: {kind} lives in an *.smi-spec.io group"
                )
                self.not_objects.append(_Pending(inputs.NotAnObject, message, document, ("apiVersion",)))
            else:
                self.not_objects.append(
                    _Pending(inputs.NotAnObject, f"{kind} has no apiVersion", document, ("kind",))
                )
            return None
        if not isinstance(api_version, str):
            self.result.skipped += 1
            return None
        resource = Resource(document, api_version, kind, data)
        if close_smi_group(resource.group) is not None:  # a misspelt SMI group is SMI106, not skipped
            if self._lookup is None:  # the models (pydantic) load only when there is an SMI object
                from smi_conformance.models import lookup

                self._lookup = lookup
            resource.info = self._lookup(api_version, kind)
            resource.is_checked = True
            if not context:
                self.result.smi_objects += 1
        else:
            self.result.skipped += 1
            if self.release and kind not in LOOKED_UP_KINDS:
                self.ctx.add_kind(resource)  # nothing looks it up by name: its namespace is enough
                return None
        return resource

    def validate(self, resource: Resource) -> list[Problem]:
        """Schema problems of an SMI object the models know; unknown kinds/versions are reported here."""
        info = resource.info
        if info is None:
            if resource.api_version not in versions.DRAFT_API_VERSIONS:
                from smi_conformance.models import kinds

                message, path = unknown_kind_or_version(
                    resource.api_version, resource.kind, kinds(), versions.DRAFT_API_VERSIONS
                )
                rule = schema.UnknownKindOrVersion
                self.unknown.append(_Pending(rule, message, resource.document, path, resource=resource))
            return []
        quick = self._quick
        if quick is not None and quick.accepts(resource.data, info, resource.document.json_typed):
            return []  # valid (pydantic is imported only for the others)
        if self._validate is None:
            from smi_conformance.models import validate

            self._validate = validate
        problems = self._validate(resource.data, info)
        if problems:
            self.ctx.mark_schema_error(resource)
        return problems

    def check(self, resource: Resource, problems: list[Problem], position: int, *, deferred: bool) -> None:
        """Run the enabled rules (the deferred ones, or the others) on one object, and merge their hits with
        its schema problems."""
        document = resource.document
        hits: list[tuple[Rule, Hit]] = []
        if resource.info is not None or resource.api_version in versions.DRAFT_API_VERSIONS:
            ctx = self.ctx
            for rule in self._rules_for(resource, deferred):
                for hit in rule.check(resource, ctx):
                    hits.append((rule, hit))
        replaced = {hit.path for rule, hit in hits if rule.replaces_schema} if problems else set()
        checked = self.checked
        for problem in problems:
            if tuple(problem.path) in replaced:
                continue
            rule_cls = schema.BY_PROBLEM_KIND.get(problem.kind, schema.InvalidValue)
            checked.append(
                (position, _Pending(rule_cls, problem.message, document, tuple(problem.path),
                                    key=problem.kind == "unknown-field", resource=resource))
            )  # fmt: skip
        for rule, hit in hits:
            checked.append(
                (position, _Pending(rule, hit.message, document, hit.path, hit.key, resource=resource))
            )

    def _rules_for(self, resource: Resource, deferred: bool) -> list[Rule]:
        """The rules to run on an object: the deferred ones, or the others. Chosen once per kind and
        apiVersion (``Rule.applies``): most objects share a few. Once every object is in, deferred rules
        without their evidence in the linted set are left out."""
        present = self._present
        key = (resource.kind, resource.api_version, deferred)
        rules = self._by_kind.get(key)
        if rules is None:
            # Rules that replace schema findings run even when not selected: ignoring negative-weight must not
            # bring back the generic schema error it stands for. Their hits are dropped in finish().
            rules = self._by_kind[key] = [
                rule
                for code, rule in RULES.items()
                if resource.kind in rule.kinds
                and rule.deferred == deferred
                and (code in self.enabled or rule.replaces_schema)
                and rule.applies(resource)
                and (present is None or not rule.evidence or not rule.evidence.isdisjoint(present))
            ]
        return rules

    def _keeps_whole(self, document: Document) -> bool:
        """Whether the deferred object just added keeps its whole data in memory: until the text of those
        that do passes KEEP_DEFERRED_BYTES (a List's member counts its share of the List's text); every
        later one is spooled."""
        if self._kept_whole is None:
            size = document.end - document.start
            if document.parent is not None:  # a List's member (``manifests._members``)
                size //= len(document.parent["items"])
            self._kept_bytes += size
            if self._kept_bytes <= KEEP_DEFERRED_BYTES:
                return True
            self._kept_whole = len(self.deferred) - 1
        return False

    def _spool_data(self, data: Any) -> None:
        """Keep the data of a deferred object past the in-memory budget until ``_run_deferred`` reads it."""
        if self._spool is None:
            import tempfile  # here: only runs with many deferred objects spool

            self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115  # closed by _run_deferred
        try:
            blob = marshal.dumps(data)
        except ValueError:  # a HugeInt: parsed again from the file instead
            blob = b""
        self._spool.write(_LENGTH.pack(len(blob)) + blob)

    def _run_deferred(self) -> None:
        """The deferred rules, now that every object is in: on each object's data, read back from the spool
        (or parsed again from the file) if it was let go (past KEEP_DEFERRED_BYTES); then on the objects
        indexed on disk (a large input), read back from there."""
        self._present = self.ctx.kinds()
        self._by_kind = {key: rules for key, rules in self._by_kind.items() if not key[2]}  # chosen again
        spool = self._spool
        if spool is not None:
            spool.seek(0)
        for index, resource in enumerate(self.deferred):
            released = self._kept_whole is not None and index >= self._kept_whole
            if released:
                assert spool is not None
                slim = resource.data
                (size,) = _LENGTH.unpack(spool.read(_LENGTH.size))
                resource.data = marshal.loads(spool.read(size)) if size else resource.document.reload()
                resource.metadata = dict_at(resource.data, "metadata") or EMPTY
            self.check(resource, [], resource.position, deferred=True)
            if released:
                resource.data, resource.metadata = slim, EMPTY
        if spool is not None:
            spool.close()
            self._spool = None
        for resource in self.ctx.whole_objects():
            assert self._lookup is not None  # an SMI object was read
            resource.info = self._lookup(resource.api_version, resource.kind)
            found = len(self.checked)
            self.check(resource, [], resource.position, deferred=True)
            self._spill_findings(found)
            resource.data = resource.metadata = EMPTY  # its findings keep only its identity

    def finish(self, issues: Sequence[LoadIssue], files: int) -> LintResult:
        """Run the deferred rules; apply annotations and configured suppressions; locate and sort the rest."""
        self.result.files = files
        self._run_deferred()
        self.checked.sort(key=lambda item: item[0])  # stable: each object's findings stay in rule order
        ordered = [_Pending(_ISSUE_RULES[i.kind], i.message, None, location=i.location) for i in issues]
        annotated = self.annotated  # told apart by seq: the deferred rules' objects may be read back
        suppressions = {r.seq: self._annotation(r) for r in annotated}  # its problems: annotation_problems
        pending = chain(
            ordered, self.not_objects, self.unknown, (p for _, p in self.checked), self._spilled_findings(),
            self.annotation_problems,
        )  # fmt: skip
        kept = self._unsuppressed(pending, annotated, suppressions)
        findings = (self._finding(p) for p in kept if p.rule.code in self.enabled)
        order: dict[str, int] = {}  #: files in the order their first finding comes
        if self._pending_spool is None:
            listed = list(findings)
            for finding in listed:
                order.setdefault(finding.location.file, len(order))
            listed.sort(key=lambda f: (order[f.location.file], f.location.line, f.location.column, f.code))
            self.result.findings = listed
        else:  # a large input: sorted on disk, read back as the report is written
            from smi_conformance.lint.stored_findings import StoredFindings

            stored = StoredFindings()
            for finding in findings:
                stored.add(order.setdefault(finding.location.file, len(order)), finding)
            self._pending_spool.close()
            self.result.findings = stored
        self.ctx.close()
        return self.result

    def _unsuppressed(
        self,
        pending: Iterable[_Pending],
        annotated: list[Resource],
        suppressions: dict[int, list[AnnotationSuppression]],
    ) -> Iterator[_Pending]:
        """The findings neither annotations nor the configuration suppress, in order; then the annotations
        that suppressed nothing."""
        used: dict[int, set[str]] = {r.seq: set() for r in annotated}
        for finding in pending:
            code = finding.rule.code
            resource = finding.resource
            if finding.document is not None and self.ctx.is_context(finding.document):
                continue  # judged with, not reported on
            if resource is not None and any(code in s.codes for s in suppressions.get(resource.seq, ())):
                used[resource.seq].add(code)
                self.result.suppressed += 1
            elif self._config_suppressed(code, finding):
                self.result.suppressed += 1
            else:
                yield finding
        for resource in annotated:
            if self.ctx.is_context(resource.document):
                continue
            for suppression in suppressions[resource.seq]:
                idle = sorted(
                    c for c in suppression.codes if c in self.enabled and c not in used[resource.seq]
                )
                if idle and suppression.explicit:  # a prefix ("SMI7") need not match every code it covers
                    yield _Pending(
                        inputs.UnusedSuppression,
                        f"suppression of {', '.join(idle)} matched no finding on {resource.display}",
                        resource.document,
                        ("metadata", "annotations", ANNOTATION),
                    )

    def _spill_findings(self, found: int) -> None:
        """Move the findings of an object indexed on disk (``checked[found:]``) to disk, located: what
        suppression and the report read of them, and the object's identity."""
        if len(self.checked) == found:
            return
        if self._pending_spool is None:
            from smi_conformance.lint.sorted_spool import SortedSpool

            self._pending_spool = SortedSpool(keys=1)
        for position, pending in self.checked[found:]:
            resource = pending.resource
            assert pending.document is not None and resource is not None
            location = pending.location
            if location is None and pending.rule.code in self.enabled:
                location = pending.document.locate(pending.path, key=pending.key)
            where = None if location is None else location_record(location)
            record = (pending.rule.code, pending.message, where, pending.document.source.name,
                      resource.seq, resource.kind, resource.name, resource.namespace)  # fmt: skip
            self._pending_spool.add((position,), marshal.dumps(record))
        del self.checked[found:]

    def _spilled_findings(self) -> Iterator[_Pending]:
        """The findings ``_spill_findings`` wrote, read back in position order."""
        if self._pending_spool is None:
            return
        for record in self._pending_spool:
            code, message, where, file, *subject = marshal.loads(record)
            location = None if where is None else Location(*where)
            yield _Pending(
                RULES[code], message, None, location=location, resource=Subject(*subject), file=file
            )

    def _annotation(self, resource: Resource) -> list[AnnotationSuppression]:
        """The valid suppressions of one object; malformed ones become findings (never suppressible here)."""
        valid, problems = parse_annotation(resource.annotations.get(ANNOTATION))
        path = ("metadata", "annotations", ANNOTATION)
        for message in problems:
            self.annotation_problems.append(
                _Pending(inputs.InvalidSuppression, message, resource.document, path)
            )
        return valid

    def _config_suppressed(self, code: str, pending: _Pending) -> bool:
        if not self.config.suppress:
            return False
        file = (
            pending.location.file
            if pending.location is not None
            else (pending.document.source.name if pending.document is not None else pending.file)
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
