"""A checker for what the Kubernetes API server requires of a CRD: structural schemas and sane version flags.

Written from the apiextensions.k8s.io/v1 rules ("Specifying a structural schema" in the Kubernetes docs and
the validation of CustomResourceDefinitions), so CRD mistakes are caught by ``make test`` without a cluster:

* every node states a non-empty ``type`` (root, properties, additionalProperties, items), except nodes with
  ``x-kubernetes-int-or-string`` or ``x-kubernetes-preserve-unknown-fields``;
* inside ``allOf``/``anyOf``/``oneOf``/``not``: no ``type``, ``description``, ``default``,
  ``additionalProperties`` or ``nullable`` (except the int-or-string ``anyOf: [{type: integer}, {type:
  string}]``), and any field named there is also specified outside;
* ``metadata`` restricts at most ``name`` and ``generateName``;
* only OpenAPI v3.0 keywords the API server knows: no ``$ref``, ``const``, ``propertyNames``, ``if``..., no
  ``additionalProperties: false`` next to ``properties``, no ``uniqueItems: true``;
* exactly one storage version, at least one served; ``deprecationWarning`` only on deprecated versions;
  metadata.name is ``<plural>.<group>``.

A real API server check is still worth running (the kind/apiserver work); this one is the fast guard.
"""

from __future__ import annotations

import re
from typing import Any

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


def check_crd(crd: dict[str, Any]) -> list[str]:
    """Every reason the API server would refuse ``crd`` (as far as these rules go); [] if it takes it."""
    errors: list[str] = []
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
        errors.append("at least one version must be served")
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
        errors.extend(f"{where}: {e}" for e in check_structural(schema))
    if spec.get("conversion", {}).get("strategy", "None") not in ("None", "Webhook"):
        errors.append("spec.conversion.strategy must be None or Webhook")
    return errors


def check_structural(schema: dict[str, Any]) -> list[str]:
    """Structural-schema violations of one openAPIV3Schema, each with its path."""
    errors: list[str] = []
    if schema.get("type") != "object":
        errors.append("openAPIV3Schema: the root must have type: object")
    _check_node(schema, "openAPIV3Schema", errors, in_junctor=False)
    metadata = schema.get("properties", {}).get("metadata")
    if metadata is not None:
        extra = set(metadata) - {"type", "properties"}
        fields = set(metadata.get("properties", {})) - {"name", "generateName"}
        if metadata.get("type") != "object" or extra or fields:
            errors.append(
                "openAPIV3Schema.properties.metadata: only type: object and name/generateName allowed"
            )
        for name, field in metadata.get("properties", {}).items():
            if set(field) - {"type", "pattern", "maxLength", "minLength", "description"}:
                errors.append(f"openAPIV3Schema.properties.metadata.{name}: only string restrictions allowed")
    return errors


def _check_node(node: Any, path: str, errors: list[str], *, in_junctor: bool) -> None:
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
        errors.append(f"{path}: x-kubernetes-int-or-string nodes must not set a type")
    if "properties" in node and "additionalProperties" in node:
        errors.append(f"{path}: properties and additionalProperties are mutually exclusive")
    if node.get("additionalProperties") is False:
        errors.append(f"{path}: additionalProperties: false is not allowed")
    if node.get("uniqueItems") is True:
        errors.append(f"{path}: uniqueItems: true is not allowed")
    if "required" in node and not set(node["required"]) <= set(node.get("properties", {})) and not in_junctor:
        errors.append(f"{path}: required names fields that are not in properties")
    for name, child in node.get("properties", {}).items():
        _check_node(child, f"{path}.properties.{name}", errors, in_junctor=in_junctor)
    if isinstance(node.get("additionalProperties"), dict):
        _check_node(
            node["additionalProperties"], f"{path}.additionalProperties", errors, in_junctor=in_junctor
        )
    if "items" in node:
        if isinstance(node["items"], list):
            errors.append(f"{path}.items: must be a single schema")
        else:
            _check_node(node["items"], f"{path}.items", errors, in_junctor=in_junctor)
    for junctor in _JUNCTORS:
        if junctor not in node:
            continue
        arms = [node[junctor]] if junctor == "not" else node[junctor]
        if junctor == "anyOf" and int_or_string and arms == _INT_OR_STRING:
            continue
        for index, arm in enumerate(arms):
            arm_path = f"{path}.{junctor}[{index}]"
            _check_node(arm, arm_path, errors, in_junctor=True)
            for name in arm.get("properties", {}) if isinstance(arm, dict) else ():
                if name not in node.get("properties", {}):
                    errors.append(f"{arm_path}: field {name!r} must also be specified outside {junctor}")
