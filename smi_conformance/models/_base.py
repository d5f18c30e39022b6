"""The base class every SMI model derives from, and the markers that shape their error messages.

Strictness is the point: SMI manifests are hand-written YAML, and a silently coerced ``weight: "10"`` or a
misspelt ``pathRegex`` is exactly the mistake users want caught before a mesh ignores it. So every model
forbids unknown fields and validates in pydantic's strict mode (no str -> int, no int -> str, no float ->
int).

The model modules (this one, meta, split, access, specs, metrics) do not use ``from __future__ import
annotations``: with it, pydantic evaluates every field's annotation from its text when a class is defined, and
again for each subclass (every version's class re-reads its bases' fields), which was a quarter of what
defining the classes cost (``smi lint`` of a small file defines them at start-up).
"""

# No `from __future__ import annotations` here: see above.
import ast
import inspect
import itertools
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError, ValidationError, core_schema

# Problem kinds (see problems.Problem.kind); custom errors raised by our validators carry one of these types.
FORMAT = "smi_format"
VALUE = "smi_value"
TYPE = "smi_type"
MISSING = "smi_missing"
ProblemKind = Literal["unknown-field", "missing-field", "type", "value", "format"]
CUSTOM_KINDS: dict[str, ProblemKind] = {
    FORMAT: "format",
    VALUE: "value",
    TYPE: "type",
    MISSING: "missing-field",
}


@dataclass(frozen=True)
class Expect:
    """Annotated marker: how to finish "<field> must be ..." for a rejected value ("an integer >= 0")."""

    text: str


def custom_error(kind: str, message: str) -> PydanticCustomError:
    """An error whose message is already final (no pydantic wording); ``kind`` is FORMAT, VALUE or TYPE."""
    return PydanticCustomError(kind, message.replace("{", "{{").replace("}", "}}"))


def plain_schema(validate: Callable[[Any], Any], serialize: Callable[[Any], Any]) -> core_schema.CoreSchema:
    """The core schema of a custom type validated by one function (which sees any input) and written back by
    another."""
    return core_schema.no_info_plain_validator_function(
        validate, serialization=core_schema.plain_serializer_function_ser_schema(serialize)
    )


def located_error(loc: tuple[str | int, ...], kind: str, message: str, value: Any) -> ValidationError:
    """An error at ``loc`` below the node being validated (pydantic prefixes the node's own location)."""
    return ValidationError.from_exception_data(
        "SMI", [{"type": custom_error(kind, message), "loc": loc, "input": value}]
    )


class SMIModel(BaseModel):
    """Strict, immutable pydantic model using the Kubernetes camelCase names in documents.

    Documents are validated by alias only (``pathRegex``, never ``path_regex``), so a snake_case key in YAML
    is an unknown field, as the API server would see it.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        hide_input_in_errors=False,
        defer_build=True,
        json_schema_extra=lambda schema, cls: _describe(schema, cls),
    )

    SCHEMA_EXTRA: ClassVar[dict[str, Any]] = {}
    """JSON Schema keywords a model adds for rules its field types do not express (e.g. minProperties)."""


def _describe(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    """Fill property descriptions from the attribute docstrings under each field, when a schema is generated.

    pydantic's ``use_attribute_docstrings`` would read every class's source at import time, which is most of
    what importing the models costs; descriptions are only needed for JSON Schemas and CRDs.
    """
    properties = schema.get("properties", {})
    for name, text in _attribute_docstrings(cls).items():
        field = cls.model_fields.get(name)
        if field is not None and (field.alias or name) in properties:
            properties[field.alias or name].setdefault("description", text)
    schema.update(getattr(cls, "SCHEMA_EXTRA", {}))


@cache
def _attribute_docstrings(cls: type) -> dict[str, str]:
    """``{field: docstring}`` for fields followed by a string literal, in ``cls`` and its bases."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass in (object, BaseModel) or not issubclass(klass, BaseModel):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                found[node.target.id] = inspect.cleandoc(after.value.value)
    return found


class SMIObject(SMIModel):
    """A top-level SMI document. Subclasses narrow ``api_version`` and ``kind`` to Literals and declare
    ``metadata``; the ClassVars say which (group, versions, kind) the class models."""

    GROUP: ClassVar[str]
    VERSIONS: ClassVar[tuple[str, ...]]
    """Versions this class validates; several only for the draft's aliases (v1alpha5, v1alpha5-draft)."""
    KIND: ClassVar[str]

    api_version: str
    """Group and version of the schema this object follows."""
    kind: str
    """The kind of object."""


def describe_value(value: Any) -> str:
    """A short, YAML-flavoured description of an offending input for messages ("'10' (a string)", "null")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"{text!r} (a string)"
    if isinstance(value, int):
        digits = getattr(value, "digits", None)  # smi_conformance._yamlparse.HugeInt: too long to convert
        if isinstance(digits, int):
            return f"an integer of {digits} digits"
        if value.bit_length() > 64:  # str() of huge ints is slow, and refused above 4300 digits
            return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
        return repr(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"
