"""The linted set as rules see it: objects with their identity, and an index for cross-resource checks.

Rules read the raw document (a plain dict that may have any shape: schema errors are reported separately,
so rules must never assume types). The accessors here return ``None`` or nothing rather than raising.
Namespaces: an object without ``metadata.namespace`` is taken to live in ``default`` (what ``kubectl apply``
does without ``-n``); references between objects resolve within one namespace unless they name another.
"""

from __future__ import annotations

import functools
import re
import sys
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from smi_conformance.manifests import Document, NodePath
from smi_conformance.service_names import split_root

if TYPE_CHECKING:
    from smi_conformance.lint.disk_index import DiskIndex, Key
    from smi_conformance.models import KindInfo

__all__ = [
    "EMPTY",
    "LISTED_KINDS",
    "LOOKED_UP_KINDS",
    "SMI_GROUPS",
    "WORKLOADS",
    "LintContext",
    "Resource",
    "dict_at",
    "dicts",
    "display",
    "kept_data",
    "list_at",
    "per_object",
    "str_at",
    "version_key",
]

EMPTY: Mapping[str, Any] = MappingProxyType({})
SMI_GROUPS = frozenset(
    {"split.smi-spec.io", "access.smi-spec.io", "specs.smi-spec.io", "metrics.smi-spec.io"}
)
DEFAULT_NAMESPACE = "default"


class Resource:
    """One Kubernetes object of the linted set (SMI or not). Identity fields are computed once."""

    __slots__ = (
        "__weakref__",
        "_version_key",
        "annotations",
        "api_version",
        "data",
        "document",
        "group",
        "info",
        "is_checked",
        "kind",
        "metadata",
        "name",
        "namespace",
        "position",
        "schema_error",
        "seq",
        "version",
    )  # fmt: skip

    def __init__(self, document: Document, api_version: str, kind: str, data: Mapping[str, Any]) -> None:
        self.document = document
        self.api_version, self.group, self.version, self._version_key = _api_version(api_version)
        self.kind = sys.intern(kind)
        self.data = data
        self.info: KindInfo | None = None  #: set for SMI kinds the models know
        self.is_checked = False  #: an SMI object (or one of a misspelt SMI group): the rules check it
        self.position = 0  #: among the checked objects, in input order
        self.seq = -1  #: among the objects of its LintContext, in input order: what tells objects apart
        self.schema_error = False  #: schema validation found a problem (LintContext.mark_schema_error)
        self.metadata: Mapping[str, Any] = dict_at(data, "metadata") or {}
        self.name: str | None = str_at(self.metadata, "name")
        self.namespace: str = sys.intern(str_at(self.metadata, "namespace") or DEFAULT_NAMESPACE)
        self.annotations: Mapping[str, Any] = dict_at(self.metadata, "annotations") or EMPTY

    @classmethod
    def restored(
        cls,
        document: Document,
        api_version: str,
        kind: str,
        name: str | None,
        namespace: str,
        *,
        seq: int,
        position: int,
        is_checked: bool,
        schema_error: bool,
    ) -> Resource:
        """An object read back from where the linter kept it (``disk_index``): its identity as it was, no
        data yet (the caller sets what was kept)."""
        self = cls.__new__(cls)
        self.document = document
        self.api_version, self.group, self.version, self._version_key = _api_version(api_version)
        self.kind = sys.intern(kind)
        self.data = self.metadata = self.annotations = EMPTY
        self.info = None
        self.is_checked, self.position, self.seq, self.schema_error = is_checked, position, seq, schema_error
        self.name, self.namespace = name, sys.intern(namespace)
        return self

    @property
    def is_smi(self) -> bool:
        return self.group in SMI_GROUPS

    @property
    def display(self) -> str:
        """``Kind namespace/name`` for messages and reports."""
        return display(self.kind, self.namespace, self.name)

    def version_at_least(self, version: str) -> bool:
        """Compare ``v1alphaN`` versions of the same group (``v1alpha10`` > ``v1alpha9``)."""
        return self._version_key >= version_key(version)


def display(kind: str, namespace: str, name: str | None) -> str:
    """``Kind namespace/name`` of an object, for messages and reports."""
    return f"{kind} {namespace}/{name or '<unnamed>'}"


@functools.lru_cache(maxsize=256)
def _api_version(api_version: str) -> tuple[str, str, str, tuple[int, int, int]]:
    """An apiVersion, its group, its version and the version's order, each string interned: shared by
    thousands of objects, split once."""
    group, _, version = api_version.rpartition("/")
    return sys.intern(api_version), sys.intern(group), sys.intern(version), version_key(version)


@functools.lru_cache(maxsize=256)
def version_key(version: str) -> tuple[int, int, int]:
    """v1 > v1beta2 > v1beta1 > v1alpha2 > v1alpha1 (Kubernetes ordering); unknown shapes sort first."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (0, 0, 0)
    stage = {"alpha": 1, "beta": 2, None: 3}[match.group(2)]
    return (int(match.group(1)), stage, int(match.group(3) or 0))


_LOCATED_KEPT = 1024  #: LintContext.at: locations of objects other objects' findings name


@dataclass
class LintContext:
    """Every object of the linted set, indexed for the cross-resource rules.

    With ``spill_after`` (``smi lint``, which lets each document's data go once checked), the objects past
    that many are indexed on disk (:mod:`~smi_conformance.lint.disk_index`) instead of in these dicts, so
    memory stays flat however large the input; every lookup reads both, the objects in memory coming first
    in input order. Objects read back from disk are new each time: objects are told apart by ``seq``.
    """

    #: What the linted set is, as messages name it: "X is not in the linted files" from ``smi lint``; the
    #: reference mesh's admission lints a batch together with the mesh's objects, so it says "the mesh".
    scope: str = "the linted files"
    #: Objects past this many go to disk (None: never; small inputs never pay for disk).
    spill_after: int | None = None
    #: The objects indexed in memory (all of them unless the index spilled), in input order.
    resources: list[Resource] = field(default_factory=list)
    #: (kind, namespace, name) -> the object with that identity, or a list of them when there are several
    #: (most identities are unique: no list of one per object).
    _by_key: dict[tuple[str, str, str], Resource | list[Resource]] = field(default_factory=dict)
    _kinds_in: set[tuple[str, str]] = field(default_factory=set)
    _split_roots: dict[tuple[str, str], list[Resource]] = field(default_factory=lambda: defaultdict(list))
    #: (kind, namespace, name, group) -> the first object with that identity, when the first object of that
    #: kind, namespace and name is of another group (duplicate-object; otherwise that one is the first).
    _first_other: dict[tuple[str, str, str, str], Resource] = field(default_factory=dict)
    #: (kind, namespace) -> Services and workloads of a namespace (rules that follow selectors).
    _in_namespace: dict[tuple[str, str], list[Resource]] = field(default_factory=lambda: defaultdict(list))
    #: (kind, name) -> namespaces holding an object of that kind and name (Services, ServiceAccounts).
    _namespaces: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    #: (namespace, root) -> the first split of that root named differently from the first (duplicate roots).
    _other_split: dict[tuple[str, str], Resource] = field(default_factory=dict)
    #: (namespace, IdentityBinding name) -> TrafficTargets whose destination is that binding.
    _binding_users: dict[tuple[str, str], list[Resource]] = field(default_factory=lambda: defaultdict(list))
    _context: set[int] = field(default_factory=set)  #: ids of documents judged with, not reported on
    _count: int = 0  #: objects indexed so far (the next one's seq)
    _disk: DiskIndex | None = None  #: the objects past spill_after
    #: The seq of the last object added to disk when it was the first of its identity (of its split root),
    #: as the disk index's filter tells without a query: duplicate-object (duplicate-split-root) asks at once.
    _fresh_identity: int = -1
    _fresh_root: int = -1
    #: seq and path -> ``at ...`` of objects messages point at: the thousand copies of one object all point
    #: at the first, which is located once. Emptied when full.
    _located: dict[tuple[int, NodePath], str] = field(default_factory=dict)

    def add_context(self, documents: Iterable[Document]) -> None:
        """Mark documents as context (``lint_documents(context=...)``): found by rules, never reported on."""
        self._context.update(id(d) for d in documents)

    def is_context(self, document: Document) -> bool:
        return id(document) in self._context

    def at(self, resource: Resource, path: NodePath) -> str:
        """Where another object is, for a message: ``at file:line:col``, or ``in the mesh`` for context."""
        if self.is_context(resource.document):
            return f"in {self.scope}"
        key = (resource.seq, path)
        where = self._located.get(key)
        if where is None:
            if len(self._located) >= _LOCATED_KEPT:
                self._located.clear()
            where = self._located[key] = f"at {resource.document.locate(path)}"
        return where

    @property
    def spilled(self) -> bool:
        """Are objects indexed on disk (so the caller may let go of everything but their identity)?"""
        return self._disk is not None

    def close(self) -> None:
        """Drop the on-disk index, if any."""
        if self._disk is not None:
            self._disk.close()
            self._disk = None

    def whole_objects(self) -> Iterator[Resource]:
        """The objects added ``whole`` that went to disk, in input order, read back with all their data."""
        if self._disk is not None:
            yield from self._disk.whole_objects()

    def add(self, resource: Resource, *, whole: bool = False) -> bool:
        """Index an object, with its data still whole (its identity, position and schema verdict set).
        Returns whether it went to disk; there, with ``whole``, all its data is kept for ``whole_objects``
        (objects checked again at the end)."""
        resource.seq = self._count
        self._count += 1
        self._kinds_in.add((resource.kind, resource.namespace))
        if self._disk is None and self.spill_after is not None and resource.seq >= self.spill_after:
            from smi_conformance.lint.disk_index import DiskIndex  # only for inputs that large

            self._disk = DiskIndex()
        if self._disk is not None:
            self._disk.add(resource, self._disk_keys(resource, self._disk), whole=whole)
            return True
        self.resources.append(resource)
        kind, namespace, name = resource.kind, resource.namespace, resource.name
        if name is not None:
            identity = (kind, namespace, name)
            same = self._by_key.get(identity)
            if same is None:
                self._by_key[identity] = resource
                if kind in _BY_NAME_ANYWHERE and str_at(resource.metadata, "namespace"):
                    self._namespaces[(kind, name)].append(namespace)
            else:
                if not isinstance(same, list):
                    same = self._by_key[identity] = [same]
                if same[0].group != resource.group:
                    self._first_other.setdefault((*identity, resource.group), resource)
                same.append(resource)
        if kind in LISTED_KINDS:
            self._in_namespace[(kind, namespace)].append(resource)
        root_key = _split_root_key(resource) if kind == "TrafficSplit" else None
        if root_key is not None:
            splits = self._split_roots[root_key]
            if splits and splits[0].name != resource.name:
                self._other_split.setdefault(root_key, resource)
            splits.append(resource)
        binding = _binding(resource) if kind == "TrafficTarget" else None
        if binding is not None:
            self._binding_users[binding].append(resource)
        return False

    def _disk_keys(self, resource: Resource, disk: DiskIndex) -> list[Key]:
        """The keys an object is found by on disk: the same lookups as the dicts above."""
        from smi_conformance.lint.disk_index import Lookup

        kind, namespace, name = resource.kind, resource.namespace, resource.name
        keys: list[Key] = []
        if name is not None:
            identity = (kind, namespace, name)
            new = identity not in self._by_key and (
                not disk.may_have(Lookup.IDENTITY, identity) or not disk.has(Lookup.IDENTITY, identity)
            )
            if new and kind in _BY_NAME_ANYWHERE and str_at(resource.metadata, "namespace"):
                keys.append((Lookup.NAMED, (kind, name), namespace))
            if identity not in self._by_key and not disk.may_have(Lookup.IDENTITY, identity):
                self._fresh_identity = resource.seq
            keys.append((Lookup.IDENTITY, identity, resource.group))
        if kind in LISTED_KINDS:
            keys.append((Lookup.LISTED, (kind, namespace), None))
        root_key = _split_root_key(resource)
        if root_key is not None:
            if root_key not in self._split_roots and not disk.may_have(Lookup.SPLIT_ROOT, root_key):
                self._fresh_root = resource.seq
            keys.append((Lookup.SPLIT_ROOT, root_key, name))
        binding = _binding(resource)
        if binding is not None:
            keys.append((Lookup.BINDING, binding, None))
        return keys

    def add_kind(self, resource: Resource) -> None:
        """Note only that the linted set holds an object of this kind in this namespace (nothing looks it up
        by name)."""
        self._kinds_in.add((resource.kind, resource.namespace))

    def mark_schema_error(self, resource: Resource) -> None:
        resource.schema_error = True

    def schema_clean(self, resource: Resource) -> bool:
        """Did the object pass schema validation (so rules may report what the models accept)?"""
        return resource.info is not None and not resource.schema_error

    def find(self, kind: str, namespace: str, name: str) -> list[Resource]:
        """Objects of ``kind`` named ``name`` in ``namespace`` (SMI kinds match any SMI version)."""
        same = self._by_key.get((kind, namespace, name))
        found = [] if same is None else same if isinstance(same, list) else [same]
        if self._disk is None or (kind, namespace) not in self._kinds_in:  # (a miss costs no query)
            return found
        from smi_conformance.lint.disk_index import Lookup

        return found + self._disk.find(Lookup.IDENTITY, (kind, namespace, name))

    def kinds(self) -> frozenset[str]:
        """The kinds of the objects the linted set holds."""
        return frozenset(kind for kind, _ in self._kinds_in)

    def has_kind_in(self, kind: str, namespace: str) -> bool:
        """Does the linted set hold any object of ``kind`` in ``namespace``?"""
        return (kind, namespace) in self._kinds_in

    def splits_for_root(self, namespace: str, service: str) -> list[Resource]:
        """TrafficSplits (any version) whose root service is ``service`` in ``namespace`` (written as a name
        or a DNS name), in input order."""
        key = (namespace, split_root(service, namespace))
        found = self._split_roots.get(key, [])
        if self._disk is None or ("TrafficSplit", namespace) not in self._kinds_in:
            return found
        from smi_conformance.lint.disk_index import Lookup

        return found + self._disk.find(Lookup.SPLIT_ROOT, key)

    def first(self, resource: Resource) -> Resource:
        """The first object of the linted set with ``resource``'s kind, group, namespace and name (itself if
        it is the first, or has no name): an index lookup, however many copies there are."""
        if resource.name is None:
            return resource
        key = (resource.kind, resource.namespace, resource.name)
        same = self._by_key.get(key)
        if same is not None:
            first = same[0] if isinstance(same, list) else same
            if first.group == resource.group:
                return first
            other = self._first_other.get((*key, resource.group))
            if other is not None:
                return other
        disk = self._disk
        if disk is None or resource.seq == self._fresh_identity:
            return resource
        from smi_conformance.lint.disk_index import Lookup

        # On disk: the first of that identity, or (when it is of another group) the first of this group.
        found = disk.first(Lookup.IDENTITY, key, unless=resource) if same is None else None
        if same is not None or (found is not None and found.group != resource.group):
            found = disk.first(Lookup.IDENTITY, key, extra=resource.group, unless=resource)
        return resource if found is None else found

    def in_namespace(self, kind: str, namespace: str) -> list[Resource]:
        """Objects of ``kind`` (Services, Pods and workloads only) in ``namespace``, in input order."""
        found = self._in_namespace.get((kind, namespace), [])
        if self._disk is None or (kind, namespace) not in self._kinds_in:
            return found
        from smi_conformance.lint.disk_index import Lookup

        return found + self._disk.find(Lookup.LISTED, (kind, namespace))

    def namespaces_of(self, kind: str, name: str) -> list[str]:
        """Namespaces holding a Service or ServiceAccount named ``name``, in input order: only objects
        whose ``metadata.namespace`` is written (one without may be applied to any namespace with -n)."""
        found = self._namespaces.get((kind, name), [])
        if self._disk is None:
            return found
        from smi_conformance.lint.disk_index import Lookup

        return found + self._disk.extras(Lookup.NAMED, (kind, name))

    def earlier_split_of_root(self, split: Resource, root: str) -> Resource | None:
        """The first TrafficSplit before ``split`` with the same root and another name (one lookup: the
        first split of the root, or else the first one named differently from it)."""
        key = (split.namespace, split_root(root, split.namespace))
        splits = self._split_roots.get(key)
        if not splits and split.seq == self._fresh_root:
            return None  # the first split of its root
        first = splits[0] if splits else None
        disk = self._disk
        if first is None and disk is not None:
            from smi_conformance.lint.disk_index import Lookup

            first = disk.first(Lookup.SPLIT_ROOT, key, unless=split)
        if first is None or first.seq == split.seq:
            return None
        if first.name != split.name:
            return first
        other = self._other_split.get(key)
        if other is None and disk is not None:
            from smi_conformance.lint.disk_index import Lookup

            other = disk.first_not_named(Lookup.SPLIT_ROOT, key, first.name)
        return other if other is not None and other.position < split.position else None

    def targets_of_binding(self, namespace: str, name: str) -> list[Resource]:
        """TrafficTargets whose destination is the IdentityBinding ``namespace/name``, in input order."""
        found = self._binding_users.get((namespace, name), [])
        if self._disk is None:
            return found
        from smi_conformance.lint.disk_index import Lookup

        return found + self._disk.find(Lookup.BINDING, (namespace, name))


def _split_root_key(resource: Resource) -> tuple[str, str] | None:
    """(namespace, root service) of an SMI TrafficSplit naming one."""
    if resource.kind != "TrafficSplit" or not resource.is_smi:
        return None
    root = str_at(dict_at(resource.data, "spec"), "service")
    return None if root is None else (resource.namespace, split_root(root, resource.namespace))


def _binding(resource: Resource) -> tuple[str, str] | None:
    """(namespace, name) of the IdentityBinding an SMI TrafficTarget's destination is."""
    if resource.kind != "TrafficTarget" or not resource.is_smi:
        return None
    _, body, _ = target_body(resource)
    destination = dict_at(body, "destination")
    name = str_at(destination, "name")
    if str_at(destination, "kind") != "IdentityBinding" or name is None:
        return None
    return (str_at(destination, "namespace") or resource.namespace, name)


_T = TypeVar("_T")


def _dead() -> None:
    """What a weak reference to an object that is gone returns."""


def per_object(derive: Callable[[Resource], _T]) -> Callable[[Resource], _T]:
    """``derive(obj)``, remembered for the last object asked about.

    The rules run on one object one after the other, and several read the same parts of it (a split's
    backends, a route group's matches, a target's rules): each part is found once. The memo is keyed by
    the object (weakly: a finished run's objects are not kept) and its data: another object, or new data
    (the engine swaps in other data when it lets an object's data go, and back), derives again. Callers
    share the result: ``derive`` returns tuples, never lists."""
    last_object: Callable[[], Resource | None] = _dead  # a weak reference
    last_data: Any = None
    last_value: Any = None

    @functools.wraps(derive)
    def derived(obj: Resource) -> _T:
        nonlocal last_object, last_data, last_value
        if obj.data is last_data and last_object() is obj:
            value: _T = last_value
            return value
        value = derive(obj)
        last_object, last_data, last_value = weakref.ref(obj), obj.data, value
        return value

    return derived


# ---------------------------------------------------------------------------------------------------------
# Shape-tolerant accessors: rules run on documents that may also have schema errors.


# Plain dicts (what the loader builds) and None (a missing field) are tested first: an isinstance check
# against the Mapping ABC costs several times a type() comparison, and these run for every field read.


def dict_at(obj: Any, key: str) -> Mapping[str, Any] | None:
    if type(obj) is not dict and (obj is None or not isinstance(obj, Mapping)):
        return None
    value = obj.get(key)
    return value if type(value) is dict or (value is not None and isinstance(value, Mapping)) else None


def list_at(obj: Any, key: str) -> Sequence[Any] | None:
    if type(obj) is not dict and (obj is None or not isinstance(obj, Mapping)):
        return None
    value = obj.get(key)
    return value if type(value) is list else None


def str_at(obj: Any, key: str) -> str | None:
    if type(obj) is not dict and (obj is None or not isinstance(obj, Mapping)):
        return None
    value = obj.get(key)
    return value if type(value) is str else None


def dicts(obj: Any, key: str, prefix: NodePath = ()) -> Iterator[tuple[NodePath, Mapping[str, Any]]]:
    """(path, item) for each mapping in the list ``obj[key]``; other items are skipped."""
    for i, item in enumerate(list_at(obj, key) or ()):
        if type(item) is dict or isinstance(item, Mapping):
            yield (*prefix, key, i), item


# ---------------------------------------------------------------------------------------------------------
# Version-dependent layouts


@per_object
def target_body(obj: Resource) -> tuple[NodePath, Mapping[str, Any] | None, str]:
    """TrafficTarget: (path prefix, the mapping holding destination/sources/rules, the rules key).

    v1alpha1 has no ``spec`` wrapper and calls the rules ``specs``.
    """
    if obj.version_at_least("v1alpha2"):
        return ("spec",), dict_at(obj.data, "spec"), "rules"
    return (), obj.data, "specs"


@per_object
def route_matches(obj: Resource) -> tuple[tuple[NodePath, Mapping[str, Any]], ...]:
    """HTTPRouteGroup matches with their paths: top-level in v1alpha1/v1alpha2, under ``spec`` later."""
    if obj.version_at_least("v1alpha3"):
        return tuple(dicts(dict_at(obj.data, "spec"), "matches", ("spec",)))
    return tuple(dicts(obj.data, "matches"))


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


WORKLOADS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}
)
#: Kinds other than SMI's that rules look up by name or namespace (``LintContext.find``, ``has_kind_in``).
LOOKED_UP_KINDS = frozenset({"Service", "ServiceAccount", "Pod", *WORKLOADS})
#: Kinds listed per namespace (``LintContext.in_namespace``) and looked up by name in any namespace.
LISTED_KINDS = frozenset({"Service", "Pod", *WORKLOADS})
_BY_NAME_ANYWHERE = frozenset({"Service", "ServiceAccount"})


def kept_data(resource: Resource) -> Mapping[str, Any]:
    """What the deferred rules may still read of an object they look up, once the linter lets its data go:
    route match names and ports, an IdentityBinding's SPIFFE ids, Service ports and selectors, the labels
    and ServiceAccount of a workload's pods; nothing of other objects. Keeps memory proportional to the
    objects, not to the text."""
    data = resource.data
    kind = resource.kind
    spec = dict_at(data, "spec")
    if kind == "HTTPRouteGroup":
        names = {
            "matches": [
                {"name": m.get("name")} for m in list_at(spec or data, "matches") or () if type(m) is dict
            ]
        }
        return {"spec": names} if resource.version_at_least("v1alpha3") else names
    if kind == "IdentityBinding":  # the SPIFFE ids a TrafficTarget's destination binding lists
        schemes = dict_at(spec, "schemes")
        return (
            {"spec": {"schemes": {"spiffeIdentities": schemes.get("spiffeIdentities")}}} if schemes else EMPTY
        )
    if kind in ("TCPRoute", "UDPRoute"):
        return {"spec": {"matches": spec["matches"]}} if spec is not None and "matches" in spec else EMPTY
    if kind == "Service":
        return (
            {"spec": {f: spec[f] for f in ("ports", "selector", "type") if f in spec}}
            if spec is not None
            else EMPTY
        )
    if kind == "Pod":
        return {"metadata": {"labels": dict_at(resource.metadata, "labels")}, "spec": _account(spec)}
    if kind in WORKLOADS:
        template = dict_at(spec, "template")
        labels = dict_at(dict_at(template, "metadata"), "labels")
        return {
            "spec": {
                "template": {"metadata": {"labels": labels}, "spec": _account(dict_at(template, "spec"))}
            }
        }
    return EMPTY


def _account(pod_spec: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: pod_spec[k] for k in ("serviceAccountName", "serviceAccount") if pod_spec and k in pod_spec}
