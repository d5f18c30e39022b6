"""TrafficSplit conversions. Hub: the v1alpha4 layout, with weights as written (ints, or v1alpha1 Quantities).

All versions share one layout (``spec.service``, ``spec.backends[]``, ``spec.matches`` from v1alpha3), so
paths are the same in every version. What differs:

* weights: v1alpha1 Quantities become the smallest integers with exactly the same ratios ("1" and "500m"
  -> 2 and 1; "10m", "100m", "1500m" -> 1, 10, 150); integer values are kept as they are (100 and 900 stay
  100 and 900) unless they are too large, when they are divided by their greatest common divisor. If exact
  ratios need integers above :data:`MAX_CONVERTED_WEIGHT`, the conversion stops instead of rounding.
* ``matches`` cannot go to v1alpha1/v1alpha2: those would split *all* traffic instead of the selected
  requests.
"""

from __future__ import annotations

from smi_conformance.models.conversion.base import Codec, Document, Losses
from smi_conformance.models.quantity import parse_quantity
from smi_conformance.weights import whole_weights

MAX_CONVERTED_WEIGHT = 2**31 - 1
"""Largest integer weight a conversion produces (int32, what Envoy-style proxies and most meshes accept)."""


def converted_weights(weights: list[int | str]) -> tuple[list[int], int | None]:
    """Integer weights with exactly the ratios of ``weights`` (ints or Quantity strings), and the index of a
    weight above MAX_CONVERTED_WEIGHT if exact ratios need one (then the list is the unbounded result)."""
    ints = whole_weights([parse_quantity(w) for w in weights], MAX_CONVERTED_WEIGHT)
    too_big = next((i for i, w in enumerate(ints) if w > MAX_CONVERTED_WEIGHT), None)
    return ints, too_big


def _copy(doc: Document) -> Document:
    out = dict(doc)
    out["spec"] = dict(doc["spec"])
    out["spec"]["backends"] = [dict(b) for b in doc["spec"]["backends"]]
    return out


def _to_hub(doc: Document) -> Document:
    return _copy(doc)


def _from_hub(version: str, *, quantities: bool, matches: bool) -> Codec:
    def lower(hub: Document, losses: Losses) -> Document:
        doc = _copy(hub)
        spec = doc["spec"]
        if "matches" in spec and not matches:
            if spec["matches"]:
                losses.add(
                    ("spec", "matches"),
                    f"{version} has no 'matches': the split would apply to all requests instead of only "
                    "those "
                    "the referenced HTTPRouteGroups select",
                )
            del spec["matches"]
        if not quantities:
            originals = [b["weight"] for b in spec["backends"]]
            ints, too_big = converted_weights(originals)
            if too_big is not None:
                losses.add(
                    ("spec", "backends", too_big, "weight"),
                    f"keeping the exact ratio of the weights {', '.join(map(str, originals))} needs integer "
                    f"weights up to {max(ints)}, above the limit of {MAX_CONVERTED_WEIGHT}; round them first",
                )
            for backend, weight in zip(spec["backends"], ints, strict=True):
                backend["weight"] = weight
        return doc

    return Codec(to_hub=_to_hub, from_hub=lower)


CODECS = {
    ("split.smi-spec.io", "TrafficSplit"): {
        "v1alpha1": _from_hub("v1alpha1", quantities=True, matches=False),
        "v1alpha2": _from_hub("v1alpha2", quantities=False, matches=False),
        "v1alpha3": _from_hub("v1alpha3", quantities=False, matches=True),
        "v1alpha4": _from_hub("v1alpha4", quantities=False, matches=True),
        "v1alpha5": _from_hub("v1alpha5", quantities=False, matches=True),
        "v1alpha5-draft": _from_hub("v1alpha5-draft", quantities=False, matches=True),
    }
}
