"""What an unknown apiVersion or kind was probably meant to be ("did you mean ..."), for SMI106.

A typo in a field already gets a suggestion from the models; these do the same for the two fields that
decide which model applies. Suggestions are drawn from what the models know (plus the recognised drafts),
preferring versions that actually define the object's kind.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from smi_conformance.lint.resources import SMI_GROUPS, version_key
from smi_conformance.manifests import NodePath

if TYPE_CHECKING:  # the models (pydantic) load only when there is an SMI object to check
    from smi_conformance.models import KindInfo

__all__ = ["close_smi_group", "unknown_kind_or_version"]

#: How alike two names must be (difflib's ratio) to be offered as "did you mean".
_CUTOFF = 0.75
#: API groups: an object is treated as SMI only when its group is almost an SMI group.
_GROUP_CUTOFF = 0.8


@functools.lru_cache(maxsize=256)
def close_smi_group(group: str) -> str | None:
    """The SMI API group ``group`` is or misspells (``spilt.smi-spec.io``), or None."""
    if group in SMI_GROUPS:
        return group
    close = difflib.get_close_matches(group, sorted(SMI_GROUPS), n=1, cutoff=_GROUP_CUTOFF)
    return close[0] if close else None


def unknown_kind_or_version(
    api_version: str, kind: str, known: Sequence[KindInfo], drafts: frozenset[str]
) -> tuple[str, NodePath]:
    """(message, path of the field to blame) for an (apiVersion, kind) pair the models do not know."""
    versions = {info.api_version for info in known} | drafts
    if api_version in versions:
        return _unknown_kind(api_version, kind, known), ("kind",)
    message = f"{api_version} is not an SMI API version this linter knows"
    group, _, version = api_version.rpartition("/")
    smi_group = close_smi_group(group)
    of_kind = [info for info in known if info.kind == kind]
    in_group = sorted(v for v in versions if v.rpartition("/")[0] == smi_group)
    if of_kind and not any(info.group == smi_group for info in of_kind):
        return f"{message}; {kind} is in {of_kind[-1].latest}", ("apiVersion",)  # right kind, wrong group
    candidates = [
        v for v in in_group if v in drafts or not of_kind or any(info.api_version == v for info in of_kind)
    ]
    close = _closest(version, candidates, drafts)
    if close is not None:
        return f"{message}; did you mean {close}?", ("apiVersion",)
    if of_kind:
        return f"{message}; the current version of {kind} is {of_kind[-1].latest}", ("apiVersion",)
    return message, ("apiVersion",)


def _closest(version: str, api_versions: list[str], drafts: frozenset[str]) -> str | None:
    """The apiVersion whose version is most like ``version``; among equals a release, the newest."""

    def score(api_version: str) -> tuple[float, bool, tuple[int, int, int]]:
        other = api_version.rpartition("/")[2]
        ratio = difflib.SequenceMatcher(None, version, other).ratio()
        return ratio, api_version not in drafts, version_key(other)

    best = max(api_versions, key=score, default=None)
    return best if best is not None and score(best)[0] >= _CUTOFF else None


def _unknown_kind(api_version: str, kind: str, known: Sequence[KindInfo]) -> str:
    message = f"{api_version} has no kind {kind!r}"
    elsewhere = [info for info in known if info.kind == kind]
    if elsewhere:  # the right kind in the wrong group (TrafficSplit under access.smi-spec.io)
        return f"{message}; {kind} is in {elsewhere[-1].latest}"
    here = [info.kind for info in known if info.api_version == api_version]
    close = difflib.get_close_matches(kind, here, n=1, cutoff=_CUTOFF)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    if here:
        return f"{message} (it has: {', '.join(here)})"
    return message
