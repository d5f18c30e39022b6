"""metrics.smi-spec.io: the Traffic Metrics API, compared with traffic the test sent itself.

Only the metrics tests send to the ``stats`` service, and only from ``observer``, so a window holds exactly
their traffic. Counts must equal what was sent (or be within the tolerance the adapter declares for meshes
that extrapolate); SMI counts a request as a failure only when it is answered 5xx. Failures are answered 500,
never 502-504: meshes retry gateway errors by default, and a retry is one more request the backend receives.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from smi_conformance.report.model import CheckResult
from smi_conformance.suite import manifests as m
from smi_conformance.suite.context import TestContext
from smi_conformance.suite.features import Feature
from smi_conformance.suite.metrics import PREFIX, MetricSample
from smi_conformance.suite.registry import conformance
from smi_conformance.suite.topology import Topology
from smi_conformance.workload.traffic import TrafficResult

METRICS = "metrics.smi-spec.io"
F = Feature
#: Requests of the measured batches: odd numbers, so an off-by-one or a doubled count cannot pass.
OK_REQUESTS, FAILED_REQUESTS = 37, 13


def _allow_observer(t: Topology) -> list[dict[str, Any]]:
    return m.allow(t, "observer-to-stats", sources=["observer"], destination="stats")


def _by_version(results: list[TrafficResult]) -> dict[str, Counter[str]]:
    """version -> Counter(success=..., failure=...) as SMI counts them (failure = answered 5xx)."""
    out: dict[str, Counter[str]] = {}
    for result in results:
        for g in result.groups:
            o = g.outcome
            if not o.version:
                continue
            out.setdefault(o.version, Counter())["failure" if o.status >= 500 else "success"] += g.count
    return out


def _measured_traffic(smi: TestContext) -> list[TrafficResult]:
    return [
        smi.traffic.http("observer", "stats", path="/ok", count=OK_REQUESTS, concurrency=4),
        smi.traffic.http("observer", "stats", path="/status/500", count=FAILED_REQUESTS, concurrency=4),
    ]


def _deployment(t: Topology, version: str) -> str:
    return f"Deployment {t.main}/stats-{version}"


@conformance(
    "metrics-api-discovery",
    "The Traffic Metrics API is served and lists the resources it measures",
    group=METRICS,
    features={F.TRAFFIC_METRICS},
)
def test_api_discovery(smi: TestContext) -> None:
    raw = smi.cluster.metrics_get(PREFIX)
    names = sorted(r.get("name", "") for r in (raw or {}).get("resources", []) if isinstance(r, dict))
    wanted = ["deployments", "namespaces", "pods"]
    missing = [n for n in wanted if n not in names]
    smi.record(
        CheckResult(
            name=f"GET {PREFIX}",
            kind="metrics",
            passed=bool(raw) and raw.get("kind") == "APIResourceList" and not missing,
            message=f"GET {PREFIX}: "
            + (
                f"an APIResourceList with {', '.join(names)}"
                if raw and not missing
                else f"expected an APIResourceList listing {', '.join(wanted)}; got "
                f"{(raw or {}).get('kind', 'no answer')} listing {', '.join(names) or 'nothing'}"
            ),
            expected={"kind": "APIResourceList", "resources": wanted},
            observed=raw,
        )
    )


@conformance(
    "metrics-counts-in-window",
    "Success and failure counts of deployments and of their edges equal the requests sent in the window",
    group=METRICS,
    features={F.TRAFFIC_METRICS, F.TRAFFIC_TARGET},
    objects=_allow_observer,
)
def test_counts_in_window(smi: TestContext) -> None:
    t = smi.topology
    smi.expect_access("observer", "stats", allowed=True)
    with smi.metrics_window() as window:
        sent = _by_version(_measured_traffic(smi))
    smi.expect_metric_counts(
        window,
        f"/namespaces/{t.main}/deployments",
        {_deployment(t, v): dict(c) for v, c in sent.items()},
        key=lambda s: f"{s.kind} {s.namespace}/{s.name}" + (f" {s.direction} {s.peer}" if s.peer else ""),
        name="requests received, per deployment",
    )
    smi.expect_metric_counts(
        window,
        f"/namespaces/{t.main}/deployments/observer/edges",
        {_deployment(t, v): dict(c) for v, c in sent.items()},
        key=lambda s: s.peer if s.direction == "to" else f"{s.direction} {s.peer}",
        name="observer's edges to the stats deployments",
    )


@conformance(
    "metrics-window-rolls-off",
    "Requests older than the window stop counting",
    group=METRICS,
    features={F.TRAFFIC_METRICS, F.TRAFFIC_TARGET},
    objects=_allow_observer,
    slow=True,
)
def test_window_rolls_off(smi: TestContext) -> None:
    t = smi.topology
    smi.expect_access("observer", "stats", allowed=True)
    with smi.metrics_window() as window:
        sent = _by_version(_measured_traffic(smi))
    edges = f"/namespaces/{t.main}/deployments/observer/edges"
    smi.expect_metric_counts(
        window,
        edges,
        {_deployment(t, v): dict(c) for v, c in sent.items()},
        key=lambda s: s.peer,
        name="observer's edges while the requests are in the window",
    )
    window_s = 2.0
    window.after(window_s)
    samples, _ = smi.query_metrics(edges, window_s)
    counted = {s.peer: (s.success or 0) + (s.failure or 0) for s in samples}
    smi.record(
        CheckResult(
            name="observer's edges once the requests are older than the window",
            kind="metrics",
            passed=not any(counted.values()),
            message=f"a {window_s:g} s window after the requests: "
            + (
                "nothing counted"
                if not any(counted.values())
                else "still counted: " + ", ".join(f"{k}: {v:g}" for k, v in counted.items() if v)
            ),
            expected={"counted": 0},
            observed=counted,
            statistics={"windowSeconds": window_s},
        )
    )


#: Latency traffic: most requests fast, a fifth slow, so the median and the tail differ (a mesh that reports
#: its mean, or one percentile for all, cannot pass) and each percentile's rank falls well inside one group.
FAST_MS, SLOW_MS, FAST_N, SLOW_N = 100, 500, 24, 6


@conformance(
    "metrics-latency-percentiles",
    f"Latency percentiles of requests that take {FAST_MS} ms (80%) and {SLOW_MS} ms (20%): p50 near "
    f"{FAST_MS} ms, p90 and p99 near {SLOW_MS} ms",
    group=METRICS,
    features={F.TRAFFIC_METRICS, F.TRAFFIC_METRICS_LATENCY, F.TRAFFIC_TARGET},
    objects=_allow_observer,
)
def test_latency_percentiles(smi: TestContext) -> None:
    t = smi.topology
    smi.expect_access("observer", "stats-v1", allowed=True)
    with smi.metrics_window() as window:
        fast = smi.traffic.http(
            "observer", "stats-v1", path=f"/fast?delay={FAST_MS}", count=FAST_N, concurrency=8
        )
        slow = smi.traffic.http(
            "observer", "stats-v1", path=f"/slow?delay={SLOW_MS}", count=SLOW_N, concurrency=6
        )
    window_s = window.ready()
    samples, _ = smi.query_metrics(f"/namespaces/{t.main}/deployments/observer/edges", window_s)
    declared = smi.mesh.metrics
    rel, slack = declared.latency_relative_error, declared.latency_slack_ms
    # Each request took at least its delay and at most its delay plus the worst extra time the driver saw
    # end to end; a mesh measures a part of that, so its percentiles lie between the same bounds (up to its
    # declared histogram error).
    extra = max(fast.latency_ms.get("max", 0) - FAST_MS, slow.latency_ms.get("max", 0) - SLOW_MS, 0)
    injected = {"p50": FAST_MS, "p90": SLOW_MS, "p99": SLOW_MS}
    bounds = {p: (d * (1 - rel), (d + extra) * (1 + rel) + slack) for p, d in injected.items()}
    edge = f"Deployment {t.main}/stats-v1"
    seen = next((s.latency_ms for s in samples if s.peer == edge and s.direction == "to"), {})
    bad = [f"{p} {seen[p]:.1f} ms" for p, (lo, hi) in bounds.items() if p in seen and not lo <= seen[p] <= hi]
    missing = sorted(set(bounds) - set(seen))
    shown = ", ".join(f"{p} {v:.1f} ms in [{bounds[p][0]:.0f}, {bounds[p][1]:.0f}]" for p, v in seen.items())
    smi.record(
        CheckResult(
            name="latency percentiles of delayed requests",
            kind="metrics",
            passed=not bad and not missing,
            message=f"observer -> stats-v1: {shown or 'no latency reported'}"
            + (f"; out of bounds: {', '.join(bad)}" if bad else "")
            + (f"; missing: {', '.join(missing)}" if missing else ""),
            expected={p: {"lowMs": round(lo, 1), "highMs": round(hi, 1)} for p, (lo, hi) in bounds.items()},
            observed=seen,
            statistics={
                "windowSeconds": window_s,
                "driverLatencyMs": {"fast": fast.latency_ms, "slow": slow.latency_ms},
                "relativeError": rel,
                "slackMs": slack,
            },
        )
    )


def _split_stats(t: Topology) -> list[dict[str, Any]]:
    return [*_allow_observer(t), m.split(t, "stats-split", "stats", {"stats-v1": 60, "stats-v2": 40})]


@conformance(
    "metrics-trafficsplit-backends",
    "A TrafficSplit's metrics list each backend with the requests it received",
    group=METRICS,
    features={F.TRAFFIC_METRICS, F.TRAFFIC_METRICS_SPLIT, F.TRAFFIC_SPLIT, F.TRAFFIC_TARGET},
    objects=_split_stats,
)
def test_trafficsplit_backends(smi: TestContext) -> None:
    t = smi.topology
    smi.expect_split("observer", "stats", {"stats-v1": 60, "stats-v2": 40}, name="the split shows in traffic")
    with smi.metrics_window() as window:
        sent = _by_version(_measured_traffic(smi))

    def key(s: MetricSample) -> str:
        return s.backend or f"{s.kind} {s.name} (no backend)"

    smi.expect_metric_counts(
        window,
        f"/namespaces/{t.main}/trafficsplits/stats-split",
        {f"stats-{v}": dict(c) for v, c in sent.items()},
        key=key,
        name="per-backend counts of the TrafficSplit",
    )
