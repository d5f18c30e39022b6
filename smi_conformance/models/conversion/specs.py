"""HTTPRouteGroup, TCPRoute and UDPRoute conversions.

HTTPRouteGroup hub: the v1alpha4 layout (``spec.matches[]``). v1alpha1/v1alpha2 keep the matches at the top
level, the v1alpha5 draft calls them ``spec.routes``; v1alpha1 has no header filters, so a group that uses
them cannot go there. Header filters keep the form they were written in (map or list of one-key maps), except
into the draft, whose form is the list.

TCPRoute/UDPRoute hub: the v1alpha4 layout (``spec.matches.ports``), no ``spec`` meaning every port. TCPRoute
v1alpha1-v1alpha3 cannot restrict ports, so only a route for every port converts down; the draft has
``spec.ports`` and no match name.
"""

from __future__ import annotations

from typing import Any

from smi_conformance.models.conversion.base import Codec, Document, Losses, move_prefix
from smi_conformance.models.problems import Path

_GROUP = "specs.smi-spec.io"
_MATCHES: tuple[str, ...] = ("spec", "matches")


def _header_list(headers: Any) -> Any:
    if isinstance(headers, dict):
        return [{name: regex} for name, regex in headers.items()]
    return headers


def _matches_codec(
    version: str, where: tuple[str, ...], *, headers: bool, listed_headers: bool = False
) -> Codec:
    """An HTTPRouteGroup version whose matches live at ``where`` (e.g. ("matches",) or ("spec", "routes"))."""

    def to_hub(doc: Document) -> Document:
        hub = {k: v for k, v in doc.items() if k not in ("matches", "spec")}
        container = doc if len(where) == 1 else doc[where[0]]
        hub["spec"] = {"matches": [dict(m) for m in container[where[-1]]]}
        return hub

    def from_hub(hub: Document, losses: Losses) -> Document:
        doc = {k: v for k, v in hub.items() if k != "spec"}
        matches = [dict(m) for m in hub["spec"]["matches"]]
        for index, match in enumerate(matches):
            if "headers" not in match:
                continue
            if not headers:
                losses.add(
                    (*_MATCHES, index, "headers"),
                    f"{version} has no header filters: match {match['name']!r} would match requests "
                    "regardless of their headers",
                )
            elif listed_headers:
                match["headers"] = _header_list(match["headers"])
        if len(where) == 1:
            doc[where[0]] = matches
        else:
            doc[where[0]] = {where[1]: matches}
        return doc

    return Codec(
        to_hub=to_hub,
        from_hub=from_hub,
        hub_path=lambda p: move_prefix(p, where, _MATCHES),
        own_path=lambda p: move_prefix(p, _MATCHES, where),
    )


_PORTS: Path = ("spec", "matches", "ports")


def _l4_codec(version: str, layout: str) -> Codec:
    """A TCPRoute/UDPRoute version; layout "none" (no spec), "empty" (spec: {}), "matches" or "draft"."""

    def to_hub(doc: Document) -> Document:
        hub = {k: v for k, v in doc.items() if k != "spec"}
        spec = doc.get("spec")
        if layout == "matches" and spec is not None:
            hub["spec"] = {"matches": dict(spec["matches"])}
        elif layout == "draft" and spec is not None:
            hub["spec"] = {"matches": {"ports": list(spec["ports"])}}
        elif layout == "empty" and spec is not None:
            hub["spec"] = {}
        return hub

    def from_hub(hub: Document, losses: Losses) -> Document:
        doc = {k: v for k, v in hub.items() if k != "spec"}
        match = hub.get("spec", {}).get("matches")
        if match is None:
            if layout == "empty" and "spec" in hub:
                doc["spec"] = {}
            return doc
        if layout == "matches":
            doc["spec"] = {"matches": dict(match)}
            return doc
        if match.get("name") is not None:
            losses.add(("spec", "matches", "name"), f"{version} has no match name")
        if layout == "draft":
            doc["spec"] = {"ports": list(match["ports"])}
            return doc
        if match["ports"]:
            losses.add(
                _PORTS,
                f"{version} cannot restrict a route to ports: the route would match every port instead of "
                f"{', '.join(map(str, match['ports']))}",
            )
        if layout == "empty":
            doc["spec"] = {}
        return doc

    own = {
        "draft": lambda p: move_prefix(p, ("spec", "matches"), ("spec",)),
    }.get(layout, lambda p: p)
    hub_path = {
        "draft": lambda p: move_prefix(p, ("spec", "ports"), _PORTS),
    }.get(layout, lambda p: p)
    return Codec(to_hub=to_hub, from_hub=from_hub, hub_path=hub_path, own_path=own)


CODECS = {
    (_GROUP, "HTTPRouteGroup"): {
        "v1alpha1": _matches_codec("v1alpha1", ("matches",), headers=False),
        "v1alpha2": _matches_codec("v1alpha2", ("matches",), headers=True),
        "v1alpha3": _matches_codec("v1alpha3", _MATCHES, headers=True),
        "v1alpha4": _matches_codec("v1alpha4", _MATCHES, headers=True),
        "v1alpha5": _matches_codec("v1alpha5", ("spec", "routes"), headers=True, listed_headers=True),
        "v1alpha5-draft": _matches_codec(
            "v1alpha5-draft", ("spec", "routes"), headers=True, listed_headers=True
        ),
    },
    (_GROUP, "TCPRoute"): {
        "v1alpha1": _l4_codec("v1alpha1", "none"),
        "v1alpha2": _l4_codec("v1alpha2", "none"),
        "v1alpha3": _l4_codec("v1alpha3", "empty"),
        "v1alpha4": _l4_codec("v1alpha4", "matches"),
        "v1alpha5": _l4_codec("v1alpha5", "draft"),
        "v1alpha5-draft": _l4_codec("v1alpha5-draft", "draft"),
    },
    (_GROUP, "UDPRoute"): {
        "v1alpha4": _l4_codec("v1alpha4", "matches"),
        "v1alpha5": _l4_codec("v1alpha5", "draft"),
        "v1alpha5-draft": _l4_codec("v1alpha5-draft", "draft"),
    },
}
