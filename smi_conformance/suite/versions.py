"""Which API version a test's objects are sent in, and the conversion to it.

Tests write objects in the newest released versions; a mesh may serve only older ones (Traefik Mesh: split
v1alpha3, access v1alpha2, specs v1alpha3). For each API group the run uses the newest version that both the
mesh serves and the test allows, and converts with the models' lossless conversion: an object the chosen
version cannot express makes the test *not-supported*, with the reason, never a silently different test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from smi_conformance import models
from smi_conformance.models.registry import kinds

__all__ = ["VersionError", "choose_versions", "render"]


class VersionError(Exception):
    """The mesh serves no version of a group the test can use, or an object cannot be expressed in it."""


def _order(group: str) -> list[str]:
    """The group's versions, oldest first, experimental ones left out."""
    seen: list[str] = []
    for info in kinds():
        if info.group == group and info.status != "experimental" and info.version not in seen:
            seen.append(info.version)
    return sorted(seen, key=lambda v: (len(v), v))


def choose_versions(
    groups: Sequence[str], served: Mapping[str, Sequence[str]], allowed: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """group -> version for every group in ``groups``; VersionError naming what the mesh serves otherwise."""
    out: dict[str, str] = {}
    for group in groups:
        candidates = [
            v for v in _order(group) if v in served.get(group, ()) and v in allowed.get(group, _order(group))
        ]
        if not candidates:
            raise VersionError(
                f"the test needs {group} in {', '.join(allowed.get(group, _order(group)))}; the mesh serves "
                f"{', '.join(served.get(group, ())) or 'none'}"
            )
        out[group] = candidates[-1]
    return out


def render(docs: Sequence[Mapping[str, Any]], versions: Mapping[str, str]) -> list[dict[str, Any]]:
    """The documents converted to ``versions`` (group -> version); VersionError when one cannot be
    expressed."""
    out = []
    for doc in docs:
        group, _, version = str(doc["apiVersion"]).partition("/")
        wanted = versions.get(group, version)
        if wanted == version:
            out.append(dict(doc))
            continue
        try:
            out.append(models.convert(doc, wanted))
        except (models.ConversionError, LookupError) as exc:  # LookupError: the kind is newer (UDPRoute)
            raise VersionError(
                f"{doc['kind']} {doc['metadata']['name']} cannot be written in {group}/{wanted}: {exc}"
            ) from None
    return out


def groups_of(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted({str(d["apiVersion"]).partition("/")[0] for d in docs})
