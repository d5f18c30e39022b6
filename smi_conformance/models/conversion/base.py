"""The pieces every kind's conversion module uses: the Codec record, loss reporting, path mapping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smi_conformance.models.problems import Path

Document = dict[str, Any]


@dataclass
class Losses:
    """Information a target version cannot hold, by hub path."""

    target: str
    items: list[tuple[Path, str]]

    def add(self, hub_path: Path, message: str) -> None:
        self.items.append((hub_path, message))


def identity(path: Path) -> Path:
    return path


@dataclass(frozen=True)
class Codec:
    """How one version of a kind maps to and from the kind's hub shape."""

    to_hub: Callable[[Document], Document]
    """This version's document (as dumped) -> hub document."""
    from_hub: Callable[[Document, Losses], Document]
    """Hub document -> this version's document (the caller sets apiVersion); record what cannot be kept."""
    hub_path: Callable[[Path], Path] = identity
    """A path in this version's documents -> the same node's path in the hub."""
    own_path: Callable[[Path], Path] = identity
    """A hub path -> the same node's path in this version's documents."""


def move_prefix(path: Path, old: Path, new: Path) -> Path:
    """``path`` with its leading ``old`` replaced by ``new`` (unchanged when it does not start so)."""
    if path[: len(old)] == old:
        return new + path[len(old) :]
    return path
