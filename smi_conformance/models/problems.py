"""Validation problems in plain words, and the two exceptions of the models package.

Exceptions (both ValueError, both carry ``problems``)::

    ValueError
    ├── SMIValidationError   a document is not a valid object of its kind and version
    └── ConversionError      a valid object cannot be expressed in another version without loss

pydantic reports ``{'type': 'int_type', 'loc': ('spec', 'backends', 0, 'weight'), ...}``; users should
read "weight must be an integer >= 0, got '10' (a string)". :func:`problems_from_error` translates, using the
model classes to find what a field expects (its :class:`~smi_conformance.models._base.Expect` marker) and
which fields an object allows (for "did you mean" hints on unknown fields).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Union

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from smi_conformance.models._base import CUSTOM_KINDS, MISSING, Expect, ProblemKind, describe_value

Path = tuple[str | int, ...]

# Location segments pydantic inserts for tagged unions (our own tag names); never part of a document path.
UNION_TAGS: set[str] = set()


@dataclass(frozen=True)
class Problem:
    """One validation problem.

    ``path`` runs from the document root, e.g. ``("spec", "backends", 0, "weight")``; for an unknown field it
    ends with that field's key, for a missing one with the key that should be there. ``message`` is one line,
    meant for people. ``kind`` is a short machine tag: "unknown-field", "missing-field", "type", "value" or
    "format".
    """

    path: Path
    message: str
    kind: ProblemKind

    def __str__(self) -> str:
        return f"{format_path(self.path)}: {self.message}" if self.path else self.message


class SMIValidationError(ValueError):
    """A document is not a valid SMI object of its kind and version; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem], subject: str = "document") -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"invalid {subject} ({len(problems)} problem{'s' * (len(problems) != 1)}):\n{lines}")


class ConversionError(ValueError):
    """An object cannot be converted without losing information; each problem names the source path, why."""

    def __init__(self, problems: list[Problem], subject: str = "conversion") -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"cannot convert {subject}:\n{lines}")


def format_path(path: Iterable[str | int]) -> str:
    """``spec.backends[0].weight``; keys that are not identifiers are quoted: ``labels['app/x']``."""
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif seg.replace("_", "a").replace("-", "a").isalnum():
            out += f".{seg}" if out else seg
        else:
            out += f"[{seg!r}]"
    return out


def problems_from_error(error: ValidationError, model: type[BaseModel], prefix: Path = ()) -> list[Problem]:
    """Translate a pydantic error raised validating ``model`` into Problems (paths prefixed by ``prefix``)."""
    problems = []
    for err in error.errors(include_url=False):
        loc = tuple(seg for seg in err["loc"] if not (isinstance(seg, str) and seg in UNION_TAGS))
        problem = _translate(model, loc, err)
        problems.append(Problem(prefix + problem.path, problem.message, problem.kind))
    return problems


def _translate(model: type[BaseModel], loc: Path, err: Any) -> Problem:
    etype: str = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if loc and loc[-1] == "[key]":
        path: Path = loc[:-1]
        key_expect = _expect_at(model, loc[:-2], dict_key=True)
        subject = f"key {path[-1]!r} in {_label(model, path[:-1])}"
        expect = key_expect
    else:
        path = loc
        subject = _label(model, path)
        expect = _expect_at(model, path)

    if etype in CUSTOM_KINDS:
        kind = CUSTOM_KINDS[etype]
        message = err["msg"] if etype == MISSING else f"{subject} {err['msg']}"
        return Problem(path, message, kind)
    if etype == "missing":
        return Problem(path, f"missing required field {path[-1]!r}", "missing-field")
    if etype == "invalid_key":
        return Problem(path, f"field names must be strings, got {describe_value(value)}", "type")
    if etype == "extra_forbidden":
        return Problem(path, _unknown_field_message(model, path), "unknown-field")
    if etype == "literal_error":
        expected = str(ctx.get("expected", "?"))
        expected = f"one of {expected}" if " or " in expected else expected
        return Problem(path, f"{subject} must be {expected}, got {describe_value(value)}", "value")
    if etype.endswith("_type") or etype in {"int_from_float", "is_instance_of"}:
        wanted = expect or _GENERIC_TYPES.get(etype, etype.removesuffix("_type"))
        return Problem(path, f"{subject} must be {wanted}, got {describe_value(value)}", "type")
    if etype in _CONSTRAINTS:
        kind, generic = _CONSTRAINTS[etype]
        # An upper bound is worth naming on its own: "weight must be <= 2^63-1" reads better than the usual
        # "an integer >= 0" for a value that is merely too large.
        wanted = generic.format(**ctx) if etype in ("less_than_equal", "less_than") or not expect else expect
        return Problem(path, f"{subject} must be {wanted}, got {describe_value(value)}", kind)
    return Problem(path, f"{subject}: {err['msg']}", "value")


_GENERIC_TYPES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "datetime_type": "a timestamp",
}

_CONSTRAINTS: dict[str, tuple[ProblemKind, str]] = {
    "greater_than_equal": ("value", ">= {ge}"),
    "greater_than": ("value", "> {gt}"),
    "less_than_equal": ("value", "<= {le}"),
    "less_than": ("value", "< {lt}"),
    "too_short": ("value", "at least {min_length} item(s) long"),
    "too_long": ("value", "at most {max_length} item(s) long"),
    "string_too_short": ("format", "at least {min_length} character(s) long"),
    "string_too_long": ("format", "at most {max_length} character(s) long"),
    "string_pattern_mismatch": ("format", "a string matching {pattern}"),
}


def _label(model: type[BaseModel], path: Path) -> str:
    """How a message names the node at ``path``: its key, ``ports[1]``, or ``labels['app']`` in maps."""
    if not path:
        return "document"
    last = path[-1]
    if isinstance(last, int):
        return f"{_label(model, path[:-1])}[{last}]"
    if _container_at(model, path[:-1]) == "dict":
        return f"{_label(model, path[:-1])}[{last!r}]"
    return last


def _unknown_field_message(model: type[BaseModel], path: Path) -> str:
    key = str(path[-1])
    parent = _model_at(model, path[:-1])
    message = f"unknown field {key!r}"
    if parent is None:
        return message
    allowed = _aliases(parent)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6) or [
        a for a in allowed if a.lower() == key.lower()
    ]
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    for alias, field in parent.model_fields.items():
        nested = _model_class(field.annotation)
        if nested is not None and key in _aliases(nested):
            return f"{message}; in this version it belongs under {(field.alias or alias)!r}"
    if len(allowed) <= 8:
        return f"{message} (allowed here: {', '.join(allowed)})"
    return message


# ---- walking model classes along a document path ----


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """Strip Annotated (collecting its metadata) and Optional from a type."""
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            args = typing.get_args(tp)
            tp, metadata = args[0], metadata + list(args[1:])
        elif origin in (Union, types.UnionType):
            arms = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(arms) != 1:
                return tp, metadata
            tp = arms[0]
        else:
            return tp, metadata


def _model_class(tp: Any) -> type[BaseModel] | None:
    base, _ = _unwrap(tp)
    return base if isinstance(base, type) and issubclass(base, BaseModel) else None


@lru_cache(maxsize=256)
def _aliases_cached(model: type[BaseModel]) -> tuple[tuple[str, ...], dict[str, FieldInfo]]:
    by_alias = {(f.alias or name): f for name, f in model.model_fields.items()}
    return tuple(by_alias), by_alias


def _aliases(model: type[BaseModel]) -> list[str]:
    return list(_aliases_cached(model)[0])


def _step(tp: Any, seg: str | int) -> tuple[Any, list[Any]] | None:
    base, _ = _unwrap(tp)
    # Custom container types (Headers) describe their document shape for this walk.
    shapes = getattr(base, "DOCUMENT_SHAPES", None)
    if shapes is not None:
        base = shapes[isinstance(seg, int)]
    origin = typing.get_origin(base)
    if isinstance(base, type) and issubclass(base, BaseModel) and isinstance(seg, str):
        field = _aliases_cached(base)[1].get(seg)
        return None if field is None else (field.annotation, list(field.metadata))
    if origin is list and isinstance(seg, int):
        return typing.get_args(base)[0], []
    if origin is dict and isinstance(seg, str):
        return typing.get_args(base)[1], []
    return None


def _resolve(model: type[BaseModel], path: Path) -> tuple[Any, list[Any]] | None:
    tp: Any = model
    metadata: list[Any] = []
    for seg in path:
        nxt = _step(tp, seg)
        if nxt is None:
            return None
        tp, metadata = nxt
    return tp, metadata


def _model_at(model: type[BaseModel], path: Path) -> type[BaseModel] | None:
    found = _resolve(model, path)
    return None if found is None else _model_class(found[0])


def _container_at(model: type[BaseModel], path: Path) -> str | None:
    found = _resolve(model, path)
    if found is None:
        return None
    base = _unwrap(found[0])[0]
    if getattr(base, "DOCUMENT_SHAPES", None) is not None:
        return "dict"
    origin = typing.get_origin(base)
    return "dict" if origin is dict else "list" if origin is list else None


def _expect_at(model: type[BaseModel], path: Path, *, dict_key: bool = False) -> str | None:
    found = _resolve(model, path)
    if found is None:
        return None
    tp, metadata = found
    if dict_key:
        base, _ = _unwrap(tp)
        base = getattr(base, "DOCUMENT_SHAPES", (base,))[0]
        if typing.get_origin(base) is not dict:
            return None
        tp, metadata = typing.get_args(base)[0], []
    _, more = _unwrap(tp)
    for item in metadata + more:
        if isinstance(item, Expect):
            return item.text
    return None
