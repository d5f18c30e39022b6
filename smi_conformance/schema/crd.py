"""apiextensions.k8s.io/v1 CustomResourceDefinitions for the SMI kinds, built from the models' JSON Schemas.

Which versions a CRD serves
---------------------------
Without a conversion webhook (``conversion.strategy: None``) the API server converts an object between
versions by rewriting its apiVersion and nothing else. Serving two versions is therefore only safe when their
schemas are identical: otherwise a client of one version reads fields it does not know (and an update through
it prunes them) or gets values of the wrong type. The rule here, applied by :func:`served_versions`:

* the storage version is the kind's latest release;
* another version is served only if its schema equals the storage version's (so TrafficSplit v1alpha3 and
  HTTPRouteGroup v1alpha3, identical to their v1alpha4, are served, marked deprecated with a warning that
  names ``smi convert``);
* every other version stays in the CRD with ``served: false``: its schema documents it, and a cluster
  that once stored it (an older SMI CRD set) can still take this CRD, as the API server refuses to drop a
  version that is listed in ``status.storedVersions``. Experimental versions (access v1alpha4) are never
  served by the main set.

IdentityBinding exists only in the experimental access v1alpha4; its CRD lives apart (``crds/experimental/``)
so installing the main set never installs an unreleased API. The v1alpha5 draft has no CRD: it is not an API
version. TrafficMetrics is an aggregated API, not a CRD.

Structural schemas
------------------
The JSON Schemas become structural OpenAPI v3 schemas: ``$ref`` inlined, ``null`` branches dropped (the API
server prunes nulls, which reads as "absent" exactly as the models do), Quantities as
``x-kubernetes-int-or-string``, ``additionalProperties: false`` removed (not allowed beside ``properties``;
unknown fields are pruned, or rejected with ``kubectl --validate=strict``), ``propertyNames`` removed (no
such keyword: map keys such as header names go unchecked; a CEL rule for them exceeds the API server's cost
budget unless the spec bounded the maps), ``const`` as one-value ``enum``, ``metadata`` as a plain object
(the API server checks names, labels and annotations itself). docs/crd-differences.md lists what the API
server checks differently from the models, as a real API server shows (``tests/kind/test_smi_crds.py``).
Header filters are described in their map form only: a structural schema
cannot say "map or list", and the map is the form the docs and the smi-controller-sdk use (documents in list
form are still accepted by the models and the JSON Schemas, and the linter reports which CRD set would reject
them).
"""

from __future__ import annotations

from typing import Any

from smi_conformance.models.headers import CRD_SCHEMA_MODE
from smi_conformance.models.registry import KindInfo, kinds
from smi_conformance.schema.jsonschema import JsonSchema

GENERATED_NOTE = "Generated from smi_conformance.models by `make schemas`; do not edit."


class _Names:
    def __init__(self, singular: str, short: list[str]) -> None:
        self.singular = singular
        self.short = short


NAMES = {
    "TrafficSplit": _Names("trafficsplit", ["ts"]),
    "TrafficTarget": _Names("traffictarget", ["tt"]),
    "IdentityBinding": _Names("identitybinding", ["ib"]),
    "HTTPRouteGroup": _Names("httproutegroup", ["htr"]),
    "TCPRoute": _Names("tcproute", ["tr"]),
    "UDPRoute": _Names("udproute", ["ur"]),
}

PRINTER_COLUMNS: dict[str, list[dict[str, str]]] = {
    "TrafficSplit": [
        {"name": "Service", "type": "string", "description": "The root service.", "jsonPath": ".spec.service"}
    ],
    "TrafficTarget": [
        {
            "name": "Destination",
            "type": "string",
            "description": "The destination identity.",
            "jsonPath": ".spec.destination.name",
        }
    ],
}
_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def crd_versions(kind_versions: list[KindInfo]) -> list[KindInfo]:
    """The versions a CRD describes: every version of the kind except drafts (not API versions)."""
    return [i for i in kind_versions if not i.version.startswith("v1alpha5")]


def structural_schema(info: KindInfo) -> JsonSchema:
    """The openAPIV3Schema of one version."""
    from smi_conformance.schema.jsonschema import json_schema

    token = CRD_SCHEMA_MODE.set(True)
    try:
        schema = json_schema(info)
    finally:
        CRD_SCHEMA_MODE.reset(token)
    defs = schema.pop("$defs", {})
    body = _structural(_inline(schema, defs))
    properties = body["properties"]
    properties["apiVersion"] = {
        "type": "string",
        "description": "Group and version of the schema this object follows.",
    }
    properties["kind"] = {"type": "string", "description": "The kind of object."}
    properties["metadata"] = {"type": "object"}
    properties.pop("status", None)  # SMI defines no status
    body["required"] = [r for r in body.get("required", []) if r not in ("apiVersion", "kind", "metadata")]
    if not body["required"]:
        del body["required"]
    return {"description": body.pop("description", ""), **body}


def served_versions(kind_versions: list[KindInfo]) -> dict[str, tuple[bool, bool]]:
    """version -> (served, storage), by the rule in the module docstring."""
    candidates = crd_versions(kind_versions)
    storage = next(i for i in candidates if i.version == i.latest.rpartition("/")[2])
    storage_schema = _shape(structural_schema(storage))
    out = {}
    for info in candidates:
        same = info.status != "experimental" and _shape(structural_schema(info)) == storage_schema
        out[info.version] = (info is storage or same, info is storage)
    return out


def crd(kind_versions: list[KindInfo]) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind, from its KindInfos."""
    first = kind_versions[0]
    names = NAMES[first.kind]
    flags = served_versions(kind_versions)
    storage = next(v for v, (_, stored) in flags.items() if stored)
    versions = []
    for info in crd_versions(kind_versions):
        served, stored = flags[info.version]
        entry: dict[str, Any] = {"name": info.version, "served": served, "storage": stored}
        if served and not stored:
            entry["deprecated"] = True
            entry["deprecationWarning"] = (
                f"{info.api_version} {info.kind} is superseded by {info.latest}; "
                f"upgrade manifests with: smi convert --to {storage}"
            )
        columns = PRINTER_COLUMNS.get(info.kind)
        if columns:
            entry["additionalPrinterColumns"] = [dict(c) for c in (*columns, _AGE)]
        entry["schema"] = {"openAPIV3Schema": structural_schema(info)}
        versions.append(entry)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{first.plural}.{first.group}",
            "annotations": {"smi-conformance.io/generated": GENERATED_NOTE},
        },
        "spec": {
            "group": first.group,
            "names": {
                "kind": first.kind,
                "listKind": f"{first.kind}List",
                "plural": first.plural,
                "singular": names.singular,
                "shortNames": names.short,
                "categories": ["smi"],
            },
            "scope": "Namespaced" if first.namespaced else "Cluster",
            "versions": versions,
            "conversion": {"strategy": "None"},
        },
    }


def crds() -> dict[str, dict[str, Any]]:
    """Every CRD, by file path under schemas/crds/ (experimental kinds under experimental/)."""
    by_kind: dict[tuple[str, str], list[KindInfo]] = {}
    for info in kinds():
        if info.api == "crd":
            by_kind.setdefault((info.group, info.kind), []).append(info)
    out = {}
    for (group, _), infos in by_kind.items():
        experimental = all(i.status == "experimental" for i in infos)
        path = f"{'experimental/' if experimental else ''}{group}_{infos[0].plural}.yaml"
        out[path] = crd(infos)
    return out


def _shape(node: Any) -> Any:
    """A schema without its descriptions: what decides whether two versions accept the same objects."""
    if isinstance(node, list):
        return [_shape(n) for n in node]
    if isinstance(node, dict):
        return {k: _shape(v) for k, v in node.items() if k != "description"}
    return node


# ---- JSON Schema -> structural OpenAPI v3 ----

_DROP = {"$schema", "title", "propertyNames", "examples", "$comment"}
_INT64_MAX = 2**63 - 1


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = _inline(defs[node["$ref"].rpartition("/")[2]], defs)
        extra = {k: _inline(v, defs) for k, v in node.items() if k != "$ref"}
        return {**target, **extra}
    return {k: _inline(v, defs) for k, v in node.items()}


def _structural(node: Any) -> Any:
    if isinstance(node, list):
        return [_structural(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    arms = node.get("anyOf")
    if arms is not None:
        arms = [a for a in arms if a != {"type": "null"}]
        if len(arms) == 1:
            del node["anyOf"]
            node = {**arms[0], **node}
        elif _is_int_or_string(arms):
            del node["anyOf"]
            integer = next(a for a in arms if a.get("type") == "integer")
            string = next(a for a in arms if a.get("type") == "string")
            node.update({k: v for k, v in integer.items() if k != "type"})
            node.update({k: v for k, v in string.items() if k != "type"})
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
            node["x-kubernetes-int-or-string"] = True
        else:  # e.g. "one of these fields", [{required: [a]}, {required: [b]}]: the API server takes it
            node["anyOf"] = arms
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or (key == "additionalProperties" and value is False):
            continue
        if key in ("maximum", "minimum") and abs(value) == _INT64_MAX:
            continue  # the API server's own int64 bound
        if key == "const":
            out["enum"] = [value]
            out.setdefault("type", "string")
        elif key == "properties":
            if value:  # the API server drops an empty `properties` (a CRD would never match its manifest)
                out[key] = {name: _structural(schema) for name, schema in value.items()}
        elif key == "anyOf" and node.get("x-kubernetes-int-or-string"):
            out[key] = value
        else:
            out[key] = _structural(value)
    return out


def _is_int_or_string(arms: list[dict[str, Any]]) -> bool:
    return sorted(a.get("type", "") for a in arms) == ["integer", "string"]


def crds_for_versions(
    versions: dict[str, str], *, labels: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The CRDs of the kinds that exist in ``versions`` (group -> version), each serving and storing only
    that version: what a mesh that reads one version per group installs (Traefik Mesh refuses to start
    unless each group's preferred version is the one it reads, so the main set, which prefers the latest,
    will not do). Same schemas as the main set; kinds not in that version are left out."""
    out = []
    for path, full in sorted(crds().items()):
        group = full["spec"]["group"]
        if path.startswith("experimental/") or group not in versions:
            continue
        kept = [v for v in full["spec"]["versions"] if v["name"] == versions[group]]
        if not kept:
            continue
        version = {k: v for k, v in kept[0].items() if k not in ("deprecated", "deprecationWarning")}
        version.update(served=True, storage=True)
        metadata = {**full["metadata"], **({"labels": dict(labels)} if labels else {})}
        out.append({**full, "metadata": metadata, "spec": {**full["spec"], "versions": [version]}})
    return out
