"""Differences between two CustomResourceDefinitions of the same kind, as comparable records.

Used to compare the generated CRDs with the official ones (smi-sdk-go, smi-controller-sdk); the test that does
so requires every difference to be listed, with its reason, in docs/crd-differences.md. Descriptions are
ignored; everything that changes what the API server accepts, stores or shows is compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_NODE_ASPECTS = (
    "type",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "enum",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "nullable",
)


@dataclass(frozen=True, order=True)
class Difference:
    """One way two CRDs of a kind differ. ``path`` is a field path such as ``spec.backends[].weight``
    (``{}`` stands for a map's values), or ``(crd)`` / ``(version)`` for CRD- and version-level settings."""

    kind: str
    version: str
    path: str
    aspect: str
    ours: str
    theirs: str

    def __str__(self) -> str:
        return f"{self.kind} {self.version} {self.path} {self.aspect}: ours {self.ours}, theirs {self.theirs}"


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, sorted(value, key=str))) + "]"
    return str(value)


def compare_crds(ours: dict[str, Any], theirs: dict[str, Any]) -> list[Difference]:
    """Every difference between two CRDs of one kind."""
    kind = ours["spec"]["names"]["kind"]
    out: list[Difference] = []

    def add(version: str, path: str, aspect: str, mine: Any, other: Any) -> None:
        if _norm(mine) != _norm(other):
            out.append(Difference(kind, version, path, aspect, _show(mine), _show(other)))

    for key in ("shortNames", "listKind", "singular", "plural", "categories"):
        add("*", "(crd)", f"names.{key}", ours["spec"]["names"].get(key), theirs["spec"]["names"].get(key))
    add("*", "(crd)", "scope", ours["spec"].get("scope"), theirs["spec"].get("scope"))
    add("*", "(crd)", "conversion", _strategy(ours), _strategy(theirs))
    mine_versions = {v["name"]: v for v in ours["spec"]["versions"]}
    other_versions = {v["name"]: v for v in theirs["spec"]["versions"]}
    for name in sorted(set(mine_versions) | set(other_versions)):
        mine, other = mine_versions.get(name), other_versions.get(name)
        if mine is None or other is None:
            add(name, "(version)", "defined", mine is not None, other is not None)
            continue
        for key in ("served", "storage", "deprecated"):
            add(name, "(version)", key, mine.get(key, False), other.get(key, False))
        add(
            name,
            "(version)",
            "subresources",
            sorted(mine.get("subresources", {})),
            sorted(other.get("subresources", {})),
        )
        add(name, "(version)", "printerColumns", _columns(mine), _columns(other))
        _compare_node(
            mine["schema"]["openAPIV3Schema"],
            other["schema"]["openAPIV3Schema"],
            "",
            lambda p, a, x, y, version=name: add(version, p, a, x, y),
        )
    return sorted(out)


def _strategy(crd: dict[str, Any]) -> str:
    return str(crd["spec"].get("conversion", {}).get("strategy", "None"))


def _columns(version: dict[str, Any]) -> list[str]:
    return [f"{c['name']}={c['jsonPath']}" for c in version.get("additionalPrinterColumns", [])]


def _norm(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(map(str, value))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _compare_node(mine: dict[str, Any], other: dict[str, Any], path: str, add: Any) -> None:
    where = path or "(root)"
    for aspect in _NODE_ASPECTS:
        add(where, aspect, mine.get(aspect), other.get(aspect))
    mine_props, other_props = mine.get("properties"), other.get("properties")
    if mine_props is not None or other_props is not None:
        mine_props, other_props = mine_props or {}, other_props or {}
        add(where, "required", sorted(mine.get("required", [])), sorted(other.get("required", [])))
        for name in sorted(set(mine_props) | set(other_props)):
            child = f"{path}.{name}" if path else name
            if name not in other_props:
                add(child, "field", "present", None)
            elif name not in mine_props:
                add(child, "field", None, "present")
            else:
                _compare_node(mine_props[name], other_props[name], child, add)
    elif "required" in mine or "required" in other:
        add(where, "required", sorted(mine.get("required", [])), sorted(other.get("required", [])))
    mine_map, other_map = mine.get("additionalProperties"), other.get("additionalProperties")
    if isinstance(mine_map, dict) and isinstance(other_map, dict):
        _compare_node(mine_map, other_map, f"{path}{{}}", add)
    elif isinstance(mine_map, dict) or isinstance(other_map, dict):
        add(where, "additionalProperties", _describe(mine_map), _describe(other_map))
    mine_items, other_items = mine.get("items"), other.get("items")
    if isinstance(mine_items, dict) and isinstance(other_items, dict):
        _compare_node(mine_items, other_items, f"{path}[]", add)


def _describe(schema: Any) -> str | None:
    if not isinstance(schema, dict):
        return None
    return f"map of {schema.get('type', 'any')}"
