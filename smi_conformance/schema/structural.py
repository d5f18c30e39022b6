"""A checker for what the Kubernetes API server requires of a CRD: structural schemas and sane version flags.

Two questions, two functions, so CRD mistakes are caught by ``make test`` without a cluster:

:func:`check_crd`: would the API server refuse it? Each rule below is one the apiextensions.k8s.io/v1
validation applies (with ``fieldValidation=Strict``, which kubectl sends); ``tests/kind/test_smi_crds.py``
sends the examples of ``tests/models/crd_checker_cases.py`` to a real API server, which must refuse them:

* every node states a non-empty ``type`` (root ``object``, properties, items), except nodes with
  ``x-kubernetes-int-or-string`` or ``x-kubernetes-preserve-unknown-fields``;
* inside ``allOf``/``anyOf``/``oneOf``/``not``: no ``type``, ``description``, ``default``,
  ``additionalProperties`` or ``nullable`` (except the int-or-string ``anyOf: [{type: integer}, {type:
  string}]``); a field named in a junctor at the root is also specified outside it;
* ``metadata`` has ``type: object`` and nothing else but ``properties`` restricting ``name`` and
  ``generateName`` (no ``default`` on them);
* only OpenAPI v3.0 keywords the API server knows (an unknown one such as ``const`` is a strict decoding
  error; without Strict it would be dropped silently): no ``$ref``, no ``uniqueItems: true``, ``items`` a
  single schema, ``additionalProperties`` neither at the root nor beside non-empty ``properties``;
* every ``pattern`` compiles as RE2 (Go's regexp: no lookaround, no backreferences);
* exactly one storage version; ``deprecationWarning`` only on deprecated versions; version names, plural and
  singular are DNS-1035 labels; metadata.name is ``<plural>.<group>``; printer columns are well-formed.

:func:`check_crd_pitfalls`: what the API server takes but cannot work as written (it accepts these, as the
same cases on a real API server show):

* no served version (nothing can be read or written);
* ``required`` naming a field the schema does not define (pruning removes it, so every object is refused);
* a field named in a junctor below the root but not specified outside it (the structural-schema rule the
  Kubernetes docs state; the API server enforces it for junctors at the root only, and the validation meant
  by such a junctor never applies to what pruning keeps);
* ``x-kubernetes-int-or-string`` with a ``type``: the type is ignored (integers and strings both pass).
"""

from __future__ import annotations

import re
from typing import Any

from smi_conformance.regex import RegexError, compile_re2  # the API server's Go regexes are RE2

_TYPES = {"object", "array", "string", "integer", "number", "boolean"}
_KEYWORDS = {
    "type", "format", "title", "description", "default", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "multipleOf", "enum", "maxProperties", "minProperties", "required", "items", "allOf", "oneOf", "anyOf",
    "not", "properties", "additionalProperties", "nullable", "example", "externalDocs",
}  # fmt: skip
_EXTENSIONS = {
    "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
    "x-kubernetes-validations",
}  # fmt: skip
_JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
_NOT_IN_JUNCTORS = ("type", "description", "default", "additionalProperties", "nullable")
_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class _Findings:
    def __init__(self) -> None:
        self.refused: list[str] = []
        self.pitfalls: list[str] = []


def check_crd(crd: dict[str, Any]) -> list[str]:
    """Every reason the API server would refuse ``crd`` (as far as these rules go); [] if it takes it."""
    return _check(crd).refused


def check_crd_pitfalls(crd: dict[str, Any]) -> list[str]:
    """What in ``crd`` the API server takes but that cannot work as written; [] if nothing."""
    return _check(crd).pitfalls


def _check(crd: dict[str, Any]) -> _Findings:
    findings = _Findings()
    errors = findings.refused
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    if crd.get("apiVersion") != "apiextensions.k8s.io/v1" or crd.get("kind") != "CustomResourceDefinition":
        errors.append("not an apiextensions.k8s.io/v1 CustomResourceDefinition")
    expected_name = f"{names.get('plural')}.{spec.get('group')}"
    if crd.get("metadata", {}).get("name") != expected_name:
        errors.append(f"metadata.name must be {expected_name!r}")
    for key in ("plural", "singular"):
        if not _DNS1035.match(str(names.get(key, ""))):
            errors.append(f"spec.names.{key} must be a lowercase DNS-1035 label")
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errors.append("spec.scope must be Namespaced or Cluster")
    versions = spec.get("versions", [])
    if sum(1 for v in versions if v.get("storage")) != 1:
        errors.append("exactly one version must be the storage version")
    if not any(v.get("served") for v in versions):
        findings.pitfalls.append("no version is served: the API server takes the CRD, but nothing can use it")
    if len({v.get("name") for v in versions}) != len(versions):
        errors.append("version names must be unique")
    for version in versions:
        where = f"spec.versions[{version.get('name')}]"
        if not _DNS1035.match(str(version.get("name", ""))):
            errors.append(f"{where}.name must be a DNS-1035 label")
        if "deprecationWarning" in version and not version.get("deprecated"):
            errors.append(f"{where}.deprecationWarning may only be set when deprecated is true")
        for column in version.get("additionalPrinterColumns", []):
            if column.get("type") not in ("integer", "number", "string", "boolean", "date"):
                errors.append(f"{where}: printer column {column.get('name')!r} has an invalid type")
            if not str(column.get("jsonPath", "")).startswith("."):
                errors.append(
                    f"{where}: printer column {column.get('name')!r} needs a jsonPath starting with '.'"
                )
        schema = version.get("schema", {}).get("openAPIV3Schema")
        if schema is None:
            errors.append(f"{where}.schema.openAPIV3Schema is required")
            continue
        version_findings = _Findings()
        _check_schema(schema, version_findings)
        errors.extend(f"{where}: {e}" for e in version_findings.refused)
        findings.pitfalls.extend(f"{where}: {e}" for e in version_findings.pitfalls)
    if spec.get("conversion", {}).get("strategy", "None") not in ("None", "Webhook"):
        errors.append("spec.conversion.strategy must be None or Webhook")
    return findings


def _check_schema(schema: dict[str, Any], findings: _Findings) -> None:
    errors = findings.refused
    root = "openAPIV3Schema"
    if schema.get("type") != "object":
        errors.append(f"{root}: the root must have type: object")
    if "additionalProperties" in schema:
        errors.append(f"{root}: additionalProperties is not allowed at the root")
    _check_node(schema, root, findings, in_junctor=False)
    for junctor, index, arm in _arms(schema):
        errors.extend(_incomplete(arm, schema, f"{root}.{junctor}[{index}]"))
    metadata = schema.get("properties", {}).get("metadata")
    if metadata is not None:
        extra = set(metadata) - {"type", "properties"}
        fields = set(metadata.get("properties", {})) - {"name", "generateName"}
        if metadata.get("type") != "object" or extra or fields:
            errors.append(f"{root}.properties.metadata: only type: object and name/generateName allowed")
        for name, field in metadata.get("properties", {}).items():
            if isinstance(field, dict) and "default" in field:
                errors.append(f"{root}.properties.metadata.{name}: no default in metadata")


def _check_node(node: Any, path: str, findings: _Findings, *, in_junctor: bool) -> None:
    errors = findings.refused
    if not isinstance(node, dict):
        errors.append(f"{path}: a schema must be an object")
        return
    for key in node:
        if key not in _KEYWORDS and key not in _EXTENSIONS:
            errors.append(f"{path}: unsupported keyword {key!r}")
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if in_junctor:
        for key in _NOT_IN_JUNCTORS:
            if key in node:
                errors.append(f"{path}: {key!r} is not allowed inside allOf/anyOf/oneOf/not")
    elif "type" not in node and not int_or_string and not preserve:
        errors.append(f"{path}: every node needs a type")
    if "type" in node and node["type"] not in _TYPES:
        errors.append(f"{path}: unknown type {node['type']!r}")
    if int_or_string and "type" in node:
        findings.pitfalls.append(f"{path}: x-kubernetes-int-or-string ignores type {node['type']!r}")
    additional = node.get("additionalProperties")
    if node.get("properties") and additional is not None:
        errors.append(f"{path}: properties and additionalProperties are mutually exclusive")
    if node.get("uniqueItems") is True:
        errors.append(f"{path}: uniqueItems: true is not allowed")
    if isinstance(node.get("pattern"), str):
        try:
            compile_re2(node["pattern"])
        except RegexError as exc:
            errors.append(f"{path}: pattern {node['pattern']!r} is not RE2 syntax ({exc.reason})")
    defined = set(node.get("properties", {}))
    if not in_junctor and not preserve and not isinstance(additional, dict) and "required" in node:
        missing = [r for r in node["required"] if r not in defined]
        if missing:
            findings.pitfalls.append(
                f"{path}: required names fields that are not in properties ({', '.join(missing)}): "
                "pruning removes them, so no object can be valid"
            )
    for name, child in node.get("properties", {}).items():
        _check_node(child, f"{path}.properties.{name}", findings, in_junctor=in_junctor)
    if isinstance(additional, dict):
        _check_node(additional, f"{path}.additionalProperties", findings, in_junctor=in_junctor)
    if "items" in node:
        if isinstance(node["items"], list):
            errors.append(f"{path}.items: must be a single schema")
        else:
            _check_node(node["items"], f"{path}.items", findings, in_junctor=in_junctor)
    for junctor, index, arm in _arms(node):
        if junctor == "anyOf" and int_or_string and node["anyOf"] == _INT_OR_STRING:
            continue
        arm_path = f"{path}.{junctor}[{index}]"
        _check_node(arm, arm_path, findings, in_junctor=True)
        if not in_junctor and path != "openAPIV3Schema":
            findings.pitfalls.extend(
                f"{e} (the API server checks this only at the root; below it, the rule never applies)"
                for e in _incomplete(arm, node, arm_path)
            )


def _arms(node: dict[str, Any]) -> list[tuple[str, int, Any]]:
    out: list[tuple[str, int, Any]] = []
    for junctor in _JUNCTORS:
        if junctor in node:
            arms = [node[junctor]] if junctor == "not" else node[junctor]
            out.extend((junctor, index, arm) for index, arm in enumerate(arms))
    return out


def _incomplete(arm: Any, structure: Any, path: str) -> list[str]:
    """Fields and items a junctor arm names that the structural part (``structure``) does not specify."""
    if not isinstance(arm, dict):
        return []
    structure = structure if isinstance(structure, dict) else {}
    out = []
    for name, sub in arm.get("properties", {}).items():
        if name not in structure.get("properties", {}):
            out.append(f"{path}: field {name!r} must also be specified outside the junctor")
        else:
            out.extend(_incomplete(sub, structure["properties"][name], f"{path}.properties.{name}"))
    if "items" in arm:
        if "items" not in structure:
            out.append(f"{path}: items must also be specified outside the junctor")
        else:
            out.extend(_incomplete(arm["items"], structure["items"], f"{path}.items"))
    for junctor, index, nested in _arms(arm):
        out.extend(_incomplete(nested, structure, f"{path}.{junctor}[{index}]"))
    return out
