"""Hypothesis strategies: valid SMI documents of any known kind and version, generated from the model classes.

The generator reads each model's fields (aliases, required-ness, Literal values, string patterns, integer
bounds) and knows the few custom types by name (Quantity, Headers, Timestamp, qualified names). It records
which dict nodes are objects (models) and which leaves are typed scalars, so mutation tests can say exactly
where a problem must be reported.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Literal

import annotated_types
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from smi_conformance.models import access, meta
from smi_conformance.models.headers import HEADER_NAME_PATTERN, Headers
from smi_conformance.models.metrics import Timestamp
from smi_conformance.models.quantity import NonNegativeQuantity, Quantity
from smi_conformance.models.registry import KindInfo

Path = tuple[str | int, ...]
LeafKind = Literal["str", "int", "literal", "other"]


@dataclass
class Generated:
    """A valid document, where its object nodes are, and which of its leaves have which scalar type."""

    doc: dict[str, Any]
    objects: dict[Path, type[BaseModel]] = field(default_factory=dict)
    """Path -> model class of every object node (not maps such as labels or headers)."""
    required: dict[Path, list[str]] = field(default_factory=dict)
    """Path -> required keys of that object."""
    leaves: dict[Path, LeafKind] = field(default_factory=dict)
    weights: list[Path] = field(default_factory=list)
    """Paths of TrafficSplit backend weights."""


_SKIP_OPTIONAL = {
    # Server-filled metadata: accepted as anything; generating it adds nothing.
    "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds", "ownerReferences", "finalizers", "managedFields", "selfLink", "clusterName",
    "continue", "remainingItemCount",
}  # fmt: skip

_BOOLS = st.booleans()
_ident = st.from_regex(r"\A[a-z][a-z0-9]{0,8}\Z")
_label = st.from_regex(rf"\A{meta.DNS1123_LABEL_PATTERN[1:-1]}\Z").filter(lambda s: len(s) <= 63)
_subdomain = st.lists(_label, min_size=1, max_size=3).map(".".join)
_qualified = st.tuples(st.one_of(st.just(""), _subdomain.map(lambda p: p + "/")), _label).map("".join)
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)


@cache
def _quantities(*, nonnegative: bool) -> st.SearchStrategy[int | str]:
    sign = st.just("") if nonnegative else st.sampled_from(["", "-", "+"])
    whole = st.integers(0, 10**6).map(str)
    decimal = st.tuples(st.integers(0, 999), st.integers(0, 999)).map(lambda t: f"{t[0]}.{t[1]:03d}")
    plain = st.tuples(sign, st.one_of(whole, decimal), st.sampled_from(["", "k", "M", "Ki", "Mi"])).map(
        "".join
    )
    fine = st.tuples(sign, whole, st.sampled_from(["m", "u", "n", "e3", "e-3"])).map("".join)
    ints = st.integers(0 if nonnegative else -(10**9), 10**9)
    return st.one_of(ints, plain, fine)


@cache
def _timestamps() -> st.SearchStrategy[str]:
    return st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda d: d.replace(microsecond=0).isoformat() + "Z"
    )


@cache
def _headers() -> st.SearchStrategy[Any]:
    names = st.from_regex(rf"\A{HEADER_NAME_PATTERN[1:-1]}\Z").filter(lambda s: len(s) <= 20)
    maps = st.dictionaries(names, _text, max_size=3)
    return st.one_of(maps, maps.map(lambda m: [{k: v} for k, v in m.items()]))


class _Builder:
    def __init__(self, draw: st.DrawFn, out: Generated) -> None:
        self.draw = draw
        self.out = out

    def model(
        self, cls: type[BaseModel], path: Path, overrides: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self.out.objects[path] = cls
        doc: dict[str, Any] = {}
        required = []
        for name, info in cls.model_fields.items():
            alias = info.alias or name
            if overrides and alias in overrides:
                doc[alias] = overrides[alias]
                required.append(alias)
                continue
            if info.is_required():
                required.append(alias)
            elif alias in _SKIP_OPTIONAL or not self.draw(_BOOLS):
                continue
            doc[alias] = self.value(info.annotation, list(info.metadata), (*path, alias))
        self.out.required[path] = required
        return self.fixup(cls, doc)

    def fixup(self, cls: type[BaseModel], doc: dict[str, Any]) -> dict[str, Any]:
        """Cross-field rules the field types alone do not express."""
        if cls is meta.ObjectMeta:
            doc.pop("generateName", None)
            doc["name"] = self.draw(_subdomain)
        if cls is access.Subject and "group" in doc:
            doc["group"] = "access.smi-spec.io" if doc["kind"] == "IdentityBinding" else ""
        if cls is access.IdentitySchemes and not doc:
            doc["serviceAccount"] = self.draw(_subdomain)
        if cls is meta.ObjectMeta and "annotations" in doc:
            doc["annotations"] = {k: v[:100] for k, v in doc["annotations"].items()}
        return doc

    def value(self, tp: Any, metadata: list[Any], path: Path) -> Any:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            base, *more = typing.get_args(tp)
            for item in more:  # Field(...) inside Annotated carries its constraints as metadata
                metadata = metadata + (list(item.metadata) if isinstance(item, FieldInfo) else [item])
            return self.value(base, metadata, path)
        if origin in (typing.Union, types.UnionType):
            arms = [a for a in typing.get_args(tp) if a is not type(None)]
            return self.value(arms[0], metadata, path)
        if origin is Literal:
            self.out.leaves[path] = "literal"
            return self.draw(_choice(typing.get_args(tp)))
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return self.model(tp, path)
        if tp is NonNegativeQuantity or tp is Quantity:
            if path[-1] == "weight":
                self.out.weights.append(path)
            self.out.leaves[path] = "other"
            return self.draw(_quantities(nonnegative=tp is NonNegativeQuantity))
        if tp is Headers:
            self.out.leaves[path] = "other"
            return self.draw(_headers())
        if tp is Timestamp:
            self.out.leaves[path] = "other"
            return self.draw(_timestamps())
        if origin is list:
            (item,) = typing.get_args(tp)
            low = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), 0)
            size = self.draw(_sizes(low))
            return [self.value(item, [], (*path, i)) for i in range(size)]
        if origin is dict:
            key_type, value_type = typing.get_args(tp)
            low = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), 0)
            keys = self.draw(_unique_keys(self.key(key_type), low))
            return {k: self.value(value_type, [], (*path, k)) for k in keys}
        if tp is int:
            low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), -(10**6))
            high = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), 10**6)
            if path[-1] == "weight":
                self.out.weights.append(path)
            self.out.leaves[path] = "int"
            return self.draw(_ints(low, min(high, 10**9)))
        if tp is str:
            self.out.leaves[path] = "str"
            return self.draw(self.string(metadata, path))
        if tp is Any:
            return self.draw(st.one_of(st.none(), _ident))
        raise NotImplementedError(f"no strategy for {tp!r} at {path}")

    def key(self, tp: Any) -> st.SearchStrategy[str]:
        metadata = list(typing.get_args(tp)[1:]) if typing.get_origin(tp) is typing.Annotated else []
        if any(getattr(m, "func", None) is meta._check_qualified_name for m in metadata):
            return _qualified
        return self.string(metadata, ())

    def string(self, metadata: list[Any], path: Path) -> st.SearchStrategy[str]:
        pattern = next((getattr(m, "pattern", None) for m in metadata if getattr(m, "pattern", None)), None)
        max_length = next((m.max_length for m in metadata if getattr(m, "max_length", None)), None)
        min_length = next((m.min_length for m in metadata if getattr(m, "min_length", None)), 0)
        if any(getattr(m, "func", None) is meta._check_qualified_name for m in metadata):
            return _qualified
        return _string_strategy(pattern, max_length, min_length)


@cache
def _string_strategy(pattern: str | None, max_length: int | None, min_length: int) -> st.SearchStrategy[str]:
    """Strategies are cached: building (and validating) one per draw would dominate the run time."""
    if pattern == meta.DNS1123_SUBDOMAIN_PATTERN:
        return _subdomain
    if pattern is not None:
        strategy = st.from_regex(rf"\A{pattern.lstrip('^').rstrip('$')}\Z")
        return strategy.filter(lambda s: len(s) <= max_length) if max_length else strategy
    return _text.filter(lambda s: len(s) >= min_length) if min_length else _text


@cache
def _choice(values: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


@cache
def _sizes(low: int) -> st.SearchStrategy[int]:
    return st.integers(low, max(low, 3))


@cache
def _ints(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


@cache
def _unique_keys(keys: st.SearchStrategy[str], low: int) -> st.SearchStrategy[list[str]]:
    return st.lists(keys, min_size=low, max_size=max(low, 3), unique=True)


@st.composite
def documents(draw: st.DrawFn, info: KindInfo) -> Generated:
    """A valid document of ``info``'s kind and version."""
    out = Generated(doc={})
    builder = _Builder(draw, out)
    out.doc = builder.model(info.model, (), {"apiVersion": info.api_version, "kind": info.kind})
    out.leaves.pop(("apiVersion",), None)
    out.leaves.pop(("kind",), None)
    return out


def field_info(cls: type[BaseModel], alias: str) -> FieldInfo:
    return next(f for n, f in cls.model_fields.items() if (f.alias or n) == alias)


# ---- mutations: each breaks a valid document in one place and says where and how ----

Mutation = Callable[[st.DataObject, Generated, dict[str, Any]], "tuple[Path, str] | None"]


def node_at(doc: dict[str, Any], path: Path) -> Any:
    node: Any = doc
    for seg in path:
        node = node[seg]
    return node


def _unknown_field(data: st.DataObject, generated: Generated, doc: dict[str, Any]) -> tuple[Path, str] | None:
    where = data.draw(st.sampled_from(sorted(generated.objects, key=str)), label="object")
    key = data.draw(st.sampled_from(["zzUnknown", "extra", "Spec", "name_"]), label="key")
    node = node_at(doc, where)
    if key in node:
        return None
    node[key] = "x"
    return (*where, key), "unknown-field"


def _missing_field(data: st.DataObject, generated: Generated, doc: dict[str, Any]) -> tuple[Path, str] | None:
    candidates = [
        (*path, key)
        for path, keys in generated.required.items()
        for key in keys
        if (*path, key) not in (("apiVersion",), ("kind",))
    ]
    if not candidates:
        return None
    victim = data.draw(st.sampled_from(sorted(candidates, key=str)), label="required field")
    del node_at(doc, victim[:-1])[victim[-1]]
    return victim, "missing-field"


def _wrong_type(data: st.DataObject, generated: Generated, doc: dict[str, Any]) -> tuple[Path, str] | None:
    leaves = {p: k for p, k in generated.leaves.items() if k in ("str", "int", "literal")}
    if not leaves:
        return None
    path = data.draw(st.sampled_from(sorted(leaves, key=str)), label="leaf")
    wrong = {"str": 12345, "int": "12", "literal": 7}[leaves[path]]
    node_at(doc, path[:-1])[path[-1]] = data.draw(
        st.sampled_from([wrong, [wrong], True, None]), label="value"
    )
    return path, "value" if leaves[path] == "literal" else "type"


def _bad_weight(data: st.DataObject, generated: Generated, doc: dict[str, Any]) -> tuple[Path, str] | None:
    if not generated.weights:
        return None
    path = data.draw(st.sampled_from(generated.weights), label="weight")
    quantities = doc["apiVersion"].endswith("/v1alpha1") and doc["kind"] == "TrafficSplit"
    bad = data.draw(st.sampled_from(["-1", -3] if quantities else [-1, 2.5, "7"]), label="bad weight")
    node_at(doc, path[:-1])[path[-1]] = bad
    return path, "value" if bad in (-1, -3, "-1") else "type"


MUTATIONS: list[Mutation] = [_unknown_field, _missing_field, _wrong_type, _bad_weight]
