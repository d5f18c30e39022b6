"""Deliberate bugs the reference mesh can be started with, to show that the conformance suite catches them.

A conformance suite is judged by its verdicts, so it must be seen failing broken meshes, each on the right
test, as well as passing the correct one. Each fault is a realistic mistake a mesh implementation makes,
applied at exactly one place (named in its description), and off unless asked for:

    smi-conformance run --mesh reference --mesh-option faults=ignore-weights,allow-by-default

"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from reference_mesh.metrics.window import MAX_WINDOW_S, Window
from reference_mesh.proxy.config import AuthorizationRule, HttpMatch, PortSet, TrafficSplitConfig

__all__ = [
    "FAULTS",
    "allow_by_default",
    "authorization_rule",
    "kept_on_delete",
    "metrics_bucket",
    "metrics_window",
    "parse_faults",
    "split_config",
]

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


# ------------------------------------------------------------------------------------- where they apply
# Each function below is called at one place of the real code path and returns its input unchanged unless
# its fault is switched on; nothing else in the mesh knows about faults.
def split_config(config: TrafficSplitConfig, faults: frozenset[str]) -> TrafficSplitConfig:
    """Compiler: a TrafficSplit as the proxies receive it."""
    if not faults:
        return config
    backends = list(config.backends)
    if "ignore-weights" in faults:
        backends = [b.model_copy(update={"weight": Fraction(1)}) for b in backends]
    if "zero-weight-traffic" in faults:
        backends = [b.model_copy(update={"weight": b.weight or Fraction(1)}) for b in backends]
    if "skewed-weights" in faults and len(backends) > 1:
        total = sum((b.weight for b in backends), Fraction(0))
        if total:
            shift = min(total * Fraction(7, 100), backends[-1].weight)
            backends[0] = backends[0].model_copy(update={"weight": backends[0].weight + shift})
            backends[-1] = backends[-1].model_copy(update={"weight": backends[-1].weight - shift})
    matches = None if "split-ignores-matches" in faults else config.matches
    return config.model_copy(update={"backends": tuple(backends), "matches": matches})


def _match(match: HttpMatch, faults: frozenset[str]) -> HttpMatch:
    update: dict[str, object] = {}
    if "ignore-methods" in faults:
        update["methods"] = ()
    if "ignore-headers" in faults:
        update["headers"] = {}
    if "unanchored-paths" in faults and match.path_regex is not None:
        update["path_regex"] = ".*" + match.path_regex
    return match.model_copy(update=update) if update else match


def authorization_rule(
    rule: AuthorizationRule, faults: frozenset[str], same_name_elsewhere: Callable[[str], list[str]]
) -> AuthorizationRule:
    """Compiler: one TrafficTarget's rule. ``same_name_elsewhere(spiffe_id)`` gives the ids of service
    accounts of the same name in every namespace (for ignore-source-namespace)."""
    if not faults:
        return rule
    update: dict[str, object] = {"http": tuple(_match(m, faults) for m in rule.http)}
    if "ignore-tcp-ports" in faults and rule.tcp is not None:
        update["tcp"] = PortSet()
    if "ignore-source-namespace" in faults:
        widened: list[str] = []
        for source in rule.sources:
            widened.extend(i for i in [source, *same_name_elsewhere(source)] if i not in widened)
        update["sources"] = tuple(widened)
    return rule.model_copy(update=update)


def allow_by_default(faults: frozenset[str]) -> bool:
    """Compiler: whether inbound policies are left unenforced."""
    return "allow-by-default" in faults


def kept_on_delete(kind: str, faults: frozenset[str]) -> bool:
    """Control plane: whether a delete of this kind is acknowledged but not carried out."""
    return "sticky-deletes" in faults and kind in ("TrafficTarget", "TrafficSplit")


def metrics_window(window: Window, faults: frozenset[str]) -> Window:
    """Metrics API: the seconds a query counts (cumulative-metrics: everything the proxies still hold)."""
    return Window(window.end, MAX_WINDOW_S) if "cumulative-metrics" in faults else window


def metrics_bucket(bucket: dict[str, Any], faults: frozenset[str]) -> dict[str, Any]:
    """Metrics API: one proxy's counts for one second (failures-as-success: 5xx counted as successes)."""
    if "failures-as-success" not in faults:
        return bucket
    return {**bucket, "success": int(bucket["success"]) + int(bucket["failure"]), "failure": 0}
