"""TrafficTarget and IdentityBinding conversions.

TrafficTarget hub: the v1alpha4 layout (``spec.destination``, ``spec.sources``, ``spec.rules``) plus the
v1alpha2 ``destination.port``. v1alpha1 has no ``spec`` wrapper and calls the rules ``specs``. What cannot be
converted:

* ``destination.port`` into v1alpha3/v1alpha4: they have no port (ports moved to TCPRoute
  ``matches.ports``), and dropping it would open every port of the destination;
* UDPRoute rules into v1alpha1/v1alpha2, which only know HTTPRouteGroup and TCPRoute;
* IdentityBinding subjects into anything before v1alpha4.
"""

from __future__ import annotations

from typing import Any

from smi_conformance.models.conversion.base import Codec, Document, Losses, move_prefix
from smi_conformance.models.problems import Path

_GROUP = "access.smi-spec.io"
_V1ALPHA1_MOVES: tuple[tuple[Path, Path], ...] = (
    (("destination",), ("spec", "destination")),
    (("sources",), ("spec", "sources")),
    (("specs",), ("spec", "rules")),
)


def _v1alpha1_hub_path(path: Path) -> Path:
    for own, hub in _V1ALPHA1_MOVES:
        if path[: len(own)] == own:
            return move_prefix(path, own, hub)
    return path


def _v1alpha1_own_path(path: Path) -> Path:
    for own, hub in _V1ALPHA1_MOVES:
        if path[: len(hub)] == hub:
            return move_prefix(path, hub, own)
    return path


def _to_hub(*, wrapped: bool) -> Any:
    def lift(doc: Document) -> Document:
        if wrapped:
            return {**doc, "spec": dict(doc["spec"])}
        hub = {k: v for k, v in doc.items() if k not in ("destination", "sources", "specs")}
        spec: Document = {"destination": doc["destination"]}
        if "sources" in doc:
            spec["sources"] = doc["sources"]
        if "specs" in doc:
            spec["rules"] = doc["specs"]
        hub["spec"] = spec
        return hub

    return lift


def _from_hub(version: str, *, wrapped: bool, port: bool, udp: bool, identity_bindings: bool) -> Any:
    def lower(hub: Document, losses: Losses) -> Document:
        spec = hub["spec"]
        destination = dict(spec["destination"])
        if "port" in destination and not port and destination["port"] is not None:
            losses.add(
                ("spec", "destination", "port"),
                f"{version} has no destination port: the target would allow every port; put the port in a "
                "TCPRoute's matches.ports and reference that TCPRoute in the rules",
            )
        if not port:
            destination.pop("port", None)
        sources = [dict(s) for s in spec["sources"]] if spec.get("sources") is not None else None
        subjects: list[tuple[Path, Document]] = [(("spec", "destination"), destination)]
        subjects += [(("spec", "sources", i), s) for i, s in enumerate(sources or [])]
        for path, subject in subjects:
            if subject["kind"] == "IdentityBinding" and not identity_bindings:
                losses.add(
                    (*path, "kind"), f"{version} has no IdentityBinding subjects, only ServiceAccounts"
                )
            if not identity_bindings:
                subject.pop("group", None)
        rules = spec.get("rules")
        if rules is not None and not udp:
            for index, rule in enumerate(rules):
                if rule["kind"] == "UDPRoute":
                    losses.add(("spec", "rules", index, "kind"), f"{version} has no UDPRoute rules")
        out_spec: Document = {"destination": destination}
        if "sources" in spec:
            out_spec["sources"] = sources
        if "rules" in spec:
            out_spec["rules" if wrapped else "specs"] = rules
        doc = {k: v for k, v in hub.items() if k != "spec"}
        if wrapped:
            doc["spec"] = out_spec
        else:
            doc.update(out_spec)
        return doc

    return lower


def _codec(version: str, **features: bool) -> Codec:
    wrapped = version != "v1alpha1"
    return Codec(
        to_hub=_to_hub(wrapped=wrapped),
        from_hub=_from_hub(version, wrapped=wrapped, **features),
        hub_path=(lambda p: p) if wrapped else _v1alpha1_hub_path,
        own_path=(lambda p: p) if wrapped else _v1alpha1_own_path,
    )


CODECS = {
    (_GROUP, "TrafficTarget"): {
        "v1alpha1": _codec("v1alpha1", port=True, udp=False, identity_bindings=False),
        "v1alpha2": _codec("v1alpha2", port=True, udp=False, identity_bindings=False),
        "v1alpha3": _codec("v1alpha3", port=False, udp=True, identity_bindings=False),
        "v1alpha4": _codec("v1alpha4", port=False, udp=True, identity_bindings=True),
    },
    (_GROUP, "IdentityBinding"): {
        "v1alpha4": Codec(to_hub=dict, from_hub=lambda hub, losses: dict(hub)),
    },
}
