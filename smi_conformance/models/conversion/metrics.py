"""TrafficMetrics and TrafficMetricsList conversions. Hub: the v1alpha1 layout (``edge.side`` optional).

v1alpha2 requires ``edge.side``; a v1alpha1 edge without it does not say where the metrics were measured, so
it cannot become v1alpha2 (guessing "client" or "server" would misreport them). Items of a list carry their
own apiVersion, which follows the list's.
"""

from __future__ import annotations

from smi_conformance.models.conversion.base import Codec, Document, Losses
from smi_conformance.models.problems import Path

_GROUP = "metrics.smi-spec.io"


def _check_side(version: str, doc: Document, path: Path, losses: Losses, *, side_required: bool) -> None:
    edge = doc.get("edge")
    if side_required and edge is not None and edge.get("side") is None:
        losses.add(
            (*path, "edge", "side"),
            f"{version} requires edge.side (client or server); this edge does not say where it was measured",
        )


def _metrics_codec(version: str, *, side_required: bool) -> Codec:
    def lower(hub: Document, losses: Losses) -> Document:
        doc = dict(hub)
        _check_side(version, doc, (), losses, side_required=side_required)
        return doc

    return Codec(to_hub=dict, from_hub=lower)


def _list_codec(version: str, *, side_required: bool) -> Codec:
    def lower(hub: Document, losses: Losses) -> Document:
        doc = dict(hub)
        if doc.get("items") is not None:
            items = []
            for index, item in enumerate(doc["items"]):
                item = dict(item)
                _check_side(version, item, ("items", index), losses, side_required=side_required)
                if "apiVersion" in item:
                    item["apiVersion"] = f"{_GROUP}/{version}"
                items.append(item)
            doc["items"] = items
        return doc

    return Codec(to_hub=dict, from_hub=lower)


CODECS = {
    (_GROUP, "TrafficMetrics"): {
        "v1alpha1": _metrics_codec("v1alpha1", side_required=False),
        "v1alpha2": _metrics_codec("v1alpha2", side_required=True),
    },
    (_GROUP, "TrafficMetricsList"): {
        "v1alpha1": _list_codec("v1alpha1", side_required=False),
        "v1alpha2": _list_codec("v1alpha2", side_required=True),
    },
}
