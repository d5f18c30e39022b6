"""HTTP header filters of an HTTPRouteGroup match: header name -> regex.

The spec's docs and the smi-controller-sdk CRD write them as a map (``user-agent: ".*Android.*"``); the
smi-sdk-go CRD and the v1alpha5 draft as a list of one-key maps (``- user-agent: ".*Android.*"``). Both are
accepted and normalised to a map; :class:`Headers` remembers which form the document used so that dumping it
gives the same form back.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Annotated, Any, ClassVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from smi_conformance.models._base import TYPE, VALUE, Expect, located_error
from smi_conformance.models.problems import UNION_TAGS

# RFC 9110 field-name: a token.
HEADER_NAME_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
_MAP_TAG = "headers:map"
_LIST_TAG = "headers:list"
UNION_TAGS.update({_MAP_TAG, _LIST_TAG})

# Set while generating CRDs: a structural schema cannot say "map or list", so CRDs describe the map form only.
CRD_SCHEMA_MODE: ContextVar[bool] = ContextVar("CRD_SCHEMA_MODE", default=False)


HeaderName = Annotated[str, Expect("an HTTP header name (letters, digits and any of !#$%&'*+.^_`|~-)")]


class Headers(dict[str, str]):
    """Header name -> regex; all must match (AND). ``listed`` is True when the document used the list form."""

    listed: bool
    # For error messages: the node types below a Headers, by key (map form) and by index (list form).
    DOCUMENT_SHAPES: ClassVar[tuple[Any, Any]] = (dict[HeaderName, str], list[dict[HeaderName, str]])

    def __init__(self, items: Any = (), *, listed: bool = False) -> None:
        super().__init__(items)
        self.listed = listed

    def __repr__(self) -> str:
        return f"Headers({dict(self)!r}{', listed=True' if self.listed else ''})"

    def as_document(self) -> dict[str, str] | list[dict[str, str]]:
        """The form the document used: a map, or a list of one-key maps."""
        return [{k: v} for k, v in self.items()] if self.listed else dict(self)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        name = core_schema.str_schema(strict=True, pattern=HEADER_NAME_PATTERN)
        value = core_schema.str_schema(strict=True)
        as_map = core_schema.dict_schema(name, value, strict=True)
        as_list = core_schema.no_info_after_validator_function(
            _join_list_form,
            core_schema.list_schema(core_schema.dict_schema(name, value, strict=True), strict=True),
        )
        either = core_schema.tagged_union_schema(
            choices={_MAP_TAG: as_map, _LIST_TAG: as_list},
            discriminator=_form,
            custom_error_type=TYPE,
            custom_error_message=(
                "must be a mapping of header name to regex (or a list of one-key mappings), "
                "got something else"
            ),
        )
        return core_schema.no_info_after_validator_function(
            _to_headers,
            either,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda h: h.as_document() if isinstance(h, Headers) else dict(h)
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        as_map = {
            "type": "object",
            "propertyNames": {"pattern": HEADER_NAME_PATTERN},
            "additionalProperties": {"type": "string"},
        }
        if CRD_SCHEMA_MODE.get():
            return {"type": "object", "additionalProperties": {"type": "string"}}
        as_list = {"type": "array", "items": {**as_map, "minProperties": 1, "maxProperties": 1}}
        return {"anyOf": [as_map, as_list]}


def _form(value: Any) -> str | None:
    if isinstance(value, dict):
        return _MAP_TAG
    if isinstance(value, list):
        return _LIST_TAG
    return None


class _Listed(list[tuple[str, str]]):
    """Marks list-form input on its way through the after-validators."""


def _join_list_form(items: list[dict[str, str]]) -> _Listed:
    joined = _Listed()
    seen: set[str] = set()
    for index, item in enumerate(items):
        if len(item) != 1:
            raise located_error((index,), VALUE, f"must hold exactly one header, got {len(item)}", item)
        ((name, regex),) = item.items()
        if name in seen:
            raise located_error(
                (index, name),
                VALUE,
                "must not repeat a header listed earlier (give one regex per header)",
                regex,
            )
        seen.add(name)
        joined.append((name, regex))
    return joined


def _to_headers(value: Any) -> Headers:
    if isinstance(value, Headers):
        return value
    return Headers(value, listed=isinstance(value, _Listed))
