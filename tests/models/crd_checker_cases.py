"""CRDs and what the Kubernetes API server does with them: the structural checker's rules, as examples.

Shared by ``test_schema_files.py`` (the checker, fast, no cluster) and ``tests/kind/test_smi_crds.py`` (the
same CRDs sent to a real API server with ``fieldValidation=Strict``), so the checker's rules stay the API
server's rules. Each case changes the first version of our UDPRoute CRD.

* REFUSED: the API server refuses them; ``check_crd`` says why (a part of its message is given).
* PITFALLS: the API server takes them, but they cannot work as written; ``check_crd`` passes them and
  ``check_crd_pitfalls`` says why.
* ACCEPTED: the API server takes them and they are fine; both checks pass them. Each is a case where an
  earlier, stricter reading of the rules was wrong.
"""

from __future__ import annotations

import copy
from typing import Any

from smi_conformance.schema.crd import crds

Case = tuple[str, dict[str, Any], str]
"""(id, CRD, a part of the checker's message)"""


def _crd(**changes: Any) -> dict[str, Any]:
    crd = copy.deepcopy(crds()["specs.smi-spec.io_udproutes.yaml"])
    version = crd["spec"]["versions"][0]
    for key, value in changes.items():
        if key == "schema":
            version["schema"]["openAPIV3Schema"] = value
        else:
            version[key] = value
    return crd


def _field(schema: dict[str, Any]) -> dict[str, Any]:
    """A CRD whose root has one property, ``a``, with this schema."""
    return _crd(schema={"type": "object", "properties": {"a": schema}})


def _metadata(name: dict[str, Any]) -> dict[str, Any]:
    """A CRD restricting metadata.name with this schema."""
    return _crd(
        schema={
            "type": "object",
            "properties": {"metadata": {"type": "object", "properties": {"name": name}}},
        }
    )


_STRING = {"type": "string"}

REFUSED: list[Case] = [
    (
        "root-untyped",
        _crd(schema={"properties": {"spec": {"type": "object"}}}),
        "root must have type: object",
    ),
    (
        "field-untyped",
        _crd(schema={"type": "object", "properties": {"spec": {"properties": {}}}}),
        "needs a type",
    ),
    ("ref", _field({"$ref": "#/x"}), "unsupported keyword '$ref'"),
    ("const", _field({"type": "string", "const": "x"}), "unsupported keyword 'const'"),
    ("type-null", _field({"type": "null"}), "unknown type 'null'"),
    (
        "root-additional-properties",
        _crd(schema={"type": "object", "properties": {"a": _STRING}, "additionalProperties": False}),
        "not allowed at the root",
    ),
    (
        "properties-and-additional-properties",
        _field({"type": "object", "properties": {"b": _STRING}, "additionalProperties": _STRING}),
        "mutually exclusive",
    ),
    (
        "properties-and-no-additional-properties",
        _field({"type": "object", "properties": {"b": _STRING}, "additionalProperties": False}),
        "mutually exclusive",
    ),
    ("unique-items", _field({"type": "array", "items": _STRING, "uniqueItems": True}), "uniqueItems"),
    ("items-tuple", _field({"type": "array", "items": [_STRING]}), "must be a single schema"),
    ("type-in-junctor", _field({"anyOf": [_STRING, {"type": "integer"}]}), "'type' is not allowed inside"),
    (
        "nullable-in-junctor",
        _field({"type": "string", "anyOf": [{"nullable": True}]}),
        "'nullable' is not allowed",
    ),
    ("description-in-junctor", _field({"type": "string", "anyOf": [{"description": "x"}]}), "'description'"),
    (
        "root-junctor-names-undefined-field",
        _crd(
            schema={
                "type": "object",
                "properties": {"a": _STRING},
                "anyOf": [{"properties": {"b": {"maxLength": 3}}}],
            }
        ),
        "'b' must also be specified outside",
    ),
    (
        "root-junctor-names-undefined-nested-field",
        _crd(
            schema={
                "type": "object",
                "properties": {"spec": {"type": "object"}},
                "anyOf": [{"properties": {"spec": {"properties": {"b": {"maxLength": 3}}}}}],
            }
        ),
        "'b' must also be specified outside",
    ),
    ("pattern-not-re2", _field({"type": "string", "pattern": "^(?=a)"}), "not RE2 syntax"),
    (
        "metadata-labels",
        _crd(
            schema={
                "type": "object",
                "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}},
            }
        ),
        "metadata",
    ),
    (
        "metadata-described",
        _crd(schema={"type": "object", "properties": {"metadata": {"type": "object", "description": "x"}}}),
        "metadata",
    ),
    ("metadata-name-default", _metadata({"type": "string", "default": "x"}), "no default in metadata"),
    ("no-storage-version", _crd(storage=False), "exactly one version must be the storage version"),
    ("warning-not-deprecated", _crd(deprecationWarning="old"), "deprecationWarning may only be set"),
    ("version-name", _crd(name="V1"), "DNS-1035"),
    (
        "printer-column-type",
        _crd(additionalPrinterColumns=[{"name": "x", "type": "map", "jsonPath": ".spec"}]),
        "invalid type",
    ),
    (
        "printer-column-path",
        _crd(additionalPrinterColumns=[{"name": "x", "type": "string", "jsonPath": "spec"}]),
        "jsonPath starting with '.'",
    ),
]

PITFALLS: list[Case] = [
    ("nothing-served", _crd(served=False), "no version is served"),
    (
        "required-undefined",
        _crd(schema={"type": "object", "required": ["spec"], "properties": {}}),
        "required names fields that are not in properties (spec)",
    ),
    (
        "nested-junctor-names-undefined-field",
        _field({"type": "object", "anyOf": [{"properties": {"b": {"maxLength": 3}}}]}),
        "'b' must also be specified outside the junctor (the API server checks this only at the root",
    ),
    (
        "int-or-string-typed",
        _field({"x-kubernetes-int-or-string": True, "type": "string"}),
        "ignores type 'string'",
    ),
]

ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    (
        "junctor-of-required",
        _field(
            {
                "type": "object",
                "properties": {"b": _STRING, "c": _STRING},
                "anyOf": [{"required": ["b"]}, {"required": ["c"]}],
            }
        ),
    ),
    (
        "empty-properties-and-additional-properties",
        _field({"type": "object", "properties": {}, "additionalProperties": _STRING}),
    ),
    ("no-additional-properties", _field({"type": "object", "additionalProperties": False})),
    (
        "int-or-string",
        _field({"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}),
    ),
    ("metadata-name-enum", _metadata({"type": "string", "enum": ["a"], "description": "x"})),
    ("metadata-name-format", _metadata({"type": "string", "format": "hostname"})),
]
