"""Manifests as the control plane receives them: YAML/JSON text (one or more documents, ``kind: List``) whose
every node can be located as ``file:line:column``.

Interim: ``smi_conformance.manifests`` (the linter's loader) replaces this module when it lands on main.
Safe loading only (libyaml's CSafeLoader): plain data, never arbitrary objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["Location", "ManifestDocument", "ManifestError", "load_manifests"]

PathKey = str | int


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class ManifestError(Exception):
    """The text is not YAML/JSON; ``location`` says where the parser gave up."""

    def __init__(self, message: str, location: Location):
        super().__init__(f"{location}: {message}")
        self.message = message
        self.location = location


@dataclass
class ManifestDocument:
    """One object: its data and the YAML node it came from (``base`` is its path inside a ``List``)."""

    file: str
    data: Any
    node: Node
    base: tuple[PathKey, ...] = ()

    def locate(self, path: tuple[PathKey, ...] = (), *, key: bool = False) -> Location:
        """The node at ``base + path``; ``key=True`` points at its mapping key (unknown fields). A path that
        does
        not exist (a missing field) resolves to its deepest existing ancestor."""
        node: Node = self.node
        key_node: Node | None = None
        for seg in self.base + tuple(path):
            found = _child(node, seg)
            if found is None:
                break
            key_node, node = found
        mark = (key_node if key and key_node is not None else node).start_mark
        return Location(self.file, mark.line + 1, mark.column + 1)


def _child(node: Node, seg: PathKey) -> tuple[Node | None, Node] | None:
    """(key node, value node) of ``seg`` under ``node``."""
    if isinstance(node, MappingNode) and isinstance(seg, str):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == seg:
                return key, value
    if isinstance(node, SequenceNode) and isinstance(seg, int) and 0 <= seg < len(node.value):
        return None, node.value[seg]
    return None


def _check_duplicates(node: Node, file: str) -> None:
    if isinstance(node, MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, ScalarNode):
                if key.value in seen:
                    mark = key.start_mark
                    raise ManifestError(
                        f"duplicate key {key.value!r}", Location(file, mark.line + 1, mark.column + 1)
                    )
                seen.add(key.value)
            _check_duplicates(value, file)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            _check_duplicates(item, file)


def load_manifests(text: str, file: str = "<input>") -> list[ManifestDocument]:
    """Every object in ``text``; members of ``kind: List`` documents are separate objects. Empty documents are
    skipped. Raises :class:`ManifestError` for text that is not YAML (or has duplicate keys)."""
    loader = yaml.CSafeLoader(text)
    out: list[ManifestDocument] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            _check_duplicates(node, file)
            data = loader.construct_document(node)
            if data is None:
                continue
            out.extend(_expand(ManifestDocument(file, data, node)))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise ManifestError(f"YAML syntax error: {exc.problem or exc}", Location(file, line, col)) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"YAML error: {exc}", Location(file, 1, 1)) from None
    finally:
        loader.dispose()
    return out


def _expand(doc: ManifestDocument) -> Iterator[ManifestDocument]:
    data = doc.data
    if isinstance(data, dict) and data.get("kind") == "List" and isinstance(data.get("items"), list):
        for i, item in enumerate(data["items"]):
            yield ManifestDocument(doc.file, item, doc.node, ("items", i))
    else:
        yield doc
