"""JSON Schema (draft 2020-12) for every SMI kind and version, generated from the models.

A schema accepts the documents the model accepts, as JSON: same fields, types, name formats, Quantity and
header forms. A few model rules have no JSON Schema equivalent and are checked by the models only: annotation
size (256 KiB in total), Quantity magnitude and precision (at most 2^63-1, multiples of 1n), a header listed
twice in the list form, and an access v1alpha4 subject's ``group`` matching its ``kind``. YAML timestamps must
be strings here (JSON has no datetime), while the models also take the datetimes a YAML loader produces.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from smi_conformance.models.headers import CRD_SCHEMA_MODE
from smi_conformance.models.registry import KindInfo

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
JsonSchema = dict[str, Any]


@cache
def _model_schema(model: type, crd_mode: bool) -> JsonSchema:
    """Cached per mode: custom types (Headers) describe themselves differently for CRDs."""
    return model.model_json_schema(mode="validation")  # type: ignore[attr-defined, no-any-return]


def json_schema(info: KindInfo) -> JsonSchema:
    """The JSON Schema of one kind and version (a fresh copy; callers may change it)."""
    schema = _tidy(copy.deepcopy(_model_schema(info.model, CRD_SCHEMA_MODE.get())))
    properties = schema["properties"]
    properties["apiVersion"] = {"const": info.api_version, "description": "Group and version of this schema."}
    properties["kind"] = {"const": info.kind, "description": "The kind of object."}
    return {
        "$schema": SCHEMA_DIALECT,
        "title": f"{info.kind} ({info.api_version})",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def report_json_schema() -> JsonSchema:
    """The JSON Schema of the ConformanceReport a conformance run writes (YAML or JSON), with the model's
    field docstrings as descriptions."""
    from smi_conformance.report.model import API_VERSION, ConformanceReport

    schema = _tidy(ConformanceReport.model_json_schema(mode="validation"))
    return {
        "$schema": SCHEMA_DIALECT,
        "title": f"ConformanceReport ({API_VERSION})",
        **{k: v for k, v in schema.items() if k != "title"},
    }


#: Where the report's schema lives under schemas/json, in the same {group}/{kind}_{version} layout as the SMI
#: kinds (so kubeconform can check a report too).
REPORT_SCHEMA_PATH = "conformance.smi-conformance.io/conformancereport_v1alpha1.json"


def json_schema_path(info: KindInfo) -> str:
    """Where the schema lives under schemas/json: ``{group}/{kind}_{version}.json``, the layout kubeconform's
    ``-schema-location '.../{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json'`` expects."""
    return f"{info.group}/{info.kind.lower()}_{info.version}.json"


def _tidy(node: Any) -> Any:
    """Drop pydantic's generated titles and ``default: null``; turn key patterns into ``propertyNames``
    (pydantic emits ``patternProperties``, which would let keys that do not match through)."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "default" and value is None:
            continue
        if key == "description" and isinstance(value, str):
            out[key] = value.replace("``", "`")
            continue
        if key in ("properties", "$defs"):
            out[key] = {name: _tidy(schema) for name, schema in value.items()}
        else:
            out[key] = _tidy(value)
    patterns = out.pop("patternProperties", None)
    if patterns:
        ((pattern, values),) = patterns.items()
        out["propertyNames"] = {"pattern": pattern}
        out["additionalProperties"] = values
    return out
