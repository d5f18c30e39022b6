"""The linted set as rules see it: objects with their identity, and an index for cross-resource checks.

Rules read the raw document (a plain dict that may have any shape: schema errors are reported separately,
so rules must never assume types). The accessors here return ``None`` or nothing rather than raising.
Namespaces: an object without ``metadata.namespace`` is taken to live in ``default`` (what ``kubectl apply``
does without ``-n``); references between objects resolve within one namespace unless they name another.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from smi_conformance.manifests import Document, NodePath
from smi_conformance.service_names import split_root

if TYPE_CHECKING:
    from smi_conformance.models import KindInfo

__all__ = [
    "SMI_GROUPS",
    "LintContext",
    "Resource",
    "dict_at",
    "dicts",
    "list_at",
    "str_at",
    "version_key",
]

SMI_GROUPS = frozenset(
    {"split.smi-spec.io", "access.smi-spec.io", "specs.smi-spec.io", "metrics.smi-spec.io"}
)
DEFAULT_NAMESPACE = "default"


class Resource:
    """One Kubernetes object of the linted set (SMI or not). Identity fields are computed once."""

    __slots__ = (
        "_version_key",
        "annotations",
        "api_version",
        "data",
        "document",
        "group",
        "info",
        "kind",
        "metadata",
        "name",
        "namespace",
        "version",
    )  # fmt: skip

    def __init__(self, document: Document, api_version: str, kind: str, data: Mapping[str, Any]) -> None:
        self.document = document
        self.api_version = api_version
        self.kind = kind
        self.data = data
        self.info: KindInfo | None = None  #: set for SMI kinds the models know
        self.group, _, self.version = api_version.rpartition("/")
        self._version_key = version_key(self.version)
        self.metadata: Mapping[str, Any] = dict_at(data, "metadata") or {}
        self.name: str | None = str_at(self.metadata, "name")
        self.namespace: str = str_at(self.metadata, "namespace") or DEFAULT_NAMESPACE
        self.annotations: Mapping[str, Any] = dict_at(self.metadata, "annotations") or {}

    @property
    def is_smi(self) -> bool:
        return self.group in SMI_GROUPS

    @property
    def display(self) -> str:
        """``Kind namespace/name`` for messages and reports."""
        return f"{self.kind} {self.namespace}/{self.name or '<unnamed>'}"

    def version_at_least(self, version: str) -> bool:
        """Compare ``v1alphaN`` versions of the same group (``v1alpha10`` > ``v1alpha9``)."""
        return self._version_key >= version_key(version)


@functools.lru_cache(maxsize=256)
def version_key(version: str) -> tuple[int, int, int]:
    """v1 > v1beta2 > v1beta1 > v1alpha2 > v1alpha1 (Kubernetes ordering); unknown shapes sort first."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (0, 0, 0)
    stage = {"alpha": 1, "beta": 2, None: 3}[match.group(2)]
    return (int(match.group(1)), stage, int(match.group(3) or 0))


@dataclass
class LintContext:
    """Every object of the linted set, indexed for the cross-resource rules."""

    #: What the linted set is, as messages name it: "X is not in the linted files" from ``smi lint``; the
    #: reference mesh's admission lints a batch together with the mesh's objects, so it says "the mesh".
    scope: str = "the linted files"
    resources: list[Resource] = field(default_factory=list)
    _by_key: dict[tuple[str, str, str], list[Resource]] = field(default_factory=lambda: defaultdict(list))
    _kinds_in: set[tuple[str, str]] = field(default_factory=set)
    _split_roots: dict[tuple[str, str], list[Resource]] = field(default_factory=lambda: defaultdict(list))
    _schema_errors: set[int] = field(default_factory=set)
    _context: set[int] = field(default_factory=set)  #: ids of documents judged with, not reported on

    def add_context(self, documents: Iterable[Document]) -> None:
        """Mark documents as context (``lint_documents(context=...)``): found by rules, never reported on."""
        self._context.update(id(d) for d in documents)

    def is_context(self, document: Document) -> bool:
        return id(document) in self._context

    def at(self, resource: Resource, path: NodePath) -> str:
        """Where another object is, for a message: ``at file:line:col``, or ``in the mesh`` for context."""
        if self.is_context(resource.document):
            return f"in {self.scope}"
        return f"at {resource.document.locate(path)}"

    def add(self, resource: Resource) -> None:
        self.resources.append(resource)
        if resource.name is not None:
            self._by_key[(resource.kind, resource.namespace, resource.name)].append(resource)
        self._kinds_in.add((resource.kind, resource.namespace))
        if resource.kind == "TrafficSplit" and resource.is_smi:
            root = str_at(dict_at(resource.data, "spec"), "service")
            if root is not None:
                key = (resource.namespace, split_root(root, resource.namespace))
                self._split_roots[key].append(resource)

    def mark_schema_error(self, resource: Resource) -> None:
        self._schema_errors.add(id(resource))

    def schema_clean(self, resource: Resource) -> bool:
        """Did the object pass schema validation (so rules may report what the models accept)?"""
        return resource.info is not None and id(resource) not in self._schema_errors

    def find(self, kind: str, namespace: str, name: str) -> list[Resource]:
        """Objects of ``kind`` named ``name`` in ``namespace`` (SMI kinds match any SMI version)."""
        return self._by_key.get((kind, namespace, name), [])

    def has_kind_in(self, kind: str, namespace: str) -> bool:
        """Does the linted set hold any object of ``kind`` in ``namespace``?"""
        return (kind, namespace) in self._kinds_in

    def splits_for_root(self, namespace: str, service: str) -> list[Resource]:
        """TrafficSplits (any version) whose root service is ``service`` in ``namespace`` (written as a name
        or a DNS name), in input order."""
        return self._split_roots.get((namespace, split_root(service, namespace)), [])


# ---------------------------------------------------------------------------------------------------------
# Shape-tolerant accessors: rules run on documents that may also have schema errors.


def dict_at(obj: Any, key: str) -> Mapping[str, Any] | None:
    value = obj.get(key) if type(obj) is dict or isinstance(obj, Mapping) else None
    return value if type(value) is dict or isinstance(value, Mapping) else None


def list_at(obj: Any, key: str) -> Sequence[Any] | None:
    value = obj.get(key) if type(obj) is dict or isinstance(obj, Mapping) else None
    return value if type(value) is list else None


def str_at(obj: Any, key: str) -> str | None:
    value = obj.get(key) if type(obj) is dict or isinstance(obj, Mapping) else None
    return value if type(value) is str else None


def dicts(obj: Any, key: str, prefix: NodePath = ()) -> Iterator[tuple[NodePath, Mapping[str, Any]]]:
    """(path, item) for each mapping in the list ``obj[key]``; other items are skipped."""
    for i, item in enumerate(list_at(obj, key) or ()):
        if type(item) is dict or isinstance(item, Mapping):
            yield (*prefix, key, i), item


# ---------------------------------------------------------------------------------------------------------
# Version-dependent layouts


def target_body(obj: Resource) -> tuple[NodePath, Mapping[str, Any] | None, str]:
    """TrafficTarget: (path prefix, the mapping holding destination/sources/rules, the rules key).

    v1alpha1 has no ``spec`` wrapper and calls the rules ``specs``.
    """
    if obj.version_at_least("v1alpha2"):
        return ("spec",), dict_at(obj.data, "spec"), "rules"
    return (), obj.data, "specs"


def route_matches(obj: Resource) -> Iterator[tuple[NodePath, Mapping[str, Any]]]:
    """HTTPRouteGroup matches with their paths: top-level in v1alpha1/v1alpha2, under ``spec`` later."""
    if obj.version_at_least("v1alpha3"):
        return dicts(dict_at(obj.data, "spec"), "matches", ("spec",))
    return dicts(obj.data, "matches")


def headers(match: Mapping[str, Any], prefix: NodePath) -> Iterator[tuple[NodePath, str, Any]]:
    """(path, header name, value) of a match's headers, in either form: a map, or a list of one-key maps."""
    value = match.get("headers")
    if isinstance(value, Mapping):
        for name, regex in value.items():
            yield (*prefix, "headers", name), str(name), regex
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, Mapping):
                for name, regex in item.items():
                    yield (*prefix, "headers", i, name), str(name), regex
