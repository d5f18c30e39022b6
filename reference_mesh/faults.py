"""Deliberate bugs the reference mesh can be started with, to show that the conformance suite catches them.

A conformance suite is judged by its verdicts, so it must be seen failing broken meshes, each on the right
test, as well as passing the correct one. Each fault is a realistic mistake a mesh implementation makes,
applied at exactly one place (named in its description), and off unless asked for:

    smi-conformance run --mesh reference --mesh-option faults=ignore-weights,allow-by-default

"""

from __future__ import annotations

__all__ = ["FAULTS", "parse_faults"]

#: name -> what goes wrong (and where it is applied).
FAULTS: dict[str, str] = {
    "ignore-weights": "TrafficSplit weights are ignored: every backend gets an equal share (compiler)",
    "skewed-weights": "the first backend of a split gets 7 percentage points more than its weight gives "
    "(compiler)",
    "zero-weight-traffic": "a backend with weight 0 is treated as weight 1 (compiler)",
    "split-ignores-matches": "TrafficSplit matches are ignored: every request is split (compiler)",
    "allow-by-default": "requests no TrafficTarget allows are let through (compiler)",
    "ignore-methods": "HTTPRouteGroup methods are ignored (compiler)",
    "ignore-headers": "HTTPRouteGroup header filters are ignored (compiler)",
    "unanchored-paths": "pathRegex may match anywhere in the path, not only from its start (compiler)",
    "ignore-source-namespace": "a TrafficTarget source matches its service account name in every namespace "
    "(compiler)",
    "ignore-tcp-ports": "TCPRoute ports are ignored: a TCPRoute allows every port (compiler)",
    "sticky-deletes": "deleted TrafficTargets and TrafficSplits stay in force (control plane)",
    "cumulative-metrics": "the Traffic Metrics API counts since the mesh started instead of over the window "
    "(metrics API)",
    "failures-as-success": "the Traffic Metrics API counts 5xx answers as successes (metrics API)",
}


def parse_faults(text: str) -> frozenset[str]:
    """``"ignore-weights,allow-by-default"`` -> the set; ValueError naming unknown faults and the known
    ones."""
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    unknown = sorted(names - FAULTS.keys())
    if unknown:
        raise ValueError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    return names
